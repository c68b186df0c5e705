//! Job control at the terminal: a process outside its terminal's foreground
//! process group that reads the terminal gets SIGTTIN, and one that changes
//! its settings or its foreground group gets SIGTTOU (POSIX, "General
//! Terminal Interface"). Both stop the group by default, so a background
//! job waits for `fg` instead of taking the line typed for the shell.
//!
//! The terminal knows its foreground group but not who calls (a handle's
//! badge names the open file, which a spawn shares), so the check is the
//! caller's: a read names the reader's group (`IoRequest::TerminalRead`,
//! answered `Background` when that is not the foreground one), a change
//! asks the terminal for its foreground group first; outside it, init, which
//! knows groups, sessions and dispositions, decides
//! (`ProcRequest::TerminalAccess`). docs/terminals.md, "Background reads".

use crate::posix::{self, Errno, Fd, Pid, Result};
use core::sync::atomic::{AtomicU32, Ordering};
use zos_proto::errno::*;
use zos_proto::io::{IoRequest, IoResponse};
use zos_proto::proc::signal::{SIGTTIN, SIGTTOU};
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::MAX_IO_CHUNK;

/// This process's group as last learnt (0: not known). Only ever used to
/// skip asking init when the terminal's foreground group is this one: a
/// stale value can only let a call through that init would have let
/// through when the group was this one.
static OWN_GROUP: AtomicU32 = AtomicU32::new(0);

/// Notes this process's group (from `getpgrp`, `setpgid`, `setsid`).
pub(crate) fn note_own_group(pgid: Pid) {
    OWN_GROUP.store(pgid, Ordering::Relaxed);
}

/// This process's group: as noted, else asked of init (once).
fn own_group() -> Pid {
    match OWN_GROUP.load(Ordering::Relaxed) {
        0 => posix::getpgrp(),
        pgid => pgid,
    }
}

/// How many times one call is stopped and continued before it gives up
/// with EIO (each round needs a SIGCONT; the bound only keeps a bug from
/// becoming a storm of signals).
const MAX_ROUNDS: u32 = 1000;

/// What the caller is about to do with the terminal.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it (SIGTTIN).
    Read,
    /// Change its settings or foreground group (SIGTTOU).
    Change,
}

/// Returns once this process may do `access` on terminal `fd`: at once
/// when it is in the foreground (or the terminal is not its controlling
/// one), after its group was stopped and continued otherwise. `EIO` when
/// it may not and cannot be stopped (a read with SIGTTIN ignored or
/// blocked, an orphaned group); `EINTR` when a handler caught the signal.
pub fn check(fd: Fd, access: Access) -> Result<()> {
    let signal = match access {
        Access::Read => SIGTTIN,
        Access::Change => SIGTTOU,
    };
    // A change with SIGTTOU ignored or blocked is allowed from anywhere
    // (POSIX, tcsetpgrp and tcsetattr): nothing to ask. An interactive
    // shell ignores it, so this saves it a round trip per job.
    if access == Access::Change && (posix::ignores(SIGTTOU) || blocked(SIGTTOU)) {
        return Ok(());
    }
    for _ in 0..MAX_ROUNDS {
        let Some(foreground) = foreground_of(fd) else {
            // Not a terminal that keeps a group (or gone): the call itself
            // says what it says.
            return Ok(());
        };
        if foreground == 0 || foreground == OWN_GROUP.load(Ordering::Relaxed) {
            return Ok(());
        }
        if ask_init(foreground, signal)? {
            return Ok(());
        }
    }
    Err(Errno(EIO))
}

/// Asks init what a process outside the foreground group `foreground` does
/// about `signal`: true to go on, false when its group was stopped and
/// continued (look again); `EIO`, or `EINTR` when a handler caught it.
fn ask_init(foreground: Pid, signal: u32) -> Result<bool> {
    let request = ProcRequest::TerminalAccess {
        foreground,
        signal,
        blocked: blocked(signal),
    };
    let reply = posix::proc_call(&request, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Ok) => Ok(true),
        Some(ProcResponse::Err(EINTR)) if posix::catches(signal) => Err(Errno(EINTR)),
        // Stopped and continued: look again (`bg` continues a reader that
        // is still in the background, and it stops again).
        Some(ProcResponse::Err(EINTR)) => Ok(false),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// `read` of terminal `fd` with job control: one `TerminalRead` naming this
/// process's group; outside the foreground group init decides (stop, EIO,
/// or go on with a plain read). A server that does not know `TerminalRead`
/// gets the check and a plain read.
pub(crate) fn read_terminal(fd: Fd, buffer: &mut [u8]) -> Result<usize> {
    let max = buffer.len().min(MAX_IO_CHUNK) as u32;
    let mut request = IoRequest::TerminalRead {
        max,
        group: own_group(),
    };
    for _ in 0..MAX_ROUNDS {
        let reply = posix::interruptible(|| posix::io_call(fd, &request))?;
        match reply.decode::<IoResponse>() {
            Some(IoResponse::Data(data)) => {
                let n = data.len().min(buffer.len());
                buffer[..n].copy_from_slice(&data[..n]);
                return Ok(n);
            }
            Some(IoResponse::Background { foreground }) => {
                if ask_init(foreground, SIGTTIN)? {
                    // Perhaps the group noted here was stale (a parent's
                    // setpgid): learn it again for the next read.
                    posix::getpgrp();
                    request = IoRequest::Read { max };
                }
            }
            Some(IoResponse::Err(ENOTTY | EINVAL))
                if matches!(request, IoRequest::TerminalRead { .. }) =>
            {
                check(fd, Access::Read)?;
                request = IoRequest::Read { max };
            }
            Some(IoResponse::Err(e)) => return Err(Errno(e)),
            _ => return Err(Errno(EIO)),
        }
    }
    Err(Errno(EIO))
}

/// The foreground group of terminal `fd`; `None` when it keeps none.
fn foreground_of(fd: Fd) -> Option<Pid> {
    let reply = posix::io_call(fd, &IoRequest::GetForeground).ok()?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Foreground(pgid)) => Some(pgid),
        _ => None,
    }
}

/// Whether the program's signal mask holds `signal` back (C programs).
fn blocked(signal: u32) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::linux::signal::is_blocked(signal)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = signal;
        false
    }
}

/// At start (`_start`): a job control shell's foreground job makes its
/// group the foreground of its terminal before its program runs — the first
/// of descriptors 0–2 that is one — so it never meets its terminal as a
/// background job (the shell hands the terminal over too, after the spawn
/// returns, which may be later).
pub(crate) fn take_terminal_at_start() {
    let group = crate::rt::start_info().take_terminal;
    if group == 0 {
        return;
    }
    note_own_group(group);
    for fd in 0..3 {
        if posix::claim_terminal(fd, group).is_ok() {
            return;
        }
    }
}
