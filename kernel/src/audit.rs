//! Axiom in the kernel: what its objects look like to the commit log.
//!
//! Every change of object state is recorded where it is made: objects come
//! and go through [`Kernel::new_object`] and [`Kernel::remove_object`], the
//! capability space journals its own mutations (`CapChange`), and the few
//! field changes (quota, regions, process end, bindings, thread life) call
//! [`Kernel::commit`]. `axiomd` drains the rings (`zos_axiom::Rings`) with
//! `AxiomRead`; the state hash (`AxiomState`) walks the live objects with the
//! `StateHasher` the host's replay uses (docs/axiom.md). Axiom is off while
//! `caps.recording` is false.

use zos_axiom::{Commit, Digest, Obj, ObjectRecord, ProcessRecord, RegionRecord, StateHasher};

use crate::arch::{PageFlags, Platform};
use crate::kernel::Kernel;
use crate::object::*;

/// An object's name in the log.
pub fn obj(r: ObjRef) -> Obj {
    match r == ObjRef::NONE {
        true => Obj::NONE,
        false => Obj::new(r.index, r.generation),
    }
}

fn binding(b: Option<(ObjRef, u64)>) -> (Obj, u64) {
    b.map_or((Obj::NONE, 0), |(o, bits)| (obj(o), bits))
}

/// Mapping flags as the log writes them: 1 write, 2 execute, 4 device.
pub fn flag_bits(f: PageFlags) -> u8 {
    f.write as u8 | (f.execute as u8) << 1 | (f.device as u8) << 2
}

/// A process state as the log writes it: 0 alive, 1 exited (code), 2 killed
/// (fault address, pc).
pub fn end_words(state: ProcessState) -> (u8, u64, u64) {
    match state {
        ProcessState::Alive => (0, 0, 0),
        ProcessState::Exited(code) => (1, code as u64, 0),
        ProcessState::Killed {
            fault_address: a,
            fault_pc: b,
        } => (2, a, b),
    }
}

/// What the state hash covers of an object.
fn record_of<P: Platform>(object: &Object<P>) -> ObjectRecord {
    let (detail, bound) = match object {
        Object::Process(p) => {
            let creator = p.creator.map_or(Obj::NONE, obj);
            let (pid, table, limit, used) = (p.pid, p.caps.word(), p.quota.limit, p.quota.used);
            let mut r = ProcessRecord::new(pid, table, creator, limit, used);
            (r.state, r.a, r.b) = end_words(p.state);
            (r.exit, r.fault) = (binding(p.exit_notification), binding(p.fault_endpoint));
            return ObjectRecord::Process(r);
        }
        Object::Thread(t) => {
            let life = match t.state {
                ThreadState::Inactive => 0,
                ThreadState::Dead => 2,
                _ => 1,
            };
            return ObjectRecord::thread(t.tid, obj(t.process), (t.priority, t.cpus), life);
        }
        Object::Memory(Memory::Frames { frames, read_only }) => {
            (frames.len() as u64 | (*read_only as u64) << 62, None)
        }
        Object::Memory(Memory::Device { pages, .. }) => (pages | 1 << 63, None),
        Object::Irq(irq) => (irq.irq as u64, irq.notification),
        _ => (0, None),
    };
    ObjectRecord::other(object.kind() as u8, detail, binding(bound))
}

impl<P: Platform> Kernel<P> {
    /// Records one change of object state (after the capability changes
    /// made before it).
    pub fn commit(&mut self, commit: Commit) {
        if self.caps.recording {
            self.flush_cap_journal();
            self.audit.commit(commit);
        }
    }

    pub(crate) fn flush_cap_journal(&mut self) {
        for change in self.caps.journal.drain(..) {
            self.audit.commit(change.commit(obj));
        }
    }

    /// Adds an object to the table and commits its creation.
    pub fn new_object(&mut self, object: Object<P>) -> ObjRef {
        let r = self.objects.insert(object);
        if let Some(o) = self.caps.recording.then(|| self.objects.get(r)).flatten() {
            let commit = record_of(o).created(obj(r));
            self.commit(commit);
        }
        r
    }

    /// Removes an object from the table and commits it.
    pub fn remove_object(&mut self, object: ObjRef) -> Option<Object<P>> {
        let removed = self.objects.remove(object)?;
        self.commit(Commit::destroyed(obj(object)));
        Some(removed)
    }

    /// Commits a process's end and the bindings it lost.
    pub fn commit_process_end(&mut self, process: ObjRef, how: ProcessState) {
        let (process, none) = (obj(process), Obj::NONE);
        self.commit(Commit::ended(process, end_words(how)));
        self.commit(Commit::exit_to(process, none, 0));
        self.commit(Commit::faults_to(process, none, 0));
    }

    /// Writes the SysLog record of a syscall (built only when recording).
    pub fn log_syscall(&mut self, record: impl FnOnce() -> zos_axiom::SysRecord) {
        if self.caps.recording {
            self.flush_cap_journal();
            self.audit.syscall(record());
        }
    }

    /// The state hash of the kernel's objects now, and the commits it covers.
    pub fn state_hash(&mut self) -> (Digest, u64) {
        self.flush_cap_journal();
        let mut hasher = StateHasher::new();
        for (r, o) in self.objects.iter() {
            hasher.object(obj(r), &record_of(o));
        }
        self.caps.hash_into(&mut hasher, obj);
        for (r, o) in self.objects.iter() {
            let Object::Process(p) = o else { continue };
            for (va, region) in &p.regions {
                let (first_page, pages) = (region.first_page as u32, region.pages as u32);
                let (memory, flags) = (obj(region.memory), flag_bits(region.flags));
                hasher.region(
                    obj(r),
                    *va,
                    &RegionRecord {
                        memory,
                        first_page,
                        pages,
                        flags,
                    },
                );
            }
        }
        (hasher.finish(), self.audit.commits.next)
    }
}
