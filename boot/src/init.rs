//! Starting init from the initramfs.
//!
//! Boot finds `/sbin/init` in the cpio archive QEMU loaded (uncompressed; a
//! compressed one is refused), validates the ELF, and builds, through the
//! kernel core's public interface, init's address space (segments, stack with
//! a guard page, IPC buffer, boot information page, the initramfs read-only)
//! and its capability table (itself, the system object, the initramfs, every
//! device region and interrupt, and all free memory as its quota). From then
//! on the kernel makes no policy decision.

use alloc::vec::Vec;

use crate::elf::{self, ElfError};
use crate::initramfs::{self, Archive, ArchiveError};
use crate::PhysRange;
use zos_abi::{bootinfo, layout, SysError, IPC_BUFFER_SIZE};
use zos_kernel::arch::{PageFlags, Platform, UserContext};
use zos_kernel::cap::Rights;
use zos_kernel::kernel::{Cost, Kernel};
use zos_kernel::object::*;

const PAGE: u64 = 4096;
/// Frames kept back from init's quota for the kernel's own page tables.
const KERNEL_RESERVE_BYTES: u64 = 4 << 20;
/// Priority of init's main thread.
pub const INIT_PRIORITY: u8 = 200;

/// Sets what the machine and the kernel command line decide before init
/// starts: the CPUs online, the share of the kernel heap processes may
/// charge, power-off when init ends (`poweroff`), and Axiom's rings unless
/// `axiom=off`. `has_arg` tells whether the command line holds a word.
pub fn configure<P: Platform>(
    kernel: &mut Kernel<P>,
    online: usize,
    heap_bytes: usize,
    has_arg: impl Fn(&str) -> bool,
) {
    kernel.online = online.clamp(1, zos_kernel::kernel::MAX_CPUS);
    // Processes may charge three quarters of the heap for their kernel
    // objects; the rest is the kernel's own (boot objects, tables, slack).
    kernel.heap_budget = heap_bytes as u64 / 4 * 3;
    kernel.power_off_when_init_ends = has_arg("poweroff");
    // Axiom's rings: a sixteenth of the heap each (docs/axiom.md).
    if !has_arg("axiom=off") {
        kernel.audit = zos_axiom::Rings::new(heap_bytes / 16 / 48, heap_bytes / 16 / 88);
        kernel.caps.recording = true;
    }
}

/// A device region handed to init.
#[derive(Clone, Copy, Debug)]
pub struct Device<'a> {
    pub name: &'a str,
    pub regs: PhysRange,
    pub irq: Option<u32>,
    /// For a PCI INTx line: which (slot, pin) pairs it serves
    /// (`zos_boot::pci::IntxLine::routes`), told to init in the irq entry's
    /// base (low 64 bits) and size (high 64 bits) words.
    pub irq_routes: u128,
}

/// Why init could not be started.
#[derive(Debug)]
pub enum BootError {
    NoInitramfs,
    Archive(ArchiveError),
    NoInit,
    BadInit(ElfError),
    Kernel(SysError),
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::NoInitramfs => write!(f, "no initramfs (boot with -initrd initramfs.cpio)"),
            BootError::Archive(e) => write!(f, "initramfs unreadable: {e}"),
            BootError::NoInit => write!(f, "initramfs has no /sbin/init"),
            BootError::BadInit(e) => write!(f, "/sbin/init is not a valid program: {e}"),
            BootError::Kernel(e @ (SysError::QuotaExceeded | SysError::OutOfMemory)) => write!(
                f,
                "could not build init: too little memory for init and the boot archive ({e:?})"
            ),
            BootError::Kernel(e) => write!(f, "could not build init: {e:?}"),
        }
    }
}

impl From<SysError> for BootError {
    fn from(e: SysError) -> Self {
        BootError::Kernel(e)
    }
}

/// Builds init in `kernel` and makes it runnable.
pub fn start_init<P: Platform>(
    kernel: &mut Kernel<P>,
    initrd: Option<PhysRange>,
    devices: &[Device],
    cmdline: &str,
    rng_seed: &[u8],
    machine: u16,
) -> Result<(), BootError> {
    let initrd = initrd.ok_or(BootError::NoInitramfs)?;
    // SAFETY: the initrd range was checked to lie in RAM, is reserved from the
    // frame allocator, and is reached through the kernel's linear map.
    let raw: &[u8] =
        unsafe { core::slice::from_raw_parts(P::phys_to_ptr(initrd.start), initrd.len() as usize) };
    if initramfs::is_compressed(raw) {
        return Err(BootError::Archive(ArchiveError::Compressed));
    }
    let archive_bytes = raw;
    let archive = Archive::new(archive_bytes);
    let init_file = archive
        .find("/sbin/init")
        .map_err(BootError::Archive)?
        .ok_or(BootError::NoInit)?;
    let image = elf::validate(init_file.data, machine).map_err(BootError::BadInit)?;

    let quota = (kernel.frames.free_frames() as u64 * PAGE).saturating_sub(KERNEL_RESERVE_BYTES);
    let init = kernel.create_process(None, quota)?;
    kernel.init_process = Some(init);

    // Fixed slots first, in order.
    kernel.grant(init, Some(bootinfo::SLOT_SELF as u32), init, Rights::ALL, 0)?;
    let system = kernel.new_object(Object::System);
    kernel.grant(
        init,
        Some(bootinfo::SLOT_SYSTEM as u32),
        system,
        Rights::ALL,
        0,
    )?;
    let audit = kernel.new_object(Object::Audit);
    kernel.grant(
        init,
        Some(bootinfo::SLOT_AUDIT as u32),
        audit,
        Rights::READ | Rights::GRANT,
        0,
    )?;
    let initramfs = memory_with(kernel, init, archive_bytes)?;
    kernel.grant(
        init,
        Some(bootinfo::SLOT_INITRAMFS as u32),
        initramfs,
        Rights::READ | Rights::MAP | Rights::GRANT,
        0,
    )?;
    let ramfs_pages = (archive_bytes.len() as u64).div_ceil(PAGE).max(1);
    kernel.map_region(
        init,
        initramfs,
        layout::INITRAMFS,
        0,
        ramfs_pages,
        PageFlags::default(),
    )?;

    for segment in &image.segments {
        let (start, end) = segment.page_range();
        let mut contents = alloc::vec![0u8; (end - start) as usize];
        let bytes = segment.file_bytes(init_file.data).unwrap_or(&[]);
        let offset = (segment.vaddr - start) as usize;
        contents[offset..offset + bytes.len()].copy_from_slice(bytes);
        let memory = memory_with(kernel, init, &contents)?;
        let flags = PageFlags {
            write: segment.writable,
            execute: segment.executable,
            device: false,
        };
        kernel.map_region(init, memory, start, 0, (end - start) / PAGE, flags)?;
    }

    // The browser port: the module itself, which the kernel compiles when
    // init's thread first runs (docs/browser.md).
    #[cfg(target_arch = "wasm32")]
    if machine == elf::EM_WASM {
        let module = memory_with(kernel, init, init_file.data)?;
        let pages = (init_file.data.len() as u64).div_ceil(PAGE).max(1);
        kernel.map_region(
            init,
            module,
            layout::MODULE_WINDOW,
            0,
            pages,
            PageFlags::default(),
        )?;
    }

    let stack = memory_with(
        kernel,
        init,
        &alloc::vec![0u8; layout::INIT_STACK_SIZE as usize],
    )?;
    let stack_base = layout::STACK_TOP - layout::INIT_STACK_SIZE;
    let rw = PageFlags {
        write: true,
        execute: false,
        device: false,
    };
    kernel.map_region(
        init,
        stack,
        stack_base,
        0,
        layout::INIT_STACK_SIZE / PAGE,
        rw,
    )?;
    let ipc = memory_with(kernel, init, &alloc::vec![0u8; IPC_BUFFER_SIZE as usize])?;
    kernel.map_region(init, ipc, layout::IPC_BUFFER, 0, IPC_BUFFER_SIZE / PAGE, rw)?;

    // Devices: memory regions and interrupts, recorded in the boot info page.
    let mut entries: Vec<[u64; bootinfo::ENTRY_WORDS]> = Vec::new();
    let mut next_slot = bootinfo::SLOT_AUDIT as u32 + 1;
    for device in devices {
        // An interrupt line alone (a PCI INTx line) has no registers.
        if !device.regs.is_empty() {
            let base = device.regs.start & !(PAGE - 1);
            let pages = (device.regs.end - base).div_ceil(PAGE);
            // Through `new_object`, so the device's Memory object is committed
            // (Axiom: the replayed state holds it, as the kernel's does).
            let memory = kernel.new_object(Object::Memory(Memory::Device { base, pages }));
            let slot = kernel.grant(init, Some(next_slot), memory, Rights::ALL, 0)?;
            next_slot += 1;
            entries.push(entry(
                slot,
                ObjectKind::Memory,
                device.regs.start,
                device.regs.len(),
                device.irq.unwrap_or(0),
                device.name,
            ));
        }
        if let Some(irq) = device.irq {
            if !kernel.irqs.contains_key(&irq) {
                let object = kernel.new_object(Object::Irq(Irq {
                    irq,
                    notification: None,
                }));
                kernel.irqs.insert(irq, object);
                let slot = kernel.grant(init, Some(next_slot), object, Rights::ALL, 0)?;
                next_slot += 1;
                let routes = device.irq_routes;
                let (low, high) = (routes as u64, (routes >> 64) as u64);
                entries.push(entry(slot, ObjectKind::Irq, low, high, irq, device.name));
            }
        }
    }

    let mut info = alloc::vec![0u64; bootinfo::FIRST_ENTRY + entries.len() * bootinfo::ENTRY_WORDS];
    info[bootinfo::WORD_MAGIC] = bootinfo::MAGIC;
    info[bootinfo::WORD_ENTRY_COUNT] = entries.len() as u64;
    info[bootinfo::WORD_INITRAMFS_SIZE] = archive_bytes.len() as u64;
    info[bootinfo::WORD_FREE_FRAMES] = kernel.frames.free_frames() as u64;
    info[bootinfo::WORD_TOTAL_FRAMES] = kernel.frames.total_frames() as u64;
    info[bootinfo::WORD_BOOT_NS] = P::uptime_ns();
    for (i, e) in entries.iter().enumerate() {
        let at = bootinfo::FIRST_ENTRY + i * bootinfo::ENTRY_WORDS;
        info[at..at + bootinfo::ENTRY_WORDS].copy_from_slice(e);
    }
    let quota_left = kernel
        .objects
        .process(init)
        .map_or(0, |p| p.quota.limit - p.quota.used);
    info[bootinfo::WORD_QUOTA] = quota_left;
    info[bootinfo::WORD_CMDLINE_LEN] = cmdline.len() as u64;
    let rng_seed = &rng_seed[..rng_seed.len().min(bootinfo::MAX_RNG_SEED)];
    info[bootinfo::WORD_RNG_SEED_LEN] = rng_seed.len() as u64;
    let mut bytes: Vec<u8> = info.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.extend_from_slice(cmdline.as_bytes());
    bytes.extend_from_slice(rng_seed);
    let info_memory = memory_with(kernel, init, &bytes)?;
    kernel.grant(
        init,
        Some(bootinfo::SLOT_BOOT_INFO as u32),
        info_memory,
        Rights::READ | Rights::MAP,
        0,
    )?;
    let info_pages = (bytes.len() as u64).div_ceil(PAGE);
    kernel.map_region(
        init,
        info_memory,
        layout::BOOT_INFO,
        0,
        info_pages,
        PageFlags::default(),
    )?;

    let thread = kernel.create_thread(
        init,
        image.entry,
        layout::STACK_TOP,
        layout::BOOT_INFO,
        INIT_PRIORITY,
    )?;
    kernel.grant(
        init,
        Some(bootinfo::SLOT_MAIN_THREAD as u32),
        thread,
        Rights::ALL,
        0,
    )?;
    if let Some(t) = kernel.objects.thread_mut(thread) {
        t.ipc_buffer = Some(layout::IPC_BUFFER);
        t.context.set_result(0, layout::BOOT_INFO);
    }
    kernel.start_thread(thread);
    log::info!(
        "init: /sbin/init started ({} segments, entry {:#x}), {} MiB quota, {} device caps",
        image.segments.len(),
        image.entry,
        quota_left >> 20,
        entries.len()
    );
    Ok(())
}

/// A new Memory object holding `bytes` (zero-padded to pages), charged to `owner`.
fn memory_with<P: Platform>(
    kernel: &mut Kernel<P>,
    owner: ObjRef,
    bytes: &[u8],
) -> Result<ObjRef, SysError> {
    let pages = (bytes.len() as u64).div_ceil(PAGE).max(1);
    kernel.charge(owner, Cost::frames(pages * PAGE))?;
    let mut frames = Vec::with_capacity(pages as usize);
    for page in 0..pages as usize {
        let frame = kernel.frames.alloc().ok_or(SysError::OutOfMemory)?;
        let ptr = P::phys_to_ptr(frame);
        let chunk = bytes.get(page * PAGE as usize..).unwrap_or(&[]);
        let chunk = &chunk[..chunk.len().min(PAGE as usize)];
        P::zero_frame(frame);
        // SAFETY: a freshly allocated frame reached through the linear map.
        unsafe { core::ptr::copy_nonoverlapping(chunk.as_ptr(), ptr, chunk.len()) };
        frames.push(frame);
    }
    let memory = kernel.new_object(Object::Memory(Memory::Frames {
        frames,
        read_only: false,
    }));
    kernel.record_charge(memory, owner, Cost::frames(pages * PAGE));
    Ok(memory)
}

fn entry(
    slot: u32,
    kind: ObjectKind,
    base: u64,
    size: u64,
    irq: u32,
    name: &str,
) -> [u64; bootinfo::ENTRY_WORDS] {
    let mut words = [0u64; bootinfo::ENTRY_WORDS];
    words[0] = slot as u64;
    words[1] = kind as u64;
    words[2] = base;
    words[3] = size;
    words[4] = irq as u64;
    let mut name_bytes = [0u8; 24];
    let n = name.len().min(23);
    name_bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    for i in 0..3 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&name_bytes[i * 8..i * 8 + 8]);
        words[5 + i] = u64::from_le_bytes(w);
    }
    words
}
