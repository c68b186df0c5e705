//! The shared-memory pipe ring (issue 17's pipe path, logic only): a byte ring
//! in one Memory object that every end of a pipe maps, so data moves by a copy
//! in and a copy out with no message per chunk. This module is the part both
//! sides run — positions, wrap-around, the `PIPE_BUF` rule, end-of-file and
//! broken-pipe flags, the "someone waits" flags that say when a notification
//! is due — kept free of syscalls so the host tests (and a proptest against
//! the `pipe::Pipe` model) exercise it. Layout of the object:
//!
//! ```text
//! page 0: RingHeader (positions, flags, locks)   pages 1..: the data bytes
//! ```
//!
//! Positions only grow (`u64`, never wrap in practice); the byte at position
//! `p` lives at `p % capacity`. The writer publishes `write_pos` with Release
//! after copying, the reader `read_pos` after copying out, so each side reads
//! the other's position with Acquire and sees the bytes it covers.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Writes of at most this many bytes are never interleaved with another
/// writer's bytes (POSIX `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;

/// Flag bits in `RingHeader::flags`, set by the pipe's owner (init) when the
/// kernel reports the last reference of one side gone.
pub mod flags {
    /// Every read end is closed: writes fail with `EPIPE`.
    pub const NO_READERS: u32 = 1;
    /// Every write end is closed: an empty ring reads as end of file.
    pub const NO_WRITERS: u32 = 2;
}

/// Bits in `RingHeader::waiting`: who sleeps on which notification.
pub mod waiting {
    /// A reader waits on the "data available" notification.
    pub const READER: u32 = 1;
    /// A writer waits on the "space available" notification.
    pub const WRITER: u32 = 2;
}

/// The first page of the ring's Memory object. `repr(C)` with only atomics,
/// so every process maps the same layout and may touch it concurrently.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RingHeader {
    /// Bytes ever committed by writers.
    pub write_pos: AtomicU64,
    /// Bytes ever consumed by readers.
    pub read_pos: AtomicU64,
    /// `flags::*`.
    pub flags: AtomicU32,
    /// `waiting::*`.
    pub waiting: AtomicU32,
    /// Serialises writers (several processes may hold write ends): 0 free, 1 held.
    pub writer_lock: AtomicU32,
    /// Serialises readers.
    pub reader_lock: AtomicU32,
    /// Data capacity in bytes, written once by the creator.
    pub capacity: AtomicU32,
}

/// Outcome of a ring write.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RingWrite {
    /// This many bytes were committed; `wake_reader` says a reader sleeps and
    /// the "data available" notification must be signalled.
    Written { bytes: usize, wake_reader: bool },
    /// No reader is left (`EPIPE`, SIGPIPE).
    BrokenPipe,
    /// Not enough room (for a write ≤ `PIPE_BUF`: room for all of it).
    WouldBlock,
}

/// Outcome of a ring read.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RingRead {
    /// This many bytes were copied out; `wake_writer` as `wake_reader` above.
    Data {
        bytes: usize,
        wake_writer: bool,
    },
    EndOfFile,
    WouldBlock,
}

/// One process's view of a mapped ring: its header and data bytes.
pub struct Ring<'a> {
    header: &'a RingHeader,
    data: *mut u8,
    capacity: usize,
}

impl<'a> Ring<'a> {
    /// A view of a ring whose data bytes start at `data`.
    ///
    /// # Safety
    /// `data` must point to `header.capacity` bytes that stay mapped for `'a`
    /// and that are only touched through `Ring` views of this header (other
    /// processes included): the positions hand each byte to one side at a time.
    pub unsafe fn from_raw(header: &'a RingHeader, data: *mut u8) -> Self {
        Ring {
            header,
            data,
            capacity: header.capacity.load(Ordering::Relaxed) as usize,
        }
    }

    pub fn header(&self) -> &RingHeader {
        self.header
    }

    /// Bytes buffered now.
    pub fn buffered(&self) -> usize {
        let w = self.header.write_pos.load(Ordering::Acquire);
        let r = self.header.read_pos.load(Ordering::Acquire);
        w.wrapping_sub(r) as usize
    }

    /// Tries to take the writer lock; false if another writer holds it (the
    /// caller yields and retries — a writer holds it only while copying).
    pub fn try_lock_writer(&self) -> bool {
        try_lock(&self.header.writer_lock)
    }

    pub fn unlock_writer(&self) {
        self.header.writer_lock.store(0, Ordering::Release);
    }

    pub fn try_lock_reader(&self) -> bool {
        try_lock(&self.header.reader_lock)
    }

    pub fn unlock_reader(&self) {
        self.header.reader_lock.store(0, Ordering::Release);
    }

    /// Writes what fits of `bytes` (all or nothing when `bytes.len()` ≤
    /// `PIPE_BUF`). The caller holds the writer lock.
    pub fn write(&self, bytes: &[u8]) -> RingWrite {
        if self.header.flags.load(Ordering::Acquire) & flags::NO_READERS != 0 {
            return RingWrite::BrokenPipe;
        }
        if bytes.is_empty() {
            return RingWrite::Written {
                bytes: 0,
                wake_reader: false,
            };
        }
        let w = self.header.write_pos.load(Ordering::Relaxed);
        let r = self.header.read_pos.load(Ordering::Acquire);
        let room = self.capacity - w.wrapping_sub(r) as usize;
        let atomic = bytes.len() <= PIPE_BUF;
        if room == 0 || (atomic && room < bytes.len()) {
            return RingWrite::WouldBlock;
        }
        let n = room.min(bytes.len());
        let start = (w % self.capacity as u64) as usize;
        let first = n.min(self.capacity - start);
        // SAFETY: `from_raw`'s contract: `capacity` bytes at `data`; the range
        // [w, w + n) is free (n ≤ room), so no reader touches it until
        // `write_pos` is published below.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.add(start), first);
            core::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), self.data, n - first);
        }
        self.header
            .write_pos
            .store(w.wrapping_add(n as u64), Ordering::Release);
        RingWrite::Written {
            bytes: n,
            wake_reader: self.take_waiting(waiting::READER),
        }
    }

    /// Reads up to `out.len()` bytes. The caller holds the reader lock.
    pub fn read(&self, out: &mut [u8]) -> RingRead {
        let r = self.header.read_pos.load(Ordering::Relaxed);
        let w = self.header.write_pos.load(Ordering::Acquire);
        let available = w.wrapping_sub(r) as usize;
        if available == 0 {
            // Flags are set after the last writer's bytes were published, so
            // re-check the position once the flag is seen.
            if self.header.flags.load(Ordering::Acquire) & flags::NO_WRITERS != 0
                && self.header.write_pos.load(Ordering::Acquire) == r
            {
                return RingRead::EndOfFile;
            }
            return RingRead::WouldBlock;
        }
        if out.is_empty() {
            return RingRead::Data {
                bytes: 0,
                wake_writer: false,
            };
        }
        let n = available.min(out.len());
        let start = (r % self.capacity as u64) as usize;
        let first = n.min(self.capacity - start);
        // SAFETY: `from_raw`'s contract; [r, r + n) was published by a writer
        // (n ≤ available) and no writer reuses it before `read_pos` moves.
        unsafe {
            core::ptr::copy_nonoverlapping(self.data.add(start), out.as_mut_ptr(), first);
            core::ptr::copy_nonoverlapping(self.data, out.as_mut_ptr().add(first), n - first);
        }
        self.header
            .read_pos
            .store(r.wrapping_add(n as u64), Ordering::Release);
        RingRead::Data {
            bytes: n,
            wake_writer: self.take_waiting(waiting::WRITER),
        }
    }

    /// Before sleeping: announce the wait. The caller then retries its
    /// operation once and only sleeps if it would still block — a write in
    /// between either saw the bit (and signals; notification bits are kept
    /// until waited for) or was seen by the retry, so no wake-up is lost.
    pub fn announce_wait(&self, who: u32) {
        self.header.waiting.fetch_or(who, Ordering::AcqRel);
    }

    /// Marks one side gone (the owner does this on `NO_SENDERS`); the caller
    /// then signals both notifications so sleepers look again.
    pub fn close_side(&self, flag: u32) {
        self.header.flags.fetch_or(flag, Ordering::AcqRel);
    }

    fn take_waiting(&self, who: u32) -> bool {
        // Cheap check first: the common case is nobody waiting.
        self.header.waiting.load(Ordering::Acquire) & who != 0
            && self.header.waiting.fetch_and(!who, Ordering::AcqRel) & who != 0
    }
}

fn try_lock(lock: &AtomicU32) -> bool {
    lock.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::{Pipe, ReadOutcome, WriteOutcome};
    use proptest::prelude::*;

    struct Owned {
        header: Box<RingHeader>,
        data: Vec<u8>,
    }

    impl Owned {
        fn new(capacity: usize) -> Self {
            let header = Box::new(RingHeader::default());
            header.capacity.store(capacity as u32, Ordering::Relaxed);
            Owned {
                header,
                data: vec![0; capacity],
            }
        }
        fn ring(&mut self) -> Ring<'_> {
            // SAFETY: `data` holds `capacity` bytes and outlives the view.
            unsafe { Ring::from_raw(&self.header, self.data.as_mut_ptr()) }
        }
    }

    #[test]
    fn eof_epipe_and_wrap() {
        let mut owned = Owned::new(8);
        let ring = owned.ring();
        let mut out = [0u8; 8];
        assert_eq!(ring.read(&mut out), RingRead::WouldBlock);
        assert!(matches!(
            ring.write(b"abcdef"),
            RingWrite::Written { bytes: 6, .. }
        ));
        assert!(matches!(
            ring.read(&mut out[..4]),
            RingRead::Data { bytes: 4, .. }
        ));
        assert_eq!(&out[..4], b"abcd");
        // Wraps: 2 buffered, 6 free, crosses the end.
        assert!(matches!(
            ring.write(b"ghijkl"),
            RingWrite::Written { bytes: 6, .. }
        ));
        assert_eq!(ring.write(b"x"), RingWrite::WouldBlock);
        assert!(matches!(
            ring.read(&mut out),
            RingRead::Data { bytes: 8, .. }
        ));
        assert_eq!(&out, b"efghijkl");
        ring.close_side(flags::NO_WRITERS);
        assert_eq!(ring.read(&mut out), RingRead::EndOfFile);
        ring.close_side(flags::NO_READERS);
        assert_eq!(ring.write(b"y"), RingWrite::BrokenPipe);
    }

    #[test]
    fn small_writes_are_all_or_nothing() {
        let mut owned = Owned::new(2 * PIPE_BUF);
        let ring = owned.ring();
        let big = vec![1u8; PIPE_BUF + 10];
        assert!(matches!(
            ring.write(&big),
            RingWrite::Written { bytes, .. } if bytes == PIPE_BUF + 10
        ));
        // PIPE_BUF - 10 left: a PIPE_BUF write waits rather than splitting.
        assert_eq!(ring.write(&vec![2u8; PIPE_BUF]), RingWrite::WouldBlock);
        // A larger write takes what fits.
        assert!(matches!(
            ring.write(&vec![3u8; PIPE_BUF + 1]),
            RingWrite::Written { bytes, .. } if bytes == PIPE_BUF - 10
        ));
    }

    #[test]
    fn wake_only_announced_waiters_once() {
        let mut owned = Owned::new(16);
        let ring = owned.ring();
        assert_eq!(
            ring.write(b"a"),
            RingWrite::Written {
                bytes: 1,
                wake_reader: false
            }
        );
        ring.announce_wait(waiting::READER);
        assert_eq!(
            ring.write(b"b"),
            RingWrite::Written {
                bytes: 1,
                wake_reader: true
            }
        );
        assert_eq!(
            ring.write(b"c"),
            RingWrite::Written {
                bytes: 1,
                wake_reader: false
            }
        );
        ring.announce_wait(waiting::WRITER);
        let mut out = [0u8; 4];
        assert_eq!(
            ring.read(&mut out),
            RingRead::Data {
                bytes: 3,
                wake_writer: true
            }
        );
    }

    #[test]
    fn locks_exclude() {
        let mut owned = Owned::new(16);
        let ring = owned.ring();
        assert!(ring.try_lock_writer());
        assert!(!ring.try_lock_writer());
        assert!(ring.try_lock_reader());
        ring.unlock_writer();
        assert!(ring.try_lock_writer());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(Vec<u8>),
        Read(usize),
        CloseWriters,
        CloseReaders,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Write),
            8 => (0usize..300).prop_map(Op::Read),
            1 => Just(Op::CloseWriters),
            1 => Just(Op::CloseReaders),
        ]
    }

    proptest! {
        /// The ring agrees with the message-path model (`pipe::Pipe`) on every
        /// outcome and byte, except where POSIX asks more of it: a write of at
        /// most PIPE_BUF (here scaled: the ring is smaller than PIPE_BUF, so
        /// every write is "small") never splits.
        #[test]
        fn matches_the_model(capacity in 1usize..200, ops in proptest::collection::vec(op(), 0..200)) {
            let mut owned = Owned::new(capacity);
            let ring = owned.ring();
            let mut model = std::collections::VecDeque::new();
            let (mut readers, mut writers) = (true, true);
            for op in ops {
                match op {
                    Op::Write(bytes) => {
                        let got = ring.write(&bytes);
                        if !readers {
                            prop_assert_eq!(got, RingWrite::BrokenPipe);
                        } else if bytes.is_empty() {
                            let empty = matches!(got, RingWrite::Written { bytes: 0, .. });
                            prop_assert!(empty);
                        } else if capacity - model.len() < bytes.len() {
                            // Every write here is ≤ PIPE_BUF: all or nothing.
                            prop_assert_eq!(got, RingWrite::WouldBlock);
                        } else {
                            let whole = matches!(got, RingWrite::Written { bytes: n, .. } if n == bytes.len());
                            prop_assert!(whole);
                            model.extend(bytes);
                        }
                    }
                    Op::Read(max) => {
                        let mut out = vec![0u8; max];
                        match ring.read(&mut out) {
                            RingRead::Data { bytes, .. } => {
                                prop_assert_eq!(bytes, max.min(model.len()));
                                let expected: Vec<u8> = model.drain(..bytes).collect();
                                prop_assert_eq!(&out[..bytes], &expected[..]);
                            }
                            RingRead::EndOfFile => prop_assert!(!writers && model.is_empty()),
                            RingRead::WouldBlock => prop_assert!(writers && model.is_empty()),
                        }
                    }
                    Op::CloseWriters => {
                        writers = false;
                        ring.close_side(flags::NO_WRITERS);
                    }
                    Op::CloseReaders => {
                        readers = false;
                        ring.close_side(flags::NO_READERS);
                    }
                }
                prop_assert_eq!(ring.buffered(), model.len());
            }
        }

        /// Large writes behave as the message path's `Pipe`: they take what fits.
        #[test]
        fn large_writes_match_pipe(chunks in proptest::collection::vec((PIPE_BUF + 1)..(3 * PIPE_BUF), 1..6)) {
            let capacity = crate::pipe::PIPE_CAPACITY;
            let mut owned = Owned::new(capacity);
            let ring = owned.ring();
            let mut pipe = Pipe::new();
            for len in chunks {
                let bytes = vec![0x5a; len];
                match (ring.write(&bytes), pipe.write(&bytes)) {
                    (RingWrite::Written { bytes: a, .. }, WriteOutcome::Written(b)) => prop_assert_eq!(a, b),
                    (RingWrite::WouldBlock, WriteOutcome::WouldBlock) => {}
                    (a, b) => prop_assert!(false, "ring {:?} vs pipe {:?}", a, b),
                }
                let mut out = vec![0u8; 1000];
                match (ring.read(&mut out), pipe.read(1000)) {
                    (RingRead::Data { bytes, .. }, ReadOutcome::Data(data)) => prop_assert_eq!(bytes, data.len()),
                    (a, b) => prop_assert!(false, "ring {:?} vs pipe {:?}", a, b),
                }
            }
        }
    }
}
