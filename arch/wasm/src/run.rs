//! The run loop: what interrupts and `eret` are on the native backends.
//!
//! Each `kernel_run(fuel)` call delivers the timer tick (when one is due by
//! the page's clock) and the terminal's interrupt (when input waits and the
//! console has acknowledged the last one), then lets the core pick threads
//! and runs each for a slice of fuel. A syscall goes to `Kernel::syscall`, a
//! slice that runs out is a tick (the core rotates the time slice), a trap is
//! a user fault. The call returns when no thread is runnable or the fuel is
//! spent: the page never blocks.

use crate::process::{self, Start, Stop};
use crate::{Wasm, TERMINAL_IRQ};
use alloc::collections::VecDeque;
use zos_abi::Sys;
use zos_kernel::arch::Platform;
use zos_kernel::kernel::Kernel;

/// The fault address the core is given for a trap of the interpreter, which
/// does not say where an access went: above every user address, so no page
/// is found there and the core never takes the fault for a copy-on-write
/// one (or for another CPU's that came first) and resumes the thread into
/// the same trap (docs/kernel.md, "Copy-on-write").
const UNKNOWN_ADDRESS: u64 = u64::MAX;

/// Fuel of one time slice (about a millisecond of interpreted code).
pub const SLICE_FUEL: u64 = 200_000;
/// Ticks by the page's clock while threads sleep.
const TICK_NS: u64 = 10_000_000;

struct State {
    kernel: Kernel<Wasm>,
    last_tick: u64,
}

static STATE: spin::Mutex<Option<State>> = spin::Mutex::new(None);

/// Typed bytes not yet read by the console, and whether its interrupt is
/// unmasked (it masks itself when raised until the console acknowledges).
struct Terminal {
    input: VecDeque<u8>,
    irq_enabled: bool,
}

static TERMINAL: spin::Mutex<Terminal> = spin::Mutex::new(Terminal {
    input: VecDeque::new(),
    irq_enabled: false,
});

/// Hands the booted kernel to the loop.
pub fn install(kernel: Kernel<Wasm>) {
    *STATE.lock() = Some(State {
        kernel,
        last_tick: 0,
    });
}

pub fn set_terminal_irq(enabled: bool) {
    TERMINAL.lock().irq_enabled = enabled;
}

/// Queues typed bytes.
pub fn input(bytes: &[u8]) {
    TERMINAL.lock().input.extend(bytes.iter().copied());
}

/// Takes up to `out.len()` typed bytes.
pub fn take_input(out: &mut [u8]) -> usize {
    let mut terminal = TERMINAL.lock();
    let count = out.len().min(terminal.input.len());
    for (slot, byte) in out.iter_mut().zip(terminal.input.drain(..count)) {
        *slot = byte;
    }
    count
}

fn terminal_interrupt_due() -> bool {
    let terminal = TERMINAL.lock();
    terminal.irq_enabled && !terminal.input.is_empty()
}

/// Runs for at most `fuel`; see `kernel_run`.
pub fn run(fuel: u64) -> u32 {
    let mut guard = STATE.lock();
    let Some(state) = guard.as_mut() else {
        return 2;
    };
    let mut left = fuel;
    loop {
        let now = Wasm::uptime_ns();
        if now.saturating_sub(state.last_tick) >= TICK_NS {
            state.last_tick = now;
            state.kernel.tick(now);
        }
        if terminal_interrupt_due() {
            // Masks the line (irq_set_enabled) until the console acknowledges.
            state.kernel.interrupt(TERMINAL_IRQ);
        }
        if state.kernel.halted {
            return 2;
        }
        let Some(thread) = state.kernel.schedule() else {
            return 0;
        };
        if left == 0 {
            return 1;
        }
        let Some(vm) = state.kernel.space_of(thread).map(|s| s.id) else {
            state.kernel.user_fault(zos_abi::fault::OTHER, 0, 0);
            continue;
        };
        let Some(context) = state.kernel.context_mut(thread) else {
            return 2;
        };
        context.started = true;
        let start = Start {
            id: context.id,
            entry: context.entry,
            stack: context.stack,
            arg: context.arg,
            results: context.results,
        };
        let (stop, used) = process::run(vm, &start, left.min(SLICE_FUEL));
        left = left.saturating_sub(used.max(1));
        match stop {
            Stop::Syscall { number, args } => {
                if let Some(context) = state.kernel.context_mut(thread) {
                    context.number = number;
                    context.args = args;
                    context.results = [0; 7];
                }
                state.kernel.syscall();
            }
            Stop::Preempted => {
                let now = Wasm::uptime_ns();
                state.last_tick = now;
                state.kernel.tick(now);
            }
            Stop::Returned => {
                if let Some(context) = state.kernel.context_mut(thread) {
                    context.number = Sys::ThreadExit as u64;
                }
                state.kernel.syscall();
            }
            Stop::Fault { kind, reason } => {
                let pid = state
                    .kernel
                    .current_process()
                    .and_then(|p| state.kernel.objects.process(p))
                    .map_or(0, |p| p.pid);
                log::warn!("zos: pid {pid}: {reason}");
                state.kernel.user_fault(kind, UNKNOWN_ADDRESS, 0);
            }
        }
    }
}
