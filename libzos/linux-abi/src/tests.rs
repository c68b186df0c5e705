//! Host tests: Linux's answers to short lengths, bad families, truncated and
//! oversized vectors, and bad timeouts.

use super::*;
use alloc::vec;

fn sockaddr(family: u16, port: u16, addr: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0..2].copy_from_slice(&family.to_le_bytes());
    out[2..4].copy_from_slice(&port.to_be_bytes());
    out[4..8].copy_from_slice(&addr);
    out
}

#[test]
fn sockaddr_in_round_trips() {
    let addr = SockAddr {
        addr: [127, 0, 0, 1],
        port: 8080,
    };
    let bytes = encode_sockaddr_in(&addr);
    assert_eq!(bytes, sockaddr(AF_INET, 8080, [127, 0, 0, 1]));
    assert_eq!(&bytes[8..], &[0; 8], "sin_zero cleared");
    assert_eq!(decode_sockaddr_in(&bytes, false), Ok(addr));
    // Longer buffers (a sockaddr_storage) are fine.
    let mut storage = [0xaau8; 128];
    storage[..16].copy_from_slice(&bytes);
    assert_eq!(decode_sockaddr_in(&storage, false), Ok(addr));
}

#[test]
fn short_lengths_are_einval_before_the_family() {
    let bytes = sockaddr(AF_INET, 80, [10, 0, 0, 1]);
    for len in 0..16 {
        assert_eq!(
            decode_sockaddr_in(&bytes[..len], false),
            Err(EINVAL),
            "len {len}"
        );
    }
    // A short AF_INET6 address is still EINVAL (Linux checks the length first).
    let v6 = sockaddr(AF_INET6, 80, [0; 4]);
    assert_eq!(decode_sockaddr_in(&v6[..8], false), Err(EINVAL));
}

#[test]
fn other_families_are_eafnosupport() {
    let mut v6 = [0u8; 28];
    v6[..2].copy_from_slice(&AF_INET6.to_le_bytes());
    assert_eq!(decode_sockaddr_in(&v6, false), Err(EAFNOSUPPORT));
    let mut unix = [0u8; 110];
    unix[..2].copy_from_slice(&AF_UNIX.to_le_bytes());
    assert_eq!(decode_sockaddr_in(&unix, false), Err(EAFNOSUPPORT));
    for family in [AF_UNSPEC, 3, 16, 0xffff] {
        assert_eq!(
            decode_sockaddr_in(&sockaddr(family, 1, [1, 2, 3, 4]), false),
            Err(EAFNOSUPPORT)
        );
    }
}

#[test]
fn bind_takes_unspec_any_only() {
    let any = sockaddr(AF_UNSPEC, 53, [0; 4]);
    assert_eq!(
        decode_sockaddr_in(&any, true),
        Ok(SockAddr {
            addr: [0; 4],
            port: 53
        })
    );
    assert_eq!(decode_sockaddr_in(&any, false), Err(EAFNOSUPPORT));
    let some = sockaddr(AF_UNSPEC, 53, [127, 0, 0, 1]);
    assert_eq!(decode_sockaddr_in(&some, true), Err(EAFNOSUPPORT));
}

#[test]
fn address_lengths() {
    assert_eq!(address_length(16), Ok(16));
    assert_eq!(address_length(0), Ok(0));
    assert_eq!(address_length(128), Ok(128));
    assert_eq!(address_length(129), Err(EINVAL));
    assert_eq!(
        address_length(u64::from(u32::MAX)),
        Err(EINVAL),
        "-1 as socklen_t"
    );
    // Upper bits of the register are not the caller's (socklen_t is 32 bits).
    assert_eq!(address_length(0xdead_0000_0000_0010), Ok(16));
}

#[test]
fn result_lengths() {
    assert_eq!(result_length(16, 16), Ok(16));
    assert_eq!(result_length(128, 16), Ok(16));
    assert_eq!(result_length(4, 16), Ok(4));
    assert_eq!(result_length(0, 16), Ok(0));
    assert_eq!(result_length(u32::MAX, 16), Err(EINVAL));
}

#[test]
fn socket_types() {
    let stream = socket_type(2, SOCK_STREAM, 0).unwrap();
    assert_eq!(stream.kind, SocketKind::Stream);
    assert!(!stream.nonblocking && !stream.cloexec);
    let dns = socket_type(2, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0).unwrap();
    assert_eq!(dns.kind, SocketKind::Datagram);
    assert!(dns.nonblocking && dns.cloexec);
    assert!(socket_type(2, SOCK_STREAM, IPPROTO_TCP).is_ok());
    assert!(socket_type(2, SOCK_DGRAM, IPPROTO_UDP).is_ok());
    assert_eq!(
        socket_type(2, SOCK_STREAM, IPPROTO_UDP),
        Err(EPROTONOSUPPORT)
    );
    assert_eq!(socket_type(2, SOCK_DGRAM, 1), Err(EPROTONOSUPPORT));
    assert_eq!(socket_type(10, SOCK_DGRAM, 0), Err(EAFNOSUPPORT));
    assert_eq!(socket_type(1, SOCK_STREAM, 0), Err(EAFNOSUPPORT));
    assert_eq!(socket_type(16, SOCK_DGRAM, 0), Err(EAFNOSUPPORT));
    assert_eq!(socket_type(2, SOCK_RAW, 1), Err(ESOCKTNOSUPPORT));
    assert_eq!(socket_type(2, 5, 0), Err(ESOCKTNOSUPPORT));
    assert_eq!(socket_type(2, 12, 0), Err(EINVAL));
    assert_eq!(socket_type(2, SOCK_STREAM | 0x100, 0), Err(EINVAL));
}

fn msghdr(name_len: u32, iov_len: u64) -> [u8; 56] {
    let mut out = [0u8; 56];
    out[0..8].copy_from_slice(&0x1000u64.to_le_bytes());
    out[8..12].copy_from_slice(&name_len.to_le_bytes());
    out[16..24].copy_from_slice(&0x2000u64.to_le_bytes());
    out[24..32].copy_from_slice(&iov_len.to_le_bytes());
    out[32..40].copy_from_slice(&0x3000u64.to_le_bytes());
    out[40..48].copy_from_slice(&24u64.to_le_bytes());
    out[48..52].copy_from_slice(&0x40u32.to_le_bytes());
    out
}

#[test]
fn msghdr_fields() {
    let header = MsgHdr::decode(&msghdr(16, 3)).unwrap();
    assert_eq!(
        header,
        MsgHdr {
            name: 0x1000,
            name_len: 16,
            iov: 0x2000,
            iov_len: 3,
            control: 0x3000,
            control_len: 24,
            flags: 0x40,
        }
    );
}

#[test]
fn msghdr_bad_input() {
    let bytes = msghdr(16, 1);
    for len in 0..MSGHDR_LEN {
        assert_eq!(MsgHdr::decode(&bytes[..len]), Err(EFAULT), "len {len}");
    }
    assert_eq!(MsgHdr::decode(&msghdr(u32::MAX, 1)), Err(EINVAL));
    assert_eq!(MsgHdr::decode(&msghdr(16, 1025)), Err(EMSGSIZE));
    assert_eq!(MsgHdr::decode(&msghdr(16, u64::MAX)), Err(EMSGSIZE));
    assert!(MsgHdr::decode(&msghdr(16, 1024)).is_ok());
    // A name longer than sockaddr_storage is cut, as Linux does.
    assert_eq!(MsgHdr::decode(&msghdr(4000, 1)).unwrap().name_len, 128);
}

fn iovecs(pieces: &[(u64, u64)]) -> alloc::vec::Vec<u8> {
    pieces
        .iter()
        .flat_map(|(base, len)| {
            let mut piece = base.to_le_bytes().to_vec();
            piece.extend_from_slice(&len.to_le_bytes());
            piece
        })
        .collect()
}

#[test]
fn iovec_decoding() {
    let bytes = iovecs(&[(0x10, 3), (0x20, 0), (0x30, 5)]);
    assert_eq!(
        decode_iovecs(&bytes, 3),
        Ok(vec![
            IoVec { base: 0x10, len: 3 },
            IoVec { base: 0x20, len: 0 },
            IoVec { base: 0x30, len: 5 },
        ])
    );
    assert_eq!(decode_iovecs(&bytes, 0), Ok(vec![]));
    // A count beyond the bytes read: the array is cut short.
    assert_eq!(decode_iovecs(&bytes, 4), Err(EFAULT));
    assert_eq!(decode_iovecs(&bytes[..40], 3), Err(EFAULT));
    assert_eq!(decode_iovecs(&bytes, 1025), Err(EMSGSIZE));
    // Lengths summing past isize::MAX.
    let huge = iovecs(&[(0x10, u64::MAX / 2), (0x20, 2)]);
    assert_eq!(decode_iovecs(&huge, 2), Err(EINVAL));
    let negative = iovecs(&[(0x10, u64::MAX)]);
    assert_eq!(decode_iovecs(&negative, 1), Err(EINVAL));
}

#[test]
fn gather_and_scatter() {
    let memory: alloc::vec::Vec<u8> = (0..64).collect();
    let vectors = [
        IoVec { base: 4, len: 3 },
        IoVec { base: 0, len: 0 },
        IoVec { base: 20, len: 4 },
    ];
    let read = |base: u64, len: u64| Ok(&memory[base as usize..(base + len) as usize]);
    assert_eq!(
        gather(&vectors, 1 << 16, read),
        Ok(vec![4, 5, 6, 20, 21, 22, 23])
    );
    // The limit cuts the gathered data short.
    assert_eq!(gather(&vectors, 5, read), Ok(vec![4, 5, 6, 20, 21]));
    // A fault in a piece is the call's error.
    let faulting = |base: u64, _len: u64| {
        if base == 20 {
            Err(EFAULT)
        } else {
            Ok(&memory[..3])
        }
    };
    assert_eq!(gather(&vectors, 1 << 16, faulting), Err(EFAULT));
    assert_eq!(total_length(&vectors), 7);

    let mut out = alloc::vec![0u8; 64];
    scatter(&[1, 2, 3, 4, 5], &vectors, |base, bytes| {
        out[base as usize..base as usize + bytes.len()].copy_from_slice(bytes);
        Ok(())
    })
    .unwrap();
    assert_eq!(&out[4..7], &[1, 2, 3]);
    assert_eq!(&out[20..24], &[4, 5, 0, 0]);
}

fn timeval(sec: i64, usec: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&sec.to_le_bytes());
    out[8..].copy_from_slice(&usec.to_le_bytes());
    out
}

#[test]
fn timeouts() {
    assert_eq!(timeval_to_ms(&timeval(0, 0)), Ok(0));
    assert_eq!(timeval_to_ms(&timeval(2, 500_000)), Ok(2500));
    assert_eq!(
        timeval_to_ms(&timeval(0, 1)),
        Ok(1),
        "rounded up, not to none"
    );
    assert_eq!(timeval_to_ms(&timeval(-1, 0)), Ok(1));
    assert_eq!(timeval_to_ms(&timeval(i64::MAX, 0)), Ok(u32::MAX));
    assert_eq!(timeval_to_ms(&timeval(1, 1_000_000)), Err(EDOM));
    assert_eq!(timeval_to_ms(&timeval(1, -1)), Err(EDOM));
    assert_eq!(timeval_to_ms(&timeval(1, 0)[..15]), Err(EINVAL));
    assert_eq!(ms_to_timeval(2500), timeval(2, 500_000));
    assert_eq!(timeval_to_ms(&ms_to_timeval(123_456)), Ok(123_456));
}

#[test]
fn int_options() {
    assert_eq!(int_option(&1i32.to_le_bytes()), Ok(1));
    assert_eq!(int_option(&[1, 0, 0, 0, 9, 9, 9, 9]), Ok(1));
    assert_eq!(int_option(&[1, 0, 0]), Err(EINVAL));
    assert_eq!(int_option(&[]), Err(EINVAL));
}

#[test]
fn arguments_that_are_not_utf8_survive() {
    let cases: [&[u8]; 5] = [
        b"httpd",
        b"\xe8ttpd",
        "h\u{e9}llo w\u{f6}rld".as_bytes(),
        b"\xff\xfe\x80 mixed \xc3\xa9 \xc3",
        b"",
    ];
    for bytes in cases {
        let text = escape_arg(bytes);
        let mut back = alloc::vec::Vec::new();
        unescape_arg(&text, &mut back);
        assert_eq!(back, bytes, "{text:?}");
    }
    assert!(matches!(
        escape_arg(b"plain"),
        alloc::borrow::Cow::Borrowed("plain")
    ));
    assert_eq!(escape_arg(b"\xe8ttpd"), "\u{f7e8}ttpd");
}
