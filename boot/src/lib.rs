//! Zero OS boot: the code that runs once, before the first user instruction.
//!
//! An arch backend reads its machine description ([`devicetree`] on AArch64),
//! then calls [`init::start_init`], which finds `/sbin/init` in the cpio
//! initramfs ([`initramfs`]), checks its ELF ([`elf`]) and builds the first
//! process in the kernel core through the core's public interface. After that
//! nothing here runs again. Keeping it out of `zos-kernel` keeps the core small
//! (invariant 5) and keeps hostile-input parsers out of the code that runs on
//! every trap. `libzos` and services reuse the parsers (`elf`, `initramfs`)
//! without the `kernel` feature.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg(feature = "kernel")]
pub mod devicetree;
pub mod elf;
#[cfg(feature = "kernel")]
pub mod init;
pub mod initramfs;
#[cfg(feature = "kernel")]
pub mod memory;
#[cfg(feature = "kernel")]
pub mod pci;

/// A half-open range of physical addresses `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True when `other` lies entirely inside `self`.
    pub const fn contains_range(&self, other: &PhysRange) -> bool {
        other.start >= self.start && other.end <= self.end && other.start <= other.end
    }
}

impl PhysRange {
    /// The same addresses as a `Range` (what the kernel's frame allocator takes).
    pub const fn range(&self) -> core::ops::Range<u64> {
        self.start..self.end
    }
}

/// Recurses with a 1 KiB frame until the stack runs out: the boot argument
/// `fault=stack` calls it to test the kernel's stack overflow report.
/// Returns only if `depth` reaches `u64::MAX`, which it never does.
#[cfg(feature = "kernel")]
#[inline(never)]
pub fn exhaust_stack(depth: u64) -> u64 {
    let mut frame = [depth; 128];
    core::hint::black_box(&mut frame);
    if core::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    exhaust_stack(depth + 1).wrapping_add(frame[(depth % 128) as usize])
}
