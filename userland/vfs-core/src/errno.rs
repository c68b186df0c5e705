//! POSIX error numbers as the VFS reports them: the one table in
//! `zos_proto::errno` (Linux values, so `libzos` hands them to ported programs
//! unchanged). Every fallible operation in this crate returns [`VfsResult`].

pub use zos_proto::errno::Errno;

/// Result of every fallible VFS operation.
pub type VfsResult<T> = Result<T, Errno>;
