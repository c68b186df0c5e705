//! Zero OS axiomd core: what `axiomd` keeps of the kernel's Axiom rings.
//!
//! [`Recorder`] drains the commit ring and the SysLog ring through an
//! [`AuditSource`] (the kernel's `AxiomRead`/`AxiomState` in the service, a
//! fake in the tests), links every commit into the hash [`Chain`] and keeps
//! the whole commit log since boot as [`Frame`]s (kept compact in a
//! [`store::FrameStore`]): a header first, one frame
//! per commit with the head after it, a `Loss` frame wherever the ring
//! overwrote commits before they were read (never silently), and a `State`
//! frame, placed after exactly the commits it covers, each time the kernel's
//! state hash is asked for. Of the SysLog it keeps the newest
//! [`SYSLOG_KEEP`] records, each with its caller's pid resolved from the
//! `ProcessCreated` commits, so they can be listed by pid.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod calls;
pub mod persist;
pub mod store;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use calls::CallLog;
use store::FrameStore;
use zos_axiom::{Chain, Commit, Digest, Frame, SysRecord, COMMIT_WORDS, SYS_RECORD_WORDS};
use zos_proto::axiom::CallRecord;

/// SysLog records kept (the newest).
pub const SYSLOG_KEEP: usize = 4096;
/// Bytes of one commit record in `AxiomRead`'s buffer.
pub const COMMIT_BYTES: usize = COMMIT_WORDS * 8;
/// Bytes of one SysLog record in `AxiomRead`'s buffer.
pub const SYS_RECORD_BYTES: usize = SYS_RECORD_WORDS * 8;
/// The most the kernel copies in one `AxiomRead`.
pub const READ_BYTES: usize = 64 * 1024;
/// Bytes of frames kept in memory at most (a commit takes 10–20): past it
/// the log ends in a `Loss` frame for every commit not kept.
pub const MAX_LOG_BYTES: usize = 16 << 20;

/// The kernel's two rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ring {
    Commits,
    SysLog,
}

/// What one `AxiomRead` answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadResult {
    pub count: u64,
    pub next: u64,
    pub lost: u64,
}

/// The kernel's Axiom interface, as `axiomd` uses it.
pub trait AuditSource {
    type Error;
    /// `AxiomRead`: whole records of `ring` from `cursor` on into `buffer`.
    fn read(
        &mut self,
        ring: Ring,
        cursor: u64,
        buffer: &mut [u8],
    ) -> Result<ReadResult, Self::Error>;
    /// `AxiomState`: the state hash and how many commits it covers.
    fn state(&mut self) -> Result<(u64, Digest), Self::Error>;
}

/// Why a request on the recorder failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError<E> {
    /// The kernel call failed.
    Source(E),
    /// The kernel's state hash covers fewer commits than already read (it
    /// cannot be placed in the log).
    StateBehind { state: u64, read: u64 },
    /// Commits were lost between the log's end and the state's point: the
    /// hash is answered but no longer placeable exactly.
    StateOvertaken { state: u64, read: u64 },
}

/// The kernel's state hash as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePoint {
    pub commits: u64,
    pub hash: Digest,
    /// The chain head after those commits.
    pub head: Digest,
}

/// The log kept in memory and the cursors into the kernel's rings.
pub struct Recorder {
    store: FrameStore,
    chain: Chain,
    /// The next commit sequence to read (= commits chained, counting losses).
    next_commit: u64,
    next_call: u64,
    /// Where the last export stopped (exports read front to back).
    export_resume: Option<store::Mark>,
    /// Set once [`MAX_LOG_BYTES`] is reached: the first commit not kept.
    full_from: Option<u64>,
    calls: CallLog,
    /// Process slab index → pid, from `ProcessCreated` commits.
    pids: BTreeMap<u32, u32>,
    /// SysLog records the ring overwrote before they were read.
    calls_lost: u64,
    /// Commits the ring overwrote before they were read (`Loss` frames).
    commits_lost: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty log: the header frame only.
    pub fn new() -> Self {
        Self::with_limit(MAX_LOG_BYTES)
    }

    /// An empty log that keeps at most about `max_bytes` of frames.
    pub fn with_limit(max_bytes: usize) -> Self {
        Self {
            store: FrameStore::new(max_bytes),
            next_commit: 0,
            next_call: 0,
            full_from: None,
            export_resume: None,
            calls: CallLog::new(SYSLOG_KEEP),
            pids: BTreeMap::new(),
            calls_lost: 0,
            commits_lost: 0,
            chain: Chain::new(),
        }
    }

    /// Keeps a frame; once the store is full, notes the first commit not
    /// kept (the log then ends in a `Loss` frame that says so).
    fn keep(&mut self, frame: Frame, seq: u64) {
        if self.full_from.is_none() && !self.store.push(&frame) {
            self.full_from = Some(seq);
        }
    }

    /// Bytes the kept frames take.
    pub fn log_bytes(&self) -> usize {
        self.store.bytes()
    }

    /// Commits read so far (including any lost) and the chain head.
    pub fn head(&self) -> (u64, Digest) {
        (self.next_commit, self.chain.head)
    }

    /// Commits lost to ring overflow so far (each loss is a `Loss` frame).
    pub fn commits_lost(&self) -> u64 {
        self.commits_lost
    }

    /// SysLog records lost to ring overflow so far.
    pub fn calls_lost(&self) -> u64 {
        self.calls_lost
    }

    /// Frames in the log (with the closing `Loss` frame once full).
    pub fn frame_count(&self) -> u64 {
        self.store.len() + u64::from(self.full_from.is_some())
    }

    /// Frames `from..` (at most `max`), with the closing `Loss` frame once
    /// the store is full.
    pub fn frames(&self, from: u64, max: usize) -> Vec<Frame> {
        let frames = self.store.read(from, max);
        self.close(from, max, frames)
    }

    /// Adds the closing `Loss` frame of a full store when `frames` reach it.
    fn close(&self, from: u64, max: usize, mut frames: Vec<Frame>) -> Vec<Frame> {
        if let Some(first) = self.full_from {
            if frames.len() < max && from.saturating_add(frames.len() as u64) == self.store.len() {
                frames.push(Frame::Loss {
                    first,
                    count: self.next_commit - first,
                });
            }
        }
        frames
    }

    /// Frames `from..` (at most `max`) of the kept log, without the
    /// closing `Loss` frame of a full store, going on from `resume` (where
    /// the previous call stopped): what `axiomd` writes to its partition.
    pub fn stored_frames(
        &self,
        from: u64,
        max: usize,
        resume: &mut Option<store::Mark>,
    ) -> Vec<Frame> {
        let (frames, stopped) = self.store.read_on(from, max, resume.as_ref());
        *resume = stopped;
        frames
    }

    /// Frame `index` of the log.
    pub fn frame(&self, index: u64) -> Option<Frame> {
        self.frames(index, 1).pop()
    }

    /// Frames `from..` (at most `max`), encoded one after another; the next
    /// export from where this one ends decodes nothing twice.
    pub fn export(&mut self, from: u64, max: u32) -> Vec<u8> {
        let (frames, stopped) = self
            .store
            .read_on(from, max as usize, self.export_resume.as_ref());
        self.export_resume = stopped;
        self.close(from, max as usize, frames)
            .iter()
            .flat_map(|frame| frame.encode())
            .collect()
    }

    /// Takes the records one `AxiomRead` of the commit ring copied from the
    /// cursor: a `Loss` frame first when the kernel skipped some, then each
    /// commit linked into the chain.
    pub fn take_commits(&mut self, result: ReadResult, bytes: &[u8]) {
        if result.lost > 0 {
            self.lose(self.next_commit, result.lost);
        }
        for chunk in bytes.chunks_exact(COMMIT_BYTES).take(result.count as usize) {
            let mut record = [0u64; COMMIT_WORDS];
            for (word, raw) in record.iter_mut().zip(chunk.chunks_exact(8)) {
                let mut le = [0u8; 8];
                le.copy_from_slice(raw);
                *word = u64::from_le_bytes(le);
            }
            let seq = record[0];
            // A gap the kernel did not report is a loss all the same.
            if seq > self.next_commit {
                self.lose(self.next_commit, seq - self.next_commit);
            }
            if let Ok((_, Commit::ProcessCreated { process, pid, .. })) = Commit::decode(&record) {
                self.pids.insert(process.index(), pid);
            }
            let head = self.chain.link(&record);
            self.keep(Frame::Commit { record, head }, seq);
            self.next_commit = seq + 1;
        }
    }

    fn lose(&mut self, first: u64, count: u64) {
        self.commits_lost += count;
        self.keep(Frame::Loss { first, count }, first);
        self.next_commit = first + count;
    }

    /// Takes the records one `AxiomRead` of the SysLog ring copied.
    pub fn take_calls(&mut self, result: ReadResult, bytes: &[u8]) {
        self.calls_lost += result.lost;
        for chunk in bytes
            .chunks_exact(SYS_RECORD_BYTES)
            .take(result.count as usize)
        {
            let mut words = [0u64; SYS_RECORD_WORDS];
            for (word, raw) in words.iter_mut().zip(chunk.chunks_exact(8)) {
                let mut le = [0u8; 8];
                le.copy_from_slice(raw);
                *word = u64::from_le_bytes(le);
            }
            let record = SysRecord::decode(&words);
            self.calls.push(&CallRecord {
                seq: record.seq,
                pid: self.pids.get(&record.process).copied().unwrap_or(0),
                thread: record.thread,
                number: record.number,
                code: record.code,
                args: record.args,
                value: record.value,
                first_commit: record.first_commit,
                commits: record.commits,
            });
        }
        self.next_call = result.next.max(self.next_call);
    }

    /// Reads one ring from its cursor until the kernel has nothing more, or
    /// (commits only) up to `limit` commits in all.
    fn drain_ring<S: AuditSource>(
        &mut self,
        source: &mut S,
        ring: Ring,
        limit: Option<u64>,
        buffer: &mut [u8],
    ) -> Result<(), S::Error> {
        loop {
            let (cursor, record_bytes) = match ring {
                Ring::Commits => (self.next_commit, COMMIT_BYTES),
                Ring::SysLog => (self.next_call, SYS_RECORD_BYTES),
            };
            let mut room = buffer.len().min(READ_BYTES) / record_bytes * record_bytes;
            if let Some(limit) = limit {
                let wanted = limit.saturating_sub(cursor) as usize;
                if wanted == 0 {
                    return Ok(());
                }
                room = room.min(wanted.saturating_mul(record_bytes));
            }
            let result = source.read(ring, cursor, &mut buffer[..room])?;
            let copied = (result.count as usize)
                .saturating_mul(record_bytes)
                .min(room);
            match ring {
                Ring::Commits => self.take_commits(result, &buffer[..copied]),
                Ring::SysLog => self.take_calls(result, &buffer[..copied]),
            }
            // A read that did not fill its room reached the ring's end; reading
            // on would chase the records these reads themselves leave (every
            // AxiomRead is a syscall, so it lands in the SysLog).
            if result.count == 0 || copied < room {
                return Ok(());
            }
        }
    }

    /// Drains both rings: commits first, so the pids the SysLog records
    /// name are known.
    pub fn drain<S: AuditSource>(
        &mut self,
        source: &mut S,
        buffer: &mut [u8],
    ) -> Result<(), S::Error> {
        self.drain_ring(source, Ring::Commits, None, buffer)?;
        self.drain_ring(source, Ring::SysLog, None, buffer)
    }

    /// Asks the kernel for its state hash, reads commits up to exactly the
    /// point it covers and records a `State` frame there.
    pub fn checkpoint<S: AuditSource>(
        &mut self,
        source: &mut S,
        buffer: &mut [u8],
    ) -> Result<StatePoint, RecordError<S::Error>> {
        self.drain(source, buffer).map_err(RecordError::Source)?;
        let (commits, hash) = source.state().map_err(RecordError::Source)?;
        if commits < self.next_commit {
            return Err(RecordError::StateBehind {
                state: commits,
                read: self.next_commit,
            });
        }
        self.drain_ring(source, Ring::Commits, Some(commits), buffer)
            .map_err(RecordError::Source)?;
        if self.next_commit != commits {
            return Err(RecordError::StateOvertaken {
                state: commits,
                read: self.next_commit,
            });
        }
        self.keep(Frame::State { commits, hash }, commits);
        let point = StatePoint {
            commits,
            hash,
            head: self.chain.head,
        };
        self.drain(source, buffer).map_err(RecordError::Source)?;
        Ok(point)
    }

    /// The newest `count` kept syscalls below sequence `before`, of `pid`
    /// only when given; oldest first.
    pub fn calls(&self, pid: Option<u32>, count: usize, before: Option<u64>) -> Vec<CallRecord> {
        let mut found = alloc::collections::VecDeque::new();
        let matching = self
            .calls
            .iter()
            .filter(|c| before.is_none_or(|b| c.seq < b))
            .filter(|c| pid.is_none_or(|p| c.pid == p));
        for call in matching {
            if found.len() == count {
                found.pop_front();
            }
            if count > 0 {
                found.push_back(call);
            }
        }
        found.into()
    }
}

#[cfg(test)]
mod tests;
