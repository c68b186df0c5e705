//! Memory calls of the dispatcher (docs/posix.md, "Memory mappings").
//!
//! Every `mmap` is a Memory object of its own, mapped from a random page of
//! the `layout::RANDOM_SPAN` above `layout::LINUX_MMAP` (ASLR) one after
//! another, with an unmapped page between two (address space is never
//! reused: 8 TiB of it). libzos keeps each object's capability and the
//! protection of each of its pages, so:
//!
//! - `mprotect` of any page range maps the object again as runs of pages
//!   with one protection each (the kernel's `MemoryProtect` can only take
//!   rights away); `PROT_NONE` pages are simply not mapped. W^X holds for
//!   every mapping: writable and executable together is refused (EACCES).
//! - `munmap` of part of a mapping unmaps those pages; the object goes when
//!   its last page does.
//! - `MAP_PRIVATE` of a file is a private copy filled from the file when it
//!   is made. `MAP_SHARED` of a file maps the file's shared pages, which the
//!   VFS keeps (`IoRequest::MapShared`; docs/vfs.md, "Shared file
//!   mappings"): every process mapping the file sees every other's writes
//!   at once, and reads and writes through the file see the mapping's, with
//!   no `msync`. A handle of the mapping's own keeps the pages alive. Where
//!   the server has no shared pages to give (a file larger than the VFS
//!   keeps, a file mapped past the pages made for it), the mapping is a copy
//!   written back to the file at `msync`, at `munmap` and when the program
//!   exits (not when it is killed).
//! - `fork` gives the child a copy of a private mapping and the same object
//!   for a shared one (so `MAP_SHARED|MAP_ANONYMOUS` memory is shared
//!   between parent and child), with every capability at the slot this
//!   table names, so the child's copy of the table is right as is.
//! - `mremap` grows a private anonymous mapping by copying; `brk` never
//!   grows (musl's malloc then uses `mmap`).

use super::SysResult;
use crate::abi::{layout, map_flags};
use crate::posix::{self, Errno};
use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use zos_proto::errno::*;

const PAGE: u64 = 4096;
const PROT_READ: u8 = 1;
const PROT_WRITE: u8 = 2;
const PROT_EXEC: u8 = 4;
const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
const MREMAP_MAYMOVE: u32 = 1;
const MS_ASYNC: u32 = 1;
const MS_SYNC: u32 = 4;
/// A page of the mapping that `munmap` took away.
const GONE: u8 = 0x80;

struct Mapping {
    /// The Memory object behind it (kept: `mprotect` maps it again).
    memory: u64,
    /// The object's page that `pages[0]` is (more than 0 once a `MAP_FIXED`
    /// mapping took the first pages and this one moved up, `trim_front`).
    offset: u64,
    /// Each page's protection (`PROT_*` bits), or [`GONE`].
    pages: Vec<u8>,
    /// The page index where each kernel region of it starts now.
    regions: Vec<u64>,
    /// `MAP_SHARED`: a forked child maps the same object.
    shared: bool,
    /// `MAP_SHARED` of a file: a handle of its own on the open file and the
    /// file offset of the first page; the mapping is written back there
    /// unless it is `coherent`.
    file: Option<(u64, u64)>,
    /// The object is the file's shared pages, which the VFS keeps (every
    /// mapper sees every write at once; reads through the file find them):
    /// nothing to write back, and the handle keeps the pages alive.
    coherent: bool,
}

impl Mapping {
    fn length(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }

    /// Runs of mapped pages with one protection: (first page, pages, protection).
    fn runs(&self) -> Vec<(u64, u64, u8)> {
        let mut runs: Vec<(u64, u64, u8)> = Vec::new();
        for (index, &protection) in self.pages.iter().enumerate() {
            if protection == GONE || protection == 0 {
                continue;
            }
            match runs.last_mut() {
                Some((first, count, p)) if *p == protection && *first + *count == index as u64 => {
                    *count += 1
                }
                _ => runs.push((index as u64, 1, protection)),
            }
        }
        runs
    }

    /// Maps the object again at `start` as its runs say (after a change).
    fn apply(&mut self, start: u64) -> Result<(), Errno> {
        for first in self.regions.drain(..) {
            let _ = sys::memory_unmap(sys::SELF, start + first * PAGE);
        }
        for (first, count, protection) in self.runs() {
            let va = start + first * PAGE;
            sys::memory_map(
                self.memory,
                sys::SELF,
                va,
                self.offset + first,
                count,
                kernel_flags(protection),
            )
            .map_err(|_| Errno(ENOMEM))?;
            self.regions.push(first);
        }
        Ok(())
    }

    /// Writes pages `[first, end)` of a shared file mapping back to the
    /// file (those this process can read: a `PROT_NONE` page is skipped).
    fn write_back(&self, start: u64, first: u64, end: u64) -> Result<(), Errno> {
        let Some((handle, offset)) = self.file.filter(|_| !self.coherent) else {
            return Ok(());
        };
        let size = crate::fs::slot_size(handle)?;
        for page in first..end.min(self.pages.len() as u64) {
            // GONE has no PROT_READ bit either.
            if self.pages[page as usize] & PROT_READ == 0 {
                continue;
            }
            let file_at = offset + page * PAGE;
            // Never past the end of the file: the tail of the last page is
            // the mapping's own (Linux does not grow the file either).
            let length = size.saturating_sub(file_at).min(PAGE) as usize;
            if length == 0 {
                break;
            }
            // SAFETY: the page is mapped readable in this process (its
            // protection says so and `apply` mapped it).
            let bytes =
                unsafe { core::slice::from_raw_parts((start + page * PAGE) as *const u8, length) };
            let mut written = 0;
            while written < length {
                written +=
                    crate::fs::pwrite_slot(handle, &bytes[written..], file_at + written as u64)?
                        .max(1);
            }
        }
        Ok(())
    }

    /// The same mapping starting at its first page `munmap` left (the
    /// leading pages are [`GONE`], so nothing is mapped for them).
    fn trim_front(mut self, start: u64) -> (u64, Mapping) {
        let gone = self.pages.iter().take_while(|p| **p == GONE).count();
        self.pages.drain(..gone);
        let gone = gone as u64;
        self.offset += gone;
        self.regions.iter_mut().for_each(|first| *first -= gone);
        if let Some((_, file_offset)) = self.file.as_mut() {
            *file_offset += gone * PAGE;
        }
        (start + gone * PAGE, self)
    }

    /// Lets go of the object and the file handle.
    fn release(self, start: u64) {
        for first in &self.regions {
            let _ = sys::memory_unmap(sys::SELF, start + first * PAGE);
        }
        let _ = sys::cap_delete(self.memory);
        if let Some((handle, _)) = self.file {
            crate::fs::forget(handle);
            let _ = sys::cap_delete(handle);
        }
    }
}

/// The kernel's mapping flags for a protection (W^X checked before).
fn kernel_flags(protection: u8) -> u64 {
    if protection & PROT_WRITE != 0 {
        map_flags::WRITE
    } else if protection & PROT_EXEC != 0 {
        map_flags::EXECUTE
    } else {
        0
    }
}

struct Mappings {
    /// Next free address.
    next: u64,
    /// Start → mapping.
    live: BTreeMap<u64, Mapping>,
}

/// `next` before the first mapping: then the base is chosen (ASLR).
const UNCHOSEN: u64 = 0;

static MAPPINGS: Mutex<Mappings> = Mutex::new(Mappings {
    next: UNCHOSEN,
    live: BTreeMap::new(),
});

/// The program break: fixed, so every request to move it fails as Linux
/// reports it (by answering the unchanged break).
pub fn brk(_request: u64) -> SysResult {
    Ok(layout::LINUX_MMAP as i64)
}

/// A new mapping of `length` bytes (a multiple of the page), filled by
/// `fill` through a writable mapping, then mapped as `protection` says.
fn map_new(
    fixed: Option<u64>,
    length: u64,
    protection: u8,
    shared: bool,
    fill: impl FnOnce(u64) -> Result<Option<(u64, u64)>, Errno>,
) -> Result<u64, Errno> {
    let memory = sys::memory_create(length).map_err(|_| Errno(ENOMEM))?;
    let mapping = Mapping {
        memory,
        offset: 0,
        pages: alloc::vec![PROT_READ | PROT_WRITE; (length / PAGE) as usize],
        regions: Vec::new(),
        shared,
        file: None,
        coherent: false,
    };
    place(fixed, mapping, |mapping, start| {
        mapping.file = fill(start)?;
        mapping.pages.fill(protection);
        mapping.apply(start)
    })
}

pub fn mmap(
    address: u64,
    length: u64,
    protection: u32,
    flags: u32,
    fd: i32,
    offset: u64,
) -> SysResult {
    let shared = match flags & (MAP_SHARED | MAP_PRIVATE) {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        _ => return Err(Errno(EINVAL)),
    };
    if length == 0 || !offset.is_multiple_of(PAGE) || protection > 7 {
        return Err(Errno(EINVAL));
    }
    let protection = protection as u8;
    // W^X for every mapping.
    if protection & PROT_EXEC != 0 && protection & PROT_WRITE != 0 {
        return Err(Errno(EACCES));
    }
    let length = length.checked_next_multiple_of(PAGE).ok_or(Errno(ENOMEM))?;
    let fixed = fixed_place(address, length, flags)?;
    if flags & MAP_ANONYMOUS != 0 {
        return Ok(map_new(fixed, length, protection, shared, |_| Ok(None))? as i64);
    }
    // A file: only a regular one maps (a terminal or pipe has no pages).
    let stat = crate::fs::fstat(fd)?;
    if stat.mode & 0o170000 != 0o100000 {
        return Err(Errno(ENODEV));
    }
    if shared {
        if let Some(mapping) = coherent_mapping(fd, offset, length, protection)? {
            return Ok(place(fixed, mapping, |_, _| Ok(()))? as i64);
        }
    }
    let fill = |start: u64| {
        // SAFETY: `map_new` mapped `length` bytes writable at `start`, and
        // nothing else uses them yet.
        let bytes = unsafe { core::slice::from_raw_parts_mut(start as *mut u8, length as usize) };
        let mut filled = 0;
        while filled < bytes.len() {
            match crate::fs::pread(fd, &mut bytes[filled..], offset + filled as u64)? {
                0 => break, // past the end of the file: zeros
                n => filled += n,
            }
        }
        if !shared || protection & PROT_WRITE == 0 {
            return Ok(None);
        }
        let handle = posix::clone_handle_slot(posix::slot_of(fd)?)?;
        Ok(Some((handle, offset)))
    };
    Ok(map_new(fixed, length, protection, shared, fill)? as i64)
}

/// `MAP_SHARED` of a file through its shared pages, which the file's server
/// keeps (`IoRequest::MapShared`), on a handle of the mapping's own that
/// keeps them alive; `None` when the server has none for it (then the
/// mapping is a copy written back, as before).
fn coherent_mapping(
    fd: i32,
    offset: u64,
    length: u64,
    protection: u8,
) -> Result<Option<Mapping>, Errno> {
    if protection & PROT_EXEC != 0 {
        // Shared pages are never executable (another process may write
        // them): an executable shared map is a copy.
        return Ok(None);
    }
    let first = offset / PAGE;
    let pages = length / PAGE;
    let wanted = first.checked_add(pages).ok_or(Errno(ENOMEM))?;
    let handle = posix::clone_handle_slot(posix::slot_of(fd)?)?;
    let drop_handle = || {
        crate::fs::forget(handle);
        let _ = sys::cap_delete(handle);
    };
    let (memory, writable) = match crate::fs::map_shared_slot(handle, wanted) {
        Ok((memory, _, writable)) => (memory, writable),
        Err(_) => {
            drop_handle();
            return Ok(None);
        }
    };
    if protection & PROT_WRITE != 0 && !writable {
        let _ = sys::cap_delete(memory);
        drop_handle();
        return Err(Errno(EACCES));
    }
    Ok(Some(Mapping {
        memory,
        offset: first,
        pages: alloc::vec![protection; pages as usize],
        regions: Vec::new(),
        shared: true,
        file: Some((handle, offset)),
        coherent: true,
    }))
}

/// Maps `mapping`, whose object is made, at `fixed` or the next free
/// address, lets `finish` complete it there (fill it, set its protection),
/// and records it; on failure nothing is left of it. The table stays
/// locked throughout.
fn place(
    fixed: Option<u64>,
    mut mapping: Mapping,
    finish: impl FnOnce(&mut Mapping, u64) -> Result<(), Errno>,
) -> Result<u64, Errno> {
    let mut mappings = MAPPINGS.lock();
    if mappings.next == UNCHOSEN {
        mappings.next = layout::LINUX_MMAP + crate::rt::random_offset(16);
    }
    let length = mapping.length();
    let start = fixed.unwrap_or(mappings.next);
    if start.saturating_add(length) > layout::HEAP_BASE {
        mapping.release(start);
        return Err(Errno(ENOMEM));
    }
    // Address space is used once: a failure below still moves on. (A
    // `MAP_FIXED` mapping below `next` reuses only what was unmapped.)
    mappings.next = mappings.next.max(start + length + PAGE);
    let made = mapping
        .apply(start)
        .and_then(|()| finish(&mut mapping, start));
    if let Err(e) = made {
        mapping.release(start);
        return Err(e);
    }
    // A mapping that started here lost its first pages to this one
    // (`MAP_FIXED`): it moves up to its first page left.
    if let Some(old) = mappings.live.remove(&start) {
        let (old_start, old) = old.trim_front(start);
        mappings.live.insert(old_start, old);
    }
    mappings.live.insert(start, mapping);
    Ok(start)
}

/// Where a `MAP_FIXED` or `MAP_FIXED_NOREPLACE` mapping goes: exactly at
/// `address`, inside the area `mmap` manages (the program image, heap and
/// stacks are not this table's: ENOMEM there, where Linux would replace
/// them). `MAP_FIXED` unmaps what was there first; `MAP_FIXED_NOREPLACE`
/// fails with EEXIST instead. `None` without either flag.
fn fixed_place(address: u64, length: u64, flags: u32) -> Result<Option<u64>, Errno> {
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) == 0 {
        return Ok(None);
    }
    if !address.is_multiple_of(PAGE) {
        return Err(Errno(EINVAL));
    }
    let end = address.checked_add(length).ok_or(Errno(ENOMEM))?;
    if address < layout::LINUX_MMAP || end > layout::HEAP_BASE {
        return Err(Errno(ENOMEM));
    }
    if flags & MAP_FIXED == 0 {
        let mut taken = false;
        each_overlap(address, length, false, |_, mapping, first, end| {
            let pages = &mapping.pages[first as usize..end as usize];
            taken |= pages.iter().any(|p| *p != GONE);
            Ok(())
        })?;
        if taken {
            return Err(Errno(EEXIST));
        }
    }
    munmap(address, length)?;
    Ok(Some(address))
}

/// Calls `change` on every mapping overlapping `[address, address +
/// length)` with the page range it overlaps (pages `munmap` took stay
/// [`GONE`]: a `MAP_FIXED` mapping may now hold them); `Err(ENOMEM)`,
/// before anything changed, if a page of the range is mapped by none and
/// `whole` says it must be.
fn each_overlap(
    address: u64,
    length: u64,
    whole: bool,
    mut change: impl FnMut(u64, &mut Mapping, u64, u64) -> Result<(), Errno>,
) -> Result<(), Errno> {
    if !address.is_multiple_of(PAGE) || length == 0 {
        return Err(Errno(EINVAL));
    }
    let end = address.saturating_add(length).next_multiple_of(PAGE);
    let mut mappings = MAPPINGS.lock();
    let first = mappings
        .live
        .range(..=address)
        .next_back()
        .map_or(address, |(s, _)| *s);
    let spans: Vec<(u64, u64, u64)> = (mappings.live.range(first..end))
        .filter_map(|(&start, mapping)| {
            let from = address.max(start);
            let to = end.min(start + mapping.length());
            (from < to).then(|| (start, (from - start) / PAGE, (to - start) / PAGE))
        })
        .collect();
    if whole {
        let present = |&(start, first, end): &(u64, u64, u64)| {
            let pages = &mappings.live[&start].pages[first as usize..end as usize];
            pages.iter().filter(|p| **p != GONE).count() as u64
        };
        if spans.iter().map(present).sum::<u64>() != (end - address) / PAGE {
            return Err(Errno(ENOMEM));
        }
    }
    for (start, first, end) in spans {
        if let Some(mapping) = mappings.live.get_mut(&start) {
            change(start, mapping, first, end)?;
        }
    }
    Ok(())
}

/// Unmaps the pages of `[address, address + length)` (a shared file
/// mapping's are written back first); a mapping goes with its last page.
pub fn munmap(address: u64, length: u64) -> SysResult {
    each_overlap(address, length, false, |start, mapping, first, end| {
        let written = mapping.write_back(start, first, end);
        mapping.pages[first as usize..end as usize].fill(GONE);
        mapping.apply(start)?;
        written
    })?;
    let mut mappings = MAPPINGS.lock();
    let gone: Vec<u64> = mappings
        .live
        .iter()
        .filter(|(_, m)| m.pages.iter().all(|p| *p == GONE))
        .map(|(start, _)| *start)
        .collect();
    for start in gone {
        if let Some(mapping) = mappings.live.remove(&start) {
            mapping.release(start);
        }
    }
    Ok(0)
}

pub fn mprotect(address: u64, length: u64, protection: u32) -> SysResult {
    if protection > 7 {
        return Err(Errno(EINVAL));
    }
    let protection = protection as u8;
    if protection & PROT_EXEC != 0 && protection & PROT_WRITE != 0 {
        return Err(Errno(EACCES));
    }
    // Pages of the program image, the heap and the stacks are not this
    // table's: those keep their protection (Linux would change it).
    each_overlap(address, length, true, |start, mapping, first, end| {
        for page in &mut mapping.pages[first as usize..end as usize] {
            if *page != GONE {
                *page = protection;
            }
        }
        mapping.apply(start)
    })?;
    Ok(0)
}

pub fn msync(address: u64, length: u64, flags: u32) -> SysResult {
    if flags & MS_SYNC != 0 && flags & MS_ASYNC != 0 || flags & !7 != 0 {
        return Err(Errno(EINVAL));
    }
    let mut handles = Vec::new();
    each_overlap(address, length, true, |start, mapping, first, end| {
        mapping.write_back(start, first, end)?;
        handles.extend(mapping.file.map(|(handle, _)| handle));
        Ok(())
    })?;
    if flags & MS_SYNC != 0 {
        for handle in handles {
            crate::fs::sync_slot(handle)?;
        }
    }
    Ok(0)
}

/// Writes every shared file mapping back (the program is exiting).
pub fn write_back_all() {
    let mappings = MAPPINGS.lock();
    for (&start, mapping) in mappings.live.iter() {
        let _ = mapping.write_back(start, 0, mapping.pages.len() as u64);
    }
}

pub fn mremap(address: u64, old_length: u64, new_length: u64, flags: u32) -> SysResult {
    let (length, anonymous_private) = match MAPPINGS.lock().live.get(&address) {
        Some(m) => (m.length(), !m.shared && m.file.is_none()),
        None => return Err(Errno(EFAULT)),
    };
    if new_length <= length {
        return Ok(address as i64);
    }
    if flags & MREMAP_MAYMOVE == 0 || !anonymous_private {
        return Err(Errno(ENOMEM));
    }
    let new_length = new_length
        .checked_next_multiple_of(PAGE)
        .ok_or(Errno(ENOMEM))?;
    let new = map_new(None, new_length, PROT_READ | PROT_WRITE, false, |_| {
        Ok(None)
    })?;
    let keep = old_length.min(length);
    // SAFETY: both ranges are live mappings of this process made by `map_new`
    // (the old one `length` ≥ `keep` bytes, the new one `new_length` > `keep`).
    unsafe { core::ptr::copy_nonoverlapping(address as *const u8, new as *mut u8, keep as usize) };
    munmap(address, length)?;
    Ok(new as i64)
}

/// One mapping as a forked child gets it: an object (a copy-on-write copy
/// of this one's for a private mapping, this very object for a shared one)
/// mapped as the same runs, its capability at the same slot.
pub(super) struct ChildMapping {
    /// This process's object, and the slot the child's capability takes.
    pub source: u64,
    pub shared: bool,
    /// Runs to map: (address, object page, pages, kernel flags).
    runs: Vec<(u64, u64, u64, u64)>,
}

impl ChildMapping {
    /// Maps `memory` in `process` as this mapping's runs and puts a
    /// capability to it at the source's slot there.
    pub fn give(&self, process: u64, memory: u64) -> Result<(), Errno> {
        for &(va, page, pages, flags) in &self.runs {
            sys::memory_map(memory, process, va, page, pages, flags).map_err(|_| Errno(ENOMEM))?;
        }
        sys::cap_copy(memory, process, self.source).map_err(|_| Errno(ENOMEM))?;
        Ok(())
    }
}

/// Every mapping as `process` (a forked child) gets it; a shared file's
/// mapping gives the child a handle of its own on the file at once, at
/// the same slot.
pub(super) fn child_mappings(process: u64) -> Result<Vec<ChildMapping>, Errno> {
    let mappings = MAPPINGS.lock();
    let mut list = Vec::with_capacity(mappings.live.len());
    for (&start, mapping) in mappings.live.iter() {
        // The child's object has the same page numbers as this one (the
        // child's table, a copy of this one, keeps the offset).
        let runs = mapping.runs().into_iter();
        let runs = runs.map(|(first, count, protection)| {
            let (va, page) = (start + first * PAGE, mapping.offset + first);
            (va, page, count, kernel_flags(protection))
        });
        list.push(ChildMapping {
            source: mapping.memory,
            shared: mapping.shared,
            runs: runs.collect(),
        });
        if let Some((handle, _)) = mapping.file {
            let own = posix::clone_handle_slot(handle)?;
            let moved = sys::raw(sys::Sys::CapTransfer, [own, process, handle, 0, 0, 0]).check();
            if moved.is_err() {
                let _ = sys::cap_delete(own);
                return Err(Errno(ENOMEM));
            }
        }
    }
    Ok(list)
}
