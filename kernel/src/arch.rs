//! The interface between the portable core and an architecture backend.
//!
//! Each backend (`arch/aarch64`, later `arch/x86_64` and `arch/wasm`) implements
//! [`Platform`]; the core calls only these functions and types to touch hardware.
//! A host backend (`crate::hostarch`) runs the core in unit tests. See
//! `docs/hal.md` for the contract of each item.

use crate::frame::FrameAllocator;
use crate::syscall::registers::USER_REGISTERS;

/// What a user mapping allows. Never writable and executable at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PageFlags {
    pub write: bool,
    pub execute: bool,
    /// Device memory (uncached, no speculation).
    pub device: bool,
}

/// Bit 0 of a page given to [`AddressSpace::map`]: the frame is shared
/// copy-on-write, so it is mapped without write until its copy (the
/// frame allocator's `mark_shared` sets it).
pub const SHARED_FRAME: u64 = zos_frames::SHARED_MARK;

/// Why an address-space operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    WritableExecutable,
    Unaligned,
    AlreadyMapped,
    OutOfMemory,
    OutsideUserSpace,
}

/// A user address space (page tables), managed by the core.
pub trait AddressSpace: Sized {
    /// A new empty space; page-table frames come from `frames`.
    fn new(frames: &mut FrameAllocator) -> Result<Self, MapError>;
    /// Maps `pages` (physical addresses, [`SHARED_FRAME`] set on some) at
    /// `va` onward, one after another; on an error none of them stays mapped.
    fn map(
        &mut self,
        va: u64,
        pages: &[u64],
        flags: PageFlags,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapError>;
    /// Unmaps one page; returns the physical address it mapped.
    fn unmap(&mut self, va: u64) -> Option<u64>;
    /// Unmaps the mapped pages of a run of `pages` from `va`. Backends with
    /// a TLB invalidate once for the run where they can: on AArch64 every
    /// broadcast invalidation stops all of QEMU's vCPUs; on x86_64 each is
    /// an IPI to every CPU with the table loaded.
    fn unmap_run(&mut self, va: u64, pages: u64);
    /// Points page `va`, if it is mapped, at `pa` with `flags` (backends
    /// with page tables do it in one walk); whether it was mapped.
    fn remap(&mut self, va: u64, pa: u64, flags: PageFlags, frames: &mut FrameAllocator) -> bool;
    /// The physical page and flags mapped at page `va`.
    fn translate(&self, va: u64) -> Option<(u64, PageFlags)>;
    /// Frees the page-table frames (not the mapped frames).
    fn destroy(self, frames: &mut FrameAllocator);
    /// Page-table frames in use (charged to the owner's quota).
    fn table_frames(&self) -> usize;
    /// The most page-table frames mapping `pages` pages from `va` can add: the
    /// kernel charges this before mapping and refunds what was not needed.
    /// The default is for four levels of 4 KiB tables under a root (AArch64
    /// with 48-bit addresses, x86_64 4-level paging): one table per 2 MiB,
    /// 1 GiB and 512 GiB span the range touches.
    fn max_new_tables(va: u64, pages: u64) -> u64 {
        if pages == 0 {
            return 0;
        }
        let last = va.saturating_add((pages - 1).saturating_mul(4096));
        [21u32, 30, 39]
            .iter()
            .map(|&shift| (last >> shift) - (va >> shift) + 1)
            .sum()
    }
    /// Makes this the CPU's user address space.
    fn activate(&self);
}

/// Saved user registers of a thread.
pub trait UserContext: Sized {
    /// A context that starts at `entry` with stack `stack` and `arg` in the first
    /// argument register.
    fn new(entry: u64, stack: u64, arg: u64) -> Self;
    /// Syscall number register.
    fn syscall_number(&self) -> u64;
    /// Syscall argument `index` (0..8).
    fn arg(&self, index: usize) -> u64;
    /// Sets result register `index` (0..8); register 0 is the error code.
    fn set_result(&mut self, index: usize, value: u64);
    /// Program counter.
    fn pc(&self) -> u64;
    /// The user registers `ThreadRegisters` shows (`abi::registers`).
    fn registers(&self) -> [u64; USER_REGISTERS];
    /// Sets them, keeping what user mode may not choose (the privilege
    /// level, interrupt masks, canonical addresses).
    fn set_registers(&mut self, words: &[u64; USER_REGISTERS]);
    /// Saves the CPU's live FP/SIMD registers into this context (FP/SIMD use
    /// is allowed when the core calls it).
    fn save_fp(&mut self);
    /// Loads this context's FP/SIMD registers into the CPU (use allowed).
    fn restore_fp(&self);
    /// Saves the CPU's thread pointer register (TPIDR_EL0, the FS base) into
    /// this context: the thread leaves the CPU.
    fn save_tls(&mut self);
    /// Loads this context's thread pointer register: the thread comes in.
    fn restore_tls(&self);
}

/// What brought the CPU from user mode into the kernel, as the backend decoded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The syscall instruction; number and arguments are in the saved context.
    Syscall,
    /// A user fault: kind (`kernel::fault`), faulting address, raw syndrome.
    Fault {
        kind: u64,
        address: u64,
        syndrome: u64,
    },
    /// An interrupt; the core takes the pending ones with `take_interrupts`.
    Interrupt,
    /// The first FP/SIMD instruction of a thread while that use traps
    /// (`Platform::fp_enable(false)`): the core makes its registers live.
    FpAccess,
}

/// One interrupt taken from the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// The scheduler's timer fired (the backend has already re-armed it).
    Tick,
    /// A device interrupt line.
    Device(u32),
}

/// Services an architecture backend gives the portable core. Its
/// `spin::RelaxStrategy` is one turn of waiting for the kernel lock while
/// another CPU holds it: a backend that can lets a sibling (an SMT thread,
/// or QEMU's next vCPU when it runs them in turn) have the time.
pub trait Platform: Default + spin::RelaxStrategy + 'static {
    type Space: AddressSpace;
    type Context: UserContext;

    /// Writes bytes to the debug console, blocking until sent.
    fn console_write(bytes: &[u8]);
    /// Nanoseconds since boot from a monotonic counter.
    fn uptime_ns() -> u64;
    /// What `Clock` answers: the uptime, then how user code may compute it
    /// itself from a counter it can read (`(count - base) * scale >> 32`,
    /// the backend's own formula): the counter's value at boot and
    /// nanoseconds per count as a 32.32 number; a scale of 0 when user code
    /// has no such counter (it asks `Clock` every time).
    fn clock() -> [u64; 3];
    /// Masks or unmasks interrupt `irq` at the interrupt controller.
    fn irq_set_enabled(irq: u32, enabled: bool);
    /// Acknowledges each pending interrupt, hands it to `handle`, then ends it.
    fn take_interrupts(handle: &mut dyn FnMut(Interrupt));
    /// Sleeps with interrupts open until one arrives (its handler runs first).
    fn wait_for_interrupt();
    /// Powers the machine off. Never returns.
    fn power_off() -> !;
    /// Resets the machine. Never returns.
    fn reset() -> !;
    /// Lets user mode use the FP/SIMD registers, or makes its next use trap
    /// as [`Trap::FpAccess`] (lazy switching: the core switches them only for
    /// a thread that uses them). The kernel's own save and restore run after
    /// `fp_enable(true)`.
    fn fp_enable(enabled: bool);
    /// The index of the CPU running this code (0 ..= the online count - 1).
    fn cpu_id() -> usize {
        0
    }
    /// Wakes CPU `cpu` from [`Platform::wait_for_interrupt`]: a thread became
    /// runnable while it idles. Costs nothing on one CPU.
    fn wake_cpu(_cpu: usize) {}
    /// Interrupts CPU `cpu` and returns once it has left user mode (it then
    /// waits for the kernel lock): its thread is being blocked or destroyed.
    fn stop_user(_cpu: usize) {}
    /// Pointer to physical memory `pa` through the kernel's linear map.
    fn phys_to_ptr(pa: u64) -> *mut u8;

    /// Fills the 4 KiB frame at `pa` with zeros. Backends override this with
    /// their fastest way (AArch64: `dc zva`).
    fn zero_frame(pa: u64) {
        // SAFETY: `pa` is a whole frame owned by the caller, reached through the
        // linear map.
        unsafe { core::ptr::write_bytes(Self::phys_to_ptr(pa), 0, 4096) };
    }
}
