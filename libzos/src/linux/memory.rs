//! Memory calls of the dispatcher: anonymous `mmap` as fresh Memory objects
//! mapped one after another from a random page of the `layout::RANDOM_SPAN`
//! above `layout::LINUX_MMAP` (ASLR; address space is
//! never reused: 8 TiB of it), `munmap` of whole mappings, `mremap` by
//! copying, and a `brk` that never grows (musl's malloc then uses `mmap`).

use super::SysResult;
use crate::abi::{layout, map_flags};
use crate::posix::Errno;
use crate::sys;
use alloc::collections::BTreeMap;
use spin::Mutex;
use zos_proto::errno::*;

const PAGE: u64 = 4096;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MREMAP_MAYMOVE: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;

struct Mappings {
    /// Next free address.
    next: u64,
    /// Start → length of every live mapping.
    live: BTreeMap<u64, u64>,
}

/// `next` before the first mapping: then the base is chosen (ASLR).
const UNCHOSEN: u64 = 0;

static MAPPINGS: Mutex<Mappings> = Mutex::new(Mappings {
    next: UNCHOSEN,
    live: BTreeMap::new(),
});

/// Every live mapping, (start, length), for `fork` to copy.
pub fn regions() -> alloc::vec::Vec<(u64, u64)> {
    let mappings = MAPPINGS.lock();
    mappings
        .live
        .iter()
        .map(|(&start, &length)| (start, length))
        .collect()
}

/// The program break: fixed, so every request to move it fails as Linux
/// reports it (by answering the unchanged break).
pub fn brk(_request: u64) -> SysResult {
    Ok(layout::LINUX_MMAP as i64)
}

fn map_new(length: u64, flags: u64) -> Result<u64, Errno> {
    let length = length.checked_next_multiple_of(PAGE).ok_or(Errno(ENOMEM))?;
    let mut mappings = MAPPINGS.lock();
    if mappings.next == UNCHOSEN {
        mappings.next = layout::LINUX_MMAP + crate::rt::random_offset(16);
    }
    let start = mappings.next;
    if start.saturating_add(length) > layout::HEAP_BASE {
        return Err(Errno(ENOMEM));
    }
    let memory = sys::memory_create(length).map_err(|_| Errno(ENOMEM))?;
    let mapped = sys::memory_map(memory, sys::SELF, start, 0, length / PAGE, flags);
    let _ = sys::cap_delete(memory);
    mapped.map_err(|_| Errno(ENOMEM))?;
    // One unmapped page between mappings catches overruns.
    mappings.next = start + length + PAGE;
    mappings.live.insert(start, length);
    Ok(start)
}

pub fn mmap(
    address: u64,
    length: u64,
    protection: u32,
    flags: u32,
    fd: i32,
    _offset: u64,
) -> SysResult {
    if length == 0 {
        return Err(Errno(EINVAL));
    }
    if flags & MAP_ANONYMOUS == 0 || fd != -1 {
        // File mappings are not there yet (docs/porting.md).
        return Err(Errno(ENODEV));
    }
    if flags & MAP_FIXED != 0 {
        let _ = address;
        return Err(Errno(ENOMEM));
    }
    // W^X: executable anonymous memory is refused; everything else is
    // mapped readable and writable (no PROT_NONE guard pages yet).
    if protection & PROT_EXEC != 0 && protection & PROT_WRITE != 0 {
        return Err(Errno(EACCES));
    }
    let _ = protection;
    Ok(map_new(length, map_flags::WRITE)? as i64)
}

/// Unmaps whole mappings inside `[address, address + length)`; a part of a
/// mapping stays mapped (its memory is freed when the whole goes).
pub fn munmap(address: u64, length: u64) -> SysResult {
    if !address.is_multiple_of(PAGE) || length == 0 {
        return Err(Errno(EINVAL));
    }
    let end = address.saturating_add(length);
    let mut mappings = MAPPINGS.lock();
    let inside: alloc::vec::Vec<u64> = mappings
        .live
        .range(address..end)
        .filter(|(start, len)| **start + **len <= end)
        .map(|(start, _)| *start)
        .collect();
    for start in inside {
        let _ = sys::memory_unmap(sys::SELF, start);
        mappings.live.remove(&start);
    }
    Ok(0)
}

pub fn mremap(address: u64, old_length: u64, new_length: u64, flags: u32) -> SysResult {
    let length = MAPPINGS
        .lock()
        .live
        .get(&address)
        .copied()
        .ok_or(Errno(EFAULT))?;
    if new_length <= length {
        return Ok(address as i64);
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno(ENOMEM));
    }
    let new = map_new(new_length, map_flags::WRITE)?;
    let keep = old_length.min(length);
    // SAFETY: both ranges are live mappings of this process made by `map_new`
    // (the old one `length` ≥ `keep` bytes, the new one `new_length` > `keep`).
    unsafe { core::ptr::copy_nonoverlapping(address as *const u8, new as *mut u8, keep as usize) };
    munmap(address, length)?;
    Ok(new as i64)
}
