//! User mode on x86_64: thread contexts (registers, x87/SSE state through
//! `fxsave`/`fxrstor`, the FS base as thread pointer) and user address spaces.
//!
//! I/O ports reach user mode as device memory (`zos_abi::layout::
//! IO_PORT_WINDOW`): mapping a page of the port window sets no page-table
//! entry but clears the port's bit in the space's I/O permission bitmap, which
//! `activate` loads into the TSS.

use crate::cpu::{self, IOPB_BYTES, IO_PORTS, MSR_FS_BASE, USER_CS, USER_DS};
use crate::exceptions::TrapFrame;
use crate::mmu::{self, MapFlags, PageTable};
use crate::smp;
use core::arch::asm;
use core::sync::atomic::Ordering;
use x86_64::registers::model_specific::Msr;
use zos_kernel::arch::{AddressSpace, MapError, PageFlags, UserContext, SHARED_FRAME};
use zos_kernel::frame::FrameAllocator;
use zos_kernel::syscall::registers::x86_64::{RFLAGS, RIP, RSP};
use zos_kernel::syscall::registers::USER_REGISTERS;

/// The `fxsave` area: x87, MMX and SSE registers.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FpState(pub [u8; 512]);

impl FpState {
    /// x87 control word 0x37f (all exceptions masked), MXCSR 0x1f80 (likewise).
    fn initial() -> Self {
        let mut area = [0u8; 512];
        area[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        FpState(area)
    }
}

/// Everything saved of a user thread. `frame` must come first: while the
/// thread runs, TSS.rsp0 points just past it, so a trap saves in place.
#[repr(C)]
pub struct ThreadContext {
    pub frame: TrapFrame,
    pub fp: FpState,
    pub fs_base: u64,
}

/// RFLAGS of a new thread: interrupts on (bit 1 is always set).
const USER_RFLAGS: u64 = 0x202;
/// The RFLAGS bits user mode may set (`ThreadRegisters`): CF, PF, AF, ZF,
/// SF, DF, OF and AC. Not TF (single steps trap to the kernel), IF or IOPL.
const USER_FLAGS: u64 = 0x4_0CD5;
/// The first address past user space (and the canonical lower half).
const USER_LIMIT: u64 = 0x0000_8000_0000_0000;

impl UserContext for ThreadContext {
    fn new(entry: u64, stack: u64, arg: u64) -> Self {
        // A called function finds its stack 8 bytes below 16-byte alignment.
        let frame = TrapFrame {
            rip: entry,
            rsp: (stack & !0xf).wrapping_sub(8),
            rdi: arg,
            cs: USER_CS,
            ss: USER_DS,
            rflags: USER_RFLAGS,
            ..Default::default()
        };
        ThreadContext {
            frame,
            fp: FpState::initial(),
            fs_base: 0,
        }
    }
    fn syscall_number(&self) -> u64 {
        self.frame.rax
    }
    fn arg(&self, index: usize) -> u64 {
        let f = &self.frame;
        match index {
            0 => f.rdi,
            1 => f.rsi,
            2 => f.rdx,
            3 => f.r10,
            4 => f.r8,
            5 => f.r9,
            _ => 0,
        }
    }
    fn set_result(&mut self, index: usize, value: u64) {
        let f = &mut self.frame;
        match index {
            0 => f.rax = value,
            1 => f.rdi = value,
            2 => f.rsi = value,
            3 => f.rdx = value,
            4 => f.r10 = value,
            5 => f.r8 = value,
            6 => f.r9 = value,
            _ => {}
        }
    }
    fn pc(&self) -> u64 {
        self.frame.rip
    }
    fn registers(&self) -> [u64; USER_REGISTERS] {
        let f = &self.frame;
        let mut words = [0; USER_REGISTERS];
        words[..RFLAGS + 1].copy_from_slice(&[
            f.rax,
            f.rbx,
            f.rcx,
            f.rdx,
            f.rsi,
            f.rdi,
            f.rbp,
            f.rsp,
            f.r8,
            f.r9,
            f.r10,
            f.r11,
            f.r12,
            f.r13,
            f.r14,
            f.r15,
            f.rip,
            f.rflags & USER_FLAGS,
        ]);
        words
    }
    fn set_registers(&mut self, w: &[u64; USER_REGISTERS]) {
        // A non-canonical address would fault `iretq` in the kernel: it
        // becomes 0, which faults in user mode instead.
        let user = |address: u64| if address < USER_LIMIT { address } else { 0 };
        let f = &mut self.frame;
        [f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp] =
            [w[0], w[1], w[2], w[3], w[4], w[5], w[6]];
        [f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15] =
            [w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]];
        (f.rsp, f.rip) = (user(w[RSP]), user(w[RIP]));
        f.rflags = USER_RFLAGS | w[RFLAGS] & USER_FLAGS;
    }
    fn save_fp(&mut self) {
        // SAFETY: `fxsave` stores 512 bytes into a 16-byte aligned area we own;
        // CR4.OSFXSR is set at boot, CR0.TS is clear (`fp_enable(true)`).
        unsafe { asm!("fxsave64 [{}]", in(reg) self.fp.0.as_mut_ptr(), options(nostack)) };
    }
    fn restore_fp(&self) {
        // SAFETY: `fxrstor` loads an area that `fxsave` wrote or `initial` made
        // valid; CR0.TS is clear.
        unsafe { asm!("fxrstor64 [{}]", in(reg) self.fp.0.as_ptr(), options(nostack)) };
    }
    fn save_tls(&mut self) {
        // SAFETY: reading the FS base MSR (the thread pointer) has no side effects.
        self.fs_base = unsafe { Msr::new(MSR_FS_BASE).read() };
    }
    fn restore_tls(&self) {
        // SAFETY: a user-chosen FS base can only affect user-mode accesses.
        unsafe { Msr::new(MSR_FS_BASE).write(self.fs_base) };
    }
}

/// A process's user address space.
pub struct UserSpace {
    table: PageTable,
    /// Every table frame of this space (root first), for freeing and quotas.
    tables: alloc::vec::Vec<u64>,
    /// I/O ports granted by mapping pages of the port window: (page, port).
    ports: alloc::vec::Vec<(u64, u16)>,
    /// The I/O permission bitmap those make (a set bit denies the port).
    iopb: [u8; IOPB_BYTES],
}

/// Whose bitmap a CPU's TSS holds (`PerCpu::iopb_owner`): a page-table
/// root, [`NO_PORTS`] for the all-denied bitmap, or [`STALE`] when it must
/// be reloaded.
const NO_PORTS: u64 = 0;
const STALE: u64 = u64::MAX;

/// The bitmap of table `root` changed: every CPU holding it or running that
/// space reloads it before it next enters user mode, and has left user mode
/// when this returns (a revoked port is denied at once, a granted one is
/// there for every thread of the process).
fn iopb_changed(root: u64) {
    for (cpu, block) in smp::online_blocks().iter().enumerate() {
        if block.iopb_owner.load(Ordering::Relaxed) == root || smp::has_loaded(block, root) {
            block.iopb_owner.store(STALE, Ordering::Relaxed);
            smp::stop_user(cpu);
        }
    }
}

/// A frame for a new page table of a space whose tables are `tables`.
fn table_frame<'a>(
    frames: &'a mut FrameAllocator,
    tables: &'a mut alloc::vec::Vec<u64>,
) -> impl FnMut() -> Option<u64> + 'a {
    move || {
        let frame = frames.alloc();
        if let Some(frame) = frame {
            tables.push(frame);
        }
        frame
    }
}

fn kernel_error(e: mmu::MapError) -> MapError {
    match e {
        mmu::MapError::WritableExecutable => MapError::WritableExecutable,
        mmu::MapError::Unaligned => MapError::Unaligned,
        mmu::MapError::AlreadyMapped => MapError::AlreadyMapped,
        mmu::MapError::OutOfMemory => MapError::OutOfMemory,
    }
}

impl UserSpace {
    /// Maps device pages one at a time: a page of the I/O-port window
    /// grants its port, any other maps the device's registers. Returns how
    /// many were mapped, and the error that stopped the run.
    fn map_device(
        &mut self,
        va: u64,
        pages: &[u64],
        flags: MapFlags,
        frames: &mut FrameAllocator,
    ) -> (u64, Result<(), MapError>) {
        for (done, &pa) in (0u64..).zip(pages) {
            let page = va + done * 4096;
            let mapped = if pa >= zos_abi::layout::IO_PORT_WINDOW {
                self.set_port(page, pa, true)
            } else {
                let (tables, table) = (&mut self.tables, &mut self.table);
                let one = core::iter::once((pa, true));
                let (_, result) =
                    table.map_user_pages(page, one, flags, &mut table_frame(frames, tables));
                result.map_err(kernel_error)
            };
            if let Err(e) = mapped {
                return (done, Err(e));
            }
        }
        (pages.len() as u64, Ok(()))
    }

    /// Grants (or takes back) the I/O port behind window page `pa`.
    fn set_port(&mut self, va: u64, pa: u64, granted: bool) -> Result<(), MapError> {
        let port = match zos_abi::layout::io_port(pa) {
            Some(port) if (port as usize) < IO_PORTS => port,
            _ => return Err(MapError::OutsideUserSpace),
        };
        let (byte, bit) = (port as usize / 8, port % 8);
        if granted {
            if self.ports.iter().any(|&(v, _)| v == va) {
                return Err(MapError::AlreadyMapped);
            }
            self.ports.push((va, port));
            self.iopb[byte] &= !(1 << bit);
        } else {
            self.ports.retain(|&(v, _)| v != va);
            if !self.ports.iter().any(|&(_, p)| p == port) {
                self.iopb[byte] |= 1 << bit;
            }
        }
        iopb_changed(self.table.root());
        Ok(())
    }
}

impl UserSpace {
    /// Drops page `va` from every CPU's TLB that may hold this space's.
    fn invalidate(&self, va: u64) {
        let root = self.table.root();
        if smp::active_root() == root {
            mmu::invalidate_page(va);
        }
        smp::shoot_down(root);
    }
}

impl AddressSpace for UserSpace {
    fn new(frames: &mut FrameAllocator) -> Result<Self, MapError> {
        smp::take_retired(&mut |frame| {
            let _ = frames.free(frame);
        });
        let mut alloc = || frames.alloc();
        let table = PageTable::new(&mut alloc, Some(crate::kernel_root()))
            .map_err(|_| MapError::OutOfMemory)?;
        let root = table.root();
        Ok(UserSpace {
            table,
            tables: alloc::vec![root],
            ports: alloc::vec::Vec::new(),
            iopb: [0xff; IOPB_BYTES],
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
        let map_flags = MapFlags {
            write: flags.write,
            execute: flags.execute,
            user: true,
            device: flags.device,
        };
        let (done, result) = if flags.device {
            self.map_device(va, pages, map_flags, frames)
        } else {
            let frames_and_write = pages
                .iter()
                .map(|&pa| (pa & !SHARED_FRAME, pa & SHARED_FRAME == 0));
            let (tables, table) = (&mut self.tables, &mut self.table);
            let (done, result) = table.map_user_pages(
                va,
                frames_and_write,
                map_flags,
                &mut table_frame(frames, tables),
            );
            (done, result.map_err(kernel_error))
        };
        if result.is_err() {
            (0..done).for_each(|i| _ = self.unmap(va + i * 4096));
        }
        result
    }

    fn unmap(&mut self, va: u64) -> Option<u64> {
        if let Some(&(_, port)) = self.ports.iter().find(|&&(v, _)| v == va) {
            let pa = zos_abi::layout::IO_PORT_WINDOW + ((port as u64) << 12);
            let _ = self.set_port(va, pa, false);
            return Some(pa);
        }
        let pa = self.table.unmap_page(va)?;
        self.invalidate(va);
        Some(pa)
    }

    fn unmap_run(&mut self, va: u64, pages: u64) {
        let root = self.table.root();
        let mut unmapped = false;
        for page in (0..pages).map(|i| va + i * 4096) {
            if self.ports.iter().any(|&(v, _)| v == page) {
                let _ = self.unmap(page);
            } else if self.table.unmap_page(page).is_some() {
                unmapped = true;
                if smp::active_root() == root {
                    mmu::invalidate_page(page);
                }
            }
        }
        // One shootdown for the run: each is an IPI to, and a wait for,
        // every other CPU with the table loaded.
        if unmapped {
            smp::shoot_down(root);
        }
    }

    fn remap(&mut self, va: u64, pa: u64, flags: PageFlags, frames: &mut FrameAllocator) -> bool {
        if flags.device || self.ports.iter().any(|&(v, _)| v == va) {
            return self.unmap(va).is_some() && self.map(va, &[pa], flags, frames).is_ok();
        }
        let flags = MapFlags {
            write: flags.write,
            execute: flags.execute,
            user: true,
            device: false,
        };
        if va >= zos_abi::layout::USER_TOP || !self.table.remap_page(va, pa, flags) {
            return false;
        }
        self.invalidate(va);
        true
    }

    fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        if let Some(&(_, port)) = self.ports.iter().find(|&&(v, _)| v == va & !0xfff) {
            let device = PageFlags {
                write: true,
                execute: false,
                device: true,
            };
            return Some((
                zos_abi::layout::IO_PORT_WINDOW + ((port as u64) << 12),
                device,
            ));
        }
        let (pa, flags) = self.table.translate(va & !0xfff)?;
        Some((
            pa,
            PageFlags {
                write: flags.write,
                execute: flags.execute,
                device: flags.device,
            },
        ))
    }

    fn destroy(self, frames: &mut FrameAllocator) {
        let root = self.table.root();
        iopb_changed(root);
        // Another CPU may still run a thread of this space (its process is
        // being killed): it leaves user mode before the tables are freed.
        // If it still has the root loaded (waiting for the lock), the root
        // (which holds the kernel half it runs on) stays until it moves on.
        smp::shoot_down(root);
        if smp::active_root() == root {
            smp::load_root(smp::this(), 0);
        }
        let keep_root = smp::loaded_elsewhere(root);
        for frame in self.tables {
            if frame == root && keep_root {
                smp::retire(root);
            } else {
                let _ = frames.free(frame);
            }
        }
        smp::take_retired(&mut |frame| {
            let _ = frames.free(frame);
        });
    }

    fn table_frames(&self) -> usize {
        self.tables.len()
    }

    fn activate(&self) {
        let block = smp::this();
        smp::entering_user(block);
        let root = self.table.root();
        if smp::active_root() != root || smp::flush_pending(block) {
            smp::load_root(block, root);
        }
        let owner = if self.ports.is_empty() {
            NO_PORTS
        } else {
            root
        };
        if block.iopb_owner.load(Ordering::Relaxed) != owner {
            cpu::load_iopb(&self.iopb);
            block.iopb_owner.store(owner, Ordering::Relaxed);
        }
    }
}
