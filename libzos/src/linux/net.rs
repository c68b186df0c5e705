//! Socket calls of the dispatcher (asm-generic numbers 198–212 and 242, as
//! on AArch64; x86_64's musl takes the same table, docs/porting.md) over
//! libzos's sockets (`crate::net`): this file only moves Linux's structures
//! in and out of the caller's memory (decoded and checked by
//! `zos-linux-abi`) and maps flags; the socket logic is `crate::net` and the
//! netstack's.
//!
//! IPv4 only: `AF_INET6` and `AF_UNIX` are `EAFNOSUPPORT` (musl's resolver
//! falls back to IPv4); no raw sockets, so no `ping` from BusyBox.
//! `MSG_PEEK` and `MSG_OOB` are `EOPNOTSUPP` (the protocol has no peek).

use super::file;
use super::{user_bytes, user_bytes_mut, SysResult};
use crate::net;
use crate::posix::{self, Errno, Fd};
use alloc::vec::Vec;
use zos_linux_abi::{self as abi, msg, MsgHdr, EOPNOTSUPP};
use zos_proto::errno::*;
use zos_proto::io::HandleKind;
use zos_proto::net::{SockAddr, SocketKind};

const SOL_SOCKET: i32 = 1;
const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_BROADCAST: i32 = 6;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_KEEPALIVE: i32 = 9;
const SO_OOBINLINE: i32 = 10;
const SO_PRIORITY: i32 = 12;
const SO_LINGER: i32 = 13;
const SO_REUSEPORT: i32 = 15;
const SO_RCVTIMEO: i32 = 20;
const SO_SNDTIMEO: i32 = 21;
const SO_ACCEPTCONN: i32 = 30;
const SO_PROTOCOL: i32 = 38;
const SO_DOMAIN: i32 = 39;
const IP_TOS: i32 = 1;
const IP_TTL: i32 = 2;
const TCP_NODELAY: i32 = 1;
const TCP_CORK: i32 = 3;
const TCP_KEEPIDLE: i32 = 4;
const TCP_KEEPINTVL: i32 = 5;
const TCP_KEEPCNT: i32 = 6;
const TCP_QUICKACK: i32 = 12;

/// The netstack's buffers per direction (reported for SO_RCVBUF/SO_SNDBUF).
const SOCKET_BUFFER: i32 = 64 * 1024;
/// Most bytes sendmsg gathers or recvmsg receives in one call (as writev).
const VECTOR_LIMIT: usize = 1 << 16;

fn errno(e: i32) -> Errno {
    Errno(e)
}

/// Whether `fd` is a socket (known from socket/accept; a file or pipe this
/// program opened is not; else its server is asked).
pub(super) fn is_socket(fd: Fd) -> bool {
    if file::socket_kind(fd).is_some() {
        return true;
    }
    !file::known_not_socket(fd) && posix::stat_kind(fd) == Ok(HandleKind::Socket)
}

/// The socket's type: known for sockets this program made; one it inherited
/// counts as a stream (its server does not say; inherited sockets are
/// connections handed to servers). Not a socket: `ENOTSOCK`.
fn kind_of(fd: Fd) -> Result<SocketKind, Errno> {
    if let Some(kind) = file::socket_kind(fd) {
        return Ok(kind);
    }
    match posix::stat_kind(fd)? {
        HandleKind::Socket => {
            file::learn_socket_kind(fd, SocketKind::Stream);
            Ok(SocketKind::Stream)
        }
        _ => Err(Errno(ENOTSOCK)),
    }
}

fn get_u32(ptr: u64) -> Result<u32, Errno> {
    let bytes = user_bytes(ptr, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn put_u32(ptr: u64, value: u32) -> Result<(), Errno> {
    user_bytes_mut(ptr, 4)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// The `struct sockaddr_in` of `len` bytes at `ptr` (bind, connect, sendto).
fn read_addr(ptr: u64, len: u64, unspec_any: bool) -> Result<SockAddr, Errno> {
    let len = abi::address_length(len).map_err(errno)?;
    if len > 0 && ptr == 0 {
        return Err(Errno(EFAULT));
    }
    let bytes = user_bytes(ptr, len as u64)?;
    abi::decode_sockaddr_in(bytes, unspec_any).map_err(errno)
}

/// Writes an address into a value-result pair (`addr`, `*len`): as much of
/// the `struct sockaddr_in` as fits, and its full length (0 for none, as a
/// stream's recvfrom answers). A null `addr` asks for nothing.
fn write_addr(ptr: u64, len_ptr: u64, addr: Option<SockAddr>) -> Result<(), Errno> {
    if ptr == 0 {
        return Ok(());
    }
    let capacity = get_u32(len_ptr)?;
    let Some(addr) = addr else {
        return put_u32(len_ptr, 0);
    };
    let bytes = abi::encode_sockaddr_in(&addr);
    let n = abi::result_length(capacity, bytes.len()).map_err(errno)?;
    user_bytes_mut(ptr, n as u64)?.copy_from_slice(&bytes[..n]);
    put_u32(len_ptr, bytes.len() as u32)
}

pub fn socket(domain: i32, ty: i32, protocol: i32) -> SysResult {
    let asked = abi::socket_type(domain, ty, protocol).map_err(errno)?;
    let base = match asked.kind {
        SocketKind::Stream => net::SOCK_STREAM,
        SocketKind::Datagram => net::SOCK_DGRAM,
    };
    let flags = if asked.nonblocking {
        net::SOCK_NONBLOCK
    } else {
        0
    };
    let fd = net::socket(net::AF_INET, base | flags, 0)?;
    file::note_socket(fd, asked.kind, asked.nonblocking, asked.cloexec);
    Ok(i64::from(fd))
}

/// socketpair: only `AF_UNIX` makes sense, and there is none.
pub fn socketpair(domain: i32) -> SysResult {
    if domain == i32::from(abi::AF_UNIX) {
        return Err(Errno(EAFNOSUPPORT));
    }
    Err(Errno(EOPNOTSUPP))
}

pub fn bind(fd: Fd, addr: u64, len: u64) -> SysResult {
    kind_of(fd)?;
    net::bind(fd, &read_addr(addr, len, true)?)?;
    Ok(0)
}

pub fn listen(fd: Fd, backlog: i32) -> SysResult {
    if kind_of(fd)? != SocketKind::Stream {
        return Err(Errno(EOPNOTSUPP));
    }
    net::listen(fd, backlog.clamp(1, 4096) as u32)?;
    Ok(0)
}

pub fn accept4(fd: Fd, addr: u64, len_ptr: u64, flags: u32) -> SysResult {
    let known = (abi::SOCK_NONBLOCK | abi::SOCK_CLOEXEC) as u32;
    if flags & !known != 0 {
        return Err(Errno(EINVAL));
    }
    if kind_of(fd)? != SocketKind::Stream {
        return Err(Errno(EOPNOTSUPP));
    }
    if addr != 0 {
        // Check the caller's length before a connection is taken.
        abi::result_length(get_u32(len_ptr)?, 0).map_err(errno)?;
    }
    let (new, peer) = net::accept(fd)?;
    let nonblocking = flags & abi::SOCK_NONBLOCK as u32 != 0;
    file::note_socket(
        new,
        SocketKind::Stream,
        nonblocking,
        flags & abi::SOCK_CLOEXEC as u32 != 0,
    );
    let finish = || -> Result<(), Errno> {
        if nonblocking {
            net::set_nonblocking(new, true)?;
        }
        write_addr(addr, len_ptr, Some(peer))
    };
    if let Err(e) = finish() {
        let _ = file::close(new);
        return Err(e);
    }
    Ok(i64::from(new))
}

pub fn connect(fd: Fd, addr: u64, len: u64) -> SysResult {
    kind_of(fd)?;
    net::connect(fd, &read_addr(addr, len, false)?)?;
    Ok(0)
}

pub fn getsockname(fd: Fd, addr: u64, len_ptr: u64) -> SysResult {
    kind_of(fd)?;
    let name = net::getsockname(fd)?;
    if addr == 0 {
        return Err(Errno(EFAULT));
    }
    write_addr(addr, len_ptr, Some(name))?;
    Ok(0)
}

pub fn getpeername(fd: Fd, addr: u64, len_ptr: u64) -> SysResult {
    kind_of(fd)?;
    let name = net::getpeername(fd)?;
    if addr == 0 {
        return Err(Errno(EFAULT));
    }
    write_addr(addr, len_ptr, Some(name))?;
    Ok(0)
}

pub fn shutdown(fd: Fd, how: i32) -> SysResult {
    kind_of(fd)?;
    if !(0..=2).contains(&how) {
        return Err(Errno(EINVAL));
    }
    net::shutdown(fd, how)?;
    Ok(0)
}

// ---- sending and receiving ------------------------------------------------------

/// Flags that cannot be honoured: out-of-band data.
fn check_send_flags(flags: u32) -> Result<(), Errno> {
    if flags & msg::OOB != 0 {
        return Err(Errno(EOPNOTSUPP));
    }
    Ok(())
}

/// Runs `f` with SIGPIPE held back when `MSG_NOSIGNAL` asks for it (an
/// `EPIPE` is then only the error).
fn without_sigpipe<R>(flags: u32, f: impl FnOnce() -> R) -> R {
    if flags & msg::NOSIGNAL == 0 || super::signal::sigpipe_ignored() {
        return f();
    }
    posix::ignore_sigpipe(true);
    let result = f();
    posix::ignore_sigpipe(false);
    result
}

/// send/sendto/sendmsg: a datagram goes whole to `to` (or the connected
/// peer); a stream ignores `to` (as Linux does once connected) and, when
/// blocking, sends everything unless an error comes after a part.
fn send_data(fd: Fd, data: &[u8], flags: u32, to: Option<SockAddr>) -> SysResult {
    check_send_flags(flags)?;
    match kind_of(fd)? {
        SocketKind::Datagram => {
            if data.len() > zos_proto::MAX_IO_CHUNK {
                return Err(Errno(EMSGSIZE));
            }
            let sent = match to {
                Some(to) => net::sendto(fd, data, &to)?,
                None => posix::write(fd, data)?,
            };
            Ok(sent as i64)
        }
        SocketKind::Stream if flags & msg::DONTWAIT != 0 => {
            // SendTo on a stream never waits: what fits now, or EAGAIN.
            let result = net::sendto(fd, data, &SockAddr::default());
            if result == Err(Errno(EPIPE))
                && flags & msg::NOSIGNAL == 0
                && !super::signal::sigpipe_ignored()
            {
                let _ = posix::kill(posix::getpid() as i32, zos_proto::proc::signal::SIGPIPE);
            }
            Ok(result? as i64)
        }
        SocketKind::Stream => without_sigpipe(flags, || {
            let nonblocking = file::is_nonblocking(fd);
            let mut done = 0;
            while done < data.len() || data.is_empty() {
                let result = if nonblocking {
                    posix::write_nonblocking(fd, &data[done..])
                } else {
                    posix::write(fd, &data[done..])
                };
                match result {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
                if nonblocking {
                    break;
                }
            }
            Ok(done as i64)
        }),
    }
}

/// recv/recvfrom/recvmsg into `buffer`: the byte count and, for a
/// datagram, the sender. `MSG_DONTWAIT` asks the server whether a read
/// would answer first; `MSG_WAITALL` reads a stream until the buffer is
/// full or it ends.
fn recv_data(fd: Fd, buffer: &mut [u8], flags: u32) -> Result<(usize, Option<SockAddr>), Errno> {
    if flags & (msg::OOB | msg::PEEK) != 0 {
        return Err(Errno(EOPNOTSUPP));
    }
    let kind = kind_of(fd)?;
    if flags & msg::DONTWAIT != 0 && !posix::readable(fd)? {
        return Err(Errno(EAGAIN));
    }
    match kind {
        SocketKind::Datagram => {
            let (n, from) = net::recvfrom(fd, buffer)?;
            Ok((n, Some(from)))
        }
        SocketKind::Stream => {
            let mut done = posix::read(fd, buffer)?;
            if flags & msg::WAITALL != 0 && flags & msg::DONTWAIT == 0 {
                while done > 0 && done < buffer.len() {
                    match posix::read(fd, &mut buffer[done..]) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(_) => break,
                    }
                }
            }
            Ok((done, None))
        }
    }
}

/// Most bytes one send/sendto takes (a blocking stream send loops over
/// them; callers send the rest in their next call, as after any short send).
const SEND_LIMIT: u64 = 1 << 20;

pub fn sendto(fd: Fd, buf: u64, len: u64, flags: u32, addr: u64, addr_len: u64) -> SysResult {
    let data = user_bytes(buf, len.min(SEND_LIMIT))?;
    let to = if addr != 0 {
        Some(read_addr(addr, addr_len, false)?)
    } else {
        None
    };
    send_data(fd, data, flags, to)
}

pub fn recvfrom(fd: Fd, buf: u64, len: u64, flags: u32, addr: u64, len_ptr: u64) -> SysResult {
    let buffer = user_bytes_mut(buf, len)?;
    let (n, from) = recv_data(fd, buffer, flags)?;
    write_addr(addr, len_ptr, from)?;
    Ok(n as i64)
}

/// The header and pieces of a `struct msghdr`.
fn message(ptr: u64) -> Result<(MsgHdr, Vec<abi::IoVec>), Errno> {
    let header = MsgHdr::decode(user_bytes(ptr, abi::MSGHDR_LEN as u64)?).map_err(errno)?;
    let table = if header.iov_len == 0 {
        &[][..]
    } else {
        user_bytes(header.iov, header.iov_len * abi::IOVEC_LEN as u64)?
    };
    let vectors = abi::decode_iovecs(table, header.iov_len).map_err(errno)?;
    Ok((header, vectors))
}

/// sendmsg: the pieces gathered into one send (at most 64 KiB a call); the
/// destination from `msg_name`; control messages (`SCM_RIGHTS`) ignored.
pub fn sendmsg(fd: Fd, ptr: u64, flags: u32) -> SysResult {
    let (header, vectors) = message(ptr)?;
    let to = if header.name != 0 && header.name_len != 0 {
        Some(read_addr(header.name, u64::from(header.name_len), false)?)
    } else {
        None
    };
    let limit = match kind_of(fd)? {
        // One more than fits, so an oversized datagram is EMSGSIZE.
        SocketKind::Datagram => zos_proto::MAX_IO_CHUNK + 1,
        SocketKind::Stream => VECTOR_LIMIT,
    };
    let data = abi::gather(&vectors, limit, |base, len| {
        user_bytes(base, len).map_err(|Errno(e)| e)
    })
    .map_err(errno)?;
    send_data(fd, &data, flags, to)
}

/// recvmsg: one receive of the pieces' total (at most 64 KiB), scattered;
/// the sender into `msg_name`/`msg_namelen`; no control messages
/// (`msg_controllen` 0) and `msg_flags` 0.
pub fn recvmsg(fd: Fd, ptr: u64, flags: u32) -> SysResult {
    let (header, vectors) = message(ptr)?;
    let total = (abi::total_length(&vectors) as usize).min(VECTOR_LIMIT);
    let mut data = alloc::vec![0u8; total];
    let (n, from) = recv_data(fd, &mut data, flags)?;
    abi::scatter(&data[..n], &vectors, |base, bytes| {
        user_bytes_mut(base, bytes.len() as u64)
            .map(|out| out.copy_from_slice(bytes))
            .map_err(|Errno(e)| e)
    })
    .map_err(errno)?;
    let header_bytes = user_bytes_mut(ptr, abi::MSGHDR_LEN as u64)?;
    let name_len = match (header.name, from) {
        (0, _) | (_, None) => 0,
        (name, Some(from)) => {
            let bytes = abi::encode_sockaddr_in(&from);
            let n = bytes.len().min(header.name_len as usize);
            user_bytes_mut(name, n as u64)?.copy_from_slice(&bytes[..n]);
            bytes.len() as u32
        }
    };
    let at = MsgHdr::NAME_LEN_OFFSET;
    header_bytes[at..at + 4].copy_from_slice(&name_len.to_le_bytes());
    let at = MsgHdr::CONTROL_LEN_OFFSET;
    header_bytes[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    let at = MsgHdr::FLAGS_OFFSET;
    header_bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    Ok(n as i64)
}

// ---- options ----------------------------------------------------------------------

/// Options accepted and not acted on (keep-alives, buffer sizes, TOS, TTL,
/// corking): programs set them as hints, and the netstack's behaviour is
/// right without them.
fn ignored_option(level: i32, name: i32) -> bool {
    match level {
        SOL_SOCKET => matches!(
            name,
            SO_BROADCAST
                | SO_SNDBUF
                | SO_RCVBUF
                | SO_KEEPALIVE
                | SO_OOBINLINE
                | SO_PRIORITY
                | SO_LINGER
                | SO_REUSEPORT
        ),
        abi::IPPROTO_IP => matches!(name, IP_TOS | IP_TTL),
        abi::IPPROTO_TCP => matches!(
            name,
            TCP_CORK | TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT | TCP_QUICKACK
        ),
        _ => false,
    }
}

pub fn setsockopt(fd: Fd, level: i32, name: i32, value: u64, len: u64) -> SysResult {
    kind_of(fd)?;
    let len = len as u32 as i32;
    if len < 0 {
        return Err(Errno(EINVAL));
    }
    let bytes = user_bytes(value, len as u64)?;
    match (level, name) {
        (SOL_SOCKET, SO_RCVTIMEO | SO_SNDTIMEO) => {
            let ms = abi::timeval_to_ms(bytes).map_err(errno)?;
            net::setsockopt(fd, level, name, ms)?;
        }
        (SOL_SOCKET, SO_REUSEADDR) | (abi::IPPROTO_TCP, TCP_NODELAY) => {
            let on = abi::int_option(bytes).map_err(errno)? != 0;
            net::setsockopt(fd, level, name, u32::from(on))?;
        }
        _ if ignored_option(level, name) => {
            abi::int_option(bytes).map_err(errno)?;
        }
        _ => return Err(Errno(ENOPROTOOPT)),
    }
    Ok(0)
}

pub fn getsockopt(fd: Fd, level: i32, name: i32, value: u64, len_ptr: u64) -> SysResult {
    let kind = kind_of(fd)?;
    let capacity = get_u32(len_ptr)?;
    let int = |v: i32| v.to_le_bytes().to_vec();
    let answer: Vec<u8> = match (level, name) {
        (SOL_SOCKET, SO_TYPE) => int(match kind {
            SocketKind::Stream => abi::SOCK_STREAM,
            SocketKind::Datagram => abi::SOCK_DGRAM,
        }),
        (SOL_SOCKET, SO_PROTOCOL) => int(match kind {
            SocketKind::Stream => abi::IPPROTO_TCP,
            SocketKind::Datagram => abi::IPPROTO_UDP,
        }),
        (SOL_SOCKET, SO_DOMAIN) => int(i32::from(abi::AF_INET)),
        // A non-blocking connect that failed, once (the netstack keeps
        // no other error: every other call answers its own).
        (SOL_SOCKET, SO_ERROR) => int(net::getsockopt(fd, level, name)? as i32),
        (SOL_SOCKET, SO_RCVBUF | SO_SNDBUF) => int(SOCKET_BUFFER),
        (SOL_SOCKET, SO_ACCEPTCONN) => int(0),
        (SOL_SOCKET, SO_LINGER) => alloc::vec![0u8; 8],
        (SOL_SOCKET, SO_RCVTIMEO | SO_SNDTIMEO) => {
            abi::ms_to_timeval(net::getsockopt(fd, level, name)?).to_vec()
        }
        (SOL_SOCKET, SO_REUSEADDR) | (abi::IPPROTO_TCP, TCP_NODELAY) => {
            int(net::getsockopt(fd, level, name)? as i32)
        }
        _ if ignored_option(level, name) => int(0),
        _ => return Err(Errno(ENOPROTOOPT)),
    };
    let n = abi::result_length(capacity, answer.len()).map_err(errno)?;
    user_bytes_mut(value, n as u64)?.copy_from_slice(&answer[..n]);
    put_u32(len_ptr, n as u32)?;
    Ok(0)
}
