//! Capability space: every process's capability table plus the derivation tree.
//!
//! A capability names a kernel object with some rights and a badge. Each process owns
//! one table of slots; userspace names its caps by slot index. Every cap that was made
//! from another one (copy, mint) is that cap's child in a derivation tree spanning all
//! tables, so `revoke` can find and delete everything derived from a cap.
//!
//! Storage is a slab of derivation nodes (first-child / sibling links) and a slab of
//! tables whose ids carry a generation, so a stale [`TableId`] is refused. All state
//! changes go through `attach_node`, `detach_node`, `move_node` and the table
//! create/destroy bodies, which keeps a later commit log of mutations easy.
//!
//! Watched badges: `mint` with a watcher starts counting the live caps that carry
//! one (object, badge) pair, in every table. `attach_node` and `detach_node` keep
//! the count, so copies, mints, moves, deletes, revokes and destroyed tables are
//! all seen; when it reaches zero the pair goes to `silenced`, from where the
//! kernel tells the watcher that no sender is left.
//!
//! Axiom: while `recording`, each of those mutations appends a [`CapChange`]
//! to `journal`, which the kernel turns into commits (docs/axiom.md).

use alloc::vec::Vec;
use zos_axiom::{CapChange, Obj, StateHasher};

pub use crate::syscall::{Rights, SysError};
use crate::{ensure, Result};

/// A word the kernel delivers with every IPC sent through a cap; 0 means unbadged.
pub type Badge = u64;

/// Largest number of slots a single table may have.
pub const MAX_TABLE_SLOTS: u32 = 1 << 16;

/// Table indices available; an id holds a 16-bit index and a 16-bit generation.
const MAX_TABLES: usize = 1 << 16;

/// The panic of a derivation link to a freed node (a kernel bug: see `node`).
const FREED_NODE: &str = "capability derivation link to a freed node";

/// Names one capability table. Holds an index and a generation, so an id kept after
/// its table was destroyed never names a later table that reuses the index.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TableId {
    index: u16,
    generation: u16,
}

impl<O> Cap<O> {
    pub const fn new(object: O, rights: Rights, badge: Badge) -> Self {
        Self {
            object,
            rights,
            badge,
        }
    }
}

impl TableId {
    /// The id as one word: index in the high half, so words sort as the slab.
    pub fn word(self) -> u32 {
        (self.index as u32) << 16 | self.generation as u32
    }
}

/// A capability: an object handle, the rights it grants and its badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap<O> {
    pub object: O,
    pub rights: Rights,
    pub badge: Badge,
}

/// Index of a derivation node in the slab. Internal: callers name caps by slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeId(u32);

/// One capability in a slot, with its links in the derivation tree. A node without
/// a parent is a root and has no siblings.
#[derive(Debug)]
struct Node<O> {
    cap: Cap<O>,
    table: TableId,
    slot: u32,
    parent: Option<NodeId>,
    first_child: Option<NodeId>,
    next_sibling: Option<NodeId>,
    prev_sibling: Option<NodeId>,
}

/// A live table. `slots` grows on demand up to `max_slots`.
#[derive(Debug)]
struct Table {
    max_slots: u32,
    slots: Vec<Option<NodeId>>,
    occupied: usize,
}

impl Table {
    fn get(&self, slot: u32) -> Option<NodeId> {
        self.slots.get(slot as usize).copied().flatten()
    }

    fn lowest_free(&self) -> Option<u32> {
        // `slots` never grows past `max_slots`: only the next new slot needs the check.
        let free = self.slots.iter().position(Option::is_none);
        let index = u32::try_from(free.unwrap_or(self.slots.len())).ok();
        index.filter(|&index| index < self.max_slots)
    }
}

/// A table index: its current generation and, while alive, the table.
#[derive(Debug, Default)]
struct TableEntry {
    generation: u16,
    table: Option<Table>,
}

/// Every capability table of the system and the derivation tree linking their caps.
#[derive(Debug, Default)]
pub struct CapSpace<O> {
    nodes: Vec<Option<Node<O>>>,
    free_nodes: Vec<NodeId>,
    tables: Vec<TableEntry>,
    free_tables: Vec<usize>,
    /// Watched (object, badge) pairs: live caps carrying them and who watches.
    watches: alloc::collections::BTreeMap<(O, Badge), (u32, O)>,
    /// Watched pairs whose last cap went, for the kernel to take: (object,
    /// badge, watcher).
    pub silenced: Vec<(O, Badge, O)>,
    /// Changes not yet taken by the kernel's commit log, kept while `recording`.
    pub journal: Vec<CapChange<O>>,
    pub recording: bool,
}

impl<O: Copy + Ord + core::fmt::Debug> CapSpace<O> {
    /// Creates an empty table with slots `0..max_slots`.
    pub fn create_table(&mut self, max_slots: u32) -> Result<TableId> {
        ensure(max_slots <= MAX_TABLE_SLOTS, SysError::QuotaExceeded)?;
        let table = Table {
            max_slots,
            slots: Vec::new(),
            occupied: 0,
        };
        let index = match self.free_tables.pop() {
            Some(index) => index,
            None if self.tables.len() < MAX_TABLES => {
                self.tables.push(TableEntry::default());
                self.tables.len() - 1
            }
            None => return Err(SysError::QuotaExceeded),
        };
        let entry = &mut self.tables[index];
        entry.table = Some(table);
        let id = TableId {
            index: index as u16,
            generation: entry.generation,
        };
        self.record(CapChange::TableCreated {
            table: id.word(),
            max_slots,
        });
        Ok(id)
    }

    /// Deletes every cap in `table` and the table itself. Children of those caps in
    /// other tables move up to the nearest surviving ancestor. Returns the objects of
    /// the deleted caps so the caller can drop its references.
    pub fn destroy_table(&mut self, table: TableId) -> Result<Vec<O>> {
        let occupied: Vec<NodeId> = self.table(table)?.slots.iter().flatten().copied().collect();
        let objects = occupied.iter().map(|&id| self.detach_node(id)).collect();
        self.record(CapChange::TableDestroyed {
            table: table.word(),
        });
        let entry = &mut self.tables[table.index as usize];
        entry.table = None;
        // An index whose generation is used up is retired, so ids are never reused.
        if entry.generation < u16::MAX {
            entry.generation += 1;
            self.free_tables.push(table.index as usize);
        }
        Ok(objects)
    }

    /// Puts an original capability (one with no parent) into `slot`, or into the
    /// lowest free slot when `slot` is `None`. Returns the slot used.
    pub fn insert_root(&mut self, table: TableId, slot: Option<u32>, cap: Cap<O>) -> Result<u32> {
        let slot = self.target_slot(table, slot)?;
        self.attach_node(cap, table, slot, None)?;
        Ok(slot)
    }

    pub fn lookup(&self, table: TableId, slot: u32) -> Result<&Cap<O>> {
        let id = self.node_at(table, slot)?;
        Ok(&self.node(id).cap)
    }

    /// Copies a cap with the same rights and badge (a mint that narrows
    /// nothing); the copy is a child of `src`.
    pub fn copy(&mut self, src: (TableId, u32), dst: TableId, slot: Option<u32>) -> Result<u32> {
        let rights = self.lookup(src.0, src.1)?.rights;
        self.mint(src, dst, slot, rights, None, None)
    }

    /// Derives a child of `src` with `rights` (a subset of the source's) and, for an
    /// unbadged source, optionally a badge. `badge: None` keeps the source badge.
    /// With `watch`, the new badge (not 0, not watched yet) is watched for that
    /// watcher: see the module text.
    pub fn mint(
        &mut self,
        src: (TableId, u32),
        dst: TableId,
        slot: Option<u32>,
        rights: Rights,
        badge: Option<Badge>,
        watch: Option<O>,
    ) -> Result<u32> {
        let parent = self.node_at(src.0, src.1)?;
        let source = self.node(parent).cap;
        ensure(source.rights.contains(rights), SysError::RightsEscalation)?;
        let badge = match badge {
            None => source.badge,
            Some(badge) if source.badge == 0 => badge,
            Some(_) => return Err(SysError::RightsEscalation),
        };
        let slot = self.target_slot(dst, slot)?;
        if let Some(watcher) = watch {
            let fresh = badge != 0 && !self.watches.contains_key(&(source.object, badge));
            ensure(fresh, SysError::InvalidArgument)?;
            self.watches.insert((source.object, badge), (0, watcher));
        }
        let cap = Cap::new(source.object, rights, badge);
        self.attach_node(cap, dst, slot, Some(parent))?;
        Ok(slot)
    }

    /// Moves a cap to another slot (possibly in another table). The source slot is
    /// emptied; the cap keeps its parent and children. Used for IPC cap transfer.
    pub fn transfer(&mut self, src: (TableId, u32), dst: TableId, at: Option<u32>) -> Result<u32> {
        let id = self.node_at(src.0, src.1)?;
        let slot = self.target_slot(dst, at)?;
        self.move_node(id, dst, slot);
        Ok(slot)
    }

    /// Deletes one cap; its children become children of its parent.
    pub fn delete(&mut self, table: TableId, slot: u32) -> Result<O> {
        let id = self.node_at(table, slot)?;
        Ok(self.detach_node(id))
    }

    /// Deletes every cap derived from the one in `slot`, in all tables, keeping the
    /// cap itself. Iterative and O(descendants). Returns the deleted caps' objects.
    pub fn revoke(&mut self, table: TableId, slot: u32) -> Result<Vec<O>> {
        let root = self.node_at(table, slot)?;
        let mut objects = Vec::new();
        let mut cursor = self.node(root).first_child;
        // Walk down to a leaf, delete it, step back to its parent; each descendant is
        // entered once and left once.
        while let Some(id) = cursor {
            let node = self.node(id);
            if let Some(child) = node.first_child {
                cursor = Some(child);
                continue;
            }
            let parent = node.parent;
            objects.push(self.detach_node(id));
            cursor = match parent {
                Some(parent) if parent != root => Some(parent),
                _ => self.node(root).first_child,
            };
        }
        Ok(objects)
    }

    /// Number of occupied slots in `table`.
    pub fn count(&self, table: TableId) -> Result<usize> {
        Ok(self.table(table)?.occupied)
    }

    // ---- lookups ----

    fn table(&self, id: TableId) -> Result<&Table> {
        self.tables
            .get(id.index as usize)
            .filter(|entry| entry.generation == id.generation)
            .and_then(|entry| entry.table.as_ref())
            .ok_or(SysError::InvalidCap)
    }

    /// The node in an occupied slot.
    fn node_at(&self, table: TableId, slot: u32) -> Result<NodeId> {
        self.table(table)?.get(slot).ok_or(SysError::InvalidCap)
    }

    /// Checks `slot` is in range and empty, or picks the lowest free one.
    fn target_slot(&self, table: TableId, slot: Option<u32>) -> Result<u32> {
        let table = self.table(table)?;
        match slot {
            None => table.lowest_free().ok_or(SysError::SlotsFull),
            Some(slot) if slot >= table.max_slots => Err(SysError::InvalidCap),
            Some(slot) if table.get(slot).is_some() => Err(SysError::InvalidArgument),
            Some(slot) => Ok(slot),
        }
    }

    // Links between nodes are maintained only by this module, so a link to a freed
    // node is a kernel bug, never a user error.
    fn node(&self, id: NodeId) -> &Node<O> {
        self.nodes[id.0 as usize].as_ref().expect(FREED_NODE)
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node<O> {
        self.nodes[id.0 as usize].as_mut().expect(FREED_NODE)
    }

    // ---- mutations: every change of the capability space goes through these ----

    /// Stores `cap` in the (checked, empty) `slot` as a child of `parent`.
    fn attach_node(
        &mut self,
        cap: Cap<O>,
        table: TableId,
        slot: u32,
        parent: Option<NodeId>,
    ) -> Result<NodeId> {
        let node = Node {
            cap,
            table,
            slot,
            parent: None,
            first_child: None,
            next_sibling: None,
            prev_sibling: None,
        };
        let id = match self.free_nodes.pop() {
            Some(id) => id,
            None => {
                let index = u32::try_from(self.nodes.len()).map_err(|_| SysError::QuotaExceeded)?;
                self.nodes.push(None);
                NodeId(index)
            }
        };
        self.nodes[id.0 as usize] = Some(node);
        self.set_slot(table, slot, Some(id));
        if let Some(parent) = parent {
            self.link_child(parent, id);
        }
        if let Some((count, _)) = self.watches.get_mut(&(cap.object, cap.badge)) {
            *count += 1;
        }
        let (node, parent) = (id.0, parent.map_or(zos_axiom::NO_NODE, |p| p.0));
        let (rights, badge) = (cap.rights.bits(), cap.badge);
        let inserted =
            CapChange::inserted(node, parent, table.word(), slot, cap.object, rights, badge);
        self.record(inserted);
        Ok(id)
    }

    /// Removes a node from its slot and from the tree, handing its children to its
    /// parent (or making them roots). Returns the object it named.
    fn detach_node(&mut self, id: NodeId) -> O {
        let parent = self.node(id).parent;
        self.unlink_from_parent(id);
        let mut child = self.node(id).first_child;
        while let Some(current) = child {
            child = self.node(current).next_sibling;
            match parent {
                Some(parent) => self.link_child(parent, current),
                None => {
                    let orphan = self.node_mut(current);
                    orphan.parent = None;
                    orphan.prev_sibling = None;
                    orphan.next_sibling = None;
                }
            }
        }
        let node = self.node(id);
        self.set_slot(node.table, node.slot, None);
        let Cap { object, badge, .. } = self.node(id).cap;
        self.nodes[id.0 as usize] = None;
        self.free_nodes.push(id);
        self.record(CapChange::Deleted { node: id.0 });
        if let Some((count, watcher)) = self.watches.get_mut(&(object, badge)) {
            *count -= 1;
            if *count == 0 {
                self.silenced.push((object, badge, *watcher));
                self.watches.remove(&(object, badge));
            }
        }
        object
    }

    /// Moves a node to an empty, checked slot, keeping its tree links.
    fn move_node(&mut self, id: NodeId, table: TableId, slot: u32) {
        let node = self.node(id);
        self.set_slot(node.table, node.slot, None);
        self.set_slot(table, slot, Some(id));
        let node = self.node_mut(id);
        node.table = table;
        node.slot = slot;
        self.record(CapChange::moved(id.0, table.word(), slot));
    }

    fn record(&mut self, change: CapChange<O>) {
        if self.recording {
            self.journal.push(change);
        }
    }

    /// Feeds every live table, then every capability, to `hasher` in slab
    /// order (Axiom's state hash); `name` turns an object into its log name.
    pub fn hash_into(&self, hasher: &mut StateHasher, name: impl Fn(O) -> Obj) {
        for (index, entry) in self.tables.iter().enumerate() {
            if let Some(table) = &entry.table {
                let id = (index as u32) << 16 | entry.generation as u32;
                hasher.table(id, table.max_slots);
            }
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let Some(n) = node else { continue };
            let parent = n.parent.map_or(zos_axiom::NO_NODE, |p| p.0);
            let (table, slot, object) = (n.table.word(), n.slot, name(n.cap.object));
            let (rights, badge) = (n.cap.rights.bits(), n.cap.badge);
            let record = zos_axiom::CapRecord::new(parent, table, slot, object, rights, badge);
            hasher.cap(index as u32, &record);
        }
    }

    fn set_slot(&mut self, table: TableId, slot: u32, value: Option<NodeId>) {
        let table = self.tables[table.index as usize].table.as_mut();
        let table = table.expect("capability node in a destroyed table");
        let slot = slot as usize;
        if table.slots.len() <= slot {
            table.slots.resize(slot + 1, None);
        }
        let was_occupied = table.slots[slot].is_some();
        table.slots[slot] = value;
        table.occupied = table.occupied + value.is_some() as usize - was_occupied as usize;
    }

    /// Makes `child` (currently detached) the first child of `parent`.
    fn link_child(&mut self, parent: NodeId, child: NodeId) {
        let old_first = self.node(parent).first_child;
        let node = self.node_mut(child);
        node.parent = Some(parent);
        node.prev_sibling = None;
        node.next_sibling = old_first;
        if let Some(old_first) = old_first {
            self.node_mut(old_first).prev_sibling = Some(child);
        }
        self.node_mut(parent).first_child = Some(child);
    }

    /// Takes a node out of its parent's child list; its own children stay attached.
    fn unlink_from_parent(&mut self, id: NodeId) {
        let node = self.node(id);
        let (parent, prev, next) = (node.parent, node.prev_sibling, node.next_sibling);
        match (prev, parent) {
            (Some(prev), _) => self.node_mut(prev).next_sibling = next,
            (None, Some(parent)) => self.node_mut(parent).first_child = next,
            (None, None) => {}
        }
        if let Some(next) = next {
            self.node_mut(next).prev_sibling = prev;
        }
        let node = self.node_mut(id);
        node.parent = None;
        node.prev_sibling = None;
        node.next_sibling = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only views of the space.
    impl<O: Copy + Ord + core::fmt::Debug> CapSpace<O> {
        /// Like [`CapSpace::lookup`], but refuses a cap lacking any of `needed`.
        pub fn lookup_with(&self, table: TableId, slot: u32, needed: Rights) -> Result<&Cap<O>> {
            let cap = self.lookup(table, slot)?;
            if cap.rights.contains(needed) {
                Ok(cap)
            } else {
                Err(SysError::NoRights)
            }
        }

        /// The lowest free slot of `table`.
        pub fn free_slot(&self, table: TableId) -> Result<u32> {
            self.table(table)?.lowest_free().ok_or(SysError::SlotsFull)
        }

        /// How many caps, in all tables, name `object`. A linear scan, for tests and
        /// diagnostics.
        pub fn caps_of_object(&self, object: O) -> usize {
            self.nodes
                .iter()
                .flatten()
                .filter(|node| node.cap.object == object)
                .count()
        }
    }
    use proptest::prelude::*;

    fn full(object: u32) -> Cap<u32> {
        Cap::new(object, Rights::ALL, 0)
    }

    /// Checks every structural invariant of the capability space.
    fn check_invariants(space: &CapSpace<u32>) {
        let mut live = 0;
        let mut with_parent = 0;
        let mut listed_children = 0;
        for (index, entry) in space.nodes.iter().enumerate() {
            let Some(node) = entry else { continue };
            let id = NodeId(index as u32);
            live += 1;
            let table = space.table(node.table).expect("node lives in a live table");
            assert!(node.slot < table.max_slots);
            assert_eq!(
                table.get(node.slot),
                Some(id),
                "slot points back to its node"
            );
            match node.parent {
                None => {
                    assert_eq!(node.prev_sibling, None);
                    assert_eq!(node.next_sibling, None);
                }
                Some(parent) => {
                    assert!(space.nodes[parent.0 as usize].is_some());
                    with_parent += 1;
                }
            }
            let mut prev = None;
            let mut child = node.first_child;
            while let Some(current) = child {
                let child_node = space.node(current);
                assert_eq!(child_node.parent, Some(id));
                assert_eq!(child_node.prev_sibling, prev);
                listed_children += 1;
                prev = child;
                child = child_node.next_sibling;
            }
            // No cycles: the way up ends at a root within `nodes.len()` steps.
            let mut up = node.parent;
            let mut steps = 0;
            while let Some(ancestor) = up {
                steps += 1;
                assert!(steps <= space.nodes.len(), "cycle in derivation tree");
                up = space.node(ancestor).parent;
            }
        }
        assert_eq!(with_parent, listed_children);
        assert_eq!(live + space.free_nodes.len(), space.nodes.len());
        for id in &space.free_nodes {
            assert!(space.nodes[id.0 as usize].is_none());
        }
        let mut in_tables = 0;
        for (index, entry) in space.tables.iter().enumerate() {
            let Some(table) = &entry.table else { continue };
            let table_id = TableId {
                index: index as u16,
                generation: entry.generation,
            };
            assert!(table.slots.len() <= table.max_slots as usize);
            let mut occupied = 0;
            for (slot, id) in table.slots.iter().enumerate() {
                let Some(id) = id else { continue };
                occupied += 1;
                let node = space.node(*id);
                assert_eq!(node.table, table_id);
                assert_eq!(node.slot as usize, slot);
            }
            assert_eq!(occupied, table.occupied);
            in_tables += occupied;
        }
        assert_eq!(in_tables, live);
    }

    fn descendants(space: &CapSpace<u32>, table: TableId, slot: u32) -> usize {
        let mut stack = vec![space.node_at(table, slot).unwrap()];
        let mut count = 0;
        while let Some(id) = stack.pop() {
            let mut child = space.node(id).first_child;
            while let Some(current) = child {
                count += 1;
                stack.push(current);
                child = space.node(current).next_sibling;
            }
        }
        count
    }

    #[test]
    fn insert_and_lookup() {
        let mut space = CapSpace::default();
        let t = space.create_table(8).unwrap();
        assert_eq!(space.insert_root(t, None, full(7)), Ok(0));
        assert_eq!(
            space.insert_root(t, Some(5), Cap::new(9, Rights::READ, 3)),
            Ok(5)
        );
        assert_eq!(space.insert_root(t, None, full(8)), Ok(1));
        assert_eq!(space.lookup(t, 0), Ok(&full(7)));
        assert_eq!(space.lookup(t, 5).unwrap().badge, 3);
        assert_eq!(space.lookup(t, 2), Err(SysError::InvalidCap));
        assert_eq!(
            space.insert_root(t, Some(5), full(1)),
            Err(SysError::InvalidArgument)
        );
        assert_eq!(space.count(t), Ok(3));
        assert_eq!(space.free_slot(t), Ok(2));
        assert_eq!(space.lookup_with(t, 5, Rights::READ).unwrap().object, 9);
        assert_eq!(
            space.lookup_with(t, 5, Rights::READ | Rights::WRITE),
            Err(SysError::NoRights)
        );
        check_invariants(&space);
    }

    #[test]
    fn slot_bounds_and_full_table() {
        let mut space = CapSpace::default();
        let t = space.create_table(2).unwrap();
        assert_eq!(
            space.insert_root(t, Some(2), full(1)),
            Err(SysError::InvalidCap)
        );
        assert_eq!(
            space.insert_root(t, Some(u32::MAX), full(1)),
            Err(SysError::InvalidCap)
        );
        assert_eq!(space.lookup(t, 2), Err(SysError::InvalidCap));
        assert_eq!(space.delete(t, u32::MAX), Err(SysError::InvalidCap));
        space.insert_root(t, None, full(1)).unwrap();
        space.insert_root(t, None, full(2)).unwrap();
        assert_eq!(space.free_slot(t), Err(SysError::SlotsFull));
        assert_eq!(
            space.insert_root(t, None, full(3)),
            Err(SysError::SlotsFull)
        );
        assert_eq!(space.copy((t, 0), t, None), Err(SysError::SlotsFull));
        let empty = space.create_table(0).unwrap();
        assert_eq!(space.free_slot(empty), Err(SysError::SlotsFull));
        assert_eq!(
            space.create_table(MAX_TABLE_SLOTS + 1),
            Err(SysError::QuotaExceeded)
        );
        check_invariants(&space);
    }

    #[test]
    fn mint_rights_and_badges() {
        let mut space = CapSpace::default();
        let t = space.create_table(16).unwrap();
        let rw = Rights::READ | Rights::WRITE;
        space.insert_root(t, Some(0), Cap::new(1, rw, 0)).unwrap();
        assert_eq!(
            space.mint((t, 0), t, None, Rights::READ | Rights::GRANT, None, None),
            Err(SysError::RightsEscalation)
        );
        let read = space
            .mint((t, 0), t, None, Rights::READ, None, None)
            .unwrap();
        assert_eq!(space.lookup(t, read), Ok(&Cap::new(1, Rights::READ, 0)));
        let badged = space.mint((t, 0), t, None, rw, Some(42), None).unwrap();
        assert_eq!(space.lookup(t, badged).unwrap().badge, 42);
        // A badged cap keeps its badge through mint and copy, and cannot be re-badged.
        let narrowed = space
            .mint((t, badged), t, None, Rights::WRITE, None, None)
            .unwrap();
        assert_eq!(
            space.lookup(t, narrowed),
            Ok(&Cap::new(1, Rights::WRITE, 42))
        );
        assert_eq!(
            space.mint((t, badged), t, None, rw, Some(7), None),
            Err(SysError::RightsEscalation)
        );
        let copied = space.copy((t, badged), t, None).unwrap();
        assert_eq!(space.lookup(t, copied).unwrap().badge, 42);
        assert_eq!(
            space.mint((t, read), t, None, rw, None, None),
            Err(SysError::RightsEscalation)
        );
        assert_eq!(
            space.mint((t, 15), t, None, rw, None, None),
            Err(SysError::InvalidCap)
        );
        check_invariants(&space);
    }

    #[test]
    fn a_watched_badge_is_silenced_once_its_last_cap_goes() {
        let mut space = CapSpace::default();
        let server = space.create_table(8).unwrap();
        let client = space.create_table(8).unwrap();
        space.insert_root(server, Some(0), full(1)).unwrap();
        assert_eq!(
            space.mint((server, 0), server, None, Rights::WRITE, None, Some(99)),
            Err(SysError::InvalidArgument)
        );
        let minted = space
            .mint((server, 0), server, None, Rights::WRITE, Some(5), Some(99))
            .unwrap();
        assert_eq!(
            space.mint((server, 0), server, None, Rights::WRITE, Some(5), Some(99)),
            Err(SysError::InvalidArgument)
        );
        // Moved to the client, copied there and narrowed: three caps, one badge.
        let moved = space.transfer((server, minted), client, None).unwrap();
        space.copy((client, moved), client, None).unwrap();
        space
            .mint((client, moved), server, None, Rights::empty(), None, None)
            .unwrap();
        // An unwatched badge and unbadged caps do not matter.
        space
            .mint((server, 0), client, None, Rights::WRITE, Some(6), None)
            .unwrap();
        space.delete(client, moved).unwrap();
        assert!(space.silenced.is_empty());
        space.destroy_table(client).unwrap();
        assert!(
            space.silenced.is_empty(),
            "the narrowed copy in the server remains"
        );
        assert_eq!(space.revoke(server, 0).unwrap().len(), 1);
        assert_eq!(core::mem::take(&mut space.silenced), vec![(1, 5, 99)]);
        assert!(space.silenced.is_empty());
        // The badge may be watched again once its end was taken.
        space
            .mint((server, 0), server, None, Rights::WRITE, Some(5), Some(99))
            .unwrap();
        check_invariants(&space);
    }

    #[test]
    fn copy_then_delete() {
        let mut space = CapSpace::default();
        let a = space.create_table(4).unwrap();
        let b = space.create_table(4).unwrap();
        space
            .insert_root(a, Some(1), Cap::new(5, Rights::READ, 9))
            .unwrap();
        let slot = space.copy((a, 1), b, Some(3)).unwrap();
        assert_eq!(slot, 3);
        assert_eq!(space.lookup(b, 3), Ok(&Cap::new(5, Rights::READ, 9)));
        assert_eq!(space.caps_of_object(5), 2);
        assert_eq!(
            space.copy((a, 1), b, Some(3)),
            Err(SysError::InvalidArgument)
        );
        assert_eq!(space.copy((a, 0), b, None), Err(SysError::InvalidCap));
        assert_eq!(space.delete(b, 3), Ok(5));
        assert_eq!(space.delete(b, 3), Err(SysError::InvalidCap));
        assert_eq!(space.caps_of_object(5), 1);
        assert_eq!(space.count(b), Ok(0));
        check_invariants(&space);
    }

    #[test]
    fn deep_revoke_across_three_tables() {
        const DEPTH: u32 = 10_000;
        let mut space = CapSpace::default();
        let tables = [
            space.create_table(DEPTH).unwrap(),
            space.create_table(DEPTH).unwrap(),
            space.create_table(DEPTH).unwrap(),
        ];
        let root = space.insert_root(tables[0], None, full(1)).unwrap();
        let mut previous = (tables[0], root);
        for depth in 0..DEPTH {
            let table = tables[(depth % 3) as usize];
            let slot = space.copy(previous, table, None).unwrap();
            previous = (table, slot);
        }
        // A side branch and an unrelated cap that must survive.
        space.copy((tables[0], root), tables[2], None).unwrap();
        space.insert_root(tables[1], None, full(2)).unwrap();
        assert_eq!(space.caps_of_object(1), DEPTH as usize + 2);

        let revoked = space.revoke(tables[0], root).unwrap();
        assert_eq!(revoked.len(), DEPTH as usize + 1);
        assert!(revoked.iter().all(|&object| object == 1));
        assert_eq!(
            space.lookup(tables[0], root),
            Ok(&full(1)),
            "revoke keeps the cap itself"
        );
        assert_eq!(space.caps_of_object(1), 1);
        assert_eq!(space.caps_of_object(2), 1);
        assert_eq!(space.count(tables[0]), Ok(1));
        assert_eq!(space.count(tables[1]), Ok(1));
        assert_eq!(space.count(tables[2]), Ok(0));
        check_invariants(&space);
    }

    #[test]
    fn deep_chain_delete_and_destroy_without_recursion() {
        const DEPTH: u32 = 10_000;
        let mut space = CapSpace::default();
        let a = space.create_table(DEPTH + 1).unwrap();
        let b = space.create_table(DEPTH + 1).unwrap();
        space.insert_root(a, Some(0), full(1)).unwrap();
        for slot in 1..=DEPTH {
            space.copy((a, slot - 1), a, Some(slot)).unwrap();
        }
        space.copy((a, DEPTH), b, None).unwrap();
        assert_eq!(space.delete(a, 0), Ok(1));
        assert_eq!(space.destroy_table(a).unwrap().len(), DEPTH as usize);
        assert_eq!(space.caps_of_object(1), 1);
        assert_eq!(space.node(space.node_at(b, 0).unwrap()).parent, None);
        check_invariants(&space);
    }

    #[test]
    fn revoke_leaves_original_and_unrelated_caps() {
        let mut space = CapSpace::default();
        let t = space.create_table(8).unwrap();
        space.insert_root(t, Some(0), full(1)).unwrap();
        let child = space.copy((t, 0), t, None).unwrap();
        space.copy((t, child), t, None).unwrap();
        space.insert_root(t, Some(7), full(1)).unwrap();
        assert_eq!(space.revoke(t, child).unwrap(), vec![1]);
        assert_eq!(space.count(t), Ok(3));
        assert_eq!(space.revoke(t, 0).unwrap(), vec![1]);
        assert_eq!(space.lookup(t, 0), Ok(&full(1)));
        assert_eq!(space.lookup(t, 7), Ok(&full(1)));
        assert_eq!(space.revoke(t, 0).unwrap(), Vec::<u32>::new());
        assert_eq!(space.revoke(t, 3), Err(SysError::InvalidCap));
        check_invariants(&space);
    }

    #[test]
    fn delete_reparents_children_to_grandparent() {
        let mut space = CapSpace::default();
        let a = space.create_table(4).unwrap();
        let b = space.create_table(4).unwrap();
        let c = space.create_table(4).unwrap();
        space.insert_root(a, Some(0), full(1)).unwrap();
        space.copy((a, 0), b, Some(0)).unwrap();
        space.copy((b, 0), c, Some(0)).unwrap();
        space.copy((b, 0), c, Some(1)).unwrap();
        assert_eq!(space.delete(b, 0), Ok(1));
        check_invariants(&space);
        assert_eq!(space.revoke(a, 0).unwrap().len(), 2);
        assert_eq!(space.count(c), Ok(0));
        // Deleting a root makes its children roots.
        space.copy((a, 0), b, Some(1)).unwrap();
        space.delete(a, 0).unwrap();
        assert_eq!(space.node(space.node_at(b, 1).unwrap()).parent, None);
        check_invariants(&space);
    }

    #[test]
    fn transfer_keeps_derivation() {
        let mut space = CapSpace::default();
        let a = space.create_table(4).unwrap();
        let b = space.create_table(4).unwrap();
        let c = space.create_table(4).unwrap();
        space.insert_root(a, Some(0), full(1)).unwrap();
        space
            .mint((a, 0), b, Some(2), Rights::READ, Some(5), None)
            .unwrap();
        space.copy((b, 2), b, Some(3)).unwrap();
        assert_eq!(space.transfer((b, 2), c, None), Ok(0));
        assert_eq!(space.lookup(b, 2), Err(SysError::InvalidCap));
        assert_eq!(space.lookup(c, 0), Ok(&Cap::new(1, Rights::READ, 5)));
        assert_eq!(space.transfer((b, 2), c, None), Err(SysError::InvalidCap));
        assert_eq!(
            space.transfer((c, 0), b, Some(3)),
            Err(SysError::InvalidArgument)
        );
        check_invariants(&space);
        // The moved cap is still the parent of (b, 3) and the child of (a, 0).
        assert_eq!(space.revoke(c, 0).unwrap(), vec![1]);
        space.copy((c, 0), b, Some(3)).unwrap();
        assert_eq!(space.revoke(a, 0).unwrap().len(), 2);
        assert_eq!(space.count(b), Ok(0));
        assert_eq!(space.count(c), Ok(0));
        check_invariants(&space);
    }

    #[test]
    fn destroy_table_returns_objects_and_reparents() {
        let mut space = CapSpace::default();
        let a = space.create_table(4).unwrap();
        let b = space.create_table(4).unwrap();
        let c = space.create_table(4).unwrap();
        space.insert_root(a, Some(0), full(1)).unwrap();
        space.copy((a, 0), b, Some(0)).unwrap();
        space.insert_root(b, Some(1), full(2)).unwrap();
        space.copy((b, 0), c, Some(0)).unwrap();
        let mut objects = space.destroy_table(b).unwrap();
        objects.sort_unstable();
        assert_eq!(objects, vec![1, 2]);
        check_invariants(&space);
        assert_eq!(space.revoke(a, 0).unwrap(), vec![1]);
        assert_eq!(space.count(c), Ok(0));
        assert_eq!(space.caps_of_object(2), 0);
    }

    #[test]
    fn stale_table_ids_are_refused() {
        let mut space = CapSpace::default();
        let old = space.create_table(4).unwrap();
        space.insert_root(old, None, full(1)).unwrap();
        space.destroy_table(old).unwrap();
        let new = space.create_table(4).unwrap();
        assert_ne!(old, new);
        assert_eq!(old.index, new.index, "the index is reused");
        assert_eq!(space.lookup(old, 0), Err(SysError::InvalidCap));
        assert_eq!(
            space.insert_root(old, None, full(1)),
            Err(SysError::InvalidCap)
        );
        assert_eq!(space.count(old), Err(SysError::InvalidCap));
        assert_eq!(space.destroy_table(old), Err(SysError::InvalidCap));
        assert_eq!(space.copy((new, 0), old, None), Err(SysError::InvalidCap));
        space.insert_root(new, None, full(1)).unwrap();
        assert_eq!(space.copy((new, 0), old, None), Err(SysError::InvalidCap));
        assert_eq!(space.count(new), Ok(1));
        assert_eq!(
            space.lookup(
                TableId {
                    index: u16::MAX,
                    generation: u16::MAX
                },
                0
            ),
            Err(SysError::InvalidCap)
        );
        check_invariants(&space);
    }

    #[test]
    fn exhausted_generation_retires_the_index() {
        let mut space: CapSpace<u32> = CapSpace::default();
        let t = space.create_table(1).unwrap();
        space.tables[t.index as usize].generation = u16::MAX;
        let last = TableId {
            index: t.index,
            generation: u16::MAX,
        };
        space.destroy_table(last).unwrap();
        let next = space.create_table(1).unwrap();
        assert_ne!(next.index as usize, t.index as usize);
        assert_eq!(space.count(last), Err(SysError::InvalidCap));
    }

    #[derive(Clone, Debug)]
    enum Op {
        CreateTable(u32),
        DestroyTable(usize),
        InsertRoot(usize, Option<u32>, u32),
        Copy(usize, u32, usize, Option<u32>),
        Mint(usize, u32, usize, Option<u32>, u32, Option<Badge>),
        Transfer(usize, u32, usize, Option<u32>),
        Delete(usize, u32),
        Revoke(usize, u32),
    }

    const OBJECTS: u32 = 5;

    fn op() -> impl Strategy<Value = Op> {
        let table = 0usize..8;
        let slot = 0u32..10;
        let dst_slot = proptest::option::of(0u32..10);
        prop_oneof![
            1 => (0u32..9).prop_map(Op::CreateTable),
            1 => table.clone().prop_map(Op::DestroyTable),
            3 => (table.clone(), dst_slot.clone(), 0..OBJECTS)
                .prop_map(|(t, s, o)| Op::InsertRoot(t, s, o)),
            4 => (table.clone(), slot.clone(), table.clone(), dst_slot.clone())
                .prop_map(|(t, s, d, ds)| Op::Copy(t, s, d, ds)),
            3 => (
                table.clone(),
                slot.clone(),
                table.clone(),
                dst_slot.clone(),
                0u32..32,
                proptest::option::of(0u64..3)
            )
                .prop_map(|(t, s, d, ds, r, b)| Op::Mint(t, s, d, ds, r, b)),
            2 => (table.clone(), slot.clone(), table.clone(), dst_slot)
                .prop_map(|(t, s, d, ds)| Op::Transfer(t, s, d, ds)),
            2 => (table.clone(), slot.clone()).prop_map(|(t, s)| Op::Delete(t, s)),
            1 => (table, slot).prop_map(|(t, s)| Op::Revoke(t, s)),
        ]
    }

    proptest! {
        #[test]
        fn random_operations_keep_invariants(ops in proptest::collection::vec(op(), 1..120)) {
            let mut space = CapSpace::default();
            // Every id ever created, live or destroyed, so stale ids get exercised.
            let mut ids = vec![space.create_table(6).unwrap()];
            let mut model = [0usize; OBJECTS as usize];
            let pick = |ids: &Vec<TableId>, index: usize| ids[index % ids.len()];
            for op in ops {
                match op {
                    Op::CreateTable(slots) => ids.push(space.create_table(slots).unwrap()),
                    Op::DestroyTable(t) => {
                        if let Ok(objects) = space.destroy_table(pick(&ids, t)) {
                            objects.iter().for_each(|&o| model[o as usize] -= 1);
                        }
                    }
                    Op::InsertRoot(t, slot, object) => {
                        if space.insert_root(pick(&ids, t), slot, full(object)).is_ok() {
                            model[object as usize] += 1;
                        }
                    }
                    Op::Copy(t, s, d, ds) => {
                        let src = (pick(&ids, t), s);
                        if let Ok(slot) = space.copy(src, pick(&ids, d), ds) {
                            let copied = *space.lookup(pick(&ids, d), slot).unwrap();
                            prop_assert_eq!(Ok(&copied), space.lookup(src.0, src.1));
                            model[copied.object as usize] += 1;
                        }
                    }
                    Op::Mint(t, s, d, ds, rights, badge) => {
                        let rights = Rights::from_bits_truncate(rights);
                        let src = (pick(&ids, t), s);
                        if let Ok(slot) = space.mint(src, pick(&ids, d), ds, rights, badge, None) {
                            let minted = *space.lookup(pick(&ids, d), slot).unwrap();
                            prop_assert_eq!(minted.rights, rights);
                            model[minted.object as usize] += 1;
                        }
                    }
                    Op::Transfer(t, s, d, ds) => {
                        let before = space.lookup(pick(&ids, t), s).copied();
                        if let Ok(slot) = space.transfer((pick(&ids, t), s), pick(&ids, d), ds) {
                            prop_assert_eq!(space.lookup(pick(&ids, d), slot).copied(), before);
                        }
                    }
                    Op::Delete(t, s) => {
                        if let Ok(object) = space.delete(pick(&ids, t), s) {
                            model[object as usize] -= 1;
                        }
                    }
                    Op::Revoke(t, s) => {
                        let table = pick(&ids, t);
                        let expected = space.node_at(table, s).map(|_| descendants(&space, table, s));
                        let before = space.lookup(table, s).copied();
                        if let Ok(objects) = space.revoke(table, s) {
                            prop_assert_eq!(Ok(objects.len()), expected);
                            prop_assert_eq!(space.lookup(table, s).copied(), before);
                            objects.iter().for_each(|&o| model[o as usize] -= 1);
                        }
                    }
                }
                check_invariants(&space);
                for object in 0..OBJECTS {
                    prop_assert_eq!(space.caps_of_object(object), model[object as usize]);
                }
            }
        }
    }
}
