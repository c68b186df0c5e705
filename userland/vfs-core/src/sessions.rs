//! Session buffers: the one transfer buffer a client attaches for all the
//! handles it opens.
//!
//! A client (by pid) has at most one session buffer. Each attachment gets a
//! serial that never repeats; the session token the client holds is badged
//! with it, and the kernel reports that badge when the token's last
//! capability is gone. Ending a session by serial, not by pid, matters: a
//! client that attaches anew, or a program that `execve` started under the
//! same pid, must not lose its new buffer when the old token's report
//! arrives late.

use alloc::collections::BTreeMap;

struct Session<T> {
    serial: u32,
    buffer: T,
}

/// Session buffers by client pid, ended by serial.
pub struct SessionTable<T> {
    by_client: BTreeMap<u32, Session<T>>,
    next_serial: u32,
}

impl<T> Default for SessionTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SessionTable<T> {
    pub fn new() -> Self {
        SessionTable {
            by_client: BTreeMap::new(),
            next_serial: 1,
        }
    }

    /// The serial the next [`SessionTable::attach`] gives (its token's badge
    /// is minted before the buffer is recorded).
    pub fn next_serial(&self) -> u32 {
        self.next_serial
    }

    /// Makes `buffer` `client`'s session buffer under the serial
    /// [`SessionTable::next_serial`] named; returns the buffer it replaces.
    pub fn attach(&mut self, client: u32, buffer: T) -> Option<T> {
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        self.by_client
            .insert(client, Session { serial, buffer })
            .map(|old| old.buffer)
    }

    /// The token of `serial` is gone: its buffer, if it still serves.
    pub fn end(&mut self, serial: u32) -> Option<T> {
        let client = self
            .by_client
            .iter()
            .find(|(_, session)| session.serial == serial)
            .map(|(&client, _)| client)?;
        self.by_client.remove(&client).map(|session| session.buffer)
    }

    /// `client`'s session buffer.
    pub fn get(&self, client: u32) -> Option<&T> {
        self.by_client.get(&client).map(|session| &session.buffer)
    }

    pub fn contains(&self, client: u32) -> bool {
        self.by_client.contains_key(&client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_report_of_an_old_token_keeps_the_new_buffer() {
        let mut table = SessionTable::new();
        let first = table.next_serial();
        assert_eq!(table.attach(7, "first"), None);
        // The same pid attaches anew (a re-share, or the program execve
        // started): the old buffer comes back to be freed.
        assert_eq!(table.attach(7, "second"), Some("first"));
        // The old token's report arrives now: nothing is freed.
        assert_eq!(table.end(first), None);
        assert_eq!(table.get(7), Some(&"second"));
    }

    #[test]
    fn the_current_token_ends_its_session() {
        let mut table = SessionTable::new();
        table.attach(3, 'a');
        let serial = table.next_serial();
        table.attach(4, 'b');
        assert_eq!(table.end(serial), Some('b'));
        assert!(!table.contains(4));
        assert!(table.contains(3));
        assert_eq!(table.end(serial), None);
    }

    #[test]
    fn serials_never_repeat_or_use_zero() {
        let mut table = SessionTable::new();
        table.next_serial = u32::MAX;
        table.attach(1, ());
        assert_eq!(table.next_serial(), 1);
    }
}
