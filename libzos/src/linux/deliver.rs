//! Signals delivered to a main thread that computes in program code.
//!
//! The thread that noted the signal (libzos's signal thread, or the interval
//! timer's) suspends the main thread, saves its registers in a frame on the
//! main thread's stack (or on the alternate signal stack, `sigaltstack`,
//! when a due handler asked for `SA_ONSTACK`), and points it at
//! `zos_signal_trampoline`. The trampoline saves the FP/SIMD registers
//! beside them, runs the handlers, loads FP/SIMD back and returns to the
//! saved registers through the kernel's `ThreadRegisters` on its own thread
//! (the sigreturn). A main thread inside libzos (the dispatcher, or a
//! C-facing call) is never redirected: it may hold libzos's locks, and it
//! runs the handlers itself when its call returns, as before.
//! docs/posix.md, "Signals on the interrupted thread".

use super::{get_word, put_words, signal, SysResult};
use crate::posix::Errno;
use crate::sys;
use core::ops::Range;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use zos_abi::registers::USER_REGISTERS;
use zos_abi::SysError;
use zos_proto::errno::*;
use zos_proto::start::slots::MAIN_THREAD;

#[cfg(target_arch = "aarch64")]
mod regs {
    use zos_abi::registers::aarch64::*;
    pub const STACK: usize = SP;
    pub const PROGRAM: usize = PC;
    pub const ARGUMENT: usize = 0;
    /// Cleared so no backtrace walks past the trampoline: the frame
    /// pointer (x29) and the link register.
    pub const CLEARED: [usize; 2] = [29, LR];
}

#[cfg(target_arch = "x86_64")]
mod regs {
    use zos_abi::registers::x86_64::*;
    pub const STACK: usize = RSP;
    pub const PROGRAM: usize = RIP;
    pub const ARGUMENT: usize = RDI;
    pub const CLEARED: [usize; 1] = [RBP];
}

/// Bytes of FP/SIMD state the trampoline keeps: q0–q31, FPCR and FPSR on
/// AArch64 (528), the `fxsave` area on x86_64 (512).
const FP_BYTES: usize = 528;

/// What the trampoline finds at its stack pointer: the interrupted
/// registers (as `ThreadRegisters` wrote them), then room for FP/SIMD.
#[repr(C, align(16))]
struct SignalFrame {
    registers: [u64; USER_REGISTERS],
    fp: [u8; FP_BYTES],
}

/// Where the FP/SIMD area starts in the frame (the trampoline's offset).
const FP_OFFSET: usize = USER_REGISTERS * 8;
const _: () = assert!(FP_OFFSET == 272 && core::mem::size_of::<SignalFrame>() == 800);

/// Left untouched below the interrupted stack pointer: the x86_64 red zone
/// (a leaf function may keep 128 bytes there without moving rsp).
const RED_ZONE: u64 = 128;

/// How often, and how far apart, the noting thread looks whether the main
/// thread has stopped (another CPU stops it on its way out of the kernel,
/// once it has the kernel lock: a yield would take the lock straight back).
const STOP_TRIES: u32 = 200;
const STOP_RETRY_NS: u64 = 100_000;

/// Calls into libzos in progress (the dispatcher and C-facing calls; any
/// thread's: a C program's other threads are libzos's own, which never run
/// handlers, so counting them only makes a redirection wait for the call).
///
/// Entering acquires and leaving releases, so no libzos work (a lock taken,
/// say) moves outside the count. Reading it needs no more than relaxed: the
/// count that decides is read once the main thread stands still, and
/// stopping it went through the kernel lock, whose release on the main
/// thread's CPU orders every store it made before.
static RUNTIME_DEPTH: AtomicU32 = AtomicU32::new(0);

/// A call into libzos: the main thread is not redirected while one lasts.
pub(crate) struct InRuntime;

impl InRuntime {
    pub(crate) fn enter() -> Self {
        RUNTIME_DEPTH.fetch_add(1, Acquire);
        InRuntime
    }
}

impl Drop for InRuntime {
    fn drop(&mut self) {
        RUNTIME_DEPTH.fetch_sub(1, Release);
    }
}

/// Runs a signal handler (program code) from inside libzos: the main thread
/// may be redirected for another signal meanwhile, and a handler that
/// leaves by `siglongjmp` leaves the count as it found it outside libzos.
pub(super) fn outside_runtime(handler: impl FnOnce()) {
    RUNTIME_DEPTH.fetch_sub(1, Release);
    handler();
    RUNTIME_DEPTH.fetch_add(1, Acquire);
}

/// The alternate signal stack (`sigaltstack`): base and size, 0 for none.
static ALT_BASE: AtomicU64 = AtomicU64::new(0);
static ALT_SIZE: AtomicU64 = AtomicU64::new(0);

fn alt_stack() -> Option<Range<u64>> {
    let (base, size) = (ALT_BASE.load(SeqCst), ALT_SIZE.load(SeqCst));
    (size != 0).then(|| base..base.saturating_add(size))
}

/// The main thread's stack, without its lowest page (the guard).
fn main_stack() -> Range<u64> {
    let end = crate::rt::main_stack_end();
    end - crate::loader::STACK_SIZE + 4096..end
}

/// Called on the thread that noted a signal due now: redirects the main
/// thread to the handlers if it computes in program code. False when it
/// did not (in libzos, stopped elsewhere, gone, a stack pointer outside
/// its stacks): its handlers then run when its current call returns.
pub(super) fn redirect_main() -> bool {
    if RUNTIME_DEPTH.load(Relaxed) != 0 || super::vfork::active() {
        return false;
    }
    if sys::thread_suspend(MAIN_THREAD).is_err() {
        return false;
    }
    let redirected = point_at_trampoline();
    let _ = sys::thread_resume(MAIN_THREAD);
    redirected
}

/// Once the suspended main thread stands still (and is outside libzos,
/// looked at again now), writes its frame and points it at the trampoline.
fn point_at_trampoline() -> bool {
    stopped_registers().is_some_and(|mut words| {
        RUNTIME_DEPTH.load(Relaxed) == 0
            && push_frame(&mut words, signal::wants_alt_stack())
            && sys::thread_registers(MAIN_THREAD, &mut words, true).is_ok()
    })
}

/// A fault of the main thread that init holds for its handler (bit 0 of
/// the signal notification): the main thread is stopped (it stops when the
/// fault's reply comes, `ThreadSuspend`), init lets the fault go, and the
/// thread is pointed at the handler with the faulting instruction in its
/// frame — a handler that returns retries it. False when that cannot be
/// done: the main thread is left stopped for init to end the process.
pub(super) fn redirect_fault() -> bool {
    if RUNTIME_DEPTH.load(Relaxed) != 0 || super::vfork::active() {
        return false;
    }
    if sys::thread_suspend(MAIN_THREAD).is_err() {
        return false;
    }
    let Ok((number, code, address)) = crate::posix::fault_resume(true) else {
        // Nothing held (the bit came twice): nothing to deliver.
        let _ = sys::thread_resume(MAIN_THREAD);
        return true;
    };
    let redirected = signal::take_fault(number, code, address) && point_at_trampoline();
    if redirected {
        let _ = sys::thread_resume(MAIN_THREAD);
    }
    redirected
}

/// The main thread's registers once it has stopped.
fn stopped_registers() -> Option<[u64; USER_REGISTERS]> {
    let mut words = [0; USER_REGISTERS];
    for _ in 0..STOP_TRIES {
        match sys::thread_registers(MAIN_THREAD, &mut words, false) {
            Ok(()) => return Some(words),
            Err(e) if e.0 == SysError::BadState as u64 => {
                sys::sleep_until(sys::clock_ns() + STOP_RETRY_NS)
            }
            Err(_) => return None,
        }
    }
    None
}

/// Writes the frame for `words` below the stack pointer they hold (or at
/// the top of the alternate stack) and turns `words` into the trampoline's
/// start. False when the frame would leave the stack it belongs on.
fn push_frame(words: &mut [u64; USER_REGISTERS], on_alt_stack: bool) -> bool {
    let sp = words[regs::STACK];
    let alt = alt_stack();
    let (stack, top) = match alt {
        Some(alt) if on_alt_stack && !alt.contains(&sp) => (alt.clone(), alt.end),
        Some(alt) if alt.contains(&sp) => (alt, sp.wrapping_sub(RED_ZONE)),
        _ => (main_stack(), sp.wrapping_sub(RED_ZONE)),
    };
    let size = core::mem::size_of::<SignalFrame>() as u64;
    let frame = top.wrapping_sub(size) & !15;
    if !(stack.start <= frame && frame < top && top <= stack.end) {
        return false;
    }
    // SAFETY: `frame` lies inside the main thread's stack (or its alternate
    // stack) below everything the stopped thread uses, 16-byte aligned; the
    // main thread stands still and nothing else writes there.
    unsafe { (frame as *mut [u64; USER_REGISTERS]).write(*words) };
    words[regs::PROGRAM] = zos_signal_trampoline as *const () as u64;
    (words[regs::STACK], words[regs::ARGUMENT]) = (frame, frame);
    regs::CLEARED.iter().for_each(|&r| words[r] = 0);
    true
}

/// The trampoline's Rust part, on the main thread with the program's own
/// thread pointer: runs the handlers of what is due.
#[no_mangle]
extern "C" fn zos_signal_deliver(frame: u64) {
    let _runtime = InRuntime::enter();
    // SAFETY: `frame` is the SignalFrame `push_frame` wrote on this thread's
    // stack for this trampoline run; nothing else touches it until the
    // trampoline loads its registers back.
    let registers = unsafe { &mut (*(frame as *mut SignalFrame)).registers };
    let fp_image = frame + FP_OFFSET as u64;
    let interrupted = signal::Interrupted {
        registers,
        fp_image,
    };
    signal::run_handlers_in(super::with_ipc_tp(signal::take_due), Some(interrupted));
}

/// Runs the handlers of `due` as the dispatcher returns from a call: on
/// the alternate stack when one of them asked for it (`SA_ONSTACK`) and the
/// thread is not on it already, else on the thread's own.
pub(super) fn run_when_returning(due: u64) {
    let marker = 0u8;
    let here = &marker as *const u8 as u64;
    match alt_stack() {
        Some(alt) if due != 0 && !alt.contains(&here) && signal::any_on_alt_stack(due) => {
            // SAFETY: the program gave this range as its alternate stack
            // (`sigaltstack`) and is not on it; `zos_call_on_stack` comes
            // back to this stack once the handlers ran.
            unsafe { zos_call_on_stack(due, run_handlers_on_stack, alt.end & !15) }
        }
        _ => signal::run_handlers(due),
    }
}

extern "C" fn run_handlers_on_stack(due: u64) {
    signal::run_handlers(due);
}

extern "C" {
    /// Entered with the frame's address as the first argument and as the
    /// stack pointer; never returns (it jumps back through the kernel).
    fn zos_signal_trampoline();
    /// Calls `function(argument)` with the stack pointer at `stack_top`
    /// (16-byte aligned), then returns on the caller's stack.
    fn zos_call_on_stack(argument: u64, function: extern "C" fn(u64), stack_top: u64);
}

// AArch64: x0 = sp = the frame. x19 keeps it across the call.
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".global zos_signal_trampoline",
    ".type zos_signal_trampoline,%function",
    "zos_signal_trampoline:",
    "add x1, x0, #{fp}",
    "stp q0, q1, [x1, #0]", "stp q2, q3, [x1, #32]", "stp q4, q5, [x1, #64]",
    "stp q6, q7, [x1, #96]", "stp q8, q9, [x1, #128]", "stp q10, q11, [x1, #160]",
    "stp q12, q13, [x1, #192]", "stp q14, q15, [x1, #224]", "stp q16, q17, [x1, #256]",
    "stp q18, q19, [x1, #288]", "stp q20, q21, [x1, #320]", "stp q22, q23, [x1, #352]",
    "stp q24, q25, [x1, #384]", "stp q26, q27, [x1, #416]", "stp q28, q29, [x1, #448]",
    "stp q30, q31, [x1, #480]",
    "mrs x2, fpcr", "str x2, [x1, #512]",
    "mrs x2, fpsr", "str x2, [x1, #520]",
    "mov x19, x0",
    "bl zos_signal_deliver",
    "add x1, x19, #{fp}",
    "ldp q0, q1, [x1, #0]", "ldp q2, q3, [x1, #32]", "ldp q4, q5, [x1, #64]",
    "ldp q6, q7, [x1, #96]", "ldp q8, q9, [x1, #128]", "ldp q10, q11, [x1, #160]",
    "ldp q12, q13, [x1, #192]", "ldp q14, q15, [x1, #224]", "ldp q16, q17, [x1, #256]",
    "ldp q18, q19, [x1, #288]", "ldp q20, q21, [x1, #320]", "ldp q22, q23, [x1, #352]",
    "ldp q24, q25, [x1, #384]", "ldp q26, q27, [x1, #416]", "ldp q28, q29, [x1, #448]",
    "ldp q30, q31, [x1, #480]",
    "ldr x2, [x1, #512]", "msr fpcr, x2",
    "ldr x2, [x1, #520]", "msr fpsr, x2",
    // ThreadRegisters(main thread, frame, write): back to what was saved.
    "mov x1, x19",
    "mov x0, #{main}",
    "mov x2, #1",
    "mov x8, #{sys}",
    "svc #0",
    // Refused (the frame was made unreadable): die of the trap.
    "brk #0x5a",
    ".size zos_signal_trampoline, .-zos_signal_trampoline",
    // zos_call_on_stack(x0 argument, x1 function, x2 stack top): the old
    // stack pointer is kept in x19 (callee-saved, saved with x30 first).
    ".global zos_call_on_stack",
    ".type zos_call_on_stack,%function",
    "zos_call_on_stack:",
    "stp x19, x30, [sp, #-16]!",
    "mov x19, sp",
    "mov sp, x2",
    "blr x1",
    "mov sp, x19",
    "ldp x19, x30, [sp], #16",
    "ret",
    ".size zos_call_on_stack, .-zos_call_on_stack",
    fp = const FP_OFFSET,
    main = const MAIN_THREAD,
    sys = const zos_abi::Sys::ThreadRegisters as u64,
);

// x86_64: rdi = rsp = the frame (16-byte aligned: `fxsave` needs it, and a
// call from there finds the stack as the ABI wants). rbx keeps it.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".global zos_signal_trampoline",
    ".type zos_signal_trampoline,@function",
    "zos_signal_trampoline:",
    "cld",
    "fxsave [rdi + {fp}]",
    "mov rbx, rdi",
    "call zos_signal_deliver",
    "fxrstor [rbx + {fp}]",
    "mov rsi, rbx",
    "mov edi, {main}",
    "mov edx, 1",
    "mov eax, {sys}",
    "syscall",
    "ud2",
    ".size zos_signal_trampoline, .-zos_signal_trampoline",
    // zos_call_on_stack(rdi argument, rsi function, rdx stack top): rbp
    // keeps the old stack pointer (callee-saved, pushed first).
    ".global zos_call_on_stack",
    ".type zos_call_on_stack,@function",
    "zos_call_on_stack:",
    "push rbp",
    "mov rbp, rsp",
    "mov rsp, rdx",
    "call rsi",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".size zos_call_on_stack, .-zos_call_on_stack",
    fp = const FP_OFFSET,
    main = const MAIN_THREAD,
    sys = const zos_abi::Sys::ThreadRegisters as u64,
);

/// `MINSIGSTKSZ`: the smallest alternate stack taken (a frame of 800 bytes
/// and the handlers' own use).
const MIN_ALT_STACK: u64 = 2048;
const SS_ONSTACK: u64 = 1;
const SS_DISABLE: u64 = 2;
/// Linux 4.7's flag to drop the stack while a handler runs on it: accepted, and
/// the stack kept (a handler running on it cannot set another here anyway).
const SS_AUTODISARM: u64 = 1 << 31;

/// sigaltstack(new, old): `stack_t` is the stack's address, its flags (an
/// int, padded) and its size.
pub fn sigaltstack(new: u64, old: u64) -> SysResult {
    let marker = 0u8;
    let here = &marker as *const u8 as u64;
    let on_it = alt_stack().is_some_and(|alt| alt.contains(&here));
    if old != 0 {
        let (base, size) = (ALT_BASE.load(SeqCst), ALT_SIZE.load(SeqCst));
        let flags = match (size, on_it) {
            (0, _) => SS_DISABLE,
            (_, true) => SS_ONSTACK,
            _ => 0,
        };
        put_words(old, &[base, flags, size])?;
    }
    if new == 0 {
        return Ok(0);
    }
    let (base, flags, size) = (
        get_word(new)?,
        get_word(new + 8)? as u32 as u64,
        get_word(new + 16)?,
    );
    if on_it {
        return Err(Errno(EPERM));
    }
    if flags & SS_DISABLE != 0 {
        ALT_SIZE.store(0, SeqCst);
        return Ok(0);
    }
    if flags & !(SS_ONSTACK | SS_AUTODISARM) != 0 {
        return Err(Errno(EINVAL));
    }
    if size < MIN_ALT_STACK || base.checked_add(size).is_none() {
        return Err(Errno(ENOMEM));
    }
    ALT_SIZE.store(0, SeqCst);
    ALT_BASE.store(base, SeqCst);
    ALT_SIZE.store(size, SeqCst);
    Ok(0)
}
