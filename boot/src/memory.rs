//! Free physical memory at boot: RAM minus what is already in use (the kernel
//! image, the device tree, the initrd), as the regions the frame allocator starts
//! with.

use crate::PhysRange;

const FRAME: u64 = 4096;

/// Most free regions [`free_regions`] reports.
pub const MAX_REGIONS: usize = 32;

/// RAM minus reserved ranges: the memory the frame allocator may hand out.
/// Returns the regions (sorted, page-granular inward) and how many there are.
pub fn free_regions(
    memory: &[PhysRange],
    reserved: &[PhysRange],
) -> ([PhysRange; MAX_REGIONS], usize) {
    let mut out = [PhysRange::new(0, 0); MAX_REGIONS];
    let mut count = 0;
    for bank in memory {
        // Split the bank at every reserved range, lowest first.
        let mut cursor = bank.start;
        loop {
            let next_hole = reserved
                .iter()
                .filter(|r| !r.is_empty() && r.end > cursor && r.start < bank.end)
                .min_by_key(|r| r.start);
            let piece_end = match next_hole {
                Some(hole) => hole.start.clamp(cursor, bank.end),
                None => bank.end,
            };
            let start = cursor.div_ceil(FRAME) * FRAME;
            let end = piece_end & !(FRAME - 1);
            if end > start && count < MAX_REGIONS {
                out[count] = PhysRange::new(start, end);
                count += 1;
            }
            match next_hole {
                Some(hole) if hole.end < bank.end => cursor = hole.end.max(cursor),
                _ => break,
            }
        }
    }
    out[..count].sort_unstable_by_key(|r| r.start);
    (out, count)
}

#[cfg(test)]
mod region_tests {
    use super::*;

    #[test]
    fn splits_around_reserved() {
        let memory = [PhysRange::new(0x4000_0000, 0x8000_0000)];
        let reserved = [
            PhysRange::new(0x4800_0000, 0x4800_0003), // initrd, 3 bytes
            PhysRange::new(0x4000_0000, 0x4000_2000), // dtb
            PhysRange::new(0x4020_0000, 0x4030_0000), // kernel
        ];
        let (regions, count) = free_regions(&memory, &reserved);
        assert_eq!(
            &regions[..count],
            &[
                PhysRange::new(0x4000_2000, 0x4020_0000),
                PhysRange::new(0x4030_0000, 0x4800_0000),
                PhysRange::new(0x4800_1000, 0x8000_0000),
            ]
        );
    }

    #[test]
    fn reserved_outside_or_covering() {
        let memory = [PhysRange::new(0x1000, 0x5000)];
        let (_, count) = free_regions(&memory, &[PhysRange::new(0, 0x10000)]);
        assert_eq!(count, 0);
        let (regions, count) = free_regions(&memory, &[PhysRange::new(0x9000, 0xa000)]);
        assert_eq!(&regions[..count], &memory);
    }
}
