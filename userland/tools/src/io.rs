//! Standard streams for the tools: writing that turns a broken pipe into a quiet
//! exit, reading, and opening inputs named on the command line (only `-`,
//! standard input, until the VFS exists).

use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use libzos::posix::{self, Errno, Fd};
use libzos::rt::DebugOut;
use zos_proto::errno::{EBADF, ENOSYS, EPIPE};
use zos_tools_core::failure::EXIT_ERROR;
use zos_tools_core::Failure;

pub const STDIN: Fd = 0;
pub const STDOUT: Fd = 1;

/// Writes all of `bytes` to standard output. A reader that went away ends the
/// tool quietly (POSIX tools die of SIGPIPE there, which libzos also raises).
/// A process started without descriptors (`init.run=zbox`) writes to the
/// debug console instead, as `println!` does.
pub fn write_out(bytes: &[u8]) -> Result<(), Failure> {
    match posix::write_all(STDOUT, bytes) {
        Ok(()) => Ok(()),
        Err(Errno(EPIPE)) => Err(Failure::Exit(EXIT_ERROR)),
        Err(Errno(EBADF)) if posix::descriptors().is_empty() => {
            let _ = DebugOut.write_str(&String::from_utf8_lossy(bytes));
            Ok(())
        }
        Err(error) => Err(Failure::Error(format!("write error: {}", error.describe()))),
    }
}

/// How an input is named in messages.
pub fn display_name(operand: &str) -> &str {
    if operand == "-" {
        "standard input"
    } else {
        operand
    }
}

/// The descriptor to read `operand` from.
pub fn open_input(operand: &str) -> Result<Fd, Errno> {
    if operand == "-" {
        Ok(STDIN)
    } else {
        // Files need the VFS server, which does not exist yet.
        Err(Errno(ENOSYS))
    }
}

/// Releases a descriptor `open_input` returned (standard input stays open).
pub fn close_input(fd: Fd) {
    if fd != STDIN {
        let _ = posix::close(fd);
    }
}

/// `NAME: description` for an error on input `operand`.
pub fn input_error(operand: &str, error: Errno) -> String {
    format!("{}: {}", display_name(operand), error.describe())
}
