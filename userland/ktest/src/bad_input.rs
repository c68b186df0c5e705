//! Bad input from user mode that only machine code can give: undefined and
//! privileged instructions, breakpoints, pointers into the kernel half and
//! outside the canonical range, stacks there or misaligned. Each runs in a
//! child (ktest's mode `MODE_BAD_INPUT`, the case in bits 8-15); each must
//! reach the child's supervisor as a fault message of the expected kind (and,
//! on x86_64, vector), be survived, and leave the kernel running.

#[cfg(not(target_arch = "wasm32"))]
use core::arch::asm;
#[cfg(not(target_arch = "wasm32"))]
use libzos::abi::fault;

/// One case: its name, the fault kind it must give, and on x86_64 the
/// exception vector (the syndrome's upper half; on AArch64 the ESR's class).
///
/// AArch64's misaligned stack is a 16-byte exclusive load pair through an SP
/// 8 bytes off: QEMU does not implement the SP alignment check
/// (SCTLR_EL1.SA0), but a misaligned exclusive access faults everywhere.
pub struct Case {
    pub name: &'static str,
    pub kind: u64,
    /// Acceptable classes (QEMU raises #GP where hardware raises #SS).
    pub classes: &'static [u64],
    /// The fault address the message must carry, where one is defined.
    pub address: Option<u64>,
}

#[cfg(target_arch = "x86_64")]
pub const CASES: &[Case] = &[
    Case {
        name: "ud2",
        kind: fault::UNDEFINED_INSTRUCTION,
        classes: &[6],
        address: None,
    },
    Case {
        name: "int3",
        kind: fault::OTHER,
        classes: &[3],
        address: None,
    },
    Case {
        name: "hlt (privileged)",
        kind: fault::OTHER,
        classes: &[13],
        address: None,
    },
    Case {
        name: "non-canonical read",
        kind: fault::OTHER,
        classes: &[13],
        address: None,
    },
    Case {
        name: "kernel-half read",
        kind: fault::DATA_ABORT,
        classes: &[14],
        address: Some(KERNEL_HALF),
    },
    Case {
        name: "stack in the kernel half",
        kind: fault::DATA_ABORT,
        classes: &[14],
        address: Some(KERNEL_HALF - 8),
    },
    Case {
        name: "non-canonical stack",
        kind: fault::OTHER,
        classes: &[12, 13],
        address: None,
    },
    Case {
        name: "misaligned stack",
        kind: fault::OTHER,
        classes: &[13],
        address: None,
    },
];

#[cfg(target_arch = "aarch64")]
pub const CASES: &[Case] = &[
    Case {
        name: "udf",
        kind: fault::UNDEFINED_INSTRUCTION,
        classes: &[0x00],
        address: None,
    },
    Case {
        name: "brk",
        kind: fault::OTHER,
        classes: &[0x3c],
        address: None,
    },
    Case {
        name: "mrs sctlr_el1 (privileged)",
        kind: fault::UNDEFINED_INSTRUCTION,
        classes: &[0x00],
        address: None,
    },
    Case {
        name: "non-canonical read",
        kind: fault::DATA_ABORT,
        classes: &[0x24],
        address: Some(NON_CANONICAL),
    },
    Case {
        name: "kernel-half read",
        kind: fault::DATA_ABORT,
        classes: &[0x24],
        address: Some(KERNEL_HALF),
    },
    Case {
        name: "stack in the kernel half",
        kind: fault::DATA_ABORT,
        classes: &[0x24],
        address: Some(KERNEL_HALF - 16),
    },
    Case {
        name: "non-canonical stack",
        kind: fault::DATA_ABORT,
        classes: &[0x24],
        address: Some(NON_CANONICAL - 16),
    },
    Case {
        name: "misaligned stack",
        kind: fault::ALIGNMENT,
        classes: &[0x24, 0x26],
        address: None,
    },
];

/// The browser port has no machine code to misuse: its processes' traps
/// (unreachable, out-of-bounds) are tested by tests/browser/host.mjs.
#[cfg(target_arch = "wasm32")]
pub const CASES: &[Case] = &[];

#[cfg(target_arch = "x86_64")]
const KERNEL_HALF: u64 = 0xFFFF_8000_0010_0000;
#[cfg(target_arch = "x86_64")]
const NON_CANONICAL: u64 = 0x8000_0000_0010_0000;
#[cfg(target_arch = "aarch64")]
const KERNEL_HALF: u64 = 0xFFFF_0000_0010_0000;
#[cfg(target_arch = "aarch64")]
const NON_CANONICAL: u64 = 0x0010_0000_0010_0000;

/// The exception class of a fault message's syndrome word.
pub fn class_of(syndrome: u64) -> u64 {
    if cfg!(target_arch = "x86_64") {
        syndrome >> 32
    } else {
        (syndrome >> 26) & 0x3f
    }
}

/// Runs case `index` (in the child): it must not come back.
pub fn run(index: u64) -> i64 {
    #[cfg(target_arch = "wasm32")]
    let _ = index;
    // SAFETY (every arm): deliberately invalid. Each instruction faults in
    // user mode on purpose, and the process is killed by its supervisor
    // before anything runs after it; no Rust state is relied on afterwards.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        match index {
            0 => asm!("ud2", options(noreturn)),
            1 => asm!("int3", "ud2", options(noreturn)),
            2 => asm!("hlt", "ud2", options(noreturn)),
            3 => asm!("mov rax, [{0}]", "ud2", in(reg) NON_CANONICAL, options(noreturn)),
            4 => asm!("mov rax, [{0}]", "ud2", in(reg) KERNEL_HALF, options(noreturn)),
            5 => asm!("mov rsp, {0}", "push rax", "ud2", in(reg) KERNEL_HALF, options(noreturn)),
            6 => asm!("mov rsp, {0}", "push rax", "ud2", in(reg) NON_CANONICAL, options(noreturn)),
            7 => asm!(
                "and rsp, -16",
                "sub rsp, 8",
                "movaps [rsp], xmm0",
                "ud2",
                options(noreturn)
            ),
            _ => {}
        }
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        match index {
            0 => asm!("udf #0", options(noreturn)),
            1 => asm!("brk #0", "udf #0", options(noreturn)),
            2 => asm!("mrs x0, sctlr_el1", "udf #0", options(noreturn)),
            3 => asm!("ldr x0, [{0}]", "udf #0", in(reg) NON_CANONICAL, options(noreturn)),
            4 => asm!("ldr x0, [{0}]", "udf #0", in(reg) KERNEL_HALF, options(noreturn)),
            5 => {
                asm!("mov sp, {0}", "str x0, [sp, #-16]!", "udf #0", in(reg) KERNEL_HALF, options(noreturn))
            }
            6 => {
                asm!("mov sp, {0}", "str x0, [sp, #-16]!", "udf #0", in(reg) NON_CANONICAL, options(noreturn))
            }
            7 => asm!(
                "mov x0, sp",
                "and x0, x0, #-16",
                "add x0, x0, #8",
                "mov sp, x0",
                "ldxp x1, x2, [sp]",
                "udf #0",
                options(noreturn)
            ),
            _ => {}
        }
    }
    1
}

/// Spawns every case with a fault endpoint and checks the fault message
/// each one gives; the supervisor (ktest) then kills the child.
pub fn test() {
    let Ok(faults) = libzos::sys::endpoint_create() else {
        return crate::check("bad input: fault endpoint", false);
    };
    let mut survived = 0;
    for (index, case) in CASES.iter().enumerate() {
        let mode = crate::MODE_BAD_INPUT | (index as u64) << 8;
        let Some((process, exited)) = crate::spawn_mode(mode, faults) else {
            crate::check("bad input: spawn", false);
            continue;
        };
        let words = libzos::sys::ipc_recv(faults)
            .ok()
            .filter(|m| m.info.label == libzos::abi::labels::FAULT && m.badge == 5)
            .map(|m| m.words);
        let ok = words.is_some_and(|w| {
            w[0] == case.kind
                && case.classes.contains(&class_of(w[3]))
                && case.address.is_none_or(|a| w[1] == a)
        });
        if !ok {
            libzos::println!("ktest: bad input: {}: fault message {words:x?}", case.name);
        }
        crate::check(case.name, ok);
        let killed = libzos::sys::process_kill(process).is_ok();
        let status = crate::finish(process, exited);
        crate::check(case.name, killed && status.is_some_and(|s| s[0] == 2));
        survived += u32::from(ok && killed);
    }
    let _ = libzos::sys::cap_delete(faults);
    libzos::println!(
        "ktest: bad input: {survived}/{} cases faulted only their own process",
        CASES.len()
    );
}
