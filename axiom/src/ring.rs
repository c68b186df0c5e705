//! The kernel's two Axiom rings: bounded, fixed-size records that overwrite
//! their oldest, read by sequence number. Here rather than in the kernel so
//! the kernel core keeps only what touches its own objects.

use alloc::vec::Vec;

use crate::commit::{Commit, COMMIT_WORDS};
use crate::syslog::{SysRecord, SYS_RECORD_WORDS};

/// A ring of `W`-word records; the sequence number of the next is `next`.
#[derive(Default)]
pub struct Ring<const W: usize> {
    slots: Vec<[u64; W]>,
    pub next: u64,
}

impl<const W: usize> Ring<W> {
    /// A ring of `capacity` records (rounded down to a power of two).
    pub fn new(capacity: usize) -> Self {
        let capacity = if capacity == 0 {
            0
        } else {
            1 << capacity.ilog2()
        };
        Self {
            slots: alloc::vec![[0; W]; capacity],
            next: 0,
        }
    }

    /// Appends a record (a ring without room keeps nothing).
    #[inline]
    pub fn push(&mut self, record: [u64; W]) {
        self.push_with(|slot| *slot = record);
    }

    /// Appends the record `fill` writes straight into its slot: built in
    /// place, not on the stack and copied (a `memcpy` call per record).
    #[inline]
    pub fn push_with(&mut self, fill: impl FnOnce(&mut [u64; W])) {
        if let Some(mask) = self.slots.len().checked_sub(1) {
            fill(&mut self.slots[self.next as usize & mask]);
            self.next += 1;
        }
    }

    /// Appends whole records from sequence `cursor` on (from the oldest kept
    /// when `cursor` was overwritten) to `out`, at most `max_words` words.
    /// Returns the first sequence appended and how many records.
    pub fn read(&self, cursor: u64, max_words: usize, out: &mut Vec<u64>) -> (u64, u64) {
        let oldest = self.next.saturating_sub(self.slots.len() as u64);
        let first = cursor.clamp(oldest, self.next);
        let count = (self.next - first).min((max_words / W) as u64);
        let mask = self.slots.len().wrapping_sub(1);
        (first..first + count)
            .for_each(|seq| out.extend_from_slice(&self.slots[seq as usize & mask]));
        (first, count)
    }
}

/// The commit ring and the SysLog ring.
#[derive(Default)]
pub struct Rings {
    pub commits: Ring<COMMIT_WORDS>,
    pub syslog: Ring<SYS_RECORD_WORDS>,
}

impl Rings {
    pub fn new(commits: usize, syscalls: usize) -> Self {
        Self {
            commits: Ring::new(commits),
            syslog: Ring::new(syscalls),
        }
    }

    /// Appends a commit with the next sequence number.
    pub fn commit(&mut self, commit: Commit) {
        let seq = self.commits.next;
        self.commits.push_with(|slot| commit.encode_into(seq, slot));
    }

    /// Appends a SysLog record with the next sequence number; its commits
    /// are those from `first_commit` to now.
    #[inline]
    pub fn syscall(&mut self, mut record: SysRecord) {
        record.seq = self.syslog.next;
        record.commits = (self.commits.next - record.first_commit) as u32;
        self.syslog.push_with(|slot| record.encode_into(slot));
    }

    /// [`Ring::read`] of stream 0 (commits) or 1 (SysLog); `None` for another.
    pub fn read(
        &self,
        stream: u64,
        cursor: u64,
        max_words: usize,
        out: &mut Vec<u64>,
    ) -> Option<(u64, u64)> {
        match stream {
            0 => Some(self.commits.read(cursor, max_words, out)),
            1 => Some(self.syslog.read(cursor, max_words, out)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_ring_keeps_the_newest_and_reports_from_the_oldest() {
        let mut ring: Ring<2> = Ring::new(5); // rounded to 4
        (0..6).for_each(|i| ring.push([i, i]));
        let mut out = Vec::new();
        assert_eq!(ring.read(0, 100, &mut out), (2, 4));
        assert_eq!(out, [2, 2, 3, 3, 4, 4, 5, 5]);
        out.clear();
        assert_eq!(ring.read(5, 3, &mut out), (5, 1));
        assert_eq!(ring.read(9, 100, &mut out), (6, 0));
        let mut off: Ring<2> = Ring::new(0);
        off.push([1, 1]);
        assert_eq!(off.next, 0);
    }
}
