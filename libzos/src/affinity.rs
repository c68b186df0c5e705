//! CPU affinity: which CPUs a process's threads may run on
//! (`sched_setaffinity`, BusyBox `taskset`, `taskset -p PID`).
//!
//! The kernel keeps the mask per thread (`ThreadSetAffinity`, on one thread
//! or on every thread of a process) and a new thread gets its creator's.
//! init holds every process's capability, so it sets and reports the mask
//! of any process (`ProcRequest::Affinity`, with the rule of `kill`: a user
//! only its own processes); a program run without init (`init.run=`) sets
//! its main thread's itself. A program started through init gets its main
//! thread from init, so the mask travels in the environment as well, as the
//! umask does: `ZOS_CPUS` (hexadecimal), applied by `_start` before `main`.
//! Linux sets the calling thread's mask only; here it is the process's.

use crate::posix::{self, Errno, Result};
use crate::proto::errno::{EBADF, EINVAL, EIO, ESRCH};
use crate::proto::proc::{ProcRequest, ProcResponse};
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

/// Lets this process run only on the CPUs of `mask` that are online;
/// `EINVAL` when none is.
pub fn set(mask: u64) -> Result<()> {
    let cpus = mask & online();
    if cpus == 0 {
        return Err(Errno(EINVAL));
    }
    match ask_init(0, cpus) {
        Err(Errno(e)) if e == EIO || e == EBADF || e == ESRCH => {
            // No process manager to ask (or none that knows this process,
            // `init.run=`): the main thread itself.
            sys::thread_set_affinity(slots::MAIN_THREAD, cpus).map_err(|_| Errno(EINVAL))?
        }
        result => _ = result?,
    }
    CPUS.store(cpus, Ordering::Relaxed);
    Ok(())
}

/// The CPUs this process may run on (init's word: someone may have set
/// them with `taskset -p`).
pub fn get() -> u64 {
    if let Ok(cpus) = ask_init(0, 0) {
        return cpus;
    }
    match CPUS.load(Ordering::Relaxed) {
        0 => online(),
        cpus => cpus,
    }
}

/// Sets (`cpus` not 0) and reads the CPUs of process `pid`.
pub fn set_other(pid: u32, cpus: u64) -> Result<u64> {
    ask_init(pid, cpus)
}

/// `ProcRequest::Affinity`; EBADF or EIO when there is no process manager.
fn ask_init(pid: u32, cpus: u64) -> Result<u64> {
    let reply = posix::proc_call(&ProcRequest::Affinity { pid, cpus }, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Affinity { cpus }) => Ok(cpus),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
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
