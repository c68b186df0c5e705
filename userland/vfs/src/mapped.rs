//! Shared file mappings: the Memory objects the VFS makes for
//! `mmap(MAP_SHARED)` and the handles that keep each alive (docs/vfs.md,
//! "Shared file mappings"). What the pages hold and how reads, writes and
//! truncations keep them right is vfs-core's (`Vfs::attach_shared_pages`).
//!
//! One object per file, made at the first `MapShared`, as large as the
//! request or the file (whichever is more), mapped here at an address used
//! once, and handed out with write rights only to handles that can write.
//! It lives while a handle that asked for it (or a clone of one: a forked
//! child's) is open; when the last closes, its bytes go to the file system
//! and the object goes.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use libzos::abi::{layout, map_flags, rights};
use libzos::sys;
use zos_proto::errno::*;
use zos_vfs_core::{Node, SharedPages, Vfs};

const PAGE: u64 = 4096;
/// Most bytes of shared pages at once (the VFS's own quota pays for them):
/// past it `MapShared` answers `ENOMEM` and the client maps a copy.
const MAX_TOTAL: u64 = 64 << 20;

/// One file's shared pages as mapped in the VFS. Clients write them at any
/// time, so only raw copies touch them.
struct MappedFile {
    memory: u64,
    va: u64,
    bytes: u64,
}

impl SharedPages for MappedFile {
    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn load(&self, offset: u64, buf: &mut [u8]) {
        debug_assert!(offset + buf.len() as u64 <= self.bytes);
        // SAFETY: `[va, va + bytes)` is mapped readable while `self` lives,
        // and vfs-core keeps `offset + len` inside it; a raw copy tolerates
        // a client writing the same bytes meanwhile.
        unsafe {
            core::ptr::copy_nonoverlapping(
                (self.va + offset) as *const u8,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
    }

    fn store(&self, offset: u64, data: &[u8]) {
        debug_assert!(offset + data.len() as u64 <= self.bytes);
        // SAFETY: as in `load`, mapped writable.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), (self.va + offset) as *mut u8, data.len())
        };
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        let _ = sys::memory_unmap(sys::SELF, self.va);
        let _ = sys::cap_delete(self.memory);
    }
}

/// The shared pages the VFS made and who holds them.
pub struct MappedFiles {
    /// Next free address (never reused).
    next: u64,
    /// Bytes of every object alive.
    total: u64,
    /// Each object's capability (owned by its `MappedFile`), size, and
    /// whether a writable capability to it went out (only then are its
    /// bytes written to the file system: a file of the boot archive mapped
    /// read-only stays in the archive).
    objects: BTreeMap<Node, (u64, u64, bool)>,
    /// Handle id → the file whose pages it holds.
    holders: BTreeMap<u64, Node>,
}

impl MappedFiles {
    pub fn new() -> Self {
        MappedFiles {
            next: layout::VFS_MAPPED_FILES,
            total: 0,
            objects: BTreeMap::new(),
            holders: BTreeMap::new(),
        }
    }

    /// `MapShared` on handle `id` of `node`: a capability to its shared
    /// pages (at least `pages` of them; made now if it has none) and their
    /// size in pages.
    pub fn map(
        &mut self,
        vfs: &mut Vfs,
        id: u64,
        node: Node,
        pages: u64,
        writable: bool,
    ) -> Result<(u64, u64), i32> {
        let wanted = pages.checked_mul(PAGE).ok_or(ENOMEM)?;
        let (memory, bytes) = match self.objects.get(&node) {
            // Mappers of a smaller object would not see a larger one's
            // tail: the client maps a copy instead.
            Some(&(_, bytes, _)) if bytes < wanted => return Err(ENOMEM),
            Some(&(memory, bytes, _)) => (memory, bytes),
            None => self.make(vfs, node, wanted)?,
        };
        // Never EXECUTE: pages another process may write are not code
        // (W^X across processes). GRANT: a forked child gets a copy.
        let rights = rights::MAP | rights::READ | rights::GRANT;
        let rights = rights | if writable { rights::WRITE } else { 0 };
        let cap = sys::cap_mint(memory, sys::NONE, rights, 0).map_err(|_| ENOMEM)?;
        self.holders.insert(id, node);
        if let Some(object) = self.objects.get_mut(&node) {
            object.2 |= writable;
        }
        Ok((cap, bytes / PAGE))
    }

    fn make(&mut self, vfs: &mut Vfs, node: Node, wanted: u64) -> Result<(u64, u64), i32> {
        let size = vfs.stat_node(node).map_err(|e| e.as_i32())?.size;
        let bytes = wanted.max(size.div_ceil(PAGE) * PAGE).max(PAGE);
        if self.total.saturating_add(bytes) > MAX_TOTAL {
            return Err(ENOMEM);
        }
        let memory = sys::memory_create(bytes).map_err(|_| ENOMEM)?;
        let va = self.next;
        if sys::memory_map(memory, sys::SELF, va, 0, bytes / PAGE, map_flags::WRITE).is_err() {
            let _ = sys::cap_delete(memory);
            return Err(ENOMEM);
        }
        self.next += bytes + PAGE;
        let pages = Box::new(MappedFile { memory, va, bytes });
        vfs.attach_shared_pages(node, pages)
            .map_err(|e| e.as_i32())?;
        self.total += bytes;
        self.objects.insert(node, (memory, bytes, false));
        Ok((memory, bytes))
    }

    /// Whether `node`'s shared pages may hold bytes the file system does
    /// not have yet (a writable capability to them went out): `fsync`
    /// writes them first.
    pub fn may_be_written(&self, node: Node) -> bool {
        self.objects.get(&node).is_some_and(|object| object.2)
    }

    /// Handle `new` is a clone of handle `id` (a forked child's): it holds
    /// what `id` holds.
    pub fn cloned(&mut self, id: u64, new: u64) {
        if let Some(&node) = self.holders.get(&id) {
            self.holders.insert(new, node);
        }
    }

    /// Handle `id` is closing (before its open file is): the last holder of
    /// a file's pages takes them down, their bytes written to the file.
    pub fn closed(&mut self, vfs: &mut Vfs, id: u64) {
        let Some(node) = self.holders.remove(&id) else {
            return;
        };
        if self.holders.values().any(|held| *held == node) {
            return;
        }
        let Some((_, bytes, written)) = self.objects.remove(&node) else {
            return;
        };
        self.total -= bytes;
        if let Err(e) = vfs.detach_shared_pages(node, written) {
            libzos::dprintln!(
                "vfs: error: the shared pages of a mapped file were not written back ({e:?})"
            );
        }
    }
}
