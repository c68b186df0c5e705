//! The syscall ABI shared with `libzos` lives in its own crate, `zos-abi`; the
//! core names it `crate::syscall`.

pub use zos_abi::*;

/// A syscall's six argument registers.
pub type Args = [u64; 6];
