//! Unit tests of the kernel objects through the host backend.
//!
//! A [`Harness`] owns a `Kernel<HostPlatform>` and plays the arch layer: it makes
//! a thread current, loads the syscall registers, calls `Kernel::syscall` and
//! reads the result registers back. The tests themselves are in `ipc` (endpoints,
//! replies, capability transfer, notifications) and `lifecycle` (scheduling,
//! quota, process death, faults, user pointers).

mod affinity;
mod balance;
mod cow;
mod ipc;
mod lifecycle;
mod registers;
mod suspend;
mod watch;

use std::vec::Vec;

use crate::arch::{AddressSpace, PageFlags, Platform};
use crate::cap::Rights;
use crate::hostarch::{self, HostPlatform};
use crate::kernel::{Cost, Kernel};
use crate::object::*;
use crate::syscall::{MessageInfo, Sys, SysError, IPC_BUFFER_DATA, IPC_BUFFER_SIZE};
use crate::usercopy;

const PAGE: u64 = 4096;
/// Priority of threads made by [`Harness::thread`].
pub const PRIO: u8 = 100;
/// Where the harness maps each thread's IPC buffer (one 64 KiB step per thread).
const IPC_AREA: u64 = 0x10_0000_0000;
const ENTRY: u64 = 0x40_0000;
const STACK: u64 = 0x7000_0000;

/// Result registers x0..x6 of a thread.
pub type Regs = [u64; 7];

/// Message-info word.
pub fn info(label: u32, caps: u8, length: u16) -> u64 {
    MessageInfo {
        label,
        caps,
        length,
    }
    .encode()
}

pub fn ok(regs: Regs) -> Regs {
    assert_eq!(regs[0], 0, "expected success, got error {}", regs[0]);
    regs
}

pub fn err(regs: Regs, error: SysError) {
    assert_eq!(regs[0], error.code(), "expected {error:?}, got {regs:?}");
}

/// Every test ends with Axiom's check: the commits the kernel logged,
/// replayed from the empty state, give the state hash the kernel reports.
impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let (hash, commits) = self.k.state_hash();
        let mut words = Vec::new();
        let (first, count) = self.k.audit.commits.read(0, usize::MAX, &mut words);
        assert_eq!((first, count), (0, commits), "the commit ring overflowed");
        let mut state = zos_axiom::State::default();
        for (seq, record) in words.chunks_exact(zos_axiom::COMMIT_WORDS).enumerate() {
            let record: [u64; zos_axiom::COMMIT_WORDS] = record.try_into().expect("record");
            let (at, commit) = zos_axiom::Commit::decode(&record).expect("decode");
            assert_eq!(at, seq as u64);
            if let Err(e) = zos_axiom::apply(&mut state, &commit) {
                panic!("replay: commit {seq} {commit:?}: {e:?}");
            }
        }
        assert!(
            state.hash() == hash,
            "replayed state differs from the kernel's"
        );
    }
}

pub struct Harness {
    pub k: Kernel<HostPlatform>,
    buffers: u64,
}

impl Harness {
    pub fn new() -> Self {
        hostarch::set_uptime(0);
        hostarch::take_console();
        let mut k = Kernel::new(hostarch::frame_allocator());
        (k.audit, k.caps.recording) = (zos_axiom::Rings::new(1 << 16, 1 << 12), true);
        Harness { k, buffers: 0 }
    }

    /// A new empty process with `quota` bytes (created by the kernel, no creator).
    pub fn spawn_process(&mut self, quota: u64) -> ObjRef {
        self.k.create_process(None, quota).expect("create_process")
    }

    /// A started thread of `process` at [`PRIO`] with an 8 KiB IPC buffer.
    pub fn thread(&mut self, process: ObjRef) -> ObjRef {
        self.thread_at(process, PRIO)
    }

    /// A started thread of `process` at `priority` with an 8 KiB IPC buffer.
    pub fn thread_at(&mut self, process: ObjRef, priority: u8) -> ObjRef {
        let thread = self
            .k
            .create_thread(process, ENTRY, STACK, 0, priority)
            .expect("create_thread");
        let va = IPC_AREA + self.buffers * 0x10000;
        self.buffers += 1;
        self.map_fresh(process, va, IPC_BUFFER_SIZE / PAGE, rw());
        self.k
            .objects
            .thread_mut(thread)
            .expect("thread")
            .ipc_buffer = Some(va);
        self.k.start_thread(thread);
        thread
    }

    /// Maps `pages` new zeroed frames at `va` in `process` (a Memory object held
    /// only by the mapping, charged to the process).
    pub fn map_fresh(&mut self, process: ObjRef, va: u64, pages: u64, flags: PageFlags) -> ObjRef {
        self.k
            .charge(process, Cost::frames(pages * PAGE))
            .expect("quota");
        let frames: Vec<u64> = (0..pages)
            .map(|_| {
                let frame = self.k.frames.alloc().expect("frame");
                // SAFETY: a frame of the simulated RAM just allocated.
                unsafe { core::ptr::write_bytes(HostPlatform::phys_to_ptr(frame), 0, 4096) };
                frame
            })
            .collect();
        let memory = self.k.new_object(Object::Memory(Memory::Frames {
            frames,
            read_only: false,
        }));
        self.k
            .record_charge(memory, process, Cost::frames(pages * PAGE));
        self.k
            .map_region(process, memory, va, 0, pages, flags)
            .expect("map_region");
        memory
    }

    /// Makes `thread` the running thread, as the scheduler would on a switch:
    /// the one running before goes back to the front of its run-queue level.
    pub fn run(&mut self, thread: ObjRef) {
        assert_eq!(
            self.state(thread),
            ThreadState::Runnable,
            "only a runnable thread can run"
        );
        if self.k.current() == Some(thread) {
            return;
        }
        if let Some(previous) = self.k.current() {
            let priority = self.priority(previous);
            self.k.run_queue.push_front(self.k.cpu, previous, priority);
        }
        let priority = self.priority(thread);
        self.k.run_queue.remove(thread, priority);
        self.k.this_cpu().current = Some(thread);
    }

    /// Runs `thread` and makes syscall `call` with `args` (missing ones are 0).
    /// Returns its result registers (meaningless while it is blocked).
    pub fn syscall(&mut self, thread: ObjRef, call: Sys, args: &[u64]) -> Regs {
        self.run(thread);
        let context = self.k.context_mut(thread).expect("context");
        context.regs[8] = call as u64;
        for i in 0..6 {
            context.regs[i] = args.get(i).copied().unwrap_or(0);
        }
        self.k.syscall();
        self.try_regs(thread).unwrap_or([u64::MAX; 7])
    }

    /// Result registers of a thread.
    pub fn regs(&self, thread: ObjRef) -> Regs {
        self.try_regs(thread).expect("thread exists")
    }

    fn try_regs(&self, thread: ObjRef) -> Option<Regs> {
        let t = self.k.objects.thread(thread)?;
        let mut regs = [0; 7];
        regs.copy_from_slice(&t.context.regs[..7]);
        Some(regs)
    }

    pub fn state(&self, thread: ObjRef) -> ThreadState {
        self.k
            .objects
            .thread(thread)
            .map_or(ThreadState::Dead, |t| t.state)
    }

    pub fn priority(&self, thread: ObjRef) -> u8 {
        self.k.objects.thread(thread).expect("thread").priority
    }

    pub fn process_of(&self, thread: ObjRef) -> ObjRef {
        self.k.objects.thread(thread).expect("thread").process
    }

    /// A new endpoint in `thread`'s process; returns its slot (all rights).
    pub fn endpoint(&mut self, thread: ObjRef) -> u64 {
        ok(self.syscall(thread, Sys::EndpointCreate, &[]))[1]
    }

    /// A new notification in `thread`'s process; returns its slot.
    pub fn notification(&mut self, thread: ObjRef) -> u64 {
        ok(self.syscall(thread, Sys::NotificationCreate, &[]))[1]
    }

    /// Puts a capability to the object in `from`'s `slot` into `to`'s table.
    pub fn give(&mut self, from: ObjRef, slot: u64, to: ObjRef, rights: Rights, badge: u64) -> u64 {
        let table = self.k.table_of(from).expect("table");
        let object = self.k.caps.lookup(table, slot as u32).expect("cap").object;
        self.k
            .grant(to, None, object, rights, badge)
            .expect("grant") as u64
    }

    /// The object named by `slot` of `process`.
    pub fn object(&self, process: ObjRef, slot: u64) -> Option<ObjRef> {
        let table = self.k.table_of(process).ok()?;
        self.k
            .caps
            .lookup(table, slot as u32)
            .ok()
            .map(|c| c.object)
    }

    pub fn ipc_buffer(&self, thread: ObjRef) -> u64 {
        self.k
            .objects
            .thread(thread)
            .and_then(|t| t.ipc_buffer)
            .expect("ipc buffer")
    }

    pub fn write_user(&self, process: ObjRef, va: u64, bytes: &[u8]) {
        let space = self.space(process);
        usercopy::copy_to_user::<HostPlatform>(space, va, bytes).expect("write_user");
    }

    pub fn read_user(&self, process: ObjRef, va: u64, len: usize) -> Vec<u8> {
        let mut out = std::vec![0u8; len];
        usercopy::copy_from_user::<HostPlatform>(self.space(process), va, &mut out)
            .expect("read_user");
        out
    }

    /// Writes long-message data into a thread's IPC buffer.
    pub fn write_message_data(&self, thread: ObjRef, bytes: &[u8]) {
        let va = self.ipc_buffer(thread) + IPC_BUFFER_DATA;
        self.write_user(self.process_of(thread), va, bytes);
    }

    /// Writes capability slot words at the start of a thread's IPC buffer.
    pub fn write_cap_slots(&self, thread: ObjRef, slots: &[u64]) {
        let bytes: Vec<u8> = slots.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.write_user(self.process_of(thread), self.ipc_buffer(thread), &bytes);
    }

    /// Reads `count` capability slot words from a thread's IPC buffer.
    pub fn read_cap_slots(&self, thread: ObjRef, count: usize) -> Vec<u64> {
        let bytes = self.read_user(self.process_of(thread), self.ipc_buffer(thread), 8 * count);
        bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    }

    fn space(&self, process: ObjRef) -> &hostarch::HostSpace {
        self.k
            .objects
            .process(process)
            .and_then(|p| p.space.as_ref())
            .expect("live process")
    }

    pub fn quota_used(&self, process: ObjRef) -> u64 {
        self.k.objects.process(process).expect("process").quota.used
    }

    pub fn mapped_pages(&self, process: ObjRef) -> usize {
        self.space(process).mapped_pages()
    }
}

pub fn rw() -> PageFlags {
    PageFlags {
        write: true,
        ..PageFlags::default()
    }
}

#[test]
fn harness_runs_a_syscall() {
    let mut h = Harness::new();
    let p = h.spawn_process(1 << 20);
    let t = h.thread(p);
    hostarch::set_uptime(1234);
    let r = ok(h.syscall(t, Sys::Clock, &[]));
    assert_eq!(r[1], 1234);
    err(h.syscall(t, Sys::Recv, &[77]), SysError::InvalidCap);
    let r = h.syscall(t, Sys::Clock, &[]);
    assert_eq!(r[0], 0);
    assert_eq!(
        h.syscall(t, Sys::Clock, &[])[0],
        0,
        "syscall count keeps going"
    );
    assert_eq!(h.k.syscall_counts.iter().sum::<u64>(), 4);
    let clock = Sys::Clock as u64;
    let counts = ok(h.syscall(t, Sys::SystemInfo, &[zos_abi::SYSTEM_INFO_SYSCALLS, clock]));
    assert_eq!(counts[1], 3, "three Clock calls counted apart");
    let cpu = ok(h.syscall(t, Sys::SystemInfo, &[zos_abi::SYSTEM_INFO_CPUS, 0]));
    assert_eq!(cpu[1], 1, "one CPU online");
    let away = ok(h.syscall(t, Sys::SystemInfo, &[zos_abi::SYSTEM_INFO_CPUS, 5]));
    assert_eq!(away[3..], [0, 0, 0, 0], "a CPU not online reads zeros");
    let mut context = h.k.context_mut(t).expect("context").clone();
    context.regs[8] = 999;
    *h.k.context_mut(t).expect("context") = context;
    h.k.syscall();
    err(h.regs(t), SysError::InvalidSyscall);
    assert!(h.k.space_of(t).is_some_and(|s| s.table_frames() >= 2));
}
