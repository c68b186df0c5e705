//! Scheduling, sleeping, quota, process death, user faults and user pointers,
//! driven through syscalls and the kernel's event entry points.

use super::*;
use crate::kernel::fault;
use crate::syscall::{labels, map_flags, memory_flags, SELF_PROCESS};
use crate::usercopy::USER_TOP;

const MB: u64 = 1 << 20;
const NONE: u64 = u64::MAX;

/// Creates a child of `parent`'s process through ProcessCreate; returns its slot
/// in the parent's table and the process object.
fn create_child(
    h: &mut Harness,
    parent: ObjRef,
    quota: u64,
    exit: (u64, u64),
    fault: (u64, u64),
) -> (u64, ObjRef) {
    let r = ok(h.syscall(
        parent,
        Sys::ProcessCreate,
        &[quota, exit.0, exit.1, fault.0, fault.1],
    ));
    let child = h.object(h.process_of(parent), r[1]).expect("child");
    (r[1], child)
}

fn system_cap(h: &mut Harness, process: ObjRef) -> u64 {
    let system = h.k.new_object(Object::System);
    h.k.grant(process, None, system, Rights::ALL, 0)
        .expect("grant") as u64
}

#[test]
fn a_woken_higher_priority_thread_preempts() {
    let mut h = Harness::new();
    let p = h.spawn_process(MB);
    let high = h.thread_at(p, 150);
    let low = h.thread_at(p, 50);
    let same = h.thread_at(p, 50);
    let n = h.notification(high);
    h.syscall(high, Sys::Wait, &[n]);
    h.syscall(same, Sys::Wait, &[n]);
    ok(h.syscall(low, Sys::Signal, &[n]));
    assert_eq!(h.k.current(), Some(high), "higher priority runs at once");
    assert_eq!(h.state(low), ThreadState::Runnable);
    assert_eq!(h.k.schedule(), Some(high));

    // An equal-priority wake-up waits its turn.
    ok(h.syscall(low, Sys::Signal, &[n]));
    assert_eq!(h.k.current(), Some(low));
    assert_eq!(h.state(same), ThreadState::Runnable);
    // Blocking the high thread hands the CPU to the highest runnable one.
    h.syscall(high, Sys::Wait, &[n]);
    assert_eq!(h.k.schedule(), Some(low), "low was preempted to the front");
}

#[test]
fn equal_priorities_share_by_time_slice_and_yield() {
    let mut h = Harness::new();
    let p = h.spawn_process(MB);
    let a = h.thread(p);
    let b = h.thread(p);
    assert_eq!(h.k.schedule(), Some(a));
    h.k.tick(10_000_000);
    assert_eq!(h.k.schedule(), Some(a), "one tick is not a full slice");
    h.k.tick(20_000_000);
    assert_eq!(h.k.schedule(), Some(b));
    ok(h.syscall(b, Sys::Yield, &[]));
    assert_eq!(h.k.schedule(), Some(a));
}

#[test]
fn sleepers_wake_on_the_tick_after_their_deadline() {
    let mut h = Harness::new();
    let p = h.spawn_process(MB);
    let t = h.thread(p);
    hostarch::set_uptime(1_000);
    ok(h.syscall(t, Sys::SleepUntil, &[500]));
    assert_eq!(h.state(t), ThreadState::Runnable, "a past deadline returns");
    h.syscall(t, Sys::SleepUntil, &[10_000]);
    assert_eq!(h.state(t), ThreadState::Sleeping { deadline: 10_000 });
    assert_eq!(h.k.schedule(), None);
    h.k.tick(9_999);
    assert!(matches!(h.state(t), ThreadState::Sleeping { .. }));
    h.k.tick(10_000);
    assert_eq!(h.state(t), ThreadState::Runnable);
    ok(h.regs(t));
    assert_eq!(h.k.schedule(), Some(t));
}

#[test]
fn memory_beyond_quota_is_refused_and_refunded_on_destroy() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(MB);
    let parent = h.thread(parent_process);
    let (_, child) = create_child(&mut h, parent, 64 * 1024, (NONE, 0), (NONE, 0));
    let t = h.thread(child);
    let limit = 64 * 1024;
    let used = h.quota_used(child);
    let left = limit - used;
    assert_eq!(ok(h.syscall(t, Sys::SystemInfo, &[]))[3], left);

    err(
        h.syscall(t, Sys::MemoryCreate, &[0]),
        SysError::InvalidArgument,
    );
    err(
        h.syscall(t, Sys::MemoryCreate, &[(1 << 30) + 1]),
        SysError::InvalidArgument,
    );
    // The object's own record pushes it over.
    err(
        h.syscall(t, Sys::MemoryCreate, &[left]),
        SysError::QuotaExceeded,
    );
    let frames_before = h.k.frames.free_frames();
    // The first capability in the child's table costs a chunk of slots too.
    let size = left - 2 * PAGE - 1;
    let memory = ok(h.syscall(t, Sys::MemoryCreate, &[size]))[1];
    let pages = size.div_ceil(PAGE);
    assert_eq!(
        h.quota_used(child),
        used + pages * PAGE + 256 + 8 * pages + crate::kernel::SLOT_CHUNK_COST
    );
    assert_eq!(
        h.k.frames.free_frames(),
        frames_before - (left / PAGE - 1) as usize
    );
    err(
        h.syscall(t, Sys::MemoryCreate, &[PAGE]),
        SysError::QuotaExceeded,
    );
    ok(h.syscall(t, Sys::CapDelete, &[memory]));
    assert_eq!(h.quota_used(child), used + crate::kernel::SLOT_CHUNK_COST);
    assert_eq!(h.k.frames.free_frames(), frames_before);
}

#[test]
fn contiguous_memory_is_one_physical_run_reported_by_memory_info() {
    let mut h = Harness::new();
    let p = h.spawn_process(8 * MB);
    let t = h.thread(p);
    let frames = h.k.frames.free_frames();
    // Fragment memory: every other frame of a stretch is taken.
    let singles: Vec<u64> = (0..16)
        .map(|_| ok(h.syscall(t, Sys::MemoryCreate, &[PAGE]))[1])
        .collect();
    for slot in singles.iter().step_by(2) {
        ok(h.syscall(t, Sys::CapDelete, &[*slot]));
    }
    let contiguous = memory_flags::CONTIGUOUS;
    let dma = ok(h.syscall(t, Sys::MemoryCreate, &[5 * PAGE, contiguous]))[1];
    let info = ok(h.syscall(t, Sys::MemoryInfo, &[dma]));
    assert_eq!(
        (info[1], info[3], info[4]),
        (5 * PAGE, 0, 1),
        "size, frames, one run"
    );
    let Some(Object::Memory(Memory::Frames { frames: run, .. })) =
        h.object(p, dma).and_then(|m| h.k.objects.get(m))
    else {
        panic!("a frames object");
    };
    assert_eq!(run[0], info[2], "MemoryInfo names the first frame");
    assert!(run.windows(2).all(|w| w[1] == w[0] + PAGE));
    // Unknown flags are refused; a run larger than memory is OutOfMemory and
    // leaves no frame behind.
    err(
        h.syscall(t, Sys::MemoryCreate, &[PAGE, 2]),
        SysError::InvalidArgument,
    );
    let before = h.k.frames.free_frames();
    err(
        h.syscall(t, Sys::MemoryCreate, &[1 << 30, contiguous]),
        SysError::QuotaExceeded,
    );
    assert_eq!(h.k.frames.free_frames(), before);
    ok(h.syscall(t, Sys::CapDelete, &[dma]));
    for slot in singles.iter().skip(1).step_by(2) {
        ok(h.syscall(t, Sys::CapDelete, &[*slot]));
    }
    assert_eq!(h.k.frames.free_frames(), frames, "every frame back");
}

#[test]
fn killing_a_process_frees_every_frame_it_used() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(32 * MB);
    let parent = h.thread(parent_process);
    let exit = h.notification(parent);
    let frames = h.k.frames.free_frames();
    let live = h.k.objects.live();
    let used = h.quota_used(parent_process);

    let (slot, child) = create_child(&mut h, parent, 8 * MB, (exit, 0b10), (NONE, 0));
    let t1 = h.thread(child);
    let t2 = h.thread(child);
    let memory = ok(h.syscall(t1, Sys::MemoryCreate, &[5 * PAGE]))[1];
    ok(h.syscall(
        t1,
        Sys::MemoryMap,
        &[memory, SELF_PROCESS, 0x20_0000, 0, 5, map_flags::WRITE],
    ));
    ok(h.syscall(
        t1,
        Sys::MemoryMap,
        &[memory, SELF_PROCESS, 0x8000_0000, 1, 2, 0],
    ));
    let ep = h.endpoint(t1);
    let n = h.notification(t1);
    ok(h.syscall(t1, Sys::CapMint, &[ep, NONE, 2, 9]));
    ok(h.syscall(
        t1,
        Sys::ThreadCreate,
        &[SELF_PROCESS, 0x1000, 0x2000, 0, 10],
    ));
    // Threads blocked in IPC and on a notification when the end comes.
    h.syscall(t2, Sys::Recv, &[ep]);
    h.syscall(t1, Sys::Wait, &[n]);
    assert!(h.k.frames.free_frames() < frames - 10);
    assert!(h.quota_used(parent_process) > used);

    ok(h.syscall(parent, Sys::ProcessKill, &[slot]));
    assert_eq!(h.state(t1), ThreadState::Dead);
    assert_eq!(h.state(t2), ThreadState::Dead);
    assert_eq!(ok(h.syscall(parent, Sys::Poll, &[exit]))[1], 0b10);
    let status = ok(h.syscall(parent, Sys::ProcessStatus, &[slot]));
    assert_eq!(status[1], 2, "killed");
    assert_eq!(h.k.frames.free_frames(), frames, "every frame back");
    ok(h.syscall(parent, Sys::CapDelete, &[slot]));
    assert_eq!(h.k.objects.live(), live, "every object gone");
    assert_eq!(
        h.quota_used(parent_process),
        used,
        "quota back to the parent"
    );
    assert!(h.k.objects.process(child).is_none());
}

#[test]
fn process_exit_is_reported_to_the_creator() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(4 * MB);
    let parent = h.thread(parent_process);
    let exit = h.notification(parent);
    let (slot, child) = create_child(&mut h, parent, MB, (exit, 0), (NONE, 0));
    let a = h.thread(child);
    let b = h.thread(child);
    h.syscall(b, Sys::ThreadExit, &[]);
    assert_eq!(h.state(b), ThreadState::Dead);
    assert_eq!(
        ok(h.syscall(parent, Sys::ProcessStatus, &[slot]))[1],
        0,
        "alive"
    );
    h.syscall(a, Sys::ProcessExit, &[7]);
    let status = ok(h.syscall(parent, Sys::ProcessStatus, &[slot]));
    assert_eq!((status[1], status[2]), (1, 7));
    assert_eq!(ok(h.syscall(parent, Sys::Wait, &[exit]))[1], 1);
}

#[test]
fn a_fault_without_handler_kills_the_process() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(4 * MB);
    let parent = h.thread(parent_process);
    let (slot, child) = create_child(&mut h, parent, MB, (NONE, 0), (NONE, 0));
    let t = h.thread(child);
    let other = h.thread(child);
    h.run(t);
    h.k.user_fault(fault::DATA_ABORT, 0xdead, 0x9200_0045);
    assert_eq!(h.k.current(), None);
    assert_eq!(h.state(t), ThreadState::Dead);
    assert_eq!(h.state(other), ThreadState::Dead);
    let status = ok(h.syscall(parent, Sys::ProcessStatus, &[slot]));
    assert_eq!((status[1], status[4], status[5]), (2, 0xdead, 0x40_0000));
}

#[test]
fn a_fault_goes_to_the_supervisor_and_a_reply_resumes_untouched() {
    let mut h = Harness::new();
    let sup_process = h.spawn_process(4 * MB);
    let sup = h.thread(sup_process);
    let ep = h.endpoint(sup);
    let (slot, child) = create_child(&mut h, sup, MB, (NONE, 0), (ep, 0x77));
    let t = h.thread(child);
    {
        let context = h.k.context_mut(t).expect("context");
        for (i, reg) in context.regs.iter_mut().enumerate() {
            *reg = 1000 + i as u64;
        }
        context.pc = 0x5000;
    }
    let saved = h.k.context_mut(t).expect("context").clone();

    for supervisor_first in [true, false] {
        if supervisor_first {
            h.syscall(sup, Sys::Recv, &[ep]);
        }
        h.run(t);
        h.k.user_fault(fault::DATA_ABORT, 0xbad0, 0x9200_0045);
        if supervisor_first {
            assert_eq!(h.state(t), ThreadState::AwaitingReply);
        } else {
            assert!(matches!(
                h.state(t),
                ThreadState::Sending { call: true, .. }
            ));
            h.syscall(sup, Sys::Recv, &[ep]);
            assert_eq!(h.state(t), ThreadState::AwaitingReply);
        }
        let m = ok(h.regs(sup));
        let info = MessageInfo::decode(m[1]).expect("info");
        assert_eq!((info.label, info.length), (labels::FAULT, 32));
        assert_eq!(
            &m[2..],
            &[fault::DATA_ABORT, 0xbad0, 0x5000, 0x9200_0045, 0x77]
        );
        if supervisor_first {
            ok(h.syscall(sup, Sys::Reply, &[info_word(), 1, 2, 3, 4]));
        } else {
            let reply = ok(h.syscall(sup, Sys::ReplySave, &[]))[1];
            ok(h.syscall(sup, Sys::Send, &[reply, info_word(), 1, 2, 3, 4]));
        }
        assert_eq!(h.state(t), ThreadState::Runnable);
        assert_eq!(
            *h.k.context_mut(t).expect("context"),
            saved,
            "registers kept"
        );
    }

    // A supervisor that dies while a fault is pending takes the faulter with it.
    h.syscall(sup, Sys::Recv, &[ep]);
    h.run(t);
    h.k.user_fault(fault::UNDEFINED_INSTRUCTION, 0, 0);
    let status = ok(h.syscall(sup, Sys::ProcessStatus, &[slot]));
    assert_eq!(status[1], 0, "still alive while the supervisor decides");
    h.k.kill_process(sup_process, ProcessState::Exited(0));
    assert_eq!(h.state(t), ThreadState::Dead);
}

fn info_word() -> u64 {
    info(0, 0, 32)
}

#[test]
fn bad_user_pointers_are_refused() {
    let mut h = Harness::new();
    let p = h.spawn_process(4 * MB);
    let t = h.thread(p);
    let sys = system_cap(&mut h, p);
    let data = 0x30_0000;
    h.map_fresh(p, data, 1, rw());
    h.write_user(p, data + PAGE - 5, b"hello");

    let r = ok(h.syscall(t, Sys::DebugWrite, &[sys, data + PAGE - 5, 5]));
    assert_eq!(r[1], 5);
    assert_eq!(hostarch::take_console(), b"hello");
    // Unmapped, crossing into an unmapped page, beyond user space, overflowing.
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, 0x90_0000, 5]),
        SysError::BadAddress,
    );
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, data + PAGE - 5, 6]),
        SysError::BadAddress,
    );
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, USER_TOP - 2, 4]),
        SysError::BadAddress,
    );
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, u64::MAX - 1, 4]),
        SysError::BadAddress,
    );
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, data, 4097]),
        SysError::TooBig,
    );
    assert!(hostarch::take_console().is_empty());

    // Device pages are never read or written by the kernel.
    let device = h.k.new_object(Object::Memory(Memory::Device {
        base: 0x0900_0000,
        pages: 2,
    }));
    h.k.map_region(p, device, 0x50_0000, 0, 2, rw())
        .expect("map device");
    err(
        h.syscall(t, Sys::DebugWrite, &[sys, 0x50_0000, 4]),
        SysError::BadAddress,
    );
    err(
        h.syscall(t, Sys::SetIpcBuffer, &[0x50_0000]),
        SysError::BadAddress,
    );

    // Read-only pages: readable, but not an IPC buffer and never written.
    let ro = 0x60_0000;
    h.map_fresh(p, ro, 2, PageFlags::default());
    ok(h.syscall(t, Sys::DebugWrite, &[sys, ro, 8]));
    err(h.syscall(t, Sys::SetIpcBuffer, &[ro]), SysError::BadAddress);
    err(
        h.syscall(t, Sys::SetIpcBuffer, &[ro + 8]),
        SysError::InvalidArgument,
    );
    ok(h.syscall(t, Sys::SetIpcBuffer, &[h.ipc_buffer(t)]));

    // A receiver whose buffer turned read-only cannot take a long message.
    let receiver = h.thread(p);
    let ep = h.endpoint(receiver);
    let buffer = h.ipc_buffer(receiver);
    ok(h.syscall(t, Sys::MemoryProtect, &[SELF_PROCESS, buffer, 0]));
    err(
        h.syscall(
            t,
            Sys::MemoryProtect,
            &[SELF_PROCESS, buffer, map_flags::WRITE],
        ),
        SysError::NoRights,
    );
    h.syscall(receiver, Sys::Recv, &[ep]);
    err(
        h.syscall(t, Sys::Send, &[ep, info(0, 0, 100)]),
        SysError::BadAddress,
    );
    err(h.regs(receiver), SysError::BadAddress);
    assert_eq!(h.state(receiver), ThreadState::Runnable);
    assert_eq!(h.mapped_pages(p), 2 + 1 + 2 + 2 + 2);
}

#[test]
fn interrupts_signal_their_notification_until_acknowledged() {
    let mut h = Harness::new();
    let p = h.spawn_process(MB);
    let t = h.thread(p);
    let irq = h.k.new_object(Object::Irq(Irq {
        irq: 33,
        notification: None,
    }));
    h.k.irqs.insert(33, irq);
    let irq_slot = h.k.grant(p, None, irq, Rights::ALL, 0).expect("grant") as u64;
    let n = h.notification(t);
    let badged = ok(h.syscall(t, Sys::CapMint, &[n, NONE, 3, 0x40]))[1];
    assert!(!h.k.interrupt(34), "unknown interrupts are not ours");
    err(
        h.syscall(t, Sys::IrqBind, &[n, badged]),
        SysError::WrongType,
    );
    ok(h.syscall(t, Sys::IrqBind, &[irq_slot, badged]));
    assert_eq!(hostarch::irq_enabled(33), Some(true));

    h.syscall(t, Sys::Wait, &[n]);
    assert!(h.k.interrupt(33));
    assert_eq!(hostarch::irq_enabled(33), Some(false), "masked until acked");
    assert_eq!(ok(h.regs(t))[1], 0x40);
    ok(h.syscall(t, Sys::IrqAck, &[irq_slot]));
    assert_eq!(hostarch::irq_enabled(33), Some(true));

    ok(h.syscall(t, Sys::CapDelete, &[irq_slot]));
    assert_eq!(
        hostarch::irq_enabled(33),
        Some(false),
        "a destroyed irq is masked"
    );
    assert!(!h.k.interrupt(33));
}

#[test]
fn a_process_holding_a_capability_to_itself_is_freed_on_exit() {
    let mut h = Harness::new();
    let frames = h.k.frames.free_frames();
    let live = h.k.objects.live();
    let p = h.spawn_process(MB);
    h.k.grant(p, Some(0), p, Rights::ALL, 0).expect("grant");
    let t = h.thread(p);
    ok(h.syscall(t, Sys::CapCopy, &[0, SELF_PROCESS, NONE]));
    h.syscall(t, Sys::ProcessExit, &[0]);
    assert_eq!(h.k.current(), None);
    assert!(h.k.objects.process(p).is_none());
    assert_eq!(h.k.objects.live(), live);
    assert_eq!(h.k.frames.free_frames(), frames);
}

#[test]
fn a_quota_is_a_ceiling_on_the_whole_subtree_not_a_reservation() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(MB);
    let parent = h.thread(parent_process);
    let before = h.quota_used(parent_process);
    // A child may be promised more than the parent has: nothing is reserved.
    let (slot, child) = create_child(&mut h, parent, 4 * MB, (NONE, 0), (NONE, 0));
    let created = h.quota_used(parent_process);
    assert!(created - before <= 12 * 1024, "a child costs what it uses");
    let t = h.thread(child);
    let created = h.quota_used(parent_process);
    // What the child uses counts at every level, and the parent's limit holds.
    err(
        h.syscall(t, Sys::MemoryCreate, &[MB]),
        SysError::QuotaExceeded,
    );
    let memory = ok(h.syscall(t, Sys::MemoryCreate, &[256 * 1024]))[1];
    assert!(h.quota_used(parent_process) >= created + 256 * 1024);
    assert!(h.quota_used(parent_process) <= MB);
    // Many children fit when each uses little.
    let mut children = std::vec::Vec::new();
    for _ in 0..20 {
        children.push(create_child(&mut h, parent, 4 * MB, (NONE, 0), (NONE, 0)).0);
    }
    ok(h.syscall(t, Sys::CapDelete, &[memory]));
    for child_slot in children.into_iter().chain([slot]) {
        ok(h.syscall(parent, Sys::ProcessKill, &[child_slot]));
        ok(h.syscall(parent, Sys::CapDelete, &[child_slot]));
    }
    // All back, but for the parent's first chunk of capability slots (kept
    // until the parent ends: slots are charged by high-water mark).
    assert_eq!(
        h.quota_used(parent_process),
        before + crate::kernel::SLOT_CHUNK_COST,
        "all of it back"
    );
}

#[test]
fn page_tables_are_charged_before_they_are_taken() {
    // The review's case: one page mapped at many addresses 2 MiB apart needs a
    // new last-level table each time; a 256 KiB quota must stop it early.
    let mut h = Harness::new();
    let parent_process = h.spawn_process(8 * MB);
    let parent = h.thread(parent_process);
    let limit = 256 * 1024;
    let (slot, child) = create_child(&mut h, parent, limit, (NONE, 0), (NONE, 0));
    let frames = h.k.frames.free_frames();
    let t = h.thread(child);
    let memory = ok(h.syscall(t, Sys::MemoryCreate, &[PAGE]))[1];
    let mut mapped = 0;
    let mut refused = None;
    for i in 0..1999u64 {
        let r = h.syscall(
            t,
            Sys::MemoryMap,
            &[memory, SELF_PROCESS, 0x4000_0000 + i * 2 * MB, 0, 1, 0],
        );
        if r[0] != 0 {
            refused = Some(r[0]);
            break;
        }
        mapped += 1;
    }
    assert_eq!(refused, Some(SysError::QuotaExceeded.code()));
    assert!(mapped > 10 && mapped < 64, "stopped early: {mapped}");
    let used = h.quota_used(child);
    assert!(used <= limit, "used {used} within {limit}");
    let taken = (frames - h.k.frames.free_frames()) as u64 * PAGE;
    assert!(taken <= limit, "frames taken {taken} within {limit}");
    ok(h.syscall(parent, Sys::ProcessKill, &[slot]));
    ok(h.syscall(parent, Sys::CapDelete, &[slot]));
    assert_eq!(
        h.k.frames.free_frames(),
        frames + 1,
        "tables, pages and root back"
    );
}

#[test]
fn kernel_heap_runs_out_as_an_error_and_comes_back() {
    let mut h = Harness::new();
    let parent_process = h.spawn_process(64 * MB);
    let parent = h.thread(parent_process);
    let heap = h.k.heap_charged;
    h.k.heap_budget = heap + 256 * 1024;
    let live = h.k.objects.live();
    let (slot, child) = create_child(&mut h, parent, 64 * MB, (NONE, 0), (NONE, 0));
    let t = h.thread(child);
    let mut endpoints = 0;
    let error = loop {
        let r = h.syscall(t, Sys::EndpointCreate, &[]);
        if r[0] != 0 {
            break r[0];
        }
        endpoints += 1;
        assert!(endpoints < 10_000, "the heap budget never ended it");
    };
    assert_eq!(error, SysError::OutOfMemory.code());
    assert!(h.k.heap_charged <= h.k.heap_budget);
    err(
        h.syscall(t, Sys::ThreadCreate, &[SELF_PROCESS, 0x1000, 0x2000, 0, 10]),
        SysError::OutOfMemory,
    );
    ok(h.syscall(parent, Sys::ProcessKill, &[slot]));
    ok(h.syscall(parent, Sys::CapDelete, &[slot]));
    assert_eq!(h.k.heap_charged, heap + crate::kernel::SLOT_CHUNK_COST);
    assert_eq!(h.k.objects.live(), live);
}

/// MemorySlice: a device Memory's part becomes its own object (a PCI BAR out
/// of a bus window), with the source's rights; RAM and bad ranges are refused.
#[test]
fn device_memory_is_sliced_within_its_range() {
    let mut h = Harness::new();
    let p = h.spawn_process(16 * MB);
    let t = h.thread(p);
    let window = h.k.new_object(Object::Memory(Memory::Device {
        base: 0x1000_0000,
        pages: 16,
    }));
    let rights = Rights::READ | Rights::WRITE | Rights::MAP | Rights::GRANT;
    let slot = h.k.grant(p, None, window, rights, 0).expect("grant") as u64;
    let before = h.quota_used(p);
    let bar = ok(h.syscall(t, Sys::MemorySlice, &[slot, 4, 4]))[1];
    assert!(h.quota_used(p) > before, "the new object is charged");
    let info = ok(h.syscall(t, Sys::MemoryInfo, &[bar]));
    assert_eq!((info[1], info[2], info[3]), (4 * 4096, 0x1000_4000, 1));
    let cap = ok(h.syscall(t, Sys::CapInfo, &[bar]));
    assert_eq!(cap[2], rights.bits() as u64, "same rights as the source");
    for bad in [
        [slot, 0, 0],
        [slot, 12, 5],
        [slot, u64::MAX, 2],
        [slot, 16, 1],
    ] {
        err(
            h.syscall(t, Sys::MemorySlice, &bad),
            SysError::InvalidArgument,
        );
    }
    let ram = ok(h.syscall(t, Sys::MemoryCreate, &[4096, 0]))[1];
    err(
        h.syscall(t, Sys::MemorySlice, &[ram, 0, 1]),
        SysError::WrongType,
    );
    let read_only = h.give(p, slot, p, Rights::READ, 0);
    err(
        h.syscall(t, Sys::MemorySlice, &[read_only, 0, 1]),
        SysError::NoRights,
    );
    let held = h.quota_used(p);
    ok(h.syscall(t, Sys::CapDelete, &[bar]));
    assert!(h.quota_used(p) < held, "deleting the slice refunds it");
}

#[test]
fn a_thread_runs_on_one_cpu_at_a_time() {
    let mut h = Harness::new();
    h.k.online = 2;
    let p = h.spawn_process(MB);
    let a = h.thread(p);
    let b = h.thread(p);
    // Each CPU takes the next thread from the shared run queue.
    h.k.cpu = 1;
    assert_eq!(h.k.schedule(), Some(a));
    h.k.cpu = 0;
    assert_eq!(h.k.schedule(), Some(b));
    // Waking a thread another CPU runs does not queue it a second time.
    h.k.make_runnable(a);
    h.k.block_thread(b, ThreadState::Suspended);
    assert_eq!(h.k.schedule(), None, "a runs on CPU 1 only");
    // Destroying it takes it off that CPU; CPU 1 then idles.
    h.k.destroy_thread(a);
    assert_eq!(h.k.cpus[1].current, None);
    h.k.cpu = 1;
    assert_eq!(h.k.schedule(), None);
}
