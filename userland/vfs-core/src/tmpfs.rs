//! tmpfs: a file system kept entirely in memory, used for `/` and `/tmp`.
//!
//! Regular files are sparse: data lives in 4 KiB pages allocated on first write, so
//! holes read as zeros and a write far beyond the end costs one page. Every page,
//! inode, name and symlink target is charged to a byte budget fixed at creation;
//! running out yields `ENOSPC`, and removing files gives the space back.

use alloc::string::{String, ToString};

use crate::cred::Perm;
use crate::errno::{Errno, VfsResult};
use crate::fs::{
    check_entry_name, DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs,
    Timestamp, MODE_PERMISSION_MASK, NAME_MAX, PATH_MAX,
};

mod directory;
mod hash;
mod storage;
#[cfg(test)]
mod tests;

use directory::Directory;
use storage::{Budget, SparseData, PAGE_BYTES};
pub use storage::{MAX_FILE_SIZE, PAGE_SIZE};

/// Budget charged for an inode's bookkeeping, whatever its content.
pub const INODE_COST: u64 = 128;
/// Budget charged for a directory entry, on top of its name's length.
pub const DIRENT_COST: u64 = 32;
/// Most hard links one inode may have.
pub const MAX_LINKS: u32 = 65_000;

const ROOT_INO: Ino = 1;

fn entry_cost(name: &str) -> u64 {
    DIRENT_COST + name.len() as u64
}

enum Content {
    Regular(SparseData),
    Directory(Directory),
    Symlink(String),
    /// Device nodes, fifos and sockets: no data of their own.
    Special,
}

struct Inode {
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    atime: Timestamp,
    mtime: Timestamp,
    ctime: Timestamp,
    rdev: u64,
    /// References from open files and working directories ([`FileSystem::retain`]).
    open_refs: u32,
    content: Content,
}

impl Inode {
    fn directory(&self) -> VfsResult<&Directory> {
        match &self.content {
            Content::Directory(dir) => Ok(dir),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn directory_mut(&mut self) -> VfsResult<&mut Directory> {
        match &mut self.content {
            Content::Directory(dir) => Ok(dir),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Bytes of budget this inode holds besides its directory entries.
    fn storage_cost(&self) -> u64 {
        INODE_COST
            + match &self.content {
                Content::Regular(data) => data.page_count() * PAGE_BYTES,
                Content::Symlink(target) => target.len() as u64,
                Content::Directory(_) | Content::Special => 0,
            }
    }
}

/// Inodes by number. A hash map, not a B-tree: every path component looks
/// up two inodes (the directory's entry, then the child's attributes), and a
/// tree of a few hundred spent ~60 instructions a lookup comparing numbers.
type InodeMap = hashbrown::HashMap<Ino, Inode, hash::Fast>;

/// An in-memory file system with a fixed byte budget.
pub struct Tmpfs {
    inodes: InodeMap,
    next_ino: Ino,
    budget: Budget,
    now: Timestamp,
    read_only: bool,
}

impl Tmpfs {
    /// An empty tmpfs whose root is `rwxr-xr-x` owned by root, holding at most
    /// `capacity_bytes` of data and bookkeeping.
    pub fn new(capacity_bytes: u64) -> Self {
        let root = Inode {
            kind: FileKind::Directory,
            mode: 0o755,
            uid: 0,
            gid: 0,
            nlink: 2,
            atime: 0,
            mtime: 0,
            ctime: 0,
            rdev: 0,
            open_refs: 0,
            content: Content::Directory(Directory::new(ROOT_INO)),
        };
        let mut inodes = InodeMap::default();
        inodes.insert(ROOT_INO, root);
        Tmpfs {
            inodes,
            next_ino: ROOT_INO + 1,
            budget: Budget {
                capacity: capacity_bytes,
                used: INODE_COST,
            },
            now: 0,
            read_only: false,
        }
    }

    /// Turn modifications off (`EROFS`) or back on, like a remount.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// Bytes of the budget in use.
    pub fn used_bytes(&self) -> u64 {
        self.budget.used
    }

    fn inode(&self, ino: Ino) -> VfsResult<&Inode> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn inode_mut(&mut self, ino: Ino) -> VfsResult<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn writable(&self) -> VfsResult<()> {
        if self.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// A live directory (one that still has a name) for adding or removing entries.
    fn live_directory(&self, dir: Ino) -> VfsResult<&Directory> {
        let inode = self.inode(dir)?;
        let directory = inode.directory()?;
        if inode.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(directory)
    }

    fn touch_modified(&mut self, ino: Ino) {
        let now = self.now;
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.mtime = now;
            inode.ctime = now;
        }
    }

    fn touch_changed(&mut self, ino: Ino) {
        let now = self.now;
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.ctime = now;
        }
    }

    /// Free `ino` once no name and no open reference keeps it.
    fn free_if_unused(&mut self, ino: Ino) {
        let unused = matches!(self.inodes.get(&ino), Some(i) if i.nlink == 0 && i.open_refs == 0);
        if unused {
            if let Some(inode) = self.inodes.remove(&ino) {
                self.budget.refund(inode.storage_cost());
            }
        }
    }

    /// Drop one name of `ino` (a directory loses both its name and its `.`).
    fn drop_link(&mut self, ino: Ino) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.nlink = if inode.kind == FileKind::Directory {
                0
            } else {
                inode.nlink.saturating_sub(1)
            };
            inode.ctime = self.now;
        }
        self.free_if_unused(ino);
    }

    fn adjust_nlink(&mut self, ino: Ino, delta: i32) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.nlink = inode.nlink.saturating_add_signed(delta);
        }
    }

    /// Whether `ino` is `ancestor` or lies below it.
    fn is_within(&self, mut ino: Ino, ancestor: Ino) -> bool {
        for _ in 0..=self.inodes.len() {
            if ino == ancestor {
                return true;
            }
            let parent = match self.inodes.get(&ino).map(|i| &i.content) {
                Some(Content::Directory(dir)) => dir.parent,
                _ => return false,
            };
            if parent == ino {
                return false;
            }
            ino = parent;
        }
        false
    }

    fn is_empty_dir(&self, ino: Ino) -> VfsResult<bool> {
        Ok(self.inode(ino)?.directory()?.is_empty())
    }

    fn new_inode(&mut self, kind: FileKind, attrs: NewInode, content: Content) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        let inode = Inode {
            kind,
            mode: attrs.mode & MODE_PERMISSION_MASK,
            uid: attrs.uid,
            gid: attrs.gid,
            nlink: if kind == FileKind::Directory { 2 } else { 1 },
            atime: self.now,
            mtime: self.now,
            ctime: self.now,
            rdev: attrs.rdev,
            open_refs: 0,
            content,
        };
        self.inodes.insert(ino, inode);
        ino
    }

    /// Checks shared by every operation that adds `name` to `dir`.
    fn check_new_entry(&self, dir: Ino, name: &str) -> VfsResult<()> {
        self.writable()?;
        check_entry_name(name)?;
        if self.live_directory(dir)?.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    fn resize(&mut self, ino: Ino, new_size: u64) -> VfsResult<()> {
        let inode = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        match &mut inode.content {
            Content::Regular(data) => data.resize(new_size, &mut self.budget),
            Content::Directory(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }
}

impl FileSystem for Tmpfs {
    fn fs_type(&self) -> &'static str {
        "tmpfs"
    }

    fn set_time(&mut self, now: Timestamp) {
        self.now = now;
    }

    fn root(&self) -> Ino {
        ROOT_INO
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        let inode = self.inode(dir)?;
        let directory = inode.directory()?;
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        match name.as_bytes() {
            [b'.'] => Ok(dir),
            [b'.', b'.'] if inode.nlink == 0 => Err(Errno::ENOENT),
            [b'.', b'.'] => Ok(directory.parent),
            _ => directory.get(name).ok_or(Errno::ENOENT),
        }
    }

    fn perm(&self, ino: Ino) -> VfsResult<Perm> {
        let inode = self.inode(ino)?;
        Ok(Perm {
            kind: inode.kind,
            mode: inode.mode,
            uid: inode.uid,
            gid: inode.gid,
        })
    }

    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        let inode = self.inode(ino)?;
        let (size, blocks) = match &inode.content {
            Content::Regular(data) => (data.size(), data.page_count() * (PAGE_BYTES / 512)),
            Content::Directory(dir) => ((dir.len() as u64 + 2) * DIRENT_COST, 0),
            Content::Symlink(target) => (target.len() as u64, 0),
            Content::Special => (0, 0),
        };
        Ok(Stat {
            ino,
            kind: inode.kind,
            mode: inode.mode,
            nlink: inode.nlink,
            uid: inode.uid,
            gid: inode.gid,
            size,
            blocks,
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
            rdev: inode.rdev,
        })
    }

    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat> {
        self.writable()?;
        self.inode(ino)?;
        if let Some(size) = changes.size {
            self.resize(ino, size)?;
            self.touch_modified(ino);
        }
        let now = self.now;
        let inode = self.inode_mut(ino)?;
        if let Some(mode) = changes.mode {
            inode.mode = mode & MODE_PERMISSION_MASK;
        }
        if let Some(uid) = changes.uid {
            inode.uid = uid;
        }
        if let Some(gid) = changes.gid {
            inode.gid = gid;
        }
        if let Some(atime) = changes.atime {
            inode.atime = atime;
        }
        if let Some(mtime) = changes.mtime {
            inode.mtime = mtime;
        }
        inode.ctime = now;
        self.getattr(ino)
    }

    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino> {
        self.check_new_entry(dir, name)?;
        let content = match kind {
            FileKind::Regular => Content::Regular(SparseData::default()),
            FileKind::Directory => Content::Directory(Directory::new(dir)),
            FileKind::Symlink => return Err(Errno::EINVAL),
            FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo | FileKind::Socket => {
                Content::Special
            }
        };
        if kind == FileKind::Directory && self.inode(dir)?.nlink >= MAX_LINKS {
            return Err(Errno::EMLINK);
        }
        self.budget.charge(INODE_COST + entry_cost(name))?;
        let ino = self.new_inode(kind, attrs, content);
        self.inode_mut(dir)?.directory_mut()?.insert(name, ino);
        if kind == FileKind::Directory {
            self.adjust_nlink(dir, 1);
        }
        self.touch_modified(dir);
        Ok(ino)
    }

    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()> {
        self.writable()?;
        let target_inode = self.inode(target)?;
        if target_inode.kind == FileKind::Directory {
            return Err(Errno::EPERM);
        }
        if target_inode.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if target_inode.nlink >= MAX_LINKS {
            return Err(Errno::EMLINK);
        }
        self.check_new_entry(dir, name)?;
        self.budget.charge(entry_cost(name))?;
        self.inode_mut(dir)?.directory_mut()?.insert(name, target);
        self.adjust_nlink(target, 1);
        self.touch_changed(target);
        self.touch_modified(dir);
        Ok(())
    }

    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.writable()?;
        check_entry_name(name)?;
        let victim = self.live_directory(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if self.inode(victim)?.kind == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        self.inode_mut(dir)?.directory_mut()?.remove(name);
        self.budget.refund(entry_cost(name));
        self.touch_modified(dir);
        self.drop_link(victim);
        Ok(())
    }

    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.writable()?;
        check_entry_name(name)?;
        let victim = self.live_directory(dir)?.get(name).ok_or(Errno::ENOENT)?;
        if !self.is_empty_dir(victim)? {
            return Err(Errno::ENOTEMPTY);
        }
        self.inode_mut(dir)?.directory_mut()?.remove(name);
        self.budget.refund(entry_cost(name));
        self.adjust_nlink(dir, -1);
        self.touch_modified(dir);
        self.drop_link(victim);
        Ok(())
    }

    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()> {
        self.writable()?;
        check_entry_name(old_name)?;
        check_entry_name(new_name)?;
        let source = self
            .live_directory(old_dir)?
            .get(old_name)
            .ok_or(Errno::ENOENT)?;
        let replaced = self.live_directory(new_dir)?.get(new_name);
        if replaced == Some(source) {
            return Ok(());
        }
        let source_is_dir = self.inode(source)?.kind == FileKind::Directory;
        if source_is_dir && self.is_within(new_dir, source) {
            return Err(Errno::EINVAL);
        }
        if let Some(replaced) = replaced {
            let replaced_is_dir = self.inode(replaced)?.kind == FileKind::Directory;
            match (source_is_dir, replaced_is_dir) {
                (false, true) => return Err(Errno::EISDIR),
                (true, false) => return Err(Errno::ENOTDIR),
                (true, true) if !self.is_empty_dir(replaced)? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        } else {
            if source_is_dir && old_dir != new_dir && self.inode(new_dir)?.nlink >= MAX_LINKS {
                return Err(Errno::EMLINK);
            }
            self.budget
                .ensure_room(entry_cost(new_name).saturating_sub(entry_cost(old_name)))?;
        }

        // Every check passed: from here on nothing fails.
        if let Some(replaced) = replaced {
            self.inode_mut(new_dir)?.directory_mut()?.remove(new_name);
            self.budget.refund(entry_cost(new_name));
            if source_is_dir {
                self.adjust_nlink(new_dir, -1);
            }
            self.drop_link(replaced);
        }
        self.inode_mut(old_dir)?.directory_mut()?.remove(old_name);
        self.budget.refund(entry_cost(old_name));
        self.inode_mut(new_dir)?
            .directory_mut()?
            .insert(new_name, source);
        self.budget.charge_checked(entry_cost(new_name));
        if source_is_dir {
            self.inode_mut(source)?.directory_mut()?.parent = new_dir;
            self.adjust_nlink(old_dir, -1);
            self.adjust_nlink(new_dir, 1);
        }
        self.touch_changed(source);
        self.touch_modified(old_dir);
        self.touch_modified(new_dir);
        Ok(())
    }

    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino> {
        self.check_new_entry(dir, name)?;
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.budget
            .charge(INODE_COST + entry_cost(name) + target.len() as u64)?;
        let attrs = NewInode::new(0o777, owner.uid, owner.gid);
        let ino = self.new_inode(
            FileKind::Symlink,
            attrs,
            Content::Symlink(target.to_string()),
        );
        self.inode_mut(dir)?.directory_mut()?.insert(name, ino);
        self.touch_modified(dir);
        Ok(ino)
    }

    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        match &self.inode(ino)?.content {
            Content::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        let now = self.now;
        let inode = self.inode_mut(ino)?;
        let count = match &inode.content {
            Content::Regular(data) => data.read(offset, buf)?,
            Content::Directory(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        inode.atime = now;
        Ok(count)
    }

    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize> {
        self.writable()?;
        let inode = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let count = match &mut inode.content {
            Content::Regular(content) => content.write(offset, data, &mut self.budget)?,
            Content::Directory(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if count > 0 {
            self.touch_modified(ino);
        }
        Ok(count)
    }

    fn adopt_static(&mut self, ino: Ino, data: &'static [u8]) -> VfsResult<()> {
        self.writable()?;
        let inode = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        match &mut inode.content {
            Content::Regular(content) if content.size() == 0 && content.page_count() == 0 => {
                *content = SparseData::backed(data);
            }
            Content::Regular(_) => return Err(Errno::EBUSY),
            Content::Directory(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.touch_modified(ino);
        Ok(())
    }

    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        let inode = self.inode(dir)?;
        let directory = inode.directory()?;
        if inode.nlink == 0 {
            return Ok(None);
        }
        let dot_entry = |name: &str, ino: Ino| DirEntry {
            ino,
            kind: FileKind::Directory,
            name: name.to_string(),
        };
        match cookie {
            0 => return Ok(Some((dot_entry(".", dir), 1))),
            1 => return Ok(Some((dot_entry("..", directory.parent), 2))),
            _ => {}
        }
        let Some((position, name, ino)) = directory.entry_from(cookie - 2) else {
            return Ok(None);
        };
        let entry = DirEntry {
            ino,
            kind: self.inode(ino)?.kind,
            name: name.to_string(),
        };
        Ok(Some((entry, position.saturating_add(3))))
    }

    fn statfs(&self) -> StatFs {
        let free = self.budget.free();
        StatFs {
            block_size: PAGE_SIZE as u32,
            total_blocks: self.budget.capacity / PAGE_BYTES,
            free_blocks: free / PAGE_BYTES,
            files: self.inodes.len() as u64,
            free_files: free / (INODE_COST + DIRENT_COST),
            name_max: NAME_MAX as u32,
        }
    }

    fn sync(&mut self) -> VfsResult<()> {
        Ok(())
    }

    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        let inode = self.inode_mut(ino)?;
        inode.open_refs = inode.open_refs.checked_add(1).ok_or(Errno::ENFILE)?;
        Ok(())
    }

    fn release(&mut self, ino: Ino) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.open_refs = inode.open_refs.saturating_sub(1);
        }
        self.free_if_unused(ino);
    }
}
