//! The pipe server inside init. Each pipe end a process holds is a capability
//! to init's endpoint whose badge names a pipe reference. The badges are
//! watched (`CapMintWatched`): when the last capability of a reference is gone
//! — closed, or its holder exited, was killed or faulted — the kernel's
//! `NO_SENDERS` message closes the reference, so readers see end of file once
//! every writer is gone and writers get `EPIPE` once every reader is.
//!
//! Bytes move in one of two ways. An end that asks (`AttachRing`, every
//! libzos client except on wasm32) gets the pipe's shared-memory ring
//! (`zos_proto::ring`) and two notifications, and from then on reads and
//! writes never reach init; init only sets the ring's "no readers" / "no
//! writers" flags when the kernel reports the last reference of a side gone,
//! and frees the ring locks of processes that end. Before any end asks, the
//! bytes travel in `Read`/`Write` messages through init's buffer
//! (`pipe::Pipe`); the first ring moves those bytes into the ring. A raw
//! `Read`/`Write` on a pipe that has a ring is served from the ring without
//! blocking (`EAGAIN` where it would wait).
//!
//! `poll` (`IoRequest::Watch`, `zos_proto::watch`): each pipe keeps the
//! watches of its references. Changes init sees itself (message reads and
//! writes, closed sides) fire them directly; for a ring, init sets the
//! ring's `watch` bits and the end whose read or write makes the awaited
//! change takes the bit and sends `WakeWatchers`.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use libzos::abi::layout::{PIPE_RINGS, PIPE_RING_STRIDE};
use libzos::abi::map_flags;
use libzos::abi::rights;
use libzos::ipc;
use libzos::sys;
use zos_init_core::pipe::{Pipe, ReadOutcome, WriteOutcome};
use zos_proto::errno::*;
use zos_proto::fs::{mode, FileStat};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use zos_proto::ring::{self, Ring, RingHeader, RingRead, RingWrite, Side};
use zos_proto::watch::{events::*, fires, WatchList};

pub use zos_proto::ring::{is_pipe_badge, PIPE_TAG};

/// Rings init can map at once (one window each); past this, pipes keep to
/// messages.
const RING_WINDOWS: usize = 4096;
/// The lock owner init uses when it serves a message from a ring.
pub(crate) const INIT_PID: u32 = 1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Read,
    Write,
}

struct Reference {
    pipe: u64,
    end: End,
}

/// A pipe and the requests waiting on it: (reply capability, request, the
/// reference it came through).
struct PipeState {
    pipe: Pipe,
    blocked_readers: VecDeque<(u64, u32, u64)>,
    blocked_writers: VecDeque<(u64, Vec<u8>, u64)>,
    ring: Option<RingSlot>,
    /// `poll` watches, by reference number.
    watches: WatchList,
}

/// A pipe's shared-memory ring as init holds it: the Memory object (mapped
/// whole at `window`) and the notifications readers and writers sleep on.
struct RingSlot {
    memory: u64,
    data_available: u64,
    space_available: u64,
    window: usize,
}

impl RingSlot {
    fn va(&self) -> u64 {
        PIPE_RINGS + self.window as u64 * PIPE_RING_STRIDE
    }

    fn view(&self) -> Ring<'_> {
        let va = self.va();
        // SAFETY: `va` maps RING_BYTES bytes (read-write) for as long as this
        // slot lives: the header page, then CAPACITY data bytes; only atomics
        // and `Ring`'s checked copies touch them, and the capacity is init's
        // constant, not the (client-writable) header's.
        unsafe {
            Ring::from_raw(
                &*(va as *const RingHeader),
                (va + ring::HEADER_BYTES as u64) as *mut u8,
                ring::CAPACITY,
            )
        }
    }

    fn signal(&self, side: Side) {
        let notification = match side {
            Side::Reader => self.data_available,
            Side::Writer => self.space_available,
        };
        let _ = sys::signal(notification);
    }

    fn release(self) {
        let _ = sys::memory_unmap(sys::SELF, self.va());
        for cap in [self.memory, self.data_available, self.space_available] {
            let _ = sys::cap_delete(cap);
        }
    }
}

/// What the caller gets now.
pub enum Answer {
    Now(Vec<u8>, Vec<u64>),
    Deferred,
}

pub struct Pipes {
    endpoint: u64,
    pipes: BTreeMap<u64, PipeState>,
    refs: BTreeMap<u64, Reference>,
    next_id: u64,
    /// Ring windows free for reuse, and the first never used.
    free_windows: Vec<usize>,
    next_window: usize,
}

fn io(response: &IoResponse) -> Vec<u8> {
    ipc::encode_vec(response).unwrap_or_default()
}

impl Pipes {
    pub fn new(endpoint: u64) -> Self {
        Pipes {
            endpoint,
            pipes: BTreeMap::new(),
            refs: BTreeMap::new(),
            next_id: 1,
            free_windows: Vec::new(),
            next_window: 0,
        }
    }

    fn mint(&mut self, pipe: u64, end: End) -> Option<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let cap = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            PIPE_TAG | id,
        )
        .ok()?;
        self.refs.insert(id, Reference { pipe, end });
        Some(cap)
    }

    /// A new pipe: (read end, write end) capabilities.
    pub fn create(&mut self) -> Option<(u64, u64)> {
        let id = self.next_id;
        self.next_id += 1;
        self.pipes.insert(
            id,
            PipeState {
                pipe: Pipe::new(),
                blocked_readers: VecDeque::new(),
                blocked_writers: VecDeque::new(),
                ring: None,
                watches: WatchList::new(),
            },
        );
        let read = self.mint(id, End::Read);
        let write = self.mint(id, End::Write);
        match (read, write) {
            (Some(read), Some(write)) => Some((read, write)),
            (read, write) => {
                // Deleting what was minted closes it through NO_SENDERS.
                for cap in [read, write].into_iter().flatten() {
                    let _ = sys::cap_delete(cap);
                }
                None
            }
        }
    }

    /// The kernel says no capability of the reference `badge` names is left:
    /// close it and drop the requests that came through it (their callers are
    /// gone with the capability).
    pub fn gone(&mut self, badge: u64) {
        let id = badge & 0xFFFF_FFFF;
        if let Some(pipe) = self.refs.get(&id).map(|r| r.pipe) {
            if let Some(state) = self.pipes.get_mut(&pipe) {
                let mut dropped = Vec::new();
                state.blocked_readers.retain(|r| {
                    let keep = r.2 != id;
                    if !keep {
                        dropped.push(r.0);
                    }
                    keep
                });
                state.blocked_writers.retain(|w| {
                    let keep = w.2 != id;
                    if !keep {
                        dropped.push(w.0);
                    }
                    keep
                });
                for reply in dropped {
                    let _ = sys::cap_delete(reply);
                }
            }
        }
        self.close(id);
    }

    fn close(&mut self, id: u64) {
        let Some(reference) = self.refs.remove(&id) else {
            return;
        };
        let Some(state) = self.pipes.get_mut(&reference.pipe) else {
            return;
        };
        match reference.end {
            End::Read => state.pipe.readers = state.pipe.readers.saturating_sub(1),
            End::Write => state.pipe.writers = state.pipe.writers.saturating_sub(1),
        }
        libzos::poll::discard(state.watches.remove(id));
        if let Some(slot) = &state.ring {
            mark_closed_sides(slot, &state.pipe);
        }
        self.wake(reference.pipe);
        if let Some(state) = self.pipes.get(&reference.pipe) {
            if state.pipe.readers == 0 && state.pipe.writers == 0 {
                if let Some(slot) = self.pipes.remove(&reference.pipe).and_then(|s| s.ring) {
                    self.free_windows.push(slot.window);
                    slot.release();
                }
            }
        }
    }

    /// A process ended: frees any ring lock it held (it may have been killed
    /// in the middle of a copy), so the other ends do not wait for it.
    pub fn process_ended(&mut self, pid: u32) {
        for slot in self.pipes.values().filter_map(|s| s.ring.as_ref()) {
            let view = slot.view();
            if view.unlock(Side::Reader, pid) {
                slot.signal(Side::Reader);
            }
            if view.unlock(Side::Writer, pid) {
                slot.signal(Side::Writer);
            }
        }
    }

    /// The ring of `pipe`, created on the first `AttachRing`: the bytes the
    /// message path buffered move into it, and requests still waiting there
    /// are answered from it (`EAGAIN` if they still cannot complete).
    fn ring_of(&mut self, pipe: u64) -> Result<&RingSlot, i32> {
        let state = self.pipes.get_mut(&pipe).ok_or(EBADF)?;
        if state.ring.is_none() {
            let window = match self.free_windows.pop() {
                Some(window) => window,
                None if self.next_window < RING_WINDOWS => {
                    self.next_window += 1;
                    self.next_window - 1
                }
                None => return Err(ENOMEM),
            };
            let slot = match create_ring(window) {
                Some(slot) => slot,
                None => {
                    self.free_windows.push(window);
                    return Err(ENOMEM);
                }
            };
            let view = slot.view();
            let buffered = state.pipe.buffered();
            if let ReadOutcome::Data(bytes) = state.pipe.read(buffered) {
                // The ring holds what the message buffer could.
                let _ = view.write(&bytes);
            }
            mark_closed_sides(&slot, &state.pipe);
            for (reply, max, _) in core::mem::take(&mut state.blocked_readers) {
                let _ = ipc::reply_later_raw(reply, &ring_read(&slot, max), &[]);
            }
            for (reply, data, _) in core::mem::take(&mut state.blocked_writers) {
                let _ = ipc::reply_later_raw(reply, &ring_write(&slot, &data), &[]);
            }
            state.ring = Some(slot);
        }
        state.ring.as_ref().ok_or(ENOMEM)
    }

    /// Completes blocked readers and writers that can make progress now.
    fn wake(&mut self, pipe: u64) {
        let Some(state) = self.pipes.get_mut(&pipe) else {
            return;
        };
        loop {
            let mut progressed = false;
            if let Some(&(reply, max, _)) = state.blocked_readers.front() {
                match state.pipe.read(max as usize) {
                    ReadOutcome::Data(data) => {
                        state.blocked_readers.pop_front();
                        let _ = ipc::reply_later_raw(reply, &io(&IoResponse::Data(&data)), &[]);
                        progressed = true;
                    }
                    ReadOutcome::EndOfFile => {
                        state.blocked_readers.pop_front();
                        let _ = ipc::reply_later_raw(reply, &io(&IoResponse::Data(&[])), &[]);
                        progressed = true;
                    }
                    ReadOutcome::WouldBlock => {}
                }
            }
            if let Some((reply, data, _)) = state.blocked_writers.front() {
                match state.pipe.write(data) {
                    WriteOutcome::Written(n) => {
                        let reply = *reply;
                        state.blocked_writers.pop_front();
                        let _ =
                            ipc::reply_later_raw(reply, &io(&IoResponse::Written(n as u32)), &[]);
                        progressed = true;
                    }
                    WriteOutcome::BrokenPipe => {
                        let reply = *reply;
                        state.blocked_writers.pop_front();
                        let _ = ipc::reply_later_raw(reply, &io(&IoResponse::Err(EPIPE)), &[]);
                        progressed = true;
                    }
                    WriteOutcome::WouldBlock => {}
                }
            }
            if !progressed {
                break;
            }
        }
        self.notify_watchers(pipe);
    }

    /// `poll` events of `pipe`'s `end` now (`Ring::ready` for a ring; the
    /// same rules for the message buffer).
    fn ready(&self, pipe: u64, end: End) -> u16 {
        let Some(state) = self.pipes.get(&pipe) else {
            return POLLERR;
        };
        if let Some(slot) = &state.ring {
            return slot.view().ready(match end {
                End::Read => Side::Reader,
                End::Write => Side::Writer,
            });
        }
        let buffered = state.pipe.buffered();
        match end {
            End::Read => {
                (if buffered > 0 { POLLIN } else { 0 })
                    | (if state.pipe.writers == 0 { POLLHUP } else { 0 })
            }
            End::Write => {
                (if state.pipe.readers == 0 { POLLERR } else { 0 })
                    | (if ring::CAPACITY - buffered >= ring::PIPE_BUF {
                        POLLOUT
                    } else {
                        0
                    })
            }
        }
    }

    /// Signals the watches of `pipe` that are answered now; for a ring,
    /// asks the ends to report the changes the rest wait for (then looks
    /// once more: a change made before the bit was seen is caught here).
    fn notify_watchers(&mut self, pipe: u64) {
        loop {
            let Some(state) = self.pipes.get(&pipe) else {
                return;
            };
            if state.watches.is_empty() {
                return;
            }
            let ends: BTreeMap<u64, End> = self
                .refs
                .iter()
                .filter(|(_, r)| r.pipe == pipe)
                .map(|(&id, r)| (id, r.end))
                .collect();
            let read_ready = self.ready(pipe, End::Read);
            let write_ready = self.ready(pipe, End::Write);
            let ready_of = |id: u64| match ends.get(&id) {
                Some(End::Read) => read_ready,
                Some(End::Write) => write_ready,
                None => POLLHUP,
            };
            let Some(state) = self.pipes.get_mut(&pipe) else {
                return;
            };
            let fired = state.watches.take_ready(ready_of);
            let done = !fired.is_empty() || state.ring.is_none();
            libzos::poll::fire(fired);
            if done {
                // Message pipes: init sees every change itself. A ring
                // whose watches just fired is looked at on the next one.
                if state.ring.is_none() || state.watches.is_empty() {
                    return;
                }
                continue;
            }
            // Ring, nothing fired: ask the ends, then look once more.
            let mut bits = 0;
            let wanted_by = |end: End| {
                ends.iter()
                    .filter(|(_, &e)| e == end)
                    .any(|(&id, _)| state.watches.wants(id))
            };
            if wanted_by(End::Read) {
                bits |= ring::watch::READ;
            }
            if wanted_by(End::Write) {
                bits |= ring::watch::WRITE;
            }
            let Some(slot) = &state.ring else {
                return;
            };
            slot.view().set_watch(bits);
            let answered = state.watches.any_ready(|id| match ends.get(&id) {
                Some(End::Read) => slot.view().ready(Side::Reader),
                Some(End::Write) => slot.view().ready(Side::Writer),
                None => POLLHUP,
            });
            if !answered {
                return;
            }
        }
    }

    /// `Watch`: the events of the end now; when none answers and a
    /// notification came, it is kept (replacing the reference's earlier one).
    fn watch(&mut self, pipe: u64, end: End, id: u64, events: u16, caps: &[u64]) -> Answer {
        let ready = self.ready(pipe, end);
        let notification = caps.first().copied();
        for &cap in caps.iter().skip(1) {
            let _ = sys::cap_delete(cap);
        }
        let Some(state) = self.pipes.get_mut(&pipe) else {
            libzos::poll::discard(notification);
            return Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new());
        };
        match notification {
            Some(cap) if !fires(events, ready) => {
                libzos::poll::discard(state.watches.add(id, events, cap));
                self.notify_watchers(pipe);
            }
            other => libzos::poll::discard(other),
        }
        Answer::Now(io(&IoResponse::Ready(self.ready(pipe, end))), Vec::new())
    }

    fn buffered(&self, pipe: u64) -> u64 {
        match self.pipes.get(&pipe) {
            Some(PipeState {
                ring: Some(slot), ..
            }) => slot.view().buffered().unwrap_or(0) as u64,
            Some(state) => state.pipe.buffered() as u64,
            None => 0,
        }
    }

    /// A raw `Read`/`Write` on a pipe whose bytes live in a ring: served from
    /// the ring now, never deferred.
    fn handle_ringed(&self, pipe: u64, end: End, request: &IoRequest) -> Option<Answer> {
        let slot = self.pipes.get(&pipe)?.ring.as_ref()?;
        let response = match (request, end) {
            (IoRequest::Read { max }, End::Read) => ring_read(slot, *max),
            (IoRequest::Write { data }, End::Write) => ring_write(slot, data),
            _ => return None,
        };
        Some(Answer::Now(response, Vec::new()))
    }

    /// Handles an io request on a pipe reference.
    pub fn handle(
        &mut self,
        server: &ipc::Server,
        badge: u64,
        request: Option<IoRequest>,
        caps: &[u64],
    ) -> Answer {
        let id = badge & 0xFFFF_FFFF;
        let drop_caps = || {
            for &cap in caps {
                let _ = sys::cap_delete(cap);
            }
        };
        let Some(reference) = self.refs.get(&id) else {
            drop_caps();
            return Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new());
        };
        let (pipe, end) = (reference.pipe, reference.end);
        let Some(request) = request else {
            drop_caps();
            return Answer::Now(io(&IoResponse::Err(EINVAL)), Vec::new());
        };
        if let IoRequest::Watch { events } = request {
            return self.watch(pipe, end, id, events, caps);
        }
        // No other pipe request carries capabilities.
        drop_caps();
        if request == IoRequest::AttachRing && self.ring_of(pipe).is_ok() {
            // Watches made before the ring now need its bits.
            self.notify_watchers(pipe);
        }
        if let Some(answer) = self.handle_ringed(pipe, end, &request) {
            self.notify_watchers(pipe);
            return answer;
        }
        match request {
            IoRequest::AttachRing => match self.ring_of(pipe) {
                Ok(slot) => {
                    let copies: Vec<u64> = [slot.memory, slot.data_available, slot.space_available]
                        .iter()
                        .filter_map(|&cap| sys::cap_copy(cap, sys::SELF, sys::NONE).ok())
                        .collect();
                    if copies.len() < 3 {
                        for cap in copies {
                            let _ = sys::cap_delete(cap);
                        }
                        return Answer::Now(io(&IoResponse::Err(ENOMEM)), Vec::new());
                    }
                    let capacity = ring::CAPACITY as u32;
                    Answer::Now(io(&IoResponse::Ring { capacity }), copies)
                }
                Err(e) => Answer::Now(io(&IoResponse::Err(e)), Vec::new()),
            },
            IoRequest::Read { max } if end == End::Read => {
                let Some(state) = self.pipes.get_mut(&pipe) else {
                    return Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new());
                };
                match state.pipe.read((max as usize).min(zos_proto::MAX_IO_CHUNK)) {
                    ReadOutcome::Data(data) => {
                        let answer = io(&IoResponse::Data(&data));
                        self.wake(pipe);
                        Answer::Now(answer, Vec::new())
                    }
                    ReadOutcome::EndOfFile => Answer::Now(io(&IoResponse::Data(&[])), Vec::new()),
                    ReadOutcome::WouldBlock => match server.defer() {
                        Ok(reply) => {
                            let max = max.min(zos_proto::MAX_IO_CHUNK as u32);
                            state.blocked_readers.push_back((reply, max, id));
                            Answer::Deferred
                        }
                        Err(_) => Answer::Now(io(&IoResponse::Err(EAGAIN)), Vec::new()),
                    },
                }
            }
            IoRequest::Write { data } if end == End::Write => {
                let Some(state) = self.pipes.get_mut(&pipe) else {
                    return Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new());
                };
                match state.pipe.write(data) {
                    WriteOutcome::Written(n) => {
                        self.wake(pipe);
                        Answer::Now(io(&IoResponse::Written(n as u32)), Vec::new())
                    }
                    WriteOutcome::BrokenPipe => {
                        Answer::Now(io(&IoResponse::Err(EPIPE)), Vec::new())
                    }
                    WriteOutcome::WouldBlock => match server.defer() {
                        Ok(reply) => {
                            state.blocked_writers.push_back((reply, data.to_vec(), id));
                            Answer::Deferred
                        }
                        Err(_) => Answer::Now(io(&IoResponse::Err(EAGAIN)), Vec::new()),
                    },
                }
            }
            IoRequest::Read { .. } | IoRequest::Write { .. } => {
                Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new())
            }
            // A read answers now with bytes buffered or every writer gone.
            IoRequest::Readable => {
                let waits = end == End::Read
                    && self
                        .pipes
                        .get(&pipe)
                        .is_some_and(|s| s.pipe.buffered() == 0 && s.pipe.writers > 0);
                let answer = if waits {
                    IoResponse::Err(EAGAIN)
                } else {
                    IoResponse::Ok
                };
                Answer::Now(io(&answer), Vec::new())
            }
            IoRequest::Close => {
                self.close(id);
                Answer::Now(io(&IoResponse::Ok), Vec::new())
            }
            IoRequest::Clone => {
                if let Some(state) = self.pipes.get_mut(&pipe) {
                    match end {
                        End::Read => state.pipe.readers += 1,
                        End::Write => state.pipe.writers += 1,
                    }
                }
                match self.mint(pipe, end) {
                    Some(cap) => Answer::Now(io(&IoResponse::Cloned), alloc::vec![cap]),
                    None => Answer::Now(io(&IoResponse::Err(ENOMEM)), Vec::new()),
                }
            }
            IoRequest::Stat => {
                let kind = if end == End::Read {
                    HandleKind::PipeRead
                } else {
                    HandleKind::PipeWrite
                };
                let size = self.buffered(pipe);
                Answer::Now(io(&IoResponse::Stat(HandleStat { kind, size })), Vec::new())
            }
            IoRequest::GetTermios
            | IoRequest::SetTermios(_)
            | IoRequest::SetForeground { .. }
            | IoRequest::GetForeground
            | IoRequest::TerminalRead { .. }
            | IoRequest::GetWinSize
            | IoRequest::SetWinSize(_)
            | IoRequest::PtyNumber
            | IoRequest::SetPtyLock(_)
            | IoRequest::TerminalName => Answer::Now(io(&IoResponse::Err(ENOTTY)), Vec::new()),
            IoRequest::SetNonBlocking(_) => Answer::Now(io(&IoResponse::Ok), Vec::new()),
            IoRequest::Fstat => {
                let size = self.buffered(pipe);
                let stat = FileStat {
                    ino: id,
                    mode: mode::S_IFIFO | 0o600,
                    nlink: 1,
                    size,
                    block_size: 4096,
                    ..FileStat::default()
                };
                Answer::Now(io(&IoResponse::FileStat(stat)), Vec::new())
            }
            IoRequest::Seek { .. } | IoRequest::ReadAt { .. } | IoRequest::WriteAt { .. } => {
                Answer::Now(io(&IoResponse::Err(ESPIPE)), Vec::new())
            }
            // A pipe has no pages to map (`mmap` answers ENODEV first).
            IoRequest::MapShared { .. } => Answer::Now(io(&IoResponse::Err(ENODEV)), Vec::new()),
            // Directory listing, truncation, sync and shared buffers are for files.
            IoRequest::ReadDir { .. }
            | IoRequest::Truncate { .. }
            | IoRequest::Sync
            | IoRequest::ShareBuffer
            | IoRequest::ReadShared { .. }
            | IoRequest::WriteShared { .. } => {
                Answer::Now(io(&IoResponse::Err(EINVAL)), Vec::new())
            }
            IoRequest::Net(_) => {
                Answer::Now(io(&IoResponse::Err(zos_proto::errno::ENOTSOCK)), Vec::new())
            }
            // An end changed the ring while a watch waited (`ring::watch`).
            IoRequest::WakeWatchers => {
                self.notify_watchers(pipe);
                Answer::Now(io(&IoResponse::Ok), Vec::new())
            }
            IoRequest::Watch { .. } => Answer::Now(io(&IoResponse::Err(EINVAL)), Vec::new()),
        }
    }
}

/// Sets the ring's flags for sides with no reference left and wakes the
/// sleepers so they see them.
fn mark_closed_sides(slot: &RingSlot, pipe: &Pipe) {
    let view = slot.view();
    if pipe.readers == 0 {
        view.close_side(ring::flags::NO_READERS);
    }
    if pipe.writers == 0 {
        view.close_side(ring::flags::NO_WRITERS);
    }
    if pipe.readers == 0 || pipe.writers == 0 {
        slot.signal(Side::Reader);
        slot.signal(Side::Writer);
    }
}

/// A new ring mapped at `window`, with its two notifications.
fn create_ring(window: usize) -> Option<RingSlot> {
    let memory = sys::memory_create(ring::RING_BYTES as u64).ok()?;
    let va = PIPE_RINGS + window as u64 * PIPE_RING_STRIDE;
    let pages = (ring::RING_BYTES / 4096) as u64;
    let notifications = (sys::notification_create(), sys::notification_create());
    match (
        sys::memory_map(memory, sys::SELF, va, 0, pages, map_flags::WRITE),
        notifications,
    ) {
        (Ok(()), (Ok(data_available), Ok(space_available))) => Some(RingSlot {
            memory,
            data_available,
            space_available,
            window,
        }),
        (mapped, (data, space)) => {
            if mapped.is_ok() {
                let _ = sys::memory_unmap(sys::SELF, va);
            }
            for cap in [Ok(memory), data, space].into_iter().flatten() {
                let _ = sys::cap_delete(cap);
            }
            None
        }
    }
}

/// A message `Read` served from the ring (init takes the reader lock only if
/// it is free: it never waits on a client).
fn ring_read(slot: &RingSlot, max: u32) -> Vec<u8> {
    let view = slot.view();
    if !view.try_lock(Side::Reader, INIT_PID) {
        return io(&IoResponse::Err(EAGAIN));
    }
    let mut bytes = alloc::vec![0u8; (max as usize).min(zos_proto::MAX_IO_CHUNK)];
    let outcome = view.read(&mut bytes);
    view.unlock(Side::Reader, INIT_PID);
    io(&match outcome {
        RingRead::Data {
            bytes: n,
            wake_writer,
        } => {
            if wake_writer {
                slot.signal(Side::Writer);
            }
            IoResponse::Data(&bytes[..n])
        }
        RingRead::EndOfFile => IoResponse::Data(&[]),
        RingRead::WouldBlock => IoResponse::Err(EAGAIN),
        RingRead::Corrupt => IoResponse::Err(EIO),
    })
}

/// A message `Write` served into the ring, as `ring_read`.
fn ring_write(slot: &RingSlot, data: &[u8]) -> Vec<u8> {
    let view = slot.view();
    if !view.try_lock(Side::Writer, INIT_PID) {
        return io(&IoResponse::Err(EAGAIN));
    }
    let outcome = view.write(data);
    view.unlock(Side::Writer, INIT_PID);
    io(&match outcome {
        RingWrite::Written { bytes, wake_reader } => {
            if wake_reader {
                slot.signal(Side::Reader);
            }
            IoResponse::Written(bytes as u32)
        }
        RingWrite::BrokenPipe => IoResponse::Err(EPIPE),
        RingWrite::WouldBlock => IoResponse::Err(EAGAIN),
        RingWrite::Corrupt => IoResponse::Err(EIO),
    })
}
