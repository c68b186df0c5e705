//! `ThreadSuspend` and `ThreadResume`: what a suspended thread's wait becomes,
//! and that a server's late reply never reaches an interrupted caller.

use super::*;
use crate::syscall::suspend_flags::INTERRUPT_CALL;

const MB: u64 = 1 << 20;

/// A controller thread holding a capability to `target` (in another process).
fn controller(h: &mut Harness, target: ObjRef) -> (ObjRef, u64) {
    let process = h.spawn_process(MB);
    let thread = h.thread(process);
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

    ok(h.syscall(ctl, Sys::ThreadSuspend, &[server_cap, 0]));
    assert_eq!(h.state(server), ThreadState::Suspended);
    let endpoint = h.object(server_process, ep).expect("endpoint");
    match h.k.objects.get(endpoint) {
        Some(Object::Endpoint(e)) => assert!(e.receivers.is_empty(), "left the queue"),
        _ => panic!("endpoint gone"),
    }
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[server_cap, 0])); // already: no change
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
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap, 0]));
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
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap, 0]));
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
fn a_call_held_by_a_server_is_interrupted_only_when_asked() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 1);
    h.syscall(server, Sys::Recv, &[ep]);
    h.syscall(client, Sys::Call, &[client_ep, info(1, 0, 8), 10]);
    assert_eq!(h.state(client), ThreadState::AwaitingReply);
    let (ctl, cap) = controller(&mut h, client);

    err(
        h.syscall(ctl, Sys::ThreadSuspend, &[cap, 0]),
        SysError::BadState,
    );
    assert_eq!(h.state(client), ThreadState::AwaitingReply);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap, INTERRUPT_CALL]));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(h.regs(client), SysError::Interrupted);

    // The client calls again; the server's late answer to the first call
    // must not be taken for the answer to the second.
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
    h.syscall(client, Sys::Call, &[client_ep, info(1, 0, 8), 10]);
    let reply = ok(h.syscall(server, Sys::ReplySave, &[]))[1];
    let (ctl, cap) = controller(&mut h, client);
    ok(h.syscall(ctl, Sys::ThreadSuspend, &[cap, INTERRUPT_CALL]));
    ok(h.syscall(ctl, Sys::ThreadResume, &[cap]));
    err(
        h.syscall(server, Sys::Send, &[reply, info(9, 0, 8), 99]),
        SysError::PeerDied,
    );
    err(h.regs(client), SysError::Interrupted);
}
