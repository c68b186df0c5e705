//! The VFS protocol: path operations on the VFS endpoint. Opening a file answers
//! with a handle capability (a badged capability of the VFS endpoint) that then
//! speaks the open-handle protocol of [`crate::io`] (read, write, seek, readdir,
//! fstat, shared-memory transfers).
//!
//! Relative paths are resolved against `cwd`, which the client keeps (an absolute
//! path). Flags and modes have Linux's numeric values; the client applies its
//! umask to `mode` before sending. Errors are errno values (`FsResponse::Err`).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// `open` flags (Linux generic ABI values).
pub mod flags {
    pub const O_RDONLY: u32 = 0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_CLOEXEC: u32 = 0o2000000;
}

/// `st_mode` type bits.
pub mod mode {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFIFO: u32 = 0o010000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFSOCK: u32 = 0o140000;
}

/// `d_type` values of directory entries.
pub mod dirent_type {
    pub const DT_UNKNOWN: u8 = 0;
    pub const DT_FIFO: u8 = 1;
    pub const DT_CHR: u8 = 2;
    pub const DT_DIR: u8 = 4;
    pub const DT_BLK: u8 = 6;
    pub const DT_REG: u8 = 8;
    pub const DT_LNK: u8 = 10;
    pub const DT_SOCK: u8 = 12;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FsRequest<'a> {
    /// Opens (perhaps creates) a file; the reply carries the handle
    /// capability. `reuse` (0: none) names a handle of the caller's that it
    /// closed and still holds the capability of: a file the VFS serves
    /// itself is then opened into that handle and the reply carries no
    /// capability (`Opened { reused: true }`); a handle that is not the
    /// caller's, or not closed, is passed over and a new one minted.
    Open {
        path: &'a str,
        flags: u32,
        mode: u32,
        cwd: &'a str,
        reuse: u64,
    },
    /// Attributes, following a final symlink.
    Stat {
        path: &'a str,
        cwd: &'a str,
    },
    /// Attributes of a final symlink itself.
    Lstat {
        path: &'a str,
        cwd: &'a str,
    },
    Mkdir {
        path: &'a str,
        mode: u32,
        cwd: &'a str,
    },
    Rmdir {
        path: &'a str,
        cwd: &'a str,
    },
    Unlink {
        path: &'a str,
        cwd: &'a str,
    },
    Rename {
        from: &'a str,
        to: &'a str,
        cwd: &'a str,
    },
    /// A new name `to` for the existing file `from`.
    Link {
        from: &'a str,
        to: &'a str,
        cwd: &'a str,
    },
    /// A symbolic link at `path` whose content is `target`.
    Symlink {
        target: &'a str,
        path: &'a str,
        cwd: &'a str,
    },
    Readlink {
        path: &'a str,
        cwd: &'a str,
    },
    Chmod {
        path: &'a str,
        mode: u32,
        cwd: &'a str,
    },
    /// `None` leaves the owner or group as it is (POSIX -1).
    Chown {
        path: &'a str,
        uid: Option<u32>,
        gid: Option<u32>,
        cwd: &'a str,
    },
    Truncate {
        path: &'a str,
        len: u64,
        cwd: &'a str,
    },
    /// Capacity of the file system holding `path`.
    StatFs {
        path: &'a str,
        cwd: &'a str,
    },
    /// The mount table.
    Mounts,
    /// Flushes every file system.
    Sync,
    /// Checks that `path` is a searchable directory; answers its normalised
    /// absolute path (what the client keeps as its working directory).
    Chdir {
        path: &'a str,
        cwd: &'a str,
    },
    /// Sets access and modification times (ns since the epoch; `None` keeps one).
    SetTimes {
        path: &'a str,
        atime: Option<u64>,
        mtime: Option<u64>,
        cwd: &'a str,
    },
    /// From devmgr: the block devices that exist now (name, 512-byte
    /// sectors); devfs shows them as `/dev/NAME`, whose opens devmgr serves.
    /// Answers `Ok`.
    SetBlockDevices {
        #[serde(borrow)]
        devices: Vec<(&'a str, u64)>,
    },
    /// Mounts on the directory `target` the file system served on the mount
    /// capability travelling with the message (from a file-system server's
    /// `rfs::RfsServiceRequest::Open`); `source` and `fs_type` are for the mount
    /// table only.
    Mount {
        source: &'a str,
        target: &'a str,
        fs_type: &'a str,
        cwd: &'a str,
    },
    /// Unmounts the file system mounted on `target` (flushing it first).
    Unmount {
        target: &'a str,
        cwd: &'a str,
    },
    /// Flushes and unmounts every file system served by another process
    /// (before power-off or reboot).
    UnmountAll,
    /// Attaches the Memory capability travelling with the message as the
    /// caller's transfer buffer for every handle it opens (not for handles it
    /// is given): `ReadShared`/`WriteShared` on them need no `ShareBuffer` of
    /// their own. The answer `Ok` carries a session token capability: the
    /// client only keeps it; when it is gone (the client ended, or deleted it
    /// before attaching anew) the VFS frees the buffer. `Opened { shared:
    /// false }` says no session buffer serves the client.
    ShareBuffer,
    /// Creates a fifo, socket or regular file node, or (root only) a device
    /// node: `mode` holds the type bits ([`mode`]) and the permission bits
    /// (the caller's umask already applied); `rdev` the device number.
    Mknod {
        path: &'a str,
        mode: u32,
        rdev: u64,
        cwd: &'a str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FsResponse<'a> {
    /// A capability travels with the reply (Open: the handle; Session).
    Attached,
    Stat(FileStat),
    /// Readlink's target, Chdir's normalised directory.
    Path(&'a str),
    StatFs(FsStat),
    #[serde(borrow)]
    Mounts(Vec<MountEntry<'a>>),
    Ok,
    Err(i32),
    /// Open of a file the VFS serves itself: the handle travels with the
    /// reply; `regular` (a regular file, or a device the VFS serves itself
    /// such as `/dev/null`: bulk transfers through the shared buffer apply)
    /// and `shared`
    /// (the caller's session buffer serves this handle) save the questions a
    /// first read or write would otherwise ask. A file the VFS hands to
    /// another server (terminal, block device) answers `Attached`.
    /// `handle` is the handle's id (what `reuse` names later); `reused`
    /// says the file went into the handle `reuse` named (no capability).
    Opened {
        regular: bool,
        shared: bool,
        handle: u64,
        reused: bool,
    },
}

/// POSIX `struct stat`. Times are nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// The mount the file lives on.
    pub dev: u64,
    pub ino: u64,
    /// Type bits ([`mode`]) and permission bits.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte units actually used.
    pub blocks: u64,
    pub block_size: u32,
    /// The three times go as 8 raw bytes each ([`crate::fixed`]):
    /// nanoseconds since 1970 need nine or ten varint bytes, coded a byte at
    /// a time on both sides of every `stat`.
    #[serde(with = "crate::fixed")]
    pub atime_ns: u64,
    #[serde(with = "crate::fixed")]
    pub mtime_ns: u64,
    #[serde(with = "crate::fixed")]
    pub ctime_ns: u64,
    /// Device number of a device node.
    pub rdev: u64,
}

impl FileStat {
    pub fn is_dir(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFLNK
    }
    pub fn is_block_device(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFBLK
    }
}

/// POSIX `struct statvfs`, the parts that mean something here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsStat {
    pub block_size: u32,
    pub blocks: u64,
    pub free_blocks: u64,
    pub files: u64,
    pub free_files: u64,
    pub name_max: u32,
    pub read_only: bool,
}

/// One row of the mount table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry<'a> {
    pub path: &'a str,
    pub fs_type: &'a str,
    pub read_only: bool,
}

/// One directory entry (`struct dirent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry<'a> {
    pub ino: u64,
    /// A [`dirent_type`] value.
    pub kind: u8,
    pub name: &'a str,
}
