//! The large TCP buffers of `connect`ed sockets, kept for reuse.
//!
//! A pair (receive, send) of `TCP_BULK_BUFFER` bytes each is allocated the
//! first time it is needed and never freed: when smoltcp drops the socket
//! that held it, the pair goes back to the pool for the next connection.
//! Freeing them let the heap's smaller allocations (64 KiB buffers of
//! accepted connections, frames) split the freed blocks, and the next
//! connection's 256 KiB blocks grew the heap again (`net_ns.exp`'s memory
//! check saw half a MiB per round). At most `MAX_BULK_SOCKETS` pairs exist.

use super::{MAX_BULK_SOCKETS, TCP_BULK_BUFFER};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::iface::SocketHandle;

/// Where a pair lives (addresses of two leaked `TCP_BULK_BUFFER`-byte
/// slices).
#[derive(Clone, Copy)]
pub(super) struct Pair {
    receive: usize,
    send: usize,
}

#[derive(Default)]
pub(super) struct Pool {
    free: Vec<Pair>,
    /// Pairs held by smoltcp sockets.
    lent: BTreeMap<SocketHandle, Pair>,
}

/// A leaked slice of `TCP_BULK_BUFFER` bytes, by address.
///
/// # Safety
/// `address` came from [`leak`], and nothing else refers to that slice
/// (its last holder, a smoltcp socket, was dropped, or it never had one).
unsafe fn slice(address: usize) -> &'static mut [u8] {
    // SAFETY: the caller's contract: a live (leaked, never freed) slice of
    // this length with no other reference.
    unsafe { core::slice::from_raw_parts_mut(address as *mut u8, TCP_BULK_BUFFER) }
}

fn leak() -> usize {
    Box::leak(vec![0u8; TCP_BULK_BUFFER].into_boxed_slice()).as_mut_ptr() as usize
}

impl Pool {
    /// A pair for a new socket (receive, send), or `None` when all
    /// `MAX_BULK_SOCKETS` are lent. Give it to [`Pool::lend`] once the
    /// socket is in the set, or back with [`Pool::give_back`].
    pub(super) fn take(&mut self) -> Option<(Pair, &'static mut [u8], &'static mut [u8])> {
        let pair = match self.free.pop() {
            Some(pair) => pair,
            None if self.lent.len() < MAX_BULK_SOCKETS => Pair {
                receive: leak(),
                send: leak(),
            },
            None => return None,
        };
        // SAFETY: a free pair has no holder: the socket that had it was
        // dropped before it came back (`returned`), or it is new.
        let (receive, send) = unsafe { (slice(pair.receive), slice(pair.send)) };
        Some((pair, receive, send))
    }

    /// `pair` is now held by the socket `handle`.
    pub(super) fn lend(&mut self, handle: SocketHandle, pair: Pair) {
        self.lent.insert(handle, pair);
    }

    /// A pair taken whose socket never went into the set (and was dropped).
    pub(super) fn give_back(&mut self, pair: Pair) {
        self.free.push(pair);
    }

    /// The socket `handle` was dropped: its pair (if it had one) is free.
    pub(super) fn returned(&mut self, handle: SocketHandle) {
        if let Some(pair) = self.lent.remove(&handle) {
            self.free.push(pair);
        }
    }

    /// Pairs held by sockets now.
    #[cfg(test)]
    pub(super) fn lent(&self) -> usize {
        self.lent.len()
    }

    /// Pairs allocated so far (free or lent).
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.free.len() + self.lent.len()
    }
}
