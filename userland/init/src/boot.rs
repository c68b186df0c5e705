//! The boot information page the kernel gives init: device capabilities, the
//! initramfs, the quota and the kernel command line.

use alloc::string::String;
use alloc::vec::Vec;
use libzos::abi::{bootinfo, layout};
use zos_boot::initramfs::Archive;

/// One device capability from the kernel.
#[derive(Clone, Debug)]
pub struct Device {
    pub name: String,
    pub slot: u64,
    /// 5 = Memory, 6 = Irq (kernel ObjectKind).
    pub kind: u64,
    pub base: u64,
    pub size: u64,
    pub irq: u32,
}

pub struct BootInfo {
    pub devices: Vec<Device>,
    pub quota: u64,
    pub cmdline: String,
    /// The platform's random seed (device tree `rng-seed`), for services
    /// granted "rng-seed".
    pub rng_seed: Vec<u8>,
    pub initramfs: Archive<'static>,
}

fn word(info: u64, index: usize) -> u64 {
    // SAFETY: the kernel mapped the boot info page read-only at `info`; indices
    // used here lie inside the header or the entries it announces.
    unsafe { core::ptr::read_volatile((info as *const u64).add(index)) }
}

impl BootInfo {
    /// The quota the kernel gave init, read without allocating (so init can
    /// refuse too small a machine before its heap needs memory it lacks).
    pub fn read_quota(info: u64) -> Option<u64> {
        (word(info, bootinfo::WORD_MAGIC) == bootinfo::MAGIC)
            .then(|| word(info, bootinfo::WORD_QUOTA))
    }

    pub fn read(info: u64) -> Option<BootInfo> {
        if word(info, bootinfo::WORD_MAGIC) != bootinfo::MAGIC {
            return None;
        }
        let count = word(info, bootinfo::WORD_ENTRY_COUNT) as usize;
        if count > 256 {
            return None;
        }
        let mut devices = Vec::new();
        for i in 0..count {
            let at = bootinfo::FIRST_ENTRY + i * bootinfo::ENTRY_WORDS;
            let mut name_bytes = [0u8; 24];
            for w in 0..3 {
                name_bytes[w * 8..w * 8 + 8].copy_from_slice(&word(info, at + 5 + w).to_le_bytes());
            }
            let end = name_bytes.iter().position(|b| *b == 0).unwrap_or(24);
            devices.push(Device {
                name: String::from(core::str::from_utf8(&name_bytes[..end]).unwrap_or("?")),
                slot: word(info, at),
                kind: word(info, at + 1),
                base: word(info, at + 2),
                size: word(info, at + 3),
                irq: word(info, at + 4) as u32,
            });
        }
        let cmdline_len = (word(info, bootinfo::WORD_CMDLINE_LEN) as usize).min(2048);
        let cmdline_at =
            info + ((bootinfo::FIRST_ENTRY + count * bootinfo::ENTRY_WORDS) * 8) as u64;
        // SAFETY: the command line follows the entries inside the mapped page(s).
        let cmdline = unsafe { core::slice::from_raw_parts(cmdline_at as *const u8, cmdline_len) };
        let seed_len =
            (word(info, bootinfo::WORD_RNG_SEED_LEN) as usize).min(bootinfo::MAX_RNG_SEED);
        // SAFETY: the seed follows the command line inside the mapped page(s).
        let rng_seed = unsafe {
            core::slice::from_raw_parts((cmdline_at + cmdline_len as u64) as *const u8, seed_len)
        };
        let ramfs_size = word(info, bootinfo::WORD_INITRAMFS_SIZE) as usize;
        // SAFETY: the kernel mapped the initramfs read-only at this address for
        // the life of init.
        let ramfs: &'static [u8] =
            unsafe { core::slice::from_raw_parts(layout::INITRAMFS as *const u8, ramfs_size) };
        Some(BootInfo {
            devices,
            quota: word(info, bootinfo::WORD_QUOTA),
            cmdline: String::from(core::str::from_utf8(cmdline).unwrap_or("")),
            rng_seed: rng_seed.to_vec(),
            initramfs: Archive::new(ramfs),
        })
    }

    /// The value of `key=value` on the command line.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.cmdline
            .split_ascii_whitespace()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }

    pub fn flag(&self, word: &str) -> bool {
        self.cmdline.split_ascii_whitespace().any(|a| a == word)
    }
}
