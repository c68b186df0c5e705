//! Boot information from the flattened device tree.
//!
//! The arch layer hands the raw device tree blob to [`BootInfo::parse`], which pulls
//! out everything the kernel needs (RAM, UART, interrupt controller, timer, PSCI,
//! initrd range, virtio-mmio slots, boot arguments) into plain fixed-size data, so
//! nothing later holds on to the blob or needs a heap. Every value is checked; a bad
//! tree yields a [`DtError`] that names the problem.

use crate::PhysRange;
use fdt::node::FdtNode;
use fdt::Fdt;

/// Most memory banks we track.
pub const MAX_MEMORY: usize = 8;
/// Most virtio-mmio slots we track (QEMU `virt` has 32).
pub const MAX_VIRTIO: usize = 32;
/// CPUs whose MPIDR the boot information keeps (a GICv2 serves at most eight).
pub const MAX_CPUS: usize = 8;

/// Why the device tree could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// No blob at the address, or its header is not a valid FDT header.
    BadHeader,
    /// The tree has no `/memory` node or it has no usable range.
    NoMemory,
    /// The initrd range in `/chosen` is inverted or lies outside RAM.
    InitrdOutsideRam { start: u64, end: u64 },
    /// No interrupt controller we know (GICv2 or GICv3).
    NoInterruptController,
    /// No PL011 UART.
    NoUart,
    /// A property we rely on has the wrong size or shape.
    Malformed(&'static str),
}

impl core::fmt::Display for DtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DtError::BadHeader => write!(f, "device tree missing or corrupt (bad FDT header)"),
            DtError::NoMemory => write!(f, "device tree has no /memory node with a usable range"),
            DtError::InitrdOutsideRam { start, end } => write!(
                f,
                "initrd range {start:#x}..{end:#x} from /chosen lies outside RAM"
            ),
            DtError::NoInterruptController => {
                write!(f, "device tree names no GICv2/GICv3 interrupt controller")
            }
            DtError::NoUart => write!(f, "device tree names no PL011 UART"),
            DtError::Malformed(what) => write!(f, "device tree property malformed: {what}"),
        }
    }
}

/// Interrupt controller flavour and its register frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gic {
    V2 {
        distributor: PhysRange,
        cpu_interface: PhysRange,
    },
    V3 {
        distributor: PhysRange,
        redistributors: PhysRange,
    },
}

/// How PSCI calls are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciMethod {
    Hvc,
    Smc,
}

/// One virtio-mmio transport slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioSlot {
    pub regs: PhysRange,
    /// GIC interrupt id (SPI number + 32).
    pub irq: u32,
}

/// Everything the kernel takes from the device tree.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo<'a> {
    pub memory: [PhysRange; MAX_MEMORY],
    pub memory_count: usize,
    pub uart: PhysRange,
    pub uart_irq: u32,
    /// The PL031 real-time clock's registers, when the machine has one.
    pub rtc: Option<PhysRange>,
    pub gic: Gic,
    /// Interrupt id of the EL1 virtual timer (PPI).
    pub timer_irq: u32,
    pub psci: Option<PsciMethod>,
    pub initrd: Option<PhysRange>,
    pub virtio: [VirtioSlot; MAX_VIRTIO],
    pub virtio_count: usize,
    /// The PCI host bridge (ECAM, memory window, INTx lines), when present.
    pub pci: Option<crate::pci::PciHost>,
    pub bootargs: &'a str,
    pub cpu_count: usize,
    /// Each CPU's MPIDR affinity (its node's `reg`), in device-tree order; the
    /// first [`MAX_CPUS`] only.
    pub cpu_mpidr: [u64; MAX_CPUS],
    /// `compatible` of the first CPU node, e.g. `arm,cortex-a57`.
    pub cpu_compatible: &'a str,
    /// Seed bytes from `/chosen/rng-seed` or `kaslr-seed`, when present.
    pub rng_seed: Option<&'a [u8]>,
    /// Size of the blob itself, so it can be kept out of the free memory.
    pub blob_size: usize,
}

impl<'a> BootInfo<'a> {
    /// Parses and checks a device tree blob.
    pub fn parse(blob: &'a [u8]) -> Result<Self, DtError> {
        let fdt = Fdt::new(blob).map_err(|_| DtError::BadHeader)?;
        let mut info = BootInfo {
            memory: [PhysRange::new(0, 0); MAX_MEMORY],
            memory_count: 0,
            uart: PhysRange::new(0, 0),
            uart_irq: 0,
            rtc: None,
            gic: Gic::V2 {
                distributor: PhysRange::new(0, 0),
                cpu_interface: PhysRange::new(0, 0),
            },
            timer_irq: 27,
            psci: None,
            initrd: None,
            virtio: [VirtioSlot {
                regs: PhysRange::new(0, 0),
                irq: 0,
            }; MAX_VIRTIO],
            virtio_count: 0,
            pci: crate::pci::parse(&fdt),
            bootargs: "",
            cpu_count: 0,
            cpu_mpidr: [0; MAX_CPUS],
            cpu_compatible: "unknown",
            rng_seed: None,
            blob_size: fdt.total_size(),
        };

        for node in fdt.all_nodes() {
            if node.name == "memory" || node.name.starts_with("memory@") {
                let is_memory = node
                    .property("device_type")
                    .and_then(|p| p.as_str())
                    .is_none_or(|t| t == "memory");
                if !is_memory {
                    continue;
                }
                for range in regs(node) {
                    if !range.is_empty() && info.memory_count < MAX_MEMORY {
                        info.memory[info.memory_count] = range;
                        info.memory_count += 1;
                    }
                }
            }
        }
        if info.memory_count == 0 {
            return Err(DtError::NoMemory);
        }

        let uart = fdt.find_compatible(&["arm,pl011"]).ok_or(DtError::NoUart)?;
        info.uart = regs(uart).next().ok_or(DtError::Malformed("pl011 reg"))?;
        info.uart_irq = interrupts(uart).next().unwrap_or(33);
        info.rtc = fdt
            .find_compatible(&["arm,pl031"])
            .and_then(|rtc| regs(rtc).next());

        info.gic = if let Some(gic) = fdt.find_compatible(&["arm,gic-v3"]) {
            let mut frames = regs(gic);
            let distributor = frames.next().ok_or(DtError::Malformed("gic-v3 reg"))?;
            let redistributors = frames.next().ok_or(DtError::Malformed("gic-v3 reg"))?;
            Gic::V3 {
                distributor,
                redistributors,
            }
        } else if let Some(gic) =
            fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])
        {
            let mut frames = regs(gic);
            let distributor = frames.next().ok_or(DtError::Malformed("gic-v2 reg"))?;
            let cpu_interface = frames.next().ok_or(DtError::Malformed("gic-v2 reg"))?;
            Gic::V2 {
                distributor,
                cpu_interface,
            }
        } else {
            return Err(DtError::NoInterruptController);
        };

        if let Some(timer) = fdt.find_compatible(&["arm,armv8-timer", "arm,armv7-timer"]) {
            // Order: secure phys, non-secure phys, virtual, hypervisor.
            if let Some(virt) = interrupts(timer).nth(2) {
                info.timer_irq = virt;
            }
        }

        if let Some(psci) = fdt.find_compatible(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"]) {
            info.psci = match psci.property("method").and_then(|p| p.as_str()) {
                Some("hvc") => Some(PsciMethod::Hvc),
                Some("smc") => Some(PsciMethod::Smc),
                _ => return Err(DtError::Malformed("psci method")),
            };
        }

        if let Some(chosen) = fdt.find_node("/chosen") {
            info.bootargs = chosen
                .property("bootargs")
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .trim_end_matches('\0');
            let start = chosen
                .property("linux,initrd-start")
                .map(|p| be_number(p.value));
            let end = chosen
                .property("linux,initrd-end")
                .map(|p| be_number(p.value));
            if let (Some(start), Some(end)) = (start, end) {
                let start = start.ok_or(DtError::Malformed("linux,initrd-start"))?;
                let end = end.ok_or(DtError::Malformed("linux,initrd-end"))?;
                let range = PhysRange::new(start, end);
                let inside = info.memory().iter().any(|m| m.contains_range(&range));
                if end < start || !inside {
                    return Err(DtError::InitrdOutsideRam { start, end });
                }
                if !range.is_empty() {
                    info.initrd = Some(range);
                }
            }
            info.rng_seed = chosen
                .property("rng-seed")
                .or_else(|| chosen.property("kaslr-seed"))
                .map(|p| p.value);
        }

        for node in fdt.all_nodes() {
            let is_cpu = node.name == "cpu" || node.name.starts_with("cpu@");
            if is_cpu && node.property("device_type").and_then(|p| p.as_str()) == Some("cpu") {
                if info.cpu_count == 0 {
                    if let Some(c) = node.compatible() {
                        info.cpu_compatible = c.first();
                    }
                }
                if let Some(slot) = info.cpu_mpidr.get_mut(info.cpu_count) {
                    let reg = node.property("reg").map_or(&[][..], |p| p.value);
                    *slot = reg.iter().take(8).fold(0, |a, &b| a << 8 | u64::from(b));
                }
                info.cpu_count += 1;
            }
            let is_virtio = node
                .compatible()
                .is_some_and(|c| c.all().any(|s| s == "virtio,mmio"));
            if is_virtio && info.virtio_count < MAX_VIRTIO {
                if let Some(range) = regs(node).next() {
                    info.virtio[info.virtio_count] = VirtioSlot {
                        regs: range,
                        irq: interrupts(node).next().unwrap_or(0),
                    };
                    info.virtio_count += 1;
                }
            }
        }
        // Lowest address first, so the order is stable and matches QEMU's numbering.
        info.virtio[..info.virtio_count].sort_unstable_by_key(|s| s.regs.start);
        info.cpu_count = info.cpu_count.max(1);
        Ok(info)
    }

    pub fn memory(&self) -> &[PhysRange] {
        &self.memory[..self.memory_count]
    }

    pub fn virtio(&self) -> &[VirtioSlot] {
        &self.virtio[..self.virtio_count]
    }

    /// Total RAM in bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.memory().iter().map(|r| r.len()).sum()
    }

    /// True when the space-separated boot arguments contain `word`.
    pub fn has_arg(&self, word: &str) -> bool {
        self.bootargs.split_ascii_whitespace().any(|a| a == word)
    }

    /// The value of a `key=value` boot argument.
    pub fn arg_value(&self, key: &str) -> Option<&'a str> {
        self.bootargs
            .split_ascii_whitespace()
            .find_map(|a| a.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// Decodes a 4- or 8-byte big-endian property value.
fn be_number(value: &[u8]) -> Option<u64> {
    match value.len() {
        4 => Some(u32::from_be_bytes(value.try_into().ok()?) as u64),
        8 => Some(u64::from_be_bytes(value.try_into().ok()?)),
        _ => None,
    }
}

/// The `reg` ranges of a node (skipping those without a size).
fn regs<'a>(node: FdtNode<'_, 'a>) -> impl Iterator<Item = PhysRange> + 'a {
    node.reg().into_iter().flatten().filter_map(|r| {
        let start = r.starting_address as u64;
        let size = r.size? as u64;
        Some(PhysRange::new(start, start.checked_add(size)?))
    })
}

/// GIC interrupt ids of a node with three-cell GIC specifiers
/// (`type number flags`: SPI → number + 32, PPI → number + 16).
fn interrupts<'a>(node: FdtNode<'_, 'a>) -> impl Iterator<Item = u32> + 'a {
    let value = node.property("interrupts").map(|p| p.value).unwrap_or(&[]);
    value.chunks_exact(12).filter_map(|cell| {
        let kind = u32::from_be_bytes(cell[0..4].try_into().ok()?);
        let number = u32::from_be_bytes(cell[4..8].try_into().ok()?);
        match kind {
            0 => number.checked_add(32),
            1 => number.checked_add(16),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRT_DTB: &[u8] = include_bytes!("../../tests/fixtures/virt-gicv2-1g.dtb");
    const VIRT_V3_DTB: &[u8] = include_bytes!("../../tests/fixtures/virt-gicv3-4g.dtb");

    #[test]
    fn parses_qemu_virt() {
        let info = BootInfo::parse(VIRT_DTB).expect("fixture parses");
        assert_eq!(info.memory(), &[PhysRange::new(0x4000_0000, 0x8000_0000)]);
        assert_eq!(info.ram_bytes(), 1 << 30);
        assert_eq!(info.uart, PhysRange::new(0x900_0000, 0x900_1000));
        assert_eq!(info.uart_irq, 33);
        assert_eq!(info.rtc, Some(PhysRange::new(0x901_0000, 0x901_1000)));
        assert!(matches!(info.gic, Gic::V2 { distributor, .. } if distributor.start == 0x800_0000));
        assert_eq!(info.timer_irq, 27);
        assert_eq!(info.psci, Some(PsciMethod::Hvc));
        assert_eq!(info.virtio_count, 32);
        assert_eq!(info.virtio()[0].regs.start, 0xa00_0000);
        assert_eq!(info.virtio()[0].irq, 48);
        assert_eq!(info.cpu_compatible, "arm,cortex-a57");
        assert_eq!(info.cpu_count, 2);
        assert_eq!(info.cpu_mpidr[..2], [0, 1]);
        assert!(info.has_arg("poweroff"));
        assert_eq!(info.arg_value("fault"), None);
        let initrd = info.initrd.expect("fixture has an initrd");
        assert!(initrd.start >= 0x4000_0000 && initrd.end <= 0x8000_0000);
    }

    #[test]
    fn parses_gicv3_and_high_memory() {
        let info = BootInfo::parse(VIRT_V3_DTB).expect("fixture parses");
        assert_eq!(info.ram_bytes(), 4 << 30);
        assert!(matches!(info.gic, Gic::V3 { .. }));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(BootInfo::parse(&[0u8; 64]).err(), Some(DtError::BadHeader));
        assert_eq!(BootInfo::parse(&[]).err(), Some(DtError::BadHeader));
        let mut truncated = VIRT_DTB.to_vec();
        truncated.truncate(100);
        assert_eq!(BootInfo::parse(&truncated).err(), Some(DtError::BadHeader));
    }

    #[test]
    fn rejects_initrd_outside_ram() {
        // Patch the initrd-end value in a copy of the fixture to lie beyond RAM.
        let info = BootInfo::parse(VIRT_DTB).expect("fixture parses");
        let end = info.initrd.expect("initrd").end;
        let mut blob = VIRT_DTB.to_vec();
        let needle = end.to_be_bytes();
        let short = (end as u32).to_be_bytes();
        let pos = find(&blob, &needle)
            .map(|p| (p, 8))
            .or_else(|| find(&blob, &short).map(|p| (p, 4)))
            .expect("initrd-end value in blob");
        let beyond: u64 = 0x1_0000_0000;
        if pos.1 == 8 {
            blob[pos.0..pos.0 + 8].copy_from_slice(&beyond.to_be_bytes());
        } else {
            blob[pos.0..pos.0 + 4].copy_from_slice(&0xF000_0000u32.to_be_bytes());
        }
        assert!(matches!(
            BootInfo::parse(&blob),
            Err(DtError::InitrdOutsideRam { .. })
        ));
    }

    #[test]
    fn rejects_missing_memory() {
        // Rename every "memory" node name in a copy so no memory node remains.
        let mut blob = VIRT_DTB.to_vec();
        while let Some(pos) = find(&blob, b"memory@") {
            blob[pos] = b'x';
        }
        assert_eq!(BootInfo::parse(&blob).err(), Some(DtError::NoMemory));
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
}
