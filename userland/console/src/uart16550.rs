//! The 16550 UART on x86_64 (COM1), driven through I/O ports with the
//! `uart_16550` crate: output is polled, input arrives by interrupt.
//!
//! The "uart" grant is a device Memory object over the kernel's I/O-port
//! window (`layout::IO_PORT_WINDOW`, one page per port): mapping its pages
//! is what lets this process use those ports.

use crate::sync::lock;
use libzos::abi::layout;
use libzos::abi::map_flags;
use libzos::sys;
use spin::Mutex;
use uart_16550::SerialPort;

/// The device's name, for the console's greeting.
pub const NAME: &str = "ns16550";
/// Where the port pages are mapped (they set no page-table entries).
const UART_VA: u64 = layout::DEVICE_WINDOW;
/// Registers of a 16550.
const PORTS: u64 = 8;

static UART: Mutex<Option<SerialPort>> = Mutex::new(None);

/// Maps the UART's port capability and takes the device: 8N1 with FIFOs,
/// the receive interrupt on.
pub fn init(memory_slot: u64, physical_base: u64) -> Result<(), sys::Error> {
    let Some(port) = layout::io_port(physical_base) else {
        return Err(sys::Error(sys::SysError::InvalidArgument as u64));
    };
    sys::memory_map(memory_slot, sys::SELF, UART_VA, 0, PORTS, map_flags::WRITE)?;
    // SAFETY: the eight ports from `port` were just granted to this process
    // (its I/O permission bitmap) and are the 16550 named by the grant;
    // nothing else in this process touches them.
    let mut uart = unsafe { SerialPort::new(port) };
    uart.init();
    *lock(&UART) = Some(uart);
    Ok(())
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    let mut guard = lock(&UART);
    let Some(uart) = guard.as_mut() else { return };
    for &byte in bytes {
        if byte == b'\n' {
            uart.send_raw(b'\r');
        }
        uart.send_raw(byte);
    }
}

/// Moves every byte waiting in the receive FIFO into `into` (reading them
/// also ends the interrupt); returns how many errors were seen (none are
/// reported by this driver).
pub fn drain_receive(into: &mut alloc::vec::Vec<u8>) -> usize {
    let mut guard = lock(&UART);
    let Some(uart) = guard.as_mut() else { return 0 };
    while let Ok(byte) = uart.try_receive() {
        into.push(byte);
    }
    0
}
