//! PCI on the host bridge boot described (`pci-ecam`, `pci-mmio`,
//! `pci-intx-irq` grants): devmgr maps bus 0's configuration space, finds
//! the virtio functions, places their memory BARs in the window, checks
//! their capability lists (`zos_devmgr_core::pci`), and cuts out for each
//! the one BAR holding its virtio structures (`MemorySlice`). A function
//! that cannot be used is reported and skipped; the others are served.

use alloc::string::String;
use alloc::vec::Vec;
use libzos::abi::{layout, map_flags};
use libzos::dprintln;
use libzos::sys;
use zos_devmgr_core::pci::{self, ConfigAccess, Function, PciError, Window};
use zos_devmgr_core::virtio;

/// Where bus 0's configuration space is mapped (1 MiB: 32 slots × 8 functions × 4 KiB).
const ECAM_VA: u64 = layout::DEVICE_WINDOW + 0x0100_0000;
const BUS_BYTES: u64 = 1 << 20;
const PAGE: u64 = 4096;

/// A usable virtio function, ready for its driver.
pub struct PciDevice {
    pub function: Function,
    pub device_id: u32,
    /// The BAR holding the virtio structures (its own device Memory).
    pub bar: u64,
    pub bar_address: u64,
    /// The function's INTx line.
    pub irq: u64,
    /// Configuration image for the driver (`zos_proto::pci::ConfigImage`, hex).
    pub image: String,
}

/// Bus 0 of the ECAM region, mapped.
struct Ecam {
    va: u64,
}

impl ConfigAccess for Ecam {
    fn read(&self, function: Function, offset: u16) -> u32 {
        match self.address(function, offset) {
            // SAFETY: `address` lies in bus 0's mapped configuration space
            // (device memory) and is word-aligned.
            Some(at) => unsafe { core::ptr::read_volatile(at as *const u32) },
            None => u32::MAX,
        }
    }

    fn write(&mut self, function: Function, offset: u16, value: u32) {
        if let Some(at) = self.address(function, offset) {
            // SAFETY: as in `read`; devmgr alone maps configuration space.
            unsafe { core::ptr::write_volatile(at as *mut u32, value) };
        }
    }
}

impl Ecam {
    fn address(&self, function: Function, offset: u16) -> Option<u64> {
        let at = ((function.device as u64) << 15)
            | ((function.function as u64) << 12)
            | (offset as u64 & 0xffc);
        (function.bus == 0 && function.device < 32 && function.function < 8).then_some(self.va + at)
    }
}

/// Finds the virtio functions on bus 0 and prepares each for its driver.
/// Nothing when the machine has no PCI (no grants).
pub fn enumerate() -> Vec<PciDevice> {
    let grants = &libzos::rt::start_info().grants;
    let find = |name: &str| grants.iter().find(|g| g.name == name);
    let (Some(ecam), Some(window)) = (find("pci-ecam"), find("pci-mmio")) else {
        return Vec::new();
    };
    let lines: Vec<(u32, u128)> = grants
        .iter()
        .filter(|g| g.name == "pci-intx-irq")
        .map(|g| (g.irq, g.base as u128 | (g.size as u128) << 64))
        .collect();
    if ecam.size < BUS_BYTES
        || sys::memory_map(
            ecam.slot,
            sys::SELF,
            ECAM_VA,
            0,
            BUS_BYTES / PAGE,
            map_flags::WRITE,
        )
        .is_err()
    {
        dprintln!("devmgr: cannot map PCI configuration space; PCI devices are not used");
        return Vec::new();
    }
    let mut config = Ecam { va: ECAM_VA };
    let mut bars = Window::new(window.base, window.base + window.size);
    let mut used_lines: Vec<u32> = Vec::new();
    let mut devices = Vec::new();
    for found in pci::scan_bus(&config, 0) {
        let Some(device_id) = virtio::pci_device(found.vendor, found.device) else {
            continue;
        };
        if virtio::driver(device_id).is_none() {
            continue;
        }
        let at = found.function;
        let prepared = prepare(&mut config, &found, &mut bars, &lines, &used_lines).and_then(
            |(holder, image, irq)| {
                let slice = window_slice(window.slot, window.base, holder.address, holder.size)?;
                let irq_cap = grants
                    .iter()
                    .find(|g| g.name == "pci-intx-irq" && g.irq == irq)
                    .map(|g| g.slot)
                    .ok_or(Skip::Pci(PciError::NoInterrupt))?;
                Ok((holder, image, irq, slice, irq_cap))
            },
        );
        match prepared {
            Ok((holder, image, irq, bar, irq_cap)) => {
                used_lines.push(irq);
                devices.push(PciDevice {
                    function: at,
                    device_id,
                    bar,
                    bar_address: holder.address,
                    irq: irq_cap,
                    image,
                });
            }
            Err(skip) => dprintln!("devmgr: warning: pci {at}: skipped: {skip}"),
        }
    }
    devices
}

/// Why a function was not started.
enum Skip {
    Pci(PciError),
    /// `MemorySlice` refused (no quota for the object).
    Slice(sys::Error),
    /// Another driver already owns this INTx line (sharing is not done yet).
    SharedLine(u32),
}

impl From<PciError> for Skip {
    fn from(e: PciError) -> Skip {
        Skip::Pci(e)
    }
}

impl core::fmt::Display for Skip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Skip::Pci(e) => write!(f, "{e}"),
            Skip::Slice(e) => write!(f, "cannot make its BAR's capability: {}", e.name()),
            Skip::SharedLine(irq) => write!(
                f,
                "its INTx line (interrupt {irq}) is already another driver's; shared lines are not supported"
            ),
        }
    }
}

/// Assigns, checks and images one function; the BAR holding its virtio
/// structures and its INTx line.
fn prepare(
    config: &mut Ecam,
    found: &pci::Found,
    bars: &mut Window,
    lines: &[(u32, u128)],
    used_lines: &[u32],
) -> Result<(pci::VirtioBar, String, u32), Skip> {
    let at = found.function;
    let irq = pci::intx_line(lines, at.device, found.pin)?;
    if used_lines.contains(&irq) {
        return Err(Skip::SharedLine(irq));
    }
    let assigned = pci::assign(config, at, bars)?;
    let image = pci::read_image(config, at, assigned.masks);
    let holder = pci::virtio_bar(&image, &assigned)?;
    Ok((holder, image.to_hex(), irq))
}

/// A capability for `size` bytes at bus address `address` of the window.
fn window_slice(window: u64, base: u64, address: u64, size: u64) -> Result<u64, Skip> {
    let first = (address - base) / PAGE;
    sys::memory_slice(window, first, size.div_ceil(PAGE)).map_err(Skip::Slice)
}
