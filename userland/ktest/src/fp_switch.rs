//! FP/SIMD registers survive thread switches: two threads of this process
//! fill d8–d15 with their own values and yield to each other many times,
//! then check the values came back. The kernel loads a thread's registers
//! lazily (a trap on its first use) or eagerly (on switch-in, once it has
//! used them); both must hand each thread its own.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use libzos::sys;
use zos_proto::start::slots;

/// The helper thread's stack: in this program's data, so nothing is left
/// to free when it ends.
#[repr(align(16))]
struct Stack(#[allow(dead_code)] [u8; 16 * 1024]);
static mut HELPER_STACK: Stack = Stack([0; 16 * 1024]);
/// Rounds of the helper that found its registers changed.
static HELPER_BAD: AtomicU64 = AtomicU64::new(0);
static HELPER_ROUNDS: AtomicU64 = AtomicU64::new(0);
/// Set when the helper is to end; then set by it as it exits.
static STOP: AtomicBool = AtomicBool::new(false);
static STOPPED: AtomicBool = AtomicBool::new(false);

/// Puts `pattern + i` in d(8+i), yields `rounds` times, and returns how many
/// of the eight registers came back different.
#[cfg(target_arch = "aarch64")]
fn yields_keep_fp(pattern: u64, rounds: u64) -> u64 {
    let changed: u64;
    // SAFETY: the block writes only the registers it names (d8–d15 and the
    // syscall's x0–x8 are declared clobbered) and makes `Yield` syscalls,
    // which touch no memory of this program.
    unsafe {
        core::arch::asm!(
            "fmov d8, {p}",
            "add {t}, {p}, #1", "fmov d9, {t}",
            "add {t}, {p}, #2", "fmov d10, {t}",
            "add {t}, {p}, #3", "fmov d11, {t}",
            "add {t}, {p}, #4", "fmov d12, {t}",
            "add {t}, {p}, #5", "fmov d13, {t}",
            "add {t}, {p}, #6", "fmov d14, {t}",
            "add {t}, {p}, #7", "fmov d15, {t}",
            "2:",
            "mov x8, #{yield_number}",
            "svc #0",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            "mov {c}, #0",
            "fmov {t}, d8", "cmp {t}, {p}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #1", "fmov {t}, d9", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #2", "fmov {t}, d10", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #3", "fmov {t}, d11", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #4", "fmov {t}, d12", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #5", "fmov {t}, d13", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #6", "fmov {t}, d14", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            "add {e}, {p}, #7", "fmov {t}, d15", "cmp {t}, {e}", "cinc {c}, {c}, ne",
            p = in(reg) pattern,
            n = inout(reg) rounds.max(1) => _,
            t = out(reg) _,
            e = out(reg) _,
            c = out(reg) changed,
            yield_number = const libzos::abi::Sys::Yield as u64,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
            out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _, out("d14") _, out("d15") _,
            options(nostack),
        );
    }
    changed
}

/// Elsewhere there is nothing to check yet (x86_64's userland is
/// soft-float; `test_fp_switch` skips the run).
#[cfg(not(target_arch = "aarch64"))]
fn yields_keep_fp(_pattern: u64, _rounds: u64) -> u64 {
    0
}

extern "C" fn helper(pattern: u64) -> ! {
    while !STOP.load(Ordering::Acquire) {
        let bad = yields_keep_fp(pattern, 7);
        HELPER_BAD.fetch_add(bad, Ordering::Relaxed);
        HELPER_ROUNDS.fetch_add(1, Ordering::Relaxed);
    }
    STOPPED.store(true, Ordering::Release);
    sys::thread_exit()
}

/// Runs the check; returns (registers this thread found changed, the
/// helper's, rounds the helper ran), or `None` when the helper could not start.
pub fn run() -> Option<(u64, u64, u64)> {
    // Only the address is taken; the helper is the stack's one user.
    let top = core::ptr::addr_of_mut!(HELPER_STACK) as u64 + 16 * 1024;
    let entry = helper as *const () as u64;
    let pattern = 0x5a5a_0000_0000_0000;
    // Both threads on CPU 0, so that they switch on one CPU: on several
    // they could each run alone on its own, and a helper woken late on
    // another CPU could find the stop already set (a run of 0 rounds that
    // checked nothing, seen on `-smp 4`).
    let _ = sys::thread_set_affinity(slots::MAIN_THREAD, 1);
    let thread = sys::thread_create(sys::SELF, entry, top, pattern, 100).ok()?;
    let _ = sys::thread_set_affinity(thread, 1);
    sys::thread_start(thread).ok()?;
    let mut mine = yields_keep_fp(0x1234_5678_0000_0000, 2000);
    // The helper ran a whole round before it is told to stop (bounded: a
    // helper that never runs is reported as 0 rounds).
    for _ in 0..10_000 {
        if HELPER_ROUNDS.load(Ordering::Acquire) > 0 {
            break;
        }
        mine += yields_keep_fp(0x1234_5678_0000_0000, 1);
    }
    STOP.store(true, Ordering::Release);
    while !STOPPED.load(Ordering::Acquire) {
        sys::yield_now();
    }
    // Its exit is a syscall away and needs nothing freed here (the stack is
    // static): the kernel frees the thread once it exits and this goes.
    let _ = sys::cap_delete(thread);
    let _ = sys::thread_set_affinity(slots::MAIN_THREAD, u64::MAX);
    let result = (
        mine,
        HELPER_BAD.load(Ordering::Relaxed),
        HELPER_ROUNDS.load(Ordering::Relaxed),
    );
    Some(result)
}
