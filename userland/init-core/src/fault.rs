//! Which signal a user fault is, as POSIX and Linux name it.
//!
//! The kernel reports a fault of a program init started as a message to
//! init (kind, address, pc and the architecture's syndrome word: the ESR on
//! AArch64, vector and error code on x86_64). init either hands it to the
//! program's handler for that signal or ends the program as killed by it;
//! both need the signal and its `si_code`, decided here.

use zos_abi::fault::{ALIGNMENT, DATA_ABORT, INSTRUCTION_ABORT, UNDEFINED_INSTRUCTION};
use zos_proto::proc::signal::{SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};

/// `si_code` values (Linux's): an address not mapped, or mapped without
/// the access; the generic "the first reason" of the other signals.
pub const SEGV_MAPERR: u32 = 1;
pub const SEGV_ACCERR: u32 = 2;
/// BUS_ADRALN, ILL_ILLOPC, TRAP_BRKPT, FPE_INTDIV: each signal's code 1.
pub const FIRST_CODE: u32 = 1;

/// The machine a fault came from: its syndrome word reads differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    Aarch64,
    X86_64,
}

/// The signal and `si_code` of a fault of `kind` with `syndrome`.
pub fn signal_of(machine: Machine, kind: u64, syndrome: u64) -> (u32, u32) {
    match (kind, machine) {
        (DATA_ABORT | INSTRUCTION_ABORT, _) if permission_fault(machine, syndrome) => {
            (SIGSEGV, SEGV_ACCERR)
        }
        (DATA_ABORT | INSTRUCTION_ABORT, _) => (SIGSEGV, SEGV_MAPERR),
        (ALIGNMENT, _) => (SIGBUS, FIRST_CODE),
        (UNDEFINED_INSTRUCTION, _) => (SIGILL, FIRST_CODE),
        // x86_64 vectors: 0 divide error, 1 debug, 3 int3, 16 x87 and 19
        // SIMD floating point; 13 (a privileged instruction) and the rest
        // are SIGSEGV, as on Linux.
        (_, Machine::X86_64) => match syndrome >> 32 {
            0 | 16 | 19 => (SIGFPE, FIRST_CODE),
            1 | 3 => (SIGTRAP, FIRST_CODE),
            _ => (SIGSEGV, FIRST_CODE),
        },
        // AArch64 exception classes: 0x3C BRK (`__builtin_trap`), 0x2C a
        // trapped floating-point exception.
        (_, Machine::Aarch64) => match (syndrome >> 26) & 0x3f {
            0x3C => (SIGTRAP, FIRST_CODE),
            0x2C => (SIGFPE, FIRST_CODE),
            _ => (SIGSEGV, FIRST_CODE),
        },
    }
}

/// Whether an abort found the page mapped but not for that access (AArch64:
/// a permission fault status, 0b0011xx; x86_64: error code bit 0, P).
fn permission_fault(machine: Machine, syndrome: u64) -> bool {
    match machine {
        Machine::Aarch64 => syndrome & 0x3c == 0x0c,
        Machine::X86_64 => syndrome & 1 != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aborts_are_sigsegv_with_the_reason() {
        // AArch64 ESR: data abort from EL0 (EC 0x24), translation fault
        // level 3 (0x07) and permission fault level 3 (0x0f), WnR set.
        let translation = 0x24 << 26 | 1 << 6 | 0x07;
        let permission = 0x24 << 26 | 1 << 6 | 0x0f;
        let arm = Machine::Aarch64;
        assert_eq!(
            signal_of(arm, DATA_ABORT, translation),
            (SIGSEGV, SEGV_MAPERR)
        );
        assert_eq!(
            signal_of(arm, DATA_ABORT, permission),
            (SIGSEGV, SEGV_ACCERR)
        );
        // x86_64: vector 14 with error code 0x6 (write, user, not present)
        // and 0x7 (present: a protection violation).
        let x86 = Machine::X86_64;
        assert_eq!(
            signal_of(x86, DATA_ABORT, 14 << 32 | 6),
            (SIGSEGV, SEGV_MAPERR)
        );
        assert_eq!(
            signal_of(x86, DATA_ABORT, 14 << 32 | 7),
            (SIGSEGV, SEGV_ACCERR)
        );
        assert_eq!(
            signal_of(x86, INSTRUCTION_ABORT, 14 << 32 | 0x15).0,
            SIGSEGV
        );
    }

    #[test]
    fn other_faults_are_their_own_signals() {
        let (arm, x86) = (Machine::Aarch64, Machine::X86_64);
        assert_eq!(signal_of(arm, UNDEFINED_INSTRUCTION, 0).0, SIGILL);
        assert_eq!(signal_of(x86, UNDEFINED_INSTRUCTION, 6 << 32).0, SIGILL);
        assert_eq!(signal_of(arm, ALIGNMENT, 0x26 << 26).0, SIGBUS);
        assert_eq!(signal_of(arm, 5, 0x3C << 26 | 1000).0, SIGTRAP);
        assert_eq!(signal_of(x86, 5, 3 << 32).0, SIGTRAP);
        assert_eq!(signal_of(x86, 5, 0).0, SIGFPE);
        assert_eq!(signal_of(x86, 5, 13 << 32).0, SIGSEGV);
        assert_eq!(signal_of(arm, 5, 0x2C << 26).0, SIGFPE);
        assert_eq!(signal_of(arm, 5, 0x0E << 26).0, SIGSEGV);
    }
}
