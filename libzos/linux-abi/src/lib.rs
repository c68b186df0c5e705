//! Linux's socket structures as a C program lays them out in its memory, and
//! the checks Linux makes on them: `struct sockaddr_in`, `struct msghdr`,
//! `struct iovec`, `struct timeval`, socket(2)'s type and protocol, and the
//! value-result lengths of `accept`, `getsockname` and `getsockopt`; and how
//! program arguments that are not UTF-8 cross a spawn ([`escape_arg`]).
//!
//! The Linux-syscall dispatcher (`libzos/src/linux/net.rs`) reads the bytes
//! out of the caller's memory and hands them here; everything here is plain
//! byte decoding, so the host tests feed it short lengths, bad families and
//! truncated vectors. Errors are Linux errno values. The layouts are those of
//! 64-bit little-endian Linux (AArch64 and x86_64 agree on all of them).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use zos_proto::errno::*;
use zos_proto::net::{SockAddr, SocketKind};

/// Errno values `zos_proto::errno` does not carry.
pub const EPROTONOSUPPORT: i32 = 93;
pub const ESOCKTNOSUPPORT: i32 = 94;
pub const EOPNOTSUPP: i32 = 95;
pub const EDOM: i32 = 33;

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;
pub const SOCK_NONBLOCK: i32 = 0o4000;
pub const SOCK_CLOEXEC: i32 = 0o2000000;
/// The bits of socket(2)'s type that name the type (the rest are flags).
const SOCK_TYPE_MASK: i32 = 0xf;

pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;

/// `send`/`recv` flags.
pub mod msg {
    pub const OOB: u32 = 0x1;
    pub const PEEK: u32 = 0x2;
    pub const DONTROUTE: u32 = 0x4;
    pub const TRUNC: u32 = 0x20;
    pub const DONTWAIT: u32 = 0x40;
    pub const EOR: u32 = 0x80;
    pub const WAITALL: u32 = 0x100;
    pub const CONFIRM: u32 = 0x800;
    pub const NOSIGNAL: u32 = 0x4000;
    pub const MORE: u32 = 0x8000;
    pub const CMSG_CLOEXEC: u32 = 0x4000_0000;
}

/// Size of `struct sockaddr_in`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// Size of `struct sockaddr_storage`: Linux refuses longer addresses.
pub const SOCKADDR_STORAGE_LEN: usize = 128;
/// Size of `struct msghdr` on 64-bit Linux.
pub const MSGHDR_LEN: usize = 56;
/// Size of `struct iovec`.
pub const IOVEC_LEN: usize = 16;
/// Linux's `UIO_MAXIOV`: more pieces is `EMSGSIZE` for sendmsg/recvmsg.
pub const MAX_IOVECS: u64 = 1024;
/// Size of `struct timeval` on 64-bit Linux.
pub const TIMEVAL_LEN: usize = 16;

/// What socket(2) was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketType {
    pub kind: SocketKind,
    pub nonblocking: bool,
    pub cloexec: bool,
}

/// Checks socket(2)'s arguments as Linux does: only `AF_INET` is served
/// (`AF_INET6` and `AF_UNIX` are `EAFNOSUPPORT`, so musl's resolver and
/// `getaddrinfo(AI_ADDRCONFIG)` fall back to IPv4); stream and datagram
/// sockets with protocol 0 or their own (TCP, UDP); raw sockets are
/// `ESOCKTNOSUPPORT`; unknown flag bits `EINVAL`.
pub fn socket_type(domain: i32, ty: i32, protocol: i32) -> Result<SocketType, i32> {
    if domain != i32::from(AF_INET) {
        return Err(EAFNOSUPPORT);
    }
    if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let (kind, own_protocol) = match ty & SOCK_TYPE_MASK {
        SOCK_STREAM => (SocketKind::Stream, IPPROTO_TCP),
        SOCK_DGRAM => (SocketKind::Datagram, IPPROTO_UDP),
        SOCK_RAW => return Err(ESOCKTNOSUPPORT),
        11.. => return Err(EINVAL),
        _ => return Err(ESOCKTNOSUPPORT),
    };
    if protocol != IPPROTO_IP && protocol != own_protocol {
        return Err(EPROTONOSUPPORT);
    }
    Ok(SocketType {
        kind,
        nonblocking: ty & SOCK_NONBLOCK != 0,
        cloexec: ty & SOCK_CLOEXEC != 0,
    })
}

/// Checks an address length from the caller (`socklen_t`, which Linux reads
/// as an `int`): negative or longer than `struct sockaddr_storage` is `EINVAL`.
pub fn address_length(len: u64) -> Result<usize, i32> {
    let len = len as u32 as i32;
    if len < 0 || len as usize > SOCKADDR_STORAGE_LEN {
        return Err(EINVAL);
    }
    Ok(len as usize)
}

/// The IPv4 address in a `struct sockaddr_in` of `bytes.len()` bytes, as
/// `bind`/`connect`/`sendto` take it: shorter than the structure is `EINVAL`
/// (Linux checks the length first), a family other than `AF_INET` is
/// `EAFNOSUPPORT`. With `unspec_any`, `AF_UNSPEC` with the address 0.0.0.0
/// counts as `AF_INET` (Linux's `bind` accepts it for old programs).
pub fn decode_sockaddr_in(bytes: &[u8], unspec_any: bool) -> Result<SockAddr, i32> {
    if bytes.len() < SOCKADDR_IN_LEN {
        return Err(EINVAL);
    }
    let family = u16::from_le_bytes([bytes[0], bytes[1]]);
    let addr = SockAddr {
        port: u16::from_be_bytes([bytes[2], bytes[3]]),
        addr: [bytes[4], bytes[5], bytes[6], bytes[7]],
    };
    match family {
        AF_INET => Ok(addr),
        AF_UNSPEC if unspec_any && addr.addr == [0; 4] => Ok(addr),
        _ => Err(EAFNOSUPPORT),
    }
}

/// A `struct sockaddr_in` for `addr` (`sin_zero` cleared: musl's resolver
/// compares whole structures).
pub fn encode_sockaddr_in(addr: &SockAddr) -> [u8; SOCKADDR_IN_LEN] {
    let mut out = [0u8; SOCKADDR_IN_LEN];
    out[0..2].copy_from_slice(&AF_INET.to_le_bytes());
    out[2..4].copy_from_slice(&addr.port.to_be_bytes());
    out[4..8].copy_from_slice(&addr.addr);
    out
}

/// How many bytes of a `value_len`-byte result go back to a caller that
/// offered `capacity` (a value-result `socklen_t`, read as an `int`):
/// negative is `EINVAL`; a short buffer gets the front of the value (the
/// length written back is still the full one, for addresses).
pub fn result_length(capacity: u32, value_len: usize) -> Result<usize, i32> {
    let capacity = capacity as i32;
    if capacity < 0 {
        return Err(EINVAL);
    }
    Ok(value_len.min(capacity as usize))
}

/// `struct msghdr` (64-bit Linux): the fields, at offsets 0, 8, 16, 24, 32,
/// 40, 48. `iov_len` and `control_len` are `size_t` to the kernel (musl pads
/// its `int` fields with zeros).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHdr {
    pub name: u64,
    pub name_len: u32,
    pub iov: u64,
    pub iov_len: u64,
    pub control: u64,
    pub control_len: u64,
    pub flags: u32,
}

impl MsgHdr {
    /// Offset of `msg_namelen` (recvmsg writes the sender's length there).
    pub const NAME_LEN_OFFSET: usize = 8;
    /// Offset of `msg_controllen` (recvmsg clears it: no control messages).
    pub const CONTROL_LEN_OFFSET: usize = 40;
    /// Offset of `msg_flags` (recvmsg writes the result flags).
    pub const FLAGS_OFFSET: usize = 48;

    /// Reads a header; fewer than [`MSGHDR_LEN`] bytes is `EFAULT`, a
    /// negative `msg_namelen` `EINVAL`, more than [`MAX_IOVECS`] pieces
    /// `EMSGSIZE` (Linux's checks, in its order). A name length beyond
    /// `sockaddr_storage` is cut to it, as Linux does.
    pub fn decode(bytes: &[u8]) -> Result<Self, i32> {
        if bytes.len() < MSGHDR_LEN {
            return Err(EFAULT);
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let half = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let name_len = half(Self::NAME_LEN_OFFSET);
        if (name_len as i32) < 0 {
            return Err(EINVAL);
        }
        let header = MsgHdr {
            name: word(0),
            name_len: name_len.min(SOCKADDR_STORAGE_LEN as u32),
            iov: word(16),
            iov_len: word(24),
            control: word(32),
            control_len: word(Self::CONTROL_LEN_OFFSET),
            flags: half(Self::FLAGS_OFFSET),
        };
        if header.iov_len > MAX_IOVECS {
            return Err(EMSGSIZE);
        }
        Ok(header)
    }
}

/// One `struct iovec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoVec {
    pub base: u64,
    pub len: u64,
}

/// The `count` pieces in `bytes` (the caller read `count * 16` bytes of its
/// array, or fewer when the array is cut short: `EFAULT`). More than
/// [`MAX_IOVECS`] is `EMSGSIZE`; lengths that sum past `isize::MAX` are
/// `EINVAL`, as on Linux.
pub fn decode_iovecs(bytes: &[u8], count: u64) -> Result<Vec<IoVec>, i32> {
    if count > MAX_IOVECS {
        return Err(EMSGSIZE);
    }
    let count = count as usize;
    if bytes.len() < count * IOVEC_LEN {
        return Err(EFAULT);
    }
    let mut total: u64 = 0;
    let mut out = Vec::with_capacity(count);
    for piece in bytes.chunks_exact(IOVEC_LEN).take(count) {
        let mut base = [0u8; 8];
        let mut len = [0u8; 8];
        base.copy_from_slice(&piece[..8]);
        len.copy_from_slice(&piece[8..]);
        let vector = IoVec {
            base: u64::from_le_bytes(base),
            len: u64::from_le_bytes(len),
        };
        total = total
            .checked_add(vector.len)
            .filter(|t| *t <= isize::MAX as u64)
            .ok_or(EINVAL)?;
        out.push(vector);
    }
    Ok(out)
}

/// Gathers the pieces into one buffer of at most `limit` bytes (beyond it
/// the call moves less, a short count). `read(base, len)` fetches a piece
/// of the caller's memory.
pub fn gather<'m>(
    vectors: &[IoVec],
    limit: usize,
    mut read: impl FnMut(u64, u64) -> Result<&'m [u8], i32>,
) -> Result<Vec<u8>, i32> {
    let mut data = Vec::new();
    for vector in vectors {
        let room = limit.saturating_sub(data.len()) as u64;
        if room == 0 {
            break;
        }
        if vector.len == 0 {
            continue;
        }
        data.extend_from_slice(read(vector.base, vector.len.min(room))?);
    }
    Ok(data)
}

/// Scatters `data` over the pieces in order; `write(base, bytes)` stores
/// into the caller's memory.
pub fn scatter(
    mut data: &[u8],
    vectors: &[IoVec],
    mut write: impl FnMut(u64, &[u8]) -> Result<(), i32>,
) -> Result<(), i32> {
    for vector in vectors {
        if data.is_empty() {
            break;
        }
        let take = data.len().min(vector.len.min(usize::MAX as u64) as usize);
        if take > 0 {
            write(vector.base, &data[..take])?;
        }
        data = &data[take..];
    }
    Ok(())
}

/// Total length of the pieces (already checked by [`decode_iovecs`]).
pub fn total_length(vectors: &[IoVec]) -> u64 {
    vectors.iter().map(|v| v.len).fold(0, u64::saturating_add)
}

/// An `int` option value: fewer than 4 bytes is `EINVAL`.
pub fn int_option(bytes: &[u8]) -> Result<i32, i32> {
    match bytes {
        [a, b, c, d, ..] => Ok(i32::from_le_bytes([*a, *b, *c, *d])),
        _ => Err(EINVAL),
    }
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO`: a `struct timeval` as milliseconds, rounded
/// up (0 is no timeout, as `{0, 0}` is on Linux). Short is `EINVAL`,
/// microseconds outside 0..1,000,000 `EDOM`; a negative time waits as
/// little as the service can (1 ms); very long ones are capped.
pub fn timeval_to_ms(bytes: &[u8]) -> Result<u32, i32> {
    if bytes.len() < TIMEVAL_LEN {
        return Err(EINVAL);
    }
    let mut sec = [0u8; 8];
    let mut usec = [0u8; 8];
    sec.copy_from_slice(&bytes[..8]);
    usec.copy_from_slice(&bytes[8..16]);
    let sec = i64::from_le_bytes(sec);
    let usec = i64::from_le_bytes(usec);
    if !(0..1_000_000).contains(&usec) {
        return Err(EDOM);
    }
    if sec < 0 {
        return Ok(1);
    }
    let ms = (sec as u64)
        .saturating_mul(1000)
        .saturating_add((usec as u64).div_ceil(1000));
    Ok(ms.min(u64::from(u32::MAX)) as u32)
}

/// Milliseconds as a `struct timeval`.
pub fn ms_to_timeval(ms: u32) -> [u8; TIMEVAL_LEN] {
    let mut out = [0u8; TIMEVAL_LEN];
    out[..8].copy_from_slice(&(u64::from(ms) / 1000).to_le_bytes());
    out[8..].copy_from_slice(&((u64::from(ms) % 1000) * 1000).to_le_bytes());
    out
}

/// Where the bytes 0x80–0xFF of an argument that is not UTF-8 travel: as
/// the private-use characters U+F780–U+F7FF.
const ESCAPE_BASE: u32 = 0xF700;

/// A C program's argument or environment string as the spawn protocol's
/// UTF-8: valid text as it is, every byte of an invalid sequence as
/// U+F700 + byte. BusyBox marks a program it re-executes by setting the top
/// bit of `argv[0][0]` (`httpd`'s per-connection child on a machine without
/// `fork`); [`unescape_arg`] gives the bytes back in the new program.
pub fn escape_arg(bytes: &[u8]) -> alloc::borrow::Cow<'_, str> {
    if let Ok(text) = core::str::from_utf8(bytes) {
        return alloc::borrow::Cow::Borrowed(text);
    }
    let mut out = alloc::string::String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push(char::from_u32(ESCAPE_BASE + u32::from(*byte)).unwrap_or('?'));
        }
    }
    alloc::borrow::Cow::Owned(out)
}

/// The bytes of an argument [`escape_arg`] made, appended to `out`. (A
/// genuine U+F780–U+F7FF in an argument comes back as one byte too: a
/// private-use character no program is known to pass.)
pub fn unescape_arg(text: &str, out: &mut Vec<u8>) {
    for ch in text.chars() {
        let code = u32::from(ch);
        if (ESCAPE_BASE + 0x80..=ESCAPE_BASE + 0xff).contains(&code) {
            out.push((code - ESCAPE_BASE) as u8);
        } else {
            let mut buffer = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buffer).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
