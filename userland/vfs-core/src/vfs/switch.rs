//! Switching `/` to another file system (the `root=` boot argument).
//!
//! [`Vfs::switch_root`] makes a newly mounted file system (a disk) the root of
//! the tree, as Linux's `switch_root` after an initramfs, but keeps the old
//! root reachable instead of freeing it:
//!
//! * the old root is mounted at `/initrd` (any name the caller picks) on the
//!   new root, so every file of the boot archive keeps a path;
//! * the mounts that sat directly on the old root (`/tmp`, `/dev`, `/proc`)
//!   move to the same names on the new root;
//! * each directory of the old root the caller names (`bin`, `sbin`, `etc`,
//!   `usr`, `lib`) is also served at its own name — a view of that directory
//!   of the old root mounted there — unless the new root has its own: a
//!   non-empty directory, or anything that is not a directory (a merged-`/usr`
//!   symlink) is the disk's and wins.
//!
//! Mount points the new root lacks are made on it (root's, 0755), so the first
//! boot from a fresh disk leaves empty `initrd`, `tmp`, `dev`, `proc` (and view)
//! directories there, as a Linux root file system has `/dev` and `/proc`.
//! Nodes already handed out (open files, directories) keep their mount ids:
//! the old root keeps its id, only its place in the tree changes.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{Mount, MountId, Node, Vfs};
use crate::cred::Perm;
use crate::errno::{Errno, VfsResult};
use crate::fs::{DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp};

/// What [`Vfs::switch_root`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchedRoot {
    /// The new root's mount.
    pub id: MountId,
    /// Old-root directories now served at their own names (`bin`, ...).
    pub views: Vec<String>,
    /// Mounts that moved to the new root (`tmp`, `dev`, `proc`).
    pub moved: Vec<String>,
}

impl Vfs {
    /// Make `fs` the root of the tree; the old root goes to `/OLD_AT` and its
    /// directories named in `serve` are also served at their names when the
    /// new root has none of its own (see the module text). Fails before
    /// changing anything when `fs`'s root is not a directory or `OLD_AT`
    /// cannot be made; `fs` is then dropped.
    pub fn switch_root(
        &mut self,
        mut fs: Box<dyn FileSystem>,
        old_at: &str,
        serve: &[&str],
    ) -> VfsResult<SwitchedRoot> {
        crate::fs::check_entry_name(old_at)?;
        let old = self.root_mount;
        let old_root = self.root()?;
        fs.set_time(self.now);
        let new_root = fs.root();
        if !fs.getattr(new_root)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let initrd = mount_point(fs.as_mut(), new_root, old_at)?;
        // Mounts directly on the old root, by name.
        let mut children = Vec::new();
        for (index, slot) in self.mounts.iter().enumerate() {
            let Some(Mount {
                covers: Some(node), ..
            }) = slot
            else {
                continue;
            };
            if node.mount != old {
                continue;
            }
            if let Ok(name) = self.name_in(old, old_root.ino, node.ino) {
                if let Ok(target) = mount_point(fs.as_mut(), new_root, &name) {
                    children.push((MountId(index as u32), *node, target, name));
                }
            }
        }
        // Old-root directories to serve where the new root has none.
        let mut views = Vec::new();
        {
            let old_fs = self.fs(old)?;
            for name in serve {
                let Ok(ino) = old_fs.lookup(old_root.ino, name) else {
                    continue;
                };
                if !old_fs.getattr(ino).is_ok_and(|s| s.is_dir()) {
                    continue;
                }
                if children.iter().any(|c| c.3 == *name) {
                    continue;
                }
                match fs.lookup(new_root, name) {
                    Ok(own) if !is_empty_dir(fs.as_ref(), own) => continue,
                    _ => {}
                }
                if let Ok(target) = mount_point(fs.as_mut(), new_root, name) {
                    views.push((String::from(*name), ino, target));
                }
            }
        }
        // From here on nothing fails.
        let id = MountId(u32::try_from(self.mounts.len()).map_err(|_| Errno::ENOMEM)?);
        self.mounts.push(Some(Mount {
            fs,
            covers: None,
            open_refs: 0,
        }));
        self.root_mount = id;
        let at = |ino: Ino| Node { mount: id, ino };
        let Some(old_mount) = self.mounts[old.0 as usize].take() else {
            return Err(Errno::EBADF);
        };
        let shared = Rc::new(RefCell::new(old_mount.fs));
        self.mounts[old.0 as usize] = Some(Mount {
            fs: Box::new(View {
                inner: shared.clone(),
                root: None,
            }),
            covers: Some(at(initrd)),
            open_refs: old_mount.open_refs,
        });
        self.cover(at(initrd), old);
        let mut report = SwitchedRoot {
            id,
            views: Vec::new(),
            moved: Vec::new(),
        };
        for (child, was, target, name) in children {
            self.uncover(was);
            if let Some(Some(mount)) = self.mounts.get_mut(child.0 as usize) {
                mount.covers = Some(at(target));
            }
            self.cover(at(target), child);
            report.moved.push(name);
        }
        for (name, ino, target) in views {
            let view = MountId(self.mounts.len() as u32);
            self.mounts.push(Some(Mount {
                fs: Box::new(View {
                    inner: shared.clone(),
                    root: Some(ino),
                }),
                covers: Some(at(target)),
                open_refs: 0,
            }));
            self.cover(at(target), view);
            report.views.push(name);
        }
        Ok(report)
    }

    /// The mount that is `/`.
    pub fn root_mount(&self) -> MountId {
        self.root_mount
    }
}

/// Directory `name` in `dir` of `fs`, made (root's, 0755) when missing.
fn mount_point(fs: &mut dyn FileSystem, dir: Ino, name: &str) -> VfsResult<Ino> {
    let ino = match fs.lookup(dir, name) {
        Ok(ino) => ino,
        Err(Errno::ENOENT) => {
            fs.create(dir, name, FileKind::Directory, NewInode::new(0o755, 0, 0))?
        }
        Err(e) => return Err(e),
    };
    if !fs.getattr(ino)?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(ino)
}

/// Whether directory `dir` holds nothing but `.` and `..`.
fn is_empty_dir(fs: &dyn FileSystem, dir: Ino) -> bool {
    if !fs.getattr(dir).is_ok_and(|s| s.is_dir()) {
        return false;
    }
    let mut cookie = 0;
    loop {
        match fs.readdir(dir, cookie) {
            Ok(Some((entry, next))) => {
                if entry.name != "." && entry.name != ".." {
                    return false;
                }
                cookie = next;
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// The old root, or one of its directories, as a mount of its own: every
/// call goes to the one file system the views share; `root` (a directory of
/// it) is what a view shows at its mount point. Only the whole (`root:
/// None`) unmounts it.
struct View {
    inner: Rc<RefCell<Box<dyn FileSystem>>>,
    root: Option<Ino>,
}

impl FileSystem for View {
    fn fs_type(&self) -> &'static str {
        self.inner.borrow().fs_type()
    }
    fn set_time(&mut self, now: Timestamp) {
        self.inner.borrow_mut().set_time(now)
    }
    fn root(&self) -> Ino {
        self.root.unwrap_or_else(|| self.inner.borrow().root())
    }
    fn read_only(&self) -> bool {
        self.inner.borrow().read_only()
    }
    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        self.inner.borrow().lookup(dir, name)
    }
    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        self.inner.borrow().getattr(ino)
    }
    fn perm(&self, ino: Ino) -> VfsResult<Perm> {
        self.inner.borrow().perm(ino)
    }
    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat> {
        self.inner.borrow_mut().setattr(ino, changes)
    }
    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino> {
        self.inner.borrow_mut().create(dir, name, kind, attrs)
    }
    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()> {
        self.inner.borrow_mut().link(dir, name, target)
    }
    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.inner.borrow_mut().unlink(dir, name)
    }
    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.inner.borrow_mut().rmdir(dir, name)
    }
    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()> {
        self.inner
            .borrow_mut()
            .rename(old_dir, old_name, new_dir, new_name)
    }
    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino> {
        self.inner.borrow_mut().symlink(dir, name, target, owner)
    }
    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        self.inner.borrow().readlink(ino)
    }
    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        self.inner.borrow_mut().read(ino, offset, buf)
    }
    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize> {
        self.inner.borrow_mut().write(ino, offset, data)
    }
    fn adopt_static(&mut self, ino: Ino, data: &'static [u8]) -> VfsResult<()> {
        self.inner.borrow_mut().adopt_static(ino, data)
    }
    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        self.inner.borrow().readdir(dir, cookie)
    }
    fn statfs(&self) -> StatFs {
        self.inner.borrow().statfs()
    }
    fn sync(&mut self) -> VfsResult<()> {
        self.inner.borrow_mut().sync()
    }
    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        self.inner.borrow_mut().retain(ino)
    }
    fn release(&mut self, ino: Ino) {
        self.inner.borrow_mut().release(ino)
    }
    fn unmount(&mut self) -> VfsResult<()> {
        match self.root {
            None => self.inner.borrow_mut().unmount(),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cred::Cred;
    use crate::file::{OpenFile, OpenFlags};
    use crate::Tmpfs;

    fn write_file(vfs: &mut Vfs, path: &str, data: &[u8]) -> VfsResult<()> {
        let root = vfs.root()?;
        let flags = OpenFlags::CREAT | OpenFlags::WRONLY | OpenFlags::TRUNC;
        let mut file = OpenFile::open(vfs, root, path, flags, 0o644, &Cred::ROOT)?;
        file.write(vfs, data)?;
        file.close(vfs);
        Ok(())
    }

    fn read_file(vfs: &mut Vfs, path: &str) -> VfsResult<Vec<u8>> {
        let root = vfs.root()?;
        let mut file = OpenFile::open(vfs, root, path, OpenFlags::RDONLY, 0, &Cred::ROOT)?;
        let mut buf = [0; 256];
        let n = file.read(vfs, &mut buf)?;
        file.close(vfs);
        Ok(buf[..n].to_vec())
    }

    fn old_tree() -> Vfs {
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(1 << 20))).expect("root");
        let root = vfs.root().expect("root");
        for dir in ["/bin", "/etc", "/tmp", "/usr"] {
            vfs.mkdir(root, dir, 0o755, &Cred::ROOT).expect("mkdir");
        }
        vfs.mount("/tmp", Box::new(Tmpfs::new(1 << 16)))
            .expect("tmp");
        write_file(&mut vfs, "/bin/sh", b"archive sh").expect("sh");
        write_file(&mut vfs, "/etc/motd", b"archive motd").expect("motd");
        write_file(&mut vfs, "/tmp/scratch", b"tmp").expect("scratch");
        vfs
    }

    #[test]
    fn the_disk_becomes_root_and_the_archive_stays_reachable() {
        let mut vfs = old_tree();
        let mut disk = Tmpfs::new(1 << 20);
        let disk_root = disk.root();
        // The disk has its own /etc (wins) and an empty /usr (the archive's shows).
        let dir = NewInode::new(0o755, 0, 0);
        let etc = disk
            .create(disk_root, "etc", FileKind::Directory, dir)
            .expect("etc");
        disk.create(
            etc,
            "hostname",
            FileKind::Regular,
            NewInode::new(0o644, 0, 0),
        )
        .expect("hostname");
        disk.create(disk_root, "usr", FileKind::Directory, dir)
            .expect("usr");
        let report = vfs
            .switch_root(Box::new(disk), "initrd", &["bin", "etc", "sbin", "usr"])
            .expect("switch");
        assert_eq!(report.views, ["bin", "usr"]);
        assert_eq!(report.moved, ["tmp"]);
        let root = vfs.root().expect("root");
        assert_eq!(root.mount, report.id);
        assert_eq!(read_file(&mut vfs, "/bin/sh").expect("sh"), b"archive sh");
        assert_eq!(
            read_file(&mut vfs, "/initrd/etc/motd").expect("motd"),
            b"archive motd"
        );
        assert_eq!(
            vfs.stat(root, "/etc/motd", &Cred::ROOT).err(),
            Some(Errno::ENOENT)
        );
        assert!(vfs.stat(root, "/etc/hostname", &Cred::ROOT).is_ok());
        assert_eq!(read_file(&mut vfs, "/tmp/scratch").expect("tmp"), b"tmp");
        // `..` from a view and from the old root lead back to the disk's root.
        let up = vfs.resolve(root, "/bin/..", true, &Cred::ROOT).expect("..");
        assert_eq!(up, root);
        let up = vfs
            .resolve(root, "/initrd/..", true, &Cred::ROOT)
            .expect("..");
        assert_eq!(up, root);
        let paths: Vec<String> = vfs.mounts().into_iter().map(|m| m.path).collect();
        for path in ["/", "/initrd", "/bin", "/usr", "/tmp"] {
            assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
        }
        // New files land on the disk, not in the archive.
        write_file(&mut vfs, "/saved", b"kept").expect("write");
        assert_eq!(read_file(&mut vfs, "/saved").expect("read"), b"kept");
        assert!(vfs.stat(root, "/initrd/saved", &Cred::ROOT).is_err());
        // Every view's shut-down leaves the shared old root alone.
        for mount in vfs.mounts() {
            vfs.shut_down(mount.id).expect("shut down");
        }
    }

    #[test]
    fn a_root_that_cannot_take_the_old_one_changes_nothing() {
        let mut vfs = old_tree();
        let before = vfs.mounts();
        // Read-only and without /initrd: the old root has nowhere to go.
        let mut disk = Tmpfs::new(1 << 16);
        disk.set_read_only(true);
        assert_eq!(
            vfs.switch_root(Box::new(disk), "initrd", &["bin"]).err(),
            Some(Errno::EROFS)
        );
        assert_eq!(vfs.mounts(), before);
        assert_eq!(read_file(&mut vfs, "/bin/sh").expect("sh"), b"archive sh");
    }
}
