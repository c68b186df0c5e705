//! PSCI power management calls (SYSTEM_OFF, SYSTEM_RESET, CPU_ON) through HVC
//! or SMC, as the device tree says.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};
use zos_boot::devicetree::PsciMethod;

const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;
const CPU_ON: u64 = 0xC400_0003;

/// 0 = none, 1 = HVC, 2 = SMC.
static METHOD: AtomicU8 = AtomicU8::new(0);

pub fn init(method: Option<PsciMethod>) {
    let value = match method {
        None => 0,
        Some(PsciMethod::Hvc) => 1,
        Some(PsciMethod::Smc) => 2,
    };
    METHOD.store(value, Ordering::Relaxed);
}

fn call(function: u64) {
    // SAFETY: PSCI calls go to firmware/hypervisor; these two do not return on success.
    unsafe {
        match METHOD.load(Ordering::Relaxed) {
            1 => asm!("hvc #0", inout("x0") function => _, options(nostack)),
            2 => asm!("smc #0", inout("x0") function => _, options(nostack)),
            _ => {}
        }
    }
}

/// Starts the CPU with affinity `mpidr` at physical address `entry`, MMU
/// off, with `context` in x0. Returns PSCI's status (0: success; negative:
/// refused, e.g. -4 already on); -1 (not supported) without PSCI.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    let mut status = CPU_ON;
    // SAFETY: CPU_ON only starts another CPU at `entry`; this CPU's state is
    // untouched apart from the result in x0.
    unsafe {
        match METHOD.load(Ordering::Relaxed) {
            1 => asm!("hvc #0", inout("x0") status, in("x1") mpidr, in("x2") entry,
                in("x3") context, options(nostack)),
            2 => asm!("smc #0", inout("x0") status, in("x1") mpidr, in("x2") entry,
                in("x3") context, options(nostack)),
            _ => status = u64::MAX,
        }
    }
    status as i64
}

/// Powers the machine off; if PSCI is missing or fails, halts with interrupts off.
pub fn system_off() -> ! {
    call(SYSTEM_OFF);
    halt()
}

/// Resets the machine; if PSCI is missing or fails, halts.
pub fn system_reset() -> ! {
    call(SYSTEM_RESET);
    halt()
}

fn halt() -> ! {
    crate::console::write_emergency(b"zos: PSCI unavailable, halting this CPU\n");
    loop {
        // SAFETY: masking interrupts and waiting has no memory effects.
        unsafe { asm!("msr daifset, #0xf", "wfi") };
    }
}
