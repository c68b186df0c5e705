//! The `ucontext_t` an `SA_SIGINFO` handler gets as its third argument, in
//! musl's layout for each architecture, made from the registers libzos
//! saved when it redirected the main thread (`deliver.rs`) and copied back
//! after the handler: a handler that changes `uc_mcontext` (skips the
//! faulting instruction, say) changes where the thread goes on.
//!
//! A handler run as a call returns (no interrupted registers: a signal the
//! program raised, or one that came while it was inside libzos) gets one
//! whose registers are zero and whose changes are dropped.

use zos_abi::registers::USER_REGISTERS;

/// musl's AArch64 `ucontext_t`: `uc_flags`, `uc_link`, `uc_stack` (3
/// words), `uc_sigmask` (128 bytes), then at byte 176 `uc_mcontext`:
/// `fault_address`, x0–x30, sp, pc, pstate (the same order as
/// `abi::registers`), 4 KiB of `__reserved` (16-byte aligned, at 464).
#[cfg(target_arch = "aarch64")]
mod layout {
    pub const WORDS: usize = 4560 / 8;
    pub const SIGMASK: usize = 5;
    pub const FAULT_ADDRESS: usize = 22;
    /// Where `abi::registers` index 0 goes; the 34 of them follow in order.
    pub const REGISTERS: usize = 23;
    /// `uc_mcontext.gregs` index of each `abi::registers` index: the same.
    pub const ORDER: [usize; 34] = {
        let mut order = [0; 34];
        let mut i = 0;
        while i < 34 {
            order[i] = i;
            i += 1;
        }
        order
    };
    /// No pointer to FP/SIMD state in this layout.
    pub const FP_POINTER: Option<usize> = None;
}

/// musl's x86_64 `ucontext_t`: `uc_flags`, `uc_link`, `uc_stack`, then at
/// byte 40 `uc_mcontext`: `gregs[23]` (r8–r15, rdi, rsi, rbp, rbx, rdx,
/// rax, rcx, rsp, rip, eflags, csgsfs, err, trapno, oldmask, cr2), the
/// `fpregs` pointer, 8 reserved words; `uc_sigmask` at byte 296 and 512
/// bytes of `__fpregs_mem`.
#[cfg(not(target_arch = "aarch64"))]
mod layout {
    pub const WORDS: usize = 936 / 8;
    pub const SIGMASK: usize = 37;
    /// `gregs[REG_CR2]`.
    pub const FAULT_ADDRESS: usize = 5 + 22;
    pub const REGISTERS: usize = 5;
    /// The `gregs` index of each `abi::registers::x86_64` index (rax rbx
    /// rcx rdx rsi rdi rbp rsp r8–r15 rip rflags).
    pub const ORDER: [usize; 18] = [13, 11, 14, 12, 9, 8, 10, 15, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17];
    /// `uc_mcontext.fpregs`: the `fxsave` image in the signal frame.
    pub const FP_POINTER: Option<usize> = Some(28);
}

/// A `ucontext_t` as words.
#[repr(C, align(16))]
pub(super) struct Ucontext {
    words: [u64; layout::WORDS],
}

impl Ucontext {
    /// One for `registers` (none: zeros), the blocked mask while the
    /// handler runs, the fault address (0 for a signal that is no fault)
    /// and the saved FP/SIMD image (0: none).
    pub(super) fn new(
        registers: Option<&[u64; USER_REGISTERS]>,
        mask: u64,
        fault_address: u64,
        fp_image: u64,
    ) -> Self {
        let mut context = Ucontext {
            words: [0; layout::WORDS],
        };
        if let Some(registers) = registers {
            for (index, &greg) in layout::ORDER.iter().enumerate() {
                context.words[layout::REGISTERS + greg] = registers[index];
            }
        }
        context.words[layout::SIGMASK] = mask;
        context.words[layout::FAULT_ADDRESS] = fault_address;
        if let Some(at) = layout::FP_POINTER {
            context.words[at] = fp_image;
        }
        context
    }

    /// The handler's third argument.
    pub(super) fn as_mut_ptr(&mut self) -> *mut u64 {
        self.words.as_mut_ptr()
    }

    /// The blocked mask the handler left for after its return.
    pub(super) fn mask(&self) -> u64 {
        self.words[layout::SIGMASK]
    }

    /// The registers as the handler left them (the kernel keeps what user
    /// mode may not choose when they are loaded).
    pub(super) fn registers(&self, into: &mut [u64; USER_REGISTERS]) {
        for (index, &greg) in layout::ORDER.iter().enumerate() {
            into[index] = self.words[layout::REGISTERS + greg];
        }
    }
}
