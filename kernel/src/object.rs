//! Kernel objects and the table that owns them.
//!
//! Every object lives in one slab and is named by an [`ObjRef`]: an index plus a
//! generation, so a stale reference to a freed and reused slot is detected instead
//! of aliasing a new object. Objects count their references (capabilities,
//! mappings, threads blocked on them); the kernel frees an object when the count
//! drops to zero (processes and threads additionally only once they are dead).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::arch::{PageFlags, Platform};
use crate::cap::TableId;
use crate::ipc::Message;

/// A checked reference to a kernel object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub index: u32,
    pub generation: u32,
}

impl ObjRef {
    /// Names no object (a consumed reply right, nobody's FP/SIMD state).
    pub const NONE: ObjRef = ObjRef {
        index: u32::MAX,
        generation: u32::MAX,
    };
}

pub use crate::syscall::ObjectKind;

/// Why a process ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProcessState {
    #[default]
    Alive,
    /// Exited by itself with this code.
    Exited(i64),
    /// Killed by another process or by a fault nobody handled.
    Killed { fault_address: u64, fault_pc: u64 },
}

impl ProcessState {
    pub const fn killed(fault_address: u64, fault_pc: u64) -> Self {
        Self::Killed {
            fault_address,
            fault_pc,
        }
    }
}

/// A region of a process's address space backed by a Memory object.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub memory: ObjRef,
    /// Offset into the Memory object, in pages.
    pub first_page: u64,
    pub pages: u64,
    pub flags: PageFlags,
}

/// Memory a process and everything it created may use at most (`limit`), and
/// what they use now (`used`, frames plus kernel heap).
#[derive(Clone, Copy, Debug, Default)]
pub struct Quota {
    pub limit: u64,
    pub used: u64,
}

pub struct Process<P: Platform> {
    /// A number for humans and POSIX; never authority.
    pub pid: u32,
    pub caps: TableId,
    pub space: Option<P::Space>,
    /// Regions by start address.
    pub regions: BTreeMap<u64, Region>,
    pub threads: Vec<ObjRef>,
    pub state: ProcessState,
    pub quota: Quota,
    /// Who created it: every charge to this process is also charged there.
    pub creator: Option<ObjRef>,
    /// Signalled (with these bits) when the process ends.
    pub exit_notification: Option<(ObjRef, u64)>,
    /// Where fault messages of its threads go.
    pub fault_endpoint: Option<(ObjRef, u64)>,
    /// Page-table frames charged so far (refunded when the space is destroyed).
    pub table_frames_charged: u64,
    /// Chunks of capability slots charged so far (see `SLOT_CHUNK`).
    pub slot_chunks: u64,
    /// Timer ticks that found one of its threads running (CPU time).
    pub ticks: u64,
}

impl<P: Platform> Process<P> {
    /// The region holding address `va`, and where it starts.
    pub fn region_at(&self, va: u64) -> Option<(u64, &Region)> {
        let (&start, region) = self.regions.range(..=va).next_back()?;
        (va < start + region.pages * crate::PAGE_SIZE as u64).then_some((start, region))
    }
}

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Created, not started.
    Inactive,
    Runnable,
    /// Waiting in an endpoint's send queue (`call` also waits for the reply).
    Sending {
        endpoint: ObjRef,
        call: bool,
    },
    /// Waiting in an endpoint's receive queue.
    Receiving {
        endpoint: ObjRef,
    },
    /// Sent a call, waiting for the reply.
    AwaitingReply,
    /// Waiting on a notification.
    Waiting {
        notification: ObjRef,
    },
    /// Sleeping until the deadline (ns since boot).
    Sleeping {
        deadline: u64,
    },
    /// Stopped by `ThreadSuspend` until `ThreadResume`.
    Suspended,
    Dead,
}

pub struct Thread<P: Platform> {
    pub tid: u32,
    pub process: ObjRef,
    /// Its process's capability table (a copy: the IPC fast path finds an
    /// endpoint without looking the process up).
    pub caps: TableId,
    /// Saved user registers; boxed so its address is stable for the trap path.
    pub context: Box<P::Context>,
    pub state: ThreadState,
    pub priority: u8,
    /// The CPUs it may run on (bit N: CPU N); a new thread gets its creator's.
    pub cpus: u8,
    /// User address of the 8 KiB IPC buffer, when registered.
    pub ipc_buffer: Option<u64>,
    /// The message this thread is trying to send while blocked in a send queue.
    pub outgoing: Message,
    /// The caller this thread must reply to (after receiving a `call`).
    pub reply_to: Option<ObjRef>,
    /// Its call a server holds may be interrupted (`CALL_INTERRUPTIBLE`).
    pub interruptible: bool,
    /// Suspended while a server held its call: it stops when the reply comes.
    pub stop_pending: bool,
    /// It has used FP/SIMD: its registers are loaded as it is switched in.
    pub uses_fp: bool,
}

#[derive(Default)]
pub struct Endpoint {
    pub senders: VecDeque<ObjRef>,
    pub receivers: VecDeque<ObjRef>,
    /// Watched badges without a capability left, not yet received: (badge, the
    /// process whose quota paid the watch).
    pub silenced: VecDeque<(u64, ObjRef)>,
}

#[derive(Default)]
pub struct Notification {
    pub bits: u64,
    pub waiters: VecDeque<ObjRef>,
}

/// Physical memory: RAM frames owned by the object, or a device MMIO range.
pub enum Memory {
    Frames { frames: Vec<u64>, read_only: bool },
    Device { base: u64, pages: u64 },
}

impl Memory {
    pub fn pages(&self) -> u64 {
        match self {
            Memory::Frames { frames, .. } => frames.len() as u64,
            Memory::Device { pages, .. } => *pages,
        }
    }

    /// The physical addresses of pages `first..first + count` (those of
    /// them inside the object): a copy of the frame list's run, not a
    /// lookup per page.
    pub fn run(&self, first: u64, count: u64) -> Vec<u64> {
        let pages = self.pages();
        let (first, end) = (first.min(pages), first.saturating_add(count).min(pages));
        match self {
            Memory::Frames { frames, .. } => frames[first as usize..end as usize].to_vec(),
            Memory::Device { base, .. } => (first..end).map(|i| base + i * 4096).collect(),
        }
    }
}

pub struct Irq {
    pub irq: u32,
    pub notification: Option<(ObjRef, u64)>,
}

/// A saved one-shot reply right to a caller.
pub struct Reply {
    pub caller: ObjRef,
}

pub enum Object<P: Platform> {
    Process(Process<P>),
    Thread(Thread<P>),
    Endpoint(Endpoint),
    Notification(Notification),
    Memory(Memory),
    Irq(Irq),
    Reply(Reply),
    /// The system control object: debug console, power, kernel statistics.
    System,
    /// The right to read Axiom's rings (`AxiomRead`, `AxiomState`).
    Audit,
}

impl<P: Platform> Object<P> {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Object::Process(_) => ObjectKind::Process,
            Object::Thread(_) => ObjectKind::Thread,
            Object::Endpoint(_) => ObjectKind::Endpoint,
            Object::Notification(_) => ObjectKind::Notification,
            Object::Memory(_) => ObjectKind::Memory,
            Object::Irq(_) => ObjectKind::Irq,
            Object::Reply(_) => ObjectKind::Reply,
            Object::System => ObjectKind::System,
            Object::Audit => ObjectKind::Audit,
        }
    }
}

pub struct Slot<P: Platform> {
    pub object: Object<P>,
    pub refs: u32,
}

/// The slab of all kernel objects: each entry's generation and, while it lives,
/// its object.
/// Typed lookups of [`Objects`]: `thread`/`thread_mut` give the `Thread` an
/// `ObjRef` names (`None` for another kind or a stale reference), and so on.
macro_rules! typed_lookup {
    ($name:ident, $name_mut:ident, $kind:ident $(<$p:ident>)?) => {
        pub fn $name(&self, r: ObjRef) -> Option<&$kind $(<$p>)?> {
            match self.get(r) {
                Some(Object::$kind(o)) => Some(o),
                _ => None,
            }
        }
        pub fn $name_mut(&mut self, r: ObjRef) -> Option<&mut $kind $(<$p>)?> {
            match self.get_mut(r) {
                Some(Object::$kind(o)) => Some(o),
                _ => None,
            }
        }
    };
}

#[derive(Default)]
pub struct Objects<P: Platform> {
    slots: Vec<(u32, Option<Slot<P>>)>,
    free: Vec<u32>,
}

impl<P: Platform> Objects<P> {
    /// Adds an object with no references yet.
    pub fn insert(&mut self, object: Object<P>) -> ObjRef {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push((0, None));
            (self.slots.len() - 1) as u32
        });
        let (generation, slot) = &mut self.slots[index as usize];
        *slot = Some(Slot { object, refs: 0 });
        let generation = *generation;
        ObjRef { index, generation }
    }

    fn slot(&self, r: ObjRef) -> Option<&Slot<P>> {
        let (generation, slot) = self.slots.get(r.index as usize)?;
        let live = *generation == r.generation;
        live.then_some(slot).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, r: ObjRef) -> Option<&mut Slot<P>> {
        let (generation, slot) = self.slots.get_mut(r.index as usize)?;
        let live = *generation == r.generation;
        live.then_some(slot).and_then(Option::as_mut)
    }

    pub fn get(&self, r: ObjRef) -> Option<&Object<P>> {
        self.slot(r).map(|s| &s.object)
    }

    pub fn get_mut(&mut self, r: ObjRef) -> Option<&mut Object<P>> {
        self.slot_mut(r).map(|s| &mut s.object)
    }

    /// Several distinct objects at once (`None` if two are the same or one
    /// is stale): the IPC fast path changes three with one lookup each.
    #[inline]
    pub fn many_mut(&mut self, r: [ObjRef; 3]) -> Option<[&mut Option<Slot<P>>; 3]> {
        let slots = self.slots.get_disjoint_mut(r.map(|r| r.index as usize));
        let slots = slots.ok()?;
        let live = slots.iter().zip(r).all(|(s, r)| s.0 == r.generation);
        live.then(|| slots.map(|s| &mut s.1))
    }

    pub fn add_ref(&mut self, r: ObjRef) {
        if let Some(slot) = self.slot_mut(r) {
            slot.refs += 1;
        }
    }

    /// Drops one reference; returns the remaining count.
    pub fn drop_ref(&mut self, r: ObjRef) -> u32 {
        self.slot_mut(r).map_or(0, |slot| {
            slot.refs = slot.refs.saturating_sub(1);
            slot.refs
        })
    }

    pub fn refs(&self, r: ObjRef) -> u32 {
        self.slot(r).map_or(0, |s| s.refs)
    }

    /// Removes an object from the table, returning it.
    pub fn remove(&mut self, r: ObjRef) -> Option<Object<P>> {
        self.slot(r)?;
        let (generation, slot) = &mut self.slots[r.index as usize];
        *generation = generation.wrapping_add(1);
        self.free.push(r.index);
        slot.take().map(|s| s.object)
    }

    /// Every live object (to find what refers to one: rare paths only).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Object<P>> {
        let live = self.slots.iter_mut();
        live.filter_map(|(_, s)| Some(&mut s.as_mut()?.object))
    }

    /// Every live object with its reference, in slab order.
    pub fn iter(&self) -> impl Iterator<Item = (ObjRef, &Object<P>)> {
        let live = self.slots.iter().enumerate();
        live.filter_map(|(index, (generation, slot))| {
            let r = ObjRef {
                index: index as u32,
                generation: *generation,
            };
            Some((r, &slot.as_ref()?.object))
        })
    }

    /// Objects alive.
    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    typed_lookup!(thread, thread_mut, Thread<P>);
    typed_lookup!(process, process_mut, Process<P>);
    typed_lookup!(endpoint, endpoint_mut, Endpoint);
    typed_lookup!(notification, notification_mut, Notification);
}
