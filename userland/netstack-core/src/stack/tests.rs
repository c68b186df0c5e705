//! Loopback sockets end to end, in the host process.

use super::*;

fn addr(port: u16) -> SockAddr {
    SockAddr {
        addr: [127, 0, 0, 1],
        port,
    }
}

/// A listening socket on `port`.
fn listener(stack: &mut Stack, port: u16) -> SockId {
    let l = stack.socket(SocketKind::Stream, false).expect("socket");
    assert_eq!(
        stack.request(1, l, &SocketRequest::Bind(addr(port)), 0),
        Some(Reply::Ok)
    );
    assert_eq!(
        stack.request(1, l, &SocketRequest::Listen { backlog: 4 }, 0),
        Some(Reply::Ok)
    );
    l
}

/// A connected pair (client, accepted).
fn pair(stack: &mut Stack, port: u16) -> (SockId, SockId) {
    let l = listener(stack, port);
    let c = stack.socket(SocketKind::Stream, false).expect("socket");
    let mut done = Vec::new();
    match stack.request(10, c, &SocketRequest::Connect(addr(port)), 0) {
        None => done.extend(stack.poll(1)),
        Some(reply) => done.push((10, reply)),
    }
    assert!(done.contains(&(10, Reply::Ok)), "{done:?}");
    let Some(Reply::Accepted { sock, peer }) = stack.request(11, l, &SocketRequest::Accept, 1)
    else {
        panic!("no connection to accept");
    };
    assert_eq!(peer.addr, [127, 0, 0, 1]);
    (c, sock)
}

#[test]
fn tcp_echo_and_end_of_file() {
    let mut stack = Stack::new(0, 7);
    let (c, s) = pair(&mut stack, 1234);
    assert_eq!(stack.write(20, c, b"test\n", 2), Some(Reply::Written(5)));
    assert_eq!(
        stack.read(21, s, 100, 2),
        Some(Reply::Data(b"test\n".to_vec()))
    );
    // A read with nothing there waits, then completes on data.
    assert_eq!(stack.read(22, s, 100, 3), None);
    let mut done = Vec::new();
    match stack.write(23, c, b"more", 3) {
        Some(reply) => done.push((23, reply)),
        None => panic!("write waited"),
    }
    done.extend(stack.poll(3));
    assert!(
        done.contains(&(22, Reply::Data(b"more".to_vec()))),
        "{done:?}"
    );
    // Closing the client gives the server end of file.
    assert_eq!(stack.read(24, s, 100, 4), None);
    let mut done = stack.close(c, 4);
    done.extend(stack.poll(5));
    assert!(done.contains(&(24, Reply::Data(Vec::new()))), "{done:?}");
}

#[test]
fn readable_says_whether_a_read_or_accept_would_answer() {
    let mut stack = Stack::new(0, 7);
    let l = listener(&mut stack, 4321);
    assert!(!stack.readable(l, 0), "nobody connected yet");
    let c = stack.socket(SocketKind::Stream, false).expect("socket");
    if stack
        .request(10, c, &SocketRequest::Connect(addr(4321)), 0)
        .is_none()
    {
        stack.poll(1);
    }
    assert!(stack.readable(l, 1), "a connection to accept");
    let Some(Reply::Accepted { sock: s, .. }) = stack.request(11, l, &SocketRequest::Accept, 1)
    else {
        panic!("no connection to accept");
    };
    assert!(!stack.readable(s, 2), "no data yet");
    assert_eq!(stack.write(20, c, b"x", 2), Some(Reply::Written(1)));
    assert!(stack.readable(s, 3), "data");
    assert_eq!(stack.read(21, s, 10, 3), Some(Reply::Data(b"x".to_vec())));
    assert!(!stack.readable(s, 4), "read");
    stack.close(c, 5);
    stack.poll(6);
    assert!(stack.readable(s, 7), "end of file");
}

#[test]
fn refused_and_in_use() {
    let mut stack = Stack::new(0, 7);
    let c = stack.socket(SocketKind::Stream, false).expect("socket");
    let reply = match stack.request(1, c, &SocketRequest::Connect(addr(9)), 0) {
        Some(reply) => reply,
        None => stack.poll(1).pop().expect("answered").1,
    };
    assert_eq!(reply, Reply::Err(ECONNREFUSED));
    listener(&mut stack, 80);
    let other = stack.socket(SocketKind::Stream, false).expect("socket");
    assert_eq!(
        stack.request(1, other, &SocketRequest::Bind(addr(80)), 0),
        Some(Reply::Err(EADDRINUSE))
    );
    let nb = stack.socket(SocketKind::Stream, true).expect("socket");
    assert_eq!(
        stack.request(1, nb, &SocketRequest::Accept, 0),
        Some(Reply::Err(EINVAL))
    );
}

#[test]
fn bulk_transfer_through_small_writes_and_reads() {
    let mut stack = Stack::new(0, 7);
    let (c, s) = pair(&mut stack, 5000);
    let total = 1 << 20;
    let (mut sent, mut got) = (0usize, 0usize);
    let mut now = 10;
    let mut write_waiting = false;
    let mut read_waiting = false;
    while got < total {
        now += 1;
        if !write_waiting && sent < total {
            match stack.write(1, c, &[7u8; 3968], now) {
                Some(Reply::Written(n)) => sent += n as usize,
                None => write_waiting = true,
                other => panic!("{other:?}"),
            }
        }
        if !read_waiting {
            match stack.read(2, s, 3968, now) {
                Some(Reply::Data(d)) => got += d.len(),
                None => read_waiting = true,
                other => panic!("{other:?}"),
            }
        }
        for (token, reply) in stack.poll(now) {
            match (token, reply) {
                (1, Reply::Written(n)) => {
                    sent += n as usize;
                    write_waiting = false;
                }
                (2, Reply::Data(d)) => {
                    got += d.len();
                    read_waiting = false;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(now < 100_000, "stalled at {got} of {total}");
    }
    assert!(got >= total);
}

#[test]
fn udp_round_trip() {
    let mut stack = Stack::new(0, 7);
    let a = stack.socket(SocketKind::Datagram, false).expect("socket");
    assert_eq!(
        stack.request(1, a, &SocketRequest::Bind(addr(53)), 0),
        Some(Reply::Ok)
    );
    let b = stack.socket(SocketKind::Datagram, false).expect("socket");
    let send = SocketRequest::SendTo {
        to: Some(addr(53)),
        data: b"ping",
    };
    assert_eq!(stack.request(2, b, &send, 0), Some(Reply::Written(4)));
    let reply = stack.request(3, a, &SocketRequest::RecvFrom { max: 100 }, 1);
    let Some(Reply::Received { from, data }) = reply else {
        panic!("{reply:?}");
    };
    assert_eq!(data, b"ping");
    assert_eq!(from.addr, [127, 0, 0, 1]);
    assert!(from.port >= EPHEMERAL_FIRST);
}

#[test]
fn receive_timeout() {
    let mut stack = Stack::new(0, 7);
    let (_c, s) = pair(&mut stack, 7000);
    let opt = SocketRequest::SetOpt {
        opt: SockOpt::RcvTimeoMs,
        value: 100,
    };
    assert_eq!(stack.request(1, s, &opt, 0), Some(Reply::Ok));
    assert_eq!(stack.read(5, s, 10, 10), None);
    assert!(stack.poll(50).is_empty());
    assert_eq!(stack.poll(111), vec![(5, Reply::Err(EAGAIN))]);
}

#[test]
fn accept_waits_then_connect() {
    let mut stack = Stack::new(0, 7);
    let l = listener(&mut stack, 1234);
    assert_eq!(stack.request(1, l, &SocketRequest::Accept, 0), None);
    let c = stack.socket(SocketKind::Stream, false).expect("socket");
    let reply = stack.request(2, c, &SocketRequest::Connect(addr(1234)), 1);
    let mut done = stack.poll(1);
    assert_eq!(reply, Some(Reply::Ok), "{done:?}");
    assert!(
        matches!(done.pop(), Some((1, Reply::Accepted { .. }))),
        "{done:?}"
    );
}

#[test]
fn a_waiting_read_does_not_hold_up_a_write() {
    let mut stack = Stack::new(0, 7);
    let (c, s) = pair(&mut stack, 4000);
    assert_eq!(stack.read(1, c, 10, 2), None);
    assert_eq!(stack.write(2, c, b"hi", 2), Some(Reply::Written(2)));
    assert_eq!(stack.read(3, s, 10, 2), Some(Reply::Data(b"hi".to_vec())));
}

#[test]
fn poll_events_report_room_data_and_the_peer_closing() {
    use zos_proto::watch::events::*;
    let mut stack = Stack::new(0, 7);
    let l = listener(&mut stack, 4401);
    assert_eq!(stack.poll_events(l, 0), 0, "a listener nobody called");
    let (c, s) = pair(&mut stack, 4400);
    assert_eq!(stack.poll_events(c, 2), POLLOUT, "connected, room, no data");
    // Fill the client's send buffer without the server reading.
    let mut now = 3;
    while stack.poll_events(c, now) & POLLOUT != 0 {
        assert!(
            matches!(
                stack.write(1, c, &[1u8; 4096], now),
                Some(Reply::Written(_))
            ),
            "a write while POLLOUT must not wait"
        );
        stack.poll(now);
        now += 1;
        assert!(now < 10_000, "the send buffer never filled");
    }
    assert_eq!(
        stack.poll_events(s, now) & POLLIN,
        POLLIN,
        "data for the server"
    );
    // The client closes: the server sees end of file and the peer gone.
    stack.close(c, now);
    for step in 1..200 {
        stack.poll(now + step);
        let _ = stack.read(5, s, 1 << 16, now + step);
    }
    let events = stack.poll_events(s, now + 300);
    assert_eq!(events & POLLIN, POLLIN, "end of file reads: {events:#x}");
    assert_eq!(events & 0x2000, 0x2000, "POLLRDHUP: {events:#x}");
    assert_eq!(stack.poll_events(9999, 0), POLLNVAL);
}

#[test]
fn a_refused_connection_polls_as_hung_up() {
    use zos_proto::watch::events::*;
    let mut stack = Stack::new(0, 7);
    let c = stack.socket(SocketKind::Stream, true).expect("socket");
    let _ = stack.request(1, c, &SocketRequest::Connect(addr(9)), 0);
    stack.poll(1);
    let events = stack.poll_events(c, 2);
    assert_eq!(events & POLLHUP, POLLHUP, "{events:#x}");
}

/// As on Linux: a non-blocking connect is under way when it answers;
/// `SO_ERROR` says once that it was refused, and 0 once it succeeded.
#[test]
fn a_nonblocking_connect_tells_its_end_through_so_error() {
    use zos_proto::watch::events::*;
    let mut stack = Stack::new(0, 7);
    let error = SocketRequest::GetOpt(SockOpt::Error);
    let c = stack.socket(SocketKind::Stream, true).expect("socket");
    let connect = SocketRequest::Connect(addr(9));
    assert_eq!(
        stack.request(1, c, &connect, 0),
        Some(Reply::Err(EINPROGRESS))
    );
    stack.poll(1);
    assert_eq!(stack.poll_events(c, 2) & POLLERR, POLLERR);
    let refused = Some(Reply::Opt(ECONNREFUSED as u32));
    assert_eq!(stack.request(2, c, &error, 2), refused);
    assert_eq!(stack.request(3, c, &error, 2), Some(Reply::Opt(0)));
    let set = SocketRequest::SetOpt {
        opt: SockOpt::Error,
        value: 1,
    };
    assert_eq!(stack.request(4, c, &set, 2), Some(Reply::Err(ENOPROTOOPT)));
    // To a listener: under way too, then connected with no error.
    let _l = listener(&mut stack, 5200);
    let c = stack.socket(SocketKind::Stream, true).expect("socket");
    let connect = SocketRequest::Connect(addr(5200));
    assert_eq!(
        stack.request(5, c, &connect, 3),
        Some(Reply::Err(EINPROGRESS))
    );
    stack.poll(4);
    assert_eq!(stack.poll_events(c, 5) & (POLLOUT | POLLERR), POLLOUT);
    assert_eq!(stack.request(6, c, &error, 5), Some(Reply::Opt(0)));
}

#[test]
fn a_blocking_write_answers_when_all_went_a_nonblocking_one_at_once() {
    let mut stack = Stack::new(0, 7);
    let (c, s) = pair(&mut stack, 5100);
    // Three times the send buffer: the write waits until the reader made
    // room for all of it, then answers once with the whole length.
    let data: Vec<u8> = (0..3 * TCP_BULK_BUFFER).map(|i| (i % 251) as u8).collect();
    assert_eq!(stack.write(1, c, &data, 10), None);
    let mut got = Vec::new();
    let mut written = None;
    let mut now = 10;
    while got.len() < data.len() {
        now += 1;
        match stack.read(2, s, 1 << 20, now) {
            Some(Reply::Data(d)) => got.extend(d),
            None => {}
            other => panic!("{other:?}"),
        }
        for (token, reply) in stack.poll(now) {
            match (token, reply) {
                (1, reply) => {
                    assert_eq!(written, None, "answered twice");
                    written = Some(reply);
                }
                (2, Reply::Data(d)) => got.extend(d),
                other => panic!("{other:?}"),
            }
        }
        assert!(now < 10_000, "stalled at {} of {}", got.len(), data.len());
    }
    assert_eq!(written, Some(Reply::Written(data.len() as u32)));
    assert!(got == data, "the bytes differ");
    // Non-blocking: what fits, at once, until nothing does (both the
    // reader's and the writer's buffers are full).
    stack.set_nonblocking(c, true);
    let mut writes = 0;
    loop {
        match stack.write(3, c, &data, now) {
            Some(Reply::Written(n)) => assert!(n > 0 && (n as usize) < data.len(), "{n}"),
            Some(Reply::Err(EAGAIN)) => break,
            other => panic!("{other:?}"),
        }
        writes += 1;
        assert!(writes < 10, "the buffers never filled");
    }
    // A send timeout after part went answers that part.
    stack.set_nonblocking(c, false);
    let opt = SocketRequest::SetOpt {
        opt: SockOpt::SndTimeoMs,
        value: 50,
    };
    assert_eq!(stack.request(5, c, &opt, now), Some(Reply::Ok));
    let mut drained = 0;
    while drained < TCP_BUFFER / 2 {
        if let Some(Reply::Data(d)) = stack.read(6, s, TCP_BUFFER / 2 - drained, now) {
            drained += d.len();
        }
        now += 1;
        stack.poll(now);
    }
    assert_eq!(stack.write(7, c, &data, now), None);
    match stack.poll(now + 100).as_slice() {
        [(7, Reply::Written(n))] => assert!(*n > 0 && (*n as usize) < data.len(), "{n}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bulk_buffers_go_to_at_most_sixteen_connections_and_come_back() {
    let mut stack = Stack::new(0, 7);
    let l = listener(&mut stack, 5200);
    let mut open = Vec::new();
    for i in 0..MAX_BULK_SOCKETS + 4 {
        let c = stack.socket(SocketKind::Stream, false).expect("socket");
        let _ = stack.request(100 + i as u64, c, &SocketRequest::Connect(addr(5200)), 1);
        stack.poll(2);
        open.push(c);
        if let Some(Reply::Accepted { sock, .. }) = stack.request(200, l, &SocketRequest::Accept, 2)
        {
            open.push(sock);
        }
    }
    assert_eq!(stack.bulk.lent(), MAX_BULK_SOCKETS);
    for c in open {
        stack.close(c, 3);
    }
    for now in 4..200 {
        stack.poll(now);
    }
    assert_eq!(stack.bulk.lent(), 0, "bulk buffers not given back");
    // The next connection reuses a pair: none is allocated again.
    let c = stack.socket(SocketKind::Stream, false).expect("socket");
    let _ = stack.request(300, c, &SocketRequest::Connect(addr(5200)), 300);
    assert_eq!(stack.bulk.lent(), 1);
    assert_eq!(stack.bulk.allocated(), MAX_BULK_SOCKETS);
}
