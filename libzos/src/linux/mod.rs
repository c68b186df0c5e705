//! The Linux-syscall dispatcher: `zos_linux_syscall(nr, a, b, c, d, e, f)`
//! gives a C program (musl built as the `aarch64_zos` or `x86_64_zos` arch, see
//! docs/porting.md) Linux system-call semantics over libzos's POSIX layer.
//!
//! musl reaches it through `__sysinfo` (AT_SYSINFO in the auxiliary vector,
//! which `zos-libc`'s start-up code sets). Numbers are the asm-generic ones
//! (as on AArch64); results are Linux's: a value, or `-errno`. A number with
//! no implementation returns `-ENOSYS` and is reported once per program and
//! number on the kernel log: `zos: lua: unsupported syscall 98 (futex)`.
//!
//! Pointers come from the calling program and point into its own address
//! space: a bad one faults that program (as it would fault on its own), never
//! anything else. Null pointers are `EFAULT`.

#[macro_use]
mod callee_saved;
mod deliver;
mod file;
mod fork;
mod itimer;
mod memory;
pub mod names;
mod net;
pub(crate) mod signal;
mod spawn;
mod tty;
mod ucontext;
mod vfork;

pub use fork::set_program_headers;

use crate::posix::{self, Errno};
use crate::rt::BackoffMutex as Mutex;
use alloc::collections::BTreeSet;
use alloc::string::String;
use zos_proto::errno::*;

type SysResult = Result<i64, Errno>;

/// The dispatcher (AT_SYSINFO). Runs with the thread pointer set to the IPC
/// buffer (libzos finds it there; musl keeps its own thread pointer in the
/// same register), then delivers signals that arrived meanwhile.
#[no_mangle]
pub extern "C" fn zos_linux_syscall(
    nr: i64,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    e: u64,
    f: u64,
) -> i64 {
    // First: until it ends, no signal redirects this thread (deliver.rs).
    let _runtime = deliver::InRuntime::enter();
    let musl_tp = crate::arch::raw_thread_pointer();
    loop {
        crate::arch::set_thread_pointer(crate::abi::layout::IPC_BUFFER);
        let result = dispatch(nr, [a, b, c, d, e, f]);
        if let Some(pid) = vfork::take_resume() {
            // A vfork child exec'd or exited: its parent returns from vfork.
            // (The raw form: on x86_64 the other also writes the IPC
            // buffer's self pointer at that address, inside musl's TLS.)
            crate::arch::set_raw_thread_pointer(musl_tp);
            vfork::resume(pid);
        }
        // The handlers run now: no call is to be interrupted for them.
        let deliver = signal::take_due();
        let interrupted = crate::sys::take_interrupted();
        crate::arch::set_raw_thread_pointer(musl_tp);
        deliver::run_when_returning(deliver);
        // A call a signal interrupted (nothing done) starts again when every
        // handler that ran asked for it (SA_RESTART), as on Linux.
        if result == Err(Errno(EINTR)) && interrupted && signal::all_restart(deliver) {
            continue;
        }
        return match result {
            Ok(value) => value,
            Err(Errno(errno)) => -i64::from(errno),
        };
    }
}

/// Runs `f` with the thread pointer set to the IPC buffer (for libzos calls
/// made from C-facing functions other than the dispatcher).
pub(crate) fn with_ipc_tp<R>(f: impl FnOnce() -> R) -> R {
    let _runtime = deliver::InRuntime::enter();
    let musl_tp = crate::arch::raw_thread_pointer();
    crate::arch::set_thread_pointer(crate::abi::layout::IPC_BUFFER);
    let result = f();
    crate::arch::set_raw_thread_pointer(musl_tp);
    result
}

fn dispatch(nr: i64, args: [u64; 6]) -> SysResult {
    let [a, b, c, d, e, f] = args;
    match nr {
        17 => file::getcwd(a, b),
        23 => file::dup(a as i32),
        24 => file::dup3(a as i32, b as i32, c as u32),
        25 => file::fcntl(a as i32, b as i32, c),
        29 => file::ioctl(a as i32, b, c),
        33 => file::mknodat(a as i32, b, c as u32, d),
        34 => file::mkdirat(a as i32, b, c as u32),
        35 => file::unlinkat(a as i32, b, c as u32),
        36 => file::symlinkat(a, b as i32, c),
        37 => file::linkat(a as i32, b, c as i32, d),
        38 | 276 => file::renameat(a as i32, b, c as i32, d),
        45 => file::truncate(a, b),
        46 => file::ftruncate(a as i32, b),
        48 | 439 => file::faccessat(a as i32, b, c as u32),
        49 => file::chdir(a),
        50 => file::fchdir(a as i32),
        52 => file::fchmod(a as i32, b as u32),
        53 => file::fchmodat(a as i32, b, c as u32),
        54 => file::fchownat(a as i32, b, c as u32, d as u32),
        55 => Ok(0),
        56 => file::openat(a as i32, b, c as u32, d as u32),
        57 => file::close(a as i32),
        59 => file::pipe2(a, b as u32),
        61 => file::getdents64(a as i32, b, c),
        62 => file::lseek(a as i32, b as i64, c as i32),
        63 => file::read(a as i32, b, c),
        64 => file::write(a as i32, b, c),
        65 => file::readv(a as i32, b, c),
        66 => file::writev(a as i32, b, c),
        67 => file::pread(a as i32, b, c, d),
        71 => file::sendfile(a as i32, b as i32, c, d),
        73 => file::ppoll(a, b, c),
        68 => file::pwrite(a as i32, b, c, d),
        78 => file::readlinkat(a as i32, b, c, d),
        79 => file::newfstatat(a as i32, b, c, d as u32),
        80 => file::fstat(a as i32, b),
        81 => crate::fs::sync().map(|_| 0),
        82 | 83 => posix::fsync(a as i32).map(|_| 0),
        88 => file::utimensat(a as i32, b, c, d as u32),
        93 | 94 if vfork::active() => vfork::exit(a as i32),
        93 | 94 => {
            memory::write_back_all();
            posix::exit(a as i32)
        }
        96 | 178 => Ok(i64::from(own_pid())),
        101 => time::nanosleep(a, b),
        102 => time::getitimer(a, b),
        103 => time::setitimer(a, b, c),
        113 => time::clock_gettime(a, b),
        114 => time::clock_getres(b),
        115 => time::clock_nanosleep(a, b as u32, c, d),
        122 => set_affinity(a as i32, b, c),
        123 => get_affinity(a as i32, b, c),
        124 => {
            crate::sys::yield_now();
            Ok(0)
        }
        129 => signal::kill(a as i32, b as u32),
        130 => signal::kill(posix::getpid() as i32, b as u32),
        131 => signal::kill(a as i32, c as u32),
        132 => deliver::sigaltstack(a, b),
        133 => signal::rt_sigsuspend(a, b),
        134 => signal::rt_sigaction(a as u32, b, c),
        135 => signal::rt_sigprocmask(a as u32, b, c),
        153 => time::times(a),
        154 if vfork::active() && vfork::is_child(a as u32) => {
            vfork::setpgid(b as u32);
            Ok(0)
        }
        154 => posix::setpgid(a as u32, b as u32).map(|_| 0),
        155 | 156 => Ok(i64::from(posix::getpgrp())),
        157 => setsid(),
        160 => uname(a),
        163 | 164 => resource_limit(a as u32, if nr == 163 { b } else { 0 }),
        165 => zero_fill(b, 144),
        166 => Ok(i64::from(crate::fs::umask(a as u32 & 0o777))),
        167 => Ok(0),
        169 => time::gettimeofday(a),
        172 => Ok(i64::from(own_pid())),
        179 => sysinfo(a),
        198 => net::socket(a as i32, b as i32, c as i32),
        199 => net::socketpair(a as i32),
        200 => net::bind(a as i32, b, c),
        201 => net::listen(a as i32, b as i32),
        202 => net::accept4(a as i32, b, c, 0),
        203 => net::connect(a as i32, b, c),
        204 => net::getsockname(a as i32, b, c),
        205 => net::getpeername(a as i32, b, c),
        206 => net::sendto(a as i32, b, c, d as u32, e, f),
        207 => net::recvfrom(a as i32, b, c, d as u32, e, f),
        208 => net::setsockopt(a as i32, b as i32, c as i32, d, e),
        209 => net::getsockopt(a as i32, b as i32, c as i32, d, e),
        210 => net::shutdown(a as i32, b as i32),
        211 => net::sendmsg(a as i32, b, c as u32),
        212 => net::recvmsg(a as i32, b, c as u32),
        // A vfork child's parent is the process it runs in.
        173 if vfork::active() => Ok(i64::from(posix::getpid())),
        173 => Ok(i64::from(posix::getppid())),
        174..=177 => Ok(0),
        // clone(SIGCHLD, 0) is musl's fork; threads are not there yet.
        220 if a == u64::from(zos_proto::proc::signal::SIGCHLD) && b == 0 => fork::fork(),
        214 => memory::brk(a),
        215 => memory::munmap(a, b),
        216 => memory::mremap(a, b, c, d as u32),
        221 if vfork::active() => vfork::execve(a, b, c),
        221 => spawn::execve(a, b, c),
        222 => memory::mmap(a, b, c as u32, d as u32, e as i32, f),
        226 => memory::mprotect(a, b, c as u32),
        227 => memory::msync(a, b, c as u32),
        233 => Ok(0),
        242 => net::accept4(a as i32, b, c, d as u32),
        260 => spawn::wait4(a as i32, b, c as u32, d),
        261 => resource_limit(b as u32, e),
        278 => random(a, b),
        _ => Err(unsupported(nr)),
    }
}

/// Numbers already reported as unsupported.
static REPORTED: Mutex<BTreeSet<i64>> = Mutex::new(BTreeSet::new());

/// Reports an unsupported call once per number: `zos: PROG: unsupported
/// syscall N (name)` on the kernel log. Returns `ENOSYS`.
fn unsupported(nr: i64) -> Errno {
    if REPORTED.lock().insert(nr) {
        let program = posix::args()
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .unwrap_or("?");
        crate::dprintln!(
            "zos: {program}: unsupported syscall {nr} ({})",
            names::name(nr)
        );
    }
    Errno(ENOSYS)
}

// ---- the caller's memory ----------------------------------------------------------

/// Longest path accepted (Linux's PATH_MAX).
const PATH_MAX: usize = 4096;

/// The NUL-terminated string at `ptr`.
fn c_str(ptr: u64) -> Result<&'static str, Errno> {
    c_str_within(ptr, PATH_MAX, Errno(ENAMETOOLONG))
}

/// The NUL-terminated string at `ptr`, shorter than `limit` bytes (else
/// `too_long`): paths have PATH_MAX, program arguments and environment
/// strings the whole argument space (`spawn::strings`).
fn c_str_within(ptr: u64, limit: usize, too_long: Errno) -> Result<&'static str, Errno> {
    core::str::from_utf8(c_bytes_within(ptr, limit, too_long)?).map_err(|_| Errno(EINVAL))
}

/// The bytes of the NUL-terminated string at `ptr` (see [`c_str_within`]).
fn c_bytes_within(ptr: u64, limit: usize, too_long: Errno) -> Result<&'static [u8], Errno> {
    if ptr == 0 {
        return Err(Errno(EFAULT));
    }
    let mut len = 0;
    // SAFETY: the caller passed a NUL-terminated string of its own memory; we
    // read at most `limit` bytes of it (see the module comment on pointers).
    while unsafe { *((ptr as usize + len) as *const u8) } != 0 {
        len += 1;
        if len >= limit {
            return Err(too_long);
        }
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    Ok(unsafe { core::slice::from_raw_parts(ptr as *const u8, len) })
}

/// `len` bytes of the caller's at `ptr`.
fn user_bytes(ptr: u64, len: u64) -> Result<&'static [u8], Errno> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr == 0 {
        return Err(Errno(EFAULT));
    }
    // SAFETY: the caller's own buffer of `len` bytes (module comment).
    Ok(unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) })
}

/// `len` writable bytes of the caller's at `ptr`.
fn user_bytes_mut(ptr: u64, len: u64) -> Result<&'static mut [u8], Errno> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr == 0 {
        return Err(Errno(EFAULT));
    }
    // SAFETY: the caller's own writable buffer of `len` bytes (module comment).
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr as *mut u8, len as usize) })
}

/// Writes `words` (little-endian u64) to the caller's memory at `ptr`.
fn put_words(ptr: u64, words: &[u64]) -> Result<(), Errno> {
    let out = user_bytes_mut(ptr, words.len() as u64 * 8)?;
    for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Ok(())
}

/// The little-endian u64 at `ptr`.
fn get_word(ptr: u64) -> Result<u64, Errno> {
    let bytes = user_bytes(ptr, 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    Ok(u64::from_le_bytes(word))
}

fn zero_fill(ptr: u64, len: u64) -> SysResult {
    if ptr != 0 {
        user_bytes_mut(ptr, len)?.fill(0);
    }
    Ok(0)
}

// ---- small calls ------------------------------------------------------------------

fn setsid() -> SysResult {
    let pid = posix::getpid();
    if vfork::active() {
        // The child's own group, made at its execve (not the parent's).
        vfork::setpgid(0);
        return Ok(i64::from(pid));
    }
    Ok(i64::from(posix::setsid()?))
}

/// `struct utsname`: six fields of 65 bytes.
fn uname(ptr: u64) -> SysResult {
    let out = user_bytes_mut(ptr, 6 * 65)?;
    out.fill(0);
    let hostname = hostname();
    let fields = [
        "Zero OS",
        hostname.as_str(),
        "0.1.0",
        "zos",
        crate::arch::MACHINE,
        "(none)",
    ];
    for (i, field) in fields.iter().enumerate() {
        let bytes = &field.as_bytes()[..field.len().min(64)];
        out[i * 65..i * 65 + bytes.len()].copy_from_slice(bytes);
    }
    Ok(0)
}

fn hostname() -> String {
    let mut name = [0u8; 64];
    let read = crate::fs::open("/etc/hostname", crate::fs::O_RDONLY, 0).and_then(|fd| {
        let n = posix::read(fd, &mut name);
        let _ = posix::close(fd);
        n
    });
    match read {
        Ok(n) if n > 0 => String::from_utf8_lossy(&name[..n]).trim().into(),
        _ => "zos".into(),
    }
}

/// getrlimit/prlimit64: what exists is unlimited, except descriptors
/// ([`posix::OPEN_MAX`]). Setting is accepted and ignored.
fn resource_limit(resource: u32, old: u64) -> SysResult {
    const RLIMIT_NOFILE: u32 = 7;
    const INFINITY: u64 = u64::MAX;
    if old != 0 {
        let value = if resource == RLIMIT_NOFILE {
            posix::OPEN_MAX as u64
        } else {
            INFINITY
        };
        put_words(old, &[value, value])?;
    }
    Ok(0)
}

/// The caller's pid: a vfork child's provisional one (`vfork`).
fn own_pid() -> posix::Pid {
    vfork::provisional_pid().unwrap_or_else(posix::getpid)
}

/// Whether `pid` names the caller (0 or its own pid).
fn is_self(pid: i32) -> bool {
    pid == 0 || pid == posix::getpid() as i32
}

/// sched_getaffinity (a mask of 8 bytes, bit N for CPU N): the caller's
/// own mask (`crate::affinity`); another process's is not known here, so
/// it reads as the online CPUs. Returns the bytes written, as the raw call
/// does.
fn get_affinity(pid: i32, size: u64, mask: u64) -> SysResult {
    if pid < 0 {
        return Err(Errno(ESRCH));
    }
    if size < 8 {
        return Err(Errno(EINVAL));
    }
    let cpus = if is_self(pid) {
        crate::affinity::get()
    } else {
        crate::affinity::set_other(pid as u32, 0)?
    };
    put_words(mask, &[cpus])?;
    Ok(8)
}

/// sched_setaffinity: the kernel pins every thread of the process (through
/// init for another process: EPERM for someone else's, ESRCH for none);
/// programs a process starts inherit its mask. EINVAL for a mask of no
/// online CPU, as Linux.
fn set_affinity(pid: i32, size: u64, mask: u64) -> SysResult {
    if pid < 0 {
        return Err(Errno(ESRCH));
    }
    let bytes = user_bytes(mask, size.min(8))?;
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    let mask = u64::from_le_bytes(word);
    if is_self(pid) {
        crate::affinity::set(mask)?;
    } else if mask & crate::affinity::online() == 0 {
        return Err(Errno(EINVAL));
    } else {
        crate::affinity::set_other(pid as u32, mask)?;
    }
    Ok(0)
}

/// sysinfo: uptime, memory and the process count from init's system
/// information (`struct sysinfo` of 112 bytes, `mem_unit` 1; no swap, no
/// load averages yet).
fn sysinfo(ptr: u64) -> SysResult {
    let info = posix::system_info()?;
    let out = user_bytes_mut(ptr, 112)?;
    out.fill(0);
    let words = [
        info.uptime_ns / 1_000_000_000,
        0,
        0,
        0,
        info.total_bytes,
        info.free_bytes,
    ];
    for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    // procs (an unsigned short at 80, after the swap fields), mem_unit (an
    // unsigned int at 104, after totalhigh and freehigh).
    let procs = info.processes.min(u32::from(u16::MAX)) as u16;
    out[80..82].copy_from_slice(&procs.to_le_bytes());
    out[104..108].copy_from_slice(&1u32.to_le_bytes());
    Ok(0)
}

/// getrandom: from `/dev/urandom` (the VFS's ChaCha20 generator).
fn random(ptr: u64, len: u64) -> SysResult {
    let out = user_bytes_mut(ptr, len.min(1 << 20))?;
    let fd = crate::fs::open("/dev/urandom", crate::fs::O_RDONLY, 0)?;
    let mut done = 0;
    while done < out.len() {
        match posix::read(fd, &mut out[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => {
                let _ = posix::close(fd);
                return Err(e);
            }
        }
    }
    let _ = posix::close(fd);
    Ok(done as i64)
}

mod time {
    //! Clocks: CLOCK_MONOTONIC (and the boot-time and CPU-time clocks, which
    //! have no separate count yet) is the kernel's clock from boot;
    //! CLOCK_REALTIME, gettimeofday and time are real time from init's clock
    //! offset (see `posix::realtime_ns`, one request a second at most).

    use super::{get_word, put_words, SysResult};
    use crate::posix::{self, Errno};
    use zos_proto::errno::*;

    const CLOCK_REALTIME: u64 = 0;
    const CLOCK_REALTIME_COARSE: u64 = 5;
    const CLOCK_TAI: u64 = 11;
    const TIMER_ABSTIME: u32 = 1;

    fn timespec_ns(ptr: u64) -> Result<u64, Errno> {
        let seconds = get_word(ptr)?;
        let nanos = get_word(ptr + 8)?;
        if nanos >= 1_000_000_000 || seconds > (u64::MAX / 1_000_000_000) {
            return Err(Errno(EINVAL));
        }
        Ok(seconds * 1_000_000_000 + nanos)
    }

    /// The time of `clock`: real time for the real-time clocks, else from boot.
    fn clock_now_ns(clock: u64) -> u64 {
        match clock {
            CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI => posix::realtime_or_boot_ns(),
            _ => posix::clock_ns(),
        }
    }

    pub fn clock_gettime(clock: u64, ptr: u64) -> SysResult {
        let now = clock_now_ns(clock);
        put_words(ptr, &[now / 1_000_000_000, now % 1_000_000_000])?;
        Ok(0)
    }

    pub fn clock_getres(ptr: u64) -> SysResult {
        if ptr != 0 {
            put_words(ptr, &[0, 1])?;
        }
        Ok(0)
    }

    pub fn gettimeofday(ptr: u64) -> SysResult {
        if ptr != 0 {
            let now = posix::realtime_or_boot_ns();
            put_words(ptr, &[now / 1_000_000_000, (now % 1_000_000_000) / 1000])?;
        }
        Ok(0)
    }

    /// nanosleep: a signal with a handler ends it early with EINTR and
    /// the time left in `remaining`.
    pub fn nanosleep(request: u64, remaining: u64) -> SysResult {
        let deadline = posix::clock_ns().saturating_add(timespec_ns(request)?);
        if posix::interruptible(|| crate::sys::sleep_until_interruptible(deadline)) {
            return Ok(0);
        }
        if remaining != 0 {
            let left = deadline.saturating_sub(posix::clock_ns());
            put_words(remaining, &[left / 1_000_000_000, left % 1_000_000_000])?;
        }
        Err(Errno(EINTR))
    }

    pub fn clock_nanosleep(clock: u64, flags: u32, request: u64, _remaining: u64) -> SysResult {
        let ns = timespec_ns(request)?;
        if flags & TIMER_ABSTIME != 0 {
            // The kernel sleeps until a monotonic time: move a real-time
            // deadline onto that clock.
            let now = clock_now_ns(clock);
            let boot_now = posix::clock_ns();
            crate::sys::sleep_until(boot_now.saturating_add(ns.saturating_sub(now)));
        } else {
            posix::nanosleep(ns);
        }
        Ok(0)
    }

    const ITIMER_REAL: u64 = 0;

    /// (seconds, microseconds) of a duration.
    fn timeval(ns: u64) -> [u64; 2] {
        [ns / 1_000_000_000, (ns % 1_000_000_000) / 1000]
    }

    fn timeval_ns(ptr: u64) -> Result<u64, Errno> {
        let (seconds, micros) = (get_word(ptr)?, get_word(ptr + 8)?);
        if micros >= 1_000_000 || seconds > u64::MAX / 1_000_000_000 {
            return Err(Errno(EINVAL));
        }
        Ok(seconds * 1_000_000_000 + micros * 1000)
    }

    /// setitimer: ITIMER_REAL (what `alarm` uses) sends SIGALRM
    /// (`linux::itimer`); the CPU-time timers are not kept (ENOSYS).
    pub fn setitimer(which: u64, new: u64, old: u64) -> SysResult {
        if which != ITIMER_REAL {
            return Err(super::unsupported(103));
        }
        let (interval, value) = match new {
            0 => (0, 0),
            _ => (timeval_ns(new)?, timeval_ns(new + 16)?),
        };
        let (left, period) = super::itimer::set(value, interval)?;
        if old != 0 {
            let (p, l) = (timeval(period), timeval(left));
            put_words(old, &[p[0], p[1], l[0], l[1]])?;
        }
        Ok(0)
    }

    pub fn getitimer(which: u64, ptr: u64) -> SysResult {
        if which != ITIMER_REAL {
            return Err(super::unsupported(102));
        }
        let (left, period) = super::itimer::get();
        let (p, l) = (timeval(period), timeval(left));
        put_words(ptr, &[p[0], p[1], l[0], l[1]])?;
        Ok(0)
    }

    /// times(): no per-process CPU accounting yet; the return value is the
    /// clock in ticks of 100 Hz (sysconf(_SC_CLK_TCK)).
    pub fn times(ptr: u64) -> SysResult {
        if ptr != 0 {
            put_words(ptr, &[0, 0, 0, 0])?;
        }
        Ok((posix::clock_ns() / 10_000_000) as i64)
    }
}
