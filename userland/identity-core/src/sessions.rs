//! Sessions: one per login (id, user, where, when it started and expires, and
//! the process that leads it; its children are the session's processes).

use alloc::string::String;
use alloc::vec::Vec;

/// How long a session lasts without being renewed (seconds).
pub const SESSION_LIFETIME_S: u64 = 12 * 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: u64,
    pub user: String,
    pub uid: u32,
    /// The terminal, e.g. `console`.
    pub tty: String,
    /// The machine's UUID.
    pub machine: String,
    /// The process leading the session (login's shell's parent).
    pub leader: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub expires: u64,
}

#[derive(Default)]
pub struct Sessions {
    next_id: u64,
    list: Vec<Session>,
}

impl Sessions {
    pub fn new() -> Self {
        Sessions {
            next_id: 1,
            list: Vec::new(),
        }
    }

    /// Opens a session; answers its id.
    pub fn open(
        &mut self,
        user: &str,
        uid: u32,
        tty: &str,
        machine: &str,
        leader: u32,
        now: u64,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.list.push(Session {
            id,
            user: user.into(),
            uid,
            tty: tty.into(),
            machine: machine.into(),
            leader,
            created: now,
            expires: now + SESSION_LIFETIME_S,
        });
        id
    }

    /// Ends a session; answers it, if it existed.
    pub fn close(&mut self, id: u64) -> Option<Session> {
        let index = self.list.iter().position(|s| s.id == id)?;
        Some(self.list.remove(index))
    }

    /// Ends every session of `user` (deleted users); answers them.
    pub fn close_user(&mut self, user: &str) -> Vec<Session> {
        let (gone, kept) = core::mem::take(&mut self.list)
            .into_iter()
            .partition(|s| s.user == user);
        self.list = kept;
        gone
    }

    /// Drops sessions whose leader no longer runs (`alive` tells).
    pub fn prune(&mut self, alive: impl Fn(u32) -> bool) {
        self.list.retain(|s| alive(s.leader));
    }

    pub fn list(&self) -> &[Session] {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_list_close() {
        let mut sessions = Sessions::new();
        let a = sessions.open("alice", 1000, "console", "m", 7, 100);
        let b = sessions.open("bob", 1001, "console", "m", 8, 200);
        let c = sessions.open("alice", 1000, "console", "m", 9, 300);
        assert_eq!(sessions.list().len(), 3);
        assert_eq!(sessions.list()[0].expires, 100 + SESSION_LIFETIME_S);
        assert_eq!(sessions.close(b).map(|s| s.user), Some("bob".into()));
        assert_eq!(sessions.close(b), None);
        let gone = sessions.close_user("alice");
        assert_eq!(gone.iter().map(|s| s.id).collect::<Vec<_>>(), [a, c]);
        assert!(sessions.list().is_empty());
        sessions.open("carol", 1002, "console", "m", 10, 0);
        sessions.prune(|pid| pid != 10);
        assert!(sessions.list().is_empty());
    }
}
