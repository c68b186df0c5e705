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
use libzos::abi::rights;
use libzos::dprintln;
use libzos::ipc::{self, Received, Server};
use libzos::sys;
use zos_netstack_core::{Reply, SockId, Stack, Token};
use zos_proto::errno::{EAGAIN, EBADF, EINVAL, EIO, ENOTTY, ESPIPE};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use zos_proto::net::{NetRequest, NetResponse, SocketResponse};
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
        next_badge: 1,
        next_token: 1,
        kick: None,
        service_tokens: BTreeSet::new(),
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
            for &cap in &request.caps {
                let _ = sys::cap_delete(cap);
            }
            let answer = if request.label == sys::NO_SENDERS {
                // From the kernel: no capability of this handle is left
                // (closed without `Close`, or its holder died).
                self.forget(request.badge);
                Answer::Deferred
            } else if request.badge == 0 {
                self.service_request(&request)
            } else {
                self.handle_request(&request)
            };
            if let Answer::Bytes(bytes, caps) = answer {
                if self.server.reply_raw(&bytes, &caps).is_err() {
                    for cap in caps {
                        let _ = sys::cap_delete(cap);
                    }
                }
            }
            if let Some(attached) = link::ATTACHED.lock().take() {
                self.stack
                    .attach_nic(attached.nic, attached.mac, attached.config);
                self.kick = Some(attached.kick);
            }
            let now = now_ms();
            let finished = self.stack.poll(now);
            self.complete(finished);
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
            BUSY.store(self.stack.has_waiting(), Ordering::Relaxed);
            let next = match (self.stack.has_nic(), self.stack.next_poll_ms(now)) {
                (true, Some(delay)) => now + delay.min(1000),
                (true, None) => now + 1000,
                (false, _) => u64::MAX,
            };
            NEXT_POLL_MS.store(next, Ordering::Relaxed);
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
                let reply = self.stack.resolve(token, &name, now_ms());
                return self.service_answer(token, reply);
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

    /// Drops the handle `badge` (its socket closes with its last handle).
    fn forget(&mut self, badge: u64) {
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

    fn handle_request(&mut self, request: &Received) -> Answer {
        let Some(decoded) = request.decode::<IoRequest>() else {
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
            IoRequest::Seek { .. } | IoRequest::ReadAt { .. } | IoRequest::WriteAt { .. } => {
                Some(Reply::Err(ESPIPE))
            }
            _ => Some(Reply::Err(ENOTTY)),
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
                Err(_) => reply_bytes(&IoResponse::Err(EIO), Vec::new()),
            },
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
