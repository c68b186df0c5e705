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

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

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
    /// Queues a frame to the wire; `false` when dropped.
    fn send(&mut self, frame: &[u8]) -> bool;
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

pub struct Segment {
    queue: VecDeque<Vec<u8>>,
    nic: Option<Box<dyn Nic>>,
    mac: [u8; 6],
    /// Whether frames went to the NIC since the last `take_sent`.
    sent: bool,
    pub counters: Counters,
}

impl Segment {
    pub fn new(mac: [u8; 6]) -> Self {
        Segment {
            queue: VecDeque::new(),
            nic: None,
            mac,
            sent: false,
            counters: Counters::default(),
        }
    }

    /// Frames waiting in the loopback queue.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    pub fn set_nic(&mut self, nic: Option<Box<dyn Nic>>, mac: [u8; 6]) {
        self.nic = nic;
        self.mac = mac;
    }

    pub fn has_nic(&self) -> bool {
        self.nic.is_some()
    }

    /// Whether frames went to the NIC since the last call (the service then
    /// signals the driver).
    pub fn take_sent(&mut self) -> bool {
        core::mem::take(&mut self.sent)
    }

    /// Where a frame the interface sent goes: back to itself or the NIC.
    fn stays_local(&self, frame: &[u8]) -> bool {
        if frame.len() < 14 {
            return true;
        }
        if frame[..6] == self.mac {
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

    fn send(&mut self, frame: Vec<u8>) {
        if self.stays_local(&frame) {
            if self.queue.len() < MAX_QUEUED {
                self.queue.push_back(frame);
            }
            return;
        }
        let Some(nic) = self.nic.as_mut() else {
            return;
        };
        if frame.len() <= NIC_FRAME && nic.send(&frame) {
            self.counters.tx_frames += 1;
            self.counters.tx_bytes += frame.len() as u64;
            self.sent = true;
        } else {
            self.counters.dropped += 1;
        }
    }

    /// The next frame from the NIC that may enter.
    fn next_nic_frame(&mut self) -> Option<Vec<u8>> {
        let nic = self.nic.as_mut()?;
        let mut buffer = vec![0u8; 2048];
        loop {
            let n = nic.receive(&mut buffer)?;
            let frame = &buffer[..n.min(buffer.len())];
            if martian(frame) {
                self.counters.dropped += 1;
                continue;
            }
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += frame.len() as u64;
            buffer.truncate(frame.len());
            return Some(buffer);
        }
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
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = MTU;
        caps.medium = Medium::Ethernet;
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let packet = match self.queue.pop_front() {
            Some(packet) => packet,
            None => self.next_nic_frame()?,
        };
        Some((RxToken { packet }, TxToken { segment: self }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken { segment: self })
    }
}

pub struct RxToken {
    packet: Vec<u8>,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.packet)
    }
}

pub struct TxToken<'a> {
    segment: &'a mut Segment,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        self.segment.send(packet);
        result
    }
}
