//! The EL1 virtual generic timer: monotonic time and the scheduler tick (each
//! CPU has its own timer and ticks on its own).

use core::arch::asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Scheduler tick period.
pub const TICK_NS: u64 = 10_000_000;

static FREQUENCY: AtomicU64 = AtomicU64::new(1);
/// Nanoseconds per counter tick as a 32.32 fixed-point number, so the
/// clock is a multiply and a shift, not a 128-bit division (`__udivti3`,
/// some hundred instructions on every `Clock` syscall).
static NS_PER_TICK_Q32: AtomicU64 = AtomicU64::new(1 << 32);
static BOOT_COUNT: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
static IRQ: AtomicU32 = AtomicU32::new(27);

fn counter() -> u64 {
    let count: u64;
    // SAFETY: reading the virtual counter has no side effects; isb orders it.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) count) };
    count
}

/// Lets EL0 read the virtual counter (`CNTKCTL_EL1.EL0VCTEN`), as Linux
/// does: user code then reads the time without a syscall (see [`clock`]).
/// The physical counter and both timers' registers stay EL1's.
fn allow_user_counter() {
    const EL0VCTEN: u64 = 1 << 1;
    // SAFETY: CNTKCTL_EL1 gates only EL0's access to the generic timer;
    // reading the counter discloses nothing `Clock` does not.
    unsafe {
        let control: u64;
        asm!("mrs {}, cntkctl_el1", out(reg) control, options(nomem, nostack));
        asm!("msr cntkctl_el1, {}", "isb", in(reg) control | EL0VCTEN, options(nostack));
    }
}

/// Counter frequency in Hz.
pub fn frequency() -> u64 {
    FREQUENCY.load(Ordering::Relaxed)
}

/// Starts the clock and the periodic tick on interrupt `irq`.
pub fn init(irq: u32) {
    let freq: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) freq) };
    FREQUENCY.store(freq.max(1), Ordering::Relaxed);
    let q32 = (1_000_000_000u128 << 32) / freq.max(1) as u128;
    NS_PER_TICK_Q32.store(q32.min(u64::MAX as u128) as u64, Ordering::Relaxed);
    BOOT_COUNT.store(counter(), Ordering::Relaxed);
    IRQ.store(irq, Ordering::Relaxed);
    allow_user_counter();
    crate::irq::set_enabled(irq, true);
    arm_next_tick();
}

/// Starts the tick on a secondary CPU (its own timer and PPI).
pub fn init_cpu() {
    allow_user_counter();
    crate::irq::set_enabled(irq(), true);
    arm_next_tick();
}

pub fn irq() -> u32 {
    IRQ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn uptime_ns() -> u64 {
    let ticks = counter().wrapping_sub(BOOT_COUNT.load(Ordering::Relaxed));
    // Exact for QEMU's 62.5 MHz (16 ns a tick); otherwise to about one
    // part in 2^31 of the rate. A 96-bit product at most: no overflow.
    ((ticks as u128 * NS_PER_TICK_Q32.load(Ordering::Relaxed) as u128) >> 32) as u64
}

/// `Clock`'s answer: the uptime and the formula's terms, for user code that
/// reads `cntvct_el0` itself (`CNTKCTL_EL1.EL0VCTEN`, set by `init` and
/// `init_cpu`).
pub fn clock() -> [u64; 3] {
    let (base, scale) = (
        BOOT_COUNT.load(Ordering::Relaxed),
        NS_PER_TICK_Q32.load(Ordering::Relaxed),
    );
    [uptime_ns(), base, scale]
}

/// Ticks taken since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Arms the timer to fire `ns` from now.
pub fn arm_in(ns: u64) {
    let delta = ((ns as u128 * frequency() as u128) / 1_000_000_000).max(1) as u64;
    // SAFETY: programming this CPU's virtual timer; TVAL is relative to now.
    unsafe {
        asm!(
            "msr cntv_tval_el0, {delta}",
            "msr cntv_ctl_el0, {enable}",
            "isb",
            delta = in(reg) delta.min(u32::MAX as u64),
            enable = in(reg) 1u64,
        )
    };
}

fn arm_next_tick() {
    arm_in(TICK_NS);
}

/// Timer interrupt: count the tick and re-arm.
pub fn on_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    arm_next_tick();
}
