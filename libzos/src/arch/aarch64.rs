//! AArch64: `svc #0`, number in x8, arguments x0–x5, results x0–x6; the thread
//! pointer is TPIDR_EL0 (saved by the kernel on every switch).

use core::arch::asm;

/// `e_machine` of the programs this libzos loads.
pub const ELF_MACHINE: u16 = 183;

/// The machine `uname` reports to C programs (`struct utsname`).
pub const MACHINE: &str = "aarch64";

/// Makes syscall `number`; returns result registers x0–x6.
#[inline(always)]
pub fn syscall(number: u64, args: [u64; 6]) -> [u64; 7] {
    let mut regs = [0u64; 7];
    // SAFETY: the kernel validates every argument; it only writes x0–x6.
    unsafe {
        asm!(
            "svc #0",
            inout("x0") args[0] => regs[0],
            inout("x1") args[1] => regs[1],
            inout("x2") args[2] => regs[2],
            inout("x3") args[3] => regs[3],
            inout("x4") args[4] => regs[4],
            inout("x5") args[5] => regs[5],
            out("x6") regs[6],
            in("x8") number,
            options(nostack),
        );
    }
    regs
}

/// The calling thread's thread pointer.
#[inline(always)]
pub fn thread_pointer() -> u64 {
    let value: u64;
    // SAFETY: reading the thread pointer register has no side effects.
    unsafe { asm!("mrs {}, tpidr_el0", out(reg) value, options(nomem, nostack)) };
    value
}

/// The thread pointer register itself (the same as [`thread_pointer`] here).
#[inline(always)]
pub fn raw_thread_pointer() -> u64 {
    thread_pointer()
}

/// Sets the calling thread's thread pointer.
#[inline(always)]
pub fn set_thread_pointer(value: u64) {
    // SAFETY: TPIDR_EL0 is this thread's own register; the kernel saves it.
    unsafe { asm!("msr tpidr_el0, {}", in(reg) value, options(nomem, nostack)) };
}

/// Sets the thread pointer register (the same as [`set_thread_pointer`] here).
#[inline(always)]
pub fn set_raw_thread_pointer(value: u64) {
    set_thread_pointer(value)
}

/// The virtual counter, which the kernel lets EL0 read (`sys::clock_ns`
/// turns it into nanoseconds with the terms `Clock` gave).
#[inline(always)]
pub fn counter() -> Option<u64> {
    let count: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects; `isb` keeps it from
    // being read ahead of the instructions before it, as the kernel does.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) count, options(nomem, nostack)) };
    Some(count)
}
