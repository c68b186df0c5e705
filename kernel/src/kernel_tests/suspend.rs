//! `ThreadSuspend` and `ThreadResume`: what a suspended thread's wait becomes,
//! and that a server's late reply never reaches an interrupted caller.

use super::*;
use crate::syscall::CALL_INTERRUPTIBLE;

const MB: u64 = 1 << 20;

/// A controller thread holding a capability to `target` (in another process).
fn controller(h: &mut Harness, target: ObjRef) -> (ObjRef, u64) {
    controller_at(h, target, PRIO)
}

/// A controller thread at `priority` (below [`PRIO`], the IPC fast path
/// applies between the others: it never waits its turn behind it).
fn controller_at(h: &mut Harness, target: ObjRef, priority: u8) -> (ObjRef, u64) {
    let process = h.spawn_process(MB);
    let thread = h.thread_at(process, priority);
    h.notification(thread); // slot 0 taken: a slot number is never 0 below
    let slot =
        h.k.grant(process, None, target, Rights::ALL, 0)
            .expect("grant");
    (thread, slot as u64)
}

#[test]
fn a_receiver_is_interrupted_and_resumes_with_the_error() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    h.syscall(server, Sys::Recv, &[ep]);
    assert!(matches!(h.state(server), ThreadState::Receiving { .. }));
    let (ctl, server_cap) = controller(&mut h, server);

    ok(h.syscall(ctl, Sys::ThreadSuspend, &[server_cap]));
    assert_eq!(h.state(server), ThreadState::Suspended);
    let endpoint = h.object(server_process, ep).expect("endpoint");
    match h.k.objects.get(endpoint) {
        Some(Object::Endpoint(e)) => assert!(e.receivers.is_empty(), "left the queue"),
        _ => panic!("endpoint gone"),
    }
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[server_cap])); // already: no change
    ok(h.syscall(ctl, Sys::ThreadResume, &[server_cap]));
    assert_eq!(h.state(server), ThreadState::Runnable);
    err(h.regs(server), SysError::Interrupted);
    err(
        h.syscall(ctl, Sys::ThreadResume, &[server_cap]),
        SysError::BadState,
    );
}

#[test]
fn a_runnable_thread_stops_running_until_resumed() {
    let mut h = Harness::new();
    let process = h.spawn_process(MB);
    let worker = h.thread(process);
    let (ctl, cap) = controller(&mut h, worker);
    h.run(worker);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    assert_eq!(h.state(worker), ThreadState::Suspended);
    // Only the controller is left to run.
    for _ in 0..4 {
        assert_ne!(h.k.schedule(), Some(worker));
        h.k.rotate_current();
    }
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(h.state(worker), ThreadState::Runnable);
}

#[test]
fn a_sleeper_is_interrupted_and_forgotten_by_the_timer() {
    let mut h = Harness::new();
    let process = h.spawn_process(MB);
    let sleeper = h.thread(process);
    h.syscall(sleeper, Sys::SleepUntil, &[1_000_000]);
    assert!(matches!(h.state(sleeper), ThreadState::Sleeping { .. }));
    let (ctl, cap) = controller(&mut h, sleeper);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    h.k.tick(2_000_000);
    assert_eq!(
        h.state(sleeper),
        ThreadState::Suspended,
        "the deadline wakes nobody"
    );
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(h.regs(sleeper), SysError::Interrupted);
}

#[test]
fn a_call_held_by_a_server_stops_when_answered_unless_interruptible() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 1);
    let (ctl, cap) = controller(&mut h, client);

    // An ordinary call: the server's answer arrives, then the caller stops.
    h.syscall(server, Sys::Recv, &[ep]);
    h.syscall(client, Sys::Call, &[client_ep, info(1, 0, 8), 10]);
    assert_eq!(h.state(client), ThreadState::AwaitingReply);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    assert_eq!(
        h.state(client),
        ThreadState::AwaitingReply,
        "the call goes on"
    );
    ok(h.syscall(server, Sys::Reply, &[info(9, 0, 8), 99]));
    assert_eq!(
        h.state(client),
        ThreadState::Suspended,
        "stopped on the reply"
    );
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(ok(h.regs(client))[2], 99, "the answer is kept");

    // Resumed before the answer came: nothing stops it then.
    h.syscall(server, Sys::Recv, &[ep]);
    h.syscall(client, Sys::Call, &[client_ep, info(1, 0, 8), 10]);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    ok(h.syscall(server, Sys::Reply, &[info(9, 0, 8), 98]));
    assert_eq!(h.state(client), ThreadState::Runnable);
    assert_eq!(ok(h.regs(client))[2], 98);

    // An interruptible call is interrupted; the server's late answer must
    // not be taken for the answer to the next call.
    h.syscall(server, Sys::Recv, &[ep]);
    let interruptible = info(1, 0, 8) | CALL_INTERRUPTIBLE;
    h.syscall(client, Sys::Call, &[client_ep, interruptible, 10]);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    assert_eq!(h.state(client), ThreadState::Suspended);
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(h.regs(client), SysError::Interrupted);
    h.syscall(client, Sys::Call, &[client_ep, info(2, 0, 8), 20]);
    assert!(matches!(h.state(client), ThreadState::Sending { .. }));
    err(
        h.syscall(server, Sys::Reply, &[info(9, 0, 8), 99]),
        SysError::NoReplyTarget,
    );
    assert!(matches!(h.state(client), ThreadState::Sending { .. }));
}

#[test]
fn a_saved_reply_to_an_interrupted_caller_fails_with_peer_died() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 1);
    h.syscall(server, Sys::Recv, &[ep]);
    let interruptible = info(1, 0, 8) | CALL_INTERRUPTIBLE;
    h.syscall(client, Sys::Call, &[client_ep, interruptible, 10]);
    let reply = ok(h.syscall(server, Sys::ReplySave, &[]))[1];
    let (ctl, cap) = controller(&mut h, client);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(
        h.syscall(server, Sys::Send, &[reply, info(9, 0, 8), 99]),
        SysError::PeerDied,
    );
    err(h.regs(client), SysError::Interrupted);
}

#[test]
fn a_fast_reply_recv_to_a_stopping_caller_leaves_it_stopped() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 1);
    let (ctl, cap) = controller_at(&mut h, client, PRIO - 10);
    h.syscall(server, Sys::Recv, &[ep]);
    h.syscall(client, Sys::Call, &[client_ep, info(1, 0, 8), 10]);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    h.syscall(server, Sys::ReplyRecv, &[ep, info(9, 0, 8), 77]);
    assert_eq!(h.state(client), ThreadState::Suspended);
    assert!(matches!(h.state(server), ThreadState::Receiving { .. }));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(ok(h.regs(client))[2], 77);
}

#[test]
fn a_fast_interruptible_call_is_interrupted() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 1);
    let (ctl, cap) = controller_at(&mut h, client, PRIO - 10);
    h.syscall(server, Sys::Recv, &[ep]);
    let interruptible = info(1, 0, 8) | CALL_INTERRUPTIBLE;
    h.syscall(client, Sys::Call, &[client_ep, interruptible, 10]);
    assert_eq!(h.state(client), ThreadState::AwaitingReply);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    assert_eq!(h.state(client), ThreadState::Suspended);
}

#[test]
fn a_process_capability_suspends_and_resumes_every_thread() {
    let mut h = Harness::new();
    let process = h.spawn_process(MB);
    let worker = h.thread(process);
    let waiter = h.thread(process);
    let inactive =
        h.k.create_thread(process, 0x40_0000, 0x7000_0000, 0, PRIO)
            .expect("thread");
    let n = h.notification(waiter);
    h.syscall(waiter, Sys::Wait, &[n]);
    let (ctl, cap) = controller(&mut h, process);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    assert_eq!(h.state(worker), ThreadState::Suspended);
    assert_eq!(h.state(waiter), ThreadState::Suspended);
    assert_eq!(h.state(inactive), ThreadState::Inactive, "passed over");
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(h.state(worker), ThreadState::Runnable);
    assert_eq!(h.state(waiter), ThreadState::Runnable);
    err(h.regs(waiter), SysError::Interrupted);
    // Without WRITE on the process, nothing happens.
    let table = h.k.table_of(h.process_of(ctl)).expect("table");
    let read_only =
        h.k.caps
            .mint((table, cap as u32), table, None, Rights::READ, None, None)
            .expect("mint");
    h.k.objects.add_ref(process);
    err(
        h.syscall(ctl, Sys::ThreadSuspend, &[read_only as u64]),
        SysError::NoRights,
    );
    assert_eq!(h.state(worker), ThreadState::Runnable);
}

/// A worker running on CPU 1 and a controller, with the worker's endpoint
/// and notification slots; the controller's capability to the worker.
fn worker_on_cpu1(h: &mut Harness) -> (ObjRef, u64, u64, ObjRef, u64) {
    h.k.online = 2;
    let process = h.spawn_process(MB);
    let worker = h.thread(process);
    let (ep, n) = (h.endpoint(worker), h.notification(worker));
    let (ctl, cap) = controller(h, worker);
    h.k.cpu = 1;
    h.run(worker);
    h.k.cpu = 0;
    (worker, ep, n, ctl, cap)
}

#[test]
fn a_thread_suspended_while_another_cpu_runs_it_keeps_its_syscall() {
    let mut h = Harness::new();
    let (worker, _, n, ctl, cap) = worker_on_cpu1(&mut h);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    // CPU 1 may be in the kernel already, waiting for the lock with a syscall.
    assert_eq!(
        h.state(worker),
        ThreadState::Runnable,
        "stops on its way out"
    );
    assert_eq!(h.k.cpus[1].current, Some(worker));
    h.k.cpu = 1;
    ok(h.syscall(worker, Sys::Signal, &[n]));
    assert_ne!(h.k.schedule(), Some(worker), "parked on its way out");
    assert_eq!(h.state(worker), ThreadState::Suspended);
    h.k.cpu = 0;
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    assert_eq!(
        ok(h.regs(worker))[0],
        0,
        "the signal's own result, not lost"
    );
    assert_ne!(ok(h.syscall(worker, Sys::Poll, &[n]))[1], 0, "signalled");
}

#[test]
fn a_wait_begun_after_a_suspend_from_another_cpu_is_interrupted() {
    let mut h = Harness::new();
    let (worker, ep, _, ctl, cap) = worker_on_cpu1(&mut h);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    h.k.cpu = 1;
    h.syscall(worker, Sys::Recv, &[ep]);
    assert_eq!(h.state(worker), ThreadState::Suspended, "not receiving");
    assert_eq!(h.k.cpus[1].current, None);
    h.k.cpu = 0;
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(h.regs(worker), SysError::Interrupted);
    // A resume that comes first leaves it running.
    let (worker, _, n, ctl, cap) = worker_on_cpu1(&mut h);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap]));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    h.k.cpu = 1;
    ok(h.syscall(worker, Sys::Signal, &[n]));
    assert_eq!(h.k.schedule(), Some(worker));
}
