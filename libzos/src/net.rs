//! BSD sockets over the netstack service (`zos_proto::net`). A socket is a
//! handle capability installed in the same descriptor table as files, so
//! `read`, `write`, `close`, `dup2` and spawn work on it; the calls here add
//! the socket operations. Errors are Linux errno values (`ECONNREFUSED`,
//! `EADDRINUSE`, `EAGAIN` on non-blocking sockets, `ENOTCONN`, `EPIPE`).
//!
//! Name resolution: [`getaddrinfo`] takes dotted quads and names from
//! `/etc/hosts` (no DNS yet).

use crate::ipc;
use crate::posix::{self, ipc_errno, Errno, Fd, Result};
use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use alloc::string::String;
use alloc::vec::Vec;
use zos_proto::errno::*;
use zos_proto::io::{HandleKind, IoRequest, IoResponse};
use zos_proto::net::{NetRequest, NetResponse, SocketRequest, SocketResponse};
pub use zos_proto::net::{SockAddr, SockOpt, SocketInfo, SocketKind};
use zos_proto::proc::{ProcRequest, ProcResponse};

pub const AF_INET: i32 = 2;
pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
/// `socket(…, SOCK_STREAM | SOCK_NONBLOCK, …)`.
pub const SOCK_NONBLOCK: i32 = 0o4000;
pub const SOL_SOCKET: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_ERROR: i32 = 4;
pub const SO_RCVTIMEO: i32 = 20;
pub const SO_SNDTIMEO: i32 = 21;
pub const IPPROTO_TCP: i32 = 6;
pub const TCP_NODELAY: i32 = 1;
pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;

static NET: Mutex<Option<u64>> = Mutex::new(None);

/// In a fork child: the netstack capability was the parent's (badged with
/// its pid) and is not in this process; looked up again on first use.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn fork_child_reset() {
    *NET.lock() = None;
}

/// The netstack's endpoint (looked up from init once; `fresh` forgets a
/// cached one, after the service restarted).
fn net_endpoint(fresh: bool) -> Result<u64> {
    let mut guard = NET.lock();
    if fresh {
        if let Some(old) = guard.take() {
            let _ = sys::cap_delete(old);
        }
    }
    if let Some(endpoint) = *guard {
        return Ok(endpoint);
    }
    let reply = posix::proc_call(&ProcRequest::Lookup { name: "net" }, &[])?;
    let endpoint = match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(cap)) => *cap,
        // No netstack running: as Linux without the address family.
        (Some(ProcResponse::Err(_)), _) => return Err(Errno(EAFNOSUPPORT)),
        _ => return Err(Errno(EIO)),
    };
    *guard = Some(endpoint);
    Ok(endpoint)
}

fn net_call(request: &NetRequest) -> Result<ipc::Received> {
    let endpoint = net_endpoint(false)?;
    match ipc::call(endpoint, request, &[]) {
        Ok(reply) => Ok(reply),
        // The service restarted since the lookup: once more, afresh.
        Err(_) => ipc::call(net_endpoint(true)?, request, &[]).map_err(ipc_errno),
    }
}

/// `socket(AF_INET, SOCK_STREAM | SOCK_DGRAM [| SOCK_NONBLOCK], 0)`.
pub fn socket(domain: i32, ty: i32, _protocol: i32) -> Result<Fd> {
    if domain != AF_INET {
        return Err(Errno(EAFNOSUPPORT));
    }
    let kind = match ty & !SOCK_NONBLOCK {
        SOCK_STREAM => SocketKind::Stream,
        SOCK_DGRAM => SocketKind::Datagram,
        _ => return Err(Errno(EPROTOTYPE)),
    };
    let request = NetRequest::Socket {
        kind,
        nonblocking: ty & SOCK_NONBLOCK != 0,
    };
    let reply = net_call(&request)?;
    match (reply.decode::<NetResponse>(), reply.caps.first()) {
        (Some(NetResponse::Socket), Some(&cap)) => installed(posix::install_or_drop(cap)),
        (Some(NetResponse::Err(e)), _) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Every socket the netstack holds (for `netstat`).
pub fn sockets() -> Result<Vec<SocketInfo>> {
    let reply = net_call(&NetRequest::List)?;
    match reply.decode::<NetResponse>() {
        Some(NetResponse::Sockets(list)) => Ok(list),
        Some(NetResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// What the netstack holds in memory (for `netstat -m`).
pub fn memory() -> Result<zos_proto::net::NetMemory> {
    let reply = net_call(&NetRequest::Memory)?;
    match reply.decode::<NetResponse>() {
        Some(NetResponse::Memory(memory)) => Ok(memory),
        Some(NetResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Every interface with its addresses (for `ifconfig`).
pub fn interfaces() -> Result<Vec<zos_proto::net::InterfaceInfo>> {
    let reply = net_call(&NetRequest::Interfaces)?;
    match reply.decode::<NetResponse>() {
        Some(NetResponse::Interfaces(list)) => Ok(list),
        Some(NetResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// One ICMP echo to `to` (`len` payload bytes): `Ok` when the reply came,
/// `ETIMEDOUT` after `timeout_ms`, `ENETUNREACH` without a route.
pub fn ping(to: [u8; 4], seq: u16, len: u16, timeout_ms: u32) -> Result<()> {
    let request = NetRequest::Ping {
        to,
        seq,
        len,
        timeout_ms,
    };
    match net_call(&request)?.decode::<NetResponse>() {
        Some(NetResponse::Ok) => Ok(()),
        Some(NetResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// A DNS query through the netstack (its DNS servers come from DHCP or
/// /etc/network.conf): `ENOENT` unknown name, `ETIMEDOUT`, `ENETUNREACH`
/// when there is no DNS server.
pub fn dns_lookup(name: &str) -> Result<Vec<[u8; 4]>> {
    let request = NetRequest::Resolve { name: name.into() };
    match net_call(&request)?.decode::<NetResponse>() {
        Some(NetResponse::Resolved(list)) => Ok(list),
        Some(NetResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// One socket operation; the reply (with any capability) is handed to `f`.
fn op<T>(
    fd: Fd,
    request: SocketRequest,
    f: impl FnOnce(SocketResponse, &[u64]) -> Option<T>,
) -> Result<T> {
    let slot = posix::slot_of(fd)?;
    let reply = ipc::call(slot, &IoRequest::Net(request), &[]).map_err(ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Net(response)) => f(response, &reply.caps).ok_or(Errno(EIO)),
        Some(IoResponse::Ok) => f(SocketResponse::Ok, &reply.caps).ok_or(Errno(EIO)),
        Some(IoResponse::Written(n)) => f(SocketResponse::Sent(n), &reply.caps).ok_or(Errno(EIO)),
        Some(IoResponse::Data(data)) => f(
            SocketResponse::Received {
                from: SockAddr::default(),
                data,
            },
            &reply.caps,
        )
        .ok_or(Errno(EIO)),
        // Files, pipes and terminals do not know socket requests.
        Some(IoResponse::Err(EINVAL | ENOTTY)) if !is_socket(fd) => Err(Errno(ENOTSOCK)),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

fn ok(response: SocketResponse, _: &[u64]) -> Option<()> {
    matches!(response, SocketResponse::Ok).then_some(())
}

fn is_socket(fd: Fd) -> bool {
    posix::stat_kind(fd) == Ok(HandleKind::Socket)
}

pub fn bind(fd: Fd, addr: &SockAddr) -> Result<()> {
    op(fd, SocketRequest::Bind(*addr), ok)
}

pub fn listen(fd: Fd, backlog: u32) -> Result<()> {
    op(fd, SocketRequest::Listen { backlog }, ok)
}

/// Waits for a connection; the new socket is a new descriptor.
pub fn accept(fd: Fd) -> Result<(Fd, SockAddr)> {
    let (new, peer) = op(fd, SocketRequest::Accept, |response, caps| match response {
        SocketResponse::Accepted { peer } => Some((posix::install_or_drop(*caps.first()?), peer)),
        _ => None,
    })?;
    Ok((installed(new)?, peer))
}

/// A socket handle just installed as a descriptor: remembered as a socket,
/// so its bulk reads and writes take the shared buffer without asking.
fn installed(fd: Result<Fd>) -> Result<Fd> {
    if let Ok(slot) = fd.and_then(posix::slot_of) {
        crate::fs::mark_socket(slot);
    }
    fd
}

pub fn connect(fd: Fd, addr: &SockAddr) -> Result<()> {
    op(fd, SocketRequest::Connect(*addr), ok)
}

/// `send(fd, data, 0)`: a `write` (so `EPIPE` raises SIGPIPE as on Linux).
pub fn send(fd: Fd, data: &[u8]) -> Result<usize> {
    posix::write(fd, data)
}

/// `recv(fd, buffer, 0)`: a `read`.
pub fn recv(fd: Fd, buffer: &mut [u8]) -> Result<usize> {
    posix::read(fd, buffer)
}

pub fn sendto(fd: Fd, data: &[u8], to: &SockAddr) -> Result<usize> {
    let data = &data[..data.len().min(zos_proto::MAX_IO_CHUNK)];
    let request = SocketRequest::SendTo {
        to: Some(*to),
        data,
    };
    op(fd, request, |response, _| match response {
        SocketResponse::Sent(n) => Some(n as usize),
        _ => None,
    })
}

pub fn recvfrom(fd: Fd, buffer: &mut [u8]) -> Result<(usize, SockAddr)> {
    let max = buffer.len().min(zos_proto::MAX_IO_CHUNK) as u32;
    op(
        fd,
        SocketRequest::RecvFrom { max },
        |response, _| match response {
            SocketResponse::Received { from, data } => {
                let n = data.len().min(buffer.len());
                buffer[..n].copy_from_slice(&data[..n]);
                Some((n, from))
            }
            _ => None,
        },
    )
}

pub fn shutdown(fd: Fd, how: i32) -> Result<()> {
    let how = u8::try_from(how).map_err(|_| Errno(EINVAL))?;
    op(fd, SocketRequest::Shutdown { how }, ok)
}

fn addr_of(response: SocketResponse, _: &[u64]) -> Option<SockAddr> {
    match response {
        SocketResponse::Addr(addr) => Some(addr),
        _ => None,
    }
}

pub fn getsockname(fd: Fd) -> Result<SockAddr> {
    op(fd, SocketRequest::GetSockName, addr_of)
}

pub fn getpeername(fd: Fd) -> Result<SockAddr> {
    op(fd, SocketRequest::GetPeerName, addr_of)
}

fn option(level: i32, name: i32) -> Result<SockOpt> {
    match (level, name) {
        (SOL_SOCKET, SO_REUSEADDR) => Ok(SockOpt::ReuseAddr),
        (SOL_SOCKET, SO_RCVTIMEO) => Ok(SockOpt::RcvTimeoMs),
        (SOL_SOCKET, SO_SNDTIMEO) => Ok(SockOpt::SndTimeoMs),
        (IPPROTO_TCP, TCP_NODELAY) => Ok(SockOpt::TcpNoDelay),
        (SOL_SOCKET, SO_ERROR) => Ok(SockOpt::Error),
        _ => Err(Errno(ENOPROTOOPT)),
    }
}

/// `setsockopt`; timeouts are in milliseconds (0: none), flags 0 or 1.
pub fn setsockopt(fd: Fd, level: i32, name: i32, value: u32) -> Result<()> {
    let opt = option(level, name)?;
    op(fd, SocketRequest::SetOpt { opt, value }, ok)
}

pub fn getsockopt(fd: Fd, level: i32, name: i32) -> Result<u32> {
    let opt = option(level, name)?;
    op(
        fd,
        SocketRequest::GetOpt(opt),
        |response, _| match response {
            SocketResponse::Opt(value) => Some(value),
            _ => None,
        },
    )
}

/// `fcntl(fd, F_SETFL, O_NONBLOCK)` for sockets (and any handle).
pub fn set_nonblocking(fd: Fd, on: bool) -> Result<()> {
    let slot = posix::slot_of(fd)?;
    let reply = ipc::call(slot, &IoRequest::SetNonBlocking(on), &[]).map_err(ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ok) => Ok(()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Parses a dotted quad (`127.0.0.1`).
pub fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = text.split('.');
    for byte in &mut out {
        *byte = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The addresses `name` has in a hosts file's text (`ADDR NAME [ALIAS]...`,
/// `#` comments).
pub fn hosts_lookup(hosts: &str, name: &str) -> Vec<[u8; 4]> {
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let addr = parse_ipv4(fields.next()?)?;
            fields
                .any(|field| field.eq_ignore_ascii_case(name))
                .then_some(addr)
        })
        .collect()
}

/// Why a name did not resolve (as `getaddrinfo`'s `EAI_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// `EAI_NONAME`: the name is not known.
    NoName,
    /// `EAI_SERVICE`: the port is not a number.
    Service,
}

impl ResolveError {
    pub fn describe(self) -> &'static str {
        match self {
            ResolveError::NoName => "Name or service not known",
            ResolveError::Service => "Servname not supported for ai_socktype",
        }
    }
}

/// `getaddrinfo(host, port)`: a dotted quad, the addresses `/etc/hosts`
/// gives the name, or else DNS (through the netstack).
pub fn getaddrinfo(host: &str, port: &str) -> core::result::Result<Vec<SockAddr>, ResolveError> {
    let port: u16 = port.parse().map_err(|_| ResolveError::Service)?;
    if let Some(addr) = parse_ipv4(host) {
        return Ok(alloc::vec![SockAddr { addr, port }]);
    }
    let hosts = read_file("/etc/hosts").unwrap_or_default();
    let found: Vec<SockAddr> = hosts_lookup(&hosts, host)
        .into_iter()
        .map(|addr| SockAddr { addr, port })
        .collect();
    if !found.is_empty() {
        return Ok(found);
    }
    match dns_lookup(host) {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs
            .into_iter()
            .map(|addr| SockAddr { addr, port })
            .collect()),
        _ => Err(ResolveError::NoName),
    }
}

fn read_file(path: &str) -> Option<String> {
    let fd = posix::open(path, crate::fs::O_RDONLY, 0).ok()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n) = posix::read(fd, &mut chunk) {
        if n == 0 || bytes.len() > 1 << 20 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    let _ = posix::close(fd);
    String::from_utf8(bytes).ok()
}

/// `a.b.c.d`.
pub fn format_ipv4(addr: [u8; 4]) -> String {
    alloc::format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3])
}
