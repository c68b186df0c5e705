//! Interrupt routing: the local APIC and IOAPIC when ACPI describes them
//! (`apic.rs`), else the legacy 8259 PIC pair. Either way ISA line n arrives
//! on vector 32 + n (the PICs are remapped there, and masked whole when the
//! APICs take over). The vector being handled is noted by the trap path and
//! taken by [`dispatch`].

use crate::acpi_tables::Platform;
use crate::apic;
use core::sync::atomic::{AtomicBool, Ordering};
use x86_64::instructions::port::Port;

use crate::exceptions::{IRQ_BASE, IRQ_COUNT};

const PIC1_COMMAND: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
const PIC2_COMMAND: u16 = 0xa0;
const PIC2_DATA: u16 = 0xa1;
const END_OF_INTERRUPT: u8 = 0x20;
/// No interrupt pending.
const NONE: u64 = u64::MAX;

/// The APICs route interrupts (else the PICs).
static APIC: AtomicBool = AtomicBool::new(false);

fn out(port: u16, value: u8) {
    // SAFETY: the PIC's ports; only this module drives them.
    unsafe { Port::<u8>::new(port).write(value) };
}

fn inp(port: u16) -> u8 {
    // SAFETY: as in `out`.
    unsafe { Port::<u8>::new(port).read() }
}

/// Remaps both PICs to vectors 32–47; then either masks them whole and hands
/// routing to the APICs `platform` describes, or keeps them (every line but
/// the cascade masked).
pub fn init(platform: Option<&Platform>) {
    let base = IRQ_BASE as u8;
    out(PIC1_COMMAND, 0x11); // ICW1: init, ICW4 follows
    out(PIC2_COMMAND, 0x11);
    out(PIC1_DATA, base); // ICW2: vector offsets
    out(PIC2_DATA, base + 8);
    out(PIC1_DATA, 4); // ICW3: slave on line 2
    out(PIC2_DATA, 2);
    out(PIC1_DATA, 1); // ICW4: 8086 mode
    out(PIC2_DATA, 1);
    if platform.is_some_and(apic::init) {
        out(PIC1_DATA, 0xff);
        out(PIC2_DATA, 0xff);
        APIC.store(true, Ordering::Relaxed);
        return;
    }
    out(PIC1_DATA, !0b100);
    out(PIC2_DATA, 0xff);
}

/// Whether the APICs route interrupts.
pub fn uses_apic() -> bool {
    APIC.load(Ordering::Relaxed)
}

/// Masks or unmasks one legacy line.
pub fn set_enabled(irq: u32, enabled: bool) {
    if irq >= IRQ_COUNT as u32 {
        return;
    }
    if uses_apic() {
        apic::set_enabled(irq, enabled);
        return;
    }
    // The PICs have the ISA lines only.
    if irq >= 16 {
        return;
    }
    let (port, bit) = if irq < 8 {
        (PIC1_DATA, irq)
    } else {
        (PIC2_DATA, irq - 8)
    };
    let mask = inp(port);
    out(
        port,
        if enabled {
            mask & !(1 << bit)
        } else {
            mask | (1 << bit)
        },
    );
}

/// Notes the vector a trap arrived on (per CPU: each takes its own).
pub fn set_pending(vector: u64) {
    crate::smp::this().pending.store(vector, Ordering::Relaxed);
}

/// In-service register of one PIC.
fn in_service(command: u16) -> u8 {
    out(command, 0x0b);
    inp(command)
}

/// Hands the pending interrupt line to `handle`, then ends it. Spurious
/// interrupts (lines 7 and 15 not in service) are dropped.
pub fn dispatch(handle: &mut dyn FnMut(u32)) {
    let vector = crate::smp::this().pending.swap(NONE, Ordering::Relaxed);
    if vector == NONE {
        return;
    }
    let irq = (vector - IRQ_BASE) as u32;
    if uses_apic() {
        handle(irq);
        apic::end_of_interrupt();
        return;
    }
    if irq == 7 && in_service(PIC1_COMMAND) & 0x80 == 0 {
        return;
    }
    if irq == 15 && in_service(PIC2_COMMAND) & 0x80 == 0 {
        out(PIC1_COMMAND, END_OF_INTERRUPT);
        return;
    }
    handle(irq);
    if irq >= 8 {
        out(PIC2_COMMAND, END_OF_INTERRUPT);
    }
    out(PIC1_COMMAND, END_OF_INTERRUPT);
}
