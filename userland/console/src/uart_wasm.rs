//! The browser port's terminal (wasm32): the page's terminal stands where the
//! UART does. Output and input go through two kernel imports that answer only
//! a process holding the terminal's device page mapped (the "uart" grant,
//! mapped at `DEVICE_WINDOW` like the PL011's registers), so the capability
//! still decides who drives the terminal. Input arrives by interrupt, as on
//! the native UARTs.

use libzos::abi::map_flags;
use libzos::sys;

/// The device's name, for the console's greeting.
pub const NAME: &str = "wasm-terminal";
/// Where the terminal's device page is mapped.
const UART_VA: u64 = libzos::abi::layout::DEVICE_WINDOW;
/// Bytes taken from the terminal per import call.
const CHUNK: usize = 256;

#[link(wasm_import_module = "zos")]
extern "C" {
    fn zos_terminal_write(bytes: *const u8, len: usize) -> i32;
    fn zos_terminal_read(into: *mut u8, capacity: usize) -> i32;
}

/// Maps the terminal's device page, which is what lets this process use it.
pub fn init(memory_slot: u64, _physical_base: u64) -> Result<(), sys::Error> {
    sys::memory_map(memory_slot, sys::SELF, UART_VA, 0, 1, map_flags::WRITE)
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    let mut out = alloc::vec::Vec::with_capacity(bytes.len() + 8);
    for &byte in bytes {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    // SAFETY: the kernel reads `len` bytes from `out`, which lives for the call.
    unsafe { zos_terminal_write(out.as_ptr(), out.len()) };
}

/// Moves every byte the page typed into `into`; returns how many errors were
/// seen (none: the page's terminal has no line errors).
pub fn drain_receive(into: &mut alloc::vec::Vec<u8>) -> usize {
    let mut chunk = [0u8; CHUNK];
    loop {
        // SAFETY: the kernel writes at most `CHUNK` bytes into `chunk`.
        let count = unsafe { zos_terminal_read(chunk.as_mut_ptr(), CHUNK) };
        if count <= 0 {
            return 0;
        }
        into.extend_from_slice(&chunk[..count as usize]);
    }
}
