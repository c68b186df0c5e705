//! Secondary CPUs: PSCI CPU_ON bring-up, per-CPU blocks, and the
//! inter-processor interrupts the core asks for.
//!
//! Every CPU runs on its own kernel stack whose top 32 bytes are its
//! [`PerCpu`] block (its index, the core's `Platform::cpu_id`, and the flags
//! the trap path touches), found through TPIDR_EL1 in two instructions; the
//! trap entry starts the kernel stack just below it. The boot CPU is index
//! 0; the others are started one after another in device-tree order, each
//! waiting for the previous to report online, so the online CPUs are always
//! 0..online(). A started CPU turns its MMU on with the kernel's tables,
//! brings up its GIC CPU interface and timer, and enters the scheduler's idle
//! loop; from then on it takes the kernel lock like any other (docs/kernel.md,
//! "Locking").

use crate::{irq, psci, timer};
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use zos_boot::devicetree::MAX_CPUS;

/// Each CPU's kernel stack size.
pub const STACK_BYTES: u64 = 64 * 1024;
/// Each CPU's slot of kernel stack room (linker.ld): the stack is its upper
/// half, so a good kernel SP has bit 16 set (the vectors test it), the
/// overflow stack its first [`OVERFLOW_STACK_BYTES`]; the rest is unmapped,
/// so an overflow faults there instead of writing over anything.
pub const SLOT_BYTES: u64 = 2 * STACK_BYTES;
/// The stack a kernel stack overflow is reported on, at a slot's bottom.
pub const OVERFLOW_STACK_BYTES: u64 = 8 * 1024;
const _: () = assert!(SLOT_BYTES == 1 << 17 && OVERFLOW_STACK_BYTES == 2 << 12);

extern "C" {
    /// Every CPU's slot (linker.ld; `build_kernel_tables` maps them), slot 0
    /// the boot CPU's.
    static __kernel_stacks: u8;
}

/// What `_secondary_start` (boot.S) reads with its MMU off: TCR_EL1 (user
/// walks on, for the identity map), TTBR1_EL1 (the kernel's table) and the
/// starting CPU's stack block.
#[no_mangle]
static SMP_BOOT: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// CPUs running the kernel, each one's MPIDR affinity and block address.
static ONLINE: AtomicUsize = AtomicUsize::new(1);
/// The CPU being brought up (0: none). It claims itself by swapping in 0;
/// the boot CPU, giving up at its deadline, does the same: whichever swap
/// succeeds decides, so a CPU that arrives late parks instead of joining a
/// kernel that has already counted its CPUs (it would run threads the core
/// does not know are running there, with their FP/SIMD registers unsaved).
static STARTING: AtomicUsize = AtomicUsize::new(0);
static MPIDR: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static BLOCKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// A CPU's block at the top of its kernel stack (layout shared with boot.S).
#[repr(C)]
pub struct PerCpu {
    pub id: u64,
    /// Whether the CPU may be running user code: set under the kernel lock
    /// when a thread is prepared (`user::activate`), cleared on every entry
    /// from user mode before the lock is taken. [`stop_user`] waits for it.
    in_user: AtomicBool,
    /// The TTBR0 value the CPU uses (changed by itself, under the lock).
    pub active_ttbr0: AtomicU64,
    _reserved: u64,
}

const BLOCK_BYTES: u64 = core::mem::size_of::<PerCpu>() as u64;
const _: () = assert!(BLOCK_BYTES == 32);

/// The software-generated interrupt that wakes or stops another CPU.
pub const WAKE_SGI: u32 = 0;

extern "C" {
    fn _secondary_start();
}

/// This CPU's block.
#[inline(always)]
pub fn this() -> &'static PerCpu {
    let block: u64;
    // SAFETY: reading TPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, tpidr_el1", out(reg) block, options(nomem, nostack)) };
    // SAFETY: TPIDR_EL1 points to this CPU's block from boot.S on: written
    // before the CPU started, above its stack, alive for good.
    unsafe { &*(block as *const PerCpu) }
}

/// CPU `cpu`'s block, once it is online.
pub fn block_of(cpu: usize) -> Option<&'static PerCpu> {
    let block = BLOCKS.get(cpu)?.load(Ordering::Acquire);
    // SAFETY: a published block address stays valid for good (see `this`).
    (block != 0).then(|| unsafe { &*(block as *const PerCpu) })
}

/// This CPU's index.
#[inline(always)]
pub fn cpu_id() -> usize {
    this().id as usize
}

pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

pub fn mpidr(cpu: usize) -> u64 {
    MPIDR[cpu % MAX_CPUS].load(Ordering::Relaxed)
}

/// Marks this CPU as (maybe) entering user mode; under the kernel lock.
#[inline(always)]
pub fn entering_user(block: &PerCpu) {
    block.in_user.store(true, Ordering::Relaxed);
}

/// Marks this CPU as out of user mode (its registers are saved).
#[inline(always)]
pub fn left_user() {
    this().in_user.store(false, Ordering::Release);
}

/// Sends CPU `cpu` the wake-up interrupt.
pub fn wake(cpu: usize) {
    if cpu != cpu_id() && cpu < online() {
        irq::send_sgi(WAKE_SGI, cpu);
    }
}

/// Interrupts CPU `cpu` and waits until it has left user mode. Called with
/// the kernel lock held: the other CPU saves its registers on entry, clears
/// its flag and only then waits for the lock, so this cannot deadlock.
pub fn stop_user(cpu: usize) {
    let Some(block) = block_of(cpu).filter(|_| cpu != cpu_id()) else {
        return;
    };
    if !block.in_user.load(Ordering::Acquire) {
        return;
    }
    irq::send_sgi(WAKE_SGI, cpu);
    while block.in_user.load(Ordering::Acquire) {
        <crate::Aarch64 as spin::RelaxStrategy>::relax();
    }
}

/// How long the boot CPU waits for another CPU to come online. A
/// virtual CPU is a host thread: on a loaded host one took over 100 ms (the
/// old limit) to run its first instructions, and the system came up with
/// one CPU fewer. Linux on arm64 waits 5 s too.
const START_TIMEOUT_NS: u64 = 5_000_000_000;

/// Starts every other CPU the device tree lists, one at a time; stops at the
/// first that does not come online within [`START_TIMEOUT_NS`]. Returns the online count.
pub fn start_secondaries(mpidrs: &[u64]) -> usize {
    let mut own: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) own, options(nomem, nostack)) };
    own &= 0xff_00ff_ffff;
    MPIDR[0].store(own, Ordering::Relaxed);
    BLOCKS[0].store(this() as *const PerCpu as u64, Ordering::Release);
    let (tcr, ttbr1): (u64, u64);
    // SAFETY: reading translation control registers has no side effects.
    unsafe {
        asm!("mrs {}, tcr_el1", "mrs {}, ttbr1_el1", out(reg) tcr, out(reg) ttbr1,
            options(nomem, nostack))
    };
    SMP_BOOT[0].store(tcr & !(1 << 7), Ordering::Relaxed);
    SMP_BOOT[1].store(ttbr1, Ordering::Relaxed);
    let entry = crate::mmu::virt_to_phys(_secondary_start as *const () as u64);
    for &mpidr in mpidrs.iter().filter(|&&m| m != own) {
        let cpu = online();
        if cpu >= MAX_CPUS {
            break;
        }
        // SAFETY: slot `cpu` (mapped by `build_kernel_tables`, room for
        // MAX_CPUS in linker.ld) is used by no CPU yet; only its address is
        // taken and its top block written before the CPU starts.
        let block = unsafe {
            let top = (&raw const __kernel_stacks) as u64 + (cpu as u64 + 1) * SLOT_BYTES;
            let block = top - BLOCK_BYTES;
            (block as *mut PerCpu).write(PerCpu {
                id: cpu as u64,
                in_user: AtomicBool::new(false),
                active_ttbr0: AtomicU64::new(0),
                _reserved: 0,
            });
            block
        };
        SMP_BOOT[2].store(block, Ordering::Relaxed);
        BLOCKS[cpu].store(block, Ordering::Release);
        MPIDR[cpu].store(mpidr, Ordering::Relaxed);
        clean_to_memory(SMP_BOOT.as_ptr() as u64);
        STARTING.store(cpu, Ordering::Release);
        let status = psci::cpu_on(mpidr, entry, cpu as u64);
        let deadline = timer::uptime_ns() + START_TIMEOUT_NS;
        while status == 0 && online() == cpu && timer::uptime_ns() < deadline {
            <crate::Aarch64 as spin::RelaxStrategy>::relax();
        }
        let gave_up = STARTING
            .compare_exchange(cpu, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        while !gave_up && online() == cpu {
            <crate::Aarch64 as spin::RelaxStrategy>::relax(); // claimed just now: it counts itself next
        }
        if online() == cpu {
            log::warn!("smp: cpu {cpu} (mpidr {mpidr:#x}) did not start (psci {status})");
            break;
        }
    }
    online()
}

/// Writes the cache line at `va` back to memory, for a CPU whose MMU (and
/// so its caches) is still off.
fn clean_to_memory(va: u64) {
    // SAFETY: cache maintenance by address has no memory-safety effects.
    unsafe { asm!("dc civac, {}", "dsb sy", in(reg) va, options(nostack)) };
}

/// A secondary CPU's first Rust code (from boot.S, on its own stack).
#[no_mangle]
extern "C" fn secondary_main(cpu: u64) -> ! {
    let claimed = STARTING
        .compare_exchange(cpu as usize, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if !claimed {
        // Too late: the boot CPU went on without this one.
        loop {
            // SAFETY: masking interrupts and waiting has no memory effects.
            unsafe { asm!("msr daifset, #0xf", "wfi") };
        }
    }
    crate::mmu::user_walks_off();
    irq::init_cpu(cpu as usize);
    timer::init_cpu();
    ONLINE.fetch_add(1, Ordering::Release);
    crate::trap::enter_user_mode()
}
