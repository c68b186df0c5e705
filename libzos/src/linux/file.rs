//! File, directory and descriptor calls of the dispatcher, over
//! `crate::fs` and `crate::posix`: open flags and `struct stat` in Linux's
//! AArch64 layout, `getdents64` records, `fcntl`, terminal `ioctl`s.

use super::{c_str, get_word, put_words, user_bytes, user_bytes_mut, SysResult};
use crate::fs::{self, FileStat};
use crate::posix::{self, Errno, Fd};
use crate::rt::BackoffMutex as Mutex;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use zos_proto::errno::*;
use zos_proto::io::HandleKind;
use zos_proto::net::SocketKind;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EMPTY_PATH: u32 = 0x1000;

/// Open flags where Linux/AArch64 differs from `zos_proto::fs::flags`.
mod linux_flags {
    pub const O_DIRECTORY: u32 = 0o40000;
    pub const O_NOFOLLOW: u32 = 0o100000;
    pub const O_DIRECT: u32 = 0o200000;
    pub const O_LARGEFILE: u32 = 0o400000;
}

/// Linux/AArch64 open flags as libzos's.
fn open_flags(linux: u32) -> u32 {
    let same = linux
        & (fs::O_ACCMODE
            | fs::O_CREAT
            | fs::O_EXCL
            | fs::O_NOCTTY
            | fs::O_TRUNC
            | fs::O_APPEND
            | fs::O_NONBLOCK
            | fs::O_CLOEXEC);
    let mut flags = same;
    if linux & linux_flags::O_DIRECTORY != 0 {
        flags |= fs::O_DIRECTORY;
    }
    if linux & linux_flags::O_NOFOLLOW != 0 {
        flags |= fs::O_NOFOLLOW;
    }
    let _ = (linux_flags::O_DIRECT, linux_flags::O_LARGEFILE);
    flags
}

/// Per-descriptor state Linux keeps and libzos does not: the open flags (for
/// `F_GETFL`), close-on-exec, directory entries read but not yet returned,
/// and the type of the sockets this program made (linux/net.rs).
#[derive(Clone, Default)]
struct FdState {
    flags: BTreeMap<Fd, u32>,
    cloexec: BTreeSet<Fd>,
    entries: BTreeMap<Fd, (VecDeque<fs::DirEntry>, i64)>,
    sockets: BTreeMap<Fd, SocketKind>,
}

static STATE: Mutex<Option<FdState>> = Mutex::new(None);

fn with_state<R>(f: impl FnOnce(&mut FdState) -> R) -> R {
    f(STATE.lock().get_or_insert_with(FdState::default))
}

/// The parent's per-descriptor state while a vfork child runs.
static VFORK_SAVED: Mutex<Vec<FdState>> = Mutex::new(Vec::new());

pub(super) fn vfork_save() {
    let copy = with_state(|s| s.clone());
    VFORK_SAVED.lock().push(copy);
}

pub(super) fn vfork_restore() {
    if let Some(saved) = VFORK_SAVED.lock().pop() {
        *STATE.lock() = Some(saved);
    }
}

/// Descriptors marked close-on-exec.
pub(super) fn cloexec_fds() -> Vec<Fd> {
    with_state(|s| s.cloexec.iter().copied().collect())
}

fn forget(fd: Fd) {
    with_state(|s| {
        s.flags.remove(&fd);
        s.cloexec.remove(&fd);
        s.entries.remove(&fd);
        s.sockets.remove(&fd);
    });
}

/// A new socket descriptor (socket, accept4): its type, `O_NONBLOCK` for
/// `F_GETFL`, close-on-exec.
pub(super) fn note_socket(fd: Fd, kind: SocketKind, nonblocking: bool, cloexec: bool) {
    forget(fd);
    with_state(|s| {
        let flags = fs::O_RDWR | if nonblocking { fs::O_NONBLOCK } else { 0 };
        s.flags.insert(fd, flags);
        s.sockets.insert(fd, kind);
        if cloexec {
            s.cloexec.insert(fd);
        }
    });
}

/// The type of a socket this program made (or learnt), if known.
pub(super) fn socket_kind(fd: Fd) -> Option<SocketKind> {
    with_state(|s| s.sockets.get(&fd).copied())
}

/// Remembers the type of a socket descriptor found out later (inherited).
pub(super) fn learn_socket_kind(fd: Fd, kind: SocketKind) {
    with_state(|s| s.sockets.insert(fd, kind));
}

/// Whether this program opened `fd` itself as something other than a
/// socket (a file, a pipe): then no server needs asking.
pub(super) fn known_not_socket(fd: Fd) -> bool {
    with_state(|s| s.flags.contains_key(&fd) && !s.sockets.contains_key(&fd))
}

/// Whether the descriptor is in `O_NONBLOCK` mode.
pub(super) fn is_nonblocking(fd: Fd) -> bool {
    with_state(|s| s.flags.get(&fd).is_some_and(|f| f & fs::O_NONBLOCK != 0))
}

/// Sets or clears `O_NONBLOCK` (fcntl, FIONBIO); a socket's server is told,
/// since its reads, accepts and connects wait there.
fn set_nonblocking_flag(fd: Fd, on: bool) -> Result<(), Errno> {
    let was = is_nonblocking(fd);
    if was != on && super::net::is_socket(fd) {
        crate::net::set_nonblocking(fd, on)?;
    }
    with_state(|s| {
        let old = s.flags.get(&fd).copied().unwrap_or(fs::O_RDWR);
        let new = if on {
            old | fs::O_NONBLOCK
        } else {
            old & !fs::O_NONBLOCK
        };
        s.flags.insert(fd, new);
    });
    Ok(())
}

/// `path` as seen from the directory `dirfd`.
fn at(dirfd: i32, path: u64) -> Result<String, Errno> {
    fs::path_at(dirfd, c_str(path)?)
}

pub fn openat(dirfd: i32, path: u64, flags: u32, mode: u32) -> SysResult {
    let path = c_str(path)?;
    let fd = fs::openat(dirfd, path, open_flags(flags), mode)?;
    forget(fd);
    with_state(|s| {
        s.flags.insert(fd, flags & !0o2000000);
        if flags & 0o2000000 != 0 {
            s.cloexec.insert(fd);
        }
    });
    Ok(i64::from(fd))
}

pub fn close(fd: Fd) -> SysResult {
    posix::close(fd)?;
    forget(fd);
    Ok(0)
}

/// read: one transfer answers at most [`zos_proto::MAX_IO_CHUNK`] bytes by
/// message or [`fs::SHARED_SIZE`] through the shared buffer. Linux fills
/// the whole buffer from a file or a device like `/dev/zero` unless the
/// file ends, and programs count on it (`dd bs=1M count=1`), so a transfer
/// that came back full is followed by more until the buffer is full or
/// one comes back short; pipes, terminals and sockets answer what they
/// have, as on Linux.
pub fn read(fd: Fd, ptr: u64, len: u64) -> SysResult {
    let buffer = user_bytes_mut(ptr, len)?;
    let full = |n: usize| n == zos_proto::MAX_IO_CHUNK || n as u64 == fs::SHARED_SIZE;
    let mut done = posix::read(fd, buffer)?;
    if done < buffer.len()
        && full(done)
        && matches!(
            posix::stat_kind(fd),
            Ok(HandleKind::File) | Ok(HandleKind::Device)
        )
    {
        while done < buffer.len() {
            match posix::read(fd, &mut buffer[done..]) {
                Ok(n) => {
                    done += n;
                    if !full(n) {
                        break;
                    }
                }
                // What was read is answered; the error comes again next time.
                Err(_) => break,
            }
        }
    }
    Ok(done as i64)
}

pub fn write(fd: Fd, ptr: u64, len: u64) -> SysResult {
    let data = user_bytes(ptr, len)?;
    if is_nonblocking(fd) {
        return Ok(posix::write_nonblocking(fd, data)? as i64);
    }
    Ok(posix::write(fd, data)? as i64)
}

pub fn pread(fd: Fd, ptr: u64, len: u64, offset: u64) -> SysResult {
    Ok(fs::pread(fd, user_bytes_mut(ptr, len)?, offset)? as i64)
}

pub fn pwrite(fd: Fd, ptr: u64, len: u64, offset: u64) -> SysResult {
    Ok(fs::pwrite(fd, user_bytes(ptr, len)?, offset)? as i64)
}

/// sendfile: one read of up to 64 KiB from `in_fd` (at `*offset` when
/// given, which then moves on; else at and moving its file offset), all of
/// it written to `out_fd`. Returns the bytes moved (callers loop, as Linux
/// may move less than asked too).
pub fn sendfile(out_fd: Fd, in_fd: Fd, offset: u64, count: u64) -> SysResult {
    let mut buffer = alloc::vec![0u8; count.min(64 * 1024) as usize];
    if buffer.is_empty() {
        return Ok(0);
    }
    let n = if offset != 0 {
        let at = get_word(offset)?;
        let n = fs::pread(in_fd, &mut buffer, at)?;
        put_words(offset, &[at + n as u64])?;
        n
    } else {
        posix::read(in_fd, &mut buffer)?
    };
    let mut written = 0;
    while written < n {
        match posix::write(out_fd, &buffer[written..n]) {
            Ok(0) => break,
            Ok(more) => written += more,
            Err(e) if written == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(written as i64)
}

/// The `(base, len)` pairs of an iovec array.
fn iovecs(ptr: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > 1024 {
        return Err(Errno(EINVAL));
    }
    (0..count)
        .map(|i| Ok((get_word(ptr + i * 16)?, get_word(ptr + i * 16 + 8)?)))
        .collect()
}

/// Most bytes `readv`/`writev` gather into one buffer; beyond it they
/// transfer less (a short count, which callers handle).
const VECTOR_LIMIT: u64 = 1 << 16;

/// writev: the pieces go out as one write (one message), so they stay
/// together as they would on Linux; at most [`VECTOR_LIMIT`] bytes a call.
pub fn writev(fd: Fd, ptr: u64, count: u64) -> SysResult {
    let vectors = iovecs(ptr, count)?;
    let mut data = Vec::new();
    for (base, len) in vectors {
        let room = VECTOR_LIMIT.saturating_sub(data.len() as u64);
        if room == 0 {
            break;
        }
        data.extend_from_slice(user_bytes(base, len.min(room))?);
    }
    if data.is_empty() {
        return Ok(0);
    }
    let mut done = 0;
    while done < data.len() {
        match posix::write(fd, &data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done as i64)
}

/// readv: one read of the total length, scattered over the pieces.
pub fn readv(fd: Fd, ptr: u64, count: u64) -> SysResult {
    let vectors = iovecs(ptr, count)?;
    let total: u64 = vectors
        .iter()
        .map(|(_, len)| *len)
        .fold(0u64, u64::saturating_add)
        .min(VECTOR_LIMIT);
    let mut data = alloc::vec![0u8; total as usize];
    let n = posix::read(fd, &mut data)?;
    let mut rest = &data[..n];
    for (base, len) in vectors {
        if rest.is_empty() {
            break;
        }
        let take = rest.len().min(len as usize);
        user_bytes_mut(base, take as u64)?.copy_from_slice(&rest[..take]);
        rest = &rest[take..];
    }
    Ok(n as i64)
}

pub fn lseek(fd: Fd, offset: i64, whence: i32) -> SysResult {
    Ok(fs::lseek(fd, offset, whence)? as i64)
}

/// `struct stat` of Linux on AArch64 (128 bytes).
fn put_stat(ptr: u64, stat: &FileStat) -> SysResult {
    let ns = |t: u64| [t / 1_000_000_000, t % 1_000_000_000];
    let [atime, atime_ns] = ns(stat.atime_ns);
    let [mtime, mtime_ns] = ns(stat.mtime_ns);
    let [ctime, ctime_ns] = ns(stat.ctime_ns);
    let words = [
        stat.dev,
        stat.ino,
        u64::from(stat.mode) | (u64::from(stat.nlink) << 32),
        u64::from(stat.uid) | (u64::from(stat.gid) << 32),
        stat.rdev,
        0,
        stat.size,
        u64::from(stat.block_size),
        stat.blocks,
        atime,
        atime_ns,
        mtime,
        mtime_ns,
        ctime,
        ctime_ns,
        0,
    ];
    put_words(ptr, &words)?;
    Ok(0)
}

pub fn fstat(fd: Fd, ptr: u64) -> SysResult {
    put_stat(ptr, &fs::fstat(fd)?)
}

pub fn newfstatat(dirfd: i32, path: u64, ptr: u64, flags: u32) -> SysResult {
    let name = c_str(path)?;
    if name.is_empty() {
        if flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
            return fstat(dirfd, ptr);
        }
        return Err(Errno(ENOENT));
    }
    let full = fs::path_at(dirfd, name)?;
    let stat = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        fs::lstat(&full)?
    } else {
        fs::stat(&full)?
    };
    put_stat(ptr, &stat)
}

/// access: existence, and the permission bits of the owner (everything runs
/// as root, but X_OK still needs an execute bit, as on Linux).
pub fn faccessat(dirfd: i32, path: u64, mode: u32) -> SysResult {
    let stat = fs::stat(&at(dirfd, path)?)?;
    const X_OK: u32 = 1;
    if mode & X_OK != 0 && stat.mode & 0o111 == 0 && !stat.is_dir() {
        return Err(Errno(EACCES));
    }
    Ok(0)
}

/// Linux `d_type` values are the DT_* values libzos uses.
pub fn getdents64(fd: Fd, ptr: u64, count: u64) -> SysResult {
    let out = user_bytes_mut(ptr, count)?;
    let (mut pending, mut offset) = with_state(|s| s.entries.remove(&fd)).unwrap_or_default();
    if pending.is_empty() {
        let guess = (count / 32).clamp(1, 256) as u32;
        pending.extend(fs::getdents(fd, guess)?);
    }
    let mut used = 0usize;
    while let Some(entry) = pending.front() {
        let name = entry.name.as_bytes();
        let length = (19 + name.len() + 1).next_multiple_of(8);
        if used + length > out.len() {
            break;
        }
        offset += 1;
        let record = &mut out[used..used + length];
        record.fill(0);
        record[0..8].copy_from_slice(&entry.ino.to_le_bytes());
        record[8..16].copy_from_slice(&offset.to_le_bytes());
        record[16..18].copy_from_slice(&(length as u16).to_le_bytes());
        record[18] = entry.kind;
        record[19..19 + name.len()].copy_from_slice(name);
        used += length;
        pending.pop_front();
    }
    if used == 0 && !pending.is_empty() {
        with_state(|s| s.entries.insert(fd, (pending, offset)));
        return Err(Errno(EINVAL));
    }
    with_state(|s| s.entries.insert(fd, (pending, offset)));
    Ok(used as i64)
}

pub fn getcwd(ptr: u64, size: u64) -> SysResult {
    let cwd = posix::getcwd();
    let bytes = cwd.as_bytes();
    if bytes.len() + 1 > size as usize {
        return Err(Errno(ERANGE));
    }
    let out = user_bytes_mut(ptr, bytes.len() as u64 + 1)?;
    out[..bytes.len()].copy_from_slice(bytes);
    out[bytes.len()] = 0;
    Ok(bytes.len() as i64 + 1)
}

pub fn chdir(path: u64) -> SysResult {
    posix::chdir(c_str(path)?)?;
    Ok(0)
}

pub fn fchdir(fd: Fd) -> SysResult {
    posix::chdir(&fs::path_at(fd, ".")?)?;
    Ok(0)
}

pub fn mkdirat(dirfd: i32, path: u64, mode: u32) -> SysResult {
    fs::mkdir(&at(dirfd, path)?, mode)?;
    Ok(0)
}

/// mknodat: a fifo, socket, regular file (no type bits, as on Linux) or, as
/// root, a device node.
pub fn mknodat(dirfd: i32, path: u64, mode: u32, dev: u64) -> SysResult {
    const S_IFMT: u32 = 0o170000;
    const S_IFREG: u32 = 0o100000;
    let mode = if mode & S_IFMT == 0 {
        mode | S_IFREG
    } else {
        mode
    };
    fs::mknod(&at(dirfd, path)?, mode, dev)?;
    Ok(0)
}

pub fn unlinkat(dirfd: i32, path: u64, flags: u32) -> SysResult {
    let path = at(dirfd, path)?;
    if flags & AT_REMOVEDIR != 0 {
        fs::rmdir(&path)?;
    } else {
        fs::unlink(&path)?;
    }
    Ok(0)
}

pub fn symlinkat(target: u64, dirfd: i32, path: u64) -> SysResult {
    fs::symlink(c_str(target)?, &at(dirfd, path)?)?;
    Ok(0)
}

pub fn linkat(olddir: i32, old: u64, newdir: i32, new: u64) -> SysResult {
    fs::link(&at(olddir, old)?, &at(newdir, new)?)?;
    Ok(0)
}

pub fn renameat(olddir: i32, old: u64, newdir: i32, new: u64) -> SysResult {
    fs::rename(&at(olddir, old)?, &at(newdir, new)?)?;
    Ok(0)
}

pub fn readlinkat(dirfd: i32, path: u64, ptr: u64, size: u64) -> SysResult {
    let path = at(dirfd, path)?;
    let target = match super::tty::fd_link(&path) {
        Some(link) => link?,
        None => fs::readlink(&path)?,
    };
    let bytes = target.as_bytes();
    let n = bytes.len().min(size as usize);
    user_bytes_mut(ptr, n as u64)?.copy_from_slice(&bytes[..n]);
    Ok(n as i64)
}

pub fn truncate(path: u64, len: u64) -> SysResult {
    fs::truncate(c_str(path)?, len)?;
    Ok(0)
}

pub fn ftruncate(fd: Fd, len: u64) -> SysResult {
    fs::ftruncate(fd, len)?;
    Ok(0)
}

pub fn fchmod(fd: Fd, mode: u32) -> SysResult {
    fs::chmod(&fs::path_at(fd, ".")?, mode)?;
    Ok(0)
}

pub fn fchmodat(dirfd: i32, path: u64, mode: u32) -> SysResult {
    fs::chmod(&at(dirfd, path)?, mode)?;
    Ok(0)
}

pub fn fchownat(dirfd: i32, path: u64, uid: u32, gid: u32) -> SysResult {
    let keep = |id: u32| (id != u32::MAX).then_some(id);
    fs::chown(&at(dirfd, path)?, keep(uid), keep(gid))?;
    Ok(0)
}

/// utimensat: `UTIME_NOW` and given times are set; `UTIME_OMIT` keeps.
pub fn utimensat(dirfd: i32, path: u64, times: u64, _flags: u32) -> SysResult {
    const UTIME_NOW: u64 = (1 << 30) - 1;
    const UTIME_OMIT: u64 = (1 << 30) - 2;
    let path = if path == 0 {
        fs::path_at(dirfd, ".")?
    } else {
        at(dirfd, path)?
    };
    let now = posix::realtime_or_boot_ns();
    let time = |at: u64| -> Result<Option<u64>, Errno> {
        if times == 0 {
            return Ok(Some(now));
        }
        let seconds = get_word(at)?;
        match get_word(at + 8)? {
            UTIME_NOW => Ok(Some(now)),
            UTIME_OMIT => Ok(None),
            nanos => Ok(Some(
                seconds.saturating_mul(1_000_000_000).saturating_add(nanos),
            )),
        }
    };
    fs::utimens(&path, time(times)?, time(times + 16)?)?;
    Ok(0)
}

/// pipe2: `O_CLOEXEC` and `O_NONBLOCK` in `flags` apply to both ends (a
/// spawn or exec passes every descriptor but the close-on-exec ones, so
/// `popen`'s pipes must not reach the next child).
pub fn pipe2(ptr: u64, flags: u32) -> SysResult {
    if flags & !(fs::O_CLOEXEC | fs::O_NONBLOCK) != 0 {
        return Err(Errno(EINVAL));
    }
    let (read, write) = posix::pipe()?;
    let out = user_bytes_mut(ptr, 8)?;
    out[..4].copy_from_slice(&read.to_le_bytes());
    out[4..].copy_from_slice(&write.to_le_bytes());
    forget(read);
    forget(write);
    with_state(|s| {
        s.flags.insert(read, fs::O_RDONLY);
        s.flags.insert(write, fs::O_WRONLY);
        if flags & fs::O_CLOEXEC != 0 {
            s.cloexec.insert(read);
            s.cloexec.insert(write);
        }
    });
    if flags & fs::O_NONBLOCK != 0 {
        set_nonblocking_flag(read, true)?;
        set_nonblocking_flag(write, true)?;
    }
    Ok(0)
}

pub fn dup(fd: Fd) -> SysResult {
    let new = posix::dup(fd)?;
    copy_flags(fd, new);
    Ok(i64::from(new))
}

pub fn dup3(old: Fd, new: Fd, flags: u32) -> SysResult {
    if old == new || flags & !fs::O_CLOEXEC != 0 {
        return Err(Errno(EINVAL));
    }
    posix::dup2(old, new)?;
    forget(new);
    copy_flags(old, new);
    if flags & fs::O_CLOEXEC != 0 {
        with_state(|s| s.cloexec.insert(new));
    }
    Ok(i64::from(new))
}

fn copy_flags(from: Fd, to: Fd) {
    with_state(|s| {
        if let Some(flags) = s.flags.get(&from).copied() {
            s.flags.insert(to, flags);
        }
        if let Some(kind) = s.sockets.get(&from).copied() {
            s.sockets.insert(to, kind);
        }
    });
}

pub fn fcntl(fd: Fd, command: i32, arg: u64) -> SysResult {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_GETLK: i32 = 5;
    const F_SETLK: i32 = 6;
    const F_SETLKW: i32 = 7;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const FD_CLOEXEC: u64 = 1;
    crate::posix::slot_of(fd)?;
    match command {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let from = i32::try_from(arg).map_err(|_| Errno(EINVAL))?;
            let open = posix::descriptors();
            let target = (from.max(0)..posix::OPEN_MAX)
                .find(|candidate| !open.contains(candidate))
                .ok_or(Errno(EMFILE))?;
            posix::dup2(fd, target)?;
            forget(target);
            copy_flags(fd, target);
            if command == F_DUPFD_CLOEXEC {
                with_state(|s| s.cloexec.insert(target));
            }
            Ok(i64::from(target))
        }
        F_GETFD => Ok(with_state(|s| s.cloexec.contains(&fd)) as i64),
        F_SETFD => {
            with_state(|s| {
                if arg & FD_CLOEXEC != 0 {
                    s.cloexec.insert(fd);
                } else {
                    s.cloexec.remove(&fd);
                }
            });
            Ok(0)
        }
        F_GETFL => Ok(i64::from(
            with_state(|s| s.flags.get(&fd).copied()).unwrap_or(fs::O_RDWR),
        )),
        F_SETFL => {
            set_nonblocking_flag(fd, arg as u32 & fs::O_NONBLOCK != 0)?;
            with_state(|s| {
                let old = s.flags.get(&fd).copied().unwrap_or(fs::O_RDWR);
                s.flags
                    .insert(fd, (old & !fs::O_APPEND) | (arg as u32 & fs::O_APPEND));
            });
            Ok(0)
        }
        // No record locks: every lock is granted (one process holds a file
        // at a time in practice; documented in docs/porting.md).
        F_GETLK => {
            const F_UNLCK: u16 = 2;
            user_bytes_mut(arg, 2)?.copy_from_slice(&F_UNLCK.to_le_bytes());
            Ok(0)
        }
        F_SETLK | F_SETLKW => Ok(0),
        _ => Err(Errno(EINVAL)),
    }
}

/// Terminal ioctls over libzos's termios; `ENOTTY` for anything else.
pub fn ioctl(fd: Fd, request: u64, arg: u64) -> SysResult {
    const TCGETS: u64 = 0x5401;
    const TCSETS: u64 = 0x5402;
    const TCSETSW: u64 = 0x5403;
    const TCSETSF: u64 = 0x5404;
    const TIOCGPGRP: u64 = 0x540f;
    const TIOCSPGRP: u64 = 0x5410;
    const FIONBIO: u64 = 0x5421;
    // c_lflag bits, c_iflag ICRNL, c_oflag OPOST|ONLCR, c_cflag B38400|CS8|CREAD.
    const ISIG: u32 = 0o1;
    const ICANON: u32 = 0o2;
    const ECHO: u32 = 0o10;
    const ECHOE: u32 = 0o20;
    const ECHOK: u32 = 0o40;
    match request {
        TCGETS => {
            let termios = posix::tcgetattr(fd).map_err(not_a_tty)?;
            let mut lflag = 0;
            if termios.signals {
                lflag |= ISIG;
            }
            if termios.canonical {
                lflag |= ICANON | ECHOE | ECHOK;
            }
            if termios.echo {
                lflag |= ECHO;
            }
            let out = user_bytes_mut(arg, 36)?;
            out.fill(0);
            let words = [0o400u32, 0o5, 0o17 | 0o60 | 0o200, lflag];
            for (i, word) in words.iter().enumerate() {
                out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            // c_line at 16, c_cc from 17: VINTR VQUIT VERASE VKILL VEOF VTIME VMIN.
            out[17..24].copy_from_slice(&[3, 0x1c, 0x7f, 0x15, 4, 0, 1]);
            super::tty::recall_termios(fd, out);
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF => {
            let bytes = user_bytes(arg, 16)?;
            let lflag = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
            let mut termios = posix::tcgetattr(fd).map_err(not_a_tty)?;
            termios.canonical = lflag & ICANON != 0;
            termios.echo = lflag & ECHO != 0;
            termios.signals = lflag & ISIG != 0;
            posix::tcsetattr(fd, termios)?;
            super::tty::remember_termios(fd, arg);
            Ok(0)
        }
        TIOCGPGRP => {
            if !posix::isatty(fd) {
                return Err(Errno(ENOTTY));
            }
            // The caller's own group, not the terminal's foreground one
            // (`posix::tcgetpgrp`): BusyBox's `script -q` stopped itself with
            // the real answer (docs/terminals.md, "Background reads").
            let out = user_bytes_mut(arg, 4)?;
            out.copy_from_slice(&posix::getpgrp().to_le_bytes());
            Ok(0)
        }
        TIOCSPGRP => {
            let bytes = user_bytes(arg, 4)?;
            let pgid = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            match super::vfork::tcsetpgrp(fd, pgid) {
                Some(result) => result.map_err(not_a_tty)?,
                None => posix::tcsetpgrp(fd, pgid).map_err(not_a_tty)?,
            }
            Ok(0)
        }
        FIONBIO => {
            let on = user_bytes(arg, 4)?.iter().any(|b| *b != 0);
            crate::posix::slot_of(fd)?;
            set_nonblocking_flag(fd, on)?;
            Ok(0)
        }
        // Window size and pseudo-terminals: linux/tty.rs.
        _ => super::tty::ioctl(fd, request, arg).unwrap_or(Err(Errno(ENOTTY))),
    }
}

/// Handles that do not speak termios are not terminals.
fn not_a_tty(e: Errno) -> Errno {
    if e == Errno(EBADF) {
        e
    } else {
        Errno(ENOTTY)
    }
}

/// ppoll: each descriptor's server says which events it has
/// (`posix::watch`: pipe rings, terminals, sockets and ptys know; files and
/// handles whose server cannot tell count as ready); a closed descriptor is
/// `POLLNVAL`. With nothing ready it looks once more while registering a
/// watch with every server, then sleeps on the process's poll notification
/// (`crate::poll`) until a server signals a change, the timeout (none: for
/// ever) passes or a signal is due (`EINTR`), and looks again. Handles
/// whose server cannot watch are looked at every `poll::SLICE_NS`.
pub fn ppoll(fds: u64, count: u64, timeout: u64) -> SysResult {
    if count > posix::OPEN_MAX as u64 * 4 {
        return Err(Errno(EINVAL));
    }
    let deadline = if timeout == 0 {
        None
    } else {
        let ns = get_word(timeout)?
            .saturating_mul(1_000_000_000)
            .saturating_add(get_word(timeout + 8)?);
        Some(posix::clock_ns().saturating_add(ns))
    };
    let ready = poll_once(fds, count, None)?.ready;
    if ready > 0 || deadline.is_some_and(|d| d <= posix::clock_ns()) {
        return Ok(ready);
    }
    let waiter = crate::poll::Waiter::new();
    loop {
        if super::signal::deliverable() {
            return Err(Errno(EINTR));
        }
        // Forget old wake-ups, then look and register in one pass.
        waiter.drain();
        let look = poll_once(fds, count, Some(&waiter))?;
        if look.ready > 0 {
            return Ok(look.ready);
        }
        let now = posix::clock_ns();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(0);
        }
        if super::signal::deliverable() {
            return Err(Errno(EINTR));
        }
        let wake = if look.all_armed {
            deadline
        } else {
            let slice = now.saturating_add(crate::poll::SLICE_NS);
            Some(deadline.map_or(slice, |d| d.min(slice)))
        };
        waiter.wait(wake);
    }
}

/// What one look at every entry found.
struct Look {
    /// Entries with `revents` set.
    ready: i64,
    /// Whether every server waited on holds a watch (else look again soon).
    all_armed: bool,
}

/// One look at every entry: fills in `revents`; with a `waiter`, servers of
/// entries not ready get a watch on its notification.
fn poll_once(fds: u64, count: u64, waiter: Option<&crate::poll::Waiter>) -> Result<Look, Errno> {
    use zos_proto::watch::events::POLLNVAL;
    let mut look = Look {
        ready: 0,
        all_armed: true,
    };
    if count == 0 {
        return Ok(look);
    }
    let entries = user_bytes_mut(fds, count * 8)?;
    let open = posix::descriptors();
    for entry in entries.chunks_exact_mut(8) {
        let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let events = u16::from_le_bytes([entry[4], entry[5]]);
        let revents = if fd < 0 {
            0
        } else if !open.contains(&fd) {
            POLLNVAL
        } else {
            let notify = waiter.and_then(|w| w.watch_capability());
            match posix::watch(fd, events, notify) {
                Ok(watched) => {
                    look.all_armed &= watched.armed || watched.ready != 0;
                    watched.ready
                }
                Err(_) => POLLNVAL,
            }
        };
        entry[6..8].copy_from_slice(&revents.to_le_bytes());
        if revents != 0 {
            look.ready += 1;
        }
    }
    if waiter.is_none_or(|w| !w.can_wait()) {
        look.all_armed = false;
    }
    Ok(look)
}
