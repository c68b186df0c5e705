//! Zero OS VFS core: the pure logic the VFS server process wraps.
//!
//! It holds the mount table and path resolution ([`vfs`]), the interface every file
//! system implements ([`fs`]), the in-memory file system used for `/` and `/tmp`
//! ([`tmpfs`]), the device and process file systems ([`devfs`], [`procfs`]), the
//! ChaCha20 generator behind `/dev/urandom` ([`random`]), copying the initramfs
//! into the root ([`populate`]), open-file objects ([`file`]), the table of
//! open handles with its limits ([`handles`]), clients' session buffers
//! ([`sessions`]) and POSIX error numbers ([`errno`]).
//! There is no IPC and no system call here, so all of it is tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cred;
pub mod devfs;
pub mod errno;
pub mod file;
pub mod fs;
pub mod handles;
pub mod populate;
pub mod procfs;
pub use zos_random_core as random;
pub mod remote;
pub mod sessions;
pub mod shared;
pub mod tmpfs;
pub mod vfs;

pub use cred::{Access, Cred};
pub use devfs::Devfs;
pub use errno::{Errno, VfsResult};
pub use file::{OpenFile, OpenFlags, Whence};
pub use fs::{DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp};
pub use handles::HandleTable;
pub use procfs::Procfs;
pub use random::ChaChaRng;
pub use sessions::SessionTable;
pub use shared::SharedFs;
pub use tmpfs::Tmpfs;
pub use vfs::{MountId, MountInfo, Node, SharedPages, Vfs};
