//! What a driver's `Hal` needs to give a device physical addresses without
//! any ambient physical access: a map of the driver's own DMA-capable
//! regions (Memory objects it created contiguous, or clients' contiguous
//! buffers it mapped, each with the physical address the kernel reported),
//! and a bounce pool for small buffers that live elsewhere (a request header
//! on the stack): those are copied into the pool on the way to the device and
//! back on the way out.

use alloc::vec;
use alloc::vec::Vec;

/// One physically contiguous region mapped at `va`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub va: u64,
    pub pa: u64,
    pub len: u64,
}

/// The driver's DMA-capable regions.
#[derive(Default, Debug)]
pub struct DmaMap {
    regions: Vec<Region>,
}

impl DmaMap {
    pub const fn new() -> Self {
        DmaMap {
            regions: Vec::new(),
        }
    }

    pub fn insert(&mut self, region: Region) {
        self.regions.push(region);
    }

    /// Forgets the region mapped at `va`.
    pub fn remove(&mut self, va: u64) -> Option<Region> {
        let at = self.regions.iter().position(|r| r.va == va)?;
        Some(self.regions.swap_remove(at))
    }

    /// The physical address of `[va, va + len)` when it lies wholly in one region.
    pub fn translate(&self, va: u64, len: u64) -> Option<u64> {
        self.regions.iter().find_map(|r| {
            let end = va.checked_add(len)?;
            (va >= r.va && end <= r.va + r.len).then(|| r.pa + (va - r.va))
        })
    }
}

/// A pool of bounce space in one DMA region, handed out in chunks.
#[derive(Debug)]
pub struct BouncePool {
    region: Region,
    used: Vec<bool>,
}

/// Bytes per chunk of the bounce pool.
pub const BOUNCE_CHUNK: u64 = 64;

impl BouncePool {
    pub fn new(region: Region) -> Self {
        let chunks = (region.len / BOUNCE_CHUNK) as usize;
        BouncePool {
            region,
            used: vec![false; chunks],
        }
    }

    /// Space for `len` bytes: (va, pa), or `None` when the pool is full.
    pub fn alloc(&mut self, len: u64) -> Option<(u64, u64)> {
        let need = len.div_ceil(BOUNCE_CHUNK).max(1) as usize;
        let mut run = 0;
        for i in 0..self.used.len() {
            run = if self.used[i] { 0 } else { run + 1 };
            if run == need {
                let first = i + 1 - need;
                self.used[first..=i].fill(true);
                let offset = first as u64 * BOUNCE_CHUNK;
                return Some((self.region.va + offset, self.region.pa + offset));
            }
        }
        None
    }

    /// Returns the space at physical address `pa` of `len` bytes; its virtual
    /// address, or `None` when `pa` is not the pool's.
    pub fn free(&mut self, pa: u64, len: u64) -> Option<u64> {
        let offset = pa.checked_sub(self.region.pa)?;
        if offset >= self.region.len || offset % BOUNCE_CHUNK != 0 {
            return None;
        }
        let first = (offset / BOUNCE_CHUNK) as usize;
        let need = len.div_ceil(BOUNCE_CHUNK).max(1) as usize;
        let end = (first + need).min(self.used.len());
        self.used[first..end].fill(false);
        Some(self.region.va + offset)
    }

    /// Whether `pa` lies in the pool.
    pub fn owns(&self, pa: u64) -> bool {
        pa >= self.region.pa && pa < self.region.pa + self.region.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_only_whole_ranges_inside_one_region() {
        let mut map = DmaMap::new();
        map.insert(Region {
            va: 0x10_0000,
            pa: 0x4800_0000,
            len: 0x2000,
        });
        assert_eq!(map.translate(0x10_0010, 16), Some(0x4800_0010));
        assert_eq!(map.translate(0x10_1ff0, 16), Some(0x4800_1ff0));
        assert_eq!(map.translate(0x10_1ff0, 17), None);
        assert_eq!(map.translate(0x0f_fff0, 32), None);
        assert_eq!(map.translate(u64::MAX, 2), None);
        assert!(map.remove(0x10_0000).is_some());
        assert_eq!(map.translate(0x10_0010, 16), None);
    }

    #[test]
    fn bounce_pool_allocates_and_frees_runs() {
        let mut pool = BouncePool::new(Region {
            va: 0x1000,
            pa: 0x9000,
            len: 256,
        });
        let a = pool.alloc(16).expect("space");
        let b = pool.alloc(100).expect("space");
        assert_eq!(a, (0x1000, 0x9000));
        assert_eq!(b, (0x1040, 0x9040));
        assert_eq!(pool.alloc(100), None, "one chunk left");
        assert!(pool.owns(b.1));
        assert_eq!(pool.free(b.1, 100), Some(0x1040));
        assert_eq!(pool.alloc(128), Some((0x1040, 0x9040)));
        assert_eq!(pool.free(0x8000, 1), None);
        assert_eq!(pool.free(0x9001, 1), None);
    }
}
