//! The interface every file system implements (tmpfs now; devfs, procfs, ext2 later).
//!
//! A file system names its objects by inode number and knows nothing of paths, mount
//! points, credentials or open files: those belong to the [`Vfs`](crate::vfs::Vfs).
//! The trait is object safe so the mount table can hold `Box<dyn FileSystem>`.

use alloc::string::String;

use crate::cred::Perm;
use crate::errno::VfsResult;

/// Inode number, unique within one file system.
pub type Ino = u64;

/// Nanoseconds since the Unix epoch.
pub type Timestamp = u64;

/// Longest single path component, in bytes (POSIX `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Longest path, in bytes, including the terminating NUL of C callers (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// Permission and special bits a mode may carry (`rwx` for three classes, setuid,
/// setgid, sticky).
pub const MODE_PERMISSION_MASK: u32 = 0o7777;

/// The sticky bit: in a directory, only an entry's owner may remove or rename it.
pub const MODE_STICKY: u32 = 0o1000;

/// What kind of object an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileKind {
    /// The `S_IFMT` bits of this kind, as in `st_mode`.
    pub const fn mode_type_bits(self) -> u32 {
        match self {
            FileKind::Fifo => 0o010000,
            FileKind::CharDevice => 0o020000,
            FileKind::Directory => 0o040000,
            FileKind::BlockDevice => 0o060000,
            FileKind::Regular => 0o100000,
            FileKind::Symlink => 0o120000,
            FileKind::Socket => 0o140000,
        }
    }

    /// The kind named by the `S_IFMT` bits of `mode` (an `st_mode` or an
    /// on-disk inode mode); `None` for a type no file system has.
    pub const fn from_mode(mode: u32) -> Option<FileKind> {
        const KINDS: [FileKind; 7] = [
            FileKind::Fifo,
            FileKind::CharDevice,
            FileKind::Directory,
            FileKind::BlockDevice,
            FileKind::Regular,
            FileKind::Symlink,
            FileKind::Socket,
        ];
        let mut i = 0;
        while i < KINDS.len() {
            if KINDS[i].mode_type_bits() == mode & 0o170000 {
                return Some(KINDS[i]);
            }
            i += 1;
        }
        None
    }

    /// The `d_type` value of this kind, as `readdir` reports it (`DT_REG` etc.).
    pub const fn dirent_type(self) -> u8 {
        match self {
            FileKind::Fifo => 1,
            FileKind::CharDevice => 2,
            FileKind::Directory => 4,
            FileKind::BlockDevice => 6,
            FileKind::Regular => 8,
            FileKind::Symlink => 10,
            FileKind::Socket => 12,
        }
    }
}

/// Attributes of one inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ino: Ino,
    pub kind: FileKind,
    /// Permission and special bits only (`0o7777`); the kind is in `kind`.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// Length in bytes (for a symlink: the length of its target).
    pub size: u64,
    /// Storage actually used, in 512-byte units.
    pub blocks: u64,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    /// Device number of a character or block device node, else 0.
    pub rdev: u64,
}

impl Stat {
    /// The full `st_mode`: kind bits and permission bits.
    pub fn st_mode(&self) -> u32 {
        self.kind.mode_type_bits() | self.mode
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }

    /// The attributes as the file protocol carries them, on device `dev`.
    pub fn to_wire(&self, dev: u64) -> zos_proto::fs::FileStat {
        zos_proto::fs::FileStat {
            dev,
            ino: self.ino,
            mode: self.st_mode(),
            nlink: self.nlink,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            blocks: self.blocks,
            block_size: 4096,
            atime_ns: self.atime,
            mtime_ns: self.mtime,
            ctime_ns: self.ctime,
            rdev: self.rdev,
        }
    }
}

/// Attribute changes for [`FileSystem::setattr`]; `None` leaves a field alone.
/// Any change also sets `ctime` to the file system's current time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// New length of a regular file: shrinking drops data, growing leaves a hole.
    pub size: Option<u64>,
    pub atime: Option<Timestamp>,
    pub mtime: Option<Timestamp>,
}

/// One directory entry as `readdir` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: Ino,
    pub kind: FileKind,
    pub name: String,
}

/// Capacity figures of a file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    pub block_size: u32,
    pub total_blocks: u64,
    pub free_blocks: u64,
    /// Inodes in use.
    pub files: u64,
    /// Inodes that could still be created.
    pub free_files: u64,
    pub name_max: u32,
}

/// Owner, permission bits and device number of a new inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewInode {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device number, for character and block device nodes only.
    pub rdev: u64,
}

impl NewInode {
    /// Attributes of a new inode that is not a device node.
    pub const fn new(mode: u32, uid: u32, gid: u32) -> Self {
        NewInode {
            mode,
            uid,
            gid,
            rdev: 0,
        }
    }
}

/// A mountable file system, addressed by inode numbers.
///
/// Names passed in are single components: never empty, never `.` or `..` (except for
/// `lookup`, which resolves them inside this file system), never containing `/`.
/// Implementations must still reject such names with `EINVAL` rather than misbehave.
pub trait FileSystem {
    /// Short type name for the mount table, e.g. `"tmpfs"`.
    fn fs_type(&self) -> &'static str;

    /// The file system's notion of "now", used for timestamps from here on.
    /// The caller owns the clock; file systems never read one themselves.
    fn set_time(&mut self, now: Timestamp);

    /// Inode number of the root directory.
    fn root(&self) -> Ino;

    /// Whether every modification fails with `EROFS`.
    fn read_only(&self) -> bool;

    /// The inode `name` names in directory `dir` (`..` of the root is the root).
    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino>;

    fn getattr(&self, ino: Ino) -> VfsResult<Stat>;

    /// What a permission check needs of `ino`. A path walk asks it of every
    /// component; a file system that can answer without building a whole
    /// [`Stat`] (tmpfs) does.
    fn perm(&self, ino: Ino) -> VfsResult<Perm> {
        self.getattr(ino).map(|stat| Perm::from(&stat))
    }

    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat>;

    /// Create a new regular file, directory, device node, fifo or socket.
    /// Symlinks are made with [`FileSystem::symlink`]. `EEXIST` if `name` exists.
    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino>;

    /// Add the name `name` in `dir` for the existing non-directory `target`.
    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()>;

    /// Remove a non-directory name (`EISDIR` for a directory).
    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()>;

    /// Remove an empty directory (`ENOTDIR` for others, `ENOTEMPTY` when not empty).
    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()>;

    /// Move `old_dir/old_name` to `new_dir/new_name` with POSIX `rename` semantics:
    /// an existing target file or empty directory is replaced atomically; a directory
    /// cannot move into its own subtree (`EINVAL`).
    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()>;

    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino>;

    fn readlink(&self, ino: Ino) -> VfsResult<String>;

    /// Read from a regular file at `offset`; returns bytes read (0 at end of file).
    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize>;

    /// Write to a regular file at `offset`, growing it as needed; returns bytes
    /// written, which is short only when space ran out part way.
    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize>;

    /// Give the empty regular file `ino` the content `data`, read in place until
    /// written (boot-archive files; see tmpfs's storage). File systems that keep
    /// their own copies answer `ENOTSUP` and the caller writes instead.
    fn adopt_static(&mut self, ino: Ino, data: &'static [u8]) -> VfsResult<()> {
        let _ = (ino, data);
        Err(crate::errno::Errno::ENOTSUP)
    }

    /// The entry at position `cookie` of `dir` (start with 0) and the cookie of the
    /// next one, or `None` at the end. `.` and `..` are reported. Cookies stay valid
    /// while entries are added and removed.
    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>>;

    fn statfs(&self) -> StatFs;

    /// Make every acknowledged change durable.
    fn sync(&mut self) -> VfsResult<()>;

    /// An open file or a working directory now refers to `ino`: keep the inode alive
    /// even after its last name is removed, until the matching [`FileSystem::release`].
    fn retain(&mut self, ino: Ino) -> VfsResult<()>;

    /// Drop one reference taken with [`FileSystem::retain`].
    fn release(&mut self, ino: Ino);

    /// The file system is being unmounted: make everything durable and let go of
    /// the storage (a disk file system also marks itself cleanly unmounted).
    fn unmount(&mut self) -> VfsResult<()> {
        self.sync()
    }
}

/// Whether `name` is usable as a new directory entry name: not empty, not `.` or
/// `..`, no `/` or NUL.
pub fn check_entry_name(name: &str) -> VfsResult<()> {
    use crate::errno::Errno;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Errno::EINVAL);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}
