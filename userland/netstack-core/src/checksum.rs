//! TCP checksums of Ethernet frames, eight bytes at a time.
//!
//! smoltcp sums 16 bits per step; under QEMU's TCG that was a large part of
//! the guest's work per 1,460-byte segment, once when sending and once when
//! receiving. The device (`device.rs`) tells smoltcp to leave TCP checksums
//! alone and does them here instead: filled in for frames that go to the
//! NIC, checked for frames that come from it (a bad one is dropped, as
//! smoltcp would), and neither for frames that loop back inside the stack
//! (they never leave this process's memory).
//!
//! The Internet checksum (RFC 1071) does not depend on byte order: summing
//! native-endian words and swapping the folded result gives the sum of
//! big-endian words.

/// Ethernet header bytes.
const ETHERNET: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTOCOL_TCP: u8 = 6;
/// Offset of the checksum inside the TCP header.
const TCP_CHECKSUM: usize = 16;

/// Ones' complement sum of `data` (zero-padded to even length), folded to
/// 16 bits, in network byte order.
pub fn sum(data: &[u8]) -> u16 {
    let mut accumulator: u64 = 0;
    let add = |accumulator: u64, value: u64| {
        let (sum, carry) = accumulator.overflowing_add(value);
        sum + u64::from(carry)
    };
    let mut chunks = data.chunks_exact(32);
    for chunk in &mut chunks {
        for word in chunk.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            accumulator = add(accumulator, u64::from_ne_bytes(bytes));
        }
    }
    let mut words = chunks.remainder().chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        accumulator = add(accumulator, u64::from_ne_bytes(bytes));
    }
    // The last 0–7 bytes, zero-padded: padding adds nothing to the sum.
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..rest.len()].copy_from_slice(rest);
        accumulator = add(accumulator, u64::from_ne_bytes(bytes));
    }
    let mut folded = (accumulator >> 32) + (accumulator & 0xffff_ffff);
    folded = (folded >> 32) + (folded & 0xffff_ffff);
    folded = (folded >> 16) + (folded & 0xffff);
    folded = (folded >> 16) + (folded & 0xffff);
    // Native order of a 16-bit word → network order.
    u16::from_be(folded as u16)
}

/// Adds two folded sums (ones' complement).
fn combine(a: u16, b: u16) -> u16 {
    let total = u32::from(a) + u32::from(b);
    ((total >> 16) + (total & 0xffff)) as u16
}

/// Where the TCP segment of an IPv4 frame lies: (header start, segment
/// range), or `None` for anything else (not IPv4, not TCP, a fragment, or
/// lengths that do not hold together).
fn tcp_segment(frame: &[u8]) -> Option<(usize, core::ops::Range<usize>)> {
    if frame.len() < ETHERNET + 20 || u16::from_be_bytes([frame[12], frame[13]]) != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = &frame[ETHERNET..];
    let header = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if ip[0] >> 4 != 4
        || ip[9] != PROTOCOL_TCP
        || fragment != 0
        || header < 20
        || total < header + 20
        || total > ip.len()
    {
        return None;
    }
    Some((ETHERNET, ETHERNET + header..ETHERNET + total))
}

/// Whether `frame` is an IPv4 TCP frame (one the device must check).
pub fn is_tcp(frame: &[u8]) -> bool {
    frame.len() >= ETHERNET + 20
        && u16::from_be_bytes([frame[12], frame[13]]) == ETHERTYPE_IPV4
        && frame[ETHERNET + 9] == PROTOCOL_TCP
}

/// The pseudo-header's sum (addresses, protocol, segment length).
fn pseudo_header(frame: &[u8], ip: usize, length: usize) -> u16 {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&frame[ip + 12..ip + 20]);
    bytes[9] = PROTOCOL_TCP;
    bytes[10..].copy_from_slice(&(length as u16).to_be_bytes());
    sum(&bytes)
}

/// Fills in the TCP checksum of an IPv4 TCP frame; other frames are left
/// as they are.
pub fn fill_tcp(frame: &mut [u8]) {
    let Some((ip, segment)) = tcp_segment(frame) else {
        return;
    };
    let at = segment.start + TCP_CHECKSUM;
    frame[at..at + 2].copy_from_slice(&[0, 0]);
    let total = combine(
        pseudo_header(frame, ip, segment.len()),
        sum(&frame[segment.clone()]),
    );
    frame[at..at + 2].copy_from_slice(&(!total).to_be_bytes());
}

/// Whether an IPv4 TCP frame's checksum is right. A TCP frame whose
/// lengths do not hold together (or a fragment) is not right either: the
/// stack would not check it.
pub fn tcp_ok(frame: &[u8]) -> bool {
    let Some((ip, segment)) = tcp_segment(frame) else {
        return false;
    };
    let total = combine(
        pseudo_header(frame, ip, segment.len()),
        sum(&frame[segment]),
    );
    // A right checksum sums to all ones (or its other zero).
    total == 0xffff || total == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// RFC 1071 sum the slow way: big-endian 16-bit words.
    fn reference(data: &[u8]) -> u16 {
        let mut total: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            total += u32::from(word);
        }
        while total > 0xffff {
            total = (total >> 16) + (total & 0xffff);
        }
        total as u16
    }

    fn random_bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                *seed as u8
            })
            .collect()
    }

    #[test]
    fn sum_matches_the_reference_for_every_length_and_alignment() {
        let mut seed = 0x1234_5678_9abc_def1;
        for len in 0..200 {
            let data = random_bytes(&mut seed, len + 3);
            for start in 0..3 {
                let slice = &data[start..start + len];
                // Either zero of ones' complement is the same sum.
                let (ours, theirs) = (sum(slice), reference(slice));
                assert!(
                    ours == theirs
                        || (ours == 0xffff && theirs == 0)
                        || (ours == 0 && theirs == 0xffff),
                    "len {len} start {start}: {ours:#x} != {theirs:#x}"
                );
            }
        }
        assert_eq!(sum(&[0xff; 1500]), 0xffff);
        assert_eq!(sum(&[]), 0);
    }

    /// An IPv4 TCP frame with `payload`, its checksum filled by smoltcp.
    fn frame_by_smoltcp(payload: &[u8]) -> Vec<u8> {
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::*;
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control: TcpControl::Psh,
            seq_number: TcpSeqNumber(123_456),
            ack_number: Some(TcpSeqNumber(654_321)),
            window_len: 5000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None, None, None],
            timestamp: None,
            payload,
        };
        let ip = Ipv4Repr {
            src_addr: Ipv4Address::new(10, 77, 0, 58),
            dst_addr: Ipv4Address::new(10, 77, 0, 1),
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut frame = vec![0u8; ETHERNET + ip.buffer_len() + tcp.buffer_len()];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        let caps = ChecksumCapabilities::default();
        ip.emit(
            &mut Ipv4Packet::new_unchecked(&mut frame[ETHERNET..]),
            &caps,
        );
        tcp.emit(
            &mut TcpPacket::new_unchecked(&mut frame[ETHERNET + 20..]),
            &IpAddress::Ipv4(ip.src_addr),
            &IpAddress::Ipv4(ip.dst_addr),
            &caps,
        );
        frame
    }

    #[test]
    fn filled_checksums_are_smoltcps_and_check() {
        let mut seed = 77;
        for len in [0, 1, 2, 7, 8, 9, 31, 33, 536, 1459, 1460] {
            let payload = random_bytes(&mut seed, len);
            let expected = frame_by_smoltcp(&payload);
            assert!(tcp_ok(&expected), "len {len}");
            let mut ours = expected.clone();
            ours[ETHERNET + 20 + TCP_CHECKSUM] ^= 0x5a;
            assert!(!tcp_ok(&ours), "len {len}: a wrong checksum passed");
            fill_tcp(&mut ours);
            assert_eq!(ours, expected, "len {len}");
            // Ethernet padding after the IP packet is not summed.
            ours.extend_from_slice(&[0xab; 9]);
            assert!(tcp_ok(&ours));
            // A flipped payload bit fails.
            if len > 0 {
                let last = ours.len() - 10;
                ours[last] ^= 1;
                assert!(!tcp_ok(&ours), "len {len}: a flipped bit passed");
            }
        }
    }

    #[test]
    fn malformed_tcp_frames_do_not_check() {
        let frame = frame_by_smoltcp(b"hello");
        assert!(is_tcp(&frame));
        // Total length beyond the frame, header shorter than 20, a fragment.
        for (at, value) in [(ETHERNET + 2, 0xff), (ETHERNET, 0x44), (ETHERNET + 6, 0x20)] {
            let mut bad = frame.clone();
            bad[at] = value;
            assert!(!tcp_ok(&bad), "byte {at} = {value:#x}");
        }
        assert!(!tcp_ok(&frame[..ETHERNET + 30]));
        let mut short = frame.clone();
        fill_tcp(&mut short[..ETHERNET + 30]);
        assert!(!is_tcp(&[0u8; 20]));
    }
}
