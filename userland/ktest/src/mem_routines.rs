//! `memcpy`, `memmove` and `memset` (the `zos-mem` routines every Rust
//! program links) against byte-at-a-time references: every source and
//! destination alignment in 0..16, lengths 0..=300, overlaps both ways.

use crate::check;
use alloc::vec;
use core::hint::black_box;

const MAX_LEN: usize = 300;
const OFFSETS: usize = 16;

/// The byte at `i` of the test pattern (no period short enough to hide a
/// misplaced word).
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 3)) as u8
}

pub fn test() {
    check("memcpy at every alignment", copies());
    check("memmove overlapping both ways", moves());
    check("memset at every alignment", fills());
}

fn copies() -> bool {
    let source: alloc::vec::Vec<u8> = (0..MAX_LEN + OFFSETS).map(pattern).collect();
    let mut target = vec![0u8; MAX_LEN + 2 * OFFSETS];
    for len in 0..=MAX_LEN {
        for from in 0..OFFSETS {
            for to in 0..OFFSETS {
                target.fill(0xee);
                // SAFETY: both ranges lie inside their vectors, which do
                // not overlap.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        source.as_ptr().add(from),
                        target.as_mut_ptr().add(to),
                        black_box(len),
                    )
                };
                let inside = (0..len).all(|i| target[to + i] == source[from + i]);
                let before = target[..to].iter().all(|&b| b == 0xee);
                let after = target[to + len..].iter().all(|&b| b == 0xee);
                if !(inside && before && after) {
                    libzos::println!("ktest: memcpy len {len} from +{from} to +{to} wrong");
                    return false;
                }
            }
        }
    }
    true
}

fn moves() -> bool {
    let span = MAX_LEN + 2 * OFFSETS;
    let mut buffer = vec![0u8; span];
    let mut expected = vec![0u8; span];
    for len in (0..=MAX_LEN).step_by(7).chain([64, 65, 128, 255]) {
        for from in 0..2 * OFFSETS {
            for to in 0..2 * OFFSETS {
                if from + len > span || to + len > span {
                    continue;
                }
                for (i, byte) in buffer.iter_mut().enumerate() {
                    *byte = pattern(i);
                }
                expected.copy_from_slice(&buffer);
                for i in 0..len {
                    expected[to + i] = pattern(from + i);
                }
                // SAFETY: both ranges lie inside `buffer`; `copy` allows
                // them to overlap.
                unsafe {
                    core::ptr::copy(
                        buffer.as_ptr().add(from),
                        buffer.as_mut_ptr().add(to),
                        black_box(len),
                    )
                };
                if buffer != expected {
                    libzos::println!("ktest: memmove len {len} from +{from} to +{to} wrong");
                    return false;
                }
            }
        }
    }
    true
}

fn fills() -> bool {
    let mut target = vec![0u8; MAX_LEN + 2 * OFFSETS];
    for len in 0..=MAX_LEN {
        for to in 0..OFFSETS {
            target.fill(0xee);
            let value = black_box(0x5a_u8.wrapping_add(len as u8));
            // SAFETY: the range lies inside `target`.
            unsafe { core::ptr::write_bytes(target.as_mut_ptr().add(to), value, black_box(len)) };
            let inside = target[to..to + len].iter().all(|&b| b == value);
            let outside = target[..to]
                .iter()
                .chain(&target[to + len..])
                .all(|&b| b == 0xee);
            if !(inside && outside) {
                libzos::println!("ktest: memset len {len} at +{to} wrong");
                return false;
            }
        }
    }
    true
}
