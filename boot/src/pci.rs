//! The PCI host bridge from the device tree (`pci-host-ecam-generic`).
//!
//! QEMU's `virt` machine has one: its configuration space as ECAM (one 4 KiB
//! page per bus/device/function), a 32-bit memory window in its `ranges` for
//! BARs, and an `interrupt-map` routing each slot's INTA..INTD to GIC SPIs
//! (the usual swizzle). Boot hands init a device Memory capability for the
//! ECAM region and one for the window, and an Irq capability for each INTx
//! line, telling in the boot information which (slot, pin) pairs each line
//! serves (docs/boot.md). Enumerating, assigning BARs and starting drivers is
//! devmgr's work.

use crate::PhysRange;
use fdt::node::FdtNode;
use fdt::Fdt;

/// Most distinct INTx lines tracked (`virt` has four).
pub const MAX_INTX: usize = 8;

/// One INTx line and the (slot, pin) pairs wired to it on bus 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntxLine {
    /// GIC interrupt id (SPI number + 32).
    pub irq: u32,
    /// Bit `slot * 4 + (pin - 1)` set when that slot's pin (1 = INTA) is
    /// wired here.
    pub routes: u128,
}

/// The ECAM host bridge: what init and devmgr need of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciHost {
    /// Configuration space of buses `0..` (bus 0 at `ecam.start`).
    pub ecam: PhysRange,
    /// The 32-bit non-prefetchable memory window (CPU address = bus address).
    pub mmio: PhysRange,
    pub intx: [IntxLine; MAX_INTX],
    pub intx_count: usize,
}

impl PciHost {
    pub fn intx(&self) -> &[IntxLine] {
        &self.intx[..self.intx_count]
    }
}

/// Reads the first `pci-host-ecam-generic` node. `None` when there is none or
/// it does not have what devmgr needs (bus range starting at 0, a 32-bit
/// window whose bus and CPU addresses agree): the machine then simply has no
/// PCI for us, which is not a boot failure.
pub fn parse(fdt: &Fdt<'_>) -> Option<PciHost> {
    let node = fdt.find_compatible(&["pci-host-ecam-generic"])?;
    let reg = node.reg()?.next()?;
    let ecam_start = reg.starting_address as u64;
    let ecam = PhysRange::new(ecam_start, ecam_start.checked_add(reg.size? as u64)?);
    let first_bus = node
        .property("bus-range")
        .and_then(|p| p.value.get(0..4))
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if first_bus != 0 || ecam.len() < 1 << 20 {
        return None;
    }
    let mut host = PciHost {
        ecam,
        mmio: window(node)?,
        intx: [IntxLine { irq: 0, routes: 0 }; MAX_INTX],
        intx_count: 0,
    };
    interrupt_map(fdt, node, &mut host)?;
    Some(host)
}

fn cells(value: &[u8]) -> impl Iterator<Item = u32> + '_ {
    value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// The 32-bit memory window of `ranges` (3 child address cells, the parent's
/// address cells, 2 size cells).
fn window(node: FdtNode<'_, '_>) -> Option<PhysRange> {
    let parent_cells = 2;
    let entry = 4 * (3 + parent_cells + 2);
    node.property("ranges")?
        .value
        .chunks_exact(entry)
        .find_map(|r| {
            let mut words = [0u32; 7];
            words.iter_mut().zip(cells(r)).for_each(|(w, c)| *w = c);
            let r = words;
            // Space code 0b10 = 32-bit memory, not prefetchable.
            let space = (r[0] >> 24) & 0x43;
            let bus = ((r[1] as u64) << 32) | r[2] as u64;
            let cpu = ((r[3] as u64) << 32) | r[4] as u64;
            let size = ((r[5] as u64) << 32) | r[6] as u64;
            (space == 0x02 && bus == cpu && size > 0).then(|| PhysRange::new(cpu, cpu + size))
        })
}

/// Fills `host.intx` from `interrupt-map` and `interrupt-map-mask`: for each
/// slot 0..32 of bus 0 and pin 1..4, the masked (address, pin) is looked up.
fn interrupt_map(fdt: &Fdt<'_>, node: FdtNode<'_, '_>, host: &mut PciHost) -> Option<()> {
    let raw = node.property("interrupt-map")?.value;
    let map = |i: usize| {
        raw.get(i * 4..i * 4 + 4)
            .map(|b| cells(b).next().unwrap_or(0))
    };
    let mask_raw = node.property("interrupt-map-mask")?.value;
    if mask_raw.len() != 16 {
        return None;
    }
    let mut mask = [0u32; 4];
    mask.iter_mut()
        .zip(cells(mask_raw))
        .for_each(|(m, c)| *m = c);
    let mut at = 0;
    // (masked child address, pin, interrupt id); `virt` has 16.
    let mut entries = [(0u32, 0u32, 0u32); 64];
    let mut count = 0;
    while at + 5 <= raw.len() / 4 {
        let (address, pin, phandle) = (map(at)?, map(at + 3)?, map(at + 4)?);
        let parent = fdt.find_phandle(phandle)?;
        let parent_address = parent
            .property("#address-cells")
            .and_then(|p| p.as_usize())
            .unwrap_or(0);
        let parent_cells = parent.interrupt_cells()?;
        let end = at + 5 + parent_address + parent_cells;
        // GIC specifier: type (0 = SPI), number, flags.
        let (kind, number) = (map(at + 5 + parent_address)?, map(at + 6 + parent_address)?);
        if parent_cells == 3 && kind == 0 && count < entries.len() {
            entries[count] = (address & mask[0], pin, number.checked_add(32)?);
            count += 1;
        }
        at = end;
    }
    for slot in 0..32u32 {
        for pin in 1..=4u32 {
            let key = ((slot << 11) & mask[0], pin & mask[3]);
            let Some(&(_, _, irq)) = entries[..count].iter().find(|e| (e.0, e.1) == key) else {
                continue;
            };
            let bit = 1u128 << (slot * 4 + pin - 1);
            match host.intx().iter().position(|l| l.irq == irq) {
                Some(i) => host.intx[i].routes |= bit,
                None if host.intx_count < MAX_INTX => {
                    host.intx[host.intx_count] = IntxLine { irq, routes: bit };
                    host.intx_count += 1;
                }
                None => {}
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRT_DTB: &[u8] = include_bytes!("../../tests/fixtures/virt-gicv2-1g.dtb");

    #[test]
    fn parses_qemu_virt_host_bridge() {
        let fdt = Fdt::new(VIRT_DTB).expect("fixture");
        let host = parse(&fdt).expect("virt has a PCI host bridge");
        assert_eq!(host.ecam, PhysRange::new(0x40_1000_0000, 0x40_2000_0000));
        assert_eq!(host.mmio, PhysRange::new(0x1000_0000, 0x3eff_0000));
        // INTA of slot s goes to SPI 3 + (s % 4); INTB one further.
        assert_eq!(host.intx_count, 4);
        let line = |slot: u32, pin: u32| {
            host.intx()
                .iter()
                .find(|l| l.routes & (1 << (slot * 4 + pin - 1)) != 0)
                .map(|l| l.irq)
        };
        assert_eq!(line(0, 1), Some(35));
        assert_eq!(line(1, 1), Some(36));
        assert_eq!(line(1, 2), Some(37));
        assert_eq!(line(3, 2), Some(35));
        assert_eq!(line(5, 1), Some(36), "slots repeat every four");
        for slot in 0..32 {
            for pin in 1..=4 {
                assert!(line(slot, pin).is_some(), "slot {slot} pin {pin}");
            }
        }
    }
}
