//! The VFS's table of open handles with its limits.
//!
//! Each handle (one badge of the server's endpoint) belongs to a client: the
//! pid of the session that opened it, or of the handle it was cloned from. A
//! client may hold [`MAX_PER_CLIENT`] handles (`EMFILE` beyond), the whole
//! server [`MAX_HANDLES`] (`ENFILE` beyond), so no client can exhaust the
//! server. Ids are never reused: a handle's id is the badge the kernel reports
//! when its last capability is gone, and that report may arrive after a close.
//!
//! A closed handle whose capability its owner still holds is *parked*: it
//! keeps its id, owner and place in the limits but serves nothing, until the
//! owner opens a file into it again ([`HandleTable::unpark`]: an open that
//! needs no new capability) or its last capability is gone.

use alloc::collections::BTreeMap;

use crate::errno::{Errno, VfsResult};

/// Handles one client may hold at once.
pub const MAX_PER_CLIENT: u32 = 1024;
/// Handles the server holds at once (the maximum of `/proc/sys/fs/file-nr`).
pub const MAX_HANDLES: usize = 8192;

struct Entry<T> {
    owner: u32,
    /// `None` while parked.
    value: Option<T>,
}

/// Handles by id, and how many each client holds.
pub struct HandleTable<T> {
    entries: BTreeMap<u64, Entry<T>>,
    per_client: BTreeMap<u32, u32>,
    next: u64,
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> HandleTable<T> {
    pub fn new() -> Self {
        HandleTable {
            entries: BTreeMap::new(),
            per_client: BTreeMap::new(),
            next: 1,
        }
    }

    /// The id the next successful [`HandleTable::insert`] uses, if the limits
    /// allow `owner` one more handle.
    pub fn reserve(&self, owner: u32) -> VfsResult<u64> {
        if self.entries.len() >= MAX_HANDLES {
            return Err(Errno::ENFILE);
        }
        if self.per_client.get(&owner).copied().unwrap_or(0) >= MAX_PER_CLIENT {
            return Err(Errno::EMFILE);
        }
        Ok(self.next)
    }

    /// Adds a handle of `owner`; returns its id.
    pub fn insert(&mut self, owner: u32, value: T) -> VfsResult<u64> {
        let id = self.reserve(owner)?;
        self.next += 1;
        *self.per_client.entry(owner).or_insert(0) += 1;
        let value = Some(value);
        self.entries.insert(id, Entry { owner, value });
        Ok(id)
    }

    pub fn get(&self, id: u64) -> Option<&T> {
        self.entries.get(&id)?.value.as_ref()
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        self.entries.get_mut(&id)?.value.as_mut()
    }

    /// Takes an open handle's value out and keeps its id for its owner.
    pub fn park(&mut self, id: u64) -> Option<T> {
        self.entries.get_mut(&id)?.value.take()
    }

    /// Puts `value` into `owner`'s parked handle `id`; gives it back when
    /// `id` is not a parked handle of `owner`.
    pub fn unpark(&mut self, id: u64, owner: u32, value: T) -> Result<(), T> {
        match self.entries.get_mut(&id) {
            Some(entry) if entry.owner == owner && entry.value.is_none() => {
                entry.value = Some(value);
                Ok(())
            }
            _ => Err(value),
        }
    }

    /// The client a handle belongs to.
    pub fn owner(&self, id: u64) -> Option<u32> {
        self.entries.get(&id).map(|e| e.owner)
    }

    /// Takes a handle out for good (its last capability is gone); its value
    /// unless it was parked.
    pub fn remove(&mut self, id: u64) -> Option<T> {
        let entry = self.entries.remove(&id)?;
        if let Some(count) = self.per_client.get_mut(&entry.owner) {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&entry.owner);
            }
        }
        entry.value
    }

    /// Handles open or parked now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Handles `owner` holds.
    pub fn held_by(&self, owner: u32) -> u32 {
        self.per_client.get(&owner).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_not_reused_and_counts_follow() {
        let mut table = HandleTable::new();
        let a = table.insert(7, "a").unwrap();
        let b = table.insert(7, "b").unwrap();
        assert_ne!(a, b);
        assert_eq!(table.held_by(7), 2);
        assert_eq!(table.remove(a), Some("a"));
        assert_eq!(table.remove(a), None, "a second report changes nothing");
        let c = table.insert(8, "c").unwrap();
        assert!(c > b);
        assert_eq!((table.len(), table.held_by(7), table.held_by(8)), (2, 1, 1));
        assert_eq!(table.owner(c), Some(8));
        table.remove(b);
        table.remove(c);
        assert!(table.is_empty());
        assert_eq!(table.held_by(7), 0);
    }

    #[test]
    fn parked_handles_serve_only_their_owner_again() {
        let mut table = HandleTable::new();
        let a = table.insert(7, "a").unwrap();
        assert_eq!(table.park(a), Some("a"));
        assert_eq!(table.get(a), None, "a parked handle serves nothing");
        assert_eq!(table.park(a), None);
        assert_eq!((table.len(), table.held_by(7)), (1, 1), "still counted");
        assert_eq!(table.unpark(a, 8, "x"), Err("x"), "not another client's");
        assert_eq!(table.unpark(a, 7, "b"), Ok(()));
        assert_eq!(table.get(a), Some(&"b"));
        assert_eq!(table.unpark(a, 7, "c"), Err("c"), "not while open");
        assert_eq!(table.unpark(99, 7, "d"), Err("d"), "not an unknown id");
        table.park(a);
        assert_eq!(table.remove(a), None, "a parked handle's end has no value");
        assert_eq!(table.unpark(a, 7, "e"), Err("e"), "gone for good");
        assert!(table.is_empty());
    }

    #[test]
    fn limits_per_client_and_in_total() {
        let mut table = HandleTable::new();
        for _ in 0..MAX_PER_CLIENT {
            table.insert(1, ()).unwrap();
        }
        assert_eq!(table.insert(1, ()), Err(Errno::EMFILE));
        assert_eq!(table.reserve(1), Err(Errno::EMFILE));
        let mut owner = 2;
        while table.len() < MAX_HANDLES {
            if table.insert(owner, ()).is_err() {
                owner += 1;
            }
        }
        assert_eq!(table.insert(owner + 1, ()), Err(Errno::ENFILE));
        // Closing one makes room again, for the client that was refused too.
        table.remove(1);
        assert_eq!(table.insert(1, ()).map(|_| ()), Ok(()));
    }
}
