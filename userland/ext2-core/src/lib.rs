//! Zero OS ext2: the file system as `mkfs.ext2` makes it, read and written on top of
//! any [`BlockDevice`].
//!
//! Layers, bottom up: [`device`] (the sector device the server gets from a block
//! driver, and an in-memory disk for tests), [`cache`] (a write-back block cache),
//! [`layout`] (superblock, group descriptors, inodes and directory entries, every
//! field decoded with bounds checks), [`volume`] (mounting, checking the
//! superblock, block and inode allocation), then the operations of [`fs`] and the
//! VFS's [`FileSystem`](zos_vfs_core::FileSystem) implementation in [`vfs`].
//! Disk images are hostile input: every number read from the disk is checked before
//! use, a damaged structure gives `EIO` (or a mount error naming it), never a panic.
//! There is no IPC here, so all of it is tested on the host against `e2fsck`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cache;
pub mod device;
pub mod error;
pub mod fs;
pub mod layout;
pub mod vfs;
pub mod volume;

mod dir;
mod file;

pub use device::{BlockDevice, IoError, MemDisk, SECTOR_SIZE};
pub use error::MountError;
pub use vfs::Ext2Fs;
pub use volume::{MountOptions, Volume};
