//! wasm32 (the browser port, `docs/browser.md`): a process is a wasm module
//! run by the kernel's interpreter, and its syscall is the import
//! `zos.zos_syscall(number, a0..a5, results)`: the kernel suspends the call,
//! handles it like a trap, and writes the seven result words (error code
//! first) to `results` before the call returns. The thread pointer is a
//! per-thread value the kernel saves on every switch, read and written
//! through two more imports.

/// `e_machine` of the programs this libzos loads: not an ELF machine, the
/// marker for wasm modules (`zos_boot::elf::EM_WASM`).
pub const ELF_MACHINE: u16 = 0x5741;

#[link(wasm_import_module = "zos")]
extern "C" {
    fn zos_syscall(
        number: u64,
        a0: u64,
        a1: u64,
        a2: u64,
        a3: u64,
        a4: u64,
        a5: u64,
        results: *mut u64,
    );
    fn zos_thread_pointer() -> u64;
    fn zos_set_thread_pointer(value: u64);
}

/// Makes syscall `number`; returns the seven result words.
#[inline(always)]
pub fn syscall(number: u64, args: [u64; 6]) -> [u64; 7] {
    let mut regs = [0u64; 7];
    // SAFETY: the kernel validates every argument and writes exactly seven
    // words to `regs`, which lives for the whole call.
    unsafe {
        zos_syscall(
            number,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            args[5],
            regs.as_mut_ptr(),
        )
    };
    regs
}

/// The calling thread's thread pointer.
#[inline(always)]
pub fn thread_pointer() -> u64 {
    // SAFETY: reads the kernel's per-thread value; no memory is touched.
    unsafe { zos_thread_pointer() }
}

/// Sets the calling thread's thread pointer.
#[inline(always)]
pub fn set_thread_pointer(value: u64) {
    // SAFETY: sets the kernel's per-thread value; no memory is touched.
    unsafe { zos_set_thread_pointer(value) }
}

/// Modules have no counter: `sys::clock_ns` asks the kernel every time.
#[inline(always)]
pub fn counter() -> Option<u64> {
    None
}
