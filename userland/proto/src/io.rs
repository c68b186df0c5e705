//! The open-handle protocol: every descriptor a process holds (console, pipe end,
//! later files and sockets) is a badged endpoint capability of the server that
//! owns it, and speaks this protocol. The badge names the open handle.
//!
//! Blocking: a `Read` with no data waits (the server defers its reply) unless
//! the handle is non-blocking (`EAGAIN`). End of file is an empty `Data`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoRequest<'a> {
    /// Up to `max` bytes (at most [`crate::MAX_IO_CHUNK`]).
    Read {
        max: u32,
    },
    /// Writes bytes (at most [`crate::MAX_IO_CHUNK`]); answers `Written`.
    Write {
        data: &'a [u8],
    },
    /// Drops this handle (the capability becomes useless).
    Close,
    /// A second handle to the same open file, as a capability in the reply
    /// (used to pass descriptors to children).
    Clone,
    /// What the handle is.
    Stat,
    /// Terminal settings (terminals only, else `ENOTTY`).
    GetTermios,
    SetTermios(Termios),
    /// The process group that terminal signals (Ctrl-C) go to.
    SetForeground {
        pgid: u32,
    },
    /// Makes reads fail with `EAGAIN` instead of waiting (or not).
    SetNonBlocking(bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoResponse<'a> {
    Data(&'a [u8]),
    Written(u32),
    Ok,
    /// A new handle travels as the message's capability.
    Cloned,
    Stat(HandleStat),
    Termios(Termios),
    Err(i32),
}

/// Kinds of open handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandleKind {
    Terminal,
    PipeRead,
    PipeWrite,
    File,
    Directory,
    Device,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleStat {
    pub kind: HandleKind,
    pub size: u64,
}

/// Terminal line discipline settings (a small termios).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termios {
    /// Canonical mode: lines with erase (Backspace/DEL) and kill (Ctrl-U).
    pub canonical: bool,
    /// Echo input.
    pub echo: bool,
    /// Ctrl-C sends SIGINT to the foreground process group.
    pub signals: bool,
}

impl Default for Termios {
    fn default() -> Self {
        Termios {
            canonical: true,
            echo: true,
            signals: true,
        }
    }
}
