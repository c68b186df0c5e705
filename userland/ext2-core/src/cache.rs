//! A write-back cache of file-system blocks over a [`BlockDevice`].
//!
//! Blocks are read on first use and kept until the cache is full, when the least
//! recently used go; a modified block stays in memory (dirty) until [`BlockCache::
//! write_back`] or eviction writes it. Write-back walks dirty blocks in block order
//! and merges neighbours into one device write. [`BlockCache::flush`] writes back
//! and then sends the device a flush request: what it returned from is durable.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::device::{range_ok, BlockDevice, IoError, SECTOR_SIZE};

/// Longest single device write made when merging neighbouring dirty blocks.
const MAX_MERGED_BYTES: usize = 1 << 20;

struct Entry {
    data: Box<[u8]>,
    dirty: bool,
    /// When it was last used.
    stamp: u64,
    /// Its key in `lru`: the stamp it had when it was last queued. A hit only
    /// moves `stamp`; the record is brought up to date when it reaches the
    /// front of `lru` (one map update per eviction instead of two per hit).
    queued: u64,
}

/// Counters for benchmarks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub blocks_written: u64,
    pub flushes: u64,
}

pub struct BlockCache<D: BlockDevice> {
    dev: D,
    block_size: usize,
    /// Blocks the file system spans; nothing at or past it is ever touched.
    limit: u64,
    capacity: usize,
    entries: BTreeMap<u64, Entry>,
    lru: BTreeMap<u64, u64>,
    clock: u64,
    dirty: usize,
    pub stats: CacheStats,
}

impl<D: BlockDevice> BlockCache<D> {
    /// A cache of at most `capacity_bytes` (at least 64 blocks) of `block_size`-byte
    /// blocks, for a file system of `limit` blocks on `dev`.
    pub fn new(dev: D, block_size: usize, limit: u64, capacity_bytes: usize) -> Self {
        BlockCache {
            dev,
            block_size,
            limit,
            capacity: (capacity_bytes / block_size).max(64),
            entries: BTreeMap::new(),
            lru: BTreeMap::new(),
            clock: 0,
            dirty: 0,
            stats: CacheStats::default(),
        }
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Give the device back, dropping whatever was not written.
    pub fn into_device(self) -> D {
        self.dev
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Blocks modified and not yet written.
    pub fn dirty_count(&self) -> usize {
        self.dirty
    }

    fn sectors_per_block(&self) -> u64 {
        (self.block_size / SECTOR_SIZE) as u64
    }

    fn check(&self, block: u64) -> Result<(), IoError> {
        let sectors = self.dev.sector_count();
        let first = block
            .checked_mul(self.sectors_per_block())
            .ok_or(IoError::OutOfRange)?;
        if block >= self.limit || !range_ok(sectors, first, self.block_size) {
            return Err(IoError::OutOfRange);
        }
        Ok(())
    }

    /// Make room for one more entry: the least recently used block goes. The
    /// front record of `lru` names it unless that block was used since it was
    /// queued; then it is queued again under its last use and the next looked at.
    fn make_room(&mut self) -> Result<(), IoError> {
        while self.entries.len() >= self.capacity {
            let Some((&stamp, &victim)) = self.lru.iter().next() else {
                return Ok(());
            };
            if let Some(entry) = self.entries.get_mut(&victim) {
                if entry.stamp != stamp {
                    self.lru.remove(&stamp);
                    entry.queued = entry.stamp;
                    self.lru.insert(entry.stamp, victim);
                    continue;
                }
            }
            if self.entries.get(&victim).is_some_and(|e| e.dirty) {
                // Writing everything at once merges neighbours into long writes,
                // which is what a sequential writer needs.
                self.write_back()?;
            }
            self.lru.remove(&stamp);
            self.entries.remove(&victim);
        }
        Ok(())
    }

    fn insert(&mut self, block: u64, data: Box<[u8]>, dirty: bool) -> Result<(), IoError> {
        self.make_room()?;
        self.clock += 1;
        let stamp = self.clock;
        self.lru.insert(stamp, block);
        if dirty {
            self.dirty += 1;
        }
        self.entries.insert(
            block,
            Entry {
                data,
                dirty,
                stamp,
                queued: stamp,
            },
        );
        Ok(())
    }

    fn load(&mut self, block: u64) -> Result<(), IoError> {
        self.check(block)?;
        self.clock += 1;
        if let Some(entry) = self.entries.get_mut(&block) {
            entry.stamp = self.clock;
            self.stats.hits += 1;
            return Ok(());
        }
        self.stats.misses += 1;
        let mut data = vec![0u8; self.block_size].into_boxed_slice();
        let sector = block * self.sectors_per_block();
        self.dev.read(sector, &mut data)?;
        self.insert(block, data, false)
    }

    /// The contents of `block`.
    pub fn read(&mut self, block: u64) -> Result<&[u8], IoError> {
        self.load(block)?;
        self.entries
            .get(&block)
            .map(|e| &*e.data)
            .ok_or(IoError::Device)
    }

    fn mark_dirty(&mut self, block: u64) -> Result<&mut [u8], IoError> {
        let entry = self.entries.get_mut(&block).ok_or(IoError::Device)?;
        if !entry.dirty {
            entry.dirty = true;
            self.dirty += 1;
        }
        Ok(&mut entry.data)
    }

    /// The contents of `block`, to modify (it becomes dirty).
    pub fn modify(&mut self, block: u64) -> Result<&mut [u8], IoError> {
        if self.dev.read_only() {
            return Err(IoError::ReadOnly);
        }
        self.load(block)?;
        self.mark_dirty(block)
    }

    /// `block` zero-filled without reading it (a new block, or one about to be
    /// overwritten whole), to modify.
    pub fn overwrite(&mut self, block: u64) -> Result<&mut [u8], IoError> {
        if self.dev.read_only() {
            return Err(IoError::ReadOnly);
        }
        self.check(block)?;
        self.clock += 1;
        if let Some(entry) = self.entries.get_mut(&block) {
            entry.stamp = self.clock;
            let data = self.mark_dirty(block)?;
            data.fill(0);
            return Ok(data);
        }
        let data = vec![0u8; self.block_size].into_boxed_slice();
        self.insert(block, data, true)?;
        self.entries
            .get_mut(&block)
            .map(|e| &mut *e.data)
            .ok_or(IoError::Device)
    }

    /// Drop `block` from the cache without writing it (it was freed).
    pub fn forget(&mut self, block: u64) {
        if let Some(entry) = self.entries.remove(&block) {
            self.lru.remove(&entry.queued);
            if entry.dirty {
                self.dirty -= 1;
            }
        }
    }

    /// Read `count` consecutive blocks from `first` into `buf` straight from the
    /// device where they are not cached (large sequential reads skip the cache).
    pub fn read_run(&mut self, first: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let count = (buf.len() / self.block_size) as u64;
        if count == 0 {
            return Ok(());
        }
        self.check(first)?;
        self.check(first + count - 1)?;
        let cached = self.entries.range(first..first + count).next().is_some();
        if !cached {
            self.stats.misses += count;
            return self.dev.read(first * self.sectors_per_block(), buf);
        }
        for (i, chunk) in buf.chunks_mut(self.block_size).enumerate() {
            chunk.copy_from_slice(self.read(first + i as u64)?);
        }
        Ok(())
    }

    /// Write every dirty block to the device (no flush request).
    pub fn write_back(&mut self) -> Result<(), IoError> {
        if self.dirty == 0 {
            return Ok(());
        }
        let dirty: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(&b, _)| b)
            .collect();
        let per_run = (MAX_MERGED_BYTES / self.block_size).max(1);
        let mut i = 0;
        let mut run = Vec::new();
        while i < dirty.len() {
            let start = dirty[i];
            let mut len = 1;
            while i + len < dirty.len() && dirty[i + len] == start + len as u64 && len < per_run {
                len += 1;
            }
            run.clear();
            for b in start..start + len as u64 {
                if let Some(e) = self.entries.get(&b) {
                    run.extend_from_slice(&e.data);
                }
            }
            self.dev.write(start * self.sectors_per_block(), &run)?;
            for b in start..start + len as u64 {
                if let Some(e) = self.entries.get_mut(&b) {
                    e.dirty = false;
                }
            }
            self.dirty -= len;
            self.stats.blocks_written += len as u64;
            i += len;
        }
        Ok(())
    }

    /// Write back, then make it durable with a flush request.
    pub fn flush(&mut self) -> Result<(), IoError> {
        self.write_back()?;
        self.stats.flushes += 1;
        self.dev.flush()
    }

    /// Drop every clean block (a cold cache for benchmarks).
    pub fn drop_clean(&mut self) {
        let clean: Vec<(u64, u64)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.dirty)
            .map(|(&b, e)| (b, e.queued))
            .collect();
        for (block, stamp) in clean {
            self.entries.remove(&block);
            self.lru.remove(&stamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemDisk;

    #[test]
    fn write_back_merges_and_flush_reaches_device() {
        let mut cache = BlockCache::new(MemDisk::zeroed(64), 1024, 32, 0);
        for b in 0..4 {
            cache.overwrite(b).unwrap().fill(b as u8 + 1);
        }
        assert_eq!(cache.dirty_count(), 4);
        cache.flush().unwrap();
        assert_eq!(cache.dirty_count(), 0);
        let dev = cache.into_device();
        assert_eq!(dev.flushes, 1);
        assert_eq!(dev.bytes[3 * 1024], 4);
    }

    #[test]
    fn refuses_blocks_past_the_limit_or_device() {
        let mut cache = BlockCache::new(MemDisk::zeroed(8), 1024, 100, 0);
        assert_eq!(cache.read(4).err(), Some(IoError::OutOfRange));
        assert_eq!(cache.read(u64::MAX).err(), Some(IoError::OutOfRange));
        let mut cache = BlockCache::new(MemDisk::zeroed(64), 1024, 2, 0);
        assert_eq!(cache.overwrite(2).err(), Some(IoError::OutOfRange));
    }

    #[test]
    fn eviction_writes_dirty_blocks() {
        let mut cache = BlockCache::new(MemDisk::zeroed(400), 1024, 200, 0);
        for b in 0..150 {
            cache.overwrite(b).unwrap()[0] = 7;
        }
        for b in 0..150 {
            assert_eq!(cache.read(b).unwrap()[0], 7);
        }
    }
}
