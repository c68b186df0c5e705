//! Client buffers mapped into the server for bulk transfers.
//!
//! A client attaches a Memory capability to one of its handles (`ShareBuffer`);
//! the server maps it read-write in a window of its own address space, one
//! window per handle, and copies file data between the window and the file
//! system. The client can change the buffer at any time, so the server never
//! forms a Rust reference into it: it copies with raw pointer copies only.

use alloc::vec::Vec;
use libzos::abi::map_flags;
use libzos::sys;
use zos_proto::errno::*;

/// Where the windows start; each is [`WINDOW`] bytes of address space.
const WINDOWS_BASE: u64 = libzos::abi::layout::VFS_WINDOWS;
const WINDOW: u64 = zos_proto::MAX_SHARED_BUFFER as u64;
/// Most buffers mapped at once.
const MAX_WINDOWS: u64 = 4096;

/// One mapped client buffer.
pub struct SharedBuffer {
    memory: u64,
    va: u64,
    size: usize,
}

impl SharedBuffer {
    pub fn size(&self) -> usize {
        self.size
    }

    /// Copies `data` to the start of the buffer (at most its size).
    pub fn store(&self, data: &[u8]) -> usize {
        let count = data.len().min(self.size);
        // SAFETY: the window is mapped writable for `size` bytes while `self`
        // exists; raw copies tolerate the client writing concurrently.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.va as *mut u8, count) };
        count
    }

    /// Copies the first `count` bytes (at most the size) out of the buffer.
    pub fn load(&self, count: usize, into: &mut Vec<u8>) {
        let count = count.min(self.size);
        into.clear();
        into.reserve(count);
        // SAFETY: as in `store`; `into` has room for `count` bytes, which the
        // copy initialises before `set_len` exposes them (no zeroing first).
        unsafe {
            core::ptr::copy_nonoverlapping(self.va as *const u8, into.as_mut_ptr(), count);
            into.set_len(count);
        }
    }
}

/// The windows in use.
pub struct Windows {
    free: Vec<u64>,
    next: u64,
}

impl Windows {
    pub fn new() -> Self {
        Windows {
            free: Vec::new(),
            next: 0,
        }
    }

    /// Maps the Memory capability `memory` (which the server now owns).
    pub fn attach(&mut self, memory: u64) -> Result<SharedBuffer, i32> {
        let size = match sys::memory_info(memory) {
            Ok((size, _, 0)) => size,
            _ => {
                let _ = sys::cap_delete(memory);
                return Err(EINVAL);
            }
        };
        if size == 0 || size > WINDOW {
            let _ = sys::cap_delete(memory);
            return Err(EINVAL);
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.next < MAX_WINDOWS => {
                self.next += 1;
                self.next - 1
            }
            None => {
                let _ = sys::cap_delete(memory);
                return Err(ENFILE);
            }
        };
        let va = WINDOWS_BASE + index * WINDOW;
        if sys::memory_map(memory, sys::SELF, va, 0, size / 4096, map_flags::WRITE).is_err() {
            self.free.push(index);
            let _ = sys::cap_delete(memory);
            return Err(EINVAL);
        }
        Ok(SharedBuffer {
            memory,
            va,
            size: size as usize,
        })
    }

    /// Unmaps a buffer and drops the capability.
    pub fn detach(&mut self, buffer: SharedBuffer) {
        let _ = sys::memory_unmap(sys::SELF, buffer.va);
        let _ = sys::cap_delete(buffer.memory);
        self.free.push((buffer.va - WINDOWS_BASE) / WINDOW);
    }
}
