//! Builds a child process from a static ELF: validated with the same checks the
//! kernel applies to init, segments copied through a scratch mapping, a stack
//! with a guard page, an IPC buffer, and a thread at the entry point.
//!
//! On wasm32 (the browser port) the program is a wasm module: its bytes are
//! mapped read-only at `layout::MODULE_WINDOW` in the child (shared through the
//! cache like text), and the kernel compiles and instantiates it when the
//! child's first thread starts; entry 0 means the module's `_start`.

use crate::abi::{layout, map_flags, IPC_BUFFER_SIZE};
use crate::sys::{self, Error};
use zos_boot::elf;

/// Scratch address where the loader maps memory it fills for a child.
const SCRATCH: u64 = zos_abi::layout::LOADER_SCRATCH;
const PAGE: u64 = 4096;
/// Stack of every started program.
pub const STACK_SIZE: u64 = 128 * 1024;

/// Why a program could not be started.
#[derive(Debug)]
pub enum SpawnError {
    BadElf(elf::ElfError),
    Sys(&'static str, Error),
}

impl From<elf::ElfError> for SpawnError {
    fn from(e: elf::ElfError) -> Self {
        SpawnError::BadElf(e)
    }
}

/// A started child.
pub struct Child {
    pub process: u64,
    pub thread: u64,
    pub pid: u64,
    /// With [`SpawnOptions::start_pages`]: the Memory object holding the
    /// child's stack and IPC buffer, and the index of its first page after
    /// them, left for the caller to fill and map (then to delete).
    pub start_memory: Option<(u64, u64)>,
}

fn step<T>(what: &'static str, r: Result<T, Error>) -> Result<T, SpawnError> {
    r.map_err(|e| SpawnError::Sys(what, e))
}

/// Options for [`spawn`].
pub struct SpawnOptions {
    pub quota: u64,
    pub exit_notification: u64,
    pub exit_bits: u64,
    pub fault_endpoint: u64,
    pub fault_badge: u64,
    pub priority: u64,
    pub arg: u64,
    /// The main thread's first stack pointer (16-byte aligned; ASLR), or 0
    /// for `layout::STACK_TOP`. The stack is mapped below the page holding it.
    pub stack_top: u64,
    /// Pages to add after the stack and IPC buffer, in the same Memory
    /// object, for the caller's own use (init's start-up page): one object
    /// made, zeroed and freed per spawn instead of one each.
    pub start_pages: u64,
}

/// Read-only segments already loaded, shared by every process started from
/// the same image: text and read-only data are mapped, not copied again.
/// Keyed by the image's address (stable for images in the initramfs) and the
/// segment's address; holds the Memory capability of each. Also the
/// templates of each image's writable pages, keyed by the first page's
/// address, which every spawn maps a copy-on-write copy of.
/// And each image's validated ELF headers, keyed by its address and length:
/// the image does not change, so it is checked once, not at every spawn.
#[derive(Default)]
pub struct SegmentCache {
    segments: alloc::collections::BTreeMap<(usize, u64), u64>,
    templates: alloc::collections::BTreeMap<(usize, u64), u64>,
    programs: alloc::collections::BTreeMap<(usize, usize), alloc::rc::Rc<elf::ElfImage>>,
}

impl SegmentCache {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Maps into `process` the read-only segments of `image` that `cache`
/// holds (loaded for an earlier spawn), as that spawn mapped them: for a
/// fork child of a process running `image`. Returns the start address of
/// each segment mapped; segments not in the cache are left to the caller.
pub fn map_cached_segments(
    image: &[u8],
    process: u64,
    cache: &SegmentCache,
) -> alloc::vec::Vec<u64> {
    let mut mapped = alloc::vec::Vec::new();
    let Ok(program) = elf::validate(image, crate::arch::ELF_MACHINE) else {
        return mapped;
    };
    for segment in program.segments.iter().filter(|s| !s.writable) {
        let Some(&memory) = cache
            .segments
            .get(&(image.as_ptr() as usize, segment.vaddr))
        else {
            continue;
        };
        let (start, end) = segment.page_range();
        let flags = if segment.executable {
            map_flags::EXECUTE
        } else {
            0
        };
        if sys::memory_map(memory, process, start, 0, (end - start) / PAGE, flags).is_ok() {
            mapped.push(start);
        }
    }
    mapped
}

/// Creates a process running `image` (not started until `start`).
pub fn spawn(image: &[u8], options: &SpawnOptions) -> Result<Child, SpawnError> {
    spawn_cached(image, options, None)
}

/// Like [`spawn`], sharing read-only segments through `cache`.
pub fn spawn_cached(
    image: &[u8],
    options: &SpawnOptions,
    mut cache: Option<&mut SegmentCache>,
) -> Result<Child, SpawnError> {
    let key = (image.as_ptr() as usize, image.len());
    let program = match cache.as_mut().and_then(|c| c.programs.get(&key)) {
        Some(program) => program.clone(),
        None => {
            let program = alloc::rc::Rc::new(elf::validate(image, crate::arch::ELF_MACHINE)?);
            if let Some(cache) = cache.as_mut() {
                cache.programs.insert(key, program.clone());
            }
            program
        }
    };
    let (process, pid) = step(
        "process_create",
        sys::process_create(
            options.quota,
            options.exit_notification,
            options.exit_bits,
            options.fault_endpoint,
            options.fault_badge,
        ),
    )?;
    let result = build(process, image, &program, options, cache);
    match result {
        Ok((thread, kept)) => Ok(Child {
            process,
            thread,
            pid,
            start_memory: kept.map(|memory| (memory, (STACK_SIZE + IPC_BUFFER_SIZE) / PAGE)),
        }),
        Err(e) => {
            let _ = sys::process_kill(process);
            let _ = sys::cap_delete(process);
            Err(e)
        }
    }
}

fn build(
    process: u64,
    image: &[u8],
    program: &elf::ElfImage,
    options: &SpawnOptions,
    mut cache: Option<&mut SegmentCache>,
) -> Result<(u64, Option<u64>), SpawnError> {
    // Copy-on-write copies need page tables: not on wasm32.
    let templates = cache.is_some() && cfg!(not(target_arch = "wasm32"));
    if let Some(cache) = cache.as_mut().filter(|_| templates) {
        for run in writable_runs(&program.segments) {
            map_writable_run(process, image, &run, cache)?;
        }
    }
    for segment in &program.segments {
        if segment.writable && templates {
            continue; // a run above
        }
        let (start, end) = segment.page_range();
        let pages = (end - start) / PAGE;
        let mut flags = 0;
        if segment.writable {
            flags |= map_flags::WRITE;
        }
        if segment.executable {
            flags |= map_flags::EXECUTE;
        }
        let key = (image.as_ptr() as usize, segment.vaddr);
        let shared = !segment.writable && cache.is_some();
        if shared {
            if let Some(&memory) = cache.as_ref().and_then(|c| c.segments.get(&key)) {
                step(
                    "map shared segment",
                    sys::memory_map(memory, process, start, 0, pages, flags),
                )?;
                continue;
            }
        }
        let memory = filled_memory(image, start, end, core::slice::from_ref(segment))?;
        step(
            "map segment",
            sys::memory_map(memory, process, start, 0, pages, flags),
        )?;
        match cache.as_mut() {
            Some(cache) if shared => {
                cache.segments.insert(key, memory);
            }
            _ => step("cap_delete", sys::cap_delete(memory))?,
        }
    }
    #[cfg(target_arch = "wasm32")]
    map_module(process, image, cache)?;
    let stack_top = match options.stack_top {
        0 => layout::STACK_TOP,
        top => top & !15,
    };
    let stack_end = stack_top.next_multiple_of(PAGE);
    if !(STACK_SIZE + PAGE..=layout::STACK_TOP).contains(&stack_end) {
        return Err(SpawnError::Sys(
            "stack",
            sys::Error(sys::SysError::InvalidArgument as u64),
        ));
    }
    let memory = map_stack_and_ipc(process, stack_end, options.start_pages)?;
    let thread = sys::thread_create(
        process,
        program.entry,
        stack_top,
        options.arg,
        options.priority,
    );
    // Kept only for the caller's pages after the stack and IPC buffer.
    let kept = (thread.is_ok() && options.start_pages > 0).then_some(memory);
    if kept.is_none() {
        step("cap_delete", sys::cap_delete(memory))?;
    }
    Ok((step("thread_create", thread)?, kept))
}

/// Maps the main thread's stack (below `stack_end`) and the IPC buffer of
/// `process` from one new Memory object, with `extra` pages after them;
/// returns the object's capability.
fn map_stack_and_ipc(process: u64, stack_end: u64, extra: u64) -> Result<u64, SpawnError> {
    let size = STACK_SIZE + IPC_BUFFER_SIZE + extra * PAGE;
    let memory = step("stack", sys::memory_create(size))?;
    let mapped = sys::memory_map(
        memory,
        process,
        stack_end - STACK_SIZE,
        0,
        STACK_SIZE / PAGE,
        map_flags::WRITE,
    )
    .map_err(|e| SpawnError::Sys("map stack", e))
    .and_then(|()| {
        step(
            "map ipc",
            sys::memory_map(
                memory,
                process,
                layout::IPC_BUFFER,
                STACK_SIZE / PAGE,
                IPC_BUFFER_SIZE / PAGE,
                map_flags::WRITE,
            ),
        )
    });
    if let Err(e) = mapped {
        let _ = sys::cap_delete(memory);
        return Err(e);
    }
    Ok(memory)
}

/// Writable segments whose pages touch or overlap, as one range of pages
/// (a program's `.data` and `.bss` are usually one): one object, one copy
/// and one mapping per spawn instead of one of each per segment.
struct WritableRun {
    start: u64,
    end: u64,
    segments: alloc::vec::Vec<elf::Segment>,
}

fn writable_runs(segments: &[elf::Segment]) -> alloc::vec::Vec<WritableRun> {
    let mut writable: alloc::vec::Vec<elf::Segment> =
        segments.iter().filter(|s| s.writable).copied().collect();
    writable.sort_unstable_by_key(|s| s.vaddr);
    let mut runs: alloc::vec::Vec<WritableRun> = alloc::vec::Vec::new();
    for segment in writable {
        let (start, end) = segment.page_range();
        match runs.last_mut() {
            Some(run) if start <= run.end => {
                run.end = run.end.max(end);
                run.segments.push(segment);
            }
            _ => runs.push(WritableRun {
                start,
                end,
                segments: alloc::vec![segment],
            }),
        }
    }
    runs
}

/// A new Memory object for the pages `[start, end)`, holding the file bytes
/// of `segments` (which lie inside them) and zeros elsewhere, filled
/// through the scratch mapping.
fn filled_memory(
    image: &[u8],
    start: u64,
    end: u64,
    segments: &[elf::Segment],
) -> Result<u64, SpawnError> {
    let pages = (end - start) / PAGE;
    let memory = step("memory_create", sys::memory_create(end - start))?;
    step(
        "map scratch",
        sys::memory_map(memory, sys::SELF, SCRATCH, 0, pages, map_flags::WRITE),
    )?;
    for segment in segments {
        let bytes = segment.file_bytes(image).unwrap_or(&[]);
        let offset = segment.vaddr - start;
        // SAFETY: SCRATCH..+pages*4096 was just mapped writable for this
        // process, and each segment lies inside the pages, so
        // offset + bytes.len() <= pages*4096 by the ELF checks.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (SCRATCH + offset) as *mut u8,
                bytes.len(),
            );
        }
    }
    step("unmap scratch", sys::memory_unmap(sys::SELF, SCRATCH))?;
    Ok(memory)
}

/// Runs of at most this many pages are made afresh for each spawn: a
/// program writes most of a small run at once, and a copy-on-write fault
/// per page costs more than filling the page when the run is made.
/// Measured on AArch64 (2026-12-03): a fresh run costs about what the
/// `MemoryCopy` of a template does in syscalls (`MemoryCreate`, the scratch
/// map and unmap vs ~3,400), plus ~200 instructions a page (zeroing,
/// frames, mapping); each page the program then writes costs the template
/// a fault (~2,100). A Rust program writes at least its `.data` page and
/// one `.bss` page as it starts, so fresh wins up to ~20 pages; 8 leaves a
/// margin for runs mostly unwritten (was 4: ktest's 6-page run took two
/// faults and a `MemoryCopy` every spawn).
const EAGER_RUN_PAGES: u64 = 8;

/// Maps `run`'s pages, as the image initialises them, writable into
/// `process`. A small run is made and filled for this spawn; a larger one
/// (a C program's `.data` and `.bss`) is a `MemoryCopy` of a template the
/// first spawn of the image filled (kept in `cache`, never mapped into a
/// program), so a page the program never writes costs no frame, no
/// zeroing and no copy.
fn map_writable_run(
    process: u64,
    image: &[u8],
    run: &WritableRun,
    cache: &mut SegmentCache,
) -> Result<(), SpawnError> {
    let pages = (run.end - run.start) / PAGE;
    let key = (image.as_ptr() as usize, run.start);
    let eager = pages <= EAGER_RUN_PAGES;
    let memory = match cache.templates.get(&key) {
        Some(&template) if !eager => template,
        _ => {
            let memory = filled_memory(image, run.start, run.end, &run.segments)?;
            if eager {
                let mapped =
                    sys::memory_map(memory, process, run.start, 0, pages, map_flags::WRITE);
                let _ = sys::cap_delete(memory);
                return step("map writable segments", mapped);
            }
            cache.templates.insert(key, memory);
            memory
        }
    };
    let copy = step("memory_copy", sys::memory_copy(memory, 0, 0))?;
    let mapped = sys::memory_map(copy, process, run.start, 0, pages, map_flags::WRITE);
    let _ = sys::cap_delete(copy);
    step("map writable segments", mapped)
}

/// Maps the wasm module `image` at `MODULE_WINDOW` in `process`, read-only,
/// filled through the scratch mapping (once per image with a cache).
#[cfg(target_arch = "wasm32")]
fn map_module(
    process: u64,
    image: &[u8],
    cache: Option<&mut SegmentCache>,
) -> Result<(), SpawnError> {
    let pages = (image.len() as u64).div_ceil(PAGE).max(1);
    let key = (image.as_ptr() as usize, layout::MODULE_WINDOW);
    if let Some(&memory) = cache.as_ref().and_then(|c| c.segments.get(&key)) {
        return step(
            "map module",
            sys::memory_map(memory, process, layout::MODULE_WINDOW, 0, pages, 0),
        );
    }
    let memory = step("memory_create", sys::memory_create(pages * PAGE))?;
    step(
        "map scratch",
        sys::memory_map(memory, sys::SELF, SCRATCH, 0, pages, map_flags::WRITE),
    )?;
    // SAFETY: SCRATCH..+pages*4096 was just mapped writable for this process,
    // and the image fits in those pages.
    unsafe { core::ptr::copy_nonoverlapping(image.as_ptr(), SCRATCH as *mut u8, image.len()) };
    step("unmap scratch", sys::memory_unmap(sys::SELF, SCRATCH))?;
    step(
        "map module",
        sys::memory_map(memory, process, layout::MODULE_WINDOW, 0, pages, 0),
    )?;
    match cache {
        Some(cache) => {
            cache.segments.insert(key, memory);
        }
        None => step("cap_delete", sys::cap_delete(memory))?,
    }
    Ok(())
}

/// Starts a spawned child's main thread.
pub fn start(child: &Child) -> Result<(), Error> {
    sys::thread_start(child.thread)
}
