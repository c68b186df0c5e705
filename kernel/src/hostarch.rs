//! A host backend of the arch interface, for unit tests of the kernel core.
//!
//! Physical memory is a 64 MiB buffer per test thread starting at [`RAM_BASE`];
//! page tables are a map from page to (frame, flags) that takes one frame for a
//! root table and one per 2 MiB region touched, so frame accounting behaves like
//! a real backend's. The clock, the console and interrupt masks are per-thread
//! state a test can set and inspect. Nothing here is built outside `cfg(test)`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::vec::Vec;

use crate::arch::{AddressSpace, MapError, PageFlags, Platform, UserContext, SHARED_FRAME};
use crate::frame::FrameAllocator;
use crate::syscall::registers::USER_REGISTERS;
use crate::usercopy::USER_TOP;

/// First physical address of the simulated RAM.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Size of the simulated RAM.
pub const RAM_SIZE: u64 = 64 << 20;
const PAGE: u64 = 4096;
/// Address range one leaf page table covers.
const TABLE_SPAN: u64 = 2 << 20;

thread_local! {
    static RAM: RefCell<Vec<u8>> = RefCell::new(std::vec![0u8; RAM_SIZE as usize]);
    static UPTIME: Cell<u64> = const { Cell::new(0) };
    static CONSOLE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static IRQS: RefCell<BTreeMap<u32, bool>> = const { RefCell::new(BTreeMap::new()) };
}

/// A frame allocator over this thread's simulated RAM, every frame free.
pub fn frame_allocator() -> FrameAllocator {
    let span = RAM_BASE..RAM_BASE + RAM_SIZE;
    let words = FrameAllocator::bitmap_words(&span);
    let bitmap = std::boxed::Box::leak(std::vec![0u64; words].into_boxed_slice());
    let mut frames = FrameAllocator::new(span.clone(), bitmap);
    frames.add_free(span);
    frames
}

/// Sets what `uptime_ns` returns on this thread.
pub fn set_uptime(ns: u64) {
    UPTIME.with(|u| u.set(ns));
}

/// Takes everything written to the console on this thread so far.
pub fn take_console() -> Vec<u8> {
    CONSOLE.with(|c| core::mem::take(&mut *c.borrow_mut()))
}

/// Whether `irq` was last enabled (`None`: never touched).
pub fn irq_enabled(irq: u32) -> Option<bool> {
    IRQS.with(|i| i.borrow().get(&irq).copied())
}

/// The host platform: simulated RAM, clock, console and interrupt controller.
#[derive(Default)]
pub struct HostPlatform;

impl spin::RelaxStrategy for HostPlatform {
    fn relax() {
        core::hint::spin_loop();
    }
}

impl Platform for HostPlatform {
    type Space = HostSpace;
    type Context = HostContext;

    fn console_write(bytes: &[u8]) {
        CONSOLE.with(|c| c.borrow_mut().extend_from_slice(bytes));
    }

    fn uptime_ns() -> u64 {
        UPTIME.with(|u| u.get())
    }

    fn clock() -> [u64; 3] {
        [Self::uptime_ns(), 0, 0]
    }

    fn irq_set_enabled(irq: u32, enabled: bool) {
        IRQS.with(|i| i.borrow_mut().insert(irq, enabled));
    }

    fn power_off() -> ! {
        panic!("host platform: power_off called");
    }

    fn reset() -> ! {
        panic!("host platform: reset called");
    }

    fn take_interrupts(_handle: &mut dyn FnMut(crate::arch::Interrupt)) {}

    fn wait_for_interrupt() {}

    fn fp_enable(_enabled: bool) {}

    fn phys_to_ptr(pa: u64) -> *mut u8 {
        assert!(
            (RAM_BASE..RAM_BASE + RAM_SIZE).contains(&pa),
            "kernel touched physical address {pa:#x} outside RAM"
        );
        let offset = (pa - RAM_BASE) as usize;
        // The buffer is never resized, so its heap block stays put for the life of
        // the thread; the pointer is valid as long as the test runs.
        RAM.with(|ram| ram.borrow_mut()[offset..].as_mut_ptr())
    }
}

/// A simulated user address space.
pub struct HostSpace {
    pages: BTreeMap<u64, (u64, PageFlags)>,
    /// The root table frame.
    root: u64,
    /// Leaf table frame of each 2 MiB region touched, by region index.
    tables: BTreeMap<u64, u64>,
}

impl HostSpace {
    /// Pages mapped.
    pub fn mapped_pages(&self) -> usize {
        self.pages.len()
    }

    /// Maps one page `va` → `pa`.
    fn map_page(
        &mut self,
        va: u64,
        pa: u64,
        flags: PageFlags,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapError> {
        if flags.write && flags.execute {
            return Err(MapError::WritableExecutable);
        }
        if !va.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) {
            return Err(MapError::Unaligned);
        }
        if va >= USER_TOP {
            return Err(MapError::OutsideUserSpace);
        }
        if self.pages.contains_key(&va) {
            return Err(MapError::AlreadyMapped);
        }
        let region = va / TABLE_SPAN;
        if let std::collections::btree_map::Entry::Vacant(entry) = self.tables.entry(region) {
            entry.insert(frames.alloc().ok_or(MapError::OutOfMemory)?);
        }
        self.pages.insert(va, (pa, flags));
        Ok(())
    }
}

impl AddressSpace for HostSpace {
    fn new(frames: &mut FrameAllocator) -> Result<Self, MapError> {
        let root = frames.alloc().ok_or(MapError::OutOfMemory)?;
        Ok(HostSpace {
            pages: BTreeMap::new(),
            root,
            tables: BTreeMap::new(),
        })
    }

    fn map(
        &mut self,
        va: u64,
        pages: &[u64],
        flags: PageFlags,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapError> {
        for (done, &pa) in (0u64..).zip(pages) {
            let write = flags.write && pa & SHARED_FRAME == 0;
            let page_flags = PageFlags { write, ..flags };
            let mapped = self.map_page(va + done * PAGE, pa & !SHARED_FRAME, page_flags, frames);
            if let Err(e) = mapped {
                (0..done).for_each(|i| _ = self.unmap(va + i * PAGE));
                return Err(e);
            }
        }
        Ok(())
    }

    fn unmap(&mut self, va: u64) -> Option<u64> {
        self.pages.remove(&va).map(|(pa, _)| pa)
    }

    fn unmap_run(&mut self, va: u64, pages: u64) {
        (0..pages).for_each(|page| _ = self.unmap(va + page * PAGE));
    }

    fn remap(&mut self, va: u64, pa: u64, flags: PageFlags, frames: &mut FrameAllocator) -> bool {
        self.unmap(va).is_some() && self.map_page(va, pa, flags, frames).is_ok()
    }

    fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        self.pages.get(&(va & !(PAGE - 1))).copied()
    }

    fn destroy(self, frames: &mut FrameAllocator) {
        for frame in self.tables.into_values().chain([self.root]) {
            frames
                .free(frame)
                .expect("host page-table frame freed twice");
        }
    }

    fn table_frames(&self) -> usize {
        1 + self.tables.len()
    }

    fn activate(&self) {}
}

/// Saved registers of a simulated thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostContext {
    pub regs: [u64; 31],
    pub pc: u64,
    pub sp: u64,
}

impl UserContext for HostContext {
    fn new(entry: u64, stack: u64, arg: u64) -> Self {
        let mut regs = [0; 31];
        regs[0] = arg;
        HostContext {
            regs,
            pc: entry,
            sp: stack,
        }
    }

    fn syscall_number(&self) -> u64 {
        self.regs[8]
    }

    fn arg(&self, index: usize) -> u64 {
        self.regs.get(index).copied().unwrap_or(0)
    }

    fn set_result(&mut self, index: usize, value: u64) {
        if let Some(reg) = self.regs.get_mut(index) {
            *reg = value;
        }
    }

    fn pc(&self) -> u64 {
        self.pc
    }

    fn registers(&self) -> [u64; USER_REGISTERS] {
        let mut words = [0; USER_REGISTERS];
        words[..31].copy_from_slice(&self.regs);
        (words[31], words[32]) = (self.sp, self.pc);
        words
    }

    fn set_registers(&mut self, words: &[u64; USER_REGISTERS]) {
        self.regs.copy_from_slice(&words[..31]);
        (self.sp, self.pc) = (words[31], words[32]);
    }

    fn save_fp(&mut self) {}

    fn restore_fp(&self) {}

    fn save_tls(&mut self) {}

    fn restore_tls(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_maps_and_counts_tables() {
        let mut frames = frame_allocator();
        let baseline = frames.free_frames();
        let mut space = HostSpace::new(&mut frames).expect("space");
        let rw = PageFlags {
            write: true,
            ..PageFlags::default()
        };
        space
            .map(0x1000, &[RAM_BASE], rw, &mut frames)
            .expect("map");
        space
            .map(0x2000, &[RAM_BASE], rw, &mut frames)
            .expect("map");
        space
            .map(0x40_0000, &[RAM_BASE], PageFlags::default(), &mut frames)
            .expect("map");
        assert_eq!(space.table_frames(), 3);
        assert_eq!(frames.free_frames(), baseline - 3);
        assert_eq!(
            space.map(0x1000, &[RAM_BASE], rw, &mut frames),
            Err(MapError::AlreadyMapped)
        );
        let wx = PageFlags {
            write: true,
            execute: true,
            device: false,
        };
        assert_eq!(
            space.map(0x3000, &[RAM_BASE], wx, &mut frames),
            Err(MapError::WritableExecutable)
        );
        assert_eq!(space.translate(0x1234), Some((RAM_BASE, rw)));
        // A range that meets a mapped page leaves none of itself behind;
        // a frame marked shared is mapped without write.
        let range = [
            RAM_BASE + PAGE,
            (RAM_BASE + 2 * PAGE) | SHARED_FRAME,
            RAM_BASE,
        ];
        assert_eq!(space.map(0x5000, &range, rw, &mut frames), Ok(()));
        let read_only = PageFlags::default();
        assert_eq!(
            space.translate(0x6000),
            Some((RAM_BASE + 2 * PAGE, read_only))
        );
        assert_eq!(
            space.map(0x4000, &range, rw, &mut frames),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(space.translate(0x4000), None);
        assert_eq!(space.unmap(0x1000), Some(RAM_BASE));
        assert_eq!(space.translate(0x1000), None);
        space.destroy(&mut frames);
        assert_eq!(frames.free_frames(), baseline);
    }

    #[test]
    fn ram_is_shared_through_phys_to_ptr() {
        let p = HostPlatform::phys_to_ptr(RAM_BASE + 0x1000);
        // SAFETY: inside the simulated RAM of this thread.
        unsafe { p.write(42) };
        // SAFETY: as above.
        assert_eq!(
            unsafe { HostPlatform::phys_to_ptr(RAM_BASE + 0x1000).read() },
            42
        );
    }
}
