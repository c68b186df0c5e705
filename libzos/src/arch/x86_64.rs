//! x86_64: `syscall`, number in rax, arguments rdi rsi rdx r10 r8 r9, results
//! rax then rdi rsi rdx r10 r8 r9 (`zos-abi` documents it; the instruction
//! overwrites rcx and r11). The thread pointer is the FS base, read and written
//! with `rdfsbase`/`wrfsbase` (the x86_64 backend enables CR4.FSGSBASE).

use core::arch::asm;

/// `e_machine` of the programs this libzos loads.
pub const ELF_MACHINE: u16 = 62;

/// Makes syscall `number`; returns the result registers.
#[inline(always)]
pub fn syscall(number: u64, args: [u64; 6]) -> [u64; 7] {
    let mut regs = [0u64; 7];
    // SAFETY: the kernel validates every argument; it writes only the result
    // registers, and `syscall` itself clobbers rcx and r11 (declared).
    unsafe {
        asm!(
            "syscall",
            inout("rax") number => regs[0],
            inout("rdi") args[0] => regs[1],
            inout("rsi") args[1] => regs[2],
            inout("rdx") args[2] => regs[3],
            inout("r10") args[3] => regs[4],
            inout("r8") args[4] => regs[5],
            inout("r9") args[5] => regs[6],
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    regs
}

/// The calling thread's thread pointer.
#[inline(always)]
pub fn thread_pointer() -> u64 {
    let value: u64;
    // SAFETY: reading the FS base has no side effects.
    unsafe { asm!("rdfsbase {}", out(reg) value, options(nomem, nostack)) };
    value
}

/// Sets the calling thread's thread pointer.
#[inline(always)]
pub fn set_thread_pointer(value: u64) {
    // SAFETY: the FS base is this thread's own register; the kernel saves it.
    unsafe { asm!("wrfsbase {}", in(reg) value, options(nomem, nostack)) };
}
