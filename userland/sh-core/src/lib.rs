//! The Zero OS shell's pure logic: everything `sh` decides without touching a
//! descriptor or a process, so it can be unit-tested on the host.
//!
//! - [`editor`]: the line editor as a byte-at-a-time state machine;
//! - [`completion`]: Tab completion candidates and listing;
//! - [`history`]: numbered command history;
//! - [`jobs`]: the job table, job specs (`%N`) and `Done` reports;
//! - [`vars`]: shell variables, exports and the expansion environment;
//! - [`builtins`]: built-in names, `getopts` stepping, `read` splitting;
//! - [`input`]: splitting plain (non-terminal) input into bounded lines;
//! - [`prompt`] and [`command_path`]: prompts and `$PATH` candidates.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod builtins;
pub mod command_path;
pub mod completion;
pub mod editor;
pub mod history;
pub mod input;
pub mod jobs;
pub mod prompt;
pub mod vars;

/// Longest line (and script) the shell accepts, in bytes.
pub const MAX_LINE_BYTES: usize = zos_sh_syntax::MAX_INPUT_LEN;
