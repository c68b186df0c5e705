//! Terminal calls beyond termios (docs/terminals.md): window size, the
//! terminal's name (`ttyname`), and pseudo-terminals — `posix_openpt`
//! (`/dev/ptmx`), `grantpt`, `unlockpt`, `ptsname`. The Linux dispatcher's
//! terminal ioctls are built on these.

use crate::posix::{io_call, Errno, Fd, Result};
use alloc::format;
use alloc::string::String;
use zos_proto::errno::{EIO, ENOTTY};
pub use zos_proto::io::WinSize;
use zos_proto::io::{IoRequest, IoResponse};

fn answer_ok(fd: Fd, request: &IoRequest) -> Result<()> {
    let reply = io_call(fd, request)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Ok) => Ok(()),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// The window size of terminal `fd` (`TIOCGWINSZ`).
pub fn window_size(fd: Fd) -> Result<WinSize> {
    let reply = io_call(fd, &IoRequest::GetWinSize)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::WinSize(size)) => Ok(size),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(EIO)),
    }
}

/// Sets the window size of terminal `fd` (`TIOCSWINSZ`); a change sends
/// SIGWINCH to its foreground process group.
pub fn set_window_size(fd: Fd, size: WinSize) -> Result<()> {
    answer_ok(fd, &IoRequest::SetWinSize(size))
}

/// The path terminal `fd` was opened as (`/dev/console`, `/dev/pts/0`).
pub fn ttyname(fd: Fd) -> Result<String> {
    let reply = io_call(fd, &IoRequest::TerminalName)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Name(name)) => Ok(String::from(name)),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(ENOTTY)),
    }
}

/// Opens a new pseudo-terminal master (`/dev/ptmx`); its slave starts locked.
pub fn posix_openpt(flags: u32) -> Result<Fd> {
    crate::fs::open("/dev/ptmx", flags, 0)
}

/// The pty number N of master `fd` (`TIOCGPTN`).
pub fn pty_number(fd: Fd) -> Result<u32> {
    let reply = io_call(fd, &IoRequest::PtyNumber)?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::PtyNumber(n)) => Ok(n),
        Some(IoResponse::Err(e)) => Err(Errno(e)),
        _ => Err(Errno(ENOTTY)),
    }
}

/// Locks or unlocks the slave of master `fd` (`TIOCSPTLCK`).
pub fn set_pty_lock(fd: Fd, locked: bool) -> Result<()> {
    answer_ok(fd, &IoRequest::SetPtyLock(locked))
}

/// `unlockpt`: lets the slave of master `fd` be opened.
pub fn unlockpt(fd: Fd) -> Result<()> {
    set_pty_lock(fd, false)
}

/// `grantpt`: nothing to do (slaves are made with their final mode), but
/// `fd` must be a master.
pub fn grantpt(fd: Fd) -> Result<()> {
    pty_number(fd).map(|_| ())
}

/// `ptsname`: the slave's path of master `fd`.
pub fn ptsname(fd: Fd) -> Result<String> {
    Ok(format!("/dev/pts/{}", pty_number(fd)?))
}
