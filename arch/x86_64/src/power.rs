//! Power off and reset through the registers the FADT names (`acpi_tables`):
//! SLP_EN in the PM1a control register (sleep type 0, which is S5 in the
//! `\_S5` package of QEMU's DSDT; reading it needs an AML interpreter, which
//! the kernel does without) and the FADT reset register. Without a FADT the
//! q35 values stand in: PM1a control at 0x604 (the PM base 0x600 SeaBIOS
//! programs) and the reset control register 0xcf9. The keyboard
//! controller's reset line is the last resort.

use core::sync::atomic::{AtomicU32, Ordering};
use x86_64::instructions::port::Port;

/// PM1a control port.
static PM1A_CONTROL: AtomicU32 = AtomicU32::new(0x604);
/// Reset port (low 16 bits) and value (bits 16-23).
static RESET: AtomicU32 = AtomicU32::new(0x06 << 16 | 0xcf9);
const SLP_EN: u16 = 1 << 13;

/// Takes the registers from the FADT, where it named them.
pub fn init(pm1a_control: Option<u16>, reset: Option<(u16, u8)>) {
    if let Some(port) = pm1a_control {
        PM1A_CONTROL.store(u32::from(port), Ordering::Relaxed);
    }
    if let Some((port, value)) = reset {
        RESET.store(u32::from(value) << 16 | u32::from(port), Ordering::Relaxed);
    }
}

fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

pub fn power_off() -> ! {
    let port = PM1A_CONTROL.load(Ordering::Relaxed) as u16;
    // SAFETY: writing SLP_EN with sleep type 0 (S5) powers the machine off.
    unsafe { Port::<u16>::new(port).write(SLP_EN) };
    halt_forever()
}

pub fn reset() -> ! {
    let reset = RESET.load(Ordering::Relaxed);
    // SAFETY: the firmware's reset register and value, then the keyboard
    // controller's pulse of the reset line.
    unsafe {
        Port::<u8>::new(reset as u16).write((reset >> 16) as u8);
        Port::<u8>::new(0x64).write(0xfe);
    }
    halt_forever()
}
