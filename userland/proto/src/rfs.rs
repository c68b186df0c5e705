//! The remote file-system protocol: what the VFS sends a file-system server (the
//! ext2 server) for a mount it serves. It mirrors the VFS's `FileSystem` trait,
//! naming objects by inode number; the VFS keeps paths, mount points, open files
//! and permissions.
//!
//! A mount starts with `Attach` carrying a Memory capability: the data buffer that
//! `Read` and `Write` move file contents through (the data never travels inside
//! messages). Every request carries the VFS's clock (`now`, ns since the epoch),
//! which the server uses for timestamps. Errors are errno values.
//!
//! How a mount is made: the `mount` tool asks the file-system server's service
//! endpoint to `Open` a source (a block device name, or an image file's path) and
//! gets a mount capability back; it gives that capability to the VFS with
//! `FsRequest::Mount`, and the VFS speaks this protocol on it from then on. (The
//! VFS cannot ask the server itself: reading an image file, the server calls the
//! VFS, which would be waiting for it.)

use serde::{Deserialize, Serialize};

use crate::fs::{FileStat, FsStat};

/// Requests on a file-system server's service endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RfsServiceRequest<'a> {
    /// Mount `source`: with `device` set, a block device by devmgr name (`vda1`);
    /// otherwise an image file, which the server opens by path through the VFS
    /// and reads into its memory (changes are not written back to the file). The
    /// reply is `RfsResponse::Attached` with the mount capability.
    Open {
        source: &'a str,
        device: bool,
        read_only: bool,
        now: u64,
        /// A directory of the volume to mount instead of its root (empty:
        /// the root; made if missing on a writable volume). Mounting the
        /// same device again shares the volume (one cache), so one disk
        /// volume can back several mount points (`X-mount.subdir=` in
        /// `/etc/fstab`).
        subdir: &'a str,
    },
}

/// One request on a mount capability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfsCall<'a> {
    pub now: u64,
    #[serde(borrow)]
    pub op: RfsRequest<'a>,
}

/// The last bytes of a mount's data buffer: the volume's change counter, a
/// little-endian `u64` the server raises (in every buffer of the volume)
/// before it answers a request that [changes the volume](RfsRequest::changes_volume).
/// A client may keep names and attributes it learnt while the counter
/// stays the same; data moves only through the bytes before it.
pub const GENERATION_BYTES: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RfsRequest<'a> {
    /// The data buffer (a Memory capability travels along); answers `Ok`.
    Attach,
    /// Type name, root inode and whether the mount is read-only.
    Info,
    Lookup {
        dir: u64,
        name: &'a str,
    },
    Getattr {
        ino: u64,
    },
    /// `None` leaves a field alone.
    Setattr {
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<u64>,
        mtime: Option<u64>,
    },
    /// `mode` carries the type bits (`fs::mode`) and the permission bits.
    Create {
        dir: u64,
        name: &'a str,
        mode: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
    },
    Link {
        dir: u64,
        name: &'a str,
        target: u64,
    },
    Unlink {
        dir: u64,
        name: &'a str,
    },
    Rmdir {
        dir: u64,
        name: &'a str,
    },
    Rename {
        old_dir: u64,
        old_name: &'a str,
        new_dir: u64,
        new_name: &'a str,
    },
    Symlink {
        dir: u64,
        name: &'a str,
        target: &'a str,
        uid: u32,
        gid: u32,
    },
    Readlink {
        ino: u64,
    },
    /// Read up to `len` bytes (at most the buffer's size) into the data buffer.
    Read {
        ino: u64,
        offset: u64,
        len: u32,
    },
    /// Write the first `len` bytes of the data buffer.
    Write {
        ino: u64,
        offset: u64,
        len: u32,
    },
    /// The entry at `cookie` and the cookie of the next.
    ReadDir {
        dir: u64,
        cookie: u64,
    },
    StatFs,
    /// Everything acknowledged so far reaches the device, flush request included.
    Sync,
    Retain {
        ino: u64,
    },
    Release {
        ino: u64,
    },
    /// Flush, mark the volume clean and drop it; the capability is dead afterwards.
    Unmount,
}

impl RfsRequest<'_> {
    /// Whether the request may change names or attributes of the volume
    /// (what a client's cache of lookups and attributes depends on).
    /// `Release` does not: an inode it frees has no name left, and its
    /// number comes back only through a create, which counts.
    pub fn changes_volume(&self) -> bool {
        matches!(
            self,
            RfsRequest::Setattr { .. }
                | RfsRequest::Create { .. }
                | RfsRequest::Link { .. }
                | RfsRequest::Unlink { .. }
                | RfsRequest::Rmdir { .. }
                | RfsRequest::Rename { .. }
                | RfsRequest::Symlink { .. }
                | RfsRequest::Write { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RfsResponse<'a> {
    Ok,
    /// A capability travels with the reply.
    Attached,
    Info {
        fs_type: &'a str,
        root: u64,
        read_only: bool,
    },
    Ino(u64),
    Stat(FileStat),
    /// Bytes read or written.
    Count(u32),
    Path(&'a str),
    Entry(Option<RfsEntry<'a>>),
    StatFs(FsStat),
    Err(i32),
    /// An `Open` refused with the reason (`bad superblock magic`), so the
    /// `mount` tool can name the problem.
    Refused {
        errno: i32,
        reason: &'a str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfsEntry<'a> {
    pub ino: u64,
    /// `st_mode` type bits of the entry.
    pub mode: u32,
    pub name: &'a str,
    pub next: u64,
}
