//! Where tmpfs keeps bytes: the byte budget and sparse, page-granular file data.
//!
//! A file's data is a map from page index to a 4 KiB page. Pages appear on first
//! write and vanish on truncation; a missing page reads as zeros. Each page is paid
//! for from the [`Budget`], which fails with `ENOSPC` when exhausted.
//!
//! A file filled from the boot archive may instead start out *backed*: its bytes
//! are read straight from the archive's read-only mapping, and only pages that
//! are written get a copy of their own (copy on write). The archive is in RAM
//! anyway, so a boot archive costs its size once, not twice.

use alloc::boxed::Box;
use alloc::collections::btree_map::Entry;
use alloc::collections::BTreeMap;

use crate::errno::{Errno, VfsResult};

/// Size of one data page of a regular file.
pub const PAGE_SIZE: usize = 4096;
pub(super) const PAGE_BYTES: u64 = PAGE_SIZE as u64;

/// Largest regular file, in bytes (8 TiB).
pub const MAX_FILE_SIZE: u64 = 1 << 43;

/// Bytes a file system may hold, and bytes in use.
pub(super) struct Budget {
    pub capacity: u64,
    pub used: u64,
}

impl Budget {
    /// `ENOSPC` unless `bytes` more would still fit.
    pub fn ensure_room(&self, bytes: u64) -> VfsResult<()> {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.capacity => Ok(()),
            _ => Err(Errno::ENOSPC),
        }
    }

    pub fn charge(&mut self, bytes: u64) -> VfsResult<()> {
        self.ensure_room(bytes)?;
        self.used += bytes;
        Ok(())
    }

    /// Charge bytes known to fit (checked earlier with [`Budget::ensure_room`]).
    pub fn charge_checked(&mut self, bytes: u64) {
        self.used = self.used.saturating_add(bytes);
    }

    pub fn refund(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }
}

/// The content of a regular file.
#[derive(Default)]
pub(super) struct SparseData {
    pages: BTreeMap<u64, Box<[u8; PAGE_SIZE]>>,
    size: u64,
    /// Read-only bytes that stand for pages not in `pages` (never longer than
    /// `size`; empty for ordinary files).
    backing: &'static [u8],
}

impl SparseData {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    /// A file whose content is `backing` until written (see the module note).
    pub fn backed(backing: &'static [u8]) -> Self {
        SparseData {
            pages: BTreeMap::new(),
            size: backing.len() as u64,
            backing,
        }
    }

    /// Index of the last allocated page, if any.
    #[cfg(test)]
    pub fn last_page(&self) -> Option<u64> {
        self.pages.keys().next_back().copied()
    }

    /// Copy out bytes from `offset`; returns how many (0 at or past the end).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        let available = self.size.saturating_sub(offset);
        let wanted = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < wanted {
            let position = offset + done as u64;
            let in_page = (position % PAGE_BYTES) as usize;
            let chunk = (PAGE_SIZE - in_page).min(wanted - done);
            let destination = buf.get_mut(done..done + chunk).ok_or(Errno::EIO)?;
            let index = position / PAGE_BYTES;
            match self.pages.get(&index) {
                Some(page) => {
                    let source = page.get(in_page..in_page + chunk).ok_or(Errno::EIO)?;
                    destination.copy_from_slice(source);
                }
                None => {
                    let backing = backing_page(self.backing, index);
                    let backed = backing.len().saturating_sub(in_page).min(chunk);
                    let (from_backing, zeros) = destination.split_at_mut(backed);
                    if let Some(source) = backing.get(in_page..in_page + backed) {
                        from_backing.copy_from_slice(source);
                    }
                    zeros.fill(0);
                }
            }
            done += chunk;
        }
        Ok(done)
    }

    /// Copy `data` in at `offset`, allocating pages from `budget`. Stops early when
    /// the budget runs out (`ENOSPC` if nothing was written) or at the size limit
    /// (`EFBIG` if nothing could be written).
    pub fn write(&mut self, offset: u64, data: &[u8], budget: &mut Budget) -> VfsResult<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let room = usize::try_from(MAX_FILE_SIZE - offset).unwrap_or(usize::MAX);
        let wanted = data.len().min(room);
        let backing = self.backing;
        let mut done = 0;
        while done < wanted {
            let position = offset + done as u64;
            let index = position / PAGE_BYTES;
            let in_page = (position % PAGE_BYTES) as usize;
            let chunk = (PAGE_SIZE - in_page).min(wanted - done);
            let source = data.get(done..done + chunk).ok_or(Errno::EIO)?;
            let page = match self.pages.entry(index) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    if budget.charge(PAGE_BYTES).is_err() {
                        break;
                    }
                    let before = backing_page(backing, index);
                    // A whole new page: made from the bytes written, one
                    // copy (no zeroing first).
                    let page = if chunk == PAGE_SIZE && before.is_empty() {
                        page_of(source)
                    } else {
                        zeroed_page()
                    };
                    // The server's own memory can run out before the budget (a
                    // budget larger than its quota): that is ENOSPC too, never
                    // an abort of the file server.
                    let Some(mut page) = page else {
                        budget.refund(PAGE_BYTES);
                        break;
                    };
                    if chunk == PAGE_SIZE && before.is_empty() {
                        entry.insert(page);
                        done += chunk;
                        continue;
                    }
                    // Copy on write: the page starts as what it read before.
                    page[..before.len()].copy_from_slice(before);
                    entry.insert(page)
                }
            };
            let destination = page.get_mut(in_page..in_page + chunk).ok_or(Errno::EIO)?;
            destination.copy_from_slice(source);
            done += chunk;
        }
        if done == 0 {
            return Err(Errno::ENOSPC);
        }
        self.size = self.size.max(offset + done as u64);
        Ok(done)
    }

    /// Set the length: shrinking frees whole pages past the end and zeroes the rest
    /// of the last one (so growing again reads zeros); growing leaves a hole.
    pub fn resize(&mut self, new_size: u64, budget: &mut Budget) -> VfsResult<()> {
        if new_size > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if new_size < self.size {
            let dropped = self.pages.split_off(&new_size.div_ceil(PAGE_BYTES));
            budget.refund(dropped.len() as u64 * PAGE_BYTES);
            let tail = (new_size % PAGE_BYTES) as usize;
            if let Some(page) = self.pages.get_mut(&(new_size / PAGE_BYTES)) {
                page.iter_mut().skip(tail).for_each(|byte| *byte = 0);
            }
            // Backing bytes past the new end must read as zeros if it grows again.
            let kept = usize::try_from(new_size).unwrap_or(usize::MAX);
            self.backing = &self.backing[..kept.min(self.backing.len())];
        }
        self.size = new_size;
        Ok(())
    }
}

/// The backing bytes of page `index` (shorter than a page at the end, empty
/// past it).
fn backing_page(backing: &[u8], index: u64) -> &[u8] {
    let start = usize::try_from(index.saturating_mul(PAGE_BYTES))
        .unwrap_or(usize::MAX)
        .min(backing.len());
    let end = start.saturating_add(PAGE_SIZE).min(backing.len());
    &backing[start..end]
}

/// A page holding `bytes` (exactly a page of them), or `None` when the heap
/// cannot grow.
fn page_of(bytes: &[u8]) -> Option<Box<[u8; PAGE_SIZE]>> {
    let mut page = alloc::vec::Vec::new();
    page.try_reserve_exact(PAGE_SIZE).ok()?;
    page.extend_from_slice(bytes);
    page.into_boxed_slice().try_into().ok()
}

/// A zeroed page from the heap, or `None` when the heap cannot grow.
fn zeroed_page() -> Option<Box<[u8; PAGE_SIZE]>> {
    let mut bytes = alloc::vec::Vec::new();
    bytes.try_reserve_exact(PAGE_SIZE).ok()?;
    bytes.resize(PAGE_SIZE, 0u8);
    bytes.into_boxed_slice().try_into().ok()
}
