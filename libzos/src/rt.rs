//! Process start-up: `_start` registers the IPC buffer, maps a heap, calls the
//! program's `main`, and exits with its return value. Panics print to the debug
//! console (when the process holds one) and exit with status 101.

use crate::abi::layout;
use crate::sys;
use buddy_system_allocator::{Heap, LockedHeapWithRescue};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

/// Where every process's heap lives.
pub const HEAP_BASE: u64 = 0x0000_1000_0000_0000;
/// The heap grows in steps of this many bytes, mapped on demand.
pub const HEAP_STEP: u64 = 1 << 20;
/// Largest heap.
pub const HEAP_LIMIT: u64 = 1 << 30;

static HEAP_END: AtomicU64 = AtomicU64::new(HEAP_BASE);

#[global_allocator]
static HEAP: LockedHeapWithRescue<32> = LockedHeapWithRescue::new(grow_heap);

/// Maps more heap when an allocation does not fit.
fn grow_heap(heap: &mut Heap<32>, layout: &core::alloc::Layout) {
    let end = HEAP_END.load(Ordering::Relaxed);
    let step = (layout.size() as u64 + layout.align() as u64)
        .next_multiple_of(HEAP_STEP)
        .max(HEAP_STEP);
    if end + step > HEAP_BASE + HEAP_LIMIT {
        return;
    }
    let Ok(memory) = sys::memory_create(step) else {
        return;
    };
    if sys::memory_map(memory, sys::SELF, end, 0, step / 4096, 1).is_ok() {
        HEAP_END.store(end + step, Ordering::Relaxed);
        // SAFETY: the range was just mapped read-write for this process only.
        unsafe { heap.add_to_heap(end as usize, (end + step) as usize) };
    }
    let _ = sys::cap_delete(memory);
}

/// Capability slot of the debug console (the system object), if any.
static CONSOLE_SLOT: AtomicU64 = AtomicU64::new(zos_kernel::syscall::bootinfo::SLOT_SYSTEM);

extern "Rust" {
    /// The program's entry: gets register 0 at start (init: the boot info page).
    fn zos_main(arg: u64) -> i64;
}

#[no_mangle]
#[link_section = ".text._start"]
extern "C" fn _start(arg: u64) -> ! {
    let _ = sys::set_ipc_buffer(layout::IPC_BUFFER);
    crate::thread::set_ipc_buffer_register(layout::IPC_BUFFER);
    // SAFETY: every program links exactly one `zos_main` (see the `entry!` macro).
    let code = unsafe { zos_main(arg) };
    sys::process_exit(code)
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

/// `println!` to the debug console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = writeln!($crate::rt::DebugOut, $($arg)*);
    }};
}

/// `print!` to the debug console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = write!($crate::rt::DebugOut, $($arg)*);
    }};
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(DebugOut, "panic: {info}");
    sys::process_exit(101)
}
