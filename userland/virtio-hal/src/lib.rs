//! The `virtio_drivers::Hal` of the virtio drivers (virtio-blk, virtio-net),
//! built on capabilities only: DMA memory is Memory the driver creates with
//! the `CONTIGUOUS` flag, whose physical address the kernel reports
//! (`MemoryInfo`); device registers are the device Memory devmgr handed over.
//! Buffers outside DMA memory (request headers on the stack) go through a
//! bounce pool. Also the start-up both drivers share: their descriptors and
//! the transport: virtio-mmio for a slot, virtio-pci for a PCI function
//! (through the configuration image devmgr hands over).
#![no_std]

extern crate alloc;

use alloc::string::String;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::SomeTransport;

use core::ptr::NonNull;

use libzos::abi::{layout, map_flags};
use libzos::rt::BackoffMutex as Mutex;
use libzos::sys;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use zos_block_core::dma::{BouncePool, DmaMap, Region};

const PAGE: u64 = 4096;
/// Bytes of bounce space (request headers and statuses).
const BOUNCE_BYTES: u64 = 16 * 1024;

struct State {
    dma: DmaMap,
    /// Device register windows (physical → virtual, for PCI BARs).
    devices: DmaMap,
    bounce: Option<BouncePool>,
    next_va: u64,
}

static STATE: Mutex<State> = Mutex::new(State {
    dma: DmaMap::new(),
    devices: DmaMap::new(),
    bounce: None,
    next_va: layout::DMA_WINDOW,
});

/// A mapped Memory object.
#[derive(Clone, Copy, Debug)]
pub struct Mapped {
    pub memory: u64,
    pub va: u64,
    pub len: u64,
    /// Its physical address when it is one physical run.
    pub pa: Option<u64>,
}

impl Mapped {
    /// The mapping as a byte slice.
    ///
    /// # Safety
    /// The caller must not hold another reference to the same bytes, and the
    /// device must not be writing them.
    pub unsafe fn bytes(&self) -> &'static mut [u8] {
        // SAFETY: `va` maps `len` bytes until `unmap`; exclusivity is the caller's.
        unsafe { core::slice::from_raw_parts_mut(self.va as *mut u8, self.len as usize) }
    }
}

/// Maps `memory` (writable) at the next free address of the DMA window,
/// leaving an unmapped page after it; DMA-capable when it is one run.
pub fn map(memory: u64) -> Result<Mapped, sys::Error> {
    let (len, first, device) = sys::memory_info(memory)?;
    let contiguous = device == 0 && sys::memory_is_contiguous(memory)?;
    let mut state = STATE.lock();
    let va = state.next_va;
    sys::memory_map(memory, sys::SELF, va, 0, len / PAGE, map_flags::WRITE)?;
    state.next_va = va + len + PAGE;
    let pa = contiguous.then_some(first);
    if let Some(pa) = pa {
        state.dma.insert(Region { va, pa, len });
    }
    Ok(Mapped {
        memory,
        va,
        len,
        pa,
    })
}

/// Maps device registers and remembers them for `mmio_phys_to_virt`.
pub fn map_device(memory: u64) -> Result<Mapped, sys::Error> {
    let mapped = map(memory)?;
    let (_, base, _) = sys::memory_info(memory)?;
    STATE.lock().devices.insert(Region {
        va: base,
        pa: mapped.va,
        len: mapped.len,
    });
    Ok(mapped)
}

/// New DMA memory of `bytes` (rounded up to pages), mapped.
pub fn alloc(bytes: u64) -> Result<Mapped, sys::Error> {
    let memory = sys::memory_create_contiguous(bytes.div_ceil(PAGE).max(1) * PAGE)?;
    map(memory).inspect_err(|_| {
        let _ = sys::cap_delete(memory);
    })
}

/// Unmaps and drops a mapping.
pub fn unmap(mapped: &Mapped) {
    STATE.lock().dma.remove(mapped.va);
    let _ = sys::memory_unmap(sys::SELF, mapped.va);
    let _ = sys::cap_delete(mapped.memory);
}

/// Sets up the bounce pool; once, before the device is used.
pub fn init() -> Result<(), sys::Error> {
    let pool = alloc(BOUNCE_BYTES)?;
    let region = Region {
        va: pool.va,
        pa: pool
            .pa
            .ok_or(sys::Error(libzos::abi::SysError::OutOfMemory as u64))?,
        len: pool.len,
    };
    STATE.lock().bounce = Some(BouncePool::new(region));
    Ok(())
}

/// The `Hal` over this process's capabilities.
pub struct ZosHal;

// SAFETY: DMA memory is physically contiguous (the kernel allocates it as one
// run and reports its address), stays mapped until `dma_dealloc`, and is
// zeroed by the kernel; `share` returns addresses of memory that lies wholly
// in such a region, or of bounce space holding a copy of the buffer.
unsafe impl Hal for ZosHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match alloc(pages as u64 * PAGE) {
            Ok(Mapped {
                va, pa: Some(pa), ..
            }) => match NonNull::new(va as *mut u8) {
                Some(ptr) => (pa, ptr),
                None => (0, NonNull::dangling()),
            },
            _ => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, _pages: usize) -> i32 {
        let va = vaddr.as_ptr() as u64;
        STATE.lock().dma.remove(va);
        let _ = sys::memory_unmap(sys::SELF, va);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // `devices` maps physical (stored as va) to virtual (stored as pa).
        let va = STATE.lock().devices.translate(paddr, size as u64);
        va.and_then(|va| NonNull::new(va as *mut u8))
            .unwrap_or_else(|| panic!("device registers at {paddr:#x} were not granted"))
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let va = buffer.as_ptr() as *mut u8 as u64;
        let len = buffer.len() as u64;
        let mut state = STATE.lock();
        if let Some(pa) = state.dma.translate(va, len) {
            return pa;
        }
        let Some((bounce_va, bounce_pa)) = state.bounce.as_mut().and_then(|b| b.alloc(len)) else {
            panic!("no DMA address for a {len}-byte buffer at {va:#x}");
        };
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the buffer is valid for `len` bytes (the caller's promise)
            // and the bounce space was just allocated for `len` bytes.
            unsafe {
                core::ptr::copy_nonoverlapping(va as *const u8, bounce_va as *mut u8, len as usize)
            };
        }
        bounce_pa
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len() as u64;
        let mut state = STATE.lock();
        let Some(pool) = state.bounce.as_mut().filter(|b| b.owns(paddr)) else {
            return;
        };
        let Some(bounce_va) = pool.free(paddr, len) else {
            return;
        };
        if direction != BufferDirection::DriverToDevice {
            let va = buffer.as_ptr() as *mut u8;
            // SAFETY: the device is done with the bounce copy; the buffer is
            // valid for `len` bytes and not otherwise borrowed (the caller's
            // promise to `share`).
            unsafe { core::ptr::copy_nonoverlapping(bounce_va as *const u8, va, len as usize) };
        }
    }
}

/// Size of a virtio-mmio slot.
const MMIO_SLOT: usize = 0x200;

/// The capability devmgr put at descriptor `n` (3 registers, 4 interrupt,
/// 5 devmgr, 6 the endpoint to serve), taken out of the descriptor table:
/// these are not I/O handles, and closing them at exit would send `Close`
/// to devmgr and to the driver's own endpoint, where nobody answers (a
/// driver failing at start-up then never ended, and boot waited for devmgr).
pub fn descriptor(n: u32) -> Option<u64> {
    libzos::posix::take_descriptor(n as libzos::posix::Fd).ok()
}

/// A hexadecimal argument (`0x` optional).
pub fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).ok()
}

/// The virtio-mmio transport of the slot at physical `address` inside the
/// granted register page `regs`.
pub fn mmio_transport(regs: u64, address: u64) -> Result<SomeTransport<'static>, String> {
    let mapped = map_device(regs).map_err(|e| alloc::format!("map registers: {}", e.name()))?;
    let (_, base, _) = sys::memory_info(regs).map_err(|e| String::from(e.name()))?;
    let offset = address
        .checked_sub(base)
        .filter(|o| o + MMIO_SLOT as u64 <= mapped.len)
        .ok_or("slot address outside the granted registers")?;
    let header = NonNull::new((mapped.va + offset) as *mut VirtIOHeader).ok_or("null mapping")?;
    // SAFETY: the slot's registers are mapped (device memory) for the life of
    // the process and only this transport touches them.
    let transport = unsafe { MmioTransport::new(header, MMIO_SLOT) }
        .map_err(|e| alloc::format!("not a virtio-mmio device: {e}"))?;
    Ok(transport.into())
}

/// Configuration space as devmgr left it, read-only: the driver never
/// touches the real one (devmgr owns BARs and the command register). Writes
/// are remembered only as far as `virtio-drivers` needs them to size a BAR:
/// after all ones are written to a BAR register it reads the size mask
/// devmgr recorded, until the original value is written back.
pub struct ConfigImageAccess {
    image: zos_proto::pci::ConfigImage,
    sizing: [bool; 6],
}

impl ConfigurationAccess for ConfigImageAccess {
    fn read_word(&self, _function: DeviceFunction, offset: u8) -> u32 {
        let index = offset as usize / 4;
        let bar = index.wrapping_sub(zos_proto::pci::BAR0 / 4);
        match self.sizing.get(bar) {
            Some(true) => self.image.masks[bar],
            _ => self.image.words.get(index).copied().unwrap_or(0),
        }
    }

    fn write_word(&mut self, _function: DeviceFunction, offset: u8, value: u32) {
        let bar = (offset as usize / 4).wrapping_sub(zos_proto::pci::BAR0 / 4);
        if let Some(sizing) = self.sizing.get_mut(bar) {
            *sizing = value == u32::MAX;
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        ConfigImageAccess {
            image: self.image.clone(),
            sizing: self.sizing,
        }
    }
}

/// The virtio-pci transport of the function devmgr described in `image`
/// (`zos_proto::pci::ConfigImage` as hex), whose structures lie in the BAR
/// granted as `bar` (device Memory at the BAR's bus address).
pub fn pci_transport(bar: u64, image: &str) -> Result<SomeTransport<'static>, String> {
    let image = zos_proto::pci::ConfigImage::from_hex(image).ok_or("bad configuration image")?;
    map_device(bar).map_err(|e| alloc::format!("map the BAR: {}", e.name()))?;
    let mut root = PciRoot::new(ConfigImageAccess {
        image,
        sizing: [false; 6],
    });
    let function = DeviceFunction {
        bus: 0,
        device: 0,
        function: 0,
    };
    let transport = PciTransport::new::<ZosHal, _>(&mut root, function)
        .map_err(|e| alloc::format!("not a usable virtio-pci function: {e}"))?;
    Ok(transport.into())
}
