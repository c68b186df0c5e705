//! Open-file objects: a node plus the offset and flags of one `open` call.
//!
//! Descriptors that `dup` copies share one `OpenFile` (the server keeps it behind a
//! shared handle); reads and writes through it advance its offset, `O_APPEND`
//! writes always land at the end, and `lseek` moves the offset. For a directory the
//! offset is the readdir cookie, so `lseek(fd, 0, SEEK_SET)` rewinds a listing.

use bitflags::bitflags;

use crate::cred::Cred;
use crate::errno::{Errno, VfsResult};
use crate::fs::DirEntry;
use crate::vfs::{Node, Vfs};

bitflags! {
    /// `open` flags, with the numeric values of Linux's generic ABI.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct OpenFlags: u32 {
        const WRONLY = 0o1;
        const RDWR = 0o2;
        const CREAT = 0o100;
        const EXCL = 0o200;
        const NOCTTY = 0o400;
        const TRUNC = 0o1000;
        const APPEND = 0o2000;
        const NONBLOCK = 0o4000;
        const DIRECTORY = 0o200000;
        const NOFOLLOW = 0o400000;
        const CLOEXEC = 0o2000000;
    }
}

impl OpenFlags {
    /// `O_RDONLY` is the absence of `WRONLY` and `RDWR`.
    pub const RDONLY: OpenFlags = OpenFlags::empty();

    /// Flags `fcntl(F_SETFL)` may change on an open file.
    pub const STATUS_FLAGS: OpenFlags = OpenFlags::APPEND.union(OpenFlags::NONBLOCK);

    /// `EINVAL` when both `WRONLY` and `RDWR` are set.
    pub fn check_access_mode(self) -> VfsResult<()> {
        if self.contains(OpenFlags::WRONLY | OpenFlags::RDWR) {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    pub fn readable(self) -> bool {
        !self.contains(OpenFlags::WRONLY)
    }

    pub fn writable(self) -> bool {
        self.intersects(OpenFlags::WRONLY | OpenFlags::RDWR)
    }
}

/// Where `lseek` counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// From the start of the file (`SEEK_SET`).
    Start,
    /// From the current offset (`SEEK_CUR`).
    Current,
    /// From the end of the file (`SEEK_END`).
    End,
}

impl Whence {
    /// The whence with POSIX number `value` (0, 1, 2), else `EINVAL`.
    pub fn from_i32(value: i32) -> VfsResult<Whence> {
        match value {
            0 => Ok(Whence::Start),
            1 => Ok(Whence::Current),
            2 => Ok(Whence::End),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// One open file description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    node: Node,
    offset: u64,
    flags: OpenFlags,
}

impl OpenFile {
    /// Wrap a node that [`Vfs::open`] returned (and so retained).
    pub fn new(node: Node, flags: OpenFlags) -> Self {
        OpenFile {
            node,
            offset: 0,
            flags,
        }
    }

    /// [`Vfs::open`] and wrap the result.
    pub fn open(
        vfs: &mut Vfs,
        cwd: Node,
        path: &str,
        flags: OpenFlags,
        mode: u32,
        cred: &Cred,
    ) -> VfsResult<OpenFile> {
        let node = vfs.open(cwd, path, flags, mode, cred)?;
        Ok(OpenFile::new(node, flags))
    }

    pub fn node(&self) -> Node {
        self.node
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn flags(&self) -> OpenFlags {
        self.flags
    }

    /// Whether reads and writes should fail with `EAGAIN` rather than wait; only
    /// meaningful for fifos and devices, which the server serves elsewhere.
    pub fn is_nonblocking(&self) -> bool {
        self.flags.contains(OpenFlags::NONBLOCK)
    }

    /// `fcntl(F_SETFL)`: change `O_APPEND` and `O_NONBLOCK`, keep everything else.
    pub fn set_status_flags(&mut self, flags: OpenFlags) {
        self.flags = (self.flags - OpenFlags::STATUS_FLAGS) | (flags & OpenFlags::STATUS_FLAGS);
    }

    /// Read at the current offset and advance it. `EBADF` if opened write-only.
    pub fn read(&mut self, vfs: &mut Vfs, buf: &mut [u8]) -> VfsResult<usize> {
        let count = self.read_at(vfs, self.offset, buf)?;
        self.offset = self.offset.saturating_add(count as u64);
        Ok(count)
    }

    /// Write at the current offset (at the end with `O_APPEND`) and advance it.
    /// `EBADF` if opened read-only.
    pub fn write(&mut self, vfs: &mut Vfs, data: &[u8]) -> VfsResult<usize> {
        if !self.flags.writable() {
            return Err(Errno::EBADF);
        }
        if self.flags.contains(OpenFlags::APPEND) {
            self.offset = vfs.stat_node(self.node)?.size;
        }
        let count = vfs.write_at(self.node, self.offset, data)?;
        self.offset = self.offset.saturating_add(count as u64);
        Ok(count)
    }

    /// `pread`: read at `offset` without moving the file offset.
    pub fn read_at(&self, vfs: &mut Vfs, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        if !self.flags.readable() {
            return Err(Errno::EBADF);
        }
        vfs.read_at(self.node, offset, buf)
    }

    /// `pwrite`: write at `offset` without moving the file offset. As on Linux, a
    /// file opened with `O_APPEND` is still appended to.
    pub fn write_at(&self, vfs: &mut Vfs, offset: u64, data: &[u8]) -> VfsResult<usize> {
        if !self.flags.writable() {
            return Err(Errno::EBADF);
        }
        let offset = if self.flags.contains(OpenFlags::APPEND) {
            vfs.stat_node(self.node)?.size
        } else {
            offset
        };
        vfs.write_at(self.node, offset, data)
    }

    /// Move the offset; returns the new one. `EINVAL` if it would be negative,
    /// `EOVERFLOW` if it does not fit an `off_t`. Directories cannot seek from the end.
    pub fn lseek(&mut self, vfs: &Vfs, offset: i64, whence: Whence) -> VfsResult<u64> {
        let base = match whence {
            Whence::Start => 0,
            Whence::Current => self.offset,
            Whence::End => {
                let stat = vfs.stat_node(self.node)?;
                if stat.is_dir() {
                    return Err(Errno::EINVAL);
                }
                stat.size
            }
        };
        let target = i128::from(base) + i128::from(offset);
        if target < 0 {
            return Err(Errno::EINVAL);
        }
        if target > i128::from(i64::MAX) {
            return Err(Errno::EOVERFLOW);
        }
        self.offset = u64::try_from(target).map_err(|_| Errno::EOVERFLOW)?;
        Ok(self.offset)
    }

    /// The next directory entry, or `None` at the end. `ENOTDIR` for a non-directory.
    pub fn readdir(&mut self, vfs: &Vfs) -> VfsResult<Option<DirEntry>> {
        match vfs.readdir(self.node, self.offset)? {
            Some((entry, next)) => {
                self.offset = next;
                Ok(Some(entry))
            }
            None => Ok(None),
        }
    }

    /// Drop the open file and its reference on the node.
    pub fn close(self, vfs: &mut Vfs) {
        vfs.close(self.node);
    }
}
