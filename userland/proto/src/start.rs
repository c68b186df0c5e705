//! What a new process finds at start: the start-up page written by whoever
//! spawned it (init), mapped read-only at [`START_INFO`], and its fixed
//! capability slots.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Where the start-up page is mapped: a u32 length, four bytes of zero,
/// [`RANDOM_BYTES`] random bytes, then `length` postcard bytes of [`StartInfo`].
pub const START_INFO: u64 = zos_abi::layout::START_INFO;
/// Random bytes on the start page, drawn by init for this process: its
/// address-space layout (ASLR: heap and mmap bases; init picked the stack
/// from the same draw) and `AT_RANDOM`. Read before the heap exists.
pub const RANDOM_BYTES: usize = 32;
/// Where the postcard bytes start on the start page.
pub const START_HEADER: usize = 8 + RANDOM_BYTES;

/// The main thread's first stack pointer that init chose from a process's
/// start-page random bytes (ASLR; bytes 0..8): up to
/// `layout::STACK_RANDOM_SPAN` below `layout::STACK_TOP` in whole pages, then
/// 16-byte steps inside one. All-zero bytes (no start page) give `STACK_TOP`.
/// The 128 KiB stack ends at the page boundary at or above it.
pub fn main_stack_top(random: &[u8; RANDOM_BYTES]) -> u64 {
    use zos_abi::layout::{STACK_RANDOM_SPAN, STACK_TOP};
    let mut word = [0u8; 8];
    word.copy_from_slice(&random[..8]);
    let word = u64::from_le_bytes(word);
    // No span (wasm32): no randomisation.
    match word.checked_rem(STACK_RANDOM_SPAN / 4096) {
        None => STACK_TOP,
        Some(page) => STACK_TOP - page * 4096 - ((word >> 48) & 0xff) * 16,
    }
}
/// Most bytes of start-up information (arguments + environment): E2BIG beyond.
pub const MAX_START_INFO: usize = 512 * 1024;

/// Capability slots every process started by init has.
pub mod slots {
    /// The process itself.
    pub const SELF: u64 = 0;
    /// The debug console (print only).
    pub const CONSOLE: u64 = 1;
    /// init's process-manager endpoint, badged with this process's pid.
    pub const PROC: u64 = 2;
    /// The process's main thread (libzos suspends and resumes it to
    /// interrupt a blocked call for a signal: EINTR).
    pub const MAIN_THREAD: u64 = 3;
    /// Device capabilities a service was granted start here (see `devices`).
    pub const FIRST_GRANTED: u64 = 4;
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartInfo {
    pub pid: u32,
    pub ppid: u32,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// (descriptor number, capability slot) for each open descriptor.
    pub fds: Vec<(u32, u64)>,
    /// Named capabilities a service was given by init: (name, slot, physical
    /// base, size, irq) — e.g. ("uart", 3, 0x900_0000, 4096, 33).
    pub grants: Vec<Grant>,
    /// A process group to make the foreground of the terminal among
    /// descriptors 0–2 before the program runs (0: none): a job control
    /// shell's foreground job takes its terminal itself, so it never reads
    /// it as a background job before the shell has handed it over.
    pub take_terminal: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub name: String,
    pub slot: u64,
    pub base: u64,
    pub size: u64,
    pub irq: u32,
}
