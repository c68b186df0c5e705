//! The q35 PCI host bridge, described for devmgr (as boot/src/pci.rs does
//! for AArch64's device tree): the ECAM region from the ACPI MCFG, a window
//! for BARs and the IOAPIC inputs that bus 0's INTx pins reach.
//!
//! q35 routes INTA–INTD of a function in slot 0–24 to PIRQ E–H, swizzled by
//! slot (`(slot + pin - 1) mod 4`), and in APIC mode PIRQ n is GSI 16 + n, so
//! those slots reach GSI 20–23; slots 25–31 hold the chipset's own functions
//! with their own routing and are left unrouted (devmgr then skips a function
//! there). The window is the 512 MiB just above the ECAM region: never RAM on
//! q35 (RAM below 4 GiB stops at the ECAM base at the latest), and below where
//! the firmware places the BARs of the machine's other devices (it fills the
//! hole from its top at the IOAPIC down). devmgr moves each virtio function's
//! BARs into it, as it does on AArch64 (docs/drivers.md).

use alloc::vec::Vec;
use zos_boot::init::Device;
use zos_boot::PhysRange;

/// The BAR window (bus address = CPU address).
pub const WINDOW: PhysRange = PhysRange {
    start: 0xc000_0000,
    end: 0xe000_0000,
};
/// The first GSI of the PIRQ E–H inputs.
const FIRST_GSI: u32 = 20;
/// Slots whose pins follow the PIRQ E–H swizzle.
const ROUTED_SLOTS: u32 = 25;

/// The grants devmgr gets for PCI, when the firmware described an ECAM region
/// (segment 0) starting at bus 0.
pub fn devices(ecam: Option<(u64, u8, u8)>) -> Vec<Device<'static>> {
    let Some((base, 0, last_bus)) = ecam else {
        return Vec::new();
    };
    let buses = u64::from(last_bus) + 1;
    let mut devices = alloc::vec![
        Device {
            name: "pci-ecam",
            regs: PhysRange::new(base, base + (buses << 20)),
            irq: None,
            irq_routes: 0,
        },
        Device {
            name: "pci-mmio",
            regs: WINDOW,
            irq: None,
            irq_routes: 0,
        },
    ];
    for line in 0..4 {
        devices.push(Device {
            name: "pci-intx",
            regs: PhysRange::new(0, 0),
            irq: Some(FIRST_GSI + line),
            irq_routes: routes(line),
        });
    }
    devices
}

/// Bit `slot * 4 + (pin - 1)` of every bus-0 pin wired to PIRQ E + `line`.
fn routes(line: u32) -> u128 {
    let mut routes = 0u128;
    for slot in 0..ROUTED_SLOTS {
        for pin in 1..=4u32 {
            if (slot + pin - 1) % 4 == line {
                routes |= 1 << (slot * 4 + pin - 1);
            }
        }
    }
    routes
}
