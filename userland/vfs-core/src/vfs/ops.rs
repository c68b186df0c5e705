//! The namespace and data operations the VFS server exposes, built on resolution.
//!
//! Each operation resolves its paths, applies the POSIX checks that are independent
//! of the file system (permissions, sticky directories, mount boundaries, `EROFS`,
//! `.`/`..` names) and then calls the file system holding the objects.

use alloc::string::String;

use super::{Node, ParentAndName, Vfs};
use crate::cred::{check_access, check_sticky, Access, Cred};
use crate::errno::{Errno, VfsResult};
use crate::file::OpenFlags;
use crate::fs::{
    DirEntry, FileKind, NewInode, SetAttr, Stat, Timestamp, MODE_PERMISSION_MASK, PATH_MAX,
};

/// The set-group-id bit: on a directory, new entries inherit its group.
const MODE_SETGID: u32 = 0o2000;
const MODE_SETUID: u32 = 0o4000;

fn is_dot_or_dotdot(name: &str) -> bool {
    name == "." || name == ".."
}

impl Vfs {
    /// Open (and with `O_CREAT` perhaps create) the object at `path`, taking a
    /// reference on it that [`Vfs::close`] drops. `mode` applies to a new file; the
    /// caller has already applied its umask.
    pub fn open(
        &mut self,
        cwd: Node,
        path: &str,
        flags: OpenFlags,
        mode: u32,
        cred: &Cred,
    ) -> VfsResult<Node> {
        self.open_kind(cwd, path, flags, mode, cred)
            .map(|(node, _)| node)
    }

    /// [`Vfs::open`], also telling what kind of file was opened (from the
    /// attributes the open looked at anyway), so the server can say in its
    /// answer whether bulk transfers apply.
    pub fn open_kind(
        &mut self,
        cwd: Node,
        path: &str,
        flags: OpenFlags,
        mode: u32,
        cred: &Cred,
    ) -> VfsResult<(Node, FileKind)> {
        flags.check_access_mode()?;
        let (node, created) = if flags.contains(OpenFlags::CREAT) {
            self.open_or_create(cwd, path, flags, mode, cred)?
        } else {
            let follow = !flags.contains(OpenFlags::NOFOLLOW);
            (self.resolve(cwd, path, follow, cred)?, false)
        };
        let stat = self.stat_node(node)?;
        if stat.kind == FileKind::Symlink {
            return Err(Errno::ELOOP);
        }
        if flags.contains(OpenFlags::DIRECTORY) && !stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let modifies = flags.writable() || flags.contains(OpenFlags::TRUNC);
        if stat.is_dir() && (modifies || flags.contains(OpenFlags::CREAT)) {
            return Err(Errno::EISDIR);
        }
        if !created {
            if modifies && stat.kind == FileKind::Regular && self.fs(node.mount)?.read_only() {
                return Err(Errno::EROFS);
            }
            let mut wanted = Access::empty();
            if flags.readable() {
                wanted |= Access::READ;
            }
            if modifies {
                wanted |= Access::WRITE;
            }
            check_access(&stat, cred, wanted)?;
            if flags.contains(OpenFlags::TRUNC) && stat.kind == FileKind::Regular {
                self.truncate_node(node, 0)?;
            }
        }
        self.retain(node)?;
        Ok((node, stat.kind))
    }

    fn open_or_create(
        &mut self,
        cwd: Node,
        path: &str,
        flags: OpenFlags,
        mode: u32,
        cred: &Cred,
    ) -> VfsResult<(Node, bool)> {
        let at = self.resolve_parent(cwd, path, cred)?;
        match self.step(at.dir, at.name) {
            Ok(existing) => {
                if flags.contains(OpenFlags::EXCL) {
                    return Err(Errno::EEXIST);
                }
                let kind = self.stat_node(existing)?.kind;
                if kind == FileKind::Symlink {
                    if flags.contains(OpenFlags::NOFOLLOW) {
                        return Err(Errno::ELOOP);
                    }
                    return Ok((self.resolve(cwd, path, true, cred)?, false));
                }
                if at.trailing_slash && kind != FileKind::Directory {
                    return Err(Errno::EISDIR);
                }
                Ok((existing, false))
            }
            Err(Errno::ENOENT) => {
                if at.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                let node = self.create_in(&at, FileKind::Regular, mode, 0, cred)?;
                Ok((node, true))
            }
            Err(other) => Err(other),
        }
    }

    /// Checks and creation shared by `open(O_CREAT)`, `mkdir` and `mknod`; the name
    /// is known not to exist.
    fn create_in(
        &mut self,
        at: &ParentAndName<'_>,
        kind: FileKind,
        mode: u32,
        rdev: u64,
        cred: &Cred,
    ) -> VfsResult<Node> {
        let dir_stat = self.stat_node(at.dir)?;
        self.writable_fs(at.dir.mount)?;
        check_access(&dir_stat, cred, Access::WRITE | Access::EXECUTE)?;
        let mut attrs = new_inode_attrs(&dir_stat, mode, cred, kind == FileKind::Directory);
        attrs.rdev = rdev;
        let ino = self
            .writable_fs(at.dir.mount)?
            .create(at.dir.ino, at.name, kind, attrs)?;
        Ok(Node {
            mount: at.dir.mount,
            ino,
        })
    }

    /// Resolve a path for `mkdir`, `mknod` and `symlink`: `EEXIST` if it names
    /// anything already.
    fn resolve_new<'p>(
        &self,
        cwd: Node,
        path: &'p str,
        cred: &Cred,
    ) -> VfsResult<ParentAndName<'p>> {
        let at = self.resolve_parent(cwd, path, cred)?;
        if is_dot_or_dotdot(at.name) {
            return Err(Errno::EEXIST);
        }
        match self.step(at.dir, at.name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(Errno::ENOENT) => Ok(at),
            Err(other) => Err(other),
        }
    }

    /// The entry `name` of `dir` in `dir`'s own file system, ignoring any mount on
    /// it (so that the caller can refuse to remove a mount point).
    fn entry_node(&self, dir: Node, name: &str) -> VfsResult<Node> {
        let ino = self.fs(dir.mount)?.lookup(dir.ino, name)?;
        Ok(Node {
            mount: dir.mount,
            ino,
        })
    }

    pub fn stat(&self, cwd: Node, path: &str, cred: &Cred) -> VfsResult<Stat> {
        let node = self.resolve(cwd, path, true, cred)?;
        self.stat_node(node)
    }

    /// Like [`Vfs::stat`], but a final symlink is reported rather than followed.
    pub fn lstat(&self, cwd: Node, path: &str, cred: &Cred) -> VfsResult<Stat> {
        let node = self.resolve(cwd, path, false, cred)?;
        self.stat_node(node)
    }

    pub fn mkdir(&mut self, cwd: Node, path: &str, mode: u32, cred: &Cred) -> VfsResult<Node> {
        let at = self.resolve_new(cwd, path, cred)?;
        self.create_in(&at, FileKind::Directory, mode, 0, cred)
    }

    /// Create a regular file, fifo, socket or (root only) device node.
    pub fn mknod(
        &mut self,
        cwd: Node,
        path: &str,
        kind: FileKind,
        mode: u32,
        rdev: u64,
        cred: &Cred,
    ) -> VfsResult<Node> {
        match kind {
            FileKind::Directory | FileKind::Symlink => return Err(Errno::EINVAL),
            FileKind::CharDevice | FileKind::BlockDevice if !cred.is_root() => {
                return Err(Errno::EPERM)
            }
            _ => {}
        }
        let at = self.resolve_new(cwd, path, cred)?;
        if at.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        self.create_in(&at, kind, mode, rdev, cred)
    }

    pub fn rmdir(&mut self, cwd: Node, path: &str, cred: &Cred) -> VfsResult<()> {
        let at = self.resolve_parent(cwd, path, cred)?;
        match at.name {
            "." => return Err(Errno::EINVAL),
            ".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let victim = self.entry_node(at.dir, at.name)?;
        let victim_stat = self.stat_node(victim)?;
        if !victim_stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.is_covered(victim) {
            return Err(Errno::EBUSY);
        }
        self.check_removal(&at, &victim_stat, cred)?;
        self.writable_fs(at.dir.mount)?.rmdir(at.dir.ino, at.name)
    }

    pub fn unlink(&mut self, cwd: Node, path: &str, cred: &Cred) -> VfsResult<()> {
        let at = self.resolve_parent(cwd, path, cred)?;
        if is_dot_or_dotdot(at.name) {
            return Err(Errno::EISDIR);
        }
        let victim = self.entry_node(at.dir, at.name)?;
        let victim_stat = self.stat_node(victim)?;
        if victim_stat.is_dir() {
            return Err(Errno::EISDIR);
        }
        if at.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        self.check_removal(&at, &victim_stat, cred)?;
        self.writable_fs(at.dir.mount)?.unlink(at.dir.ino, at.name)
    }

    /// `EROFS`, `EACCES` (write and search on the directory) and sticky-bit `EPERM`
    /// checks for removing or replacing an entry.
    fn check_removal(
        &mut self,
        at: &ParentAndName<'_>,
        victim: &Stat,
        cred: &Cred,
    ) -> VfsResult<()> {
        self.writable_fs(at.dir.mount)?;
        let dir_stat = self.stat_node(at.dir)?;
        check_access(&dir_stat, cred, Access::WRITE | Access::EXECUTE)?;
        check_sticky(&dir_stat, victim, cred)
    }

    /// Move `old_path` to `new_path` within one file system (`EXDEV` otherwise).
    pub fn rename(
        &mut self,
        old_cwd: Node,
        old_path: &str,
        new_cwd: Node,
        new_path: &str,
        cred: &Cred,
    ) -> VfsResult<()> {
        let from = self.resolve_parent(old_cwd, old_path, cred)?;
        let to = self.resolve_parent(new_cwd, new_path, cred)?;
        if is_dot_or_dotdot(from.name) || is_dot_or_dotdot(to.name) {
            return Err(Errno::EINVAL);
        }
        let source = self.entry_node(from.dir, from.name)?;
        if from.dir.mount != to.dir.mount {
            return Err(Errno::EXDEV);
        }
        let source_stat = self.stat_node(source)?;
        if self.is_covered(source) {
            return Err(Errno::EBUSY);
        }
        if (from.trailing_slash || to.trailing_slash) && !source_stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.check_removal(&from, &source_stat, cred)?;
        match self.entry_node(to.dir, to.name) {
            Ok(target) => {
                if self.is_covered(target) {
                    return Err(Errno::EBUSY);
                }
                let target_stat = self.stat_node(target)?;
                self.check_removal(&to, &target_stat, cred)?;
            }
            Err(Errno::ENOENT) => {
                let to_stat = self.stat_node(to.dir)?;
                check_access(&to_stat, cred, Access::WRITE | Access::EXECUTE)?;
            }
            Err(other) => return Err(other),
        }
        if source_stat.is_dir() && from.dir != to.dir {
            // Its `..` entry changes.
            check_access(&source_stat, cred, Access::WRITE)?;
        }
        self.writable_fs(from.dir.mount)?
            .rename(from.dir.ino, from.name, to.dir.ino, to.name)
    }

    /// Give the existing non-directory `old_path` the additional name `new_path`.
    /// A final symlink in `old_path` is linked itself, not followed.
    pub fn link(
        &mut self,
        old_cwd: Node,
        old_path: &str,
        new_cwd: Node,
        new_path: &str,
        cred: &Cred,
    ) -> VfsResult<()> {
        let source = self.resolve(old_cwd, old_path, false, cred)?;
        let to = self.resolve_new(new_cwd, new_path, cred)?;
        if source.mount != to.dir.mount {
            return Err(Errno::EXDEV);
        }
        if self.stat_node(source)?.is_dir() {
            return Err(Errno::EPERM);
        }
        self.writable_fs(to.dir.mount)?;
        let dir_stat = self.stat_node(to.dir)?;
        check_access(&dir_stat, cred, Access::WRITE | Access::EXECUTE)?;
        self.writable_fs(to.dir.mount)?
            .link(to.dir.ino, to.name, source.ino)
    }

    /// Create a symlink at `link_path` whose content is `target` (not checked).
    pub fn symlink(
        &mut self,
        cwd: Node,
        target: &str,
        link_path: &str,
        cred: &Cred,
    ) -> VfsResult<Node> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let at = self.resolve_new(cwd, link_path, cred)?;
        self.writable_fs(at.dir.mount)?;
        let dir_stat = self.stat_node(at.dir)?;
        check_access(&dir_stat, cred, Access::WRITE | Access::EXECUTE)?;
        let owner = NewInode::new(0o777, cred.uid, cred.gid);
        let ino = self
            .writable_fs(at.dir.mount)?
            .symlink(at.dir.ino, at.name, target, owner)?;
        Ok(Node {
            mount: at.dir.mount,
            ino,
        })
    }

    /// The content of the symlink `path` (`EINVAL` if it is not one).
    pub fn readlink(&self, cwd: Node, path: &str, cred: &Cred) -> VfsResult<String> {
        let node = self.resolve(cwd, path, false, cred)?;
        self.fs(node.mount)?.readlink(node.ino)
    }

    pub fn chmod(&mut self, cwd: Node, path: &str, mode: u32, cred: &Cred) -> VfsResult<()> {
        let node = self.resolve(cwd, path, true, cred)?;
        self.chmod_node(node, mode, cred)
    }

    /// Change permission bits; only the owner or root may (`EPERM`).
    pub fn chmod_node(&mut self, node: Node, mode: u32, cred: &Cred) -> VfsResult<()> {
        let stat = self.stat_node(node)?;
        if !cred.owns(&stat) {
            return Err(Errno::EPERM);
        }
        let mut mode = mode & MODE_PERMISSION_MASK;
        if !cred.is_root() && !cred.in_group(stat.gid) {
            mode &= !MODE_SETGID;
        }
        let changes = SetAttr {
            mode: Some(mode),
            ..SetAttr::default()
        };
        self.writable_fs(node.mount)?.setattr(node.ino, changes)?;
        Ok(())
    }

    pub fn chown(
        &mut self,
        cwd: Node,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
        cred: &Cred,
    ) -> VfsResult<()> {
        let node = self.resolve(cwd, path, true, cred)?;
        self.chown_node(node, uid, gid, cred)
    }

    /// Change owner and/or group. Root may do anything; an owner may only set the
    /// group to one it belongs to, and never give the file away (`EPERM`
    /// otherwise). Clears set-id bits of non-directories.
    pub fn chown_node(
        &mut self,
        node: Node,
        uid: Option<u32>,
        gid: Option<u32>,
        cred: &Cred,
    ) -> VfsResult<()> {
        let stat = self.stat_node(node)?;
        let keeps_uid = uid.is_none_or(|uid| uid == stat.uid);
        let group_allowed = gid.is_none_or(|gid| gid == stat.gid || cred.in_group(gid));
        let owner_may = cred.uid == stat.uid && keeps_uid && group_allowed;
        if !(cred.is_root() || owner_may) {
            return Err(Errno::EPERM);
        }
        let mode = (!stat.is_dir() && (uid.is_some() || gid.is_some()))
            .then_some(stat.mode & !(MODE_SETUID | MODE_SETGID));
        let changes = SetAttr {
            uid,
            gid,
            mode,
            ..SetAttr::default()
        };
        self.writable_fs(node.mount)?.setattr(node.ino, changes)?;
        Ok(())
    }

    /// `utimensat`: set access and/or modification time. Owner or root only.
    pub fn set_times(
        &mut self,
        cwd: Node,
        path: &str,
        atime: Option<Timestamp>,
        mtime: Option<Timestamp>,
        cred: &Cred,
    ) -> VfsResult<()> {
        let node = self.resolve(cwd, path, true, cred)?;
        if !cred.owns(&self.stat_node(node)?) {
            return Err(Errno::EPERM);
        }
        let changes = SetAttr {
            atime,
            mtime,
            ..SetAttr::default()
        };
        self.writable_fs(node.mount)?.setattr(node.ino, changes)?;
        Ok(())
    }

    /// `truncate`: set a regular file's length; needs write permission.
    pub fn truncate(&mut self, cwd: Node, path: &str, size: u64, cred: &Cred) -> VfsResult<()> {
        let node = self.resolve(cwd, path, true, cred)?;
        let stat = self.stat_node(node)?;
        match stat.kind {
            FileKind::Regular => {}
            FileKind::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.writable_fs(node.mount)?;
        check_access(&stat, cred, Access::WRITE)?;
        self.truncate_node(node, size)
    }

    /// `ftruncate`: set the length of an already opened file (no permission check).
    pub fn truncate_node(&mut self, node: Node, size: u64) -> VfsResult<()> {
        let changes = SetAttr {
            size: Some(size),
            ..SetAttr::default()
        };
        self.writable_fs(node.mount)?.setattr(node.ino, changes)?;
        self.truncate_shared(node, size);
        Ok(())
    }

    /// Read a regular file at `offset`; 0 at or past the end. Bytes a
    /// shared mapping holds come from it (`vfs/shared_pages.rs`).
    pub fn read_at(&mut self, node: Node, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        let read = self.fs_mut(node.mount)?.read(node.ino, offset, buf)?;
        self.read_through_shared(node, offset, &mut buf[..read]);
        Ok(read)
    }

    /// Write a regular file at `offset`, growing it (and leaving a hole) as
    /// needed; a shared mapping of it sees the bytes at once.
    pub fn write_at(&mut self, node: Node, offset: u64, data: &[u8]) -> VfsResult<usize> {
        let written = self
            .writable_fs(node.mount)?
            .write(node.ino, offset, data)?;
        self.write_through_shared(node, offset, &data[..written.min(data.len())]);
        Ok(written)
    }

    /// See [`crate::fs::FileSystem::adopt_static`].
    pub fn adopt_static(&mut self, node: Node, data: &'static [u8]) -> VfsResult<()> {
        self.writable_fs(node.mount)?.adopt_static(node.ino, data)
    }

    /// The entry at `cookie` of directory `node` and the next cookie. At a mount
    /// root, `..` names the directory above the mount point.
    pub fn readdir(&self, node: Node, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        let Some((mut entry, next)) = self.fs(node.mount)?.readdir(node.ino, cookie)? else {
            return Ok(None);
        };
        if entry.name == ".." && self.is_mount_root(node) {
            entry.ino = self.parent_of(node)?.ino;
        }
        Ok(Some((entry, next)))
    }
}

/// Attributes of a new inode in a directory: the caller owns it; a set-group-id
/// directory passes on its group (and, to subdirectories, the bit itself).
fn new_inode_attrs(dir: &Stat, mode: u32, cred: &Cred, is_dir: bool) -> NewInode {
    let inherits_group = dir.mode & MODE_SETGID != 0;
    let gid = if inherits_group { dir.gid } else { cred.gid };
    let mut mode = mode & MODE_PERMISSION_MASK;
    if inherits_group && is_dir {
        mode |= MODE_SETGID;
    }
    NewInode::new(mode, cred.uid, gid)
}
