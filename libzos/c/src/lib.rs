//! libzos for C programs (`libzos.a` in the sysroot, linked by `zos-cc`).
//!
//! libzos's `_start` runs first (IPC buffer, start-up page) and calls
//! `zos_main` here, which lays out what a Linux kernel would have put on the
//! initial stack — argc, argv, envp and the auxiliary vector (AT_PHDR,
//! AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_SYSINFO pointing at libzos's
//! `zos_linux_syscall`) — and hands it to musl's `__libc_start_main`. From
//! then on every system call of the program goes through that dispatcher
//! (`libzos::linux`). The block is built in-process rather than by the
//! spawner, as seL4's runtime does for its root task: only the program knows
//! where its dispatcher is, and the spawner (init or libzos) stays the same
//! for Rust and C programs.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

libzos::entry!(c_start);

extern "C" {
    fn __libc_start_main(
        main: unsafe extern "C" fn(i32, *mut *mut u8, *mut *mut u8) -> i32,
        argc: i32,
        argv: *mut u64,
        init: usize,
        fini: usize,
        ldso: usize,
    ) -> i32;
    fn main(argc: i32, argv: *mut *mut u8, envp: *mut *mut u8) -> i32;
    /// The program's ELF header (lld defines it when the header is loaded).
    static __ehdr_start: [u8; 64];
}

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_EXECFN: u64 = 31;
const AT_SYSINFO: u64 = 32;

/// Copies `text` with a NUL into `storage`; returns its address.
fn c_string(storage: &mut Vec<u8>, text: &str) -> usize {
    let at = storage.len();
    // Bytes that were not UTF-8 in the spawner come back (libzos::linux's
    // spawns escape them).
    zos_linux_abi::unescape_arg(text, storage);
    storage.push(0);
    at
}

/// 16 bytes for AT_RANDOM (musl's stack-protector and pointer guard seeds):
/// eight of the random bytes init drew for this process (its ChaCha20
/// generator, keyed from the platform's seed) stretched through SplitMix64.
fn random_seed() -> [u8; 16] {
    let from_init = libzos::rt::start_random();
    let mut word = [0u8; 8];
    word.copy_from_slice(&from_init[24..32]);
    let mut state = u64::from_le_bytes(word) ^ libzos::sys::clock_ns();
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&next().to_le_bytes());
    out[8..].copy_from_slice(&next().to_le_bytes());
    out
}

fn c_start(_arg: u64) -> i64 {
    let info = libzos::rt::start_info();
    // Strings first (their addresses are final once the buffer stops growing).
    let mut storage = Vec::new();
    let argv: Vec<usize> = info
        .argv
        .iter()
        .map(|a| c_string(&mut storage, a))
        .collect();
    let env: Vec<usize> = info.env.iter().map(|e| c_string(&mut storage, e)).collect();
    let random_at = storage.len();
    storage.extend_from_slice(&random_seed());
    let storage = storage.leak();
    let base = storage.as_ptr() as u64;

    // SAFETY: lld defines __ehdr_start at the program's own ELF header, which
    // lies in its first loaded segment.
    let header: &[u8; 64] = unsafe { &__ehdr_start };
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let header_address = header.as_ptr() as u64;
    let entry = word(24);
    let phdr = header_address + word(32);
    let phnum = u64::from(u16::from_le_bytes([header[56], header[57]]));
    libzos::linux::set_program_headers(phdr, phnum);

    let mut block: Vec<u64> = Vec::with_capacity(argv.len() + env.len() + 40);
    block.push(argv.len() as u64);
    block.extend(argv.iter().map(|&at| base + at as u64));
    block.push(0);
    block.extend(env.iter().map(|&at| base + at as u64));
    block.push(0);
    let dispatcher: extern "C" fn(i64, u64, u64, u64, u64, u64, u64) -> i64 =
        libzos::linux::zos_linux_syscall;
    let execfn = argv.first().map_or(0, |&at| base + at as u64);
    let auxv = [
        (AT_PHDR, phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, phnum),
        (AT_PAGESZ, 4096),
        (AT_ENTRY, entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, base + random_at as u64),
        (AT_EXECFN, execfn),
        (AT_SYSINFO, dispatcher as usize as u64),
        (AT_NULL, 0),
    ];
    for (key, value) in auxv {
        block.push(key);
        block.push(value);
    }
    let block = block.leak();
    // SAFETY: `block` is the Linux start-up layout musl expects (argc, argv,
    // NULL, envp, NULL, auxv) and lives for the rest of the program; `main`
    // is the C program's. __libc_start_main does not return (it calls exit).
    unsafe { __libc_start_main(main, block[0] as i32, block.as_mut_ptr().add(1), 0, 0, 0) as i64 }
}
