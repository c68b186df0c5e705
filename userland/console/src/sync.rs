//! Locking between the console's two threads.
//!
//! The threads may run at different priorities on one CPU, so a spinning
//! waiter could starve the holder forever. A waiter that cannot take the
//! lock sleeps briefly instead, which lets the holder (of any priority) run.

use libzos::sys;
use spin::{Mutex, MutexGuard};

/// How long a waiter sleeps before trying again.
const RETRY_NS: u64 = 100_000;

/// Takes `mutex`, sleeping while another thread holds it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    loop {
        if let Some(guard) = mutex.try_lock() {
            return guard;
        }
        sys::sleep_until(sys::clock_ns().saturating_add(RETRY_NS));
    }
}
