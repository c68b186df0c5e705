//! Copying to and from user memory.
//!
//! The kernel never dereferences a user pointer. Every access walks the process's
//! page tables in software (`AddressSpace::translate`), checks that the page is
//! mapped, is ordinary RAM (not a device) and, for writes, is writable, and then
//! copies through the kernel's linear map. A bad pointer yields `BadAddress`; it
//! can never fault the kernel.

use crate::arch::{AddressSpace, Platform};
use crate::syscall::SysError;

const PAGE: u64 = 4096;

pub use crate::syscall::layout::USER_TOP;

fn check_range(va: u64, len: usize) -> Result<(), SysError> {
    let end = va.checked_add(len as u64).ok_or(SysError::BadAddress)?;
    if end > USER_TOP {
        return Err(SysError::BadAddress);
    }
    Ok(())
}

/// Copies `out.len()` bytes from user address `va`.
pub fn copy_from_user<P: Platform>(
    space: &P::Space,
    va: u64,
    out: &mut [u8],
) -> Result<(), SysError> {
    check_range(va, out.len())?;
    let mut done = 0usize;
    while done < out.len() {
        let addr = va + done as u64;
        let page = addr & !(PAGE - 1);
        let (pa, flags) = space.translate(page).ok_or(SysError::BadAddress)?;
        if flags.device {
            return Err(SysError::BadAddress);
        }
        let offset = (addr - page) as usize;
        let chunk = (PAGE as usize - offset).min(out.len() - done);
        let src = P::phys_to_ptr(pa + offset as u64);
        // SAFETY: `pa` is a RAM frame mapped in this process (translate succeeded),
        // reached through the kernel linear map; `chunk` stays inside the page.
        unsafe { core::ptr::copy_nonoverlapping(src, out[done..].as_mut_ptr(), chunk) };
        done += chunk;
    }
    Ok(())
}

/// Copies `data` to user address `va`, which must be writable.
pub fn copy_to_user<P: Platform>(space: &P::Space, va: u64, data: &[u8]) -> Result<(), SysError> {
    check_range(va, data.len())?;
    let mut done = 0usize;
    while done < data.len() {
        let addr = va + done as u64;
        let page = addr & !(PAGE - 1);
        let (pa, flags) = space.translate(page).ok_or(SysError::BadAddress)?;
        if flags.device || !flags.write {
            return Err(SysError::BadAddress);
        }
        let offset = (addr - page) as usize;
        let chunk = (PAGE as usize - offset).min(data.len() - done);
        let dst = P::phys_to_ptr(pa + offset as u64);
        // SAFETY: as in `copy_from_user`, and the page is mapped writable.
        unsafe { core::ptr::copy_nonoverlapping(data[done..].as_ptr(), dst, chunk) };
        done += chunk;
    }
    Ok(())
}

/// Reads one little-endian u64 from user memory.
pub fn read_u64<P: Platform>(space: &P::Space, va: u64) -> Result<u64, SysError> {
    let mut bytes = [0u8; 8];
    copy_from_user::<P>(space, va, &mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Writes one little-endian u64 to user memory.
pub fn write_u64<P: Platform>(space: &P::Space, va: u64, value: u64) -> Result<(), SysError> {
    copy_to_user::<P>(space, va, &value.to_le_bytes())
}

/// True when `[va, va+len)` is mapped writable RAM.
pub fn is_writable<P: Platform>(space: &P::Space, va: u64, len: u64) -> bool {
    if check_range(va, len as usize).is_err() {
        return false;
    }
    let mut page = va & !(PAGE - 1);
    while page < va + len {
        match space.translate(page) {
            Some((_, flags)) if flags.write && !flags.device => {}
            _ => return false,
        }
        page += PAGE;
    }
    true
}
