//! `ThreadSetAffinity`: a thread runs only on the CPUs its mask allows, a
//! thread it creates inherits the mask, and a bad mask is refused.

use super::*;

const MB: u64 = 1 << 20;

/// Two CPUs online; a worker and a controller holding a capability to it.
fn two_cpus(h: &mut Harness) -> (ObjRef, ObjRef, u64) {
    h.k.online = 2;
    let worker_process = h.spawn_process(MB);
    let worker = h.thread(worker_process);
    let process = h.spawn_process(MB);
    let ctl = h.thread(process);
    h.notification(ctl); // slot 0 taken: a slot number is never 0 below
    let slot =
        h.k.grant(process, None, worker, Rights::ALL, 0)
            .expect("grant");
    (worker, ctl, slot as u64)
}

#[test]
fn a_pinned_thread_runs_only_on_its_cpu() {
    let mut h = Harness::new();
    let (worker, ctl, cap) = two_cpus(&mut h);
    ok(h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, 0b10]));
    // CPU 0 blocks its thread: the pinned worker is not what it runs next.
    let ep = h.endpoint(ctl);
    h.syscall(ctl, Sys::Recv, &[ep]);
    assert_eq!(
        h.k.schedule(),
        None,
        "CPU 0 idles rather than run the worker"
    );
    h.k.cpu = 1;
    assert_eq!(h.k.schedule(), Some(worker), "CPU 1 runs it");
    // Moved back to CPU 0 only: CPU 1 gives it up on its way out.
    h.k.cpu = 0;
    let main = h.thread(h.process_of(ctl));
    let slot = h.k.grant(h.process_of(ctl), None, worker, Rights::ALL, 0);
    ok(h.syscall(
        main,
        Sys::ThreadSetAffinity,
        &[slot.expect("grant") as u64, 0b01],
    ));
    h.k.cpu = 1;
    assert_ne!(h.k.schedule(), Some(worker), "CPU 1 lets it go");
    h.k.cpu = 0;
    h.syscall(main, Sys::Recv, &[ep]);
    assert_eq!(h.k.schedule(), Some(worker), "CPU 0 takes it");
}

#[test]
fn a_new_thread_inherits_its_creators_cpus() {
    let mut h = Harness::new();
    let (worker, ctl, cap) = two_cpus(&mut h);
    ok(h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, 0b10]));
    h.k.cpu = 1;
    h.run(worker);
    let child =
        h.k.create_thread(h.process_of(worker), 0x40_0000, 0x7000_0000, 0, PRIO);
    let child = child.expect("create_thread");
    assert_eq!(h.k.objects.thread(child).map(|t| t.cpus), Some(0b10));
}

#[test]
fn a_mask_without_an_online_cpu_is_refused() {
    let mut h = Harness::new();
    let (worker, ctl, cap) = two_cpus(&mut h);
    err(
        h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, 0b1100]),
        SysError::InvalidArgument,
    );
    err(
        h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, 0]),
        SysError::InvalidArgument,
    );
    // Bits past the CPUs online are dropped.
    ok(h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, u64::MAX]));
    assert_eq!(h.k.objects.thread(worker).map(|t| t.cpus), Some(0b11));
}

#[test]
fn a_process_capability_pins_every_thread_of_it() {
    let mut h = Harness::new();
    h.k.online = 2;
    let target = h.spawn_process(MB);
    let first = h.thread(target);
    let second = h.thread(target);
    let process = h.spawn_process(MB);
    let ctl = h.thread(process);
    h.notification(ctl);
    let cap =
        h.k.grant(process, None, target, Rights::ALL, 0)
            .expect("grant") as u64;
    ok(h.syscall(ctl, Sys::ThreadSetAffinity, &[cap, 0b10]));
    for thread in [first, second] {
        assert_eq!(h.k.objects.thread(thread).expect("thread").cpus, 0b10);
    }
    let weak =
        h.k.grant(process, None, target, Rights::READ, 0)
            .expect("grant") as u64;
    err(
        h.syscall(ctl, Sys::ThreadSetAffinity, &[weak, 0b01]),
        SysError::NoRights,
    );
}
