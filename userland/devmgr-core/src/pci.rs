//! PCI for devmgr: finding functions on a bus, sizing and assigning their
//! memory BARs from the host bridge's window, and checking a virtio
//! function's capability list before a driver is started on it.
//!
//! With `-kernel` on QEMU's `virt` no firmware ran, so every BAR is
//! unassigned; devmgr places them. Everything read from configuration space
//! is treated as hostile: a BAR that does not fit the window or a capability
//! list that loops or points outside the function's header is an error that
//! names the problem (devmgr warns and skips the function).

use alloc::vec::Vec;
use zos_proto::pci::{ConfigImage, BAR0, WORDS};

/// Bus, device (slot) and function numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl core::fmt::Display for Function {
    /// `bb:dd.f`, as `lspci` writes it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:02x}:{:02x}.{:x}",
            self.bus, self.device, self.function
        )
    }
}

/// Word access to configuration space (ECAM in devmgr, a fake in tests).
pub trait ConfigAccess {
    /// Reads the 32-bit word at `offset` (a multiple of 4, below 4096).
    fn read(&self, function: Function, offset: u16) -> u32;
    fn write(&mut self, function: Function, offset: u16, value: u32);
}

const COMMAND: u16 = 0x04;
const COMMAND_IO: u32 = 1 << 0;
const COMMAND_MEMORY: u32 = 1 << 1;
const COMMAND_BUS_MASTER: u32 = 1 << 2;
/// Status bit: the function has a capability list.
const STATUS_CAPABILITIES: u32 = 1 << (16 + 4);
const CAPABILITIES_POINTER: u16 = 0x34;
const INTERRUPT_WORD: u16 = 0x3c;
/// Capability id of vendor-specific capabilities (virtio's).
const CAP_VENDOR: u8 = 0x09;

/// A function found on a bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub function: Function,
    pub vendor: u16,
    pub device: u16,
    /// Interrupt pin: 0 none, 1 = INTA … 4 = INTD.
    pub pin: u8,
}

/// Every function present on `bus` (functions 1–7 only of multi-function devices).
pub fn scan_bus(config: &impl ConfigAccess, bus: u8) -> Vec<Found> {
    let mut found = Vec::new();
    for device in 0..32 {
        for function in 0..8 {
            let at = Function {
                bus,
                device,
                function,
            };
            let id = config.read(at, 0);
            if id & 0xffff == 0xffff {
                if function == 0 {
                    break;
                }
                continue;
            }
            let pin = (config.read(at, INTERRUPT_WORD) >> 8) as u8;
            found.push(Found {
                function: at,
                vendor: id as u16,
                device: (id >> 16) as u16,
                pin: if (1..=4).contains(&pin) { pin } else { 0 },
            });
            let header_type = (config.read(at, 0x0c) >> 16) as u8;
            if function == 0 && header_type & 0x80 == 0 {
                break;
            }
        }
    }
    found
}

/// A BAR as sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    Unused,
    Memory {
        size: u64,
        wide: bool,
    },
    Io {
        size: u32,
    },
    /// The upper half of the 64-bit BAR before it.
    Upper,
}

/// A function's BARs as assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub bars: [Bar; 6],
    /// The address each memory BAR got (0 for the others).
    pub addresses: [u64; 6],
    /// What each BAR register read after all ones were written.
    pub masks: [u32; 6],
}

/// Why a function was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciError {
    /// A BAR's size or alignment does not fit what is left of the window.
    BarDoesNotFit { bar: u8, size: u64 },
    /// A 64-bit BAR in the last register.
    BarTruncated { bar: u8 },
    /// The capability list loops or points outside the 256-byte header.
    CapabilityOutOfRange { offset: u8 },
    /// A required virtio structure (common, notify, ISR) is missing.
    MissingStructure(&'static str),
    /// A virtio structure names a BAR that is not an assigned memory BAR,
    /// or lies outside it.
    StructureOutsideBar { bar: u8 },
    /// The virtio structures are spread over several BARs (a driver gets one).
    SeveralBars,
    /// The function has no interrupt pin, or no INTx line is wired to it.
    NoInterrupt,
}

impl core::fmt::Display for PciError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PciError::BarDoesNotFit { bar, size } => write!(
                f,
                "BAR {bar} ({size:#x} bytes) does not fit the PCI memory window"
            ),
            PciError::BarTruncated { bar } => write!(f, "BAR {bar} is 64-bit but is the last one"),
            PciError::CapabilityOutOfRange { offset } => write!(
                f,
                "capability list malformed (entry at {offset:#x} loops or leaves the header)"
            ),
            PciError::MissingStructure(name) => {
                write!(f, "virtio capability list has no {name} structure")
            }
            PciError::StructureOutsideBar { bar } => write!(
                f,
                "a virtio structure lies outside BAR {bar} (unassigned, I/O or too small)"
            ),
            PciError::SeveralBars => write!(f, "virtio structures are spread over several BARs"),
            PciError::NoInterrupt => write!(f, "no INTx line is wired to the function"),
        }
    }
}

/// The bus window BARs are placed in, first fit from the bottom, each
/// aligned to its size (and at least a page, so each BAR is its own pages).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    next: u64,
    end: u64,
}

impl Window {
    pub fn new(start: u64, end: u64) -> Window {
        Window { next: start, end }
    }

    /// An address for `size` bytes (a power of two), or `None` when it does not fit.
    pub fn alloc(&mut self, size: u64) -> Option<u64> {
        if size == 0 || !size.is_power_of_two() {
            return None;
        }
        let start = self.next.checked_next_multiple_of(size.max(4096))?;
        let end = start.checked_add(size.max(4096))?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(start)
    }
}

/// Sizes every BAR of `function` (decoding off meanwhile), places its
/// memory BARs in `window`, writes them, and turns on memory decoding and
/// bus mastering (I/O decoding stays off: I/O BARs are not used). On an error
/// the function is left with decoding off.
pub fn assign(
    config: &mut impl ConfigAccess,
    function: Function,
    window: &mut Window,
) -> Result<Assigned, PciError> {
    let command = config.read(function, COMMAND) & 0xffff;
    let off = command & !(COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER);
    config.write(function, COMMAND, off);
    let mut masks = [0u32; 6];
    let mut originals = [0u32; 6];
    for (i, mask) in masks.iter_mut().enumerate() {
        let at = BAR0 as u16 + 4 * i as u16;
        originals[i] = config.read(function, at);
        config.write(function, at, u32::MAX);
        *mask = config.read(function, at);
        config.write(function, at, originals[i]);
    }
    let mut assigned = Assigned {
        bars: [Bar::Unused; 6],
        addresses: [0; 6],
        masks,
    };
    let mut i = 0;
    while i < 6 {
        let mask = masks[i];
        let at = BAR0 as u16 + 4 * i as u16;
        if mask == 0 {
            i += 1;
            continue;
        }
        if originals[i] & 1 == 1 {
            let size = (!(mask & !0x3)).wrapping_add(1) & 0xffff;
            assigned.bars[i] = Bar::Io { size };
            i += 1;
            continue;
        }
        let wide = originals[i] & 0b110 == 0b100;
        if wide && i == 5 {
            return Err(PciError::BarTruncated { bar: i as u8 });
        }
        let full = if wide {
            ((masks[i + 1] as u64) << 32) | (mask & !0xf) as u64
        } else {
            0xffff_ffff_0000_0000 | (mask & !0xf) as u64
        };
        let size = (!full).wrapping_add(1);
        let address = window
            .alloc(size)
            .ok_or(PciError::BarDoesNotFit { bar: i as u8, size })?;
        config.write(function, at, address as u32 | (originals[i] & 0xf));
        if wide {
            config.write(function, at + 4, (address >> 32) as u32);
            assigned.bars[i + 1] = Bar::Upper;
        }
        assigned.bars[i] = Bar::Memory { size, wide };
        assigned.addresses[i] = address;
        i += if wide { 2 } else { 1 };
    }
    config.write(function, COMMAND, off | COMMAND_MEMORY | COMMAND_BUS_MASTER);
    Ok(assigned)
}

/// Where a virtio function's structures are: the one BAR holding them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioBar {
    pub bar: u8,
    pub address: u64,
    pub size: u64,
}

/// Reads the first 256 bytes of configuration space.
pub fn read_image(config: &impl ConfigAccess, function: Function, masks: [u32; 6]) -> ConfigImage {
    let mut words = [0u32; WORDS];
    for (i, word) in words.iter_mut().enumerate() {
        *word = config.read(function, 4 * i as u16);
    }
    ConfigImage { words, masks }
}

/// Checks the capability list of an image the way `virtio-drivers` reads it
/// (the first common, notify (with its multiplier), ISR and device structure,
/// each of at least 16 bytes of capability) and that every structure it will
/// use lies in one assigned memory BAR.
pub fn virtio_bar(image: &ConfigImage, assigned: &Assigned) -> Result<VirtioBar, PciError> {
    let word = |at: usize| image.words.get(at / 4).copied().unwrap_or(0);
    // (type, bar, offset, length) of the first structure of each type 1..=4.
    let mut first: [Option<(u8, u32, u32)>; 5] = [None; 5];
    if word(0x04) & STATUS_CAPABILITIES != 0 {
        let mut next = image.byte(CAPABILITIES_POINTER as usize) & 0xfc;
        let mut seen = 0;
        while next != 0 {
            let at = next as usize;
            seen += 1;
            if at < 0x40 || at + 4 > WORDS * 4 || seen > 48 {
                return Err(PciError::CapabilityOutOfRange { offset: next });
            }
            let (id, len, kind) = (image.byte(at), image.byte(at + 2), image.byte(at + 3));
            // virtio-drivers reads bar, offset and length of every vendor
            // capability of 16 bytes or more, and the notify multiplier.
            let needed = if kind == 2 { 20 } else { 16 };
            if id == CAP_VENDOR && len >= 16 && at + needed > WORDS * 4 {
                return Err(PciError::CapabilityOutOfRange { offset: next });
            }
            if id == CAP_VENDOR && (1..=4).contains(&kind) && len as usize >= needed {
                let slot = &mut first[kind as usize];
                if slot.is_none() {
                    *slot = Some((image.byte(at + 4), word(at + 8), word(at + 12)));
                }
            }
            next = image.byte(at + 1) & 0xfc;
        }
    }
    let names = ["", "common configuration", "notification", "ISR status", ""];
    let mut holder: Option<VirtioBar> = None;
    for (kind, entry) in first.iter().enumerate().skip(1) {
        let Some((bar, offset, length)) = *entry else {
            if kind != 4 {
                return Err(PciError::MissingStructure(names[kind]));
            }
            continue;
        };
        let outside = PciError::StructureOutsideBar { bar };
        let Some(Bar::Memory { size, .. }) = assigned.bars.get(bar as usize).copied() else {
            return Err(outside);
        };
        let end = offset.checked_add(length).ok_or(outside)?;
        if end as u64 > size {
            return Err(outside);
        }
        let this = VirtioBar {
            bar,
            address: assigned.addresses[bar as usize],
            size,
        };
        match holder {
            Some(h) if h.bar != bar => return Err(PciError::SeveralBars),
            _ => holder = Some(this),
        }
    }
    holder.ok_or(PciError::MissingStructure(names[1]))
}

/// The GIC interrupt of `slot`'s `pin` from the boot-provided INTx lines
/// (`(irq, routes)`: bit `slot * 4 + pin - 1` set for each pair wired to it).
pub fn intx_line(lines: &[(u32, u128)], slot: u8, pin: u8) -> Result<u32, PciError> {
    if !(1..=4).contains(&pin) || slot >= 32 {
        return Err(PciError::NoInterrupt);
    }
    let bit = 1u128 << (slot as u32 * 4 + pin as u32 - 1);
    lines
        .iter()
        .find(|(_, routes)| routes & bit != 0)
        .map(|(irq, _)| *irq)
        .ok_or(PciError::NoInterrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function as QEMU models a virtio-blk-pci: BAR 1 4 KiB memory (MSI-X),
    /// BAR 0 an I/O port range, BAR 4 a 16 KiB 64-bit prefetchable memory BAR
    /// holding the virtio structures.
    #[derive(Clone)]
    struct FakeFunction {
        space: [u32; 1024],
        sizes: [u32; 6],
    }

    impl FakeFunction {
        fn virtio_blk() -> FakeFunction {
            let mut space = [0u32; 1024];
            space[0] = 0x1001_1af4;
            space[1] = STATUS_CAPABILITIES;
            space[4] = 0x1; // BAR 0: I/O
            space[8] = 0xc; // BAR 4: 64-bit prefetchable
            space[0x34 / 4] = 0x84;
            space[0x3c / 4] = 0x0100; // INTA
            let mut f = FakeFunction {
                space,
                sizes: [0x80, 0x1000, 0, 0, 0x4000, 0],
            };
            // Vendor capabilities at 0x84 .. in a chain: common, ISR, device, notify.
            f.cap(0x84, 0x70, 16, 1, 4, 0x0000, 0x1000);
            f.cap(0x70, 0x60, 16, 3, 4, 0x1000, 0x1000);
            f.cap(0x60, 0x48, 16, 4, 4, 0x2000, 0x1000);
            f.cap(0x48, 0x00, 20, 2, 4, 0x3000, 0x1000);
            f.space[(0x48 + 16) / 4] = 4;
            f
        }

        #[allow(clippy::too_many_arguments)]
        fn cap(
            &mut self,
            at: usize,
            next: u8,
            len: u8,
            kind: u8,
            bar: u8,
            offset: u32,
            length: u32,
        ) {
            self.space[at / 4] =
                CAP_VENDOR as u32 | (next as u32) << 8 | (len as u32) << 16 | (kind as u32) << 24;
            self.space[at / 4 + 1] = bar as u32;
            self.space[at / 4 + 2] = offset;
            self.space[at / 4 + 3] = length;
        }
    }

    struct Fake {
        functions: Vec<(Function, FakeFunction)>,
    }

    impl ConfigAccess for Fake {
        fn read(&self, function: Function, offset: u16) -> u32 {
            self.functions
                .iter()
                .find(|(f, _)| *f == function)
                .map_or(u32::MAX, |(_, d)| d.space[offset as usize / 4])
        }
        fn write(&mut self, function: Function, offset: u16, value: u32) {
            let Some((_, d)) = self.functions.iter_mut().find(|(f, _)| *f == function) else {
                return;
            };
            let index = offset as usize / 4;
            match index {
                4..=9 => {
                    let bar = index - 4;
                    let upper = bar > 0 && d.space[3 + bar] & 0b110 == 0b100 && d.sizes[bar] == 0;
                    let flags = d.space[index] & if d.space[index] & 1 == 1 { 0x3 } else { 0xf };
                    d.space[index] = if upper {
                        value
                    } else if d.sizes[bar] == 0 {
                        0
                    } else {
                        (value & !(d.sizes[bar] - 1) & !0xf) | flags
                    };
                }
                // Status bits are read-only (or write-one-to-clear).
                1 => d.space[1] = (d.space[1] & 0xffff_0000) | (value & 0xffff),
                _ => d.space[index] = value,
            }
        }
    }

    fn at(device: u8) -> Function {
        Function {
            bus: 0,
            device,
            function: 0,
        }
    }

    #[test]
    fn finds_assigns_and_checks_a_virtio_function() {
        let mut bus = Fake {
            functions: alloc::vec![(at(1), FakeFunction::virtio_blk())],
        };
        let found = scan_bus(&bus, 0);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].vendor, found[0].device, found[0].pin),
            (0x1af4, 0x1001, 1)
        );
        assert_eq!(found[0].function.to_string(), "00:01.0");
        let mut window = Window::new(0x1000_0000, 0x3eff_0000);
        let assigned = assign(&mut bus, at(1), &mut window).expect("fits");
        assert_eq!(assigned.bars[0], Bar::Io { size: 0x80 });
        assert_eq!(
            assigned.bars[1],
            Bar::Memory {
                size: 0x1000,
                wide: false
            }
        );
        assert_eq!(
            assigned.bars[4],
            Bar::Memory {
                size: 0x4000,
                wide: true
            }
        );
        assert_eq!(assigned.bars[5], Bar::Upper);
        assert_eq!(assigned.addresses[1], 0x1000_0000);
        assert_eq!(assigned.addresses[4], 0x1000_4000, "aligned to its size");
        assert_eq!(bus.read(at(1), 0x20), 0x1000_400c);
        assert_eq!(
            bus.read(at(1), 0x04) & 0x7,
            0x6,
            "memory and bus master on, I/O off"
        );
        let image = read_image(&bus, at(1), assigned.masks);
        let holder = virtio_bar(&image, &assigned).expect("well-formed");
        assert_eq!(
            (holder.bar, holder.address, holder.size),
            (4, 0x1000_4000, 0x4000)
        );
        assert_eq!(intx_line(&[(35, 1 << 4), (36, 1 << 5)], 1, 1), Ok(35));
        assert_eq!(intx_line(&[(35, 1)], 1, 1), Err(PciError::NoInterrupt));
        assert_eq!(
            intx_line(&[(35, u128::MAX)], 1, 0),
            Err(PciError::NoInterrupt)
        );
    }

    #[test]
    fn a_bar_larger_than_the_window_is_refused() {
        let mut bus = Fake {
            functions: alloc::vec![(at(2), FakeFunction::virtio_blk())],
        };
        let mut window = Window::new(0x1000_0000, 0x1000_5000);
        assert_eq!(
            assign(&mut bus, at(2), &mut window),
            Err(PciError::BarDoesNotFit {
                bar: 4,
                size: 0x4000
            })
        );
        assert_eq!(bus.read(at(2), 0x04) & 0x7, 0, "decoding stays off");
    }

    fn checked(mutate: impl FnOnce(&mut FakeFunction)) -> Result<VirtioBar, PciError> {
        let mut function = FakeFunction::virtio_blk();
        mutate(&mut function);
        let mut bus = Fake {
            functions: alloc::vec![(at(1), function)],
        };
        let assigned = assign(&mut bus, at(1), &mut Window::new(0x1000_0000, 0x2000_0000))?;
        virtio_bar(&read_image(&bus, at(1), assigned.masks), &assigned)
    }

    #[test]
    fn malformed_capability_lists_are_refused() {
        // A loop back to itself.
        assert!(matches!(
            checked(|f| f.space[0x48 / 4] = (f.space[0x48 / 4] & !0xff00) | 0x8400),
            Err(PciError::CapabilityOutOfRange { .. })
        ));
        // Pointing into the standard header.
        assert!(matches!(
            checked(|f| f.space[0x34 / 4] = 0x10),
            Err(PciError::CapabilityOutOfRange { offset: 0x10 })
        ));
        // A notify capability at the very end of the header.
        assert!(matches!(
            checked(|f| {
                f.cap(0xf0, 0, 20, 2, 4, 0, 0x10);
                f.cap(0x84, 0x70, 16, 1, 4, 0, 0x10);
                f.cap(0x48, 0xf0, 16, 0, 4, 0, 0);
            }),
            Err(PciError::CapabilityOutOfRange { offset: 0xf0 })
        ));
        // No ISR structure.
        assert_eq!(
            checked(|f| f.cap(0x70, 0x60, 16, 9, 4, 0, 0)),
            Err(PciError::MissingStructure("ISR status"))
        );
        // A structure past the end of its BAR, or overflowing, or in an I/O BAR.
        assert_eq!(
            checked(|f| f.cap(0x60, 0x48, 16, 4, 4, 0x3800, 0x1000)),
            Err(PciError::StructureOutsideBar { bar: 4 })
        );
        assert_eq!(
            checked(|f| f.cap(0x60, 0x48, 16, 4, 4, 0xffff_f000, 0x2000)),
            Err(PciError::StructureOutsideBar { bar: 4 })
        );
        assert_eq!(
            checked(|f| f.cap(0x60, 0x48, 16, 4, 0, 0, 0x10)),
            Err(PciError::StructureOutsideBar { bar: 0 })
        );
        assert_eq!(
            checked(|f| f.cap(0x60, 0x48, 16, 4, 9, 0, 0x10)),
            Err(PciError::StructureOutsideBar { bar: 9 })
        );
        // Structures in two BARs.
        assert_eq!(
            checked(|f| f.cap(0x60, 0x48, 16, 4, 1, 0, 0x10)),
            Err(PciError::SeveralBars)
        );
        // No capability list at all.
        assert_eq!(
            checked(|f| f.space[1] = 0),
            Err(PciError::MissingStructure("common configuration"))
        );
    }

    #[test]
    fn random_headers_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut function = FakeFunction::virtio_blk();
            for _ in 0..8 {
                let index = (next() % 64) as usize;
                function.space[index] ^= next() as u32;
            }
            let mut bus = Fake {
                functions: alloc::vec![(at(3), function)],
            };
            let mut window = Window::new(0x1000_0000, 0x3eff_0000);
            if let Ok(assigned) = assign(&mut bus, at(3), &mut window) {
                let _ = virtio_bar(&read_image(&bus, at(3), assigned.masks), &assigned);
            }
        }
    }
}
