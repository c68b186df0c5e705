//! TCP segmentation by the device (TSO) for the frames smoltcp sends to
//! the NIC.
//!
//! smoltcp never sends a segment larger than the MSS its peer announced
//! (1460 bytes on Ethernet), and every segment costs the guest the same
//! few thousand instructions however little it carries: smoltcp's
//! bookkeeping, a ring slot, the driver's virtio descriptors, the device
//! model's work. Linux sends 64 KiB segments instead and lets the NIC
//! (here QEMU's virtio-net, on a tap the host kernel) cut them up.
//!
//! The MSS options of SYNs are this layer's to set. smoltcp's interface
//! has the 64 KiB MTU of loopback, so its own SYNs to the wire announce
//! 1460 ([`WIRE_MSS`]) instead of 64 KiB, and a peer's SYN announcing more
//! than 1460 is shown to smoltcp as 1460: every frame it builds fits the
//! wire. When the device can cut segments (virtio-net's
//! `VIRTIO_NET_F_HOST_TSO4`), a peer's SYN is instead shown with what a
//! ring slot holds ([`large_mss`]), and the real MSS is remembered per
//! connection ([`MssTable`]). A segment that smoltcp then sends with more
//! payload than the real MSS leaves with a request that the device cut it
//! into segments of that size. The table is small and forgets the least
//! recently used connection: a connection it forgot is cut to 536 bytes
//! ([`DEFAULT_MSS`], the size every TCP takes), slower but never wrong.

use crate::checksum::TcpInFrame;

/// The MSS every TCP accepts when none was announced (RFC 9293, 3.7.1).
pub const DEFAULT_MSS: u16 = 536;
/// Ethernet + IPv4 + the longest TCP header: what a frame adds to its payload
/// at most.
const HEADERS_AT_MOST: usize = 14 + 20 + 60;
/// Connections whose real MSS is remembered.
const TABLE_SIZE: usize = 64;
const SYN: u8 = 0x02;
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;
const OPTION_MSS: u8 = 2;

/// The MSS shown to smoltcp so that its segments fill frames of up to
/// `max_frame` bytes.
pub fn large_mss(max_frame: usize) -> u16 {
    u16::try_from(max_frame.saturating_sub(HEADERS_AT_MOST)).unwrap_or(u16::MAX)
}

/// A TCP connection as this host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    local: [u8; 4],
    remote: [u8; 4],
    local_port: u16,
    remote_port: u16,
}

impl Flow {
    /// The connection of a frame this host sends.
    pub fn outgoing(frame: &[u8], tcp: TcpInFrame) -> Option<Flow> {
        Self::of(frame, tcp, false)
    }

    /// The connection of a frame this host received.
    pub fn incoming(frame: &[u8], tcp: TcpInFrame) -> Option<Flow> {
        Self::of(frame, tcp, true)
    }

    fn of(frame: &[u8], tcp: TcpInFrame, incoming: bool) -> Option<Flow> {
        let source: [u8; 4] = frame.get(26..30)?.try_into().ok()?;
        let destination: [u8; 4] = frame.get(30..34)?.try_into().ok()?;
        let ports = frame.get(tcp.start..tcp.start + 4)?;
        let source_port = u16::from_be_bytes([ports[0], ports[1]]);
        let destination_port = u16::from_be_bytes([ports[2], ports[3]]);
        Some(match incoming {
            false => Flow {
                local: source,
                remote: destination,
                local_port: source_port,
                remote_port: destination_port,
            },
            true => Flow {
                local: destination,
                remote: source,
                local_port: destination_port,
                remote_port: source_port,
            },
        })
    }
}

/// The real MSS of recent connections, least recently used forgotten first.
pub struct MssTable {
    entries: [Option<Entry>; TABLE_SIZE],
    clock: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    flow: Flow,
    mss: u16,
    used: u64,
}

impl Default for MssTable {
    fn default() -> Self {
        MssTable {
            entries: [None; TABLE_SIZE],
            clock: 0,
        }
    }
}

impl MssTable {
    /// Remembers `flow`'s MSS, in its old place or the least recently used.
    pub fn remember(&mut self, flow: Flow, mss: u16) {
        self.clock += 1;
        let entry = Some(Entry {
            flow,
            mss,
            used: self.clock,
        });
        let at = self
            .entries
            .iter()
            .position(|e| e.is_some_and(|e| e.flow == flow))
            .or_else(|| self.entries.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                let oldest = self
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.map_or(0, |e| e.used));
                oldest.map_or(0, |(at, _)| at)
            });
        self.entries[at] = entry;
    }

    /// The MSS of `flow`: what its SYN said, or [`DEFAULT_MSS`] when forgotten.
    pub fn mss(&mut self, flow: Flow) -> u16 {
        self.clock += 1;
        let clock = self.clock;
        match self.entries.iter_mut().flatten().find(|e| e.flow == flow) {
            Some(entry) => {
                entry.used = clock;
                entry.mss
            }
            None => DEFAULT_MSS,
        }
    }
}

/// The MSS of a 1500-byte Ethernet MTU: the most payload a segment on the
/// wire carries.
pub const WIRE_MSS: u16 = 1460;

/// If `frame` (from the wire, checked) is a SYN announcing an MSS: lowers
/// it to [`WIRE_MSS`] (smoltcp's frames must fit the wire, whatever the
/// peer's own MTU), and with `segmentation` (the table and the MSS to show)
/// notes that real MSS in the table and shows smoltcp the large one. The
/// TCP checksum is not mended: smoltcp checks none (the device layer
/// checked it before).
pub fn adjust_incoming_syn(
    frame: &mut [u8],
    tcp: TcpInFrame,
    segmentation: Option<(&mut MssTable, u16)>,
) {
    let Some(at) = syn_mss_at(frame, tcp) else {
        return;
    };
    let announced = u16::from_be_bytes([frame[at], frame[at + 1]]);
    let real = announced.min(WIRE_MSS);
    let shown = match (segmentation, Flow::incoming(frame, tcp)) {
        (Some((table, large)), Some(flow)) if real > 0 && large > real => {
            table.remember(flow, real);
            large
        }
        _ => real,
    };
    frame[at..at + 2].copy_from_slice(&shown.to_be_bytes());
}

/// If `frame` (to the wire) is a SYN announcing an MSS: lowers it to
/// [`WIRE_MSS`] (smoltcp announces its 64 KiB loopback MTU's). The TCP
/// checksum is filled in after this.
pub fn adjust_outgoing_syn(frame: &mut [u8], tcp: TcpInFrame) {
    if let Some(at) = syn_mss_at(frame, tcp) {
        let announced = u16::from_be_bytes([frame[at], frame[at + 1]]);
        frame[at..at + 2].copy_from_slice(&announced.min(WIRE_MSS).to_be_bytes());
    }
}

/// Where the value of a SYN's MSS option lies in the frame.
fn syn_mss_at(frame: &[u8], tcp: TcpInFrame) -> Option<usize> {
    let header = frame.get(tcp.start..tcp.start + tcp.len)?;
    let data_offset = usize::from(*header.get(12)? >> 4) * 4;
    if *header.get(13)? & SYN == 0 || data_offset < 20 || data_offset > header.len() {
        return None;
    }
    let mut at = 20;
    while at < data_offset {
        match header[at] {
            OPTION_END => return None,
            OPTION_NOP => at += 1,
            kind => {
                let len = usize::from(*header.get(at + 1)?);
                if len < 2 || at + len > data_offset {
                    return None;
                }
                if kind == OPTION_MSS && len == 4 {
                    return Some(tcp.start + at + 2);
                }
                at += len;
            }
        }
    }
    None
}

/// Payload bytes of a TCP segment.
pub fn payload_len(frame: &[u8], tcp: TcpInFrame) -> usize {
    let data_offset = frame
        .get(tcp.start + 12)
        .map_or(0, |byte| usize::from(byte >> 4) * 4);
    tcp.len.saturating_sub(data_offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::tcp_in_frame;
    use crate::checksum::tests::smoltcp_segment;
    use proptest::prelude::*;
    use smoltcp::wire::TcpControl;

    fn flow(port: u16) -> Flow {
        Flow {
            local: [10, 0, 0, 2],
            remote: [10, 0, 0, 1],
            local_port: 80,
            remote_port: port,
        }
    }

    #[test]
    fn a_syn_from_the_wire_gets_the_large_mss_and_the_real_one_is_kept() {
        let mut frame = smoltcp_segment(b"", TcpControl::Syn, Some(1460));
        let tcp = tcp_in_frame(&frame).expect("TCP");
        let mut table = MssTable::default();
        adjust_incoming_syn(&mut frame, tcp, Some((&mut table, 16282)));
        let at = syn_mss_at(&frame, tcp).expect("an MSS option");
        assert_eq!(frame[at..at + 2], 16282u16.to_be_bytes());
        assert_eq!(table.mss(flow(4000)), 1460);
        // Our answer to it is the same connection, seen from this side.
        let mut reply = smoltcp_segment(&[0; 3000], TcpControl::Psh, None);
        reply[26..34].rotate_left(4);
        let tcp = tcp_in_frame(&reply).expect("TCP");
        reply[tcp.start..tcp.start + 4].rotate_left(2);
        let out = Flow::outgoing(&reply, tcp).expect("a flow");
        assert_eq!(out, flow(4000));
        assert_eq!(payload_len(&reply, tcp), 3000);
    }

    /// The MSS smoltcp sees in a SYN from the wire, and what the table
    /// learnt.
    fn shown(control: TcpControl, mss: Option<u16>, offload: bool) -> (Option<u16>, u16) {
        let mut table = MssTable::default();
        let mut frame = smoltcp_segment(b"", control, mss);
        let before = frame.clone();
        let tcp = tcp_in_frame(&frame).expect("TCP");
        adjust_incoming_syn(&mut frame, tcp, offload.then_some((&mut table, 16282)));
        let at = syn_mss_at(&frame, tcp);
        if at.is_none() {
            assert_eq!(frame, before, "no MSS option, nothing changed");
        }
        let value = at.map(|at| u16::from_be_bytes([frame[at], frame[at + 1]]));
        (value, table.mss(flow(4000)))
    }

    #[test]
    fn only_syns_with_an_mss_change() {
        assert_eq!(
            shown(TcpControl::Psh, Some(1460), true),
            (None, DEFAULT_MSS)
        );
        assert_eq!(shown(TcpControl::Syn, None, true), (None, DEFAULT_MSS));
        // More than the wire carries: 1460.
        assert_eq!(
            shown(TcpControl::Syn, Some(20000), true),
            (Some(16282), 1460)
        );
        assert_eq!(
            shown(TcpControl::Syn, Some(65000), false),
            (Some(1460), DEFAULT_MSS)
        );
        assert_eq!(
            shown(TcpControl::Syn, Some(1400), false),
            (Some(1400), DEFAULT_MSS)
        );
        assert_eq!(
            shown(TcpControl::Syn, Some(1000), true),
            (Some(16282), 1000)
        );
        // Our own SYNs announce what the wire carries.
        let mut frame = smoltcp_segment(b"", TcpControl::Syn, Some(65481));
        let tcp = tcp_in_frame(&frame).expect("TCP");
        adjust_outgoing_syn(&mut frame, tcp);
        let at = syn_mss_at(&frame, tcp).expect("an MSS option");
        assert_eq!(frame[at..at + 2], 1460u16.to_be_bytes());
    }

    #[test]
    fn the_least_recently_used_connection_is_forgotten() {
        let mut table = MssTable::default();
        table.remember(flow(1), 1000);
        for port in 2..=TABLE_SIZE as u16 {
            table.remember(flow(port), 1400);
        }
        assert_eq!(table.mss(flow(1)), 1000); // used: now the newest
        table.remember(flow(9999), 1200);
        assert_eq!(table.mss(flow(1)), 1000);
        assert_eq!(table.mss(flow(2)), DEFAULT_MSS);
        assert_eq!(table.mss(flow(9999)), 1200);
        table.remember(flow(9999), 1300);
        assert_eq!(table.mss(flow(9999)), 1300);
    }

    #[test]
    fn large_mss_fills_a_slot() {
        assert_eq!(large_mss(16376), 16282);
        assert_eq!(large_mss(10), 0);
        assert_eq!(large_mss(1 << 20), u16::MAX);
    }

    proptest! {
        /// Mutated SYNs: the option walk never reads past the header, and
        /// only the two MSS bytes may change.
        #[test]
        fn mutated_syns_change_at_most_the_mss(
            flips in proptest::collection::vec((0usize..64, any::<u8>()), 0..8)
        ) {
            let mut frame = smoltcp_segment(b"data", TcpControl::Syn, Some(1460));
            let start = 34;
            for (at, value) in flips {
                if let Some(byte) = frame.get_mut(start + 12 + at % 16) {
                    *byte = value;
                }
            }
            let before = frame.clone();
            if let Some(tcp) = tcp_in_frame(&frame) {
                let mut table = MssTable::default();
                adjust_incoming_syn(&mut frame, tcp, Some((&mut table, 16282)));
                let mss_at = syn_mss_at(&before, tcp);
                for i in (0..frame.len()).filter(|&i| frame[i] != before[i]) {
                    prop_assert!(mss_at.is_some_and(|at| i == at || i == at + 1));
                }
                let _ = payload_len(&frame, tcp);
            }
        }
    }
}
