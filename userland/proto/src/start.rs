//! What a new process finds at start: the start-up page written by whoever
//! spawned it (init), mapped read-only at [`START_INFO`], and its fixed
//! capability slots.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Where the start-up page is mapped: a u32 length, a u32 of
/// [`start_flags`](self::flags), [`RANDOM_BYTES`] random bytes, then
/// `length` postcard bytes of [`StartInfo`].
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
/// A random page-aligned offset below `layout::RANDOM_SPAN` from bytes
/// `at..at + 8` of a process's start-page random bytes (ASLR); 0 where
/// there is no span (wasm32).
pub fn random_offset(random: &[u8; RANDOM_BYTES], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&random[at..at + 8]);
    u64::from_le_bytes(word)
        .checked_rem(zos_abi::layout::RANDOM_SPAN / 4096)
        .unwrap_or(0)
        * 4096
}

/// Where a process's heap starts (ASLR: bytes 8..16 of its random bytes).
pub fn heap_start(random: &[u8; RANDOM_BYTES]) -> u64 {
    zos_abi::layout::HEAP_BASE + random_offset(random, 8)
}

/// Bits of the start page's flags word (bytes 4..8).
pub mod flags {
    /// The spawner mapped the heap's first block, writable and zeroed:
    /// `HEAP_BLOCK` bytes at the first multiple of `HEAP_BLOCK` at or
    /// above [`heap_start`](super::heap_start).
    pub const HEAP_BLOCK_MAPPED: u32 = 1;
    /// Size of that block (libzos's first heap growth).
    pub const HEAP_BLOCK: u64 = 64 << 10;
}

/// Most bytes of start-up information (arguments + environment): E2BIG beyond.
pub const MAX_START_INFO: usize = 512 * 1024;
// The largest start-up page ends where the boot information page begins.
#[cfg(not(target_arch = "wasm32"))]
const _: () = assert!(START_INFO + MAX_START_INFO as u64 <= zos_abi::layout::BOOT_INFO);

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

#[cfg(test)]
mod tests {
    use super::*;
    use zos_abi::layout::{HEAP_BASE, RANDOM_SPAN};

    fn random_with(at: usize, word: u64) -> [u8; RANDOM_BYTES] {
        let mut random = [0u8; RANDOM_BYTES];
        random[at..at + 8].copy_from_slice(&word.to_le_bytes());
        random
    }

    #[test]
    fn offsets_are_whole_pages_inside_the_span() {
        for word in [0, 1, 4095, 4096, u64::MAX, 0x1234_5678_9abc_def0] {
            let offset = random_offset(&random_with(8, word), 8);
            assert_eq!(offset % 4096, 0);
            assert!(offset < RANDOM_SPAN.max(1));
        }
    }

    #[test]
    fn the_heap_starts_above_its_base_by_bytes_8_to_16_only() {
        let word = 0x0000_0123_4567_8000;
        let start = heap_start(&random_with(8, word));
        assert_eq!(start, HEAP_BASE + random_offset(&random_with(8, word), 8));
        // The stack's and mmap's bytes do not move it.
        let mut other = random_with(8, word);
        other[..8].fill(0xff);
        other[16..24].fill(0xff);
        assert_eq!(heap_start(&other), start);
        // The first heap block (where init maps it and libzos's first
        // growth would put it) lies inside the heap's span.
        let block = start.next_multiple_of(flags::HEAP_BLOCK);
        assert!(block >= start && block - start < flags::HEAP_BLOCK);
    }
}
