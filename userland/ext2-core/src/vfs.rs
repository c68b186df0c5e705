//! [`Ext2Fs`]: a [`Volume`] behind the VFS's [`FileSystem`] trait.
//!
//! The trait reads through `&self`, but even a read changes the block cache, so the
//! volume sits in a `RefCell` (one thread uses a file system at a time).

use alloc::string::String;
use core::cell::RefCell;

use zos_vfs_core::{
    DirEntry, Errno, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp,
    VfsResult,
};

use crate::device::BlockDevice;
use crate::error::MountError;
use crate::layout::ROOT_INO;
use crate::volume::{MountOptions, Volume};

pub struct Ext2Fs<D: BlockDevice> {
    vol: RefCell<Volume<D>>,
}

fn ino32(ino: Ino) -> VfsResult<u32> {
    u32::try_from(ino).map_err(|_| Errno::ENOENT)
}

impl<D: BlockDevice> Ext2Fs<D> {
    pub fn mount(dev: D, opts: MountOptions) -> Result<Self, MountError> {
        Ok(Ext2Fs {
            vol: RefCell::new(Volume::mount(dev, opts)?),
        })
    }

    /// Flush everything, mark the volume clean, and give the device back.
    pub fn unmount(self) -> Result<D, (Errno, D)> {
        self.vol.into_inner().unmount()
    }

    /// The volume, for figures and tests.
    pub fn with_volume<R>(&self, f: impl FnOnce(&mut Volume<D>) -> R) -> R {
        f(&mut self.vol.borrow_mut())
    }
}

impl<D: BlockDevice> FileSystem for Ext2Fs<D> {
    fn fs_type(&self) -> &'static str {
        "ext2"
    }

    fn set_time(&mut self, now: Timestamp) {
        self.vol.get_mut().now = now;
    }

    fn root(&self) -> Ino {
        ROOT_INO as Ino
    }

    fn read_only(&self) -> bool {
        self.vol.borrow().read_only()
    }

    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        Ok(self.vol.borrow_mut().lookup(ino32(dir)?, name)? as Ino)
    }

    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        self.vol.borrow_mut().stat(ino32(ino)?)
    }

    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat> {
        self.vol.get_mut().setattr(ino32(ino)?, changes)
    }

    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino> {
        Ok(self.vol.get_mut().create(ino32(dir)?, name, kind, attrs)? as Ino)
    }

    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()> {
        self.vol.get_mut().link(ino32(dir)?, name, ino32(target)?)
    }

    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.vol.get_mut().unlink(ino32(dir)?, name)
    }

    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.vol.get_mut().rmdir(ino32(dir)?, name)
    }

    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()> {
        self.vol
            .get_mut()
            .rename(ino32(old_dir)?, old_name, ino32(new_dir)?, new_name)
    }

    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino> {
        Ok(self
            .vol
            .get_mut()
            .symlink(ino32(dir)?, name, target, owner)? as Ino)
    }

    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        self.vol.borrow_mut().readlink(ino32(ino)?)
    }

    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        self.vol.get_mut().read(ino32(ino)?, offset, buf)
    }

    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize> {
        self.vol.get_mut().write(ino32(ino)?, offset, data)
    }

    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        self.vol.borrow_mut().readdir(ino32(dir)?, cookie)
    }

    fn statfs(&self) -> StatFs {
        self.vol.borrow().statfs()
    }

    fn sync(&mut self) -> VfsResult<()> {
        self.vol.get_mut().sync()
    }

    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        self.vol.get_mut().retain(ino32(ino)?)
    }

    fn release(&mut self, ino: Ino) {
        if let Ok(ino) = ino32(ino) {
            self.vol.get_mut().release(ino);
        }
    }
}
