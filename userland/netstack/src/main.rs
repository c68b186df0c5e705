//! netstack — the network service. It runs smoltcp with loopback
//! (127.0.0.1/8) and `eth0` when there is a NIC, and serves BSD sockets: `zos_proto::net` on its
//! endpoint (socket creation, the socket list), and on badged copies of it
//! one handle per open socket speaking `zos_proto::io` plus
//! `IoRequest::Net`. The socket logic is `zos-netstack-core`; this file maps
//! badges to sockets and tokens to deferred replies.
//!
//! Handles are minted watched: a client that dies (or drops a handle
//! without `Close`) closes its sockets through the kernel's `NO_SENDERS`.
//!
//! A timer thread calls the endpoint (`Tick`) every 20 ms while anything
//! waits (and when smoltcp's next timer is due), so timeouts, TCP timers and
//! DHCP advance without a client's request. `link` attaches `eth0` (the
//! virtio-net driver's frame rings) when devmgr has one; a thread there
//! wakes the main loop when frames arrive.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use libzos::abi::map_flags;
use libzos::abi::rights;
use libzos::dprintln;
use libzos::ipc::{self, Received, Server};
use libzos::sys;
use zos_netstack_core::shared::{self, BufferTable};
use zos_netstack_core::{Reply, SockId, Stack, Token};
use zos_proto::errno::{EAGAIN, EBADF, EINVAL, EIO, ENOTTY, ESPIPE};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use zos_proto::net::{NetMemory, NetRequest, NetResponse, SocketResponse};
use zos_proto::watch::{fires, WatchList};
use zos_proto::MAX_IO_CHUNK;

mod link;

libzos::entry!(main);

/// Whether the timer thread should tick (something waits or closes).
static BUSY: AtomicBool = AtomicBool::new(false);
/// When smoltcp wants the next poll (milliseconds since boot).
static NEXT_POLL_MS: AtomicU64 = AtomicU64::new(u64::MAX);
use link::ENDPOINT;
/// Tick period.
const TICK_NS: u64 = 20_000_000;

fn now_ms() -> u64 {
    sys::clock_ns() / 1_000_000
}

fn main(_arg: u64) -> i64 {
    let Some(endpoint) = libzos::rt::granted("endpoint") else {
        dprintln!("netstack: no endpoint granted (set provides = true in the service table)");
        return 1;
    };
    ENDPOINT.store(endpoint, Ordering::Relaxed);
    let started = [64, 16, 1]
        .iter()
        .any(|&priority| libzos::thread::spawn(timer_thread, 0, priority).is_ok());
    if !started {
        dprintln!("netstack: cannot start the timer thread");
        return 1;
    }
    let seed = sys::clock_ns();
    dprintln!("netstack: loopback 127.0.0.1/8 up");
    link::start();
    Service {
        server: Server::new(endpoint),
        endpoint,
        stack: Stack::new(now_ms(), seed),
        badges: BTreeMap::new(),
        replies: BTreeMap::new(),
        // Not 1: a dead predecessor's handles reach this instance too.
        next_badge: ipc::first_badge(),
        next_token: 1,
        kick: None,
        service_tokens: BTreeSet::new(),
        watches: WatchList::new(),
        buffers: BufferTable::new(),
        shared_tokens: BTreeMap::new(),
        incoming: Vec::new(),
    }
    .run()
}

fn timer_thread(_arg: u64) {
    let endpoint = ENDPOINT.load(Ordering::Relaxed);
    loop {
        sys::sleep_until(sys::clock_ns() + TICK_NS);
        if BUSY.load(Ordering::Relaxed) || now_ms() >= NEXT_POLL_MS.load(Ordering::Relaxed) {
            let _ = ipc::call(endpoint, &NetRequest::Tick, &[]);
        }
    }
}

struct Service {
    server: Server,
    endpoint: u64,
    stack: Stack,
    /// Handle badge → socket.
    badges: BTreeMap<u64, SockId>,
    /// Token → deferred reply capability.
    replies: BTreeMap<Token, u64>,
    next_badge: u64,
    next_token: Token,
    /// Signals eth0's driver that frames wait in the ring.
    kick: Option<u64>,
    /// Deferred service requests (ping, resolve): answered as `NetResponse`.
    service_tokens: BTreeSet<Token>,
    /// `poll` watches by handle badge (`zos_proto::watch`), looked at after
    /// every turn of the loop.
    watches: WatchList,
    /// Client buffers mapped for `ReadShared`/`WriteShared`.
    buffers: BufferTable,
    /// Deferred `ReadShared`/`WriteShared` requests → the handle (badge)
    /// whose buffer their answer goes through.
    shared_tokens: BTreeMap<Token, u64>,
    /// Capabilities of the request being handled, not yet taken.
    incoming: Vec<u64>,
}

/// What to send back now.
enum Answer {
    Bytes(Vec<u8>, Vec<u64>),
    Deferred,
}

impl Service {
    fn run(mut self) -> ! {
        loop {
            let request = match self.server.recv() {
                Ok(request) => request,
                Err(e) => {
                    dprintln!("netstack: receive failed: {e:?}");
                    continue;
                }
            };
            // Capabilities that came with the request: `Watch` keeps its
            // notification, `ShareBuffer` takes its Memory object; the rest
            // are dropped after the request.
            self.incoming = request.caps.clone();
            let answer = if request.label == sys::NO_SENDERS {
                // From the kernel: no capability of this handle is left
                // (closed without `Close`, or its holder died).
                self.forget(request.badge);
                Answer::Deferred
            } else if request.badge == 0 {
                self.service_request(&request)
            } else {
                // Decoded once, here: a handle's request.
                match request.decode::<IoRequest>() {
                    Some(IoRequest::Watch { events }) => {
                        self.incoming.clear();
                        self.watch(request.badge, events, &request.caps)
                    }
                    decoded => self.handle_request(&request, decoded),
                }
            };
            for cap in core::mem::take(&mut self.incoming) {
                let _ = sys::cap_delete(cap);
            }
            if let Answer::Bytes(bytes, caps) = answer {
                if self.server.reply_raw(&bytes, &caps).is_err() {
                    for cap in caps {
                        let _ = sys::cap_delete(cap);
                    }
                }
            }
            // Applied under the lock: the link thread waits for it.
            let mut change = link::LINK_CHANGE.lock();
            if let Some(change) = change.take() {
                self.change_link(change);
            }
            drop(change);
            let now = now_ms();
            let finished = self.stack.poll(now);
            self.complete(finished);
            let stack = &mut self.stack;
            let badges = &self.badges;
            let fired = self.watches.take_ready(|badge| match badges.get(&badge) {
                Some(&sock) => stack.poll_events(sock, now),
                None => zos_proto::watch::events::POLLNVAL,
            });
            libzos::poll::fire(fired);
            if self.stack.take_sent() {
                if let Some(kick) = self.kick {
                    let _ = sys::signal(kick);
                }
            }
            for line in self.stack.take_log() {
                dprintln!("netstack: {line}");
            }
            if let Some(text) = self.stack.take_resolv_conf() {
                link::write_resolv_conf(&text);
            }
            // A watched socket advances as a waiting read does.
            BUSY.store(
                self.stack.has_waiting() || !self.watches.is_empty(),
                Ordering::Relaxed,
            );
            let next = match (self.stack.has_nic(), self.stack.next_poll_ms(now)) {
                (true, Some(delay)) => now + delay.min(1000),
                (true, None) => now + 1000,
                (false, _) => u64::MAX,
            };
            NEXT_POLL_MS.store(next, Ordering::Relaxed);
        }
    }

    /// Takes a NIC the link thread attached, or lets go of one whose driver
    /// died (its rings are unmapped as the NIC is dropped).
    fn change_link(&mut self, change: link::LinkChange) {
        if let Some(kick) = self.kick.take() {
            let _ = sys::cap_delete(kick);
        }
        match change {
            link::LinkChange::Attached(attached) => {
                self.stack
                    .attach_nic(attached.nic, attached.mac, attached.config);
                self.kick = Some(attached.kick);
            }
            link::LinkChange::Lost => self.stack.detach_nic(),
        }
    }

    /// Answers deferred callers.
    fn complete(&mut self, finished: Vec<(Token, Reply)>) {
        for (token, reply) in finished {
            let Some(reply_cap) = self.replies.remove(&token) else {
                continue;
            };
            let (bytes, caps) = if self.service_tokens.remove(&token) {
                (service_reply(reply), Vec::new())
            } else if let Some(badge) = self.shared_tokens.remove(&token) {
                let reply = self.through_buffer(badge, reply);
                self.encode(reply)
            } else {
                self.encode(reply)
            };
            if ipc::reply_later_raw(reply_cap, &bytes, &caps).is_err() {
                let _ = sys::cap_delete(reply_cap);
                for cap in caps {
                    let _ = sys::cap_delete(cap);
                }
            }
        }
    }

    fn service_request(&mut self, request: &Received) -> Answer {
        let response = match request.decode::<NetRequest>() {
            None => NetResponse::Err(EINVAL),
            Some(NetRequest::Tick) => NetResponse::Ok,
            Some(NetRequest::Interfaces) => NetResponse::Interfaces(self.stack.interfaces()),
            Some(NetRequest::Ping {
                to,
                seq,
                len,
                timeout_ms,
            }) => {
                let token = self.next_token;
                self.next_token += 1;
                let reply = self
                    .stack
                    .ping(token, to, seq, len as usize, timeout_ms, now_ms());
                return self.service_answer(token, reply);
            }
            Some(NetRequest::Resolve { name }) => {
                let token = self.next_token;
                self.next_token += 1;
                // The file is the user's to edit (as programs that read it
                // see it): its servers, read back before each query.
                if let Some(servers) = link::read_resolv_conf() {
                    self.stack.use_resolv_conf(servers);
                }
                let reply = self.stack.resolve(token, &name, now_ms());
                return self.service_answer(token, reply);
            }
            Some(NetRequest::Memory) => {
                let heap = libzos::rt::heap_usage();
                let (sockets, socket_buffers) = self.stack.buffers();
                NetResponse::Memory(NetMemory {
                    heap_in_use: heap.in_use,
                    heap_mapped: heap.mapped,
                    sockets,
                    socket_buffers,
                })
            }
            Some(NetRequest::List) => {
                let mut list = self.stack.list();
                loop {
                    if let Ok(bytes) = ipc::encode_vec(&NetResponse::Sockets(list.clone())) {
                        return Answer::Bytes(bytes, Vec::new());
                    }
                    // Too many to fit one message: the first ones.
                    let keep = list.len() / 2;
                    list.truncate(keep);
                }
            }
            Some(NetRequest::Socket { kind, nonblocking }) => {
                match self.stack.socket(kind, nonblocking) {
                    Ok(sock) => match self.mint(sock) {
                        Some(cap) => return reply_bytes(&NetResponse::Socket, alloc::vec![cap]),
                        None => {
                            let _ = self.stack.close(sock, now_ms());
                            NetResponse::Err(EIO)
                        }
                    },
                    Err(e) => NetResponse::Err(e),
                }
            }
        };
        reply_bytes(&response, Vec::new())
    }

    /// A service request's answer now, or deferred until the stack finishes it.
    fn service_answer(&mut self, token: Token, reply: Option<Reply>) -> Answer {
        match reply {
            Some(reply) => Answer::Bytes(service_reply(reply), Vec::new()),
            None => match self.server.defer() {
                Ok(reply_cap) => {
                    self.replies.insert(token, reply_cap);
                    self.service_tokens.insert(token);
                    Answer::Deferred
                }
                Err(_) => reply_bytes(&NetResponse::Err(EIO), Vec::new()),
            },
        }
    }

    /// `Watch`: the socket's events now; the notification that came is kept
    /// when none of `events` is there (the loop signals it later).
    fn watch(&mut self, badge: u64, events: u16, caps: &[u64]) -> Answer {
        let notification = caps.first().copied();
        for &cap in caps.iter().skip(1) {
            let _ = sys::cap_delete(cap);
        }
        let Some(&sock) = self.badges.get(&badge) else {
            libzos::poll::discard(notification);
            return reply_bytes(&IoResponse::Err(EBADF), Vec::new());
        };
        let ready = self.stack.poll_events(sock, now_ms());
        match notification {
            Some(cap) if !fires(events, ready) => {
                libzos::poll::discard(self.watches.add(badge, events, cap));
            }
            other => libzos::poll::discard(other),
        }
        reply_bytes(&IoResponse::Ready(ready), Vec::new())
    }

    /// Drops the handle `badge` (its socket closes with its last handle).
    fn forget(&mut self, badge: u64) {
        libzos::poll::discard(self.watches.remove(badge));
        if let Some(released) = self.buffers.detach(badge) {
            unmap(released);
        }
        if let Some(sock) = self.badges.remove(&badge) {
            let finished = self.stack.close(sock, now_ms());
            self.complete(finished);
        }
    }

    /// A new badged capability naming `sock`, watched: when its last copy is
    /// gone the kernel sends `NO_SENDERS`, so a dead client's sockets close.
    /// Badges count up and are never reused.
    fn mint(&mut self, sock: SockId) -> Option<u64> {
        let badge = self.next_badge;
        let cap = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            badge,
        )
        .ok()?;
        self.next_badge += 1;
        self.badges.insert(badge, sock);
        Some(cap)
    }

    fn handle_request(&mut self, request: &Received, decoded: Option<IoRequest>) -> Answer {
        let Some(decoded) = decoded else {
            return reply_bytes(&IoResponse::Err(EINVAL), Vec::new());
        };
        let Some(&sock) = self.badges.get(&request.badge) else {
            return reply_bytes(&IoResponse::Err(EBADF), Vec::new());
        };
        let token = self.next_token;
        self.next_token += 1;
        let now = now_ms();
        let outcome = match decoded {
            IoRequest::Read { max } => {
                self.stack
                    .read(token, sock, (max as usize).min(MAX_IO_CHUNK), now)
            }
            IoRequest::Write { data } => self.stack.write(token, sock, data, now),
            IoRequest::ShareBuffer => Some(self.share_buffer(request.badge)),
            IoRequest::ReadShared { max, offset: None } => {
                let Some(window) = self.buffers.window(request.badge) else {
                    return reply_bytes(&IoResponse::Err(EINVAL), Vec::new());
                };
                let max = shared::read_max(window, max);
                self.shared_tokens.insert(token, request.badge);
                self.stack.read(token, sock, max, now)
            }
            IoRequest::WriteShared { len, offset: None } => {
                let Some(window) = self.buffers.window(request.badge) else {
                    return reply_bytes(&IoResponse::Err(EINVAL), Vec::new());
                };
                let len = match shared::write_len(window, len) {
                    Ok(len) => len,
                    Err(e) => return reply_bytes(&IoResponse::Err(e), Vec::new()),
                };
                // Copied out now: the client waits for the answer before it
                // uses its buffer again, and the stack keeps a waiting
                // write's bytes.
                let data = load(window, len);
                self.shared_tokens.insert(token, request.badge);
                self.stack.write_owned(token, sock, data, now)
            }
            IoRequest::Net(op) => self.stack.request(token, sock, &op, now),
            IoRequest::Close => {
                self.forget(request.badge);
                Some(Reply::Ok)
            }
            IoRequest::Clone => {
                if !self.stack.add_ref(sock) {
                    return reply_bytes(&IoResponse::Err(EBADF), Vec::new());
                }
                return match self.mint(sock) {
                    Some(cap) => reply_bytes(&IoResponse::Cloned, alloc::vec![cap]),
                    None => {
                        let _ = self.stack.close(sock, now);
                        reply_bytes(&IoResponse::Err(EIO), Vec::new())
                    }
                };
            }
            IoRequest::Stat => {
                return reply_bytes(
                    &IoResponse::Stat(HandleStat {
                        kind: HandleKind::Socket,
                        size: 0,
                    }),
                    Vec::new(),
                )
            }
            IoRequest::SetNonBlocking(on) => {
                self.stack.set_nonblocking(sock, on);
                Some(Reply::Ok)
            }
            IoRequest::Sync => Some(Reply::Ok),
            IoRequest::Readable => Some(match self.stack.readable(sock, now) {
                true => Reply::Ok,
                false => Reply::Err(EAGAIN),
            }),
            IoRequest::Seek { .. }
            | IoRequest::ReadAt { .. }
            | IoRequest::WriteAt { .. }
            | IoRequest::ReadShared { .. }
            | IoRequest::WriteShared { .. } => Some(Reply::Err(ESPIPE)),
            _ => Some(Reply::Err(ENOTTY)),
        };
        let outcome = match (outcome, self.shared_tokens.remove(&token)) {
            (Some(reply), Some(badge)) => Some(self.through_buffer(badge, reply)),
            (None, Some(badge)) => {
                self.shared_tokens.insert(token, badge);
                None
            }
            (outcome, None) => outcome,
        };
        match outcome {
            Some(reply) => {
                let (bytes, caps) = self.encode(reply);
                Answer::Bytes(bytes, caps)
            }
            None => match self.server.defer() {
                Ok(reply_cap) => {
                    self.replies.insert(token, reply_cap);
                    Answer::Deferred
                }
                Err(_) => {
                    self.shared_tokens.remove(&token);
                    reply_bytes(&IoResponse::Err(EIO), Vec::new())
                }
            },
        }
    }

    /// `ShareBuffer`: maps the Memory capability that came with the request
    /// (once per distinct buffer) as the handle's transfer buffer.
    fn share_buffer(&mut self, badge: u64) -> Reply {
        if self.incoming.is_empty() {
            return Reply::Err(EINVAL);
        }
        let memory = self.incoming.remove(0);
        // Plain memory only (no device regions); its first frame names it.
        let (size, key) = match sys::memory_info(memory) {
            Ok((size, first_frame, 0)) => (size, first_frame),
            _ => {
                let _ = sys::cap_delete(memory);
                return Reply::Err(EINVAL);
            }
        };
        let attached = match self.buffers.attach(badge, key, size as usize, memory) {
            Ok(attached) => attached,
            Err(e) => {
                dprintln!("netstack: refused a shared buffer of {size} bytes (error {e})");
                let _ = sys::cap_delete(memory);
                return Reply::Err(e);
            }
        };
        if let Some(released) = attached.released {
            unmap(released);
        }
        if !attached.map {
            let _ = sys::cap_delete(memory);
            return Reply::Ok;
        }
        let va = window_va(attached.window.index);
        let pages = size / 4096;
        if sys::memory_map(memory, sys::SELF, va, 0, pages, map_flags::WRITE).is_err() {
            // Not mapped: forget it without unmapping.
            if let Some(released) = self.buffers.detach(badge) {
                let _ = sys::cap_delete(released.memory);
            }
            return Reply::Err(EINVAL);
        }
        Reply::Ok
    }

    /// A finished `ReadShared`/`WriteShared`: data goes into the handle's
    /// buffer and the answer becomes a byte count.
    fn through_buffer(&mut self, badge: u64, reply: Reply) -> Reply {
        match reply {
            Reply::Written(n) => Reply::Transferred(n),
            Reply::Data(data) => match self.buffers.window(badge) {
                Some(window) => Reply::Transferred(store(window, &data) as u32),
                // The buffer was replaced or the handle closed meanwhile.
                None => Reply::Err(EBADF),
            },
            other => other,
        }
    }

    /// The message for a reply (minting a handle for an accepted connection).
    fn encode(&mut self, reply: Reply) -> (Vec<u8>, Vec<u64>) {
        let mut caps = Vec::new();
        let response = match &reply {
            Reply::Ok => IoResponse::Ok,
            Reply::Err(e) => IoResponse::Err(*e),
            Reply::Data(data) => IoResponse::Data(data),
            Reply::Written(n) => IoResponse::Written(*n),
            Reply::Transferred(n) => IoResponse::Transferred(*n),
            Reply::Accepted { sock, peer } => match self.mint(*sock) {
                Some(cap) => {
                    caps.push(cap);
                    IoResponse::Net(SocketResponse::Accepted { peer: *peer })
                }
                None => {
                    let _ = self.stack.close(*sock, now_ms());
                    IoResponse::Err(EIO)
                }
            },
            Reply::Addr(addr) => IoResponse::Net(SocketResponse::Addr(*addr)),
            Reply::Opt(value) => IoResponse::Net(SocketResponse::Opt(*value)),
            Reply::Received { from, data } => {
                IoResponse::Net(SocketResponse::Received { from: *from, data })
            }
            Reply::Resolved(_) => IoResponse::Err(EIO),
        };
        let bytes = ipc::encode_vec(&response)
            .or_else(|_| ipc::encode_vec(&IoResponse::Err(EIO)))
            .unwrap_or_default();
        (bytes, caps)
    }
}

/// Where window `index` onto a client buffer is mapped. The netstack is no
/// VFS: it uses the VFS's window range for the same purpose.
fn window_va(index: usize) -> u64 {
    WINDOWS_BASE + (index * shared::MAX_BUFFER_BYTES) as u64
}
const WINDOWS_BASE: u64 = libzos::abi::layout::VFS_WINDOWS;

/// Unmaps a buffer no handle uses any more.
fn unmap(released: shared::Released) {
    let _ = sys::memory_unmap(sys::SELF, window_va(released.index));
    let _ = sys::cap_delete(released.memory);
}

/// Copies `data` into the mapped buffer (at most its size).
fn store(window: shared::Window, data: &[u8]) -> usize {
    let count = data.len().min(window.size);
    // SAFETY: the window is mapped writable for `size` bytes while the table
    // holds it; the client may write concurrently, so only raw copies touch it.
    unsafe {
        core::ptr::copy_nonoverlapping(data.as_ptr(), window_va(window.index) as *mut u8, count)
    };
    count
}

/// The first `len` bytes (at most its size) of the mapped buffer.
fn load(window: shared::Window, len: usize) -> Vec<u8> {
    let count = len.min(window.size);
    let mut data = Vec::with_capacity(count);
    // SAFETY: as in `store`; `data` has room for `count` bytes, initialised
    // by the copy before `set_len`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            window_va(window.index) as *const u8,
            data.as_mut_ptr(),
            count,
        );
        data.set_len(count);
    }
    data
}

/// The `NetResponse` of a finished service request.
fn service_reply(reply: Reply) -> Vec<u8> {
    let response = match reply {
        Reply::Ok => NetResponse::Ok,
        Reply::Err(e) => NetResponse::Err(e),
        Reply::Resolved(addrs) => NetResponse::Resolved(addrs),
        _ => NetResponse::Err(EIO),
    };
    ipc::encode_vec(&response).unwrap_or_default()
}

fn reply_bytes<T: serde::Serialize>(response: &T, caps: Vec<u64>) -> Answer {
    match ipc::encode_vec(response) {
        Ok(bytes) => Answer::Bytes(bytes, caps),
        Err(_) => Answer::Bytes(Vec::new(), caps),
    }
}
