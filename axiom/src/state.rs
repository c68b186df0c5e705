//! The reducer: kernel object state as the commits describe it, and its hash.
//!
//! [`State`] is the model: objects, capability tables, capabilities (by their
//! derivation node) and mapped regions. [`apply`] is the one function that
//! changes it. [`StateHasher`] defines the state hash: the kernel feeds it
//! its live objects, tables, capabilities and regions in slab order, the host
//! feeds it a replayed `State` in key order, and the two must agree.
//! Scheduling state (run queues, what a thread is blocked on, message
//! contents, notification bits, saved registers) is not object state and not
//! hashed: it changes on every IPC and depends on timing (docs/axiom.md).

use alloc::collections::BTreeMap;
use sha2::{Digest as _, Sha256};

use crate::commit::{Commit, Obj, NO_NODE};
use crate::Digest;

/// A process as the state hash sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessRecord {
    pub pid: u32,
    pub table: u32,
    pub creator: Obj,
    pub limit: u64,
    pub used: u64,
    /// 0 alive, 1 exited (`a` the code), 2 killed (`a` address, `b` pc).
    pub state: u8,
    pub a: u64,
    pub b: u64,
    /// Exit notification and bits; fault endpoint and badge (NONE, 0: none).
    pub exit: (Obj, u64),
    pub fault: (Obj, u64),
}

/// A thread as the state hash sees it: `life` 0 created, 1 started, 2 ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadRecord {
    pub tid: u32,
    pub process: Obj,
    pub priority: u8,
    /// The CPUs it may run on (bit N: CPU N).
    pub cpus: u8,
    pub life: u8,
}

/// One live kernel object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectRecord {
    Process(ProcessRecord),
    Thread(ThreadRecord),
    /// Any other kind (the ABI's `ObjectKind` number). `detail`: a Memory
    /// object's pages (bit 63 device, bit 62 read-only), an Irq's line,
    /// else 0. `binding`: an Irq's notification and bits (NONE, 0: none).
    Other {
        kind: u8,
        detail: u64,
        binding: (Obj, u64),
    },
}

impl ProcessRecord {
    /// A live process with no bindings (set the rest by field).
    pub fn new(pid: u32, table: u32, creator: Obj, limit: u64, used: u64) -> Self {
        let (exit, fault) = ((Obj::NONE, 0), (Obj::NONE, 0));
        Self {
            pid,
            table,
            creator,
            limit,
            used,
            exit,
            fault,
            ..Self::default()
        }
    }
}

impl CapRecord {
    pub fn new(parent: u32, table: u32, slot: u32, object: Obj, rights: u32, badge: u64) -> Self {
        Self {
            parent,
            table,
            slot,
            object,
            rights,
            badge,
        }
    }
}

impl ObjectRecord {
    pub fn thread(tid: u32, process: Obj, (priority, cpus): (u8, u8), life: u8) -> Self {
        ObjectRecord::Thread(ThreadRecord {
            tid,
            process,
            priority,
            cpus,
            life,
        })
    }

    pub fn other(kind: u8, detail: u64, binding: (Obj, u64)) -> Self {
        ObjectRecord::Other {
            kind,
            detail,
            binding,
        }
    }

    /// The commit that creates an object in this state.
    pub fn created(&self, object: Obj) -> Commit {
        match *self {
            ObjectRecord::Process(p) => {
                let (pid, table, creator, limit) = (p.pid, p.table, p.creator, p.limit);
                Commit::ProcessCreated {
                    process: object,
                    pid,
                    table,
                    creator,
                    limit,
                }
            }
            ObjectRecord::Thread(t) => {
                let (process, tid, priority, cpus) = (t.process, t.tid, t.priority, t.cpus);
                Commit::ThreadCreated {
                    thread: object,
                    process,
                    tid,
                    priority,
                    cpus,
                }
            }
            ObjectRecord::Other { kind, detail, .. } => Commit::ObjectCreated {
                object,
                kind,
                detail,
            },
        }
    }
}

/// A capability in the derivation tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapRecord {
    pub parent: u32,
    pub table: u32,
    pub slot: u32,
    pub object: Obj,
    pub rights: u32,
    pub badge: u64,
}

/// A mapped region of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionRecord {
    pub memory: Obj,
    pub first_page: u32,
    pub pages: u32,
    pub flags: u8,
}

/// Kernel object state rebuilt from commits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub objects: BTreeMap<Obj, ObjectRecord>,
    pub tables: BTreeMap<u32, u32>,
    pub caps: BTreeMap<u32, CapRecord>,
    pub regions: BTreeMap<(Obj, u64), RegionRecord>,
}

/// A commit that does not fit the state it is applied to (a forged or
/// damaged log, or a kernel that changed state without a commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    ObjectExists(Obj),
    NoSuchObject(Obj),
    NoSuchTable(u32),
    NodeExists(u32),
    NoSuchNode(u32),
    NoSuchRegion(Obj, u64),
}

/// Applies one commit to `state`: the only way replayed state changes.
pub fn apply(state: &mut State, commit: &Commit) -> Result<(), ReplayError> {
    use Commit::*;
    match *commit {
        ProcessCreated {
            process,
            pid,
            table,
            creator,
            limit,
        } => {
            let record = ProcessRecord::new(pid, table, creator, limit, 0);
            create(state, process, ObjectRecord::Process(record))
        }
        ThreadCreated {
            thread,
            process,
            tid,
            priority,
            cpus,
        } => {
            let record = ThreadRecord {
                tid,
                process,
                priority,
                cpus,
                life: 0,
            };
            create(state, thread, ObjectRecord::Thread(record))
        }
        ObjectCreated {
            object,
            kind,
            detail,
        } => create(
            state,
            object,
            ObjectRecord::Other {
                kind,
                detail,
                binding: (Obj::NONE, 0),
            },
        ),
        ObjectDestroyed { object } => state
            .objects
            .remove(&object)
            .map(drop)
            .ok_or(ReplayError::NoSuchObject(object)),
        TableCreated { table, max_slots } => {
            state.tables.insert(table, max_slots);
            Ok(())
        }
        TableDestroyed { table } => state
            .tables
            .remove(&table)
            .map(drop)
            .ok_or(ReplayError::NoSuchTable(table)),
        CapInserted {
            node,
            parent,
            table,
            slot,
            object,
            rights,
            badge,
        } => {
            if !state.tables.contains_key(&table) {
                return Err(ReplayError::NoSuchTable(table));
            }
            // A capability names an object some commit created.
            if !state.objects.contains_key(&object) {
                return Err(ReplayError::NoSuchObject(object));
            }
            let record = CapRecord {
                parent,
                table,
                slot,
                object,
                rights,
                badge,
            };
            match state.caps.insert(node, record) {
                Some(_) => Err(ReplayError::NodeExists(node)),
                None => Ok(()),
            }
        }
        CapDeleted { node } => {
            let gone = state
                .caps
                .remove(&node)
                .ok_or(ReplayError::NoSuchNode(node))?;
            for cap in state.caps.values_mut().filter(|c| c.parent == node) {
                cap.parent = gone.parent;
            }
            Ok(())
        }
        CapMoved { node, table, slot } => {
            let cap = state
                .caps
                .get_mut(&node)
                .ok_or(ReplayError::NoSuchNode(node))?;
            (cap.table, cap.slot) = (table, slot);
            Ok(())
        }
        Mapped {
            process,
            va,
            memory,
            first_page,
            pages,
            flags,
        } => {
            process_mut(state, process)?;
            let region = RegionRecord {
                memory,
                first_page,
                pages,
                flags,
            };
            state.regions.insert((process, va), region);
            Ok(())
        }
        Unmapped { process, va } => {
            let gone = state.regions.remove(&(process, va));
            gone.map(drop).ok_or(ReplayError::NoSuchRegion(process, va))
        }
        Protected { process, va, flags } => {
            let region = state.regions.get_mut(&(process, va));
            region.ok_or(ReplayError::NoSuchRegion(process, va))?.flags = flags;
            Ok(())
        }
        QuotaUsed { process, used } => {
            process_mut(state, process)?.used = used;
            Ok(())
        }
        ProcessEnded {
            process,
            state: how,
            a,
            b,
        } => {
            let p = process_mut(state, process)?;
            (p.state, p.a, p.b) = (how, a, b);
            Ok(())
        }
        ExitNotification {
            process,
            notification,
            bits,
        } => {
            process_mut(state, process)?.exit = (notification, bits);
            Ok(())
        }
        FaultEndpoint {
            process,
            endpoint,
            badge,
        } => {
            process_mut(state, process)?.fault = (endpoint, badge);
            Ok(())
        }
        ThreadStarted { thread } => {
            thread_mut(state, thread)?.life = 1;
            Ok(())
        }
        ThreadEnded { thread } => {
            thread_mut(state, thread)?.life = 2;
            Ok(())
        }
        Priority { thread, priority } => {
            thread_mut(state, thread)?.priority = priority;
            Ok(())
        }
        Affinity { thread, cpus } => {
            thread_mut(state, thread)?.cpus = cpus;
            Ok(())
        }
        IrqBound {
            irq,
            notification,
            bits,
        } => match state.objects.get_mut(&irq) {
            Some(ObjectRecord::Other { binding, .. }) => {
                *binding = (notification, bits);
                Ok(())
            }
            _ => Err(ReplayError::NoSuchObject(irq)),
        },
    }
}

fn create(state: &mut State, object: Obj, record: ObjectRecord) -> Result<(), ReplayError> {
    match state.objects.insert(object, record) {
        Some(_) => Err(ReplayError::ObjectExists(object)),
        None => Ok(()),
    }
}

fn process_mut(state: &mut State, process: Obj) -> Result<&mut ProcessRecord, ReplayError> {
    match state.objects.get_mut(&process) {
        Some(ObjectRecord::Process(p)) => Ok(p),
        _ => Err(ReplayError::NoSuchObject(process)),
    }
}

fn thread_mut(state: &mut State, thread: Obj) -> Result<&mut ThreadRecord, ReplayError> {
    match state.objects.get_mut(&thread) {
        Some(ObjectRecord::Thread(t)) => Ok(t),
        _ => Err(ReplayError::NoSuchObject(thread)),
    }
}

impl State {
    /// The state hash of this state.
    pub fn hash(&self) -> Digest {
        let mut hasher = StateHasher::new();
        self.objects.iter().for_each(|(o, r)| hasher.object(*o, r));
        self.tables.iter().for_each(|(t, m)| hasher.table(*t, *m));
        self.caps.iter().for_each(|(n, c)| hasher.cap(*n, c));
        self.regions
            .iter()
            .for_each(|((p, va), r)| hasher.region(*p, *va, r));
        hasher.finish()
    }
}

/// The state hash: SHA-256 over every object, then every table, capability
/// and region, each in ascending key order, each entry a tag byte and
/// little-endian words. Feed the sections in that order.
pub struct StateHasher {
    sha: Sha256,
}

impl Default for StateHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StateHasher {
    pub fn new() -> Self {
        let mut sha = Sha256::new();
        sha.update(b"zos-axiom-state-v1");
        Self { sha }
    }

    fn entry(&mut self, tag: u8, words: &[u64]) {
        self.sha.update([tag]);
        words.iter().for_each(|w| self.sha.update(w.to_le_bytes()));
    }

    pub fn object(&mut self, object: Obj, record: &ObjectRecord) {
        match *record {
            ObjectRecord::Process(p) => self.entry(
                1,
                &[
                    object.0,
                    p.pid as u64,
                    p.table as u64,
                    p.creator.0,
                    p.limit,
                    p.used,
                    p.state as u64,
                    p.a,
                    p.b,
                    p.exit.0 .0,
                    p.exit.1,
                    p.fault.0 .0,
                    p.fault.1,
                ],
            ),
            ObjectRecord::Thread(t) => self.entry(
                2,
                &[
                    object.0,
                    t.tid as u64,
                    t.process.0,
                    t.priority as u64,
                    t.cpus as u64,
                    t.life as u64,
                ],
            ),
            ObjectRecord::Other {
                kind,
                detail,
                binding,
            } => self.entry(3, &[object.0, kind as u64, detail, binding.0 .0, binding.1]),
        }
    }

    pub fn table(&mut self, table: u32, max_slots: u32) {
        self.entry(4, &[table as u64, max_slots as u64]);
    }

    pub fn cap(&mut self, node: u32, c: &CapRecord) {
        let parent = if c.parent == NO_NODE {
            u64::MAX
        } else {
            c.parent as u64
        };
        self.entry(
            5,
            &[
                node as u64,
                parent,
                c.table as u64,
                c.slot as u64,
                c.object.0,
                c.rights as u64,
                c.badge,
            ],
        );
    }

    pub fn region(&mut self, process: Obj, va: u64, r: &RegionRecord) {
        self.entry(
            6,
            &[
                process.0,
                va,
                r.memory.0,
                r.first_page as u64,
                r.pages as u64,
                r.flags as u64,
            ],
        );
    }

    pub fn finish(self) -> Digest {
        self.sha.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_follows_deletes_and_moves() {
        let p = Obj::new(0, 0);
        let e = Obj::new(1, 0);
        let mut s = State::default();
        let commits = [
            Commit::TableCreated {
                table: 1,
                max_slots: 8,
            },
            Commit::ProcessCreated {
                process: p,
                pid: 1,
                table: 1,
                creator: Obj::NONE,
                limit: 100,
            },
            Commit::ObjectCreated {
                object: e,
                kind: 3,
                detail: 0,
            },
            Commit::CapInserted {
                node: 0,
                parent: NO_NODE,
                table: 1,
                slot: 0,
                object: e,
                rights: 31,
                badge: 0,
            },
            Commit::CapInserted {
                node: 1,
                parent: 0,
                table: 1,
                slot: 1,
                object: e,
                rights: 2,
                badge: 5,
            },
            Commit::CapInserted {
                node: 2,
                parent: 1,
                table: 1,
                slot: 2,
                object: e,
                rights: 2,
                badge: 5,
            },
            Commit::CapDeleted { node: 1 },
            Commit::CapMoved {
                node: 2,
                table: 1,
                slot: 7,
            },
            Commit::QuotaUsed {
                process: p,
                used: 40,
            },
        ];
        for c in &commits {
            apply(&mut s, c).unwrap();
        }
        assert_eq!(s.caps[&2].parent, 0);
        assert_eq!(s.caps[&2].slot, 7);
        let before = s.hash();
        apply(
            &mut s,
            &Commit::QuotaUsed {
                process: p,
                used: 41,
            },
        )
        .unwrap();
        assert_ne!(s.hash(), before);
        assert_eq!(
            apply(&mut s, &Commit::CapDeleted { node: 9 }),
            Err(ReplayError::NoSuchNode(9))
        );
        assert_eq!(
            apply(
                &mut s,
                &Commit::ObjectCreated {
                    object: e,
                    kind: 3,
                    detail: 0
                }
            ),
            Err(ReplayError::ObjectExists(e))
        );
    }
}
