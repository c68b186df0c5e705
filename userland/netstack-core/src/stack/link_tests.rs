//! The NIC end: two stacks wired back to back through fake NICs (ARP, ICMP,
//! TCP over Ethernet with static addresses), and garbage frames from the
//! wire.

use super::*;
use crate::checksum::{self, fold, partial_sum};
use crate::config::LinkConfig;
use crate::device::{Nic, Offload};
use alloc::boxed::Box;
use std::sync::{Arc, Mutex};

type Wire = Arc<Mutex<VecDeque<Vec<u8>>>>;

/// A NIC that reads frames from `inbox` and writes them to `outbox`;
/// with `offloads`, it completes TCP checksums and cuts long segments as
/// virtio-net's device does.
struct FakeNic {
    inbox: Wire,
    outbox: Wire,
    /// The frame being built.
    slot: Vec<u8>,
    offloads: bool,
    /// Frames it cut into more than one segment.
    cut: Arc<Mutex<usize>>,
}

impl FakeNic {
    fn new(inbox: Wire, outbox: Wire) -> Self {
        FakeNic {
            inbox,
            outbox,
            slot: Vec::new(),
            offloads: false,
            cut: Default::default(),
        }
    }
}

/// What a device with `VIRTIO_NET_F_CSUM` and `HOST_TSO4` sends for one
/// frame: the payload cut to `segment_size` bytes (when asked), each
/// segment with its own IP length, IP checksum, sequence number and full
/// TCP checksum; PSH and FIN only on the last.
fn cut_like_a_device(frame: &[u8], offload: Offload) -> Vec<Vec<u8>> {
    if !offload.wants_checksum() {
        return vec![frame.to_vec()];
    }
    let ip_header = usize::from(frame[14] & 0xf) * 4;
    let tcp_start = usize::from(offload.checksum_start);
    assert_eq!(tcp_start, 14 + ip_header);
    let headers = tcp_start + usize::from(frame[tcp_start + 12] >> 4) * 4;
    let payload = &frame[headers..];
    let size = match offload.segment_size {
        0 => payload.len().max(1),
        size => usize::from(size),
    };
    let chunks: Vec<&[u8]> = match payload.is_empty() {
        true => vec![payload],
        false => payload.chunks(size).collect(),
    };
    let first_seq = u32::from_be_bytes(frame[tcp_start + 4..tcp_start + 8].try_into().unwrap());
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut segment = frame[..headers].to_vec();
            segment.extend_from_slice(chunk);
            let ip_len = (segment.len() - 14) as u16;
            segment[16..18].copy_from_slice(&ip_len.to_be_bytes());
            segment[24..26].copy_from_slice(&[0, 0]);
            let ip_sum = !fold(partial_sum(&segment[14..14 + ip_header]));
            segment[24..26].copy_from_slice(&ip_sum.to_be_bytes());
            let seq = first_seq.wrapping_add((i * size) as u32);
            segment[tcp_start + 4..tcp_start + 8].copy_from_slice(&seq.to_be_bytes());
            if i != last {
                segment[tcp_start + 13] &= !0x09; // FIN, PSH
            }
            let tcp = checksum::tcp_in_frame(&segment).expect("a TCP segment");
            checksum::fill_tcp_checksum(&mut segment, tcp);
            segment
        })
        .collect()
}

impl Nic for FakeNic {
    fn receive(&mut self, out: &mut [u8]) -> Option<usize> {
        let frame = self.inbox.lock().unwrap().pop_front()?;
        let n = frame.len().min(out.len());
        out[..n].copy_from_slice(&frame[..n]);
        Some(n)
    }

    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        self.slot = vec![0; len];
        Some(&mut self.slot)
    }

    fn commit(&mut self, offload: Offload) {
        let frame = core::mem::take(&mut self.slot);
        let segments = cut_like_a_device(&frame, offload);
        if segments.len() > 1 {
            *self.cut.lock().unwrap() += 1;
        }
        self.outbox.lock().unwrap().extend(segments);
    }

    fn checksum_offload(&self) -> bool {
        self.offloads
    }

    fn segmentation_offload(&self) -> Option<usize> {
        self.offloads.then_some(16376)
    }
}

fn static_config(addr: [u8; 4]) -> LinkConfig {
    LinkConfig {
        address: Some((addr, 24)),
        gateway: Some([10, 0, 0, 254]),
        dns: Vec::new(),
    }
}

/// Stacks A (10.0.0.1) and B (10.0.0.2) on one wire.
fn wired() -> (Stack, Stack) {
    let (a, b, _, _) = wired_with(false);
    (a, b)
}

/// [`wired`], with A's NIC offloading checksums and segmentation when
/// `offloads`; also the wire from A to B and A's count of frames cut.
fn wired_with(offloads: bool) -> (Stack, Stack, Wire, Arc<Mutex<usize>>) {
    let (a_to_b, b_to_a): (Wire, Wire) = Default::default();
    let mut a = Stack::new(0, 1);
    let mut b = Stack::new(0, 2);
    let a_nic = FakeNic {
        offloads,
        ..FakeNic::new(b_to_a.clone(), a_to_b.clone())
    };
    let cut = a_nic.cut.clone();
    a.attach_nic(
        Box::new(a_nic),
        [2, 0, 0, 0, 0, 0xa],
        static_config([10, 0, 0, 1]),
    );
    b.attach_nic(
        Box::new(FakeNic::new(a_to_b.clone(), b_to_a)),
        [2, 0, 0, 0, 0, 0xb],
        static_config([10, 0, 0, 2]),
    );
    assert_eq!(a.take_log(), ["eth0 static 10.0.0.1/24 via 10.0.0.254"]);
    (a, b, a_to_b, cut)
}

/// A listening socket on port 80 of every address of `stack`.
fn listening(stack: &mut Stack, backlog: u32) -> SockId {
    let l = stack.socket(SocketKind::Stream, false).unwrap();
    let any = SockAddr {
        addr: [0; 4],
        port: 80,
    };
    stack.request(1, l, &SocketRequest::Bind(any), 0);
    stack.request(1, l, &SocketRequest::Listen { backlog }, 0);
    l
}

/// A stream socket of `a` connected to 10.0.0.2:80 (`b` listens there).
fn connect_to_b(a: &mut Stack, b: &mut Stack, now: &mut u64) -> SockId {
    let c = a.socket(SocketKind::Stream, false).unwrap();
    let to = SockAddr {
        addr: [10, 0, 0, 2],
        port: 80,
    };
    assert_eq!(a.request(10, c, &SocketRequest::Connect(to), *now), None);
    assert_eq!(run_until(a, b, 10, now), Reply::Ok);
    c
}

/// Polls both until `a` finished `token` (or 200 rounds).
fn run_until(a: &mut Stack, b: &mut Stack, token: Token, now: &mut u64) -> Reply {
    let mut b_done = Vec::new();
    for _ in 0..200 {
        *now += 5;
        b_done.extend(b.poll(*now));
        if let Some((_, reply)) = a.poll(*now).into_iter().find(|(t, _)| *t == token) {
            return reply;
        }
    }
    panic!("token {token} never finished (b finished {b_done:?})");
}

#[test]
fn ping_and_tcp_over_the_wire() {
    let (mut a, mut b) = wired();
    let mut now = 0;
    assert_eq!(a.ping(1, [10, 0, 0, 2], 1, 56, 1000, now), None);
    assert_eq!(run_until(&mut a, &mut b, 1, &mut now), Reply::Ok);
    // Nobody at .3: no ARP answer, a timeout.
    assert_eq!(a.ping(2, [10, 0, 0, 3], 1, 56, 100, now), None);
    assert_eq!(
        run_until(&mut a, &mut b, 2, &mut now),
        Reply::Err(ETIMEDOUT)
    );
    // No route off the segment without a gateway: a stack without a NIC.
    let mut lonely = Stack::new(0, 3);
    assert_eq!(
        lonely.ping(3, [10, 0, 0, 2], 1, 8, 100, 0),
        Some(Reply::Err(ENETUNREACH))
    );

    let l = b.socket(SocketKind::Stream, false).unwrap();
    let any = SockAddr {
        addr: [0; 4],
        port: 80,
    };
    assert_eq!(
        b.request(1, l, &SocketRequest::Bind(any), now),
        Some(Reply::Ok)
    );
    assert_eq!(
        b.request(1, l, &SocketRequest::Listen { backlog: 2 }, now),
        Some(Reply::Ok)
    );
    let c = connect_to_b(&mut a, &mut b, &mut now);
    assert!(matches!(
        a.write(11, c, b"hello over ethernet", now),
        Some(Reply::Written(19))
    ));
    let mut accepted = None;
    for _ in 0..50 {
        now += 5;
        a.poll(now);
        if let Some(Reply::Accepted { sock, peer }) = b.request(12, l, &SocketRequest::Accept, now)
        {
            assert_eq!(peer.addr, [10, 0, 0, 1]);
            accepted = Some(sock);
            break;
        }
        b.poll(now);
    }
    let conn = accepted.expect("accepted");
    let mut data = Vec::new();
    for _ in 0..50 {
        now += 5;
        a.poll(now);
        b.poll(now);
        if let Some(Reply::Data(d)) = b.read(13, conn, 100, now) {
            data = d;
            break;
        }
    }
    assert_eq!(data, b"hello over ethernet");
    let info = a.interfaces();
    assert_eq!(info[1].addrs, [([10, 0, 0, 1], 24)]);
    assert!(info[1].tx_frames > 0 && info[1].rx_frames > 0);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random, truncated and mutated frames (of real ARP, ICMP and TCP
/// traffic) from the wire: no panic, and the stack still works after.
#[test]
fn garbage_from_the_wire() {
    let (mut a, mut b) = wired();
    let mut now = 0;
    let inbox: Wire = Default::default();
    let mut victim = Stack::new(0, 9);
    victim.attach_nic(
        Box::new(FakeNic::new(inbox.clone(), Default::default())),
        [2, 0, 0, 0, 0, 0xa],
        static_config([10, 0, 0, 1]),
    );
    assert_eq!(a.ping(1, [10, 0, 0, 2], 7, 100, 1000, now), None);
    assert_eq!(run_until(&mut a, &mut b, 1, &mut now), Reply::Ok);
    let l = victim.socket(SocketKind::Stream, false).unwrap();
    let any = SockAddr {
        addr: [0; 4],
        port: 80,
    };
    victim.request(1, l, &SocketRequest::Bind(any), 0);
    victim.request(1, l, &SocketRequest::Listen { backlog: 4 }, 0);
    let to = SockAddr {
        addr: [10, 0, 0, 1],
        port: 80,
    };
    let mut samples: Vec<Vec<u8>> = Vec::new();
    {
        // Real frames of the kinds a peer sends: ARP, ICMP echo, a SYN.
        let mut probe = Stack::new(0, 4);
        let out: Wire = Default::default();
        probe.attach_nic(
            Box::new(FakeNic::new(Default::default(), out.clone())),
            [2, 0, 0, 0, 0, 0xc],
            static_config([10, 0, 0, 3]),
        );
        probe.ping(1, [10, 0, 0, 1], 1, 64, 100, 0);
        let c = probe.socket(SocketKind::Stream, false).unwrap();
        probe.request(2, c, &SocketRequest::Connect(to), 0);
        probe.poll(1);
        samples.extend(out.lock().unwrap().drain(..));
    }
    assert!(!samples.is_empty());
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..20_000u64 {
        let mut frame = samples[(rng.next() as usize) % samples.len()].clone();
        match round % 4 {
            0 => {
                let cut = (rng.next() as usize) % (frame.len() + 1);
                frame.truncate(cut);
            }
            1 => {
                for _ in 0..1 + rng.next() % 8 {
                    let at = (rng.next() as usize) % frame.len().max(1);
                    if let Some(b) = frame.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
            }
            2 => {
                frame = (0..rng.next() % 1600).map(|_| rng.next() as u8).collect();
            }
            _ => {
                // Real headers, lengths claiming more than there is.
                if frame.len() > 20 {
                    frame[16] = 0xff;
                    frame[17] = 0xff;
                }
            }
        }
        inbox.lock().unwrap().push_back(frame);
        if round.is_multiple_of(64) {
            victim.poll(round);
        }
    }
    victim.poll(30_000);
    // Still answers a ping on loopback and over the wire.
    assert_eq!(victim.ping(5, [127, 0, 0, 1], 1, 8, 100, 30_000), None);
    assert!(victim.poll(30_001).contains(&(5, Reply::Ok)));
}

#[test]
fn resolv_conf_follows_the_dns_servers() {
    let mut stack = Stack::new(0, 4);
    assert_eq!(stack.take_resolv_conf(), None, "nothing to write at start");
    let (inbox, outbox): (Wire, Wire) = Default::default();
    let mut config = static_config([10, 0, 0, 5]);
    config.dns = vec![[10, 0, 0, 53], [10, 0, 0, 54]];
    stack.attach_nic(
        Box::new(FakeNic::new(inbox, outbox)),
        [2, 0, 0, 0, 0, 5],
        config,
    );
    let text = stack
        .take_resolv_conf()
        .expect("written after the static config");
    let servers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("nameserver "))
        .collect();
    assert_eq!(servers, ["nameserver 10.0.0.53", "nameserver 10.0.0.54"]);
    assert_eq!(stack.take_resolv_conf(), None, "written once per change");
    // A user's edit is taken (and not written back).
    stack.use_resolv_conf(vec![[10, 0, 0, 99]]);
    assert_eq!(
        stack.take_resolv_conf(),
        None,
        "a user's edit is not rewritten"
    );
    assert_eq!(stack.interfaces()[1].dns, [[10, 0, 0, 99]]);
    stack.use_resolv_conf(Vec::new());
    assert_eq!(
        stack.resolve(1, "peer.zos.test", 0),
        Some(Reply::Err(ENETUNREACH)),
        "no server left"
    );
    stack.use_resolv_conf(vec![[10, 0, 0, 99]]);
    stack.detach_nic();
    let text = stack.take_resolv_conf().expect("emptied when the NIC goes");
    assert!(!text.contains("nameserver"));
}

/// Many connections over the wire, accepted and closed from both ends in
/// turn (and some refused): afterwards both stacks hold exactly the
/// sockets they held before (no table entry, smoltcp socket, orphan or
/// waiting request left per connection).
#[test]
fn connections_leave_nothing_behind() {
    let (mut a, mut b) = wired();
    let mut now = 0;
    let l = listening(&mut b, 4);
    let to = SockAddr {
        addr: [10, 0, 0, 2],
        port: 80,
    };
    let closed_port = SockAddr { port: 81, ..to };
    let count = |s: &Stack| {
        (
            s.table.len(),
            s.sockets.iter().count(),
            s.orphans.len(),
            s.bulk.lent(),
        )
    };
    let settle = |a: &mut Stack, b: &mut Stack, now: &mut u64| {
        for _ in 0..400 {
            *now += 5;
            a.poll(*now);
            b.poll(*now);
        }
    };
    settle(&mut a, &mut b, &mut now);
    let (a_before, b_before) = (count(&a), count(&b));
    let mut token = 100;
    for round in 0..40 {
        token += 10;
        let c = a.socket(SocketKind::Stream, false).unwrap();
        let target = if round % 5 == 4 { closed_port } else { to };
        if a.request(token, c, &SocketRequest::Connect(target), now)
            .is_none()
        {
            run_until(&mut a, &mut b, token, &mut now);
        }
        if round % 5 != 4 {
            let _ = a.write(token + 1, c, b"garbage \x00\xff request", now);
            let mut accepted = None;
            for _ in 0..50 {
                now += 5;
                a.poll(now);
                b.poll(now);
                if let Some(Reply::Accepted { sock, .. }) =
                    b.request(token + 2, l, &SocketRequest::Accept, now)
                {
                    accepted = Some(sock);
                    break;
                }
            }
            let conn = accepted.expect("accepted");
            // Either end closes first.
            if round % 2 == 0 {
                b.close(conn, now);
                a.close(c, now);
            } else {
                a.close(c, now);
                b.close(conn, now);
            }
        } else {
            a.close(c, now);
        }
        b.finished.clear();
        a.finished.clear();
    }
    settle(&mut a, &mut b, &mut now);
    assert_eq!(count(&a), a_before, "the connecting stack kept sockets");
    assert_eq!(count(&b), b_before, "the listening stack kept sockets");
}

/// A's device cuts segments: a bulk transfer from A arrives whole and in
/// order at B, A hands its device long segments (B's MSS raised in its
/// SYN), and nothing on the wire is longer than B's real MSS allows.
/// Without offloads, the same transfer is cut by smoltcp.
#[test]
fn long_segments_are_cut_by_the_device() {
    for offloads in [true, false] {
        let (mut a, mut b, a_to_b, cut) = wired_with(offloads);
        let mut now = 0;
        let l = listening(&mut b, 2);
        let c = connect_to_b(&mut a, &mut b, &mut now);
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut written = 0;
        let mut received = Vec::new();
        let mut conn = None;
        let mut token = 20;
        let mut longest = 0;
        let mut pending = None;
        for _ in 0..20_000 {
            if received.len() == sent.len() {
                break;
            }
            now += 1;
            token += 1;
            if written < sent.len() && pending.is_none() {
                let end = (written + 30_000).min(sent.len());
                match a.write(token, c, &sent[written..end], now) {
                    Some(Reply::Written(n)) => written += n as usize,
                    None => pending = Some(token),
                    Some(other) => panic!("write: {other:?}"),
                }
            }
            for (done, reply) in a.poll(now) {
                if Some(done) == pending {
                    let Reply::Written(n) = reply else {
                        panic!("write: {reply:?}");
                    };
                    written += n as usize;
                    pending = None;
                }
            }
            longest = a_to_b
                .lock()
                .unwrap()
                .iter()
                .map(Vec::len)
                .fold(longest, usize::max);
            b.poll(now);
            let Some(conn) = conn else {
                if let Some(Reply::Accepted { sock, .. }) =
                    b.request(token, l, &SocketRequest::Accept, now)
                {
                    conn = Some(sock);
                }
                continue;
            };
            if let Some(Reply::Data(d)) = b.read(token, conn, 65536, now) {
                received.extend(d);
            }
            b.finished.clear();
        }
        assert_eq!(received.len(), sent.len(), "offloads {offloads}");
        assert!(received == sent, "the bytes changed (offloads {offloads})");
        // B's MSS is its MTU's: 1500 - 40 bytes of payload, 1514-byte frames.
        assert!(longest <= 1514, "a {longest}-byte frame on the wire");
        let cut = *cut.lock().unwrap();
        match offloads {
            true => assert!(cut > 0, "no long segment was handed to the device"),
            false => assert_eq!(cut, 0),
        }
    }
}

/// A blocking connect to an address nobody answers ends with `ETIMEDOUT`
/// after the default 75 s (no `SO_SNDTIMEO`), and the socket can connect
/// again, as on Linux.
#[test]
fn a_connect_nobody_answers_times_out() {
    let (mut a, mut b) = wired();
    listening(&mut b, 2);
    let c = a.socket(SocketKind::Stream, false).unwrap();
    let nobody = SockAddr {
        addr: [10, 0, 0, 3],
        port: 80,
    };
    assert_eq!(a.request(5, c, &SocketRequest::Connect(nobody), 0), None);
    let mut now = 0;
    let mut reply = None;
    while reply.is_none() && now < 100_000 {
        now += 1000;
        b.poll(now);
        reply = a
            .poll(now)
            .into_iter()
            .find(|(t, _)| *t == 5)
            .map(|(_, r)| r);
    }
    assert_eq!(reply, Some(Reply::Err(ETIMEDOUT)));
    assert!((75_000..77_000).contains(&now), "after {now} ms");
    let to = SockAddr {
        addr: [10, 0, 0, 2],
        port: 80,
    };
    // (The ARP entry for 10.0.0.2 expired meanwhile: asked again first.)
    assert_eq!(a.request(6, c, &SocketRequest::Connect(to), now), None);
    let mut reply = None;
    for _ in 0..100 {
        now += 100;
        b.poll(now);
        reply = a
            .poll(now)
            .into_iter()
            .find(|(t, _)| *t == 6)
            .map(|(_, r)| r);
        if reply.is_some() {
            break;
        }
    }
    assert_eq!(reply, Some(Reply::Ok));
}
