//! x86_64 4-level page tables (4 KiB pages; 2 MiB pages for the kernel's linear
//! map), W^X mapping flags, and the kernel's own tables.
//!
//! Virtual layout: user space below 0x0000_8000_0000_0000 (PML4 entries 0–255),
//! all RAM at [`PHYS_OFFSET`] (entry 256), the kernel image at [`KERNEL_BASE`]
//! (entry 511). Every user table shares the kernel's upper-half entries, which
//! are all created at boot and never change afterwards.

use core::arch::asm;
use core::cell::Cell;

/// Where the linear map of physical memory starts.
pub const PHYS_OFFSET: u64 = 0xFFFF_8000_0000_0000;
/// Where the kernel image is linked (physical address + this).
pub const KERNEL_BASE: u64 = 0xFFFF_FFFF_8000_0000;

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const NO_CACHE: u64 = 1 << 4;
const HUGE: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;
const PAGE: u64 = 4096;
const LARGE: u64 = 2 << 20;

/// Physical address → pointer through the linear map.
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa + PHYS_OFFSET
}

/// What a mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MapFlags {
    pub write: bool,
    pub execute: bool,
    pub user: bool,
    pub device: bool,
}

impl MapFlags {
    pub const KERNEL_RW: MapFlags = MapFlags {
        write: true,
        execute: false,
        user: false,
        device: false,
    };
    /// Device registers: read-write, never executable, uncached.
    pub const KERNEL_DEVICE: MapFlags = MapFlags {
        write: true,
        execute: false,
        user: false,
        device: true,
    };
    pub const KERNEL_RX: MapFlags = MapFlags {
        write: false,
        execute: true,
        user: false,
        device: false,
    };
    pub const KERNEL_RO: MapFlags = MapFlags {
        write: false,
        execute: false,
        user: false,
        device: false,
    };

    fn entry_bits(self) -> u64 {
        let mut bits = PRESENT;
        if self.write {
            bits |= WRITABLE;
        }
        if !self.execute {
            bits |= NO_EXECUTE;
        }
        if self.user {
            bits |= USER;
        } else {
            bits |= GLOBAL;
        }
        if self.device {
            bits |= NO_CACHE | WRITE_THROUGH;
        }
        bits
    }
}

/// Why a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    WritableExecutable,
    Unaligned,
    AlreadyMapped,
    OutOfMemory,
}

/// One 4-level page table, named by the physical address of its PML4.
pub struct PageTable {
    root: u64,
    /// The 4 KiB leaf table last walked to: (`va >> 21` of the 2 MiB it
    /// covers, its frame). Tables are freed only with the whole space, so
    /// it stays right; a run of pages (a spawn maps a few hundred) skips
    /// the three upper levels after its first.
    last_leaf: Cell<(u64, u64)>,
}

/// `last_leaf` before any walk (no 2 MiB has this tag).
const NO_LEAF: (u64, u64) = (u64::MAX, 0);

fn table(pa: u64) -> *mut u64 {
    phys_to_virt(pa) as *mut u64
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 0x1ff) as usize
}

impl PageTable {
    /// A new table; a user table (`kernel_root` given) shares the kernel's
    /// upper-half entries.
    pub fn new(
        alloc: &mut dyn FnMut() -> Option<u64>,
        kernel_root: Option<u64>,
    ) -> Result<Self, MapError> {
        let root = alloc().ok_or(MapError::OutOfMemory)?;
        // SAFETY: a fresh frame, reached through the linear map, owned by us.
        unsafe { core::ptr::write_bytes(table(root), 0, 512) };
        if let Some(kernel) = kernel_root {
            // SAFETY: both are page tables in RAM; only the upper half is copied.
            unsafe {
                core::ptr::copy_nonoverlapping(table(kernel).add(256), table(root).add(256), 256)
            };
        }
        Ok(PageTable {
            root,
            last_leaf: Cell::new(NO_LEAF),
        })
    }

    /// Physical address of the PML4 (the CR3 value).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Maps `len` bytes from `va` to `pa`; 2 MiB pages where both are aligned
    /// and the mapping is the kernel's.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        flags: MapFlags,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if flags.write && flags.execute {
            return Err(MapError::WritableExecutable);
        }
        if !va.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) {
            return Err(MapError::Unaligned);
        }
        let mut offset = 0;
        while offset < len {
            let (v, p) = (va + offset, pa + offset);
            let large = !flags.user
                && v.is_multiple_of(LARGE)
                && p.is_multiple_of(LARGE)
                && len - offset >= LARGE;
            let level = if large { 1 } else { 0 };
            let entry = self.walk_create(v, level, flags.user, alloc)?;
            // SAFETY: `entry` points into a page table we own.
            unsafe {
                if *entry & PRESENT != 0 {
                    return Err(MapError::AlreadyMapped);
                }
                *entry = p | flags.entry_bits() | if large { HUGE } else { 0 };
            }
            offset += if large { LARGE } else { PAGE };
        }
        Ok(())
    }

    /// Maps 4 KiB user pages at `va` onward, one `(pa, write)` each
    /// (`write` is honoured only where `flags` allow it): [`PageTable::map`]
    /// without its checks for ranges and large pages (the kernel maps user
    /// memory a page at a time, a few hundred pages per spawn). Inside one
    /// leaf table the next page's entry is the next word. `va` page-aligned.
    /// Returns how many pages were mapped, and the error that stopped the run.
    pub fn map_user_pages(
        &mut self,
        va: u64,
        pages: impl Iterator<Item = (u64, bool)>,
        flags: MapFlags,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> (u64, Result<(), MapError>) {
        if flags.write && flags.execute {
            return (0, Err(MapError::WritableExecutable));
        }
        let read_only = MapFlags {
            write: false,
            ..flags
        };
        let bits = [read_only.entry_bits(), flags.entry_bits()];
        let mut entry = core::ptr::null_mut();
        let mut done = 0;
        for (pa, write) in pages {
            let page = va + done * 4096;
            if done == 0 || page & 0x1f_ffff == 0 {
                entry = match self.walk_create(page, 0, true, alloc) {
                    Ok(entry) => entry,
                    Err(e) => return (done, Err(e)),
                };
            } else {
                // SAFETY: `page` is in the same 2 MiB span as the page
                // before it, so its entry is the next one of the same table.
                entry = unsafe { entry.add(1) };
            }
            // SAFETY: `entry` points into a leaf table we own.
            unsafe {
                if *entry & PRESENT != 0 {
                    return (done, Err(MapError::AlreadyMapped));
                }
                *entry = (pa & ADDRESS) | bits[write as usize];
            }
            done += 1;
        }
        (done, Ok(()))
    }

    /// The entry for `va` at `level` (0 = page table), creating tables above it.
    fn walk_create(
        &mut self,
        va: u64,
        level: u32,
        user: bool,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<*mut u64, MapError> {
        let (tag, leaf) = self.last_leaf.get();
        if level == 0 && tag == va >> 21 {
            // SAFETY: a leaf table of this page table (see `last_leaf`).
            return Ok(unsafe { table(leaf).add(index(va, 0)) });
        }
        let mut current = self.root;
        for l in (level + 1..4).rev() {
            // SAFETY: `current` is a page-table frame of this table.
            let entry = unsafe { table(current).add(index(va, l)) };
            // SAFETY: as above.
            let value = unsafe { *entry };
            if value & PRESENT == 0 {
                let next = alloc().ok_or(MapError::OutOfMemory)?;
                // SAFETY: a fresh frame owned by this table from now on.
                unsafe {
                    core::ptr::write_bytes(table(next), 0, 512);
                    *entry = next | PRESENT | WRITABLE | if user { USER } else { 0 };
                }
                current = next;
            } else if value & HUGE != 0 {
                return Err(MapError::AlreadyMapped);
            } else {
                current = value & ADDRESS;
            }
        }
        if level == 0 {
            self.last_leaf.set((va >> 21, current));
        }
        // SAFETY: `current` is the table at `level`.
        Ok(unsafe { table(current).add(index(va, level)) })
    }

    /// The present 4 KiB leaf entry for `va`.
    fn leaf(&self, va: u64) -> Option<*mut u64> {
        let (tag, mut current) = self.last_leaf.get();
        if tag != va >> 21 {
            current = self.root;
            for l in (1..4).rev() {
                // SAFETY: `current` is a page-table frame of this table.
                let value = unsafe { *table(current).add(index(va, l)) };
                if value & PRESENT == 0 || value & HUGE != 0 {
                    return None;
                }
                current = value & ADDRESS;
            }
            self.last_leaf.set((va >> 21, current));
        }
        // SAFETY: as above.
        let entry = unsafe { table(current).add(index(va, 0)) };
        // SAFETY: as above.
        (unsafe { *entry } & PRESENT != 0).then_some(entry)
    }

    /// Unmaps one 4 KiB page; returns the physical address it mapped.
    pub fn unmap_page(&mut self, va: u64) -> Option<u64> {
        let entry = self.leaf(va)?;
        // SAFETY: a present leaf entry of this table.
        let pa = unsafe {
            let pa = *entry & ADDRESS;
            *entry = 0;
            pa
        };
        Some(pa)
    }

    /// Points the present 4 KiB page `va` at `pa` with `flags` in one walk
    /// (the caller invalidates the TLB entry); false, changing nothing, when
    /// `va` maps nothing or `flags` break W^X.
    pub fn remap_page(&mut self, va: u64, pa: u64, flags: MapFlags) -> bool {
        let Some(entry) = self.leaf(va).filter(|_| !(flags.write && flags.execute)) else {
            return false;
        };
        // SAFETY: a present leaf entry of this table.
        unsafe { *entry = (pa & ADDRESS) | flags.entry_bits() };
        true
    }

    /// The user page at `va`: physical address and flags.
    pub fn translate(&self, va: u64) -> Option<(u64, MapFlags)> {
        let entry = self.leaf(va)?;
        // SAFETY: a present leaf entry of this table.
        let value = unsafe { *entry };
        if value & USER == 0 {
            return None;
        }
        Some((
            value & ADDRESS,
            MapFlags {
                write: value & WRITABLE != 0,
                execute: value & NO_EXECUTE == 0,
                user: true,
                device: value & NO_CACHE != 0,
            },
        ))
    }
}

/// The user page at `va` in the table rooted at `root` (read only, for
/// the kernel's look at a trapping instruction).
pub fn translate_user(root: u64, va: u64) -> Option<(u64, MapFlags)> {
    let table = PageTable {
        root,
        last_leaf: Cell::new(NO_LEAF),
    };
    table.translate(va)
}

/// Invalidates one page in the TLB.
pub fn invalidate_page(va: u64) {
    // SAFETY: TLB maintenance has no memory-safety effects.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// The CR3 value in use.
pub fn active_root() -> u64 {
    let value: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value & ADDRESS
}

/// Switches to the table rooted at `root`.
pub fn activate_root(root: u64) {
    // SAFETY: every table shares the kernel's upper half, so kernel code, data
    // and stack stay mapped across the switch.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}
