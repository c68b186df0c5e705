//! `vfork` without `fork`: "record until exec" (docs/porting.md).
//!
//! musl's `vfork` (ports/musl/overlay-ARCH/src/process/vfork.s, for
//! AArch64 and x86_64) branches to [`zos_vfork`], which keeps the caller's
//! callee-saved registers, stack pointer and return address and returns 0: the child runs on the parent's
//! stack, in the parent's memory, with its own copy of the descriptor table,
//! the per-descriptor state, the signal actions and mask, and the working
//! directory. Its `execve` becomes a spawn of the program with the child's
//! descriptors (close-on-exec ones left out) and process group; its `_exit`
//! leaves a zombie that only this process's `wait4` sees, under a pid of its
//! own above every real one. Either way the parent's tables come back and
//! `vfork` returns a second time, in the parent, with that pid.
//!
//! That is all POSIX allows a vfork child; what it changes in memory stays
//! (as with a real vfork). A vfork child may vfork again (BusyBox's hush
//! does for a here-document that does not fit its pipe): every level keeps
//! its registers and tables on a stack, up to [`MAX_DEPTH`] (then -1).
//!
//! The child has no pid until its `execve`, so its `getpid` answers a
//! provisional one ([`provisional_pid`]) that stands for "the process this
//! child becomes": `setpgid(0, getpid())` asks for a group of its own and
//! `tcsetpgrp(tty, getpid())` for that group to take the terminal, both
//! made at `execve` (a job control shell's child does exactly this: dash,
//! hush).

use super::spawn::strings;
use super::{c_str, SysResult};
use crate::posix::{self, Errno, FileAction, Pid};
use crate::rt::BackoffMutex as Mutex;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use zos_proto::errno::*;

/// How many vfork children are running on this process's stack, one inside
/// the other.
static DEPTH: AtomicU32 = AtomicU32::new(0);
/// The deepest nesting allowed.
const MAX_DEPTH: u32 = 8;
/// Registers `zos_vfork` kept for each level (`zos_vfork_regs` copied).
static SAVED_REGS: Mutex<Vec<[u64; REGS_WORDS]>> = Mutex::new(Vec::new());
/// Words `zos_vfork` keeps. AArch64: x19–x30, sp, d8–d15, padding;
/// x86_64: rbx, rbp, r12–r15, rsp (the caller's, return address popped),
/// the return address, MXCSR and the x87 control word (the rest unused).
const REGS_WORDS: usize = 22;
/// Where the child's `execve`/`_exit` sends the parent: the pid `vfork`
/// returns there (0: nothing pending).
static RESUME: AtomicI64 = AtomicI64::new(0);
/// The process group each level's child asked for with `setpgid` (`None`:
/// the parent's; `Some(0)`: a new group led by the child); the last is the
/// running child's.
static PGID: Mutex<Vec<Option<Pid>>> = Mutex::new(Vec::new());
/// The descriptor each level's child made its controlling terminal
/// (`TIOCSCTTY`): its process group becomes that terminal's foreground group
/// at `execve`.
static CONTROLLING: Mutex<Vec<Option<posix::Fd>>> = Mutex::new(Vec::new());
/// Children that `_exit`ed without `execve`: (pid, wait status).
static ZOMBIES: Mutex<Vec<(i32, i32)>> = Mutex::new(Vec::new());
/// The next pid for such a zombie (real pids stay far below).
static NEXT_ZOMBIE: AtomicU32 = AtomicU32::new(0x4000_0000);

/// Whether a vfork child is running.
pub fn active() -> bool {
    DEPTH.load(Ordering::SeqCst) > 0
}

/// Provisional pids of vfork children, one per level: above every real
/// pid, below the zombies' ([`NEXT_ZOMBIE`]).
const PROVISIONAL_BASE: u32 = 0x3FFF_0000;

/// The running vfork child's provisional pid (`None`: no child runs).
pub fn provisional_pid() -> Option<Pid> {
    match DEPTH.load(Ordering::SeqCst) {
        0 => None,
        depth => Some(PROVISIONAL_BASE + depth),
    }
}

/// Whether `pid` names the running vfork child itself (0, its provisional
/// pid, or — as before provisional pids — its parent's).
pub fn is_child(pid: Pid) -> bool {
    pid == 0 || Some(pid) == provisional_pid() || pid == posix::getpid()
}

/// The child's `tcsetpgrp(fd, pgid)`: for its own group (provisional pid, or
/// the group it asked for) the terminal is handed over at `execve`; any
/// other group takes it now. None when no child runs.
pub fn tcsetpgrp(fd: posix::Fd, pgid: Pid) -> Option<posix::Result<()>> {
    let own = provisional_pid()?;
    let asked = PGID.lock().last().copied().flatten();
    if pgid == own || (asked.is_some() && asked == Some(pgid)) {
        set_controlling_terminal(fd);
        return Some(Ok(()));
    }
    Some(posix::tcsetpgrp(fd, pgid))
}

/// Starts a child: called by [`zos_vfork`] with the registers kept.
/// Returns 0, or -1 when [`MAX_DEPTH`] children are already running.
#[no_mangle]
extern "C" fn zos_vfork_enter() -> i64 {
    super::with_ipc_tp(|| {
        if DEPTH.load(Ordering::SeqCst) >= MAX_DEPTH || posix::vfork_save_fds().is_err() {
            return -1;
        }
        SAVED_REGS.lock().push(kept_registers());
        super::file::vfork_save();
        super::signal::vfork_save();
        PGID.lock().push(None);
        CONTROLLING.lock().push(None);
        DEPTH.fetch_add(1, Ordering::SeqCst);
        0
    })
}

/// Ends the running child: its parent's tables come back; that parent's
/// `vfork` will return `pid`.
fn finish(pid: i64) {
    posix::vfork_restore_fds();
    super::file::vfork_restore();
    super::signal::vfork_restore();
    PGID.lock().pop();
    CONTROLLING.lock().pop();
    DEPTH.fetch_sub(1, Ordering::SeqCst);
    RESUME.store(pid, Ordering::SeqCst);
}

/// The registers `zos_vfork` just kept for this call.
fn kept_registers() -> [u64; REGS_WORDS] {
    #[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
    // SAFETY: `zos_vfork_regs` is written only by `zos_vfork` (just before
    // this, on this thread) and by `resume`; no one else runs meanwhile.
    unsafe {
        core::ptr::addr_of!(zos_vfork_regs).read()
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    [0; REGS_WORDS]
}

/// The pid to return to the parent if the child just ended (taken).
pub fn take_resume() -> Option<i64> {
    match RESUME.swap(0, Ordering::SeqCst) {
        0 => None,
        pid => Some(pid),
    }
}

/// The child's `ioctl(fd, TIOCSCTTY)`: remembered for its `execve`.
pub fn set_controlling_terminal(fd: posix::Fd) {
    if let Some(level) = CONTROLLING.lock().last_mut() {
        *level = Some(fd);
    }
}

/// The child's `setpgid(0 | own pid, pgid)`: remembered for its spawn
/// (its provisional pid, like 0, asks for a group of its own).
pub fn setpgid(pgid: Pid) {
    let pgid = if Some(pgid) == provisional_pid() {
        0
    } else {
        pgid
    };
    if let Some(level) = PGID.lock().last_mut() {
        *level = Some(pgid);
    }
}

/// The child's `execve`: the program starts as a new process with the
/// child's descriptors; on success the parent resumes. Errors go back to
/// the child, which usually `_exit`s.
pub fn execve(path: u64, argv: u64, envp: u64) -> SysResult {
    let path = c_str(path)?;
    let argv = strings(argv)?;
    let env = strings(envp)?;
    let (argv, env) = (super::spawn::as_strs(&argv), super::spawn::as_strs(&env));
    let actions: Vec<FileAction> = super::file::cloexec_fds()
        .into_iter()
        .map(FileAction::Close)
        .collect();
    let asked = PGID.lock().last().copied().flatten();
    let pgid = asked.unwrap_or_else(posix::getpgrp);
    // A child that took a terminal: the program makes its group the
    // foreground before it runs (then again below, on the descriptor the
    // child named, which the program may not have).
    let takes = CONTROLLING.lock().last().copied().flatten().is_some();
    let job = if takes {
        posix::Job::Foreground
    } else {
        posix::Job::Command
    };
    let pid = posix::spawn_job(path, &argv, &env, &actions, pgid, job)?;
    let controlling = CONTROLLING.lock().last_mut().and_then(Option::take);
    if let Some(fd) = controlling {
        // The child's TIOCSCTTY, made for it.
        let _ = posix::claim_terminal(fd, if pgid == 0 { pid } else { pgid });
    }
    finish(i64::from(pid));
    Ok(0)
}

/// The child's `_exit(code)`: a zombie the parent can wait for.
pub fn exit(code: i32) -> SysResult {
    let pid = NEXT_ZOMBIE.fetch_add(1, Ordering::SeqCst) as i32;
    ZOMBIES.lock().push((pid, (code & 0xff) << 8));
    finish(i64::from(pid));
    Ok(0)
}

/// A zombie of a child that never exec'd, for `wait4(pid)` (-1: any).
pub fn reap(pid: i32) -> Option<(i32, i32)> {
    let mut zombies = ZOMBIES.lock();
    let index = zombies.iter().position(|(z, _)| pid == -1 || *z == pid)?;
    Some(zombies.remove(index))
}

/// Whether `pid` names such a zombie (not yet reaped).
pub fn is_zombie(pid: i32) -> bool {
    ZOMBIES.lock().iter().any(|(z, _)| *z == pid)
}

/// Whether `wait4(pid)` can only mean a zombie: `ECHILD` otherwise.
pub fn only_zombie(pid: i32) -> Result<bool, Errno> {
    if pid >= 0x4000_0000 {
        return if is_zombie(pid) {
            Ok(true)
        } else {
            Err(Errno(ECHILD))
        };
    }
    Ok(false)
}

#[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
extern "C" {
    /// Returns from the `vfork` call kept by [`zos_vfork`] with `value`.
    fn zos_vfork_resume(value: i64) -> !;
    /// Where `zos_vfork` keeps the registers of the latest call, and
    /// `zos_vfork_resume` finds those it brings back.
    static mut zos_vfork_regs: [u64; REGS_WORDS];
}

/// Returns, in the parent, from `vfork` with `pid`. Call with the program's
/// own thread pointer in place and nothing held.
pub fn resume(pid: i64) -> ! {
    #[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
    // SAFETY: `zos_vfork` kept the registers of a `vfork` call whose frame
    // is still on the stack (the child never returns from it, as POSIX
    // requires of a vfork child); jumping there discards only dispatcher
    // frames, which own nothing (locks released, buffers dropped).
    unsafe {
        // The level that just ended: its registers go back in place (an
        // inner child's call may have overwritten them meanwhile).
        if let Some(regs) = SAVED_REGS.lock().pop() {
            core::ptr::addr_of_mut!(zos_vfork_regs).write(regs);
        }
        zos_vfork_resume(pid)
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    {
        let _ = pid;
        posix::exit(127)
    }
}

// zos_vfork: keeps x19–x30, sp and d8–d15, then asks zos_vfork_enter to start
// the child (x0 = 0 returns into it). zos_vfork_resume(value) brings them
// back and returns `value` from that same vfork call.
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".global zos_vfork",
    ".type zos_vfork,%function",
    "zos_vfork:",
    "adrp x16, zos_vfork_regs",
    "add x16, x16, :lo12:zos_vfork_regs",
    store_callee_saved!("x16"),
    "bl zos_vfork_enter",
    "adrp x16, zos_vfork_regs",
    "add x16, x16, :lo12:zos_vfork_regs",
    "ldr x30, [x16, #88]",
    "ret",
    ".size zos_vfork, .-zos_vfork",
    ".global zos_vfork_resume",
    ".type zos_vfork_resume,%function",
    "zos_vfork_resume:",
    "adrp x16, zos_vfork_regs",
    "add x16, x16, :lo12:zos_vfork_regs",
    load_callee_saved!("x16"),
    "ret",
    ".size zos_vfork_resume, .-zos_vfork_resume",
    ".bss",
    ".balign 16",
    ".global zos_vfork_regs",
    "zos_vfork_regs:",
    ".space 176",
    ".text",
);

// zos_vfork on x86_64: `call vfork` pushed the return address on the stack
// the child goes on using, so it is popped and kept with rbx, rbp, r12–r15,
// the caller's rsp, MXCSR and the x87 control word (the callee-saved state
// of the SysV ABI); zos_vfork_enter's result goes back to that address.
// zos_vfork_resume(value) brings them back and returns `value` there.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".global zos_vfork",
    ".type zos_vfork,@function",
    "zos_vfork:",
    "pop rcx",
    "lea rdx, [rip + zos_vfork_regs]",
    "mov [rdx], rbx",
    "mov [rdx + 8], rbp",
    "mov [rdx + 16], r12",
    "mov [rdx + 24], r13",
    "mov [rdx + 32], r14",
    "mov [rdx + 40], r15",
    "mov [rdx + 48], rsp",
    "mov [rdx + 56], rcx",
    "stmxcsr [rdx + 64]",
    "fnstcw [rdx + 72]",
    // rsp is the caller's again, 16-byte aligned as at its `call`.
    "call zos_vfork_enter",
    "lea rdx, [rip + zos_vfork_regs]",
    "jmp qword ptr [rdx + 56]",
    ".size zos_vfork, .-zos_vfork",
    ".global zos_vfork_resume",
    ".type zos_vfork_resume,@function",
    "zos_vfork_resume:",
    "lea rdx, [rip + zos_vfork_regs]",
    "mov rbx, [rdx]",
    "mov rbp, [rdx + 8]",
    "mov r12, [rdx + 16]",
    "mov r13, [rdx + 24]",
    "mov r14, [rdx + 32]",
    "mov r15, [rdx + 40]",
    "mov rsp, [rdx + 48]",
    "ldmxcsr [rdx + 64]",
    "fldcw [rdx + 72]",
    "mov rax, rdi",
    "jmp qword ptr [rdx + 56]",
    ".size zos_vfork_resume, .-zos_vfork_resume",
    ".bss",
    ".balign 16",
    ".global zos_vfork_regs",
    "zos_vfork_regs:",
    ".space 176",
    ".text",
);
