//! Application processors: INIT-SIPI-SIPI bring-up through a real-mode
//! trampoline, per-CPU blocks, and the inter-processor work the core asks for
//! (wake-up, leaving user mode, TLB shootdown).
//!
//! Every CPU has a [`PerCpu`] block, found through the GS base while in the
//! kernel (`swapgs` on every entry from and exit to ring 3, so user code
//! never sees it): its dense index (the core's `Platform::cpu_id`, the boot
//! CPU is 0, the others follow the MADT's order), the stack pointers the trap
//! entry needs, its own TSS and GDT, the vector its last interrupt arrived on
//! and the flags other CPUs read: whether it may be in user mode, which page
//! table it has loaded, and whether that table's TLB entries must go before
//! it returns to user mode.
//!
//! x86 has no broadcast TLB invalidation. The kernel reads user memory only
//! through the linear map (`usercopy`), so stale user TLB entries matter only
//! in user mode: an unmap marks every other CPU that has the table loaded
//! as needing a flush, makes it leave user mode (the wake-up IPI, then waits
//! for its acknowledgement: the entry clears its "in user" flag before it
//! waits for the kernel lock), and that CPU reloads CR3 before it returns to
//! user mode (`user::activate`, under the lock). A table root still loaded
//! on another CPU is not freed until that CPU has moved to another table.

use crate::cpu::{Tss, IOPB_BYTES, TSS_HEADER};
use crate::{apic, mmu, timer};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use x86_64::registers::model_specific::Msr;
use zos_boot::PhysRange;
use zos_kernel::kernel::MAX_CPUS;

/// The vector of the wake-up / leave-user-mode IPI (above the device lines,
/// below the spurious vector).
pub const WAKE_VECTOR: u64 = 0xf0;

/// The physical page the trampoline is copied to (the SIPI vector is its page
/// number), and the three pages after it: the bring-up page tables.
const TRAMPOLINE: u64 = 0x8000;
const TRAMPOLINE_PML4: u64 = 0x9000;
const TRAMPOLINE_PDPT: u64 = 0xa000;
const TRAMPOLINE_PD: u64 = 0xb000;
const TRAMPOLINE_END: u64 = 0xc000;

/// Each application processor's kernel stack (linker.ld reserves them, each
/// above an unmapped guard page).
pub const AP_STACK_BYTES: u64 = 64 * 1024;
const GUARD_BYTES: u64 = 4096;

const MSR_GS_BASE: u32 = 0xC000_0101;
const MSR_KERNEL_GS_BASE: u32 = 0xC000_0102;

/// One CPU's state (layout of the first words shared with `entry.S`).
#[repr(C, align(64))]
pub struct PerCpu {
    /// gs:0 — this block's own address.
    self_ptr: AtomicU64,
    /// gs:8 — the dense CPU index.
    id: AtomicU64,
    /// gs:16 — where traps from user mode run (the CPU's stack top).
    kernel_stack_top: AtomicU64,
    /// gs:24 — just past the running thread's frame (`syscall` saves there).
    syscall_frame_end: AtomicU64,
    /// gs:32 — the user stack pointer during `syscall` entry.
    syscall_user_rsp: AtomicU64,
    /// gs:40 — this CPU's TSS (`resume_user` sets its `rsp0`).
    tss_address: AtomicU64,
    /// The vector the last interrupt arrived on (`irq::dispatch` takes it).
    pub pending: AtomicU64,
    /// Whether the CPU may be running user code: set under the kernel lock
    /// when a thread is prepared (`user::activate`), cleared on every entry
    /// from user mode before the lock is taken. [`stop_user`] waits for it.
    in_user: AtomicBool,
    /// Whether the loaded table's TLB entries are stale (set by an unmap on
    /// another CPU; cleared by the CR3 reload before user mode).
    flush_pending: AtomicBool,
    /// The page-table root loaded in CR3 (0: the kernel's table).
    active_root: AtomicU64,
    /// Whose I/O permission bitmap the TSS holds (`user.rs`).
    pub iopb_owner: AtomicU64,
    apic_id: AtomicU32,
    tss: UnsafeCell<Tss>,
    gdt: UnsafeCell<[u64; 7]>,
}

// SAFETY: the atomics are shared; the TSS and GDT are written only by their
// own CPU (boot, or under the kernel lock), read by the hardware.
unsafe impl Sync for PerCpu {}

const _: () = {
    assert!(core::mem::offset_of!(PerCpu, id) == 8);
    assert!(core::mem::offset_of!(PerCpu, kernel_stack_top) == 16);
    assert!(core::mem::offset_of!(PerCpu, syscall_frame_end) == 24);
    assert!(core::mem::offset_of!(PerCpu, syscall_user_rsp) == 32);
    assert!(core::mem::offset_of!(PerCpu, tss_address) == 40);
};

impl PerCpu {
    const fn new() -> Self {
        PerCpu {
            self_ptr: AtomicU64::new(0),
            id: AtomicU64::new(0),
            kernel_stack_top: AtomicU64::new(0),
            syscall_frame_end: AtomicU64::new(0),
            syscall_user_rsp: AtomicU64::new(0),
            tss_address: AtomicU64::new(0),
            pending: AtomicU64::new(u64::MAX),
            in_user: AtomicBool::new(false),
            flush_pending: AtomicBool::new(false),
            active_root: AtomicU64::new(0),
            iopb_owner: AtomicU64::new(0),
            apic_id: AtomicU32::new(0),
            tss: UnsafeCell::new(Tss::new()),
            gdt: UnsafeCell::new([0; 7]),
        }
    }

    /// This CPU's TSS (written only by this CPU).
    pub fn tss(&self) -> *mut Tss {
        self.tss.get()
    }

    /// This CPU's GDT (written only by this CPU, at start-up).
    pub fn gdt(&self) -> *mut [u64; 7] {
        self.gdt.get()
    }

    pub fn id(&self) -> usize {
        self.id.load(Ordering::Relaxed) as usize
    }
}

static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

/// CPUs running the kernel (always 0..ONLINE).
static ONLINE: AtomicUsize = AtomicUsize::new(1);
/// The index of the CPU being started (0: none). A CPU claims it before it
/// counts itself online; one that starts after the boot CPU gave up on it
/// finds it taken back and stays halted.
static STARTING: AtomicUsize = AtomicUsize::new(0);

/// Page-table roots freed while another CPU still had them loaded; freed for
/// real once no CPU has (`user.rs` calls [`take_retired`]).
static RETIRED: spin::Mutex<alloc::vec::Vec<u64>> = spin::Mutex::new(alloc::vec::Vec::new());

extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_alive: u8;
    static ap_cr3: u8;
    static ap_stack: u8;
    static ap_block: u8;
    static ap_entry: u8;
    static __ap_stacks: u8;
}

/// The boot CPU's block: GS base points at it from the first Rust code on.
pub fn init_boot_cpu() {
    init_block(0, 0);
}

fn init_block(cpu: usize, apic_id: u32) -> &'static PerCpu {
    let block = &CPUS[cpu];
    let address = block as *const PerCpu as u64;
    block.self_ptr.store(address, Ordering::Relaxed);
    block.id.store(cpu as u64, Ordering::Relaxed);
    block
        .tss_address
        .store(block.tss() as u64, Ordering::Relaxed);
    block.apic_id.store(apic_id, Ordering::Relaxed);
    block
}

/// Points this CPU's GS base at `block` (the user's GS base starts at 0).
fn load_gs(block: &PerCpu) {
    // SAFETY: the GS base only names this CPU's block; the kernel reads it
    // through `this()` and entry.S, user code gets the other base by swapgs.
    unsafe {
        Msr::new(MSR_GS_BASE).write(block as *const PerCpu as u64);
        Msr::new(MSR_KERNEL_GS_BASE).write(0);
    }
}

/// Sets up the boot CPU's GS base (before anything asks `cpu_id`).
pub fn load_boot_gs() {
    load_gs(&CPUS[0]);
}

/// This CPU's block.
#[inline(always)]
pub fn this() -> &'static PerCpu {
    let block: u64;
    // SAFETY: in the kernel the GS base is this CPU's block (`load_gs`).
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) block, options(nostack, readonly, preserves_flags))
    };
    // SAFETY: the block is a static, alive for good.
    unsafe { &*(block as *const PerCpu) }
}

/// This CPU's index.
#[inline(always)]
pub fn cpu_id() -> usize {
    let id: u64;
    // SAFETY: as in `this`.
    unsafe {
        core::arch::asm!("mov {}, gs:[8]", out(reg) id, options(nostack, readonly, preserves_flags))
    };
    id as usize
}

pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// The blocks of the online CPUs.
pub fn online_blocks() -> &'static [PerCpu] {
    &CPUS[..online()]
}

/// The stack traps from user mode switch to, on this CPU.
pub fn set_kernel_stack(top: u64) {
    this().kernel_stack_top.store(top, Ordering::Relaxed);
}

/// Marks this CPU as (maybe) entering user mode; under the kernel lock.
#[inline(always)]
pub fn entering_user(block: &PerCpu) {
    block.in_user.store(true, Ordering::Relaxed);
}

/// Marks this CPU as out of user mode (its registers are saved).
#[inline(always)]
pub fn left_user() {
    this().in_user.store(false, Ordering::Release);
}

/// The table root loaded on this CPU (0: the kernel's).
pub fn active_root() -> u64 {
    this().active_root.load(Ordering::Relaxed)
}

/// Loads `root` (0: the kernel's table) into CR3 on this CPU; any pending
/// flush is done by the reload.
pub fn load_root(block: &PerCpu, root: u64) {
    let cr3 = if root == 0 {
        crate::kernel_root()
    } else {
        root
    };
    mmu::activate_root(cr3);
    block.flush_pending.store(false, Ordering::Relaxed);
    block.active_root.store(root, Ordering::Release);
}

/// Whether `block`'s CPU has table `root` loaded.
pub fn has_loaded(block: &PerCpu, root: u64) -> bool {
    block.active_root.load(Ordering::Acquire) == root
}

/// Whether an unmap elsewhere left this CPU's TLB stale.
pub fn flush_pending(block: &PerCpu) -> bool {
    block.flush_pending.load(Ordering::Relaxed)
}

/// Sends CPU `cpu` the wake-up IPI.
pub fn wake(cpu: usize) {
    if cpu != cpu_id() && cpu < online() {
        apic::send_ipi(CPUS[cpu].apic_id.load(Ordering::Relaxed), WAKE_VECTOR as u8);
    }
}

/// Interrupts CPU `cpu` and waits until it has left user mode. Called with
/// the kernel lock held: the other CPU clears its flag on entry, before it
/// waits for the lock, so this cannot deadlock.
pub fn stop_user(cpu: usize) {
    if cpu == cpu_id() || cpu >= online() {
        return;
    }
    let block = &CPUS[cpu];
    if !block.in_user.load(Ordering::Acquire) {
        return;
    }
    apic::send_ipi(block.apic_id.load(Ordering::Relaxed), WAKE_VECTOR as u8);
    while block.in_user.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
}

/// TLB shootdown after an unmap in table `root`: every other CPU with it
/// loaded flushes before it next enters user mode, and has left user mode
/// when this returns. Under the kernel lock.
pub fn shoot_down(root: u64) {
    let me = cpu_id();
    for (cpu, block) in online_blocks().iter().enumerate() {
        if cpu != me && block.active_root.load(Ordering::Acquire) == root {
            block.flush_pending.store(true, Ordering::Relaxed);
            stop_user(cpu);
        }
    }
}

/// Whether another CPU has `root` loaded (it then must not be freed yet).
pub fn loaded_elsewhere(root: u64) -> bool {
    let me = cpu_id();
    online_blocks()
        .iter()
        .enumerate()
        .any(|(cpu, b)| cpu != me && b.active_root.load(Ordering::Acquire) == root)
}

/// Keeps `root` until no CPU has it loaded.
pub fn retire(root: u64) {
    RETIRED.lock().push(root);
}

/// The retired roots no CPU has loaded any more, for freeing.
pub fn take_retired(out: &mut dyn FnMut(u64)) {
    let mut retired = RETIRED.lock();
    retired.retain(|&root| {
        let busy = online_blocks()
            .iter()
            .any(|b| b.active_root.load(Ordering::Acquire) == root);
        if !busy {
            out(root);
        }
        busy
    });
}

/// An idle CPU lets go of the user table it had loaded (with several CPUs:
/// the table may be freed meanwhile).
pub fn idle_release_root() {
    let block = this();
    if online() > 1 && block.active_root.load(Ordering::Relaxed) != 0 {
        load_root(block, 0);
    }
}

/// Why an application processor could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The trampoline's pages below 1 MiB are not RAM.
    NoTrampolineRam,
}

/// How long the boot CPU waits for another CPU to come online. A
/// virtual CPU is a host thread: on a loaded host one took over 100 ms (the
/// old limit) to run its first instructions, and the system came up with
/// one CPU fewer. Linux waits seconds too.
const START_TIMEOUT_NS: u64 = 5_000_000_000;

/// Starts every other enabled CPU of the MADT (`apic_ids`, the boot CPU's
/// among them), one at a time; stops at the first that does not come online
/// within [`START_TIMEOUT_NS`]. Returns the online count.
pub fn start_application_processors(
    apic_ids: &[u32],
    memory: &[PhysRange],
) -> Result<usize, StartError> {
    let own = apic::local_id();
    CPUS[0].apic_id.store(own, Ordering::Relaxed);
    if apic_ids.iter().all(|&id| id == own) {
        return Ok(1);
    }
    let low = PhysRange::new(TRAMPOLINE, TRAMPOLINE_END);
    if !memory.iter().any(|m| m.contains_range(&low)) {
        return Err(StartError::NoTrampolineRam);
    }
    install_trampoline();
    for &apic_id in apic_ids.iter().filter(|&&id| id != own) {
        let cpu = online();
        if cpu >= MAX_CPUS {
            log::warn!("smp: only {MAX_CPUS} cpus supported; apic id {apic_id} stays parked");
            break;
        }
        let block = init_block(cpu, apic_id);
        let stacks = &raw const __ap_stacks as u64;
        let top = stacks + cpu as u64 * (GUARD_BYTES + AP_STACK_BYTES);
        block.kernel_stack_top.store(top, Ordering::Relaxed);
        set_parameter(&raw const ap_stack, top);
        set_parameter(&raw const ap_block, block as *const PerCpu as u64);
        set_parameter(&raw const ap_entry, ap_main as *const () as u64);
        set_parameter(&raw const ap_cr3, TRAMPOLINE_PML4);
        STARTING.store(cpu, Ordering::Release);
        let alive = trampoline_byte(&raw const ap_alive);
        // SAFETY: the trampoline copy is RAM below 1 MiB owned by bring-up.
        unsafe { alive.write_volatile(0) };
        apic::send_init(apic_id);
        delay_us(10_000);
        for _ in 0..2 {
            apic::send_startup(apic_id, (TRAMPOLINE >> 12) as u8);
            delay_us(1_000);
            // SAFETY: as above.
            if unsafe { alive.read_volatile() } != 0 {
                break;
            }
        }
        let deadline = timer::uptime_ns() + START_TIMEOUT_NS;
        while online() == cpu && timer::uptime_ns() < deadline {
            core::hint::spin_loop();
        }
        let gave_up = STARTING
            .compare_exchange(cpu, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        while !gave_up && online() == cpu {
            core::hint::spin_loop(); // claimed just now: it counts itself next
        }
        if online() == cpu {
            log::warn!("smp: cpu {cpu} (apic id {apic_id}) did not start");
            break;
        }
    }
    Ok(online())
}

fn delay_us(us: u64) {
    let end = timer::uptime_ns() + us * 1000;
    while timer::uptime_ns() < end {
        core::hint::spin_loop();
    }
}

/// Where trampoline symbol `symbol` lies in the copy below 1 MiB.
fn trampoline_byte(symbol: *const u8) -> *mut u8 {
    let start = &raw const ap_trampoline_start as u64;
    mmu::phys_to_virt(TRAMPOLINE + (symbol as u64 - start)) as *mut u8
}

fn set_parameter(symbol: *const u8, value: u64) {
    let at = trampoline_byte(symbol) as *mut u64;
    // SAFETY: the parameter words are 8-byte aligned inside the copy (the
    // copy starts page aligned); bring-up owns the page.
    unsafe { at.write_volatile(value) };
}

/// Copies the trampoline below 1 MiB and builds its page tables: the first
/// 2 MiB identity-mapped (the trampoline runs there when paging turns on),
/// the upper half the kernel's.
fn install_trampoline() {
    let (start, end) = (
        &raw const ap_trampoline_start as u64,
        &raw const ap_trampoline_end as u64,
    );
    let bytes = end - start;
    assert!(bytes <= TRAMPOLINE_PML4 - TRAMPOLINE, "trampoline too long");
    let word = |pa: u64| mmu::phys_to_virt(pa) as *mut u64;
    let kernel = word(crate::kernel_root());
    // SAFETY: four pages below 1 MiB, RAM (checked by the caller), reserved
    // from the frame allocator (the low 1 MiB); the kernel root is read only.
    unsafe {
        core::ptr::copy_nonoverlapping(
            start as *const u8,
            word(TRAMPOLINE) as *mut u8,
            bytes as usize,
        );
        for table in [TRAMPOLINE_PML4, TRAMPOLINE_PDPT, TRAMPOLINE_PD] {
            core::ptr::write_bytes(word(table), 0, 512);
        }
        for i in 256..512 {
            word(TRAMPOLINE_PML4).add(i).write(kernel.add(i).read());
        }
        word(TRAMPOLINE_PML4).write(TRAMPOLINE_PDPT | 3);
        word(TRAMPOLINE_PDPT).write(TRAMPOLINE_PD | 3);
        word(TRAMPOLINE_PD).write(0x83); // 2 MiB at 0: present, writable, large
    }
}

/// An application processor's first Rust code (from the trampoline, on its
/// own stack, in long mode with the trampoline's tables).
extern "C" fn ap_main(block: &'static PerCpu) -> ! {
    load_root(block, 0);
    load_gs(block);
    crate::cpu::init_gdt(block);
    crate::exceptions::load_idt();
    crate::cpu::init_features();
    let claimed = STARTING
        .compare_exchange(block.id(), 0, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if !claimed {
        // Too late: the boot CPU went on without this one.
        loop {
            x86_64::instructions::interrupts::disable();
            x86_64::instructions::hlt();
        }
    }
    apic::init_cpu();
    ONLINE.fetch_add(1, Ordering::Release);
    crate::trap::enter_user_mode()
}

/// Size of one TSS in the GDT's descriptor (header plus bitmap and end byte).
pub const TSS_LIMIT: u64 = (TSS_HEADER + IOPB_BYTES + 1) as u64 - 1;
