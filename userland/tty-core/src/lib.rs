//! Zero OS terminal core: the pure logic the console server wraps.
//!
//! [`discipline`] turns the bytes typed on a terminal into what readers get
//! (lines in canonical mode, bytes in raw mode) plus what is echoed back and
//! which terminal events (Ctrl-C) happened; [`pty`] is one pseudo-terminal
//! pair built on that same discipline. There is no IPC, no device access
//! and no system call here, so all of it is tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod discipline;
pub mod pty;

pub use discipline::{Event, LineDiscipline};
pub use zos_proto::io::Termios;
