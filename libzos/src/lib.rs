//! libzos: the Zero OS userspace runtime.
//!
//! Layers, bottom up: [`sys`] (raw syscalls, one function each), [`rt`] (process
//! start-up, heap, panic, debug output) and [`loader`] (building a child process
//! from an ELF file), [`ipc`] (protocol messages), [`posix`] (descriptors,
//! processes, environment) and [`fs`] (the file API over the VFS service);
//! [`poll`] is how `poll` waits (readiness watches, docs/userland.md).
#![no_std]

extern crate alloc;
// The AArch64 memcpy/memmove/memset (linked for their symbols alone).
extern crate zos_mem;

pub mod affinity;
mod arch;
pub mod block;
pub mod fs;
pub mod ipc;
pub mod job_control;
// The Linux-syscall dispatcher serves C programs (musl), which the browser
// port does not run (docs/browser.md).
#[cfg(not(target_arch = "wasm32"))]
pub mod linux;
pub mod loader;
pub mod net;
mod pipe;
pub mod poll;
pub mod posix;
pub mod rt;
pub mod sys;
pub mod thread;
pub mod tty;

pub use zos_abi as abi;
pub use zos_proto as proto;
