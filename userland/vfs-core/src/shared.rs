//! A file system shared between the mount table and its owner.
//!
//! The VFS server keeps a handle on some mounted file systems (procfs's snapshot,
//! devfs's entropy) while the [`Vfs`](crate::vfs::Vfs) owns the mounted box. A
//! [`SharedFs`] is that box: every trait call borrows the inner file system for
//! the length of the call only, so the owner may borrow it between calls.

use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;

use crate::cred::Perm;
use crate::errno::VfsResult;
use crate::fs::{DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp};

/// A mountable handle on a file system that someone else also holds.
pub struct SharedFs<F>(pub Rc<RefCell<F>>);

impl<F> SharedFs<F> {
    /// Wraps `fs`; returns the mountable box and the owner's handle.
    pub fn new(fs: F) -> (Self, Rc<RefCell<F>>) {
        let shared = Rc::new(RefCell::new(fs));
        (SharedFs(shared.clone()), shared)
    }
}

impl<F: FileSystem> FileSystem for SharedFs<F> {
    fn fs_type(&self) -> &'static str {
        self.0.borrow().fs_type()
    }
    fn set_time(&mut self, now: Timestamp) {
        self.0.borrow_mut().set_time(now)
    }
    fn root(&self) -> Ino {
        self.0.borrow().root()
    }
    fn read_only(&self) -> bool {
        self.0.borrow().read_only()
    }
    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        self.0.borrow().lookup(dir, name)
    }
    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        self.0.borrow().getattr(ino)
    }
    fn perm(&self, ino: Ino) -> VfsResult<Perm> {
        self.0.borrow().perm(ino)
    }
    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat> {
        self.0.borrow_mut().setattr(ino, changes)
    }
    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino> {
        self.0.borrow_mut().create(dir, name, kind, attrs)
    }
    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()> {
        self.0.borrow_mut().link(dir, name, target)
    }
    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.0.borrow_mut().unlink(dir, name)
    }
    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.0.borrow_mut().rmdir(dir, name)
    }
    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()> {
        self.0
            .borrow_mut()
            .rename(old_dir, old_name, new_dir, new_name)
    }
    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino> {
        self.0.borrow_mut().symlink(dir, name, target, owner)
    }
    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        self.0.borrow().readlink(ino)
    }
    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        self.0.borrow_mut().read(ino, offset, buf)
    }
    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize> {
        self.0.borrow_mut().write(ino, offset, data)
    }
    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        self.0.borrow().readdir(dir, cookie)
    }
    fn statfs(&self) -> StatFs {
        self.0.borrow().statfs()
    }
    fn sync(&mut self) -> VfsResult<()> {
        self.0.borrow_mut().sync()
    }
    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        self.0.borrow_mut().retain(ino)
    }
    fn release(&mut self, ino: Ino) {
        self.0.borrow_mut().release(ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cred::Cred;
    use crate::procfs::{ProcSnapshot, Procfs};
    use crate::vfs::Vfs;
    use crate::Tmpfs;
    use alloc::boxed::Box;

    #[test]
    fn owner_changes_show_through_the_mount() {
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(1 << 16))).expect("root");
        let root = vfs.root().expect("root");
        vfs.mkdir(root, "/proc", 0o555, &Cred::ROOT).expect("mkdir");
        let (mountable, handle) = SharedFs::new(Procfs::new());
        vfs.mount("/proc", Box::new(mountable)).expect("mount");
        assert!(vfs.stat(root, "/proc/uptime", &Cred::ROOT).is_ok());
        handle.borrow_mut().set_snapshot(ProcSnapshot {
            uptime_ns: 3_000_000_000,
            ..ProcSnapshot::default()
        });
        let node = vfs
            .resolve(root, "/proc/uptime", true, &Cred::ROOT)
            .expect("resolve");
        let mut buf = [0u8; 32];
        let n = vfs.read_at(node, 0, &mut buf).expect("read");
        assert_eq!(&buf[..n], b"3.00 0.00\n");
    }
}
