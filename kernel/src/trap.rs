//! From a trap to the kernel core and back to a user thread.
//!
//! The core is one [`Kernel`] behind one lock, [`KernelLock`]. An arch backend
//! decodes what brought the CPU in ([`Trap`]) and calls [`KernelLock::user_trap`];
//! the core handles the event, picks the thread to resume, switches its thread
//! pointer and address space, and returns the thread's saved context for the
//! backend to restore. FP/SIMD registers switch lazily: a thread that is not
//! their owner traps on its first FP/SIMD instruction ([`Trap::FpAccess`]). With nothing to run it
//! waits for interrupts without holding the lock. The backend owns only entry,
//! exit and the hardware operations the [`Platform`] trait names.

use crate::arch::{AddressSpace, Interrupt, Platform, Trap, UserContext};
use crate::kernel::Kernel;
use crate::object::ObjRef;
use spin::Mutex;

/// The kernel, the thread the CPU was last prepared for and whose FP/SIMD
/// registers are live in the CPU ([`ObjRef::NONE`] when nobody's: plain
/// `ObjRef`s, so every resume costs a compare).
struct Core<P: Platform> {
    kernel: Kernel<P>,
    running: ObjRef,
    fp_owner: ObjRef,
}

/// The kernel lock: the one kernel of the machine, once boot has built it.
pub struct KernelLock<P: Platform> {
    core: Mutex<Option<Core<P>>>,
}

impl<P: Platform> Default for KernelLock<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Platform> KernelLock<P> {
    pub const fn new() -> Self {
        Self {
            core: Mutex::new(None),
        }
    }

    /// Hands the kernel built at boot to the lock; traps reach it from now on.
    pub fn install(&self, kernel: Kernel<P>) {
        *self.core.lock() = Some(Core {
            kernel,
            running: ObjRef::NONE,
            fp_owner: ObjRef::NONE,
        });
    }

    /// A trap from user mode: takes the lock, lets `decode` say what happened
    /// (decoding under the lock lets the compiler fold it into the dispatch),
    /// handles it, then returns the context of the thread to resume (waiting for
    /// one if none is runnable).
    #[inline(always)]
    pub fn user_trap(&self, decode: impl FnOnce() -> Trap) -> *mut P::Context {
        {
            let mut guard = self.core.lock();
            let Some(core) = guard.as_mut() else {
                panic!("user trap before the kernel core exists");
            };
            let kernel = &mut core.kernel;
            match decode() {
                Trap::Syscall => kernel.syscall(),
                Trap::Fault {
                    kind,
                    address,
                    syndrome,
                } => kernel.user_fault(kind, address, syndrome),
                Trap::Interrupt => P::take_interrupts(&mut |i| interrupt(kernel, i)),
                Trap::FpAccess => core.take_fp(),
            }
            // Usually a thread is ready: resume it without taking the lock again.
            if let Some(next) = core.kernel.schedule() {
                return core.prepare(next);
            }
        }
        self.next_context()
    }

    /// Waits until a thread is runnable and prepares the CPU for it.
    pub fn next_context(&self) -> *mut P::Context {
        loop {
            {
                let mut guard = self.core.lock();
                if let Some(core) = guard.as_mut() {
                    if let Some(next) = core.kernel.schedule() {
                        return core.prepare(next);
                    }
                }
            }
            P::wait_for_interrupt();
        }
    }

    /// An interrupt taken while the kernel idles (or before it exists).
    pub fn kernel_interrupt(&self) {
        let mut guard = self.core.lock();
        match guard.as_mut() {
            Some(core) => P::take_interrupts(&mut |i| interrupt(&mut core.kernel, i)),
            None => P::take_interrupts(&mut |_| {}),
        }
    }
}

fn interrupt<P: Platform>(kernel: &mut Kernel<P>, interrupt: Interrupt) {
    match interrupt {
        Interrupt::Tick => kernel.tick(P::uptime_ns()),
        Interrupt::Device(irq) => {
            if !kernel.interrupt(irq) {
                log::warn!("unclaimed interrupt {irq} masked");
                P::irq_set_enabled(irq, false);
            }
        }
    }
}

impl<P: Platform> Core<P> {
    /// Makes `next`'s thread pointer and address space live (and FP/SIMD
    /// usable if its registers are the live ones); returns its context.
    fn prepare(&mut self, next: ObjRef) -> *mut P::Context {
        let previous = core::mem::replace(&mut self.running, next);
        if previous != next {
            if let Some(context) = self.kernel.context_mut(previous) {
                context.save_tls();
            }
            P::fp_enable(next == self.fp_owner);
        }
        let Some(thread) = self.kernel.objects.thread_mut(next) else {
            panic!("scheduled thread has no context");
        };
        if previous != next {
            thread.context.restore_tls();
        }
        let (context, process) = (&mut *thread.context as *mut P::Context, thread.process);
        if let Some(space) = self
            .kernel
            .objects
            .process(process)
            .and_then(|p| p.space.as_ref())
        {
            space.activate();
        }
        context
    }

    /// The running thread's first FP/SIMD use since another's registers went
    /// live: saves the owner's, loads its own.
    fn take_fp(&mut self) {
        P::fp_enable(true);
        if let Some(context) = self.kernel.context_mut(self.fp_owner) {
            context.save_fp();
        }
        if let Some(context) = self.kernel.context_mut(self.running) {
            context.restore_fp();
        }
        self.fp_owner = self.running;
    }
}
