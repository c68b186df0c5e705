//! A tmpfs directory: entries by name, plus a stable position for each entry.
//!
//! Positions only grow, so a readdir cookie (a position) stays meaningful while
//! entries are added and removed between calls: nothing is skipped or repeated.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use crate::fs::Ino;

pub(super) struct Directory {
    /// The directory's `..`; the root is its own parent.
    pub parent: Ino,
    entries: BTreeMap<String, DirSlot>,
    order: BTreeMap<u64, String>,
    next_position: u64,
}

struct DirSlot {
    ino: Ino,
    position: u64,
}

impl Directory {
    pub fn new(parent: Ino) -> Self {
        Directory {
            parent,
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            next_position: 0,
        }
    }

    pub fn get(&self, name: &str) -> Option<Ino> {
        self.entries.get(name).map(|slot| slot.ino)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn insert(&mut self, name: &str, ino: Ino) {
        let position = self.next_position;
        self.next_position += 1;
        self.order.insert(position, name.to_string());
        self.entries
            .insert(name.to_string(), DirSlot { ino, position });
    }

    pub fn remove(&mut self, name: &str) -> Option<Ino> {
        let slot = self.entries.remove(name)?;
        self.order.remove(&slot.position);
        Some(slot.ino)
    }

    /// The first entry at or after `position`: (its position, name, inode).
    pub fn entry_from(&self, position: u64) -> Option<(u64, &str, Ino)> {
        let (&found, name) = self.order.range(position..).next()?;
        let ino = self.get(name)?;
        Some((found, name.as_str(), ino))
    }

    /// Every (name, inode) pair, by name.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&str, Ino)> {
        self.entries
            .iter()
            .map(|(name, slot)| (name.as_str(), slot.ino))
    }

    /// Whether the name index and the position index agree.
    #[cfg(test)]
    pub fn is_consistent(&self) -> bool {
        self.entries.len() == self.order.len()
            && self
                .entries
                .iter()
                .all(|(name, slot)| self.order.get(&slot.position) == Some(name))
    }
}
