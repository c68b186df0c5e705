//! Signals of C programs. Handlers are C functions and run on the program's
//! own thread: a signal a program sends itself (`raise`, `kill(getpid())`)
//! is delivered when the system call that sent it returns. One from
//! elsewhere (noted by libzos's signal thread, see `posix::signal`, or the
//! interval timer's) redirects the main thread to its handler at once when
//! it computes in program code (`deliver.rs`), interrupts its blocked call
//! when the call is interruptible (EINTR, or a restart for `SA_RESTART`),
//! and else runs when the call in progress returns. The blocked mask holds
//! signals back until it is lowered.

use super::ucontext::Ucontext;
use super::{put_words, user_bytes, SysResult};
use crate::posix::{self, Errno, SigAction};
use crate::rt::BackoffMutex as Mutex;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use zos_abi::registers::USER_REGISTERS;
use zos_proto::errno::*;

const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_SIGINFO: u64 = 4;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;

/// musl's `struct k_sigaction`: handler, flags, restorer, mask.
#[derive(Clone, Copy, Default)]
struct Action {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

static ACTIONS: Mutex<[Action; 65]> = Mutex::new(
    [Action {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; 65],
);
static BLOCKED: AtomicU64 = AtomicU64::new(0);
static PENDING: AtomicU64 = AtomicU64::new(0);

fn bit(signal: u32) -> u64 {
    1u64 << (signal - 1)
}

/// In a fork child: no signal is pending (POSIX); actions and the mask
/// are the parent's (copied with the memory).
pub(crate) fn fork_child_reset() {
    PENDING.store(0, Ordering::SeqCst);
    SUSPEND_DUE.store(0, Ordering::SeqCst);
}

/// Whether the signal mask holds `signal` back (`job_control`).
pub(crate) fn is_blocked(signal: u32) -> bool {
    (1..=64).contains(&signal) && BLOCKED.load(Ordering::SeqCst) & bit(signal) != 0
}

/// Called on libzos's signal thread for a signal from another process: it
/// is pending, and if due now the main thread's blocked call is interrupted
/// so its handler runs (EINTR, or the call restarts for SA_RESTART).
fn note(signal: u32) {
    if (1..=64).contains(&signal) {
        PENDING.fetch_or(bit(signal), Ordering::SeqCst);
        if deliverable() && !super::deliver::redirect_main() {
            posix::interrupt_main();
        }
    }
}

/// Bit 0 of the signal notification: init holds a fault of this process
/// for a handler (docs/posix.md, "Faults"). The main thread goes to the
/// handler at the faulting instruction; when it cannot (the signal blocked
/// or without a handler now, the thread inside libzos, no room for the
/// frame), init ends the process as killed by the signal, as Linux does.
fn note_fault() {
    if !super::deliver::redirect_fault() {
        let _ = posix::fault_resume(false);
    }
}

/// The fault init let go of, for its signal's handler: (signal, `si_code`,
/// address), taken by the handler's `siginfo_t`.
static FAULT: Mutex<Option<(u32, u32, u64)>> = Mutex::new(None);

/// Makes the fault's signal pending for its handler; false when it is
/// blocked or has no handler (the process is then to end).
pub(super) fn take_fault(signal: u32, code: u32, address: u64) -> bool {
    if !(1..=64).contains(&signal) {
        return false;
    }
    let handler = ACTIONS.lock()[signal as usize].handler;
    let blocked = BLOCKED.load(Ordering::SeqCst) & bit(signal) != 0;
    if handler == SIG_DFL || handler == SIG_IGN || blocked {
        return false;
    }
    *FAULT.lock() = Some((signal, code, address));
    PENDING.fetch_or(bit(signal), Ordering::SeqCst);
    true
}

/// A signal this process sends itself from a thread other than the main
/// one (the interval timer's): its action is taken as for one from another
/// process — ignored, the default (through the process manager, which ends
/// the process for SIGALRM), or the handler.
pub(super) fn send_self_from_elsewhere(signal: u32) {
    let handler = ACTIONS.lock()[signal as usize].handler;
    match handler {
        SIG_IGN => {}
        SIG_DFL if ignored_by_default(signal) => {}
        SIG_DFL => {
            let _ = posix::kill(posix::getpid() as i32, signal);
        }
        _ => note(signal),
    }
}

const SA_RESTART: u64 = 0x1000_0000;

/// Whether every signal of `delivered` with a handler asked for SA_RESTART.
pub(super) fn all_restart(delivered: u64) -> bool {
    let actions = ACTIONS.lock();
    (1..=64u32).filter(|&s| delivered & bit(s) != 0).all(|s| {
        matches!(actions[s as usize].handler, SIG_DFL | SIG_IGN)
            || actions[s as usize].flags & SA_RESTART != 0
    })
}

const SA_ONSTACK: u64 = 0x0800_0000;

/// Whether a signal due now has a handler that runs on the alternate stack.
pub(super) fn wants_alt_stack() -> bool {
    any_on_alt_stack(PENDING.load(Ordering::SeqCst) & !BLOCKED.load(Ordering::SeqCst))
}

/// Whether a signal of `signals` has a handler that runs on the alternate
/// stack (`SA_ONSTACK`).
pub(super) fn any_on_alt_stack(signals: u64) -> bool {
    let actions = ACTIONS.lock();
    (1..=64u32).any(|s| signals & bit(s) != 0 && actions[s as usize].flags & SA_ONSTACK != 0)
}

/// Whether a signal is due (pending and not blocked), without taking it.
pub fn deliverable() -> bool {
    PENDING.load(Ordering::SeqCst) & !BLOCKED.load(Ordering::SeqCst) != 0
}

/// Signals due now (pending and not blocked), taken off the pending set.
pub fn take_deliverable() -> u64 {
    let blocked = BLOCKED.load(Ordering::SeqCst);
    let due = PENDING.load(Ordering::SeqCst) & !blocked;
    if due != 0 {
        PENDING.fetch_and(!due, Ordering::SeqCst);
    }
    due
}

/// What the main thread is to run the handlers of now (`take_deliverable`
/// and what `rt_sigsuspend` took); when there is any, no call is to be
/// interrupted for them any more.
pub fn take_due() -> u64 {
    let due = take_deliverable() | take_suspended();
    if due != 0 {
        crate::sys::SIGNAL_PENDING.store(false, Ordering::SeqCst);
    }
    due
}

/// Runs the handlers of `due` (and of whatever they make due), with the
/// program's own thread pointer in place, for a thread that made a call
/// (no interrupted registers for a `ucontext_t`).
pub fn run_handlers(due: u64) {
    run_handlers_in(due, None);
}

/// The registers a redirected thread was interrupted at (its signal frame,
/// changed by an `SA_SIGINFO` handler through its `ucontext_t`), and the
/// address of the FP/SIMD image saved beside them.
pub(super) struct Interrupted<'a> {
    pub registers: &'a mut [u64; USER_REGISTERS],
    pub fp_image: u64,
}

/// [`run_handlers`] for a thread redirected from `interrupted`.
pub(super) fn run_handlers_in(mut due: u64, mut interrupted: Option<Interrupted>) {
    while due != 0 {
        let signal = due.trailing_zeros() + 1;
        due &= !bit(signal);
        let action = ACTIONS.lock()[signal as usize];
        if action.handler == SIG_DFL || action.handler == SIG_IGN {
            continue;
        }
        let saved = BLOCKED.load(Ordering::SeqCst);
        let mut during = saved | action.mask;
        if action.flags & SA_NODEFER == 0 {
            during |= bit(signal);
        }
        BLOCKED.store(during, Ordering::SeqCst);
        if action.flags & SA_RESETHAND != 0 {
            ACTIONS.lock()[signal as usize] = Action::default();
        }
        // What is blocked after it: as before, or what an `SA_SIGINFO`
        // handler wrote into its context's `uc_sigmask` (as sigreturn does).
        let after = if action.flags & SA_SIGINFO != 0 {
            call_with_info(action.handler, signal, saved, interrupted.as_mut())
        } else {
            // SAFETY: the program installed this address as a handler.
            let handler: extern "C" fn(i32) =
                unsafe { core::mem::transmute(action.handler as usize) };
            super::deliver::outside_runtime(|| handler(signal as i32));
            saved
        };
        BLOCKED.store(after & !(bit(SIGKILL) | bit(SIGSTOP)), Ordering::SeqCst);
        due |= super::with_ipc_tp(take_deliverable);
    }
}

/// Calls an `SA_SIGINFO` handler with its `siginfo_t` and `ucontext_t`
/// (`mask`: the blocked mask before it), takes back the registers it left
/// in the context and returns the mask it left there. Not inlined: the context (4.5 KiB on AArch64) is
/// on the stack only for such handlers, which matters on a small
/// alternate stack.
#[inline(never)]
fn call_with_info(
    handler: u64,
    signal: u32,
    mask: u64,
    interrupted: Option<&mut Interrupted>,
) -> u64 {
    // siginfo_t (128 bytes): si_signo, si_errno, si_code, then (for a
    // fault) si_addr at byte 16.
    let mut info = [0u32; 32];
    info[0] = signal;
    let fault = FAULT.lock().take_if(|f| f.0 == signal);
    let (code, address) = fault.map_or((0, 0), |(_, code, address)| (code, address));
    (info[2], info[4], info[5]) = (code, address as u32, (address >> 32) as u32);
    let registers = interrupted.as_ref().map(|i| &*i.registers);
    let fp_image = interrupted.as_ref().map_or(0, |i| i.fp_image);
    let mut context = Ucontext::new(registers, mask, address, fp_image);
    let context_ptr = context.as_mut_ptr();
    // SAFETY: the program installed this address as an SA_SIGINFO handler
    // with sigaction; it is called as one.
    let handler: extern "C" fn(i32, *mut u32, *mut u64) =
        unsafe { core::mem::transmute(handler as usize) };
    super::deliver::outside_runtime(|| handler(signal as i32, info.as_mut_ptr(), context_ptr));
    if let Some(interrupted) = interrupted {
        context.registers(interrupted.registers);
    }
    context.mask()
}

/// The parent's actions and blocked mask while a vfork child runs.
static VFORK_SAVED: Mutex<Vec<([Action; 65], u64)>> = Mutex::new(Vec::new());

pub(super) fn vfork_save() {
    let copy = (*ACTIONS.lock(), BLOCKED.load(Ordering::SeqCst));
    VFORK_SAVED.lock().push(copy);
}

pub(super) fn vfork_restore() {
    if let Some((actions, blocked)) = VFORK_SAVED.lock().pop() {
        *ACTIONS.lock() = actions;
        BLOCKED.store(blocked, Ordering::SeqCst);
    }
}

pub fn rt_sigaction(signal: u32, new: u64, old: u64) -> SysResult {
    if !(1..=64).contains(&signal) {
        return Err(Errno(EINVAL));
    }
    let current = ACTIONS.lock()[signal as usize];
    if old != 0 {
        put_words(
            old,
            &[
                current.handler,
                current.flags,
                current.restorer,
                current.mask,
            ],
        )?;
    }
    if new == 0 {
        return Ok(0);
    }
    if signal == SIGKILL || signal == SIGSTOP {
        return Err(Errno(EINVAL));
    }
    let words = user_bytes(new, 32)?;
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&words[i * 8..i * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    let action = Action {
        handler: word(0),
        flags: word(1),
        restorer: word(2),
        mask: word(3),
    };
    let disposition = match action.handler {
        SIG_DFL => SigAction::Default,
        SIG_IGN => SigAction::Ignore,
        _ => {
            posix::set_fault_handler(note_fault);
            SigAction::Handler(note)
        }
    };
    ACTIONS.lock()[signal as usize] = action;
    if super::vfork::active() {
        // A vfork child's dispositions die with it (`vfork_restore`).
        return Ok(0);
    }
    if signal == zos_proto::proc::signal::SIGPIPE {
        posix::ignore_sigpipe(action.handler != SIG_DFL);
    }
    // Tell the process manager, so signals from elsewhere come (or not);
    // without one (a program run by init.run) only raise() works.
    let _ = posix::signal(signal, disposition);
    Ok(0)
}

/// Whether SIGPIPE is not left to its default (ignored or caught): then an
/// `EPIPE` does not end the program (send with `MSG_DONTWAIT`, linux/net.rs).
pub(super) fn sigpipe_ignored() -> bool {
    ACTIONS.lock()[zos_proto::proc::signal::SIGPIPE as usize].handler != SIG_DFL
}

pub fn rt_sigprocmask(how: u32, set: u64, old: u64) -> SysResult {
    const SIG_BLOCK: u32 = 0;
    const SIG_UNBLOCK: u32 = 1;
    const SIG_SETMASK: u32 = 2;
    let current = BLOCKED.load(Ordering::SeqCst);
    if old != 0 {
        put_words(old, &[current])?;
    }
    if set == 0 {
        return Ok(0);
    }
    let bytes = user_bytes(set, 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    let set = u64::from_le_bytes(word);
    let new = match how {
        SIG_BLOCK => current | set,
        SIG_UNBLOCK => current & !set,
        SIG_SETMASK => set,
        _ => return Err(Errno(EINVAL)),
    };
    BLOCKED.store(new & !(bit(SIGKILL) | bit(SIGSTOP)), Ordering::SeqCst);
    Ok(0)
}

/// Signals `rt_sigsuspend` took while its temporary mask was in place, for
/// the dispatcher to run once the call returns (`take_deliverable` then
/// sees the restored mask, which may block them).
static SUSPEND_DUE: AtomicU64 = AtomicU64::new(0);

/// Signals taken by the last `rt_sigsuspend`, for the dispatcher to run.
pub fn take_suspended() -> u64 {
    SUSPEND_DUE.swap(0, Ordering::SeqCst)
}

/// How long one `rt_sigsuspend` waits before returning EINTR without a
/// signal (a wakeup its callers must cope with anyway, as with a signal
/// whose handler changed nothing): a child's end that comes as no SIGCHLD
/// (a parent catching none when it ended) still ends a shell's `wait`.
const SUSPEND_LIMIT_NS: u64 = 20_000_000;
const SUSPEND_STEP_NS: u64 = 1_000_000;

/// rt_sigsuspend: the blocked mask becomes `*set` until a signal it lets
/// through is pending (or [`SUSPEND_LIMIT_NS`] passed); the old mask comes
/// back, the handlers of what arrived run, and the call fails with EINTR
/// as it always does on Linux.
pub fn rt_sigsuspend(set: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno(EINVAL));
    }
    let bytes = user_bytes(set, 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    let temporary = u64::from_le_bytes(word) & !(bit(SIGKILL) | bit(SIGSTOP));
    let saved = BLOCKED.swap(temporary, Ordering::SeqCst);
    let deadline = crate::sys::clock_ns().saturating_add(SUSPEND_LIMIT_NS);
    while !deliverable() && crate::sys::clock_ns() < deadline {
        posix::nanosleep(SUSPEND_STEP_NS);
    }
    let due = take_deliverable();
    BLOCKED.store(saved, Ordering::SeqCst);
    SUSPEND_DUE.fetch_or(due, Ordering::SeqCst);
    Err(Errno(EINTR))
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(signal: u32) -> bool {
    matches!(signal, 17 | 18 | 23 | 28)
}

pub fn kill(pid: i32, signal: u32) -> SysResult {
    if signal > 64 {
        return Err(Errno(EINVAL));
    }
    let me = posix::getpid() as i32;
    if pid == me && signal != 0 {
        let handler = ACTIONS.lock()[signal as usize].handler;
        match handler {
            SIG_IGN => return Ok(0),
            SIG_DFL if ignored_by_default(signal) => return Ok(0),
            SIG_DFL => {}
            _ => {
                PENDING.fetch_or(bit(signal), Ordering::SeqCst);
                return Ok(0);
            }
        }
    }
    if pid == me && signal == 0 {
        return Ok(0);
    }
    posix::kill(pid, signal)?;
    Ok(0)
}
