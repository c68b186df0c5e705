//! AArch64 stage-1 translation tables (4 KiB granule, 48-bit VAs, four levels).
//!
//! One mapper serves the kernel's higher-half table (TTBR1) and, from the kernel
//! core issue on, every process's table (TTBR0). Physical memory is reached through
//! a linear map at [`PHYS_OFFSET`]. Writable+executable mappings are refused.

use core::arch::asm;

/// Kernel virtual address of physical address 0.
pub const PHYS_OFFSET: u64 = 0xFFFF_0000_0000_0000;

const VALID: u64 = 1 << 0;
const TABLE: u64 = 1 << 1; // at L0-L2: table; at L3: page
const ATTR_DEVICE: u64 = 1 << 2; // AttrIndx 1 (MAIR attr1 = device nGnRE)
const AP_EL0: u64 = 1 << 6;
const AP_READ_ONLY: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
const NOT_GLOBAL: u64 = 1 << 11;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const ADDR_MASK: u64 = 0x0000_FFFF_FFFF_F000;

/// Physical address → kernel virtual address in the linear map.
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa.wrapping_add(PHYS_OFFSET)
}

/// Kernel virtual address in the linear map → physical address.
pub const fn virt_to_phys(va: u64) -> u64 {
    va.wrapping_sub(PHYS_OFFSET)
}

/// What a mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub const KERNEL_DEVICE: MapFlags = MapFlags {
        write: true,
        execute: false,
        user: false,
        device: true,
    };

    fn descriptor_bits(self) -> u64 {
        let mut bits = ACCESS_FLAG;
        bits |= if self.device { ATTR_DEVICE } else { SH_INNER };
        if !self.write {
            bits |= AP_READ_ONLY;
        }
        if self.user {
            // The kernel never executes user memory.
            bits |= AP_EL0 | NOT_GLOBAL | PXN;
            if !self.execute {
                bits |= UXN;
            }
        } else {
            bits |= UXN;
            if !self.execute {
                bits |= PXN;
            }
        }
        bits
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Writable and executable at once (W^X).
    WritableExecutable,
    /// Address or length not page aligned.
    Unaligned,
    /// Part of the range is already mapped.
    AlreadyMapped,
    /// No frame for a page table.
    OutOfMemory,
}

/// A translation table tree, owned by its root's physical address.
pub struct PageTable {
    root: u64,
    /// Whether 2 MiB / 1 GiB blocks may be used (kernel tables only).
    allow_blocks: bool,
}

fn table_entries(table_pa: u64) -> *mut u64 {
    phys_to_virt(table_pa) as *mut u64
}

impl PageTable {
    /// A new empty table; `frame` supplies zeroed-on-use frames.
    pub fn new(
        frame: &mut dyn FnMut() -> Option<u64>,
        allow_blocks: bool,
    ) -> Result<Self, MapError> {
        let root = new_table(frame)?;
        Ok(Self { root, allow_blocks })
    }

    /// Physical address of the root table (for TTBRn).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Maps `[va, va+len)` to `[pa, pa+len)`.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        flags: MapFlags,
        frame: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if flags.write && flags.execute {
            return Err(MapError::WritableExecutable);
        }
        if (va | pa | len) & 0xfff != 0 {
            return Err(MapError::Unaligned);
        }
        let bits = flags.descriptor_bits();
        let mut offset = 0;
        while offset < len {
            let (v, p, left) = (va + offset, pa + offset, len - offset);
            let level = self.best_level(v, p, left);
            let size = 1u64 << level_shift(level);
            let entry = self.walk_create(v, level, frame)?;
            // SAFETY: `entry` points into a table frame reached through the linear map.
            unsafe {
                if *entry & VALID != 0 {
                    return Err(MapError::AlreadyMapped);
                }
                let kind = if level == 3 { VALID | TABLE } else { VALID };
                *entry = (p & ADDR_MASK) | bits | kind;
            }
            offset += size;
        }
        Ok(())
    }

    fn best_level(&self, va: u64, pa: u64, left: u64) -> usize {
        if self.allow_blocks {
            for level in [1, 2] {
                let size = 1u64 << level_shift(level);
                if (va | pa) & (size - 1) == 0 && left >= size {
                    return level;
                }
            }
        }
        3
    }

    /// Returns the entry for `va` at `level`, creating intermediate tables.
    fn walk_create(
        &mut self,
        va: u64,
        level: usize,
        frame: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<*mut u64, MapError> {
        let mut table = self.root;
        for current in 0..level {
            let entry = index_entry(table, va, current);
            // SAFETY: table frames are valid, reached through the linear map.
            let value = unsafe { *entry };
            if value & VALID == 0 {
                let next = new_table(frame)?;
                // SAFETY: as above.
                unsafe { *entry = next | VALID | TABLE };
                table = next;
            } else if value & TABLE == 0 {
                return Err(MapError::AlreadyMapped); // a block covers it
            } else {
                table = value & ADDR_MASK;
            }
        }
        Ok(index_entry(table, va, level))
    }
}

fn level_shift(level: usize) -> u32 {
    39 - 9 * level as u32
}

fn index_entry(table: u64, va: u64, level: usize) -> *mut u64 {
    let index = (va >> level_shift(level)) & 0x1ff;
    // SAFETY: index < 512 stays inside the 4 KiB table.
    unsafe { table_entries(table).add(index as usize) }
}

fn new_table(frame: &mut dyn FnMut() -> Option<u64>) -> Result<u64, MapError> {
    let pa = frame().ok_or(MapError::OutOfMemory)?;
    crate::cpu::zero_frame(phys_to_virt(pa));
    Ok(pa)
}

/// Switches the kernel half to `table` and turns off walks of the user half until
/// a process runs.
pub fn activate_kernel_table(table: &PageTable) {
    // SAFETY: the new table maps the kernel image, stack and linear map at the same
    // addresses as the boot table, so execution continues seamlessly.
    unsafe {
        asm!(
            "dsb ishst",
            "msr ttbr1_el1, {root}",
            "mrs {tmp}, tcr_el1",
            "orr {tmp}, {tmp}, #(1 << 7)", // EPD0: no TTBR0 walks
            "msr tcr_el1, {tmp}",
            "isb",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            root = in(reg) table.root(),
            tmp = out(reg) _,
        );
    }
}

/// Turns off walks of the user half on this CPU (a secondary CPU after its
/// start through the boot identity map) and drops what the TLB holds.
pub fn user_walks_off() {
    // SAFETY: the kernel runs from TTBR1; TTBR0 walks are not needed.
    unsafe {
        asm!(
            "mrs {tmp}, tcr_el1",
            "orr {tmp}, {tmp}, #(1 << 7)", // EPD0
            "msr tcr_el1, {tmp}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            tmp = out(reg) _,
        );
    }
}

/// The last-level table a page table tree used last, by the 2 MiB span of
/// addresses it serves: pages are mapped, remapped and looked up in runs,
/// and a hit skips the three-level walk. Valid because a user tree frees
/// its tables only with the whole tree.
pub struct LeafCache(core::cell::Cell<(u64, u64)>);

impl LeafCache {
    pub const fn new() -> Self {
        Self(core::cell::Cell::new((u64::MAX, 0)))
    }

    fn table_for(&self, va: u64) -> Option<u64> {
        let (span, table) = self.0.get();
        (span == va >> 21).then_some(table)
    }

    fn remember(&self, va: u64, entry: *mut u64) {
        self.0.set((va >> 21, virt_to_phys(entry as u64) & !0xfff));
    }
}

impl Default for LeafCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PageTable {
    /// The last-level entry for page `va`, if the tables above it exist.
    fn leaf_entry(&self, va: u64) -> Option<*mut u64> {
        let mut table = self.root;
        for level in 0..3 {
            let entry = index_entry(table, va, level);
            // SAFETY: table frames are valid, reached through the linear map.
            let value = unsafe { *entry };
            if value & VALID == 0 || value & TABLE == 0 {
                return None; // unmapped, or a block (user tables have none)
            }
            table = value & ADDR_MASK;
        }
        Some(index_entry(table, va, 3))
    }

    /// [`Self::leaf_entry`] through `cache` (a user tree's).
    fn cached_leaf_entry(&self, va: u64, cache: &LeafCache) -> Option<*mut u64> {
        if let Some(table) = cache.table_for(va) {
            return Some(index_entry(table, va, 3));
        }
        let entry = self.leaf_entry(va)?;
        cache.remember(va, entry);
        Some(entry)
    }

    /// Maps 4 KiB pages at `va` onward in a user tree (no blocks), one
    /// `(pa, write)` each (`write` is honoured only where `flags` allow it),
    /// making the tables above them when missing. `cache` skips the walk
    /// for a run that goes on in the last leaf table, and inside one leaf
    /// table the next page's entry is the next word. Returns how many
    /// pages were mapped, and the error that stopped the run.
    pub fn map_pages(
        &mut self,
        va: u64,
        pages: impl Iterator<Item = (u64, bool)>,
        flags: MapFlags,
        cache: &LeafCache,
        frame: &mut dyn FnMut() -> Option<u64>,
    ) -> (u64, Result<(), MapError>) {
        if va & 0xfff != 0 {
            return (0, Err(MapError::Unaligned));
        }
        if flags.write && flags.execute {
            return (0, Err(MapError::WritableExecutable));
        }
        let read_only = MapFlags {
            write: false,
            ..flags
        };
        let bits =
            [read_only.descriptor_bits(), flags.descriptor_bits()].map(|b| b | VALID | TABLE);
        let mut entry = core::ptr::null_mut();
        let mut done = 0;
        for (pa, write) in pages {
            let page = va + done * 4096;
            if pa & 0xfff != 0 {
                return (done, Err(MapError::Unaligned));
            }
            if done == 0 || page & 0x1f_ffff == 0 {
                entry = match cache.table_for(page) {
                    Some(table) => index_entry(table, page, 3),
                    None => match self.walk_create(page, 3, frame) {
                        Ok(entry) => {
                            cache.remember(page, entry);
                            entry
                        }
                        Err(e) => return (done, Err(e)),
                    },
                };
            } else {
                // SAFETY: `page` is in the same 2 MiB span as the page
                // before it, so its entry is the next one of the same table.
                entry = unsafe { entry.add(1) };
            }
            // SAFETY: `entry` points into a table frame reached through the
            // linear map (the cache names only tables of this tree).
            unsafe {
                if *entry & VALID != 0 {
                    return (done, Err(MapError::AlreadyMapped));
                }
                *entry = (pa & ADDR_MASK) | bits[write as usize];
            }
            done += 1;
        }
        (done, Ok(()))
    }

    /// The descriptor mapping page `va` in a user tree, if any.
    pub fn cached_descriptor(&self, va: u64, cache: &LeafCache) -> Option<u64> {
        let entry = self.cached_leaf_entry(va, cache)?;
        // SAFETY: as in `leaf_entry`.
        let value = unsafe { *entry };
        (value & VALID != 0).then_some(value)
    }

    /// Clears the mapping of page `va`; returns the physical address it had.
    pub fn unmap_page(&mut self, va: u64, cache: &LeafCache) -> Option<u64> {
        let entry = self.cached_leaf_entry(va, cache)?;
        // SAFETY: as in `leaf_entry`.
        unsafe {
            let value = *entry;
            if value & VALID == 0 {
                return None;
            }
            *entry = 0;
            Some(value & ADDR_MASK)
        }
    }

    /// Points the valid 4 KiB page `va` at `pa` with `flags` in one walk;
    /// `invalidate` is the TLB maintenance for `va`. A new frame is written
    /// break-before-make (the old descriptor cleared and invalidated first);
    /// new permissions on the same frame need no break (the architecture
    /// asks for one only when the output address, memory type or size
    /// changes), so the descriptor is rewritten and then invalidated, and
    /// another CPU's thread never finds the page missing. False, changing
    /// nothing, when `va` maps nothing or `flags` break W^X.
    pub fn remap_page(
        &mut self,
        va: u64,
        pa: u64,
        flags: MapFlags,
        cache: &LeafCache,
        invalidate: &dyn Fn(),
    ) -> bool {
        let Some(entry) = self.cached_leaf_entry(va, cache) else {
            return false;
        };
        let descriptor = (pa & ADDR_MASK) | flags.descriptor_bits() | VALID | TABLE;
        // SAFETY: as in `leaf_entry`.
        unsafe {
            let old = *entry;
            if old & VALID == 0 || (flags.write && flags.execute) {
                return false;
            }
            if old & ADDR_MASK != pa & ADDR_MASK || (old ^ descriptor) & ATTR_DEVICE != 0 {
                *entry = 0;
                invalidate();
                *entry = descriptor;
                asm!("dsb ishst", "isb");
            } else {
                *entry = descriptor;
                invalidate();
            }
        }
        true
    }

    /// Decodes user permission bits of a page descriptor.
    pub fn user_flags(descriptor: u64) -> Option<MapFlags> {
        if descriptor & AP_EL0 == 0 {
            return None;
        }
        Some(MapFlags {
            write: descriptor & AP_READ_ONLY == 0,
            execute: descriptor & UXN == 0,
            user: true,
            device: descriptor & ATTR_DEVICE != 0,
        })
    }

    pub fn page_address(descriptor: u64) -> u64 {
        descriptor & ADDR_MASK
    }
}
