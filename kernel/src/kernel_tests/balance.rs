//! Per-CPU run queues: a thread made runnable waits on an idle CPU it may
//! run on, not behind the busy one that woke it; a CPU whose queue is two
//! threads shorter than another's takes from that one when its own thread
//! makes way (at a yield or the end of its time slice).

use super::*;

const MB: u64 = 1 << 20;

#[test]
fn a_woken_thread_waits_on_an_idle_cpu() {
    let mut h = Harness::new();
    h.k.online = 2;
    let process = h.spawn_process(MB);
    let running = h.thread(process);
    h.run(running);
    // CPU 1 idles: the new thread is queued there, and CPU 0's thread,
    // with nothing of its priority queued on CPU 0, keeps going at a yield.
    let woken = h.thread(process);
    ok(h.syscall(running, Sys::Yield, &[]));
    assert_eq!(h.k.schedule(), Some(running), "CPU 0 keeps its thread");
    h.k.cpu = 1;
    assert_eq!(h.k.schedule(), Some(woken), "CPU 1 runs the new one");
}

#[test]
fn a_shorter_queue_takes_from_a_longer_one() {
    let mut h = Harness::new();
    h.k.online = 2;
    let process = h.spawn_process(MB);
    let first = h.thread(process);
    h.k.cpu = 1;
    h.run(first);
    h.k.cpu = 0;
    let second = h.thread(process);
    h.run(second);
    // Both CPUs busy: new threads wait where they were made runnable.
    let queued: Vec<ObjRef> = (0..3).map(|_| h.thread(process)).collect();
    // CPU 1 has none waiting, CPU 0 three: CPU 1's thread makes way at its
    // yield, and CPU 1 takes CPU 0's first.
    h.k.cpu = 1;
    ok(h.syscall(first, Sys::Yield, &[]));
    assert_eq!(h.k.schedule(), Some(queued[0]), "CPU 1 takes CPU 0's first");
    // Now two wait on CPU 0 and one (`first`) on CPU 1: balanced, so CPU 0
    // round-robins its own.
    h.k.cpu = 0;
    ok(h.syscall(second, Sys::Yield, &[]));
    assert_eq!(h.k.schedule(), Some(queued[1]), "CPU 0 runs its next");
    h.k.cpu = 1;
    ok(h.syscall(queued[0], Sys::Yield, &[]));
    assert_eq!(h.k.schedule(), Some(first), "CPU 1 runs its own next");
}
