//! x86_64 trap decoding: what brought the CPU in from ring 3, for the core.
//!
//! The trap → dispatch → schedule → resume loop and the kernel lock belong to
//! the portable core (`zos_kernel::trap`); this module turns the vector, error
//! code and CR2 into a [`Trap`] and hands back the frame of the thread the
//! core chose, which `entry.S` restores.

use crate::exceptions::{read_cr2, TrapFrame, IRQ_BASE, IRQ_COUNT, SYSCALL_VECTOR};
use crate::X86_64;
use zos_kernel::arch::Trap;
use zos_kernel::kernel::fault;
use zos_kernel::trap::KernelLock;

/// The machine's one kernel, behind the core's lock.
pub static KERNEL: KernelLock<X86_64> = KernelLock::new();

extern "C" {
    fn resume_user(frame: *mut TrapFrame) -> !;
}

/// #NM: an x87/SSE instruction while CR0.TS is set (lazy FP/SIMD switching).
const DEVICE_NOT_AVAILABLE: u64 = 7;

/// Page-fault error code bit: the access was an instruction fetch.
const PF_INSTRUCTION: u64 = 1 << 4;

/// What the entry saved about a trap, copied out of the thread's frame
/// before this CPU lets other CPUs know it left user mode: once it has, the
/// lock holder may destroy the thread, frame and all (docs/kernel.md,
/// "SMP and locking", rule 4), while this CPU still waits for the lock.
struct Entry {
    vector: u64,
    error: u64,
    rip: u64,
}

/// Decodes a trap from ring 3. The syndrome is the error code, with the
/// vector in bits 32 and up.
#[inline(always)]
fn decode(frame: &Entry) -> Trap {
    let vector = frame.vector;
    if vector == SYSCALL_VECTOR {
        return Trap::Syscall;
    }
    if vector == DEVICE_NOT_AVAILABLE {
        return Trap::FpAccess;
    }
    if (IRQ_BASE..IRQ_BASE + IRQ_COUNT).contains(&vector) {
        crate::irq::set_pending(vector);
        return Trap::Interrupt;
    }
    // A spurious APIC interrupt: nothing pending, nothing to end.
    if vector == crate::apic::SPURIOUS_VECTOR {
        return Trap::Interrupt;
    }
    // Another CPU's wake-up: it wanted this CPU out of user mode (done by
    // now) or to schedule; nothing pending.
    if vector == crate::smp::WAKE_VECTOR {
        crate::apic::end_of_interrupt();
        return Trap::Interrupt;
    }
    let (kind, address) = match vector {
        14 if frame.error & PF_INSTRUCTION != 0 => (fault::INSTRUCTION_ABORT, read_cr2()),
        14 => (fault::DATA_ABORT, read_cr2()),
        6 => (fault::UNDEFINED_INSTRUCTION, frame.rip),
        17 => (fault::ALIGNMENT, frame.rip),
        _ => (fault::OTHER, frame.rip),
    };
    Trap::Fault {
        kind,
        address,
        syndrome: (vector << 32) | (frame.error & 0xffff_ffff),
    }
}

/// A trap from user mode: the core handles it; returns the frame to resume.
/// The context's frame comes first (`#[repr(C)]`), so its address is the frame's.
#[no_mangle]
extern "C" fn handle_user_trap(frame: &mut TrapFrame) -> *mut TrapFrame {
    // `wrfsbase` on a CPU without FSGSBASE: done here, without the core.
    if frame.vector == crate::emulate::INVALID_OPCODE && crate::emulate::fs_base_instruction(frame)
    {
        // Still in user mode as far as other CPUs are concerned: a wake-up
        // IPI waits until the `iretq`, then brings the CPU in again.
        return frame;
    }
    let entry = Entry {
        vector: frame.vector,
        error: frame.error,
        rip: frame.rip,
    };
    crate::smp::left_user();
    KERNEL.user_trap(|| decode(&entry)).cast()
}

/// An interrupt taken while the kernel idles.
pub fn kernel_irq() {
    KERNEL.kernel_interrupt();
}

/// Enters user mode for the first time.
pub fn enter_user_mode() -> ! {
    let frame: *mut TrapFrame = KERNEL.next_context().cast();
    // SAFETY: `frame` is the saved context of a runnable thread, kept alive by
    // the kernel; resume_user restores it and returns to ring 3.
    unsafe { resume_user(frame) }
}
