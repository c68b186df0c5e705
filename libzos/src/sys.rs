//! Raw syscalls, one function each: the number, six arguments, the error code
//! back in result register 0 and values in 1–6 (`docs/kernel.md`; the
//! instruction and registers per architecture are in `crate::arch`).

pub use zos_abi::{MessageInfo, Sys, SysError};

/// Raw results: registers x0..x6 after the call.
#[derive(Clone, Copy, Debug, Default)]
pub struct Regs(pub [u64; 7]);

impl Regs {
    /// Register 0 as an error, or the results.
    pub fn check(self) -> Result<Regs, Error> {
        if self.0[0] == 0 {
            Ok(self)
        } else {
            Err(Error(self.0[0]))
        }
    }
}

/// A syscall error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub u64);

impl Error {
    /// The error's name (`"QuotaExceeded"`), from the ABI's one table.
    pub fn name(self) -> &'static str {
        SysError::from_code(self.0).map_or("Unknown", SysError::name)
    }

    pub fn is(self, error: SysError) -> bool {
        self.0 == error as u64
    }
}

/// Makes syscall `number` with six arguments and returns all result registers.
#[inline(always)]
pub fn raw(number: Sys, args: [u64; 6]) -> Regs {
    raw_number(number as u64, args)
}

/// Like [`raw`] with any number (for tests and fuzzing).
#[inline(always)]
pub fn raw_number(number: u64, args: [u64; 6]) -> Regs {
    Regs(crate::arch::syscall(number, args))
}

/// Set while the main thread is in a call a signal may interrupt (a read of
/// a terminal, a sleep: `posix::interruptible`). Its IPC calls then carry
/// `CALL_INTERRUPTIBLE`, so the kernel may interrupt them while a server
/// holds them (`ThreadSuspend`).
pub static INTERRUPTIBLE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Set by `posix::interrupt_main` for a signal that should interrupt the
/// main thread: an interruptible call then fails with `Interrupted` (EINTR)
/// — at once if it had not blocked yet. An `Interrupted` without it (a stop
/// and continue: job control) means nothing was done, and the call is made
/// again, as Linux restarts a call after SIGCONT.
pub static SIGNAL_PENDING: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// A call failed with `Interrupted` since [`take_interrupted`] last looked.
static INTERRUPTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a call failed with `Interrupted` since the last look (the Linux
/// dispatcher then restarts an EINTR call for SA_RESTART handlers).
pub fn take_interrupted() -> bool {
    INTERRUPTED.swap(false, core::sync::atomic::Ordering::SeqCst)
}

fn call(number: Sys, args: [u64; 6]) -> Result<Regs, Error> {
    use core::sync::atomic::Ordering::SeqCst;
    // Only the main thread's calls are interrupted for signals (the flags are
    // the process's; other threads, the interrupting one included, never
    // take them).
    let signalled = || {
        INTERRUPTIBLE.load(SeqCst)
            && crate::thread::ipc_buffer() == zos_abi::layout::IPC_BUFFER
            && SIGNAL_PENDING.swap(false, SeqCst)
    };
    let interrupted = Error(SysError::Interrupted as u64);
    if number.may_block() && signalled() {
        INTERRUPTED.store(true, SeqCst);
        return Err(interrupted);
    }
    loop {
        let regs = raw(number, args);
        if regs.0[0] != interrupted.0 {
            return regs.check();
        }
        if signalled() {
            INTERRUPTED.store(true, SeqCst);
            return Err(interrupted);
        }
    }
}

pub const SELF: u64 = zos_abi::SELF_PROCESS;
/// Label of the kernel's message saying a watched badge has no capability left.
pub const NO_SENDERS: u32 = zos_abi::labels::NO_SENDERS;
pub const NONE: u64 = u64::MAX;

/// Reads kernel log bytes from `cursor` into `buffer`: (count, next cursor).
/// A next cursor beyond `cursor + count` means older bytes were overwritten.
pub fn log_read(system: u64, cursor: u64, buffer: &mut [u8]) -> Result<(usize, u64), Error> {
    let r = call(
        Sys::LogRead,
        [
            system,
            cursor,
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            0,
            0,
        ],
    )?;
    Ok((r.0[1] as usize, r.0[2]))
}

/// Which Axiom ring [`axiom_read`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxiomStream {
    /// Commit records (`zos_axiom::Commit`, 48 bytes each).
    Commits = 0,
    /// SysLog records (`zos_axiom::SysRecord`, 88 bytes each).
    SysLog = 1,
}

/// Copies whole records of `stream` from sequence `cursor` on into `buffer`
/// (at most 64 KiB a call), through the Audit capability `audit`. Returns
/// (records copied, the next cursor, records the ring overwrote before they
/// were read: the copy then starts at the oldest kept).
pub fn axiom_read(
    audit: u64,
    stream: AxiomStream,
    cursor: u64,
    buffer: &mut [u8],
) -> Result<(u64, u64, u64), Error> {
    let r = call(
        Sys::AxiomRead,
        [
            audit,
            stream as u64,
            cursor,
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            0,
        ],
    )?;
    Ok((r.0[1], r.0[2], r.0[3]))
}

/// Writes the kernel's state hash into `hash`; returns how many commits it
/// covers (exactly the first that many).
pub fn axiom_state(audit: u64, hash: &mut [u8; 32]) -> Result<u64, Error> {
    Ok(call(
        Sys::AxiomState,
        [audit, hash.as_mut_ptr() as u64, 0, 0, 0, 0],
    )?
    .0[1])
}

/// Takes over printing the kernel log: the kernel stops writing the UART and
/// signals `notification` when log bytes arrive. Returns the current cursor.
pub fn log_bind(system: u64, notification: u64) -> Result<u64, Error> {
    Ok(call(Sys::LogBind, [system, notification, 0, 0, 0, 0])?.0[1])
}

pub fn debug_write(system: u64, bytes: &[u8]) -> Result<(), Error> {
    for chunk in bytes.chunks(4096) {
        call(
            Sys::DebugWrite,
            [system, chunk.as_ptr() as u64, chunk.len() as u64, 0, 0, 0],
        )?;
    }
    Ok(())
}
pub fn yield_now() {
    let _ = raw(Sys::Yield, [0; 6]);
}
pub fn process_exit(code: i64) -> ! {
    raw(Sys::ProcessExit, [code as u64, 0, 0, 0, 0, 0]);
    loop {
        core::hint::spin_loop();
    }
}
pub fn thread_exit() -> ! {
    raw(Sys::ThreadExit, [0; 6]);
    loop {
        core::hint::spin_loop();
    }
}
/// The kernel's monotonic clock in nanoseconds since boot. The first call
/// asks `Clock`, which also says how the kernel computes the time from a
/// counter user code can read (its value at boot and nanoseconds per count,
/// 32.32); later calls read that counter and use the same formula, so they
/// agree with the kernel to the nanosecond and cost no syscall (the VFS
/// stamps file times, the netstack every poll). Without such a counter
/// (scale 0, or the browser port) every call asks the kernel.
pub fn clock_ns() -> u64 {
    use core::sync::atomic::{AtomicU64, Ordering};
    static COUNTER_BASE: AtomicU64 = AtomicU64::new(0);
    static NS_PER_COUNT_Q32: AtomicU64 = AtomicU64::new(0);
    let scale = NS_PER_COUNT_Q32.load(Ordering::Acquire);
    if scale != 0 {
        if let Some(count) = crate::arch::counter() {
            let elapsed = count.wrapping_sub(COUNTER_BASE.load(Ordering::Relaxed));
            return ((elapsed as u128 * scale as u128) >> 32) as u64;
        }
    }
    let [_, now, base, scale, ..] = raw(Sys::Clock, [0; 6]).0;
    if scale != 0 && crate::arch::counter().is_some() {
        COUNTER_BASE.store(base, Ordering::Relaxed);
        NS_PER_COUNT_Q32.store(scale, Ordering::Release);
    }
    now
}
pub fn sleep_until(deadline_ns: u64) {
    let _ = call(Sys::SleepUntil, [deadline_ns, 0, 0, 0, 0, 0]);
}
/// Sleeps until `deadline_ns` unless interrupted first (`ThreadSuspend`, and
/// [`INTERRUPTIBLE`] set for the main thread); whether the deadline came.
pub fn sleep_until_interruptible(deadline_ns: u64) -> bool {
    call(Sys::SleepUntil, [deadline_ns, 0, 0, 0, 0, 0]).is_ok()
}
pub fn endpoint_create() -> Result<u64, Error> {
    Ok(call(Sys::EndpointCreate, [0; 6])?.0[1])
}
pub fn notification_create() -> Result<u64, Error> {
    Ok(call(Sys::NotificationCreate, [0; 6])?.0[1])
}
pub fn memory_create(size: u64) -> Result<u64, Error> {
    Ok(call(Sys::MemoryCreate, [size, 0, 0, 0, 0, 0])?.0[1])
}
/// A copy-on-write copy of Memory object `source` (`va` and `length`
/// unused), or of the pages process `source` (`SELF` or a capability) maps
/// at `[va, va + length)`: the frames are shared until either side writes.
pub fn memory_copy(source: u64, va: u64, length: u64) -> Result<u64, Error> {
    Ok(call(Sys::MemoryCopy, [source, va, length, 0, 0, 0])?.0[1])
}
/// A Memory object whose frames form one physical run (a DMA buffer); its
/// physical address is `memory_info(slot).1`.
pub fn memory_create_contiguous(size: u64) -> Result<u64, Error> {
    let flags = zos_abi::memory_flags::CONTIGUOUS;
    Ok(call(Sys::MemoryCreate, [size, flags, 0, 0, 0, 0])?.0[1])
}
/// Maps `pages` pages of `memory` from `first_page` at `va` in `process`.
pub fn memory_map(
    memory: u64,
    process: u64,
    va: u64,
    first_page: u64,
    pages: u64,
    flags: u64,
) -> Result<(), Error> {
    call(
        Sys::MemoryMap,
        [memory, process, va, first_page, pages, flags],
    )
    .map(|_| ())
}
/// (size in bytes, first physical page, 1 if a device range).
/// (size, first physical address, device?) of a Memory object.
pub fn memory_info(memory: u64) -> Result<(u64, u64, u64), Error> {
    let r = call(Sys::MemoryInfo, [memory, 0, 0, 0, 0, 0])?;
    Ok((r.0[1], r.0[2], r.0[3]))
}
/// Whether a Memory object's frames form one physical run (device regions do).
pub fn memory_is_contiguous(memory: u64) -> Result<bool, Error> {
    let r = call(Sys::MemoryInfo, [memory, 0, 0, 0, 0, 0])?;
    Ok(r.0[3] != 0 || r.0[4] != 0)
}
pub fn memory_unmap(process: u64, va: u64) -> Result<(), Error> {
    call(Sys::MemoryUnmap, [process, va, 0, 0, 0, 0]).map(|_| ())
}
pub fn cap_delete(slot: u64) -> Result<(), Error> {
    call(Sys::CapDelete, [slot, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn cap_copy(slot: u64, process: u64, dst: u64) -> Result<u64, Error> {
    Ok(call(Sys::CapCopy, [slot, process, dst, 0, 0, 0])?.0[1])
}
pub fn cap_mint(slot: u64, dst: u64, rights: u64, badge: u64) -> Result<u64, Error> {
    Ok(call(Sys::CapMint, [slot, dst, rights, badge, 0, 0])?.0[1])
}
/// Mints a capability with a new `badge` from the unbadged endpoint capability
/// in `slot` (READ needed) and watches the badge: once no capability carrying it
/// is left, anywhere, a receive on the endpoint returns a message labelled
/// [`NO_SENDERS`] with that badge (after the messages already queued).
pub fn cap_mint_watched(slot: u64, dst: u64, rights: u64, badge: u64) -> Result<u64, Error> {
    Ok(call(Sys::CapMintWatched, [slot, dst, rights, badge, 0, 0])?.0[1])
}
/// A new device Memory capability for `pages` pages from page `first` of the
/// device Memory in `slot` (a PCI BAR inside the bus's MMIO window), with the
/// same rights.
pub fn memory_slice(slot: u64, first: u64, pages: u64) -> Result<u64, Error> {
    Ok(call(Sys::MemorySlice, [slot, first, pages, 0, 0, 0])?.0[1])
}
pub fn cap_revoke(slot: u64) -> Result<u64, Error> {
    Ok(call(Sys::CapRevoke, [slot, 0, 0, 0, 0, 0])?.0[1])
}
/// (kind, rights, badge)
pub fn cap_info(slot: u64) -> Result<(u64, u64, u64), Error> {
    let r = call(Sys::CapInfo, [slot, 0, 0, 0, 0, 0])?;
    Ok((r.0[1], r.0[2], r.0[3]))
}
/// Returns (process slot, pid).
pub fn process_create(
    quota: u64,
    exit_notification: u64,
    exit_bits: u64,
    fault_endpoint: u64,
    fault_badge: u64,
) -> Result<(u64, u64), Error> {
    let r = call(
        Sys::ProcessCreate,
        [
            quota,
            exit_notification,
            exit_bits,
            fault_endpoint,
            fault_badge,
            0,
        ],
    )?;
    Ok((r.0[1], r.0[2]))
}
/// (state 0 alive / 1 exited / 2 killed, exit code, pid, fault address, fault pc)
pub fn process_status(process: u64) -> Result<[u64; 5], Error> {
    let r = call(Sys::ProcessStatus, [process, 0, 0, 0, 0, 0])?;
    Ok([r.0[1], r.0[2], r.0[3], r.0[4], r.0[5]])
}
/// Bytes of quota a live process uses and the timer ticks (10 ms) its
/// threads ran; `None` once it has ended.
pub fn process_usage(process: u64) -> Result<Option<(u64, u64)>, Error> {
    let r = call(Sys::ProcessStatus, [process, 0, 0, 0, 0, 0])?;
    Ok((r.0[1] == 0).then_some((r.0[6], r.0[2])))
}
pub fn process_kill(process: u64) -> Result<(), Error> {
    call(Sys::ProcessKill, [process, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn thread_create(
    process: u64,
    entry: u64,
    stack: u64,
    arg: u64,
    priority: u64,
) -> Result<u64, Error> {
    Ok(call(Sys::ThreadCreate, [process, entry, stack, arg, priority, 0])?.0[1])
}
pub fn thread_start(thread: u64) -> Result<(), Error> {
    call(Sys::ThreadStart, [thread, 0, 0, 0, 0, 0]).map(|_| ())
}
/// Stops a thread until [`thread_resume`]; its blocked wait, if any, ends
/// with `Interrupted` (a call a server holds only if it was
/// `CALL_INTERRUPTIBLE`; else the thread stops when the answer comes).
pub fn thread_suspend(thread: u64) -> Result<(), Error> {
    call(Sys::ThreadSuspend, [thread, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn thread_resume(thread: u64) -> Result<(), Error> {
    call(Sys::ThreadResume, [thread, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn set_ipc_buffer(va: u64) -> Result<(), Error> {
    call(Sys::SetIpcBuffer, [va, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn signal(notification: u64) -> Result<(), Error> {
    call(Sys::Signal, [notification, 0, 0, 0, 0, 0]).map(|_| ())
}
pub fn wait(notification: u64) -> Result<u64, Error> {
    Ok(call(Sys::Wait, [notification, 0, 0, 0, 0, 0])?.0[1])
}
pub fn poll(notification: u64) -> Result<u64, Error> {
    Ok(call(Sys::Poll, [notification, 0, 0, 0, 0, 0])?.0[1])
}
/// (free frames, total frames, quota left, live objects, syscalls, pid)
pub fn system_info() -> [u64; 6] {
    let r = raw(Sys::SystemInfo, [0; 6]);
    [r.0[1], r.0[2], r.0[3], r.0[4], r.0[5], r.0[6]]
}
/// What the kernel counted on one CPU since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Timer ticks (10 ms) that found it running a thread.
    pub busy_ticks: u64,
    /// Threads prepared to run on it after another (context switches).
    pub switches: u64,
    /// User faults (page faults and other exceptions) taken on it.
    pub faults: u64,
}
/// Online CPUs, kernel entries that waited for the kernel lock, and what
/// the kernel counted on CPU `cpu` (zeros for a CPU not online).
pub fn cpu_stats(cpu: u64) -> (u64, u64, CpuStats) {
    let r = raw(
        Sys::SystemInfo,
        [zos_abi::SYSTEM_INFO_CPUS, cpu, 0, 0, 0, 0],
    );
    let stats = CpuStats {
        busy_ticks: r.0[3],
        switches: r.0[4],
        faults: r.0[5],
    };
    (r.0[1], r.0[2], stats)
}
/// The CPUs online.
pub fn cpus_online() -> u64 {
    cpu_stats(0).0
}
/// How often each syscall number was called since boot (index: number;
/// the last entry also counts every larger, invalid, number).
pub fn syscall_counts() -> alloc::vec::Vec<u64> {
    let mut counts = alloc::vec::Vec::with_capacity(zos_abi::SYSCALL_COUNTS);
    while counts.len() < zos_abi::SYSCALL_COUNTS {
        let first = counts.len() as u64;
        let r = raw(
            Sys::SystemInfo,
            [zos_abi::SYSTEM_INFO_SYSCALLS, first, 0, 0, 0, 0],
        );
        let take = (zos_abi::SYSCALL_COUNTS - counts.len()).min(6);
        counts.extend_from_slice(&r.0[1..1 + take]);
    }
    counts
}
pub fn power_off(system: u64) -> Result<(), Error> {
    call(Sys::PowerOff, [system, 0, 0, 0, 0, 0]).map(|_| ())
}

/// A received or reply message: info, four words and the badge.
#[derive(Clone, Copy, Debug, Default)]
pub struct Msg {
    pub info: MessageInfo,
    pub words: [u64; 4],
    pub badge: u64,
}

fn msg_from(r: Regs) -> Msg {
    Msg {
        info: MessageInfo::decode(r.0[1]).unwrap_or_default(),
        words: [r.0[2], r.0[3], r.0[4], r.0[5]],
        badge: r.0[6],
    }
}

pub fn ipc_call(endpoint: u64, info: MessageInfo, words: [u64; 4]) -> Result<Msg, Error> {
    // The main thread's calls inside `posix::interruptible` may be interrupted
    // while the server holds them.
    let interruptible = INTERRUPTIBLE.load(core::sync::atomic::Ordering::SeqCst)
        && crate::thread::ipc_buffer() == zos_abi::layout::IPC_BUFFER;
    let flag = if interruptible {
        zos_abi::CALL_INTERRUPTIBLE
    } else {
        0
    };
    call(
        Sys::Call,
        [
            endpoint,
            info.encode() | flag,
            words[0],
            words[1],
            words[2],
            words[3],
        ],
    )
    .map(msg_from)
}
pub fn ipc_send(endpoint: u64, info: MessageInfo, words: [u64; 4]) -> Result<(), Error> {
    call(
        Sys::Send,
        [
            endpoint,
            info.encode(),
            words[0],
            words[1],
            words[2],
            words[3],
        ],
    )
    .map(|_| ())
}
pub fn ipc_recv(endpoint: u64) -> Result<Msg, Error> {
    call(Sys::Recv, [endpoint, 0, 0, 0, 0, 0]).map(msg_from)
}
pub fn ipc_reply(info: MessageInfo, words: [u64; 4]) -> Result<(), Error> {
    call(
        Sys::Reply,
        [info.encode(), words[0], words[1], words[2], words[3], 0],
    )
    .map(|_| ())
}
pub fn ipc_reply_recv(endpoint: u64, info: MessageInfo, words: [u64; 4]) -> Result<Msg, Error> {
    call(
        Sys::ReplyRecv,
        [
            endpoint,
            info.encode(),
            words[0],
            words[1],
            words[2],
            words[3],
        ],
    )
    .map(msg_from)
}

/// Copies a suspended thread's user registers (`zos_abi::registers`) into
/// `words`, or with `write` sets them from `words`. `BadState` while the
/// thread is not (yet) suspended: one another CPU runs stops on its way out.
pub fn thread_registers(
    thread: u64,
    words: &mut [u64; zos_abi::registers::USER_REGISTERS],
    write: bool,
) -> Result<(), Error> {
    let buffer = words.as_mut_ptr() as u64;
    call(
        Sys::ThreadRegisters,
        [thread, buffer, write as u64, 0, 0, 0],
    )
    .map(|_| ())
}

/// Lets `thread` run only on the CPUs of `cpus` (bit N: CPU N) that are online.
pub fn thread_set_affinity(thread: u64, cpus: u64) -> Result<(), Error> {
    call(Sys::ThreadSetAffinity, [thread, cpus, 0, 0, 0, 0]).map(|_| ())
}

/// Changes a thread's priority (not above the caller's).
pub fn thread_set_priority(thread: u64, priority: u64) -> Result<(), Error> {
    call(Sys::ThreadSetPriority, [thread, priority, 0, 0, 0, 0]).map(|_| ())
}
