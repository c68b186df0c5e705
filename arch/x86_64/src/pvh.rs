//! The Xen PVH start information QEMU hands the kernel (`hvm_start_info`,
//! version 1): the memory map, the command line and the initrd as module 0.
//! Every field is checked: QEMU built it, but a bad value must stop the boot
//! with a message, not a fault.

use crate::mmu::phys_to_virt;
use zos_boot::PhysRange;

const MAGIC: u32 = 0x336e_c578;
/// Most RAM ranges kept.
pub const MAX_MEMORY: usize = 16;
/// Longest command line kept.
const MAX_CMDLINE: usize = 512;
/// The boot mapping covers the first 4 GiB: start info must lie there.
const BOOT_MAPPED: u64 = 4 << 30;

/// Why the start information is unusable.
#[derive(Debug)]
pub enum PvhError {
    NotMapped(u64),
    BadMagic(u32),
    NoMemoryMap(u32),
    NoRam,
}

impl core::fmt::Display for PvhError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PvhError::NotMapped(pa) => write!(
                f,
                "PVH start info field at {pa:#x} is outside the first 4 GiB"
            ),
            PvhError::BadMagic(m) => {
                write!(f, "no PVH start info (magic {m:#x}, expected {MAGIC:#x})")
            }
            PvhError::NoMemoryMap(v) => write!(f, "PVH start info version {v} has no memory map"),
            PvhError::NoRam => write!(f, "the memory map lists no RAM"),
        }
    }
}

/// What boot needs from the start information, copied out of it.
pub struct StartInfo {
    memory: [PhysRange; MAX_MEMORY],
    pub memory_count: usize,
    pub initrd: Option<PhysRange>,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    pub rsdp: u64,
}

fn read<T: Copy>(pa: u64) -> Result<T, PvhError> {
    let size = core::mem::size_of::<T>() as u64;
    if pa.checked_add(size).is_none_or(|end| end > BOOT_MAPPED) {
        return Err(PvhError::NotMapped(pa));
    }
    // SAFETY: inside the boot linear map of the first 4 GiB; unaligned reads
    // are allowed.
    Ok(unsafe { core::ptr::read_unaligned(phys_to_virt(pa) as *const T) })
}

impl StartInfo {
    pub fn parse(pa: u64) -> Result<StartInfo, PvhError> {
        let magic: u32 = read(pa)?;
        if magic != MAGIC {
            return Err(PvhError::BadMagic(magic));
        }
        let version: u32 = read(pa + 4)?;
        let modules: u32 = read(pa + 12)?;
        let modlist: u64 = read(pa + 16)?;
        let cmdline_pa: u64 = read(pa + 24)?;
        let rsdp: u64 = read(pa + 32)?;
        if version < 1 {
            return Err(PvhError::NoMemoryMap(version));
        }
        let memmap: u64 = read(pa + 40)?;
        let entries: u32 = read(pa + 48)?;
        let mut info = StartInfo {
            memory: [PhysRange::new(0, 0); MAX_MEMORY],
            memory_count: 0,
            initrd: None,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            rsdp,
        };
        for i in 0..entries.min(128) as u64 {
            let entry = memmap + i * 24;
            let (addr, size, kind): (u64, u64, u32) =
                (read(entry)?, read(entry + 8)?, read(entry + 16)?);
            if kind == 1 && size > 0 && info.memory_count < MAX_MEMORY {
                let start = addr.next_multiple_of(4096);
                let end = addr.saturating_add(size) & !0xfff;
                if end > start {
                    info.memory[info.memory_count] = PhysRange::new(start, end);
                    info.memory_count += 1;
                }
            }
        }
        if info.memory_count == 0 {
            return Err(PvhError::NoRam);
        }
        if modules > 0 {
            let (start, size): (u64, u64) = (read(modlist)?, read(modlist + 8)?);
            if size > 0 {
                info.initrd = Some(PhysRange::new(start, start.saturating_add(size)));
            }
        }
        if cmdline_pa != 0 {
            while info.cmdline_len < MAX_CMDLINE {
                let byte: u8 = read(cmdline_pa + info.cmdline_len as u64)?;
                if byte == 0 {
                    break;
                }
                info.cmdline[info.cmdline_len] = byte;
                info.cmdline_len += 1;
            }
        }
        Ok(info)
    }

    /// RAM ranges (page aligned inward).
    pub fn memory(&self) -> &[PhysRange] {
        &self.memory[..self.memory_count]
    }

    pub fn ram_bytes(&self) -> u64 {
        self.memory().iter().map(|m| m.len()).sum()
    }

    /// The kernel command line (`-append`), or "" when it is not UTF-8.
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}
