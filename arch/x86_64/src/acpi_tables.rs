//! The machine description from the firmware's ACPI tables (`acpi` crate):
//! the MADT gives the local APIC, the IOAPIC, the CPUs and the ISA interrupt
//! overrides; the MCFG gives the PCI ECAM window (for virtio-pci later); the
//! FADT gives the power-off (PM1a control) and reset registers.
//!
//! Read once at boot while the boot page tables still map the first 4 GiB
//! at the linear map, where QEMU's firmware keeps its tables; a table or
//! RSDP above that is treated as absent (the legacy PIC and PIT then stay).

use crate::mmu::phys_to_virt;
use acpi::address::AddressSpace;
use acpi::fadt::Fadt;
use acpi::madt::{Madt, MadtEntry};
use acpi::mcfg::Mcfg;
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;
use zos_kernel::kernel::MAX_CPUS;

/// What the boot tables reach.
const MAPPED_LIMIT: usize = 4 << 30;
/// Most IOAPIC inputs and ISA overrides kept.
pub const ISA_IRQS: usize = 16;

/// ISA lines are taken level-triggered (active high) unless the MADT says
/// edge. The core masks a line from its delivery until the driver
/// acknowledges it, and an IOAPIC ignores an edge on a masked edge input: a
/// 16550 whose line rose while its driver was still echoing the last input
/// would stay high and never interrupt again (seen with two CPUs, where the
/// console runs beside the typing). A 16550 holds its line high while an
/// interrupt is pending, so as a level input the IOAPIC delivers it again
/// when the line is unmasked.
const ISA_LEVEL: bool = true;

/// One ISA interrupt's route to an IOAPIC input.
#[derive(Clone, Copy, Debug)]
pub struct IsaRoute {
    pub gsi: u32,
    pub active_low: bool,
    pub level: bool,
}

/// The parts of ACPI the backend uses.
#[derive(Clone, Debug)]
pub struct Platform {
    pub local_apic: u64,
    pub cpus: u32,
    /// The enabled CPUs' APIC ids, in MADT order (the first `MAX_CPUS`).
    pub apic_ids: [u32; MAX_CPUS],
    /// IOAPIC base and its first global system interrupt.
    pub io_apic: Option<(u64, u32)>,
    /// ISA IRQ n → GSI (identity unless the MADT overrides it).
    pub isa: [IsaRoute; ISA_IRQS],
    /// PCI ECAM: base, first and last bus (segment 0).
    pub ecam: Option<(u64, u8, u8)>,
    /// The PM1a control register's I/O port (SLP_TYP and SLP_EN).
    pub pm1a_control: Option<u16>,
    /// The reset register's I/O port and the value that resets.
    pub reset: Option<(u16, u8)>,
}

/// Hands the `acpi` crate pointers into the boot linear map.
#[derive(Clone, Copy)]
struct LinearMap;

impl AcpiHandler for LinearMap {
    unsafe fn map_physical_region<T>(&self, pa: usize, size: usize) -> PhysicalMapping<Self, T> {
        // The boot tables map the first 4 GiB; `read` checked the RSDP and
        // every table the crate follows lies below that on QEMU. A table
        // beyond it would fault at boot, which stops the machine with a report.
        let va = phys_to_virt(pa as u64) as *mut T;
        // SAFETY: `va` is the linear-map address of `pa` (non-null, the
        // linear map is in the upper half); the region stays mapped.
        unsafe { PhysicalMapping::new(pa, NonNull::new_unchecked(va), size, size, *self) }
    }
    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Reads the MADT and MCFG found through `rsdp`; `None` without a usable MADT.
pub fn read(rsdp: u64) -> Option<Platform> {
    if rsdp == 0 || rsdp as usize >= MAPPED_LIMIT - 64 {
        return None;
    }
    // SAFETY: the RSDP address comes from the PVH start info and lies in the
    // boot linear map; the crate checks its signature and checksum.
    let tables = unsafe { AcpiTables::from_rsdp(LinearMap, rsdp as usize) }.ok()?;
    let madt = tables.find_table::<Madt>().ok()?;
    let mut platform = Platform {
        local_apic: u64::from(madt.get().local_apic_address),
        cpus: 0,
        apic_ids: [0; MAX_CPUS],
        io_apic: None,
        isa: core::array::from_fn(|irq| IsaRoute {
            gsi: irq as u32,
            active_low: false,
            level: ISA_LEVEL,
        }),
        ecam: None,
        pm1a_control: None,
        reset: None,
    };
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(cpu) if { cpu.flags } & 1 != 0 => {
                if let Some(slot) = platform.apic_ids.get_mut(platform.cpus as usize) {
                    *slot = u32::from(cpu.apic_id);
                }
                platform.cpus += 1;
            }
            MadtEntry::IoApic(io) if platform.io_apic.is_none() => {
                platform.io_apic = Some((
                    u64::from(io.io_apic_address),
                    io.global_system_interrupt_base,
                ))
            }
            MadtEntry::InterruptSourceOverride(o) if o.bus == 0 && (o.irq as usize) < ISA_IRQS => {
                // MPS INTI flags: polarity bits 0-1 (3 = active low), trigger
                // bits 2-3 (1 = edge, 3 = level); 0 means the bus's default
                // (ISA: active high; the trigger: see `ISA_LEVEL`).
                let flags = o.flags;
                platform.isa[o.irq as usize] = IsaRoute {
                    gsi: o.global_system_interrupt,
                    active_low: flags & 3 == 3,
                    level: match (flags >> 2) & 3 {
                        1 => false,
                        3 => true,
                        _ => ISA_LEVEL,
                    },
                };
            }
            MadtEntry::LocalApicAddressOverride(o) => platform.local_apic = o.local_apic_address,
            _ => {}
        }
    }
    if let Ok(mcfg) = tables.find_table::<Mcfg>() {
        platform.ecam = mcfg
            .entries()
            .iter()
            .find(|e| e.pci_segment_group == 0)
            .map(|e| (e.base_address, e.bus_number_start, e.bus_number_end));
    }
    if let Ok(fadt) = tables.find_table::<Fadt>() {
        let port = |address: acpi::address::GenericAddress| {
            (address.address_space == AddressSpace::SystemIo && address.address <= 0xffff)
                .then_some(address.address as u16)
        };
        platform.pm1a_control = fadt.pm1a_control_block().ok().and_then(port);
        if { fadt.flags }.supports_system_reset_via_fadt() {
            platform.reset = fadt
                .reset_register()
                .ok()
                .and_then(port)
                .map(|p| (p, fadt.reset_value));
        }
    }
    Some(platform)
}
