//! The namespace operations on a [`Volume`]: lookup, attributes, create, link,
//! unlink, rmdir, rename, symlinks, file reads and writes, readdir and statfs, with
//! inode numbers as `u32`. [`crate::vfs`] wraps them into the VFS's `FileSystem`.

use alloc::string::String;
use alloc::vec::Vec;

use zos_vfs_core::fs::{check_entry_name, MODE_PERMISSION_MASK, PATH_MAX};
use zos_vfs_core::{DirEntry, Errno, FileKind, NewInode, SetAttr, Stat, StatFs, VfsResult};

use crate::device::BlockDevice;
use crate::layout::{
    ftype, get_u32, set_u32, Inode, FAST_SYMLINK_MAX, N_BLOCKS, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT,
    S_IFREG,
};
use crate::volume::{io, Volume};

/// Most hard links one inode may have (Linux's `EXT2_LINK_MAX`).
pub const LINK_MAX: u16 = 32000;
/// Magic number of an extended-attribute block.
const XATTR_MAGIC: u32 = 0xEA02_0000;

fn ftype_of(kind: FileKind) -> u8 {
    match kind {
        FileKind::Regular => ftype::REG,
        FileKind::Directory => ftype::DIR,
        FileKind::Symlink => ftype::SYMLINK,
        FileKind::CharDevice => ftype::CHR,
        FileKind::BlockDevice => ftype::BLK,
        FileKind::Fifo => ftype::FIFO,
        FileKind::Socket => ftype::SOCK,
    }
}

fn kind_of_ftype(t: u8) -> Option<FileKind> {
    Some(match t {
        ftype::REG => FileKind::Regular,
        ftype::DIR => FileKind::Directory,
        ftype::SYMLINK => FileKind::Symlink,
        ftype::CHR => FileKind::CharDevice,
        ftype::BLK => FileKind::BlockDevice,
        ftype::FIFO => FileKind::Fifo,
        ftype::SOCK => FileKind::Socket,
        _ => return None,
    })
}

fn nanos(secs: u32, extra: u32) -> u64 {
    secs as u64 * 1_000_000_000 + ((extra >> 2) as u64).min(999_999_999)
}

fn split_time(ns: u64) -> (u32, u32) {
    (
        (ns / 1_000_000_000) as u32,
        ((ns % 1_000_000_000) as u32) << 2,
    )
}

fn name_bytes(name: &str) -> VfsResult<&[u8]> {
    check_entry_name(name)?;
    Ok(name.as_bytes())
}

impl<D: BlockDevice> Volume<D> {
    fn now_split(&self) -> (u32, u32) {
        split_time(self.now)
    }

    fn stamp_ctime(&self, inode: &mut Inode) {
        let (s, e) = self.now_split();
        inode.ctime = s;
        inode.ctime_extra = e;
    }

    fn stamp_mtime(&self, inode: &mut Inode) {
        let (s, e) = self.now_split();
        inode.mtime = s;
        inode.mtime_extra = e;
        inode.ctime = s;
        inode.ctime_extra = e;
    }

    /// A live inode: in range, in use.
    pub(crate) fn get_inode(&mut self, ino: u32) -> VfsResult<Inode> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(Errno::ENOENT);
        }
        let inode = self.read_inode(ino)?;
        if inode.links_count == 0 && !self.open_refs.contains_key(&ino) {
            // Deleted (a stale number, or an entry a crash left behind).
            return Err(Errno::ENOENT);
        }
        if FileKind::from_mode(inode.mode.into()).is_none() {
            return Err(self.corrupt("inode of unknown type", ino));
        }
        Ok(inode)
    }

    fn get_dir(&mut self, ino: u32) -> VfsResult<Inode> {
        let inode = self.get_inode(ino)?;
        if !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(inode)
    }

    pub fn lookup(&mut self, dir: u32, name: &str) -> VfsResult<u32> {
        let dir_inode = self.get_dir(dir)?;
        if name == "." {
            return Ok(dir);
        }
        if name == ".." && dir == ROOT_INO {
            return Ok(ROOT_INO);
        }
        if name.is_empty() || name.contains('/') {
            return Err(Errno::EINVAL);
        }
        match self.dir_find(dir, &dir_inode, name.as_bytes())? {
            Some(found) if found.ino != 0 => Ok(found.ino),
            _ => Err(Errno::ENOENT),
        }
    }

    pub fn stat(&mut self, ino: u32) -> VfsResult<Stat> {
        let inode = self.get_inode(ino)?;
        let kind = FileKind::from_mode(inode.mode.into()).ok_or(Errno::EIO)?;
        let rdev = match kind {
            FileKind::CharDevice | FileKind::BlockDevice => decode_dev(&inode),
            _ => 0,
        };
        Ok(Stat {
            ino: ino as u64,
            kind,
            mode: inode.mode as u32 & MODE_PERMISSION_MASK,
            nlink: inode.links_count as u32,
            uid: inode.uid,
            gid: inode.gid,
            size: inode.size,
            blocks: inode.blocks as u64,
            atime: nanos(inode.atime, inode.atime_extra),
            mtime: nanos(inode.mtime, inode.mtime_extra),
            ctime: nanos(inode.ctime, inode.ctime_extra),
            rdev,
        })
    }

    pub fn setattr(&mut self, ino: u32, changes: SetAttr) -> VfsResult<Stat> {
        self.writable()?;
        let mut inode = self.get_inode(ino)?;
        if let Some(mode) = changes.mode {
            inode.mode = (inode.mode & S_IFMT) | (mode & MODE_PERMISSION_MASK) as u16;
        }
        if let Some(uid) = changes.uid {
            inode.uid = uid;
        }
        if let Some(gid) = changes.gid {
            inode.gid = gid;
        }
        if let Some(size) = changes.size {
            if inode.is_dir() {
                return Err(Errno::EISDIR);
            }
            if !inode.is_reg() {
                return Err(Errno::EINVAL);
            }
            self.truncate_data(ino, &mut inode, size)?;
            self.stamp_mtime(&mut inode);
        }
        if let Some(atime) = changes.atime {
            (inode.atime, inode.atime_extra) = split_time(atime);
        }
        if let Some(mtime) = changes.mtime {
            (inode.mtime, inode.mtime_extra) = split_time(mtime);
        }
        self.stamp_ctime(&mut inode);
        self.write_inode(ino, &inode)?;
        self.stat(ino)
    }

    /// A new inode of `mode` (kind bits included), not yet linked anywhere.
    fn new_inode(&mut self, parent: u32, mode: u16, attrs: &NewInode) -> VfsResult<(u32, Inode)> {
        let dir = mode & S_IFMT == S_IFDIR;
        let ino = self.alloc_inode(parent, dir)?;
        self.init_inode(ino)?;
        let mut inode = self.read_inode(ino)?;
        inode.mode = mode;
        inode.uid = attrs.uid;
        inode.gid = attrs.gid;
        inode.links_count = 1;
        let (s, e) = self.now_split();
        (inode.atime, inode.mtime, inode.ctime) = (s, s, s);
        (inode.atime_extra, inode.mtime_extra, inode.ctime_extra) = (e, e, e);
        inode.generation = (self.now as u32) ^ ino.rotate_left(16);
        Ok((ino, inode))
    }

    fn check_new_name(&mut self, dir: u32, name: &str) -> VfsResult<(Inode, Vec<u8>)> {
        self.writable()?;
        let bytes = name_bytes(name)?.to_vec();
        let dir_inode = self.get_dir(dir)?;
        if dir_inode.links_count == 0 {
            return Err(Errno::ENOENT);
        }
        if self.dir_find(dir, &dir_inode, &bytes)?.is_some() {
            return Err(Errno::EEXIST);
        }
        Ok((dir_inode, bytes))
    }

    pub fn create(
        &mut self,
        dir: u32,
        name: &str,
        kind: FileKind,
        attrs: NewInode,
    ) -> VfsResult<u32> {
        let (mut dir_inode, bytes) = self.check_new_name(dir, name)?;
        if kind == FileKind::Symlink {
            return Err(Errno::EINVAL);
        }
        if kind == FileKind::Directory && dir_inode.links_count >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        let mode = kind.mode_type_bits() as u16 | (attrs.mode & MODE_PERMISSION_MASK) as u16;
        let (ino, mut inode) = self.new_inode(dir, mode, &attrs)?;
        let result = self.fill_new(dir, ino, &mut inode, kind, &attrs);
        let result = result.and_then(|()| {
            self.write_inode(ino, &inode)?;
            self.dir_add(dir, &mut dir_inode, &bytes, ino, ftype_of(kind))
        });
        if let Err(e) = result {
            self.discard_new(ino, &mut inode, kind == FileKind::Directory);
            return Err(e);
        }
        if kind == FileKind::Directory {
            let mut dir_inode = self.read_inode(dir)?;
            dir_inode.links_count += 1;
            self.write_inode(dir, &dir_inode)?;
        }
        Ok(ino)
    }

    /// Give a new inode its first contents: a directory its `.` and `..` block, a
    /// device node its number.
    fn fill_new(
        &mut self,
        parent: u32,
        ino: u32,
        inode: &mut Inode,
        kind: FileKind,
        attrs: &NewInode,
    ) -> VfsResult<()> {
        match kind {
            FileKind::Directory => {
                inode.links_count = 2;
                let (phys, _) = self.bmap_alloc(ino, inode, 0, 0)?;
                let bs = self.block_size;
                let filetype = self.has_filetype();
                let t = if filetype { ftype::DIR } else { ftype::UNKNOWN };
                let data = self.cache.overwrite(phys as u64).map_err(io)?;
                crate::layout::write_dirent(data, 0, ino, 12, t, b".");
                crate::layout::write_dirent(data, 12, parent, bs - 12, t, b"..");
                inode.size = bs as u64;
            }
            FileKind::CharDevice | FileKind::BlockDevice => encode_dev(inode, attrs.rdev),
            _ => {}
        }
        Ok(())
    }

    /// Undo a half-made inode after a later step failed.
    fn discard_new(&mut self, ino: u32, inode: &mut Inode, dir: bool) {
        if has_data_blocks(inode, self.block_size) {
            let _ = self.free_blocks_from(ino, inode, 0);
        }
        inode.links_count = 0;
        inode.dtime = self.deletion_time();
        let _ = self.write_inode(ino, inode);
        let _ = self.free_inode(ino, dir);
    }

    pub fn link(&mut self, dir: u32, name: &str, target: u32) -> VfsResult<()> {
        let (mut dir_inode, bytes) = self.check_new_name(dir, name)?;
        let mut inode = self.get_inode(target)?;
        if inode.is_dir() {
            return Err(Errno::EPERM);
        }
        if inode.links_count >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        let kind = FileKind::from_mode(inode.mode.into()).ok_or(Errno::EIO)?;
        self.dir_add(dir, &mut dir_inode, &bytes, target, ftype_of(kind))?;
        inode.links_count += 1;
        self.stamp_ctime(&mut inode);
        self.write_inode(target, &inode)?;
        self.orphans.remove(&target);
        Ok(())
    }

    /// Drop one link of `ino` and free it when none remain and nobody has it open.
    fn drop_link(&mut self, ino: u32, inode: &mut Inode) -> VfsResult<()> {
        if inode.is_dir() {
            inode.links_count = 0;
        } else {
            inode.links_count = inode.links_count.saturating_sub(1);
        }
        self.stamp_ctime(inode);
        self.write_inode(ino, inode)?;
        if inode.links_count == 0 {
            if self.open_refs.contains_key(&ino) {
                self.orphans.insert(ino);
            } else {
                self.free_inode_and_data(ino)?;
            }
        }
        Ok(())
    }

    /// Free an unlinked inode's blocks, its attribute block and the inode itself.
    pub(crate) fn free_inode_and_data(&mut self, ino: u32) -> VfsResult<()> {
        self.orphans.remove(&ino);
        let mut inode = self.read_inode(ino)?;
        if has_data_blocks(&inode, self.block_size) {
            self.free_blocks_from(ino, &mut inode, 0)?;
        }
        if inode.file_acl != 0 {
            self.release_xattr_block(inode.file_acl)?;
            inode.file_acl = 0;
        }
        inode.links_count = 0;
        inode.size = 0;
        inode.blocks = 0;
        inode.dtime = self.deletion_time();
        self.write_inode(ino, &inode)?;
        self.free_inode(ino, inode.is_dir())
    }

    fn release_xattr_block(&mut self, block: u32) -> VfsResult<()> {
        if !self.block_ok(block) {
            self.corrupt("extended-attribute block past the end", 0);
            return Ok(());
        }
        let data = self.cache.modify(block as u64).map_err(io)?;
        if get_u32(data, 0) != XATTR_MAGIC {
            self.corrupt("extended-attribute block without magic", 0);
            return Ok(());
        }
        let refs = get_u32(data, 4).saturating_sub(1);
        set_u32(data, 4, refs);
        if refs == 0 {
            self.free_block(block)?;
        }
        Ok(())
    }

    pub fn unlink(&mut self, dir: u32, name: &str) -> VfsResult<()> {
        self.writable()?;
        let bytes = name_bytes(name)?;
        let mut dir_inode = self.get_dir(dir)?;
        let found = self
            .dir_find(dir, &dir_inode, bytes)?
            .ok_or(Errno::ENOENT)?;
        let mut inode = self.get_inode(found.ino)?;
        if inode.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.dir_remove(dir, &mut dir_inode, &found)?;
        self.drop_link(found.ino, &mut inode)
    }

    pub fn rmdir(&mut self, dir: u32, name: &str) -> VfsResult<()> {
        self.writable()?;
        let bytes = name_bytes(name)?;
        let mut dir_inode = self.get_dir(dir)?;
        let found = self
            .dir_find(dir, &dir_inode, bytes)?
            .ok_or(Errno::ENOENT)?;
        let mut inode = self.get_inode(found.ino)?;
        if !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !self.dir_is_empty(found.ino, &inode)? {
            return Err(Errno::ENOTEMPTY);
        }
        self.dir_remove(dir, &mut dir_inode, &found)?;
        self.drop_link(found.ino, &mut inode)?;
        let mut dir_inode = self.read_inode(dir)?;
        dir_inode.links_count = dir_inode.links_count.saturating_sub(1);
        self.write_inode(dir, &dir_inode)
    }

    /// Whether `dir` is `ancestor` or lies below it.
    fn is_within(&mut self, mut dir: u32, ancestor: u32) -> VfsResult<bool> {
        // A corrupt `..` chain could loop: give up after a generous bound.
        for _ in 0..4096 {
            if dir == ancestor {
                return Ok(true);
            }
            if dir == ROOT_INO {
                return Ok(false);
            }
            dir = self.lookup(dir, "..")?;
        }
        Err(self.corrupt("directory parent chain loops", dir))
    }

    pub fn rename(
        &mut self,
        old_dir: u32,
        old_name: &str,
        new_dir: u32,
        new_name: &str,
    ) -> VfsResult<()> {
        self.writable()?;
        let old_bytes = name_bytes(old_name)?;
        let new_bytes = name_bytes(new_name)?;
        let old_dir_inode = self.get_dir(old_dir)?;
        let src = self
            .dir_find(old_dir, &old_dir_inode, old_bytes)?
            .ok_or(Errno::ENOENT)?;
        let mut src_inode = self.get_inode(src.ino)?;
        let src_is_dir = src_inode.is_dir();
        let new_dir_inode = self.get_dir(new_dir)?;
        if src_is_dir && old_dir != new_dir && self.is_within(new_dir, src.ino)? {
            return Err(Errno::EINVAL);
        }
        let kind = FileKind::from_mode(src_inode.mode.into()).ok_or(Errno::EIO)?;
        let target = self.dir_find(new_dir, &new_dir_inode, new_bytes)?;
        let mut replaced_dir = false;
        match target {
            Some(t) if t.ino == src.ino => return Ok(()),
            Some(t) => {
                let mut t_inode = self.get_inode(t.ino)?;
                if src_is_dir {
                    if !t_inode.is_dir() {
                        return Err(Errno::ENOTDIR);
                    }
                    if !self.dir_is_empty(t.ino, &t_inode)? {
                        return Err(Errno::ENOTEMPTY);
                    }
                    replaced_dir = true;
                } else if t_inode.is_dir() {
                    return Err(Errno::EISDIR);
                }
                let mut nd = self.read_inode(new_dir)?;
                self.dir_retarget(new_dir, &mut nd, &t, src.ino, ftype_of(kind))?;
                self.drop_link(t.ino, &mut t_inode)?;
            }
            None => {
                if src_is_dir && old_dir != new_dir && new_dir_inode.links_count >= LINK_MAX {
                    return Err(Errno::EMLINK);
                }
                let mut nd = self.read_inode(new_dir)?;
                self.dir_add(new_dir, &mut nd, new_bytes, src.ino, ftype_of(kind))?;
            }
        }
        // Adding may have split records in the old directory: find the source again.
        let mut od = self.read_inode(old_dir)?;
        let src_again = self
            .dir_find(old_dir, &od, old_bytes)?
            .filter(|f| f.ino == src.ino)
            .ok_or(Errno::EIO)?;
        self.dir_remove(old_dir, &mut od, &src_again)?;
        if src_is_dir && old_dir != new_dir {
            let dotdot = self
                .dir_find(src.ino, &src_inode, b"..")?
                .ok_or_else(|| self.corrupt("directory without ..", src.ino))?;
            self.dir_retarget(src.ino, &mut src_inode, &dotdot, new_dir, ftype::DIR)?;
            let mut od = self.read_inode(old_dir)?;
            od.links_count = od.links_count.saturating_sub(1);
            self.write_inode(old_dir, &od)?;
            if !replaced_dir {
                let mut nd = self.read_inode(new_dir)?;
                nd.links_count += 1;
                self.write_inode(new_dir, &nd)?;
            }
        } else if replaced_dir {
            // The replaced directory's `..` no longer counts against its parent.
            let mut nd = self.read_inode(new_dir)?;
            nd.links_count = nd.links_count.saturating_sub(1);
            self.write_inode(new_dir, &nd)?;
        }
        let mut src_inode = self.read_inode(src.ino)?;
        self.stamp_ctime(&mut src_inode);
        self.write_inode(src.ino, &src_inode)
    }

    pub fn symlink(
        &mut self,
        dir: u32,
        name: &str,
        target: &str,
        owner: NewInode,
    ) -> VfsResult<u32> {
        let (mut dir_inode, bytes) = self.check_new_name(dir, name)?;
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= self.block_size || target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (ino, mut inode) = self.new_inode(dir, S_IFLNK | 0o777, &owner)?;
        let result = (|| {
            if target.len() < FAST_SYMLINK_MAX {
                let mut raw = [0u8; 4 * N_BLOCKS];
                raw[..target.len()].copy_from_slice(target.as_bytes());
                for (i, slot) in inode.block.iter_mut().enumerate() {
                    *slot = get_u32(&raw, 4 * i);
                }
                inode.size = target.len() as u64;
            } else {
                self.write_data(ino, &mut inode, 0, target.as_bytes())?;
            }
            self.write_inode(ino, &inode)?;
            self.dir_add(dir, &mut dir_inode, &bytes, ino, ftype::SYMLINK)
        })();
        if let Err(e) = result {
            self.discard_new(ino, &mut inode, false);
            return Err(e);
        }
        Ok(ino)
    }

    pub fn readlink(&mut self, ino: u32) -> VfsResult<String> {
        let inode = self.get_inode(ino)?;
        if !inode.is_symlink() {
            return Err(Errno::EINVAL);
        }
        let bytes = if is_fast_symlink(&inode, self.block_size) {
            let mut raw = [0u8; 4 * N_BLOCKS];
            for (i, &slot) in inode.block.iter().enumerate() {
                set_u32(&mut raw, 4 * i, slot);
            }
            raw[..inode.size as usize].to_vec()
        } else {
            if inode.size >= self.block_size as u64 {
                return Err(self.corrupt("symlink longer than a block", ino));
            }
            let mut buf = alloc::vec![0u8; inode.size as usize];
            let n = self.read_data(ino, &inode, 0, &mut buf)?;
            buf.truncate(n);
            buf
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn regular(&mut self, ino: u32) -> VfsResult<Inode> {
        let inode = self.get_inode(ino)?;
        match FileKind::from_mode(inode.mode.into()) {
            Some(FileKind::Regular) => Ok(inode),
            Some(FileKind::Directory) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn read(&mut self, ino: u32, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        let inode = self.regular(ino)?;
        self.read_data(ino, &inode, offset, buf)
    }

    pub fn write(&mut self, ino: u32, offset: u64, data: &[u8]) -> VfsResult<usize> {
        self.writable()?;
        let mut inode = self.regular(ino)?;
        let result = self.write_data(ino, &mut inode, offset, data);
        self.stamp_mtime(&mut inode);
        // Whatever got allocated is recorded, even when the write failed part way.
        self.write_inode(ino, &inode)?;
        result
    }

    /// The entry at position `cookie` of `dir`, and the next position.
    pub fn readdir(&mut self, dir: u32, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        let dir_inode = self.get_dir(dir)?;
        let Some((ino, t, name, next)) = self.dir_entry_at(dir, &dir_inode, cookie)? else {
            return Ok(None);
        };
        let kind = match kind_of_ftype(t).filter(|_| self.has_filetype()) {
            Some(kind) => kind,
            None => {
                let inode = self.get_inode(ino)?;
                FileKind::from_mode(inode.mode.into()).ok_or(Errno::EIO)?
            }
        };
        let name = String::from_utf8_lossy(&name).into_owned();
        Ok(Some((
            DirEntry {
                ino: ino as u64,
                kind,
                name,
            },
            next,
        )))
    }

    pub fn statfs(&self) -> StatFs {
        let free_blocks: u64 = self.groups.iter().map(|g| g.free_blocks as u64).sum();
        let free_inodes: u64 = self.groups.iter().map(|g| g.free_inodes as u64).sum();
        StatFs {
            block_size: self.block_size as u32,
            total_blocks: self.sb.blocks_count as u64,
            free_blocks,
            files: (self.sb.inodes_count as u64).saturating_sub(free_inodes),
            free_files: free_inodes,
            name_max: 255,
        }
    }

    pub fn retain(&mut self, ino: u32) -> VfsResult<()> {
        self.get_inode(ino)?;
        *self.open_refs.entry(ino).or_insert(0) += 1;
        Ok(())
    }

    pub fn release(&mut self, ino: u32) {
        let Some(count) = self.open_refs.get_mut(&ino) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.open_refs.remove(&ino);
            if self.orphans.contains(&ino) && !self.read_only() {
                if let Err(e) = self.free_inode_and_data(ino) {
                    log::warn!("ext2: freeing unlinked inode {ino}: {e}");
                }
            }
        }
    }
}

/// Whether `i_block` holds block pointers (not a fast symlink's text or a device
/// number).
fn has_data_blocks(inode: &Inode, block_size: usize) -> bool {
    match inode.mode & S_IFMT {
        S_IFREG | S_IFDIR => true,
        S_IFLNK => !is_fast_symlink(inode, block_size),
        _ => false,
    }
}

/// A fast symlink keeps its target in `i_block`: it owns no data block (an
/// attribute block may still count in `i_blocks`).
fn is_fast_symlink(inode: &Inode, block_size: usize) -> bool {
    let acl_sectors = if inode.file_acl != 0 {
        (block_size / 512) as u32
    } else {
        0
    };
    inode.size < FAST_SYMLINK_MAX as u64 && inode.blocks == acl_sectors
}

/// Device number as Linux keeps it: the old 16-bit form in `i_block[0]` when it
/// fits, else the new 32-bit form in `i_block[1]`.
fn encode_dev(inode: &mut Inode, rdev: u64) {
    let major = ((rdev >> 8) & 0xfff) as u32 | ((rdev >> 32) as u32 & !0xfff);
    let minor = (rdev & 0xff) as u32 | ((rdev >> 12) as u32 & !0xff);
    if major < 256 && minor < 256 {
        inode.block[0] = (major << 8) | minor;
        inode.block[1] = 0;
    } else {
        inode.block[0] = 0;
        inode.block[1] = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
    }
}

fn decode_dev(inode: &Inode) -> u64 {
    let (major, minor) = if inode.block[0] != 0 {
        ((inode.block[0] >> 8) & 0xff, inode.block[0] & 0xff)
    } else {
        let v = inode.block[1];
        ((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00))
    };
    // glibc's makedev layout.
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}
