//! Copying to and from user memory.
//!
//! The kernel never dereferences a user pointer. Every access walks the process's
//! page tables in software (`AddressSpace::translate`), checks that the page is
//! mapped, is ordinary RAM (not a device) and, for writes, is writable, and then
//! copies through the kernel's linear map. A bad pointer yields `BadAddress`; it
//! can never fault the kernel.

use alloc::vec::Vec;

use crate::arch::{AddressSpace, Platform};
use crate::syscall::SysError;
use crate::{ensure, Result};

const PAGE: u64 = 4096;

pub use crate::syscall::layout::USER_TOP;

fn check_range(va: u64, len: usize) -> Result {
    let end = va.checked_add(len as u64).ok_or(SysError::BadAddress)?;
    ensure(end <= USER_TOP, SysError::BadAddress)
}

/// Walks `[va, va + len)` page by page, checking each page is mapped user RAM
/// (and writable when `write`), and hands `copy` the kernel pointer of each
/// piece with its offset in the range and its length.
fn for_each_piece<P: Platform>(
    space: &P::Space,
    va: u64,
    len: usize,
    write: bool,
    mut copy: impl FnMut(*mut u8, usize, usize),
) -> Result {
    check_range(va, len)?;
    let mut done = 0usize;
    while done < len {
        let addr = va + done as u64;
        let page = addr & !(PAGE - 1);
        let (pa, flags) = space.translate(page).ok_or(SysError::BadAddress)?;
        let allowed = !flags.device && (!write || flags.write);
        ensure(allowed, SysError::BadAddress)?;
        let offset = (addr - page) as usize;
        let piece = (PAGE as usize - offset).min(len - done);
        copy(P::phys_to_ptr(pa + offset as u64), done, piece);
        done += piece;
    }
    Ok(())
}

/// Copies `out.len()` bytes from user address `va`.
pub fn copy_from_user<P: Platform>(space: &P::Space, va: u64, out: &mut [u8]) -> Result {
    let dst = out.as_mut_ptr();
    for_each_piece::<P>(space, va, out.len(), false, |src, at, len| {
        // SAFETY: `src` is a RAM frame mapped in this process (translate
        // succeeded), reached through the kernel linear map; the piece stays
        // inside that page and inside `out`.
        unsafe { core::ptr::copy_nonoverlapping(src, dst.add(at), len) }
    })
}

/// Reads `len` bytes from user address `va` into a new vector, without
/// zeroing it first (long messages: 4 KiB of memset per message).
pub fn read_vec<P: Platform>(space: &P::Space, va: u64, len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let dst: *mut u8 = out.as_mut_ptr();
    for_each_piece::<P>(space, va, len, false, |src, at, piece| {
        // SAFETY: as in `copy_from_user`; `out` has room for `len` bytes.
        unsafe { core::ptr::copy_nonoverlapping(src, dst.add(at), piece) }
    })?;
    // SAFETY: the walk succeeded, so it wrote every byte of `0..len`.
    unsafe { out.set_len(len) };
    Ok(out)
}

/// Copies `data` to user address `va`, which must be writable.
pub fn copy_to_user<P: Platform>(space: &P::Space, va: u64, data: &[u8]) -> Result {
    for_each_piece::<P>(space, va, data.len(), true, |dst, at, len| {
        // SAFETY: as in `copy_from_user`, and the page is mapped writable.
        unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), dst, len) }
    })
}

/// Reads one little-endian u64 from user memory.
pub fn read_u64<P: Platform>(space: &P::Space, va: u64) -> Result<u64> {
    let mut bytes = [0u8; 8];
    copy_from_user::<P>(space, va, &mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Writes one little-endian u64 to user memory.
pub fn write_u64<P: Platform>(space: &P::Space, va: u64, value: u64) -> Result {
    copy_to_user::<P>(space, va, &value.to_le_bytes())
}

/// True when `[va, va+len)` is mapped writable RAM.
pub fn is_writable<P: Platform>(space: &P::Space, va: u64, len: u64) -> bool {
    for_each_piece::<P>(space, va, len as usize, true, |_, _, _| {}).is_ok()
}
