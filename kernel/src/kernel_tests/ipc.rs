//! IPC through the kernel: endpoint queues, call and reply, long messages,
//! capability transfer, saved reply rights and notifications.

use super::*;
use crate::syscall::MAX_MESSAGE_BYTES;

const MB: u64 = 1 << 20;

/// A server process with one thread and an endpoint, and a client process with
/// one thread holding a capability to that endpoint.
struct Pair {
    server: ObjRef,
    server_process: ObjRef,
    client: ObjRef,
    client_process: ObjRef,
    /// The endpoint in the server's table.
    ep: u64,
    /// The endpoint in the client's table.
    client_ep: u64,
}

fn pair(h: &mut Harness, client_rights: Rights, badge: u64) -> Pair {
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    let ep = h.endpoint(server);
    // Something in the client's slot 0, so the endpoint's slot number is not 0
    // (which would look like success in a result register).
    h.notification(client);
    let client_ep = h.give(server_process, ep, client_process, client_rights, badge);
    Pair {
        server,
        server_process,
        client,
        client_process,
        ep,
        client_ep,
    }
}

fn endpoint_queues(h: &Harness, process: ObjRef, slot: u64) -> (usize, usize) {
    match h.object(process, slot).and_then(|e| h.k.objects.get(e)) {
        Some(Object::Endpoint(ep)) => (ep.senders.len(), ep.receivers.len()),
        _ => panic!("not an endpoint"),
    }
}

#[test]
fn receiver_blocked_first_gets_the_send() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 42);
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    assert_eq!(
        h.state(p.server),
        ThreadState::Receiving {
            endpoint: h.object(p.server_process, p.ep).expect("ep")
        }
    );
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (0, 1));

    let r = h.syscall(
        p.client,
        Sys::Send,
        &[p.client_ep, info(7, 0, 24), 1, 2, 3, 4],
    );
    assert_eq!(r[0], 0, "a send delivered at once succeeds");
    assert_eq!(h.state(p.client), ThreadState::Runnable);
    assert_eq!(h.state(p.server), ThreadState::Runnable);
    let got = ok(h.regs(p.server));
    assert_eq!(
        MessageInfo::decode(got[1]).map(|i| (i.label, i.length)),
        Some((7, 24))
    );
    assert_eq!(&got[2..], &[1, 2, 3, 4, 42]);
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (0, 0));
}

#[test]
fn senders_queue_fifo_without_receiver() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let ep = h.endpoint(server);
    let mut clients = Vec::new();
    for badge in 1..=3 {
        let process = h.spawn_process(MB);
        let thread = h.thread(process);
        let slot = h.give(server_process, ep, process, Rights::WRITE, badge);
        // Alternate send and call: both wait in the same queue.
        let call = if badge == 2 { Sys::Call } else { Sys::Send };
        h.syscall(thread, call, &[slot, info(0, 0, 8), badge * 10]);
        assert!(matches!(h.state(thread), ThreadState::Sending { .. }));
        clients.push(thread);
    }
    assert_eq!(endpoint_queues(&h, server_process, ep), (3, 0));
    for (i, client) in clients.iter().enumerate() {
        let badge = i as u64 + 1;
        let r = ok(h.syscall(server, Sys::Recv, &[ep]));
        assert_eq!((r[2], r[6]), (badge * 10, badge), "FIFO order");
        if badge == 2 {
            assert_eq!(h.state(*client), ThreadState::AwaitingReply);
            ok(h.syscall(server, Sys::Reply, &[info(0, 0, 0)]));
        }
        assert_eq!(h.state(*client), ThreadState::Runnable);
        assert_eq!(h.regs(*client)[0], 0);
    }
    assert_eq!(endpoint_queues(&h, server_process, ep), (0, 0));
}

#[test]
fn call_and_reply() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0xB0B);
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(5, 0, 16), 10, 20]);
    assert_eq!(h.state(p.client), ThreadState::AwaitingReply);
    assert_eq!(
        h.k.current(),
        Some(p.server),
        "call switches to the receiver"
    );
    let got = ok(h.regs(p.server));
    assert_eq!((got[2], got[3], got[6]), (10, 20, 0xB0B));

    ok(h.syscall(p.server, Sys::Reply, &[info(9, 0, 8), 99]));
    assert_eq!(h.state(p.client), ThreadState::Runnable);
    let reply = ok(h.regs(p.client));
    assert_eq!(MessageInfo::decode(reply[1]).map(|i| i.label), Some(9));
    assert_eq!(reply[2], 99);
    assert_eq!(reply[6], 0, "a reply carries no badge");
    err(
        h.syscall(p.server, Sys::Reply, &[info(0, 0, 0)]),
        SysError::NoReplyTarget,
    );
}

#[test]
fn reply_recv_answers_and_takes_the_next_caller() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 1);
    let other_process = h.spawn_process(MB);
    let other = h.thread(other_process);
    let other_ep = h.give(p.server_process, p.ep, other_process, Rights::WRITE, 2);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 8), 100]);
    h.syscall(other, Sys::Call, &[other_ep, info(0, 0, 8), 200]);
    let first = ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    assert_eq!((first[2], first[6]), (100, 1));

    let second = ok(h.syscall(p.server, Sys::ReplyRecv, &[p.ep, info(0, 0, 8), 101]));
    assert_eq!((second[2], second[6]), (200, 2));
    assert_eq!(ok(h.regs(p.client))[2], 101);
    assert_eq!(h.state(other), ThreadState::AwaitingReply);

    // Nobody is calling now: the server replies and blocks receiving.
    h.syscall(p.server, Sys::ReplyRecv, &[p.ep, info(0, 0, 8), 201]);
    assert_eq!(ok(h.regs(other))[2], 201);
    assert!(matches!(h.state(p.server), ThreadState::Receiving { .. }));
}

#[test]
fn reply_recv_to_a_higher_priority_caller_still_receives_as_the_server() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread_at(server_process, 50);
    let ep = h.endpoint(server);
    let client_process = h.spawn_process(MB);
    let client = h.thread_at(client_process, 150);
    let client_ep = h.give(server_process, ep, client_process, Rights::WRITE, 0);
    h.syscall(client, Sys::Call, &[client_ep, info(0, 0, 8), 1]);
    ok(h.syscall(server, Sys::Recv, &[ep]));

    h.syscall(server, Sys::ReplyRecv, &[ep, info(0, 0, 8), 2]);
    assert_eq!(
        h.state(client),
        ThreadState::Runnable,
        "the caller got its reply"
    );
    assert_eq!(ok(h.regs(client))[2], 2);
    assert_eq!(h.k.current(), Some(client), "the woken caller preempts");
    assert!(
        matches!(h.state(server), ThreadState::Receiving { .. }),
        "the server, not the caller, waits for the next message"
    );
    assert_eq!(h.k.schedule(), Some(client));
}

#[test]
fn long_message_travels_through_both_ipc_buffers() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    let data: Vec<u8> = (0..MAX_MESSAGE_BYTES)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    h.write_message_data(p.client, &data);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(1, 0, 4096)]);
    let got = ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    assert_eq!(MessageInfo::decode(got[1]).map(|i| i.length), Some(4096));
    let va = h.ipc_buffer(p.server) + IPC_BUFFER_DATA;
    assert_eq!(h.read_user(p.server_process, va, data.len()), data);

    // And back in the reply.
    let answer: Vec<u8> = data.iter().rev().copied().collect();
    h.write_message_data(p.server, &answer);
    ok(h.syscall(p.server, Sys::Reply, &[info(0, 0, 4096)]));
    ok(h.regs(p.client));
    let va = h.ipc_buffer(p.client) + IPC_BUFFER_DATA;
    assert_eq!(h.read_user(p.client_process, va, answer.len()), answer);
}

#[test]
fn oversized_messages_are_refused() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE | Rights::GRANT, 0);
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    err(
        h.syscall(p.client, Sys::Send, &[p.client_ep, 4097]),
        SysError::TooBig,
    );
    err(
        h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 5, 0)]),
        SysError::TooBig,
    );
    // The receiver is still waiting, untouched.
    assert!(matches!(h.state(p.server), ThreadState::Receiving { .. }));

    // A long message to a receiver without an IPC buffer fails for both.
    h.k.objects.thread_mut(p.server).expect("server").ipc_buffer = None;
    err(
        h.syscall(p.client, Sys::Send, &[p.client_ep, info(0, 0, 64)]),
        SysError::TooBig,
    );
    err(h.regs(p.server), SysError::TooBig);
}

#[test]
fn capabilities_move_only_with_grant() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    let n = h.notification(p.client);
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    h.write_cap_slots(p.client, &[n]);
    ok(h.syscall(p.client, Sys::Send, &[p.client_ep, info(0, 1, 0)]));
    let got = ok(h.regs(p.server));
    assert_eq!(MessageInfo::decode(got[1]).map(|i| i.caps), Some(0));
    assert!(
        h.object(p.client_process, n).is_some(),
        "cap stays with the sender"
    );
    // Server table: only its endpoint.
    let table = h.k.table_of(p.server_process).expect("table");
    assert_eq!(h.k.caps.count(table), Ok(1));
}

#[test]
fn granted_capabilities_leave_the_sender_and_land_in_free_slots() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE | Rights::GRANT, 0);
    let n1 = h.notification(p.client);
    let n2 = h.endpoint(p.client);
    let objects = [
        h.object(p.client_process, n1),
        h.object(p.client_process, n2),
    ];
    // Occupy a few server slots so the new ones are not just 1 and 2.
    let a = h.notification(p.server);
    let b = h.notification(p.server);
    ok(h.syscall(p.server, Sys::CapDelete, &[a]));
    let free_before =
        h.k.caps
            .free_slot(h.k.table_of(p.server_process).expect("t"));
    assert_eq!(free_before, Ok(a as u32));

    // Sender first this time: the transfer happens when the server receives.
    h.write_cap_slots(p.client, &[n1, n2]);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(3, 2, 0)]);
    let got = ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    assert_eq!(MessageInfo::decode(got[1]).map(|i| i.caps), Some(2));
    let slots = h.read_cap_slots(p.server, 2);
    assert_eq!(slots[0], a, "lowest free slot first");
    assert!(slots[1] > b);
    assert_eq!(h.object(p.server_process, slots[0]), objects[0]);
    assert_eq!(h.object(p.server_process, slots[1]), objects[1]);
    assert_eq!(h.object(p.client_process, n1), None);
    assert_eq!(h.object(p.client_process, n2), None);
    ok(h.syscall(p.server, Sys::Reply, &[info(0, 0, 0)]));
    err(
        h.syscall(p.client, Sys::CapInfo, &[n1]),
        SysError::InvalidCap,
    );
}

#[test]
fn saved_reply_capability_answers_later() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 8), 5]);
    ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    let reply = ok(h.syscall(p.server, Sys::ReplySave, &[]))[1];
    err(
        h.syscall(p.server, Sys::ReplySave, &[]),
        SysError::NoReplyTarget,
    );
    let kind = ok(h.syscall(p.server, Sys::CapInfo, &[reply]))[1];
    assert_eq!(kind, ObjectKind::Reply as u64);
    // The server serves someone else meanwhile: the saved right survives a recv.
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    assert_eq!(h.state(p.client), ThreadState::AwaitingReply);
    // An unrelated thread of the server process answers through the saved cap.
    let helper = h.thread(p.server_process);
    ok(h.syscall(helper, Sys::Send, &[reply, info(0, 0, 8), 6]));
    assert_eq!(ok(h.regs(p.client))[2], 6);
    assert_eq!(h.object(p.server_process, reply), None, "one shot");
    err(
        h.syscall(helper, Sys::Send, &[reply, info(0, 0, 0)]),
        SysError::InvalidCap,
    );
}

#[test]
fn dropping_a_saved_reply_wakes_the_caller_with_peer_died() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
    ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    let reply = ok(h.syscall(p.server, Sys::ReplySave, &[]))[1];
    ok(h.syscall(p.server, Sys::CapDelete, &[reply]));
    assert_eq!(h.state(p.client), ThreadState::Runnable);
    err(h.regs(p.client), SysError::PeerDied);
}

#[test]
fn receiving_again_without_replying_fails_the_caller() {
    for client_priority in [PRIO, PRIO + 50] {
        let mut h = Harness::new();
        let p = pair(&mut h, Rights::WRITE, 0);
        h.k.objects.thread_mut(p.client).expect("client").priority = client_priority;
        let thread = crate::audit::obj(p.client);
        h.k.commit(zos_axiom::Commit::Priority {
            thread,
            priority: client_priority,
        });
        h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
        ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
        h.syscall(p.server, Sys::Recv, &[p.ep]);
        err(h.regs(p.client), SysError::PeerDied);
        assert_eq!(h.state(p.client), ThreadState::Runnable);
        assert!(
            matches!(h.state(p.server), ThreadState::Receiving { .. }),
            "the server receives even when the failed caller preempts it"
        );
    }
}

#[test]
fn server_death_fails_the_waiting_caller() {
    for saved in [false, true] {
        let mut h = Harness::new();
        let p = pair(&mut h, Rights::WRITE, 0);
        h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
        ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
        if saved {
            ok(h.syscall(p.server, Sys::ReplySave, &[]));
        }
        h.k.kill_process(
            p.server_process,
            ProcessState::Killed {
                fault_address: 0,
                fault_pc: 0,
            },
        );
        assert_eq!(h.state(p.server), ThreadState::Dead);
        assert_eq!(h.state(p.client), ThreadState::Runnable, "saved: {saved}");
        err(h.regs(p.client), SysError::PeerDied);
    }
}

#[test]
fn client_death_removes_it_from_the_endpoint_queue() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    let endpoint = h.object(p.server_process, p.ep).expect("ep");
    let refs_before = h.k.objects.refs(endpoint);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 8), 1]);
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (1, 0));
    assert_eq!(h.k.objects.refs(endpoint), refs_before + 1);
    h.k.kill_process(p.client_process, ProcessState::Exited(3));
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (0, 0));
    assert_eq!(
        h.k.objects.refs(endpoint),
        refs_before - 1,
        "hold and cap gone"
    );
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    assert!(matches!(h.state(p.server), ThreadState::Receiving { .. }));
}

#[test]
fn client_death_while_awaiting_reply_drops_the_reply() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
    ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    h.k.kill_process(p.client_process, ProcessState::Exited(0));
    ok(h.syscall(p.server, Sys::Reply, &[info(0, 0, 8), 1]));
}

#[test]
fn a_reply_that_reaches_no_caller_still_gives_its_capabilities_away() {
    // Replying to a killed caller (implicit and saved reply rights): the
    // capability the reply carried leaves the server, so what it named (a
    // handle minted for that caller) is not kept alive by the server alone.
    for saved in [false, true] {
        let mut h = Harness::new();
        let p = pair(&mut h, Rights::WRITE, 0);
        h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
        ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
        let reply = saved.then(|| ok(h.syscall(p.server, Sys::ReplySave, &[]))[1]);
        h.k.kill_process(p.client_process, ProcessState::Exited(0));
        let handle = h.notification(p.server);
        h.write_cap_slots(p.server, &[handle]);
        match reply {
            Some(reply) => err(
                h.syscall(p.server, Sys::Send, &[reply, info(0, 1, 0)]),
                SysError::PeerDied,
            ),
            None => {
                ok(h.syscall(p.server, Sys::Reply, &[info(0, 1, 0)]));
            }
        };
        assert_eq!(h.object(p.server_process, handle), None, "saved: {saved}");
    }
}

#[test]
fn a_reply_that_delivers_no_capability_deletes_it_from_the_replier() {
    // A caller that can take no capability (no IPC buffer; over its quota
    // is the other case) still has its reply: the capability it could not
    // take does not stay with the server either, so the server may answer
    // with ReplyRecv and never look at its slots again.
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 0);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(0, 0, 0)]);
    ok(h.syscall(p.server, Sys::Recv, &[p.ep]));
    h.k.objects.thread_mut(p.client).expect("client").ipc_buffer = None;
    let handle = h.notification(p.server);
    h.write_cap_slots(p.server, &[handle]);
    ok(h.syscall(p.server, Sys::Reply, &[info(0, 1, 0)]));
    assert_eq!(h.object(p.server_process, handle), None, "left the server");
    assert_eq!(
        h.state(p.client),
        ThreadState::Runnable,
        "the caller has its answer"
    );
}

#[test]
fn send_needs_write_and_recv_needs_read() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::READ, 0);
    err(
        h.syscall(p.client, Sys::Send, &[p.client_ep, info(0, 0, 0)]),
        SysError::NoRights,
    );
    let q = pair(&mut h, Rights::WRITE, 0);
    err(
        h.syscall(q.client, Sys::Recv, &[q.client_ep]),
        SysError::NoRights,
    );
    let n = h.notification(q.client);
    err(
        h.syscall(q.client, Sys::Call, &[n, info(0, 0, 0)]),
        SysError::WrongType,
    );
    err(h.syscall(q.client, Sys::Recv, &[n]), SysError::WrongType);
}

#[test]
fn notification_bits_or_together() {
    let mut h = Harness::new();
    let owner_process = h.spawn_process(MB);
    let owner = h.thread(owner_process);
    let n = h.notification(owner);
    let a = h.k.grant(
        owner_process,
        None,
        h.object(owner_process, n).expect("n"),
        Rights::WRITE,
        0b01,
    );
    let a = a.expect("grant") as u64;
    let b = h.give(owner_process, n, owner_process, Rights::WRITE, 0b100);

    err(h.syscall(owner, Sys::Poll, &[n]), SysError::WouldBlock);
    ok(h.syscall(owner, Sys::Signal, &[a]));
    ok(h.syscall(owner, Sys::Signal, &[b]));
    ok(h.syscall(owner, Sys::Signal, &[a]));
    assert_eq!(ok(h.syscall(owner, Sys::Poll, &[n]))[1], 0b101);
    err(h.syscall(owner, Sys::Poll, &[n]), SysError::WouldBlock);
    // An unbadged signal sets bit 0.
    ok(h.syscall(owner, Sys::Signal, &[n]));
    assert_eq!(ok(h.syscall(owner, Sys::Wait, &[n]))[1], 1);

    // Wait blocks until a signal, which hands over the bits.
    let signaller_process = h.spawn_process(MB);
    let signaller = h.thread(signaller_process);
    let s = h.give(owner_process, n, signaller_process, Rights::WRITE, 0b1000);
    h.syscall(owner, Sys::Wait, &[n]);
    assert!(matches!(h.state(owner), ThreadState::Waiting { .. }));
    ok(h.syscall(signaller, Sys::Signal, &[s]));
    assert_eq!(h.state(owner), ThreadState::Runnable);
    assert_eq!(ok(h.regs(owner))[1], 0b1000);
    err(h.syscall(owner, Sys::Poll, &[n]), SysError::WouldBlock);
    err(h.syscall(signaller, Sys::Wait, &[s]), SysError::NoRights);
}

/// The fast path: a short call to a waiting receiver and a short reply-receive
/// with no sender queued switch straight to the partner with what the general
/// path delivers; a reply leaves the caller to the run queue when a more
/// urgent thread waits there.
#[test]
fn short_call_and_reply_recv_switch_directly() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 9);
    let endpoint = h.object(p.server_process, p.ep).expect("ep");
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    h.syscall(
        p.client,
        Sys::Call,
        &[p.client_ep, info(3, 0, 32), 1, 2, 3, 4],
    );
    assert_eq!(h.k.current(), Some(p.server), "the receiver runs at once");
    assert_eq!(h.state(p.client), ThreadState::AwaitingReply);
    let got = ok(h.regs(p.server));
    assert_eq!(
        MessageInfo::decode(got[1]).map(|i| (i.label, i.length)),
        Some((3, 32))
    );
    assert_eq!(&got[2..], &[1, 2, 3, 4, 9]);
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (0, 0));

    h.syscall(p.server, Sys::ReplyRecv, &[p.ep, info(5, 0, 16), 7, 8]);
    assert_eq!(h.k.current(), Some(p.client), "the caller runs at once");
    assert_eq!(h.state(p.server), ThreadState::Receiving { endpoint });
    let reply = ok(h.regs(p.client));
    assert_eq!(
        MessageInfo::decode(reply[1]).map(|i| (i.label, i.length)),
        Some((5, 16))
    );
    assert_eq!(&reply[2..], &[7, 8, 0, 0, 0], "a reply carries no badge");
    assert_eq!(endpoint_queues(&h, p.server_process, p.ep), (0, 1));

    // A more urgent thread in the run queue runs before the caller.
    let urgent = h.thread_at(p.client_process, PRIO + 1);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(3, 0, 8), 11]);
    assert_eq!(h.k.current(), Some(p.server));
    h.syscall(p.server, Sys::ReplyRecv, &[p.ep, info(5, 0, 8), 12]);
    assert_eq!(h.state(p.client), ThreadState::Runnable);
    assert_eq!(ok(h.regs(p.client))[2], 12);
    assert_eq!(h.k.schedule(), Some(urgent));
}

#[test]
fn fast_path_keeps_round_robin_fair() {
    let mut h = Harness::new();
    let p = pair(&mut h, Rights::WRITE, 9);
    h.syscall(p.server, Sys::Recv, &[p.ep]);
    h.syscall(p.client, Sys::Call, &[p.client_ep, info(3, 0, 8), 1]);
    assert_eq!(h.k.current(), Some(p.server));
    // A thread of the caller's priority became runnable meanwhile (a shell
    // whose sleep ended): the reply must not hand the CPU straight back to
    // the caller ahead of it.
    let peer = h.thread_at(p.client_process, PRIO);
    h.syscall(p.server, Sys::ReplyRecv, &[p.ep, info(5, 0, 8), 2]);
    assert_eq!(ok(h.regs(p.client))[2], 2, "the reply arrived");
    assert_eq!(h.k.schedule(), Some(peer), "the waiting thread runs first");
}
