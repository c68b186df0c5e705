//! The kernel's debug console: the 16550 UART on COM1 (I/O port 0x3f8), through
//! the `uart_16550` crate. Blocking writes; `\n` becomes `\r\n`.

use spin::Mutex;
use uart_16550::SerialPort;

/// COM1's first I/O port.
pub const COM1: u16 = 0x3f8;
/// COM1's legacy interrupt line (ISA IRQ 4).
pub const COM1_IRQ: u32 = 4;

static PORT: Mutex<Option<SerialPort>> = Mutex::new(None);

/// Programs COM1 (115200 8N1, FIFOs on, receive interrupt enabled by the crate).
pub fn init() {
    // SAFETY: COM1 is the standard PC serial port; nothing else drives it in the
    // kernel, and user mode gets no I/O-port access to it.
    let mut port = unsafe { SerialPort::new(COM1) };
    port.init();
    *PORT.lock() = Some(port);
}

fn send_all(port: &mut SerialPort, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            port.send_raw(b'\r');
        }
        port.send_raw(b);
    }
}

/// Writes bytes, blocking until the UART took them.
pub fn write(bytes: &[u8]) {
    if let Some(port) = PORT.lock().as_mut() {
        send_all(port, bytes);
    }
}

/// Writes even if the console lock is held (panics, fatal exceptions).
pub fn write_emergency(bytes: &[u8]) {
    // SAFETY: we are stopping the machine; whoever held the lock never resumes.
    unsafe { PORT.force_unlock() };
    // SAFETY: as in `init`; a second handle to the same port is harmless here.
    let mut port = unsafe { SerialPort::new(COM1) };
    send_all(&mut port, bytes);
}
