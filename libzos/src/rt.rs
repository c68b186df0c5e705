//! Process start-up: `_start` registers the IPC buffer, maps a heap, calls the
//! program's `main`, and exits with its return value. Panics print to the debug
//! console (when the process holds one) and exit with status 101.

use crate::abi::layout;
use crate::sys;
use buddy_system_allocator::Heap;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

/// Where every process's heap lives.
pub const HEAP_BASE: u64 = zos_abi::layout::HEAP_BASE;
/// The heap grows by at least this many bytes at a time (doubling as it grows),
/// mapped on demand, so small programs never pay for a large heap.
pub const HEAP_STEP: u64 = zos_proto::start::flags::HEAP_BLOCK;
/// Largest heap.
#[cfg(not(target_arch = "wasm32"))]
pub const HEAP_LIMIT: u64 = 1 << 30;
/// Largest heap (wasm32: the linear memory holds it).
#[cfg(target_arch = "wasm32")]
pub const HEAP_LIMIT: u64 = zos_abi::layout::HEAP_LIMIT;

static HEAP_END: AtomicU64 = AtomicU64::new(HEAP_BASE);
/// Where this process's heap starts: `HEAP_BASE` plus its random offset.
static HEAP_START: AtomicU64 = AtomicU64::new(HEAP_BASE);

/// Most separate heap ranges recorded: blocks that follow each other
/// (the usual case) extend one range, so only alignment gaps start new ones.
const HEAP_RANGES: usize = 128;
/// The heap's mapped ranges, (start, length), for `fork` to copy
/// (`linux::fork`): written only inside the allocator's lock, never with
/// an allocation (this is the allocator).
static HEAP_RANGE_LIST: BackoffMutex<([(u64, u64); HEAP_RANGES], usize)> =
    BackoffMutex::new(([(0, 0); HEAP_RANGES], 0));

/// A spin lock for what every thread of a process shares (the heap, and
/// every other lock of libzos: descriptors, buffers, signal actions) that
/// sleeps instead of spinning on once a short spin has not got it.
///
/// Why: the scheduler runs the highest-priority runnable thread, so a
/// thread spinning on a lock that a lower-priority thread of the same
/// process holds (preempted by the tick in the middle of an allocation)
/// spun forever: the holder never ran again. The netstack's main thread
/// (priority 100) did, on a lock its frame thread (64) held, after
/// `net_ns.exp`'s connection flood; its QEMU monitor dump showed it in the
/// allocator's lock loop. A sleep takes the spinner off the CPU, so the
/// holder runs and lets go. A lock held on another CPU is free again
/// within the spin, as before.
pub struct BackoffMutex<T>(spin::Mutex<T>);

impl<T> BackoffMutex<T> {
    /// Tries before the first sleep.
    const SPINS: u32 = 128;
    /// How long each sleep asks for (the kernel wakes sleepers on its tick).
    const SLEEP_NS: u64 = 50_000;

    pub const fn new(value: T) -> Self {
        BackoffMutex(spin::Mutex::new(value))
    }

    #[inline]
    pub fn lock(&self) -> spin::MutexGuard<'_, T> {
        match self.0.try_lock() {
            Some(guard) => guard,
            None => self.lock_contended(),
        }
    }

    /// The lock if it is free now.
    pub fn try_lock(&self) -> Option<spin::MutexGuard<'_, T>> {
        self.0.try_lock()
    }

    /// Frees the lock whatever holds it.
    ///
    /// # Safety
    ///
    /// Nothing may use the data under it as a holder any more: for a fork
    /// child's copy of a lock its parent's thread held (that thread does
    /// not exist in the child).
    pub unsafe fn force_unlock(&self) {
        // SAFETY: the caller's promise.
        unsafe { self.0.force_unlock() }
    }

    /// The rare path, kept out of line so the free lock costs what a spin
    /// lock's does.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> spin::MutexGuard<'_, T> {
        let mut attempt = 0u32;
        loop {
            if let Some(guard) = self.0.try_lock() {
                return guard;
            }
            if attempt < Self::SPINS {
                attempt += 1;
                core::hint::spin_loop();
            } else {
                sys::sleep_until(sys::clock_ns() + Self::SLEEP_NS);
            }
        }
    }
}
/// Set when a range did not fit [`HEAP_RANGE_LIST`]: the heap still grows,
/// but `fork` cannot know all of it and refuses.
static HEAP_UNTRACKED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The heap's mapped ranges, (start, length) each; `None` if some growth
/// could not be recorded.
pub fn heap_blocks() -> Option<alloc::vec::Vec<(u64, u64)>> {
    let list = HEAP_RANGE_LIST.lock();
    let copy = list.0;
    let count = list.1;
    drop(list);
    if HEAP_UNTRACKED.load(Ordering::Relaxed) {
        return None;
    }
    Some(copy[..count].to_vec())
}

/// Records a heap block just mapped (inside the allocator's lock).
fn record_heap_block(start: u64, length: u64) {
    let mut list = HEAP_RANGE_LIST.lock();
    let count = list.1;
    if count > 0 {
        let (last_start, last_length) = list.0[count - 1];
        if last_start + last_length == start {
            list.0[count - 1].1 += length;
            return;
        }
    }
    if count < HEAP_RANGES {
        list.0[count] = (start, length);
        list.1 += 1;
    } else {
        HEAP_UNTRACKED.store(true, Ordering::Relaxed);
    }
}

/// The buddy allocator behind [`ALLOCATOR`]: large blocks, and the blocks
/// the small-size classes are cut from. A request that does not fit grows
/// the heap ([`grow_heap`]) and is tried once more.
static HEAP: BackoffMutex<Heap<32>> = BackoffMutex::new(Heap::empty());

/// Allocates from [`HEAP`], growing it once if needed; null when it cannot.
fn heap_alloc(layout: core::alloc::Layout) -> *mut u8 {
    let mut heap = HEAP.lock();
    if let Ok(block) = heap.alloc(layout) {
        return block.as_ptr();
    }
    grow_heap(&mut heap, &layout);
    heap.alloc(layout)
        .map_or(core::ptr::null_mut(), |block| block.as_ptr())
}

/// Frees a block [`heap_alloc`] gave out with `layout`.
///
/// # Safety
/// `block` came from `heap_alloc(layout)` and is not used again.
unsafe fn heap_dealloc(block: *mut u8, layout: core::alloc::Layout) {
    if let Some(block) = core::ptr::NonNull::new(block) {
        // SAFETY: the caller's promise: a live block of this layout from
        // this heap.
        unsafe { HEAP.lock().dealloc(block, layout) };
    }
}

#[global_allocator]
static ALLOCATOR: SmallFirst = SmallFirst;

/// Smallest size class (a free block holds the next one's address).
const SMALLEST_CLASS: usize = 16;
/// Largest size class kept on a free list.
const LARGEST_CLASS: usize = 512;
/// Size classes: 16, 32, … 512 bytes.
const CLASSES: usize = (LARGEST_CLASS / SMALLEST_CLASS).trailing_zeros() as usize + 1;
/// Most free blocks a class keeps; more go back to the buddy allocator, so
/// a burst of small allocations does not keep its memory from large ones.
const CLASS_KEEP: u32 = 256;

/// Free blocks of each size class, each list threaded through its blocks.
struct FreeLists {
    heads: [usize; CLASSES],
    counts: [u32; CLASSES],
}

static FREE_LISTS: BackoffMutex<FreeLists> = BackoffMutex::new(FreeLists {
    heads: [0; CLASSES],
    counts: [0; CLASSES],
});

/// The global allocator: requests of at most [`LARGEST_CLASS`] bytes are
/// served from per-size free lists, the rest by the buddy allocator.
///
/// Why: most allocations in services are small and short-lived (a message's
/// bytes, a reply vector, a name), and `buddy_system_allocator` spent about
/// 100 instructions on each allocation and each free, splitting and merging
/// buddies (a tmpfs create-write-close-unlink made ~25 of each in the VFS
/// alone; docs/userland.md). A free-list pop or push is a few instructions.
/// A block of a class is allocated from the buddy allocator with the class
/// as its size and alignment, so any request it serves fits it.
struct SmallFirst;

/// The size class (index, bytes) that serves `layout`, if it is small.
fn class_of(layout: core::alloc::Layout) -> Option<(usize, usize)> {
    let bytes = layout.size().max(layout.align()).max(SMALLEST_CLASS);
    let class = bytes.checked_next_power_of_two()?;
    (class <= LARGEST_CLASS).then(|| ((class / SMALLEST_CLASS).trailing_zeros() as usize, class))
}

/// The layout a class's blocks have in the buddy allocator.
fn class_layout(class: usize) -> core::alloc::Layout {
    // SAFETY: `class` is a power of two from 16 to 512: a valid size and alignment.
    unsafe { core::alloc::Layout::from_size_align_unchecked(class, class) }
}

// SAFETY: blocks come from the buddy allocator (which upholds `GlobalAlloc`)
// or from a free list holding only blocks of that class that were freed and
// so are unused; a block is on at most one list, taken off under the lock.
unsafe impl core::alloc::GlobalAlloc for SmallFirst {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        let Some((index, class)) = class_of(layout) else {
            return heap_alloc(layout);
        };
        {
            let mut lists = FREE_LISTS.lock();
            let head = lists.heads[index];
            if head != 0 {
                // SAFETY: `head` is a free block of this class (at least 16
                // bytes, aligned to its size) whose first word is the next one.
                lists.heads[index] = unsafe { *(head as *const usize) };
                lists.counts[index] -= 1;
                return head as *mut u8;
            }
        }
        heap_alloc(class_layout(class))
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: core::alloc::Layout) {
        let Some((index, class)) = class_of(layout) else {
            // SAFETY: allocated by the buddy allocator with this layout.
            return unsafe { heap_dealloc(block, layout) };
        };
        {
            let mut lists = FREE_LISTS.lock();
            if lists.counts[index] < CLASS_KEEP {
                // SAFETY: the block is ours again, at least 16 bytes and
                // aligned to its size: its first word can link the list.
                unsafe { *(block as *mut usize) = lists.heads[index] };
                lists.heads[index] = block as usize;
                lists.counts[index] += 1;
                return;
            }
        }
        // SAFETY: the block came from the buddy allocator with the class layout.
        unsafe { heap_dealloc(block, class_layout(class)) }
    }

    unsafe fn realloc(
        &self,
        block: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc`'s contract: `new_size` with the old
        // alignment is a valid layout.
        let new =
            unsafe { core::alloc::Layout::from_size_align_unchecked(new_size, layout.align()) };
        if let (Some((old, _)), Some((now, _))) = (class_of(layout), class_of(new)) {
            if old == now {
                // The block already has room: a small vector's growth
                // within its class costs nothing.
                return block;
            }
        }
        // SAFETY: `new` is valid (above); the old block holds
        // `layout.size()` bytes and is freed only after the copy.
        unsafe {
            let moved = self.alloc(new);
            if !moved.is_null() {
                core::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

/// This process's heap: bytes allocated and not freed, and bytes mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapUsage {
    /// Allocated and not freed, each block counted at the size it takes
    /// (a power of two); blocks waiting on a size class's free list are free.
    pub in_use: u64,
    /// Mapped for the heap so far (it never shrinks).
    pub mapped: u64,
}

/// What the heap holds now (for a service's memory report).
pub fn heap_usage() -> HeapUsage {
    let cached: u64 = {
        let lists = FREE_LISTS.lock();
        (0..CLASSES)
            .map(|index| u64::from(lists.counts[index]) * (SMALLEST_CLASS << index) as u64)
            .sum()
    };
    let heap = HEAP.lock();
    HeapUsage {
        in_use: (heap.stats_alloc_actual() as u64).saturating_sub(cached),
        mapped: heap.stats_total_bytes() as u64,
    }
}

/// Maps more heap when an allocation does not fit.
///
/// The buddy allocator serves a request from one free block of the next power
/// of two, aligned to its own size, and cuts an added range into such aligned
/// blocks. So the growth is one block of that size at a multiple of it: a
/// range merely long enough, but starting at a 64 KiB boundary, would be cut
/// into smaller blocks and the request would still fail (it did for 124 KiB
/// in init's pipe buffers). The skipped address space is never mapped.
fn grow_heap(heap: &mut Heap<32>, layout: &core::alloc::Layout) {
    let end = HEAP_END.load(Ordering::Relaxed);
    let block = (layout.size().max(layout.align()) as u64)
        .next_power_of_two()
        .max(HEAP_STEP);
    let start = end.next_multiple_of(block);
    if start + block > HEAP_START.load(Ordering::Relaxed) + HEAP_LIMIT {
        return;
    }
    let Ok(memory) = sys::memory_create(block) else {
        return;
    };
    if sys::memory_map(memory, sys::SELF, start, 0, block / 4096, 1).is_ok() {
        HEAP_END.store(start + block, Ordering::Relaxed);
        record_heap_block(start, block);
        // SAFETY: the range was just mapped read-write for this process only.
        unsafe { heap.add_to_heap(start as usize, (start + block) as usize) };
    }
    let _ = sys::cap_delete(memory);
}

/// Capability slot of the debug console (the system object), if any.
static CONSOLE_SLOT: AtomicU64 = AtomicU64::new(zos_abi::bootinfo::SLOT_SYSTEM);

/// The slot of this process's system capability (the kernel's debug console
/// and log; read-only in programs init starts).
pub fn system_slot() -> u64 {
    CONSOLE_SLOT.load(Ordering::Relaxed)
}

static START: spin::Once<zos_proto::start::StartInfo> = spin::Once::new();

/// What the spawner handed this process: arguments, environment, descriptors,
/// granted capabilities. Empty for init and for programs started without a
/// start-up page (those have no process-manager endpoint in slot 2).
pub fn start_info() -> &'static zos_proto::start::StartInfo {
    START.call_once(|| {
        let has_start_page = matches!(
            sys::cap_info(zos_proto::start::slots::PROC),
            Ok((kind, _, _)) if kind == zos_abi::ObjectKind::Endpoint as u64
        );
        if !has_start_page {
            return zos_proto::start::StartInfo::default();
        }
        read_start_page().unwrap_or_default()
    })
}

/// The grant init gave this process under `name` (the service table's `grants`,
/// or `endpoint` for a service that provides one), if any.
pub fn grant(name: &str) -> Option<&'static zos_proto::start::Grant> {
    start_info().grants.iter().find(|grant| grant.name == name)
}

/// The capability slot of the grant called `name`.
pub fn granted(name: &str) -> Option<u64> {
    grant(name).map(|grant| grant.slot)
}

fn read_start_page() -> Option<zos_proto::start::StartInfo> {
    use zos_proto::start::{MAX_START_INFO, START_HEADER, START_INFO};
    let mut length = [0u8; 4];
    // SAFETY: processes with a process-manager endpoint always get the start
    // page mapped by their spawner (init), at least one page long.
    unsafe { core::ptr::copy_nonoverlapping(START_INFO as *const u8, length.as_mut_ptr(), 4) };
    let length = (u32::from_le_bytes(length) as usize).min(MAX_START_INFO - START_HEADER);
    // SAFETY: the spawner maps the header and length bytes (checked against
    // the limit).
    let bytes = unsafe {
        core::slice::from_raw_parts((START_INFO + START_HEADER as u64) as *const u8, length)
    };
    zos_proto::decode(bytes)
}

/// The random bytes init drew for this process (`start::RANDOM_BYTES`, on
/// its start page); zeros for a process started without a start page.
/// Bytes 8..16 place the heap, 16..24 the `mmap` base; 24..32 are left
/// for `AT_RANDOM` (bytes 0..8 placed the stack, in init).
pub fn start_random() -> [u8; zos_proto::start::RANDOM_BYTES] {
    start_header().1
}

/// The start page's flags word (`start::flags`; 0 without a start page).
#[cfg(not(target_arch = "wasm32"))]
fn start_flags() -> u32 {
    start_header().0
}

/// The start page's flags word and random bytes, read once.
fn start_header() -> (u32, [u8; zos_proto::start::RANDOM_BYTES]) {
    type Header = (u32, [u8; zos_proto::start::RANDOM_BYTES]);
    static HEADER: spin::Once<Header> = spin::Once::new();
    *HEADER.call_once(|| {
        let mut random = [0u8; zos_proto::start::RANDOM_BYTES];
        let mut flags = [0u8; 4];
        let has_start_page = matches!(
            sys::cap_info(zos_proto::start::slots::PROC),
            Ok((kind, _, _)) if kind == zos_abi::ObjectKind::Endpoint as u64
        );
        if has_start_page {
            // SAFETY: the start page is mapped (see `read_start_page`); the
            // flags word follows its length, the random bytes follow both.
            unsafe {
                let page = zos_proto::start::START_INFO as *const u8;
                core::ptr::copy_nonoverlapping(page.add(4), flags.as_mut_ptr(), 4);
                core::ptr::copy_nonoverlapping(page.add(8), random.as_mut_ptr(), random.len());
            };
        }
        (u32::from_le_bytes(flags), random)
    })
}

/// The end (top page boundary) of the main thread's stack, which init placed
/// at random (ASLR, `start::main_stack_top`).
pub fn main_stack_end() -> u64 {
    zos_proto::start::main_stack_top(&start_random()).next_multiple_of(4096)
}

/// A random page-aligned offset below `layout::RANDOM_SPAN` from start-page
/// bytes `at..at + 8` (ASLR).
pub fn random_offset(at: usize) -> u64 {
    zos_proto::start::random_offset(&start_random(), at)
}

extern "Rust" {
    /// The program's entry: gets register 0 at start (init: the boot info page).
    fn zos_main(arg: u64) -> i64;
}

#[no_mangle]
#[link_section = ".text._start"]
extern "C" fn _start(arg: u64) -> ! {
    let _ = sys::set_ipc_buffer(layout::IPC_BUFFER);
    crate::thread::set_ipc_buffer_register(layout::IPC_BUFFER);
    // ASLR: the heap starts at a random offset (before the first allocation).
    #[cfg(not(target_arch = "wasm32"))]
    {
        let start = zos_proto::start::heap_start(&start_random());
        HEAP_START.store(start, Ordering::Relaxed);
        HEAP_END.store(start, Ordering::Relaxed);
        // The first block init mapped with the stack (one object less to
        // make per spawn), where the first growth would have put it.
        if start_flags() & zos_proto::start::flags::HEAP_BLOCK_MAPPED != 0 {
            let block = start.next_multiple_of(HEAP_STEP);
            let mut heap = HEAP.lock();
            HEAP_END.store(block + HEAP_STEP, Ordering::Relaxed);
            record_heap_block(block, HEAP_STEP);
            // SAFETY: init mapped the block read-write in this process only
            // (the flag says so), and nothing else uses that range.
            unsafe { heap.add_to_heap(block as usize, (block + HEAP_STEP) as usize) };
        }
    }
    // A CPU mask handed down by the parent (`taskset`).
    crate::affinity::inherit();
    // A job control shell's foreground job takes its terminal first.
    crate::job_control::take_terminal_at_start();
    // SAFETY: every program links exactly one `zos_main` (see the `entry!` macro).
    let code = unsafe { zos_main(arg) };
    crate::posix::exit(code as i32)
}

/// Declares the program's main function: `libzos::entry!(main);` with
/// `fn main(arg: u64) -> i64`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        fn zos_main(arg: u64) -> i64 {
            $main(arg)
        }
    };
}

/// Writes to the debug console.
pub struct DebugOut;

impl Write for DebugOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let _ = sys::debug_write(CONSOLE_SLOT.load(Ordering::Relaxed), s.as_bytes());
        Ok(())
    }
}

/// Writes one line to the kernel log in a single `DebugWrite`, so another
/// CPU's output never lands inside it (`dprintln!`).
pub fn debug_line(args: core::fmt::Arguments) {
    let mut line = alloc::format!("{args}");
    line.push('\n');
    let _ = sys::debug_write(CONSOLE_SLOT.load(Ordering::Relaxed), line.as_bytes());
}

/// Writes to a descriptor; falls back to the debug console when the process
/// has no such descriptor (init, ktest).
pub struct FdOut(pub i32);

impl Write for FdOut {
    /// A formatted message goes out in one write, so the lines of
    /// processes sharing a terminal do not mix mid-line (a background
    /// `httpd`'s start-up line with the shell's prompt).
    fn write_fmt(&mut self, args: core::fmt::Arguments<'_>) -> core::fmt::Result {
        match args.as_str() {
            Some(text) => self.write_str(text),
            None => self.write_str(&alloc::fmt::format(args)),
        }
    }

    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if crate::posix::write_all(self.0, s.as_bytes()).is_err()
            && crate::posix::descriptors().is_empty()
        {
            let _ = sys::debug_write(CONSOLE_SLOT.load(Ordering::Relaxed), s.as_bytes());
        }
        Ok(())
    }
}

/// `println!` to standard output (the debug console without one).
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = writeln!($crate::rt::FdOut(1), $($arg)*);
    }};
}

/// `print!` to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = write!($crate::rt::FdOut(1), $($arg)*);
    }};
}

/// `eprintln!` to standard error.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = writeln!($crate::rt::FdOut(2), $($arg)*);
    }};
}

/// `eprint!` to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = write!($crate::rt::FdOut(2), $($arg)*);
    }};
}

/// `dprintln!` straight to the kernel debug console.
#[macro_export]
macro_rules! dprintln {
    ($($arg:tt)*) => {{
        $crate::rt::debug_line(format_args!($($arg)*));
    }};
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(FdOut(2), "panic: {info}");
    crate::posix::exit(101)
}
