//! CPU identification (MIDR_EL1) and virtio-mmio device probing for the banner.

use core::arch::asm;

pub struct CpuId {
    pub midr: u64,
    pub name: &'static str,
}

/// Reads MIDR_EL1 and names the core.
pub fn identify() -> CpuId {
    let midr: u64;
    // SAFETY: reading MIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, midr_el1", out(reg) midr) };
    let implementer = (midr >> 24) & 0xff;
    let part = (midr >> 4) & 0xfff;
    let name = match (implementer, part) {
        (0x41, 0xd03) => "ARM Cortex-A53",
        (0x41, 0xd04) => "ARM Cortex-A35",
        (0x41, 0xd05) => "ARM Cortex-A55",
        (0x41, 0xd07) => "ARM Cortex-A57",
        (0x41, 0xd08) => "ARM Cortex-A72",
        (0x41, 0xd0b) => "ARM Cortex-A76",
        (0x41, 0xd0c) => "ARM Neoverse-N1",
        (0x41, 0xd40) => "ARM Neoverse-V1",
        (0x41, 0xd49) => "ARM Neoverse-N2",
        (0x41, _) => "ARM (unknown part)",
        (0x00, _) => "QEMU max",
        _ => "unknown CPU",
    };
    CpuId { midr, name }
}

/// The device kind behind a virtio-mmio slot, or `None` when the slot is empty.
pub fn virtio_device_kind(base_va: u64) -> Option<&'static str> {
    // SAFETY: the slot's registers are in the device window of the kernel map;
    // magic and device id are read-only registers without side effects.
    let (magic, device_id) = unsafe {
        (
            core::ptr::read_volatile(base_va as *const u32),
            core::ptr::read_volatile((base_va + 8) as *const u32),
        )
    };
    if magic != 0x7472_6976 || device_id == 0 {
        return None;
    }
    Some(match device_id {
        1 => "net",
        2 => "blk",
        3 => "console",
        4 => "rng",
        5 => "balloon",
        9 => "9p",
        16 => "gpu",
        18 => "input",
        19 => "vsock",
        _ => "other",
    })
}

/// Zeroes one 4 KiB frame at kernel address `va` with `dc zva` (one cache-line
/// block per instruction), falling back to stores when DC ZVA is prohibited.
/// Eight blocks a turn: the loop's compare and branch once per eight (on
/// QEMU's 64-byte blocks a page is 64 `dc zva`, ~150 instructions, not ~260;
/// a spawn zeroes about fifty pages).
pub fn zero_frame(va: u64) {
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no side effects.
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid) };
    let block = 4u64 << (dczid & 0xf);
    if dczid & 0x10 != 0 || block * 8 > 4096 {
        // SAFETY: the caller owns the whole frame at `va`.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, 4096) };
        return;
    }
    let mut address = va;
    while address < va + 4096 {
        // SAFETY: the eight blocks from `address` stay inside the frame (a
        // power-of-two block, eight of them at most 4096 bytes, from a
        // frame-aligned start), which is normal cacheable memory in the
        // kernel's linear map and owned by the caller.
        unsafe {
            asm!(
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                "dc zva, {a}", "add {a}, {a}, {b}",
                a = inout(reg) address,
                b = in(reg) block,
                options(nostack),
            )
        };
    }
}
