//! AArch64 trap decoding: what brought the CPU in from EL0, for the core.
//!
//! The trap → dispatch → schedule → resume loop and the kernel lock belong to
//! the portable core (`zos_kernel::trap`); this module only turns the vector
//! kind and ESR/FAR into a [`Trap`] and hands back the trap frame of the thread
//! the core chose.

use crate::exceptions::{read_esr, read_far, TrapFrame};
use crate::Aarch64;
use zos_kernel::arch::Trap;
use zos_kernel::kernel::fault;
use zos_kernel::trap::KernelLock;

/// The machine's one kernel, behind the core's lock.
pub static KERNEL: KernelLock<Aarch64> = KernelLock::new();

extern "C" {
    fn resume_user(frame: *mut TrapFrame) -> !;
}

/// Decodes a synchronous exception or SError from EL0 (`kind` is the vector's
/// offset in the table, in 0x80 units).
#[inline(always)]
fn decode(kind: u64) -> Trap {
    match kind % 4 {
        0 => {
            let esr = read_esr();
            let ec = (esr >> 26) & 0x3f;
            if ec == 0x15 {
                return Trap::Syscall;
            }
            not_syscall(esr, ec)
        }
        1 => Trap::Interrupt,
        _ => Trap::Fault {
            kind: fault::OTHER,
            address: read_far(),
            syndrome: read_esr(),
        },
    }
}

/// A synchronous exception other than a syscall (kept out of line: the
/// syscall test before it stays one compare).
#[cold]
fn not_syscall(esr: u64, ec: u64) -> Trap {
    if ec == 0x07 {
        return Trap::FpAccess;
    }
    let kind = match ec {
        0x24 if esr & 0x3f == 0x21 => fault::ALIGNMENT,
        0x24 => fault::DATA_ABORT,
        0x20 => fault::INSTRUCTION_ABORT,
        0x00 => fault::UNDEFINED_INSTRUCTION,
        0x22 | 0x26 => fault::ALIGNMENT,
        _ => fault::OTHER,
    };
    Trap::Fault {
        kind,
        address: read_far(),
        syndrome: esr,
    }
}

/// A trap from user mode: the core handles it; returns the frame to resume.
/// The context's frame comes first (`#[repr(C)]`), so its address is the frame's.
#[inline(always)]
pub fn user_trap(kind: u64) -> *mut TrapFrame {
    KERNEL.user_trap(|| decode(kind)).cast()
}

/// Restores `frame` and returns to user mode.
#[inline(always)]
pub fn resume(frame: *mut TrapFrame) -> ! {
    // SAFETY: `frame` is the saved context of the thread the core prepared
    // to run, kept alive by the kernel; resume_user restores it and erets.
    unsafe { resume_user(frame) }
}

/// An interrupt taken while the kernel idles.
pub fn kernel_irq() {
    KERNEL.kernel_interrupt();
}

/// Enters user mode for the first time.
pub fn enter_user_mode() -> ! {
    let frame: *mut TrapFrame = KERNEL.next_context().cast();
    // SAFETY: `frame` is the saved context of a runnable thread, kept alive by the
    // kernel; resume_user restores it and erets to EL0.
    unsafe { resume_user(frame) }
}
