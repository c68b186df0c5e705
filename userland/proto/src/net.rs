//! The network protocol (`netstack` service). The service endpoint (found with
//! `Lookup { name: "net" }`) answers [`NetRequest`]: `Socket` returns a badged
//! handle capability. A socket handle speaks `zos_proto::io` (so `read`,
//! `write`, `close`, `Clone` for `dup2`/spawn work as on files) plus the
//! socket operations wrapped in `IoRequest::Net`, answered by `IoResponse::Net`
//! or `IoResponse::Err(errno)`.
//!
//! Blocking operations (`Accept`, `Connect`, reads and writes that cannot
//! proceed) are answered later by the server unless the socket is
//! non-blocking (`EAGAIN`, `EINPROGRESS` for `Connect`).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Socket types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketKind {
    Stream,
    Datagram,
}

/// An IPv4 socket address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockAddr {
    pub addr: [u8; 4],
    pub port: u16,
}

/// Socket options the service knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockOpt {
    ReuseAddr,
    /// Receive timeout in milliseconds (0: none).
    RcvTimeoMs,
    /// Send timeout in milliseconds (0: none).
    SndTimeoMs,
    TcpNoDelay,
    /// `SO_ERROR` (read only): the error of a connection attempt that
    /// failed, once; 0 otherwise.
    Error,
}

/// Requests on the service endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetRequest {
    /// A new socket; answers `Socket` with the handle capability.
    Socket { kind: SocketKind, nonblocking: bool },
    /// Every socket, for `netstat`.
    List,
    /// The service's own timer thread: run timers (answers `Ok`).
    Tick,
    /// Every interface with its addresses (`ifconfig`); answers `Interfaces`.
    Interfaces,
    /// One ICMP echo request to `to` with `len` bytes of payload; answers
    /// `Ok` when the matching echo reply arrives, `Err(ETIMEDOUT)` after
    /// `timeout_ms`, `Err(ENETUNREACH)` with no route.
    Ping {
        to: [u8; 4],
        seq: u16,
        len: u16,
        timeout_ms: u32,
    },
    /// IPv4 addresses of `name` from the DNS servers the interface was
    /// given (DHCP or /etc/network.conf); answers `Resolved`, or
    /// `Err(ENOENT)` for an unknown name, `Err(ETIMEDOUT)`, `Err(ENETUNREACH)`
    /// with no DNS server.
    Resolve { name: alloc::string::String },
    /// The service's memory, for `netstat -m`; answers `Memory`.
    Memory,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetResponse {
    Ok,
    Socket,
    Sockets(Vec<SocketInfo>),
    Err(i32),
    Interfaces(Vec<InterfaceInfo>),
    Resolved(Vec<[u8; 4]>),
    Memory(NetMemory),
}

/// What the netstack holds, for `netstat -m` (and a leak test: bytes in
/// use return to the same figure when the same connections come and go,
/// while mapped heap only ever grows to the high-water mark).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetMemory {
    /// Heap bytes allocated and not freed.
    pub heap_in_use: u64,
    /// Heap bytes mapped (the high-water mark; never returned).
    pub heap_mapped: u64,
    /// Sockets in the table.
    pub sockets: u32,
    /// Bytes of their receive and send buffers.
    pub socket_buffers: u64,
}

/// One interface, for `ifconfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    /// `lo`, `eth0`.
    pub name: alloc::string::String,
    /// Ethernet address (zero for `lo`).
    pub mac: [u8; 6],
    /// Addresses with their prefix length.
    pub addrs: Vec<([u8; 4], u8)>,
    /// Default gateway, if any.
    pub gateway: Option<[u8; 4]>,
    pub dns: Vec<[u8; 4]>,
    pub mtu: u32,
    /// `dhcp`, `static`, `dhcp (waiting)`, ...
    pub config: alloc::string::String,
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    pub dropped: u64,
}

/// One line of `netstat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    pub kind: SocketKind,
    pub local: SockAddr,
    pub remote: SockAddr,
    /// `LISTEN`, `ESTABLISHED`, ... (TCP) or `-` (UDP).
    pub state: alloc::string::String,
    pub recv_queue: u32,
    pub send_queue: u32,
}

/// Operations on a socket handle (inside `IoRequest::Net`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketRequest<'a> {
    Bind(SockAddr),
    Listen {
        backlog: u32,
    },
    /// Answers `Accepted { peer }` with the new socket's handle capability.
    Accept,
    Connect(SockAddr),
    /// `how`: 0 read, 1 write, 2 both.
    Shutdown {
        how: u8,
    },
    GetSockName,
    GetPeerName,
    SetOpt {
        opt: SockOpt,
        value: u32,
    },
    GetOpt(SockOpt),
    /// `sendto` on a datagram socket (`to: None` uses the connected peer).
    SendTo {
        to: Option<SockAddr>,
        data: &'a [u8],
    },
    /// `recvfrom`: up to `max` bytes and the sender.
    RecvFrom {
        max: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketResponse<'a> {
    Ok,
    Accepted { peer: SockAddr },
    Addr(SockAddr),
    Opt(u32),
    Sent(u32),
    Received { from: SockAddr, data: &'a [u8] },
}
