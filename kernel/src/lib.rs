//! Zero OS portable kernel core.
//!
//! Everything here is architecture independent: it builds for the bare-metal targets,
//! for the host (where its unit tests run against a host backend of the arch
//! interface) and for `wasm32-unknown-unknown`. Architecture code reaches the core
//! only through the [`arch`] interface.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod audit;
pub mod cap;
/// The physical frame allocator (crate `zos-frames`): a bitmap, and the
/// owner counts of frames shared copy-on-write.
pub use zos_frames as frame;
pub mod handlers;
#[cfg(test)]
mod hostarch;
pub mod ipc;
pub mod kernel;
/// The kernel log ring (crate `zos-klog`), which `LogRead`/`LogBind` serve.
pub use zos_klog as klog;
#[cfg(test)]
mod kernel_tests;
pub mod object;
pub mod sched;
pub mod syscall;
pub mod trap;
pub mod usercopy;

/// Size of a page and of a physical frame, in bytes.
pub const PAGE_SIZE: usize = 4096;

/// What the core's operations return: a value, or the error code a syscall
/// reports (`std::io::Result` style; another error type can be named).
pub type Result<T = (), E = syscall::SysError> = core::result::Result<T, E>;

/// `Ok` when `condition` holds, else `Err(error)`: an argument check in one line.
pub fn ensure(condition: bool, error: syscall::SysError) -> Result {
    condition.then_some(()).ok_or(error)
}
