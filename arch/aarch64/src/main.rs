//! Zero OS kernel for AArch64 (QEMU `virt`).
//!
//! This crate is the AArch64 backend: boot assembly, MMU, exception vectors, GIC,
//! generic timer, PSCI and the PL011 debug console. It implements the portable
//! core's [`Platform`] interface and drives boot: device tree → frame allocator →
//! heap → final page tables → interrupts and timer → banner.
#![no_std]
#![no_main]

extern crate alloc;
// The AArch64 memcpy/memmove/memset (linked for their symbols alone).
extern crate zos_mem;

mod console;
mod cpu;
mod exceptions;
mod irq;
mod mmu;
mod psci;
mod smp;
mod timer;
mod trap;
mod user;

use buddy_system_allocator::LockedHeap;
use core::arch::{asm, global_asm};
use mmu::{phys_to_virt, MapFlags, PageTable, PHYS_OFFSET};
use zos_boot::devicetree::{BootInfo, Gic};
use zos_boot::memory::free_regions;
use zos_boot::PhysRange;
use zos_kernel::arch::{Interrupt, Platform};
use zos_kernel::frame::FrameAllocator;
use zos_kernel::PAGE_SIZE;

global_asm!(include_str!("boot.S"));

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// The machine's frames, shared by every part of the kernel.
static FRAMES: spin::Mutex<Option<FrameAllocator>> = spin::Mutex::new(None);

/// What the kernel is doing, for panic messages.
static STAGE: spin::Mutex<&'static str> = spin::Mutex::new("early boot");

/// QEMU `virt` puts the PL011 here; used until the device tree is read.
const DEFAULT_UART: u64 = 0x0900_0000;
/// Where QEMU places the device tree for ELF kernels (start of RAM).
const DEFAULT_DTB: u64 = 0x4000_0000;
/// Largest device tree we accept.
const MAX_DTB_SIZE: usize = 2 << 20;

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_stacks: u8;
    static __kernel_stacks_end: u8;
    static __kernel_end: u8;
}

fn symbol_addr(symbol: &u8) -> u64 {
    symbol as *const u8 as u64
}

/// The AArch64 implementation of the portable core's hardware interface.
#[derive(Default)]
pub struct Aarch64;

/// A CPU waiting for the kernel lock executes `yield`, not the `isb` that
/// `core::hint::spin_loop` gives: QEMU, when it runs the vCPUs in turn on one
/// thread (`-icount`), hands the rest of the turn to the next vCPU, which
/// may be the holder; otherwise a waiter burns its whole turn.
impl spin::RelaxStrategy for Aarch64 {
    fn relax() {
        // SAFETY: a hint with no architectural effect.
        unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
    }
}

impl Platform for Aarch64 {
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
            if n == timer::irq() {
                timer::on_tick();
                handle(Interrupt::Tick);
            } else {
                handle(Interrupt::Device(n));
            }
        });
    }
    fn wait_for_interrupt() {
        user::deactivate();
        idle_until_interrupt();
    }
    fn fp_enable(enabled: bool) {
        // CPACR_EL1.FPEN: 0b11 lets EL0 and EL1 use FP/SIMD, 0b01 traps EL0's
        // use (exception class 0x07) while the kernel's save and restore run.
        // The eret to EL0 synchronises the change.
        let fpen: u64 = if enabled { 3 << 20 } else { 1 << 20 };
        // SAFETY: only the FP/SIMD trap control changes; EL1 keeps FP access.
        unsafe { asm!("msr cpacr_el1, {}", in(reg) fpen, options(nostack)) };
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
        psci::system_off()
    }
    fn reset() -> ! {
        psci::system_reset()
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
    psci::system_off()
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

/// Halts with a boot error message (the machine description may be unusable, so
/// PSCI is tried only when the device tree named it).
fn boot_failure(what: &dyn core::fmt::Display) -> ! {
    zos_klog::emergency_write(format_args!("\nzos: boot failed: {what}\n"));
    stop_machine("boot failed")
}

/// Finds and validates the device tree blob.
fn device_tree(dtb_phys: u64) -> &'static [u8] {
    let candidate = if dtb_phys != 0 { dtb_phys } else { DEFAULT_DTB };
    // The boot tables map RAM from 1 GiB to 16 GiB; refuse anything else.
    if !(0x4000_0000..0x4_0000_0000 - 64).contains(&candidate) || candidate % 8 != 0 {
        boot_failure(&format_args!(
            "device tree pointer {candidate:#x} is not in RAM"
        ));
    }
    // SAFETY: the address is inside the boot mapping of RAM; we read the header only.
    let header = unsafe { core::slice::from_raw_parts(phys_to_virt(candidate) as *const u8, 8) };
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if magic != 0xd00d_feed {
        boot_failure(&format_args!(
            "no device tree at {candidate:#x} (magic {magic:#010x}, expected 0xd00dfeed)"
        ));
    }
    if !(40..=MAX_DTB_SIZE).contains(&size) {
        boot_failure(&format_args!(
            "device tree at {candidate:#x} claims size {size} bytes"
        ));
    }
    // SAFETY: size is bounded and the range lies inside the boot RAM mapping.
    unsafe { core::slice::from_raw_parts(phys_to_virt(candidate) as *const u8, size) }
}

#[no_mangle]
extern "C" fn kernel_main(dtb_phys: u64, entry_el: u64) -> ! {
    console::init(DEFAULT_UART);
    zos_klog::init(
        zos_klog::LogSink {
            write: console::write,
            uptime_ns: timer::uptime_ns,
        },
        log::LevelFilter::Info,
    );
    set_stage("device tree parsing");
    let blob = device_tree(dtb_phys);
    let dtb_phys = mmu::virt_to_phys(blob.as_ptr() as u64);
    let info = BootInfo::parse(blob).unwrap_or_else(|e| boot_failure(&e));
    console::init(info.uart.start);
    psci::init(info.psci);

    set_stage("memory set-up");
    // SAFETY: linker-script symbols; only their addresses are taken, never read.
    let (image_start, image_end) =
        unsafe { (symbol_addr(&__kernel_start), symbol_addr(&__kernel_end)) };
    let kernel_image = PhysRange::new(image_start - PHYS_OFFSET, image_end - PHYS_OFFSET);
    if !info
        .memory()
        .iter()
        .any(|m| m.contains_range(&kernel_image))
    {
        boot_failure(&"the kernel image is not inside RAM described by the device tree");
    }
    let mut reserved = [
        kernel_image,
        PhysRange::new(dtb_phys, dtb_phys + blob.len() as u64),
        PhysRange::new(0, 0),
    ];
    if let Some(initrd) = info.initrd {
        reserved[2] = initrd;
    }
    let (free_frames, heap_bytes) = init_memory(&info, &reserved);
    build_kernel_tables(&info, kernel_image);

    set_stage("interrupt set-up");
    if let Err(e) = irq::init(info.gic, info.cpu_count) {
        boot_failure(&e);
    }
    timer::init(info.timer_irq);
    let online = if info.has_arg("nosmp") {
        1
    } else {
        smp::start_secondaries(&info.cpu_mpidr[..info.cpu_count.min(info.cpu_mpidr.len())])
    };

    print_banner(&info, entry_el, free_frames, online);
    wait_ticks(3);
    log::info!(
        "timer: {} ticks of {} ms so far",
        timer::ticks(),
        timer::TICK_NS / 1_000_000
    );

    set_stage("boot arguments");
    match info.arg_value("fault") {
        Some("data") => {
            log::info!("boot argument fault=data: reading an unmapped kernel address");
            // SAFETY: deliberately unsound: this read faults on purpose to test the
            // exception report. The address is in the unmapped kernel half.
            let value = unsafe { core::ptr::read_volatile(0xFFFF_FFFF_DEAD_0000 as *const u64) };
            log::error!("fault=data did not fault (read {value:#x})");
        }
        Some("undef") => {
            log::info!("boot argument fault=undef: executing an undefined instruction");
            // SAFETY: deliberately raises an undefined-instruction exception.
            unsafe { asm!("udf #0x2a") };
        }
        Some("write-text") => {
            log::info!("boot argument fault=write-text: writing to kernel text (W^X check)");
            let target = kernel_main as *const () as *mut u64;
            // SAFETY: deliberately invalid: text is mapped read-execute, so this write
            // must raise a permission fault.
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
    start_kernel_core(&info, heap_bytes, online);
    trap::enter_user_mode()
}

/// Hands the frames to the portable core and starts init with every device.
fn start_kernel_core(info: &BootInfo, heap_bytes: usize, online: usize) {
    set_stage("starting init");
    let Some(frames) = FRAMES.lock().take() else {
        boot_failure(&"frame allocator missing");
    };
    let mut kernel = zos_kernel::kernel::Kernel::<Aarch64>::new(frames);
    zos_boot::init::configure(&mut kernel, online, heap_bytes, |arg| info.has_arg(arg));
    let mut devices: alloc::vec::Vec<zos_boot::init::Device> = alloc::vec::Vec::new();
    devices.push(zos_boot::init::Device {
        name: "pl011",
        regs: info.uart,
        irq: Some(info.uart_irq),
        irq_routes: 0,
    });
    if let Some(rtc) = info.rtc {
        // The real-time clock, for init to read the date from (no interrupt used).
        devices.push(zos_boot::init::Device {
            name: "pl031",
            regs: rtc,
            irq: None,
            irq_routes: 0,
        });
    }
    // The populated virtio-mmio slots (QEMU's `virt` has 32, mostly empty), under
    // one name: which device sits in a slot is for devmgr to find out
    // (docs/drivers.md).
    let populated = info
        .virtio()
        .iter()
        .filter(|slot| cpu::virtio_device_kind(phys_to_virt(slot.regs.start)).is_some());
    for slot in populated {
        devices.push(zos_boot::init::Device {
            name: "virtio-mmio",
            regs: slot.regs,
            irq: Some(slot.irq),
            irq_routes: 0,
        });
    }
    // The PCI host bridge: its configuration space (ECAM), its 32-bit memory
    // window for BARs and its INTx lines; devmgr enumerates and assigns.
    if let Some(pci) = info.pci {
        for (name, regs) in [("pci-ecam", pci.ecam), ("pci-mmio", pci.mmio)] {
            devices.push(zos_boot::init::Device {
                name,
                regs,
                irq: None,
                irq_routes: 0,
            });
        }
        for line in pci.intx() {
            devices.push(zos_boot::init::Device {
                name: "pci-intx",
                regs: PhysRange::new(0, 0),
                irq: Some(line.irq),
                irq_routes: line.routes,
            });
        }
    }
    if let Err(e) = zos_boot::init::start_init(
        &mut kernel,
        info.initrd,
        &devices,
        info.bootargs,
        info.rng_seed.unwrap_or(&[]),
        zos_boot::elf::EM_AARCH64,
    ) {
        boot_failure(&e);
    }
    // Traps from user mode run on the boot stack, from its top (TPIDR_EL1,
    // set in boot.S); the other CPUs wait in the idle loop until now.
    trap::KERNEL.install(kernel);
}

fn wait_ticks(count: u64) {
    let target = timer::ticks() + count;
    while timer::ticks() < target {
        idle_until_interrupt();
    }
}

/// Sleeps until an interrupt is pending, then lets its handler run.
///
/// `wfi` runs with IRQs still masked: a pending interrupt ends it whether
/// masked or not, so one that came after the caller last looked (the wake-up
/// IPI of a thread made runnable after the idle loop found none) ends the
/// wait at once. Unmasking first would take that interrupt before the `wfi`,
/// whose sleep would then wait for the next one: a lost wake-up.
fn idle_until_interrupt() {
    // SAFETY: IRQs are unmasked only between the two `msr`s, where the
    // handler (which takes the kernel lock itself) may run; the `isb` makes
    // the unmasking take effect inside that window.
    unsafe { asm!("wfi", "msr daifclr, #2", "isb", "msr daifset, #2") };
}

/// Sets up the kernel heap (a sixteenth of RAM, 2 to 64 MiB) and the frame
/// allocator over all RAM minus `reserved`; both the frame bitmap and the heap are
/// carved from free RAM first. Returns the frames left free and the heap's size.
fn init_memory(info: &BootInfo, reserved: &[PhysRange]) -> (usize, usize) {
    let (mut regions, count) = free_regions(info.memory(), reserved);
    let regions = &mut regions[..count];
    let span = PhysRange::new(
        info.memory().iter().map(|m| m.start).min().unwrap_or(0),
        info.memory().iter().map(|m| m.end).max().unwrap_or(0),
    );
    let words = FrameAllocator::bitmap_words(&span.range());
    let bytes = (words * 8).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let Some(home) = carve(regions, bytes as u64) else {
        boot_failure(&"no free RAM region large enough for the frame bitmap");
    };
    // SAFETY: `home` is free RAM (not kernel, device tree or initrd), mapped by the
    // boot tables, and from now on owned by the bitmap alone.
    let bitmap =
        unsafe { core::slice::from_raw_parts_mut(phys_to_virt(home.start) as *mut u64, bytes / 8) };
    let heap_bytes = (info.ram_bytes() / 16).clamp(2 << 20, 64 << 20);
    let Some(heap) = carve(regions, heap_bytes) else {
        boot_failure(&"no contiguous RAM for the kernel heap");
    };
    // SAFETY: `heap` is free RAM carved out above, mapped by the boot tables; the
    // heap owns it from now on.
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

/// Takes `bytes` (whole frames) from the start of the first free region that
/// holds them.
fn carve(regions: &mut [PhysRange], bytes: u64) -> Option<PhysRange> {
    let region = regions.iter_mut().find(|r| r.len() >= bytes)?;
    let taken = PhysRange::new(region.start, region.start + bytes);
    region.start += bytes;
    Some(taken)
}

/// Allocates one frame for kernel use (page tables, heap growth).
pub fn alloc_frame() -> Option<u64> {
    FRAMES.lock().as_mut()?.alloc()
}

/// Replaces the coarse boot mapping: RAM read-write and never executable, kernel
/// text read-execute, rodata read-only, the stack guard page unmapped, and the
/// first GiB (QEMU `virt` MMIO) as device memory.
fn build_kernel_tables(info: &BootInfo, kernel_image: PhysRange) {
    let mut frame = || alloc_frame();
    let mut table = PageTable::new(&mut frame, true)
        .unwrap_or_else(|_| boot_failure(&"no memory for page tables"));
    let check = |r: Result<(), mmu::MapError>, what: &str| {
        if let Err(e) = r {
            boot_failure(&format_args!("mapping {what} failed: {e:?}"));
        }
    };
    let below_ram = info
        .memory()
        .iter()
        .map(|m| m.start)
        .min()
        .unwrap_or(0)
        .min(0x4000_0000);
    check(
        table.map(
            PHYS_OFFSET,
            0,
            below_ram,
            MapFlags::KERNEL_DEVICE,
            &mut frame,
        ),
        "device window",
    );
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
    let virt = |s: &u8| symbol_addr(s);
    // SAFETY: linker symbols; only their addresses are used.
    let (text_end, rodata_end, stacks, stacks_end) = unsafe {
        (
            virt(&__text_end),
            virt(&__rodata_end),
            virt(&__kernel_stacks),
            virt(&__kernel_stacks_end),
        )
    };
    let kstart = phys_to_virt(kernel_image.start);
    let sections = [
        (kstart, text_end, MapFlags::KERNEL_RX, "kernel text"),
        (text_end, rodata_end, MapFlags::KERNEL_RO, "kernel rodata"),
        (rodata_end, stacks, MapFlags::KERNEL_RW, "kernel data"),
    ];
    for (start, end, flags, what) in sections {
        if end > start {
            check(
                table.map(
                    start,
                    mmu::virt_to_phys(start),
                    end - start,
                    flags,
                    &mut frame,
                ),
                what,
            );
        }
    }
    // Every CPU's stack slot (linker.ld): its overflow stack at the bottom
    // and its stack in the upper half; the 56 KiB between stay unmapped.
    if (stacks_end - stacks) / smp::SLOT_BYTES != zos_boot::devicetree::MAX_CPUS as u64 {
        boot_failure(&"linker.ld's room for kernel stacks does not match MAX_CPUS");
    }
    for slot in (stacks..stacks_end).step_by(smp::SLOT_BYTES as usize) {
        for (start, bytes) in [
            (slot, smp::OVERFLOW_STACK_BYTES),
            (slot + smp::STACK_BYTES, smp::STACK_BYTES),
        ] {
            let mapped = table.map(
                start,
                mmu::virt_to_phys(start),
                bytes,
                MapFlags::KERNEL_RW,
                &mut frame,
            );
            check(mapped, "kernel stack");
        }
    }
    mmu::activate_kernel_table(&table);
    // The kernel table lives as long as the machine; its frames are never freed.
}

fn print_banner(info: &BootInfo, entry_el: u64, free_frames: usize, online: usize) {
    let cpu = cpu::identify();
    log::info!("Zero OS {} (aarch64) booting", env!("CARGO_PKG_VERSION"));
    log::info!(
        "cpu: {} (midr {:#010x}, {}), {} cpu(s), entered at EL{}",
        cpu.name,
        cpu.midr,
        info.cpu_compatible,
        info.cpu_count,
        entry_el
    );
    log::info!("smp: {online} of {} cpu(s) online", info.cpu_count);
    log::info!(
        "memory: {} MiB RAM in {} bank(s), {} MiB free, kernel heap ready",
        info.ram_bytes() >> 20,
        info.memory_count,
        (free_frames * PAGE_SIZE) >> 20
    );
    log::info!(
        "device: uart pl011 at {:#x} irq {}",
        info.uart.start,
        info.uart_irq
    );
    match info.gic {
        Gic::V2 { distributor, .. } => log::info!(
            "device: gic v{} at {:#x}",
            irq::version(),
            distributor.start
        ),
        Gic::V3 { distributor, .. } => log::info!(
            "device: gic v{} at {:#x}",
            irq::version(),
            distributor.start
        ),
    }
    log::info!(
        "device: timer irq {} at {} Hz",
        info.timer_irq,
        timer::frequency()
    );
    match info.psci {
        Some(method) => log::info!("device: psci via {:?}", method),
        None => log::warn!("device: no psci; poweroff will halt instead"),
    }
    match info.initrd {
        Some(r) => log::info!("device: initrd at {:#x}, {} bytes", r.start, r.len()),
        None => log::info!("device: no initrd"),
    }
    let mut present = 0;
    for slot in info.virtio() {
        if let Some(kind) = cpu::virtio_device_kind(phys_to_virt(slot.regs.start)) {
            log::info!(
                "device: virtio-{} at {:#x} irq {}",
                kind,
                slot.regs.start,
                slot.irq
            );
            present += 1;
        }
    }
    if let Some(pci) = info.pci {
        log::info!(
            "device: PCI ECAM at {:#x} ({} MiB), memory window {:#x}..{:#x}, {} INTx lines",
            pci.ecam.start,
            pci.ecam.len() >> 20,
            pci.mmio.start,
            pci.mmio.end,
            pci.intx_count
        );
    }
    log::info!(
        "device: {} virtio-mmio slot(s), {} in use",
        info.virtio_count,
        present
    );
    if !info.bootargs.is_empty() {
        log::info!("boot arguments: {}", info.bootargs);
    }
}
