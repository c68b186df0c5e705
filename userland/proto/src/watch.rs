//! Readiness watches, the server side of `poll` (`IoRequest::Watch`): a
//! client that finds none of its descriptors ready hands each handle's
//! server a Notification capability; the server keeps it in a [`WatchList`]
//! and signals it once, when the handle has one of the events the client
//! asked for (or an error or hang-up, which are always reported), then drops
//! it. One-shot: the client looks at every descriptor again after each
//! wake-up and registers anew if it must wait again, so a stale signal costs
//! one extra look, never a lost wake-up (the server checks and registers in
//! one request, and signals after every change of state).
//!
//! Free of syscalls: the list hands back the capabilities to signal and to
//! delete, so host tests cover it.

use alloc::vec::Vec;

/// `poll` event bits, as Linux numbers them (`struct pollfd`).
pub mod events {
    pub const POLLIN: u16 = 0x1;
    pub const POLLPRI: u16 = 0x2;
    pub const POLLOUT: u16 = 0x4;
    pub const POLLERR: u16 = 0x8;
    pub const POLLHUP: u16 = 0x10;
    pub const POLLNVAL: u16 = 0x20;
}

use events::*;

/// Whether `ready` answers a watch for `events`: one of them, or an error
/// or hang-up (reported whether asked for or not).
pub const fn fires(events: u16, ready: u16) -> bool {
    ready & (events | POLLERR | POLLHUP) != 0
}

/// What `ready` tells a client that asked for `events`: those of them that
/// are ready, plus error and hang-up.
pub const fn answer(events: u16, ready: u16) -> u16 {
    ready & (events | POLLERR | POLLHUP)
}

/// One registered watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watch {
    /// The server's name for the handle (its badge or reference number).
    handle: u64,
    events: u16,
    /// The client's Notification capability, now in the server's table.
    notification: u64,
}

/// The watches of one server (or of one object it serves).
#[derive(Debug, Default)]
pub struct WatchList {
    watches: Vec<Watch>,
}

impl WatchList {
    pub const fn new() -> Self {
        WatchList {
            watches: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// Keeps `notification` for `handle`'s `events`; returns the capability
    /// of the watch it replaces (the caller deletes it).
    pub fn add(&mut self, handle: u64, events: u16, notification: u64) -> Option<u64> {
        let replaced = self.remove(handle);
        self.watches.push(Watch {
            handle,
            events,
            notification,
        });
        replaced
    }

    /// Forgets `handle`'s watch (the handle was closed); returns its
    /// capability to delete.
    pub fn remove(&mut self, handle: u64) -> Option<u64> {
        let index = self.watches.iter().position(|w| w.handle == handle)?;
        Some(self.watches.swap_remove(index).notification)
    }

    /// Takes the watches that `ready(handle)` now answers: returns their
    /// capabilities, to be signalled once and deleted.
    pub fn take_ready(&mut self, mut ready: impl FnMut(u64) -> u16) -> Vec<u64> {
        let mut fired = Vec::new();
        self.watches.retain(|w| {
            let fire = fires(w.events, ready(w.handle));
            if fire {
                fired.push(w.notification);
            }
            !fire
        });
        fired
    }

    /// Whether `handle` has a watch.
    pub fn wants(&self, handle: u64) -> bool {
        self.watches.iter().any(|w| w.handle == handle)
    }

    /// Whether `ready(handle)` answers some watch (without taking it).
    pub fn any_ready(&self, mut ready: impl FnMut(u64) -> u16) -> bool {
        self.watches
            .iter()
            .any(|w| fires(w.events, ready(w.handle)))
    }

    /// The events some watch waits for (a server may skip work nobody
    /// watches).
    pub fn wanted(&self) -> u16 {
        self.watches.iter().fold(0, |all, w| all | w.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_fires_once_when_its_event_is_ready() {
        let mut list = WatchList::new();
        assert_eq!(list.add(7, POLLIN, 100), None);
        assert!(list.take_ready(|_| POLLOUT).is_empty(), "not asked for");
        assert_eq!(list.take_ready(|_| POLLIN | POLLOUT), [100]);
        assert!(list.is_empty(), "one-shot");
        assert!(list.take_ready(|_| POLLIN).is_empty());
    }

    #[test]
    fn errors_and_hangups_fire_every_watch() {
        let mut list = WatchList::new();
        list.add(1, POLLOUT, 10);
        list.add(2, POLLIN, 20);
        let mut fired = list.take_ready(|h| if h == 1 { POLLERR } else { POLLHUP });
        fired.sort();
        assert_eq!(fired, [10, 20]);
        assert_eq!(answer(POLLIN, POLLIN | POLLOUT | POLLHUP), POLLIN | POLLHUP);
    }

    #[test]
    fn a_new_watch_replaces_the_handle_s_old_one() {
        let mut list = WatchList::new();
        list.add(3, POLLIN, 30);
        assert_eq!(list.add(3, POLLOUT, 31), Some(30));
        assert_eq!(list.len(), 1);
        assert_eq!(list.wanted(), POLLOUT);
        assert_eq!(list.remove(3), Some(31));
        assert_eq!(list.remove(3), None);
    }

    #[test]
    fn only_the_ready_handles_are_taken() {
        let mut list = WatchList::new();
        list.add(1, POLLIN, 10);
        list.add(2, POLLIN, 20);
        assert_eq!(list.take_ready(|h| if h == 2 { POLLIN } else { 0 }), [20]);
        assert_eq!(list.len(), 1);
    }
}
