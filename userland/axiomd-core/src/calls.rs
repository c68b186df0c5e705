//! The newest syscalls, kept compact: each [`CallRecord`] as LEB128 varints
//! (about 30 bytes instead of 88) in chunks; the oldest chunk goes once the
//! others hold [`SYSLOG_KEEP`](crate::SYSLOG_KEEP) records without it.

use crate::store::{get_varint, put_varint};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use zos_proto::axiom::CallRecord;

/// Bytes of one chunk of encoded records.
const CHUNK_BYTES: usize = 8 * 1024;
/// The largest encoded record: fifteen varints of at most ten bytes.
const MAX_ENCODED: usize = 15 * 10;

/// Encoded records, oldest chunk first, and how many each chunk holds.
pub struct CallLog {
    chunks: VecDeque<(Vec<u8>, usize)>,
    keep: usize,
}

impl CallLog {
    /// A log that keeps at least the newest `keep` records.
    pub fn new(keep: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            keep,
        }
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|(_, n)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, call: &CallRecord) {
        if self
            .chunks
            .back()
            .is_none_or(|(bytes, _)| bytes.len() + MAX_ENCODED > CHUNK_BYTES)
        {
            self.chunks.push_back((Vec::with_capacity(CHUNK_BYTES), 0));
        }
        if let Some((out, count)) = self.chunks.back_mut() {
            let words = [
                call.seq,
                u64::from(call.pid),
                u64::from(call.thread),
                u64::from(call.number),
                u64::from(call.code),
                call.value,
                call.first_commit,
                u64::from(call.commits),
            ];
            for word in words.iter().chain(&call.args) {
                put_varint(out, *word);
            }
            *count += 1;
        }
        while let Some((_, oldest)) = self.chunks.front() {
            if self.len() - oldest < self.keep {
                break;
            }
            self.chunks.pop_front();
        }
    }

    /// Every kept record, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = CallRecord> + '_ {
        self.chunks.iter().flat_map(|(bytes, count)| {
            let mut at = 0;
            (0..*count).map_while(move |_| decode(bytes, &mut at))
        })
    }
}

fn decode(bytes: &[u8], at: &mut usize) -> Option<CallRecord> {
    let mut words = [0u64; 14];
    for word in &mut words {
        *word = get_varint(bytes, at)?;
    }
    let [seq, pid, thread, number, code, value, first_commit, commits, args @ ..] = words;
    Some(CallRecord {
        seq,
        pid: pid as u32,
        thread: thread as u32,
        number: number as u16,
        code: code as u16,
        args,
        value,
        first_commit,
        commits: commits as u32,
    })
}
