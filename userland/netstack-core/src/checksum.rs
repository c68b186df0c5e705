//! TCP checksums of the frames that cross the NIC, done here instead of in
//! smoltcp (docs/network.md, "Checksums").
//!
//! smoltcp is told to neither compute nor check TCP checksums, because the
//! segment it sends into holds both ends: a loopback frame never leaves
//! memory and needs none (Linux's loopback skips them too), and a frame to
//! the NIC gets one here, or only its pseudo-header part when the device
//! completes it (virtio-net's `VIRTIO_NET_F_CSUM`, what Linux guests use).
//! A TCP frame from the NIC is checked here before smoltcp sees it.
//!
//! The sum is RFC 1071's, taken eight bytes at a time: the one's complement
//! sum does not depend on the order of the bytes in a word as long as every
//! word is read the same way, so native-endian 64-bit words with end-around
//! carry give the same sum, byte-swapped once at the end. smoltcp's own
//! loop takes two bytes at a time; on the guest this was about a third of
//! the netstack's time moving bulk data.

/// Where the TCP segment of an IPv4 frame lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInFrame {
    /// Offset of the TCP header in the frame.
    pub start: usize,
    /// TCP header and payload bytes (from the IP total length).
    pub len: usize,
    /// The pseudo-header's partial sum (addresses, protocol, length).
    pseudo: u64,
}

/// Offset of the checksum in a TCP header.
pub const TCP_CHECKSUM_OFFSET: usize = 16;

const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTOCOL_TCP: u8 = 6;

/// The TCP segment of an Ethernet frame, if the frame is an unfragmented
/// IPv4 TCP packet whose lengths fit the frame; `None` for anything else.
pub fn tcp_in_frame(frame: &[u8]) -> Option<TcpInFrame> {
    if !is_ipv4_tcp(frame) {
        return None;
    }
    let ip = &frame[ETHERNET_HEADER..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    if ip.len() < 20 || ip[0] >> 4 != 4 || header_len < 20 {
        return None;
    }
    // More fragments, or not the first: not a whole segment.
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total > ip.len() || total < header_len + 20 {
        return None;
    }
    let len = total - header_len;
    let mut pseudo_words = [0u8; 16];
    pseudo_words[..8].copy_from_slice(&ip[12..20]);
    pseudo_words[9] = PROTOCOL_TCP;
    pseudo_words[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    Some(TcpInFrame {
        start: ETHERNET_HEADER + header_len,
        len,
        pseudo: partial_sum(&pseudo_words),
    })
}

/// Whether the frame says it carries IPv4 and TCP (its Ethernet type and
/// IP protocol), whole or not.
pub fn is_ipv4_tcp(frame: &[u8]) -> bool {
    frame.len() > ETHERNET_HEADER + 9
        && frame[12..14] == ETHERTYPE_IPV4.to_be_bytes()
        && frame[ETHERNET_HEADER + 9] == PROTOCOL_TCP
}

/// Checks the TCP checksum of `frame` (where `tcp_in_frame` found it).
pub fn tcp_checksum_ok(frame: &[u8], tcp: TcpInFrame) -> bool {
    match frame.get(tcp.start..tcp.start + tcp.len) {
        Some(segment) => fold(tcp.pseudo + partial_sum(segment)) == 0xffff,
        None => false,
    }
}

/// Writes the whole TCP checksum into `frame`.
pub fn fill_tcp_checksum(frame: &mut [u8], tcp: TcpInFrame) {
    let at = tcp.start + TCP_CHECKSUM_OFFSET;
    let Some(field) = frame.get_mut(at..at + 2) else {
        return;
    };
    field.copy_from_slice(&[0, 0]);
    let Some(segment) = frame.get(tcp.start..tcp.start + tcp.len) else {
        return;
    };
    let sum = !fold(tcp.pseudo + partial_sum(segment));
    frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// Writes only the pseudo-header's sum, for a device that adds the rest
/// (`VIRTIO_NET_HDR_F_NEEDS_CSUM`: the field holds it, not complemented).
pub fn fill_tcp_pseudo_checksum(frame: &mut [u8], tcp: TcpInFrame) {
    let at = tcp.start + TCP_CHECKSUM_OFFSET;
    if let Some(field) = frame.get_mut(at..at + 2) {
        field.copy_from_slice(&fold(tcp.pseudo).to_be_bytes());
    }
}

/// The unfolded one's complement sum of `data` as big-endian 16-bit words
/// (an odd last byte is the high byte of a word), kept in a `u64` whose
/// carries `fold` adds back. Sums of pieces that start at even offsets add.
///
/// The bulk is read as aligned `u64`s: AArch64's bare-metal target forbids
/// unaligned loads (`+strict-align`), so reading eight bytes from anywhere
/// was eight byte loads and three instructions a byte. The bytes before the
/// first aligned word are summed one word at a time; when there is an odd
/// number of them the aligned part starts at an odd offset, and its sum is
/// byte-swapped (swapping is multiplying by 256 modulo 65535).
pub fn partial_sum(data: &[u8]) -> u64 {
    // SAFETY: every bit pattern is a valid u64; `align_to` only splits the
    // slice where the aligned middle begins and ends.
    let (head, words, tail) = unsafe { data.align_to::<u64>() };
    let mut sum: u64 = 0;
    let mut add = |word: u64| {
        let (total, carry) = sum.overflowing_add(word);
        sum = total + u64::from(carry);
    };
    for &word in words {
        add(word);
    }
    if !tail.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..tail.len()].copy_from_slice(tail);
        add(u64::from_ne_bytes(bytes));
    }
    // Native-endian words: on a little-endian machine every 16-bit word was
    // read byte-swapped; swapping the folded sum puts it right.
    let aligned = u16::from_be(fold(sum));
    let aligned = match head.len() % 2 {
        0 => aligned,
        _ => aligned.swap_bytes(),
    };
    let mut head_sum = 0u64;
    for pair in head.chunks(2) {
        head_sum += u64::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    head_sum + u64::from(aligned)
}

/// Folds a 64-bit one's complement sum to 16 bits with end-around carry.
pub fn fold(sum: u64) -> u16 {
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
        Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    };

    /// RFC 1071 word by word, as the definition.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// A TCP frame built by smoltcp, its checksum computed by smoltcp.
    pub(crate) fn smoltcp_frame(payload: &[u8]) -> Vec<u8> {
        smoltcp_segment(payload, TcpControl::Psh, None)
    }

    /// A TCP frame from 10.0.0.1:4000 to 10.0.0.2:80 built by smoltcp,
    /// with `control` and an MSS option.
    pub(crate) fn smoltcp_segment(
        payload: &[u8],
        control: TcpControl,
        max_seg_size: Option<u16>,
    ) -> Vec<u8> {
        let (src, dst) = (Ipv4Address::new(10, 0, 0, 1), Ipv4Address::new(10, 0, 0, 2));
        let tcp = TcpRepr {
            src_port: 4000,
            dst_port: 80,
            control,
            seq_number: TcpSeqNumber(0x1234_5678),
            ack_number: Some(TcpSeqNumber(99)),
            window_len: 5000,
            window_scale: None,
            max_seg_size,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut frame = vec![0u8; 14 + 20 + tcp.buffer_len()];
        let caps = ChecksumCapabilities::default();
        let mut e = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut e);
        let mut i = Ipv4Packet::new_unchecked(e.payload_mut());
        ip.emit(&mut i, &caps);
        let mut t = TcpPacket::new_unchecked(i.payload_mut());
        tcp.emit(&mut t, &IpAddress::Ipv4(src), &IpAddress::Ipv4(dst), &caps);
        frame
    }

    proptest! {
        #[test]
        fn partial_sum_is_rfc_1071(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            skip in 0usize..16,
        ) {
            // From every alignment: frames put TCP at offset 34 and on.
            let data = &data[skip.min(data.len())..];
            prop_assert_eq!(fold(partial_sum(data)), reference(data));
        }

        #[test]
        fn smoltcp_checksums_agree(payload in proptest::collection::vec(any::<u8>(), 0..1460)) {
            let mut frame = smoltcp_frame(&payload);
            let tcp = tcp_in_frame(&frame).expect("a TCP frame");
            prop_assert!(tcp_checksum_ok(&frame, tcp));
            let theirs = frame.clone();
            fill_tcp_checksum(&mut frame, tcp);
            prop_assert_eq!(&frame, &theirs);
            // One flipped bit anywhere in the segment is caught.
            let at = tcp.start + payload.len() % tcp.len;
            frame[at] ^= 0x10;
            prop_assert!(!tcp_checksum_ok(&frame, tcp));
        }

        #[test]
        fn a_device_completing_the_pseudo_sum_gets_the_checksum(
            payload in proptest::collection::vec(any::<u8>(), 0..1460)
        ) {
            let theirs = smoltcp_frame(&payload);
            let mut frame = theirs.clone();
            let tcp = tcp_in_frame(&frame).expect("a TCP frame");
            fill_tcp_pseudo_checksum(&mut frame, tcp);
            // What virtio-net's device does with NEEDS_CSUM.
            let sum = !fold(partial_sum(&frame[tcp.start..]));
            let at = tcp.start + TCP_CHECKSUM_OFFSET;
            frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
            prop_assert_eq!(frame, theirs);
        }

        #[test]
        fn garbage_is_no_tcp_frame_or_fits(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(tcp) = tcp_in_frame(&frame) {
                prop_assert!(tcp.start + tcp.len <= frame.len());
                let _ = tcp_checksum_ok(&frame, tcp);
            }
        }
    }

    #[test]
    fn fragments_and_other_protocols_are_not_checked_here() {
        let mut frame = smoltcp_frame(b"hello");
        assert!(tcp_in_frame(&frame).is_some());
        frame[14 + 6] |= 0x20; // more fragments
        assert_eq!(tcp_in_frame(&frame), None);
        let mut frame = smoltcp_frame(b"hello");
        frame[14 + 9] = 17; // UDP
        assert_eq!(tcp_in_frame(&frame), None);
        let mut frame = smoltcp_frame(b"hello");
        frame[14 + 2..14 + 4].copy_from_slice(&2000u16.to_be_bytes()); // past the frame
        assert_eq!(tcp_in_frame(&frame), None);
    }
}
