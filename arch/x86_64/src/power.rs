//! Power off and reset the way QEMU's q35 honours them: the ACPI PM1a control
//! register (SLP_EN, at the PM base 0x600 the firmware programs) and the reset
//! control register 0xcf9, with the keyboard controller as a fallback.

use x86_64::instructions::port::Port;

fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

pub fn power_off() -> ! {
    // SAFETY: writing SLP_EN (sleep type 0 = S5 on QEMU) powers the machine off.
    unsafe { Port::<u16>::new(0x604).write(0x2000) };
    halt_forever()
}

pub fn reset() -> ! {
    // SAFETY: a full reset through the reset control register, then the
    // keyboard controller's pulse of the reset line.
    unsafe {
        Port::<u8>::new(0xcf9).write(0x06);
        Port::<u8>::new(0x64).write(0xfe);
    }
    halt_forever()
}
