//! `fork` in userspace over the kernel's copy-on-write copies (docs/posix.md,
//! "fork").
//!
//! musl's `fork` asks for `clone(SIGCHLD, 0)`; the dispatcher sends it here.
//! [`zos_fork_save`] keeps the caller's callee-saved registers and stack
//! pointer in [`zos_fork_regs`] (in the program's data, so the child's copy
//! has them too), then [`zos_fork_parent`]:
//!
//! 1. lists every region libzos knows this process has mapped (program
//!    segments from its program headers, the main stack, the heap's blocks, anonymous `mmap`s, the IPC buffer);
//! 2. asks init for a child (`ProcRequest::Fork`: a new pid, the caller's
//!    credentials, group and session, registered for wait/kill/ps) and gets
//!    its process capability, with the read-only program segments init
//!    already mapped there from its segment cache (shared, not copied);
//! 3. gives the child a fresh IPC buffer, the very objects of its shared
//!    mappings, and a clone of every descriptor's handle (`IoRequest::
//!    Clone`: the same open file description, so offsets are shared) in the
//!    same capability slot, so the copied descriptor table is right as is;
//! 4. takes the snapshot — with nothing allocated and no lock held from the
//!    first copy to the last, so the child's heap and locks are consistent —
//!    as one `MemoryCopy` per region and per private mapping: a new Memory
//!    object sharing this process's frames, each page copied by the kernel
//!    at the first write through either side (W^X kept: each copy is mapped
//!    with its region's permissions);
//! 5. maps the copies at the same addresses in the child and starts a
//!    thread there at [`zos_fork_child`], on the copied stack below the
//!    saved stack pointer, with the saved registers' address.
//!
//! The child sets its IPC buffer, forgets what the parent shared with
//! servers (the VFS session, shared buffers, pipe rings, signal and poll
//! notifications: it gets its own on first use), takes its own pid, asks
//! init again for the signals it catches, and returns 0 from the same
//! `zos_fork_save` call. A failure at any step kills the half-built child,
//! reaps it and frees its memory: `EAGAIN` (process limit) or `ENOMEM`.
//!
//! Only the calling thread exists in the child (POSIX); it must be the
//! main thread (C programs have no others). AArch64 and x86_64 each have
//! their `zos_fork_save`/`zos_fork_resume` below.

use super::SysResult;
use crate::abi::{layout, map_flags, IPC_BUFFER_SIZE};
use crate::posix::{self, Errno};
use crate::sys;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use zos_proto::errno::*;
use zos_proto::proc::{ProcRequest, ProcResponse};

const PAGE: u64 = 4096;
/// Priority of the child's thread (that of every program init starts).
const PRIORITY: u64 = 100;
/// How far below the saved stack pointer the child's start-up code runs
/// (the parent's frames there are dead in the child).
const CHILD_ENTRY_GAP: u64 = 256;

/// The program's headers (`AT_PHDR`, `AT_PHNUM`), set by the C start code.
static PROGRAM_HEADERS: AtomicU64 = AtomicU64::new(0);
static PROGRAM_HEADER_COUNT: AtomicU64 = AtomicU64::new(0);
/// The pid the child takes (written before the copy, read by the child).
static CHILD_PID: AtomicU32 = AtomicU32::new(0);

/// Tells `fork` where the program's ELF program headers are (the C start
/// code knows them from `__ehdr_start`).
pub fn set_program_headers(address: u64, count: u64) {
    PROGRAM_HEADERS.store(address, Ordering::Relaxed);
    PROGRAM_HEADER_COUNT.store(count, Ordering::Relaxed);
}

/// One mapping of this process, as the child gets it.
#[derive(Clone, Copy)]
struct Region {
    va: u64,
    length: u64,
    flags: u64,
    /// Whether its bytes are copied (the IPC buffer starts empty).
    copy: bool,
}

/// Every region libzos knows it (or the loader) mapped in this process.
fn regions() -> Result<Vec<Region>, Errno> {
    let mut list = Vec::new();
    let headers = PROGRAM_HEADERS.load(Ordering::Relaxed);
    let count = PROGRAM_HEADER_COUNT.load(Ordering::Relaxed);
    if headers == 0 {
        return Err(Errno(ENOSYS));
    }
    for index in 0..count {
        let at = headers + index * 56;
        // SAFETY: the program's own headers, in its first loaded segment
        // (lld's layout; the C start code found them through __ehdr_start).
        let (kind, flags, vaddr, memsz) = unsafe {
            (
                (at as *const u32).read(),
                ((at + 4) as *const u32).read(),
                ((at + 16) as *const u64).read(),
                ((at + 40) as *const u64).read(),
            )
        };
        const PT_LOAD: u32 = 1;
        if kind != PT_LOAD || memsz == 0 {
            continue;
        }
        let start = vaddr & !(PAGE - 1);
        let end = (vaddr + memsz).next_multiple_of(PAGE);
        let mut map = 0;
        if flags & 2 != 0 {
            map |= map_flags::WRITE;
        } else if flags & 1 != 0 {
            map |= map_flags::EXECUTE;
        }
        list.push(Region {
            va: start,
            length: end - start,
            flags: map,
            copy: true,
        });
    }
    let stack_size = crate::loader::STACK_SIZE;
    list.push(Region {
        va: crate::rt::main_stack_end() - stack_size,
        length: stack_size,
        flags: map_flags::WRITE,
        copy: true,
    });
    list.push(Region {
        va: layout::IPC_BUFFER,
        length: IPC_BUFFER_SIZE,
        flags: map_flags::WRITE,
        copy: false,
    });
    // A heap whose every range could not be recorded cannot be copied.
    let heap = crate::rt::heap_blocks().ok_or(Errno(ENOMEM))?;
    for (va, length) in heap {
        list.push(Region {
            va,
            length,
            flags: map_flags::WRITE,
            copy: true,
        });
    }
    Ok(list)
}

/// Regions in address order with each run of adjacent ones to copy with the
/// same flags made one (a program's `.data` and `.bss` segments): one copy
/// and one mapping each, not two.
fn merge_adjacent(regions: impl Iterator<Item = Region>) -> Vec<Region> {
    let mut sorted: Vec<Region> = regions.collect();
    sorted.sort_unstable_by_key(|r| r.va);
    let mut merged: Vec<Region> = Vec::with_capacity(sorted.len());
    for region in sorted {
        match merged.last_mut() {
            Some(last)
                if last.copy
                    && region.copy
                    && last.flags == region.flags
                    && last.va + last.length == region.va =>
            {
                last.length += region.length;
            }
            _ => merged.push(region),
        }
    }
    merged
}

/// `fork()`: the child's pid here, 0 in the child.
pub fn fork() -> SysResult {
    if super::vfork::active() {
        // A vfork child runs on its parent's stack: nothing to copy.
        return Err(Errno(ENOSYS));
    }
    #[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
    {
        // SAFETY: `zos_fork_save` returns like a C function, once here
        // (the pid or -errno) and once in the child (0), with every
        // callee-saved register as it was.
        let result = unsafe { zos_fork_save() };
        if result < 0 {
            Err(Errno(-result as i32))
        } else {
            Ok(result)
        }
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    Err(Errno(ENOSYS))
}

/// A child being built: killed, reaped and its memory freed if dropped
/// before [`HalfBuilt::finish`].
struct HalfBuilt {
    process: u64,
    pid: u32,
    memories: Vec<u64>,
    done: bool,
}

impl HalfBuilt {
    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for HalfBuilt {
    fn drop(&mut self) {
        if !self.done {
            // Through init, so it reports a kill, not a fault; directly if
            // init refuses.
            let killed = posix::proc_call(
                &ProcRequest::Kill {
                    pid: self.pid as i32,
                    signal: zos_proto::proc::signal::SIGKILL,
                },
                &[],
            );
            let refused = match &killed {
                Ok(reply) => reply.decode::<ProcResponse>() != Some(ProcResponse::Ok),
                Err(_) => true,
            };
            if refused {
                let _ = sys::process_kill(self.process);
            }
        }
        for memory in &self.memories {
            let _ = sys::cap_delete(*memory);
        }
        let _ = sys::cap_delete(self.process);
        if !self.done {
            // The child is ours until reaped: take it off init's table.
            let _ = posix::proc_call(
                &ProcRequest::Wait {
                    pid: self.pid as i32,
                    nohang: false,
                    report: 0,
                },
                &[],
            );
        }
    }
}

/// Builds and starts the child (steps 1–5 of the module comment). Called by
/// [`zos_fork_save`] on the dispatcher's thread pointer; answers the pid or
/// -errno.
#[no_mangle]
extern "C" fn zos_fork_parent() -> i64 {
    match build_child() {
        Ok(pid) => i64::from(pid),
        Err(Errno(errno)) => -i64::from(errno),
    }
}

fn build_child() -> Result<u32, Errno> {
    let saved_sp = saved_stack_pointer();
    let stack_end = crate::rt::main_stack_end();
    let stack_bottom = stack_end - crate::loader::STACK_SIZE;
    if !(stack_bottom + PAGE..=stack_end).contains(&saved_sp) {
        // Not the main thread.
        return Err(Errno(ENOSYS));
    }
    // What libzos reads from init's start-up page, read now: the child
    // has no start-up page (a copy and a mapping fewer), only what libzos
    // keeps of it (arguments, descriptors, grants, the random bytes) in
    // its copy of this process's memory.
    let _ = (crate::rt::start_info(), crate::rt::start_random());
    let regions = regions()?;
    let handles = posix::handle_slots();
    let reply = posix::proc_call(&ProcRequest::Fork, &[])?;
    let (pid, process, shared) = match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Forked { pid, shared }), Some(&process)) => (pid, process, shared),
        (Some(ProcResponse::Err(e)), _) => return Err(Errno(e)),
        _ => return Err(Errno(EIO)),
    };
    // Read-only program segments init mapped from its cache: shared.
    let regions = merge_adjacent(
        regions
            .into_iter()
            .filter(|r| r.flags & map_flags::WRITE != 0 || !shared.contains(&r.va)),
    );
    let mut child = HalfBuilt {
        process,
        pid,
        memories: Vec::with_capacity(regions.len()),
        done: false,
    };
    // The IPC buffer starts empty; a shared mapping is the same object.
    for region in regions.iter().filter(|r| !r.copy) {
        let memory = sys::memory_create(region.length).map_err(|_| Errno(ENOMEM))?;
        child.memories.push(memory);
        let pages = region.length / PAGE;
        sys::memory_map(memory, process, region.va, 0, pages, region.flags)
            .map_err(|_| Errno(ENOMEM))?;
    }
    let mappings = super::memory::child_mappings(process)?;
    for mapping in mappings.iter().filter(|m| m.shared) {
        let memory = sys::cap_copy(mapping.source, sys::SELF, sys::NONE);
        let memory = memory.map_err(|_| Errno(ENOMEM))?;
        child.memories.push(memory);
        mapping.give(process, memory)?;
    }
    for slot in handles {
        // A handle of its own on the same open file; a terminal's server
        // keeps nothing per handle, so the child shares the capability (a
        // clone costs a round trip and the server's bookkeeping), as it
        // does a handle of a server that cannot clone.
        let clone = match crate::fs::is_terminal(slot) {
            true => Err(Errno(EBADF)),
            false => posix::clone_handle_slot(slot),
        };
        let cap = match clone {
            Ok(clone) => clone,
            Err(_) => {
                // Both processes hold this capability from now on: the
                // parent's close must never park it for another file.
                crate::fs::shared_out(slot);
                sys::cap_copy(slot, sys::SELF, sys::NONE).map_err(|_| Errno(ENOMEM))?
            }
        };
        let moved = sys::raw(sys::Sys::CapTransfer, [cap, process, slot, 0, 0, 0]).check();
        if moved.is_err() {
            let _ = sys::cap_delete(cap);
            return Err(Errno(ENOMEM));
        }
    }
    CHILD_PID.store(pid, Ordering::SeqCst);
    let copied: Vec<&Region> = regions.iter().filter(|r| r.copy).collect();
    let private: Vec<&super::memory::ChildMapping> =
        mappings.iter().filter(|m| !m.shared).collect();
    let mut copies = Vec::with_capacity(copied.len() + private.len());
    // The snapshot: from the first copy to the last, nothing is allocated
    // and no lock is held (the copies must show the heap and every lock as
    // the child will find them), by this thread or by the signal and timer
    // threads (`HELPER_WORK`, held here, freed by the child's copy). Each
    // copy shares this process's frames until one side writes a page
    // (`MemoryCopy`, docs/posix.md).
    let helpers_wait = posix::HELPER_WORK.lock();
    for region in &copied {
        copies.push(sys::memory_copy(sys::SELF, region.va, region.length));
    }
    for mapping in &private {
        copies.push(sys::memory_copy(mapping.source, 0, 0));
    }
    drop(helpers_wait);
    // Ours to delete once the child holds them, whatever fails next.
    child
        .memories
        .extend(copies.iter().filter_map(|copy| copy.ok()));
    let mut copies = copies.into_iter();
    for region in copied {
        let memory = copies.next().and_then(|c| c.ok()).ok_or(Errno(ENOMEM))?;
        let pages = region.length / PAGE;
        sys::memory_map(memory, process, region.va, 0, pages, region.flags)
            .map_err(|_| Errno(ENOMEM))?;
    }
    for mapping in private {
        let memory = copies.next().and_then(|c| c.ok()).ok_or(Errno(ENOMEM))?;
        mapping.give(process, memory)?;
    }
    let entry_stack = (saved_sp - CHILD_ENTRY_GAP) & !15;
    let thread = sys::thread_create(
        process,
        zos_fork_child as *const () as u64,
        entry_stack,
        registers_address(),
        PRIORITY,
    )
    .map_err(|_| Errno(ENOMEM))?;
    // Its own main thread, for interrupting its calls for signals (EINTR).
    let own = sys::cap_copy(thread, process, zos_proto::start::slots::MAIN_THREAD);
    let started = own.and_then(|_| sys::thread_start(thread));
    let _ = sys::cap_delete(thread);
    started.map_err(|_| Errno(ENOMEM))?;
    child.finish();
    // The child first (Linux's old `sched_child_runs_first`): most children
    // exit or exec at once and so give back the pages they share with this
    // process before it writes them, which then needs no copy.
    sys::yield_now();
    Ok(pid)
}

/// The child's first code: its own IPC buffer, its own state, then back
/// into the `fork` call with 0.
extern "C" fn zos_fork_child(registers: u64) -> ! {
    let _ = sys::set_ipc_buffer(layout::IPC_BUFFER);
    crate::thread::set_ipc_buffer_register(layout::IPC_BUFFER);
    let pid = CHILD_PID.load(Ordering::SeqCst);
    // SAFETY: the copy shows `HELPER_WORK` held by the parent's `fork`,
    // whose frame is dead here, and no other thread exists yet.
    unsafe { posix::HELPER_WORK.force_unlock() };
    crate::fs::fork_child_reset();
    crate::net::fork_child_reset();
    crate::pipe::fork_child_reset();
    crate::poll::fork_child_reset();
    super::signal::fork_child_reset();
    posix::fork_child_reset(pid);
    #[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
    // SAFETY: `registers` is this copy's `zos_fork_regs`, saved by the
    // `zos_fork_save` call whose frame (and every frame above it) is on the
    // copied stack; returning there with 0 is that call's second return.
    unsafe {
        zos_fork_resume(registers)
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    {
        let _ = registers;
        sys::process_exit(127)
    }
}

/// Where `zos_fork_save` keeps the stack pointer in [`zos_fork_regs`]
/// (AArch64: after x19–x30; x86_64: after rbx, rbp, r12–r15 and the
/// return address, as the caller's stack pointer once returned).
#[cfg(target_arch = "aarch64")]
const SAVED_SP_OFFSET: u64 = 96;
#[cfg(not(target_arch = "aarch64"))]
const SAVED_SP_OFFSET: u64 = 56;

fn saved_stack_pointer() -> u64 {
    // SAFETY: written by `zos_fork_save` just before this call, on this
    // thread; read as plain words.
    unsafe { ((registers_address() + SAVED_SP_OFFSET) as *const u64).read() }
}

fn registers_address() -> u64 {
    #[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
    {
        core::ptr::addr_of!(zos_fork_regs) as u64
    }
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    0
}

#[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
extern "C" {
    /// Keeps the callee-saved registers and stack pointer in
    /// [`zos_fork_regs`], then calls [`zos_fork_parent`] and returns its
    /// answer; returns 0 a second time in the child.
    fn zos_fork_save() -> i64;
    /// Loads the registers at `registers` and returns 0 from the
    /// `zos_fork_save` call that kept them.
    fn zos_fork_resume(registers: u64) -> !;
    /// The registers of the latest `fork` call: x19–x30, sp, d8–d15
    /// (AArch64); rbx, rbp, r12–r15, return address, sp (x86_64).
    static zos_fork_regs: [u64; 22];
}

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".global zos_fork_save",
    ".type zos_fork_save,%function",
    "zos_fork_save:",
    "adrp x16, zos_fork_regs",
    "add x16, x16, :lo12:zos_fork_regs",
    store_callee_saved!("x16"),
    "bl zos_fork_parent",
    "adrp x16, zos_fork_regs",
    "add x16, x16, :lo12:zos_fork_regs",
    "ldr x30, [x16, #88]",
    "ret",
    ".size zos_fork_save, .-zos_fork_save",
    ".global zos_fork_resume",
    ".type zos_fork_resume,%function",
    "zos_fork_resume:",
    load_callee_saved!("x0"),
    "mov x0, #0",
    "ret",
    ".size zos_fork_resume, .-zos_fork_resume",
    ".bss",
    ".balign 16",
    ".global zos_fork_regs",
    "zos_fork_regs:",
    ".space 176",
    ".text",
);

// x86_64: rbx, rbp, r12–r15, the return address and the caller's stack
// pointer once returned; the child jumps to that return address with rax 0.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".global zos_fork_save",
    ".type zos_fork_save,@function",
    "zos_fork_save:",
    "lea r11, [rip + zos_fork_regs]",
    "mov [r11], rbx",
    "mov [r11 + 8], rbp",
    "mov [r11 + 16], r12",
    "mov [r11 + 24], r13",
    "mov [r11 + 32], r14",
    "mov [r11 + 40], r15",
    "mov rax, [rsp]",
    "mov [r11 + 48], rax",
    "lea rax, [rsp + 8]",
    "mov [r11 + 56], rax",
    "sub rsp, 8",
    "call zos_fork_parent",
    "add rsp, 8",
    "ret",
    ".size zos_fork_save, .-zos_fork_save",
    ".global zos_fork_resume",
    ".type zos_fork_resume,@function",
    "zos_fork_resume:",
    "mov rbx, [rdi]",
    "mov rbp, [rdi + 8]",
    "mov r12, [rdi + 16]",
    "mov r13, [rdi + 24]",
    "mov r14, [rdi + 32]",
    "mov r15, [rdi + 40]",
    "mov rsp, [rdi + 56]",
    "xor eax, eax",
    "jmp qword ptr [rdi + 48]",
    ".size zos_fork_resume, .-zos_fork_resume",
    ".bss",
    ".balign 16",
    ".global zos_fork_regs",
    "zos_fork_regs:",
    ".space 176",
    ".text",
);
