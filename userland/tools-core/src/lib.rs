//! The pure logic of the Zero OS tools (the `zbox` multi-call binary): option
//! parsing, the tool table, `echo` escapes, `yes` buffering, `sleep` durations,
//! `head` and `wc` counting, signal names for `kill`, `env` argument handling,
//! the tables `ps`, `svc`, `free`, `uptime` and `uname` print, and the file
//! tools' logic: modes and `ls -l` rows, `stat` reports, `od`/`hexdump`
//! formatting, `grep`'s regular expressions, `find`'s tests, `tail`'s buffer,
//! the `df` table, path joining and the command lines of `cp`, `mv`, `rm`, ...
//!
//! Nothing here makes a system call, so all of it is tested on the host; the
//! binary in `userland/tools` wires it to `libzos::posix`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod axiom;
pub mod cksum;
pub mod dd;
pub mod df;
pub mod dispatch;
pub mod dump;
pub mod echo;
pub mod env;
pub mod failure;
pub mod file_options;
pub mod find;
pub mod fstab;
pub mod getopt;
pub mod grep;
pub mod head;
pub mod http;
pub mod ls;
pub mod lsdev;
pub mod mode;
pub mod net;
pub mod path;
pub mod printf;
pub mod regex;
pub mod report;
pub mod script_tools;
pub mod signal;
pub mod sleep;
pub mod stat;
pub mod tail;
pub mod test_expr;
pub mod uname;
pub mod wc;
pub mod yes;

pub use failure::{Failure, UsageError};
