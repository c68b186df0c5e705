//! Time: the scheduler tick comes from the local APIC's timer (or, without
//! APICs, from the PIT on IRQ 0); the TSC gives uptime in nanoseconds. Both
//! the TSC and the APIC timer are measured against PIT channel 2 once at boot.

use core::arch::x86_64::_rdtsc;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

/// Tick period.
pub const TICK_NS: u64 = 10_000_000;
/// The PIT's input clock.
const PIT_HZ: u64 = 1_193_182;
/// The tick's interrupt line (the APIC timer takes the PIT's vector).
pub const IRQ: u32 = 0;

static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);
/// Nanoseconds per TSC cycle as a 32.32 fixed-point number, so the clock
/// is a multiply and a shift: a 128-bit division (`__udivti3`) cost ~350
/// instructions on every `Clock` syscall (the VFS asks for file times).
static NS_PER_CYCLE_Q32: AtomicU64 = AtomicU64::new(1 << 32);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);

fn out(port: u16, value: u8) {
    // SAFETY: PIT and port 0x61 (speaker gate); only this module drives them.
    unsafe { Port::<u8>::new(port).write(value) };
}

fn inp(port: u16) -> u8 {
    // SAFETY: as in `out`.
    unsafe { Port::<u8>::new(port).read() }
}

fn tsc() -> u64 {
    // SAFETY: RDTSC has no side effects.
    unsafe { _rdtsc() }
}

/// Measures the TSC (and the APIC timer when `apic`) over 10 ms of PIT
/// channel 2, then starts the tick: the APIC timer, periodic, or PIT channel
/// 0 (its line is unmasked by the caller).
pub fn init(apic: bool) {
    BOOT_TSC.store(tsc(), Ordering::Relaxed);
    let count = (PIT_HZ / 100) as u16;
    // Channel 2 gate on, speaker off; one-shot (mode 0), low byte then high.
    out(0x61, (inp(0x61) & !0x02) | 0x01);
    out(0x43, 0b1011_0000);
    out(0x42, count as u8);
    out(0x42, (count >> 8) as u8);
    // Restart the count by toggling the gate.
    let gate = inp(0x61) & !0x01;
    out(0x61, gate);
    out(0x61, gate | 0x01);
    let start = tsc();
    if apic {
        crate::apic::timer_start_calibration();
    }
    let mut spins = 0u64;
    while inp(0x61) & 0x20 == 0 && spins < 100_000_000 {
        spins += 1;
    }
    let elapsed = tsc().wrapping_sub(start);
    if apic {
        crate::apic::timer_calibrated();
    }
    if elapsed > 1000 {
        TSC_HZ.store(elapsed * 100, Ordering::Relaxed);
        let q32 = (1_000_000_000u128 << 32) / (elapsed as u128 * 100);
        NS_PER_CYCLE_Q32.store(q32 as u64, Ordering::Relaxed);
    }
    if apic {
        return;
    }
    let divisor = (PIT_HZ * TICK_NS / 1_000_000_000) as u16;
    out(0x43, 0b0011_0100); // channel 0, low then high byte, rate generator
    out(0x40, divisor as u8);
    out(0x40, (divisor >> 8) as u8);
}

/// The TSC's frequency as measured.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// `Clock`'s answer: the uptime and the formula's terms, for user code that
/// reads the TSC itself (`rdtsc` is allowed in ring 3: CR4.TSD is clear).
pub fn clock() -> [u64; 3] {
    let (base, scale) = (
        BOOT_TSC.load(Ordering::Relaxed),
        NS_PER_CYCLE_Q32.load(Ordering::Relaxed),
    );
    [uptime_ns(), base, scale]
}

pub fn uptime_ns() -> u64 {
    let cycles = tsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    // Exact to about one part in 2^31 of the rate; no overflow for 2^64
    // cycles (a 96-bit product at most).
    ((cycles as u128 * NS_PER_CYCLE_Q32.load(Ordering::Relaxed) as u128) >> 32) as u64
}

/// Counts a tick of the boot CPU's timer (both timers re-arm themselves;
/// the other CPUs' ticks reach the scheduler only).
pub fn on_tick() {
    if crate::smp::cpu_id() == 0 {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
