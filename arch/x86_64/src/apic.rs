//! The local APIC (xAPIC, MMIO: QEMU's TCG has no x2APIC) and the IOAPIC.
//!
//! The local APIC's timer raises the scheduler tick on vector
//! `IRQ_BASE + 0`; the IOAPIC routes ISA interrupt n (through the MADT's
//! overrides) to vector `IRQ_BASE + n`, so the rest of the backend keeps
//! numbering interrupts as ISA lines; lines 16 and up are the IOAPIC's PCI
//! inputs (GSI = line, level-triggered, active low; masked on delivery by the
//! core until the driver acknowledges, so a level stays quiet meanwhile). Both register windows are mapped
//! uncached at the linear map by the final kernel table.

use crate::acpi_tables::{IsaRoute, Platform, ISA_IRQS};
use crate::exceptions::{IRQ_BASE, IRQ_COUNT};
use crate::mmu::phys_to_virt;
use core::sync::atomic::{AtomicU64, Ordering};

/// The spurious-interrupt vector (its low four bits must be set).
pub const SPURIOUS_VECTOR: u64 = 0xff;

const ID: usize = 0x20;
const TASK_PRIORITY: usize = 0x80;
const END_OF_INTERRUPT: usize = 0xb0;
const SPURIOUS: usize = 0xf0;
const LVT_TIMER: usize = 0x320;
const TIMER_INITIAL: usize = 0x380;
const TIMER_CURRENT: usize = 0x390;
const TIMER_DIVIDE: usize = 0x3e0;
const ICR_LOW: usize = 0x300;
const ICR_HIGH: usize = 0x310;
/// ICR: the previous IPI is still being sent.
const DELIVERY_PENDING: u32 = 1 << 12;
/// ICR delivery modes: fixed, INIT (level assert), start-up.
const ICR_FIXED: u32 = 0;
const ICR_INIT: u32 = (0b101 << 8) | (1 << 14);
const ICR_STARTUP: u32 = (0b110 << 8) | (1 << 14);
const MASKED: u32 = 1 << 16;
const PERIODIC: u32 = 1 << 17;

static LOCAL: AtomicU64 = AtomicU64::new(0);
static IO: AtomicU64 = AtomicU64::new(0);
static IO_GSI_BASE: AtomicU64 = AtomicU64::new(0);
static IO_INPUTS: AtomicU64 = AtomicU64::new(0);
static TIMER_COUNT: AtomicU64 = AtomicU64::new(0);
/// The boot CPU's APIC id: device interrupts go there.
static BOOT_ID: AtomicU64 = AtomicU64::new(0);
static ROUTES: spin::Mutex<Option<[IsaRoute; ISA_IRQS]>> = spin::Mutex::new(None);

fn local_read(offset: usize) -> u32 {
    let base = LOCAL.load(Ordering::Relaxed);
    // SAFETY: `base` is the local APIC's register page, mapped uncached by
    // the kernel table (`init` runs after it is live); offsets are registers.
    unsafe { core::ptr::read_volatile((base as usize + offset) as *const u32) }
}

fn local_write(offset: usize, value: u32) {
    let base = LOCAL.load(Ordering::Relaxed);
    // SAFETY: as in `local_read`.
    unsafe { core::ptr::write_volatile((base as usize + offset) as *mut u32, value) }
}

fn io_write(register: u32, value: u32) {
    let base = IO.load(Ordering::Relaxed) as usize;
    // SAFETY: the IOAPIC's select (offset 0) and window (0x10) registers,
    // mapped uncached; the two writes run with interrupts off.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, register);
        core::ptr::write_volatile((base + 0x10) as *mut u32, value);
    }
}

fn io_read(register: u32) -> u32 {
    let base = IO.load(Ordering::Relaxed) as usize;
    // SAFETY: as in `io_write`.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, register);
        core::ptr::read_volatile((base + 0x10) as *const u32)
    }
}

/// The physical pages the kernel table must map uncached.
pub fn register_pages(platform: &Platform) -> [Option<u64>; 2] {
    [
        Some(platform.local_apic & !0xfff),
        platform.io_apic.map(|(base, _)| base & !0xfff),
    ]
}

/// Turns the local APIC on (spurious vector set, every priority accepted)
/// and masks every IOAPIC input. Needs an IOAPIC; false without one.
pub fn init(platform: &Platform) -> bool {
    let Some((io_base, gsi_base)) = platform.io_apic else {
        return false;
    };
    LOCAL.store(phys_to_virt(platform.local_apic), Ordering::Relaxed);
    IO.store(phys_to_virt(io_base), Ordering::Relaxed);
    IO_GSI_BASE.store(u64::from(gsi_base), Ordering::Relaxed);
    *ROUTES.lock() = Some(platform.isa);
    BOOT_ID.store(u64::from(local_read(ID) & 0xff00_0000), Ordering::Relaxed);
    local_write(TASK_PRIORITY, 0);
    local_write(SPURIOUS, 0x100 | SPURIOUS_VECTOR as u32);
    local_write(LVT_TIMER, MASKED | IRQ_BASE as u32);
    let inputs = ((io_read(1) >> 16) & 0xff) + 1;
    IO_INPUTS.store(u64::from(inputs), Ordering::Relaxed);
    for input in 0..inputs {
        io_write(0x10 + 2 * input, MASKED);
        io_write(0x11 + 2 * input, 0);
    }
    // The PCI inputs are level-triggered from the start: an IOAPIC ignores an
    // edge on a masked edge input, so an INTx raised before its driver
    // unmasked the line would be lost and, staying high, never seen again.
    for irq in ISA_IRQS as u32..IRQ_COUNT as u32 {
        set_enabled(irq, false);
    }
    true
}

/// Starts the timer counting down from its maximum (divide by 16), masked:
/// `timer_calibrated` reads how far it got.
pub fn timer_start_calibration() {
    local_write(TIMER_DIVIDE, 0b0011);
    local_write(TIMER_INITIAL, u32::MAX);
}

/// Makes the timer periodic with the count it ran down in one tick period.
pub fn timer_calibrated() {
    let count = u32::MAX - local_read(TIMER_CURRENT);
    TIMER_COUNT.store(u64::from(count.max(1000)), Ordering::Relaxed);
    local_write(LVT_TIMER, MASKED | PERIODIC | IRQ_BASE as u32);
    local_write(TIMER_INITIAL, count.max(1000));
}

/// The timer's count per tick (for the banner).
pub fn timer_count() -> u64 {
    TIMER_COUNT.load(Ordering::Relaxed)
}

/// Masks or unmasks ISA interrupt `irq` (0 is the local APIC's timer).
pub fn set_enabled(irq: u32, enabled: bool) {
    if irq == 0 {
        let lvt = local_read(LVT_TIMER);
        local_write(
            LVT_TIMER,
            if enabled { lvt & !MASKED } else { lvt | MASKED },
        );
        return;
    }
    // Lines past the ISA ones are PCI INTx inputs: GSI = line, level-triggered,
    // active low (the PCI convention).
    let pci = IsaRoute {
        gsi: irq,
        active_low: true,
        level: true,
    };
    let route = ROUTES.lock().and_then(|r| r.get(irq as usize).copied());
    let Some(route) = route.or((irq as usize >= ISA_IRQS).then_some(pci)) else {
        return;
    };
    let Some(input) = u64::from(route.gsi).checked_sub(IO_GSI_BASE.load(Ordering::Relaxed)) else {
        return;
    };
    if input >= IO_INPUTS.load(Ordering::Relaxed) {
        return;
    }
    let input = input as u32;
    let low = (IRQ_BASE as u32 + irq)
        | (u32::from(route.active_low) << 13)
        | (u32::from(route.level) << 15)
        | if enabled { 0 } else { MASKED };
    // Fixed delivery, physical destination: the boot CPU's APIC id.
    io_write(0x11 + 2 * input, BOOT_ID.load(Ordering::Relaxed) as u32);
    io_write(0x10 + 2 * input, low);
}

/// Ends the interrupt being handled.
pub fn end_of_interrupt() {
    local_write(END_OF_INTERRUPT, 0);
}

/// This CPU's APIC id.
pub fn local_id() -> u32 {
    local_read(ID) >> 24
}

/// An application processor's local APIC: on, every priority accepted, and
/// its timer ticking periodically with the count the boot CPU measured
/// (every local APIC timer runs from the same bus clock).
pub fn init_cpu() {
    local_write(TASK_PRIORITY, 0);
    local_write(SPURIOUS, 0x100 | SPURIOUS_VECTOR as u32);
    local_write(TIMER_DIVIDE, 0b0011);
    local_write(LVT_TIMER, PERIODIC | IRQ_BASE as u32);
    local_write(TIMER_INITIAL, TIMER_COUNT.load(Ordering::Relaxed) as u32);
}

/// Writes the interrupt command register and waits until it is sent.
fn send_command(apic_id: u32, command: u32) {
    local_write(ICR_HIGH, apic_id << 24);
    local_write(ICR_LOW, command);
    while local_read(ICR_LOW) & DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
}

/// Sends interrupt `vector` to the CPU with APIC id `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send_command(apic_id, ICR_FIXED | u32::from(vector));
}

/// INIT: the CPU resets and waits for a start-up IPI.
pub fn send_init(apic_id: u32) {
    send_command(apic_id, ICR_INIT);
}

/// Start-up IPI: the CPU starts in real mode at `page` << 12.
pub fn send_startup(apic_id: u32, page: u8) {
    send_command(apic_id, ICR_STARTUP | u32::from(page));
}
