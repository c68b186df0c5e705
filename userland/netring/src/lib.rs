//! Frame rings between a NIC driver and the netstack.
//!
//! One Memory object (created by the netstack, mapped by both) holds two
//! rings: [`TO_STACK`] (frames the driver received, driver produces) and
//! [`TO_DRIVER`] (frames to send, netstack produces). Each ring is a header
//! page (`head` at byte 0, written only by the producer; `tail` at byte 64,
//! written only by the consumer) and a number of equal slots (its
//! [`Geometry`]): an 8-byte slot header (a little-endian `u32` length, then
//! the frame's [`Offload`] request), then the frame. Frames to send may be
//! TCP segments of up to 16 KiB that the device cuts to the wire's size
//! (TSO), so that ring's slots are larger. A frame moves once, from the
//! producer's buffer into the slot and out of it into the consumer's; after
//! a batch the producer signals the consumer's notification.
//!
//! Neither side trusts the other's bytes: a producer reads `tail` and a
//! consumer reads `head` and lengths from memory the peer can scribble on,
//! so every value read is checked (an impossible fill level resynchronises
//! the ring and is counted, a length past the slot drops that frame);
//! nothing the peer writes can make this code panic or touch memory outside
//! the region.
#![cfg_attr(not(test), no_std)]

use core::sync::atomic::{AtomicU32, Ordering};

/// The shape of one ring: how many slots of how many bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes of one slot, header included.
    pub slot: usize,
    /// Slots (a power of two).
    pub slots: u32,
}

impl Geometry {
    /// Largest frame a slot holds.
    pub const fn max_frame(self) -> usize {
        self.slot - SLOT_HEADER
    }

    /// Bytes of the ring, its header page included.
    pub const fn bytes(self) -> usize {
        HEADER + self.slots as usize * self.slot
    }
}

/// Received frames: Ethernet frames of at most 1514 bytes.
pub const TO_STACK_RING: Geometry = Geometry {
    slot: 2048,
    slots: 256,
};
/// Frames to send: up to 16 KiB, for segments the device cuts up.
pub const TO_DRIVER_RING: Geometry = Geometry {
    slot: 16384,
    slots: 128,
};
/// Bytes before the frame in a slot.
const SLOT_HEADER: usize = 8;
/// Bytes before the first slot.
const HEADER: usize = 4096;
/// Bytes of the shared region (both rings).
pub const REGION_BYTES: usize = TO_STACK_RING.bytes() + TO_DRIVER_RING.bytes();
/// Offset of the ring the driver fills with received frames.
pub const TO_STACK: usize = 0;
/// Offset of the ring the netstack fills with frames to send.
pub const TO_DRIVER: usize = TO_STACK_RING.bytes();
const TAIL_OFFSET: usize = 64;

/// What the producer asks of the consumer for one frame, beyond moving it.
/// Towards the driver:
/// - a checksum the device is to compute (virtio-net's
///   `VIRTIO_NET_HDR_F_NEEDS_CSUM`): the one's complement sum from byte
///   `checksum_start` of the frame to its end goes into the 16 bits at
///   `checksum_start + checksum_offset`; zero asks nothing;
/// - a TCP segment the device is to cut into segments of `segment_size`
///   payload bytes (virtio-net's `VIRTIO_NET_HDR_GSO_TCPV4`, which needs
///   the checksum request too); zero asks nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    pub checksum_start: u8,
    pub checksum_offset: u8,
    pub segment_size: u16,
}

impl Offload {
    pub const NONE: Offload = Offload {
        checksum_start: 0,
        checksum_offset: 0,
        segment_size: 0,
    };

    fn to_bytes(self) -> [u8; 4] {
        let [low, high] = self.segment_size.to_le_bytes();
        [self.checksum_start, self.checksum_offset, low, high]
    }

    fn from_bytes(bytes: [u8; 4]) -> Self {
        Offload {
            checksum_start: bytes[0],
            checksum_offset: bytes[1],
            segment_size: u16::from_le_bytes([bytes[2], bytes[3]]),
        }
    }

    /// Whether a checksum is asked for.
    pub fn wants_checksum(self) -> bool {
        self.checksum_start != 0
    }
}

/// What went wrong with a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// No free slot (producer) — the frame is dropped by the caller.
    Full,
    /// The frame does not fit a slot.
    TooLong,
    /// The peer left an impossible index or length; the ring was resynchronised.
    Corrupt,
}

/// Counters kept by one side (shown by `ifconfig`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub frames: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub corrupt: u64,
}

struct Ring {
    base: *mut u8,
    geometry: Geometry,
}

// SAFETY: a ring is a pointer into shared memory that stays mapped for the
// ring's life; one side owns each end, and the indices are atomics.
unsafe impl Send for Ring {}

impl Ring {
    fn head(&self) -> &AtomicU32 {
        // SAFETY: `base` is 4096-aligned and the region is at least
        // `geometry.bytes()` long (the constructors' contract); AtomicU32 has
        // the layout of u32.
        unsafe { &*(self.base as *const AtomicU32) }
    }

    fn tail(&self) -> &AtomicU32 {
        // SAFETY: as `head`, 64 bytes further (aligned).
        unsafe { &*(self.base.add(TAIL_OFFSET) as *const AtomicU32) }
    }

    fn slot(&self, index: u32) -> *mut u8 {
        let at = HEADER + (index % self.geometry.slots) as usize * self.geometry.slot;
        // SAFETY: `at + slot <= geometry.bytes()`, inside the ring.
        unsafe { self.base.add(at) }
    }
}

/// The producing end of one ring.
pub struct Producer {
    ring: Ring,
    head: u32,
    /// Length of the frame reserved and not yet committed.
    reserved: Option<usize>,
    pub counters: Counters,
}

/// The consuming end of one ring.
pub struct Consumer {
    ring: Ring,
    tail: u32,
    pub counters: Counters,
}

impl Producer {
    /// The producer of the ring at `base`, starting from an empty ring
    /// (resets both indices: the peer attaches after this).
    ///
    /// # Safety
    /// `base` is 4096-aligned, valid for `geometry.bytes()` bytes for as
    /// long as the producer lives, and only this producer writes `head` and
    /// slots.
    pub unsafe fn new(base: *mut u8, geometry: Geometry) -> Self {
        let ring = Ring { base, geometry };
        ring.head().store(0, Ordering::Release);
        ring.tail().store(0, Ordering::Release);
        Producer {
            ring,
            head: 0,
            reserved: None,
            counters: Counters::default(),
        }
    }

    /// Largest frame this ring takes.
    pub fn max_frame(&self) -> usize {
        self.ring.geometry.max_frame()
    }

    /// Frames the consumer has not taken yet (`Err` when the peer's tail is
    /// impossible).
    fn queued(&self) -> Result<u32, RingError> {
        let tail = self.ring.tail().load(Ordering::Acquire);
        let queued = self.head.wrapping_sub(tail);
        if queued > self.ring.geometry.slots {
            Err(RingError::Corrupt)
        } else {
            Ok(queued)
        }
    }

    /// Whether a frame would fit now.
    pub fn has_room(&self) -> bool {
        self.queued().is_ok_and(|q| q < self.ring.geometry.slots)
    }

    /// Queues a frame of `len` bytes that `fill` writes; published when
    /// `fill` returns. A full ring drops it (counted).
    pub fn push_with<R>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, RingError> {
        let result = fill(self.reserve(len)?);
        self.commit();
        Ok(result)
    }

    /// The next slot, for a frame of `len` bytes to be written in place;
    /// the consumer sees it only after [`Producer::commit`] (the netstack
    /// learns whether a frame it built leaves through the NIC only once it
    /// is built, and may then leave it uncommitted). A full ring or a frame
    /// too long is refused and counted as dropped.
    pub fn reserve(&mut self, len: usize) -> Result<&mut [u8], RingError> {
        if len > self.max_frame() {
            self.counters.dropped += 1;
            return Err(RingError::TooLong);
        }
        match self.queued() {
            Ok(q) if q < self.ring.geometry.slots => {}
            Ok(_) => {
                self.counters.dropped += 1;
                return Err(RingError::Full);
            }
            Err(e) => {
                self.counters.corrupt += 1;
                self.counters.dropped += 1;
                return Err(e);
            }
        }
        self.reserved = Some(len);
        let slot = self.ring.slot(self.head);
        // SAFETY: the slot is inside the ring and the consumer does not read it
        // until `head` moves past it; `SLOT_HEADER + len <= slot`. The slice
        // borrows the producer, so no second reservation can alias it.
        unsafe { Ok(core::slice::from_raw_parts_mut(slot.add(SLOT_HEADER), len)) }
    }

    /// Publishes the frame of the last [`Producer::reserve`] (nothing when
    /// none is outstanding).
    pub fn commit(&mut self) {
        self.commit_with(Offload::NONE)
    }

    /// [`Producer::commit`] with a request for the consumer.
    pub fn commit_with(&mut self, offload: Offload) {
        let Some(len) = self.reserved.take() else {
            return;
        };
        let mut header = [0u8; SLOT_HEADER];
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4..].copy_from_slice(&offload.to_bytes());
        let slot = self.ring.slot(self.head);
        // SAFETY: the reserved slot, inside the ring, not yet published.
        unsafe { core::ptr::copy_nonoverlapping(header.as_ptr(), slot, SLOT_HEADER) };
        self.head = self.head.wrapping_add(1);
        self.ring.head().store(self.head, Ordering::Release);
        self.counters.frames += 1;
        self.counters.bytes += len as u64;
    }

    /// Queues a copy of `frame`.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), RingError> {
        self.push_with(frame.len(), |slot| slot.copy_from_slice(frame))
    }
}

impl Consumer {
    /// The consumer of the ring at `base`, which its producer set up.
    ///
    /// # Safety
    /// As [`Producer::new`]; only this consumer writes `tail`.
    pub unsafe fn new(base: *mut u8, geometry: Geometry) -> Self {
        let ring = Ring { base, geometry };
        let tail = ring.tail().load(Ordering::Acquire);
        Consumer {
            ring,
            tail,
            counters: Counters::default(),
        }
    }

    /// Largest frame this ring carries.
    pub fn max_frame(&self) -> usize {
        self.ring.geometry.max_frame()
    }

    /// Whether a frame is waiting (or the peer left the ring corrupt).
    pub fn is_empty(&self) -> bool {
        self.ring.head().load(Ordering::Acquire) == self.tail
    }

    /// The slot header of the next frame: its length and request, as the
    /// peer wrote them (unchecked), or `None` when the ring is empty. An
    /// impossible `head` shows as a frame of length 0, which
    /// [`Consumer::pop_frame`] then reports (and resynchronises); that
    /// checks again whatever it takes.
    pub fn peek(&self) -> Option<(usize, Offload)> {
        let head = self.ring.head().load(Ordering::Acquire);
        let waiting = head.wrapping_sub(self.tail);
        match waiting {
            0 => None,
            _ if waiting > self.ring.geometry.slots => Some((0, Offload::NONE)),
            _ => Some(self.slot_header(self.tail)),
        }
    }

    fn slot_header(&self, index: u32) -> (usize, Offload) {
        let mut header = [0u8; SLOT_HEADER];
        // SAFETY: the slot lies inside the ring; reading peer-written bytes
        // into a local array is always defined.
        unsafe {
            core::ptr::copy_nonoverlapping(self.ring.slot(index), header.as_mut_ptr(), SLOT_HEADER)
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let offload = Offload::from_bytes([header[4], header[5], header[6], header[7]]);
        (len, offload)
    }

    /// Takes the next frame, copying it into `out` (at least
    /// [`Consumer::max_frame`] bytes): `None` when the ring is empty,
    /// `Some(Ok(len))` for a frame, `Some(Err(_))` for a frame or index the
    /// peer got wrong (skipped).
    pub fn pop_into(&mut self, out: &mut [u8]) -> Option<Result<usize, RingError>> {
        Some(self.pop_frame(out)?.map(|(len, _)| len))
    }

    /// [`Consumer::pop_into`] that also returns what the producer asked of
    /// the frame (unchecked: the peer wrote it).
    pub fn pop_frame(&mut self, out: &mut [u8]) -> Option<Result<(usize, Offload), RingError>> {
        let head = self.ring.head().load(Ordering::Acquire);
        let waiting = head.wrapping_sub(self.tail);
        if waiting == 0 {
            return None;
        }
        if waiting > self.ring.geometry.slots {
            // Impossible: drop whatever is there and start again at head.
            self.counters.corrupt += 1;
            self.tail = head;
            self.ring.tail().store(self.tail, Ordering::Release);
            return Some(Err(RingError::Corrupt));
        }
        let (len, offload) = self.slot_header(self.tail);
        let result = if len > self.max_frame() || len > out.len() {
            self.counters.corrupt += 1;
            Err(RingError::TooLong)
        } else {
            let slot = self.ring.slot(self.tail);
            // SAFETY: `SLOT_HEADER + len <= slot`, inside the slot; `out`
            // holds `len`.
            unsafe { core::ptr::copy_nonoverlapping(slot.add(SLOT_HEADER), out.as_mut_ptr(), len) };
            self.counters.frames += 1;
            self.counters.bytes += len as u64;
            Ok((len, offload))
        };
        self.tail = self.tail.wrapping_add(1);
        self.ring.tail().store(self.tail, Ordering::Release);
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The geometry most tests use.
    const G: Geometry = TO_STACK_RING;
    const MAX_FRAME: usize = G.max_frame();
    const SLOTS: u32 = G.slots;
    const RING_BYTES: usize = TO_DRIVER_RING.bytes();

    /// A page-aligned ring region on the heap.
    fn region() -> Vec<u64> {
        vec![0u64; RING_BYTES / 8 + 512]
    }

    fn base(region: &mut [u64]) -> *mut u8 {
        let p = region.as_mut_ptr() as usize;
        ((p + 4095) & !4095) as *mut u8
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn frames_go_through_in_order_and_wrap() {
        let mut memory = region();
        let at = base(&mut memory);
        let (mut tx, mut rx) = unsafe { (Producer::new(at, G), Consumer::new(at, G)) };
        let mut out = vec![0u8; MAX_FRAME];
        for round in 0..1000u32 {
            let frame: Vec<u8> = (0..(round as usize % 1500) + 1)
                .map(|i| (i as u32 ^ round) as u8)
                .collect();
            tx.push(&frame).unwrap();
            let n = rx.pop_into(&mut out).unwrap().unwrap();
            assert_eq!(&out[..n], &frame[..]);
            assert!(rx.pop_into(&mut out).is_none());
        }
        assert_eq!(tx.counters.frames, 1000);
        assert_eq!(rx.counters.frames, 1000);
    }

    #[test]
    fn a_full_ring_drops_and_counts() {
        let mut memory = region();
        let at = base(&mut memory);
        let (mut tx, mut rx) = unsafe { (Producer::new(at, G), Consumer::new(at, G)) };
        for i in 0..SLOTS {
            tx.push(&[i as u8; 60]).unwrap();
        }
        assert!(!tx.has_room());
        assert_eq!(tx.push(&[0; 60]), Err(RingError::Full));
        assert_eq!(tx.counters.dropped, 1);
        assert_eq!(tx.push(&[0; MAX_FRAME + 1]), Err(RingError::TooLong));
        let mut out = vec![0u8; MAX_FRAME];
        assert_eq!(rx.pop_into(&mut out), Some(Ok(60)));
        assert_eq!(out[0], 0);
        assert!(tx.has_room());
    }

    /// The consumer reads memory the producer controls: random bytes
    /// everywhere, and random heads and lengths mid-stream, never panic, never
    /// yield a frame longer than a slot, and leave the ring usable.
    #[test]
    fn garbage_from_the_peer_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut out = vec![0u8; MAX_FRAME];
        for _ in 0..200 {
            let mut memory = region();
            let at = base(&mut memory);
            let mut rx = unsafe { Consumer::new(at, G) };
            // SAFETY: the region is RING_BYTES long from `at`.
            let bytes = unsafe { core::slice::from_raw_parts_mut(at, RING_BYTES) };
            for b in bytes.iter_mut() {
                *b = rng.next() as u8;
            }
            for _ in 0..300 {
                match rx.pop_into(&mut out) {
                    None => break,
                    Some(Ok(n)) => assert!(n <= MAX_FRAME),
                    Some(Err(_)) => {}
                }
                if rng.next().is_multiple_of(7) {
                    let head = rng.next() as u32;
                    bytes[..4].copy_from_slice(&head.to_le_bytes());
                }
            }
        }
        // A producer facing a scribbled tail refuses instead of overwriting.
        let mut memory = region();
        let at = base(&mut memory);
        let mut tx = unsafe { Producer::new(at, G) };
        unsafe { (at.add(TAIL_OFFSET) as *mut u32).write(1_000_000) };
        assert_eq!(tx.push(&[1; 10]), Err(RingError::Corrupt));
        assert_eq!(tx.counters.corrupt, 1);
    }

    /// A reserved frame left uncommitted is never seen by the consumer,
    /// and its slot takes the next frame.
    #[test]
    fn an_uncommitted_frame_is_not_published() {
        let mut memory = region();
        let at = base(&mut memory);
        let (mut tx, mut rx) = unsafe { (Producer::new(at, G), Consumer::new(at, G)) };
        let mut out = vec![0u8; MAX_FRAME];
        tx.reserve(50).unwrap().fill(1);
        assert!(rx.is_empty());
        assert_eq!(tx.counters.frames, 0);
        tx.reserve(40).unwrap().fill(2);
        tx.commit();
        tx.commit();
        assert_eq!(rx.pop_into(&mut out), Some(Ok(40)));
        assert_eq!(out[..40], [2; 40]);
        assert!(rx.pop_into(&mut out).is_none());
        assert_eq!(tx.counters.frames, 1);
        assert_eq!(tx.reserve(MAX_FRAME + 1), Err(RingError::TooLong));
        let asked = Offload {
            checksum_start: 34,
            checksum_offset: 16,
            segment_size: 1448,
        };
        tx.reserve(60).unwrap().fill(3);
        tx.commit_with(asked);
        assert_eq!(rx.pop_frame(&mut out), Some(Ok((60, asked))));
        tx.push(&[4; 60]).unwrap();
        assert_eq!(rx.pop_frame(&mut out), Some(Ok((60, Offload::NONE))));
    }

    /// Mutated lengths of real frames: skipped and counted, the next frame
    /// still arrives.
    #[test]
    fn a_bad_length_skips_one_frame() {
        let mut memory = region();
        let at = base(&mut memory);
        let (mut tx, mut rx) = unsafe { (Producer::new(at, G), Consumer::new(at, G)) };
        tx.push(&[7; 100]).unwrap();
        tx.push(&[8; 100]).unwrap();
        unsafe { (at.add(HEADER) as *mut u32).write(u32::MAX) };
        let mut out = vec![0u8; MAX_FRAME];
        assert_eq!(rx.pop_into(&mut out), Some(Err(RingError::TooLong)));
        assert_eq!(rx.pop_into(&mut out), Some(Ok(100)));
        assert_eq!(out[0], 8);
        assert_eq!(rx.counters.corrupt, 1);
    }

    /// The ring to the driver takes 16 KiB frames; `peek` shows the next
    /// frame's length and request without taking it.
    #[test]
    fn large_frames_and_peek() {
        let mut memory = region();
        let at = base(&mut memory);
        let geometry = TO_DRIVER_RING;
        let (mut tx, mut rx) =
            unsafe { (Producer::new(at, geometry), Consumer::new(at, geometry)) };
        assert_eq!(tx.max_frame(), 16384 - 8);
        let frame: Vec<u8> = (0..tx.max_frame()).map(|i| i as u8).collect();
        let asked = Offload {
            checksum_start: 34,
            checksum_offset: 16,
            segment_size: 1460,
        };
        assert_eq!(rx.peek(), None);
        tx.reserve(frame.len()).unwrap().copy_from_slice(&frame);
        tx.commit_with(asked);
        assert_eq!(rx.peek(), Some((frame.len(), asked)));
        let mut out = vec![0u8; rx.max_frame()];
        assert_eq!(rx.pop_frame(&mut out), Some(Ok((frame.len(), asked))));
        assert_eq!(out, frame);
        assert_eq!(
            tx.reserve(geometry.max_frame() + 1),
            Err(RingError::TooLong)
        );
        // Too small a buffer skips the frame rather than overrunning it.
        tx.push(&frame[..5000]).unwrap();
        let mut small = vec![0u8; 2048];
        assert_eq!(rx.pop_into(&mut small), Some(Err(RingError::TooLong)));
        assert!(rx.is_empty());
    }
}
