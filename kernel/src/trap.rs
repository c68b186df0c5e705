//! From a trap to the kernel core and back to a user thread.
//!
//! The core is one [`Kernel`] behind one lock, [`KernelLock`], whatever CPU
//! traps. An arch backend decodes what brought the CPU in ([`Trap`]) and
//! calls [`KernelLock::user_trap`];
//! the core handles the event, picks the thread to resume, switches its thread
//! pointer and address space, and returns the thread's saved context for the
//! backend to restore. FP/SIMD registers switch lazily: a thread that is not
//! their owner traps on its first FP/SIMD instruction ([`Trap::FpAccess`]). With nothing to run it
//! waits for interrupts without holding the lock. The backend owns only entry,
//! exit and the hardware operations the [`Platform`] trait names.

use crate::arch::{AddressSpace, Interrupt, Platform, Trap, UserContext};
use crate::kernel::Kernel;
use crate::object::ObjRef;
use spin::mutex::{SpinMutex as Mutex, SpinMutexGuard as MutexGuard};

/// The big kernel lock: the one kernel of the machine, once boot has built
/// it. Every entry from user mode or idle takes it; the CPU lets it go on
/// the way back to user mode or to idle (docs/kernel.md, "Locking").
pub struct KernelLock<P: Platform> {
    kernel: Mutex<Option<Kernel<P>>, P>,
}

#[allow(clippy::new_without_default)]
impl<P: Platform> KernelLock<P> {
    pub const fn new() -> Self {
        Self {
            kernel: Mutex::new(None),
        }
    }

    /// Hands the kernel built at boot to the lock; traps reach it from now on.
    pub fn install(&self, kernel: Kernel<P>) {
        *self.kernel.lock() = Some(kernel);
    }

    /// Takes the lock for this CPU, counting the entries that had to wait.
    #[inline(always)]
    fn enter(&self) -> MutexGuard<'_, Option<Kernel<P>>> {
        // Seen held just before: a statistic, not a promise.
        let waited = self.kernel.is_locked();
        let mut guard = self.kernel.lock();
        if let Some(kernel) = guard.as_mut() {
            kernel.cpu = P::cpu_id();
            kernel.lock_waits += waited as u64;
        }
        guard
    }

    /// A trap from user mode: takes the lock, lets `decode` say what happened
    /// (decoding under the lock lets the compiler fold it into the dispatch),
    /// handles it, then returns the context of the thread to resume (waiting for
    /// one if none is runnable).
    #[inline(always)]
    pub fn user_trap(&self, decode: impl FnOnce() -> Trap) -> *mut P::Context {
        {
            let mut guard = self.enter();
            let Some(kernel) = guard.as_mut() else {
                panic!("user trap before the kernel core exists");
            };
            match decode() {
                Trap::Syscall => kernel.syscall(),
                Trap::Fault {
                    kind,
                    address,
                    syndrome,
                } => kernel.user_fault(kind, address, syndrome),
                Trap::Interrupt => P::take_interrupts(&mut |i| interrupt(kernel, i)),
                Trap::FpAccess => kernel.take_fp(),
            }
            // Usually a thread is ready: resume it without taking the lock again.
            if let Some(next) = kernel.schedule() {
                return kernel.prepare(next);
            }
            kernel.leave_cpu();
        }
        self.next_context()
    }

    /// Waits until a thread is runnable and prepares the CPU for it.
    pub fn next_context(&self) -> *mut P::Context {
        loop {
            if let Some(kernel) = self.enter().as_mut() {
                if let Some(next) = kernel.schedule() {
                    return kernel.prepare(next);
                }
            }
            P::wait_for_interrupt();
        }
    }

    /// An interrupt taken while the kernel idles (or before it exists).
    pub fn kernel_interrupt(&self) {
        match self.enter().as_mut() {
            Some(kernel) => P::take_interrupts(&mut |i| interrupt(kernel, i)),
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

impl<P: Platform> Kernel<P> {
    /// Makes `next`'s thread pointer and address space live on this CPU (and
    /// FP/SIMD usable if its registers are the live ones); returns its context.
    /// Inlined into its two callers: every trap ends here.
    #[inline(always)]
    fn prepare(&mut self, next: ObjRef) -> *mut P::Context {
        // The thread and its space first, before anything is stored: the
        // compiler then shares this lookup with the one `schedule` just made.
        let Some(thread) = self.objects.thread_mut(next) else {
            panic!("scheduled thread has no context");
        };
        let (context, process, uses_fp) = (
            &mut *thread.context as *mut _,
            thread.process,
            thread.uses_fp,
        );
        if let Some(space) = self.objects.process(process).and_then(|p| p.space.as_ref()) {
            space.activate();
        }
        if self.this_cpu().running != Some(next) {
            self.leave_cpu();
            self.this_cpu().running = Some(next);
            self.this_cpu().switches += 1;
            // SAFETY: `context` is `next`'s boxed context, alive and not
            // moved: `leave_cpu` changed only the leaving thread's.
            unsafe { P::Context::restore_tls(&*context) };
            // One that used FP/SIMD gets its registers now: a trap on its
            // first use would cost a kernel entry more (docs/kernel.md).
            let owner = self.this_cpu().fp_owner;
            match owner != Some(next) && uses_fp {
                true => self.take_fp(),
                false => P::fp_enable(owner == Some(next)),
            }
        }
        context
    }

    /// The thread this CPU was prepared for leaves it: its thread pointer is
    /// saved, and with more than one CPU its FP/SIMD registers too (it may
    /// run on another CPU next; one CPU keeps them live until another
    /// thread's first use).
    fn leave_cpu(&mut self) {
        let cpu = *self.this_cpu();
        self.this_cpu().running = None;
        let several = self.online > 1;
        let context = cpu.running.and_then(|t| self.context_mut(t));
        let Some(context) = context else { return };
        context.save_tls();
        if several && cpu.fp_owner == cpu.running {
            P::fp_enable(true);
            context.save_fp();
            self.this_cpu().fp_owner = None;
        }
    }

    /// The running thread's first FP/SIMD use since another's registers went
    /// live: saves the owner's, loads its own.
    fn take_fp(&mut self) {
        P::fp_enable(true);
        let cpu = *self.this_cpu();
        if let Some(context) = cpu.fp_owner.and_then(|t| self.context_mut(t)) {
            context.save_fp();
        }
        if let Some(t) = cpu.running.and_then(|t| self.objects.thread_mut(t)) {
            t.context.restore_fp();
            t.uses_fp = true;
        }
        self.this_cpu().fp_owner = cpu.running;
    }
}
