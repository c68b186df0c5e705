//! `memcmp` and `bcmp`: byte comparison, short inputs first.
//!
//! Why: most comparisons in Zero OS are of short names (a path component
//! against the keys of a directory's map, a service name, a variant tag),
//! where `compiler_builtins`' generic `memcmp` spent about 50 instructions a
//! call on picking a strategy for the pointers' alignments before comparing
//! two bytes. This one compares 8 bytes at a time where unaligned loads are
//! cheap (x86_64) and byte by byte otherwise (our AArch64 targets compile for
//! strict alignment, so a word load there would be assembled from bytes).

/// The order of the first `len` bytes at `a` and `b`, as `memcmp` gives it:
/// negative, zero or positive as the first differing byte of `a` is below,
/// equal to or above that of `b` (as unsigned bytes).
///
/// # Safety
/// `a` and `b` must be valid for reads of `len` bytes.
pub unsafe fn compare(a: *const u8, b: *const u8, len: usize) -> i32 {
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    while at + 8 <= len {
        // SAFETY: `at + 8 <= len`, and the caller vouches for `len` bytes at
        // each pointer; x86_64 loads need no alignment.
        let (x, y) = unsafe {
            (
                a.add(at).cast::<u64>().read_unaligned(),
                b.add(at).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            // Little-endian: the lowest differing bit is in the first
            // differing byte.
            let shift = (x ^ y).trailing_zeros() & !7;
            return i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8);
        }
        at += 8;
    }
    while at < len {
        // SAFETY: `at < len`, within what the caller vouches for.
        let (x, y) = unsafe { (*a.add(at), *b.add(at)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        at += 1;
    }
    0
}

/// C's `memcmp`, for the compiler's calls (string and slice comparison).
///
/// # Safety
/// As [`compare`].
#[cfg(all(
    any(target_arch = "aarch64", target_arch = "x86_64"),
    target_os = "none"
))]
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's promise is `compare`'s.
    unsafe { compare(a, b, len) }
}

/// `bcmp`: zero when equal, which `compare` also answers.
///
/// # Safety
/// As [`compare`].
#[cfg(all(
    any(target_arch = "aarch64", target_arch = "x86_64"),
    target_os = "none"
))]
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's promise is `compare`'s.
    unsafe { compare(a, b, len) }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::vec::Vec;

    fn sign(value: i32) -> i32 {
        value.signum()
    }

    fn check(a: &[u8], b: &[u8]) {
        let len = a.len().min(b.len());
        // SAFETY: both slices hold at least `len` bytes.
        let got = unsafe { compare(a.as_ptr(), b.as_ptr(), len) };
        let want = match a[..len].cmp(&b[..len]) {
            core::cmp::Ordering::Less => -1,
            core::cmp::Ordering::Equal => 0,
            core::cmp::Ordering::Greater => 1,
        };
        assert_eq!(sign(got), want, "{a:?} against {b:?}");
    }

    #[test]
    fn orders_like_slices() {
        let long: Vec<u8> = (0..40).collect();
        for len in 0..long.len() {
            for at in 0..len {
                for delta in [1u8, 0x80, 0xff] {
                    let mut other = long[..len].to_vec();
                    other[at] = other[at].wrapping_add(delta);
                    check(&long[..len], &other);
                    check(&other, &long[..len]);
                }
            }
            check(&long[..len], &long[..len]);
        }
        check(b"tmp", b"tmq");
        check(b"\xff", b"\x01");
        check(b"", b"");
    }
}
