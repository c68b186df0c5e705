//! The IDT, the trap frame every entry stub builds (`entry.S`), and reports of
//! exceptions taken in the kernel (vector, error code, CR2, RIP, registers).

use crate::{console, cpu, stop_machine};
use core::fmt::Write;

/// Registers saved on every trap, lowest address first (see `entry.S`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector number (256 for `syscall`).
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 176);

/// The vector `entry.S` gives a `syscall`.
pub const SYSCALL_VECTOR: u64 = 256;
/// First vector of the (remapped) legacy interrupt controller.
pub const IRQ_BASE: u64 = 32;
/// Vectors 0–31 are exceptions; this many interrupt lines follow: the 16 ISA
/// lines, then the IOAPIC's PCI inputs, GSI 16–23 (q35's PIRQ A–H).
pub const IRQ_COUNT: u64 = 24;

const NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved",
];

/// Name of an exception vector.
pub fn name(vector: u64) -> &'static str {
    NAMES.get(vector as usize).copied().unwrap_or("interrupt")
}

#[repr(C, align(16))]
struct Idt([u64; 512]);
static mut IDT: Idt = Idt([0; 512]);

extern "C" {
    static trap_vectors: u8;
}

/// Points all 256 IDT entries at their stubs; int3 may be raised from user
/// mode (DPL 3), the double fault runs on its own stack (IST 1).
pub fn init_idt() {
    // SAFETY: boot, one CPU; the IDT is a static that lives forever.
    unsafe {
        let base = &raw const trap_vectors as u64;
        let idt = &raw mut IDT;
        for vector in 0..256u64 {
            let handler = base + vector * 16;
            let dpl: u64 = if vector == 3 { 3 } else { 0 };
            let ist: u64 = if vector == 8 { 1 } else { 0 };
            // interrupt gate (type 0xE), present
            let low = (handler & 0xffff)
                | ((cpu::KERNEL_CS as u64) << 16)
                | (ist << 32)
                | ((0x8E | (dpl << 5)) << 40)
                | (((handler >> 16) & 0xffff) << 48);
            (*idt).0[vector as usize * 2] = low;
            (*idt).0[vector as usize * 2 + 1] = handler >> 32;
        }
    }
    load_idt();
}

/// Makes the (shared, read-only after boot) IDT this CPU's.
pub fn load_idt() {
    // SAFETY: the IDT is a static that lives forever, filled by `init_idt`
    // before any CPU loads it.
    unsafe {
        x86_64::instructions::tables::lidt(&x86_64::structures::DescriptorTablePointer {
            limit: (256 * 16 - 1) as u16,
            base: x86_64::VirtAddr::new(&raw const IDT as u64),
        });
    }
}

/// CR2: the address of the last page fault.
pub fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr2", out(reg) value, options(nomem, nostack)) };
    value
}

struct Emergency;
impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        console::write_emergency(s.as_bytes());
        Ok(())
    }
}

/// Prints an exception report: vector, error code, CR2, RIP and registers.
pub fn report(frame: &TrapFrame, from: &str) {
    let mut out = Emergency;
    let f = frame;
    let _ = write!(
        out,
        "\n*** {from} exception: vector {} ({}), error code {:#x}\n    rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}\n    cr2 {:#018x}\n",
        f.vector,
        name(f.vector),
        f.error,
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        f.ss,
        read_cr2()
    );
    let regs = [
        ("rax", f.rax),
        ("rbx", f.rbx),
        ("rcx", f.rcx),
        ("rdx", f.rdx),
        ("rsi", f.rsi),
        ("rdi", f.rdi),
        ("rbp", f.rbp),
        ("r8", f.r8),
        ("r9", f.r9),
        ("r10", f.r10),
        ("r11", f.r11),
        ("r12", f.r12),
        ("r13", f.r13),
        ("r14", f.r14),
        ("r15", f.r15),
    ];
    for (i, (reg, value)) in regs.iter().enumerate() {
        let end = if i % 4 == 3 || i + 1 == regs.len() {
            "\n"
        } else {
            "  "
        };
        let _ = write!(out, "    {reg:>3} {value:#018x}{end}");
    }
}

/// A trap taken in ring 0: an interrupt while the kernel idles, or a kernel
/// exception (fatal: reported, then the machine stops).
#[no_mangle]
extern "C" fn handle_kernel_trap(frame: &mut TrapFrame) {
    if frame.vector == crate::apic::SPURIOUS_VECTOR {
        return;
    }
    // A wake-up while idle: the idle loop looks for work when this returns.
    if frame.vector == crate::smp::WAKE_VECTOR {
        crate::apic::end_of_interrupt();
        return;
    }
    if (IRQ_BASE..IRQ_BASE + IRQ_COUNT).contains(&frame.vector) {
        crate::irq::set_pending(frame.vector);
        crate::trap::kernel_irq();
        return;
    }
    zos_klog::flush_unprinted();
    report(frame, "kernel");
    // A double fault (run on its own stack, IST 1) whose page fault was at
    // the stack pointer: the kernel stack ran into its guard page and the
    // CPU could not push the page fault's frame.
    let cr2 = read_cr2();
    if frame.vector == 8 && frame.rsp.abs_diff(cr2) < 4096 {
        let cpu = crate::smp::this().id();
        let _ = writeln!(Emergency, "*** KERNEL STACK OVERFLOW on CPU {cpu} ***");
        stop_machine("kernel stack overflow")
    }
    stop_machine("unexpected exception in the kernel")
}
