//! Standard streams and files for the tools: writing that turns a broken pipe
//! into a quiet exit, opening inputs named on the command line (`-` is
//! standard input), reading a descriptor chunk by chunk, and error messages
//! of the form `TOOL: PATH: description (ERRNO)`.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use libzos::posix::{self, Errno, Fd};
use libzos::rt::DebugOut;
use libzos::{eprintln, fs};
use zos_proto::errno::{EBADF, EPIPE};
use zos_tools_core::failure::EXIT_ERROR;
use zos_tools_core::Failure;

pub const STDIN: Fd = 0;
pub const STDOUT: Fd = 1;

/// Bytes moved per read or write of file data: the size of the buffer libzos
/// shares with the VFS, so each regular-file transfer is one request.
pub const CHUNK_SIZE: usize = 64 * 1024;

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
        Err(error) => Err(Failure::Error(format!("write error: {error}"))),
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

/// The descriptor to read `operand` from (`-` is standard input).
pub fn open_input(operand: &str) -> Result<Fd, Errno> {
    if operand == "-" {
        Ok(STDIN)
    } else {
        posix::open(operand, fs::O_RDONLY, 0)
    }
}

/// Releases a descriptor `open_input` returned (standard input stays open).
pub fn close_input(fd: Fd) {
    if fd != STDIN {
        let _ = posix::close(fd);
    }
}

/// `NAME: description (ERRNO)` for an error on input `operand`.
pub fn input_error(operand: &str, error: Errno) -> String {
    format!("{}: {error}", display_name(operand))
}

/// Prints `TOOL: PATH: description (ERRNO)` on standard error.
pub fn warn_path(tool: &str, path: &str, error: Errno) {
    eprintln!("{tool}: {}", input_error(path, error));
}

/// Why reading a stream stopped early.
pub enum StreamError {
    /// Reading the input failed.
    Read(Errno),
    /// The consumer asked the tool to stop (a write failed, or it has enough).
    Stop(Failure),
}

/// Reads `fd` to its end in chunks of `buffer`'s size, handing each to `each`.
pub fn for_each_chunk(
    fd: Fd,
    buffer: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<(), StreamError> {
    loop {
        match posix::read(fd, buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => each(&buffer[..n]).map_err(StreamError::Stop)?,
            Err(error) => return Err(StreamError::Read(error)),
        }
    }
}

/// `Ok` or the quiet exit status 1 after errors already reported.
pub fn status(failed: bool) -> Result<(), Failure> {
    if failed {
        Err(Failure::Exit(EXIT_ERROR))
    } else {
        Ok(())
    }
}
