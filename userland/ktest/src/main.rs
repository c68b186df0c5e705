//! ktest: exercises every syscall with good and bad arguments (bad pointers,
//! wrong capability types, missing rights, revoked capabilities, overflowing
//! lengths), then spawns and tears down 10,000 processes and runs a syscall
//! fuzzer. Prints `N passed, N failed`. Run it with `-append "init.run=ktest"`.
//!
//! The same binary is its own child: the argument selects a mode
//! (0 = tests, 1 = exit 7, 2 = fault, 3 = fuzz with the seed in the upper bits,
//! 9 = one of `bad_input`'s faulting instructions).
#![no_std]
#![no_main]

extern crate alloc;

mod bad_input;
mod forgery;
mod fp_switch;
mod mem_routines;
mod netbuf;
mod pipe_ring;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use libzos::abi::{labels, layout, map_flags, rights, MessageInfo, Sys, SysError, IPC_BUFFER_DATA};
use libzos::loader::{self, SpawnOptions};
use libzos::sys::{self, Error};
use libzos::{print, println};
use zos_boot::initramfs::Archive;

libzos::entry!(main);

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

const SLOT_SELF: u64 = 0;
const SLOT_CONSOLE: u64 = 1;
/// The first granted capability: init.run gives ktest the initramfs there.
const SLOT_INITRAMFS: u64 = libzos::proto::start::slots::FIRST_GRANTED;
/// `CapInfo`'s kind number of a Memory object.
const KIND_MEMORY: u64 = 5;
const MODE_EXIT: u64 = 1;
const MODE_FAULT: u64 = 2;
const MODE_FUZZ: u64 = 3;
const MODE_BENCH: u64 = 4;
const MODE_FAULTY_SERVICE: u64 = 5;
/// Only short IPC round trips (for profiling the kernel's IPC path).
const MODE_IPC_ONLY: u64 = 6;
/// Only spawn+wait through init (for profiling).
const MODE_SPAWN_ONLY: u64 = 7;
/// Takes kernel resources in every way the syscall table allows until refused.
const MODE_EXHAUST: u64 = 8;
/// Runs one of `bad_input`'s faulting cases (bits 8-15).
const MODE_BAD_INPUT: u64 = 9;
/// Only the benchmarks through init and the VFS (spawn+wait, pipe, tmpfs).
const MODE_POSIX_BENCH: u64 = 10;
/// Only the tmpfs benchmarks, once boot has settled (for profiling).
const MODE_FS_ONLY: u64 = 11;
/// Spawn+wait throughput of one and of four processes at once (scalability).
const MODE_SCALE: u64 = 12;
/// Sets its own registers to garbage (`ThreadRegisters`): only it may die.
const MODE_GARBAGE_REGISTERS: u64 = 13;
/// Where that child's garbage program counter points (unmapped).
const GARBAGE_PC: u64 = 0xdead_0000;
const FUZZ_DEFAULT: u64 = 100_000;

fn check(name: &str, ok: bool) {
    if ok {
        PASSED.fetch_add(1, Ordering::Relaxed);
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
        println!("ktest: FAIL {name}");
    }
}

fn is_err<T>(r: Result<T, Error>, e: SysError) -> bool {
    matches!(r, Err(x) if x.is(e))
}

fn main(arg: u64) -> i64 {
    // Children started through init's process manager get their role in argv.
    match libzos::posix::args().get(1).map(|s| s.as_str()) {
        Some("exit") => return 0,
        Some("sink") => return pipe_sink(),
        Some("spawner") => {
            let rounds = libzos::posix::args().get(2).and_then(|s| s.parse().ok());
            return spawner(rounds.unwrap_or(50));
        }
        Some("forgery") => return forgery::run(),
        Some("netbuf") => return netbuf::run(),
        Some("flood") => {
            let seconds = libzos::posix::args().get(2).and_then(|s| s.parse().ok());
            return flood(seconds.unwrap_or(2));
        }
        _ => {}
    }
    match arg & 0xff {
        MODE_EXIT => return 7,
        MODE_FAULT => {
            // SAFETY: deliberately invalid: this read must fault and be reported.
            let value = unsafe { core::ptr::read_volatile(0xdead_0000 as *const u64) };
            return value as i64;
        }
        MODE_FUZZ => return fuzz(arg >> 32, ((arg >> 8) & 0xff_ffff) * 1000),
        MODE_GARBAGE_REGISTERS => {
            // Every bit of the flags word set (the exception level, the
            // interrupt masks, single step), a stack pointer no address
            // space has: the kernel keeps what user mode may not choose,
            // and the jump to an unmapped address kills this process only.
            let mut words = [u64::MAX; libzos::abi::registers::USER_REGISTERS];
            let (pc, flags) = match cfg!(target_arch = "x86_64") {
                true => (16, 17),
                false => (32, 33),
            };
            words[pc] = GARBAGE_PC;
            words[flags] = u64::MAX;
            let own = libzos::proto::start::slots::MAIN_THREAD;
            let refused = sys::thread_registers(own, &mut words, true);
            println!("ktest: garbage registers refused: {refused:?}");
            return 1;
        }
        MODE_BENCH => return bench(),
        MODE_FAULTY_SERVICE => return faulty_service(),
        MODE_IPC_ONLY => return ipc_only(),
        MODE_SPAWN_ONLY => return spawn_only(),
        MODE_EXHAUST => return exhaust(),
        MODE_BAD_INPUT => return bad_input::run((arg >> 8) & 0xff),
        MODE_POSIX_BENCH => {
            posix_benches();
            println!("bench: done");
            return 0;
        }
        MODE_SCALE => {
            scale();
            println!("bench: done");
            return 0;
        }
        MODE_FS_ONLY => {
            sys::sleep_until(sys::clock_ns() + 2_000_000_000);
            let before = sys::syscall_counts();
            tmpfs_cycle();
            // Syscalls per cycle (all processes), for the profile.
            let after = sys::syscall_counts();
            for (number, (a, b)) in after.iter().zip(&before).enumerate() {
                if a - b >= 200 {
                    println!(
                        "ktest: syscall {number}: {} per cycle",
                        (a - b) as f64 / 200.0
                    );
                }
            }
            return 0;
        }
        _ => {}
    }
    // The tests need what init gives an `init.run` program (the initramfs
    // capability in its slot): from the shell they cannot run meaningfully.
    if !matches!(sys::cap_info(SLOT_INITRAMFS), Ok((kind, _, _)) if kind == KIND_MEMORY) {
        println!(
            "ktest: the kernel tests run at boot, as init's program: boot with -append \"init.run=ktest\" (add poweroff to power off afterwards)"
        );
        return 2;
    }
    println!("ktest: kernel syscall tests");
    test_basics();
    mem_routines::test();
    test_fp_switch();
    test_caps();
    test_notifications();
    test_memory();
    test_ipc();
    test_threads();
    test_processes();
    bad_input::test();
    pipe_ring::test();
    test_exhaustion();
    let passed = PASSED.load(Ordering::Relaxed);
    let failed = FAILED.load(Ordering::Relaxed);
    println!("ktest: {passed} passed, {failed} failed");
    stress_spawn(10_000);
    run_fuzzer(0x5eed, FUZZ_DEFAULT);
    let failed = FAILED.load(Ordering::Relaxed);
    println!(
        "ktest: done, {} passed, {failed} failed",
        PASSED.load(Ordering::Relaxed)
    );
    if failed == 0 {
        0
    } else {
        1
    }
}

/// FP/SIMD registers survive switches between threads that both use them
/// (AArch64: x86_64's Rust userland is soft-float and has no such check yet).
fn test_fp_switch() {
    if !cfg!(target_arch = "aarch64") {
        return;
    }
    match fp_switch::run() {
        Some((mine, helper, rounds)) => {
            if mine + helper > 0 || rounds == 0 {
                println!("ktest: fp registers changed: {mine} here, {helper} in the helper ({rounds} rounds)");
            }
            check(
                "fp registers survive thread switches",
                mine + helper == 0 && rounds > 0,
            );
        }
        None => check("fp switch helper thread started", false),
    }
}

fn test_basics() {
    check(
        "unknown syscall",
        sys::raw_number(999, [0; 6])
            .check()
            .is_err_and(|e| e.is(SysError::InvalidSyscall)),
    );
    check(
        "huge syscall number",
        sys::raw_number(u64::MAX, [0; 6]).0[0] == SysError::InvalidSyscall as u64,
    );
    check(
        "debug write",
        sys::debug_write(SLOT_CONSOLE, b"ktest: debug write works\n").is_ok(),
    );
    let r = sys::raw(Sys::DebugWrite, [SLOT_CONSOLE, 0x10, 8, 0, 0, 0]).check();
    check(
        "debug write unmapped pointer",
        r.is_err_and(|e| e.is(SysError::BadAddress)),
    );
    let r = sys::raw(
        Sys::DebugWrite,
        [SLOT_CONSOLE, 0xffff_0000_4020_0000, 8, 0, 0, 0],
    )
    .check();
    check(
        "debug write kernel pointer",
        r.is_err_and(|e| e.is(SysError::BadAddress)),
    );
    let r = sys::raw(Sys::DebugWrite, [SLOT_CONSOLE, u64::MAX - 2, 8, 0, 0, 0]).check();
    check(
        "debug write overflowing range",
        r.is_err_and(|e| e.is(SysError::BadAddress)),
    );
    let r = sys::raw(Sys::DebugWrite, [SLOT_CONSOLE, 0x400000, 1 << 20, 0, 0, 0]).check();
    check(
        "debug write too long",
        r.is_err_and(|e| e.is(SysError::TooBig)),
    );
    check(
        "debug write wrong type",
        is_err(sys::debug_write(SLOT_SELF, b"x"), SysError::WrongType),
    );
    check(
        "debug write empty slot",
        is_err(sys::debug_write(999, b"x"), SysError::InvalidCap),
    );
    check(
        "debug write slot out of range",
        is_err(sys::debug_write(1 << 40, b"x"), SysError::InvalidCap),
    );
    let t0 = sys::clock_ns();
    sys::yield_now();
    let t1 = sys::clock_ns();
    check("clock monotonic", t1 >= t0 && t0 > 0);
    // libzos reads the counter itself after its first `Clock`: the kernel's
    // answer must fall between two of its readings (the same formula).
    let before = sys::clock_ns();
    let kernel = sys::raw(Sys::Clock, [0; 6]).0[1];
    let after = sys::clock_ns();
    check(
        "user clock agrees with the kernel's",
        before <= kernel && kernel <= after && after - before < 50_000_000,
    );
    sys::sleep_until(sys::clock_ns() + 20_000_000);
    check("sleep 20 ms", sys::clock_ns() >= t1 + 20_000_000);
    sys::sleep_until(0);
    check("sleep in the past returns", true);
    let info = sys::system_info();
    check(
        "system info",
        info[0] > 0 && info[1] >= info[0] && info[2] > 0,
    );
    check(
        "power off without right",
        is_err(sys::power_off(SLOT_CONSOLE), SysError::NoRights),
    );
    check(
        "power off wrong type",
        is_err(sys::power_off(SLOT_SELF), SysError::WrongType),
    );
}

fn test_caps() {
    let Ok(ep) = sys::endpoint_create() else {
        return check("endpoint create", false);
    };
    check("cap info endpoint", sys::cap_info(ep) == Ok((3, 31, 0)));
    let minted = sys::cap_mint(ep, sys::NONE, rights::WRITE, 42);
    check("mint", minted.is_ok());
    let minted = minted.unwrap_or(0);
    check(
        "minted rights and badge",
        sys::cap_info(minted) == Ok((3, rights::WRITE, 42)),
    );
    check(
        "mint escalation",
        is_err(
            sys::cap_mint(minted, sys::NONE, rights::READ | rights::WRITE, 0),
            SysError::RightsEscalation,
        ),
    );
    check(
        "re-badge refused",
        is_err(
            sys::cap_mint(minted, sys::NONE, rights::WRITE, 7),
            SysError::RightsEscalation,
        ),
    );
    check(
        "mint bad rights bits",
        is_err(
            sys::cap_mint(ep, sys::NONE, 1 << 20, 0),
            SysError::InvalidArgument,
        ),
    );
    let copy = sys::cap_copy(minted, sys::SELF, sys::NONE).unwrap_or(0);
    check(
        "copy keeps badge",
        sys::cap_info(copy) == Ok((3, rights::WRITE, 42)),
    );
    check(
        "copy into occupied slot",
        sys::cap_copy(ep, sys::SELF, copy).is_err(),
    );
    check("revoke counts descendants", sys::cap_revoke(ep) == Ok(2));
    check(
        "revoked cap is gone",
        is_err(sys::cap_info(minted), SysError::InvalidCap),
    );
    check(
        "revoked copy is gone",
        is_err(sys::cap_info(copy), SysError::InvalidCap),
    );
    check("original survives revoke", sys::cap_info(ep).is_ok());
    check(
        "use revoked cap",
        is_err(
            sys::ipc_send(minted, MessageInfo::default(), [0; 4]),
            SysError::InvalidCap,
        ),
    );
    check("delete", sys::cap_delete(ep).is_ok());
    check(
        "delete twice",
        is_err(sys::cap_delete(ep), SysError::InvalidCap),
    );
    check(
        "delete out of range",
        is_err(sys::cap_delete(1 << 33), SysError::InvalidCap),
    );
    check(
        "copy to non-process",
        is_err(
            sys::cap_copy(SLOT_CONSOLE, SLOT_CONSOLE, sys::NONE),
            SysError::WrongType,
        ),
    );
    test_watched_badge();
}

/// `CapMintWatched`: the last copy of a watched badge going away queues a
/// `NO_SENDERS` message with that badge on the endpoint.
fn test_watched_badge() {
    let Ok(ep) = sys::endpoint_create() else {
        return check("endpoint create", false);
    };
    let watched = sys::cap_mint_watched(ep, sys::NONE, rights::WRITE, 77);
    check("mint watched", watched.is_ok());
    let watched = watched.unwrap_or(0);
    check(
        "watch twice refused",
        is_err(
            sys::cap_mint_watched(ep, sys::NONE, rights::WRITE, 77),
            SysError::InvalidArgument,
        ),
    );
    check(
        "watch badge 0 refused",
        is_err(
            sys::cap_mint_watched(ep, sys::NONE, rights::WRITE, 0),
            SysError::InvalidArgument,
        ),
    );
    let copy = sys::cap_copy(watched, sys::SELF, sys::NONE).unwrap_or(0);
    check("delete watched", sys::cap_delete(watched).is_ok());
    check("delete copy", sys::cap_delete(copy).is_ok());
    let told = sys::ipc_recv(ep);
    check(
        "no senders message",
        told.is_ok_and(|m| m.info.label == sys::NO_SENDERS && m.badge == 77),
    );
    let _ = sys::cap_delete(ep);
}

fn test_notifications() {
    let Ok(n) = sys::notification_create() else {
        return check("notification create", false);
    };
    check("poll empty", is_err(sys::poll(n), SysError::WouldBlock));
    let badged = sys::cap_mint(n, sys::NONE, rights::WRITE, 0b1010).unwrap_or(0);
    check("signal badged", sys::signal(badged).is_ok());
    check("signal plain", sys::signal(n).is_ok());
    check("poll gets OR of badges", sys::poll(n) == Ok(0b1011));
    check(
        "wait without bits blocks not",
        sys::signal(badged).is_ok() && sys::wait(n) == Ok(0b1010),
    );
    check(
        "wait needs read",
        is_err(sys::wait(badged), SysError::NoRights),
    );
    check(
        "signal wrong type",
        is_err(sys::signal(SLOT_SELF), SysError::WrongType),
    );
    let reader = sys::cap_mint(n, sys::NONE, rights::READ, 0).unwrap_or(0);
    check(
        "signal needs write",
        is_err(sys::signal(reader), SysError::NoRights),
    );
    let irq_bind = sys::raw(Sys::IrqBind, [n, n, 0, 0, 0, 0]).check();
    check(
        "irq bind wrong type",
        irq_bind.is_err_and(|e| e.is(SysError::WrongType)),
    );
    let irq_ack = sys::raw(Sys::IrqAck, [999, 0, 0, 0, 0, 0]).check();
    check(
        "irq ack empty slot",
        irq_ack.is_err_and(|e| e.is(SysError::InvalidCap)),
    );
    for slot in [n, badged, reader] {
        let _ = sys::cap_delete(slot);
    }
}

const SCRATCH: u64 = 0x3000_0000;

fn test_memory() {
    check(
        "memory size 0",
        is_err(sys::memory_create(0), SysError::InvalidArgument),
    );
    check(
        "memory too big",
        is_err(sys::memory_create(1 << 40), SysError::InvalidArgument),
    );
    let quota_left = sys::system_info()[2];
    check(
        "memory over quota",
        quota_left < (1 << 30)
            && is_err(
                sys::memory_create(quota_left + (64 << 20)).map(|_| ()),
                SysError::QuotaExceeded,
            ),
    );
    let Ok(m) = sys::memory_create(3 * 4096) else {
        return check("memory create", false);
    };
    check(
        "memory info",
        sys::raw(Sys::MemoryInfo, [m, 0, 0, 0, 0, 0])
            .check()
            .is_ok_and(|r| r.0[1] == 3 * 4096),
    );
    // Only device memory can be sliced (a PCI BAR out of a bus window).
    check(
        "slice RAM",
        is_err(sys::memory_slice(m, 0, 1), SysError::WrongType),
    );
    check(
        "slice a non-memory",
        is_err(sys::memory_slice(SLOT_SELF, 0, 1), SysError::WrongType),
    );
    check(
        "map unaligned",
        is_err(
            sys::memory_map(m, sys::SELF, SCRATCH + 1, 0, 1, 0),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map W+X",
        is_err(
            sys::memory_map(
                m,
                sys::SELF,
                SCRATCH,
                0,
                1,
                map_flags::WRITE | map_flags::EXECUTE,
            ),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map kernel half",
        is_err(
            sys::memory_map(m, sys::SELF, 0xffff_0000_0000_0000, 0, 1, 0),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map page 0",
        is_err(
            sys::memory_map(m, sys::SELF, 0, 0, 1, 0),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map beyond object",
        is_err(
            sys::memory_map(m, sys::SELF, SCRATCH, 2, 2, 0),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map overflowing pages",
        is_err(
            sys::memory_map(m, sys::SELF, SCRATCH, u64::MAX, 2, 0),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map bad flags",
        is_err(
            sys::memory_map(m, sys::SELF, SCRATCH, 0, 1, 64),
            SysError::InvalidArgument,
        ),
    );
    check(
        "map into non-process",
        is_err(
            sys::memory_map(m, SLOT_CONSOLE, SCRATCH, 0, 1, 0),
            SysError::WrongType,
        ),
    );
    check(
        "map",
        sys::memory_map(m, sys::SELF, SCRATCH, 0, 3, map_flags::WRITE).is_ok(),
    );
    // SAFETY: SCRATCH was just mapped writable, 3 pages.
    unsafe { core::ptr::write_volatile((SCRATCH + 8192) as *mut u64, 0x1234_5678) };
    // SAFETY: as above.
    check(
        "memory is zeroed and writable",
        unsafe { core::ptr::read_volatile(SCRATCH as *const u64) } == 0,
    );
    check(
        "map overlap",
        is_err(
            sys::memory_map(m, sys::SELF, SCRATCH + 4096, 0, 1, 0),
            SysError::AlreadyMapped,
        ),
    );
    check(
        "map over own code",
        is_err(
            sys::memory_map(m, sys::SELF, 0x400000, 0, 1, 0),
            SysError::AlreadyMapped,
        ),
    );
    let readonly = sys::cap_mint(m, sys::NONE, rights::READ | rights::MAP, 0).unwrap_or(0);
    check(
        "map writable without right",
        is_err(
            sys::memory_map(
                readonly,
                sys::SELF,
                SCRATCH + 0x10000,
                0,
                1,
                map_flags::WRITE,
            ),
            SysError::NoRights,
        ),
    );
    check(
        "map exec without right",
        is_err(
            sys::memory_map(
                readonly,
                sys::SELF,
                SCRATCH + 0x10000,
                0,
                1,
                map_flags::EXECUTE,
            ),
            SysError::NoRights,
        ),
    );
    check(
        "map second view",
        sys::memory_map(readonly, sys::SELF, SCRATCH + 0x10000, 2, 1, 0).is_ok(),
    );
    // SAFETY: mapped read-only just above; shares the frame written earlier.
    check(
        "shared frame",
        unsafe { core::ptr::read_volatile((SCRATCH + 0x10000) as *const u64) } == 0x1234_5678,
    );
    let protect = sys::raw(
        Sys::MemoryProtect,
        [sys::SELF, SCRATCH + 0x10000, map_flags::WRITE, 0, 0, 0],
    )
    .check();
    check(
        "protect cannot add write",
        protect.is_err_and(|e| e.is(SysError::NoRights)),
    );
    let protect = sys::raw(Sys::MemoryProtect, [sys::SELF, SCRATCH, 0, 0, 0, 0]).check();
    check("protect read-only", protect.is_ok());
    let debug = sys::raw(Sys::SetIpcBuffer, [SCRATCH, 0, 0, 0, 0, 0]).check();
    check(
        "ipc buffer must be writable",
        debug.is_err_and(|e| e.is(SysError::BadAddress)),
    );
    check("unmap", sys::memory_unmap(sys::SELF, SCRATCH).is_ok());
    check(
        "unmap twice",
        is_err(sys::memory_unmap(sys::SELF, SCRATCH), SysError::NotMapped),
    );
    check(
        "unmap middle of region",
        is_err(sys::memory_unmap(sys::SELF, 0x401000), SysError::NotMapped),
    );
    check(
        "unmap second view",
        sys::memory_unmap(sys::SELF, SCRATCH + 0x10000).is_ok(),
    );
    let ipc = sys::raw(Sys::SetIpcBuffer, [layout::IPC_BUFFER + 1, 0, 0, 0, 0, 0]).check();
    check(
        "ipc buffer unaligned",
        ipc.is_err_and(|e| e.is(SysError::InvalidArgument)),
    );
    let ipc = sys::raw(Sys::SetIpcBuffer, [0x5000_0000, 0, 0, 0, 0, 0]).check();
    check(
        "ipc buffer unmapped",
        ipc.is_err_and(|e| e.is(SysError::BadAddress)),
    );
    let _ = sys::cap_delete(readonly);
    let _ = sys::cap_delete(m);
    check("memory freed after unmap and delete", true);
}

/// Server thread: answers calls on the endpoint in its argument (x0).
extern "C" fn echo_server(endpoint: u64) -> ! {
    let _ = sys::set_ipc_buffer(SERVER_IPC);
    let mut message = sys::ipc_recv(endpoint);
    loop {
        let Ok(m) = message else { sys::thread_exit() };
        if m.info.label == 99 {
            let _ = sys::ipc_reply(MessageInfo::default(), [0; 4]);
            sys::thread_exit();
        }
        let (info, words) = if m.info.length as usize > 32 {
            // Long message: reply with its checksum.
            // SAFETY: the server's IPC buffer is mapped; the kernel wrote `length` bytes.
            let data = unsafe {
                core::slice::from_raw_parts(
                    (SERVER_IPC + IPC_BUFFER_DATA) as *const u8,
                    m.info.length as usize,
                )
            };
            let sum: u64 = data.iter().map(|b| *b as u64).sum();
            (
                MessageInfo {
                    label: 2,
                    caps: 0,
                    length: 8,
                },
                [sum, m.badge, 0, 0],
            )
        } else if m.info.caps > 0 {
            // SAFETY: the kernel wrote the received slots at the start of the buffer.
            let slot = unsafe { core::ptr::read_volatile(SERVER_IPC as *const u64) };
            let kind = sys::cap_info(slot).map(|i| i.0).unwrap_or(0);
            (
                MessageInfo {
                    label: 3,
                    caps: 0,
                    length: 8,
                },
                [kind, m.info.caps as u64, 0, 0],
            )
        } else {
            (
                MessageInfo {
                    label: m.info.label + 1,
                    caps: 0,
                    length: 32,
                },
                [m.words[0] + 1, m.badge, m.words[2], m.words[3]],
            )
        };
        message = sys::ipc_reply_recv(endpoint, info, words);
    }
}

const SERVER_STACK: u64 = 0x3100_0000;
const SERVER_IPC: u64 = 0x3200_0000;

fn test_ipc() {
    let Ok(ep) = sys::endpoint_create() else {
        return check("endpoint", false);
    };
    let stack = sys::memory_create(64 * 1024).unwrap_or(0);
    let ipc = sys::memory_create(8192).unwrap_or(0);
    check(
        "server stack",
        sys::memory_map(stack, sys::SELF, SERVER_STACK, 0, 16, map_flags::WRITE).is_ok(),
    );
    check(
        "server ipc",
        sys::memory_map(ipc, sys::SELF, SERVER_IPC, 0, 2, map_flags::WRITE).is_ok(),
    );
    check(
        "thread priority above own",
        is_err(
            sys::thread_create(
                sys::SELF,
                echo_server as *const () as u64,
                SERVER_STACK + 65536,
                ep,
                250,
            ),
            SysError::NoRights,
        ),
    );
    let Ok(server) = sys::thread_create(
        sys::SELF,
        echo_server as *const () as u64,
        SERVER_STACK + 65536,
        ep,
        100,
    ) else {
        return check("thread create", false);
    };
    check("thread start", sys::thread_start(server).is_ok());
    check(
        "thread start twice",
        is_err(sys::thread_start(server), SysError::BadState),
    );

    let badged = sys::cap_mint(ep, sys::NONE, rights::WRITE | rights::GRANT, 77).unwrap_or(0);
    let reply = sys::ipc_call(
        badged,
        MessageInfo {
            label: 10,
            caps: 0,
            length: 32,
        },
        [41, 0, 5, 6],
    );
    check(
        "call short",
        reply.is_ok_and(|m| m.info.label == 11 && m.words == [42, 77, 5, 6]),
    );

    let data = (IPC_BUFFER_DATA + layout::IPC_BUFFER) as *mut u8;
    // SAFETY: our own IPC buffer, 8 KiB mapped writable by the loader.
    unsafe { core::ptr::write_bytes(data, 3, 4096) };
    let reply = sys::ipc_call(
        badged,
        MessageInfo {
            label: 1,
            caps: 0,
            length: 4096,
        },
        [0; 4],
    );
    check(
        "call 4 KiB",
        reply.is_ok_and(|m| m.info.label == 2 && m.words[0] == 3 * 4096 && m.words[1] == 77),
    );

    let gift = sys::notification_create().unwrap_or(0);
    // SAFETY: our IPC buffer's capability area.
    unsafe { core::ptr::write_volatile(layout::IPC_BUFFER as *mut u64, gift) };
    let reply = sys::ipc_call(
        badged,
        MessageInfo {
            label: 1,
            caps: 1,
            length: 0,
        },
        [0; 4],
    );
    check(
        "call with a capability",
        reply.is_ok_and(|m| m.info.label == 3 && m.words == [4, 1, 0, 0]),
    );
    check(
        "capability moved away",
        is_err(sys::cap_info(gift), SysError::InvalidCap),
    );

    let too_long = MessageInfo {
        label: 1,
        caps: 0,
        length: 4096,
    }
    .encode()
        + 1;
    let r = sys::raw(Sys::Call, [badged, too_long, 0, 0, 0, 0]).check();
    check("message too long", r.is_err_and(|e| e.is(SysError::TooBig)));
    let r = sys::raw(Sys::Call, [badged, 5 << 16, 0, 0, 0, 0]).check();
    check(
        "too many capabilities",
        r.is_err_and(|e| e.is(SysError::TooBig)),
    );
    let recv_only = sys::cap_mint(ep, sys::NONE, rights::READ, 0).unwrap_or(0);
    check(
        "call needs write",
        is_err(
            sys::ipc_call(recv_only, MessageInfo::default(), [0; 4]),
            SysError::NoRights,
        ),
    );
    check(
        "recv needs read",
        is_err(sys::ipc_recv(badged), SysError::NoRights),
    );
    check(
        "call wrong type",
        is_err(
            sys::ipc_call(SLOT_CONSOLE, MessageInfo::default(), [0; 4]),
            SysError::WrongType,
        ),
    );
    check(
        "reply without caller",
        is_err(
            sys::ipc_reply(MessageInfo::default(), [0; 4]),
            SysError::NoReplyTarget,
        ),
    );
    let save = sys::raw(Sys::ReplySave, [0; 6]).check();
    check(
        "reply save without caller",
        save.is_err_and(|e| e.is(SysError::NoReplyTarget)),
    );
    check(
        "server exits",
        sys::ipc_call(
            ep,
            MessageInfo {
                label: 99,
                caps: 0,
                length: 0,
            },
            [0; 4],
        )
        .is_ok(),
    );
    for slot in [badged, recv_only, server, ep] {
        let _ = sys::cap_delete(slot);
    }
    let _ = sys::memory_unmap(sys::SELF, SERVER_STACK);
    let _ = sys::memory_unmap(sys::SELF, SERVER_IPC);
    let _ = sys::cap_delete(stack);
    let _ = sys::cap_delete(ipc);
}

fn test_threads() {
    let r = sys::raw(
        Sys::ThreadCreate,
        [sys::SELF, 0xffff_0000_0000_0000, 0, 0, 1, 0],
    )
    .check();
    check(
        "thread entry in kernel half",
        r.is_err_and(|e| e.is(SysError::InvalidArgument)),
    );
    let r = sys::raw(Sys::ThreadCreate, [SLOT_CONSOLE, 0x400000, 0, 0, 1, 0]).check();
    check(
        "thread in non-process",
        r.is_err_and(|e| e.is(SysError::WrongType)),
    );
    let r = sys::raw(Sys::ThreadSetPriority, [999, 1, 0, 0, 0, 0]).check();
    check(
        "set priority empty slot",
        r.is_err_and(|e| e.is(SysError::InvalidCap)),
    );
    test_suspend();
}

/// What [`suspended_waiter`]'s wait returned: 0 not yet, 1 `Interrupted`,
/// 2 woken by a signal, 3 another error.
static WAITER_RESULT: AtomicU64 = AtomicU64::new(0);
/// Counts up while [`suspended_spinner`] runs.
static SPINS: AtomicU64 = AtomicU64::new(0);

extern "C" fn suspended_waiter(notification: u64) -> ! {
    // Raw: libzos's `sys::wait` makes an interrupted wait again.
    let wait = sys::raw(Sys::Wait, [notification, 0, 0, 0, 0, 0]).check();
    let result = match wait {
        Err(e) if e.is(SysError::Interrupted) => 1,
        Ok(_) => 2,
        Err(_) => 3,
    };
    WAITER_RESULT.store(result, Ordering::SeqCst);
    loop {
        let _ = sys::wait(notification);
    }
}

extern "C" fn suspended_spinner(_: u64) -> ! {
    loop {
        SPINS.fetch_add(1, Ordering::Relaxed);
    }
}

/// ThreadSuspend/ThreadResume on real hardware paths: a blocked wait ends
/// with `Interrupted` only once resumed, a running thread stops running.
fn test_suspend() {
    let Ok(notification) = sys::notification_create() else {
        return check("suspend: notification", false);
    };
    let Some(waiter) = bench_thread(suspended_waiter, notification, 8) else {
        return check("suspend: waiter thread", false);
    };
    sys::sleep_until(sys::clock_ns() + 10_000_000);
    check(
        "suspend a waiting thread",
        sys::thread_suspend(waiter).is_ok(),
    );
    sys::sleep_until(sys::clock_ns() + 10_000_000);
    check(
        "a suspended thread does not run",
        WAITER_RESULT.load(Ordering::SeqCst) == 0,
    );
    check("resume", sys::thread_resume(waiter).is_ok());
    sys::sleep_until(sys::clock_ns() + 10_000_000);
    check(
        "an interrupted wait returns Interrupted",
        WAITER_RESULT.load(Ordering::SeqCst) == 1,
    );
    check(
        "resume of a running thread is refused",
        is_err(sys::thread_resume(waiter), SysError::BadState),
    );
    check(
        "suspend of a non-thread is refused",
        is_err(sys::thread_suspend(notification), SysError::WrongType),
    );
    let Some(spinner) = bench_thread(suspended_spinner, 0, 9) else {
        return check("suspend: spinner thread", false);
    };
    let _ = sys::thread_set_priority(spinner, 1);
    // At priority 1 it runs only when the CPUs have nothing else to do
    // (services still starting, other QEMUs on the host): wait for it.
    let spins_past = |floor: u64| {
        let deadline = sys::clock_ns() + 2_000_000_000;
        while SPINS.load(Ordering::SeqCst) <= floor && sys::clock_ns() < deadline {
            sys::sleep_until(sys::clock_ns() + 5_000_000);
        }
        SPINS.load(Ordering::SeqCst) > floor
    };
    let started = spins_past(0);
    // Once suspend returns it is out of user mode (on another CPU too).
    let suspended = sys::thread_suspend(spinner).is_ok();
    let before = SPINS.load(Ordering::SeqCst);
    sys::sleep_until(sys::clock_ns() + 20_000_000);
    let after = SPINS.load(Ordering::SeqCst);
    check(
        "a suspended spinner stops",
        started && suspended && after == before,
    );
    let _ = sys::thread_resume(spinner);
    check("a resumed spinner runs again", spins_past(after));
    let _ = sys::thread_suspend(spinner);
}

fn initramfs() -> Option<&'static [u8]> {
    let (_, _, _) = sys::cap_info(SLOT_INITRAMFS).ok()?;
    let size = sys::raw(Sys::MemoryInfo, [SLOT_INITRAMFS, 0, 0, 0, 0, 0])
        .check()
        .ok()?
        .0[1];
    sys::memory_map(
        SLOT_INITRAMFS,
        sys::SELF,
        layout::INITRAMFS,
        0,
        size / 4096,
        0,
    )
    .ok()?;
    // SAFETY: just mapped read-only, `size` bytes.
    Some(unsafe { core::slice::from_raw_parts(layout::INITRAMFS as *const u8, size as usize) })
}

fn my_image() -> Option<&'static [u8]> {
    static IMAGE: spin::Once<Option<&'static [u8]>> = spin::Once::new();
    *IMAGE.call_once(|| {
        let ramfs = initramfs()?;
        Archive::new(ramfs)
            .find("/sbin/ktest")
            .ok()
            .flatten()
            .map(|e| e.data)
    })
}

/// Spawns this program in `mode`; returns (process slot, exit notification).
fn spawn_mode(mode: u64, fault_endpoint: u64) -> Option<(u64, u64)> {
    let image = my_image()?;
    let exited = sys::notification_create().ok()?;
    let options = SpawnOptions {
        quota: 8 << 20,
        exit_notification: exited,
        exit_bits: 1,
        fault_endpoint,
        fault_badge: 5,
        priority: 50,
        arg: mode,
        stack_top: 0,
        start_pages: 0,
    };
    let child = match loader::spawn(image, &options) {
        Ok(child) => child,
        Err(_) => {
            let _ = sys::cap_delete(exited);
            return None;
        }
    };
    let _ = sys::cap_mint(SLOT_CONSOLE, sys::NONE, rights::READ | rights::GRANT, 0).and_then(|s| {
        let r = sys::cap_copy(s, child.process, 1);
        let _ = sys::cap_delete(s);
        r
    });
    // Its own thread, where init would put it (`ThreadRegisters` on itself);
    // only there: a fuzzer holding it would sooner or later suspend itself.
    if mode == MODE_GARBAGE_REGISTERS {
        let main_thread = libzos::proto::start::slots::MAIN_THREAD;
        let _ = sys::cap_copy(child.thread, child.process, main_thread);
    }
    loader::start(&child).ok()?;
    let _ = sys::cap_delete(child.thread);
    Some((child.process, exited))
}

fn finish(process: u64, exited: u64) -> Option<[u64; 5]> {
    sys::wait(exited).ok()?;
    let status = sys::process_status(process).ok();
    let _ = sys::cap_delete(process);
    let _ = sys::cap_delete(exited);
    status
}

/// A service answers a malformed message with an error and keeps serving.
fn test_malformed_message() {
    let slot = zos_proto::start::slots::PROC;
    if !matches!(sys::cap_info(slot), Ok((3, _, _))) {
        return; // started without a process manager (not by init)
    }
    let garbage = MessageInfo {
        label: 0,
        caps: 0,
        length: 32,
    };
    let reply = sys::ipc_call(slot, garbage, [u64::MAX, u64::MAX, u64::MAX, u64::MAX]);
    let decoded = reply.ok().and_then(|m| {
        let mut bytes = [0u8; 32];
        for (i, w) in m.words.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        zos_proto::decode::<zos_proto::proc::ProcResponse>(&bytes[..m.info.length as usize])
            .map(|r| r == zos_proto::proc::ProcResponse::Err(zos_proto::errno::EINVAL))
    });
    check(
        "init answers a malformed message with EINVAL",
        decoded == Some(true),
    );
    check("init keeps serving after it", libzos::posix::getppid() == 1);
}

static CAUGHT: AtomicU32 = AtomicU32::new(0);

fn on_signal(signal: u32) {
    CAUGHT.store(signal, Ordering::SeqCst);
}

/// Signal handlers and ignored signals through init.
fn test_signals() {
    use libzos::posix::{self, SigAction};
    if posix::getppid() != 1 {
        return;
    }
    let me = posix::getpid() as i32;
    check(
        "catch SIGTERM",
        posix::signal(15, SigAction::Handler(on_signal)).is_ok(),
    );
    check(
        "kill self with a caught signal",
        posix::kill(me, 15).is_ok(),
    );
    let deadline = sys::clock_ns() + 1_000_000_000;
    while CAUGHT.load(Ordering::SeqCst) == 0 && sys::clock_ns() < deadline {
        sys::sleep_until(sys::clock_ns() + 1_000_000);
    }
    check(
        "handler ran with SIGTERM",
        CAUGHT.load(Ordering::SeqCst) == 15,
    );
    check("ignore SIGINT", posix::signal(2, SigAction::Ignore).is_ok());
    check(
        "ignored SIGINT does not kill",
        posix::kill(me, 2).is_ok() && posix::getpid() == me as u32,
    );
    check(
        "SIGKILL cannot be caught",
        posix::signal(9, SigAction::Ignore).is_err(),
    );
    check(
        "back to default",
        posix::signal(2, SigAction::Default).is_ok()
            && posix::signal(15, SigAction::Default).is_ok(),
    );
}

fn test_processes() {
    test_malformed_message();
    test_signals();
    let status = spawn_mode(MODE_EXIT, sys::NONE).and_then(|(p, n)| finish(p, n));
    check(
        "child exit status",
        status.is_some_and(|s| s[0] == 1 && s[1] == 7),
    );
    let status = spawn_mode(MODE_FAULT, sys::NONE).and_then(|(p, n)| finish(p, n));
    check(
        "unhandled fault kills the child",
        status.is_some_and(|s| s[0] == 2 && s[3] == 0xdead_0000),
    );
    let status = spawn_mode(MODE_GARBAGE_REGISTERS, sys::NONE).and_then(|(p, n)| finish(p, n));
    check(
        "garbage registers kill only their thread's process",
        status.is_some_and(|s| s[0] == 2 && s[4] == GARBAGE_PC),
    );
    let Ok(faults) = sys::endpoint_create() else {
        return check("fault endpoint", false);
    };
    if let Some((process, exited)) = spawn_mode(MODE_FAULT, faults) {
        let fault = sys::ipc_recv(faults);
        check(
            "fault message delivered",
            fault.is_ok_and(|m| {
                m.info.label == labels::FAULT
                    && m.words[0] == 1
                    && m.words[1] == 0xdead_0000
                    && m.badge == 5
            }),
        );
        check(
            "supervisor kills the faulted child",
            sys::process_kill(process).is_ok(),
        );
        let status = finish(process, exited);
        check("killed status", status.is_some_and(|s| s[0] == 2));
    } else {
        check("spawn faulting child", false);
    }
    let _ = sys::cap_delete(faults);
    check(
        "kill bad slot",
        is_err(sys::process_kill(777), SysError::InvalidCap),
    );
    check(
        "status of non-process",
        is_err(sys::process_status(SLOT_CONSOLE), SysError::WrongType),
    );
    // A quota is a ceiling, not a reservation: promising a child more than
    // one has is allowed (what it uses still counts against ours).
    let promised = sys::process_create(1 << 40, sys::NONE, 0, sys::NONE, 0);
    check("quota larger than own is a ceiling", promised.is_ok());
    if let Ok((slot, _pid)) = promised {
        let _ = sys::process_kill(slot);
        let _ = sys::cap_delete(slot);
    }
}

fn stress_spawn(count: u32) {
    // Warm up so the kernel heap and tables reach their steady size.
    for _ in 0..10 {
        if let Some((p, n)) = spawn_mode(MODE_EXIT, sys::NONE) {
            finish(p, n);
        }
    }
    let before = sys::system_info();
    println!(
        "ktest: spawn stress: {count} processes; free frames before: {}, quota left: {}",
        before[0], before[2]
    );
    let start = sys::clock_ns();
    let mut ok = 0;
    for i in 0..count {
        if let Some(status) = spawn_mode(MODE_EXIT, sys::NONE).and_then(|(p, n)| finish(p, n)) {
            if status[0] == 1 && status[1] == 7 {
                ok += 1;
            }
        }
        if (i + 1) % 2000 == 0 {
            print!("ktest: spawned {}\n", i + 1);
        }
    }
    let after = sys::system_info();
    let ms = (sys::clock_ns() - start) / 1_000_000;
    println!(
        "ktest: spawn stress: {ok}/{count} exited cleanly in {ms} ms; free frames after: {}, quota left: {}",
        after[0], after[2]
    );
    check("all spawned processes exited", ok == count);
    check("free frames back to start", before[0] == after[0]);
    check("quota back to start", before[2] == after[2]);
    check("objects back to start", before[3] == after[3]);
}

fn run_fuzzer(seed: u64, count: u64) {
    println!("ktest: fuzz: {count} random syscalls, seed {seed:#x}");
    let mode = MODE_FUZZ | ((count / 1000) << 8) | (seed << 32);
    let Some((process, exited)) = spawn_mode(mode, sys::NONE) else {
        return check("fuzz spawn", false);
    };
    let status = finish(process, exited);
    match status {
        Some([1, made, ..]) => println!("ktest: fuzz: kernel survived {made} syscalls"),
        other => println!("ktest: fuzz: child ended unexpectedly: {other:?}"),
    }
    check(
        "fuzzer completed",
        status.is_some_and(|s| s[0] == 1 && s[1] == count),
    );
    check(
        "kernel alive after fuzzing",
        sys::debug_write(SLOT_CONSOLE, b"").is_ok(),
    );
}

/// Makes `count` random syscalls; returns how many were made.
fn fuzz(seed: u64, count: u64) -> i64 {
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Calls that end or block the fuzzer are left out: it must report back
    // (50, ThreadRegisters, could set its own registers to garbage).
    const BLOCKING: [u64; 11] = [2, 21, 24, 25, 26, 28, 31, 35, 17, 29, 50];
    let mut made = 0;
    while made < count {
        // Up to MemoryCopy (51): copies of its own memory make its pages
        // copy-on-write under it.
        let number = next() % 52;
        if BLOCKING.contains(&number) {
            continue;
        }
        let mut args = [0u64; 6];
        for a in args.iter_mut() {
            let r = next();
            *a = match r % 4 {
                0 => r % 16,
                1 => r >> (r % 64),
                2 => 0x3000_0000 + (r % 64) * 4096,
                _ => r,
            };
        }
        // Never unmap or re-protect the fuzzer's own code, stack or buffers.
        if (number == 13 || number == 14) && args[0] == sys::SELF {
            args[0] = 0;
        }
        if number == 13 || number == 14 {
            args[1] |= 0x1000_0000_0000;
        }
        let _ = sys::raw_number(number, args);
        made += 1;
    }
    made as i64
}

const BENCH_STACK: u64 = 0x3300_0000;
const BENCH_IPC: u64 = 0x3400_0000;
const ROUNDS: u64 = 20_000;

/// Nanoseconds per operation; under `-icount shift=0` one virtual nanosecond is
/// one guest instruction, so the same figure is the instruction count.
fn per_op(start: u64, ops: u64) -> u64 {
    (sys::clock_ns() - start) / ops
}

/// Batches a short-operation figure is measured in; the best batch counts.
const BATCHES: u64 = 5;

/// The cost of one `op` in the cheapest of [`BATCHES`] batches of `ops` calls
/// (`op` gets the call's index). Services still busy from boot (the VFS
/// unpacking a large archive, a timer wake-up) would otherwise charge their
/// work to whatever operation happens to be timed (docs/benchmarks.md).
fn best_per_op(ops: u64, mut op: impl FnMut(u64)) -> u64 {
    (0..BATCHES)
        .map(|batch| {
            let start = sys::clock_ns();
            for i in 0..ops {
                op(batch * ops + i);
            }
            per_op(start, ops)
        })
        .min()
        .unwrap_or(0)
}

extern "C" fn bench_server(endpoint: u64) -> ! {
    let _ = sys::set_ipc_buffer(BENCH_IPC);
    let mut message = sys::ipc_recv(endpoint);
    loop {
        let Ok(m) = message else { sys::thread_exit() };
        let reply = MessageInfo {
            label: 0,
            caps: 0,
            length: m.info.length,
        };
        message = sys::ipc_reply_recv(endpoint, reply, m.words);
    }
}

extern "C" fn bench_yielder(_: u64) -> ! {
    loop {
        sys::yield_now();
    }
}

extern "C" fn bench_notifier(pair: u64) -> ! {
    let (ping, pong) = (pair & 0xffff_ffff, pair >> 32);
    loop {
        let _ = sys::wait(ping);
        let _ = sys::signal(pong);
    }
}

fn bench_thread(entry: extern "C" fn(u64) -> !, arg: u64, index: u64) -> Option<u64> {
    let stack = sys::memory_create(64 * 1024).ok()?;
    let base = BENCH_STACK + index * 0x10_0000;
    sys::memory_map(stack, sys::SELF, base, 0, 16, map_flags::WRITE).ok()?;
    let thread =
        sys::thread_create(sys::SELF, entry as *const () as u64, base + 65536, arg, 100).ok()?;
    sys::thread_start(thread).ok()?;
    Some(thread)
}

fn bench() -> i64 {
    let null = best_per_op(ROUNDS / BATCHES, |_| {
        let _ = sys::raw_number(1000, [0; 6]);
    });
    println!("bench: null_syscall {null}");

    let ep = sys::endpoint_create().unwrap_or(0);
    let ipc = sys::memory_create(8192).unwrap_or(0);
    let _ = sys::memory_map(ipc, sys::SELF, BENCH_IPC, 0, 2, map_flags::WRITE);
    let Some(server) = bench_thread(bench_server, ep, 0) else {
        return 1;
    };
    let short = MessageInfo {
        label: 1,
        caps: 0,
        length: 32,
    };
    let _ = sys::ipc_call(ep, short, [1, 2, 3, 4]);
    let round_trip = best_per_op(ROUNDS / BATCHES, |i| {
        let _ = sys::ipc_call(ep, short, [i, 2, 3, 4]);
    });
    println!("bench: ipc_call_reply_short {round_trip}");
    // Across CPUs: the server pinned to CPU 1, this thread to CPU 0, so
    // every message wakes the other CPU (the fast path hands over only on
    // one CPU) and the answer comes back the same way.
    if sys::cpus_online() >= 2 {
        let server_there = sys::thread_set_affinity(server, 1 << 1).is_ok();
        if server_there && libzos::affinity::set(1).is_ok() {
            let cross = best_per_op(ROUNDS / 4 / BATCHES, |i| {
                let _ = sys::ipc_call(ep, short, [i, 2, 3, 4]);
            });
            println!("bench: ipc_call_reply_cross_cpu {cross}");
        }
        let _ = sys::thread_set_affinity(server, u64::MAX);
        let _ = libzos::affinity::set(u64::MAX);
    }
    let long = MessageInfo {
        label: 1,
        caps: 0,
        length: 4096,
    };
    let round_trip = best_per_op(ROUNDS / 4 / BATCHES, |i| {
        let _ = sys::ipc_call(ep, long, [i, 0, 0, 0]);
    });
    println!("bench: ipc_call_reply_4k {round_trip}");
    // Park the helper threads at the lowest priority; they die with the process.
    let _ = sys::thread_set_priority(server, 0);

    let Some(yielder) = bench_thread(bench_yielder, 0, 1) else {
        return 1;
    };
    sys::yield_now();
    // Each round is two switches (to the yielder and back).
    let switch = best_per_op(ROUNDS / BATCHES, |_| sys::yield_now()) / 2;
    println!("bench: yield_switch {switch}");
    let _ = sys::thread_set_priority(yielder, 0);

    let ping = sys::notification_create().unwrap_or(0);
    let pong = sys::notification_create().unwrap_or(0);
    let Some(_notifier) = bench_thread(bench_notifier, ping | (pong << 32), 2) else {
        return 1;
    };
    // Each round is two signal->wait hand-offs.
    let hand_off = best_per_op(ROUNDS / BATCHES, |_| {
        let _ = sys::signal(ping);
        let _ = sys::wait(pong);
    }) / 2;
    println!("bench: notify_signal_wait {hand_off}");

    let image = my_image();
    let start = sys::clock_ns();
    let spawns = 200;
    for _ in 0..spawns {
        if let Some((p, n)) = spawn_mode(MODE_EXIT, sys::NONE) {
            finish(p, n);
        }
    }
    if image.is_some() {
        println!("bench: spawn_wait_direct {}", per_op(start, spawns));
    }
    posix_benches();
    run_fuzzer(0x5eed_2026, 1_000_000);
    println!("bench: done");
    0
}

/// A service that faults on purpose the first time it runs (init restarts it),
/// and then just stays up.
fn faulty_service() -> i64 {
    let restarts = libzos::posix::getenv("ZOS_RESTARTS").unwrap_or_default();
    if restarts == "0" {
        sys::sleep_until(sys::clock_ns() + 500_000_000);
        // SAFETY: deliberately invalid: the fault is the point of this service.
        let value = unsafe { core::ptr::read_volatile(0xbad0_0000 as *const u64) };
        return value as i64;
    }
    loop {
        sys::sleep_until(u64::MAX);
    }
}

/// `ktest flood [SECONDS]` (from the shell): as many cheap syscalls as the
/// CPU allows for a while — an endpoint created and deleted (six commits)
/// and a call on an empty slot (an error) — to fill Axiom's rings faster
/// than axiomd drains them. The kernel must go on, the loss must be logged.
fn flood(seconds: u64) -> i64 {
    let seconds = seconds.min(60);
    let end = sys::clock_ns() + seconds * 1_000_000_000;
    let (mut calls, mut rounds) = (0u64, 0u64);
    while rounds % 256 != 0 || sys::clock_ns() < end {
        if let Ok(endpoint) = sys::endpoint_create() {
            let _ = sys::cap_delete(endpoint);
            calls += 2;
        }
        let _ = sys::cap_info(0xFFFF);
        calls += 1;
        rounds += 1;
    }
    println!("ktest: flood: {calls} syscalls in {seconds} s");
    0
}

/// Reads standard input to the end; exits with the number of MiB read.
fn pipe_sink() -> i64 {
    let mut buffer = alloc::vec![0u8; 4096];
    let mut total = 0u64;
    loop {
        match libzos::posix::read(0, &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    (total >> 20) as i64
}

/// `ktest spawner N`: N spawn+waits of `ktest exit` through init.
fn spawner(rounds: u32) -> i64 {
    use libzos::posix;
    for _ in 0..rounds {
        match posix::spawn("/sbin/ktest", &["ktest", "exit"], &[], &[], 0) {
            Ok(pid) => {
                let _ = posix::waitpid(pid as i32, false);
            }
            Err(_) => return 1,
        }
    }
    0
}

/// Scalability: `spawner` processes, one alone and then four at once, each
/// doing the same spawn+waits; prints the spawn+waits per second of guest
/// time of each (run without -icount, where the CPUs run in parallel, on
/// one CPU and on four to compare).
fn scale() {
    use libzos::posix;
    sys::sleep_until(sys::clock_ns() + 2_000_000_000);
    let rounds = 50;
    for workers in [1u64, 4] {
        let start = sys::clock_ns();
        let count = alloc::format!("{rounds}");
        let pids: alloc::vec::Vec<i32> = (0..workers)
            .filter_map(|_| {
                posix::spawn("/sbin/ktest", &["ktest", "spawner", &count], &[], &[], 0).ok()
            })
            .map(|pid| pid as i32)
            .collect();
        let mut failed = pids.len() as u64 != workers;
        for pid in pids {
            failed |= !matches!(posix::waitpid(pid, false), Ok(Some((_, 0))));
        }
        let elapsed = (sys::clock_ns() - start).max(1);
        let per_second = workers * rounds as u64 * 1_000_000_000 / elapsed;
        match failed {
            true => println!("ktest: scale: a spawner with {workers} at once failed"),
            false => println!("bench: scale_spawn_wait_per_s_{workers}proc {per_second}"),
        }
    }
}

/// Spawn+wait and pipe throughput through init's process manager (the path
/// every shell command takes).
fn posix_benches() {
    use libzos::posix;
    if posix::getppid() != 1 {
        return; // not started by init
    }
    let rounds = 100;
    let start = sys::clock_ns();
    for _ in 0..rounds {
        if let Ok(pid) = posix::spawn("/sbin/ktest", &["ktest", "exit"], &[], &[], 0) {
            let _ = posix::waitpid(pid as i32, false);
        }
    }
    println!("bench: spawn_wait {}", per_op(start, rounds));

    let Ok((read_end, write_end)) = posix::pipe() else {
        return;
    };
    let actions = [
        posix::FileAction::Dup2 {
            from: read_end,
            to: 0,
        },
        posix::FileAction::Close(write_end),
    ];
    let Ok(pid) = posix::spawn("/sbin/ktest", &["ktest", "sink"], &[], &actions, 0) else {
        return;
    };
    let _ = posix::close(read_end);
    let chunk = alloc::vec![0x5au8; 3968];
    let total: u64 = 8 << 20;
    let start = sys::clock_ns();
    let mut sent = 0u64;
    while sent < total {
        match posix::write(write_end, &chunk) {
            Ok(n) => sent += n as u64,
            Err(_) => break,
        }
    }
    let _ = posix::close(write_end);
    let status = posix::waitpid(pid as i32, false);
    let ns = (sys::clock_ns() - start).max(1);
    let mib_per_s = (sent as u128 * 1_000_000_000 / ns as u128 / (1 << 20) as u128) as u64;
    let received = status
        .ok()
        .flatten()
        .and_then(|(_, s)| posix::exit_code(s))
        .unwrap_or(-1);
    println!("bench: pipe_throughput_mib_s {mib_per_s}");
    fs_benches();
    if received != (total >> 20) as i32 {
        println!(
            "ktest: pipe sink received {received} MiB of {}",
            total >> 20
        );
    }
}

/// tmpfs create + write 4 KiB + close + unlink through the VFS server
/// (`/tmp`); false without a VFS.
fn tmpfs_cycle() -> bool {
    use libzos::fs::{O_CREAT, O_TRUNC, O_WRONLY};
    use libzos::posix;
    let page = alloc::vec![0x42u8; 4096];
    if posix::open("/tmp/.bench", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        .map(posix::close)
        .is_err()
    {
        println!("ktest: no VFS; file benchmarks skipped");
        return false;
    }
    let rounds = 200;
    let start = sys::clock_ns();
    for _ in 0..rounds {
        if let Ok(fd) = posix::open("/tmp/.bench", O_CREAT | O_WRONLY | O_TRUNC, 0o644) {
            let _ = posix::write_all(fd, &page);
            let _ = posix::close(fd);
        }
        let _ = posix::unlink("/tmp/.bench");
    }
    println!(
        "bench: tmpfs_create_write_close_unlink {}",
        per_op(start, rounds)
    );
    true
}

/// tmpfs figures through the VFS server (`/tmp`).
fn fs_benches() {
    use libzos::fs::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
    use libzos::posix;
    if !tmpfs_cycle() {
        return;
    }
    let rounds = 200;

    let chunk = alloc::vec![0x5au8; 64 * 1024];
    let total: u64 = 64 << 20;
    if let Ok(fd) = posix::open("/tmp/.big", O_CREAT | O_WRONLY | O_TRUNC, 0o644) {
        let start = sys::clock_ns();
        let mut written = 0u64;
        while written < total {
            match posix::write(fd, &chunk) {
                Ok(n) if n > 0 => written += n as u64,
                _ => break,
            }
        }
        let _ = posix::close(fd);
        let ns = (sys::clock_ns() - start).max(1);
        println!(
            "bench: tmpfs_seq_write_64m_mib_s {}",
            (written as u128 * 1_000_000_000 / ns as u128) >> 20
        );
    }
    if let Ok(fd) = posix::open("/tmp/.big", O_RDONLY, 0) {
        let mut buffer = alloc::vec![0u8; 64 * 1024];
        let start = sys::clock_ns();
        let mut read = 0u64;
        loop {
            match posix::read(fd, &mut buffer) {
                Ok(n) if n > 0 => read += n as u64,
                _ => break,
            }
        }
        let _ = posix::close(fd);
        let ns = (sys::clock_ns() - start).max(1);
        println!(
            "bench: tmpfs_seq_read_64m_mib_s {}",
            (read as u128 * 1_000_000_000 / ns as u128) >> 20
        );
        if read != total {
            println!("ktest: read back {read} of {total} bytes");
        }
    }
    let _ = posix::unlink("/tmp/.big");

    let mut path = alloc::string::String::from("/tmp");
    for part in ["a", "b", "c", "d", "e", "f", "g"] {
        path.push('/');
        path.push_str(part);
        let _ = posix::mkdir(&path, 0o755);
    }
    let stat = best_per_op(rounds / BATCHES, |_| {
        let _ = posix::stat(&path);
    });
    println!("bench: stat_deep {stat}");
    identity_benches(&path, rounds);
}

/// Logging in (argon2id dominated) and `stat_deep` again as an ordinary user
/// (every directory's search permission checked against a non-root identity).
/// ktest runs as root, so it may add the user and set its password.
fn identity_benches(path: &str, rounds: u64) {
    use libzos::posix;
    use zos_proto::identity::{IdRequest, IdResponse};
    let Ok(identity) = posix::proc_lookup("identity") else {
        println!("ktest: no identity service; login benchmark skipped");
        return;
    };
    let ask = |request: &IdRequest| -> Option<IdResponse> {
        libzos::ipc::call(identity, request, &[])
            .ok()
            .and_then(|r| r.decode::<IdResponse>())
    };
    let _ = ask(&IdRequest::AddUser { name: "bench" });
    let set = IdRequest::SetPassword {
        name: "bench",
        old: "",
        new: "bench-password",
    };
    if ask(&set) != Some(IdResponse::Ok) {
        println!("ktest: cannot set the bench user's password; login benchmark skipped");
        return;
    }
    let login = IdRequest::Login {
        name: "bench",
        password: "bench-password",
        tty: "bench",
    };
    let start = sys::clock_ns();
    let answer = ask(&login);
    let took = sys::clock_ns() - start;
    if !matches!(answer, Some(IdResponse::LoggedIn { .. })) {
        println!("ktest: login of the bench user failed: {answer:?}");
        return;
    }
    println!("bench: login {took}");
    // Now an ordinary user: a fresh VFS capability carries the new identity.
    libzos::fs::reconnect();
    let stat = best_per_op(rounds / BATCHES, |_| {
        let _ = posix::stat(path);
    });
    println!("bench: stat_deep_user {stat}");
}

fn ipc_only() -> i64 {
    // Let the services that init starts alongside finish booting first, so
    // that a profile of this loop holds this loop only.
    sys::sleep_until(sys::clock_ns() + 2_000_000_000);
    let ep = sys::endpoint_create().unwrap_or(0);
    let ipc = sys::memory_create(8192).unwrap_or(0);
    let _ = sys::memory_map(ipc, sys::SELF, BENCH_IPC, 0, 2, map_flags::WRITE);
    if bench_thread(bench_server, ep, 0).is_none() {
        return 1;
    }
    let short = MessageInfo {
        label: 1,
        caps: 0,
        length: 32,
    };
    let start = sys::clock_ns();
    for i in 0..5000 {
        let _ = sys::ipc_call(ep, short, [i, 2, 3, 4]);
    }
    println!("bench: ipc_call_reply_short {}", per_op(start, 5000));
    0
}

fn spawn_only() -> i64 {
    use libzos::posix;
    let start = sys::clock_ns();
    for _ in 0..200 {
        if let Ok(pid) = posix::spawn("/sbin/ktest", &["ktest", "exit"], &[], &[], 0) {
            let _ = posix::waitpid(pid as i32, false);
        }
    }
    println!("bench: spawn_wait {}", per_op(start, 200));
    0
}

/// Exhaustion: a child with a small quota takes memory, objects, mappings,
/// capability slots and threads until each is refused; then it is killed and
/// free frames, quota and live objects must be exactly where they were.
fn test_exhaustion() {
    // Warm up the kernel's tables the way the child will use them.
    if let Some((p, n)) = spawn_mode(MODE_EXIT, sys::NONE) {
        finish(p, n);
    }
    let before = sys::system_info();
    let Some((process, exited)) = spawn_mode(MODE_EXHAUST, sys::NONE) else {
        check("exhaustion child started", false);
        return;
    };
    // The child reports each refusal, then blocks holding what it took.
    sys::sleep_until(sys::clock_ns() + 3_000_000_000);
    let status = sys::process_status(process);
    let alive = matches!(status, Ok([0, ..]));
    if !alive {
        println!("ktest: exhaustion child status {status:?}");
    }
    check("exhaustion child still alive (refused, not killed)", alive);
    let _ = sys::process_kill(process);
    finish(process, exited);
    let after = sys::system_info();
    println!(
        "ktest: exhaustion: free frames {} -> {}, quota left {} -> {}, live objects {} -> {}",
        before[0], after[0], before[2], after[2], before[3], after[3]
    );
    check("exhaustion: free frames back", before[0] == after[0]);
    check("exhaustion: quota back", before[2] == after[2]);
    check("exhaustion: objects back", before[3] == after[3]);
}

/// Runs `take` until it fails (at most `limit` times); prints what refused it.
fn until_refused(
    what: &str,
    limit: u32,
    mut take: impl FnMut(u32) -> Result<u64, Error>,
) -> alloc::vec::Vec<u64> {
    let mut taken = alloc::vec::Vec::new();
    let mut refusal = "never";
    for i in 0..limit {
        match take(i) {
            Ok(slot) => taken.push(slot),
            Err(e) => {
                refusal = e.name();
                break;
            }
        }
    }
    println!(
        "ktest: exhaust: {what}: {} taken, then {refusal}",
        taken.len()
    );
    taken
}

fn delete_all(slots: &[u64]) {
    for &slot in slots {
        let _ = sys::cap_delete(slot);
    }
}

extern "C" fn idle_thread(_: u64) -> ! {
    loop {
        sys::sleep_until(u64::MAX);
    }
}

fn exhaust() -> i64 {
    let endpoints = until_refused("endpoints", 1_000_000, |_| sys::endpoint_create());
    delete_all(&endpoints);
    let notifications = until_refused("notifications", 1_000_000, |_| sys::notification_create());
    delete_all(&notifications);
    let memory = until_refused("memory pages", 1_000_000, |_| sys::memory_create(4096));
    delete_all(&memory);
    if let Ok(page) = sys::memory_create(4096) {
        // A new last-level page table every 2 MiB.
        let base = 0x0000_5000_0000_0000u64;
        let mapped = until_refused("mappings 2 MiB apart", 1_000_000, |i| {
            sys::memory_map(page, sys::SELF, base + i as u64 * (2 << 20), 0, 1, 0).map(|_| 0)
        });
        for i in 0..mapped.len() as u64 {
            let _ = sys::memory_unmap(sys::SELF, base + i * (2 << 20));
        }
        let _ = sys::cap_delete(page);
    }
    if let Ok(endpoint) = sys::endpoint_create() {
        let minted = until_refused("minted capabilities", 1_000_000, |i| {
            sys::cap_mint(endpoint, sys::NONE, rights::WRITE, i as u64 + 1)
        });
        delete_all(&minted);
    }
    // Threads belong to the process until it ends: these stay charged.
    let threads = until_refused("threads", 1_000_000, |_| {
        sys::thread_create(sys::SELF, idle_thread as *const () as u64, 0x1000, 0, 10)
    });
    delete_all(&threads);
    // Now hold as much as possible and wait to be killed.
    let held = until_refused("memory held", 1_000_000, |_| sys::memory_create(64 * 1024));
    let _held_endpoints = until_refused("endpoints held", 1_000_000, |_| sys::endpoint_create());
    // Room for printing (the heap may need a page), then hold the rest.
    delete_all(&held[held.len().saturating_sub(2)..]);
    println!("ktest: exhaust: holding everything");
    if let Ok(never) = sys::notification_create() {
        loop {
            let _ = sys::wait(never);
        }
    }
    loop {
        sys::sleep_until(u64::MAX);
    }
}
