//! PSCI power management calls (SYSTEM_OFF, SYSTEM_RESET) through HVC or SMC,
//! as the device tree says.

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};
use zos_boot::devicetree::PsciMethod;

const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;

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
