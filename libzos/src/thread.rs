//! Threads inside a process: each gets its own stack (with an unmapped guard
//! page below) and its own IPC buffer, whose address lives in the thread pointer register (TPIDR_EL0, FS base) so the
//! IPC helpers find the calling thread's buffer.

use crate::abi::{map_flags, IPC_BUFFER_SIZE};
use crate::sys::{self, Error};
use core::sync::atomic::{AtomicU64, Ordering};

/// Where thread stacks and buffers are carved from (one 2 MiB slot a thread).
const THREAD_AREA: u64 = zos_abi::layout::THREAD_AREA;
const SLOT: u64 = 2 << 20;
const STACK_SIZE: u64 = 256 * 1024;
static NEXT_SLOT: AtomicU64 = AtomicU64::new(0);

/// The calling thread's IPC buffer.
pub fn ipc_buffer() -> u64 {
    crate::arch::thread_pointer()
}

/// Records the calling thread's IPC buffer (done by the runtime at start).
pub fn set_ipc_buffer_register(va: u64) {
    crate::arch::set_thread_pointer(va);
}

struct Start {
    entry: fn(u64),
    arg: u64,
    buffer: u64,
}

extern "C" fn trampoline(start: u64) -> ! {
    // SAFETY: `start` points at the Start record written by `spawn` at the top
    // of this thread's own stack slot, which stays mapped.
    let start = unsafe { core::ptr::read(start as *const Start) };
    set_ipc_buffer_register(start.buffer);
    let _ = sys::set_ipc_buffer(start.buffer);
    (start.entry)(start.arg);
    sys::thread_exit()
}

/// Starts a thread running `entry(arg)` at `priority`; returns its capability.
pub fn spawn(entry: fn(u64), arg: u64, priority: u64) -> Result<u64, Error> {
    spawn_with_stack(entry, arg, priority, STACK_SIZE)
}

/// Largest stack [`spawn_with_stack`] gives (the slot less the guard page
/// and the IPC buffer).
pub const MAX_STACK_SIZE: u64 = SLOT - 4096 - IPC_BUFFER_SIZE;

/// Like [`spawn`] with a stack of `stack_size` bytes (rounded up to pages,
/// at most [`MAX_STACK_SIZE`]), for threads that recurse deeply.
pub fn spawn_with_stack(
    entry: fn(u64),
    arg: u64,
    priority: u64,
    stack_size: u64,
) -> Result<u64, Error> {
    let stack_size = stack_size.div_ceil(4096).clamp(1, MAX_STACK_SIZE / 4096) * 4096;
    let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
    // wasm32 packs the address space below 4 GiB: the area has a fixed
    // number of slots.
    #[cfg(target_arch = "wasm32")]
    if slot >= zos_abi::layout::THREAD_SLOTS {
        return Err(Error(zos_abi::SysError::OutOfMemory as u64));
    }
    let base = THREAD_AREA + slot * SLOT;
    // Layout of the slot: [guard page][stack][IPC buffer].
    let stack_base = base + 4096;
    let buffer = stack_base + stack_size;
    let stack = sys::memory_create(stack_size)?;
    sys::memory_map(
        stack,
        sys::SELF,
        stack_base,
        0,
        stack_size / 4096,
        map_flags::WRITE,
    )?;
    let _ = sys::cap_delete(stack);
    let ipc = sys::memory_create(IPC_BUFFER_SIZE)?;
    sys::memory_map(
        ipc,
        sys::SELF,
        buffer,
        0,
        IPC_BUFFER_SIZE / 4096,
        map_flags::WRITE,
    )?;
    let _ = sys::cap_delete(ipc);
    let record = buffer - 64;
    // SAFETY: the top of the freshly mapped stack holds the start record.
    unsafe { core::ptr::write(record as *mut Start, Start { entry, arg, buffer }) };
    let thread = sys::thread_create(
        sys::SELF,
        trampoline as *const () as u64,
        record & !15,
        record,
        priority,
    )?;
    sys::thread_start(thread)?;
    Ok(thread)
}
