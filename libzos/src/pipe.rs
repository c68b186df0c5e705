//! Pipe ends through the shared-memory ring (`zos_proto::ring`): on the first
//! read or write of a handle whose badge says "pipe end" (`CapInfo`, no
//! message), libzos asks init for the pipe's ring (`IoRequest::AttachRing`),
//! maps it in a window of its own and from then on moves bytes with a copy
//! in or out, sleeping on the pipe's notifications when it must wait. Handles
//! inherited through spawn or shared by `dup` attach the same way, lazily, so
//! passing a pipe end costs nothing extra. Anything that is not a pipe end,
//! or a pipe whose ring could not be had, keeps to `Read`/`Write` messages.
//!
//! On wasm32 the ring is never asked for: a page shared writable by two
//! processes is copied in and out at every switch there (docs/browser.md),
//! which costs more than the messages.

use crate::posix::{Errno, Result};
use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use core::sync::atomic::{AtomicU32, Ordering};
use zos_proto::errno::*;
use zos_proto::ring::{Ring, RingError, RingHeader, Side};

/// What is known about a handle slot as a pipe end (kept with the rest of
/// what libzos knows about the slot, `fs::SlotInfo`).
#[derive(Clone, Copy, Default)]
pub(crate) enum PipeState {
    /// Not asked yet.
    #[default]
    Unknown,
    /// Not a pipe end, or its ring could not be had: messages.
    Messages,
    Ring(Attached),
}

/// A mapped ring and the notifications of its two sides.
#[derive(Clone, Copy)]
pub(crate) struct Attached {
    memory: u64,
    data_available: u64,
    space_available: u64,
    window: usize,
    capacity: usize,
    /// Which end the handle is (asked with `Stat` on the first `poll`).
    end: Option<Side>,
}

/// Which ring windows are in use (bit per window).
static WINDOWS: Mutex<[u64; WINDOW_WORDS]> = Mutex::new([0; WINDOW_WORDS]);
const WINDOW_WORDS: usize = 4;
/// Rings one process maps at once (more pipe ends use messages).
const MAX_WINDOWS: usize = WINDOW_WORDS * 64;
/// This process's pid, the owner word of the ring locks it takes.
static OWNER: AtomicU32 = AtomicU32::new(0);
/// In a fork child: no ring is mapped here (every handle attaches its own
/// again), and the ring locks' owner word is this process's pid.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn fork_child_reset() {
    *WINDOWS.lock() = [0; WINDOW_WORDS];
    OWNER.store(0, Ordering::Relaxed);
}

/// `Sleep::pause` yields this often, then sleeps a millisecond per attempt,
/// and gives up after `PAUSE_LIMIT` attempts (about two seconds).
const PAUSE_YIELDS: u32 = 64;
const PAUSE_LIMIT: u32 = PAUSE_YIELDS + 2000;

impl Attached {
    fn va(&self) -> u64 {
        crate::abi::layout::PIPE_RINGS + self.window as u64 * crate::abi::layout::PIPE_RING_STRIDE
    }

    fn view(&self) -> Ring<'static> {
        let va = self.va();
        // SAFETY: the window maps RING_BYTES bytes read-write until `forget`
        // unmaps it (after the handle's last descriptor is closed); the
        // capacity is init's answer, checked against the mapping in `attach`.
        unsafe {
            Ring::from_raw(
                &*(va as *const RingHeader),
                (va + zos_proto::ring::HEADER_BYTES as u64) as *mut u8,
                self.capacity,
            )
        }
    }
}

impl zos_proto::ring::Sleep for Attached {
    fn signal(&self, side: Side) {
        let _ = sys::signal(match side {
            Side::Reader => self.data_available,
            Side::Writer => self.space_available,
        });
    }
    fn wait(&self, side: Side) -> core::result::Result<(), RingError> {
        let notification = match side {
            Side::Reader => self.data_available,
            Side::Writer => self.space_available,
        };
        // Only inside `posix::interruptible` does a signal end the wait.
        match sys::wait(notification) {
            Err(e) if e.is(sys::SysError::Interrupted) => Err(RingError::Interrupted),
            _ => Ok(()),
        }
    }
    fn pause(&self, attempt: u32) -> bool {
        if attempt < PAUSE_YIELDS {
            sys::yield_now();
        } else {
            sys::sleep_until(sys::clock_ns() + 1_000_000);
        }
        attempt < PAUSE_LIMIT
    }
}

fn owner() -> u32 {
    match OWNER.load(Ordering::Relaxed) {
        0 => {
            let pid = crate::posix::getpid().max(1);
            OWNER.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// The ring of `slot`, attaching on first use; `None`: use messages.
fn ring_of(slot: u64) -> Option<Attached> {
    if cfg!(target_arch = "wasm32") {
        return None;
    }
    match crate::fs::pipe_state(slot) {
        PipeState::Ring(attached) => return Some(attached),
        PipeState::Messages => return None,
        PipeState::Unknown => {}
    }
    let state = match sys::cap_info(slot) {
        Ok((_, _, badge)) if zos_proto::ring::is_pipe_badge(badge) => {
            attach(slot).map_or(PipeState::Messages, PipeState::Ring)
        }
        _ => PipeState::Messages,
    };
    crate::fs::set_pipe_state(slot, state);
    match state {
        PipeState::Ring(attached) => Some(attached),
        _ => None,
    }
}

fn attach(slot: u64) -> Option<Attached> {
    use zos_proto::io::{IoRequest, IoResponse};
    let reply = crate::ipc::call(slot, &IoRequest::AttachRing, &[]).ok()?;
    let caps = reply.caps.clone();
    let drop_caps = || {
        for &cap in &caps {
            let _ = sys::cap_delete(cap);
        }
    };
    let (Some(IoResponse::Ring { capacity }), &[memory, data_available, space_available]) =
        (reply.decode::<IoResponse>(), caps.as_slice())
    else {
        drop_caps();
        return None;
    };
    let capacity = capacity as usize;
    let bytes = zos_proto::ring::HEADER_BYTES + capacity;
    let fits = capacity > 0
        && bytes as u64 <= crate::abi::layout::PIPE_RING_STRIDE
        && matches!(sys::memory_info(memory), Ok((size, _, _)) if size >= bytes as u64);
    let window = if fits { take_window() } else { None };
    let Some(window) = window else {
        drop_caps();
        return None;
    };
    let attached = Attached {
        memory,
        data_available,
        space_available,
        window,
        capacity,
        end: None,
    };
    let pages = bytes.div_ceil(4096) as u64;
    let mapped = sys::memory_map(
        memory,
        sys::SELF,
        attached.va(),
        0,
        pages,
        crate::abi::map_flags::WRITE,
    );
    if mapped.is_err() {
        release_window(window);
        drop_caps();
        return None;
    }
    Some(attached)
}

fn take_window() -> Option<usize> {
    let mut windows = WINDOWS.lock();
    let index = (0..MAX_WINDOWS).find(|i| windows[i / 64] & (1 << (i % 64)) == 0)?;
    windows[index / 64] |= 1 << (index % 64);
    Some(index)
}

fn release_window(index: usize) {
    WINDOWS.lock()[index / 64] &= !(1 << (index % 64));
}

/// The handle's last descriptor is closed: unmap its ring and drop the
/// capabilities (init learns the end is gone from the handle's own close).
pub(crate) fn release(state: PipeState) {
    if let PipeState::Ring(attached) = state {
        let _ = sys::memory_unmap(sys::SELF, attached.va());
        release_window(attached.window);
        for cap in [
            attached.memory,
            attached.data_available,
            attached.space_available,
        ] {
            let _ = sys::cap_delete(cap);
        }
    }
}

fn errno(error: RingError) -> Errno {
    match error {
        RingError::BrokenPipe => Errno(EPIPE),
        RingError::WouldBlock => Errno(EAGAIN),
        RingError::Corrupt => {
            crate::dprintln!(
                "libzos: a pipe's shared ring holds impossible positions (a peer wrote over it)"
            );
            Errno(EIO)
        }
        RingError::LockStuck => {
            crate::dprintln!("libzos: a pipe's shared ring stayed locked by another process");
            Errno(EIO)
        }
        RingError::Interrupted => Errno(EINTR),
    }
}

/// `read` on a pipe end through its ring; `None` when `slot` has none.
pub(crate) fn read(slot: u64, out: &mut [u8]) -> Option<Result<usize>> {
    let attached = ring_of(slot)?;
    let result = attached
        .view()
        .read_blocking(out, owner(), false, &attached)
        .map_err(errno);
    if matches!(result, Ok(n) if n > 0) {
        tell_watchers(slot, &attached, zos_proto::ring::watch::WRITE);
    }
    Some(result)
}

/// Whether a read of a pipe end would answer now; `None` when `slot` has
/// no ring.
pub(crate) fn readable(slot: u64) -> Option<bool> {
    Some(ring_of(slot)?.view().readable())
}

/// The `poll` events of a pipe end with a ring (`Ring::ready` of its
/// side); `None` when `slot` has no ring or its end cannot be told.
pub(crate) fn ready(slot: u64) -> Option<u16> {
    use zos_proto::io::{HandleKind, IoRequest, IoResponse};
    let mut attached = ring_of(slot)?;
    let end = match attached.end {
        Some(end) => end,
        None => {
            let reply = crate::ipc::call(slot, &IoRequest::Stat, &[]).ok()?;
            let end = match reply.decode::<IoResponse>() {
                Some(IoResponse::Stat(stat)) if stat.kind == HandleKind::PipeRead => Side::Reader,
                Some(IoResponse::Stat(stat)) if stat.kind == HandleKind::PipeWrite => Side::Writer,
                _ => return None,
            };
            attached.end = Some(end);
            crate::fs::set_pipe_state(slot, PipeState::Ring(attached));
            end
        }
    };
    Some(attached.view().ready(end))
}

/// After a ring read or write: if a poller waits for what it changed
/// (`watch` bit `bit`), init is told so it signals the poller.
fn tell_watchers(slot: u64, attached: &Attached, bit: u32) {
    if attached.view().take_watch(bit) {
        let _ = crate::ipc::call(slot, &zos_proto::io::IoRequest::WakeWatchers, &[]);
    }
}

/// `write` on a pipe end through its ring (at least one byte, all of a
/// write up to `PIPE_BUF`); `None` when `slot` has none. `EPIPE` as from
/// the message path (the caller raises SIGPIPE).
/// A write that does not wait (`O_NONBLOCK`): as much as fits now, or
/// EAGAIN when nothing does; `None` when `slot` is no pipe end with a ring.
pub(crate) fn write_nonblocking(slot: u64, data: &[u8]) -> Option<Result<usize>> {
    let attached = ring_of(slot)?;
    let result = attached
        .view()
        .write_blocking(data, owner(), true, &attached)
        .map_err(errno);
    if matches!(result, Ok(n) if n > 0) {
        tell_watchers(slot, &attached, zos_proto::ring::watch::READ);
    }
    Some(result)
}

pub(crate) fn write(slot: u64, data: &[u8]) -> Option<Result<usize>> {
    let attached = ring_of(slot)?;
    let result = attached
        .view()
        .write_blocking(data, owner(), false, &attached)
        .map_err(errno);
    if matches!(result, Ok(n) if n > 0) {
        tell_watchers(slot, &attached, zos_proto::ring::watch::READ);
    }
    Some(result)
}
