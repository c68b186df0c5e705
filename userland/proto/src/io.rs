//! The open-handle protocol: every descriptor a process holds (console, pipe end,
//! later files and sockets) is a badged endpoint capability of the server that
//! owns it, and speaks this protocol. The badge names the open handle.
//!
//! Blocking: a `Read` with no data waits (the server defers its reply) unless
//! the handle is non-blocking (`EAGAIN`). End of file is an empty `Data`.
//!
//! Files (served by the VFS) also answer the requests after `SetNonBlocking`:
//! seeking, positioned reads and writes, directory listing, full `stat`, and
//! bulk transfers through a shared buffer: the client attaches a Memory
//! capability it created and mapped (`ShareBuffer`); `ReadShared`/`WriteShared`
//! then move up to the buffer's size per request with only the byte count in the
//! message. Servers that do not know a request answer `ENOTTY` or `ESPIPE`.
//! New variants are only ever appended (postcard numbers them in order).

use crate::fs::{DirEntry, FileStat};
use alloc::vec::Vec;
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
    /// Closes this handle's file. The capability then serves nothing but
    /// its owner's next `FsRequest::Open { reuse }` (VFS handles); its
    /// `NO_SENDERS` frees the handle for good.
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
    /// `lseek`: whence 0 = SET, 1 = CUR, 2 = END; answers `Position`.
    Seek {
        offset: i64,
        whence: u8,
    },
    /// `pread`: up to `max` bytes at `offset`, the file offset unchanged.
    ReadAt {
        offset: u64,
        max: u32,
    },
    /// `pwrite`: bytes at `offset`, the file offset unchanged.
    WriteAt {
        offset: u64,
        data: &'a [u8],
    },
    /// The next directory entries (at most `max_entries`, fewer when they do not
    /// fit in one message); an empty list is the end.
    ReadDir {
        max_entries: u32,
    },
    /// Full attributes of the open file; answers `FileStat`.
    Fstat,
    /// `ftruncate`.
    Truncate {
        len: u64,
    },
    /// `fsync`.
    Sync,
    /// Attaches the Memory capability travelling with the message as this
    /// handle's transfer buffer (replacing any earlier one).
    ShareBuffer,
    /// Reads up to `max` bytes (at most the buffer size) into the shared buffer,
    /// at `offset` (`pread`) or the file offset; answers `Transferred`.
    ReadShared {
        max: u32,
        offset: Option<u64>,
    },
    /// Writes the first `len` bytes of the shared buffer; answers `Transferred`.
    WriteShared {
        len: u32,
        offset: Option<u64>,
    },
    /// A socket operation (sockets only; others answer `ENOTSOCK`).
    #[serde(borrow)]
    Net(crate::net::SocketRequest<'a>),
    /// Pipe ends only: the pipe's shared-memory ring (`crate::ring`). The
    /// answer `Ring` carries three capabilities: the ring's Memory object
    /// (`ring::RING_BYTES`), the "data available" notification readers
    /// sleep on and the "space available" one writers sleep on. Others
    /// answer an error and the client keeps using `Read`/`Write`.
    AttachRing,
    /// Whether a `Read` would answer now (data or end of file): `Ok` if so,
    /// `Err(EAGAIN)` if it would wait (`poll`). A server that does not know
    /// the request answers another error; the client then counts the handle
    /// as ready (its read blocks as it would).
    Readable,
    /// Terminals: the window size (`TIOCGWINSZ`); answers `WinSize`.
    GetWinSize,
    /// Terminals: sets the window size (`TIOCSWINSZ`); a change sends
    /// SIGWINCH to the foreground process group.
    SetWinSize(WinSize),
    /// Pseudo-terminal masters: the pty's number N of `/dev/pts/N`
    /// (`TIOCGPTN`); answers `PtyNumber`.
    PtyNumber,
    /// Pseudo-terminal masters: locks (true) or unlocks the slave
    /// (`TIOCSPTLCK`); a locked slave cannot be opened (`EIO`).
    SetPtyLock(bool),
    /// Terminals: the device path the handle was opened as
    /// (`/dev/console`, `/dev/pts/0`); answers `Name` (`ttyname`).
    TerminalName,
    /// `poll`: which of `events` (`crate::watch::events`, Linux's bits) the
    /// handle has now; answers `Ready`. When none of them (nor `POLLERR`,
    /// `POLLHUP`) is, and a Notification capability travels with the
    /// message, the server keeps it and signals it once, when one becomes
    /// ready (then drops it); a later `Watch` on the handle replaces it.
    /// Servers that do not know the request answer an error: the client
    /// falls back to `Readable` and looks again from time to time.
    Watch {
        events: u16,
    },
    /// Pipe ends with a ring: a ring read or write found the ring's
    /// `watch` flag set (`crate::ring`), so the pipe's owner looks at its
    /// watches again; answers `Ok`.
    WakeWatchers,
    /// Terminals: the foreground process group (`tcgetpgrp`), 0 if none
    /// was set; answers `Foreground`.
    GetForeground,
    /// Terminals: `Read` by a process of group `group`. A terminal with a
    /// foreground group that is not `group` answers `Background` instead
    /// of reading (a pty's master side never does): job control, where the
    /// reader asks init what to do (docs/terminals.md, "Background reads").
    /// The group is the reader's word, as the check is the reader's own.
    TerminalRead {
        max: u32,
        group: u32,
    },
    /// Regular files, for `mmap(MAP_SHARED)`: the file's shared pages, a
    /// Memory object of at least `pages` pages holding the file from its
    /// first byte. Every handle on the same file gets the same object, so
    /// each mapping sees the others' writes at once; the server keeps it
    /// up to date with writes through handles and answers reads from it
    /// (docs/vfs.md, "Shared file mappings"). Answers `Mapped` with the
    /// capability (without write rights when the handle cannot write).
    /// The handle keeps the pages alive until it closes. A server without
    /// them answers an error: the client then maps a copy of its own.
    MapShared {
        pages: u64,
    },
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
    /// The file offset after `Seek`.
    Position(u64),
    #[serde(borrow)]
    Entries(Vec<DirEntry<'a>>),
    FileStat(FileStat),
    /// Bytes moved through the shared buffer.
    Transferred(u32),
    /// The answer to `IoRequest::Net`.
    #[serde(borrow)]
    Net(crate::net::SocketResponse<'a>),
    /// The answer to `AttachRing`: the ring's data capacity in bytes.
    Ring {
        capacity: u32,
    },
    /// The answer to `GetWinSize`.
    WinSize(WinSize),
    /// The answer to `PtyNumber`.
    PtyNumber(u32),
    /// The answer to `TerminalName`.
    Name(&'a str),
    /// The answer to `Watch`: the events ready now.
    Ready(u16),
    /// The answer to `GetForeground`.
    Foreground(u32),
    /// The answer to `TerminalRead` from outside the foreground group.
    Background {
        foreground: u32,
    },
    /// The answer to `MapShared`: the object's size in pages and whether
    /// it may be mapped writable.
    Mapped {
        pages: u64,
        writable: bool,
    },
}

/// A terminal's window size in characters (`struct winsize` without the
/// pixel fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinSize {
    pub rows: u16,
    pub cols: u16,
}

impl Default for WinSize {
    /// What a terminal reports before anyone sets a size: 24 by 80.
    fn default() -> Self {
        WinSize { rows: 24, cols: 80 }
    }
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
    Socket,
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
