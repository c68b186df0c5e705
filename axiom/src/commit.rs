//! The commit kinds and their fixed binary form.
//!
//! A commit is six little-endian words: its sequence number, a header word
//! (kind in the low byte, small fields above) and four words of fields. The
//! form is fixed-size so the kernel's ring is an array and a log is a plain
//! sequence of records.

/// Words of one encoded commit.
pub const COMMIT_WORDS: usize = 6;

/// "No capability node": a root capability's parent.
pub const NO_NODE: u32 = u32::MAX;

/// A kernel object's name in the log: its slab index (high half) and its
/// generation (low half), so ordering follows the kernel's slab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Obj(pub u64);

impl Obj {
    /// Names no object (no exit notification, no creator).
    pub const NONE: Obj = Obj(u64::MAX);

    pub const fn new(index: u32, generation: u32) -> Self {
        Obj(((index as u64) << 32) | generation as u64)
    }

    pub const fn index(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn is_none(self) -> bool {
        self.0 == u64::MAX
    }
}

/// One change of kernel object state. Tables and slots are the kernel's
/// `TableId` (index and generation in one word) and slot numbers; `node` is the
/// capability's node in the kernel's derivation tree (its identity while it
/// lives, reused afterwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// A process record: its pid, capability table, creator (or NONE) and quota.
    ProcessCreated {
        process: Obj,
        pid: u32,
        table: u32,
        creator: Obj,
        limit: u64,
    },
    /// An inactive thread of `process`.
    /// `cpus`: the CPUs it may run on (bit N: CPU N), its creator's.
    ThreadCreated {
        thread: Obj,
        process: Obj,
        tid: u32,
        priority: u8,
        cpus: u8,
    },
    /// Any other object; `detail` as in [`crate::ObjectRecord::Other`].
    ObjectCreated {
        object: Obj,
        kind: u8,
        detail: u64,
    },
    ObjectDestroyed {
        object: Obj,
    },
    TableCreated {
        table: u32,
        max_slots: u32,
    },
    TableDestroyed {
        table: u32,
    },
    /// A capability put into a slot: a root (`parent` = NO_NODE) or derived.
    CapInserted {
        node: u32,
        parent: u32,
        table: u32,
        slot: u32,
        object: Obj,
        rights: u32,
        badge: u64,
    },
    /// A capability deleted; its children now hang from its parent.
    CapDeleted {
        node: u32,
    },
    /// A capability moved to another slot (a transfer), keeping its place in the tree.
    CapMoved {
        node: u32,
        table: u32,
        slot: u32,
    },
    /// `pages` pages of `memory` from `first_page` mapped at `va` (`flags`:
    /// 1 write, 2 execute, 4 device).
    Mapped {
        process: Obj,
        va: u64,
        memory: Obj,
        first_page: u32,
        pages: u32,
        flags: u8,
    },
    Unmapped {
        process: Obj,
        va: u64,
    },
    Protected {
        process: Obj,
        va: u64,
        flags: u8,
    },
    /// What `process`'s subtree uses now, in bytes (after a charge or refund).
    QuotaUsed {
        process: Obj,
        used: u64,
    },
    /// The process ended: `state` 1 exited (`a` the code), 2 killed (`a` the
    /// fault address, `b` the fault pc).
    ProcessEnded {
        process: Obj,
        state: u8,
        a: u64,
        b: u64,
    },
    /// Who is signalled (with `bits`) when the process ends; NONE clears it.
    ExitNotification {
        process: Obj,
        notification: Obj,
        bits: u64,
    },
    /// Where its threads' faults go (with `badge`); NONE clears it.
    FaultEndpoint {
        process: Obj,
        endpoint: Obj,
        badge: u64,
    },
    ThreadStarted {
        thread: Obj,
    },
    ThreadEnded {
        thread: Obj,
    },
    Priority {
        thread: Obj,
        priority: u8,
    },
    /// The CPUs the thread may run on (bit N: CPU N).
    Affinity {
        thread: Obj,
        cpus: u8,
    },
    /// An interrupt object delivers to `notification` with `bits` (NONE: unbound).
    IrqBound {
        irq: Obj,
        notification: Obj,
        bits: u64,
    },
}

/// Short constructors for the kernel's call sites (one line each).
impl Commit {
    pub fn destroyed(object: Obj) -> Self {
        Commit::ObjectDestroyed { object }
    }

    /// `ProcessEnded` from the (state, a, b) words.
    pub fn ended(process: Obj, (state, a, b): (u8, u64, u64)) -> Self {
        Commit::ProcessEnded {
            process,
            state,
            a,
            b,
        }
    }

    pub fn quota(process: Obj, used: u64) -> Self {
        Commit::QuotaUsed { process, used }
    }

    /// `ThreadStarted` or `ThreadEnded`.
    pub fn thread_life(thread: Obj, started: bool) -> Self {
        match started {
            true => Commit::ThreadStarted { thread },
            false => Commit::ThreadEnded { thread },
        }
    }

    pub fn priority(thread: Obj, priority: u8) -> Self {
        Commit::Priority { thread, priority }
    }

    pub fn affinity(thread: Obj, cpus: u8) -> Self {
        Commit::Affinity { thread, cpus }
    }

    pub fn irq_bound(irq: Obj, notification: Obj, bits: u64) -> Self {
        Commit::IrqBound {
            irq,
            notification,
            bits,
        }
    }

    /// A region; `first_page` and `pages` fit 32 bits (Memory objects are
    /// at most 1 GiB).
    pub fn mapped(
        process: Obj,
        va: u64,
        memory: Obj,
        first_page: u64,
        pages: u64,
        flags: u8,
    ) -> Self {
        let (first_page, pages) = (first_page as u32, pages as u32);
        Commit::Mapped {
            process,
            va,
            memory,
            first_page,
            pages,
            flags,
        }
    }

    pub fn unmapped(process: Obj, va: u64) -> Self {
        Commit::Unmapped { process, va }
    }

    pub fn protected(process: Obj, va: u64, flags: u8) -> Self {
        Commit::Protected { process, va, flags }
    }

    pub fn exit_to(process: Obj, notification: Obj, bits: u64) -> Self {
        Commit::ExitNotification {
            process,
            notification,
            bits,
        }
    }

    pub fn faults_to(process: Obj, endpoint: Obj, badge: u64) -> Self {
        Commit::FaultEndpoint {
            process,
            endpoint,
            badge,
        }
    }
}

/// One change of the capability space as the kernel's `CapSpace` journals
/// it (`O` its object handle): turned into a commit with [`CapChange::commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapChange<O> {
    Inserted {
        node: u32,
        parent: u32,
        table: u32,
        slot: u32,
        object: O,
        rights: u32,
        badge: u64,
    },
    Deleted {
        node: u32,
    },
    Moved {
        node: u32,
        table: u32,
        slot: u32,
    },
    TableCreated {
        table: u32,
        max_slots: u32,
    },
    TableDestroyed {
        table: u32,
    },
}

impl<O> CapChange<O> {
    pub fn inserted(
        node: u32,
        parent: u32,
        table: u32,
        slot: u32,
        object: O,
        rights: u32,
        badge: u64,
    ) -> Self {
        CapChange::Inserted {
            node,
            parent,
            table,
            slot,
            object,
            rights,
            badge,
        }
    }

    pub fn moved(node: u32, table: u32, slot: u32) -> Self {
        CapChange::Moved { node, table, slot }
    }

    /// The commit, naming objects with `name`.
    pub fn commit(self, name: impl Fn(O) -> Obj) -> Commit {
        match self {
            CapChange::Inserted {
                node,
                parent,
                table,
                slot,
                object,
                rights,
                badge,
            } => Commit::CapInserted {
                node,
                parent,
                table,
                slot,
                object: name(object),
                rights,
                badge,
            },
            CapChange::Deleted { node } => Commit::CapDeleted { node },
            CapChange::Moved { node, table, slot } => Commit::CapMoved { node, table, slot },
            CapChange::TableCreated { table, max_slots } => {
                Commit::TableCreated { table, max_slots }
            }
            CapChange::TableDestroyed { table } => Commit::TableDestroyed { table },
        }
    }
}

/// Why a record does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitError {
    UnknownKind(u8),
}

fn pair(low: u32, high: u32) -> u64 {
    low as u64 | ((high as u64) << 32)
}

fn halves(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

impl Commit {
    /// The record of this commit with sequence number `seq`.
    pub fn encode(&self, seq: u64) -> [u64; COMMIT_WORDS] {
        let mut record = [0; COMMIT_WORDS];
        self.encode_into(seq, &mut record);
        record
    }

    /// [`Commit::encode`] into `record` (a ring's slot).
    #[inline]
    pub fn encode_into(&self, seq: u64, record: &mut [u64; COMMIT_WORDS]) {
        use Commit::*;
        let (kind, small, fields): (u8, u64, [u64; 4]) = match *self {
            ProcessCreated {
                process,
                pid,
                table,
                creator,
                limit,
            } => (1, pid as u64, [process.0, creator.0, limit, table as u64]),
            ThreadCreated {
                thread,
                process,
                tid,
                priority,
                cpus,
            } => (
                2,
                pair(tid, priority as u32),
                [thread.0, process.0, cpus as u64, 0],
            ),
            ObjectCreated {
                object,
                kind,
                detail,
            } => (3, kind as u64, [object.0, detail, 0, 0]),
            ObjectDestroyed { object } => (4, 0, [object.0, 0, 0, 0]),
            TableCreated { table, max_slots } => (5, 0, [table as u64, max_slots as u64, 0, 0]),
            TableDestroyed { table } => (6, 0, [table as u64, 0, 0, 0]),
            CapInserted {
                node,
                parent,
                table,
                slot,
                object,
                rights,
                badge,
            } => (
                7,
                rights as u64,
                [pair(node, parent), pair(table, slot), object.0, badge],
            ),
            CapDeleted { node } => (8, 0, [node as u64, 0, 0, 0]),
            CapMoved { node, table, slot } => (9, 0, [node as u64, pair(table, slot), 0, 0]),
            Mapped {
                process,
                va,
                memory,
                first_page,
                pages,
                flags,
            } => (
                10,
                flags as u64,
                [process.0, va, memory.0, pair(first_page, pages)],
            ),
            Unmapped { process, va } => (11, 0, [process.0, va, 0, 0]),
            Protected { process, va, flags } => (12, flags as u64, [process.0, va, 0, 0]),
            QuotaUsed { process, used } => (13, 0, [process.0, used, 0, 0]),
            ProcessEnded {
                process,
                state,
                a,
                b,
            } => (14, state as u64, [process.0, a, b, 0]),
            ExitNotification {
                process,
                notification,
                bits,
            } => (15, 0, [process.0, notification.0, bits, 0]),
            FaultEndpoint {
                process,
                endpoint,
                badge,
            } => (16, 0, [process.0, endpoint.0, badge, 0]),
            ThreadStarted { thread } => (17, 0, [thread.0, 0, 0, 0]),
            ThreadEnded { thread } => (18, 0, [thread.0, 0, 0, 0]),
            Priority { thread, priority } => (19, priority as u64, [thread.0, 0, 0, 0]),
            IrqBound {
                irq,
                notification,
                bits,
            } => (20, 0, [irq.0, notification.0, bits, 0]),
            Affinity { thread, cpus } => (21, cpus as u64, [thread.0, 0, 0, 0]),
        };
        let [a, b, c, d] = fields;
        *record = [seq, kind as u64 | (small << 8), a, b, c, d];
    }

    /// The commit and its sequence number from a record.
    pub fn decode(record: &[u64; COMMIT_WORDS]) -> Result<(u64, Commit), CommitError> {
        use Commit::*;
        let [seq, header, a, b, c, d] = *record;
        let (kind, small) = (header as u8, header >> 8);
        let commit = match kind {
            1 => ProcessCreated {
                process: Obj(a),
                pid: small as u32,
                table: d as u32,
                creator: Obj(b),
                limit: c,
            },
            2 => {
                let (tid, priority) = halves(small);
                ThreadCreated {
                    thread: Obj(a),
                    process: Obj(b),
                    tid,
                    priority: priority as u8,
                    cpus: c as u8,
                }
            }
            3 => ObjectCreated {
                object: Obj(a),
                kind: small as u8,
                detail: b,
            },
            4 => ObjectDestroyed { object: Obj(a) },
            5 => TableCreated {
                table: a as u32,
                max_slots: b as u32,
            },
            6 => TableDestroyed { table: a as u32 },
            7 => {
                let ((node, parent), (table, slot)) = (halves(a), halves(b));
                CapInserted {
                    node,
                    parent,
                    table,
                    slot,
                    object: Obj(c),
                    rights: small as u32,
                    badge: d,
                }
            }
            8 => CapDeleted { node: a as u32 },
            9 => {
                let (table, slot) = halves(b);
                CapMoved {
                    node: a as u32,
                    table,
                    slot,
                }
            }
            10 => {
                let (first_page, pages) = halves(d);
                Mapped {
                    process: Obj(a),
                    va: b,
                    memory: Obj(c),
                    first_page,
                    pages,
                    flags: small as u8,
                }
            }
            11 => Unmapped {
                process: Obj(a),
                va: b,
            },
            12 => Protected {
                process: Obj(a),
                va: b,
                flags: small as u8,
            },
            13 => QuotaUsed {
                process: Obj(a),
                used: b,
            },
            14 => ProcessEnded {
                process: Obj(a),
                state: small as u8,
                a: b,
                b: c,
            },
            15 => ExitNotification {
                process: Obj(a),
                notification: Obj(b),
                bits: c,
            },
            16 => FaultEndpoint {
                process: Obj(a),
                endpoint: Obj(b),
                badge: c,
            },
            17 => ThreadStarted { thread: Obj(a) },
            18 => ThreadEnded { thread: Obj(a) },
            19 => Priority {
                thread: Obj(a),
                priority: small as u8,
            },
            20 => IrqBound {
                irq: Obj(a),
                notification: Obj(b),
                bits: c,
            },
            21 => Affinity {
                thread: Obj(a),
                cpus: small as u8,
            },
            other => return Err(CommitError::UnknownKind(other)),
        };
        Ok((seq, commit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let o = Obj::new(7, 3);
        let all = [
            Commit::ProcessCreated {
                process: o,
                pid: 9,
                table: 0x0002_0001,
                creator: Obj::NONE,
                limit: 1 << 30,
            },
            Commit::ThreadCreated {
                thread: o,
                process: Obj::new(1, 0),
                tid: 4,
                priority: 8,
                cpus: 0xff,
            },
            Commit::ObjectCreated {
                object: o,
                kind: 5,
                detail: 16 | 1 << 63,
            },
            Commit::ObjectDestroyed { object: o },
            Commit::TableCreated {
                table: 3,
                max_slots: 4096,
            },
            Commit::TableDestroyed { table: 3 },
            Commit::CapInserted {
                node: 1,
                parent: NO_NODE,
                table: 3,
                slot: 4095,
                object: o,
                rights: 31,
                badge: u64::MAX,
            },
            Commit::CapDeleted { node: 12 },
            Commit::CapMoved {
                node: 12,
                table: 2,
                slot: 1,
            },
            Commit::Mapped {
                process: o,
                va: 0x4000_0000,
                memory: o,
                first_page: 2,
                pages: 3,
                flags: 5,
            },
            Commit::Unmapped {
                process: o,
                va: 0x1000,
            },
            Commit::Protected {
                process: o,
                va: 0x1000,
                flags: 2,
            },
            Commit::QuotaUsed {
                process: o,
                used: 12345,
            },
            Commit::ProcessEnded {
                process: o,
                state: 2,
                a: 0xdead,
                b: 0xbeef,
            },
            Commit::ExitNotification {
                process: o,
                notification: Obj::NONE,
                bits: 0,
            },
            Commit::FaultEndpoint {
                process: o,
                endpoint: o,
                badge: 77,
            },
            Commit::ThreadStarted { thread: o },
            Commit::ThreadEnded { thread: o },
            Commit::Priority {
                thread: o,
                priority: 200,
            },
            Commit::IrqBound {
                irq: o,
                notification: o,
                bits: 1,
            },
            Commit::Affinity {
                thread: o,
                cpus: 0b0100,
            },
        ];
        for (seq, commit) in all.iter().enumerate() {
            let record = commit.encode(seq as u64);
            assert_eq!(Commit::decode(&record), Ok((seq as u64, *commit)));
        }
        assert_eq!(
            Commit::decode(&[0, 99, 0, 0, 0, 0]),
            Err(CommitError::UnknownKind(99))
        );
    }
}
