//! From a trap to the kernel core and back to a user thread.
//!
//! The core is one `Kernel` behind a lock. A trap from user mode hands the core
//! the event (syscall, fault, interrupt), then asks which thread runs next; this
//! module switches FP/SIMD state and the address space when the thread changes
//! and returns the thread's frame for `resume_user`. With nothing to run, the
//! CPU waits for interrupts here, without holding the lock.

use crate::exceptions::{read_esr, read_far, TrapFrame};
use crate::user::{self, ThreadContext};
use crate::{irq, psci, timer, Aarch64};
use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use zos_kernel::handlers::After;
use zos_kernel::kernel::{fault, Kernel};
use zos_kernel::object::ObjRef;

pub static KERNEL: Mutex<Option<Kernel<Aarch64>>> = Mutex::new(None);

/// Whose FP/SIMD registers are live in the CPU (a packed `ObjRef`, or
/// `NO_OWNER`). Only touched with the kernel lock held.
static FP_OWNER: AtomicU64 = AtomicU64::new(NO_OWNER);
const NO_OWNER: u64 = u64::MAX;

fn pack(thread: ObjRef) -> u64 {
    ((thread.generation as u64) << 32) | thread.index as u64
}

fn unpack(value: u64) -> Option<ObjRef> {
    (value != NO_OWNER).then_some(ObjRef {
        index: value as u32,
        generation: (value >> 32) as u32,
    })
}

extern "C" {
    fn resume_user(frame: *mut TrapFrame) -> !;
}

fn handle_interrupt(kernel: &mut Kernel<Aarch64>, irq: u32) {
    if irq == timer::irq() {
        timer::on_tick();
        kernel.tick(timer::uptime_ns());
    } else if !kernel.interrupt(irq) {
        log::warn!("unclaimed interrupt {irq} masked");
        crate::irq::set_enabled(irq, false);
    }
}

/// An interrupt taken while the kernel idles.
pub fn kernel_irq() {
    let mut guard = KERNEL.lock();
    match guard.as_mut() {
        Some(kernel) => irq::dispatch(&mut |n| handle_interrupt(kernel, n)),
        None => irq::dispatch(&mut |n| {
            if n == timer::irq() {
                timer::on_tick();
            }
        }),
    }
}

/// A trap from user mode: let the core handle it, then pick the thread to resume.
pub fn user_trap(kind: u64) -> *mut TrapFrame {
    {
        let mut guard = KERNEL.lock();
        let Some(kernel) = guard.as_mut() else {
            crate::stop_machine("user trap before the kernel core exists");
        };
        match kind % 4 {
            0 => {
                let esr = read_esr();
                let ec = (esr >> 26) & 0x3f;
                match ec {
                    0x15 => match kernel.syscall() {
                        After::Resume => {}
                        After::PowerOff => {
                            log::info!("power off requested");
                            psci::system_off()
                        }
                        After::Reset => {
                            log::info!("reset requested");
                            psci::system_reset()
                        }
                    },
                    _ => {
                        let far = read_far();
                        let kind = match ec {
                            0x24 if esr & 0x3f == 0x21 => fault::ALIGNMENT,
                            0x24 => fault::DATA_ABORT,
                            0x20 => fault::INSTRUCTION_ABORT,
                            0x00 => fault::UNDEFINED_INSTRUCTION,
                            0x22 | 0x26 => fault::ALIGNMENT,
                            _ => fault::OTHER,
                        };
                        kernel.user_fault(kind, far, esr);
                    }
                }
            }
            1 => irq::dispatch(&mut |n| handle_interrupt(kernel, n)),
            _ => {
                let far = read_far();
                kernel.user_fault(fault::OTHER, far, read_esr());
            }
        }
        // Usually a thread is ready: resume it without taking the lock again.
        if let Some(next) = kernel.schedule() {
            return prepare(kernel, next);
        }
    }
    next_frame()
}

/// Waits until a thread is runnable and prepares the CPU for it.
pub fn next_frame() -> *mut TrapFrame {
    loop {
        {
            let mut guard = KERNEL.lock();
            if let Some(kernel) = guard.as_mut() {
                if let Some(next) = kernel.schedule() {
                    return prepare(kernel, next);
                }
            }
        }
        // SAFETY: unmask IRQs only for the wait; the handler takes the lock itself.
        unsafe { asm!("msr daifclr, #2", "wfi", "msr daifset, #2") };
    }
}

fn prepare(kernel: &mut Kernel<Aarch64>, next: ObjRef) -> *mut TrapFrame {
    let owner = unpack(FP_OWNER.load(Ordering::Relaxed));
    if owner != Some(next) {
        if let Some(previous) = owner {
            if let Some(context) = kernel.context_mut(previous) {
                let ThreadContext { fp, tpidr_el0, .. } = context;
                user::save_fp(fp, tpidr_el0);
            }
        }
        if let Some(context) = kernel.context_mut(next) {
            user::restore_fp(&context.fp, context.tpidr_el0);
        }
        FP_OWNER.store(pack(next), Ordering::Relaxed);
    }
    if let Some(space) = kernel.space_of(next) {
        user::activate(space);
    }
    match kernel.context_mut(next) {
        Some(context) => &mut context.frame as *mut TrapFrame,
        None => crate::stop_machine("scheduled thread has no context"),
    }
}

/// Enters user mode for the first time.
pub fn enter_user_mode() -> ! {
    let frame = next_frame();
    // SAFETY: `frame` is the saved context of a runnable thread, kept alive by the
    // kernel; resume_user restores it and erets to EL0.
    unsafe { resume_user(frame) }
}
