//! The virtual file system: a mount table over file systems, and path resolution.
//!
//! A [`Node`] names an inode globally as (mount, inode number). Resolution walks a
//! path component by component, crossing mount points downwards (a mounted-on
//! directory shows the mounted root) and upwards (`..` at a mount root continues in
//! the parent file system), following symlinks up to [`MAX_SYMLINKS`] times, and
//! checking search permission on every directory it passes. The namespace
//! operations built on it (`open`, `mkdir`, `rename`, ...) live in `vfs/ops.rs`.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cred::{check_access, check_perm, Access, Cred, Perm};
use crate::errno::{Errno, VfsResult};
use crate::fs::{FileKind, FileSystem, Ino, Stat, StatFs, Timestamp, NAME_MAX, PATH_MAX};

mod ops;
mod shared_pages;
mod switch;

pub use shared_pages::SharedPages;
#[cfg(test)]
mod tests;

/// Most symlinks one path resolution follows before failing with `ELOOP`.
pub const MAX_SYMLINKS: u32 = 40;

/// Index of a mounted file system in the mount table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MountId(pub u32);

/// An inode somewhere in the mounted tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    pub mount: MountId,
    pub ino: Ino,
}

/// One row of the mount table, as `mount` (the command) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub id: MountId,
    pub path: String,
    pub fs_type: &'static str,
    pub read_only: bool,
}

struct Mount {
    fs: Box<dyn FileSystem>,
    /// The directory this file system is mounted on; `None` for `/`.
    covers: Option<Node>,
    /// Open files and working directories inside this mount.
    open_refs: u64,
}

/// A path split into the directory that holds its last component and that name.
pub(crate) struct ParentAndName<'p> {
    pub dir: Node,
    /// The last component; `.` when the path names `/` itself.
    pub name: &'p str,
    /// The path ended in `/`, so the object must be (or become) a directory.
    pub trailing_slash: bool,
}

/// The mount table and everything reached through it.
pub struct Vfs {
    mounts: Vec<Option<Mount>>,
    /// Mounted-on directory → the mount that hides it.
    covered: BTreeMap<Node, MountId>,
    /// Bit `m % 64` set when mount `m` holds a node of `covered`: a walk
    /// inside a mount with no mount points skips the map (one lookup per
    /// path component saved).
    holds_mount_points: u64,
    /// The mount that is `/`: the first one, until [`Vfs::switch_root`].
    root_mount: MountId,
    now: Timestamp,
    /// Files mapped `MAP_SHARED` and the pages their mappers share.
    shared_pages: BTreeMap<Node, Box<dyn SharedPages>>,
}

impl Default for Vfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Vfs {
    /// An empty VFS; the first mount must be at `/`.
    pub fn new() -> Self {
        Vfs {
            mounts: Vec::new(),
            covered: BTreeMap::new(),
            holds_mount_points: 0,
            root_mount: MountId(0),
            now: 0,
            shared_pages: BTreeMap::new(),
        }
    }

    /// Set the current time for every mounted file system (and later mounts).
    pub fn set_time(&mut self, now: Timestamp) {
        self.now = now;
        for mount in self.mounts.iter_mut().flatten() {
            mount.fs.set_time(now);
        }
    }

    /// Mount `fs` on the directory `path` (absolute, resolved as root), or at `/` if
    /// nothing is mounted yet.
    pub fn mount(&mut self, path: &str, mut fs: Box<dyn FileSystem>) -> VfsResult<MountId> {
        let covers = if self.mounts.is_empty() {
            if path.trim_end_matches('/').is_empty() && path.starts_with('/') {
                None
            } else {
                return Err(Errno::ENOENT);
            }
        } else {
            if !path.starts_with('/') {
                return Err(Errno::EINVAL);
            }
            let root = self.root()?;
            let node = self.resolve(root, path, true, &Cred::ROOT)?;
            if !self.stat_node(node)?.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if self.covered.contains_key(&node) {
                return Err(Errno::EBUSY);
            }
            Some(node)
        };
        let index = u32::try_from(self.mounts.len()).map_err(|_| Errno::ENOMEM)?;
        let id = MountId(index);
        fs.set_time(self.now);
        self.mounts.push(Some(Mount {
            fs,
            covers,
            open_refs: 0,
        }));
        if let Some(node) = covers {
            self.cover(node, id);
        }
        Ok(id)
    }

    /// Detach the file system mounted at `path` and hand it back. `EINVAL` if `path`
    /// is not a mount point, `EBUSY` for `/`, for a mount with open files, and for a
    /// mount with other mounts inside it.
    pub fn unmount(&mut self, path: &str) -> VfsResult<Box<dyn FileSystem>> {
        let root = self.root()?;
        // The final component is not followed: that would ask the mounted file
        // system about its root, and a dead server cannot answer.
        let node = self.resolve(root, path, false, &Cred::ROOT)?;
        let mount = self.mount_ref(node.mount)?;
        if node.ino != mount.fs.root() {
            return Err(Errno::EINVAL);
        }
        let Some(covers) = mount.covers else {
            return Err(Errno::EBUSY);
        };
        let has_children = self.covered.keys().any(|n| n.mount == node.mount);
        if mount.open_refs > 0 || has_children {
            return Err(Errno::EBUSY);
        }
        self.uncover(covers);
        let slot = self
            .mounts
            .get_mut(node.mount.0 as usize)
            .ok_or(Errno::EINVAL)?;
        slot.take().map(|m| m.fs).ok_or(Errno::EINVAL)
    }

    /// Let the file system of mount `id` go at shutdown ([`FileSystem::unmount`]),
    /// leaving it in the table even when files are open: nothing runs afterwards.
    pub fn shut_down(&mut self, id: MountId) -> VfsResult<()> {
        self.fs_mut(id)?.unmount()
    }

    /// The root directory of the whole tree.
    pub fn root(&self) -> VfsResult<Node> {
        self.mount_root(self.root_mount)
    }

    /// Every mounted file system with the path it is mounted at.
    pub fn mounts(&self) -> Vec<MountInfo> {
        let mut list = Vec::new();
        for (index, slot) in self.mounts.iter().enumerate() {
            let Some(mount) = slot else { continue };
            let id = MountId(index as u32);
            let path = match self.mount_root(id).and_then(|root| self.path_of(root)) {
                Ok(path) => path,
                Err(_) => String::from("?"),
            };
            list.push(MountInfo {
                id,
                path,
                fs_type: mount.fs.fs_type(),
                read_only: mount.fs.read_only(),
            });
        }
        list
    }

    /// The absolute path of a directory node (what `getcwd` returns). `ENOENT` if
    /// it has been removed.
    pub fn path_of(&self, node: Node) -> VfsResult<String> {
        let mut names: Vec<String> = Vec::new();
        let mut current = node;
        let mut budget = PATH_MAX;
        loop {
            let mount = self.mount_ref(current.mount)?;
            if current.ino == mount.fs.root() {
                match mount.covers {
                    Some(mountpoint) => {
                        current = mountpoint;
                        continue;
                    }
                    None => break,
                }
            }
            let parent_ino = mount.fs.lookup(current.ino, "..")?;
            let name = self.name_in(current.mount, parent_ino, current.ino)?;
            budget = budget
                .checked_sub(name.len() + 1)
                .ok_or(Errno::ENAMETOOLONG)?;
            names.push(name);
            current = Node {
                mount: current.mount,
                ino: parent_ino,
            };
        }
        if names.is_empty() {
            return Ok(String::from("/"));
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        Ok(path)
    }

    /// Attributes of a node.
    pub fn stat_node(&self, node: Node) -> VfsResult<Stat> {
        self.fs(node.mount)?.getattr(node.ino)
    }

    /// Capacity figures of the file system holding `node`.
    pub fn statfs(&self, node: Node) -> VfsResult<StatFs> {
        Ok(self.fs(node.mount)?.statfs())
    }

    /// Flush every mounted file system; the first failure is reported.
    pub fn sync_all(&mut self) -> VfsResult<()> {
        let mut result = Ok(());
        for mount in self.mounts.iter_mut().flatten() {
            let synced = mount.fs.sync();
            if result.is_ok() {
                result = synced;
            }
        }
        result
    }

    /// Flush the file system of mount `id` (`fsync` of a file on it).
    pub fn sync_mount(&mut self, id: MountId) -> VfsResult<()> {
        self.fs_mut(id)?.sync()
    }

    /// Resolve `path` relative to the directory `cwd` (ignored for absolute paths).
    /// A final symlink is followed only when `follow_final` is set.
    pub fn resolve(
        &self,
        cwd: Node,
        path: &str,
        follow_final: bool,
        cred: &Cred,
    ) -> VfsResult<Node> {
        let mut links = 0;
        self.walk(cwd, path, follow_final, cred, &mut links)
    }

    /// Take a reference on `node` (an open file or a working directory) so that it
    /// survives the removal of its last name; undo with [`Vfs::close`].
    pub fn retain(&mut self, node: Node) -> VfsResult<()> {
        let mount = self.mount_mut(node.mount)?;
        mount.fs.retain(node.ino)?;
        mount.open_refs += 1;
        Ok(())
    }

    /// Drop a reference taken by [`Vfs::open`] or [`Vfs::retain`].
    pub fn close(&mut self, node: Node) {
        if let Ok(mount) = self.mount_mut(node.mount) {
            mount.fs.release(node.ino);
            mount.open_refs = mount.open_refs.saturating_sub(1);
        }
    }

    // ---- internals shared with ops.rs ----

    fn mount_ref(&self, id: MountId) -> VfsResult<&Mount> {
        match self.mounts.get(id.0 as usize) {
            Some(Some(mount)) => Ok(mount),
            _ => Err(Errno::EBADF),
        }
    }

    fn mount_mut(&mut self, id: MountId) -> VfsResult<&mut Mount> {
        match self.mounts.get_mut(id.0 as usize) {
            Some(Some(mount)) => Ok(mount),
            _ => Err(Errno::EBADF),
        }
    }

    pub(crate) fn fs(&self, id: MountId) -> VfsResult<&dyn FileSystem> {
        Ok(self.mount_ref(id)?.fs.as_ref())
    }

    pub(crate) fn fs_mut(&mut self, id: MountId) -> VfsResult<&mut dyn FileSystem> {
        Ok(self.mount_mut(id)?.fs.as_mut())
    }

    /// `fs_mut`, failing with `EROFS` on a read-only file system.
    pub(crate) fn writable_fs(&mut self, id: MountId) -> VfsResult<&mut dyn FileSystem> {
        let fs = self.fs_mut(id)?;
        if fs.read_only() {
            return Err(Errno::EROFS);
        }
        Ok(fs)
    }

    fn mount_root(&self, id: MountId) -> VfsResult<Node> {
        let fs = self.fs(id)?;
        Ok(Node {
            mount: id,
            ino: fs.root(),
        })
    }

    /// Whether `node` is the root of its file system.
    pub(crate) fn is_mount_root(&self, node: Node) -> bool {
        self.fs(node.mount).is_ok_and(|fs| fs.root() == node.ino)
    }

    /// Whether another file system is mounted on `node`.
    pub(crate) fn is_covered(&self, node: Node) -> bool {
        self.covered.contains_key(&node)
    }

    /// The name under which `child` appears in directory `parent` (same mount).
    fn name_in(&self, mount: MountId, parent: Ino, child: Ino) -> VfsResult<String> {
        let fs = self.fs(mount)?;
        let mut cookie = 0;
        while let Some((entry, next)) = fs.readdir(parent, cookie)? {
            if entry.ino == child && entry.name != "." && entry.name != ".." {
                return Ok(entry.name);
            }
            cookie = next;
        }
        Err(Errno::ENOENT)
    }

    /// Records that mount `id` hides `node`.
    pub(crate) fn cover(&mut self, node: Node, id: MountId) {
        self.covered.insert(node, id);
        self.holds_mount_points |= mount_bit(node.mount);
    }

    /// Forgets what hid `node`.
    pub(crate) fn uncover(&mut self, node: Node) {
        self.covered.remove(&node);
        self.holds_mount_points = self.covered.keys().fold(0, |m, n| m | mount_bit(n.mount));
    }

    /// Go down through every file system mounted on `node`.
    fn enter_mounts(&self, mut node: Node) -> VfsResult<Node> {
        if self.holds_mount_points & mount_bit(node.mount) == 0 {
            return Ok(node);
        }
        for _ in 0..=self.mounts.len() {
            match self.covered.get(&node) {
                Some(&id) => node = self.mount_root(id)?,
                None => return Ok(node),
            }
        }
        Err(Errno::ELOOP)
    }

    /// The parent directory of directory `node`, crossing mount points upwards.
    pub(crate) fn parent_of(&self, mut node: Node) -> VfsResult<Node> {
        for _ in 0..=self.mounts.len() {
            let mount = self.mount_ref(node.mount)?;
            if node.ino == mount.fs.root() {
                match mount.covers {
                    Some(mountpoint) => {
                        node = mountpoint;
                        continue;
                    }
                    None => return Ok(node),
                }
            }
            let ino = mount.fs.lookup(node.ino, "..")?;
            return self.enter_mounts(Node {
                mount: node.mount,
                ino,
            });
        }
        Err(Errno::ELOOP)
    }

    /// One resolution step from directory `dir` through component `name`.
    pub(crate) fn step(&self, dir: Node, name: &str) -> VfsResult<Node> {
        // Byte patterns: a `str` pattern compiles to a `memcmp` call each.
        match name.as_bytes() {
            [b'.'] => Ok(dir),
            [b'.', b'.'] => self.parent_of(dir),
            _ => {
                let ino = self.fs(dir.mount)?.lookup(dir.ino, name)?;
                self.enter_mounts(Node {
                    mount: dir.mount,
                    ino,
                })
            }
        }
    }

    /// `ENOTDIR` unless `dir` is a directory; `EACCES` unless `cred` may search it.
    pub(crate) fn check_search(&self, dir: Node, cred: &Cred) -> VfsResult<Stat> {
        let stat = self.stat_node(dir)?;
        if !stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        check_access(&stat, cred, Access::EXECUTE)?;
        Ok(stat)
    }

    fn walk(
        &self,
        cwd: Node,
        path: &str,
        follow_final: bool,
        cred: &Cred,
        links: &mut u32,
    ) -> VfsResult<Node> {
        check_path(path)?;
        let mut current = if path.starts_with('/') {
            self.root()?
        } else {
            cwd
        };
        let must_be_dir = path.ends_with('/');
        let mut components = Components { rest: path };
        // What the search check needs of `current`, when the step that
        // reached it read its attributes (to see whether it was a symlink):
        // the file system is asked once per component, not twice.
        let mut current_perm: Option<Perm> = None;
        while let Some(name) = components.next() {
            let is_last = components.is_empty();
            let perm = match current_perm.take() {
                Some(perm) => perm,
                None => self.fs(current.mount)?.perm(current.ino)?,
            };
            if perm.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            check_perm(perm, cred, Access::EXECUTE)?;
            if name.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let mut next = self.step(current, name)?;
            let follow = !is_last || follow_final || must_be_dir;
            if follow {
                let next_perm = self.fs(next.mount)?.perm(next.ino)?;
                if next_perm.kind == FileKind::Symlink {
                    *links += 1;
                    if *links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = self.fs(next.mount)?.readlink(next.ino)?;
                    next = self.walk(current, &target, true, cred, links)?;
                } else {
                    current_perm = Some(next_perm);
                }
            }
            current = next;
        }
        if must_be_dir {
            let kind = match current_perm {
                Some(perm) => perm.kind,
                None => self.stat_node(current)?.kind,
            };
            if kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
        }
        Ok(current)
    }

    /// Resolve all but the last component of `path`.
    pub(crate) fn resolve_parent<'p>(
        &self,
        cwd: Node,
        path: &'p str,
        cred: &Cred,
    ) -> VfsResult<ParentAndName<'p>> {
        check_path(path)?;
        let trimmed = path.trim_end_matches('/');
        let trailing_slash = trimmed.len() != path.len();
        let (dir, name) = if trimmed.is_empty() {
            (self.root()?, ".")
        } else {
            match trimmed.rsplit_once('/') {
                None => (cwd, trimmed),
                Some(("", name)) => (self.root()?, name),
                Some((parent, name)) => (self.resolve(cwd, parent, true, cred)?, name),
            }
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.check_search(dir, cred)?;
        Ok(ParentAndName {
            dir,
            name,
            trailing_slash,
        })
    }
}

/// `ENOENT` for an empty path, `ENAMETOOLONG` for one of `PATH_MAX` bytes or more,
/// `EINVAL` for an embedded NUL.
pub fn check_path(path: &str) -> VfsResult<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// The bit of [`Vfs::holds_mount_points`] for `mount`.
fn mount_bit(mount: MountId) -> u64 {
    1 << (mount.0 % 64)
}

/// The non-empty components of a path, in order. By hand rather than
/// `split('/')`: that finds each slash with `memchr` and confirms it with a
/// `memcmp` call, several times the cost of looking at the few bytes of a
/// component (docs/userland.md, "Path walk cost").
struct Components<'p> {
    rest: &'p str,
}

impl<'p> Components<'p> {
    /// Whether no component is left.
    fn is_empty(&self) -> bool {
        self.rest.bytes().all(|b| b == b'/')
    }
}

impl<'p> Iterator for Components<'p> {
    type Item = &'p str;

    fn next(&mut self) -> Option<&'p str> {
        let bytes = self.rest.as_bytes();
        let start = bytes.iter().position(|&b| b != b'/')?;
        let len = bytes[start..]
            .iter()
            .position(|&b| b == b'/')
            .unwrap_or(bytes.len() - start);
        // `/` is one byte in UTF-8, so both cuts fall on character boundaries.
        let component = self.rest.get(start..start + len)?;
        self.rest = self.rest.get(start + len..)?;
        Some(component)
    }
}
