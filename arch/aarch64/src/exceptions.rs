//! Exception handling: the Rust side of `vectors.S`.
//!
//! IRQs go to the interrupt dispatcher. Any synchronous exception, FIQ or SError
//! the kernel did not expect prints a decoded report (exception class, ESR, FAR,
//! ELR, SPSR and all registers) and stops the machine — never a silent hang.

use core::arch::{asm, global_asm};
use core::fmt::Write;

global_asm!(include_str!("vectors.S"));

/// Registers saved on every exception entry; layout shared with `vectors.S`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub sp_el0: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 272);

/// Name of an ESR_EL1 exception class.
pub fn exception_class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "Unknown reason (undefined instruction)",
        0x01 => "Trapped WFI/WFE",
        0x07 => "Access to SIMD/FP trapped",
        0x0e => "Illegal execution state",
        0x15 => "SVC from AArch64",
        0x16 => "HVC from AArch64",
        0x17 => "SMC from AArch64",
        0x18 => "Trapped MSR/MRS/system instruction",
        0x20 => "Instruction abort from a lower EL",
        0x21 => "Instruction abort at the current EL",
        0x22 => "PC alignment fault",
        0x24 => "Data abort from a lower EL",
        0x25 => "Data abort at the current EL",
        0x26 => "SP alignment fault",
        0x2c => "Floating-point exception",
        0x2f => "SError interrupt",
        0x30 | 0x31 => "Breakpoint",
        0x32 | 0x33 => "Software step",
        0x34 | 0x35 => "Watchpoint",
        0x3c => "BRK instruction",
        _ => "Reserved or unhandled exception class",
    }
}

/// Describes the fault status code of an abort (ISS[5:0]).
pub fn fault_status_name(fsc: u64) -> &'static str {
    match fsc {
        0x00..=0x03 => "address size fault",
        0x04..=0x07 => "translation fault",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        _ => "other fault",
    }
}

fn source_name(kind: u64) -> &'static str {
    match kind / 4 {
        0 => "EL1 on SP_EL0",
        2 => "EL1",
        3 => "EL0",
        _ => "EL0 in AArch32",
    }
}

pub fn read_esr() -> u64 {
    let esr: u64;
    // SAFETY: reading a system register has no side effects.
    unsafe { asm!("mrs {}, esr_el1", out(reg) esr) };
    esr
}

pub fn read_far() -> u64 {
    let far: u64;
    // SAFETY: reading a system register has no side effects.
    unsafe { asm!("mrs {}, far_el1", out(reg) far) };
    far
}

struct Emergency;

impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        crate::console::write_emergency(s.as_bytes());
        Ok(())
    }
}

/// Prints the decoded report of an unexpected exception.
pub fn report(frame: &TrapFrame, kind: u64) {
    let esr = read_esr();
    let far = read_far();
    let ec = (esr >> 26) & 0x3f;
    let mut out = Emergency;
    let _ = writeln!(
        out,
        "\n*** UNEXPECTED EXCEPTION ({} from {}) ***",
        sync_or_kind(kind),
        source_name(kind)
    );
    let _ = writeln!(out, "class: {:#04x} {}", ec, exception_class_name(ec));
    if matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
        let fsc = esr & 0x3f;
        let level = fsc & 0x3;
        let access = if ec >= 0x24 && esr & (1 << 6) != 0 {
            "write"
        } else {
            "read"
        };
        let _ = writeln!(
            out,
            "fault: {} level {} on {} of {:#018x}",
            fault_status_name(fsc),
            level,
            access,
            far
        );
    }
    let _ = writeln!(
        out,
        "ESR={:#018x} FAR={:#018x} ELR={:#018x} SPSR={:#018x} SP_EL0={:#018x}",
        esr, far, frame.elr, frame.spsr, frame.sp_el0
    );
    for row in 0..8 {
        let mut line = heapless_line();
        for col in 0..4 {
            let reg = row * 4 + col;
            if reg < 31 {
                let _ = write!(line, "x{:<2}={:#018x} ", reg, frame.x[reg]);
            }
        }
        let _ = writeln!(out, "{}", line.as_str());
    }
}

fn sync_or_kind(kind: u64) -> &'static str {
    match kind % 4 {
        0 => "synchronous",
        1 => "IRQ",
        2 => "FIQ",
        _ => "SError",
    }
}

/// A small fixed buffer for composing one report line without a heap.
struct Line {
    buf: [u8; 128],
    len: usize,
}

fn heapless_line() -> Line {
    Line {
        buf: [0; 128],
        len: 0,
    }
}

impl Line {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Entry for exceptions taken while in the kernel (EL1).
#[no_mangle]
extern "C" fn handle_kernel_trap(frame: &mut TrapFrame, kind: u64) {
    if kind % 4 == 1 {
        crate::trap::kernel_irq();
        return;
    }
    report(frame, kind);
    crate::stop_machine("unexpected exception in the kernel");
}

/// Entry from the vectors when a kernel exception found SP below the
/// bottom of its stack (vectors.S): runs on the slot's overflow stack.
/// The registers are lost (no frame could be pushed); ELR, FAR and ESR
/// say where the kernel was and what it touched.
#[no_mangle]
extern "C" fn handle_kernel_stack_overflow() -> ! {
    let elr: u64;
    // SAFETY: reading a system register has no side effects.
    unsafe { asm!("mrs {}, elr_el1", out(reg) elr) };
    let (esr, far) = (read_esr(), read_far());
    let _ = writeln!(
        Emergency,
        "\n*** KERNEL STACK OVERFLOW on CPU {} ***\n\
         ESR={esr:#018x} FAR={far:#018x} ELR={elr:#018x} (the {} KiB stack ends at {:#018x})",
        crate::smp::cpu_id(),
        crate::smp::STACK_BYTES / 1024,
        (crate::smp::this() as *const _ as u64 & !(crate::smp::SLOT_BYTES - 1))
            + crate::smp::STACK_BYTES,
    );
    crate::stop_machine("kernel stack overflow")
}

/// Entry for exceptions taken from user mode (EL0): resumes the thread the
/// core picks. It never returns, so the compiler need not keep the
/// registers a C caller expects kept (the user's are in the frame already).
#[no_mangle]
extern "C" fn handle_user_trap(_frame: &mut TrapFrame, kind: u64) -> ! {
    crate::smp::left_user();
    crate::trap::resume(crate::trap::user_trap(kind))
}
