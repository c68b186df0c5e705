//! The pipe server inside init. Each pipe end a process holds is a capability
//! to init's endpoint whose badge names a pipe reference. The badges are
//! watched (`CapMintWatched`): when the last capability of a reference is gone
//! — closed, or its holder exited, was killed or faulted — the kernel's
//! `NO_SENDERS` message closes the reference, so readers see end of file once
//! every writer is gone and writers get `EPIPE` once every reader is.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use libzos::abi::rights;
use libzos::ipc;
use libzos::sys;
use zos_init_core::pipe::{Pipe, ReadOutcome, WriteOutcome};
use zos_proto::errno::*;
use zos_proto::fs::{mode, FileStat};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};

/// Badges of pipe references: this tag in the upper half, the reference id below.
pub const PIPE_TAG: u64 = 0x5049_5045 << 32;

pub fn is_pipe_badge(badge: u64) -> bool {
    badge & 0xFFFF_FFFF_0000_0000 == PIPE_TAG
}

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
        self.wake(reference.pipe);
        if let Some(state) = self.pipes.get(&reference.pipe) {
            if state.pipe.readers == 0 && state.pipe.writers == 0 {
                self.pipes.remove(&reference.pipe);
            }
        }
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
    }

    /// Handles an io request on a pipe reference.
    pub fn handle(
        &mut self,
        server: &ipc::Server,
        badge: u64,
        request: Option<IoRequest>,
    ) -> Answer {
        let id = badge & 0xFFFF_FFFF;
        let Some(reference) = self.refs.get(&id) else {
            return Answer::Now(io(&IoResponse::Err(EBADF)), Vec::new());
        };
        let (pipe, end) = (reference.pipe, reference.end);
        let Some(request) = request else {
            return Answer::Now(io(&IoResponse::Err(EINVAL)), Vec::new());
        };
        match request {
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
                let size = self
                    .pipes
                    .get(&pipe)
                    .map_or(0, |s| s.pipe.buffered() as u64);
                Answer::Now(io(&IoResponse::Stat(HandleStat { kind, size })), Vec::new())
            }
            IoRequest::GetTermios | IoRequest::SetTermios(_) | IoRequest::SetForeground { .. } => {
                Answer::Now(io(&IoResponse::Err(ENOTTY)), Vec::new())
            }
            IoRequest::SetNonBlocking(_) => Answer::Now(io(&IoResponse::Ok), Vec::new()),
            IoRequest::Fstat => {
                let size = self
                    .pipes
                    .get(&pipe)
                    .map_or(0, |s| s.pipe.buffered() as u64);
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
        }
    }
}
