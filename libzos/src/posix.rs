//! The POSIX layer: descriptors, processes, environment, time and terminals,
//! translated into capability IPC. A descriptor is a badged endpoint capability
//! of the server that owns the open handle (console, pipe, later files); the
//! process manager (init) spawns, waits and signals. Errors are POSIX errno
//! values in [`Errno`]. File-system calls (open, stat, mkdir, ...) are in
//! [`crate::fs`] and re-exported here.

use crate::ipc::{self, Received};
use crate::rt::start_info;
use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use zos_proto::errno::*;
use zos_proto::io::{HandleKind, IoRequest, IoResponse, Termios};
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::start::slots;

/// A POSIX error number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub fn name(self) -> &'static str {
        name(self.0)
    }
    pub fn describe(self) -> &'static str {
        describe(self.0)
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.describe(), self.name())
    }
}

pub type Result<T> = core::result::Result<T, Errno>;

pub use crate::fs::{
    chmod, chown, creat, fstat, fsync, ftruncate, link, lseek, lstat, mkdir, open, openat, pread,
    pwrite, read_dir, readlink, rename, rmdir, stat, symlink, truncate, umask, unlink,
};
pub type Fd = i32;
pub type Pid = u32;

pub(crate) fn ipc_errno(e: ipc::IpcError) -> Errno {
    match e {
        ipc::IpcError::Sys(s) if s.is(sys::SysError::PeerDied) => Errno(EIO),
        ipc::IpcError::Sys(s) if s.is(sys::SysError::InvalidCap) => Errno(EBADF),
        ipc::IpcError::Sys(s) if s.is(sys::SysError::Interrupted) => Errno(EINTR),
        ipc::IpcError::TooBig => Errno(E2BIG),
        _ => Errno(EIO),
    }
}

// ---- descriptors ------------------------------------------------------------------

struct Table {
    fds: BTreeMap<Fd, u64>,
    /// How many descriptors share each capability slot.
    users: BTreeMap<u64, u32>,
}

static FDS: Mutex<Option<Table>> = Mutex::new(None);

fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    let mut guard = FDS.lock();
    let table = guard.get_or_insert_with(|| {
        let mut table = Table {
            fds: BTreeMap::new(),
            users: BTreeMap::new(),
        };
        for (fd, slot) in &start_info().fds {
            table.fds.insert(*fd as Fd, *slot);
            *table.users.entry(*slot).or_insert(0) += 1;
        }
        table
    });
    f(table)
}

pub(crate) fn slot_of(fd: Fd) -> Result<u64> {
    with_table(|t| t.fds.get(&fd).copied()).ok_or(Errno(EBADF))
}

/// Takes descriptor `fd` out of the table without closing it: its capability
/// is the caller's from now on, and no `Close` goes to its server when the
/// descriptor would have been closed (at `exit`, for one). For capabilities
/// handed over as descriptors that are not I/O handles, such as a driver's
/// device capabilities and the endpoint it serves itself (a `Close` sent
/// there at exit waits for an answer nobody gives).
pub fn take_descriptor(fd: Fd) -> Result<u64> {
    with_table(|t| {
        let slot = t.fds.remove(&fd)?;
        let users = t.users.entry(slot).or_insert(1);
        *users = users.saturating_sub(1);
        if *users == 0 {
            t.users.remove(&slot);
        }
        Some(slot)
    })
    .ok_or(Errno(EBADF))
}

fn lowest_free(t: &Table, from: Fd) -> Fd {
    let mut fd = from;
    while t.fds.contains_key(&fd) {
        fd += 1;
    }
    fd
}

/// Descriptors a process may have open: 0 to `OPEN_MAX - 1` (`EMFILE` beyond).
pub const OPEN_MAX: Fd = zos_proto::proc::OPEN_MAX as Fd;

/// Fails with `EMFILE` when every descriptor below [`OPEN_MAX`] is in use.
pub fn check_fd_room() -> Result<()> {
    if with_table(|t| lowest_free(t, 0)) < OPEN_MAX {
        Ok(())
    } else {
        Err(Errno(EMFILE))
    }
}

/// Installs a capability as the lowest free descriptor; `EMFILE` when none is
/// left below [`OPEN_MAX`] (the capability is then the caller's to drop).
pub fn install(slot: u64) -> Result<Fd> {
    with_table(|t| {
        let fd = lowest_free(t, 0);
        if fd >= OPEN_MAX {
            return Err(Errno(EMFILE));
        }
        t.fds.insert(fd, slot);
        *t.users.entry(slot).or_insert(0) += 1;
        Ok(fd)
    })
}

/// Installs a handle capability just received; on `EMFILE` it is dropped (its
/// server hears that no capability of it is left).
pub(crate) fn install_or_drop(slot: u64) -> Result<Fd> {
    install(slot).inspect_err(|_| {
        let _ = sys::cap_delete(slot);
    })
}

pub(crate) fn io_call(fd: Fd, request: &IoRequest) -> Result<Received> {
    let slot = slot_of(fd)?;
    ipc::call(slot, request, &[]).map_err(ipc_errno)
}

/// Whether a `read` of `fd` would answer now (`poll`'s `POLLIN`). Handles
/// whose server cannot tell count as ready.
pub fn readable(fd: Fd) -> Result<bool> {
    if let Some(ready) = crate::pipe::readable(slot_of(fd)?) {
        return Ok(ready);
    }
    let reply = io_call(fd, &IoRequest::Readable)?;
    Ok(!matches!(
        reply.decode::<IoResponse>(),
        Some(IoResponse::Err(EAGAIN))
    ))
}

/// What [`watch`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    /// The events ready now (`zos_proto::watch::events`): those asked for,
    /// plus `POLLERR`/`POLLHUP`.
    pub ready: u16,
    /// Whether the server keeps the capability and signals it on a change
    /// (false: it cannot watch, look again later).
    pub armed: bool,
}

/// `poll` of one descriptor: which of `events` it has now. When none is
/// ready and `notify` is a capability to a notification (moved to the
/// server, see `zos_proto::watch`), the server signals it once when one
/// becomes ready. A server that cannot watch is asked `Readable` (and
/// counts as writable); a dead one is `POLLHUP | POLLERR`.
pub fn watch(fd: Fd, events: u16, notify: Option<u64>) -> Result<Watched> {
    use zos_proto::watch::{answer, events::*, fires};
    let drop_notify = || {
        if let Some(cap) = notify {
            let _ = sys::cap_delete(cap);
        }
    };
    let slot = slot_of(fd).inspect_err(|_| drop_notify())?;
    // A pipe end with a ring knows without a message, unless it must wait.
    if let Some(ready) = crate::pipe::ready(slot) {
        if fires(events, ready) || notify.is_none() {
            drop_notify();
            return Ok(Watched {
                ready: answer(events, ready),
                armed: false,
            });
        }
    }
    let caps: Vec<u64> = notify.into_iter().collect();
    let reply = match ipc::call(slot, &IoRequest::Watch { events }, &caps) {
        Ok(reply) => reply,
        Err(_) => {
            drop_notify();
            return Ok(Watched {
                ready: POLLHUP | POLLERR,
                armed: false,
            });
        }
    };
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ready(ready)) => Ok(Watched {
            ready: answer(events, ready),
            armed: notify.is_some() && !fires(events, ready),
        }),
        _ => {
            // An old server: the capability was not kept.
            let readable = events & POLLIN != 0 && readable(fd).unwrap_or(true);
            Ok(Watched {
                ready: (if readable { POLLIN } else { 0 }) | (events & POLLOUT),
                armed: false,
            })
        }
    }
}

// ---- calls a signal interrupts (EINTR) ------------------------------------------------

/// Whether the calling thread is the process's main thread (the one signals
/// interrupt; its IPC buffer is at the fixed address).
fn on_main_thread() -> bool {
    crate::thread::ipc_buffer() == crate::abi::layout::IPC_BUFFER
}

/// Runs `f`, a call that may wait indefinitely (a read of a terminal, a
/// sleep), so that a signal with a handler interrupts it: its blocked
/// system call then fails with `Interrupted` (EINTR) instead of being made
/// again. Only the main thread's calls are interrupted.
pub fn interruptible<R>(f: impl FnOnce() -> R) -> R {
    if !on_main_thread() {
        return f();
    }
    sys::INTERRUPTIBLE.store(true, Ordering::SeqCst);
    let result = f();
    sys::INTERRUPTIBLE.store(false, Ordering::SeqCst);
    result
}

/// Interrupts the main thread's blocked call for a signal that arrived on
/// another thread (the signal or timer thread): the thread is suspended and
/// resumed, which ends a blocked wait (and an interruptible call a server
/// holds) with `Interrupted`; [`sys::SIGNAL_PENDING`] tells it that this
/// one is for a signal (EINTR) and makes an interruptible call it had not
/// yet made fail at once. Until the main thread took that, the suspension
/// is repeated a few times (it may have been between the check and the
/// call); a thread busy elsewhere runs the handler at its next system call.
pub fn interrupt_main() {
    if on_main_thread() {
        return;
    }
    sys::SIGNAL_PENDING.store(true, Ordering::SeqCst);
    for _ in 0..INTERRUPT_TRIES {
        // Outside an interruptible call there is nothing to interrupt: the
        // handler runs when the call in progress returns.
        if !sys::INTERRUPTIBLE.load(Ordering::SeqCst) {
            return;
        }
        if sys::thread_suspend(slots::MAIN_THREAD).is_ok() {
            let _ = sys::thread_resume(slots::MAIN_THREAD);
        }
        // On one CPU the main thread takes the flag only once it runs.
        sys::yield_now();
        if !sys::SIGNAL_PENDING.load(Ordering::SeqCst) {
            return;
        }
        sys::sleep_until(sys::clock_ns() + INTERRUPT_RETRY_NS);
    }
}

/// How often, and how far apart, [`interrupt_main`] suspends the main thread.
const INTERRUPT_TRIES: u32 = 10;
const INTERRUPT_RETRY_NS: u64 = 2_000_000;

pub fn read(fd: Fd, buffer: &mut [u8]) -> Result<usize> {
    let slot = slot_of(fd)?;
    if let Some(result) = interruptible(|| crate::pipe::read(slot, buffer)) {
        return result;
    }
    if buffer.len() > crate::fs::SHARED_THRESHOLD {
        if let Some(result) = crate::fs::read_shared(slot_of(fd)?, buffer, None) {
            return result;
        }
    }
    let max = buffer.len().min(zos_proto::MAX_IO_CHUNK) as u32;
    // Files answer at once; terminals, ptys and sockets may wait for input.
    let input = crate::fs::input_kind(slot_of(fd)?);
    if input == crate::fs::InputKind::Terminal && !crate::fs::is_pty_master(slot_of(fd)?) {
        return crate::job_control::read_terminal(fd, buffer);
    }
    let request = IoRequest::Read { max };
    let reply = match input {
        crate::fs::InputKind::Immediate => io_call(fd, &request)?,
        _ => interruptible(|| io_call(fd, &request))?,
    };
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Data(data)) => {
            let n = data.len().min(buffer.len());
            buffer[..n].copy_from_slice(&data[..n]);
            Ok(n)
        }
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn write(fd: Fd, data: &[u8]) -> Result<usize> {
    write_maybe_waiting(fd, data, true)
}

/// [`write`] for a descriptor in `O_NONBLOCK` mode: a pipe end answers what
/// fits now or EAGAIN instead of waiting for room (BusyBox's hush writes a
/// here-document into its pipe this way and forks a writer only for what
/// did not fit); other handles write as [`write`] does.
pub fn write_nonblocking(fd: Fd, data: &[u8]) -> Result<usize> {
    write_maybe_waiting(fd, data, false)
}

fn write_maybe_waiting(fd: Fd, data: &[u8], wait: bool) -> Result<usize> {
    let slot = slot_of(fd)?;
    let piped = if wait {
        crate::pipe::write(slot, data)
    } else {
        crate::pipe::write_nonblocking(slot, data)
    };
    let result = match piped {
        Some(result) => result,
        None => write_message(fd, slot, data),
    };
    if result == Err(Errno(EPIPE)) && !sigpipe_ignored() {
        // Default action of SIGPIPE: the process ends by that signal.
        let _ = kill(getpid() as i32, zos_proto::proc::signal::SIGPIPE);
    }
    result
}

fn write_message(fd: Fd, slot: u64, data: &[u8]) -> Result<usize> {
    if data.len() > crate::fs::SHARED_THRESHOLD {
        if let Some(result) = crate::fs::write_shared(slot, data, None) {
            return result;
        }
    }
    let chunk = &data[..data.len().min(zos_proto::MAX_IO_CHUNK)];
    let reply = io_call(fd, &IoRequest::Write { data: chunk })?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Written(n)) => Ok(n as usize),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

// ---- SIGPIPE disposition (added for the shell) ----------------------------------

static SIGPIPE_IGNORED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// `signal(SIGPIPE, SIG_IGN)` or back to the default: while ignored, a write
/// to a pipe nobody reads fails with `EPIPE` instead of ending the process.
/// Per process; children start with the default. The shell needs it because
/// its builtins write into pipelines from the shell process itself.
pub fn ignore_sigpipe(ignore: bool) {
    SIGPIPE_IGNORED.store(ignore, core::sync::atomic::Ordering::Relaxed);
}

fn sigpipe_ignored() -> bool {
    SIGPIPE_IGNORED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Writes everything (looping over short writes).
pub fn write_all(fd: Fd, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        let n = write(fd, data)?;
        if n == 0 {
            return Err(Errno(EIO));
        }
        data = &data[n..];
    }
    Ok(())
}

pub fn close(fd: Fd) -> Result<()> {
    let slot = with_table(|t| {
        let slot = t.fds.remove(&fd)?;
        let users = t.users.entry(slot).or_insert(1);
        *users -= 1;
        let last = *users == 0;
        if last {
            t.users.remove(&slot);
        }
        Some((slot, last))
    });
    match slot {
        None => Err(Errno(EBADF)),
        Some((slot, true)) if vfork_keeps(slot) => Ok(()),
        Some((slot, true)) => {
            release_slot(slot);
            Ok(())
        }
        Some((_, false)) => Ok(()),
    }
}

/// The last descriptor of a handle capability is gone: forget what was
/// known about it (unmapping a pipe ring), tell its server and drop it.
/// A VFS file opened here is parked when there is room (`Close`, the
/// capability kept for the next `open`: `crate::fs::park`); otherwise it
/// needs no `Close`: the VFS closes it when the kernel reports its
/// capability gone (`NO_SENDERS`). Nor does a terminal, whose capability a
/// fork child may share (`crate::fs::forget`).
fn release_slot(slot: u64) {
    let handle = crate::fs::parkable(slot);
    let (closes_silently, pipe) = crate::fs::forget(slot);
    crate::pipe::release(pipe);
    if handle.is_some_and(|id| crate::fs::park(slot, id)) {
        return;
    }
    if !closes_silently {
        let _ = ipc::call(slot, &IoRequest::Close, &[]);
    }
    let _ = sys::cap_delete(slot);
}

pub fn dup(fd: Fd) -> Result<Fd> {
    let slot = slot_of(fd)?;
    install(slot)
}

pub fn dup2(old: Fd, new: Fd) -> Result<Fd> {
    let slot = slot_of(old)?;
    if old == new {
        return Ok(new);
    }
    if !(0..OPEN_MAX).contains(&new) {
        return Err(Errno(EBADF));
    }
    let _ = close(new);
    with_table(|t| {
        t.fds.insert(new, slot);
        *t.users.entry(slot).or_insert(0) += 1;
    });
    Ok(new)
}

// ---- vfork ------------------------------------------------------------------------

/// The parent's descriptor table while a vfork child runs on its stack
/// (`linux::vfork`): the child edits a copy; a capability the parent holds
/// is never closed by the child, and the parent's table comes back whole.
/// One entry per vfork level (a vfork child may vfork again).
type SavedFds = (BTreeMap<Fd, u64>, BTreeMap<u64, u32>, String);
static VFORK_SAVED: Mutex<Vec<SavedFds>> = Mutex::new(Vec::new());

/// Whether a vfork child's close must leave capability `slot` open (a
/// parent, at any level, still has it).
fn vfork_keeps(slot: u64) -> bool {
    VFORK_SAVED
        .lock()
        .iter()
        .any(|(_, users, _)| users.contains_key(&slot))
}

/// Starts a vfork child: keeps the parent's descriptor table (and working
/// directory) aside, on top of those of outer levels.
pub fn vfork_save_fds() -> Result<()> {
    let cwd = getcwd();
    let copy = with_table(|t| (t.fds.clone(), t.users.clone(), cwd));
    VFORK_SAVED.lock().push(copy);
    Ok(())
}

/// Ends a vfork child: capabilities only the child opened are closed, and
/// the parent's descriptor table is back.
pub fn vfork_restore_fds() {
    let Some((fds, users, cwd)) = VFORK_SAVED.lock().pop() else {
        return;
    };
    let child_only: Vec<u64> = with_table(|t| {
        t.users
            .keys()
            .filter(|s| !users.contains_key(s))
            .copied()
            .collect()
    });
    for slot in child_only {
        release_slot(slot);
    }
    with_table(|t| {
        t.fds = fds;
        t.users = users;
    });
    *CWD.lock() = Some(cwd);
}

/// Open descriptors, lowest first.
pub fn descriptors() -> Vec<Fd> {
    with_table(|t| t.fds.keys().copied().collect())
}

/// Every capability slot the descriptor table names (each once), for
/// `fork` to give the child a handle of its own in each.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn handle_slots() -> Vec<u64> {
    with_table(|t| t.users.keys().copied().collect())
}

/// A second handle to the open file behind capability `slot` (`fork`).
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn clone_handle_slot(slot: u64) -> Result<u64> {
    let reply = ipc::call(slot, &IoRequest::Clone, &[]).map_err(ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Cloned) => reply.caps.first().copied().ok_or(Errno(EIO)),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// A second handle (capability) to the same open file, for passing on.
fn clone_handle(fd: Fd) -> Result<u64> {
    let reply = io_call(fd, &IoRequest::Clone)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Cloned) => reply.caps.first().copied().ok_or(Errno(EIO)),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn pipe() -> Result<(Fd, Fd)> {
    let reply = proc_call(&ProcRequest::Pipe, &[])?;
    match (reply.decode::<ProcResponse>(), reply.caps.as_slice()) {
        (Some(ProcResponse::Attached), [read_end, write_end]) => {
            let write_slot = *write_end;
            let read = install_or_drop(*read_end).inspect_err(|_| {
                let _ = sys::cap_delete(write_slot);
            })?;
            match install_or_drop(write_slot) {
                Ok(write) => Ok((read, write)),
                Err(e) => {
                    let _ = close(read);
                    Err(e)
                }
            }
        }
        (Some(ProcResponse::Err(e)), _) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn isatty(fd: Fd) -> bool {
    stat_kind(fd) == Ok(HandleKind::Terminal)
}

pub fn stat_kind(fd: Fd) -> Result<HandleKind> {
    let reply = io_call(fd, &IoRequest::Stat)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Stat(stat)) => Ok(stat.kind),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn tcgetattr(fd: Fd) -> Result<Termios> {
    let reply = io_call(fd, &IoRequest::GetTermios)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Termios(t)) => Ok(t),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

fn io_ok(fd: Fd, request: &IoRequest) -> Result<()> {
    let reply = io_call(fd, request)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ok) => Ok(()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Changes the terminal's settings; a background job is stopped first
/// (SIGTTOU, `job_control`).
pub fn tcsetattr(fd: Fd, termios: Termios) -> Result<()> {
    crate::job_control::check(fd, crate::job_control::Access::Change)?;
    io_ok(fd, &IoRequest::SetTermios(termios))
}

/// Makes `pgid` the terminal's foreground process group; a background job
/// is stopped first (SIGTTOU).
pub fn tcsetpgrp(fd: Fd, pgid: Pid) -> Result<()> {
    crate::job_control::check(fd, crate::job_control::Access::Change)?;
    claim_terminal(fd, pgid)
}

/// [`tcsetpgrp`] without the background check, for what starts a session
/// on a terminal: a login shell claiming it, `TIOCSCTTY`, a foreground job
/// taking it at start.
pub fn claim_terminal(fd: Fd, pgid: Pid) -> Result<()> {
    io_ok(fd, &IoRequest::SetForeground { pgid })
}

/// The terminal's foreground process group (0: none set yet).
pub fn tcgetpgrp(fd: Fd) -> Result<Pid> {
    let reply = io_call(fd, &IoRequest::GetForeground)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Foreground(pgid)) => Ok(pgid),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

// ---- processes ------------------------------------------------------------------

pub(crate) fn proc_call(request: &ProcRequest, caps: &[u64]) -> Result<Received> {
    ipc::call(slots::PROC, request, caps).map_err(ipc_errno)
}

fn proc_ok(request: &ProcRequest) -> Result<()> {
    let reply = proc_call(request, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Ok) => Ok(()),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// What to do to the child's descriptors before it starts (posix_spawn file actions).
#[derive(Clone, Copy, Debug)]
pub enum FileAction {
    /// Child descriptor `to` refers to the parent's `from`.
    Dup2 { from: Fd, to: Fd },
    /// The child does not get descriptor `fd`.
    Close(Fd),
}

/// Capabilities one message carries: a spawn's descriptors beyond these
/// go to init first (`ProcRequest::StageFds`).
const CAPS_PER_MESSAGE: usize = 4;

/// Starts `path` with `argv` and `env`; the child inherits every descriptor
/// after `actions`. `pgid`: 0 = a new process group led by the child.
///
/// Init runs programs from the boot image (and their `#!` lines); a
/// symbolic link in the VFS to one of them runs it; a
/// program only in the VFS (on a disk) is run here if it is executable: an
/// ELF file is read and handed to init with the spawn (`StageImage`), a `#!`
/// script's interpreter (from the image) gets `[ARG] PATH ARGS…`. Any other
/// file in the VFS gives `ENOEXEC`.
pub fn spawn(
    path: &str,
    argv: &[&str],
    env: &[&str],
    actions: &[FileAction],
    pgid: Pid,
) -> Result<Pid> {
    spawn_job(path, argv, env, actions, pgid, Job::Command)
}

/// What a spawned process is to the shell that starts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// A command of a shell without job control (or any other program).
    Command,
    /// A job control shell's foreground job: it makes its group the
    /// terminal's foreground before its program runs (`job_control`).
    Foreground,
    /// A background job (`&`): init refuses it with EAGAIN before touching
    /// the process slots and memory it keeps for foreground commands (so
    /// `ps` and `kill` still run).
    Background,
    /// Not a new process: the program replaces the caller ([`exec`]).
    Exec,
}

/// `execve`: runs `path` in place of this process — under its pid, with its
/// parent, group, session, credentials and descriptors after `actions`
/// (close-on-exec ones are `FileAction::Close`) — and this program ends
/// (its other threads too). Returns only if the program could not be
/// started, with why.
pub fn exec(path: &str, argv: &[&str], env: &[&str], actions: &[FileAction]) -> Errno {
    match spawn_job(path, argv, env, actions, 0, Job::Exec) {
        Err(errno) => errno,
        // init answers an exec only when it failed.
        Ok(_) => Errno(EIO),
    }
}

/// [`spawn`] for a shell: `job` says what the process is to it.
pub fn spawn_job(
    path: &str,
    argv: &[&str],
    env: &[&str],
    actions: &[FileAction],
    pgid: Pid,
    job: Job,
) -> Result<Pid> {
    match spawn_image(path, argv, env, actions, pgid, job, None) {
        Err(Errno(ENOENT)) if crate::fs::vfs_available() => {
            // A link made at run time to a program of the boot image (the
            // applet links BusyBox's test suite makes): run what it names,
            // argv[0] unchanged.
            let target = crate::fs::final_target(path);
            if target != path {
                match spawn_image(&target, argv, env, actions, pgid, job, None) {
                    Err(Errno(ENOENT)) => {}
                    result => return result,
                }
            }
            let (interpreter, argument) = match vfs_script(path) {
                Err(Errno(ENOEXEC)) => {
                    stage_image(path)?;
                    return spawn_image(path, argv, env, actions, pgid, job, None);
                }
                other => other?,
            };
            let mut script_argv = alloc::vec![interpreter.as_str()];
            script_argv.extend(argument.as_deref());
            script_argv.push(path);
            script_argv.extend(argv.iter().skip(1));
            let name = path.rsplit('/').next();
            spawn_image(&interpreter, &script_argv, env, actions, pgid, job, name)
        }
        result => result,
    }
}

/// The `#!` line of an executable script in the VFS.
fn vfs_script(path: &str) -> Result<(String, Option<String>)> {
    let stat = crate::fs::stat(path)?;
    if !stat.is_file() {
        return Err(Errno(EACCES));
    }
    if stat.mode & 0o111 == 0 {
        return Err(Errno(EACCES));
    }
    let fd = crate::fs::open(path, crate::fs::O_RDONLY, 0)?;
    let mut head = [0u8; 256];
    let count = read(fd, &mut head);
    let _ = close(fd);
    let head = &head[..count?];
    let line = head
        .strip_prefix(b"#!")
        .and_then(|rest| rest.split(|b| *b == b'\n').next())
        .and_then(|line| core::str::from_utf8(line).ok())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .ok_or(Errno(ENOEXEC))?;
    Ok(match line.split_once([' ', '\t']) {
        Some((interpreter, argument)) => (
            String::from(interpreter),
            Some(String::from(argument.trim())).filter(|a| !a.is_empty()),
        ),
        None => (String::from(line), None),
    })
}

fn spawn_image(
    path: &str,
    argv: &[&str],
    env: &[&str],
    actions: &[FileAction],
    pgid: Pid,
    job: Job,
    name: Option<&str>,
) -> Result<Pid> {
    let mut child_fds: BTreeMap<Fd, Fd> = descriptors().into_iter().map(|fd| (fd, fd)).collect();
    for action in actions {
        match *action {
            FileAction::Dup2 { from, to } => {
                slot_of(from)?;
                child_fds.insert(to, from);
            }
            FileAction::Close(fd) => {
                child_fds.remove(&fd);
            }
        }
    }
    let cwd = getcwd();
    let mut env = env.to_vec();
    let umask = crate::fs::umask_value();
    let umask_var = format!("ZOS_UMASK={umask:03o}");
    if umask != crate::fs::DEFAULT_UMASK {
        env.retain(|e| !e.starts_with("ZOS_UMASK="));
        env.push(&umask_var);
    }
    let cpus_var = crate::affinity::env_entry();
    if let Some(cpus) = cpus_var.as_deref() {
        env.retain(|e| !e.starts_with("ZOS_CPUS="));
        env.push(cpus);
    }
    let bytes: usize = argv.iter().chain(env.iter()).map(|s| s.len() + 1).sum();
    if bytes > zos_proto::proc::ARG_MAX {
        return Err(Errno(E2BIG));
    }
    // One handle per open file description: descriptors naming one
    // capability here (made by `dup`) share one in the child too.
    let mut handles: Vec<ChildHandle> = Vec::new();
    for (child_fd, parent_fd) in child_fds
        .iter()
        .filter(|(fd, _)| (0..OPEN_MAX).contains(*fd))
    {
        let parent_slot = slot_of(*parent_fd).unwrap_or(u64::MAX);
        if let Some(handle) = handles.iter_mut().find(|h| h.parent_slot == parent_slot) {
            handle.fds.push(*child_fd as u32);
            continue;
        }
        match clone_handle(*parent_fd) {
            Ok(cap) => handles.push(ChildHandle {
                parent_slot,
                cap,
                fds: alloc::vec![*child_fd as u32],
            }),
            Err(e) => {
                drop_caps(handles.iter().map(|h| h.cap));
                return Err(e);
            }
        }
    }
    // The first four travel with the request, the rest are staged first.
    let staged = handles.split_off(handles.len().min(CAPS_PER_MESSAGE));
    if let Err(e) = stage_fds(&staged) {
        drop_caps(handles.iter().map(|h| h.cap));
        return Err(e);
    }
    let caps: Vec<u64> = handles.iter().map(|h| h.cap).collect();
    let fds = ChildHandle::descriptors(&handles);
    let request = ProcRequest::Spawn {
        path,
        argv: argv.to_vec(),
        env,
        cwd: &cwd,
        fds,
        pgid,
        foreground: job != Job::Background,
        take_terminal: job == Job::Foreground,
        exec: job == Job::Exec,
        name,
    };
    let reply = match ipc::encode_vec(&request) {
        Ok(_) => proc_call(&request, &caps),
        // Too long for one message: the request travels in shared memory.
        Err(_) => match stage_spawn(&request) {
            Ok(()) => proc_call(&ProcRequest::SpawnStaged, &caps),
            Err(e) => {
                drop_caps(caps.iter().copied());
                if !staged.is_empty() {
                    // What init holds for this spawn must not go to the next.
                    let _ = stage_fds_clear();
                }
                Err(e)
            }
        },
    };
    match reply.as_ref().ok().and_then(|r| r.decode::<ProcResponse>()) {
        Some(ProcResponse::Spawned { pid }) => Ok(pid),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => match reply {
            Err(e) => Err(e),
            Ok(_) => Err(Errno(EIO)),
        },
    }
}

/// Where a long spawn request is written before init reads it.
const STAGE_VA: u64 = 0x0000_2300_0000_0000;

/// Closes handles cloned for a child that will not start, so their servers
/// (a pipe's readers waiting for EOF) learn at once.
fn drop_caps(caps: impl IntoIterator<Item = u64>) {
    for cap in caps {
        let _ = ipc::call(cap, &IoRequest::Close, &[]);
        let _ = sys::cap_delete(cap);
    }
}

/// A handle a child is given: a clone of this process's capability
/// `parent_slot`, for child descriptors `fds`.
struct ChildHandle {
    parent_slot: u64,
    cap: u64,
    fds: Vec<u32>,
}

impl ChildHandle {
    /// Each descriptor with the index of its handle among `handles`.
    fn descriptors(handles: &[ChildHandle]) -> Vec<(u32, u8)> {
        let each = handles.iter().enumerate();
        each.flat_map(|(index, h)| h.fds.iter().map(move |&fd| (fd, index as u8)))
            .collect()
    }
}

/// Drops the descriptors init holds for this process's next spawn.
fn stage_fds_clear() -> Result<()> {
    let request = ProcRequest::StageFds {
        fds: Vec::new(),
        first: true,
    };
    proc_call(&request, &[]).map(|_| ())
}

/// Hands init the descriptors of the next spawn beyond a message's four,
/// four per message; on an error every handle not yet with init is closed
/// (init drops what it holds at the next spawn's first `StageFds`, or with
/// the request).
fn stage_fds(handles: &[ChildHandle]) -> Result<()> {
    for (index, chunk) in handles.chunks(CAPS_PER_MESSAGE).enumerate() {
        let request = ProcRequest::StageFds {
            fds: ChildHandle::descriptors(chunk),
            first: index == 0,
        };
        let caps: Vec<u64> = chunk.iter().map(|h| h.cap).collect();
        let failed = match proc_call(&request, &caps) {
            Ok(reply) => match reply.decode::<ProcResponse>() {
                Some(ProcResponse::Ok) => None,
                Some(ProcResponse::Err(e)) => Some(Errno(e)),
                _ => Some(Errno(EIO)),
            },
            Err(e) => Some(e),
        };
        if let Some(errno) = failed {
            let rest = handles.get((index + 1) * CAPS_PER_MESSAGE..).unwrap_or(&[]);
            drop_caps(rest.iter().map(|h| h.cap));
            return Err(errno);
        }
    }
    Ok(())
}

/// Hands init a spawn request too long for a message, in a Memory object.
fn stage_spawn(request: &ProcRequest) -> Result<()> {
    let bytes = zos_proto::encode_vec(request).ok_or(Errno(E2BIG))?;
    let length = bytes.len() as u32;
    let fill = |out: &mut [u8]| {
        out.copy_from_slice(&bytes);
        Ok(())
    };
    stage_with_init(
        u64::from(length),
        STAGE_VA,
        fill,
        &ProcRequest::StageSpawn { length },
    )
}

/// Where a program read from the VFS is written before init reads it.
const IMAGE_VA: u64 = 0x0000_2380_0000_0000;

/// Reads the executable ELF file `path` from the VFS into a Memory object and
/// gives it to init for this process's next spawn. `ENOEXEC` if it is not an
/// ELF file, `EACCES` without execute permission.
fn stage_image(path: &str) -> Result<()> {
    let stat = crate::fs::stat(path)?;
    if !stat.is_file() || stat.mode & 0o111 == 0 {
        return Err(Errno(EACCES));
    }
    if stat.size < 4 || stat.size > zos_proto::proc::IMAGE_MAX {
        return Err(Errno(ENOEXEC));
    }
    let length = stat.size;
    let fill = |image: &mut [u8]| read_whole(path, image);
    stage_with_init(length, IMAGE_VA, fill, &ProcRequest::StageImage { length })
}

/// Gives init `length` bytes in a new Memory object, filled by `fill` through
/// a writable mapping at `va` (unmapped again before the call), with
/// `request`: the capability moves to init with the message.
fn stage_with_init(
    length: u64,
    va: u64,
    fill: impl FnOnce(&mut [u8]) -> Result<()>,
    request: &ProcRequest,
) -> Result<()> {
    let pages = length.div_ceil(4096);
    let memory = sys::memory_create(pages * 4096).map_err(|_| Errno(ENOMEM))?;
    let filled = sys::memory_map(
        memory,
        sys::SELF,
        va,
        0,
        pages,
        crate::abi::map_flags::WRITE,
    )
    .map_err(|_| Errno(ENOMEM))
    .and_then(|()| {
        // SAFETY: `pages` pages were just mapped writable at `va`; the
        // slice covers `length` bytes of them and is dropped before the unmap.
        let bytes = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, length as usize) };
        let result = fill(bytes);
        let _ = sys::memory_unmap(sys::SELF, va);
        result
    });
    if let Err(e) = filled {
        let _ = sys::cap_delete(memory);
        return Err(e);
    }
    let reply = proc_call(request, &[memory]);
    match reply.as_ref().ok().and_then(|r| r.decode::<ProcResponse>()) {
        Some(ProcResponse::Ok) => Ok(()),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => {
            let _ = sys::cap_delete(memory);
            Err(reply.err().unwrap_or(Errno(EIO)))
        }
    }
}

/// Fills `buf` from the start of file `path`; `ENOEXEC` unless it is ELF.
fn read_whole(path: &str, buf: &mut [u8]) -> Result<()> {
    let fd = crate::fs::open(path, crate::fs::O_RDONLY, 0)?;
    let mut done = 0;
    let result = loop {
        if done == buf.len() {
            break Ok(());
        }
        match read(fd, &mut buf[done..]) {
            Ok(0) => break Err(Errno(EIO)),
            Ok(n) => done += n,
            Err(e) => break Err(e),
        }
    };
    let _ = close(fd);
    result?;
    if !buf.starts_with(b"\x7fELF") {
        return Err(Errno(ENOEXEC));
    }
    Ok(())
}

/// Waits for a child; `Ok(None)` with `nohang` when none has ended yet.
/// The status is a POSIX wait status (see [`exit_code`], [`term_signal`]).
pub fn waitpid(pid: i32, nohang: bool) -> Result<Option<(Pid, i32)>> {
    wait_reporting(pid, nohang, 0)
}

/// [`waitpid`] that also answers a child's stop or continuation
/// (`zos_proto::proc::wait::UNTRACED`, `CONTINUED`): its status then says so
/// (`wait::stop_signal`, `wait::CONTINUED_STATUS`) and the child stays.
pub fn wait_reporting(pid: i32, nohang: bool, report: u32) -> Result<Option<(Pid, i32)>> {
    let request = ProcRequest::Wait {
        pid,
        nohang,
        report,
    };
    let reply = interruptible(|| proc_call(&request, &[]))?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Waited { pid, status }) => Ok(Some((pid, status))),
        Some(ProcResponse::NotYet) => Ok(None),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Exit code of a normal exit, or `None` if killed by a signal.
pub fn exit_code(status: i32) -> Option<i32> {
    (status & 0x7f == 0).then_some((status >> 8) & 0xff)
}

/// The signal that ended the process, if one did (not for a stopped or
/// continued status).
pub fn term_signal(status: i32) -> Option<u32> {
    (status & 0x7f != 0 && status & 0x7f != 0x7f).then_some((status & 0x7f) as u32)
}

/// The shell's `$?` for a wait status: the exit code, or 128 + signal.
pub fn status_code(status: i32) -> i32 {
    match term_signal(status) {
        Some(signal) => 128 + signal as i32,
        None => exit_code(status).unwrap_or(1),
    }
}

pub fn kill(pid: i32, signal: u32) -> Result<()> {
    proc_ok(&ProcRequest::Kill { pid, signal })
}

/// Sends `signal` to process group `pgid`, a terminal's foreground group
/// (0: no group, nothing to do).
pub fn kill_group(pgid: u32, signal: u32) -> Result<()> {
    match i32::try_from(pgid) {
        Ok(0) => Ok(()),
        Ok(group) => kill(-group, signal),
        Err(_) => Err(Errno(ESRCH)),
    }
}

pub fn setpgid(pid: Pid, pgid: Pid) -> Result<()> {
    proc_ok(&ProcRequest::SetPgid { pid, pgid })?;
    if pid == 0 || pid == getpid() {
        crate::job_control::note_own_group(if pgid == 0 { getpid() } else { pgid });
    }
    Ok(())
}

/// `setsid`: this process leads a new session and process group (`EPERM`
/// when it leads a group already); returns the session id, its pid.
pub fn setsid() -> Result<Pid> {
    proc_ok(&ProcRequest::SetSid)?;
    let pid = getpid();
    crate::job_control::note_own_group(pid);
    Ok(pid)
}

fn ids() -> Result<(Pid, Pid, Pid)> {
    let reply = proc_call(&ProcRequest::Ids, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Ids { pid, ppid, pgid }) => Ok((pid, ppid, pgid)),
        _ => Err(Errno(EIO)),
    }
}

/// A fork child's pid (0: not a fork child; the start-up page, copied
/// from the parent, names the parent's).
static FORK_PID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

pub fn getpid() -> Pid {
    match FORK_PID.load(Ordering::Relaxed) {
        0 => {}
        pid => return pid,
    }
    match start_info().pid {
        0 => ids().map_or(0, |i| i.0),
        pid => pid,
    }
}

pub fn getppid() -> Pid {
    ids().map_or(0, |i| i.1)
}

pub fn getpgrp() -> Pid {
    let pgid = ids().map_or(0, |i| i.2);
    crate::job_control::note_own_group(pgid);
    pgid
}

/// Ends the process with `code`. Its descriptors close with it, without a
/// `Close` each: every handle capability is minted watched, so once the
/// kernel has destroyed this process's capability table each server gets
/// `NO_SENDERS` for every handle of which this process held the last copy
/// and closes it as `Close` would (pipe readers see end of file, sockets
/// close). A handle still shared with another process stays open for that
/// one, where an explicit `Close` would have closed it for both.
pub fn exit(code: i32) -> ! {
    sys::process_exit(code as i64)
}

/// A process as `ps` shows it.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub state: char,
    pub name: String,
    /// Effective user id.
    pub uid: u32,
}

/// Every process, asked from init a message-sized page at a time.
pub fn processes() -> Result<Vec<Process>> {
    let mut all: Vec<Process> = Vec::new();
    loop {
        let after = all.last().map_or(0, |p| p.pid);
        let reply = proc_call(&ProcRequest::List { after }, &[])?;
        match reply.decode::<ProcResponse>() {
            Some(ProcResponse::List(list)) if list.is_empty() => return Ok(all),
            Some(ProcResponse::List(list)) => all.extend(list.into_iter().map(|p| Process {
                pid: p.pid,
                ppid: p.ppid,
                pgid: p.pgid,
                state: p.state,
                name: p.name.to_string(),
                uid: p.uid,
            })),
            Some(ProcResponse::Err(e)) => return Err(Errno(e)),
            _ => return Err(Errno(EIO)),
        }
    }
}

/// A service as `svc` shows it.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub state: String,
    pub pid: Pid,
    pub restarts: u32,
}

pub fn services() -> Result<Vec<Service>> {
    let reply = proc_call(&ProcRequest::Services, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Services(list)) => Ok(list
            .into_iter()
            .map(|s| Service {
                name: s.name.to_string(),
                state: s.state.to_string(),
                pid: s.pid,
                restarts: s.restarts,
            })
            .collect()),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn system_info() -> Result<zos_proto::proc::SystemInfo> {
    let reply = proc_call(&ProcRequest::SystemInfo, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::SystemInfo(info)) => Ok(info),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn power_off() -> Result<()> {
    proc_ok(&ProcRequest::PowerOff)
}

pub fn reboot() -> Result<()> {
    proc_ok(&ProcRequest::Reboot)
}

// ---- environment, directory, time -------------------------------------------------

static ENV: Mutex<Option<Vec<(String, String)>>> = Mutex::new(None);
static CWD: Mutex<Option<String>> = Mutex::new(None);

fn with_env<R>(f: impl FnOnce(&mut Vec<(String, String)>) -> R) -> R {
    let mut guard = ENV.lock();
    let env = guard.get_or_insert_with(|| {
        start_info()
            .env
            .iter()
            .filter_map(|e| {
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    });
    f(env)
}

/// The program's arguments.
pub fn args() -> &'static [String] {
    &start_info().argv
}

pub fn getenv(key: &str) -> Option<String> {
    with_env(|env| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
}

pub fn setenv(key: &str, value: &str) {
    with_env(|env| match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    })
}

pub fn unsetenv(key: &str) {
    with_env(|env| env.retain(|(k, _)| k != key))
}

/// Every `KEY=value`, in order of definition.
pub fn environment() -> Vec<String> {
    with_env(|env| env.iter().map(|(k, v)| alloc::format!("{k}={v}")).collect())
}

pub fn getcwd() -> String {
    CWD.lock()
        .get_or_insert_with(|| {
            let cwd = &start_info().cwd;
            if cwd.is_empty() {
                "/".to_string()
            } else {
                cwd.clone()
            }
        })
        .clone()
}

/// Changes the working directory: the VFS checks that `path` is a directory
/// and answers its normalised path. Without a VFS service (test programs run
/// by `init.run`) the path is only normalised.
pub fn chdir(path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Errno(ENOENT));
    }
    if crate::fs::vfs_available() {
        let normal = crate::fs::resolve_directory(path)?;
        *CWD.lock() = Some(normal);
        return Ok(());
    }
    let base = getcwd();
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        alloc::format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut normal = String::from("/");
    normal.push_str(&parts.join("/"));
    *CWD.lock() = Some(normal);
    Ok(())
}

/// Monotonic nanoseconds since boot.
pub fn clock_ns() -> u64 {
    sys::clock_ns()
}

/// Real time minus monotonic time, as last asked of init (nanoseconds).
static REALTIME_OFFSET: AtomicU64 = AtomicU64::new(0);
/// The monotonic time of that question (0: not asked yet).
static REALTIME_ASKED_AT: AtomicU64 = AtomicU64::new(0);
/// How long a process trusts its copy of the offset: a clock set by
/// `date -s` elsewhere is seen within this time, and a program that reads
/// the clock in a loop costs init at most one request per period.
const REALTIME_REFRESH_NS: u64 = 1_000_000_000;

/// Now, in nanoseconds since the Unix epoch (UTC), from init's clock.
///
/// init keeps real time as an offset to the kernel's monotonic clock; a
/// process asks for it once and adds it to `clock_ns()` itself, asking again
/// at most once a second (so `date -s` elsewhere is seen within that second).
pub fn realtime_ns() -> Result<u64> {
    let now = sys::clock_ns();
    let asked_at = REALTIME_ASKED_AT.load(Ordering::Acquire);
    if asked_at != 0 && now.saturating_sub(asked_at) < REALTIME_REFRESH_NS {
        return Ok(now.saturating_add(REALTIME_OFFSET.load(Ordering::Acquire)));
    }
    let before = sys::clock_ns();
    let real = system_info()?.realtime_ns;
    let after = sys::clock_ns();
    // init read its clock somewhere between `before` and `after`.
    let midpoint = before + (after - before) / 2;
    REALTIME_OFFSET.store(real.saturating_sub(midpoint), Ordering::Release);
    REALTIME_ASKED_AT.store(after.max(1), Ordering::Release);
    Ok(real.saturating_add(after - midpoint))
}

/// Real time when init can tell it, else the monotonic clock (programs run
/// without a process manager, as by `init.run`, count from boot).
pub fn realtime_or_boot_ns() -> u64 {
    realtime_ns().unwrap_or_else(|_| clock_ns())
}

/// Sets the real-time clock (root only: `EPERM` otherwise).
pub fn set_realtime_ns(epoch_ns: u64) -> Result<()> {
    REALTIME_ASKED_AT.store(0, Ordering::Release);
    proc_ok(&ProcRequest::SetTime { epoch_ns })
}

// ---- credentials ------------------------------------------------------------------

pub use zos_proto::proc::Credentials;

/// The credentials of process `pid` (0: this one).
pub fn credentials_of(pid: Pid) -> Result<Credentials> {
    let reply = proc_call(&ProcRequest::Credentials { pid }, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Credentials(set)) => Ok(set),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// This process's credentials.
pub fn credentials() -> Result<Credentials> {
    credentials_of(0)
}

/// A capability to the service registered as `name` (badged with this
/// process's pid and credentials when the service asks for client badges).
pub fn proc_lookup(name: &str) -> Result<u64> {
    let reply = proc_call(&ProcRequest::Lookup { name }, &[])?;
    match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(cap)) => Ok(*cap),
        (Some(ProcResponse::Err(e)), _) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn getuid() -> u32 {
    credentials().map_or(0, |c| c.uid)
}

pub fn geteuid() -> u32 {
    credentials().map_or(0, |c| c.euid)
}

pub fn nanosleep(ns: u64) {
    sys::sleep_until(sys::clock_ns().saturating_add(ns));
}

// ---- signal handlers ------------------------------------------------------------------

/// What to do with a signal.
#[derive(Clone, Copy)]
pub enum SigAction {
    Default,
    Ignore,
    /// Runs on the process's signal thread, not on the interrupted thread.
    Handler(fn(u32)),
}

/// A signal handler.
pub type Handler = fn(u32);

/// Whether this process catches `signal` with a handler.
pub(crate) fn catches(signal: u32) -> bool {
    HANDLERS
        .lock()
        .get(signal as usize)
        .is_some_and(Option::is_some)
}

static HANDLERS: Mutex<[Option<Handler>; 64]> = Mutex::new([None; 64]);
static SIGNAL_NOTIFICATION: Mutex<Option<u64>> = Mutex::new(None);
/// Signals this program itself set to be ignored (bit N: signal N). Ones
/// ignored since before the program started are known only to init.
static IGNORED_HERE: AtomicU64 = AtomicU64::new(0);

/// Whether this program set `signal` to be ignored (`signal(…, Ignore)`).
pub(crate) fn ignores(signal: u32) -> bool {
    signal < 64 && IGNORED_HERE.load(Ordering::Relaxed) & (1 << signal) != 0
}

/// Held by a thread that acts for the program beside its main thread (the
/// signal thread, the interval timer's) while it acts, and by `fork`
/// across its snapshot: the child, where only the forking thread exists,
/// then never finds a lock such a thread held at the copy (a fork child
/// once slept for ever on its copy of `HANDLERS`, taken by the signal
/// thread for a SIGCHLD as the parent forked).
pub(crate) static HELPER_WORK: Mutex<()> = Mutex::new(());

fn signal_thread(notification: u64) {
    loop {
        let Ok(bits) = sys::wait(notification) else {
            return;
        };
        let _work = HELPER_WORK.lock();
        if bits & zos_proto::proc::FAULT_HELD != 0 {
            fault_held();
        }
        for signal in 1..64u32 {
            if bits & (1 << signal) != 0 {
                let handler = HANDLERS.lock()[signal as usize];
                if let Some(handler) = handler {
                    handler(signal);
                }
            }
        }
        // A poll in progress looks whether the signal is due (EINTR).
        crate::poll::interrupt();
    }
}

/// What a fault init holds for this process's handler does: a C program's
/// dispatcher sets it as it installs a handler (`linux::signal`). Kept as a
/// hook so programs without the dispatcher do not carry its signal tables.
static FAULT_HANDLER: Mutex<Option<fn()>> = Mutex::new(None);

/// Sets what a held fault does (the dispatcher's `note_fault`).
pub fn set_fault_handler(handler: fn()) {
    *FAULT_HANDLER.lock() = Some(handler);
}

/// init holds a fault of this process for its handler: a C program's main
/// thread goes to it; any other program has no handler that could run at
/// the faulting instruction and ends.
fn fault_held() {
    let handler = *FAULT_HANDLER.lock();
    match handler {
        Some(handler) => handler(),
        None => _ = fault_resume(false),
    }
}

/// Asks init for the fault it holds of this process (`FaultResume`): with
/// `deliver`, the faulting thread goes on (stopped where it faulted, if it
/// was suspended) and the answer is the signal, its `si_code` and the
/// address; without, init ends this process as killed by the signal.
pub fn fault_resume(deliver: bool) -> Result<(u32, u32, u64)> {
    let reply = proc_call(&ProcRequest::FaultResume { deliver }, &[])?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Fault {
            signal,
            code,
            address,
        }) => Ok((signal, code, address)),
        Some(ProcResponse::Ok) => Ok((0, 0, 0)),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// In a fork child (`linux::fork`): `pid` is this process's; the signal
/// thread and its notification were the parent's, so the caught signals are
/// asked for again (a new notification, a new thread). Ignored ones init
/// copied from the parent.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn fork_child_reset(pid: Pid) {
    FORK_PID.store(pid, Ordering::Relaxed);
    *SIGNAL_NOTIFICATION.lock() = None;
    let handlers = *HANDLERS.lock();
    for (number, handler) in handlers.iter().enumerate() {
        if let Some(handler) = handler {
            let _ = signal(number as u32, SigAction::Handler(*handler));
        }
    }
}

/// Sets the action for `signal` (sigaction-like). SIGKILL cannot be changed.
pub fn signal(signal: u32, action: SigAction) -> Result<()> {
    if signal == 0 || signal >= 64 || signal == zos_proto::proc::signal::SIGKILL {
        return Err(Errno(EINVAL));
    }
    let (code, handler) = match action {
        SigAction::Default => (0, None),
        SigAction::Ignore => (1, None),
        SigAction::Handler(f) => (2, Some(f)),
    };
    HANDLERS.lock()[signal as usize] = handler;
    match code {
        1 => IGNORED_HERE.fetch_or(1 << signal, Ordering::Relaxed),
        _ => IGNORED_HERE.fetch_and(!(1 << signal), Ordering::Relaxed),
    };
    let mut attach = Vec::new();
    if code == 2 {
        let mut notification = SIGNAL_NOTIFICATION.lock();
        if notification.is_none() {
            let created = sys::notification_create().map_err(|_| Errno(ENOMEM))?;
            let for_init = sys::cap_mint(
                created,
                sys::NONE,
                crate::abi::rights::WRITE | crate::abi::rights::GRANT,
                0,
            )
            .map_err(|_| Errno(ENOMEM))?;
            crate::thread::spawn(signal_thread, created, 100).map_err(|_| Errno(ENOMEM))?;
            *notification = Some(created);
            attach.push(for_init);
        }
    }
    let reply = proc_call(
        &ProcRequest::SignalAction {
            signal,
            action: code,
        },
        &attach,
    )?;
    match reply.decode::<ProcResponse>() {
        Some(ProcResponse::Ok) => Ok(()),
        Some(ProcResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}
