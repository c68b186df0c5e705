//! The run queue: preemptive fixed-priority round robin.
//!
//! 256 priority levels (higher runs first), a FIFO per level and a bitmap of
//! non-empty levels so picking the next thread is a few instructions.

use crate::object::ObjRef;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

pub const PRIORITIES: usize = 256;

pub struct RunQueue {
    levels: Vec<VecDeque<ObjRef>>,
    nonempty: [u64; 4],
}

impl Default for RunQueue {
    fn default() -> Self {
        Self {
            levels: (0..PRIORITIES).map(|_| VecDeque::new()).collect(),
            nonempty: [0; 4],
        }
    }
}

impl RunQueue {
    pub fn push_back(&mut self, thread: ObjRef, priority: u8) {
        self.levels[priority as usize].push_back(thread);
        self.update(priority as usize);
    }

    pub fn push_front(&mut self, thread: ObjRef, priority: u8) {
        self.levels[priority as usize].push_front(thread);
        self.update(priority as usize);
    }

    /// Keeps a level's bit in the bitmap equal to "the level has threads".
    fn update(&mut self, level: usize) {
        let bit = 1 << (level % 64);
        if self.levels[level].is_empty() {
            self.nonempty[level / 64] &= !bit;
        } else {
            self.nonempty[level / 64] |= bit;
        }
    }

    /// Highest non-empty priority.
    pub fn top_priority(&self) -> Option<u8> {
        (0..4).rev().find_map(|word| {
            let bits = self.nonempty[word];
            (bits != 0).then(|| (word * 64 + 63 - bits.leading_zeros() as usize) as u8)
        })
    }

    /// Takes the first thread of the highest priority that `may_run` here
    /// (its affinity allows this CPU).
    pub fn pop_where(&mut self, may_run: impl Fn(ObjRef) -> bool) -> Option<ObjRef> {
        for word in (0..4).rev() {
            let mut bits = self.nonempty[word];
            while bits != 0 {
                let level = word * 64 + 63 - bits.leading_zeros() as usize;
                bits &= !(1 << (level % 64));
                let fifo = &mut self.levels[level];
                if let Some(at) = fifo.iter().position(|&t| may_run(t)) {
                    // `remove(0)` costs ~100 instructions more than `pop_front`.
                    let thread = fifo.pop_front_if(|_| at == 0).or_else(|| fifo.remove(at));
                    self.update(level);
                    return thread;
                }
            }
        }
        None
    }

    /// Removes a thread wherever it is queued.
    pub fn remove(&mut self, thread: ObjRef, priority: u8) {
        self.levels[priority as usize].retain(|t| *t != thread);
        self.update(priority as usize);
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.nonempty.iter().all(|w| *w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RunQueue {
        fn pop(&mut self) -> Option<ObjRef> {
            self.pop_where(|_| true)
        }
    }

    fn t(i: u32) -> ObjRef {
        ObjRef {
            index: i,
            generation: 0,
        }
    }

    #[test]
    fn highest_priority_first_then_fifo() {
        let mut q = RunQueue::default();
        q.push_back(t(1), 10);
        q.push_back(t(2), 200);
        q.push_back(t(3), 10);
        q.push_back(t(4), 255);
        q.push_back(t(5), 0);
        assert_eq!(q.top_priority(), Some(255));
        let order: Vec<_> = core::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [t(4), t(2), t(1), t(3), t(5)]);
        assert!(q.is_empty());
    }

    #[test]
    fn pop_where_passes_over_threads_not_allowed_here() {
        let mut q = RunQueue::default();
        q.push_back(t(1), 200);
        q.push_back(t(2), 10);
        q.push_back(t(3), 10);
        q.push_back(t(4), 10);
        let here = |thread: ObjRef| thread.index.is_multiple_of(2);
        assert_eq!(q.pop_where(here), Some(t(2)));
        assert_eq!(q.pop_where(here), Some(t(4)));
        assert_eq!(q.pop_where(here), None);
        assert_eq!(q.top_priority(), Some(200));
        assert_eq!(q.pop(), Some(t(1)));
        assert_eq!(q.pop(), Some(t(3)));
        assert!(q.is_empty());
    }

    #[test]
    fn remove_and_front() {
        let mut q = RunQueue::default();
        q.push_back(t(1), 5);
        q.push_back(t(2), 5);
        q.push_front(t(3), 5);
        q.remove(t(1), 5);
        assert_eq!(q.pop(), Some(t(3)));
        assert_eq!(q.pop(), Some(t(2)));
        assert_eq!(q.pop(), None);
    }
}
