//! Zero OS for the browser: the portable kernel core compiled to
//! `wasm32-unknown-unknown` as a `cdylib`, behind a thin HAL.
//!
//! The page (or Node, or any wasm engine) gives the kernel four imports in
//! module `host` — `console_write(ptr, len)`, `now_ms() -> f64`,
//! `power_off(code)` — and drives it through the exports:
//! `kernel_alloc(len)` (a buffer for the initramfs), `kernel_init(ptr, len,
//! frames_mib)`, `kernel_run(fuel) -> status` and `kernel_input(ptr, len)`.
//! There are no interrupts: the page calls `kernel_run` again and again, and
//! each call is a bounded slice of work (fuel, counted in interpreted wasm
//! instructions). Processes are wasm modules run by `wasmi` ([`process`]);
//! their address spaces are their linear memories ([`space`]).
//! `docs/browser.md` is the design.
#![no_std]

extern crate alloc;

pub mod host;
pub mod process;
pub mod run;
pub mod space;

use buddy_system_allocator::{Heap, LockedHeapWithRescue};
use zos_boot::PhysRange;
use zos_kernel::arch::{Interrupt, Platform, UserContext};
use zos_kernel::frame::FrameAllocator;
use zos_kernel::syscall::registers::USER_REGISTERS;

/// The kernel's own heap grows the kernel module's linear memory on demand.
#[global_allocator]
static HEAP: LockedHeapWithRescue<32> = LockedHeapWithRescue::new(grow_heap);

fn grow_heap(heap: &mut Heap<32>, layout: &core::alloc::Layout) {
    const WASM_PAGE: usize = 64 * 1024;
    let bytes = layout
        .size()
        .max(layout.align())
        .next_power_of_two()
        .max(1 << 20);
    let pages = (bytes * 2).div_ceil(WASM_PAGE);
    #[cfg(target_arch = "wasm32")]
    {
        let old = core::arch::wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return;
        }
        let start = old * WASM_PAGE;
        // SAFETY: the pages were just added to this module's memory and
        // nothing else uses them.
        unsafe { heap.add_to_heap(start, start + pages * WASM_PAGE) };
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (heap, pages);
    }
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    zos_klog::emergency_write(format_args!("\nKERNEL PANIC: {info}\n"));
    host::power_off(3);
    core::arch::wasm32::unreachable()
}

/// The browser platform.
#[derive(Default)]
pub struct Wasm;

/// The terminal's interrupt line.
pub const TERMINAL_IRQ: u32 = 1;
/// The terminal's device page: a physical address no frame has (frames are
/// addresses in the kernel's own memory, below 4 GiB).
pub const TERMINAL_PA: u64 = 0xF_0000_0000;

/// One CPU: the kernel lock is never waited for.
impl spin::RelaxStrategy for Wasm {
    fn relax() {
        core::hint::spin_loop();
    }
}

impl Platform for Wasm {
    type Space = space::WasmSpace;
    type Context = WasmContext;

    fn console_write(bytes: &[u8]) {
        host::debug_console_write(bytes);
    }

    fn uptime_ns() -> u64 {
        host::uptime_ns()
    }
    fn clock() -> [u64; 3] {
        // Modules have no counter of their own: they ask every time.
        [host::uptime_ns(), 0, 0]
    }

    fn irq_set_enabled(irq: u32, enabled: bool) {
        if irq == TERMINAL_IRQ {
            run::set_terminal_irq(enabled);
        }
    }

    fn take_interrupts(handle: &mut dyn FnMut(Interrupt)) {
        // The run loop delivers ticks and the terminal's interrupt itself.
        let _ = handle;
    }

    fn wait_for_interrupt() {}

    /// wasm threads have no FP/SIMD register file to switch.
    fn fp_enable(_enabled: bool) {}

    fn power_off() -> ! {
        host::power_off(0);
        halt()
    }

    fn reset() -> ! {
        host::power_off(1);
        halt()
    }

    fn phys_to_ptr(pa: u64) -> *mut u8 {
        space::phys_to_ptr(pa)
    }
}

fn halt() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    loop {
        core::hint::spin_loop();
    }
}

static NEXT_CONTEXT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A thread's "registers": where it starts, the syscall it made and the
/// results the kernel gave it. Its wasm call stack lives in [`process`],
/// keyed by `id`.
pub struct WasmContext {
    pub id: u64,
    pub entry: u64,
    pub stack: u64,
    pub arg: u64,
    pub number: u64,
    pub args: [u64; 6],
    pub results: [u64; 7],
    /// The thread has run (before that, result register 0 is its argument).
    pub started: bool,
}

impl UserContext for WasmContext {
    fn new(entry: u64, stack: u64, arg: u64) -> Self {
        Self {
            id: NEXT_CONTEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            entry,
            stack,
            arg,
            number: 0,
            args: [0; 6],
            results: [0; 7],
            started: false,
        }
    }

    fn syscall_number(&self) -> u64 {
        self.number
    }

    fn arg(&self, index: usize) -> u64 {
        self.args.get(index).copied().unwrap_or(0)
    }

    fn set_result(&mut self, index: usize, value: u64) {
        if let Some(slot) = self.results.get_mut(index) {
            *slot = value;
        }
        // Before the thread first runs, register 0 is its argument (boot
        // hands init the boot information page this way).
        if index == 0 && !self.started {
            self.arg = value;
        }
    }

    fn pc(&self) -> u64 {
        self.entry
    }

    /// A wasm module's registers are the interpreter's: `ThreadRegisters`
    /// reads zeros here and changes nothing.
    fn registers(&self) -> [u64; USER_REGISTERS] {
        [0; USER_REGISTERS]
    }

    fn set_registers(&mut self, _words: &[u64; USER_REGISTERS]) {}

    fn save_fp(&mut self) {}

    fn restore_fp(&self) {}

    fn save_tls(&mut self) {}

    fn restore_tls(&self) {}
}

impl Drop for WasmContext {
    fn drop(&mut self) {
        process::forget_thread(self.id);
    }
}

/// A buffer of `len` bytes in the kernel's memory for the page to fill (the
/// initramfs, typed input); 0 when out of memory.
#[no_mangle]
pub extern "C" fn kernel_alloc(len: usize) -> *mut u8 {
    let Ok(layout) = core::alloc::Layout::from_size_align(len.max(1), 4096) else {
        return core::ptr::null_mut();
    };
    // SAFETY: a non-zero size; the page owns the buffer until it hands it back.
    unsafe { alloc::alloc::alloc_zeroed(layout) }
}

/// Boots: frames from `frames_mib` MiB of the kernel's memory, init from the
/// initramfs at `ptr..ptr+len` (a buffer from [`kernel_alloc`], kept).
/// Returns 0, or a negative number when boot failed (the reason is logged).
#[no_mangle]
pub extern "C" fn kernel_init(ptr: *const u8, len: usize, frames_mib: u32) -> i32 {
    zos_klog::init(
        zos_klog::LogSink {
            write: host::debug_console_write,
            uptime_ns: host::uptime_ns,
        },
        log::LevelFilter::Info,
    );
    log::info!("Zero OS (wasm32) in a web page: {frames_mib} MiB of frames");
    let bytes = (frames_mib as usize) << 20;
    let Ok(layout) = core::alloc::Layout::from_size_align(bytes.max(4096), 4096) else {
        return -1;
    };
    // SAFETY: a non-zero size; the frames are owned by the frame allocator
    // from now on and never freed.
    let base = unsafe { alloc::alloc::alloc_zeroed(layout) } as u64;
    if base == 0 {
        log::error!("no memory for {frames_mib} MiB of frames");
        return -1;
    }
    let span = PhysRange::new(base, base + bytes as u64);
    let words = FrameAllocator::bitmap_words(&span.range());
    let bitmap = alloc::vec![0u64; words].leak();
    let mut frames = FrameAllocator::new(span.range(), bitmap);
    frames.add_free(span.range());
    let mut kernel = zos_kernel::kernel::Kernel::<Wasm>::new(frames);
    kernel.heap_budget = bytes as u64 / 4;
    let terminal = zos_boot::init::Device {
        name: "wasm-terminal",
        regs: PhysRange::new(TERMINAL_PA, TERMINAL_PA + 4096),
        irq: Some(TERMINAL_IRQ),
        irq_routes: 0,
    };
    let initrd = PhysRange::new(ptr as u64, ptr as u64 + len as u64);
    if let Err(e) = zos_boot::init::start_init(
        &mut kernel,
        Some(initrd),
        &[terminal],
        "",
        &[],
        zos_boot::elf::EM_WASM,
    ) {
        log::error!("boot failed: {e}");
        return -2;
    }
    run::install(kernel);
    0
}

/// Runs processes for at most `fuel` wasm instructions. Returns 0 when every
/// thread waits (call again after input or a few milliseconds), 1 when the
/// fuel ran out with work left, 2 when the system has halted.
#[no_mangle]
pub extern "C" fn kernel_run(fuel: u64) -> u32 {
    run::run(fuel)
}

/// Bytes typed into the terminal; the console service gets them through its
/// interrupt. Nothing is dropped: the queue holds whatever the page sends.
/// The buffer is the kernel's again afterwards (freed).
///
/// # Safety
/// `ptr..ptr+len` must be a buffer from [`kernel_alloc`]`(len)` that the
/// page wrote and does not use again.
#[no_mangle]
pub unsafe extern "C" fn kernel_input(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the page wrote `len` bytes at `ptr` (a kernel_alloc buffer).
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    run::input(bytes);
    if let Ok(layout) = core::alloc::Layout::from_size_align(len.max(1), 4096) {
        // SAFETY: `ptr` came from `kernel_alloc(len)` with this layout, and
        // the page hands it over.
        unsafe { alloc::alloc::dealloc(ptr, layout) };
    }
}
