//! Axiom in the kernel: the commit ring, the SysLog ring and the state hash.
//!
//! Every change of object state is recorded where it is made: objects come
//! and go through [`Kernel::new_object`] and [`Kernel::remove_object`], the
//! capability space journals its own mutations (`CapChange`), and the few
//! field changes (quota, regions, process end, bindings, thread life) call
//! [`Kernel::commit`]. `axiomd` drains both rings with `AxiomRead`; the state
//! hash (`AxiomState`) walks the live objects with the same `StateHasher`
//! the host's replay uses (docs/axiom.md). Empty rings mean Axiom is off.

use alloc::vec::Vec;
use zos_axiom::{Commit, Obj, ObjectRecord, ProcessRecord, RegionRecord, ThreadRecord};
use zos_axiom::{StateHasher, SysRecord, COMMIT_WORDS, NO_NODE, SYS_RECORD_WORDS};

use crate::arch::Platform;
use crate::cap::CapChange;
use crate::kernel::Kernel;
use crate::object::*;

/// A bounded ring of fixed-size records that overwrites its oldest; the
/// sequence number of the next record is `next`.
#[derive(Default)]
pub struct Ring<const W: usize> {
    slots: Vec<[u64; W]>,
    pub next: u64,
}

impl<const W: usize> Ring<W> {
    /// A ring of `capacity` records (rounded down to a power of two).
    pub fn new(capacity: usize) -> Self {
        let capacity = if capacity == 0 {
            0
        } else {
            1 << capacity.ilog2()
        };
        Self {
            slots: alloc::vec![[0; W]; capacity],
            next: 0,
        }
    }

    fn push(&mut self, record: [u64; W]) {
        let mask = self.slots.len() - 1;
        self.slots[self.next as usize & mask] = record;
        self.next += 1;
    }

    /// Up to `max` records from sequence `cursor` on (the oldest kept when
    /// `cursor` was overwritten): the first sequence number and the records.
    pub fn read(&self, cursor: u64, max: usize) -> (u64, impl Iterator<Item = &[u64; W]>) {
        let oldest = self.next.saturating_sub(self.slots.len() as u64);
        let first = cursor.clamp(oldest, self.next);
        let count = (self.next - first).min(max as u64);
        let mask = self.slots.len().wrapping_sub(1);
        (
            first,
            (first..first + count).map(move |seq| &self.slots[seq as usize & mask]),
        )
    }
}

/// The kernel's two Axiom rings.
#[derive(Default)]
pub struct Audit {
    pub commits: Ring<COMMIT_WORDS>,
    pub syslog: Ring<SYS_RECORD_WORDS>,
}

/// An object's name in the log.
pub fn obj(r: ObjRef) -> Obj {
    if r == ObjRef::NONE {
        return Obj::NONE;
    }
    Obj::new(r.index, r.generation)
}

fn binding(b: Option<(ObjRef, u64)>) -> (Obj, u64) {
    b.map_or((Obj::NONE, 0), |(o, bits)| (obj(o), bits))
}

/// A process state as the log writes it: 0 alive, 1 exited (code), 2 killed
/// (fault address, pc).
fn end_words(state: ProcessState) -> (u8, u64, u64) {
    match state {
        ProcessState::Alive => (0, 0, 0),
        ProcessState::Exited(code) => (1, code as u64, 0),
        ProcessState::Killed {
            fault_address,
            fault_pc,
        } => (2, fault_address, fault_pc),
    }
}

/// What the state hash covers of an object.
fn record_of<P: Platform>(object: &Object<P>) -> ObjectRecord {
    match object {
        Object::Process(p) => {
            let (state, a, b) = end_words(p.state);
            let (pid, table, limit, used) = (p.pid, p.caps.word(), p.quota.limit, p.quota.used);
            let creator = p.creator.map_or(Obj::NONE, obj);
            let (exit, fault) = (binding(p.exit_notification), binding(p.fault_endpoint));
            let record = ProcessRecord {
                pid,
                table,
                creator,
                limit,
                used,
                state,
                a,
                b,
                exit,
                fault,
            };
            ObjectRecord::Process(record)
        }
        Object::Thread(t) => {
            let life = match t.state {
                ThreadState::Inactive => 0,
                ThreadState::Dead => 2,
                _ => 1,
            };
            let (tid, process, priority) = (t.tid, obj(t.process), t.priority);
            ObjectRecord::Thread(ThreadRecord {
                tid,
                process,
                priority,
                life,
            })
        }
        other => {
            let (detail, bound) = match other {
                Object::Memory(Memory::Frames { frames, read_only }) => {
                    (frames.len() as u64 | (*read_only as u64) << 62, None)
                }
                Object::Memory(Memory::Device { pages, .. }) => (pages | 1 << 63, None),
                Object::Irq(irq) => (irq.irq as u64, irq.notification),
                _ => (0, None),
            };
            let kind = other.kind() as u8;
            ObjectRecord::Other {
                kind,
                detail,
                binding: binding(bound),
            }
        }
    }
}

impl<P: Platform> Kernel<P> {
    /// Turns Axiom on with rings of these many records.
    pub fn enable_audit(&mut self, commits: usize, syscalls: usize) {
        self.audit = Audit {
            commits: Ring::new(commits),
            syslog: Ring::new(syscalls),
        };
        self.caps.recording = true;
    }

    /// Records one change of object state (after the capability changes
    /// made before it).
    pub fn commit(&mut self, commit: Commit) {
        if self.caps.recording {
            self.flush_cap_journal();
            self.audit
                .commits
                .push(commit.encode(self.audit.commits.next));
        }
    }

    fn flush_cap_journal(&mut self) {
        for change in core::mem::take(&mut self.caps.journal) {
            let commit = match change {
                CapChange::Inserted {
                    node,
                    parent,
                    table,
                    slot,
                    cap,
                } => Commit::CapInserted {
                    node,
                    parent: parent.unwrap_or(NO_NODE),
                    table,
                    slot,
                    object: obj(cap.object),
                    rights: cap.rights.bits(),
                    badge: cap.badge,
                },
                CapChange::Deleted { node } => Commit::CapDeleted { node },
                CapChange::Moved { node, table, slot } => Commit::CapMoved { node, table, slot },
                CapChange::TableCreated { table, max_slots } => {
                    Commit::TableCreated { table, max_slots }
                }
                CapChange::TableDestroyed { table } => Commit::TableDestroyed { table },
            };
            self.audit
                .commits
                .push(commit.encode(self.audit.commits.next));
        }
    }

    /// Adds an object to the table and commits its creation.
    pub fn new_object(&mut self, object: Object<P>) -> ObjRef {
        let r = self.objects.insert(object);
        let Some(o) = self.caps.recording.then(|| self.objects.get(r)).flatten() else {
            return r;
        };
        let commit = match record_of(o) {
            ObjectRecord::Process(p) => {
                let (pid, table, creator, limit) = (p.pid, p.table, p.creator, p.limit);
                Commit::ProcessCreated {
                    process: obj(r),
                    pid,
                    table,
                    creator,
                    limit,
                }
            }
            ObjectRecord::Thread(t) => {
                let (tid, priority) = (t.tid, t.priority);
                Commit::ThreadCreated {
                    thread: obj(r),
                    process: t.process,
                    tid,
                    priority,
                }
            }
            ObjectRecord::Other { kind, detail, .. } => Commit::ObjectCreated {
                object: obj(r),
                kind,
                detail,
            },
        };
        self.commit(commit);
        r
    }

    /// Removes an object from the table and commits it.
    pub fn remove_object(&mut self, object: ObjRef) -> Option<Object<P>> {
        let removed = self.objects.remove(object)?;
        self.commit(Commit::ObjectDestroyed {
            object: obj(object),
        });
        Some(removed)
    }

    /// Commits a process's end and the bindings it lost.
    pub fn commit_process_end(
        &mut self,
        process: ObjRef,
        how: ProcessState,
        exit: Option<(ObjRef, u64)>,
        fault: Option<(ObjRef, u64)>,
    ) {
        let (state, a, b) = end_words(how);
        let process = obj(process);
        self.commit(Commit::ProcessEnded {
            process,
            state,
            a,
            b,
        });
        if exit.is_some() {
            self.commit(Commit::ExitNotification {
                process,
                notification: Obj::NONE,
                bits: 0,
            });
        }
        if fault.is_some() {
            self.commit(Commit::FaultEndpoint {
                process,
                endpoint: Obj::NONE,
                badge: 0,
            });
        }
    }

    /// Appends up to `max` words of whole records of `stream` (0 commits, 1
    /// SysLog) from `cursor` on; returns the first sequence and the count.
    pub fn audit_read(
        &mut self,
        out: &mut Vec<u64>,
        stream: u64,
        cursor: u64,
        max: usize,
    ) -> (u64, u64) {
        if self.caps.recording {
            self.flush_cap_journal();
        }
        let (first, records): (u64, Vec<&[u64]>) = match stream {
            0 => {
                let (first, r) = self.audit.commits.read(cursor, max / COMMIT_WORDS);
                (first, r.map(|r| &r[..]).collect())
            }
            _ => {
                let (first, r) = self.audit.syslog.read(cursor, max / SYS_RECORD_WORDS);
                (first, r.map(|r| &r[..]).collect())
            }
        };
        records.iter().for_each(|r| out.extend_from_slice(r));
        (first, records.len() as u64)
    }

    /// The state hash of the kernel's objects now, and the commits it covers.
    pub fn state_hash(&mut self) -> (zos_axiom::Digest, u64) {
        if self.caps.recording {
            self.flush_cap_journal();
        }
        let mut hasher = StateHasher::new();
        for (r, o) in self.objects.iter() {
            hasher.object(obj(r), &record_of(o));
        }
        self.caps.hash_into(&mut hasher, obj);
        for (r, o) in self.objects.iter() {
            let Object::Process(p) = o else { continue };
            for (va, region) in &p.regions {
                let flags = region.flags;
                let flags =
                    flags.write as u8 | (flags.execute as u8) << 1 | (flags.device as u8) << 2;
                let (first_page, pages) = (region.first_page as u32, region.pages as u32);
                let region = RegionRecord {
                    memory: obj(region.memory),
                    first_page,
                    pages,
                    flags,
                };
                hasher.region(obj(r), *va, &region);
            }
        }
        (hasher.finish(), self.audit.commits.next)
    }

    /// Writes the SysLog record of a syscall (`code` PENDING when it blocked
    /// or wrote its own results).
    pub fn log_syscall(
        &mut self,
        thread: ObjRef,
        process: ObjRef,
        call: [u64; 7],
        result: (u16, u64),
        first_commit: u64,
    ) {
        if !self.caps.recording {
            return;
        }
        self.flush_cap_journal();
        let [number, args @ ..] = call;
        let record = SysRecord {
            seq: self.audit.syslog.next,
            process: process.index,
            thread: thread.index,
            number: number as u16,
            code: result.0,
            args,
            value: result.1,
            first_commit,
            commits: (self.audit.commits.next - first_commit) as u32,
        };
        self.audit.syslog.push(record.encode());
    }
}
