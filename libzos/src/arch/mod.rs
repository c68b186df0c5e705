//! The few instructions libzos needs that differ per architecture: the syscall
//! instruction with its register convention (written down in `zos-abi`), the
//! thread pointer register and the ELF machine of this architecture's programs.
//! Everything else in libzos is portable.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "wasm32")]
mod wasm32;
#[cfg(target_arch = "wasm32")]
pub use wasm32::*;
