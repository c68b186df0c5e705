//! `ThreadRegisters`: a suspended thread's user registers read and changed
//! by a thread holding its capability, and a thread going back to registers
//! it saved (the return from a signal handler).

use super::*;
use crate::syscall::registers::{aarch64, USER_REGISTERS};

const MB: u64 = 1 << 20;

fn words_at(h: &Harness, process: ObjRef, va: u64) -> Vec<u64> {
    let bytes = h.read_user(process, va, USER_REGISTERS * 8);
    let words = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8")));
    words.collect()
}

fn put_words(h: &Harness, process: ObjRef, va: u64, words: &[u64]) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    h.write_user(process, va, &bytes);
}

/// A worker thread and a controller in another process holding its
/// capability; returns (worker, controller, its slot for the worker).
fn pair(h: &mut Harness) -> (ObjRef, ObjRef, u64) {
    let worker_process = h.spawn_process(MB);
    let worker = h.thread(worker_process);
    let ctl_process = h.spawn_process(MB);
    let ctl = h.thread(ctl_process);
    h.notification(ctl); // slot 0 taken
    let slot = h.k.grant(ctl_process, None, worker, Rights::ALL, 0);
    (worker, ctl, slot.expect("grant") as u64)
}

#[test]
fn a_suspended_threads_registers_are_read_and_changed() {
    let mut h = Harness::new();
    let (worker, ctl, cap) = pair(&mut h);
    let buffer = h.ipc_buffer(ctl);
    // Running: its registers are not to be had.
    err(
        h.syscall(ctl, Sys::ThreadRegisters, &[cap, buffer, 0]),
        SysError::BadState,
    );
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    ok(h.syscall(ctl, Sys::ThreadRegisters, &[cap, buffer, 0]));
    let ctl_process = h.process_of(ctl);
    let mut words = words_at(&h, ctl_process, buffer);
    assert_eq!(words[aarch64::PC], ENTRY);
    assert_eq!(words[aarch64::SP], STACK);
    words[aarch64::PC] = 0x4242_0000;
    words[0] = 7;
    put_words(&h, ctl_process, buffer, &words);
    ok(h.syscall(ctl, Sys::ThreadRegisters, &[cap, buffer, 1]));
    let t = h.k.objects.thread(worker).expect("worker");
    assert_eq!((t.context.pc, t.context.regs[0]), (0x4242_0000, 7));
    // A bad buffer changes nothing and says so.
    err(
        h.syscall(ctl, Sys::ThreadRegisters, &[cap, 0x10, 1]),
        SysError::BadAddress,
    );
    err(
        h.syscall(ctl, Sys::ThreadRegisters, &[cap, u64::MAX - 8, 0]),
        SysError::BadAddress,
    );
    assert_eq!(
        h.k.objects.thread(worker).expect("worker").context.pc,
        0x4242_0000
    );
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(h.state(worker), ThreadState::Runnable);
}

#[test]
fn a_thread_goes_back_to_registers_it_saved_without_results() {
    let mut h = Harness::new();
    let process = h.spawn_process(MB);
    let thread = h.thread(process);
    let own =
        h.k.grant(process, None, thread, Rights::ALL, 0)
            .expect("grant") as u64;
    let buffer = h.ipc_buffer(thread);
    let mut words = [0u64; USER_REGISTERS];
    (words[0], words[1], words[aarch64::PC], words[aarch64::SP]) = (11, 22, 0x5000, 0x9000);
    put_words(&h, process, buffer, &words);
    let regs = h.syscall(thread, Sys::ThreadRegisters, &[own, buffer, 1]);
    // Not the results of a call: the registers it asked for.
    assert_eq!((regs[0], regs[1]), (11, 22));
    let t = h.k.objects.thread(thread).expect("thread");
    assert_eq!((t.context.pc, t.context.sp), (0x5000, 0x9000));
    // Reading its own (running) registers is refused.
    err(
        h.syscall(thread, Sys::ThreadRegisters, &[own, buffer, 0]),
        SysError::BadState,
    );
}

#[test]
fn a_capability_without_write_or_of_another_kind_is_refused() {
    let mut h = Harness::new();
    let (_, ctl, cap) = pair(&mut h);
    let buffer = h.ipc_buffer(ctl);
    let ctl_process = h.process_of(ctl);
    let read_only =
        h.k.caps
            .lookup(h.k.table_of(ctl_process).expect("table"), cap as u32);
    let object = read_only.expect("cap").object;
    let weak =
        h.k.grant(ctl_process, None, object, Rights::READ, 0)
            .expect("grant") as u64;
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    err(
        h.syscall(ctl, Sys::ThreadRegisters, &[weak, buffer, 0]),
        SysError::NoRights,
    );
    let ep = h.endpoint(ctl);
    err(
        h.syscall(ctl, Sys::ThreadRegisters, &[ep, buffer, 0]),
        SysError::WrongType,
    );
}
