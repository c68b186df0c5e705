//! The POSIX file API over the VFS service: open/openat, positioned and bulk
//! I/O, seeking, stat, directory listing, and the namespace calls (mkdir,
//! unlink, rename, links, modes, owners, truncation, sync, chdir, umask).
//!
//! The VFS endpoint is looked up once from init (`Lookup { name: "vfs" }`) and
//! turned into a session capability that tells the VFS our pid (for
//! `/proc/self`). Relative paths travel with the working directory. An open
//! file is a descriptor like any other (`posix::read`, `write`, `close`, `dup`
//! and inheritance across `spawn` work unchanged). Reads and writes above
//! [`SHARED_THRESHOLD`] bytes on regular files go through a 64 KiB buffer the
//! process shares with the VFS, so only a byte count crosses IPC; sockets
//! take two more buffers of that size the same way ([`SOCKET_BUFFERS`]).

use crate::ipc::{self, IpcError, Received};
use crate::posix::{self, io_call, slot_of, Errno, Fd, Result};
use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use zos_proto::errno::*;
use zos_proto::fs::{FsRequest, FsResponse};
use zos_proto::io::{HandleKind, IoRequest, IoResponse};
use zos_proto::proc::{ProcRequest, ProcResponse};

pub use zos_proto::fs::flags::*;
pub use zos_proto::fs::mode::*;
pub use zos_proto::fs::{dirent_type, FileStat, FsStat};

/// `openat`'s "relative to the working directory".
pub const AT_FDCWD: Fd = -100;
/// Transfers larger than this use the shared buffer (regular files only).
pub const SHARED_THRESHOLD: usize = 2048;
/// Size of the buffer shared with the VFS.
pub const SHARED_SIZE: u64 = 64 * 1024;
/// Where the shared buffer is mapped in this process.
const SHARED_VA: u64 = zos_abi::layout::VFS_SHARED;
/// Where the buffer shared with socket servers is mapped.
const SOCKET_SHARED_VA: u64 = zos_abi::layout::SOCKET_SHARED;

static UMASK: AtomicU32 = AtomicU32::new(UMASK_UNSET);
/// `UMASK` before the first use: it then comes from `ZOS_UMASK` in the
/// environment (set by the parent's spawn when it differs from 022), so a
/// shell's `umask` reaches the programs it starts.
const UMASK_UNSET: u32 = u32::MAX;
/// The usual file creation mask.
pub const DEFAULT_UMASK: u32 = 0o022;
/// The session capability of the VFS, once known.
static VFS: Mutex<Option<u64>> = Mutex::new(None);
/// What this process knows about handle slots it opened or examined.
static SLOTS: Mutex<BTreeMap<u64, SlotInfo>> = Mutex::new(BTreeMap::new());
/// The shared buffer (its Memory capability); the lock also serialises its use.
static BUFFER: Mutex<Option<u64>> = Mutex::new(None);
/// The buffers shared with socket servers, as [`BUFFER`], one after the
/// other from `SOCKET_SHARED_VA`. A blocking socket read holds its buffer
/// while it waits, so a thread takes the first free one (`try_lock`) and
/// uses messages when both are busy. The first is attached to the socket's
/// handle itself, the second to a clone of it made on first use
/// (`SlotInfo::socket_clone`): a handle's buffer never changes, so a read
/// waiting in one thread and writes from another (`nc`) cannot mix.
static SOCKET_BUFFERS: [Mutex<Option<u64>>; 2] = [Mutex::new(None), Mutex::new(None)];
/// Closed VFS handles whose capabilities this process keeps, `(slot, id)`:
/// the next `open` asks the VFS to open its file into one of them, which
/// spares the VFS a capability to mint and the kernel one to delete
/// (docs/userland.md, "Parked handles"). A few are enough: files are
/// mostly opened and closed one at a time.
static PARKED: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
/// Most parked handles kept; past it a closed file's capability is dropped.
const MAX_PARKED: usize = 4;
/// `SlotInfo::socket_clone` when the clone could not be made or attached.
const NO_CLONE: u64 = u64::MAX;
/// The VFS's session token while the shared buffer serves as this process's
/// session buffer: held, never used; the VFS frees the buffer when it is gone
/// (this process ended). [`NO_TOKEN`] when there is none.
static SESSION_TOKEN: AtomicU64 = AtomicU64::new(NO_TOKEN);
const NO_TOKEN: u64 = u64::MAX;

#[derive(Clone, Default)]
struct SlotInfo {
    /// The absolute path it was opened with (for `openat`).
    path: Option<String>,
    /// Whether it is a regular file of the VFS; `None` until asked.
    regular: Option<bool>,
    /// Whether it is a socket taking bulk transfers; `None` until asked.
    socket: Option<bool>,
    /// Whether a read may wait for input (a terminal, pipe or socket: a
    /// signal interrupts it); `None` until asked.
    input: Option<InputKind>,
    /// A socket's second handle, with the second socket buffer attached
    /// ([`NO_CLONE`] if that failed); dropped with the slot.
    socket_clone: Option<u64>,
    /// Whether the shared buffer is attached to it (or serves it as this
    /// process's session buffer).
    shared: bool,
    /// A handle of the VFS's own that this process opened: its session
    /// buffer can serve it, and closing it needs no message (dropping the
    /// capability closes it in the VFS, through `NO_SENDERS`).
    opened_here: bool,
    /// The VFS's id of a handle this process opened whose capability never
    /// left it (0: none): closing it parks the handle for the next open
    /// ([`PARKED`]) instead of dropping the capability.
    handle: u64,
    /// Whether it is a pipe end with a ring (`crate::pipe`).
    pub(crate) pipe: crate::pipe::PipeState,
}

// ---- the VFS connection -------------------------------------------------------------

fn vfs_endpoint() -> Result<u64> {
    let mut guard = VFS.lock();
    if let Some(endpoint) = *guard {
        return Ok(endpoint);
    }
    let reply = posix::proc_call(&ProcRequest::Lookup { name: "vfs" }, &[])?;
    let endpoint = match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(cap)) => *cap,
        (Some(ProcResponse::Err(e)), _) => return Err(Errno(e)),
        _ => return Err(Errno(EIO)),
    };
    // init badged this capability with our pid and credentials: the VFS
    // learns who we are from the badge, never from a request field.
    let chosen = endpoint;
    *guard = Some(chosen);
    Ok(chosen)
}

/// Forgets the VFS capability, so the next request looks the VFS up again
/// and gets a badge with the credentials this process has now (after `login`
/// or `su` changed them).
pub fn reconnect() {
    if let Some(old) = VFS.lock().take() {
        let _ = sys::cap_delete(old);
    }
}

/// In a fork child (`linux::fork`): the VFS session capability (badged
/// with the parent's pid), the shared buffers and their attachments were
/// the parent's and are not in this process; each comes anew on first use.
/// The handles themselves are the child's own clones in the same slots.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn fork_child_reset() {
    *VFS.lock() = None;
    // The parent's parked capabilities are not in this process's table.
    PARKED.lock().clear();
    *BUFFER.lock() = None;
    for buffer in &SOCKET_BUFFERS {
        *buffer.lock() = None;
    }
    SESSION_TOKEN.store(NO_TOKEN, Ordering::Relaxed);
    for info in SLOTS.lock().values_mut() {
        info.shared = false;
        info.socket_clone = None;
        info.pipe = crate::pipe::PipeState::Unknown;
        // The clones in these slots have ids of their own, and their owner
        // is the parent: nothing here may be parked.
        info.handle = 0;
    }
}

/// Whether a VFS service is running.
pub fn vfs_available() -> bool {
    vfs_endpoint().is_ok()
}

fn fs_call(request: &FsRequest) -> Result<Received> {
    let endpoint = vfs_endpoint()?;
    ipc::call(endpoint, request, &[]).map_err(|e| match e {
        IpcError::TooBig => Errno(ENAMETOOLONG),
        other => posix::ipc_errno(other),
    })
}

fn fs_ok(request: &FsRequest) -> Result<()> {
    let reply = fs_call(request)?;
    match reply.decode::<FsResponse>() {
        Some(FsResponse::Ok) => Ok(()),
        Some(FsResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

fn fs_path(request: &FsRequest) -> Result<String> {
    let reply = fs_call(request)?;
    match reply.decode::<FsResponse>() {
        Some(FsResponse::Path(path)) => Ok(path.to_string()),
        Some(FsResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

fn fs_stat(request: &FsRequest) -> Result<FileStat> {
    let reply = fs_call(request)?;
    match reply.decode::<FsResponse>() {
        Some(FsResponse::Stat(stat)) => Ok(stat),
        Some(FsResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        let cwd = posix::getcwd();
        format!("{}/{path}", cwd.trim_end_matches('/'))
    }
}

/// Forgets what was known about a handle slot (its last descriptor closed):
/// whether the caller closes it by dropping the capability alone (a VFS
/// handle this process opened, or a terminal, whose capability a fork child
/// may share: an explicit `Close` would close it for both; the server
/// learns of the last one through `NO_SENDERS`) and its pipe ring, for the
/// caller to release.
pub(crate) fn forget(slot: u64) -> (bool, crate::pipe::PipeState) {
    let info = SLOTS.lock().remove(&slot);
    if let Some(clone) = info.as_ref().and_then(|info| info.socket_clone) {
        if clone != NO_CLONE {
            let _ = sys::cap_delete(clone);
        }
    }
    info.map_or((false, crate::pipe::PipeState::Unknown), |info| {
        let terminal = info.input == Some(InputKind::Terminal);
        (info.opened_here || terminal, info.pipe)
    })
}

/// The VFS handle id of `slot` if closing it may park it (see `SlotInfo::handle`).
pub(crate) fn parkable(slot: u64) -> Option<u64> {
    let handle = SLOTS.lock().get(&slot).map_or(0, |info| info.handle);
    (handle != 0).then_some(handle)
}

/// `slot`'s capability is being copied out of this process (a fork child
/// that could not get a clone): it may never be parked and reused.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn shared_out(slot: u64) {
    if let Some(info) = SLOTS.lock().get_mut(&slot) {
        info.handle = 0;
    }
}

/// Closes VFS handle `id` (capability `slot`, already forgotten) and keeps
/// the capability for a later `open`; false when there is no room or the
/// VFS did not close it (the caller then drops the capability).
pub(crate) fn park(slot: u64, id: u64) -> bool {
    if PARKED.lock().len() >= MAX_PARKED {
        return false;
    }
    let closed = ipc::call(slot, &IoRequest::Close, &[])
        .is_ok_and(|reply| reply.decode::<IoResponse>() == Some(IoResponse::Ok));
    let mut parked = PARKED.lock();
    if !closed || parked.len() >= MAX_PARKED {
        return false;
    }
    parked.push((slot, id));
    true
}

/// What is known of `slot` as a pipe end.
pub(crate) fn pipe_state(slot: u64) -> crate::pipe::PipeState {
    SLOTS
        .lock()
        .get(&slot)
        .map_or(crate::pipe::PipeState::Unknown, |info| info.pipe)
}

pub(crate) fn set_pipe_state(slot: u64, state: crate::pipe::PipeState) {
    SLOTS.lock().entry(slot).or_default().pipe = state;
}

// ---- opening ------------------------------------------------------------------------

/// Opens `path` (flags `O_*`; `mode` for a new file, masked by the umask).
pub fn open(path: &str, flags: u32, mode: u32) -> Result<Fd> {
    posix::check_fd_room()?;
    let mode = if flags & O_CREAT != 0 {
        mode & !umask_value() & 0o7777
    } else {
        0
    };
    let cwd = posix::getcwd();
    let parked = PARKED.lock().pop();
    let reply = fs_call(&FsRequest::Open {
        path,
        flags,
        mode,
        cwd: &cwd,
        reuse: parked.map_or(0, |(_, id)| id),
    })
    .inspect_err(|_| PARKED.lock().extend(parked))?;
    let response = reply.decode::<FsResponse>();
    // The parked handle now holds the file, or was passed over (the VFS
    // found it no longer ours: its capability is useless), or was not
    // looked at (an error, another server's file): then it stays parked.
    let slot = match (&response, parked) {
        (Some(FsResponse::Opened { reused: true, .. }), Some((slot, _))) => Some(slot),
        (Some(FsResponse::Opened { reused: false, .. }), Some((slot, _))) => {
            let _ = sys::cap_delete(slot);
            None
        }
        (_, Some(kept)) => {
            PARKED.lock().push(kept);
            None
        }
        (_, None) => None,
    };
    let slot = slot.or_else(|| reply.caps.first().copied());
    let info = match (response, slot) {
        (
            Some(FsResponse::Opened {
                regular,
                shared,
                handle,
                ..
            }),
            Some(_),
        ) => SlotInfo {
            path: Some(absolute(path)),
            regular: Some(regular),
            socket: Some(false),
            input: regular.then_some(InputKind::Immediate),
            socket_clone: None,
            // The VFS keys session buffers by pid, and a program that
            // `execve` started keeps its predecessor's pid: until the VFS has
            // seen the old token's NO_SENDERS it still answers `shared` for
            // the old image's buffer. Only a session this image attached
            // serves it; otherwise the buffer is attached anew (the VFS then
            // replaces the stale session, or the handle gets the buffer).
            shared: (shared && SESSION_TOKEN.load(Ordering::Relaxed) != NO_TOKEN)
                || (regular && share_session_buffer()),
            opened_here: true,
            handle,
            pipe: crate::pipe::PipeState::Messages,
        },
        (Some(FsResponse::Attached), Some(_)) => SlotInfo {
            path: Some(absolute(path)),
            pipe: crate::pipe::PipeState::Messages,
            ..SlotInfo::default()
        },
        (Some(FsResponse::Err(e)), _) => return Err(Errno(e)),
        _ => return Err(Errno(EIO)),
    };
    match slot {
        Some(slot) => {
            SLOTS.lock().insert(slot, info);
            posix::install_or_drop(slot).inspect_err(|_| {
                SLOTS.lock().remove(&slot);
            })
        }
        None => Err(Errno(EIO)),
    }
}

/// Opens `path` relative to the directory open as `dirfd` (or [`AT_FDCWD`]).
pub fn openat(dirfd: Fd, path: &str, flags: u32, mode: u32) -> Result<Fd> {
    open(&path_at(dirfd, path)?, flags, mode)
}

/// `path` as seen from the directory open as `dirfd` (the `*at` calls):
/// unchanged when absolute or with [`AT_FDCWD`]; `ENOTDIR` when `dirfd` was
/// not opened by path.
pub fn path_at(dirfd: Fd, path: &str) -> Result<String> {
    if path.starts_with('/') || dirfd == AT_FDCWD {
        return Ok(String::from(path));
    }
    let slot = slot_of(dirfd)?;
    let base = SLOTS.lock().get(&slot).and_then(|info| info.path.clone());
    match base {
        Some(base) => Ok(format!("{}/{path}", base.trim_end_matches('/'))),
        None => Err(Errno(ENOTDIR)),
    }
}

/// `creat`: create or truncate for writing.
pub fn creat(path: &str, mode: u32) -> Result<Fd> {
    open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
}

/// Sets the file creation mask; returns the previous one.
pub fn umask(mask: u32) -> u32 {
    let previous = umask_value();
    UMASK.store(mask & 0o777, Ordering::Relaxed);
    previous
}

pub(crate) fn umask_value() -> u32 {
    let value = UMASK.load(Ordering::Relaxed);
    if value != UMASK_UNSET {
        return value;
    }
    let inherited = posix::getenv("ZOS_UMASK")
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .map_or(DEFAULT_UMASK, |m| m & 0o777);
    UMASK.store(inherited, Ordering::Relaxed);
    inherited
}

// ---- reading and writing --------------------------------------------------------------

/// How a read of a handle answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// At once (a file, a device).
    Immediate,
    /// Perhaps only when input comes (a pipe, a socket): a signal
    /// interrupts the wait.
    Waits,
    /// A terminal: waits, and job control applies.
    Terminal,
}

/// Whether `slot` is a terminal (console or pseudo-terminal) handle: its
/// server keeps no state per handle beyond the open file they share, so a
/// fork child may share the capability itself instead of a clone of it
/// (`linux::fork`); asked once with `Stat`, then remembered.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn is_terminal(slot: u64) -> bool {
    input_kind(slot) == InputKind::Terminal
}

/// How a read of `slot` answers (asked once with `Stat`, then remembered).
pub(crate) fn input_kind(slot: u64) -> InputKind {
    if let Some(known) = SLOTS.lock().get(&slot).and_then(|info| info.input) {
        return known;
    }
    let kind =
        ipc::call(slot, &IoRequest::Stat, &[])
            .ok()
            .and_then(|r| match r.decode::<IoResponse>() {
                Some(IoResponse::Stat(stat)) => Some(stat.kind),
                _ => None,
            });
    let input = match kind {
        Some(HandleKind::Terminal) => InputKind::Terminal,
        Some(HandleKind::PipeRead | HandleKind::Socket) => InputKind::Waits,
        _ => InputKind::Immediate,
    };
    SLOTS.lock().entry(slot).or_default().input = Some(input);
    input
}

/// Whether `slot` is a pseudo-terminal master this process opened
/// (`/dev/ptmx`): its reads are not subject to job control.
pub(crate) fn is_pty_master(slot: u64) -> bool {
    SLOTS
        .lock()
        .get(&slot)
        .is_some_and(|info| info.path.as_deref() == Some("/dev/ptmx"))
}

/// Whether `slot` is a regular file of the VFS, a block device or a character
/// device (asked once, then remembered): these take bulk transfers through the
/// shared buffer (until their server refuses it, see `ensure_shared`).
fn is_regular(slot: u64) -> bool {
    if let Some(known) = SLOTS.lock().get(&slot).and_then(|info| info.regular) {
        return known;
    }
    let regular = matches!(
        ipc::call(slot, &IoRequest::Fstat, &[])
            .ok()
            .and_then(|r| match r.decode::<IoResponse>() {
                // Character devices too (`/dev/null`, `/dev/zero`): the VFS
                // serves them through the shared buffer like files; a server
                // that does not (a terminal) refuses `ShareBuffer` once and
                // its handle goes back to messages.
                Some(IoResponse::FileStat(stat)) => Some(
                    stat.is_file()
                        || stat.is_block_device()
                        || stat.mode & zos_proto::fs::mode::S_IFMT == zos_proto::fs::mode::S_IFCHR,
                ),
                _ => None,
            }),
        Some(true)
    );
    SLOTS.lock().entry(slot).or_default().regular = Some(regular);
    regular
}

/// Whether `slot` is a socket (asked once with `Stat`, then remembered;
/// sockets this process made are marked when made, [`mark_socket`]).
fn is_socket(slot: u64) -> bool {
    if let Some(known) = SLOTS.lock().get(&slot).and_then(|info| info.socket) {
        return known;
    }
    let socket = ipc::call(slot, &IoRequest::Stat, &[])
        .ok()
        .is_some_and(|r| {
            matches!(r.decode::<IoResponse>(),
                Some(IoResponse::Stat(stat)) if stat.kind == HandleKind::Socket)
        });
    SLOTS.lock().entry(slot).or_default().socket = Some(socket);
    socket
}

/// `slot` is a socket this process just made or accepted (saves asking).
pub(crate) fn mark_socket(slot: u64) {
    let mut slots = SLOTS.lock();
    let info = slots.entry(slot).or_default();
    info.regular = Some(false);
    info.socket = Some(true);
}

/// The shared buffer, created and mapped on first use.
fn buffer_memory(guard: &mut Option<u64>) -> Option<u64> {
    map_buffer(guard, SHARED_VA)
}

/// A buffer of [`SHARED_SIZE`] bytes at `va`, created and mapped on first use.
fn map_buffer(guard: &mut Option<u64>, va: u64) -> Option<u64> {
    if guard.is_none() {
        let memory = sys::memory_create(SHARED_SIZE).ok()?;
        let mapped = sys::memory_map(
            memory,
            sys::SELF,
            va,
            0,
            SHARED_SIZE / 4096,
            crate::abi::map_flags::WRITE,
        );
        if mapped.is_err() {
            let _ = sys::cap_delete(memory);
            return None;
        }
        *guard = Some(memory);
    }
    *guard
}

/// The VFS answered an open with `shared: false`: if this process has a
/// shared buffer (it made bulk transfers before), attach it to the session
/// so this and later opens need no set-up per handle. True if attached.
/// Done here rather than on the first bulk transfer so that programs which
/// never open files do not carry the request's code.
fn share_session_buffer() -> bool {
    let guard = BUFFER.lock();
    let Some(memory) = *guard else {
        return false;
    };
    // An earlier token goes first: the VFS frees that buffer before it sees
    // the new request.
    let old = SESSION_TOKEN.swap(NO_TOKEN, Ordering::Relaxed);
    if old != NO_TOKEN {
        let _ = sys::cap_delete(old);
    }
    let (Ok(vfs), Ok(copy)) = (vfs_endpoint(), sys::cap_copy(memory, sys::SELF, sys::NONE)) else {
        return false;
    };
    let Ok(reply) = ipc::call(vfs, &FsRequest::ShareBuffer, &[copy]) else {
        return false;
    };
    match (reply.decode::<FsResponse>(), reply.caps.as_slice()) {
        (Some(FsResponse::Ok), &[token]) => {
            SESSION_TOKEN.store(token, Ordering::Relaxed);
            true
        }
        (_, caps) => {
            for &cap in caps {
                let _ = sys::cap_delete(cap);
            }
            false
        }
    }
}

/// Attaches the shared buffer to `slot` if that has not been done (or the
/// session buffer does not serve it already).
fn ensure_shared(slot: u64, memory: u64) -> bool {
    if SLOTS.lock().get(&slot).is_some_and(|info| info.shared) {
        return true;
    }
    let Ok(copy) = sys::cap_copy(memory, sys::SELF, sys::NONE) else {
        return false;
    };
    let attached = matches!(
        ipc::call(slot, &IoRequest::ShareBuffer, &[copy])
            .ok()
            .and_then(|r| r.decode::<IoResponse>().map(|r| r == IoResponse::Ok)),
        Some(true)
    );
    let mut slots = SLOTS.lock();
    let info = slots.entry(slot).or_default();
    info.shared = attached;
    if !attached {
        info.regular = Some(false);
        info.socket = Some(false);
    }
    attached
}

fn transferred(reply: core::result::Result<Received, IpcError>) -> Result<usize> {
    let reply = reply.map_err(posix::ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Transferred(n)) => Ok(n as usize),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Reads through the shared buffer; `None` when `slot` is not a VFS file (the
/// caller then uses plain `Read` messages).
pub(crate) fn read_shared(slot: u64, out: &mut [u8], offset: Option<u64>) -> Option<Result<usize>> {
    if !is_regular(slot) {
        return match offset {
            None if is_socket(slot) => read_socket(slot, out),
            _ => None,
        };
    }
    let mut guard = BUFFER.lock();
    let memory = buffer_memory(&mut guard)?;
    if !ensure_shared(slot, memory) {
        return None;
    }
    let max = out.len().min(SHARED_SIZE as usize) as u32;
    let request = IoRequest::ReadShared { max, offset };
    Some(transferred(ipc::call(slot, &request, &[])).map(|n| {
        let n = n.min(max as usize);
        // SAFETY: SHARED_VA maps SHARED_SIZE bytes for the life of the process;
        // the buffer lock is held, so no other thread of ours uses it.
        unsafe { core::ptr::copy_nonoverlapping(SHARED_VA as *const u8, out.as_mut_ptr(), n) };
        n
    }))
}

/// Writes through the shared buffer; `None` when `slot` is not a VFS file.
pub(crate) fn write_shared(slot: u64, data: &[u8], offset: Option<u64>) -> Option<Result<usize>> {
    if !is_regular(slot) {
        return match offset {
            None if is_socket(slot) => write_socket(slot, data),
            _ => None,
        };
    }
    let mut guard = BUFFER.lock();
    let memory = buffer_memory(&mut guard)?;
    if !ensure_shared(slot, memory) {
        return None;
    }
    let len = data.len().min(SHARED_SIZE as usize);
    // SAFETY: as in `read_shared`; `len` ≤ SHARED_SIZE.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), SHARED_VA as *mut u8, len) };
    let request = IoRequest::WriteShared {
        len: len as u32,
        offset,
    };
    Some(transferred(ipc::call(slot, &request, &[])))
}

/// A free socket buffer attached to a handle of `slot`: the buffer's lock,
/// where it is mapped and the handle to send requests to. `None` when both
/// are busy or the server refuses them (the caller uses messages).
fn socket_buffer(slot: u64) -> Option<(spin::MutexGuard<'static, Option<u64>>, u64, u64)> {
    for (index, lock) in SOCKET_BUFFERS.iter().enumerate() {
        let Some(mut guard) = lock.try_lock() else {
            continue;
        };
        let va = SOCKET_SHARED_VA + index as u64 * SHARED_SIZE;
        let memory = map_buffer(&mut guard, va)?;
        let handle = if index == 0 {
            if !ensure_shared(slot, memory) {
                return None;
            }
            slot
        } else {
            socket_clone(slot, memory)?
        };
        return Some((guard, va, handle));
    }
    None
}

/// The clone of socket `slot` that the second socket buffer is attached to,
/// made on first use.
fn socket_clone(slot: u64, memory: u64) -> Option<u64> {
    match SLOTS.lock().get(&slot).and_then(|info| info.socket_clone) {
        Some(NO_CLONE) => return None,
        Some(clone) => return Some(clone),
        None => {}
    }
    let clone = ipc::call(slot, &IoRequest::Clone, &[])
        .ok()
        .and_then(
            |reply| match (reply.decode::<IoResponse>(), reply.caps.as_slice()) {
                (Some(IoResponse::Cloned), &[cap]) => Some(cap),
                (_, caps) => {
                    for &cap in caps {
                        let _ = sys::cap_delete(cap);
                    }
                    None
                }
            },
        );
    let attached = clone.filter(|&clone| {
        let Ok(copy) = sys::cap_copy(memory, sys::SELF, sys::NONE) else {
            return false;
        };
        let ok = matches!(
            ipc::call(clone, &IoRequest::ShareBuffer, &[copy])
                .ok()
                .and_then(|r| r.decode::<IoResponse>().map(|r| r == IoResponse::Ok)),
            Some(true)
        );
        if !ok {
            let _ = sys::cap_delete(clone);
        }
        ok
    });
    SLOTS.lock().entry(slot).or_default().socket_clone = Some(attached.unwrap_or(NO_CLONE));
    attached
}

/// A socket read through a socket buffer; `None` as for [`socket_buffer`].
fn read_socket(slot: u64, out: &mut [u8]) -> Option<Result<usize>> {
    let (_guard, va, handle) = socket_buffer(slot)?;
    let max = out.len().min(SHARED_SIZE as usize) as u32;
    let request = IoRequest::ReadShared { max, offset: None };
    Some(transferred(ipc::call(handle, &request, &[])).map(|n| {
        let n = n.min(max as usize);
        // SAFETY: `va` maps SHARED_SIZE bytes for the life of the process;
        // its lock (`_guard`) is held, so no other thread of ours uses it.
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, out.as_mut_ptr(), n) };
        n
    }))
}

/// A socket write through a socket buffer; `None` as for [`socket_buffer`].
fn write_socket(slot: u64, data: &[u8]) -> Option<Result<usize>> {
    let (_guard, va, handle) = socket_buffer(slot)?;
    let len = data.len().min(SHARED_SIZE as usize);
    // SAFETY: as in `read_socket`; `len` ≤ SHARED_SIZE.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), va as *mut u8, len) };
    let request = IoRequest::WriteShared {
        len: len as u32,
        offset: None,
    };
    Some(transferred(ipc::call(handle, &request, &[])))
}

/// `pread`: reads at `offset` without moving the file offset.
pub fn pread(fd: Fd, out: &mut [u8], offset: u64) -> Result<usize> {
    let slot = slot_of(fd)?;
    if out.len() > SHARED_THRESHOLD {
        if let Some(result) = read_shared(slot, out, Some(offset)) {
            return result;
        }
    }
    let max = out.len().min(zos_proto::MAX_IO_CHUNK) as u32;
    let reply = io_call(fd, &IoRequest::ReadAt { offset, max })?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Data(data)) => {
            let n = data.len().min(out.len());
            out[..n].copy_from_slice(&data[..n]);
            Ok(n)
        }
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// `pwrite`: writes at `offset` without moving the file offset.
pub fn pwrite(fd: Fd, data: &[u8], offset: u64) -> Result<usize> {
    pwrite_slot(slot_of(fd)?, data, offset)
}

/// [`pwrite`] on a handle capability (one no descriptor names: a shared
/// file mapping's, `linux::memory`).
pub(crate) fn pwrite_slot(slot: u64, data: &[u8], offset: u64) -> Result<usize> {
    if data.len() > SHARED_THRESHOLD {
        if let Some(result) = write_shared(slot, data, Some(offset)) {
            return result;
        }
    }
    let chunk = &data[..data.len().min(zos_proto::MAX_IO_CHUNK)];
    let request = IoRequest::WriteAt {
        offset,
        data: chunk,
    };
    let reply = ipc::call(slot, &request, &[]).map_err(posix::ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Written(n)) => Ok(n as usize),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub const SEEK_SET: i32 = 0;
pub const SEEK_CUR: i32 = 1;
pub const SEEK_END: i32 = 2;

/// Moves the file offset; returns the new one.
pub fn lseek(fd: Fd, offset: i64, whence: i32) -> Result<u64> {
    let whence = u8::try_from(whence).map_err(|_| Errno(EINVAL))?;
    let reply = io_call(fd, &IoRequest::Seek { offset, whence })?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Position(position)) => Ok(position),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

// ---- attributes -------------------------------------------------------------------

/// Attributes of an open descriptor. Handles that do not know `Fstat`
/// (terminals, older servers) are described from their kind.
pub fn fstat(fd: Fd) -> Result<FileStat> {
    let reply = io_call(fd, &IoRequest::Fstat)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::FileStat(stat)) => return Ok(stat),
        Some(IoResponse::Err(EBADF)) => return Err(Errno(EBADF)),
        _ => {}
    }
    let kind = posix::stat_kind(fd)?;
    if kind == HandleKind::Terminal {
        // A terminal is its device node (`ttyname` compares the two).
        if let Ok(node) = crate::tty::ttyname(fd).and_then(|name| stat(&name)) {
            return Ok(node);
        }
    }
    let mode = match kind {
        HandleKind::Terminal | HandleKind::Device => S_IFCHR | 0o620,
        HandleKind::PipeRead | HandleKind::PipeWrite => S_IFIFO | 0o600,
        HandleKind::File => S_IFREG | 0o644,
        HandleKind::Directory => S_IFDIR | 0o755,
        HandleKind::Socket => S_IFSOCK | 0o777,
    };
    Ok(FileStat {
        mode,
        nlink: 1,
        block_size: 4096,
        ..FileStat::default()
    })
}

pub fn stat(path: &str) -> Result<FileStat> {
    let cwd = posix::getcwd();
    fs_stat(&FsRequest::Stat { path, cwd: &cwd })
}

/// Like [`stat`], but describes a final symlink itself.
pub fn lstat(path: &str) -> Result<FileStat> {
    let cwd = posix::getcwd();
    fs_stat(&FsRequest::Lstat { path, cwd: &cwd })
}

/// Capacity of the file system holding `path`.
pub fn statfs(path: &str) -> Result<FsStat> {
    let cwd = posix::getcwd();
    let reply = fs_call(&FsRequest::StatFs { path, cwd: &cwd })?;
    match reply.decode::<FsResponse>() {
        Some(FsResponse::StatFs(stat)) => Ok(stat),
        Some(FsResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// One mounted file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub path: String,
    pub fs_type: String,
    pub read_only: bool,
}

/// The mount table.
pub fn mounts() -> Result<Vec<Mount>> {
    let reply = fs_call(&FsRequest::Mounts)?;
    match reply.decode::<FsResponse>() {
        Some(FsResponse::Mounts(list)) => Ok(list
            .into_iter()
            .map(|m| Mount {
                path: m.path.to_string(),
                fs_type: m.fs_type.to_string(),
                read_only: m.read_only,
            })
            .collect()),
        Some(FsResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn chmod(path: &str, mode: u32) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Chmod {
        path,
        mode: mode & 0o7777,
        cwd: &cwd,
    })
}

/// Sets access and modification times in ns since boot (`None` keeps one).
pub fn utimens(path: &str, atime: Option<u64>, mtime: Option<u64>) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::SetTimes {
        path,
        atime,
        mtime,
        cwd: &cwd,
    })
}

/// Changes owner and/or group (`None` keeps it).
pub fn chown(path: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Chown {
        path,
        uid,
        gid,
        cwd: &cwd,
    })
}

pub fn truncate(path: &str, len: u64) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Truncate {
        path,
        len,
        cwd: &cwd,
    })
}

fn io_ok(fd: Fd, request: &IoRequest) -> Result<()> {
    let reply = io_call(fd, request)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ok) => Ok(()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

pub fn ftruncate(fd: Fd, len: u64) -> Result<()> {
    io_ok(fd, &IoRequest::Truncate { len })
}

pub fn fsync(fd: Fd) -> Result<()> {
    io_ok(fd, &IoRequest::Sync)
}

/// [`fsync`] on a handle capability.
#[cfg(not(target_arch = "wasm32"))] // for linux::memory
pub(crate) fn sync_slot(slot: u64) -> Result<()> {
    let reply = ipc::call(slot, &IoRequest::Sync, &[]).map_err(posix::ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ok) => Ok(()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// The shared pages of the file a handle capability names, at least
/// `pages` of them (`IoRequest::MapShared`): the Memory capability, its
/// size in pages and whether it may be mapped writable.
#[cfg(not(target_arch = "wasm32"))] // for linux::memory
pub(crate) fn map_shared_slot(slot: u64, pages: u64) -> Result<(u64, u64, bool)> {
    let reply = ipc::call(slot, &IoRequest::MapShared { pages }, &[]).map_err(posix::ipc_errno)?;
    match (reply.decode::<IoResponse>(), reply.caps.first()) {
        (Some(IoResponse::Mapped { pages, writable }), Some(&memory)) => {
            Ok((memory, pages, writable))
        }
        (Some(IoResponse::Err(e)), _) => Err(Errno(e)),
        _ => {
            for &cap in &reply.caps {
                let _ = sys::cap_delete(cap);
            }
            Err(Errno(EIO))
        }
    }
}

/// The size of the file a handle capability names.
#[cfg(not(target_arch = "wasm32"))] // for linux::memory
pub(crate) fn slot_size(slot: u64) -> Result<u64> {
    let reply = ipc::call(slot, &IoRequest::Fstat, &[]).map_err(posix::ipc_errno)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::FileStat(stat)) => Ok(stat.size),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Flushes every file system.
pub fn sync() -> Result<()> {
    fs_ok(&FsRequest::Sync)
}

// ---- mounting ---------------------------------------------------------------------

/// Mounts `source` (an image file, or a block device under `/dev`) on the
/// directory `target` with the file-system server named `fs_type` (a service,
/// e.g. `ext2`): the server opens the source and hands back a mount capability,
/// which goes to the VFS.
pub fn mount(source: &str, target: &str, fs_type: &str, read_only: bool) -> Result<()> {
    let request = MountRequest {
        source,
        target,
        fs_type,
        read_only,
        subdir: "",
    };
    mount_with_reason(&request).map_err(|e| e.errno)
}

/// What to mount, for [`mount_with_reason`].
pub struct MountRequest<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub fs_type: &'a str,
    pub read_only: bool,
    /// A directory of the volume to mount instead of its root ("" for the root).
    pub subdir: &'a str,
}

/// A refused mount: the error and, when the server said, why (`bad
/// superblock magic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountError {
    pub errno: Errno,
    pub reason: Option<String>,
}

impl From<Errno> for MountError {
    fn from(errno: Errno) -> Self {
        MountError {
            errno,
            reason: None,
        }
    }
}

/// Like [`mount`], with a subdirectory and the server's reason for a refusal.
pub fn mount_with_reason(m: &MountRequest) -> core::result::Result<(), MountError> {
    use zos_proto::rfs::{RfsResponse, RfsServiceRequest};
    let reply = posix::proc_call(&ProcRequest::Lookup { name: m.fs_type }, &[])?;
    let server = match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(cap)) => *cap,
        (Some(ProcResponse::Err(_)), _) => return Err(Errno(ENODEV).into()),
        _ => return Err(Errno(EIO).into()),
    };
    let source = m.source;
    let result = (|| {
        let info = stat(source)?;
        let device = if info.is_file() {
            false
        } else if info.mode & zos_proto::fs::mode::S_IFMT == zos_proto::fs::mode::S_IFBLK {
            true
        } else {
            return Err(Errno(ENOTBLK).into());
        };
        // The server resolves the path from `/`.
        let absolute = if source.starts_with('/') {
            String::from(source)
        } else {
            format!("{}/{source}", posix::getcwd().trim_end_matches('/'))
        };
        let request = RfsServiceRequest::Open {
            source: if device {
                source.trim_start_matches("/dev/")
            } else {
                &absolute
            },
            device,
            read_only: m.read_only,
            now: sys::clock_ns(),
            subdir: m.subdir,
        };
        let reply = ipc::call(server, &request, &[]);
        let reply = reply.map_err(posix::ipc_errno)?;
        let cap = match (reply.decode::<RfsResponse>(), reply.caps.first()) {
            (Some(RfsResponse::Attached), Some(cap)) => *cap,
            (Some(RfsResponse::Err(e)), _) => return Err(Errno(e).into()),
            (Some(RfsResponse::Refused { errno, reason }), _) => {
                return Err(MountError {
                    errno: Errno(errno),
                    reason: Some(String::from(reason)),
                })
            }
            _ => return Err(Errno(EIO).into()),
        };
        let cwd = posix::getcwd();
        let request = FsRequest::Mount {
            source,
            target: m.target,
            fs_type: m.fs_type,
            cwd: &cwd,
        };
        let reply = ipc::call(vfs_endpoint()?, &request, &[cap]).map_err(posix::ipc_errno)?;
        match reply.decode::<FsResponse>() {
            Some(FsResponse::Ok) => Ok(()),
            Some(FsResponse::Err(e)) => Err(Errno(e).into()),
            _ => Err(Errno(EIO).into()),
        }
    })();
    let _ = sys::cap_delete(server);
    result
}

/// Unmounts the file system mounted on `target` (flushing it).
pub fn unmount(target: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Unmount { target, cwd: &cwd })
}

/// Flushes and lets go of every disk file system (before power-off).
pub fn unmount_all() -> Result<()> {
    fs_ok(&FsRequest::UnmountAll)
}

// ---- the namespace ------------------------------------------------------------------

/// Creates a directory (`mode` masked by the umask).
pub fn mkdir(path: &str, mode: u32) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Mkdir {
        path,
        mode: mode & !umask_value() & 0o7777,
        cwd: &cwd,
    })
}

/// Creates a node of the kind the type bits of `mode` name (a fifo, a
/// socket, a regular file, or a device as root), its permission bits masked
/// by the umask.
pub fn mknod(path: &str, mode: u32, rdev: u64) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Mknod {
        path,
        mode: (mode & 0o170000) | (mode & !umask_value() & 0o7777),
        rdev,
        cwd: &cwd,
    })
}

pub fn rmdir(path: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Rmdir { path, cwd: &cwd })
}

pub fn unlink(path: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Unlink { path, cwd: &cwd })
}

pub fn rename(from: &str, to: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Rename {
        from,
        to,
        cwd: &cwd,
    })
}

/// A hard link `to` for the existing file `from`.
pub fn link(from: &str, to: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Link {
        from,
        to,
        cwd: &cwd,
    })
}

/// A symbolic link at `path` pointing at `target`.
pub fn symlink(target: &str, path: &str) -> Result<()> {
    let cwd = posix::getcwd();
    fs_ok(&FsRequest::Symlink {
        target,
        path,
        cwd: &cwd,
    })
}

pub fn readlink(path: &str) -> Result<String> {
    let cwd = posix::getcwd();
    fs_path(&FsRequest::Readlink { path, cwd: &cwd })
}

/// The normalised absolute path of the directory `path` (for `chdir`).
pub(crate) fn resolve_directory(path: &str) -> Result<String> {
    let cwd = posix::getcwd();
    fs_path(&FsRequest::Chdir { path, cwd: &cwd })
}

// ---- directories ----------------------------------------------------------------------

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// A [`dirent_type`] value (`DT_REG`, `DT_DIR`, ...).
    pub kind: u8,
    pub name: String,
}

/// The next entries of the directory open as `fd` (getdents); empty at the end.
pub fn getdents(fd: Fd, max_entries: u32) -> Result<Vec<DirEntry>> {
    let reply = io_call(fd, &IoRequest::ReadDir { max_entries })?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Entries(list)) => Ok(list
            .into_iter()
            .map(|e| DirEntry {
                ino: e.ino,
                kind: e.kind,
                name: e.name.to_string(),
            })
            .collect()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// An open directory listed entry by entry (`.` and `..` included); closes
/// its descriptor when dropped.
pub struct Dir {
    fd: Fd,
    pending: VecDeque<DirEntry>,
    done: bool,
}

/// Opens the directory `path` for listing.
pub fn read_dir(path: &str) -> Result<Dir> {
    let fd = open(path, O_RDONLY | O_DIRECTORY, 0)?;
    Ok(Dir {
        fd,
        pending: VecDeque::new(),
        done: false,
    })
}

impl Dir {
    pub fn fd(&self) -> Fd {
        self.fd
    }
}

impl Iterator for Dir {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pending.is_empty() && !self.done {
            match getdents(self.fd, 64) {
                Ok(list) if list.is_empty() => self.done = true,
                Ok(list) => self.pending.extend(list),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.pending.pop_front().map(Ok)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = posix::close(self.fd);
    }
}

// ---- whole files ----------------------------------------------------------------------

/// The whole contents of `path`.
pub fn read_file(path: &str) -> Result<Vec<u8>> {
    let fd = open(path, O_RDONLY, 0)?;
    let mut contents = Vec::new();
    let mut chunk = [0u8; 4096];
    let result = loop {
        match posix::read(fd, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => contents.extend_from_slice(&chunk[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = posix::close(fd);
    result.map(|()| contents)
}

/// Replaces `path` with `data`: written to `path.new` (created with `mode`,
/// masked by the umask) and renamed over `path`, so readers see the old or the
/// new contents, never a mix. A `path` that is a symlink (`/etc/passwd ->
/// /var/lib/identity/passwd`) replaces the file it points to, not the link.
/// Both the data and the rename are synced before it returns, so on a disk
/// file system the new contents survive a power cut.
pub fn replace_file(path: &str, data: &[u8], mode: u32) -> Result<()> {
    let path = final_target(path);
    let temporary = format!("{path}.new");
    let fd = open(&temporary, O_WRONLY | O_CREAT | O_TRUNC, mode)?;
    let written = posix::write_all(fd, data).and_then(|()| fsync(fd));
    let _ = posix::close(fd);
    if let Err(e) = written.and_then(|()| chmod(&temporary, mode)) {
        let _ = unlink(&temporary);
        return Err(e);
    }
    rename(&temporary, &path)?;
    // The rename too (a disk file system's fsync covers the whole volume).
    let fd = open(&path, O_RDONLY, 0)?;
    let synced = fsync(fd);
    let _ = posix::close(fd);
    synced
}

/// `path` with a final symlink followed (a few levels), relative targets
/// taken from the link's directory; `path` itself when it is no symlink.
pub fn final_target(path: &str) -> String {
    let mut path = String::from(path);
    for _ in 0..8 {
        let is_link = lstat(&path).is_ok_and(|s| s.is_symlink());
        let Some(target) = is_link.then(|| readlink(&path).ok()).flatten() else {
            break;
        };
        path = if target.starts_with('/') {
            target
        } else {
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            format!("{dir}/{target}")
        };
    }
    path
}
