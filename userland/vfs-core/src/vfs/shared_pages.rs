//! Pages every `mmap(MAP_SHARED)` of one file shares (docs/vfs.md, "Shared
//! file mappings").
//!
//! The server makes one block of memory per mapped file, holding the file
//! from its first byte, and gives the same block to every process that maps
//! the file shared, so each sees the others' writes at once. While a file has
//! one, the block is the newest copy of the bytes it covers: a write through
//! a handle is copied into it as well, a read through a handle is answered
//! from it, a truncation clears what falls past the new end, and when the
//! server lets go of it (its last mapper is gone) or a `fsync` comes, its
//! bytes are written to the file system. This module keeps that bookkeeping;
//! the memory itself is the server's ([`SharedPages`]).

use alloc::boxed::Box;
use alloc::vec;

use super::{Node, Vfs};
use crate::errno::{Errno, VfsResult};

/// Memory shared with every mapper of one file (the server's Memory object,
/// mapped in its own address space; a heap block in host tests). Others may
/// write it at any time, so implementations copy, never lend references.
pub trait SharedPages {
    /// How many bytes it holds: the file's bytes `[0, bytes)`.
    fn bytes(&self) -> u64;
    /// Copies bytes at `offset` into `buf` (`offset + buf.len() <= bytes()`).
    fn load(&self, offset: u64, buf: &mut [u8]);
    /// Copies `data` in at `offset` (`offset + data.len() <= bytes()`).
    fn store(&self, offset: u64, data: &[u8]);
}

/// Bytes moved per step between the file system and the pages.
const CHUNK: usize = 16 * 1024;

impl Vfs {
    /// Makes `pages` the shared pages of `node`, filled from the file.
    /// `EEXIST` if it has some already.
    pub fn attach_shared_pages(
        &mut self,
        node: Node,
        pages: Box<dyn SharedPages>,
    ) -> VfsResult<()> {
        if self.shared_pages.contains_key(&node) {
            return Err(Errno::EEXIST);
        }
        let end = self.stat_node(node)?.size.min(pages.bytes());
        let mut chunk = vec![0u8; CHUNK];
        let mut at = 0;
        while at < end {
            let want = ((end - at) as usize).min(CHUNK);
            let read = self
                .fs_mut(node.mount)?
                .read(node.ino, at, &mut chunk[..want])?;
            if read == 0 {
                break;
            }
            pages.store(at, &chunk[..read]);
            at += read as u64;
        }
        self.shared_pages.insert(node, pages);
        Ok(())
    }

    /// The length of `node`'s shared pages, if it has some.
    pub fn shared_pages_len(&self, node: Node) -> Option<u64> {
        self.shared_pages.get(&node).map(|pages| pages.bytes())
    }

    /// Writes `node`'s shared pages (what falls inside the file) to its file
    /// system, keeping them.
    pub fn flush_shared_pages(&mut self, node: Node) -> VfsResult<()> {
        let Some(pages) = self.shared_pages.remove(&node) else {
            return Ok(());
        };
        let flushed = self.write_pages(node, pages.as_ref());
        self.shared_pages.insert(node, pages);
        flushed
    }

    /// Forgets `node`'s shared pages, first writing them to its file system
    /// if `write_back` (some mapper could write them).
    pub fn detach_shared_pages(&mut self, node: Node, write_back: bool) -> VfsResult<()> {
        match self.shared_pages.remove(&node) {
            Some(pages) if write_back => self.write_pages(node, pages.as_ref()),
            _ => Ok(()),
        }
    }

    fn write_pages(&mut self, node: Node, pages: &dyn SharedPages) -> VfsResult<()> {
        let end = self.stat_node(node)?.size.min(pages.bytes());
        let mut chunk = vec![0u8; CHUNK];
        let mut at = 0;
        while at < end {
            let count = ((end - at) as usize).min(CHUNK);
            pages.load(at, &mut chunk[..count]);
            let written = self
                .writable_fs(node.mount)?
                .write(node.ino, at, &chunk[..count])?;
            if written == 0 {
                return Err(Errno::EIO);
            }
            at += written as u64;
        }
        Ok(())
    }

    /// A read of `buf.len()` bytes at `offset` that the file system answered:
    /// what the shared pages hold of it replaces what the file system said.
    pub(super) fn read_through_shared(&self, node: Node, offset: u64, buf: &mut [u8]) {
        if let Some((pages, range)) = self.shared_range(node, offset, buf.len()) {
            pages.load(offset, &mut buf[range]);
        }
    }

    /// A write the file system took: the shared pages get it too.
    pub(super) fn write_through_shared(&self, node: Node, offset: u64, data: &[u8]) {
        if let Some((pages, range)) = self.shared_range(node, offset, data.len()) {
            pages.store(offset, &data[range]);
        }
    }

    /// A truncation to `size`: the shared pages past it read as zeros (a
    /// later growth of the file shows zeros there, as the file does).
    pub(super) fn truncate_shared(&self, node: Node, size: u64) {
        let Some(pages) = self.shared_pages.get(&node) else {
            return;
        };
        let zeros = [0u8; CHUNK];
        let mut at = size;
        while at < pages.bytes() {
            let count = ((pages.bytes() - at) as usize).min(CHUNK);
            pages.store(at, &zeros[..count]);
            at += count as u64;
        }
    }

    /// `node`'s pages and the part of `length` bytes at `offset` they hold.
    fn shared_range(
        &self,
        node: Node,
        offset: u64,
        length: usize,
    ) -> Option<(&dyn SharedPages, core::ops::Range<usize>)> {
        let pages = self.shared_pages.get(&node)?;
        let held = pages.bytes().checked_sub(offset)?;
        let count = (length as u64).min(held) as usize;
        (count > 0).then_some((pages.as_ref(), 0..count))
    }
}
