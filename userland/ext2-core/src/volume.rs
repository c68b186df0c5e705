//! A mounted ext2 volume: the checked superblock and group descriptors, inode
//! records, and block and inode allocation through the bitmaps.
//!
//! Mounting keeps the superblock as Linux does: a read-write mount counts itself in
//! `s_mnt_count`, stamps `s_mtime` and clears the "cleanly unmounted" bit of
//! `s_state` on disk (so `e2fsck` checks a volume that was not unmounted); a clean
//! [`Volume::unmount`] restores the state it found and stamps `s_wtime`.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use log::warn;
use zos_vfs_core::{Errno, VfsResult};

use crate::cache::BlockCache;
use crate::device::{BlockDevice, IoError, SECTOR_SIZE};
use crate::error::MountError;
use crate::layout::{
    get_u32, GroupDesc, Inode, Superblock, COMPAT_HAS_JOURNAL, DEFAULT_MAX_MNT_COUNT, EXT2_MAGIC,
    GROUP_DESC_SIZE, INCOMPAT_RECOVER, INCOMPAT_SUPPORTED, ROOT_INO, RO_COMPAT_SUPPORTED,
    STATE_ERROR, STATE_VALID, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE,
};

/// How to mount.
#[derive(Clone, Copy, Debug)]
pub struct MountOptions {
    pub read_only: bool,
    /// Bytes of block cache.
    pub cache_bytes: usize,
    /// Current time, nanoseconds since the epoch.
    pub now: u64,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            read_only: false,
            cache_bytes: 8 << 20,
            now: 0,
        }
    }
}

pub(crate) fn io(e: IoError) -> Errno {
    match e {
        IoError::ReadOnly => Errno::EROFS,
        _ => Errno::EIO,
    }
}

pub struct Volume<D: BlockDevice> {
    pub(crate) cache: BlockCache<D>,
    pub(crate) sb: Superblock,
    pub(crate) groups: Vec<GroupDesc>,
    pub(crate) block_size: usize,
    pub(crate) inode_size: usize,
    read_only: bool,
    /// `s_state` as found at mount, written back at a clean unmount.
    mount_state: u16,
    /// Nanoseconds since the epoch.
    pub(crate) now: u64,
    sb_dirty: bool,
    dirty_groups: BTreeSet<u32>,
    /// Inodes referenced by open files ([`zos_vfs_core::FileSystem::retain`]).
    pub(crate) open_refs: BTreeMap<u32, u32>,
    /// Inodes whose last name went while open: freed at the last release.
    pub(crate) orphans: BTreeSet<u32>,
    /// Set once a write failed or corruption was found while mounted read-write.
    pub(crate) errors_seen: bool,
}

fn check(cond: bool, what: &'static str) -> Result<(), MountError> {
    if cond {
        Ok(())
    } else {
        Err(MountError::BadSuperblock(what))
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Check the superblock and group descriptors of the ext2 file system on `dev`
    /// and mount it; read-write mounts also mark it in use on disk.
    pub fn mount(mut dev: D, opts: MountOptions) -> Result<Self, MountError> {
        let device_bytes = dev.sector_count().saturating_mul(SECTOR_SIZE as u64);
        if device_bytes < (SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) as u64 {
            return Err(MountError::DeviceTooSmall {
                bytes: device_bytes,
            });
        }
        let mut raw = [0u8; SUPERBLOCK_SIZE];
        dev.read((SUPERBLOCK_OFFSET / SECTOR_SIZE) as u64, &mut raw)?;
        let sb = Superblock::parse(&raw);
        if sb.magic != EXT2_MAGIC {
            return Err(MountError::BadMagic(sb.magic));
        }
        check(sb.log_block_size <= 6, "block size above 64 KiB")?;
        let block_size = 1024usize << sb.log_block_size;
        check(
            sb.first_data_block == u32::from(block_size == 1024),
            "first data block does not match the block size",
        )?;
        check(sb.blocks_count > sb.first_data_block + 1, "too few blocks")?;
        let fs_bytes = sb.blocks_count as u64 * block_size as u64;
        if fs_bytes > device_bytes {
            return Err(MountError::Truncated {
                fs_bytes,
                device_bytes,
            });
        }
        let bits = 8 * block_size as u32;
        check(
            (8..=bits).contains(&sb.blocks_per_group),
            "blocks per group out of range",
        )?;
        check(
            (1..=bits).contains(&sb.inodes_per_group),
            "inodes per group out of range",
        )?;
        let inode_size = sb.inode_size as usize;
        check(
            inode_size.is_power_of_two() && (128..=block_size).contains(&inode_size),
            "inode size",
        )?;
        let group_count = (sb.blocks_count - sb.first_data_block).div_ceil(sb.blocks_per_group);
        check(
            sb.inodes_count as u64 == sb.inodes_per_group as u64 * group_count as u64,
            "inode count does not match groups x inodes per group",
        )?;
        check(
            sb.first_ino > ROOT_INO && sb.first_ino < sb.inodes_count,
            "first inode",
        )?;
        check(sb.rev_level <= 1, "unknown revision")?;
        if sb.feature_incompat & INCOMPAT_RECOVER != 0 {
            return Err(MountError::NeedsRecovery);
        }
        let unknown = sb.feature_incompat & !INCOMPAT_SUPPORTED;
        if unknown != 0 {
            return Err(MountError::UnsupportedFeatures(unknown));
        }
        let mut read_only = opts.read_only || dev.read_only();
        let ro_unknown = sb.feature_ro_compat & !RO_COMPAT_SUPPORTED;
        if ro_unknown != 0 && !read_only {
            warn!("ext2: read-only features {ro_unknown:#x} unsupported; mounting read-only");
            read_only = true;
        }
        if sb.feature_compat & COMPAT_HAS_JOURNAL != 0 && !read_only {
            warn!("ext2: the volume has a journal; mounting read-only");
            read_only = true;
        }

        // Group descriptors follow the superblock's block.
        let gdt_first = sb.first_data_block as u64 + 1;
        let gdt_bytes = group_count as usize * GROUP_DESC_SIZE;
        let gdt_blocks = gdt_bytes.div_ceil(block_size) as u64;
        check(
            gdt_first + gdt_blocks <= sb.blocks_count as u64,
            "group descriptors past the end",
        )?;
        let mut cache = BlockCache::new(dev, block_size, sb.blocks_count as u64, opts.cache_bytes);
        let table_blocks = (sb.inodes_per_group as usize * inode_size).div_ceil(block_size) as u64;
        let mut groups = Vec::with_capacity(group_count as usize);
        for g in 0..group_count {
            let at = g as usize * GROUP_DESC_SIZE;
            let block = cache.read(gdt_first + (at / block_size) as u64)?;
            let desc = GroupDesc::parse(&block[at % block_size..]);
            let first = sb.first_data_block as u64 + g as u64 * sb.blocks_per_group as u64;
            let end = (first + sb.blocks_per_group as u64).min(sb.blocks_count as u64);
            let inside = |b: u64| b >= first && b < end;
            let bad = |what| MountError::BadGroupDescriptor { group: g, what };
            if !inside(desc.block_bitmap as u64) {
                return Err(bad("block bitmap outside the group"));
            }
            if !inside(desc.inode_bitmap as u64) {
                return Err(bad("inode bitmap outside the group"));
            }
            let table = desc.inode_table as u64;
            if !inside(table) || !inside(table + table_blocks - 1) {
                return Err(bad("inode table outside the group"));
            }
            if g == 0 && first < gdt_first + gdt_blocks && table < gdt_first + gdt_blocks {
                return Err(bad("inode table overlaps the descriptors"));
            }
            groups.push(desc);
        }

        let mut vol = Volume {
            cache,
            mount_state: sb.state,
            sb,
            groups,
            block_size,
            inode_size,
            read_only,
            now: opts.now,
            sb_dirty: false,
            dirty_groups: BTreeSet::new(),
            open_refs: BTreeMap::new(),
            orphans: BTreeSet::new(),
            errors_seen: false,
        };
        let root = vol
            .read_inode(ROOT_INO)
            .map_err(|_| MountError::BadRootInode)?;
        if !root.is_dir() || root.links_count == 0 {
            return Err(MountError::BadRootInode);
        }
        if !read_only {
            vol.mark_mounted()?;
        }
        Ok(vol)
    }

    fn mark_mounted(&mut self) -> Result<(), MountError> {
        if self.mount_state & STATE_VALID == 0 {
            warn!("ext2: mounting a volume that was not cleanly unmounted; run e2fsck");
        } else if self.mount_state & STATE_ERROR != 0 {
            warn!("ext2: mounting a volume with errors; run e2fsck");
        } else if self.sb.max_mnt_count >= 0
            && self.sb.mnt_count as i32 >= self.sb.max_mnt_count as i32
            && self.sb.max_mnt_count != 0
        {
            warn!("ext2: maximal mount count reached; running e2fsck is recommended");
        }
        if self.sb.max_mnt_count == 0 {
            self.sb.max_mnt_count = DEFAULT_MAX_MNT_COUNT;
        }
        self.sb.mnt_count = self.sb.mnt_count.wrapping_add(1);
        self.sb.mtime = self.seconds();
        self.sb.state &= !STATE_VALID;
        self.write_superblock()
            .map_err(|_| MountError::Io(IoError::Device))?;
        self.cache.flush()?;
        Ok(())
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }

    pub fn cache(&self) -> &BlockCache<D> {
        &self.cache
    }

    pub fn cache_mut(&mut self) -> &mut BlockCache<D> {
        &mut self.cache
    }

    pub(crate) fn seconds(&self) -> u32 {
        (self.now / 1_000_000_000) as u32
    }

    /// `i_dtime` for an inode freed now. Without a real-time clock the time can be
    /// tiny, and e2fsck reads a dtime of 0 as "in use" and one below the inode
    /// count as a link of the orphan list: never write either.
    pub(crate) fn deletion_time(&self) -> u32 {
        self.seconds().max(self.sb.inodes_count)
    }

    pub(crate) fn writable(&self) -> VfsResult<()> {
        if self.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// Note corruption found while reading: later syncs set `s_state`'s error bit.
    pub(crate) fn corrupt(&mut self, what: &str, ino: u32) -> Errno {
        warn!("ext2: {what} (inode {ino})");
        self.errors_seen = true;
        Errno::EIO
    }

    /// Whether `block` may hold data: inside the file system, past the boot block.
    pub(crate) fn block_ok(&self, block: u32) -> bool {
        block > self.sb.first_data_block && block < self.sb.blocks_count
    }

    fn group_first_block(&self, g: u32) -> u64 {
        self.sb.first_data_block as u64 + g as u64 * self.sb.blocks_per_group as u64
    }

    fn blocks_in_group(&self, g: u32) -> u32 {
        let first = self.group_first_block(g);
        (self.sb.blocks_count as u64 - first).min(self.sb.blocks_per_group as u64) as u32
    }

    // ---- superblock and descriptors ----

    fn write_superblock(&mut self) -> VfsResult<()> {
        self.sb.free_blocks_count = self.groups.iter().map(|g| g.free_blocks as u32).sum();
        self.sb.free_inodes_count = self.groups.iter().map(|g| g.free_inodes as u32).sum();
        if self.errors_seen {
            self.mount_state |= STATE_ERROR;
            self.sb.state |= STATE_ERROR;
        }
        self.sb.wtime = self.seconds();
        let raw = self.sb.encode();
        let block = (SUPERBLOCK_OFFSET / self.block_size) as u64;
        let at = SUPERBLOCK_OFFSET % self.block_size;
        let data = self.cache.modify(block).map_err(io)?;
        data[at..at + SUPERBLOCK_SIZE].copy_from_slice(&raw);
        self.sb_dirty = false;
        Ok(())
    }

    fn write_group_descs(&mut self) -> VfsResult<()> {
        let gdt_first = self.sb.first_data_block as u64 + 1;
        let dirty: Vec<u32> = self.dirty_groups.iter().copied().collect();
        for g in dirty {
            let at = g as usize * GROUP_DESC_SIZE;
            let desc = self.groups[g as usize];
            let bs = self.block_size;
            let data = self
                .cache
                .modify(gdt_first + (at / bs) as u64)
                .map_err(io)?;
            desc.encode_into(&mut data[at % bs..at % bs + GROUP_DESC_SIZE]);
        }
        self.dirty_groups.clear();
        Ok(())
    }

    /// Put the superblock and descriptors into the cache and write everything back,
    /// then flush the device.
    pub fn sync(&mut self) -> VfsResult<()> {
        if self.read_only {
            return Ok(());
        }
        self.write_group_descs()?;
        self.write_superblock()?;
        self.cache.flush().map_err(io)
    }

    /// Write everything, mark the volume cleanly unmounted, flush, and hand back the
    /// device.
    pub fn unmount(mut self) -> Result<D, (Errno, D)> {
        if !self.read_only {
            let open: Vec<u32> = self.orphans.iter().copied().collect();
            for ino in open {
                if let Err(e) = self.free_inode_and_data(ino) {
                    warn!("ext2: freeing orphan inode {ino} at unmount: {e}");
                }
            }
            self.sb.state = self.mount_state;
            if let Err(e) = self.sync() {
                return Err((e, self.cache.into_device()));
            }
        }
        Ok(self.cache.into_device())
    }

    // ---- inodes ----

    fn inode_location(&self, ino: u32) -> VfsResult<(u64, usize)> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(Errno::EIO);
        }
        let index = (ino - 1) as usize;
        let group = index / self.sb.inodes_per_group as usize;
        let within = (index % self.sb.inodes_per_group as usize) * self.inode_size;
        let table = self.groups[group].inode_table as u64;
        Ok((
            table + (within / self.block_size) as u64,
            within % self.block_size,
        ))
    }

    pub fn read_inode(&mut self, ino: u32) -> VfsResult<Inode> {
        let (block, at) = self.inode_location(ino)?;
        let size = self.inode_size;
        let data = self.cache.read(block).map_err(io)?;
        Ok(Inode::parse(&data[at..at + size]))
    }

    pub(crate) fn write_inode(&mut self, ino: u32, inode: &Inode) -> VfsResult<()> {
        self.writable()?;
        let (block, at) = self.inode_location(ino)?;
        let size = self.inode_size;
        let data = self.cache.modify(block).map_err(io)?;
        inode.encode_into(&mut data[at..at + size]);
        Ok(())
    }

    /// A fresh record for a new inode: zeroed, with room for nanosecond times when
    /// the records are large.
    pub(crate) fn init_inode(&mut self, ino: u32) -> VfsResult<()> {
        let (block, at) = self.inode_location(ino)?;
        let size = self.inode_size;
        let data = self.cache.modify(block).map_err(io)?;
        data[at..at + size].fill(0);
        if size > 128 {
            let extra = (size - 128).min(32) as u16;
            data[at + 128..at + 130].copy_from_slice(&extra.to_le_bytes());
        }
        Ok(())
    }

    // ---- allocation ----

    /// Find and set a clear bit below `limit` in the bitmap in `block`, starting at
    /// `start` and wrapping around.
    fn take_bit(&mut self, block: u32, limit: u32, start: u32) -> VfsResult<Option<u32>> {
        let bitmap = self.cache.read(block as u64).map_err(io)?;
        let limit = limit.min(8 * bitmap.len() as u32);
        let start = if start < limit { start } else { 0 };
        let find = |from: u32, to: u32| -> Option<u32> {
            let mut bit = from;
            while bit < to {
                let byte = bitmap[(bit / 8) as usize];
                if byte == 0xff && bit.is_multiple_of(8) {
                    bit += 8;
                    continue;
                }
                if byte & (1 << (bit % 8)) == 0 {
                    return Some(bit);
                }
                bit += 1;
            }
            None
        };
        let Some(bit) = find(start, limit).or_else(|| find(0, start)) else {
            return Ok(None);
        };
        let bitmap = self.cache.modify(block as u64).map_err(io)?;
        bitmap[(bit / 8) as usize] |= 1 << (bit % 8);
        Ok(Some(bit))
    }

    /// Clear `bit` in the bitmap in `block`; false when it was already clear.
    fn clear_bit(&mut self, block: u32, bit: u32) -> VfsResult<bool> {
        let bitmap = self.cache.modify(block as u64).map_err(io)?;
        let byte = &mut bitmap[(bit / 8) as usize];
        let was_set = *byte & (1 << (bit % 8)) != 0;
        *byte &= !(1 << (bit % 8));
        Ok(was_set)
    }

    /// Whether `block` holds group metadata of its own group (a bitmap or the inode
    /// table): a corrupt bitmap must not hand those out.
    fn is_metadata(&self, g: u32, block: u64) -> bool {
        let d = &self.groups[g as usize];
        let table_blocks =
            (self.sb.inodes_per_group as usize * self.inode_size).div_ceil(self.block_size) as u64;
        block == d.block_bitmap as u64
            || block == d.inode_bitmap as u64
            || (block >= d.inode_table as u64 && block < d.inode_table as u64 + table_blocks)
            || block <= self.sb.first_data_block as u64
    }

    /// Allocate a data block, preferring `goal` and what follows it.
    pub(crate) fn alloc_block(&mut self, goal: u64) -> VfsResult<u32> {
        self.writable()?;
        let count = self.groups.len() as u32;
        let goal = if goal > self.sb.first_data_block as u64 && goal < self.sb.blocks_count as u64 {
            goal
        } else {
            self.sb.first_data_block as u64
        };
        let goal_group =
            ((goal - self.sb.first_data_block as u64) / self.sb.blocks_per_group as u64) as u32;
        for step in 0..count {
            let g = (goal_group + step) % count;
            if self.groups[g as usize].free_blocks == 0 {
                continue;
            }
            let start = if step == 0 {
                (goal - self.group_first_block(g)) as u32
            } else {
                0
            };
            let limit = self.blocks_in_group(g);
            let bitmap = self.groups[g as usize].block_bitmap;
            // A bitmap that claims metadata is free is corrupt: skip such bits.
            for _ in 0..8 {
                let Some(bit) = self.take_bit(bitmap, limit, start)? else {
                    break;
                };
                let block = self.group_first_block(g) + bit as u64;
                if self.is_metadata(g, block) {
                    self.corrupt("block bitmap marks metadata free", 0);
                    continue;
                }
                self.groups[g as usize].free_blocks -= 1;
                self.dirty_groups.insert(g);
                self.sb_dirty = true;
                return Ok(block as u32);
            }
            // The descriptor's count was wrong; believe the bitmap.
            self.groups[g as usize].free_blocks = 0;
            self.dirty_groups.insert(g);
        }
        Err(Errno::ENOSPC)
    }

    pub(crate) fn free_block(&mut self, block: u32) -> VfsResult<()> {
        if !self.block_ok(block) {
            self.corrupt("freeing a block outside the file system", 0);
            return Ok(());
        }
        let rel = block as u64 - self.sb.first_data_block as u64;
        let g = (rel / self.sb.blocks_per_group as u64) as u32;
        let bit = (rel % self.sb.blocks_per_group as u64) as u32;
        if self.is_metadata(g, block as u64) {
            self.corrupt("freeing a metadata block", 0);
            return Ok(());
        }
        let bitmap = self.groups[g as usize].block_bitmap;
        if self.clear_bit(bitmap, bit)? {
            let d = &mut self.groups[g as usize];
            d.free_blocks = d.free_blocks.saturating_add(1);
            self.dirty_groups.insert(g);
            self.sb_dirty = true;
        } else {
            self.corrupt("freeing a block that was already free", 0);
        }
        self.cache.forget(block as u64);
        Ok(())
    }

    /// Allocate an inode number: directories go to the group with the most free
    /// inodes among those with free blocks, other files near `parent`.
    pub(crate) fn alloc_inode(&mut self, parent: u32, dir: bool) -> VfsResult<u32> {
        self.writable()?;
        let count = self.groups.len() as u32;
        let parent_group = (parent.saturating_sub(1) / self.sb.inodes_per_group) % count;
        let first_group = if dir {
            (0..count)
                .max_by_key(|&g| {
                    let d = &self.groups[g as usize];
                    (d.free_blocks > 0, d.free_inodes)
                })
                .unwrap_or(parent_group)
        } else {
            parent_group
        };
        for step in 0..count {
            let g = (first_group + step) % count;
            if self.groups[g as usize].free_inodes == 0 {
                continue;
            }
            let bitmap = self.groups[g as usize].inode_bitmap;
            let limit = self.sb.inodes_per_group;
            for _ in 0..8 {
                let Some(bit) = self.take_bit(bitmap, limit, 0)? else {
                    break;
                };
                let ino = g * self.sb.inodes_per_group + bit + 1;
                if ino < self.sb.first_ino {
                    // Reserved inodes are never handed out, whatever the bitmap says.
                    continue;
                }
                let d = &mut self.groups[g as usize];
                d.free_inodes -= 1;
                if dir {
                    d.used_dirs = d.used_dirs.saturating_add(1);
                }
                self.dirty_groups.insert(g);
                self.sb_dirty = true;
                return Ok(ino);
            }
            self.groups[g as usize].free_inodes = 0;
            self.dirty_groups.insert(g);
        }
        Err(Errno::ENOSPC)
    }

    pub(crate) fn free_inode(&mut self, ino: u32, dir: bool) -> VfsResult<()> {
        if ino < self.sb.first_ino || ino > self.sb.inodes_count {
            self.corrupt("freeing a reserved or invalid inode", ino);
            return Ok(());
        }
        let g = (ino - 1) / self.sb.inodes_per_group;
        let bit = (ino - 1) % self.sb.inodes_per_group;
        let bitmap = self.groups[g as usize].inode_bitmap;
        if self.clear_bit(bitmap, bit)? {
            let d = &mut self.groups[g as usize];
            d.free_inodes = d.free_inodes.saturating_add(1);
            if dir {
                d.used_dirs = d.used_dirs.saturating_sub(1);
            }
            self.dirty_groups.insert(g);
            self.sb_dirty = true;
        } else {
            self.corrupt("freeing an inode that was already free", ino);
        }
        Ok(())
    }

    /// Read a block of pointers as numbers.
    pub(crate) fn read_pointers(&mut self, block: u32) -> VfsResult<Vec<u32>> {
        let data = self.cache.read(block as u64).map_err(io)?;
        Ok((0..data.len() / 4).map(|i| get_u32(data, 4 * i)).collect())
    }

    /// Whether the superblock or descriptors have unsaved changes.
    pub fn metadata_dirty(&self) -> bool {
        self.sb_dirty || !self.dirty_groups.is_empty()
    }
}
