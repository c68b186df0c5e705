//! Physical frame allocator of the Zero OS kernel.
//!
//! A bitmap over one span of physical memory (lowest to highest RAM address), one
//! bit per 4 KiB frame, set when the frame is in use. Everything starts in use; the
//! boot code frees the RAM that is not the kernel image, the device tree or the
//! initrd (boot carves the bitmap and the kernel heap out first). A rotating hint
//! keeps single-frame allocation close to O(1) in practice. Contiguous runs (DMA
//! buffers) come from a first-fit scan.
//!
//! A frame in use has one owner, or several after a copy-on-write copy
//! (`MemoryCopy`, docs/kernel.md): [`FrameAllocator::share`] counts one more
//! owner, [`FrameAllocator::free`] one fewer, and the frame goes back to the
//! bitmap when its last owner frees it. The counts (owners beyond the first,
//! 16 bits a frame: 1/2048 of the span) are one table, made from the kernel
//! heap at the first share, so a machine that never shares a frame spends
//! nothing on it and a count is one load, not a search. Without room for
//! the table a share fails (`MemoryCopy` says OutOfMemory).
//!
//! Its own crate because the kernel core, each arch backend's page tables
//! and boot all take frames from it (docs/kernel.md, "Size").
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use core::ops::Range;

/// Size of a physical frame, in bytes.
pub const PAGE_SIZE: usize = 4096;
const FRAME: u64 = PAGE_SIZE as u64;
/// Bit 0 of a frame address marked by [`FrameAllocator::mark_shared`]
/// (frames are page-aligned, so the bit is free).
pub const SHARED_MARK: u64 = 1;

/// What went wrong freeing or reserving frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The address is not frame aligned.
    Unaligned,
    /// The address lies outside the managed span.
    OutOfRange,
    /// The frame was already free.
    DoubleFree,
    /// The frame is not in use (it cannot gain an owner).
    NotInUse,
    /// The frame has as many owners as a count holds.
    TooManyOwners,
    /// No kernel heap for the owner counts.
    NoCountTable,
}

/// Bitmap frame allocator over one physical span.
#[derive(Default)]
pub struct FrameAllocator {
    base: u64,
    frames: usize,
    bitmap: &'static mut [u64],
    free: usize,
    hint: usize,
    /// Owners beyond the first of each frame in use (empty until the first
    /// share).
    extra_owners: Vec<u16>,
    /// Frames with more than one owner.
    shared: usize,
}

impl FrameAllocator {
    /// Number of `u64` words of bitmap needed to cover `span`.
    pub const fn bitmap_words(span: &Range<u64>) -> usize {
        let frames = (span.end.saturating_sub(span.start) / FRAME) as usize;
        frames.div_ceil(64)
    }

    /// An allocator over `span` with every frame marked in use.
    /// `bitmap` must hold at least [`Self::bitmap_words`] words.
    pub fn new(span: Range<u64>, bitmap: &'static mut [u64]) -> Self {
        let base = span.start & !(FRAME - 1);
        let frames = ((span.end - base) / FRAME) as usize;
        let words = frames.div_ceil(64).min(bitmap.len());
        let bitmap = &mut bitmap[..words];
        bitmap.fill(u64::MAX);
        let frames = frames.min(words * 64);
        Self {
            base,
            frames,
            bitmap,
            free: 0,
            hint: 0,
            extra_owners: Vec::new(),
            shared: 0,
        }
    }

    /// Marks every whole frame inside `range` free (frames already free stay free).
    pub fn add_free(&mut self, range: Range<u64>) {
        let first = range.start.max(self.base).div_ceil(FRAME) * FRAME;
        let end = range.end.min(self.base + self.frames as u64 * FRAME) & !(FRAME - 1);
        for addr in (first..end).step_by(PAGE_SIZE) {
            let index = ((addr - self.base) / FRAME) as usize;
            if self.is_used(index) {
                self.set_free(index);
            }
        }
    }

    /// Allocates one frame and returns its physical address.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        // The first free bit of each word not full, from the hint's word on.
        let (words, start_word) = (self.bitmap.len(), self.hint / 64);
        let index = (0..words)
            .map(|step| (start_word + step) % words)
            .filter(|&word| self.bitmap[word] != u64::MAX)
            .map(|word| word * 64 + (!self.bitmap[word]).trailing_zeros() as usize)
            .find(|&index| index < self.frames)?;
        self.set_used(index);
        self.hint = index;
        Some(self.base + index as u64 * FRAME)
    }

    /// Allocates up to `count` frames (fewer only when memory runs out),
    /// the ones `count` calls of [`alloc`](Self::alloc) would return in the
    /// same order, and appends them to `out`: each bitmap word's free
    /// frames are taken in one visit (a spawn takes about fifty).
    pub fn alloc_many(&mut self, count: usize, out: &mut Vec<u64>) {
        let words = self.bitmap.len();
        let mut left = count.min(self.free);
        let mut word = self.hint / 64;
        while left > 0 {
            let mut free_bits = !self.bitmap[word];
            while free_bits != 0 && left > 0 {
                let index = word * 64 + free_bits.trailing_zeros() as usize;
                if index >= self.frames {
                    break;
                }
                self.bitmap[word] |= free_bits & free_bits.wrapping_neg();
                free_bits &= free_bits - 1;
                (self.free, self.hint, left) = (self.free - 1, index, left - 1);
                out.push(self.base + index as u64 * FRAME);
            }
            word = (word + 1) % words;
        }
    }

    /// Frees each of `frames` as [`free`](Self::free) does (one owner
    /// each), errors ignored: what a destroyed object held. A frame with
    /// one owner, the usual case, takes the short way.
    pub fn free_all(&mut self, frames: &[u64]) {
        for &addr in frames {
            let index = (addr.wrapping_sub(self.base) / FRAME) as usize;
            let (word, bit) = (index / 64, 1u64 << (index % 64));
            let sole = addr % FRAME == 0
                && index < self.frames
                && self.bitmap[word] & bit != 0
                && self.extra_owners_of(index) == 0;
            if !sole {
                let _ = self.free(addr);
                continue;
            }
            self.bitmap[word] &= !bit;
            self.free += 1;
            self.hint = self.hint.min(index);
        }
    }

    /// Allocates `count` frames forming one physical run (lowest fit first) and
    /// returns the first one's address.
    pub fn alloc_contiguous(&mut self, count: usize) -> Option<u64> {
        let mut run = 0;
        for index in 0..self.frames {
            run = if self.is_used(index) { 0 } else { run + 1 };
            if run == count && count > 0 {
                let first = index + 1 - count;
                (first..=index).for_each(|i| self.set_used(i));
                return Some(self.base + first as u64 * FRAME);
            }
        }
        None
    }

    /// Gives up one owner's hold on a frame: the frame is free again once
    /// its last owner gave it up.
    pub fn free(&mut self, addr: u64) -> Result<(), FrameError> {
        let index = self.index_of(addr)?;
        if !self.is_used(index) {
            return Err(FrameError::DoubleFree);
        }
        match self.extra_owners_of(index) {
            0 => self.set_free(index),
            1 => {
                self.set_extra_owners(index, 0);
                self.shared -= 1;
            }
            extra => self.set_extra_owners(index, extra - 1),
        }
        Ok(())
    }

    /// One more owner of a frame in use (a copy-on-write copy holds it too).
    pub fn share(&mut self, addr: u64) -> Result<(), FrameError> {
        let index = self.index_of(addr)?;
        if !self.is_used(index) {
            return Err(FrameError::NotInUse);
        }
        if self.extra_owners.is_empty() {
            let table = &mut self.extra_owners;
            let made = table.try_reserve_exact(self.frames);
            made.map_err(|_| FrameError::NoCountTable)?;
            table.resize(self.frames, 0);
        }
        let extra = self.extra_owners_of(index);
        let more = extra.checked_add(1).ok_or(FrameError::TooManyOwners)?;
        self.set_extra_owners(index, more);
        self.shared += (extra == 0) as usize;
        Ok(())
    }

    /// One more owner of every frame of `frames`, or (on an error) of none.
    pub fn share_all(&mut self, frames: &[u64]) -> Result<(), FrameError> {
        for (done, &frame) in frames.iter().enumerate() {
            if let Err(e) = self.share(frame) {
                frames[..done]
                    .iter()
                    .for_each(|&shared| _ = self.free(shared));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Whether more than one owner holds the frame (writing it needs a copy).
    pub fn is_shared(&self, addr: u64) -> bool {
        let index = self.index_of(addr);
        index.is_ok_and(|index| self.extra_owners_of(index) > 0)
    }

    /// With `write`, sets [`SHARED_MARK`] in each address of `pages` whose
    /// frame more than one owner holds (mapped read-only until its copy).
    pub fn mark_shared(&self, pages: &mut [u64], write: bool) {
        if !write || self.shared == 0 {
            return;
        }
        for pa in pages {
            let index = pa.wrapping_sub(self.base) / FRAME;
            if self
                .extra_owners
                .get(index as usize)
                .is_some_and(|&n| n > 0)
            {
                *pa |= SHARED_MARK;
            }
        }
    }

    /// Frames with more than one owner.
    pub fn shared_frames(&self) -> usize {
        self.shared
    }

    fn extra_owners_of(&self, index: usize) -> u16 {
        self.extra_owners.get(index).copied().unwrap_or(0)
    }

    fn set_extra_owners(&mut self, index: usize, extra: u16) {
        if let Some(count) = self.extra_owners.get_mut(index) {
            *count = extra;
        }
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Frames managed (free or not).
    pub fn total_frames(&self) -> usize {
        self.frames
    }

    fn index_of(&self, addr: u64) -> Result<usize, FrameError> {
        if !addr.is_multiple_of(FRAME) {
            return Err(FrameError::Unaligned);
        }
        let index = addr.checked_sub(self.base).ok_or(FrameError::OutOfRange)? / FRAME;
        if index as usize >= self.frames {
            return Err(FrameError::OutOfRange);
        }
        Ok(index as usize)
    }

    fn is_used(&self, index: usize) -> bool {
        self.bitmap[index / 64] & (1 << (index % 64)) != 0
    }

    fn set_used(&mut self, index: usize) {
        self.bitmap[index / 64] |= 1 << (index % 64);
        self.free -= 1;
    }

    fn set_free(&mut self, index: usize) {
        self.bitmap[index / 64] &= !(1 << (index % 64));
        self.free += 1;
        if index < self.hint {
            self.hint = index;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec;

    fn allocator(span: Range<u64>) -> FrameAllocator {
        let words = FrameAllocator::bitmap_words(&span);
        FrameAllocator::new(span, Box::leak(vec![0u64; words].into_boxed_slice()))
    }

    const RAM: Range<u64> = 0x4000_0000..0x4010_0000; // 1 MiB, 256 frames

    #[test]
    fn starts_full_then_frees_regions() {
        let mut frames = allocator(RAM.clone());
        assert_eq!(frames.total_frames(), 256);
        assert_eq!(frames.free_frames(), 0);
        assert_eq!(frames.alloc(), None);
        frames.add_free(RAM.clone());
        assert_eq!(frames.free_frames(), 256);
        assert_eq!(frames.alloc(), Some(0x4000_0000));
        assert_eq!(frames.free_frames(), 255);
    }

    #[test]
    fn add_free_ignores_partial_frames_and_outside() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(0x4000_0800..0x4000_2800);
        assert_eq!(frames.free_frames(), 1); // only 0x4000_1000 is whole
        frames.add_free(0x1000..0x2000);
        frames.add_free(0x5000_0000..0x6000_0000);
        assert_eq!(frames.free_frames(), 1);
    }

    #[test]
    fn alloc_until_empty_then_free_all() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        let mut got = std::vec::Vec::new();
        while let Some(f) = frames.alloc() {
            assert!(RAM.contains(&f) && RAM.contains(&(f + FRAME - 1)));
            got.push(f);
        }
        assert_eq!(got.len(), 256);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 256, "no frame handed out twice");
        for f in &got {
            frames.free(*f).expect("free");
        }
        assert_eq!(frames.free_frames(), 256);
    }

    #[test]
    fn contiguous_runs_skip_holes_and_refuse_what_does_not_fit() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        let single: std::vec::Vec<u64> = (0..4).map(|_| frames.alloc().expect("frame")).collect();
        frames.free(single[1]).expect("free"); // a one-frame hole at frame 1
        assert_eq!(frames.alloc_contiguous(2), Some(0x4000_4000));
        assert_eq!(frames.free_frames(), 256 - 5);
        assert_eq!(frames.alloc_contiguous(1), Some(single[1]));
        assert_eq!(frames.alloc_contiguous(0), None);
        assert_eq!(frames.alloc_contiguous(251), None);
        assert_eq!(frames.alloc_contiguous(250), Some(0x4000_6000));
        assert_eq!(frames.free_frames(), 0);
    }

    #[test]
    fn a_shared_frame_is_free_after_its_last_owner() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        let frame = frames.alloc().expect("frame");
        frames.share(frame).expect("share");
        frames.share(frame).expect("share");
        assert!(frames.is_shared(frame));
        assert_eq!(frames.shared_frames(), 1);
        frames.free(frame).expect("first owner");
        assert!(frames.is_shared(frame), "two owners left");
        frames.free(frame).expect("second owner");
        assert!(!frames.is_shared(frame));
        assert_eq!(frames.free_frames(), 255, "the last owner still holds it");
        frames.free(frame).expect("last owner");
        assert_eq!(frames.free_frames(), 256);
        assert_eq!(frames.free(frame), Err(FrameError::DoubleFree));
        assert_eq!(frames.share(frame), Err(FrameError::NotInUse));
        assert_eq!(frames.share(0x1000), Err(FrameError::OutOfRange));
    }

    #[test]
    fn alloc_many_and_free_all_do_what_alloc_and_free_do() {
        let mut one = allocator(RAM.clone());
        let mut many = allocator(RAM.clone());
        for frames in [&mut one, &mut many] {
            frames.add_free(RAM.clone());
            // Holes: every third frame of the first 150 taken, then some freed.
            let taken: Vec<u64> = (0..150).map(|_| frames.alloc().unwrap()).collect();
            for (i, &frame) in taken.iter().enumerate() {
                if i % 3 != 0 {
                    frames.free(frame).unwrap();
                }
            }
            frames.share(taken[3]).unwrap();
        }
        let singly: Vec<u64> = (0..60).map(|_| one.alloc().unwrap()).collect();
        let mut batch = Vec::new();
        many.alloc_many(60, &mut batch);
        assert_eq!(batch, singly);
        assert_eq!(many.free_frames(), one.free_frames());
        // Shared, sole, unaligned, out of range and already free frames.
        let odd = [
            batch[0],
            RAM.start + 3 * 4096,
            0x4000_0001,
            0x1000,
            batch[0],
        ];
        let frees: Vec<u64> = batch.iter().chain(&odd).copied().collect();
        for &frame in &frees {
            let _ = one.free(frame);
        }
        many.free_all(&frees);
        assert_eq!(many.free_frames(), one.free_frames());
        assert!(!many.is_shared(RAM.start + 3 * 4096), "one owner left");
        let (a, b) = (one.alloc(), many.alloc());
        assert_eq!(a, b, "the same hint");
        // More than there is: all that is left, then nothing.
        let mut rest = Vec::new();
        many.alloc_many(1000, &mut rest);
        assert_eq!(many.free_frames(), 0);
        assert_eq!(rest.len(), one.free_frames());
        many.alloc_many(5, &mut rest);
        assert_eq!(rest.len(), one.free_frames());
    }

    #[test]
    fn mark_shared_marks_only_shared_frames_and_only_for_writing() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        let (a, b) = (frames.alloc().expect("a"), frames.alloc().expect("b"));
        let mut pages = [a, b];
        frames.mark_shared(&mut pages, true);
        assert_eq!(pages, [a, b], "nothing shared yet");
        frames.share(b).expect("share");
        frames.mark_shared(&mut pages, false);
        assert_eq!(pages, [a, b], "read-only mappings need no mark");
        frames.mark_shared(&mut pages, true);
        assert_eq!(pages, [a, b | SHARED_MARK]);
        assert_eq!(
            pages.map(|pa| frames.is_shared(pa & !SHARED_MARK)),
            [false, true]
        );
    }

    #[test]
    fn owner_counts_stop_at_their_limit_and_share_all_is_all_or_nothing() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        let (full, other) = (
            frames.alloc().expect("frame"),
            frames.alloc().expect("frame"),
        );
        for _ in 0..u16::MAX {
            frames.share(full).expect("share");
        }
        assert_eq!(frames.share(full), Err(FrameError::TooManyOwners));
        assert_eq!(
            frames.share_all(&[other, full]),
            Err(FrameError::TooManyOwners)
        );
        assert!(
            !frames.is_shared(other),
            "the first frame's share was undone"
        );
        for _ in 0..u16::MAX {
            frames.free(full).expect("an owner");
        }
        assert_eq!(frames.shared_frames(), 0);
        frames.free(full).expect("the last owner");
        assert_eq!(frames.free_frames(), 255);
    }

    #[test]
    fn free_errors() {
        let mut frames = allocator(RAM.clone());
        frames.add_free(RAM.clone());
        assert_eq!(frames.free(0x4000_0001), Err(FrameError::Unaligned));
        assert_eq!(frames.free(0x3000_0000), Err(FrameError::OutOfRange));
        assert_eq!(frames.free(0x4010_0000), Err(FrameError::OutOfRange));
        assert_eq!(frames.free(0x4000_0000), Err(FrameError::DoubleFree));
    }
}
