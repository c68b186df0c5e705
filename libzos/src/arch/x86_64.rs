//! x86_64: `syscall`, number in rax, arguments rdi rsi rdx r10 r8 r9, results
//! rax then rdi rsi rdx r10 r8 r9 (`zos-abi` documents it; the instruction
//! overwrites rcx and r11).
//!
//! The thread pointer (the IPC buffer's address) is the FS base. Reading it is
//! the hot path (every IPC): one load of the buffer's self pointer at
//! `fs:[IPC_BUFFER_SELF]`, which needs no FSGSBASE. Setting it (once per
//! thread) is `wrfsbase`: direct where the CPU has FSGSBASE (the kernel turns
//! it on whenever CPUID reports it), and emulated by the kernel's `#UD`
//! handler where it does not (`-cpu qemu64`).

use core::arch::asm;
use zos_abi::IPC_BUFFER_SELF;

/// `e_machine` of the programs this libzos loads.
pub const ELF_MACHINE: u16 = 62;

/// The machine `uname` reports to C programs (`struct utsname`).
pub const MACHINE: &str = "x86_64";

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
    // SAFETY: `set_thread_pointer` stored the buffer's own address in its last
    // word before pointing the FS base at it; the buffer stays mapped for the
    // thread's lifetime.
    unsafe {
        asm!(
            "mov {}, qword ptr fs:[{self_offset}]",
            out(reg) value,
            self_offset = const IPC_BUFFER_SELF,
            options(pure, readonly, nostack, preserves_flags),
        )
    };
    value
}

/// The FS base itself, whatever it points at (the Linux dispatcher saves a
/// C program's own thread pointer with it). `rdfsbase`, which the kernel
/// emulates on CPUs without FSGSBASE (a trap each there: only C programs'
/// syscalls use it).
#[inline(always)]
pub fn raw_thread_pointer() -> u64 {
    let value: u64;
    // SAFETY: reading the FS base has no side effects.
    unsafe { asm!("rdfsbase {}", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Sets the calling thread's thread pointer to `value`, the address of its
/// mapped, writable IPC buffer.
#[inline(always)]
pub fn set_thread_pointer(value: u64) {
    // SAFETY: `value` is this thread's IPC buffer, mapped writable; its last
    // word belongs to no message (`IPC_BUFFER_SELF`). The FS base is this
    // thread's own register; the kernel saves it (and emulates `wrfsbase` on
    // CPUs without FSGSBASE).
    unsafe {
        core::ptr::write_volatile((value + IPC_BUFFER_SELF) as *mut u64, value);
        asm!("wrfsbase {}", in(reg) value, options(nostack, preserves_flags));
    }
}

/// Sets the FS base to `value` and nothing else (restoring a C program's own
/// thread pointer, which has no IPC-buffer self pointer).
#[inline(always)]
pub fn set_raw_thread_pointer(value: u64) {
    // SAFETY: the FS base is this thread's own register; the kernel saves it.
    unsafe { asm!("wrfsbase {}", in(reg) value, options(nostack, preserves_flags)) };
}

/// The TSC, which ring 3 may read (`sys::clock_ns` turns it into
/// nanoseconds with the terms `Clock` gave).
#[inline(always)]
pub fn counter() -> Option<u64> {
    // SAFETY: RDTSC has no side effects; the kernel leaves CR4.TSD clear.
    Some(unsafe { core::arch::x86_64::_rdtsc() })
}
