//! Watched badges (`CapMintWatched`): the server that minted a badge hears a
//! `NO_SENDERS` message on its endpoint once no capability carrying the badge is
//! left, whichever way the last one went — delete, revoke, exit, kill, fault, a
//! transfer followed by a delete — and not while a copy remains.

use super::*;
use crate::kernel::{fault, WATCH_COST};
use crate::syscall::{labels, SELF_PROCESS};

const MB: u64 = 1 << 20;
const NONE: u64 = u64::MAX;
const BADGE: u64 = 0x5eed;

/// A server with an endpoint, and a client process holding a watched badged
/// capability to it (minted by the server, moved with CapTransfer).
struct Setup {
    server: ObjRef,
    server_process: ObjRef,
    ep: u64,
    client: ObjRef,
    client_process: ObjRef,
    /// The watched capability in the client's table.
    client_cap: u64,
    /// The server's capability to the client process.
    client_slot: u64,
}

fn setup(h: &mut Harness) -> Setup {
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    h.notification(client); // so the transferred cap does not land in slot 0
    let client_slot =
        h.k.grant(server_process, None, client_process, Rights::ALL, 0)
            .expect("grant") as u64;
    let before = h.quota_used(server_process);
    let minted = ok(h.syscall(
        server,
        Sys::CapMintWatched,
        &[
            ep,
            NONE,
            (Rights::WRITE | Rights::GRANT).bits() as u64,
            BADGE,
        ],
    ))[1];
    assert_eq!(h.quota_used(server_process), before + WATCH_COST);
    let client_cap = ok(h.syscall(server, Sys::CapTransfer, &[minted, client_slot, NONE]))[1];
    Setup {
        server,
        server_process,
        ep,
        client,
        client_process,
        client_cap,
        client_slot,
    }
}

/// Whether the server's next receive returns `NO_SENDERS` for [`BADGE`] at once.
fn told(h: &mut Harness, s: &Setup) -> bool {
    let r = h.syscall(s.server, Sys::Recv, &[s.ep]);
    if h.state(s.server) != ThreadState::Runnable {
        // Blocked: nothing queued. Take the server out of the queue again.
        h.k.unblock_detach(s.server);
        h.k.make_runnable(s.server);
        return false;
    }
    let label = MessageInfo::decode(r[1]).map(|i| i.label);
    assert_eq!((r[0], label, r[6]), (0, Some(labels::NO_SENDERS), BADGE));
    true
}

#[test]
fn delete_of_the_last_capability_tells_the_server_once() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    let quota = h.quota_used(s.server_process);
    assert!(!told(&mut h, &s), "nothing while the client holds it");
    ok(h.syscall(s.client, Sys::CapDelete, &[s.client_cap]));
    assert!(told(&mut h, &s));
    assert_eq!(h.quota_used(s.server_process), quota - WATCH_COST);
    assert!(!told(&mut h, &s), "told once");
}

#[test]
fn copies_keep_the_badge_alive_until_the_last_goes() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    let copy = ok(h.syscall(s.client, Sys::CapCopy, &[s.client_cap, SELF_PROCESS, NONE]))[1];
    let narrowed = ok(h.syscall(
        s.client,
        Sys::CapMint,
        &[copy, NONE, Rights::WRITE.bits() as u64, 0],
    ))[1];
    ok(h.syscall(s.client, Sys::CapDelete, &[s.client_cap]));
    ok(h.syscall(s.client, Sys::CapDelete, &[copy]));
    assert!(!told(&mut h, &s), "a minted copy remains");
    ok(h.syscall(s.client, Sys::CapDelete, &[narrowed]));
    assert!(told(&mut h, &s));
}

#[test]
fn a_waiting_server_is_woken_with_the_message() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    h.syscall(s.server, Sys::Recv, &[s.ep]);
    assert!(matches!(h.state(s.server), ThreadState::Receiving { .. }));
    ok(h.syscall(s.client, Sys::CapDelete, &[s.client_cap]));
    assert_eq!(h.state(s.server), ThreadState::Runnable);
    let r = ok(h.regs(s.server));
    assert_eq!(
        MessageInfo::decode(r[1]).map(|i| i.label),
        Some(labels::NO_SENDERS)
    );
    assert_eq!(r[6], BADGE);
}

#[test]
fn exit_kill_and_fault_all_tell_the_server() {
    for how in 0..3 {
        let mut h = Harness::new();
        let s = setup(&mut h);
        match how {
            0 => {
                h.syscall(s.client, Sys::ProcessExit, &[3]);
            }
            1 => {
                ok(h.syscall(s.server, Sys::ProcessKill, &[s.client_slot]));
            }
            _ => {
                h.run(s.client);
                h.k.user_fault(fault::DATA_ABORT, 0xdead, 0);
            }
        }
        assert_eq!(h.state(s.client), ThreadState::Dead);
        assert!(told(&mut h, &s), "way {how}");
    }
}

#[test]
fn revoke_tells_the_server() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    // The server's own endpoint cap is the parent of the watched one.
    assert_eq!(ok(h.syscall(s.server, Sys::CapRevoke, &[s.ep]))[1], 1);
    assert!(told(&mut h, &s));
}

#[test]
fn a_capability_moved_in_a_message_is_counted_until_deleted() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    // A third process receives the watched cap from the client in a message.
    let other_process = h.spawn_process(MB);
    let other = h.thread(other_process);
    let other_ep = h.endpoint(other);
    let to_other = h.give(other_process, other_ep, s.client_process, Rights::ALL, 0);
    h.write_cap_slots(s.client, &[s.client_cap]);
    // Queued (no receiver yet): the cap stays in the sender's table, still counted.
    h.syscall(s.client, Sys::Send, &[to_other, info(1, 1, 0)]);
    assert!(!told(&mut h, &s));
    h.syscall(other, Sys::Recv, &[other_ep]);
    assert_eq!(h.state(s.client), ThreadState::Runnable);
    let landed = h.read_cap_slots(other, 1)[0];
    assert!(!told(&mut h, &s), "moved, not gone");
    // The client's death no longer matters; the receiver's delete does.
    h.k.kill_process(s.client_process, ProcessState::Exited(0));
    assert!(!told(&mut h, &s));
    ok(h.syscall(other, Sys::CapDelete, &[landed]));
    assert!(told(&mut h, &s));
}

#[test]
fn queued_messages_come_before_the_end_and_reply_rights_do_not_count() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    let second = h.thread(s.client_process);
    let third = h.thread(s.client_process);
    // One client thread is blocked in a call, another only queued.
    h.syscall(s.client, Sys::Call, &[s.client_cap, info(1, 0, 0)]);
    h.syscall(s.server, Sys::Recv, &[s.ep]);
    assert_eq!(h.state(s.client), ThreadState::AwaitingReply);
    let reply = ok(h.syscall(s.server, Sys::ReplySave, &[]))[1];
    h.syscall(second, Sys::Send, &[s.client_cap, info(2, 0, 0)]);
    // The cap goes while the send is queued: the send is received first.
    ok(h.syscall(third, Sys::CapDelete, &[s.client_cap]));
    let r = ok(h.syscall(s.server, Sys::Recv, &[s.ep]));
    assert_eq!(MessageInfo::decode(r[1]).map(|i| i.label), Some(2));
    assert!(
        told(&mut h, &s),
        "the saved reply right does not keep the badge"
    );
    // ...and still answers the caller, which is alive.
    ok(h.syscall(s.server, Sys::Send, &[reply, info(0, 0, 0)]));
    assert_eq!(h.state(s.client), ThreadState::Runnable);
}

#[test]
fn bad_watches_are_refused_and_refunded() {
    let mut h = Harness::new();
    let s = setup(&mut h);
    let quota = h.quota_used(s.server_process);
    let rw = (Rights::WRITE).bits() as u64;
    err(
        h.syscall(s.server, Sys::CapMintWatched, &[s.ep, NONE, rw, BADGE]),
        SysError::InvalidArgument,
    );
    err(
        h.syscall(s.server, Sys::CapMintWatched, &[s.ep, NONE, rw, 0]),
        SysError::InvalidArgument,
    );
    let n = h.notification(s.server);
    err(
        h.syscall(s.server, Sys::CapMintWatched, &[n, NONE, rw, 9]),
        SysError::WrongType,
    );
    let quota_after_notification = h.quota_used(s.server_process);
    assert_eq!(
        quota_after_notification,
        quota + crate::kernel::SMALL_OBJECT_COST
    );
    // A server that dies with ends still queued gets its whole quota back anyway;
    // the endpoint refunds what was queued when it is destroyed.
    ok(h.syscall(s.client, Sys::CapDelete, &[s.client_cap]));
    let live = h.k.objects.live();
    h.k.kill_process(s.server_process, ProcessState::Exited(0));
    assert!(h.k.objects.live() < live);
}
