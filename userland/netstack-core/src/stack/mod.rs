//! The socket table: BSD semantics (bind, listen with a backlog, accept,
//! connect, blocking and non-blocking reads and writes, timeouts) mapped onto
//! smoltcp sockets. The NIC side (addresses, DHCP, ping, DNS) is `link`.

use crate::device::Segment;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address,
};
use zos_proto::errno::*;
use zos_proto::net::{SockAddr, SockOpt, SocketInfo, SocketKind, SocketRequest};

/// The server's name for a waiting request (its deferred reply).
pub type Token = u64;
/// A socket in the table.
pub type SockId = u64;

mod bulk;
mod link;
pub use link::LOOPBACK_MAC;

/// TCP buffers per direction: accepted connections (a listener keeps a
/// pool of them ready, up to its backlog) and connections beyond
/// `MAX_BULK_SOCKETS`.
const TCP_BUFFER: usize = 64 * 1024;
/// TCP buffers per direction of connections made by `connect`, while at
/// most `MAX_BULK_SOCKETS` have them (8 MiB in all, kept once used:
/// `bulk.rs`): a 256 KiB window
/// (scaled) keeps a transfer going between the guest's wake-ups; with
/// 64 KiB the sender stalled (docs/network.md, figures).
const TCP_BULK_BUFFER: usize = 256 * 1024;
const MAX_BULK_SOCKETS: usize = 16;
/// UDP: datagrams and bytes queued per direction.
const UDP_PACKETS: usize = 32;
/// How long a blocking `connect` without `SO_SNDTIMEO` waits for an answer
/// before `ETIMEDOUT` (BSD's connection-establishment timer; Linux gives up
/// after its SYN retries, about two minutes).
const CONNECT_TIMEOUT_MS: u32 = 75_000;
const UDP_BUFFER: usize = 64 * 1024;
/// First ephemeral port (Linux's default range).
const EPHEMERAL_FIRST: u16 = 32768;
const EPHEMERAL_LAST: u16 = 60999;
/// Largest backlog kept.
const MAX_BACKLOG: u32 = 64;
/// Sockets at most (bounded memory).
const MAX_SOCKETS: usize = 1024;

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Err(i32),
    Data(Vec<u8>),
    Written(u32),
    Accepted {
        sock: SockId,
        peer: SockAddr,
    },
    Addr(SockAddr),
    Opt(u32),
    Received {
        from: SockAddr,
        data: Vec<u8>,
    },
    /// A name's addresses (a `Resolve`).
    Resolved(Vec<[u8; 4]>),
    /// Bytes moved through a shared buffer (the service turns `Data` and
    /// `Written` of `ReadShared`/`WriteShared` into this; the stack never
    /// answers it).
    Transferred(u32),
}

/// A request that waits.
enum Waiting {
    Read {
        max: usize,
    },
    /// `sent` bytes of `data` are in the socket already: a blocking write
    /// answers when all went (as Linux's does), one IPC per call.
    Write {
        data: Vec<u8>,
        sent: usize,
    },
    Accept,
    Connect,
    RecvFrom {
        max: usize,
    },
}

struct Pending {
    token: Token,
    sock: SockId,
    what: Waiting,
    deadline: Option<u64>,
}

struct Listener {
    backlog: usize,
    /// Sockets listening for the next connections.
    pool: Vec<SocketHandle>,
    /// Connections that left `Listen`, in arrival order.
    ready: VecDeque<SocketHandle>,
}

struct Sock {
    kind: SocketKind,
    /// The TCP connection or UDP socket (None: a TCP socket not connected).
    handle: Option<SocketHandle>,
    listener: Option<Listener>,
    bound: Option<SockAddr>,
    /// Peer of a UDP socket after `connect`.
    udp_peer: Option<SockAddr>,
    nonblocking: bool,
    reuse_addr: bool,
    nodelay: bool,
    rcv_timeout_ms: u32,
    snd_timeout_ms: u32,
    /// Handles (capabilities) naming this socket.
    refs: usize,
    read_shut: bool,
    connecting: bool,
}

impl Sock {
    fn new(kind: SocketKind, nonblocking: bool) -> Self {
        Sock {
            kind,
            handle: None,
            listener: None,
            bound: None,
            udp_peer: None,
            nonblocking,
            reuse_addr: false,
            nodelay: false,
            rcv_timeout_ms: 0,
            snd_timeout_ms: 0,
            refs: 1,
            read_shut: false,
            connecting: false,
        }
    }
}

pub struct Stack {
    iface: Interface,
    device: Segment,
    link: link::Link,
    sockets: SocketSet<'static>,
    table: BTreeMap<SockId, Sock>,
    /// TCP connections whose sockets were closed, finishing their FIN exchange.
    orphans: Vec<SocketHandle>,
    pending: Vec<Pending>,
    /// Waiting requests finished by polls inside other requests.
    finished: Vec<(Token, Reply)>,
    next_id: SockId,
    next_port: u16,
    /// `TCP_BULK_BUFFER` buffers, lent to `connect`ed sockets.
    bulk: bulk::Pool,
}

/// Drops a TCP socket from the set; its bulk buffers (if any) go back to
/// the pool once it is gone.
fn remove_tcp(sockets: &mut SocketSet<'static>, bulk: &mut bulk::Pool, handle: SocketHandle) {
    drop(sockets.remove(handle));
    bulk.returned(handle);
}

fn to_addr(endpoint: IpEndpoint) -> SockAddr {
    let IpAddress::Ipv4(v4) = endpoint.addr;
    SockAddr {
        addr: v4.octets(),
        port: endpoint.port,
    }
}

fn to_endpoint(addr: SockAddr) -> IpEndpoint {
    let [a, b, c, d] = addr.addr;
    IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(a, b, c, d)), addr.port)
}

fn instant(now_ms: u64) -> Instant {
    Instant::from_millis(now_ms as i64)
}

/// A TCP socket with `buffer` bytes each way.
fn new_tcp(buffer: usize) -> tcp::Socket<'static> {
    tcp_with(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    )
}

/// A TCP socket on these buffers (smoltcp scales its window when the
/// receive buffer is over 64 KiB).
fn tcp_with(
    receive: tcp::SocketBuffer<'static>,
    send: tcp::SocketBuffer<'static>,
) -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(receive, send);
    // Loopback never loses a segment; delaying ACKs only adds latency.
    socket.set_ack_delay(None);
    socket
}

fn state_name(state: tcp::State) -> &'static str {
    match state {
        tcp::State::Closed => "CLOSED",
        tcp::State::Listen => "LISTEN",
        tcp::State::SynSent => "SYN_SENT",
        tcp::State::SynReceived => "SYN_RECV",
        tcp::State::Established => "ESTABLISHED",
        tcp::State::FinWait1 => "FIN_WAIT1",
        tcp::State::FinWait2 => "FIN_WAIT2",
        tcp::State::CloseWait => "CLOSE_WAIT",
        tcp::State::Closing => "CLOSING",
        tcp::State::LastAck => "LAST_ACK",
        tcp::State::TimeWait => "TIME_WAIT",
    }
}

impl Stack {
    /// A stack with the loopback interface up at 127.0.0.1/8.
    pub fn new(now_ms: u64, seed: u64) -> Self {
        let mut device = Segment::new(LOOPBACK_MAC);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(LOOPBACK_MAC)));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, instant(now_ms));
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
        });
        Stack {
            iface,
            device,
            link: link::Link::default(),
            sockets: SocketSet::new(vec![]),
            table: BTreeMap::new(),
            orphans: Vec::new(),
            pending: Vec::new(),
            finished: Vec::new(),
            next_id: 1,
            // A first ephemeral port from the seed (as Linux randomises
            // it): a restarted netstack must not reuse the 4-tuple of a
            // connection its predecessor left open at the peer (slirp kept
            // sending the old stream into the new one).
            next_port: EPHEMERAL_FIRST
                + (seed % u64::from(EPHEMERAL_LAST - EPHEMERAL_FIRST + 1)) as u16,
            bulk: bulk::Pool::default(),
        }
    }

    /// A new socket (with one reference).
    pub fn socket(&mut self, kind: SocketKind, nonblocking: bool) -> Result<SockId, i32> {
        if self.table.len() >= MAX_SOCKETS {
            return Err(ENFILE);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.table.insert(id, Sock::new(kind, nonblocking));
        Ok(id)
    }

    /// One more handle names `sock` (a `Clone`).
    pub fn add_ref(&mut self, sock: SockId) -> bool {
        match self.table.get_mut(&sock) {
            Some(s) => {
                s.refs += 1;
                true
            }
            None => false,
        }
    }

    pub fn set_nonblocking(&mut self, sock: SockId, on: bool) {
        if let Some(s) = self.table.get_mut(&sock) {
            s.nonblocking = on;
        }
    }

    /// Whether `sock` exists.
    pub fn exists(&self, sock: SockId) -> bool {
        self.table.contains_key(&sock)
    }

    /// Drops one handle; the last one closes the socket (TCP: a graceful
    /// FIN). Requests still waiting on it fail with `EBADF`.
    pub fn close(&mut self, sock: SockId, now_ms: u64) -> Vec<(Token, Reply)> {
        let mut done = Vec::new();
        let Some(s) = self.table.get_mut(&sock) else {
            return done;
        };
        s.refs = s.refs.saturating_sub(1);
        if s.refs > 0 {
            return done;
        }
        let Some(s) = self.table.remove(&sock) else {
            return done;
        };
        self.pending.retain(|p| {
            if p.sock == sock {
                done.push((p.token, Reply::Err(EBADF)));
                false
            } else {
                true
            }
        });
        if let Some(listener) = s.listener {
            for handle in listener.pool.into_iter().chain(listener.ready) {
                self.sockets.get_mut::<tcp::Socket>(handle).abort();
                self.orphans.push(handle);
            }
        }
        if let Some(handle) = s.handle {
            match s.kind {
                SocketKind::Stream => {
                    self.sockets.get_mut::<tcp::Socket>(handle).close();
                    self.orphans.push(handle);
                }
                SocketKind::Datagram => {
                    self.sockets.remove(handle);
                }
            }
        }
        done.extend(self.poll(now_ms));
        done
    }

    /// Polls and keeps what finished for the next [`Stack::poll`].
    fn advance(&mut self, now_ms: u64) {
        let done = self.poll_inner(now_ms);
        self.finished.extend(done);
    }

    /// Runs the interface until the loopback queue is empty; returns the
    /// waiting requests that finished (or timed out) since the last call.
    pub fn poll(&mut self, now_ms: u64) -> Vec<(Token, Reply)> {
        let mut done = core::mem::take(&mut self.finished);
        done.extend(self.poll_inner(now_ms));
        done
    }

    /// `read` on the socket.
    pub fn read(&mut self, token: Token, sock: SockId, max: usize, now_ms: u64) -> Option<Reply> {
        self.start(token, sock, Waiting::Read { max }, now_ms)
    }

    /// Whether a `read` (or, on a listener, an `accept`) of `sock` would
    /// answer now — data, end of file, an error, or a connection to take —
    /// instead of waiting (`poll`'s `POLLIN`). Reads nothing.
    pub fn readable(&mut self, sock: SockId, now_ms: u64) -> bool {
        self.advance(now_ms);
        let Some(s) = self.table.get(&sock) else {
            return true;
        };
        if let Some(listener) = s.listener.as_ref() {
            return !listener.ready.is_empty();
        }
        match (s.kind, s.handle) {
            _ if s.read_shut => true,
            (SocketKind::Stream, None) => true,
            (SocketKind::Datagram, None) => false,
            (SocketKind::Stream, Some(handle)) => {
                let t = self.sockets.get::<tcp::Socket>(handle);
                match t.state() {
                    _ if t.can_recv() => true,
                    tcp::State::SynSent | tcp::State::SynReceived => false,
                    tcp::State::Closed if s.connecting => true,
                    _ => !t.may_recv(),
                }
            }
            (SocketKind::Datagram, Some(handle)) => {
                self.sockets.get::<udp::Socket>(handle).can_recv()
            }
        }
    }

    /// `poll` events of `sock` (`zos_proto::watch::events`, as Linux
    /// reports them): `POLLIN` as [`Stack::readable`]; `POLLOUT` when a
    /// write would not wait (a connected stream with room in its send
    /// buffer, any datagram socket with room, an unconnected stream, whose
    /// write fails at once); `POLLRDHUP` once the peer closed its side;
    /// `POLLHUP` once both directions are closed and for a stream not
    /// connected (never, or a refused attempt); `POLLERR` too while a
    /// failed connection is still being reported. A socket that is gone is
    /// `POLLNVAL`.
    pub fn poll_events(&mut self, sock: SockId, now_ms: u64) -> u16 {
        use zos_proto::watch::events::*;
        const POLLRDHUP: u16 = 0x2000;
        let readable = self.readable(sock, now_ms);
        let flag = |on: bool, bit: u16| if on { bit } else { 0 };
        let Some(s) = self.table.get(&sock) else {
            return POLLNVAL;
        };
        let input = flag(readable, POLLIN);
        if s.listener.is_some() {
            return input;
        }
        match (s.kind, s.handle) {
            // Never connected, or a connection attempt that failed (its
            // error is not kept): closed, as Linux reports `TCP_CLOSE`.
            (SocketKind::Stream, None) => input | POLLOUT | POLLHUP,
            (SocketKind::Datagram, None) => input | POLLOUT,
            (SocketKind::Stream, Some(handle)) => {
                let t = self.sockets.get::<tcp::Socket>(handle);
                match t.state() {
                    tcp::State::SynSent | tcp::State::SynReceived => input,
                    tcp::State::Closed if s.connecting => input | POLLERR | POLLHUP,
                    tcp::State::Closed | tcp::State::TimeWait => input | POLLHUP | POLLRDHUP,
                    _ => {
                        let peer_closed = !t.may_recv();
                        let both = peer_closed && !t.may_send();
                        input
                            | flag(t.can_send(), POLLOUT)
                            | flag(peer_closed, POLLRDHUP)
                            | flag(both, POLLHUP)
                    }
                }
            }
            (SocketKind::Datagram, Some(handle)) => {
                input | flag(self.sockets.get::<udp::Socket>(handle).can_send(), POLLOUT)
            }
        }
    }

    /// `write` on the socket.
    pub fn write(&mut self, token: Token, sock: SockId, data: &[u8], now_ms: u64) -> Option<Reply> {
        self.write_owned(token, sock, data.to_vec(), now_ms)
    }

    /// [`Stack::write`] of bytes the caller already copied out (a shared
    /// buffer's): kept as they are while the write waits, not copied again.
    pub fn write_owned(
        &mut self,
        token: Token,
        sock: SockId,
        data: Vec<u8>,
        now_ms: u64,
    ) -> Option<Reply> {
        self.start(token, sock, Waiting::Write { data, sent: 0 }, now_ms)
    }

    /// A socket operation; `None` means it waits (answered by a later poll).
    pub fn request(
        &mut self,
        token: Token,
        sock: SockId,
        request: &SocketRequest,
        now_ms: u64,
    ) -> Option<Reply> {
        let reply = match request {
            SocketRequest::Bind(addr) => self.bind(sock, *addr),
            SocketRequest::Listen { backlog } => self.listen(sock, *backlog),
            SocketRequest::Accept => return self.start(token, sock, Waiting::Accept, now_ms),
            SocketRequest::Connect(addr) => match self.connect(sock, *addr) {
                // As Linux: a non-blocking connect is under way when it
                // answers, even one that loopback settles at once; `poll`
                // and `SO_ERROR` tell how it ended.
                Ok(true) if self.table.get(&sock).is_some_and(|s| s.nonblocking) => {
                    self.advance(now_ms);
                    return Some(Reply::Err(EINPROGRESS));
                }
                Ok(true) => return self.start(token, sock, Waiting::Connect, now_ms),
                Ok(false) => Reply::Ok,
                Err(e) => Reply::Err(e),
            },
            SocketRequest::Shutdown { how } => self.shutdown(sock, *how),
            SocketRequest::GetSockName => self.sockname(sock),
            SocketRequest::GetPeerName => self.peername(sock),
            SocketRequest::SetOpt { opt, value } => self.set_opt(sock, *opt, *value),
            SocketRequest::GetOpt(SockOpt::Error) => self.take_error(sock),
            SocketRequest::GetOpt(opt) => self.get_opt(sock, *opt),
            SocketRequest::SendTo { to, data } => self.send_to(sock, *to, data),
            SocketRequest::RecvFrom { max } => {
                return self.start(
                    token,
                    sock,
                    Waiting::RecvFrom { max: *max as usize },
                    now_ms,
                )
            }
        };
        self.advance(now_ms);
        Some(reply)
    }

    /// For `netstat -m`: the sockets in the table, and the bytes of the
    /// TCP and UDP buffers (both ways) of every smoltcp socket — closing
    /// connections no table entry names any more included, so the bytes can
    /// outlast the count for a while.
    pub fn buffers(&self) -> (u32, u64) {
        let mut bytes = 0u64;
        for (_, socket) in self.sockets.iter() {
            bytes += match socket {
                smoltcp::socket::Socket::Tcp(t) => t.recv_capacity() + t.send_capacity(),
                smoltcp::socket::Socket::Udp(u) => {
                    u.payload_recv_capacity() + u.payload_send_capacity()
                }
                // DHCP and ICMP sockets: no byte buffers of a connection.
                _ => 0,
            } as u64;
        }
        (self.table.len() as u32, bytes)
    }

    /// Every socket, for `netstat`.
    pub fn list(&self) -> Vec<SocketInfo> {
        let mut out = Vec::new();
        for s in self.table.values() {
            let local = s.bound.unwrap_or_default();
            match (s.kind, &s.listener, s.handle) {
                (SocketKind::Stream, Some(listener), _) => out.push(SocketInfo {
                    kind: s.kind,
                    local,
                    remote: SockAddr::default(),
                    state: String::from("LISTEN"),
                    recv_queue: listener.ready.len() as u32,
                    send_queue: 0,
                }),
                (SocketKind::Stream, None, Some(handle)) => {
                    let t = self.sockets.get::<tcp::Socket>(handle);
                    out.push(SocketInfo {
                        kind: s.kind,
                        local: t.local_endpoint().map_or(local, to_addr),
                        remote: t.remote_endpoint().map_or_else(SockAddr::default, to_addr),
                        state: String::from(state_name(t.state())),
                        recv_queue: t.recv_queue() as u32,
                        send_queue: t.send_queue() as u32,
                    });
                }
                (SocketKind::Stream, None, None) => out.push(SocketInfo {
                    kind: s.kind,
                    local,
                    remote: SockAddr::default(),
                    state: String::from("CLOSED"),
                    recv_queue: 0,
                    send_queue: 0,
                }),
                (SocketKind::Datagram, _, _) => out.push(SocketInfo {
                    kind: s.kind,
                    local,
                    remote: s.udp_peer.unwrap_or_default(),
                    state: String::from("-"),
                    recv_queue: 0,
                    send_queue: 0,
                }),
            }
        }
        for &handle in &self.orphans {
            let t = self.sockets.get::<tcp::Socket>(handle);
            if let (Some(local), Some(remote)) = (t.local_endpoint(), t.remote_endpoint()) {
                out.push(SocketInfo {
                    kind: SocketKind::Stream,
                    local: to_addr(local),
                    remote: to_addr(remote),
                    state: String::from(state_name(t.state())),
                    recv_queue: t.recv_queue() as u32,
                    send_queue: t.send_queue() as u32,
                });
            }
        }
        out
    }

    /// Whether any request waits (the server then keeps its ticker busy).
    pub fn has_waiting(&self) -> bool {
        !self.pending.is_empty()
            || !self.orphans.is_empty()
            || !self.finished.is_empty()
            || self.link.has_waiting()
    }

    fn start(&mut self, token: Token, sock: SockId, what: Waiting, now_ms: u64) -> Option<Reply> {
        let Some(s) = self.table.get(&sock) else {
            return Some(Reply::Err(EBADF));
        };
        let timeout = match what {
            Waiting::Read { .. } | Waiting::RecvFrom { .. } | Waiting::Accept => s.rcv_timeout_ms,
            Waiting::Write { .. } => s.snd_timeout_ms,
            Waiting::Connect if s.snd_timeout_ms == 0 => CONNECT_TIMEOUT_MS,
            Waiting::Connect => s.snd_timeout_ms,
        };
        let nonblocking = s.nonblocking;
        // Earlier requests of the same socket and direction go first; reads
        // and writes are independent (one thread may read while another writes).
        let direction = what.direction();
        let queued_behind = self
            .pending
            .iter()
            .any(|p| p.sock == sock && p.what.direction() == direction);
        if !queued_behind {
            self.advance(now_ms);
            match self.try_finish(sock, &mut Some(what)) {
                Attempt::Done(reply) => {
                    self.advance(now_ms);
                    return Some(reply);
                }
                Attempt::Wait(back) => {
                    return self.park(token, sock, back, nonblocking, timeout, now_ms);
                }
            }
        }
        self.park(token, sock, what, nonblocking, timeout, now_ms)
    }

    fn park(
        &mut self,
        token: Token,
        sock: SockId,
        what: Waiting,
        nonblocking: bool,
        timeout_ms: u32,
        now_ms: u64,
    ) -> Option<Reply> {
        if nonblocking {
            return Some(Reply::Err(match what {
                Waiting::Connect => EINPROGRESS,
                _ => EAGAIN,
            }));
        }
        let deadline = (timeout_ms > 0).then(|| now_ms + u64::from(timeout_ms));
        self.pending.push(Pending {
            token,
            sock,
            what,
            deadline,
        });
        None
    }

    /// Runs the interface until the loopback queue is empty.
    /// Also while frames go out to the NIC: smoltcp sends at most one
    /// segment per socket per poll, so a bulk sender would otherwise put one
    /// segment on the wire per wake-up (an ACK, a request, a tick).
    fn drain(&mut self, now_ms: u64) {
        let now = instant(now_ms);
        for _ in 0..10_000 {
            let sent_before = self.device.counters().tx_frames;
            let _ = self.iface.poll(now, &mut self.device, &mut self.sockets);
            if self.device.pending() == 0 && self.device.counters().tx_frames == sent_before {
                break;
            }
        }
        self.refill_listeners();
    }

    fn poll_inner(&mut self, now_ms: u64) -> Vec<(Token, Reply)> {
        self.drain(now_ms);
        self.reap_orphans();
        let mut done = self.poll_link(now_ms);
        // Requests finished in one pass may free room or queue data that
        // lets others finish: more passes (bounded; a pass that finishes
        // nothing ends it). Deadlines are checked in the first.
        for pass in 0..64 {
            let finished = self.pending_pass(now_ms, pass == 0);
            if finished.is_empty() {
                break;
            }
            done.extend(finished);
            self.drain(now_ms);
        }
        done
    }

    /// One pass over the waiting requests, in order; the first waiting
    /// request of a socket and direction blocks the later ones.
    fn pending_pass(&mut self, now_ms: u64, expire: bool) -> Vec<(Token, Reply)> {
        let mut done = Vec::new();
        let mut index = 0;
        let mut blocked: Vec<(SockId, bool)> = Vec::new();
        while index < self.pending.len() {
            let sock = self.pending[index].sock;
            let key = (sock, self.pending[index].what.direction());
            if blocked.contains(&key) {
                index += 1;
                continue;
            }
            let mut slot = Some(self.pending[index].what.take());
            match self.try_finish(sock, &mut slot) {
                Attempt::Done(reply) => {
                    let p = self.pending.remove(index);
                    done.push((p.token, reply));
                }
                Attempt::Wait(what) => {
                    let p = &mut self.pending[index];
                    p.what = what;
                    if expire && p.deadline.is_some_and(|d| now_ms >= d) {
                        let p = self.pending.remove(index);
                        let reply = match p.what {
                            Waiting::Connect => {
                                self.abandon_connect(sock);
                                Reply::Err(ETIMEDOUT)
                            }
                            // A send timeout after part of a write went:
                            // that part (as Linux answers).
                            Waiting::Write { sent, .. } if sent > 0 => Reply::Written(sent as u32),
                            _ => Reply::Err(EAGAIN),
                        };
                        done.push((p.token, reply));
                    } else {
                        blocked.push(key);
                        index += 1;
                    }
                }
            }
        }
        done
    }

    /// Listening sockets that got a connection move to the accept queue; new
    /// ones take their place.
    fn refill_listeners(&mut self) {
        for s in self.table.values_mut() {
            let Some(listener) = s.listener.as_mut() else {
                continue;
            };
            let Some(bound) = s.bound else { continue };
            let mut index = 0;
            while index < listener.pool.len() {
                let handle = listener.pool[index];
                let state = self.sockets.get::<tcp::Socket>(handle).state();
                if state == tcp::State::Listen {
                    index += 1;
                    continue;
                }
                listener.pool.swap_remove(index);
                if listener.ready.len() < listener.backlog {
                    listener.ready.push_back(handle);
                } else {
                    self.sockets.get_mut::<tcp::Socket>(handle).abort();
                    self.orphans.push(handle);
                }
            }
            while listener.pool.len() < listener.backlog.saturating_sub(listener.ready.len()).max(1)
            {
                let mut socket = new_tcp(TCP_BUFFER);
                if socket.listen(listen_endpoint(bound)).is_err() {
                    break;
                }
                socket.set_nagle_enabled(!s.nodelay);
                listener.pool.push(self.sockets.add(socket));
            }
        }
    }

    fn reap_orphans(&mut self) {
        let sockets = &mut self.sockets;
        let bulk = &mut self.bulk;
        self.orphans.retain(|&handle| {
            let state = sockets.get::<tcp::Socket>(handle).state();
            // TIME_WAIT holds nothing a loopback peer could still need.
            let gone = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
            if gone {
                remove_tcp(sockets, bulk, handle);
            }
            !gone
        });
    }

    fn port_in_use(&self, kind: SocketKind, port: u16, reuse: bool) -> bool {
        self.table.values().any(|s| {
            s.kind == kind
                && s.bound.is_some_and(|b| b.port == port)
                && !(reuse && s.reuse_addr && s.listener.is_none())
        })
    }

    fn ephemeral(&mut self, kind: SocketKind) -> Result<u16, i32> {
        for _ in EPHEMERAL_FIRST..=EPHEMERAL_LAST {
            let port = self.next_port;
            self.next_port = if port >= EPHEMERAL_LAST {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            let busy = self.port_in_use(kind, port, false)
                || self.orphans.iter().any(|&h| {
                    self.sockets
                        .get::<tcp::Socket>(h)
                        .local_endpoint()
                        .is_some_and(|e| e.port == port)
                });
            if !busy {
                return Ok(port);
            }
        }
        Err(EADDRNOTAVAIL)
    }

    fn bind(&mut self, sock: SockId, addr: SockAddr) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        if s.bound.is_some() {
            return Reply::Err(EINVAL);
        }
        if !self.is_own(addr.addr) {
            return Reply::Err(EADDRNOTAVAIL);
        }
        let (kind, reuse) = (s.kind, s.reuse_addr);
        let port = if addr.port == 0 {
            match self.ephemeral(kind) {
                Ok(port) => port,
                Err(e) => return Reply::Err(e),
            }
        } else {
            if self.port_in_use(kind, addr.port, reuse) {
                return Reply::Err(EADDRINUSE);
            }
            addr.port
        };
        let bound = SockAddr {
            addr: addr.addr,
            port,
        };
        if kind == SocketKind::Datagram {
            if let Err(e) = self.open_udp(sock, bound) {
                return Reply::Err(e);
            }
        }
        if let Some(s) = self.table.get_mut(&sock) {
            s.bound = Some(bound);
        }
        Reply::Ok
    }

    fn open_udp(&mut self, sock: SockId, bound: SockAddr) -> Result<(), i32> {
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; UDP_BUFFER],
            ),
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                vec![0; UDP_BUFFER],
            ),
        );
        socket.bind(listen_endpoint(bound)).map_err(|_| EINVAL)?;
        let handle = self.sockets.add(socket);
        if let Some(s) = self.table.get_mut(&sock) {
            s.handle = Some(handle);
        }
        Ok(())
    }

    /// Binds to an ephemeral port if not bound yet.
    fn autobind(&mut self, sock: SockId) -> Result<SockAddr, i32> {
        if let Some(bound) = self.table.get(&sock).and_then(|s| s.bound) {
            return Ok(bound);
        }
        match self.bind(
            sock,
            SockAddr {
                addr: [0; 4],
                port: 0,
            },
        ) {
            Reply::Ok => self.table.get(&sock).and_then(|s| s.bound).ok_or(EINVAL),
            Reply::Err(e) => Err(e),
            _ => Err(EINVAL),
        }
    }

    fn listen(&mut self, sock: SockId, backlog: u32) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        if s.kind != SocketKind::Stream {
            return Reply::Err(ENOTSUP);
        }
        if s.handle.is_some() {
            return Reply::Err(EISCONN);
        }
        if s.listener.is_some() {
            return Reply::Ok;
        }
        // A listening port is exclusive even with SO_REUSEADDR.
        if let Some(bound) = s.bound {
            let clash = self.table.iter().any(|(&id, other)| {
                id != sock
                    && other.kind == SocketKind::Stream
                    && other.listener.is_some()
                    && other.bound.is_some_and(|b| b.port == bound.port)
            });
            if clash {
                return Reply::Err(EADDRINUSE);
            }
        }
        if let Err(e) = self.autobind(sock) {
            return Reply::Err(e);
        }
        if let Some(s) = self.table.get_mut(&sock) {
            s.listener = Some(Listener {
                backlog: backlog.clamp(1, MAX_BACKLOG) as usize,
                pool: Vec::new(),
                ready: VecDeque::new(),
            });
        }
        self.refill_listeners();
        Reply::Ok
    }

    /// Starts a connection; `Ok(true)` when the caller must wait for it.
    fn connect(&mut self, sock: SockId, addr: SockAddr) -> Result<bool, i32> {
        if !self.reachable(addr.addr) {
            return Err(ENETUNREACH);
        }
        let s = self.table.get(&sock).ok_or(EBADF)?;
        let mut to = addr;
        if to.addr == [0; 4] {
            to.addr = [127, 0, 0, 1];
        }
        match s.kind {
            SocketKind::Datagram => {
                self.autobind(sock)?;
                if let Some(s) = self.table.get_mut(&sock) {
                    s.udp_peer = Some(to);
                }
                Ok(false)
            }
            SocketKind::Stream => {
                if s.listener.is_some() {
                    return Err(EINVAL);
                }
                if s.connecting {
                    return Err(EALREADY);
                }
                if s.handle.is_some() {
                    return Err(EISCONN);
                }
                let nodelay = s.nodelay;
                let local = self.autobind(sock)?;
                let (mut socket, pair) = match self.bulk.take() {
                    Some((pair, receive, send)) => (
                        tcp_with(
                            tcp::SocketBuffer::new(receive),
                            tcp::SocketBuffer::new(send),
                        ),
                        Some(pair),
                    ),
                    None => (new_tcp(TCP_BUFFER), None),
                };
                socket.set_nagle_enabled(!nodelay);
                // To 127/8 from 127.0.0.1 (smoltcp would pick the NIC's address).
                let local_endpoint = IpListenEndpoint {
                    addr: (to.addr[0] == 127).then(|| IpAddress::v4(127, 0, 0, 1)),
                    port: local.port,
                };
                if socket
                    .connect(self.iface.context(), to_endpoint(to), local_endpoint)
                    .is_err()
                {
                    drop(socket);
                    if let Some(pair) = pair {
                        self.bulk.give_back(pair);
                    }
                    return Err(EADDRNOTAVAIL);
                }
                let handle = self.sockets.add(socket);
                if let Some(pair) = pair {
                    self.bulk.lend(handle, pair);
                }
                if let Some(s) = self.table.get_mut(&sock) {
                    s.handle = Some(handle);
                    s.connecting = true;
                }
                Ok(true)
            }
        }
    }

    fn shutdown(&mut self, sock: SockId, how: u8) -> Reply {
        let Some(s) = self.table.get_mut(&sock) else {
            return Reply::Err(EBADF);
        };
        if how > 2 {
            return Reply::Err(EINVAL);
        }
        if how == 0 || how == 2 {
            s.read_shut = true;
        }
        match (s.kind, s.handle) {
            (SocketKind::Stream, Some(handle)) => {
                if how == 1 || how == 2 {
                    self.sockets.get_mut::<tcp::Socket>(handle).close();
                }
                Reply::Ok
            }
            (SocketKind::Stream, None) => Reply::Err(ENOTCONN),
            (SocketKind::Datagram, _) => Reply::Ok,
        }
    }

    fn sockname(&self, sock: SockId) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        if let (SocketKind::Stream, Some(handle)) = (s.kind, s.handle) {
            if let Some(local) = self.sockets.get::<tcp::Socket>(handle).local_endpoint() {
                return Reply::Addr(to_addr(local));
            }
        }
        Reply::Addr(s.bound.unwrap_or_default())
    }

    fn peername(&self, sock: SockId) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        match (s.kind, s.handle) {
            (SocketKind::Stream, Some(handle)) => {
                let t = self.sockets.get::<tcp::Socket>(handle);
                match (t.state(), t.remote_endpoint()) {
                    (tcp::State::SynSent | tcp::State::Closed, _) | (_, None) => {
                        Reply::Err(ENOTCONN)
                    }
                    (_, Some(remote)) => Reply::Addr(to_addr(remote)),
                }
            }
            (SocketKind::Datagram, _) => s.udp_peer.map_or(Reply::Err(ENOTCONN), Reply::Addr),
            _ => Reply::Err(ENOTCONN),
        }
    }

    fn set_opt(&mut self, sock: SockId, opt: SockOpt, value: u32) -> Reply {
        let Some(s) = self.table.get_mut(&sock) else {
            return Reply::Err(EBADF);
        };
        match opt {
            SockOpt::Error => return Reply::Err(ENOPROTOOPT),
            SockOpt::ReuseAddr => s.reuse_addr = value != 0,
            SockOpt::RcvTimeoMs => s.rcv_timeout_ms = value,
            SockOpt::SndTimeoMs => s.snd_timeout_ms = value,
            SockOpt::TcpNoDelay => {
                if s.kind != SocketKind::Stream {
                    return Reply::Err(ENOPROTOOPT);
                }
                s.nodelay = value != 0;
                if let Some(handle) = s.handle {
                    self.sockets
                        .get_mut::<tcp::Socket>(handle)
                        .set_nagle_enabled(value == 0);
                }
            }
        }
        Reply::Ok
    }

    fn get_opt(&self, sock: SockId, opt: SockOpt) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        Reply::Opt(match opt {
            SockOpt::ReuseAddr => u32::from(s.reuse_addr),
            SockOpt::RcvTimeoMs => s.rcv_timeout_ms,
            SockOpt::SndTimeoMs => s.snd_timeout_ms,
            SockOpt::TcpNoDelay => u32::from(s.nodelay),
            SockOpt::Error => 0,
        })
    }

    /// A connection attempt that timed out stops trying: the socket is
    /// unconnected again, as on Linux (a new `connect` may follow).
    fn abandon_connect(&mut self, sock: SockId) {
        let Some(s) = self.table.get_mut(&sock) else {
            return;
        };
        s.connecting = false;
        if let Some(handle) = s.handle.take() {
            self.sockets.get_mut::<tcp::Socket>(handle).abort();
            remove_tcp(&mut self.sockets, &mut self.bulk, handle);
        }
    }

    /// `SO_ERROR`: `ECONNREFUSED` for a connection attempt that failed
    /// (what `poll` shows as `POLLERR`), reported once: the socket is then
    /// unconnected, as after a blocking `connect` that failed. 0 otherwise.
    fn take_error(&mut self, sock: SockId) -> Reply {
        let Some(s) = self.table.get_mut(&sock) else {
            return Reply::Err(EBADF);
        };
        let failed = match (s.connecting, s.handle) {
            (true, Some(handle)) => {
                self.sockets.get::<tcp::Socket>(handle).state() == tcp::State::Closed
            }
            _ => false,
        };
        if !failed {
            return Reply::Opt(0);
        }
        s.connecting = false;
        if let Some(handle) = s.handle.take() {
            remove_tcp(&mut self.sockets, &mut self.bulk, handle);
        }
        Reply::Opt(ECONNREFUSED as u32)
    }

    fn send_to(&mut self, sock: SockId, to: Option<SockAddr>, data: &[u8]) -> Reply {
        let Some(s) = self.table.get(&sock) else {
            return Reply::Err(EBADF);
        };
        if s.kind == SocketKind::Stream {
            // sendto on a stream ignores the address, as on Linux when connected.
            return match s.handle {
                Some(handle) => {
                    let t = self.sockets.get_mut::<tcp::Socket>(handle);
                    if !t.may_send() {
                        return Reply::Err(EPIPE);
                    }
                    match t.send_slice(data) {
                        Ok(n) if n > 0 || data.is_empty() => Reply::Written(n as u32),
                        _ => Reply::Err(EAGAIN),
                    }
                }
                None => Reply::Err(ENOTCONN),
            };
        }
        let Some(to) = to.or(s.udp_peer) else {
            return Reply::Err(EDESTADDRREQ);
        };
        if !self.reachable(to.addr) {
            return Reply::Err(ENETUNREACH);
        }
        if data.len() > UDP_BUFFER / 2 {
            return Reply::Err(EMSGSIZE);
        }
        if let Err(e) = self.autobind(sock) {
            return Reply::Err(e);
        }
        let Some(handle) = self.table.get(&sock).and_then(|s| s.handle) else {
            return Reply::Err(EBADF);
        };
        let mut to = to;
        if to.addr == [0; 4] {
            to.addr = [127, 0, 0, 1];
        }
        let u = self.sockets.get_mut::<udp::Socket>(handle);
        match u.send_slice(data, to_endpoint(to)) {
            Ok(()) => Reply::Written(data.len() as u32),
            Err(_) => Reply::Err(EAGAIN),
        }
    }

    /// Tries to finish a waiting request.
    fn try_finish(&mut self, sock: SockId, what: &mut Option<Waiting>) -> Attempt {
        let Some(request) = what.take() else {
            return Attempt::Done(Reply::Err(EINVAL));
        };
        let Some(s) = self.table.get_mut(&sock) else {
            return Attempt::Done(Reply::Err(EBADF));
        };
        match request {
            Waiting::Accept => {
                let Some(listener) = s.listener.as_mut() else {
                    return Attempt::Done(Reply::Err(EINVAL));
                };
                let Some(handle) = listener.ready.pop_front() else {
                    return Attempt::Wait(Waiting::Accept);
                };
                let (bound, nodelay) = (s.bound, s.nodelay);
                let peer = self
                    .sockets
                    .get::<tcp::Socket>(handle)
                    .remote_endpoint()
                    .map_or_else(SockAddr::default, to_addr);
                let id = self.next_id;
                self.next_id += 1;
                let mut conn = Sock::new(SocketKind::Stream, false);
                conn.handle = Some(handle);
                conn.bound = bound;
                conn.nodelay = nodelay;
                self.table.insert(id, conn);
                Attempt::Done(Reply::Accepted { sock: id, peer })
            }
            Waiting::Connect => {
                let Some(handle) = s.handle else {
                    return Attempt::Done(Reply::Err(ENOTCONN));
                };
                let state = self.sockets.get::<tcp::Socket>(handle).state();
                match state {
                    tcp::State::SynSent | tcp::State::SynReceived => {
                        Attempt::Wait(Waiting::Connect)
                    }
                    tcp::State::Closed => {
                        s.connecting = false;
                        s.handle = None;
                        remove_tcp(&mut self.sockets, &mut self.bulk, handle);
                        Attempt::Done(Reply::Err(ECONNREFUSED))
                    }
                    _ => {
                        s.connecting = false;
                        Attempt::Done(Reply::Ok)
                    }
                }
            }
            Waiting::Read { max } => self.finish_read(sock, max, false),
            Waiting::RecvFrom { max } => self.finish_read(sock, max, true),
            Waiting::Write { data, sent } => {
                let Some(s) = self.table.get_mut(&sock) else {
                    return Attempt::Done(Reply::Err(EBADF));
                };
                if s.kind == SocketKind::Datagram {
                    return Attempt::Done(self.send_to(sock, None, &data));
                }
                let Some(handle) = s.handle else {
                    return Attempt::Done(Reply::Err(ENOTCONN));
                };
                let nonblocking = s.nonblocking;
                let t = self.sockets.get_mut::<tcp::Socket>(handle);
                // What went already is the answer when the rest cannot go.
                let partly = |errno| match sent {
                    0 => Reply::Err(errno),
                    n => Reply::Written(n as u32),
                };
                match t.state() {
                    tcp::State::SynSent | tcp::State::SynReceived => {
                        return Attempt::Wait(Waiting::Write { data, sent })
                    }
                    tcp::State::Closed if s.connecting => {
                        return Attempt::Done(partly(ECONNREFUSED))
                    }
                    _ => {}
                }
                if !t.may_send() {
                    return Attempt::Done(partly(EPIPE));
                }
                if data.is_empty() {
                    return Attempt::Done(Reply::Written(0));
                }
                match t.send_slice(&data[sent..]) {
                    Ok(n) if sent + n == data.len() || (n > 0 && nonblocking) => {
                        Attempt::Done(Reply::Written((sent + n) as u32))
                    }
                    Ok(n) => Attempt::Wait(Waiting::Write {
                        data,
                        sent: sent + n,
                    }),
                    Err(_) => Attempt::Done(partly(EPIPE)),
                }
            }
        }
    }

    fn finish_read(&mut self, sock: SockId, max: usize, with_from: bool) -> Attempt {
        let again = |max| {
            if with_from {
                Waiting::RecvFrom { max }
            } else {
                Waiting::Read { max }
            }
        };
        let Some(s) = self.table.get_mut(&sock) else {
            return Attempt::Done(Reply::Err(EBADF));
        };
        let read_shut = s.read_shut;
        match (s.kind, s.handle) {
            (SocketKind::Stream, None) => Attempt::Done(Reply::Err(ENOTCONN)),
            (SocketKind::Datagram, None) => {
                if read_shut {
                    Attempt::Done(Reply::Data(Vec::new()))
                } else {
                    Attempt::Wait(again(max))
                }
            }
            (SocketKind::Stream, Some(handle)) => {
                let connecting = s.connecting;
                let peer = s.udp_peer;
                let t = self.sockets.get_mut::<tcp::Socket>(handle);
                if read_shut {
                    return Attempt::Done(Reply::Data(Vec::new()));
                }
                if t.can_recv() {
                    // Only what is queued, and no zeroing first: a 64 KiB
                    // read asked for a 64 KiB memset before.
                    let mut buffer = Vec::with_capacity(max.min(t.recv_queue()));
                    while buffer.len() < max {
                        let room = max - buffer.len();
                        let took = t.recv(|chunk| {
                            let n = chunk.len().min(room);
                            buffer.extend_from_slice(&chunk[..n]);
                            (n, n)
                        });
                        if took.unwrap_or(0) == 0 {
                            break;
                        }
                    }
                    let from = t
                        .remote_endpoint()
                        .map(to_addr)
                        .or(peer)
                        .unwrap_or_default();
                    return Attempt::Done(if with_from {
                        Reply::Received { from, data: buffer }
                    } else {
                        Reply::Data(buffer)
                    });
                }
                match t.state() {
                    tcp::State::SynSent | tcp::State::SynReceived => Attempt::Wait(again(max)),
                    tcp::State::Closed if connecting => Attempt::Done(Reply::Err(ECONNREFUSED)),
                    _ if t.may_recv() => Attempt::Wait(again(max)),
                    // The peer closed (FIN, or reset after its FIN): end of file.
                    _ => Attempt::Done(if with_from {
                        Reply::Received {
                            from: SockAddr::default(),
                            data: Vec::new(),
                        }
                    } else {
                        Reply::Data(Vec::new())
                    }),
                }
            }
            (SocketKind::Datagram, Some(handle)) => {
                let u = self.sockets.get_mut::<udp::Socket>(handle);
                let mut buffer = vec![0; max.max(1)];
                match u.recv_slice(&mut buffer) {
                    Ok((n, meta)) => {
                        buffer.truncate(n.min(max));
                        let from = to_addr(meta.endpoint);
                        Attempt::Done(if with_from {
                            Reply::Received { from, data: buffer }
                        } else {
                            Reply::Data(buffer)
                        })
                    }
                    Err(udp::RecvError::Truncated) => Attempt::Done(Reply::Data(Vec::new())),
                    Err(udp::RecvError::Exhausted) => {
                        if read_shut {
                            Attempt::Done(Reply::Data(Vec::new()))
                        } else {
                            Attempt::Wait(again(max))
                        }
                    }
                }
            }
        }
    }
}

enum Attempt {
    Done(Reply),
    Wait(Waiting),
}

impl Waiting {
    /// `true` for requests that send (write, connect), `false` for those
    /// that receive (read, recvfrom, accept).
    fn direction(&self) -> bool {
        matches!(self, Waiting::Write { .. } | Waiting::Connect)
    }

    /// Moves the request out, leaving a placeholder.
    fn take(&mut self) -> Waiting {
        core::mem::replace(self, Waiting::Accept)
    }
}

fn listen_endpoint(bound: SockAddr) -> IpListenEndpoint {
    let addr = if bound.addr == [0; 4] {
        None
    } else {
        Some(to_endpoint(bound).addr)
    };
    IpListenEndpoint {
        addr,
        port: bound.port,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod link_tests;
