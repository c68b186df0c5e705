//! The pure logic of the Zero OS tools (the `zbox` multi-call binary): option
//! parsing, the tool table, `echo` escapes, `yes` buffering, `sleep` durations,
//! `head` and `wc` counting, signal names for `kill`, `env` argument handling and
//! the tables `ps`, `svc`, `free`, `uptime` and `uname` print.
//!
//! Nothing here makes a system call, so all of it is tested on the host; the
//! binary in `userland/tools` wires it to `libzos::posix`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod dispatch;
pub mod echo;
pub mod env;
pub mod failure;
pub mod getopt;
pub mod head;
pub mod report;
pub mod signal;
pub mod sleep;
pub mod uname;
pub mod wc;
pub mod yes;

pub use failure::{Failure, UsageError};
