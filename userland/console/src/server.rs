//! The request loop of the main thread: open handles (badges), and the
//! `zos_proto::io` requests on them.
//!
//! Badge 0 is the console device itself (only init holds it). `Clone` of
//! badge 0 opens the terminal anew; `Clone` of any other handle shares its
//! open-file state (the non-blocking flag), like `dup`. Handle badges are
//! watched: when the last capability of one is gone (closed, or its holder
//! ended in any way) the kernel's `NO_SENDERS` message forgets the handle and
//! fails the reads still waiting on it.

use crate::terminal::{with_terminal, Completion, PendingRead};
use crate::uart;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libzos::abi::rights;
use libzos::ipc::{Received, Server};
use libzos::proto::errno::{EAGAIN, EBADF, EINVAL, EIO};
use libzos::proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use libzos::proto::watch::fires;
use libzos::proto::MAX_IO_CHUNK;
use libzos::sys;

/// The badge of the console device capability init holds.
const DEVICE_BADGE: u64 = 0;

/// What a handle refers to.
struct Handle {
    /// Key of the shared open-file state in [`Handles::open_files`].
    open_file: u64,
}

/// State shared by handles cloned from one another.
struct OpenFile {
    nonblocking: bool,
    handles: usize,
}

struct Handles {
    by_badge: BTreeMap<u64, Handle>,
    open_files: BTreeMap<u64, OpenFile>,
    next_badge: u64,
    next_open_file: u64,
}

impl Handles {
    fn new() -> Self {
        let mut handles = Handles {
            by_badge: BTreeMap::new(),
            open_files: BTreeMap::new(),
            // Not counted from 1: a dead predecessor's handles reach this instance too.
            next_badge: libzos::ipc::first_badge(),
            next_open_file: 0,
        };
        let device_file = handles.open();
        handles.by_badge.insert(
            DEVICE_BADGE,
            Handle {
                open_file: device_file,
            },
        );
        handles
    }

    /// A fresh open-file state with no handles yet.
    fn open(&mut self) -> u64 {
        let key = self.next_open_file;
        self.next_open_file += 1;
        self.open_files.insert(
            key,
            OpenFile {
                nonblocking: false,
                handles: 1,
            },
        );
        key
    }

    fn open_file(&mut self, badge: u64) -> Option<&mut OpenFile> {
        let key = self.by_badge.get(&badge)?.open_file;
        self.open_files.get_mut(&key)
    }

    fn close(&mut self, badge: u64) {
        let Some(handle) = self.by_badge.remove(&badge) else {
            return;
        };
        if let Some(file) = self.open_files.get_mut(&handle.open_file) {
            file.handles = file.handles.saturating_sub(1);
            if file.handles == 0 {
                self.open_files.remove(&handle.open_file);
            }
        }
    }
}

/// How the main thread answers one request.
enum Outcome {
    Answer(IoResponse<'static>),
    Data(Vec<u8>),
    /// `Cloned`, with the new handle's capability (moved to the caller).
    NewHandle(u64),
    /// `IoResponse::Name`.
    Name(&'static str),
    /// The reply was saved; a later event answers it.
    Deferred,
}

/// Serves requests on `endpoint` forever.
pub fn run(endpoint: u64) -> ! {
    let server = Server::new(endpoint);
    let mut handles = Handles::new();
    let mut next = server.recv();
    loop {
        let request = match next {
            Ok(request) => request,
            Err(e) => {
                log::warn!("receive failed: {e:?}");
                next = server.recv();
                continue;
            }
        };
        let outcome = handle(&server, endpoint, &mut handles, &request);
        // Reply, then receive, as two calls: the kernel's ReplyRecv receives
        // on behalf of the wrong thread when the reply wakes a caller of
        // higher priority (it preempts inside the call), so it is avoided.
        let replied = match outcome {
            Outcome::Answer(response) => server.reply(&response, &[]),
            Outcome::Data(data) => {
                let replied = server.reply(&IoResponse::Data(&data), &[]);
                if replied.is_err() {
                    // The reader's call ended (a signal) after the input
                    // left the discipline: it goes to the next reader.
                    crate::terminal::send_completions(crate::terminal::give_back(data));
                }
                replied
            }
            Outcome::Name(name) => server.reply(&IoResponse::Name(name), &[]),
            Outcome::NewHandle(cap) => {
                // Sent or not, the capability leaves here (the kernel deletes
                // a reply's undelivered capabilities).
                server.reply(&IoResponse::Cloned, &[cap])
            }
            Outcome::Deferred => Ok(()),
        };
        if let Err(e) = replied {
            log::debug!("reply to handle {} failed: {e:?}", request.badge);
        }
        next = server.recv();
    }
}

fn handle(server: &Server, endpoint: u64, handles: &mut Handles, request: &Received) -> Outcome {
    let badge = request.badge;
    let decoded = request.decode::<IoRequest>();
    if let (Some(IoRequest::Watch { events }), false) = (&decoded, request.label == sys::NO_SENDERS)
    {
        if handles.open_file(badge).is_none() {
            drop_caps(&request.caps);
            return Outcome::Answer(IoResponse::Err(EBADF));
        }
        return watch(badge, *events, &request.caps);
    }
    // Capabilities nobody asked for would only fill the table.
    drop_caps(&request.caps);
    if request.label == sys::NO_SENDERS {
        // From the kernel: no capability of this handle is left anywhere.
        if badge != DEVICE_BADGE {
            handles.close(badge);
            abandon_reads_of(badge);
        }
        return Outcome::Deferred; // nobody to answer
    }
    let Some(decoded) = decoded else {
        log::debug!("malformed request from handle {badge}");
        return Outcome::Answer(IoResponse::Err(EINVAL));
    };
    let Some(nonblocking) = handles.open_file(badge).map(|file| file.nonblocking) else {
        return Outcome::Answer(IoResponse::Err(EBADF));
    };
    match decoded {
        IoRequest::Read { max } => {
            read(server, badge, (max as usize).min(MAX_IO_CHUNK), nonblocking)
        }
        IoRequest::TerminalRead { max, group } => {
            let foreground = with_terminal(|t| (t.foreground, Vec::new()));
            if foreground != 0 && foreground != group {
                return Outcome::Answer(IoResponse::Background { foreground });
            }
            read(server, badge, (max as usize).min(MAX_IO_CHUNK), nonblocking)
        }
        IoRequest::Write { data } => {
            uart::write(data);
            Outcome::Answer(IoResponse::Written(data.len() as u32))
        }
        IoRequest::Close => {
            if badge != DEVICE_BADGE {
                handles.close(badge);
                abandon_reads_of(badge);
            }
            Outcome::Answer(IoResponse::Ok)
        }
        IoRequest::Clone => clone_handle(endpoint, handles, badge),
        IoRequest::Stat => Outcome::Answer(IoResponse::Stat(HandleStat {
            kind: HandleKind::Terminal,
            size: 0,
        })),
        IoRequest::GetTermios => {
            let settings = with_terminal(|t| (t.discipline.settings(), Vec::new()));
            Outcome::Answer(IoResponse::Termios(settings))
        }
        IoRequest::SetTermios(settings) => {
            // Leaving canonical mode may make a half-typed line readable.
            with_terminal(|t| {
                t.discipline.set_settings(settings);
                ((), t.complete_waiting())
            });
            Outcome::Answer(IoResponse::Ok)
        }
        IoRequest::SetForeground { pgid } => {
            with_terminal(|t| {
                t.foreground = pgid;
                ((), Vec::new())
            });
            Outcome::Answer(IoResponse::Ok)
        }
        IoRequest::GetForeground => {
            let pgid = with_terminal(|t| (t.foreground, Vec::new()));
            Outcome::Answer(IoResponse::Foreground(pgid))
        }
        IoRequest::SetNonBlocking(nonblocking) => {
            if let Some(file) = handles.open_file(badge) {
                file.nonblocking = nonblocking;
            }
            Outcome::Answer(IoResponse::Ok)
        }
        // A terminal has no position; file-only requests are refused.
        IoRequest::Seek { .. } | IoRequest::ReadAt { .. } | IoRequest::WriteAt { .. } => {
            Outcome::Answer(IoResponse::Err(zos_proto::errno::ESPIPE))
        }
        IoRequest::Sync => Outcome::Answer(IoResponse::Ok),
        IoRequest::Readable => {
            // Readers already waiting take the input first.
            let ready =
                with_terminal(|t| (t.waiting.is_empty() && t.discipline.has_input(), Vec::new()));
            Outcome::Answer(if ready {
                IoResponse::Ok
            } else {
                IoResponse::Err(EAGAIN)
            })
        }
        IoRequest::GetWinSize => Outcome::Answer(IoResponse::WinSize(with_terminal(|t| {
            (t.window, Vec::new())
        }))),
        IoRequest::SetWinSize(size) => {
            let (changed, foreground) = with_terminal(|t| {
                let changed = t.window != size;
                t.window = size;
                ((changed, t.foreground), Vec::new())
            });
            if changed {
                crate::signal_foreground(foreground, libzos::proto::proc::signal::SIGWINCH);
            }
            Outcome::Answer(IoResponse::Ok)
        }
        IoRequest::TerminalName => Outcome::Name("/dev/console"),
        _ => Outcome::Answer(IoResponse::Err(EINVAL)),
    }
}

/// Answers at once when input is there, else waits (or `EAGAIN`).
fn read(server: &Server, badge: u64, max: usize, nonblocking: bool) -> Outcome {
    with_terminal(|t| {
        // Readers already waiting come first.
        if t.waiting.is_empty() {
            if let Some(data) = t.discipline.read(max) {
                return (Outcome::Data(data), Vec::new());
            }
        }
        if nonblocking {
            return (Outcome::Answer(IoResponse::Err(EAGAIN)), Vec::new());
        }
        match server.defer() {
            Ok(reply) => {
                t.waiting.push_back(PendingRead {
                    reply,
                    max,
                    handle: badge,
                });
                (Outcome::Deferred, Vec::new())
            }
            Err(e) => {
                log::warn!("cannot defer a read: {e:?}");
                (Outcome::Answer(IoResponse::Err(EIO)), Vec::new())
            }
        }
    })
}

fn drop_caps(caps: &[u64]) {
    for &cap in caps {
        let _ = sys::cap_delete(cap);
    }
}

/// `Watch`: the terminal's events now; if none of `events` is there, the
/// notification that came is kept and signalled when input arrives.
fn watch(badge: u64, events: u16, caps: &[u64]) -> Outcome {
    let notification = caps.first().copied();
    drop_caps(caps.get(1..).unwrap_or(&[]));
    let ready = with_terminal(|t| {
        let ready = t.ready();
        match notification {
            Some(cap) if !fires(events, ready) => {
                libzos::poll::discard(t.watches.add(badge, events, cap))
            }
            other => libzos::poll::discard(other),
        }
        (ready, Vec::new())
    });
    Outcome::Answer(IoResponse::Ready(ready))
}

/// Reads still waiting on a closed handle fail with `EBADF`, and its `poll`
/// watch goes.
fn abandon_reads_of(badge: u64) {
    with_terminal(|t| (libzos::poll::discard(t.watches.remove(badge)), Vec::new()));
    let abandoned: Vec<u64> = with_terminal(|t| {
        let mut gone = Vec::new();
        t.waiting.retain(|pending| {
            let keep = pending.handle != badge;
            if !keep {
                gone.push(pending.reply);
            }
            keep
        });
        (gone, Vec::<Completion>::new())
    });
    for reply in abandoned {
        let _ = libzos::ipc::reply_later(reply, &IoResponse::Err(EBADF), &[]);
    }
}

/// Mints a new badged capability of the endpoint for a new handle.
fn clone_handle(endpoint: u64, handles: &mut Handles, from: u64) -> Outcome {
    let badge = handles.next_badge;
    let cap = match sys::cap_mint_watched(endpoint, sys::NONE, rights::WRITE | rights::GRANT, badge)
    {
        Ok(cap) => cap,
        Err(e) => {
            log::warn!("cannot mint a handle: {}", e.name());
            return Outcome::Answer(IoResponse::Err(EIO));
        }
    };
    handles.next_badge += 1;
    let open_file = if from == DEVICE_BADGE {
        handles.open()
    } else {
        let Some(key) = handles.by_badge.get(&from).map(|h| h.open_file) else {
            let _ = sys::cap_delete(cap);
            return Outcome::Answer(IoResponse::Err(EBADF));
        };
        if let Some(file) = handles.open_files.get_mut(&key) {
            file.handles += 1;
        }
        key
    };
    handles.by_badge.insert(badge, Handle { open_file });
    Outcome::NewHandle(cap)
}
