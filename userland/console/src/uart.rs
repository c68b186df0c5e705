//! The PL011 UART, mapped into this process and driven with the
//! `arm-pl011-uart` crate: output is polled, input arrives by interrupt.

use crate::sync::lock;
use arm_pl011_uart::{
    DataBits, Interrupts, LineConfig, PL011Registers, Parity, StopBits, Uart, UniqueMmioPointer,
};
use core::ptr::NonNull;
use libzos::abi::map_flags;
use libzos::sys;
use spin::Mutex;

/// Where the UART's register page is mapped in this process.
const UART_VA: u64 = libzos::abi::layout::DEVICE_WINDOW;
const PAGE: u64 = 4096;
/// QEMU ignores the baud rate; these keep the divisor computation valid.
const BAUD_RATE: u32 = 115_200;
const UART_CLOCK_HZ: u32 = 24_000_000;

/// The device's name, for the console's greeting.
pub const NAME: &str = "pl011";

static UART: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Maps the UART's device memory capability and takes the device: 8N1 with
/// FIFOs, receive and receive-timeout interrupts unmasked.
pub fn init(memory_slot: u64, physical_base: u64) -> Result<(), sys::Error> {
    sys::memory_map(memory_slot, sys::SELF, UART_VA, 0, 1, map_flags::WRITE)?;
    let address = UART_VA + physical_base % PAGE;
    let Some(registers) = NonNull::new(address as *mut PL011Registers) else {
        return Err(sys::Error(sys::SysError::InvalidArgument as u64));
    };
    // SAFETY: the page at UART_VA was just mapped (uncached device memory) to
    // the PL011 register frame this process was granted; nothing else in this
    // process touches it, and every access below goes through the one `Uart`.
    let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(registers) });
    let line = LineConfig {
        data_bits: DataBits::Bits8,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
    if uart.enable(line, BAUD_RATE, UART_CLOCK_HZ).is_err() {
        return Err(sys::Error(sys::SysError::InvalidArgument as u64));
    }
    uart.clear_interrupts(Interrupts::all());
    uart.set_interrupt_masks(Interrupts::RXI | Interrupts::RTI);
    *lock(&UART) = Some(uart);
    Ok(())
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    let mut guard = lock(&UART);
    let Some(uart) = guard.as_mut() else { return };
    for &byte in bytes {
        if byte == b'\n' {
            put(uart, b'\r');
        }
        put(uart, byte);
    }
}

fn put(uart: &mut Uart<'static>, byte: u8) {
    while uart.is_tx_fifo_full() {
        core::hint::spin_loop();
    }
    uart.write_word(byte);
}

/// Moves every byte waiting in the receive FIFO into `into` (bytes with
/// framing, parity, break or overrun errors are dropped) and clears the
/// receive interrupts; returns how many errors were seen.
pub fn drain_receive(into: &mut alloc::vec::Vec<u8>) -> usize {
    let mut guard = lock(&UART);
    let Some(uart) = guard.as_mut() else { return 0 };
    // Clear first, then drain: a byte that arrives after the drain but before
    // a later clear would lose its interrupt (the PL011 raises RX only when
    // its FIFO goes from empty to non-empty) and sit unread until more input.
    uart.clear_interrupts(Interrupts::RXI | Interrupts::RTI | Interrupts::OEI);
    let mut errors = 0;
    loop {
        match uart.read_word() {
            Ok(Some(byte)) => into.push(byte),
            Ok(None) => break,
            Err(_) => errors += 1,
        }
    }
    errors
}
