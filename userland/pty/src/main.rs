//! pty — the pseudo-terminal service (docs/terminals.md).
//!
//! One thread serves one endpoint. Badge 0 (the service capability, held by
//! the VFS) speaks `zos_proto::pty::PtyRequest`: open a master (`/dev/ptmx`),
//! open slave N (`/dev/pts/N`), list the ptys. Every other badge is an open
//! handle of one side of one pty and speaks `zos_proto::io::IoRequest`.
//! The pair's logic (the console's line discipline, output buffering,
//! hang-up) is `zos_tty_core::pty`, tested on the host; this file keeps the
//! handles and the readers and writers that wait (deferred replies), and
//! asks init to signal the foreground process group (Ctrl-C: SIGINT, a
//! resize: SIGWINCH, the master's last close: SIGHUP).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::vec::Vec;
use libzos::abi::rights;
use libzos::ipc::{self, Received, Server};
use libzos::proto::errno::{EAGAIN, EBADF, EINVAL, EIO, ENOENT, ENOTTY, ESPIPE, ESRCH};
use libzos::proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use libzos::proto::proc::signal;
use libzos::proto::MAX_IO_CHUNK;
use libzos::{println, sys};
use zos_proto::pty::{PtyRequest, PtyResponse};
use zos_proto::watch::{fires, WatchList};
use zos_tty_core::pty::{Pty, ReadOutcome, Side, WriteOutcome};
use zos_tty_core::Event;

libzos::entry!(main);

/// The badge of the service capability (opens ptys).
const SERVICE_BADGE: u64 = 0;
/// Most ptys at once (`/dev/pts/0` to `/dev/pts/63`).
const MAX_PTYS: u32 = 64;

fn main(_arg: u64) -> i64 {
    let Some(endpoint) = libzos::rt::granted("endpoint") else {
        println!("pty: no endpoint granted (set provides = true in the service table)");
        return 1;
    };
    Service::new(endpoint).run()
}

/// An open handle: one side of one pty.
struct Handle {
    pty: u32,
    side: Side,
    /// Key of the open-file state shared with its dups.
    open_file: u64,
}

/// What dups of one open share.
struct OpenFile {
    nonblocking: bool,
    handles: usize,
}

/// A read whose reply waits for data.
struct WaitingRead {
    reply: u64,
    handle: u64,
    max: usize,
}

/// A slave write waiting for room in the output buffer.
struct WaitingWrite {
    reply: u64,
    handle: u64,
    data: Vec<u8>,
    written: usize,
}

/// A pty and the callers waiting on it.
struct Entry {
    pty: Pty,
    master_reads: VecDeque<WaitingRead>,
    slave_reads: VecDeque<WaitingRead>,
    writes: VecDeque<WaitingWrite>,
}

/// How one request is answered.
enum Outcome {
    Io(IoResponse<'static>),
    Data(Vec<u8>),
    Name(alloc::string::String),
    /// An encoded `PtyResponse`.
    Raw(Vec<u8>),
    /// A reply with a new handle's capability (moved to the caller).
    WithCap(Vec<u8>, u64),
    /// Saved; a later event answers it (or nobody to answer).
    Deferred,
}

struct Service {
    server: Server,
    endpoint: u64,
    ptys: BTreeMap<u32, Entry>,
    handles: BTreeMap<u64, Handle>,
    open_files: BTreeMap<u64, OpenFile>,
    next_badge: u64,
    next_open_file: u64,
    /// `poll` watches by handle badge (`zos_proto::watch`).
    watches: WatchList,
}

impl Service {
    fn new(endpoint: u64) -> Self {
        Service {
            server: Server::new(endpoint),
            endpoint,
            ptys: BTreeMap::new(),
            handles: BTreeMap::new(),
            open_files: BTreeMap::new(),
            // Not counted from 1: a dead predecessor's handles reach this instance too.
            next_badge: libzos::ipc::first_badge(),
            next_open_file: 0,
            watches: WatchList::new(),
        }
    }

    fn run(&mut self) -> ! {
        loop {
            let request = match self.server.recv() {
                Ok(request) => request,
                Err(e) => {
                    println!("pty: receive failed: {e:?}");
                    continue;
                }
            };
            let outcome = self.handle(&request);
            // Reply, then receive (as the console does: ReplyRecv would
            // receive for the wrong thread when the reply preempts).
            let replied = match outcome {
                Outcome::Io(response) => self.server.reply(&response, &[]),
                Outcome::Data(data) => {
                    let replied = self.server.reply(&IoResponse::Data(&data), &[]);
                    if replied.is_err() {
                        // The reader's call ended (a signal) after the data
                        // left the buffer: keep it for the next read.
                        self.unread(request.badge, data);
                    }
                    replied
                }
                Outcome::Name(name) => self.server.reply(&IoResponse::Name(&name), &[]),
                Outcome::Raw(bytes) => self.server.reply_raw(&bytes, &[]),
                Outcome::WithCap(bytes, cap) => {
                    // Sent or not, the capability leaves here (the kernel
                    // deletes a reply's undelivered capabilities).
                    self.server.reply_raw(&bytes, &[cap])
                }
                Outcome::Deferred => Ok(()),
            };
            match replied {
                // The caller's call ended first (a signal, or it died).
                Err(ipc::IpcError::Sys(e)) if e.is(sys::SysError::NoReplyTarget) => {}
                Err(e) => println!("pty: reply to badge {} failed: {e:?}", request.badge),
                Ok(()) => {}
            }
        }
    }

    /// Puts `data` read through handle `badge` back at the front of its
    /// side's input.
    fn unread(&mut self, badge: u64, data: Vec<u8>) {
        let Some(handle) = self.handles.get(&badge) else {
            return;
        };
        if let Some(entry) = self.ptys.get_mut(&handle.pty) {
            entry.pty.unread(handle.side, data);
        }
    }

    fn handle(&mut self, request: &Received) -> Outcome {
        let outcome = self.handle_request(request);
        // Whatever the request changed may answer a `poll`.
        let mut watches = core::mem::take(&mut self.watches);
        let fired = watches.take_ready(|badge| self.poll_events(badge));
        self.watches = watches;
        libzos::poll::fire(fired);
        outcome
    }

    /// `poll` events of handle `badge` (reads already waiting come first;
    /// a handle gone reads as hung up).
    fn poll_events(&self, badge: u64) -> u16 {
        use zos_proto::watch::events::{POLLHUP, POLLIN};
        let Some(handle) = self.handles.get(&badge) else {
            return POLLHUP;
        };
        let Some(entry) = self.ptys.get(&handle.pty) else {
            return POLLHUP;
        };
        let queue_empty = match handle.side {
            Side::Master => entry.master_reads.is_empty(),
            Side::Slave => entry.slave_reads.is_empty(),
        };
        let events = entry.pty.poll_events(handle.side);
        if queue_empty {
            events
        } else {
            events & !POLLIN
        }
    }

    /// `Watch`: the handle's events now; the notification that came is
    /// kept when none of `events` is there.
    fn watch(&mut self, badge: u64, events: u16, caps: &[u64]) -> Outcome {
        let notification = caps.first().copied();
        ipc::drop_caps(caps.get(1..).unwrap_or(&[]));
        if !self.handles.contains_key(&badge) {
            libzos::poll::discard(notification);
            return Outcome::Io(IoResponse::Err(EBADF));
        }
        let ready = self.poll_events(badge);
        match notification {
            Some(cap) if !fires(events, ready) => {
                libzos::poll::discard(self.watches.add(badge, events, cap));
            }
            other => libzos::poll::discard(other),
        }
        Outcome::Io(IoResponse::Ready(ready))
    }

    fn handle_request(&mut self, request: &Received) -> Outcome {
        let badge = request.badge;
        if request.label != sys::NO_SENDERS && badge != SERVICE_BADGE {
            if let Some(IoRequest::Watch { events }) = request.decode::<IoRequest>() {
                return self.watch(badge, events, &request.caps);
            }
        }
        ipc::drop_caps(&request.caps);
        if request.label == sys::NO_SENDERS {
            if badge != SERVICE_BADGE {
                self.close(badge);
            }
            return Outcome::Deferred;
        }
        if badge == SERVICE_BADGE {
            return match request.decode::<PtyRequest>() {
                Some(pty_request) => self.service_request(pty_request),
                None => pty_answer(&PtyResponse::Err(EINVAL)),
            };
        }
        let Some(decoded) = request.decode::<IoRequest>() else {
            return Outcome::Io(IoResponse::Err(EINVAL));
        };
        let Some((index, side, nonblocking)) = self.handles.get(&badge).map(|h| {
            let nonblocking = self
                .open_files
                .get(&h.open_file)
                .is_some_and(|f| f.nonblocking);
            (h.pty, h.side, nonblocking)
        }) else {
            return Outcome::Io(IoResponse::Err(EBADF));
        };
        let outcome = self.io_request(badge, index, side, nonblocking, decoded);
        self.pump(index);
        outcome
    }

    // ---- the service capability ------------------------------------------------

    fn service_request(&mut self, request: PtyRequest) -> Outcome {
        match request {
            PtyRequest::OpenMaster => {
                let Some(index) = (0..MAX_PTYS).find(|i| !self.ptys.contains_key(i)) else {
                    return pty_answer(&PtyResponse::Err(zos_proto::errno::ENOSPC));
                };
                self.ptys.insert(
                    index,
                    Entry {
                        pty: Pty::new(),
                        master_reads: VecDeque::new(),
                        slave_reads: VecDeque::new(),
                        writes: VecDeque::new(),
                    },
                );
                let open_file = self.new_open_file();
                match self.mint(index, Side::Master, open_file) {
                    Ok(cap) => with_cap(&PtyResponse::Opened { index }, cap),
                    Err(e) => {
                        self.open_files.remove(&open_file);
                        self.ptys.remove(&index);
                        pty_answer(&PtyResponse::Err(e))
                    }
                }
            }
            PtyRequest::OpenSlave { index } => {
                let Some(entry) = self.ptys.get(&index) else {
                    return pty_answer(&PtyResponse::Err(ENOENT));
                };
                if !entry.pty.may_open_slave() {
                    return pty_answer(&PtyResponse::Err(EIO));
                }
                let open_file = self.new_open_file();
                match self.mint(index, Side::Slave, open_file) {
                    Ok(cap) => {
                        if let Some(entry) = self.ptys.get_mut(&index) {
                            entry.pty.attach(Side::Slave);
                        }
                        with_cap(&PtyResponse::Opened { index }, cap)
                    }
                    Err(e) => {
                        self.open_files.remove(&open_file);
                        pty_answer(&PtyResponse::Err(e))
                    }
                }
            }
            PtyRequest::List => pty_answer(&PtyResponse::List(self.ptys.keys().copied().collect())),
        }
    }

    fn new_open_file(&mut self) -> u64 {
        let key = self.next_open_file;
        self.next_open_file += 1;
        self.open_files.insert(
            key,
            OpenFile {
                nonblocking: false,
                handles: 0,
            },
        );
        key
    }

    /// A new watched handle capability of `side` of pty `index`. The caller
    /// counts a new slave on the pty (a new master is counted by `Pty::new`).
    fn mint(&mut self, index: u32, side: Side, open_file: u64) -> Result<u64, i32> {
        let badge = self.next_badge;
        let cap = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            badge,
        )
        .map_err(|_| EIO)?;
        self.next_badge += 1;
        if let Some(file) = self.open_files.get_mut(&open_file) {
            file.handles += 1;
        }
        self.handles.insert(
            badge,
            Handle {
                pty: index,
                side,
                open_file,
            },
        );
        Ok(cap)
    }

    // ---- handle requests ---------------------------------------------------------

    fn io_request(
        &mut self,
        badge: u64,
        index: u32,
        side: Side,
        nonblocking: bool,
        request: IoRequest,
    ) -> Outcome {
        let Some(entry) = self.ptys.get_mut(&index) else {
            return Outcome::Io(IoResponse::Err(EIO));
        };
        // Job control applies to the slave side only.
        let request = match request {
            IoRequest::TerminalRead { max, group } => {
                let foreground = entry.pty.foreground;
                if side == Side::Slave && foreground != 0 && foreground != group {
                    return Outcome::Io(IoResponse::Background { foreground });
                }
                IoRequest::Read { max }
            }
            other => other,
        };
        match request {
            IoRequest::Read { max } => {
                let max = (max as usize).min(MAX_IO_CHUNK);
                let queue_empty = match side {
                    Side::Master => entry.master_reads.is_empty(),
                    Side::Slave => entry.slave_reads.is_empty(),
                };
                if queue_empty {
                    let outcome = match side {
                        Side::Master => entry.pty.master_read(max),
                        Side::Slave => entry.pty.slave_read(max),
                    };
                    match outcome {
                        ReadOutcome::Data(data) => return Outcome::Data(data),
                        ReadOutcome::HungUp => return Outcome::Io(IoResponse::Err(EIO)),
                        ReadOutcome::Wait => {}
                    }
                }
                if nonblocking {
                    return Outcome::Io(IoResponse::Err(EAGAIN));
                }
                match self.server.defer() {
                    Ok(reply) => {
                        let waiting = WaitingRead {
                            reply,
                            handle: badge,
                            max,
                        };
                        match side {
                            Side::Master => entry.master_reads.push_back(waiting),
                            Side::Slave => entry.slave_reads.push_back(waiting),
                        }
                        Outcome::Deferred
                    }
                    Err(_) => Outcome::Io(IoResponse::Err(EIO)),
                }
            }
            IoRequest::Write { data } => match side {
                Side::Master => {
                    let events = entry.pty.master_write(data);
                    let foreground = entry.pty.foreground;
                    for event in events {
                        let signal = match event {
                            Event::Interrupt => signal::SIGINT,
                            Event::Quit => signal::SIGQUIT,
                            Event::Suspend => signal::SIGTSTP,
                        };
                        signal_group(foreground, signal);
                    }
                    Outcome::Io(IoResponse::Written(data.len() as u32))
                }
                Side::Slave => {
                    let outcome = if entry.writes.is_empty() {
                        entry.pty.slave_write(data)
                    } else {
                        WriteOutcome::Wait
                    };
                    match outcome {
                        WriteOutcome::Wrote(n) => Outcome::Io(IoResponse::Written(n as u32)),
                        WriteOutcome::HungUp => Outcome::Io(IoResponse::Err(EIO)),
                        WriteOutcome::Wait if nonblocking => Outcome::Io(IoResponse::Err(EAGAIN)),
                        WriteOutcome::Wait => match self.server.defer() {
                            Ok(reply) => {
                                entry.writes.push_back(WaitingWrite {
                                    reply,
                                    handle: badge,
                                    data: data.to_vec(),
                                    written: 0,
                                });
                                Outcome::Deferred
                            }
                            Err(_) => Outcome::Io(IoResponse::Err(EIO)),
                        },
                    }
                }
            },
            IoRequest::Readable => {
                let queue_empty = match side {
                    Side::Master => entry.master_reads.is_empty(),
                    Side::Slave => entry.slave_reads.is_empty(),
                };
                Outcome::Io(if queue_empty && entry.pty.readable(side) {
                    IoResponse::Ok
                } else {
                    IoResponse::Err(EAGAIN)
                })
            }
            IoRequest::Stat => Outcome::Io(IoResponse::Stat(HandleStat {
                kind: HandleKind::Terminal,
                size: 0,
            })),
            IoRequest::GetTermios => {
                Outcome::Io(IoResponse::Termios(entry.pty.discipline.settings()))
            }
            IoRequest::SetTermios(settings) => {
                entry.pty.discipline.set_settings(settings);
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::SetForeground { pgid } => {
                entry.pty.foreground = pgid;
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::GetForeground => Outcome::Io(IoResponse::Foreground(entry.pty.foreground)),
            IoRequest::GetWinSize => Outcome::Io(IoResponse::WinSize(entry.pty.window)),
            IoRequest::SetWinSize(size) => {
                if entry.pty.set_window(size) {
                    signal_group(entry.pty.foreground, signal::SIGWINCH);
                }
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::PtyNumber if side == Side::Master => {
                Outcome::Io(IoResponse::PtyNumber(index))
            }
            IoRequest::SetPtyLock(locked) if side == Side::Master => {
                entry.pty.locked = locked;
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::PtyNumber | IoRequest::SetPtyLock(_) => Outcome::Io(IoResponse::Err(ENOTTY)),
            IoRequest::TerminalName => Outcome::Name(match side {
                Side::Master => alloc::string::String::from("/dev/ptmx"),
                Side::Slave => format!("/dev/pts/{index}"),
            }),
            IoRequest::SetNonBlocking(on) => {
                let key = self.handles.get(&badge).map(|h| h.open_file);
                if let Some(file) = key.and_then(|k| self.open_files.get_mut(&k)) {
                    file.nonblocking = on;
                }
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::Clone => self.dup(badge, index, side),
            IoRequest::Close => {
                self.close(badge);
                Outcome::Io(IoResponse::Ok)
            }
            IoRequest::Sync => Outcome::Io(IoResponse::Ok),
            IoRequest::Seek { .. } | IoRequest::ReadAt { .. } | IoRequest::WriteAt { .. } => {
                Outcome::Io(IoResponse::Err(ESPIPE))
            }
            _ => Outcome::Io(IoResponse::Err(ENOTTY)),
        }
    }

    /// `Clone`: a second handle of the same open file (a `dup`).
    fn dup(&mut self, from: u64, index: u32, side: Side) -> Outcome {
        let Some(open_file) = self.handles.get(&from).map(|h| h.open_file) else {
            return Outcome::Io(IoResponse::Err(EBADF));
        };
        match self.mint(index, side, open_file) {
            Ok(cap) => {
                if let Some(entry) = self.ptys.get_mut(&index) {
                    entry.pty.attach(side);
                }
                match ipc::encode_vec(&IoResponse::Cloned) {
                    Ok(bytes) => Outcome::WithCap(bytes, cap),
                    Err(_) => Outcome::Io(IoResponse::Err(EIO)),
                }
            }
            Err(e) => Outcome::Io(IoResponse::Err(e)),
        }
    }

    /// Forgets a handle: its waiting calls fail with `EBADF`; the last
    /// master hangs the pty up; an unused pty is forgotten.
    fn close(&mut self, badge: u64) {
        libzos::poll::discard(self.watches.remove(badge));
        let Some(handle) = self.handles.remove(&badge) else {
            return;
        };
        if let Some(file) = self.open_files.get_mut(&handle.open_file) {
            file.handles = file.handles.saturating_sub(1);
            if file.handles == 0 {
                self.open_files.remove(&handle.open_file);
            }
        }
        let Some(entry) = self.ptys.get_mut(&handle.pty) else {
            return;
        };
        let mut abandoned = Vec::new();
        for queue in [&mut entry.master_reads, &mut entry.slave_reads] {
            queue.retain(|w| {
                let keep = w.handle != badge;
                if !keep {
                    abandoned.push(w.reply);
                }
                keep
            });
        }
        entry.writes.retain(|w| {
            let keep = w.handle != badge;
            if !keep {
                abandoned.push(w.reply);
            }
            keep
        });
        for reply in abandoned {
            let _ = ipc::reply_later(reply, &IoResponse::Err(EBADF), &[]);
        }
        if entry.pty.detach(handle.side) && handle.side == Side::Master {
            signal_group(entry.pty.foreground, signal::SIGHUP);
        }
        self.pump(handle.pty);
        if self.ptys.get(&handle.pty).is_some_and(|e| e.pty.unused()) {
            self.ptys.remove(&handle.pty);
        }
    }

    /// Answers every waiting reader and writer of pty `index` that can be
    /// answered now.
    fn pump(&mut self, index: u32) {
        let Some(entry) = self.ptys.get_mut(&index) else {
            return;
        };
        loop {
            let mut progress = false;
            while let Some(write) = entry.writes.front_mut() {
                match entry.pty.slave_write(&write.data[write.written..]) {
                    WriteOutcome::Wrote(n) => {
                        write.written += n;
                        progress = true;
                        if write.written < write.data.len() {
                            continue;
                        }
                        let reply = IoResponse::Written(write.written as u32);
                        let _ = ipc::reply_later(write.reply, &reply, &[]);
                        entry.writes.pop_front();
                    }
                    WriteOutcome::HungUp => {
                        let reply = if write.written > 0 {
                            IoResponse::Written(write.written as u32)
                        } else {
                            IoResponse::Err(EIO)
                        };
                        let _ = ipc::reply_later(write.reply, &reply, &[]);
                        entry.writes.pop_front();
                        progress = true;
                    }
                    WriteOutcome::Wait => break,
                }
            }
            for side in [Side::Master, Side::Slave] {
                loop {
                    let queue = match side {
                        Side::Master => &mut entry.master_reads,
                        Side::Slave => &mut entry.slave_reads,
                    };
                    let Some(max) = queue.front().map(|w| w.max) else {
                        break;
                    };
                    let outcome = match side {
                        Side::Master => entry.pty.master_read(max),
                        Side::Slave => entry.pty.slave_read(max),
                    };
                    let queue = match side {
                        Side::Master => &mut entry.master_reads,
                        Side::Slave => &mut entry.slave_reads,
                    };
                    let Some(waiting) = queue.pop_front() else {
                        break;
                    };
                    match outcome {
                        ReadOutcome::Wait => {
                            queue.push_front(waiting);
                            break;
                        }
                        ReadOutcome::HungUp => {
                            let _ = ipc::reply_later(waiting.reply, &IoResponse::Err(EIO), &[]);
                        }
                        ReadOutcome::Data(data) => {
                            let sent =
                                ipc::reply_later(waiting.reply, &IoResponse::Data(&data), &[]);
                            if sent.is_err() {
                                // The reader went away: the next one gets it.
                                entry.pty.unread(side, data);
                            }
                        }
                    }
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
    }
}

fn pty_answer(response: &PtyResponse) -> Outcome {
    match ipc::encode_vec(response) {
        Ok(bytes) => Outcome::Raw(bytes),
        Err(_) => Outcome::Io(IoResponse::Err(EIO)),
    }
}

fn with_cap(response: &PtyResponse, cap: u64) -> Outcome {
    match ipc::encode_vec(response) {
        Ok(bytes) => Outcome::WithCap(bytes, cap),
        Err(_) => {
            let _ = sys::cap_delete(cap);
            Outcome::Io(IoResponse::Err(EIO))
        }
    }
}

/// Sends `signal` to the pty's foreground group `pgid` (0: nobody).
fn signal_group(pgid: u32, signal: u32) {
    match libzos::posix::kill_group(pgid, signal) {
        // The group has already gone (its last process exited first).
        Err(libzos::posix::Errno(ESRCH)) | Ok(_) => {}
        Err(e) => println!("pty: cannot signal process group {pgid}: {e:?}"),
    }
}
