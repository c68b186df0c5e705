//! The one smoltcp device of the stack: an Ethernet segment with two ends,
//! an internal loopback queue and (once attached) a NIC.
//!
//! There is one smoltcp interface (Ethernet medium) holding 127.0.0.1/8 and
//! the NIC's addresses, so one socket set serves both. Frames the interface
//! sends to its own MAC address, and ARP requests for its own addresses
//! (127.0.0.1, the leased address: sender and target are the same), stay in
//! the loopback queue and come straight back; everything else goes to the
//! NIC. From the NIC, frames naming 127/8 are dropped (they cannot come
//! from a wire). The MTU is 65535 so loopback connections move 64 KiB
//! segments; peers on the wire announce their own MSS (1460), and a frame
//! longer than the NIC takes is dropped and counted.
//!
//! TCP checksums are this layer's, not smoltcp's (`checksum`): none on
//! loopback, filled in (or left to the device) on the way to the NIC,
//! checked on the way in from it. When the device cuts TCP segments itself,
//! segments to the NIC may be as long as a ring slot (`segmentation`).

use crate::checksum::{self, TcpInFrame, TCP_CHECKSUM_OFFSET};
use crate::segmentation::{self, Flow, MssTable};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
pub use zos_netring::Offload;

/// Largest packet (the loopback MTU, as on Linux), Ethernet header included.
pub const MTU: usize = 65535;
/// Largest frame a NIC takes (1500 bytes of IP + the Ethernet header).
pub const NIC_FRAME: usize = 1514;
/// Packets queued at most (more are dropped, as a full NIC would).
const MAX_QUEUED: usize = 1024;

/// The NIC end, free of system calls (the service wraps the driver's rings).
pub trait Nic: Send {
    /// The next frame from the wire into `out` (`NIC_FRAME` bytes at least).
    fn receive(&mut self, out: &mut [u8]) -> Option<usize>;
    /// Room for a frame of `len` bytes, built in place (the ring slot it
    /// leaves from); `None` when there is none. Nothing leaves until
    /// [`Nic::commit`].
    fn reserve(&mut self, len: usize) -> Option<&mut [u8]>;
    /// Queues the frame of the last `reserve` to the wire, with what the
    /// device is to do to it (see [`Nic::checksum_offload`] and
    /// [`Nic::segmentation_offload`]).
    fn commit(&mut self, offload: Offload);
    /// Whether the device completes checksums: the frame then carries only
    /// the pseudo-header's sum in the field, as virtio-net's
    /// `VIRTIO_NET_F_CSUM` has it.
    fn checksum_offload(&self) -> bool {
        false
    }
    /// The longest TCP frame the device cuts into segments for the wire
    /// (virtio-net's `VIRTIO_NET_F_HOST_TSO4`), or `None` when it cuts none.
    fn segmentation_offload(&self) -> Option<usize> {
        None
    }
}

/// Frame counters of the NIC end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    pub dropped: u64,
}

/// The segment as smoltcp's device. Frames cost no allocation on the way
/// through the NIC: one received frame at a time is copied into a buffer
/// kept for the segment's life, and a frame to send is built in the ring
/// slot it leaves from. Only loopback frames are `Vec`s.
pub struct Segment {
    link: Link,
    /// The NIC frame smoltcp is reading (`NIC_FRAME` bytes and more).
    rx_buffer: Vec<u8>,
}

/// Where frames go: everything of the segment but the receive buffer, so a
/// transmit token can hold it while a receive token reads the buffer.
struct Link {
    queue: VecDeque<Vec<u8>>,
    nic: Option<Box<dyn Nic>>,
    /// The real MSS of connections whose SYN was raised (segmentation).
    mss_table: MssTable,
    mac: [u8; 6],
    /// Whether frames went to the NIC since the last `take_sent`.
    sent: bool,
    counters: Counters,
}

impl Segment {
    pub fn new(mac: [u8; 6]) -> Self {
        Segment {
            link: Link {
                queue: VecDeque::new(),
                nic: None,
                mss_table: MssTable::default(),
                mac,
                sent: false,
                counters: Counters::default(),
            },
            rx_buffer: vec![0; 2048],
        }
    }

    /// Frames waiting in the loopback queue.
    pub fn pending(&self) -> usize {
        self.link.queue.len()
    }

    pub fn counters(&self) -> Counters {
        self.link.counters
    }

    pub fn set_nic(&mut self, nic: Option<Box<dyn Nic>>, mac: [u8; 6]) {
        self.link.nic = nic;
        self.link.mac = mac;
    }

    pub fn has_nic(&self) -> bool {
        self.link.nic.is_some()
    }

    /// Whether frames went to the NIC since the last call (the service then
    /// signals the driver).
    pub fn take_sent(&mut self) -> bool {
        core::mem::take(&mut self.link.sent)
    }
}

impl Link {
    /// Where a frame the interface sent goes: back to itself or the NIC.
    fn stays_local(mac: [u8; 6], frame: &[u8]) -> bool {
        if frame.len() < 14 {
            return true;
        }
        if frame[..6] == mac {
            return true;
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == 0x0806 && frame.len() >= 42 {
            let sender = &frame[28..32];
            let target = &frame[38..42];
            return sender == target || target[0] == 127;
        }
        false
    }

    /// Sends the frame of `len` bytes that `build` writes: built in the
    /// NIC's next ring slot and committed there, or copied out of it into a
    /// `Vec` for the loopback queue when it stays local (the slot then takes
    /// the next frame). Without a NIC, room in its ring, or a frame it takes
    /// (loopback's are up to 64 KiB), it is built in a `Vec` to begin with.
    /// The slot is shared memory the driver could scribble on: what is
    /// read back from it (where the frame goes, its TCP header) only steers
    /// this frame, and every read is bounds-checked.
    fn send<R>(&mut self, len: usize, build: impl FnOnce(&mut [u8]) -> R) -> R {
        let checksum_offload = self.nic.as_ref().is_some_and(|nic| nic.checksum_offload());
        let segmentation = self.nic.as_ref().and_then(|nic| nic.segmentation_offload());
        let longest = segmentation.unwrap_or(NIC_FRAME).max(NIC_FRAME);
        let room = self.nic.as_mut().filter(|_| len <= longest);
        let Some(slot) = room.and_then(|nic| nic.reserve(len)) else {
            // No NIC, no room in its ring, or too long for it.
            let mut frame = vec![0; len];
            let result = build(&mut frame);
            self.route(frame);
            return result;
        };
        let result = build(slot);
        if Self::stays_local(self.mac, slot) {
            // Left uncommitted: the slot takes the next frame.
            let frame = slot.to_vec();
            self.route(frame);
            return result;
        }
        let tcp = checksum::tcp_in_frame(slot);
        let segment_size = match (tcp, segmentation) {
            (Some(tcp), Some(_)) if checksum_offload => {
                segment_size(&mut self.mss_table, slot, tcp)
            }
            _ => 0,
        };
        if len > NIC_FRAME && segment_size == 0 {
            // Longer than the wire takes, and the device cuts it not.
            self.counters.dropped += 1;
            return result;
        }
        if let Some(tcp) = tcp {
            segmentation::adjust_outgoing_syn(slot, tcp);
        }
        match tcp {
            Some(tcp) if checksum_offload => checksum::fill_tcp_pseudo_checksum(slot, tcp),
            Some(tcp) => checksum::fill_tcp_checksum(slot, tcp),
            None => {}
        }
        let offload = match tcp {
            // IPv4 puts the TCP header at most 74 bytes in: both fit a byte.
            Some(tcp) if checksum_offload => Offload {
                checksum_start: tcp.start as u8,
                checksum_offset: TCP_CHECKSUM_OFFSET as u8,
                segment_size,
            },
            _ => Offload::NONE,
        };
        if let Some(nic) = self.nic.as_mut() {
            nic.commit(offload);
        }
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += len as u64;
        self.sent = true;
        result
    }

    /// A frame built outside the ring: to the loopback queue if it stays
    /// local, else dropped (counted: no NIC, or too long for it).
    fn route(&mut self, frame: Vec<u8>) {
        if !Self::stays_local(self.mac, &frame) {
            self.counters.dropped += 1;
        } else if self.queue.len() < MAX_QUEUED {
            self.queue.push_back(frame);
        }
    }

    /// Copies the next frame from the NIC that may enter into `buffer`
    /// (a SYN's MSS set for smoltcp: `segmentation`).
    fn next_nic_frame(&mut self, buffer: &mut [u8]) -> Option<usize> {
        let nic = self.nic.as_mut()?;
        let large_mss = nic.segmentation_offload().map(segmentation::large_mss);
        loop {
            let n = nic.receive(buffer)?.min(buffer.len());
            let frame = &mut buffer[..n];
            let tcp = checksum::tcp_in_frame(frame);
            if martian(frame) || !tcp_checksum_holds(frame, tcp) {
                self.counters.dropped += 1;
                continue;
            }
            if let Some(tcp) = tcp {
                let table = large_mss.map(|large| (&mut self.mss_table, large));
                segmentation::adjust_incoming_syn(frame, tcp, table);
            }
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += n as u64;
            return Some(n);
        }
    }
}

/// The segments the device is to cut `frame` into: its connection's
/// real MSS (from `table`) when the payload is longer than that, else 0 (sent whole).
fn segment_size(table: &mut MssTable, frame: &[u8], tcp: TcpInFrame) -> u16 {
    let payload = segmentation::payload_len(frame, tcp);
    if payload <= usize::from(segmentation::DEFAULT_MSS) {
        return 0;
    }
    let Some(flow) = Flow::outgoing(frame, tcp) else {
        return 0;
    };
    let mss = table.mss(flow);
    match payload > usize::from(mss) {
        true => mss,
        false => 0,
    }
}

/// Whether a frame from the wire may go on to smoltcp as far as TCP
/// checksums go: not IPv4 TCP, or whole (`tcp`, its segment) with a
/// checksum that holds (smoltcp checks none: [`Segment`]'s capabilities).
fn tcp_checksum_holds(frame: &[u8], tcp: Option<TcpInFrame>) -> bool {
    match tcp {
        Some(tcp) => checksum::tcp_checksum_ok(frame, tcp),
        None => !checksum::is_ipv4_tcp(frame),
    }
}

/// A frame from the wire naming a loopback address.
pub fn martian(frame: &[u8]) -> bool {
    if frame.len() < 14 {
        return false;
    }
    match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0800 if frame.len() >= 34 => frame[26] == 127 || frame[30] == 127,
        0x0806 if frame.len() >= 42 => frame[28] == 127 || frame[38] == 127,
        _ => false,
    }
}

impl phy::Device for Segment {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = MTU;
        caps.medium = Medium::Ethernet;
        caps.checksum.tcp = Checksum::None;
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let Segment { link, rx_buffer } = self;
        let packet = match link.queue.pop_front() {
            Some(packet) => RxToken::Local(packet),
            None => {
                let n = link.next_nic_frame(rx_buffer)?;
                RxToken::Nic(&rx_buffer[..n])
            }
        };
        Some((packet, TxToken { link }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            link: &mut self.link,
        })
    }
}

/// A received frame: from the loopback queue, or the NIC's in the
/// segment's receive buffer.
pub enum RxToken<'a> {
    Local(Vec<u8>),
    Nic(&'a [u8]),
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        match self {
            RxToken::Local(packet) => f(&packet),
            RxToken::Nic(frame) => f(frame),
        }
    }
}

pub struct TxToken<'a> {
    link: &'a mut Link,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.link.send(len, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::tests::smoltcp_frame;
    use smoltcp::phy::{Device, RxToken as _};

    /// A NIC with frames waiting to be received.
    struct Inbox(VecDeque<Vec<u8>>);

    impl Nic for Inbox {
        fn receive(&mut self, out: &mut [u8]) -> Option<usize> {
            let frame = self.0.pop_front()?;
            out[..frame.len()].copy_from_slice(&frame);
            Some(frame.len())
        }
        fn reserve(&mut self, _len: usize) -> Option<&mut [u8]> {
            None
        }
        fn commit(&mut self, _offload: Offload) {}
    }

    /// smoltcp checks no TCP checksum here: a frame from the wire whose
    /// checksum fails never reaches it (counted as dropped), the next good
    /// one does.
    #[test]
    fn a_bad_tcp_checksum_from_the_wire_is_dropped() {
        let good = smoltcp_frame(b"payload");
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut segment = Segment::new([2, 0, 0, 0, 0, 2]);
        let inbox = Inbox(VecDeque::from([bad, good.clone()]));
        segment.set_nic(Some(Box::new(inbox)), [2, 0, 0, 0, 0, 2]);
        let (rx, _) = segment
            .receive(Instant::from_millis(0))
            .expect("the good frame");
        assert!(rx.consume(|frame| frame == &good[..]));
        assert_eq!(segment.counters().dropped, 1);
        assert!(segment.receive(Instant::from_millis(0)).is_none());
    }
}
