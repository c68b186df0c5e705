//! Memory copy and fill routines for AArch64: `memcpy`, `memmove` and
//! `memset`, linked into the kernel and every Rust user program in place of
//! the generic ones from `compiler_builtins`.
//!
//! Why: our AArch64 targets compile for strict alignment, so the generic
//! `memcpy` moves 8 bytes per four instructions when both pointers share an
//! alignment and builds each word from single bytes (about 21 instructions
//! per 8 bytes) when they do not, which is the common case for message
//! payloads behind a postcard header. These routines move 64 bytes per loop
//! (and up to 64 bytes as a head and a tail that may overlap) with unaligned
//! `ldp`/`stp` pairs, which AArch64 allows on Normal memory
//! with `SCTLR_EL1.A` clear (boot.S leaves it clear for EL1 and EL0). They use
//! only general-purpose registers: the kernel is built soft-float and never
//! touches FP/SIMD state.
//!
//! `memcmp` and `bcmp` ([`compare`]) are ours on AArch64 and x86_64 alike:
//! short comparisons dominate, and the generic ones are slow at those.
//!
//! On every other target (the host, wasm, the musl targets whose libc has
//! its own) the crate exports nothing; the host builds it for its tests.
#![no_std]
// The compiler must not turn the comparison loop back into a `memcmp` call.
#![no_builtins]

#[cfg(test)]
extern crate std;

pub mod compare;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(include_str!("mem.S"));
