//! User mode on AArch64: thread contexts (registers, FP/SIMD, TLS), user address
//! spaces with ASIDs, and the path from a trap back into user mode.

use crate::exceptions::TrapFrame;
use crate::mmu::{self, LeafCache, MapFlags, PageTable};
use crate::smp;
use core::arch::asm;
use core::sync::atomic::Ordering;
use spin::Mutex;
use zos_kernel::arch::{AddressSpace, MapError, PageFlags, UserContext, SHARED_FRAME};
use zos_kernel::frame::FrameAllocator;
use zos_kernel::syscall::registers::{aarch64, USER_REGISTERS};

/// The PSTATE bits user mode may set (`ThreadRegisters`): N, Z, C and V.
const USER_PSTATE: u64 = 0xF000_0000;

/// FP/SIMD state: q0–q31, FPCR, FPSR.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FpState {
    pub q: [u128; 32],
    pub fpcr: u64,
    pub fpsr: u64,
}

/// Everything saved of a user thread. `frame` must come first: while the thread
/// runs, SP_EL1 points just past it, so a trap saves the registers in place.
#[repr(C)]
pub struct ThreadContext {
    pub frame: TrapFrame,
    pub fp: FpState,
    pub tpidr_el0: u64,
}

impl UserContext for ThreadContext {
    fn new(entry: u64, stack: u64, arg: u64) -> Self {
        // SPSR 0: EL0t with interrupts unmasked.
        let mut frame = TrapFrame {
            elr: entry,
            sp_el0: stack,
            spsr: 0,
            ..Default::default()
        };
        frame.x[0] = arg;
        ThreadContext {
            frame,
            fp: FpState {
                q: [0; 32],
                fpcr: 0,
                fpsr: 0,
            },
            tpidr_el0: 0,
        }
    }
    fn syscall_number(&self) -> u64 {
        self.frame.x[8]
    }
    fn arg(&self, index: usize) -> u64 {
        self.frame.x.get(index).copied().unwrap_or(0)
    }
    fn set_result(&mut self, index: usize, value: u64) {
        if let Some(reg) = self.frame.x.get_mut(index) {
            *reg = value;
        }
    }
    fn pc(&self) -> u64 {
        self.frame.elr
    }
    fn registers(&self) -> [u64; USER_REGISTERS] {
        let mut words = [0; USER_REGISTERS];
        words[..31].copy_from_slice(&self.frame.x);
        words[aarch64::SP] = self.frame.sp_el0;
        words[aarch64::PC] = self.frame.elr;
        words[aarch64::PSTATE] = self.frame.spsr & USER_PSTATE;
        words
    }
    fn set_registers(&mut self, words: &[u64; USER_REGISTERS]) {
        self.frame.x.copy_from_slice(&words[..31]);
        self.frame.sp_el0 = words[aarch64::SP];
        self.frame.elr = words[aarch64::PC];
        // Only the condition flags are the program's: the exception level,
        // the interrupt masks and the rest stay the kernel's.
        let flags = words[aarch64::PSTATE] & USER_PSTATE;
        self.frame.spsr = self.frame.spsr & !USER_PSTATE | flags;
    }
    fn save_fp(&mut self) {
        save_fp(&mut self.fp);
    }
    fn restore_fp(&self) {
        restore_fp(&self.fp);
    }
    fn save_tls(&mut self) {
        // SAFETY: reading EL0's thread pointer register has no side effects.
        unsafe { asm!("mrs {}, tpidr_el0", out(reg) self.tpidr_el0, options(nostack)) };
    }
    fn restore_tls(&self) {
        // SAFETY: TPIDR_EL0 only affects this thread's own user-mode reads.
        unsafe { asm!("msr tpidr_el0, {}", in(reg) self.tpidr_el0, options(nostack)) };
    }
}

/// Saves the live FP/SIMD registers into `state`.
pub fn save_fp(state: &mut FpState) {
    // SAFETY: stores q0–q31 into a 512-byte aligned array; FP is enabled at EL1.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "stp q0, q1, [{p}, #0]", "stp q2, q3, [{p}, #32]", "stp q4, q5, [{p}, #64]",
            "stp q6, q7, [{p}, #96]", "stp q8, q9, [{p}, #128]", "stp q10, q11, [{p}, #160]",
            "stp q12, q13, [{p}, #192]", "stp q14, q15, [{p}, #224]", "stp q16, q17, [{p}, #256]",
            "stp q18, q19, [{p}, #288]", "stp q20, q21, [{p}, #320]", "stp q22, q23, [{p}, #352]",
            "stp q24, q25, [{p}, #384]", "stp q26, q27, [{p}, #416]", "stp q28, q29, [{p}, #448]",
            "stp q30, q31, [{p}, #480]",
            "mrs {t}, fpcr", "str {t}, [{p}, #512]",
            "mrs {t}, fpsr", "str {t}, [{p}, #520]",
            p = in(reg) state as *mut FpState,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// Loads FP/SIMD registers from `state`.
pub fn restore_fp(state: &FpState) {
    // SAFETY: loads q0–q31 from a 512-byte aligned array; FP is enabled at EL1.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{p}, #0]", "ldp q2, q3, [{p}, #32]", "ldp q4, q5, [{p}, #64]",
            "ldp q6, q7, [{p}, #96]", "ldp q8, q9, [{p}, #128]", "ldp q10, q11, [{p}, #160]",
            "ldp q12, q13, [{p}, #192]", "ldp q14, q15, [{p}, #224]", "ldp q16, q17, [{p}, #256]",
            "ldp q18, q19, [{p}, #288]", "ldp q20, q21, [{p}, #320]", "ldp q22, q23, [{p}, #352]",
            "ldp q24, q25, [{p}, #384]", "ldp q26, q27, [{p}, #416]", "ldp q28, q29, [{p}, #448]",
            "ldp q30, q31, [{p}, #480]",
            "ldr {t}, [{p}, #512]", "msr fpcr, {t}",
            "ldr {t}, [{p}, #520]", "msr fpsr, {t}",
            p = in(reg) state as *const FpState,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// 8-bit ASIDs; 0 means "shared, flush on switch".
static ASIDS: Mutex<[u64; 4]> = Mutex::new([1, 0, 0, 0]);

fn alloc_asid() -> u16 {
    let mut map = ASIDS.lock();
    for word in 0..4 {
        if map[word] != u64::MAX {
            let bit = (!map[word]).trailing_zeros() as usize;
            map[word] |= 1 << bit;
            return (word * 64 + bit) as u16;
        }
    }
    0
}

fn free_asid(asid: u16) {
    if asid != 0 {
        ASIDS.lock()[asid as usize / 64] &= !(1 << (asid % 64));
    }
}

/// A process's user address space.
pub struct UserSpace {
    table: PageTable,
    asid: u16,
    /// Every table frame of this space (root first), so destroying it frees
    /// them without walking all 512 entries of every table.
    tables: alloc::vec::Vec<u64>,
    /// The last-level table used last (runs of pages skip the walk).
    leaf: LeafCache,
}

impl UserSpace {
    /// TTBR0_EL1 value for this space.
    pub fn ttbr0(&self) -> u64 {
        self.table.root() | ((self.asid as u64) << 48)
    }

    pub fn asid(&self) -> u16 {
        self.asid
    }
}

/// Most pages of a run unmapped with one invalidation each; a longer run
/// drops the whole ASID's translations at once (as Linux does past its
/// `MAX_TLBI_OPS`, lower here: QEMU stops every vCPU for each broadcast
/// invalidation, and a spawn made ~98 of them).
const PAGES_INVALIDATED_ONE_BY_ONE: u64 = 4;

/// Drops every translation of `asid` on every CPU.
fn invalidate_asid(asid: u16) {
    // SAFETY: TLB maintenance has no memory-safety effects.
    unsafe {
        asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) (asid as u64) << 48)
    };
}

fn invalidate_page(asid: u16, va: u64) {
    let operand = ((asid as u64) << 48) | ((va >> 12) & 0xFFF_FFFF_FFFF);
    // SAFETY: TLB maintenance has no memory-safety effects.
    unsafe { asm!("dsb ishst", "tlbi vae1is, {}", "dsb ish", "isb", in(reg) operand) };
}

impl AddressSpace for UserSpace {
    fn new(frames: &mut FrameAllocator) -> Result<Self, MapError> {
        let mut alloc = || frames.alloc();
        let table = PageTable::new(&mut alloc, false).map_err(|_| MapError::OutOfMemory)?;
        let root = table.root();
        Ok(UserSpace {
            table,
            asid: alloc_asid(),
            tables: alloc::vec![root],
            leaf: LeafCache::new(),
        })
    }

    fn map(
        &mut self,
        va: u64,
        pages: &[u64],
        flags: PageFlags,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapError> {
        let end = va.checked_add(pages.len() as u64 * 4096);
        if end.is_none_or(|end| end > zos_abi::layout::USER_TOP) {
            return Err(MapError::OutsideUserSpace);
        }
        let tables = &mut self.tables;
        let mut alloc = || {
            let frame = frames.alloc();
            if let Some(frame) = frame {
                tables.push(frame);
            }
            frame
        };
        let map_flags = MapFlags {
            write: flags.write,
            execute: flags.execute,
            user: true,
            device: flags.device,
        };
        let frames_and_write = pages
            .iter()
            .map(|&pa| (pa & !SHARED_FRAME, pa & SHARED_FRAME == 0));
        let (done, result) =
            self.table
                .map_pages(va, frames_and_write, map_flags, &self.leaf, &mut alloc);
        if result.is_err() {
            (0..done).for_each(|i| _ = self.unmap(va + i * 4096));
        }
        result.map_err(|e| match e {
            mmu::MapError::WritableExecutable => MapError::WritableExecutable,
            mmu::MapError::Unaligned => MapError::Unaligned,
            mmu::MapError::AlreadyMapped => MapError::AlreadyMapped,
            mmu::MapError::OutOfMemory => MapError::OutOfMemory,
        })
    }

    fn unmap(&mut self, va: u64) -> Option<u64> {
        let pa = self.table.unmap_page(va, &self.leaf)?;
        invalidate_page(self.asid, va);
        Some(pa)
    }

    fn unmap_run(&mut self, va: u64, pages: u64) {
        if pages <= PAGES_INVALIDATED_ONE_BY_ONE {
            (0..pages).for_each(|page| _ = self.unmap(va + page * 4096));
            return;
        }
        for page in 0..pages {
            self.table.unmap_page(va + page * 4096, &self.leaf);
        }
        invalidate_asid(self.asid);
    }

    fn remap(&mut self, va: u64, pa: u64, flags: PageFlags, _: &mut FrameAllocator) -> bool {
        let flags = MapFlags {
            write: flags.write,
            execute: flags.execute,
            user: true,
            device: flags.device,
        };
        let asid = self.asid;
        (va < zos_abi::layout::USER_TOP)
            && self
                .table
                .remap_page(va, pa, flags, &self.leaf, &|| invalidate_page(asid, va))
    }

    fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        let descriptor = self.table.cached_descriptor(va & !0xfff, &self.leaf)?;
        let flags = PageTable::user_flags(descriptor)?;
        Some((
            PageTable::page_address(descriptor),
            PageFlags {
                write: flags.write,
                execute: flags.execute,
                device: flags.device,
            },
        ))
    }

    fn destroy(self, frames: &mut FrameAllocator) {
        // Another CPU may still run a thread of this space (its process is
        // being killed): it leaves user mode before the tables are freed.
        for cpu in 0..smp::online() {
            let block = smp::block_of(cpu);
            if block.is_some_and(|b| b.active_ttbr0.load(Ordering::Relaxed) == self.ttbr0()) {
                smp::stop_user(cpu);
            }
        }
        invalidate_asid(self.asid);
        if crate::user::active_ttbr0() == self.ttbr0() {
            deactivate();
        }
        free_asid(self.asid);
        frames.free_all(&self.tables);
    }

    fn table_frames(&self) -> usize {
        self.tables.len()
    }
    fn activate(&self) {
        activate(self);
    }
}

pub fn active_ttbr0() -> u64 {
    smp::this().active_ttbr0.load(Ordering::Relaxed)
}

/// Switches TTBR0 to `space` (and enables user-half walks).
pub fn activate(space: &UserSpace) {
    let block = smp::this();
    smp::entering_user(block);
    let ttbr0 = space.ttbr0();
    let active = &block.active_ttbr0;
    if active.load(Ordering::Relaxed) == ttbr0 && space.asid() != 0 {
        return;
    }
    active.store(ttbr0, Ordering::Relaxed);
    // SAFETY: the new table maps only user addresses; kernel code runs from TTBR1.
    unsafe {
        asm!(
            "msr ttbr0_el1, {t}",
            "mrs {tmp}, tcr_el1",
            "bic {tmp}, {tmp}, #(1 << 7)", // EPD0 off: walk TTBR0
            "msr tcr_el1, {tmp}",
            "isb",
            t = in(reg) ttbr0,
            tmp = out(reg) _,
        );
        if space.asid() == 0 {
            asm!("tlbi vmalle1", "dsb ish", "isb");
        }
    }
}

/// Stops walks of the user half: the active space is being destroyed, or
/// the CPU goes idle (another CPU may free the last process's tables while
/// it waits, and a real core may walk TTBR0 speculatively). The next
/// `activate` loads a table and turns walks on again.
pub fn deactivate() {
    if smp::this().active_ttbr0.swap(0, Ordering::Relaxed) == 0 {
        return;
    }
    // SAFETY: only disables TTBR0 walks; kernel code runs from TTBR1.
    unsafe {
        asm!(
            "mrs {tmp}, tcr_el1",
            "orr {tmp}, {tmp}, #(1 << 7)",
            "msr tcr_el1, {tmp}",
            "isb",
            tmp = out(reg) _,
        );
    }
}
