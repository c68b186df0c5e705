//! The run queues: preemptive fixed-priority round robin, one queue per CPU.
//!
//! Each CPU's queue has 256 priority levels (higher runs first), a FIFO per
//! level and a bitmap of non-empty levels, so picking the next thread is a
//! few instructions. A thread waits on the CPU it was made runnable for; a
//! CPU takes from its own queue, and from another's when that one is longer
//! (stealing, which is the load balancing): see [`RunQueues::pop_for`].

use crate::kernel::MAX_CPUS;
use crate::object::ObjRef;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

pub const PRIORITIES: usize = 256;

pub struct RunQueues {
    /// `PRIORITIES` FIFOs per CPU, CPU 0's first.
    levels: Vec<VecDeque<ObjRef>>,
    /// Per CPU: a bitmap of its non-empty levels, and how many threads wait.
    nonempty: [[u64; 4]; MAX_CPUS],
    waiting: [usize; MAX_CPUS],
}

impl Default for RunQueues {
    fn default() -> Self {
        let mut levels = Vec::new();
        levels.resize_with(MAX_CPUS * PRIORITIES, VecDeque::new);
        let (nonempty, waiting) = ([[0; 4]; MAX_CPUS], [0; MAX_CPUS]);
        Self {
            levels,
            nonempty,
            waiting,
        }
    }
}

impl RunQueues {
    /// A CPU's FIFO of a priority.
    #[inline]
    fn fifo(&mut self, cpu: usize, level: u8) -> &mut VecDeque<ObjRef> {
        &mut self.levels[cpu % MAX_CPUS * PRIORITIES + level as usize]
    }

    #[inline]
    pub fn push_back(&mut self, cpu: usize, thread: ObjRef, priority: u8) {
        self.fifo(cpu, priority).push_back(thread);
        self.update(cpu, priority, 1, false);
    }

    #[inline]
    pub fn push_front(&mut self, cpu: usize, thread: ObjRef, priority: u8) {
        self.fifo(cpu, priority).push_front(thread);
        self.update(cpu, priority, 1, false);
    }

    /// Counts a thread into (`added` 1) or out of (-1) a CPU's level and
    /// keeps the level's bit equal to "it has threads" (not `empty`).
    #[inline]
    fn update(&mut self, cpu: usize, level: u8, added: isize, empty: bool) {
        let cpu = cpu % MAX_CPUS;
        self.waiting[cpu] = self.waiting[cpu].wrapping_add_signed(added);
        let word = &mut self.nonempty[cpu][level as usize / 64];
        *word = *word & !(1 << (level % 64)) | u64::from(!empty) << (level % 64);
    }

    /// Highest priority waiting on `cpu`.
    #[inline]
    pub fn top_priority(&self, cpu: usize) -> Option<u8> {
        (0..4).rev().find_map(|word| {
            let bits = self.nonempty[cpu % MAX_CPUS][word];
            (bits != 0).then(|| (word * 64 + 63 - bits.leading_zeros() as usize) as u8)
        })
    }

    /// Another of the `online` CPUs has two threads waiting more than `cpu`:
    /// its current thread makes way at the tick, so that one is taken.
    #[inline]
    pub fn unbalanced(&self, cpu: usize, online: usize) -> bool {
        let waiting = self.waiting[cpu % MAX_CPUS] + 1;
        self.waiting[..online].iter().any(|&w| w > waiting)
    }

    /// The next thread for `cpu` that `may_run` there: from the longest
    /// queue of the `online` CPUs if that holds more than this CPU's and
    /// nothing of lower priority than its best, else from its own, else from
    /// any other.
    pub fn pop_for(
        &mut self,
        cpu: usize,
        online: usize,
        may_run: impl Fn(ObjRef) -> bool,
    ) -> Option<ObjRef> {
        let cpu = cpu % MAX_CPUS;
        let longer = |c: &usize| self.waiting[*c] > self.waiting[cpu];
        let longest = (0..online).filter(longer).max_by_key(|&c| self.waiting[c]);
        let steal = longest.filter(|&c| self.top_priority(c) >= self.top_priority(cpu));
        let stolen = steal.and_then(|c| self.pop_where(c, &may_run));
        let own = stolen.or_else(|| self.pop_where(cpu, &may_run));
        own.or_else(|| (0..online).find_map(|c| self.pop_where(c, &may_run)))
    }

    /// Takes the first thread of `cpu`'s highest priority that `may_run`.
    fn pop_where(&mut self, cpu: usize, may_run: impl Fn(ObjRef) -> bool) -> Option<ObjRef> {
        for word in (0..4).rev() {
            let mut bits = self.nonempty[cpu][word];
            while bits != 0 {
                let level = (word * 64 + 63 - bits.leading_zeros() as usize) as u8;
                bits &= !(1 << (level % 64));
                let fifo = self.fifo(cpu, level);
                // Indexed, not iterated: `iter` first splits the ring in two.
                if let Some(at) = (0..fifo.len()).find(|&i| may_run(fifo[i])) {
                    // `remove(0)` costs ~100 instructions more than `pop_front`.
                    let thread = fifo.pop_front_if(|_| at == 0).or_else(|| fifo.remove(at));
                    let empty = fifo.is_empty();
                    self.update(cpu, level, -1, empty);
                    return thread;
                }
            }
        }
        None
    }

    /// Removes a thread from whichever queue holds it; that queue's CPU.
    pub fn remove(&mut self, thread: ObjRef, priority: u8) -> Option<usize> {
        let cpu = (0..MAX_CPUS).find(|&c| self.fifo(c, priority).contains(&thread))?;
        let fifo = self.fifo(cpu, priority);
        fifo.retain(|t| *t != thread);
        let empty = fifo.is_empty();
        self.update(cpu, priority, -1, empty);
        Some(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RunQueues {
        fn pop(&mut self, cpu: usize) -> Option<ObjRef> {
            self.pop_for(cpu, MAX_CPUS, |_| true)
        }

        fn is_empty(&self) -> bool {
            self.waiting == [0; MAX_CPUS] && self.nonempty == [[0; 4]; MAX_CPUS]
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
        let mut q = RunQueues::default();
        q.push_back(0, t(1), 10);
        q.push_back(0, t(2), 200);
        q.push_back(0, t(3), 10);
        q.push_back(0, t(4), 255);
        q.push_back(0, t(5), 0);
        assert_eq!(q.top_priority(0), Some(255));
        let order: Vec<_> = core::iter::from_fn(|| q.pop(0)).collect();
        assert_eq!(order, [t(4), t(2), t(1), t(3), t(5)]);
        assert!(q.is_empty());
    }

    #[test]
    fn pop_passes_over_threads_not_allowed_here() {
        let mut q = RunQueues::default();
        q.push_back(0, t(1), 200);
        q.push_back(0, t(2), 10);
        q.push_back(0, t(3), 10);
        q.push_back(0, t(4), 10);
        let here = |thread: ObjRef| thread.index.is_multiple_of(2);
        assert_eq!(q.pop_for(0, 1, here), Some(t(2)));
        assert_eq!(q.pop_for(0, 1, here), Some(t(4)));
        assert_eq!(q.pop_for(0, 1, here), None);
        assert_eq!(q.top_priority(0), Some(200));
        assert_eq!(q.pop(0), Some(t(1)));
        assert_eq!(q.pop(0), Some(t(3)));
        assert!(q.is_empty());
    }

    #[test]
    fn remove_and_front() {
        let mut q = RunQueues::default();
        q.push_back(1, t(1), 5);
        q.push_back(1, t(2), 5);
        q.push_front(1, t(3), 5);
        assert_eq!(q.remove(t(1), 5), Some(1));
        assert_eq!(q.remove(t(1), 5), None);
        assert_eq!(q.pop(1), Some(t(3)));
        assert_eq!(q.pop(1), Some(t(2)));
        assert_eq!(q.pop(1), None);
        assert!(q.is_empty());
    }

    #[test]
    fn a_cpu_takes_its_own_first_and_steals_when_idle() {
        let mut q = RunQueues::default();
        q.push_back(0, t(1), 5);
        q.push_back(1, t(2), 5);
        // Equal lengths: each CPU keeps to its own queue.
        assert_eq!(q.pop_for(1, 2, |_| true), Some(t(2)));
        // CPU 1 has nothing: it takes CPU 0's thread.
        assert_eq!(q.pop_for(1, 2, |_| true), Some(t(1)));
        assert!(q.is_empty());
        // A CPU not online is never stolen from.
        q.push_back(3, t(3), 5);
        assert_eq!(q.pop_for(0, 2, |_| true), None);
        assert_eq!(q.pop_for(3, 4, |_| true), Some(t(3)));
    }

    #[test]
    fn a_longer_queue_is_balanced_but_not_by_lower_priorities() {
        let mut q = RunQueues::default();
        (1..=3).for_each(|i| q.push_back(0, t(i), 5));
        q.push_back(1, t(9), 5);
        assert!(!q.unbalanced(0, 2));
        assert!(q.unbalanced(1, 2));
        // CPU 1 holds fewer: it takes the longer queue's first.
        assert_eq!(q.pop_for(1, 2, |_| true), Some(t(1)));
        assert!(!q.unbalanced(1, 2));
        // A longer queue whose best is below this one's is not taken from.
        q.push_back(1, t(8), 7);
        (4..=6).for_each(|i| q.push_back(0, t(i), 1));
        assert_eq!(q.pop_for(1, 2, |_| true), Some(t(8)));
        // Affinity: CPU 1 may run only even threads: it skips to those.
        assert_eq!(q.pop_for(1, 2, |t| t.index % 2 == 0), Some(t(2)));
    }
}
