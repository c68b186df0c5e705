//! File contents: mapping logical blocks through direct, indirect, double and triple
//! indirect pointers, allocating on write (holes stay unallocated), reading with
//! long device reads for contiguous runs, and truncation.

use zos_vfs_core::{Errno, VfsResult};

use crate::device::BlockDevice;
use crate::layout::{set_u32, Inode, DIND_BLOCK, DIRECT_BLOCKS, IND_BLOCK, TIND_BLOCK};
use crate::volume::{io, Volume};

/// Where a logical block's pointer lives: the slot in `i_block` and the index at
/// each indirect level below it.
struct BlockPath {
    slot: usize,
    depth: usize,
    index: [usize; 3],
}

impl<D: BlockDevice> Volume<D> {
    pub(crate) fn pointers_per_block(&self) -> u64 {
        (self.block_size / 4) as u64
    }

    fn sectors_per_block(&self) -> u32 {
        (self.block_size / 512) as u32
    }

    /// Largest file size the pointer tree can address.
    pub fn max_file_size(&self) -> u64 {
        let p = self.pointers_per_block();
        let blocks = DIRECT_BLOCKS as u64 + p + p * p + p * p * p;
        // i_blocks counts 512-byte sectors in 32 bits.
        let by_sectors = (u32::MAX as u64 / self.sectors_per_block() as u64) * 9 / 10;
        blocks.min(by_sectors) * self.block_size as u64
    }

    fn block_path(&self, lblock: u64) -> VfsResult<BlockPath> {
        let p = self.pointers_per_block();
        let mut l = lblock;
        if l < DIRECT_BLOCKS as u64 {
            return Ok(BlockPath {
                slot: l as usize,
                depth: 0,
                index: [0; 3],
            });
        }
        l -= DIRECT_BLOCKS as u64;
        if l < p {
            return Ok(BlockPath {
                slot: IND_BLOCK,
                depth: 1,
                index: [l as usize, 0, 0],
            });
        }
        l -= p;
        if l < p * p {
            return Ok(BlockPath {
                slot: DIND_BLOCK,
                depth: 2,
                index: [(l / p) as usize, (l % p) as usize, 0],
            });
        }
        l -= p * p;
        if l < p * p * p {
            return Ok(BlockPath {
                slot: TIND_BLOCK,
                depth: 3,
                index: [
                    (l / (p * p)) as usize,
                    ((l / p) % p) as usize,
                    (l % p) as usize,
                ],
            });
        }
        Err(Errno::EFBIG)
    }

    /// The physical block holding logical block `lblock` of `inode`, 0 for a hole.
    pub(crate) fn bmap(&mut self, ino: u32, inode: &Inode, lblock: u64) -> VfsResult<u32> {
        let path = self.block_path(lblock)?;
        let mut ptr = inode.block[path.slot];
        for level in 0..path.depth {
            if ptr == 0 {
                return Ok(0);
            }
            if !self.block_ok(ptr) {
                return Err(self.corrupt("indirect block pointer past the end", ino));
            }
            let data = self.cache.read(ptr as u64).map_err(io)?;
            let at = 4 * path.index[level];
            ptr = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        }
        if ptr != 0 && !self.block_ok(ptr) {
            return Err(self.corrupt("block pointer past the end", ino));
        }
        Ok(ptr)
    }

    /// Like [`Volume::bmap`], allocating the block (and indirect blocks on the way)
    /// when it is a hole. Returns the block and whether it is new (so zero-filled).
    pub(crate) fn bmap_alloc(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        lblock: u64,
        goal: u64,
    ) -> VfsResult<(u32, bool)> {
        let path = self.block_path(lblock)?;
        let per_block = self.sectors_per_block();
        let mut fresh = false;
        let mut ptr = inode.block[path.slot];
        if ptr == 0 {
            ptr = self.alloc_block(goal)?;
            inode.block[path.slot] = ptr;
            inode.blocks = inode.blocks.saturating_add(per_block);
            fresh = true;
            if path.depth > 0 {
                self.cache.overwrite(ptr as u64).map_err(io)?;
            }
        } else if !self.block_ok(ptr) {
            return Err(self.corrupt("block pointer past the end", ino));
        }
        for level in 0..path.depth {
            let at = 4 * path.index[level];
            let data = self.cache.read(ptr as u64).map_err(io)?;
            let next = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            if next != 0 {
                if !self.block_ok(next) {
                    return Err(self.corrupt("indirect block pointer past the end", ino));
                }
                ptr = next;
                fresh = false;
                continue;
            }
            let new = self.alloc_block(goal.max(ptr as u64 + 1))?;
            inode.blocks = inode.blocks.saturating_add(per_block);
            if level + 1 < path.depth {
                self.cache.overwrite(new as u64).map_err(io)?;
            }
            let parent = self.cache.modify(ptr as u64).map_err(io)?;
            set_u32(parent, at, new);
            ptr = new;
            fresh = true;
        }
        Ok((ptr, fresh))
    }

    /// Read from a regular file (or a slow symlink's block) at `offset`.
    pub(crate) fn read_data(
        &mut self,
        ino: u32,
        inode: &Inode,
        offset: u64,
        buf: &mut [u8],
    ) -> VfsResult<usize> {
        if offset >= inode.size {
            return Ok(0);
        }
        let len = ((inode.size - offset).min(buf.len() as u64)) as usize;
        let bs = self.block_size as u64;
        let mut done = 0usize;
        while done < len {
            let pos = offset + done as u64;
            let lblock = pos / bs;
            let within = (pos % bs) as usize;
            let phys = self.bmap(ino, inode, lblock)?;
            if within == 0 && len - done >= 2 * bs as usize && phys != 0 {
                // A run of whole blocks: find how many are contiguous on disk and
                // read them in one request.
                let max = ((len - done) as u64 / bs).min(256);
                let mut run = 1u64;
                while run < max && self.bmap(ino, inode, lblock + run)? == phys + run as u32 {
                    run += 1;
                }
                let bytes = (run * bs) as usize;
                self.cache
                    .read_run(phys as u64, &mut buf[done..done + bytes])
                    .map_err(io)?;
                done += bytes;
                continue;
            }
            let take = (bs as usize - within).min(len - done);
            if phys == 0 {
                buf[done..done + take].fill(0);
            } else {
                let data = self.cache.read(phys as u64).map_err(io)?;
                buf[done..done + take].copy_from_slice(&data[within..within + take]);
            }
            done += take;
        }
        Ok(len)
    }

    /// Write to a regular file at `offset`, allocating blocks as needed; short only
    /// when space ran out part way. Updates size and block count in `inode` (the
    /// caller writes the inode back).
    pub(crate) fn write_data(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        offset: u64,
        data: &[u8],
    ) -> VfsResult<usize> {
        self.writable()?;
        let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if end > self.max_file_size() {
            return Err(Errno::EFBIG);
        }
        let bs = self.block_size as u64;
        let mut done = 0usize;
        let mut goal = 0u64;
        if offset >= bs {
            goal = self.bmap(ino, inode, offset / bs - 1).unwrap_or(0) as u64 + 1;
        }
        if goal <= 1 {
            let g = (ino - 1) / self.sb.inodes_per_group;
            goal = self.sb.first_data_block as u64 + g as u64 * self.sb.blocks_per_group as u64;
        }
        while done < data.len() {
            let pos = offset + done as u64;
            let within = (pos % bs) as usize;
            let take = (bs as usize - within).min(data.len() - done);
            let (phys, fresh) = match self.bmap_alloc(ino, inode, pos / bs, goal) {
                Ok(found) => found,
                Err(Errno::ENOSPC) if done > 0 => break,
                Err(e) => return Err(e),
            };
            let block = if fresh || take == bs as usize {
                self.cache.overwrite(phys as u64).map_err(io)?
            } else {
                self.cache.modify(phys as u64).map_err(io)?
            };
            block[within..within + take].copy_from_slice(&data[done..done + take]);
            done += take;
            goal = phys as u64 + 1;
        }
        if offset + done as u64 > inode.size {
            inode.size = offset + done as u64;
            if inode.size > i32::MAX as u64 {
                self.note_large_file();
            }
        }
        Ok(done)
    }

    fn note_large_file(&mut self) {
        use crate::layout::RO_COMPAT_LARGE_FILE;
        if self.sb.feature_ro_compat & RO_COMPAT_LARGE_FILE == 0 && self.sb.rev_level >= 1 {
            self.sb.feature_ro_compat |= RO_COMPAT_LARGE_FILE;
        }
    }

    /// Free the blocks below the pointer `ptr` (an indirect block of `depth` levels,
    /// or a data block when `depth` is 0) from relative logical block `keep` on.
    /// Returns whether `ptr` itself was freed.
    fn free_tree(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        ptr: u32,
        depth: u32,
        keep: u64,
    ) -> VfsResult<bool> {
        if !self.block_ok(ptr) {
            self.corrupt("block pointer past the end", ino);
            return Ok(true);
        }
        let per_block = self.sectors_per_block();
        if depth > 0 {
            let child_span = self.pointers_per_block().pow(depth - 1);
            let children = self.read_pointers(ptr)?;
            let first = (keep / child_span) as usize;
            for (i, &child) in children.iter().enumerate().skip(first) {
                if child == 0 {
                    continue;
                }
                let child_keep = keep.saturating_sub(i as u64 * child_span);
                if self.free_tree(ino, inode, child, depth - 1, child_keep)? && keep > 0 {
                    let data = self.cache.modify(ptr as u64).map_err(io)?;
                    set_u32(data, 4 * i, 0);
                }
            }
        }
        if keep == 0 {
            self.free_block(ptr)?;
            inode.blocks = inode.blocks.saturating_sub(per_block);
            return Ok(true);
        }
        Ok(false)
    }

    /// Drop every block from logical block `from` on.
    pub(crate) fn free_blocks_from(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        from: u64,
    ) -> VfsResult<()> {
        let p = self.pointers_per_block();
        for slot in (from.min(DIRECT_BLOCKS as u64) as usize)..DIRECT_BLOCKS {
            let ptr = inode.block[slot];
            if ptr != 0 {
                self.free_tree(ino, inode, ptr, 0, 0)?;
                inode.block[slot] = 0;
            }
        }
        let mut base = DIRECT_BLOCKS as u64;
        for (slot, depth) in [(IND_BLOCK, 1u32), (DIND_BLOCK, 2), (TIND_BLOCK, 3)] {
            let span = p.pow(depth);
            let ptr = inode.block[slot];
            if ptr != 0 && from < base + span {
                let keep = from.saturating_sub(base);
                if self.free_tree(ino, inode, ptr, depth, keep)? {
                    inode.block[slot] = 0;
                }
            }
            base += span;
        }
        Ok(())
    }

    /// Set a regular file's length: shrinking frees blocks and zeroes the tail of
    /// the last one, growing leaves a hole.
    pub(crate) fn truncate_data(
        &mut self,
        ino: u32,
        inode: &mut Inode,
        size: u64,
    ) -> VfsResult<()> {
        self.writable()?;
        if size > self.max_file_size() {
            return Err(Errno::EFBIG);
        }
        let bs = self.block_size as u64;
        if size < inode.size {
            self.free_blocks_from(ino, inode, size.div_ceil(bs))?;
            if !size.is_multiple_of(bs) {
                let phys = self.bmap(ino, inode, size / bs)?;
                if phys != 0 {
                    let data = self.cache.modify(phys as u64).map_err(io)?;
                    data[(size % bs) as usize..].fill(0);
                }
            }
        }
        inode.size = size;
        if size > i32::MAX as u64 {
            self.note_large_file();
        }
        Ok(())
    }
}
