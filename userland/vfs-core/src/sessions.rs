//! Client transfer buffers attached once per client rather than per handle.
//!
//! A client may attach its shared buffer to its session (`FsRequest::
//! ShareBuffer`): every handle it then opens uses that buffer for bulk
//! transfers with no set-up of its own, which is what makes a small file's
//! create, write, close cycle cheap. The server cannot see a client die, so a
//! buffer is kept while its client holds handles and, once it holds none
//! ("idle"), only among the [`MAX_IDLE`] most recently idle; older idle
//! buffers are handed back to be unmapped. A client whose buffer went away
//! learns it from its next open (`shared: false`) and attaches again.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// Idle clients whose buffers stay mapped.
pub const MAX_IDLE: usize = 16;

/// Buffers by client pid.
pub struct SessionBuffers<B> {
    buffers: BTreeMap<u32, B>,
    /// Clients holding no handle, oldest first.
    idle: VecDeque<u32>,
}

impl<B> Default for SessionBuffers<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B> SessionBuffers<B> {
    pub fn new() -> Self {
        SessionBuffers {
            buffers: BTreeMap::new(),
            idle: VecDeque::new(),
        }
    }

    /// `client`'s buffer, if one is attached.
    pub fn get(&self, client: u32) -> Option<&B> {
        self.buffers.get(&client)
    }

    /// Attaches `buffer` for `client` (`active`: it holds handles now).
    /// Returns the buffers to unmap: the one it replaces, and idle ones past
    /// the limit.
    pub fn attach(&mut self, client: u32, buffer: B, active: bool) -> Vec<B> {
        let mut released: Vec<B> = self.buffers.insert(client, buffer).into_iter().collect();
        self.idle.retain(|c| *c != client);
        if !active {
            released.extend(self.went_idle(client));
        }
        released
    }

    /// `client` opened a handle: its buffer is no longer idle.
    pub fn active(&mut self, client: u32) {
        if !self.idle.is_empty() {
            self.idle.retain(|c| *c != client);
        }
    }

    /// `client` holds no handle any more; returns buffers to unmap.
    pub fn went_idle(&mut self, client: u32) -> Vec<B> {
        if !self.buffers.contains_key(&client) {
            return Vec::new();
        }
        self.idle.retain(|c| *c != client);
        self.idle.push_back(client);
        let mut released = Vec::new();
        while self.idle.len() > MAX_IDLE {
            if let Some(oldest) = self.idle.pop_front() {
                released.extend(self.buffers.remove(&oldest));
            }
        }
        released
    }

    /// Buffers attached now.
    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_clients_keep_buffers_idle_ones_are_bounded() {
        let mut sessions = SessionBuffers::new();
        assert!(sessions.attach(1, "one", true).is_empty());
        // Re-attaching hands the old buffer back.
        assert_eq!(sessions.attach(1, "one'", true), vec!["one"]);
        assert_eq!(sessions.get(1), Some(&"one'"));
        // Idle clients beyond the limit lose their buffers, oldest first.
        let mut released = Vec::new();
        for client in 100..100 + MAX_IDLE as u32 + 2 {
            released.extend(sessions.attach(client, "idle", false));
        }
        assert_eq!(released, vec!["idle", "idle"]);
        assert_eq!(sessions.get(100), None);
        assert_eq!(sessions.get(101), None);
        assert_eq!(sessions.get(102), Some(&"idle"));
        // Client 1 holds handles: never evicted while active.
        assert_eq!(sessions.get(1), Some(&"one'"));
        // An idle client that opens again leaves the idle list.
        sessions.active(102);
        released = sessions.attach(500, "new", false);
        assert!(released.is_empty(), "102 left the idle list: {released:?}");
        // Going idle twice counts once.
        assert!(sessions.went_idle(1).len() <= 1);
        assert!(sessions.went_idle(1).len() <= 1);
        assert!(
            sessions.went_idle(999).is_empty(),
            "no buffer, nothing to do"
        );
        assert!(sessions.len() <= MAX_IDLE + 1);
    }
}
