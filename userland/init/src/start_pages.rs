//! Start-up pages init keeps mapped. A spawned program's start-up
//! information (docs/init.md) is written into one of them and the page is
//! mapped read-only into the child, instead of a fresh page of the child's
//! own that init maps, fills and unmaps again: a spawn saves a `MemoryMap`
//! and a `MemoryUnmap` (~3,500 instructions) and a page to zero.
//!
//! A page goes back to the pool only once its process has ended (the
//! kernel removed the process's mappings with it), and the next holder's
//! contents overwrite it, with what the last holder left beyond them
//! zeroed: no program reads another's arguments or environment.

use alloc::vec::Vec;
use libzos::abi::map_flags;
use libzos::sys;

/// Where the pool's pages are mapped in init (1 GiB above the scratch
/// address of start-up information larger than a page).
const POOL: u64 = libzos::abi::layout::START_SCRATCH + (1 << 30);
const PAGE: usize = 4096;
/// Most pages kept (one per live process); beyond them, and on wasm32
/// (whose address space is packed), a spawn uses a page of its own.
const MOST: usize = 512;

#[derive(Default)]
pub struct StartPages {
    /// Each page's Memory capability and how many bytes its contents took.
    pages: Vec<(u64, usize)>,
    /// Pages no live process maps.
    free: Vec<usize>,
}

impl StartPages {
    /// A page holding `parts` one after another (zeros after them): its
    /// index, or `None` if they do not fit in one or no page is left.
    pub fn fill(&mut self, parts: &[&[u8]]) -> Option<usize> {
        let length: usize = parts.iter().map(|p| p.len()).sum();
        if length > PAGE || cfg!(target_arch = "wasm32") {
            return None;
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.pages.len() < MOST => self.grow()?,
            None => return None,
        };
        let page = (POOL + (index * PAGE) as u64) as *mut u8;
        let mut at = 0;
        for part in parts {
            // SAFETY: page `index` of the pool is mapped writable in init
            // (`grow`), only init writes it, and `at + part.len()` is at
            // most `length` <= PAGE.
            unsafe { core::ptr::copy_nonoverlapping(part.as_ptr(), page.add(at), part.len()) };
            at += part.len();
        }
        let left = core::mem::replace(&mut self.pages[index].1, length);
        if left > length {
            // SAFETY: as above; `[length, left)` lies inside the page.
            unsafe { core::ptr::write_bytes(page.add(length), 0, left - length) };
        }
        Some(index)
    }

    /// Page `index`'s Memory capability (to map it into the child).
    pub fn memory(&self, index: usize) -> u64 {
        self.pages[index].0
    }

    /// Takes page `index` back: the process it was mapped into has ended
    /// (or never got it).
    pub fn give_back(&mut self, index: usize) {
        if index < self.pages.len() && !self.free.contains(&index) {
            self.free.push(index);
        }
    }

    /// A new zeroed page, mapped writable at its place in the pool.
    fn grow(&mut self) -> Option<usize> {
        let memory = sys::memory_create(PAGE as u64).ok()?;
        let va = POOL + (self.pages.len() * PAGE) as u64;
        if sys::memory_map(memory, sys::SELF, va, 0, 1, map_flags::WRITE).is_err() {
            let _ = sys::cap_delete(memory);
            return None;
        }
        self.pages.push((memory, 0));
        Some(self.pages.len() - 1)
    }
}
