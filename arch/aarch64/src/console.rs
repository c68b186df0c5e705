//! Early debug console on the PL011 UART (polled transmit).
//!
//! Until a userspace console server owns the UART, the kernel writes its log here.
//! The base address is the QEMU `virt` default until the device tree is read.

use crate::mmu::phys_to_virt;
use arm_pl011_uart::{PL011Registers, Uart, UniqueMmioPointer};
use core::ptr::NonNull;
use spin::Mutex;

static UART: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Takes the PL011 at physical address `base`.
pub fn init(base: u64) {
    let Some(regs) = NonNull::new(phys_to_virt(base) as *mut PL011Registers) else {
        return;
    };
    // SAFETY: `base` is the PL011 register frame from the device tree, mapped as
    // device memory by the boot page tables; the kernel is its only user.
    let uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    *UART.lock() = Some(uart);
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    let mut guard = UART.lock();
    if let Some(uart) = guard.as_mut() {
        for &byte in bytes {
            if byte == b'\n' {
                put(uart, b'\r');
            }
            put(uart, byte);
        }
    }
}

/// Writes bytes even if the lock is held (panics and fault reports).
pub fn write_emergency(bytes: &[u8]) {
    // SAFETY: used only on the way to stopping the machine; a torn line is better
    // than a silent deadlock.
    unsafe { UART.force_unlock() };
    write(bytes);
}

fn put(uart: &mut Uart<'static>, byte: u8) {
    while uart.is_tx_fifo_full() {
        core::hint::spin_loop();
    }
    uart.write_word(byte);
}
