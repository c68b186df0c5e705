//! The kernel state and the life cycle of processes and threads.
//!
//! [`Kernel`] owns every object, the capability space, the frames and the run
//! queue. The arch layer calls in on three events only — a syscall, an interrupt
//! and a user fault — and afterwards asks which thread to resume. The kernel is
//! not preemptible and keeps no kernel threads: a blocked thread is just a state.
//! State changes go through a few functions (`make_runnable`, `block_thread`,
//! `destroy_thread`, `kill_process`, `release`) so they can be logged later.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Range;

use zos_axiom::{Commit, SysRecord};

use crate::arch::{AddressSpace, Platform, UserContext};
use crate::audit::obj;
use crate::cap::{Cap, CapSpace, Rights, TableId};
use crate::frame::FrameAllocator;
use crate::ipc::Message;
use crate::object::*;
use crate::sched::RunQueues;
pub use crate::syscall::fault;
use crate::syscall::{SysError, SYSCALL_COUNTS};
use crate::{ensure, Result};

/// Capability slots of each process table.
pub const PROCESS_SLOTS: u32 = 4096;
/// Kernel heap charged for a process record (table, slab entry, bookkeeping).
pub const OBJECT_COST: u64 = 4096;
/// Kernel heap charged for a thread: its saved context and a pending long message
/// (up to 4 KiB travels out of line while the thread blocks in a send).
pub const THREAD_COST: u64 = 8192;
/// Kernel heap charged for small objects (endpoint, notification, Memory record).
pub const SMALL_OBJECT_COST: u64 = 256;
/// Kernel heap charged for a watched badge (`CapMintWatched`) until its
/// `NO_SENDERS` message is received.
pub const WATCH_COST: u64 = 64;
/// Kernel heap charged for one mapped region's record.
pub const REGION_COST: u64 = 128;
/// Capability slots are charged in chunks of this many, as a table fills.
pub const SLOT_CHUNK: u64 = 64;
/// Kernel heap charged for each chunk of [`SLOT_CHUNK`] slots.
pub const SLOT_CHUNK_COST: u64 = 4096;
/// How deep processes may nest (each charge walks this chain).
pub const MAX_PROCESS_DEPTH: u32 = 16;

/// What something costs its owner: frames it takes from the frame allocator and
/// bytes of kernel heap for its records. Both count against the owner's quota and
/// every ancestor's; heap bytes also against the kernel heap budget, so the fixed
/// kernel heap runs out as an error code, never as a panic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub frames: u64,
    pub heap: u64,
}

impl Cost {
    /// `frames` bytes of frames and `heap` bytes of kernel heap.
    pub const fn new(frames: u64, heap: u64) -> Self {
        Self { frames, heap }
    }

    pub const fn heap(heap: u64) -> Self {
        Self { frames: 0, heap }
    }

    pub const fn frames(frames: u64) -> Self {
        Self { frames, heap: 0 }
    }

    fn total(self) -> Option<u64> {
        self.frames.checked_add(self.heap)
    }
}
/// Timer ticks a thread runs before others of its priority get the CPU.
pub const TIME_SLICE_TICKS: u32 = 2;

/// The most CPUs the kernel serves (a GICv2 has eight interfaces).
pub const MAX_CPUS: usize = 8;

/// What one CPU is doing. The kernel keeps one per online CPU, indexed by
/// [`Platform::cpu_id`]; the kernel lock's holder is `Kernel::cpu`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// The thread it runs (`None`: it idles).
    pub current: Option<ObjRef>,
    /// Ticks `current` has run of its time slice.
    slice_used: u32,
    /// The thread its thread pointer and address space were last prepared
    /// for, and the one whose FP/SIMD registers are live in it.
    pub running: Option<ObjRef>,
    pub fp_owner: Option<ObjRef>,
    /// Timer ticks that found it running a thread, threads prepared to run
    /// on it after another, and user faults it took.
    pub busy_ticks: u64,
    pub switches: u64,
    pub faults: u64,
}

#[derive(Default)]
pub struct Kernel<P: Platform> {
    pub objects: Objects<P>,
    pub caps: CapSpace<ObjRef>,
    pub frames: FrameAllocator,
    pub(crate) run_queue: RunQueues,
    /// Every CPU (the first `online` run; the others stay idle), and which
    /// of them holds the kernel lock now.
    pub cpus: [Cpu; MAX_CPUS],
    pub online: usize,
    pub cpu: usize,
    pub(crate) sleepers: Vec<ObjRef>,
    pub irqs: BTreeMap<u32, ObjRef>,
    /// Where each Memory object is mapped: (object, process, region
    /// start) to the object's pages there, so a page whose frame changes
    /// is remapped everywhere (copy-on-write), and only there.
    pub mappings: BTreeMap<(ObjRef, ObjRef, u64), Range<u64>>,
    /// What each object cost whom, refunded on destroy. A record holds a
    /// reference to the process that paid, so the chain of ancestors to refund
    /// outlives the process itself.
    charges: BTreeMap<ObjRef, (ObjRef, Cost)>,
    /// Kernel heap bytes charged to processes, and the most that may be.
    pub heap_charged: u64,
    pub heap_budget: u64,
    next_pid: u32,
    next_tid: u32,
    /// Syscalls handled since boot, by number (`SystemInfo`).
    pub syscall_counts: Vec<u64>,
    /// Kernel entries that found the kernel lock held by another CPU.
    pub lock_waits: u64,
    /// The console service's notification for new kernel log bytes (`LogBind`),
    /// the log cursor it was last signalled at, and the process that bound it.
    pub log_listener: Option<(ObjRef, u64, ObjRef)>,
    /// The first process: when it ends the system cannot go on.
    pub init_process: Option<ObjRef>,
    /// Power off (rather than halt) when init ends (`poweroff` boot argument).
    pub power_off_when_init_ends: bool,
    /// init has ended: nothing runs any more.
    pub halted: bool,
    /// Axiom's commit and SysLog rings (empty: Axiom is off).
    pub audit: zos_axiom::Rings,
}

impl<P: Platform> Kernel<P> {
    pub fn new(frames: FrameAllocator) -> Self {
        Self {
            frames,
            online: 1,
            heap_budget: u64::MAX,
            next_pid: 1,
            next_tid: 1,
            syscall_counts: alloc::vec![0; SYSCALL_COUNTS],
            ..Default::default()
        }
    }

    // ---- capabilities -------------------------------------------------------

    /// The capability table of a process.
    pub fn table_of(&self, process: ObjRef) -> Result<TableId> {
        let p = self.objects.process(process).ok_or(SysError::DeadObject)?;
        Ok(p.caps)
    }

    /// Looks up `slot` of `process`, requiring `rights`; returns the object and badge.
    pub fn lookup(
        &self,
        process: ObjRef,
        slot: u64,
        kind: ObjectKind,
        rights: Rights,
    ) -> Result<(ObjRef, u64)> {
        let slot = u32::try_from(slot).map_err(|_| SysError::InvalidCap)?;
        let cap = self.caps.lookup(self.table_of(process)?, slot)?;
        let actual = self.objects.get(cap.object).map(Object::kind);
        let actual = actual.ok_or(SysError::InvalidCap)?;
        ensure(actual == kind, SysError::WrongType)?;
        ensure(cap.rights.contains(rights), SysError::NoRights)?;
        Ok((cap.object, cap.badge))
    }

    /// Puts a new capability to `object` in `process`'s table.
    pub fn grant(
        &mut self,
        process: ObjRef,
        slot: Option<u32>,
        object: ObjRef,
        rights: Rights,
        badge: u64,
    ) -> Result<u32> {
        let table = self.table_of(process)?;
        self.reserve_slot(process)?;
        let cap = Cap::new(object, rights, badge);
        let slot = self.caps.insert_root(table, slot, cap)?;
        self.objects.add_ref(object);
        Ok(slot)
    }

    /// Drops one reference to each object, destroying those that reach zero.
    pub fn release_all(&mut self, objects: Vec<ObjRef>) {
        for object in objects {
            self.release(object);
        }
    }

    /// Drops one reference; destroys the object when nothing refers to it.
    pub fn release(&mut self, object: ObjRef) {
        // Every deleted capability is released: tell watchers of badges that just
        // lost their last capability while their endpoint still lives (one
        // load on the IPC path when nothing is pending).
        if !self.caps.silenced.is_empty() {
            self.notify_silenced();
        }
        if self.objects.drop_ref(object) > 0 {
            return;
        }
        let destroyable = match self.objects.get(object) {
            None => false,
            Some(Object::Process(p)) => p.state != ProcessState::Alive,
            Some(Object::Thread(t)) => t.state == ThreadState::Dead,
            Some(_) => true,
        };
        if destroyable {
            self.destroy_object(object);
        }
    }

    /// Queues a `NO_SENDERS` message for each silenced badge on its endpoint
    /// (the endpoint lives: the silenced caps' references are not released yet)
    /// and lets a receiver already waiting there take it at once.
    fn notify_silenced(&mut self) {
        for (endpoint, badge, payer) in core::mem::take(&mut self.caps.silenced) {
            if let Some(ep) = self.objects.endpoint_mut(endpoint) {
                ep.silenced.push_back((badge, payer));
                if let Some(receiver) = ep.receivers.pop_front() {
                    self.release(endpoint); // the receiver's hold
                    let _ = self.endpoint_recv(receiver, endpoint);
                    self.make_runnable(receiver);
                }
            }
        }
    }

    /// Gives back what `CapMintWatched` charged `payer` (and the hold on its
    /// record that keeps the refund reaching its ancestors).
    pub fn refund_watch(&mut self, payer: ObjRef) {
        self.refund(payer, Cost::heap(WATCH_COST));
        self.release(payer);
    }

    /// Records that `object` cost `owner` this much (charged already).
    pub fn record_charge(&mut self, object: ObjRef, owner: ObjRef, cost: Cost) {
        self.objects.add_ref(owner);
        self.charges.insert(object, (owner, cost));
    }

    fn destroy_object(&mut self, object: ObjRef) {
        if let Some((owner, cost)) = self.charges.remove(&object) {
            self.refund(owner, cost);
            self.release(owner);
        }
        match self.remove_object(object) {
            Some(Object::Memory(Memory::Frames {
                frames,
                read_only: false,
            })) => self.frames.free_all(&frames),
            Some(Object::Reply(reply)) => self.fail_caller(reply.caller, SysError::PeerDied),
            Some(Object::Endpoint(ep)) => ep
                .silenced
                .into_iter()
                .for_each(|(_, p)| self.refund_watch(p)),
            Some(Object::Irq(irq)) => {
                self.irqs.remove(&irq.irq);
                P::irq_set_enabled(irq.irq, false);
                if let Some((notification, _)) = irq.notification {
                    self.release(notification);
                }
            }
            _ => {}
        }
    }

    // ---- quota ------------------------------------------------------------------

    /// Charges `process` and each of its ancestors `cost`, before anything is
    /// taken: a process's quota is a ceiling on what its whole subtree uses, not
    /// a reservation. Fails with nothing changed when any level would pass its
    /// limit, or the kernel heap budget would be exceeded.
    pub fn charge(&mut self, process: ObjRef, cost: Cost) -> Result {
        let total = cost.total().ok_or(SysError::QuotaExceeded)?;
        let heap = self.heap_charged.checked_add(cost.heap);
        let heap = heap.filter(|&h| h <= self.heap_budget);
        let heap = heap.ok_or(SysError::OutOfMemory)?;
        for p in self.ancestors(process) {
            let used = p.quota.used.checked_add(total);
            if used.is_none_or(|u| u > p.quota.limit) {
                return Err(SysError::QuotaExceeded);
            }
        }
        let exists = self.objects.process(process).is_some();
        ensure(exists, SysError::DeadObject)?;
        self.adjust_used(process, |used| used + total);
        self.heap_charged = heap;
        Ok(())
    }

    /// `process` and the processes that created it, nearest first (as far as
    /// their records live).
    fn ancestors(&self, process: ObjRef) -> impl Iterator<Item = &Process<P>> {
        let first = self.objects.process(process);
        core::iter::successors(first, |p| self.objects.process(p.creator?))
    }

    /// Gives back what [`Kernel::charge`] took, at every level.
    pub fn refund(&mut self, process: ObjRef, cost: Cost) {
        let total = cost.total().unwrap_or(u64::MAX);
        self.adjust_used(process, |used| used.saturating_sub(total));
        self.heap_charged = self.heap_charged.saturating_sub(cost.heap);
    }

    /// Changes what `process` and each ancestor use, committing each.
    fn adjust_used(&mut self, process: ObjRef, change: impl Fn(u64) -> u64) {
        let mut at = Some(process);
        while let Some((r, p)) = at.and_then(|r| Some((r, self.objects.process_mut(r)?))) {
            p.quota.used = change(p.quota.used);
            let used = p.quota.used;
            at = p.creator;
            self.commit(Commit::quota(obj(r), used));
        }
    }

    /// Charges `process` for another chunk of capability slots when its table
    /// is about to pass what it paid for. Call before filling a slot.
    pub fn reserve_slot(&mut self, process: ObjRef) -> Result {
        let p = self.objects.process(process).ok_or(SysError::DeadObject)?;
        let occupied = self.caps.count(p.caps)? as u64;
        if occupied < p.slot_chunks * SLOT_CHUNK {
            return Ok(());
        }
        self.charge(process, Cost::heap(SLOT_CHUNK_COST))?;
        self.update_process(process, |p| p.slot_chunks += 1);
        Ok(())
    }

    // ---- processes and threads -------------------------------------------------

    /// Creates an empty process whose subtree may use at most `limit` bytes.
    /// The creator pays for the record and the root page table (and, as an
    /// ancestor, for everything the new process uses later).
    pub fn create_process(&mut self, creator: Option<ObjRef>, limit: u64) -> Result<ObjRef> {
        let cost = Cost::new(crate::PAGE_SIZE as u64, OBJECT_COST);
        if let Some(creator) = creator {
            let depth = self.ancestors(creator).count();
            ensure(depth < MAX_PROCESS_DEPTH as usize, SysError::QuotaExceeded)?;
            self.charge(creator, cost)?;
        }
        let made = P::Space::new(&mut self.frames).map_err(|_| SysError::OutOfMemory);
        let made = made.and_then(|space| match self.caps.create_table(PROCESS_SLOTS) {
            Ok(table) => Ok((space, table)),
            Err(e) => {
                space.destroy(&mut self.frames);
                Err(e)
            }
        });
        let (space, table) = made.inspect_err(|_| {
            if let Some(creator) = creator {
                self.refund(creator, cost);
            }
        })?;
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        let process = Process {
            pid,
            caps: table,
            space: Some(space),
            quota: Quota { limit, used: 0 },
            creator,
            regions: BTreeMap::new(),
            threads: Vec::new(),
            state: ProcessState::Alive,
            exit_notification: None,
            fault_endpoint: None,
            table_frames_charged: 0,
            slot_chunks: 0,
            ticks: 0,
        };
        let process = self.new_object(Object::Process(process));
        if let Some(creator) = creator {
            self.record_charge(process, creator, cost);
        }
        Ok(process)
    }

    /// Creates an inactive thread in `process`.
    pub fn create_thread(
        &mut self,
        process: ObjRef,
        entry: u64,
        stack: u64,
        arg: u64,
        priority: u8,
    ) -> Result<ObjRef> {
        let p = self.objects.process(process);
        let alive = p.filter(|p| p.state == ProcessState::Alive);
        let caps = alive.ok_or(SysError::DeadObject)?.caps;
        self.charge(process, Cost::heap(THREAD_COST))?;
        let tid = self.next_tid;
        self.next_tid = self.next_tid.wrapping_add(1).max(1);
        let creator = self.current().and_then(|c| self.objects.thread(c));
        let thread = Thread {
            tid,
            process,
            caps,
            context: Box::new(P::Context::new(entry, stack, arg)),
            state: ThreadState::Inactive,
            priority,
            cpus: creator.map_or(!0, |t| t.cpus),
            ipc_buffer: None,
            outgoing: Message::default(),
            reply_to: None,
            interruptible: false,
            stop_pending: false,
            uses_fp: false,
        };
        let thread = self.new_object(Object::Thread(thread));
        self.objects.add_ref(thread); // the process's reference
        self.update_process(process, |p| p.threads.push(thread));
        Ok(thread)
    }

    /// Lets a created thread run for the first time.
    pub fn start_thread(&mut self, thread: ObjRef) {
        self.commit(Commit::thread_life(obj(thread), true));
        self.make_runnable(thread);
    }

    /// Writes a thread's result registers: the error code (0 = success) in
    /// register 0, then `values` from register 1 on. For a thread that
    /// blocked (any but the caller's: `finish` writes the caller's with
    /// `write_results`), that is the end of its call: a completion record in
    /// the SysLog.
    pub fn set_results(&mut self, thread: ObjRef, code: u64, values: &[u64]) {
        if let Some(process) = self.write_results(thread, code, values) {
            let (value, next) = (values.first().copied(), self.audit.commits.next);
            self.log_syscall(|| SysRecord::completion(process, thread.index, code, value, next));
        }
    }

    /// Writes the registers only; the thread's process slab index.
    pub fn write_results(&mut self, thread: ObjRef, code: u64, values: &[u64]) -> Option<u32> {
        let t = self.objects.thread_mut(thread)?;
        // Not a chained iterator: this runs twice per IPC round trip. One
        // borrow of the context: through the box each write reloaded it.
        let context = &mut *t.context;
        context.set_result(0, code);
        for (i, value) in values.iter().enumerate() {
            context.set_result(i + 1, *value);
        }
        Some(t.process.index)
    }

    /// Makes a blocked thread runnable with `code` in its error register.
    pub fn wake(&mut self, thread: ObjRef, code: u64) {
        self.set_results(thread, code, &[]);
        self.make_runnable(thread);
    }

    /// Makes a thread runnable, preempting the current one if it has a higher priority.
    pub fn make_runnable(&mut self, thread: ObjRef) {
        let t = self.objects.thread_mut(thread);
        let t = t.filter(|t| t.state != ThreadState::Dead);
        let Some(t) = t else { return };
        if core::mem::take(&mut t.stop_pending) {
            t.state = ThreadState::Suspended;
            return;
        }
        t.state = ThreadState::Runnable;
        let (priority, cpus) = (t.priority, t.cpus);
        if self.cpu_running(thread).is_some() {
            return;
        }
        let (current, here) = (self.current(), cpus & 1 << self.cpu != 0);
        let running = current.and_then(|c| Some((c, self.objects.thread(c)?.priority)));
        // A CPU busy or not allowed leaves it to an idle one that is, if any,
        // else it waits here, or on the first CPU it may run on.
        let idle = (0..self.online).find(|&c| self.cpus[c].current.is_none() && cpus & 1 << c != 0);
        let elsewhere = idle.filter(|_| current.is_some() || !here);
        let first = cpus.trailing_zeros() as usize;
        let home = elsewhere.or(here.then_some(self.cpu)).unwrap_or(first);
        match running {
            Some((current, cp)) if priority > cp && here => {
                self.run_queue.push_front(self.cpu, current, cp);
                let cpu = self.this_cpu();
                (cpu.current, cpu.slice_used) = (Some(thread), 0);
            }
            _ => self.run_queue.push_back(home, thread, priority),
        }
        elsewhere.into_iter().for_each(P::wake_cpu);
    }

    /// Blocks the current thread in `state`; another thread runs next.
    pub fn block_current(&mut self, state: ThreadState) {
        if let Some(current) = self.current() {
            self.block_thread(current, state);
        }
    }

    /// Blocks `thread` in `state`: the current thread, or one that a wake-up
    /// earlier in the same syscall preempted back into the run queue.
    pub fn block_thread(&mut self, thread: ObjRef, state: ThreadState) {
        self.deschedule(thread);
        if let Some(t) = self.objects.thread_mut(thread) {
            t.state = state;
            // Suspended from another CPU on its way in: the wait it began stops it.
            if core::mem::take(&mut t.stop_pending) {
                let _ = self.suspend(thread);
            }
        }
    }

    /// Takes a runnable `thread` off the CPU running it, or out of the run
    /// queue. Another CPU is made to leave user mode first (it then waits for
    /// the kernel lock), so nothing runs the thread when its registers are
    /// changed or freed.
    fn deschedule(&mut self, thread: ObjRef) {
        let t = self.objects.thread(thread);
        let Some(t) = t else { return };
        if let Some(cpu) = self.cpu_running(thread) {
            self.cpus[cpu].current = None;
            if cpu != self.cpu {
                P::stop_user(cpu);
            }
        } else if t.state == ThreadState::Runnable {
            self.run_queue.remove(thread, t.priority);
        }
    }

    /// Wakes a blocked thread with an error in its result register. A thread
    /// blocked on its own fault message cannot be resumed meaningfully: its
    /// process is killed instead.
    pub fn fail_caller(&mut self, thread: ObjRef, error: SysError) {
        let t = self.objects.thread(thread);
        let Some(t) = t else { return };
        use ThreadState::{AwaitingReply, Receiving, Sending};
        if !matches!(t.state, AwaitingReply | Sending { .. } | Receiving { .. }) {
            return;
        }
        if t.outgoing.is_fault {
            let (process, pc) = (t.process, t.context.pc());
            self.kill_process(process, ProcessState::killed(0, pc));
            return;
        }
        self.unblock_detach(thread);
        self.wake(thread, error.code());
    }

    /// Removes a thread from whatever queue it waits in (and drops the queue's hold).
    pub fn unblock_detach(&mut self, thread: ObjRef) {
        let t = self.objects.thread(thread);
        let Some(t) = t else { return };
        let (state, priority) = (t.state, t.priority);
        match state {
            ThreadState::Sending { endpoint, .. } | ThreadState::Receiving { endpoint } => {
                if let Some(ep) = self.objects.endpoint_mut(endpoint) {
                    ep.senders.retain(|x| *x != thread);
                    ep.receivers.retain(|x| *x != thread);
                }
                self.release(endpoint);
            }
            ThreadState::Waiting { notification } => {
                if let Some(n) = self.objects.notification_mut(notification) {
                    n.waiters.retain(|x| *x != thread);
                }
                self.release(notification);
            }
            ThreadState::Sleeping { .. } => self.sleepers.retain(|x| *x != thread),
            ThreadState::Runnable => _ = self.run_queue.remove(thread, priority),
            _ => {}
        }
    }

    /// Stops `thread` until `ThreadResume` (the caller itself included). A
    /// thread blocked in IPC, on a notification or asleep leaves its wait with
    /// `Interrupted`; one whose call a server holds too if the call was
    /// `CALL_INTERRUPTIBLE` (the server's reply then reaches nobody), else it
    /// stops when the reply comes (as after its own fault message's reply).
    pub fn suspend(&mut self, thread: ObjRef) -> Result {
        let elsewhere = self.cpu_running(thread).filter(|&cpu| cpu != self.cpu);
        let t = self.objects.thread_mut(thread);
        let t = t.ok_or(SysError::DeadObject)?;
        let holds_on = !t.interruptible || t.outgoing.is_fault;
        use ThreadState::{Receiving, Sending, Sleeping, Waiting};
        let interrupted = match t.state {
            ThreadState::Suspended => return Ok(()),
            // Another CPU runs it, maybe in the kernel already, waiting for
            // the lock with a syscall: it stops on its way out (`schedule`)
            // or as the wait it begins starts (`block_thread`). A call a
            // server holds goes on: it stops when the reply comes.
            ThreadState::Runnable if elsewhere.is_some() => {
                t.stop_pending = true;
                elsewhere.into_iter().for_each(P::stop_user);
                return Ok(());
            }
            ThreadState::AwaitingReply if holds_on => {
                t.stop_pending = true;
                return Ok(());
            }
            ThreadState::Runnable => false,
            ThreadState::AwaitingReply => {
                for object in self.objects.iter_mut() {
                    match object {
                        Object::Thread(t) if t.reply_to == Some(thread) => t.reply_to = None,
                        Object::Reply(r) if r.caller == thread => r.caller = ObjRef::NONE,
                        _ => {}
                    }
                }
                true
            }
            Sending { .. } | Receiving { .. } | Waiting { .. } | Sleeping { .. } => true,
            _ => return Err(SysError::BadState),
        };
        if interrupted {
            self.unblock_detach(thread);
            self.set_results(thread, SysError::Interrupted.code(), &[]);
        }
        self.block_thread(thread, ThreadState::Suspended);
        Ok(())
    }

    /// [`Kernel::suspend`], or lets a suspended thread run again (one that
    /// was to stop when its reply came simply goes on).
    pub fn suspend_or_resume(&mut self, thread: ObjRef, suspend: bool) -> Result {
        if suspend {
            return self.suspend(thread);
        }
        let t = self.objects.thread_mut(thread);
        let t = t.ok_or(SysError::DeadObject)?;
        match (t.state, core::mem::take(&mut t.stop_pending)) {
            (ThreadState::Suspended, _) => self.make_runnable(thread),
            (_, true) => {}
            _ => return Err(SysError::BadState),
        }
        Ok(())
    }

    /// Ends a thread: out of every queue, callers waiting on it fail, its hold released.
    pub fn destroy_thread(&mut self, thread: ObjRef) {
        self.unblock_detach(thread);
        self.deschedule(thread);
        let (reply_to, process) = match self.objects.thread_mut(thread) {
            Some(t) if t.state != ThreadState::Dead => {
                t.state = ThreadState::Dead;
                (t.reply_to.take(), t.process)
            }
            _ => return,
        };
        self.commit(Commit::thread_life(obj(thread), false));
        if let Some(caller) = reply_to {
            self.fail_caller(caller, SysError::PeerDied);
        }
        self.update_process(process, |p| p.threads.retain(|t| *t != thread));
        self.refund(process, Cost::heap(THREAD_COST));
        self.release(thread);
    }

    /// Ends a process: threads, capabilities, mappings, address space (their
    /// charges refunded up the chain); the exit notification signalled. What
    /// it paid for that still lives (objects it gave away) stays charged until
    /// destroyed.
    pub fn kill_process(&mut self, process: ObjRef, how: ProcessState) {
        let alive = self.objects.process_mut(process);
        let alive = alive.filter(|p| p.state == ProcessState::Alive);
        let Some(p) = alive else { return };
        p.state = how;
        let threads = core::mem::take(&mut p.threads);
        let regions: Vec<u64> = p.regions.keys().copied().collect();
        let table = p.caps;
        let own_frames = p.table_frames_charged * crate::PAGE_SIZE as u64;
        let own = Cost::new(own_frames, p.slot_chunks * SLOT_CHUNK_COST);
        (p.table_frames_charged, p.slot_chunks) = (0, 0);
        let exit_notification = p.exit_notification.take();
        let fault_endpoint = p.fault_endpoint.take();
        // Held until the end: releasing what it held (its capabilities, or
        // objects charged to it) must not destroy the record half way.
        self.objects.add_ref(process);
        self.commit_process_end(process, how);
        // Page tables, mappings and charges first: the tables go whole (one
        // TLB flush), so the regions' pages need no walk each.
        let p = self.objects.process_mut(process);
        if let Some(space) = p.and_then(|p| p.space.take()) {
            space.destroy(&mut self.frames);
        }
        for va in regions {
            let _ = self.unmap_region(process, va);
        }
        self.refund(process, own);
        for thread in threads {
            // destroy_thread looks the thread up in the process list; it is gone
            // already, so mark it dead here.
            self.destroy_thread(thread);
        }
        if let Ok(objects) = self.caps.destroy_table(table) {
            self.release_all(objects);
        }
        if let Some((endpoint, _)) = fault_endpoint {
            self.release(endpoint);
        }
        if let Some((notification, bits)) = exit_notification {
            self.signal(notification, bits);
            self.release(notification);
        }
        self.release(process);
        if Some(process) == self.init_process {
            self.init_ended(how);
        }
    }

    /// init is gone and nothing can supervise the system: report it on the
    /// UART (taking it back from the console) and stop, or power off when
    /// booted with `poweroff`.
    fn init_ended(&mut self, how: ProcessState) {
        crate::klog::take_back();
        let reason = match how {
            ProcessState::Exited(code) => alloc::format!("exited with status {code}"),
            ProcessState::Killed { fault_pc: pc, .. } => alloc::format!("was killed (pc {pc:#x})"),
            ProcessState::Alive => alloc::string::String::from("ended"),
        };
        log::error!("zos: init (pid 1) {reason}; the system cannot go on");
        self.halted = true;
        if self.power_off_when_init_ends {
            log::error!("zos: powering off");
            P::power_off();
        }
        log::error!("zos: machine halted");
    }

    // ---- scheduling -----------------------------------------------------------------

    /// Tells the console service about new kernel log bytes. When only the
    /// kernel still holds its notification (the console died), the UART goes
    /// back to the kernel so nothing is printed into the void.
    pub fn notify_log_listener(&mut self) {
        let written = crate::klog::written();
        let behind = self.log_listener.filter(|&(_, seen, _)| seen != written);
        let Some((notification, _, binder)) = behind else {
            return;
        };
        if self.objects.refs(notification) <= 1 {
            self.log_listener = None;
            crate::klog::take_back();
            self.release(notification);
            return;
        }
        self.log_listener = Some((notification, written, binder));
        self.signal(notification, 1);
    }

    /// The thread to resume, choosing one if the current one blocked.
    /// Inlined into its two callers: every trap ends here.
    #[inline(always)]
    pub fn schedule(&mut self) -> Option<ObjRef> {
        let here = 1 << self.cpu;
        if let Some(current) = self.current() {
            let cpus = self.may_run(current);
            if cpus.is_some_and(|cpus| cpus & here != 0) {
                return Some(current);
            }
            // Its affinity changed: another CPU takes it.
            self.this_cpu().current = None;
            if cpus.is_some() {
                self.make_runnable(current);
            }
        }
        // A halted machine (init ended) runs nothing.
        if self.halted {
            return None;
        }
        loop {
            let (objects, cpu, online) = (&self.objects, self.cpu, self.online);
            // With one CPU every thread may run here: no mask names none online.
            let may_run = |t| online == 1 || objects.thread(t).is_none_or(|t| t.cpus & here != 0);
            let next = self.run_queue.pop_for(cpu, online, may_run)?;
            if self.may_run(next).is_some() {
                let cpu = self.this_cpu();
                (cpu.current, cpu.slice_used) = (Some(next), 0);
                return Some(next);
            }
        }
    }

    /// The CPUs `thread` may run on if it is runnable (one lookup: this runs
    /// on every trap); one suspended while another CPU ran it stops here.
    fn may_run(&mut self, thread: ObjRef) -> Option<u8> {
        let t = self.objects.thread(thread);
        let t = t.filter(|t| t.state == ThreadState::Runnable)?;
        if t.stop_pending {
            self.block_thread(thread, ThreadState::Suspended);
            return None;
        }
        Some(t.cpus)
    }

    /// The thread this CPU runs.
    pub fn current(&self) -> Option<ObjRef> {
        self.cpus[self.cpu % MAX_CPUS].current
    }

    /// The CPU whose current thread `thread` is.
    pub fn cpu_running(&self, thread: ObjRef) -> Option<usize> {
        let online = &self.cpus[..self.online.min(MAX_CPUS)];
        online.iter().position(|c| c.current == Some(thread))
    }

    /// The state of the CPU holding the kernel lock.
    pub fn this_cpu(&mut self) -> &mut Cpu {
        &mut self.cpus[self.cpu % MAX_CPUS]
    }

    /// The process of the current thread.
    pub fn current_process(&self) -> Option<ObjRef> {
        let thread = self.current()?;
        Some(self.objects.thread(thread)?.process)
    }

    /// Saved context of a thread (for the arch resume path).
    pub fn context_mut(&mut self, thread: ObjRef) -> Option<&mut P::Context> {
        self.objects.thread_mut(thread).map(|t| &mut *t.context)
    }

    /// Changes a live thread (nothing for a stale reference).
    pub fn update_thread<R>(&mut self, r: ObjRef, change: impl FnOnce(&mut Thread<P>) -> R) {
        let _ = self.objects.thread_mut(r).map(change);
    }

    /// Changes a live process (nothing for a stale reference).
    pub fn update_process<R>(&mut self, r: ObjRef, change: impl FnOnce(&mut Process<P>) -> R) {
        let _ = self.objects.process_mut(r).map(change);
    }

    /// Address space a thread runs in.
    pub fn space_of(&self, thread: ObjRef) -> Option<&P::Space> {
        let process = self.objects.thread(thread)?.process;
        self.objects.process(process)?.space.as_ref()
    }

    /// Timer tick: wakes sleepers whose deadline passed and rotates time slices.
    pub fn tick(&mut self, now_ns: u64) {
        // Kernel log lines written outside a DebugWrite reach the console
        // within a tick.
        self.notify_log_listener();
        let objects = &self.objects;
        let due = |t: &mut ObjRef| {
            matches!(objects.thread(*t).map(|t| t.state),
            Some(ThreadState::Sleeping { deadline }) if deadline <= now_ns)
        };
        let woken: Vec<ObjRef> = self.sleepers.extract_if(.., due).collect();
        woken.into_iter().for_each(|thread| self.wake(thread, 0));
        let running = self.current_process().unwrap_or(ObjRef::NONE);
        self.update_process(running, |p| p.ticks += 1);
        let cpu = self.this_cpu();
        cpu.busy_ticks += cpu.current.is_some() as u64;
        cpu.slice_used += 1;
        if cpu.slice_used >= TIME_SLICE_TICKS {
            cpu.slice_used = 0;
            self.rotate_current();
        }
    }

    /// Moves the current thread behind others of equal or higher priority.
    pub fn rotate_current(&mut self) {
        let Some(thread) = self.current() else { return };
        let priority = self.objects.thread(thread).map(|t| t.priority);
        let Some(priority) = priority else { return };
        let top = self.run_queue.top_priority(self.cpu);
        let behind = top.is_some_and(|top| top >= priority);
        if behind || self.run_queue.unbalanced(self.cpu, self.online) {
            self.run_queue.push_back(self.cpu, thread, priority);
            self.this_cpu().current = None;
        }
    }

    /// An interrupt bound to a notification: mask it until acknowledged, signal.
    pub fn interrupt(&mut self, irq: u32) -> bool {
        let Some(Object::Irq(i)) = self.irqs.get(&irq).and_then(|o| self.objects.get(*o)) else {
            return false;
        };
        let binding = i.notification;
        P::irq_set_enabled(irq, false);
        if let Some((notification, bits)) = binding {
            self.signal(notification, bits);
        }
        true
    }

    /// A user fault in the current thread: fault message to the supervisor, or kill.
    pub fn user_fault(&mut self, kind: u64, address: u64, syndrome: u64) {
        self.this_cpu().faults += 1;
        let t = self.current().and_then(|t| self.objects.thread(t));
        let Some(t) = t else { return };
        let (process, pc) = (t.process, t.context.pc());
        if kind == fault::DATA_ABORT && self.copy_on_write(process, address).is_some() {
            return;
        }
        let p = self.objects.process(process);
        let (fault_endpoint, pid) = p.map_or((None, 0), |p| (p.fault_endpoint, p.pid));
        if let Some((endpoint, badge)) = fault_endpoint {
            let message = Message::fault(kind, address, pc, syndrome, badge);
            if self.endpoint_send(endpoint, message, true).is_ok() {
                return;
            }
        }
        log::warn!(
            "zos: killed pid {pid}: {} at address {address:#x}, pc {pc:#x} (no fault handler)",
            fault::kind_name(kind)
        );
        self.kill_process(process, ProcessState::killed(address, pc));
    }
}
