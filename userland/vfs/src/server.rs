//! The request loop: path requests on client-badged capabilities of the
//! service endpoint and open-handle requests on badged handle capabilities.
//!
//! Who calls: init hands every process that looks the VFS up a capability
//! badged with its pid and credential number (`zos_proto::badge`); the kernel
//! delivers that badge with each message, so no message field can claim
//! another identity. A credential number is turned into uid, gid and groups by
//! asking init once (`ProcRequest::CredentialSet`) and cached: numbers never
//! change meaning. Path requests run with those credentials (mode bits,
//! owners, the sticky bit, chmod/chown rules: `zos_vfs_core::cred`); handle
//! requests were checked when the handle was opened, as in POSIX. Any other
//! badge (such as 0) is refused with `EPERM`.
//!
//! Handles: each badge names one [`Handle`]; handles made by `Clone` share the
//! open file (offset and flags), as descriptors duplicated across `spawn` do in
//! POSIX. Handle badges are watched (`CapMintWatched`): when the last capability
//! of a handle is gone — closed, or its holder exited, was killed or faulted —
//! the kernel's `NO_SENDERS` message closes it here, with its open file and its
//! shared buffer. A malformed request is answered with `EINVAL`; no request can
//! stop the server; limits per client and in total (`zos_vfs_core::handles`)
//! keep one client from exhausting it.

use crate::setup::{self, State};
use crate::shared::{SharedBuffer, Windows};
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use libzos::abi::rights;
use libzos::dprintln;
use libzos::ipc::{self, Received};
use libzos::sys;
use zos_proto::badge;
use zos_proto::errno::*;
use zos_proto::fs::{DirEntry, FsRequest, FsResponse, FsStat, MountEntry};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::pty::{PtyRequest, PtyResponse};
use zos_proto::start::slots;
use zos_proto::MAX_IO_CHUNK;
use zos_vfs_core::handles::MAX_HANDLES;
use zos_vfs_core::procfs::{CpuTime, MountLine, ProcSnapshot, ProcessInfo};
use zos_vfs_core::vfs::Node;
use zos_vfs_core::{
    Cred, Devfs, Errno, FileKind, HandleTable, OpenFile, OpenFlags, SessionTable, Whence,
};

/// Badges of handle capabilities: this tag in the upper half, the id below.
const HANDLE_TAG: u64 = 0x4649_4C45 << 32;
const TAG_MASK: u64 = 0xFFFF_FFFF_0000_0000;
/// Badges of session tokens (`FsRequest::ShareBuffer`'s answer): this tag
/// and the session's serial (`zos_vfs_core::sessions`). The client only
/// holds the token; when its last capability is gone (the client ended, or
/// attaches anew) the kernel's `NO_SENDERS` message frees that session's
/// buffer, if it still serves.
const SESSION_TAG: u64 = 0x5345_5342 << 32;
/// Most entries one `ReadDir` answer carries, and the bytes they may take.
const MAX_DIR_ENTRIES: usize = 256;
const DIR_REPLY_BUDGET: usize = 3800;

struct Handle {
    file: Rc<RefCell<OpenFile>>,
    buffer: Option<SharedBuffer>,
    /// The client whose session buffer serves this handle when it has no
    /// buffer of its own: the opener, for handles it opened (not clones).
    session: Option<u32>,
}

/// The transfer buffer of handle `id`: its own, else its opener's session buffer.
fn buffer_of<'a>(
    handles: &'a HandleTable<Handle>,
    sessions: &'a SessionTable<SharedBuffer>,
    id: u64,
) -> Option<&'a SharedBuffer> {
    let handle = handles.get(id)?;
    handle
        .buffer
        .as_ref()
        .or_else(|| sessions.get(handle.session?))
}

/// Encoded reply bytes and the capabilities that go with them.
type Answer = (Vec<u8>, Vec<u64>);

/// What an open made.
enum Opened {
    /// A handle of this server: its new capability (none when the file went
    /// into the caller's parked handle), its id, and whether bulk transfers
    /// through the shared buffer apply.
    Here {
        cap: Option<u64>,
        handle: u64,
        bulk: bool,
    },
    /// Another server's handle (terminal, pty, block device).
    Elsewhere(u64),
}

fn encode_io(response: &IoResponse) -> Vec<u8> {
    ipc::encode_vec(response).unwrap_or_default()
}

fn encode_fs(response: &FsResponse) -> Vec<u8> {
    ipc::encode_vec(response).unwrap_or_default()
}

fn io_err(errno: i32) -> Answer {
    (encode_io(&IoResponse::Err(errno)), Vec::new())
}

fn fs_err(errno: Errno) -> Answer {
    (encode_fs(&FsResponse::Err(errno.as_i32())), Vec::new())
}

fn fs_result(result: Result<(), Errno>) -> Answer {
    match result {
        Ok(()) => (encode_fs(&FsResponse::Ok), Vec::new()),
        Err(e) => fs_err(e),
    }
}

fn io_result(result: Result<IoResponse, Errno>) -> Answer {
    match result {
        Ok(response) => (encode_io(&response), Vec::new()),
        Err(e) => io_err(e.as_i32()),
    }
}

fn dirent_type(kind: FileKind) -> u8 {
    kind.dirent_type()
}

/// A mount served by another process.
struct RemoteMount {
    source: String,
    buffer_va: u64,
}

pub struct Server {
    endpoint: u64,
    /// Mounts served by other processes, by mount id.
    remote: alloc::collections::BTreeMap<u32, RemoteMount>,
    state: State,
    handles: HandleTable<Handle>,
    windows: Windows,
    /// Transfer buffers clients attached for all the handles they open, by
    /// client pid (each freed when the client's session token is gone).
    sessions: SessionTable<SharedBuffer>,
    /// The console service's endpoint, once looked up.
    console: Option<u64>,
    /// The pty service (`/dev/ptmx`, `/dev/pts/N`), once looked up.
    pty: Option<u64>,
    /// devmgr's endpoint, once looked up (block devices).
    devmgr: Option<u64>,
    /// Scratch space for transfers.
    scratch: Vec<u8>,
    requests: u64,
    /// What each credential number of a client badge stands for.
    credentials: BTreeMap<u16, Rc<Cred>>,
    /// Whether an unbadged request was reported already.
    warned_unbadged: bool,
    /// Files' shared pages for `mmap(MAP_SHARED)` and their holders.
    #[cfg(not(target_arch = "wasm32"))]
    mapped: crate::mapped::MappedFiles,
}

impl Server {
    pub fn new(endpoint: u64, state: State) -> Self {
        Server {
            endpoint,
            remote: alloc::collections::BTreeMap::new(),
            state,
            handles: HandleTable::new(),
            windows: Windows::new(),
            sessions: SessionTable::new(),
            console: None,
            pty: None,
            devmgr: None,
            scratch: Vec::new(),
            requests: 0,
            credentials: BTreeMap::new(),
            warned_unbadged: false,
            #[cfg(not(target_arch = "wasm32"))]
            mapped: crate::mapped::MappedFiles::new(),
        }
    }

    pub fn serve(mut self) -> ! {
        let server = ipc::Server::new(self.endpoint);
        let mut next = server.recv();
        loop {
            let (bytes, caps) = match &next {
                Ok(message) => self.handle(message),
                Err(_) => {
                    next = server.recv();
                    continue;
                }
            };
            // A reply's capabilities leave this process whether or not they
            // reach the caller (the kernel deletes what it cannot deliver),
            // so a handle's caller gone meanwhile still ends in NO_SENDERS.
            next = server.reply_recv_raw(&bytes, &caps);
        }
    }

    fn handle(&mut self, message: &Received) -> Answer {
        self.requests += 1;
        if message.label == sys::NO_SENDERS {
            // From the kernel: no capability of this handle is left anywhere.
            if message.badge & TAG_MASK == HANDLE_TAG {
                self.close_handle(message.badge & !TAG_MASK);
            }
            if message.badge & TAG_MASK == SESSION_TAG {
                if let Some(buffer) = self.sessions.end(message.badge as u32) {
                    self.windows.detach(buffer);
                }
            }
            return (Vec::new(), Vec::new());
        }
        if message.badge & TAG_MASK == SESSION_TAG {
            // A token is only held, never called through.
            for cap in &message.caps {
                let _ = sys::cap_delete(*cap);
            }
            return fs_err(Errno::EINVAL);
        }
        if message.badge & TAG_MASK == HANDLE_TAG {
            self.state.vfs.set_time(setup::now());
            let id = message.badge & !TAG_MASK;
            let request = message.decode::<IoRequest>();
            return self.handle_io(id, request, &message.caps);
        }
        let request = message.decode::<FsRequest>();
        // Reading the clock is a syscall (about 500 instructions): requests
        // that change no timestamp skip it.
        if !request.as_ref().is_some_and(changes_no_time) {
            self.state.vfs.set_time(setup::now());
        }
        // Only a mount request keeps the capability that came with it (the
        // file-system server's mount capability).
        let keep = match &request {
            Some(FsRequest::Mount { .. }) | Some(FsRequest::ShareBuffer) => {
                message.caps.first().copied()
            }
            _ => None,
        };
        for cap in &message.caps {
            if Some(*cap) != keep {
                let _ = sys::cap_delete(*cap);
            }
        }
        let refuse = |errno: Errno| {
            if let Some(cap) = keep {
                let _ = sys::cap_delete(cap);
            }
            fs_err(errno)
        };
        let Some((number, pid)) = badge::parse(message.badge) else {
            if !self.warned_unbadged {
                self.warned_unbadged = true;
                dprintln!(
                    "vfs: warning: a request without a client badge refused (EPERM); \
                     the service table should say client_badges = true for the VFS"
                );
            }
            return refuse(Errno::EPERM);
        };
        let Some(cred) = self.credentials_for(number) else {
            return refuse(Errno::EPERM);
        };
        match request {
            // Mounting is root's, as on Linux.
            Some(FsRequest::Mount { .. }) if cred.uid != 0 => refuse(Errno::EPERM),
            Some(FsRequest::Mount {
                source,
                target,
                fs_type,
                cwd,
            }) => fs_result(self.mount_remote(source, target, fs_type, cwd, keep)),
            Some(FsRequest::ShareBuffer) => self.share_session_buffer(pid, keep),
            Some(request) => self.handle_fs(pid, &cred, request),
            None => fs_err(Errno::EINVAL),
        }
    }

    /// The credentials behind a client badge's number, from init the first time.
    fn credentials_for(&mut self, number: u16) -> Option<Rc<Cred>> {
        if let Some(cred) = self.credentials.get(&number) {
            return Some(Rc::clone(cred));
        }
        let reply = ipc::call(slots::PROC, &ProcRequest::CredentialSet { id: number }, &[]).ok()?;
        let Some(ProcResponse::Credentials(set)) = reply.decode::<ProcResponse>() else {
            return None;
        };
        let cred = Rc::new(Cred::with_groups(set.euid, set.egid, set.groups));
        self.credentials.insert(number, Rc::clone(&cred));
        Some(cred)
    }

    // ---- path requests ------------------------------------------------------------

    /// Where the walks of `paths` start: the root when every one is absolute
    /// (the working directory then plays no part, even if it was removed),
    /// else the working directory `cwd`.
    fn start_node(&self, cwd: &str, paths: &[&str], cred: &Cred) -> Result<Node, Errno> {
        let root = self.state.vfs.root()?;
        if cwd.is_empty() || cwd == "/" || paths.iter().all(|p| p.starts_with('/')) {
            return Ok(root);
        }
        if !cwd.starts_with('/') {
            return Err(Errno::EINVAL);
        }
        let node = self.state.vfs.resolve(root, cwd, true, cred)?;
        if !self.state.vfs.stat_node(node)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }

    /// Brings procfs (and the `/dev/pts` list) up to date when a request for
    /// `path` (relative to `cwd`) may look at it. An absolute path is walked
    /// without the working directory, so only a relative one has `cwd` read.
    fn refresh_procfs_if(&mut self, path: &str, cwd: &str) {
        let (mut proc, mut pts) = zos_vfs_core::procfs::mentions_proc_or_pts(path);
        if !path.starts_with('/') {
            let (p, t) = zos_vfs_core::procfs::mentions_proc_or_pts(cwd);
            (proc, pts) = (proc | p, pts | t);
        }
        if proc {
            // procfs dates its files "now".
            self.state.vfs.set_time(setup::now());
            self.refresh_procfs(None);
        }
        if pts {
            self.refresh_ptys();
        }
    }

    /// Asks the pty service which ptys exist, for `/dev/pts` (asked when a
    /// path or working directory has a `pts` component; an unreachable
    /// service leaves the list as it was).
    fn refresh_ptys(&mut self) {
        if let Ok(PtyResponse::List(list)) = self.pty_call(&PtyRequest::List).map(|(r, _)| r) {
            self.state.devfs.borrow_mut().set_ptys(list);
        }
    }

    /// A call to the pty service (looked up once; looked up again if it
    /// restarted). Returns the answer and the capability it carried.
    fn pty_call(&mut self, request: &PtyRequest) -> Result<(PtyResponse, Option<u64>), Errno> {
        for _ in 0..2 {
            let pty = match self.pty {
                Some(pty) => pty,
                None => {
                    let lookup = ProcRequest::Lookup {
                        name: zos_proto::pty::SERVICE,
                    };
                    let reply = ipc::call(slots::PROC, &lookup, &[]).map_err(|_| Errno::ENXIO)?;
                    match (reply.decode::<ProcResponse>(), reply.caps.first()) {
                        (Some(ProcResponse::Attached), Some(cap)) => {
                            self.pty = Some(*cap);
                            *cap
                        }
                        _ => return Err(Errno::ENXIO),
                    }
                }
            };
            match ipc::call(pty, request, &[]) {
                Ok(reply) => {
                    let answer = reply.decode::<PtyResponse>();
                    let mut caps = reply.caps.into_iter();
                    let cap = caps.next();
                    for extra in caps {
                        let _ = sys::cap_delete(extra);
                    }
                    return match answer {
                        Some(answer) => Ok((answer, cap)),
                        None => {
                            if let Some(cap) = cap {
                                let _ = sys::cap_delete(cap);
                            }
                            Err(Errno::EIO)
                        }
                    };
                }
                Err(_) => {
                    let _ = sys::cap_delete(pty);
                    self.pty = None;
                }
            }
        }
        Err(Errno::ENXIO)
    }

    /// Opens a pty master (`/dev/ptmx`) or slave (`/dev/pts/N`) through the
    /// pty service.
    fn pty_handle(&mut self, request: PtyRequest) -> Result<u64, Errno> {
        match self.pty_call(&request)? {
            (PtyResponse::Opened { index }, Some(cap)) => {
                self.state.devfs.borrow_mut().add_pty(index);
                Ok(cap)
            }
            (PtyResponse::Err(e), cap) => {
                if let Some(cap) = cap {
                    let _ = sys::cap_delete(cap);
                }
                Err(Errno::from_i32(e).unwrap_or(Errno::EIO))
            }
            (_, cap) => {
                if let Some(cap) = cap {
                    let _ = sys::cap_delete(cap);
                }
                Err(Errno::EIO)
            }
        }
    }

    /// Takes a new snapshot from init; with `reading`, the pid whose files are
    /// about to be read, whose memory figure is asked for too.
    fn refresh_procfs(&mut self, reading: Option<u32>) {
        let mut snapshot = ProcSnapshot {
            cpuinfo: self.state.cpuinfo.clone(),
            ..ProcSnapshot::default()
        };
        if let Ok(list) = libzos::posix::processes() {
            snapshot.processes = list
                .into_iter()
                .map(|p| ProcessInfo {
                    pid: p.pid,
                    ppid: p.ppid,
                    pgid: p.pgid,
                    state: p.state,
                    name: p.name,
                    memory: 0,
                    cpu_ticks: 0,
                })
                .collect();
        }
        if let Some(pid) = reading {
            let request = ProcRequest::Usage { pid };
            if let Ok(reply) = ipc::call(slots::PROC, &request, &[]) {
                let usage = reply.decode::<ProcResponse>();
                if let Some(ProcResponse::Usage { memory, cpu_ticks }) = usage {
                    if let Some(p) = snapshot.processes.iter_mut().find(|p| p.pid == pid) {
                        (p.memory, p.cpu_ticks) = (memory, cpu_ticks);
                    }
                }
            }
        }
        if let Ok(reply) = ipc::call(slots::PROC, &ProcRequest::SystemInfo, &[]) {
            if let Some(ProcResponse::SystemInfo(info)) = reply.decode::<ProcResponse>() {
                snapshot.uptime_ns = info.uptime_ns;
                snapshot.total_bytes = info.total_bytes;
                snapshot.free_bytes = info.free_bytes;
            }
        }
        let online = libzos::sys::cpus_online();
        snapshot.cpus = (0..online)
            .map(|cpu| cpu_time(libzos::sys::cpu_stats(cpu).2))
            .collect();
        snapshot.syscall_counts = syscall_counts();
        snapshot.open_handles = self.handles.len() as u64;
        snapshot.max_handles = MAX_HANDLES as u64;
        snapshot.mounts = self
            .state
            .vfs
            .mounts()
            .into_iter()
            .map(|m| MountLine {
                source: self
                    .remote
                    .get(&m.id.0)
                    .map_or_else(|| String::from(m.fs_type), |r| r.source.clone()),
                path: m.path,
                fs_type: String::from(m.fs_type),
                read_only: m.read_only || m.id == self.state.proc_mount,
            })
            .collect();
        self.state.procfs.borrow_mut().set_snapshot(snapshot);
    }

    fn handle_fs(&mut self, pid: u32, cred: &Cred, request: FsRequest) -> Answer {
        self.state.procfs.borrow_mut().set_caller(pid);
        match request {
            FsRequest::Open {
                path,
                flags,
                mode,
                cwd,
                reuse,
            } => {
                self.refresh_procfs_if(path, cwd);
                match self.open(pid, cred, path, flags, mode, cwd, reuse) {
                    Ok(Opened::Here { cap, handle, bulk }) => {
                        let shared = self.sessions.contains(pid);
                        let opened = FsResponse::Opened {
                            regular: bulk,
                            shared,
                            handle,
                            reused: cap.is_none(),
                        };
                        (encode_fs(&opened), cap.into_iter().collect())
                    }
                    Ok(Opened::Elsewhere(cap)) => {
                        (encode_fs(&FsResponse::Attached), alloc::vec![cap])
                    }
                    Err(e) => fs_err(e),
                }
            }
            FsRequest::Stat { path, cwd } | FsRequest::Lstat { path, cwd } => {
                self.refresh_procfs_if(path, cwd);
                let follow = matches!(request, FsRequest::Stat { .. });
                let result = self.start_node(cwd, &[path], cred).and_then(|at| {
                    let node = self.state.vfs.resolve(at, path, follow, cred)?;
                    Ok(self.state.vfs.stat_node(node)?.to_wire(node.mount.0 as u64))
                });
                match result {
                    Ok(stat) => (encode_fs(&FsResponse::Stat(stat)), Vec::new()),
                    Err(e) => fs_err(e),
                }
            }
            FsRequest::Mkdir { path, mode, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.mkdir(at, path, mode, cred).map(|_| ())),
            ),
            FsRequest::Rmdir { path, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.rmdir(at, path, cred)),
            ),
            FsRequest::Unlink { path, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.unlink(at, path, cred)),
            ),
            FsRequest::Rename { from, to, cwd } => fs_result(
                self.start_node(cwd, &[from, to], cred)
                    .and_then(|at| self.state.vfs.rename(at, from, at, to, cred)),
            ),
            FsRequest::Link { from, to, cwd } => fs_result(
                self.start_node(cwd, &[from, to], cred)
                    .and_then(|at| self.state.vfs.link(at, from, at, to, cred)),
            ),
            FsRequest::Mknod {
                path,
                mode,
                rdev,
                cwd,
            } => fs_result(
                FileKind::from_mode(mode)
                    .ok_or(Errno::EINVAL)
                    .and_then(|kind| {
                        let at = self.start_node(cwd, &[path], cred)?;
                        self.state
                            .vfs
                            .mknod(at, path, kind, mode & 0o7777, rdev, cred)
                            .map(|_| ())
                    }),
            ),
            FsRequest::Symlink { target, path, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.symlink(at, target, path, cred).map(|_| ())),
            ),
            FsRequest::Readlink { path, cwd } => {
                self.refresh_procfs_if(path, cwd);
                let result = self
                    .start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.readlink(at, path, cred));
                match result {
                    Ok(target) => (encode_fs(&FsResponse::Path(&target)), Vec::new()),
                    Err(e) => fs_err(e),
                }
            }
            FsRequest::Chmod { path, mode, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.chmod(at, path, mode, cred)),
            ),
            FsRequest::Chown {
                path,
                uid,
                gid,
                cwd,
            } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.chown(at, path, uid, gid, cred)),
            ),
            FsRequest::Truncate { path, len, cwd } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.truncate(at, path, len, cred)),
            ),
            FsRequest::StatFs { path, cwd } => {
                let result = self.start_node(cwd, &[path], cred).and_then(|at| {
                    let node = self.state.vfs.resolve(at, path, true, cred)?;
                    let figures = self.state.vfs.statfs(node)?;
                    let read_only = node.mount == self.state.proc_mount
                        || self
                            .state
                            .vfs
                            .mounts()
                            .iter()
                            .any(|m| m.id == node.mount && m.read_only);
                    Ok(FsStat {
                        block_size: figures.block_size,
                        blocks: figures.total_blocks,
                        free_blocks: figures.free_blocks,
                        files: figures.files,
                        free_files: figures.free_files,
                        name_max: figures.name_max,
                        read_only,
                    })
                });
                match result {
                    Ok(stat) => (encode_fs(&FsResponse::StatFs(stat)), Vec::new()),
                    Err(e) => fs_err(e),
                }
            }
            FsRequest::Mounts => {
                let mounts = self.state.vfs.mounts();
                let list: Vec<MountEntry> = mounts
                    .iter()
                    .map(|m| MountEntry {
                        path: &m.path,
                        fs_type: m.fs_type,
                        read_only: m.read_only || m.id == self.state.proc_mount,
                    })
                    .collect();
                match ipc::encode_vec(&FsResponse::Mounts(list)) {
                    Ok(bytes) => (bytes, Vec::new()),
                    Err(_) => fs_err(Errno::E2BIG),
                }
            }
            FsRequest::Sync => fs_result(self.state.vfs.sync_all()),
            FsRequest::Chdir { path, cwd } => {
                self.refresh_procfs_if(path, cwd);
                let result = self.start_node(cwd, &[path], cred).and_then(|at| {
                    let node = self.state.vfs.resolve(at, path, true, cred)?;
                    if !self.state.vfs.stat_node(node)?.is_dir() {
                        return Err(Errno::ENOTDIR);
                    }
                    self.state.vfs.path_of(node)
                });
                match result {
                    Ok(normal) => (encode_fs(&FsResponse::Path(&normal)), Vec::new()),
                    Err(e) => fs_err(e),
                }
            }
            FsRequest::SetTimes {
                path,
                atime,
                mtime,
                cwd,
            } => fs_result(
                self.start_node(cwd, &[path], cred)
                    .and_then(|at| self.state.vfs.set_times(at, path, atime, mtime, cred)),
            ),
            FsRequest::SetBlockDevices { devices } => {
                let list = devices
                    .iter()
                    .map(|(n, s)| (String::from(*n), *s))
                    .collect();
                self.state.devfs.borrow_mut().set_blocks(list);
                (encode_fs(&FsResponse::Ok), Vec::new())
            }
            FsRequest::Mount { .. } | FsRequest::ShareBuffer => fs_err(Errno::EINVAL),
            FsRequest::Unmount { .. } | FsRequest::UnmountAll if cred.uid != 0 => {
                fs_err(Errno::EPERM)
            }
            FsRequest::Unmount { target, cwd } => fs_result(self.unmount_remote(target, cwd)),
            FsRequest::UnmountAll => fs_result(self.unmount_all()),
        }
    }

    // ---- mounts served by other processes ----------------------------------------

    fn mount_remote(
        &mut self,
        source: &str,
        target: &str,
        fs_type: &str,
        cwd: &str,
        cap: Option<u64>,
    ) -> Result<(), Errno> {
        let Some(cap) = cap else {
            return Err(Errno::EINVAL);
        };
        let path = match self.start_node(cwd, &[target], &Cred::ROOT).and_then(|at| {
            let node = self.state.vfs.resolve(at, target, true, &Cred::ROOT)?;
            self.state.vfs.path_of(node)
        }) {
            Ok(path) => path,
            Err(e) => {
                let _ = sys::cap_delete(cap);
                return Err(e);
            }
        };
        let used: Vec<u64> = self.remote.values().map(|r| r.buffer_va).collect();
        let (fs, buffer_va) =
            crate::remote::connect(cap, setup::now(), &used).inspect_err(|e| {
                dprintln!("vfs: mounting {source}: the server does not answer: {e}")
            })?;
        if fs.fs_type() != fs_type {
            dprintln!("vfs: {source} serves {}, not {fs_type}", fs.fs_type());
        }
        // Dropping `fs` on failure tells the server (its capability goes).
        let id = if path == "/" {
            self.switch_root(source, fs)?
        } else {
            self.state.vfs.mount(&path, fs)?
        };
        self.remote.insert(
            id.0,
            RemoteMount {
                source: String::from(source),
                buffer_va,
            },
        );
        Ok(())
    }

    /// A mount on `/` (the `root=` boot argument, docs/storage.md): the
    /// volume becomes the root, the boot archive's tmpfs stays at `/initrd`
    /// and serves its `bin`, `sbin`, `etc`, `usr` and `lib` where the volume
    /// has none of its own. Once only: a root that is already a disk is busy.
    fn switch_root(
        &mut self,
        source: &str,
        fs: alloc::boxed::Box<dyn zos_vfs_core::FileSystem>,
    ) -> Result<zos_vfs_core::MountId, Errno> {
        if self.remote.contains_key(&self.state.vfs.root_mount().0) {
            return Err(Errno::EBUSY);
        }
        let switched = self
            .state
            .vfs
            .switch_root(fs, "initrd", &["bin", "sbin", "etc", "usr", "lib"])
            .inspect_err(|e| dprintln!("vfs: {source} as /: {e}"))?;
        dprintln!(
            "vfs: / is now {source}; the boot archive is at /initrd (serving /{} there)",
            switched.views.join(", /")
        );
        Ok(switched.id)
    }

    fn unmount_remote(&mut self, target: &str, cwd: &str) -> Result<(), Errno> {
        // Resolving stops at the mount's root without asking its (maybe dead)
        // server anything; the mount table names the path.
        let node = self
            .start_node(cwd, &[target], &Cred::ROOT)
            .and_then(|at| self.state.vfs.resolve(at, target, false, &Cred::ROOT))?;
        let (id, path) = self
            .state
            .vfs
            .mounts()
            .into_iter()
            .find(|m| m.id == node.mount)
            .map(|m| (m.id, m.path))
            .ok_or(Errno::EINVAL)?;
        if !self.remote.contains_key(&id.0) {
            // The built-in mounts (/, /tmp, /dev, /proc) stay.
            return Err(Errno::EBUSY);
        }
        let mut fs = self.state.vfs.unmount(&path)?;
        self.remote.remove(&id.0);
        // The mount is gone either way; a failed flush is still reported.
        fs.unmount()
    }

    /// Let every remote file system go (deepest mount first), for power-off.
    fn unmount_all(&mut self) -> Result<(), Errno> {
        let mut mounts: Vec<_> = self
            .state
            .vfs
            .mounts()
            .into_iter()
            .filter(|m| self.remote.contains_key(&m.id.0))
            .collect();
        mounts.sort_by_key(|m| core::cmp::Reverse(m.path.len()));
        let mut result = Ok(());
        for mount in mounts {
            let done = self.state.vfs.shut_down(mount.id);
            if let Err(e) = done {
                dprintln!("vfs: unmounting {}: {e}", mount.path);
                result = result.and(Err(e));
            }
        }
        result
    }

    /// `FsRequest::Open`: a file the VFS serves itself goes into `owner`'s
    /// parked handle `reuse` when there is one (no capability to mint),
    /// else into a new handle; terminals, ptys and block devices are other
    /// servers' handles.
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        owner: u32,
        cred: &Cred,
        path: &str,
        flags: u32,
        mode: u32,
        cwd: &str,
        reuse: u64,
    ) -> Result<Opened, Errno> {
        // Refused before anything is opened, so a client at its limit costs
        // nothing (a parked handle is within the limit already).
        if reuse == 0 {
            self.handles.reserve(owner)?;
        }
        let at = self.start_node(cwd, &[path], cred)?;
        let flags = OpenFlags::from_bits_truncate(flags);
        let (node, kind) = self.state.vfs.open_kind(at, path, flags, mode, cred)?;
        let modifies = flags.writable() || flags.contains(OpenFlags::TRUNC);
        if node.mount == self.state.proc_mount && modifies {
            self.state.vfs.close(node);
            return Err(Errno::EACCES);
        }
        if node.mount == self.state.dev_mount {
            if Devfs::is_terminal(node.ino) {
                self.state.vfs.close(node);
                return self.console_handle().map(Opened::Elsewhere);
            }
            if Devfs::is_pty_master(node.ino) {
                self.state.vfs.close(node);
                return self
                    .pty_handle(PtyRequest::OpenMaster)
                    .map(Opened::Elsewhere);
            }
            let slave = self.state.devfs.borrow().pty_slave(node.ino);
            if let Some(index) = slave {
                self.state.vfs.close(node);
                return self
                    .pty_handle(PtyRequest::OpenSlave { index })
                    .map(Opened::Elsewhere);
            }
            let block = self
                .state
                .devfs
                .borrow()
                .block_name(node.ino)
                .map(String::from);
            if let Some(name) = block {
                self.state.vfs.close(node);
                return self.block_handle(&name).map(Opened::Elsewhere);
            }
            // Every open of a device stirs the random devices a little.
            let stir = [sys::clock_ns().to_le_bytes(), self.requests.to_le_bytes()].concat();
            self.state.devfs.borrow_mut().absorb_entropy(&stir);
        }
        let file = Rc::new(RefCell::new(OpenFile::new(node, flags)));
        // Devices served here (`/dev/null`, `/dev/zero`) move bulk data
        // through the shared buffer like files: `dd of=/dev/null` would
        // otherwise pay a message per 3,968 bytes.
        let bulk = matches!(kind, FileKind::Regular | FileKind::CharDevice);
        let handle = Handle {
            file,
            buffer: None,
            session: Some(owner),
        };
        let handle = match reuse {
            0 => handle,
            _ => match self.handles.unpark(reuse, owner, handle) {
                Ok(()) => {
                    let handle = reuse;
                    return Ok(Opened::Here {
                        cap: None,
                        handle,
                        bulk,
                    });
                }
                Err(handle) => handle,
            },
        };
        self.new_handle(owner, handle.file, Some(owner))
            .map(|(cap, handle)| Opened::Here {
                cap: Some(cap),
                handle,
                bulk,
            })
            .inspect_err(|_| self.state.vfs.close(node))
    }

    /// `FsRequest::ShareBuffer`: `memory` becomes `client`'s session
    /// buffer; the answer carries the session token whose end frees it.
    fn share_session_buffer(&mut self, client: u32, memory: Option<u64>) -> Answer {
        let Some(memory) = memory else {
            return fs_err(Errno::EINVAL);
        };
        let buffer = match self.windows.attach(memory) {
            Ok(buffer) => buffer,
            Err(e) => return (encode_fs(&FsResponse::Err(e)), Vec::new()),
        };
        let token = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE,
            SESSION_TAG | self.sessions.next_serial() as u64,
        );
        let Ok(token) = token else {
            self.windows.detach(buffer);
            return fs_err(Errno::ENFILE);
        };
        if let Some(old) = self.sessions.attach(client, buffer) {
            self.windows.detach(old);
        }
        (encode_fs(&FsResponse::Ok), alloc::vec![token])
    }

    /// A file handle of block device `name` (`/dev/vda1`), from devmgr and the
    /// disk's driver (`zos_proto::block::DevRequest::OpenDevice`).
    fn block_handle(&mut self, name: &str) -> Result<u64, Errno> {
        let devmgr = match self.devmgr {
            Some(devmgr) => devmgr,
            None => {
                let lookup = ProcRequest::Lookup {
                    name: zos_proto::block::DEVMGR_SERVICE,
                };
                let reply = ipc::call(slots::PROC, &lookup, &[]).map_err(|_| Errno::ENXIO)?;
                match (reply.decode::<ProcResponse>(), reply.caps.first()) {
                    (Some(ProcResponse::Attached), Some(cap)) => {
                        self.devmgr = Some(*cap);
                        *cap
                    }
                    _ => return Err(Errno::ENXIO),
                }
            }
        };
        let request = zos_proto::block::DevRequest::OpenDevice { name };
        let reply = ipc::call(devmgr, &request, &[]).map_err(|_| {
            let _ = sys::cap_delete(devmgr);
            self.devmgr = None;
            Errno::ENXIO
        })?;
        use zos_proto::block::DevResponse;
        match (reply.decode::<DevResponse>(), reply.caps.as_slice()) {
            (Some(DevResponse::Opened), &[cap]) => Ok(cap),
            (Some(DevResponse::Err(e)), _) => {
                for cap in &reply.caps {
                    let _ = sys::cap_delete(*cap);
                }
                Err(Errno::from_i32(e).unwrap_or(Errno::EIO))
            }
            _ => {
                for cap in &reply.caps {
                    let _ = sys::cap_delete(*cap);
                }
                Err(Errno::EIO)
            }
        }
    }

    /// A fresh handle of the console service (`/dev/console`, `/dev/tty`).
    fn console_handle(&mut self) -> Result<u64, Errno> {
        for _ in 0..2 {
            let console = match self.console {
                Some(console) => console,
                None => {
                    let reply =
                        ipc::call(slots::PROC, &ProcRequest::Lookup { name: "console" }, &[])
                            .map_err(|_| Errno::ENXIO)?;
                    match (reply.decode::<ProcResponse>(), reply.caps.first()) {
                        (Some(ProcResponse::Attached), Some(cap)) => {
                            self.console = Some(*cap);
                            *cap
                        }
                        _ => return Err(Errno::ENXIO),
                    }
                }
            };
            match ipc::call(console, &IoRequest::Clone, &[]) {
                Ok(reply) => {
                    return match (reply.decode::<IoResponse>(), reply.caps.first()) {
                        (Some(IoResponse::Cloned), Some(cap)) => Ok(*cap),
                        _ => {
                            for cap in reply.caps {
                                let _ = sys::cap_delete(cap);
                            }
                            Err(Errno::ENXIO)
                        }
                    }
                }
                Err(_) => {
                    let _ = sys::cap_delete(console);
                    self.console = None;
                }
            }
        }
        Err(Errno::ENXIO)
    }

    /// A new handle of `owner` on `file`: a watched badged capability, and
    /// the handle's id.
    fn new_handle(
        &mut self,
        owner: u32,
        file: Rc<RefCell<OpenFile>>,
        session: Option<u32>,
    ) -> Result<(u64, u64), Errno> {
        let id = self.handles.reserve(owner)?;
        let cap = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            HANDLE_TAG | id,
        )
        .map_err(|_| Errno::ENFILE)?;
        let handle = Handle {
            file,
            buffer: None,
            session,
        };
        let inserted = self.handles.insert(owner, handle);
        debug_assert_eq!(inserted, Ok(id));
        Ok((cap, id))
    }

    // ---- handle requests ------------------------------------------------------------

    fn handle_io(&mut self, id: u64, request: Option<IoRequest>, caps: &[u64]) -> Answer {
        let attached = match request {
            Some(IoRequest::ShareBuffer) => caps.first().copied(),
            _ => None,
        };
        for cap in caps.iter().filter(|c| Some(**c) != attached) {
            let _ = sys::cap_delete(*cap);
        }
        let Some(handle) = self.handles.get(id) else {
            if let Some(cap) = attached {
                let _ = sys::cap_delete(cap);
            }
            return io_err(EBADF);
        };
        let file = handle.file.clone();
        let Some(request) = request else {
            return io_err(EINVAL);
        };
        let node = file.borrow().node();
        if node.mount == self.state.proc_mount && starts_reading(&file.borrow(), &request) {
            self.refresh_procfs(zos_vfs_core::procfs::pid_of(node.ino));
        }
        let vfs = &mut self.state.vfs;
        match request {
            IoRequest::Read { max } => {
                let mut buffer = alloc::vec![0u8; (max as usize).min(MAX_IO_CHUNK)];
                match file.borrow_mut().read(vfs, &mut buffer) {
                    Ok(n) => (encode_io(&IoResponse::Data(&buffer[..n])), Vec::new()),
                    Err(e) => io_err(e.as_i32()),
                }
            }
            IoRequest::ReadAt { offset, max } => {
                let mut buffer = alloc::vec![0u8; (max as usize).min(MAX_IO_CHUNK)];
                match file.borrow().read_at(vfs, offset, &mut buffer) {
                    Ok(n) => (encode_io(&IoResponse::Data(&buffer[..n])), Vec::new()),
                    Err(e) => io_err(e.as_i32()),
                }
            }
            IoRequest::Write { data } => io_result(
                file.borrow_mut()
                    .write(vfs, data)
                    .map(|n| IoResponse::Written(n as u32)),
            ),
            IoRequest::WriteAt { offset, data } => io_result(
                file.borrow()
                    .write_at(vfs, offset, data)
                    .map(|n| IoResponse::Written(n as u32)),
            ),
            IoRequest::Close => {
                // Drop this request's own reference first: the file closes
                // only when the handle held the last one (this clone used to
                // keep every closed file, and unlinked data, alive). The
                // handle stays parked for its owner's next open (`reuse`).
                drop(file);
                self.end_handle(id, true);
                (encode_io(&IoResponse::Ok), Vec::new())
            }
            IoRequest::Clone => {
                let owner = self.handles.owner(id).unwrap_or(0);
                match self.new_handle(owner, file, None) {
                    Ok((cap, _new_id)) => {
                        #[cfg(not(target_arch = "wasm32"))]
                        self.mapped.cloned(id, _new_id);
                        (encode_io(&IoResponse::Cloned), alloc::vec![cap])
                    }
                    Err(e) => io_err(e.as_i32()),
                }
            }
            IoRequest::Stat => io_result(vfs.stat_node(node).map(|stat| {
                let kind = match stat.kind {
                    FileKind::Directory => HandleKind::Directory,
                    FileKind::Regular | FileKind::Symlink => HandleKind::File,
                    _ => HandleKind::Device,
                };
                IoResponse::Stat(HandleStat {
                    kind,
                    size: stat.size,
                })
            })),
            IoRequest::Fstat => io_result(
                vfs.stat_node(node)
                    .map(|stat| IoResponse::FileStat(stat.to_wire(node.mount.0 as u64))),
            ),
            IoRequest::GetTermios
            | IoRequest::SetTermios(_)
            | IoRequest::SetForeground { .. }
            | IoRequest::GetForeground
            | IoRequest::TerminalRead { .. } => io_err(ENOTTY),
            IoRequest::SetNonBlocking(on) => {
                let mut open = file.borrow_mut();
                let mut flags = open.flags();
                flags.set(OpenFlags::NONBLOCK, on);
                open.set_status_flags(flags);
                (encode_io(&IoResponse::Ok), Vec::new())
            }
            IoRequest::Seek { offset, whence } => io_result(
                Whence::from_i32(whence as i32)
                    .and_then(|whence| file.borrow_mut().lseek(vfs, offset, whence))
                    .map(IoResponse::Position),
            ),
            IoRequest::ReadDir { max_entries } => self.read_dir(&file, max_entries as usize),
            IoRequest::Truncate { len } => {
                if !file.borrow().flags().writable() {
                    return io_err(EINVAL);
                }
                io_result(vfs.truncate_node(node, len).map(|_| IoResponse::Ok))
            }
            // fsync: the file's own file system, flushed to its device
            // (with what a shared mapping wrote).
            IoRequest::Sync => {
                #[cfg(not(target_arch = "wasm32"))]
                if self.mapped.may_be_written(node) {
                    if let Err(e) = vfs.flush_shared_pages(node) {
                        return io_err(e.as_i32());
                    }
                }
                io_result(vfs.sync_mount(node.mount).map(|_| IoResponse::Ok))
            }
            IoRequest::MapShared { pages } => self.map_shared(id, &file, pages),
            IoRequest::ShareBuffer => {
                let Some(memory) = attached else {
                    return io_err(EINVAL);
                };
                let attached = match self.windows.attach(memory) {
                    Ok(buffer) => buffer,
                    Err(e) => return io_err(e),
                };
                if let Some(handle) = self.handles.get_mut(id) {
                    if let Some(old) = handle.buffer.replace(attached) {
                        self.windows.detach(old);
                    }
                }
                (encode_io(&IoResponse::Ok), Vec::new())
            }
            IoRequest::ReadShared { max, offset } => self.read_shared(id, &file, max, offset),
            IoRequest::WriteShared { len, offset } => self.write_shared(id, &file, len, offset),
            IoRequest::Net(_) => io_err(zos_proto::errno::ENOTSOCK),
            IoRequest::AttachRing => io_err(zos_proto::errno::EINVAL),
            // Files and directories: a read always answers at once.
            IoRequest::Readable => (encode_io(&IoResponse::Ok), Vec::new()),
            // ... and a write too: always ready, no watch kept (`poll`).
            IoRequest::Watch { events } => (encode_io(&IoResponse::Ready(events)), Vec::new()),
            IoRequest::WakeWatchers => io_err(zos_proto::errno::EINVAL),
            // Terminal requests: a file is no terminal.
            IoRequest::GetWinSize
            | IoRequest::SetWinSize(_)
            | IoRequest::PtyNumber
            | IoRequest::SetPtyLock(_)
            | IoRequest::TerminalName => io_err(zos_proto::errno::ENOTTY),
        }
    }

    /// The handle's last capability is gone: it ends for good.
    fn close_handle(&mut self, id: u64) {
        self.end_handle(id, false);
    }

    /// Closes handle `id`'s file; a `parked` handle keeps its id for its
    /// owner (`HandleTable::park`), otherwise the id is gone.
    fn end_handle(&mut self, id: u64, parked: bool) {
        #[cfg(not(target_arch = "wasm32"))]
        self.mapped.closed(&mut self.state.vfs, id);
        let handle = match parked {
            true => self.handles.park(id),
            false => self.handles.remove(id),
        };
        let Some(handle) = handle else {
            return;
        };
        if let Some(buffer) = handle.buffer {
            self.windows.detach(buffer);
        }
        if let Ok(open) = Rc::try_unwrap(handle.file) {
            open.into_inner().close(&mut self.state.vfs);
        }
    }

    /// `MapShared`: the file's shared pages (docs/vfs.md, "Shared file
    /// mappings"), for regular files outside procfs opened for reading.
    #[cfg(not(target_arch = "wasm32"))]
    fn map_shared(&mut self, id: u64, file: &Rc<RefCell<OpenFile>>, pages: u64) -> Answer {
        let (node, flags) = {
            let open = file.borrow();
            (open.node(), open.flags())
        };
        let regular = self
            .state
            .vfs
            .stat_node(node)
            .is_ok_and(|stat| stat.kind == FileKind::Regular);
        if !regular || node.mount == self.state.proc_mount {
            return io_err(ENODEV);
        }
        if !flags.readable() {
            return io_err(EACCES);
        }
        let writable = flags.writable();
        match self
            .mapped
            .map(&mut self.state.vfs, id, node, pages, writable)
        {
            Ok((cap, pages)) => (
                encode_io(&IoResponse::Mapped { pages, writable }),
                alloc::vec![cap],
            ),
            Err(errno) => io_err(errno),
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn map_shared(&mut self, _: u64, _: &Rc<RefCell<OpenFile>>, _: u64) -> Answer {
        io_err(ENOSYS)
    }

    fn read_dir(&mut self, file: &Rc<RefCell<OpenFile>>, max_entries: usize) -> Answer {
        let wanted = max_entries.clamp(1, MAX_DIR_ENTRIES);
        let mut entries: Vec<zos_vfs_core::DirEntry> = Vec::new();
        let mut budget = DIR_REPLY_BUDGET;
        let mut open = file.borrow_mut();
        while entries.len() < wanted {
            let mut probe = open.clone();
            match probe.readdir(&self.state.vfs) {
                Ok(Some(entry)) => {
                    let cost = entry.name.len() + 16;
                    if cost > budget {
                        break;
                    }
                    budget -= cost;
                    entries.push(entry);
                    *open = probe;
                }
                Ok(None) => break,
                Err(e) if entries.is_empty() => return io_err(e.as_i32()),
                Err(_) => break,
            }
        }
        let list: Vec<DirEntry> = entries
            .iter()
            .map(|e| DirEntry {
                ino: e.ino,
                kind: dirent_type(e.kind),
                name: &e.name,
            })
            .collect();
        match ipc::encode_vec(&IoResponse::Entries(list)) {
            Ok(bytes) => (bytes, Vec::new()),
            Err(_) => io_err(EIO),
        }
    }

    fn read_shared(
        &mut self,
        id: u64,
        file: &Rc<RefCell<OpenFile>>,
        max: u32,
        offset: Option<u64>,
    ) -> Answer {
        let Some(buffer) = buffer_of(&self.handles, &self.sessions, id) else {
            return io_err(EINVAL);
        };
        let count = (max as usize).min(buffer.size());
        self.scratch.clear();
        self.scratch.resize(count, 0);
        let result = match offset {
            Some(at) => file
                .borrow()
                .read_at(&mut self.state.vfs, at, &mut self.scratch),
            None => file
                .borrow_mut()
                .read(&mut self.state.vfs, &mut self.scratch),
        };
        match result {
            Ok(n) => {
                let stored = buffer.store(&self.scratch[..n]);
                (
                    encode_io(&IoResponse::Transferred(stored as u32)),
                    Vec::new(),
                )
            }
            Err(e) => io_err(e.as_i32()),
        }
    }

    fn write_shared(
        &mut self,
        id: u64,
        file: &Rc<RefCell<OpenFile>>,
        len: u32,
        offset: Option<u64>,
    ) -> Answer {
        let Some(buffer) = buffer_of(&self.handles, &self.sessions, id) else {
            return io_err(EINVAL);
        };
        if len as usize > buffer.size() {
            return io_err(EINVAL);
        }
        buffer.load(len as usize, &mut self.scratch);
        let result = match offset {
            Some(at) => file
                .borrow()
                .write_at(&mut self.state.vfs, at, &self.scratch),
            None => file.borrow_mut().write(&mut self.state.vfs, &self.scratch),
        };
        io_result(result.map(|n| IoResponse::Transferred(n as u32)))
    }
}

/// procfs's form of a CPU's counts.
fn cpu_time(stats: sys::CpuStats) -> CpuTime {
    CpuTime {
        busy_ticks: stats.busy_ticks,
        switches: stats.switches,
        faults: stats.faults,
    }
}

/// Calls since boot of every syscall the ABI names, then of invalid numbers.
fn syscall_counts() -> Vec<(u64, String, u64)> {
    let counts = sys::syscall_counts();
    let (mut rows, mut invalid) = (Vec::new(), 0);
    for (number, &count) in (0u64..).zip(&counts) {
        match libzos::abi::Sys::from_number(number) {
            Some(call) => rows.push((number, alloc::format!("{call:?}"), count)),
            None => invalid += count,
        }
    }
    let last = counts.len() as u64 - 1;
    rows.push((last, String::from("(invalid numbers)"), invalid));
    rows
}

/// Whether a request on a procfs handle starts reading it afresh (offset 0),
/// which is when its content is regenerated.
fn starts_reading(file: &OpenFile, request: &IoRequest) -> bool {
    match request {
        IoRequest::Read { .. } | IoRequest::ReadDir { .. } => file.offset() == 0,
        IoRequest::ReadShared { offset, .. } => offset.unwrap_or(file.offset()) == 0,
        IoRequest::ReadAt { offset, .. } => *offset == 0,
        IoRequest::Fstat => true,
        _ => false,
    }
}

/// Whether `request` only looks: walking a path and reading attributes set
/// no timestamp (Linux does not touch a directory's access time on lookup).
fn changes_no_time(request: &FsRequest) -> bool {
    matches!(
        request,
        FsRequest::Stat { .. }
            | FsRequest::Lstat { .. }
            | FsRequest::Readlink { .. }
            | FsRequest::StatFs { .. }
            | FsRequest::Mounts
            | FsRequest::Chdir { .. }
    )
}
