//! Directories: linear lists of variable-length entries in the directory's blocks
//! (an htree index, if `mkfs` built one, is read as the linear list it overlays, and
//! its flag is cleared when the directory changes, as Linux's ext2 does).
//!
//! Every entry is checked (record length, name length, inode number) before use; a
//! malformed one makes the directory give `EIO`.

use alloc::vec::Vec;

use zos_vfs_core::{Errno, VfsResult};

use crate::device::BlockDevice;
use crate::layout::{
    dirent_len, ftype, parse_dirent, write_dirent, DirentHeader, Inode, INODE_FLAG_INDEX,
};
use crate::volume::{io, Volume};

/// Where an entry was found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    pub ino: u32,
    /// Physical block and offset of the entry.
    block: u32,
    at: usize,
    /// Offset of the previous entry in the same block, if any.
    prev: Option<usize>,
}

/// A live entry as readdir reports it: inode, file type, name, next position.
pub(crate) type RawEntry = (u32, u8, Vec<u8>, u64);

/// What a directory walk callback decides.
enum Step {
    Continue,
    Stop,
}

impl<D: BlockDevice> Volume<D> {
    fn dir_blocks(&self, dir: &Inode) -> u64 {
        dir.size.div_ceil(self.block_size as u64)
    }

    /// Call `visit(logical block, physical block, offset, header, name, previous
    /// offset)` for every well-formed entry, in order.
    fn walk_dir(
        &mut self,
        ino: u32,
        dir: &Inode,
        mut visit: impl FnMut(u64, u32, usize, &DirentHeader, &[u8], Option<usize>) -> Step,
    ) -> VfsResult<()> {
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let inodes = self.sb.inodes_count;
        for lblock in 0..self.dir_blocks(dir) {
            let phys = self.bmap(ino, dir, lblock)?;
            if phys == 0 {
                continue;
            }
            let data = self.cache.read(phys as u64).map_err(io)?;
            let mut at = 0;
            let mut prev = None;
            let mut bad = false;
            let mut stop = false;
            while at < data.len() {
                let Some(h) = parse_dirent(data, at) else {
                    bad = true;
                    break;
                };
                if h.inode > inodes {
                    bad = true;
                    break;
                }
                let name = &data[at + 8..at + 8 + h.name_len];
                if let Step::Stop = visit(lblock, phys, at, &h, name, prev) {
                    stop = true;
                    break;
                }
                prev = Some(at);
                at += h.rec_len;
            }
            if bad {
                return Err(self.corrupt("malformed directory entry", ino));
            }
            if stop {
                return Ok(());
            }
        }
        Ok(())
    }

    pub(crate) fn dir_find(
        &mut self,
        ino: u32,
        dir: &Inode,
        name: &[u8],
    ) -> VfsResult<Option<Found>> {
        let mut found = None;
        self.walk_dir(ino, dir, |_, phys, at, h, entry_name, prev| {
            if h.inode != 0 && entry_name == name {
                found = Some(Found {
                    ino: h.inode,
                    block: phys,
                    at,
                    prev,
                });
                Step::Stop
            } else {
                Step::Continue
            }
        })?;
        Ok(found)
    }

    /// The entry at byte position `cookie` or the first after it, and the position
    /// after that entry.
    pub(crate) fn dir_entry_at(
        &mut self,
        ino: u32,
        dir: &Inode,
        cookie: u64,
    ) -> VfsResult<Option<RawEntry>> {
        let bs = self.block_size as u64;
        let mut result = None;
        self.walk_dir(ino, dir, |lblock, _, at, h, name, _| {
            let pos = lblock * bs + at as u64;
            if pos < cookie || h.inode == 0 {
                return Step::Continue;
            }
            result = Some((h.inode, h.file_type, name.to_vec(), pos + h.rec_len as u64));
            Step::Stop
        })?;
        Ok(result)
    }

    /// Whether the directory holds nothing but `.` and `..`.
    pub(crate) fn dir_is_empty(&mut self, ino: u32, dir: &Inode) -> VfsResult<bool> {
        let mut empty = true;
        self.walk_dir(ino, dir, |_, _, _, h, name, _| {
            if h.inode != 0 && name != b"." && name != b".." {
                empty = false;
                Step::Stop
            } else {
                Step::Continue
            }
        })?;
        Ok(empty)
    }

    fn touch_dir(&mut self, dir: &mut Inode) {
        let now = self.seconds();
        dir.mtime = now;
        dir.ctime = now;
        dir.flags &= !INODE_FLAG_INDEX;
    }

    /// Add `name` → `target` to directory `ino` (the caller has checked that the
    /// name is new). `dir` is updated and written back.
    pub(crate) fn dir_add(
        &mut self,
        ino: u32,
        dir: &mut Inode,
        name: &[u8],
        target: u32,
        file_type: u8,
    ) -> VfsResult<()> {
        self.writable()?;
        let need = dirent_len(name.len());
        let ftype = if self.has_filetype() {
            file_type
        } else {
            ftype::UNKNOWN
        };
        // First fit: an unused record big enough, or a record with enough slack.
        let mut slot: Option<(u32, usize, DirentHeader)> = None;
        self.walk_dir(ino, dir, |_, phys, at, h, _, _| {
            let used = if h.inode == 0 {
                0
            } else {
                dirent_len(h.name_len)
            };
            if h.rec_len - used >= need {
                slot = Some((phys, at, *h));
                Step::Stop
            } else {
                Step::Continue
            }
        })?;
        if let Some((phys, at, h)) = slot {
            let data = self.cache.modify(phys as u64).map_err(io)?;
            if h.inode == 0 {
                write_dirent(data, at, target, h.rec_len, ftype, name);
            } else {
                let keep = dirent_len(h.name_len);
                crate::layout::set_u16(data, at + 4, keep as u16);
                write_dirent(data, at + keep, target, h.rec_len - keep, ftype, name);
            }
        } else {
            let lblock = self.dir_blocks(dir);
            let goal = if lblock > 0 {
                self.bmap(ino, dir, lblock - 1)? as u64 + 1
            } else {
                0
            };
            let (phys, _) = self.bmap_alloc(ino, dir, lblock, goal)?;
            let bs = self.block_size;
            let data = self.cache.overwrite(phys as u64).map_err(io)?;
            write_dirent(data, 0, target, bs, ftype, name);
            dir.size = (lblock + 1) * bs as u64;
        }
        self.touch_dir(dir);
        self.write_inode(ino, dir)
    }

    /// Remove the entry `found` of directory `ino`.
    pub(crate) fn dir_remove(&mut self, ino: u32, dir: &mut Inode, found: &Found) -> VfsResult<()> {
        self.writable()?;
        let data = self.cache.modify(found.block as u64).map_err(io)?;
        match found.prev {
            Some(prev) => {
                let Some(p) = parse_dirent(data, prev) else {
                    return Err(Errno::EIO);
                };
                let Some(me) = parse_dirent(data, found.at) else {
                    return Err(Errno::EIO);
                };
                let merged = p.rec_len + me.rec_len;
                let stored = if merged >= 65536 {
                    65535
                } else {
                    merged as u16
                };
                crate::layout::set_u16(data, prev + 4, stored);
            }
            None => crate::layout::set_u32(data, found.at, 0),
        }
        self.touch_dir(dir);
        self.write_inode(ino, dir)
    }

    /// Point the entry `found` at `target` instead.
    pub(crate) fn dir_retarget(
        &mut self,
        ino: u32,
        dir: &mut Inode,
        found: &Found,
        target: u32,
        file_type: u8,
    ) -> VfsResult<()> {
        self.writable()?;
        let ftype = if self.has_filetype() {
            file_type
        } else {
            ftype::UNKNOWN
        };
        let data = self.cache.modify(found.block as u64).map_err(io)?;
        crate::layout::set_u32(data, found.at, target);
        data[found.at + 7] = ftype;
        self.touch_dir(dir);
        self.write_inode(ino, dir)
    }

    pub(crate) fn has_filetype(&self) -> bool {
        self.sb.feature_incompat & crate::layout::INCOMPAT_FILETYPE != 0
    }
}
