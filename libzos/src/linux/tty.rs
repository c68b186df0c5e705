//! Terminal and pseudo-terminal ioctls of the dispatcher and the
//! `/proc/self/fd/N` links `ttyname` reads (docs/terminals.md), over
//! `crate::tty`. Kept apart from `file.rs`'s termios ioctls: `file::ioctl`
//! hands every request it does not know here.

use super::{user_bytes, user_bytes_mut, SysResult};
use crate::posix::{self, Errno, Fd};
use crate::rt::BackoffMutex as Mutex;
use crate::tty::{self, WinSize};
use alloc::collections::BTreeMap;
use alloc::string::String;
use zos_proto::errno::*;

const TIOCSCTTY: u64 = 0x540e;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const TIOCNOTTY: u64 = 0x5422;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;

/// The terminal ioctls `file::ioctl` leaves to this module; `None` for a
/// request that is not one of them.
pub fn ioctl(fd: Fd, request: u64, arg: u64) -> Option<SysResult> {
    Some(match request {
        TIOCGWINSZ => get_window(fd, arg),
        TIOCSWINSZ => set_window(fd, arg),
        TIOCGPTN => tty::pty_number(fd).map_err(not_a_tty).and_then(|n| {
            user_bytes_mut(arg, 4)?.copy_from_slice(&n.to_le_bytes());
            Ok(0)
        }),
        TIOCSPTLCK => user_bytes(arg, 4).and_then(|bytes| {
            let locked = bytes.iter().any(|&b| b != 0);
            tty::set_pty_lock(fd, locked).map_err(not_a_tty)?;
            Ok(0)
        }),
        TIOCSCTTY => controlling_terminal(fd),
        TIOCNOTTY => {
            if posix::isatty(fd) {
                Ok(0)
            } else {
                Err(Errno(ENOTTY))
            }
        }
        _ => return None,
    })
}

/// Bytes of the kernel's `struct termios` (what TCGETS/TCSETS move).
const TERMIOS_BYTES: u64 = 36;
/// The lflag bits the terminal servers keep (ISIG, ICANON, ECHO).
const SERVED_LFLAG: u32 = 0o1 | 0o2 | 0o10;

/// The last termios this process set on each terminal handle (by
/// capability slot): the servers keep only canonical/echo/signals, so the
/// other flags and control characters a program set are given back to it as
/// set (`stty` reads its settings back and compares them all).
static SET_TERMIOS: Mutex<BTreeMap<u64, [u8; TERMIOS_BYTES as usize]>> =
    Mutex::new(BTreeMap::new());

/// After a successful TCSETS*: remembers what was set.
pub fn remember_termios(fd: Fd, arg: u64) {
    let (Ok(slot), Ok(bytes)) = (posix::slot_of(fd), user_bytes(arg, TERMIOS_BYTES)) else {
        return;
    };
    let mut copy = [0u8; TERMIOS_BYTES as usize];
    copy.copy_from_slice(bytes);
    SET_TERMIOS.lock().insert(slot, copy);
}

/// For TCGETS: `out` holds what the server reports; when this process set
/// the termios of that handle, the rest comes from what it set.
pub fn recall_termios(fd: Fd, out: &mut [u8]) {
    let Ok(slot) = posix::slot_of(fd) else {
        return;
    };
    let Some(mut set) = SET_TERMIOS.lock().get(&slot).copied() else {
        return;
    };
    let word = |b: &[u8]| u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    let lflag = (word(&set) & !SERVED_LFLAG) | (word(out) & SERVED_LFLAG);
    set[12..16].copy_from_slice(&lflag.to_le_bytes());
    let n = out.len().min(set.len());
    out[..n].copy_from_slice(&set[..n]);
}

/// `struct winsize`: rows, columns, then two pixel sizes (left 0).
fn get_window(fd: Fd, arg: u64) -> SysResult {
    let size = match tty::window_size(fd) {
        Ok(size) => size,
        // A terminal whose server does not know the request: 24 by 80.
        Err(Errno(EINVAL)) if posix::isatty(fd) => WinSize::default(),
        Err(e) => return Err(not_a_tty(e)),
    };
    let out = user_bytes_mut(arg, 8)?;
    out.fill(0);
    out[0..2].copy_from_slice(&size.rows.to_le_bytes());
    out[2..4].copy_from_slice(&size.cols.to_le_bytes());
    Ok(0)
}

fn set_window(fd: Fd, arg: u64) -> SysResult {
    let bytes = user_bytes(arg, 8)?;
    let size = WinSize {
        rows: u16::from_le_bytes([bytes[0], bytes[1]]),
        cols: u16::from_le_bytes([bytes[2], bytes[3]]),
    };
    tty::set_window_size(fd, size).map_err(not_a_tty)?;
    Ok(0)
}

/// `TIOCSCTTY`: there are no sessions to attach a terminal to, so the
/// caller's process group becomes the terminal's foreground group (Ctrl-C,
/// SIGWINCH and SIGHUP go to it). A vfork child's group does not exist
/// until its `execve`, which then makes it the foreground group.
fn controlling_terminal(fd: Fd) -> SysResult {
    if !posix::isatty(fd) {
        return Err(Errno(ENOTTY));
    }
    if super::vfork::active() {
        super::vfork::set_controlling_terminal(fd);
        return Ok(0);
    }
    posix::claim_terminal(fd, posix::getpgrp()).map_err(not_a_tty)?;
    Ok(0)
}

/// `readlink("/proc/self/fd/N")` (musl's `ttyname`): the terminal's path for
/// a terminal descriptor, `ENOENT` for others; `None` when `path` is not
/// such a link.
pub fn fd_link(path: &str) -> Option<Result<String, Errno>> {
    let own = alloc::format!("/proc/{}/fd/", posix::getpid());
    let rest = path
        .strip_prefix("/proc/self/fd/")
        .or_else(|| path.strip_prefix(own.as_str()))?;
    let Ok(fd) = rest.parse::<Fd>() else {
        return Some(Err(Errno(ENOENT)));
    };
    if posix::slot_of(fd).is_err() {
        return Some(Err(Errno(ENOENT)));
    }
    Some(tty::ttyname(fd).map_err(|_| Errno(ENOENT)))
}

/// Handles that do not speak the terminal requests are not terminals.
fn not_a_tty(e: Errno) -> Errno {
    if e == Errno(EBADF) {
        e
    } else {
        Errno(ENOTTY)
    }
}
