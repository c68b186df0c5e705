//! Printing the kernel log. The console binds a notification to the kernel's
//! log ring (`LogBind`): from then on the kernel no longer writes the UART
//! itself, and this thread copies each new stretch of the ring to the UART,
//! so one process drives the PL011 and kernel lines never cut into typed
//! input or program output mid-byte. If the console dies, the kernel takes
//! the UART back.

use alloc::format;
use core::sync::atomic::{AtomicU64, Ordering};
use libzos::sys;

use crate::uart;

/// The log cursor at the moment of binding (what came before was printed by
/// the kernel itself).
static START_CURSOR: AtomicU64 = AtomicU64::new(0);

/// Binds the log and starts the printing thread; logs a warning on failure
/// (the kernel then keeps printing by itself).
pub fn start(system_slot: u64) {
    let started = sys::notification_create().and_then(|notification| {
        let cursor = sys::log_bind(system_slot, notification)?;
        START_CURSOR.store(cursor, Ordering::Release);
        // Slots are below 4096: both fit in the argument.
        libzos::thread::spawn(print_thread, (system_slot << 32) | notification, 100).map(|_| ())
    });
    if let Err(e) = started {
        log::warn!("kernel log not taken over: {}", e.name());
    }
}

fn print_thread(arg: u64) {
    let system = arg >> 32;
    let notification = arg & 0xffff_ffff;
    let mut cursor = START_CURSOR.load(Ordering::Acquire);
    let mut buffer = alloc::vec![0u8; 4096];
    loop {
        loop {
            match sys::log_read(system, cursor, &mut buffer) {
                Ok((0, _)) => break,
                Ok((count, next)) => {
                    let lost = (next - count as u64).saturating_sub(cursor);
                    if lost > 0 {
                        uart::write(format!("\n[{lost} bytes of kernel log lost]\n").as_bytes());
                    }
                    uart::write(&buffer[..count]);
                    cursor = next;
                }
                Err(e) => {
                    log::error!("reading the kernel log failed: {}", e.name());
                    return;
                }
            }
        }
        if sys::wait(notification).is_err() {
            return;
        }
    }
}
