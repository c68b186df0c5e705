//! The line discipline the console applies to typed input.
//!
//! The logic lives in the `zos-tty-core` library so it is tested on the host
//! (`cargo test -p zos-tty-core`); this module is the console's view of it.

pub use zos_tty_core::discipline::{Event, LineDiscipline};
pub use zos_tty_core::Termios;
