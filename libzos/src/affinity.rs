//! CPU affinity: which CPUs the process's main thread may run on
//! (`sched_setaffinity`, BusyBox `taskset`).
//!
//! The kernel keeps the mask per thread (`ThreadSetAffinity`) and a new
//! thread gets its creator's. A program started through init gets its main
//! thread from init, so the mask travels in the environment instead, as the
//! umask does: `ZOS_CPUS` (hexadecimal), applied by `_start` before `main`.
//! The mask set here is the main thread's, whichever thread asks (Linux
//! sets the calling thread's; our programs set it from the main thread).

use crate::posix::{self, Errno, Result};
use crate::proto::errno::EINVAL;
use crate::sys;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use zos_proto::start::slots;

/// The environment variable that hands the mask to programs started.
const ENV: &str = "ZOS_CPUS";

/// The mask set (0: never set, every CPU).
static CPUS: AtomicU64 = AtomicU64::new(0);

/// The online CPUs (bit N for CPU N).
pub fn online() -> u64 {
    let cpus = sys::cpus_online().clamp(1, 64);
    if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    }
}

/// Lets the main thread run only on the CPUs of `mask` that are online;
/// `EINVAL` when none is.
pub fn set(mask: u64) -> Result<()> {
    let cpus = mask & online();
    if cpus == 0 {
        return Err(Errno(EINVAL));
    }
    sys::thread_set_affinity(slots::MAIN_THREAD, cpus).map_err(|_| Errno(EINVAL))?;
    CPUS.store(cpus, Ordering::Relaxed);
    Ok(())
}

/// The CPUs the main thread may run on.
pub fn get() -> u64 {
    match CPUS.load(Ordering::Relaxed) {
        0 => online(),
        cpus => cpus,
    }
}

/// At start-up: the mask the parent handed down, if any.
pub(crate) fn inherit() {
    let Some(value) = posix::getenv(ENV) else {
        return;
    };
    if let Ok(mask) = u64::from_str_radix(value.trim_start_matches("0x"), 16) {
        let _ = set(mask);
    }
}

/// `ZOS_CPUS=…` for a child's environment, when a mask was set.
pub(crate) fn env_entry() -> Option<String> {
    match CPUS.load(Ordering::Relaxed) {
        0 => None,
        cpus => Some(format!("{ENV}={cpus:x}")),
    }
}
