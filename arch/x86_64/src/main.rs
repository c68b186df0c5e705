//! Zero OS kernel for x86_64 (QEMU `q35`, booted through the Xen PVH note).
//!
//! This crate is the x86_64 backend: PVH entry and the 32→64-bit switch
//! (`boot.S`), trap entry (`entry.S`), 4-level paging, GDT/TSS/IDT, the 8259
//! PIC and PIT, the 16550 debug console, the application processors (`smp.rs`).
//! It implements the portable core's
//! [`Platform`] interface and drives boot: PVH start info → frame allocator →
//! heap → final page tables → interrupts and timer → banner → init.
#![no_std]
#![no_main]

extern crate alloc;

mod acpi_tables;
mod apic;
mod banner;
mod console;
mod cpu;
mod emulate;
mod exceptions;
mod irq;
mod mmu;
mod pci;
mod power;
mod pvh;
mod smp;
mod timer;
mod trap;
mod user;

use buddy_system_allocator::LockedHeap;
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};
use mmu::{phys_to_virt, MapFlags, PageTable, KERNEL_BASE, PHYS_OFFSET};
use pvh::StartInfo;
use zos_boot::memory::free_regions;
use zos_boot::PhysRange;
use zos_kernel::arch::{Interrupt, Platform};
use zos_kernel::frame::FrameAllocator;
use zos_kernel::PAGE_SIZE;

global_asm!(include_str!("boot.S"));
global_asm!(include_str!("entry.S"));
global_asm!(include_str!("trampoline.S"));

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// The machine's frames, shared by every part of the kernel.
static FRAMES: spin::Mutex<Option<FrameAllocator>> = spin::Mutex::new(None);

/// What the kernel is doing, for panic messages.
static STAGE: spin::Mutex<&'static str> = spin::Mutex::new("early boot");

/// Physical address the image starts at (`KERNEL_PHYS` in linker.ld).
const KERNEL_PHYS: u64 = 0x20_0000;
/// Below 1 MiB lie the BIOS data, the option ROMs and the PVH start info.
const LOW_MEMORY: u64 = 0x10_0000;

/// The kernel's page table (CR3 value); user tables copy its upper half.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// The kernel's page-table root.
pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __kernel_end: u8;
    static __boot_stack_top: u8;
    static __ap_stacks: u8;
    static __ap_stacks_end: u8;
}

fn symbol_addr(symbol: &u8) -> u64 {
    symbol as *const u8 as u64
}

/// The x86_64 implementation of the portable core's hardware interface.
#[derive(Default)]
pub struct X86_64;

/// `pause` (`core::hint::spin_loop`): QEMU, running the vCPUs in turn,
/// hands the rest of the turn to the next one.
impl spin::RelaxStrategy for X86_64 {
    fn relax() {
        core::hint::spin_loop();
    }
}

impl Platform for X86_64 {
    type Space = user::UserSpace;
    type Context = user::ThreadContext;

    fn phys_to_ptr(pa: u64) -> *mut u8 {
        phys_to_virt(pa) as *mut u8
    }
    fn zero_frame(pa: u64) {
        cpu::zero_frame(phys_to_virt(pa));
    }
    fn console_write(bytes: &[u8]) {
        console::write(bytes);
    }
    fn uptime_ns() -> u64 {
        timer::uptime_ns()
    }
    fn clock() -> [u64; 3] {
        timer::clock()
    }
    fn irq_set_enabled(irq: u32, enabled: bool) {
        irq::set_enabled(irq, enabled);
    }
    fn take_interrupts(handle: &mut dyn FnMut(Interrupt)) {
        irq::dispatch(&mut |n| {
            if n == timer::IRQ {
                timer::on_tick();
                handle(Interrupt::Tick);
            } else {
                handle(Interrupt::Device(n));
            }
        });
    }
    fn wait_for_interrupt() {
        smp::idle_release_root();
        // `sti` takes effect after `hlt` starts, so no interrupt is missed;
        // the handler runs before `cli`.
        x86_64::instructions::interrupts::enable_and_hlt();
        x86_64::instructions::interrupts::disable();
    }
    fn fp_enable(enabled: bool) {
        // CR0.TS set: the next x87/SSE instruction raises #NM (vector 7),
        // which the trap decoder reports as `Trap::FpAccess`; `clts` clears it.
        // SAFETY: only the task-switched flag changes; the kernel itself is
        // built without SSE and touches FP state only after enabling it.
        unsafe {
            if enabled {
                asm!("clts", options(nostack));
            } else {
                asm!("mov {t}, cr0", "or {t}, 8", "mov cr0, {t}", t = out(reg) _, options(nostack));
            }
        }
    }
    fn cpu_id() -> usize {
        smp::cpu_id()
    }
    fn wake_cpu(cpu: usize) {
        smp::wake(cpu);
    }
    fn stop_user(cpu: usize) {
        smp::stop_user(cpu);
    }
    fn power_off() -> ! {
        power::power_off()
    }
    fn reset() -> ! {
        power::reset()
    }
}

fn set_stage(stage: &'static str) {
    *STAGE.lock() = stage;
}

/// Prints why and powers the machine off.
pub fn stop_machine(reason: &str) -> ! {
    console::write_emergency(b"zos: stopping the machine: ");
    console::write_emergency(reason.as_bytes());
    console::write_emergency(b"\n");
    power::power_off()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // SAFETY: we are stopping; make sure the stage lock cannot deadlock us.
    unsafe { STAGE.force_unlock() };
    let stage = *STAGE.lock();
    zos_klog::flush_unprinted();
    zos_klog::emergency_write(format_args!("\nKERNEL PANIC during {stage}: {info}\n"));
    stop_machine("kernel panic")
}

fn boot_failure(what: &dyn core::fmt::Display) -> ! {
    zos_klog::emergency_write(format_args!("\nzos: boot failed: {what}\n"));
    stop_machine("boot failed")
}

#[no_mangle]
extern "C" fn kernel_main(start_info: u64) -> ! {
    console::init();
    zos_klog::init(
        zos_klog::LogSink {
            write: console::write,
            uptime_ns: timer::uptime_ns,
        },
        log::LevelFilter::Info,
    );
    smp::init_boot_cpu();
    smp::load_boot_gs();
    exceptions::init_idt();
    cpu::init_gdt(smp::this());
    let features = cpu::init_features();

    set_stage("PVH start info");
    let info = StartInfo::parse(start_info).unwrap_or_else(|e| boot_failure(&e));

    set_stage("memory set-up");
    // SAFETY: linker-script symbols; only their addresses are taken.
    let image_end = unsafe { symbol_addr(&__kernel_end) } - KERNEL_BASE;
    let kernel_image = PhysRange::new(KERNEL_PHYS, image_end);
    if !info
        .memory()
        .iter()
        .any(|m| m.contains_range(&kernel_image))
    {
        boot_failure(&"the kernel image is not inside RAM of the memory map");
    }
    let reserved = [
        PhysRange::new(0, LOW_MEMORY),
        kernel_image,
        info.initrd.unwrap_or(PhysRange::new(0, 0)),
    ];
    let (free_frames, heap_bytes) = init_memory(&info, &reserved);
    set_stage("ACPI tables");
    let platform = acpi_tables::read(info.rsdp);
    if let Some(p) = &platform {
        power::init(p.pm1a_control, p.reset);
    }
    build_kernel_tables(&info, kernel_image, platform.as_ref());

    set_stage("interrupt set-up");
    irq::init(platform.as_ref());
    timer::init(irq::uses_apic());
    irq::set_enabled(timer::IRQ, true);
    let online = start_application_processors(&info, platform.as_ref());

    banner::print(&info, free_frames, &features, platform.as_ref(), online);
    wait_ticks(3);
    log::info!(
        "timer: {} ticks of {} ms so far",
        timer::ticks(),
        timer::TICK_NS / 1_000_000
    );
    boot_fault(info.cmdline());
    start_kernel_core(&info, heap_bytes, platform.as_ref(), online);
    trap::enter_user_mode()
}

/// Starts the MADT's other CPUs (not with `nosmp`, nor without APICs).
/// Returns the online count.
fn start_application_processors(
    info: &StartInfo,
    platform: Option<&acpi_tables::Platform>,
) -> usize {
    set_stage("starting cpus");
    let Some(p) = platform.filter(|_| irq::uses_apic()) else {
        return 1;
    };
    if info.cmdline().split_whitespace().any(|a| a == "nosmp") {
        return 1;
    }
    let ids = &p.apic_ids[..(p.cpus as usize).min(p.apic_ids.len())];
    smp::start_application_processors(ids, info.memory()).unwrap_or_else(|e| {
        log::warn!("smp: application processors not started: {e:?}");
        1
    })
}

/// `fault=KIND` on the command line raises a kernel exception on purpose, to
/// test the exception report (as on AArch64).
fn boot_fault(cmdline: &str) {
    set_stage("boot arguments");
    let kind = cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix("fault="));
    match kind {
        Some("data") => {
            log::info!("boot argument fault=data: reading an unmapped kernel address");
            // SAFETY: deliberately unsound: this read faults on purpose to test
            // the exception report. The address is canonical and unmapped.
            let value = unsafe { core::ptr::read_volatile(0xFFFF_FFFF_DEAD_0000 as *const u64) };
            log::error!("fault=data did not fault (read {value:#x})");
        }
        Some("undef") => {
            log::info!("boot argument fault=undef: executing an undefined instruction");
            // SAFETY: deliberately raises an invalid-opcode exception.
            unsafe { core::arch::asm!("ud2") };
        }
        Some("write-text") => {
            log::info!("boot argument fault=write-text: writing to kernel text (W^X check)");
            let target = kernel_main as *const () as *mut u64;
            // SAFETY: deliberately invalid: text is mapped read-execute, so this
            // write must raise a page fault.
            unsafe { core::ptr::write_volatile(target, 0) };
            log::error!("fault=write-text did not fault: kernel text is writable");
        }
        Some("panic") => panic!("deliberate panic from boot argument fault=panic"),
        Some("stack") => {
            log::info!("boot argument fault=stack: recursing until the kernel stack runs out");
            let depth = zos_boot::exhaust_stack(0);
            log::error!("fault=stack did not fault (returned {depth})");
        }
        Some(other) => log::warn!(
            "unknown fault kind '{other}' ignored (data, undef, write-text, panic, stack)"
        ),
        None => {}
    }
}

/// The CMOS real-time clock's index port (data at the next).
pub const CMOS_PORT: u64 = 0x70;

/// Hands the frames to the portable core and starts init.
fn start_kernel_core(
    info: &StartInfo,
    heap_bytes: usize,
    platform: Option<&acpi_tables::Platform>,
    online: usize,
) {
    set_stage("starting init");
    let Some(frames) = FRAMES.lock().take() else {
        boot_failure(&"frame allocator missing");
    };
    let mut kernel = zos_kernel::kernel::Kernel::<X86_64>::new(frames);
    let cmdline = info.cmdline();
    let has_arg = |arg: &str| cmdline.split_whitespace().any(|a| a == arg);
    zos_boot::init::configure(&mut kernel, online, heap_bytes, has_arg);
    // COM1 as eight pages of the I/O-port window (one per port), with IRQ 4.
    let port_page = |port: u64| zos_abi::layout::IO_PORT_WINDOW + (port << 12);
    let com1 = zos_boot::init::Device {
        name: "ns16550",
        regs: PhysRange::new(
            port_page(console::COM1 as u64),
            port_page(console::COM1 as u64 + 8),
        ),
        irq: Some(console::COM1_IRQ),
        irq_routes: 0,
    };
    // The CMOS clock's index and data ports, for the time keeper.
    let cmos = zos_boot::init::Device {
        name: "cmos",
        regs: PhysRange::new(port_page(CMOS_PORT), port_page(CMOS_PORT + 2)),
        irq: None,
        irq_routes: 0,
    };
    // The PCI host bridge (ECAM, BAR window, INTx lines) when the APICs route
    // interrupts: the legacy PICs cannot take PCI's GSIs.
    let ecam = platform.and_then(|p| p.ecam).filter(|_| irq::uses_apic());
    let mut devices = alloc::vec![com1, cmos];
    devices.extend(pci::devices(ecam));
    if let Err(e) = zos_boot::init::start_init(
        &mut kernel,
        info.initrd,
        &devices,
        cmdline,
        &[],
        zos_boot::elf::EM_X86_64,
    ) {
        boot_failure(&e);
    }
    trap::KERNEL.install(kernel);
    // SAFETY: a linker symbol; only its address is used.
    smp::set_kernel_stack(unsafe { symbol_addr(&__boot_stack_top) });
}

fn wait_ticks(count: u64) {
    let target = timer::ticks() + count;
    while timer::ticks() < target {
        X86_64::wait_for_interrupt();
    }
}

/// Sets up the kernel heap (a sixteenth of RAM, 2 to 64 MiB) and the frame
/// allocator over all RAM minus `reserved`. Returns the frames left free and
/// the heap's size.
fn init_memory(info: &StartInfo, reserved: &[PhysRange]) -> (usize, usize) {
    let (mut regions, count) = free_regions(info.memory(), reserved);
    let regions = &mut regions[..count];
    let span = PhysRange::new(
        info.memory().iter().map(|m| m.start).min().unwrap_or(0),
        info.memory().iter().map(|m| m.end).max().unwrap_or(0),
    );
    let words = FrameAllocator::bitmap_words(&span.range());
    let bytes = (words * 8).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    // The boot tables map only the first 4 GiB: carve from there.
    let Some(home) = carve(regions, bytes as u64) else {
        boot_failure(&"no free RAM region large enough for the frame bitmap");
    };
    // SAFETY: `home` is free RAM below 4 GiB, mapped by the boot tables, and
    // from now on owned by the bitmap alone.
    let bitmap =
        unsafe { core::slice::from_raw_parts_mut(phys_to_virt(home.start) as *mut u64, bytes / 8) };
    let heap_bytes = (info.ram_bytes() / 16).clamp(2 << 20, 64 << 20);
    let Some(heap) = carve(regions, heap_bytes) else {
        boot_failure(&"no contiguous RAM for the kernel heap");
    };
    // SAFETY: `heap` is free RAM carved out above, mapped by the boot tables;
    // the heap owns it from now on.
    unsafe {
        HEAP.lock()
            .init(phys_to_virt(heap.start) as usize, heap_bytes as usize)
    };
    let mut frames = FrameAllocator::new(span.range(), bitmap);
    for region in regions.iter() {
        frames.add_free(region.range());
    }
    let free = frames.free_frames();
    *FRAMES.lock() = Some(frames);
    (free, heap_bytes as usize)
}

/// Takes `bytes` from the first free region below 4 GiB that holds them.
fn carve(regions: &mut [PhysRange], bytes: u64) -> Option<PhysRange> {
    let region = regions
        .iter_mut()
        .find(|r| r.len() >= bytes && r.start + bytes <= 4 << 30)?;
    let taken = PhysRange::new(region.start, region.start + bytes);
    region.start += bytes;
    Some(taken)
}

/// Allocates one frame for kernel use (page tables).
pub fn alloc_frame() -> Option<u64> {
    FRAMES.lock().as_mut()?.alloc()
}

/// Replaces the boot tables: RAM read-write and never executable at the linear
/// map (the kernel image left out), kernel text read-execute, rodata
/// read-only, data and stack read-write, the stack guard page unmapped.
fn build_kernel_tables(
    info: &StartInfo,
    kernel_image: PhysRange,
    platform: Option<&acpi_tables::Platform>,
) {
    let mut frame = || alloc_frame();
    let mut table = PageTable::new(&mut frame, None)
        .unwrap_or_else(|_| boot_failure(&"no memory for page tables"));
    let check = |r: Result<(), mmu::MapError>, what: &str| {
        if let Err(e) = r {
            boot_failure(&format_args!("mapping {what} failed: {e:?}"));
        }
    };
    for bank in info.memory() {
        for piece in [
            PhysRange::new(bank.start, kernel_image.start.clamp(bank.start, bank.end)),
            PhysRange::new(kernel_image.end.clamp(bank.start, bank.end), bank.end),
        ] {
            if !piece.is_empty() {
                check(
                    table.map(
                        phys_to_virt(piece.start),
                        piece.start,
                        piece.len(),
                        MapFlags::KERNEL_RW,
                        &mut frame,
                    ),
                    "RAM",
                );
            }
        }
    }
    // The initrd where QEMU put it, even where the memory map calls it
    // reserved: QEMU places it below the top 128 KiB of low RAM it leaves the
    // firmware, but SeaBIOS's allocations there grow with the devices it sets
    // up (five virtio-blk disks and a NIC: reserved from 0x3ffd0000 on a
    // 1 GiB q35), so the archive's tail can lie past the last RAM range.
    // Boot copies it out through the linear map; map the pages no RAM range
    // covers, read-only (the frame allocator never hands them out).
    if let Some(initrd) = info.initrd {
        let page_bytes = PAGE_SIZE as u64;
        let mut page = initrd.start & !(page_bytes - 1);
        while page < initrd.end {
            if !info
                .memory()
                .iter()
                .any(|m| m.start <= page && page < m.end)
            {
                check(
                    table.map(
                        phys_to_virt(page),
                        page,
                        page_bytes,
                        MapFlags::KERNEL_RO,
                        &mut frame,
                    ),
                    "the initrd",
                );
            }
            page += page_bytes;
        }
    }
    // SAFETY: linker symbols; only their addresses are used.
    let (kstart, text_end, rodata_end, guard, stack_bottom, stack_top) = unsafe {
        (
            symbol_addr(&__kernel_start),
            symbol_addr(&__text_end),
            symbol_addr(&__rodata_end),
            symbol_addr(&__stack_guard),
            symbol_addr(&__stack_bottom),
            symbol_addr(&__boot_stack_top),
        )
    };
    let sections = [
        (kstart, text_end, MapFlags::KERNEL_RX, "kernel text"),
        (text_end, rodata_end, MapFlags::KERNEL_RO, "kernel rodata"),
        (rodata_end, guard, MapFlags::KERNEL_RW, "kernel data"),
        (stack_bottom, stack_top, MapFlags::KERNEL_RW, "kernel stack"),
    ];
    for (start, end, flags, what) in sections {
        if end > start {
            check(
                table.map(start, start - KERNEL_BASE, end - start, flags, &mut frame),
                what,
            );
        }
    }
    // The application processors' stacks, each above an unmapped guard page.
    // SAFETY: linker symbols; only their addresses are used.
    let (ap_stacks, ap_stacks_end) =
        unsafe { (symbol_addr(&__ap_stacks), symbol_addr(&__ap_stacks_end)) };
    let slot = 4096 + smp::AP_STACK_BYTES;
    let mut guard_page = ap_stacks;
    while guard_page + slot <= ap_stacks_end {
        let bottom = guard_page + 4096;
        check(
            table.map(
                bottom,
                bottom - KERNEL_BASE,
                smp::AP_STACK_BYTES,
                MapFlags::KERNEL_RW,
                &mut frame,
            ),
            "cpu stack",
        );
        guard_page += slot;
    }
    // The APICs' register pages, uncached at the linear map.
    for page in platform
        .map(apic::register_pages)
        .into_iter()
        .flatten()
        .flatten()
    {
        check(
            table.map(
                phys_to_virt(page),
                page,
                PAGE_SIZE as u64,
                MapFlags::KERNEL_DEVICE,
                &mut frame,
            ),
            "APIC registers",
        );
    }
    // The upper half must be complete before any user table copies it.
    KERNEL_ROOT.store(table.root(), Ordering::Relaxed);
    mmu::activate_root(table.root());
    let _ = PHYS_OFFSET;
}
