//! The shared-memory pipe ring: the layout and the logic every end of a pipe
//! runs on one Memory object that init creates and each end maps, so data
//! moves by a copy in and a copy out with no message per chunk (init still
//! owns the pipe: it hands out the ring, and reports closed sides in its
//! flags). Free of syscalls — sleeping and waking go through [`Sleep`] — so
//! host tests run the whole protocol with threads. Layout of the object:
//!
//! ```text
//! page 0: RingHeader (positions, flags, sleeper counts, locks)   pages 1..: data
//! ```
//!
//! Positions only grow (`u64`, never wrap in practice); the byte at position
//! `p` lives at `p % capacity`. The writer publishes `write_pos` with Release
//! after copying, the reader `read_pos` after copying out, so each side reads
//! the other's position with Acquire and sees the bytes it covers.
//!
//! The header is writable by every end, so nothing in it is trusted: the
//! capacity comes from init's reply (never from the header), positions more
//! than `capacity` apart are reported as [`RingError::Corrupt`] before any
//! byte is copied, and a lock held too long gives up with
//! [`RingError::LockStuck`]. A peer that scribbles on the header can stop the
//! pipe it shares; it cannot make the other side touch memory outside the ring.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Writes of at most this many bytes are never interleaved with another
/// writer's bytes (POSIX `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Bytes of the header page at the start of the object.
pub const HEADER_BYTES: usize = 4096;
/// Data bytes of every ring init creates (the message path's capacity too).
pub const CAPACITY: usize = 64 * 1024;
/// Size of the Memory object: the header page and the data.
pub const RING_BYTES: usize = HEADER_BYTES + CAPACITY;

/// Badges of pipe ends (capabilities to init's endpoint): this tag in the
/// upper half, init's reference number below. libzos asks for the ring only
/// on handles with such a badge (`CapInfo` tells it without a message).
pub const PIPE_TAG: u64 = 0x5049_5045 << 32;

/// Whether `badge` names a pipe end.
pub const fn is_pipe_badge(badge: u64) -> bool {
    badge & 0xFFFF_FFFF_0000_0000 == PIPE_TAG
}

/// Flag bits in `RingHeader::flags`, set by the pipe's owner (init) when the
/// kernel reports the last reference of one side gone.
pub mod flags {
    /// Every read end is closed: writes fail with `EPIPE`.
    pub const NO_READERS: u32 = 1;
    /// Every write end is closed: an empty ring reads as end of file.
    pub const NO_WRITERS: u32 = 2;
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
    /// Readers that announced they are about to sleep (or sleep).
    pub readers_waiting: AtomicU32,
    /// Writers likewise.
    pub writers_waiting: AtomicU32,
    /// Serialises writers (several processes may hold write ends): 0 free,
    /// otherwise the pid of the holder (init frees a dead holder's lock).
    pub writer_lock: AtomicU32,
    /// Serialises readers, as `writer_lock`.
    pub reader_lock: AtomicU32,
    /// `watch::*`: someone `poll`s the pipe and init holds its watch (set by
    /// init). The end that makes the awaited change (bytes written, bytes
    /// read) takes the bit and tells init (`IoRequest::WakeWatchers`).
    pub watch: AtomicU32,
}

/// Bits of `RingHeader::watch`.
pub mod watch {
    /// A poller waits for bytes (or end of file): writers tell init.
    pub const READ: u32 = 1;
    /// A poller waits for room (or a broken pipe): readers tell init.
    pub const WRITE: u32 = 2;
}

/// Which side of the pipe: selects the notification and the sleeper count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Reader,
    Writer,
}

/// Outcome of one non-blocking ring write.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RingWrite {
    /// This many bytes were committed; `wake_reader` says a reader sleeps and
    /// the "data available" notification must be signalled.
    Written { bytes: usize, wake_reader: bool },
    /// No reader is left (`EPIPE`, SIGPIPE).
    BrokenPipe,
    /// Not enough room (for a write ≤ `PIPE_BUF`: room for all of it).
    WouldBlock,
    /// The positions are impossible (a peer wrote nonsense into the header).
    Corrupt,
}

/// Outcome of one non-blocking ring read.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RingRead {
    /// This many bytes were copied out; `wake_writer` as `wake_reader` above.
    Data {
        bytes: usize,
        wake_writer: bool,
    },
    EndOfFile,
    WouldBlock,
    Corrupt,
}

/// Why a blocking ring operation failed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RingError {
    /// No reader is left.
    BrokenPipe,
    /// Non-blocking and nothing could be done now.
    WouldBlock,
    /// The header holds impossible positions.
    Corrupt,
    /// A lock stayed held past [`Sleep::pause`]'s patience.
    LockStuck,
    /// [`Sleep::wait`] was interrupted (a signal): nothing was moved.
    Interrupted,
}

/// What a blocking operation needs from the system: the two notifications
/// and a way to let a lock holder run.
pub trait Sleep {
    /// Signals the notification `side` sleeps on.
    fn signal(&self, side: Side);
    /// Sleeps on `side`'s notification until it is signalled (a signal sent
    /// before the wait is kept, so none is lost). `Err` (a signal for the
    /// sleeping thread) ends the operation with that error.
    fn wait(&self, side: Side) -> Result<(), RingError>;
    /// Lets another thread run while a lock is held; `attempt` counts from 0.
    /// False: give up (the operation fails with [`RingError::LockStuck`]).
    fn pause(&self, attempt: u32) -> bool;
}

/// One process's view of a mapped ring: its header and data bytes.
pub struct Ring<'a> {
    header: &'a RingHeader,
    data: *mut u8,
    capacity: usize,
}

impl<'a> Ring<'a> {
    /// A view of a ring whose `capacity` data bytes start at `data`.
    ///
    /// # Safety
    /// `data` must point to `capacity` bytes that stay mapped for `'a` and
    /// that are only touched through `Ring` views of this header (other
    /// processes included, or they can only garble the pipe's own bytes).
    /// `capacity` must not come from the shared header.
    pub unsafe fn from_raw(header: &'a RingHeader, data: *mut u8, capacity: usize) -> Self {
        Ring {
            header,
            data,
            capacity,
        }
    }

    pub fn header(&self) -> &RingHeader {
        self.header
    }

    /// Bytes buffered now (`None` if the positions are impossible).
    pub fn buffered(&self) -> Option<usize> {
        let w = self.header.write_pos.load(Ordering::Acquire);
        let r = self.header.read_pos.load(Ordering::Acquire);
        let n = w.wrapping_sub(r);
        (n <= self.capacity as u64).then_some(n as usize)
    }

    fn lock_word(&self, side: Side) -> &AtomicU32 {
        match side {
            Side::Reader => &self.header.reader_lock,
            Side::Writer => &self.header.writer_lock,
        }
    }

    fn sleepers_word(&self, side: Side) -> &AtomicU32 {
        match side {
            Side::Reader => &self.header.readers_waiting,
            Side::Writer => &self.header.writers_waiting,
        }
    }

    /// Tries to take `side`'s lock for `owner` (a pid, not 0).
    pub fn try_lock(&self, side: Side, owner: u32) -> bool {
        self.lock_word(side)
            .compare_exchange(0, owner, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Releases `side`'s lock if `owner` holds it; true if it did. init calls
    /// this for both sides with the pid of every process that ends.
    pub fn unlock(&self, side: Side, owner: u32) -> bool {
        self.lock_word(side)
            .compare_exchange(owner, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// Writes what fits of `bytes` (all or nothing when `bytes.len()` ≤
    /// `PIPE_BUF`). The caller holds the writer lock.
    pub fn write(&self, bytes: &[u8]) -> RingWrite {
        if self.header.flags.load(Ordering::Acquire) & flags::NO_READERS != 0 {
            return RingWrite::BrokenPipe;
        }
        let w = self.header.write_pos.load(Ordering::Relaxed);
        let r = self.header.read_pos.load(Ordering::Acquire);
        let used = w.wrapping_sub(r);
        if used > self.capacity as u64 {
            return RingWrite::Corrupt;
        }
        if bytes.is_empty() {
            return RingWrite::Written {
                bytes: 0,
                wake_reader: false,
            };
        }
        let room = self.capacity - used as usize;
        let atomic = bytes.len() <= PIPE_BUF;
        if room == 0 || (atomic && room < bytes.len()) {
            return RingWrite::WouldBlock;
        }
        let n = room.min(bytes.len());
        let start = (w % self.capacity as u64) as usize;
        let first = n.min(self.capacity - start);
        // SAFETY: `from_raw`'s contract: `capacity` bytes at `data`; start <
        // capacity, first ≤ capacity - start and n - first ≤ n ≤ room ≤
        // capacity, so both copies stay inside the data bytes; the range
        // [w, w + n) is free, so no reader touches it until `write_pos` moves.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.add(start), first);
            core::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), self.data, n - first);
        }
        self.header
            .write_pos
            .store(w.wrapping_add(n as u64), Ordering::Release);
        RingWrite::Written {
            bytes: n,
            wake_reader: self.has_sleepers(Side::Reader),
        }
    }

    /// Whether a read would answer now: bytes are there, or every writer is
    /// gone (end of file).
    pub fn readable(&self) -> bool {
        let r = self.header.read_pos.load(Ordering::Relaxed);
        self.header.write_pos.load(Ordering::Acquire) != r
            || self.header.flags.load(Ordering::Acquire) & flags::NO_WRITERS != 0
    }

    /// `poll` events of the `side` end (`crate::watch::events`, as Linux
    /// reports a pipe): the read end is `POLLIN` with bytes buffered and
    /// `POLLHUP` once every writer is gone; the write end is `POLLOUT` with
    /// room for a `PIPE_BUF` write (one that does not wait) and `POLLERR`
    /// once every reader is gone (its writes fail at once). Impossible positions read as `POLLERR`.
    pub fn ready(&self, side: Side) -> u16 {
        use crate::watch::events::*;
        let flags = self.header.flags.load(Ordering::Acquire);
        let Some(buffered) = self.buffered() else {
            return POLLERR;
        };
        match side {
            Side::Reader => {
                let data = if buffered > 0 { POLLIN } else { 0 };
                let hup = if flags & flags::NO_WRITERS != 0 {
                    POLLHUP
                } else {
                    0
                };
                data | hup
            }
            Side::Writer => {
                let room = self.capacity - buffered >= PIPE_BUF.min(self.capacity);
                let error = if flags & flags::NO_READERS != 0 {
                    POLLERR
                } else {
                    0
                };
                error | if room { POLLOUT } else { 0 }
            }
        }
    }

    /// init, registering a watch: sets `bits` in the header's `watch` word,
    /// then (full fence) the caller looks at [`Ring::ready`]. Paired with
    /// [`Ring::take_watch`]: either init sees the change or the end that
    /// made it sees the bit.
    pub fn set_watch(&self, bits: u32) {
        self.header.watch.fetch_or(bits, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// An end after a read or write: whether a watch of `bits` was set (and
    /// is now taken), so init must be told.
    pub fn take_watch(&self, bits: u32) -> bool {
        fence(Ordering::SeqCst);
        self.header.watch.load(Ordering::Relaxed) & bits != 0
            && self.header.watch.fetch_and(!bits, Ordering::SeqCst) & bits != 0
    }

    /// Reads up to `out.len()` bytes. The caller holds the reader lock.
    pub fn read(&self, out: &mut [u8]) -> RingRead {
        let r = self.header.read_pos.load(Ordering::Relaxed);
        let w = self.header.write_pos.load(Ordering::Acquire);
        let available = w.wrapping_sub(r);
        if available > self.capacity as u64 {
            return RingRead::Corrupt;
        }
        let available = available as usize;
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
        // SAFETY: `from_raw`'s contract; bounds as in `write` (n ≤ available
        // ≤ capacity); [r, r + n) was published by a writer and no writer
        // reuses it before `read_pos` moves.
        unsafe {
            core::ptr::copy_nonoverlapping(self.data.add(start), out.as_mut_ptr(), first);
            core::ptr::copy_nonoverlapping(self.data, out.as_mut_ptr().add(first), n - first);
        }
        self.header
            .read_pos
            .store(r.wrapping_add(n as u64), Ordering::Release);
        RingRead::Data {
            bytes: n,
            wake_writer: self.has_sleepers(Side::Writer),
        }
    }

    /// Marks one side gone (the owner does this on `NO_SENDERS`); the caller
    /// then signals both notifications so sleepers look again.
    pub fn close_side(&self, flag: u32) {
        self.header.flags.fetch_or(flag, Ordering::SeqCst);
    }

    /// Whether anyone of `side` announced a sleep. The full fence pairs with
    /// the one in `announce`: either the sleeper's retry sees what was just
    /// published, or this sees the sleeper (no lost wake-up).
    fn has_sleepers(&self, side: Side) -> bool {
        fence(Ordering::SeqCst);
        self.sleepers_word(side).load(Ordering::Relaxed) != 0
    }

    fn announce(&self, side: Side) {
        self.sleepers_word(side).fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    fn retire(&self, side: Side) {
        let _ = self
            .sleepers_word(side)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    fn locked<R>(
        &self,
        side: Side,
        owner: u32,
        sleep: &impl Sleep,
        f: impl FnOnce() -> R,
    ) -> Result<R, RingError> {
        let mut attempt = 0;
        while !self.try_lock(side, owner) {
            if !sleep.pause(attempt) {
                return Err(RingError::LockStuck);
            }
            attempt = attempt.saturating_add(1);
        }
        let result = f();
        self.unlock(side, owner);
        Ok(result)
    }

    /// A `read(2)` on the ring: waits (unless `nonblocking`) until bytes or
    /// end of file arrive; `Ok(0)` is end of file. `owner`: the caller's pid.
    pub fn read_blocking(
        &self,
        out: &mut [u8],
        owner: u32,
        nonblocking: bool,
        sleep: &impl Sleep,
    ) -> Result<usize, RingError> {
        let step = || match self.read(out) {
            RingRead::Data { bytes, wake_writer } => {
                Step::Done(Ok(bytes), wake_writer.then_some(Side::Writer))
            }
            RingRead::EndOfFile => Step::Done(Ok(0), None),
            RingRead::Corrupt => Step::Done(Err(RingError::Corrupt), None),
            RingRead::WouldBlock => Step::WouldBlock,
        };
        // Something for the next sleeping reader: bytes left, or end of file.
        let more = || {
            let eof = self.header.flags.load(Ordering::Acquire) & flags::NO_WRITERS != 0;
            self.buffered() != Some(0) || eof
        };
        self.blocking(Side::Reader, owner, nonblocking, sleep, step, more)
    }

    /// A `write(2)` on the ring: waits (unless `nonblocking`) until it can
    /// write all of `bytes` (≤ `PIPE_BUF`) or at least one byte (larger
    /// writes); returns how many it wrote.
    pub fn write_blocking(
        &self,
        bytes: &[u8],
        owner: u32,
        nonblocking: bool,
        sleep: &impl Sleep,
    ) -> Result<usize, RingError> {
        let step = || match self.write(bytes) {
            RingWrite::Written { bytes, wake_reader } => {
                Step::Done(Ok(bytes), wake_reader.then_some(Side::Reader))
            }
            RingWrite::BrokenPipe => Step::Done(Err(RingError::BrokenPipe), None),
            RingWrite::Corrupt => Step::Done(Err(RingError::Corrupt), None),
            RingWrite::WouldBlock => Step::WouldBlock,
        };
        // Something for the next sleeping writer: room, or a broken pipe.
        let more = || {
            let room = self.buffered().is_some_and(|b| b < self.capacity);
            room || self.header.flags.load(Ordering::Acquire) & flags::NO_READERS != 0
        };
        self.blocking(Side::Writer, owner, nonblocking, sleep, step, more)
    }

    /// The wait loop both sides share: `step` under `side`'s lock until it
    /// is done (then the side it names is woken, outside the lock), sleeping
    /// between tries after announcing the sleep and retrying once (no lost
    /// wake-up). One signal wakes one sleeper, so a sleeper that leaves
    /// passes it on while `more` says there is something for the next one.
    fn blocking(
        &self,
        side: Side,
        owner: u32,
        nonblocking: bool,
        sleep: &impl Sleep,
        mut step: impl FnMut() -> Step,
        more: impl Fn() -> bool,
    ) -> Result<usize, RingError> {
        let mut announced = false;
        let result = loop {
            match self.locked(side, owner, sleep, &mut step) {
                Err(e) => break Err(e),
                Ok(Step::Done(result, wake)) => {
                    if let Some(other) = wake {
                        sleep.signal(other);
                    }
                    break result;
                }
                Ok(Step::WouldBlock) if nonblocking => break Err(RingError::WouldBlock),
                Ok(Step::WouldBlock) if !announced => {
                    self.announce(side);
                    announced = true;
                }
                Ok(Step::WouldBlock) => {
                    if let Err(e) = sleep.wait(side) {
                        break Err(e);
                    }
                }
            }
        };
        if announced {
            self.retire(side);
            if self.has_sleepers(side) && more() {
                sleep.signal(side);
            }
        }
        result
    }
}

/// One try of a blocking read or write: its result and the other side to
/// wake, or "nothing yet".
enum Step {
    Done(Result<usize, RingError>, Option<Side>),
    WouldBlock,
}

/// A ring in ordinary heap memory, for host tests and models of the ring.
pub struct OwnedRing {
    header: alloc::boxed::Box<RingHeader>,
    data: alloc::vec::Vec<u8>,
}

impl OwnedRing {
    pub fn new(capacity: usize) -> Self {
        OwnedRing {
            header: alloc::boxed::Box::default(),
            data: alloc::vec![0; capacity],
        }
    }

    /// A view of the ring (one at a time: the view borrows it mutably).
    pub fn ring(&mut self) -> Ring<'_> {
        let capacity = self.data.len();
        // SAFETY: `data` holds `capacity` bytes and outlives the view.
        unsafe { Ring::from_raw(&self.header, self.data.as_mut_ptr(), capacity) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Condvar, Mutex};

    #[test]
    fn poll_events_follow_bytes_room_and_closed_sides() {
        use crate::watch::events::*;
        let mut owned = OwnedRing::new(2 * PIPE_BUF);
        let ring = owned.ring();
        assert_eq!(ring.ready(Side::Reader), 0, "empty: a read would wait");
        assert_eq!(ring.ready(Side::Writer), POLLOUT);
        assert!(matches!(
            ring.write(&vec![0u8; PIPE_BUF + 1]),
            RingWrite::Written { .. }
        ));
        assert_eq!(ring.ready(Side::Reader), POLLIN);
        assert_eq!(
            ring.ready(Side::Writer),
            0,
            "less than PIPE_BUF of room: a full pipe is not writable"
        );
        let mut out = [0u8; 2];
        assert!(matches!(ring.read(&mut out), RingRead::Data { .. }));
        assert_eq!(ring.ready(Side::Writer), POLLOUT);
        ring.close_side(flags::NO_WRITERS);
        assert_eq!(ring.ready(Side::Reader), POLLIN | POLLHUP);
        ring.close_side(flags::NO_READERS);
        assert_eq!(ring.ready(Side::Writer), POLLOUT | POLLERR, "as Linux");
    }

    /// A sleep whose waits are all interrupted (a signal for the thread).
    struct Interrupting;

    impl Sleep for Interrupting {
        fn signal(&self, _: Side) {}
        fn wait(&self, _: Side) -> Result<(), RingError> {
            Err(RingError::Interrupted)
        }
        fn pause(&self, _: u32) -> bool {
            true
        }
    }

    #[test]
    fn an_interrupted_wait_ends_the_read_and_leaves_no_sleeper() {
        let mut owned = OwnedRing::new(64);
        let ring = owned.ring();
        let mut out = [0u8; 8];
        let result = ring.read_blocking(&mut out, 1, false, &Interrupting);
        assert_eq!(result, Err(RingError::Interrupted));
        assert!(!ring.has_sleepers(Side::Reader), "the reader retired");
        // The bytes written next are all there for the next read.
        assert!(matches!(
            ring.write(b"abc"),
            RingWrite::Written { bytes: 3, .. }
        ));
        assert_eq!(ring.read_blocking(&mut out, 1, false, &Interrupting), Ok(3));
    }

    #[test]
    fn a_watch_bit_is_taken_once() {
        let mut owned = OwnedRing::new(64);
        let ring = owned.ring();
        assert!(!ring.take_watch(watch::READ), "nobody watches");
        ring.set_watch(watch::READ | watch::WRITE);
        assert!(ring.take_watch(watch::READ));
        assert!(!ring.take_watch(watch::READ), "taken");
        assert!(ring.take_watch(watch::WRITE), "the other bit stays");
    }

    #[test]
    fn eof_epipe_and_wrap() {
        let mut owned = OwnedRing::new(8);
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
        let mut owned = OwnedRing::new(2 * PIPE_BUF);
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
    fn wake_only_when_someone_sleeps() {
        let mut owned = OwnedRing::new(16);
        let ring = owned.ring();
        assert_eq!(
            ring.write(b"a"),
            RingWrite::Written {
                bytes: 1,
                wake_reader: false
            }
        );
        ring.announce(Side::Reader);
        assert_eq!(
            ring.write(b"b"),
            RingWrite::Written {
                bytes: 1,
                wake_reader: true
            }
        );
        ring.retire(Side::Reader);
        ring.retire(Side::Reader); // saturates, never wraps to "many sleepers"
        assert_eq!(ring.header().readers_waiting.load(Ordering::Relaxed), 0);
        ring.announce(Side::Writer);
        let mut out = [0u8; 4];
        assert_eq!(
            ring.read(&mut out),
            RingRead::Data {
                bytes: 2,
                wake_writer: true
            }
        );
    }

    #[test]
    fn locks_exclude_and_a_dead_holder_is_released() {
        let mut owned = OwnedRing::new(16);
        let ring = owned.ring();
        assert!(ring.try_lock(Side::Writer, 7));
        assert!(!ring.try_lock(Side::Writer, 8));
        assert!(ring.try_lock(Side::Reader, 8));
        // Only the holder's pid releases it (init passes the dead pid).
        assert!(!ring.unlock(Side::Writer, 8));
        assert!(ring.unlock(Side::Writer, 7));
        assert!(ring.try_lock(Side::Writer, 8));
    }

    /// A scribbling peer: impossible positions are refused before any copy,
    /// and a lock it never releases ends in `LockStuck`, not a hang.
    #[test]
    fn scribbled_header_is_refused() {
        let mut owned = OwnedRing::new(16);
        let ring = owned.ring();
        ring.header().write_pos.store(1 << 40, Ordering::Relaxed);
        let mut out = [0u8; 64];
        assert_eq!(ring.read(&mut out), RingRead::Corrupt);
        assert_eq!(ring.write(b"x"), RingWrite::Corrupt);
        assert_eq!(ring.buffered(), None);
        // Reader ahead of the writer: also impossible.
        ring.header().write_pos.store(3, Ordering::Relaxed);
        ring.header().read_pos.store(5, Ordering::Relaxed);
        assert_eq!(ring.read(&mut out), RingRead::Corrupt);
        let sleeper = Notifications::default();
        assert_eq!(
            ring.read_blocking(&mut out, 1, false, &sleeper),
            Err(RingError::Corrupt)
        );
        ring.header().read_pos.store(3, Ordering::Relaxed);
        ring.header().reader_lock.store(99, Ordering::Relaxed);
        assert_eq!(
            ring.read_blocking(&mut out, 1, false, &sleeper),
            Err(RingError::LockStuck)
        );
    }

    /// Two notification words (bits kept until waited for, one waiter woken
    /// per signal, like the kernel's) for the threaded tests.
    #[derive(Default, Clone)]
    struct Notifications(Arc<(Mutex<[u32; 2]>, Condvar)>);

    impl Sleep for Notifications {
        fn signal(&self, side: Side) {
            let (lock, condvar) = &*self.0;
            lock.lock().unwrap()[side as usize] += 1;
            condvar.notify_all();
        }
        fn wait(&self, side: Side) -> Result<(), RingError> {
            let (lock, condvar) = &*self.0;
            let mut bits = lock.lock().unwrap();
            while bits[side as usize] == 0 {
                bits = condvar.wait(bits).unwrap();
            }
            bits[side as usize] = 0;
            Ok(())
        }
        fn pause(&self, attempt: u32) -> bool {
            std::thread::yield_now();
            attempt < 10_000
        }
    }

    struct SharedRing {
        header: RingHeader,
        data: Mutex<Vec<u8>>,
    }

    /// Writers and readers on several threads move every byte exactly once,
    /// small writes never interleave, end of file reaches every reader (the
    /// wake-up passed on from one sleeper to the next), nothing hangs.
    #[test]
    fn threads_move_every_byte_and_see_end_of_file() {
        let capacity = 512;
        let shared = Arc::new(SharedRing {
            header: RingHeader::default(),
            data: Mutex::new(vec![0; capacity]),
        });
        let data = shared.data.lock().unwrap().as_mut_ptr() as usize;
        let sleep = Notifications::default();
        fn view(shared: &SharedRing, data: usize, capacity: usize) -> Ring<'_> {
            // SAFETY: `data` outlives the threads (the Arc holds it) and
            // holds `capacity` bytes; the ring hands each byte to one side.
            unsafe { Ring::from_raw(&shared.header, data as *mut u8, capacity) }
        }
        let writers: Vec<_> = (0..3u8)
            .map(|id| {
                let (shared, sleep) = (shared.clone(), sleep.clone());
                std::thread::spawn(move || {
                    let ring = view(&shared, data, capacity);
                    for _ in 0..200 {
                        let record = [id; 20];
                        assert_eq!(
                            ring.write_blocking(&record, 1 + id as u32, false, &sleep),
                            Ok(20)
                        );
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2u32)
            .map(|id| {
                let (shared, sleep) = (shared.clone(), sleep.clone());
                std::thread::spawn(move || {
                    let ring = view(&shared, data, capacity);
                    let mut got = Vec::new();
                    let mut out = [0u8; 20];
                    loop {
                        // 20-byte reads of 20-byte records stay aligned
                        // only with one reader; count bytes per writer id.
                        match ring.read_blocking(&mut out, 10 + id, false, &sleep) {
                            Ok(0) => break got,
                            Ok(n) => got.extend_from_slice(&out[..n]),
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        view(&shared, data, capacity).close_side(flags::NO_WRITERS);
        sleep.signal(Side::Reader);
        let mut counts = [0usize; 3];
        for reader in readers {
            for byte in reader.join().unwrap() {
                counts[byte as usize] += 1;
            }
        }
        assert_eq!(counts, [4000; 3]);
    }

    /// A writer blocked on a full ring gets `BrokenPipe` when the readers go.
    #[test]
    fn blocked_writer_sees_broken_pipe() {
        let shared = Arc::new(SharedRing {
            header: RingHeader::default(),
            data: Mutex::new(vec![0; 8]),
        });
        let data = shared.data.lock().unwrap().as_mut_ptr() as usize;
        let sleep = Notifications::default();
        let writer = {
            let (shared, sleep) = (shared.clone(), sleep.clone());
            std::thread::spawn(move || {
                // SAFETY: as in the test above.
                let ring = unsafe { Ring::from_raw(&shared.header, data as *mut u8, 8) };
                assert_eq!(ring.write_blocking(b"12345678", 1, false, &sleep), Ok(8));
                assert_eq!(
                    ring.write_blocking(b"9", 1, true, &sleep),
                    Err(RingError::WouldBlock)
                );
                ring.write_blocking(b"9", 1, false, &sleep)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        shared
            .header
            .flags
            .fetch_or(flags::NO_READERS, Ordering::SeqCst);
        sleep.signal(Side::Writer);
        assert_eq!(writer.join().unwrap(), Err(RingError::BrokenPipe));
    }
}
