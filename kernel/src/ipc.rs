//! Synchronous IPC on endpoints, one-shot replies, and notifications.
//!
//! A message is a [`MessageInfo`] (label, length, capability count), four words
//! that travel in registers, and — when longer than 32 bytes — up to 4 KiB copied
//! from the sender's IPC buffer, plus up to four capabilities moved from the
//! sender's table into free slots of the receiver's. `call` hands the receiver a
//! one-shot right to reply; the badge of the sender's capability tells the
//! receiver who called. Notifications are words of bits: `signal` ORs the
//! capability's badge in, `wait` takes them all.

use alloc::vec::Vec;

use crate::arch::{Platform, UserContext};
use crate::kernel::{Kernel, MAX_CPUS};
use crate::object::*;
use crate::syscall::*;
use crate::usercopy;
use crate::{ensure, Result};

/// The calling thread's capability table and the caller it owes a reply to.
pub type Caller = (crate::cap::TableId, Option<ObjRef>);

/// A message in flight.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub info: MessageInfo,
    pub words: [u64; 4],
    pub badge: u64,
    /// Long data and capability slots, only for messages that have them; kept
    /// out of line so the common short message stays a few words to copy.
    pub extra: Option<alloc::boxed::Box<MessageExtra>>,
    /// A fault message: the reply resumes the thread instead of delivering.
    pub is_fault: bool,
    /// The sender may pass capabilities (its endpoint capability has GRANT).
    pub may_grant: bool,
    /// A call the caller lets be interrupted while held (`CALL_INTERRUPTIBLE`).
    pub interruptible: bool,
}

/// The parts of a message that short messages do not have.
#[derive(Clone, Debug, Default)]
pub struct MessageExtra {
    /// Bytes beyond the register words (only when `info.length > 32`).
    pub data: Option<Vec<u8>>,
    /// Capability slots in the sender's table to move to the receiver.
    pub cap_slots: [u32; MAX_MESSAGE_CAPS],
}

impl Message {
    pub fn fault(kind: u64, address: u64, pc: u64, syndrome: u64, badge: u64) -> Self {
        Message {
            info: MessageInfo {
                length: 32,
                ..MessageInfo::label(labels::FAULT)
            },
            words: [kind, address, pc, syndrome],
            badge,
            is_fault: true,
            ..Message::default()
        }
    }

    /// The sender's slots of the capabilities the message carries.
    fn cap_slots(&self) -> impl Iterator<Item = u32> + '_ {
        let slots = self.extra.iter().flat_map(|e| e.cap_slots);
        slots.take(self.info.caps as usize)
    }
}

impl<P: Platform> Kernel<P> {
    /// Reads the message the current thread is sending from its registers,
    /// argument `first` on (and IPC buffer for long messages and capabilities).
    pub fn read_message(&self, thread: ObjRef, info_word: u64, first: usize) -> Result<Message> {
        let info = MessageInfo::decode(info_word).ok_or(SysError::TooBig)?;
        let t = self.objects.thread(thread).ok_or(SysError::DeadObject)?;
        let mut message = Message {
            info,
            interruptible: info_word & CALL_INTERRUPTIBLE != 0,
            ..Message::default()
        };
        for (i, word) in message.words.iter_mut().enumerate() {
            *word = t.context.arg(first + i);
        }
        let needs_buffer = info.length as usize > SHORT_MESSAGE_BYTES || info.caps > 0;
        if needs_buffer {
            let extra = message.extra.get_or_insert_with(Default::default);
            let buffer = t.ipc_buffer.ok_or(SysError::BadAddress)?;
            let space = self.space_of(thread).ok_or(SysError::DeadObject)?;
            if info.length as usize > SHORT_MESSAGE_BYTES {
                let data = buffer + IPC_BUFFER_DATA;
                extra.data = Some(usercopy::read_vec::<P>(space, data, info.length as usize)?);
            }
            for i in 0..info.caps as usize {
                let slot = usercopy::read_u64::<P>(space, buffer + 8 * i as u64)?;
                extra.cap_slots[i] = u32::try_from(slot).map_err(|_| SysError::InvalidCap)?;
            }
        }
        Ok(message)
    }

    /// Delivers `message` from `sender` to `receiver`: registers, data, capabilities.
    pub fn deliver(
        &mut self,
        sender: Option<ObjRef>,
        receiver: ObjRef,
        message: &Message,
    ) -> Result {
        let r = self.objects.thread(receiver).ok_or(SysError::DeadObject)?;
        let (receiver_process, buffer) = (r.process, r.ipc_buffer);
        let mut info = message.info;
        if let Some(data) = message.extra.as_ref().and_then(|e| e.data.as_ref()) {
            let at = buffer.ok_or(SysError::TooBig)? + IPC_BUFFER_DATA;
            let space = self.writable_space(receiver, at, data.len())?;
            usercopy::copy_to_user::<P>(space, at, data)?;
        }
        // Capabilities move only with GRANT and only into a registered buffer.
        let mut moved = 0u8;
        if info.caps > 0 {
            let sender_thread = sender.and_then(|s| self.objects.thread(s));
            let from = sender_thread.and_then(|t| self.table_of(t.process).ok());
            let to = self.table_of(receiver_process)?;
            if let (Some(from), Some(buffer), true) = (from, buffer, message.may_grant) {
                for slot in message.cap_slots() {
                    // Over its quota the receiver gets fewer capabilities (the
                    // count says how many); the rest stay with the sender.
                    if self.reserve_slot(receiver_process).is_err() {
                        continue;
                    }
                    let Ok(new_slot) = self.caps.transfer((from, slot), to, None) else {
                        continue;
                    };
                    let at = buffer + 8 * moved as u64;
                    let space = self.writable_space(receiver, at, 8)?;
                    let _ = usercopy::write_u64::<P>(space, at, new_slot as u64);
                    moved += 1;
                }
            }
        }
        info.caps = moved;
        let [a, b, c, d] = message.words;
        self.set_results(receiver, 0, &[info.encode(), a, b, c, d, message.badge]);
        Ok(())
    }

    /// `call` or `send` on an endpoint by the current thread.
    pub fn endpoint_send(&mut self, endpoint: ObjRef, message: Message, call: bool) -> Result {
        let sender = self.current().ok_or(SysError::BadState)?;
        let ep = self.objects.endpoint_mut(endpoint);
        let receiver = ep.ok_or(SysError::InvalidCap)?.receivers.pop_front();
        match receiver {
            Some(receiver) => {
                self.release(endpoint); // the receiver's hold on the endpoint
                if let Err(e) = self.deliver(Some(sender), receiver, &message) {
                    self.wake(receiver, e.code());
                    return Err(e);
                }
                if call {
                    self.await_reply(sender, receiver, message.is_fault, message.interruptible);
                    // Direct switch: the receiver runs next on this CPU.
                    self.switch_to(receiver);
                } else {
                    // The send is complete: success in the sender's x0 (which
                    // still holds the endpoint slot otherwise).
                    self.set_results(sender, 0, &[]);
                    self.make_runnable(receiver);
                }
                Ok(())
            }
            None => {
                self.update_thread(sender, |s| s.outgoing = message);
                let ep = self.objects.endpoint_mut(endpoint);
                ep.into_iter().for_each(|ep| ep.senders.push_back(sender));
                self.objects.add_ref(endpoint);
                self.block_current(ThreadState::Sending { endpoint, call });
                Ok(())
            }
        }
    }

    /// The IPC fast path (the idea of seL4's): a `Call` to an endpoint where a
    /// receiver waits, or a `ReplyRecv` whose caller waits while no sender is
    /// queued on the endpoint, of a short message (registers only: no
    /// capabilities, no IPC buffer) switches straight to the other thread,
    /// without building a `Message` or touching the run queue, when no queued
    /// thread has the partner's priority or above (the slow path would run
    /// the partner next only then). Returns the partner's slab index (its
    /// call completed with this message; the SysLog names it in the caller's
    /// record instead of writing a completion record), or `None`, having
    /// changed nothing, when a condition fails: the general path then handles
    /// the syscall with the same result.
    pub fn fast_ipc(&mut self, me: ObjRef, caller: Caller, call: bool, args: Args) -> Option<u32> {
        let info = MessageInfo::short(args[1])?;
        // A capability lookup for endpoints only: the kind is checked by the
        // one slab lookup that also reads the queue (another kind: slow path).
        let right = if call { Rights::WRITE } else { Rights::READ };
        let (table, slot) = (caller.0, u32::try_from(args[0]).ok()?);
        let cap = *self.caps.lookup(table, slot).ok()?;
        let (endpoint, may) = (cap.object, cap.rights.contains(right));
        let ep = self.objects.endpoint(endpoint).filter(|_| may)?;
        let partner = match call {
            true => ep.receivers.front().copied(),
            false if ep.senders.is_empty() && ep.silenced.is_empty() => caller.1,
            false => None,
        }?;
        // One lookup of the three objects changed: each once per call.
        let slots = self.objects.many_mut([me, partner, endpoint])?;
        let [Some(t), Some(p), Some(Slot { object, refs })] = slots else {
            return None;
        };
        let (Object::Thread(t), Object::Thread(p), Object::Endpoint(ep)) =
            (&mut t.object, &mut p.object, object)
        else {
            return None;
        };
        // Round robin stays fair: a partner that would queue behind a runnable
        // thread of its priority (or above) on the slow path waits there too;
        // otherwise a client and its server could pass the CPU back and forth
        // while an equal-priority thread never ran.
        let top = self.run_queue.top_priority(self.cpu);
        let waits_its_turn = top.is_some_and(|top| top >= p.priority);
        let stops = p.outgoing.is_fault || p.stop_pending;
        if waits_its_turn || (!call && (!matches!(p.state, ThreadState::AwaitingReply) || stops)) {
            return None;
        }
        let badge = if call { cap.badge } else { 0 };
        let words = [0, info, args[2], args[3], args[4], args[5], badge];
        let context = &mut *p.context;
        for (i, word) in words.into_iter().enumerate() {
            context.set_result(i, word);
        }
        // The partner runs (owed a reply after a call), this one waits; it
        // runs here, so it is on no queue and `deschedule` has nothing to do
        // but what `current` gets below.
        p.state = ThreadState::Runnable;
        p.reply_to = if call { Some(me) } else { p.reply_to };
        let stops = core::mem::take(&mut t.stop_pending);
        if call {
            (t.outgoing.is_fault, t.interruptible) = (false, args[1] & CALL_INTERRUPTIBLE != 0);
            t.state = ThreadState::AwaitingReply;
            ep.receivers.pop_front();
            // The receiver's hold; the caller's capability still holds one.
            *refs = refs.saturating_sub(1);
        } else {
            (t.reply_to, t.state) = (None, ThreadState::Receiving { endpoint });
            ep.receivers.push_back(me);
            *refs += 1;
        }
        // What `leave_cpu` would do for this thread, with it in hand (with
        // several CPUs, FP/SIMD registers live in it are left to `leave_cpu`).
        let cpu = &mut self.cpus[self.cpu % MAX_CPUS];
        cpu.current = Some(partner);
        if cpu.running == Some(me) && (self.online == 1 || cpu.fp_owner != Some(me)) {
            cpu.running = None;
            t.context.save_tls();
        }
        if stops {
            // Suspended from another CPU on its way in: the wait stops it.
            let _ = self.suspend(me);
        }
        Some(partner.index)
    }

    /// `sender`'s call reached `receiver`: the sender waits for the reply that
    /// the receiver now owes it.
    fn await_reply(&mut self, sender: ObjRef, receiver: ObjRef, fault: bool, interruptible: bool) {
        // Only the fault flag of `outgoing` counts while awaiting the reply.
        self.update_thread(sender, |s| {
            (s.outgoing.is_fault, s.interruptible) = (fault, interruptible)
        });
        self.update_thread(receiver, |r| r.reply_to = Some(sender));
        self.block_thread(sender, ThreadState::AwaitingReply);
    }

    /// Runs `thread` now (it must be blocked on IPC and just received).
    fn switch_to(&mut self, thread: ObjRef) {
        self.update_thread(thread, |t| t.state = ThreadState::Runnable);
        if let Some(current) = self.current().filter(|&current| current != thread) {
            let priority = self.objects.thread(current).map_or(0, |t| t.priority);
            self.run_queue.push_front(self.cpu, current, priority);
        }
        self.this_cpu().current = Some(thread);
    }

    /// `recv` by `receiver`, the thread making the syscall; `Ok(())` also when it
    /// blocked. Not taken from `current`: in `reply_recv` the reply may already
    /// have switched to a higher-priority caller.
    pub fn endpoint_recv(&mut self, receiver: ObjRef, endpoint: ObjRef) -> Result {
        let r = self.objects.thread_mut(receiver);
        if let Some(stale) = r.and_then(|r| r.reply_to.take()) {
            // A reply right not used before the next receive is dropped.
            self.fail_caller(stale, SysError::PeerDied);
        }
        let ep = self.objects.endpoint_mut(endpoint);
        let sender = ep.ok_or(SysError::InvalidCap)?.senders.pop_front();
        match sender {
            Some(sender) => {
                self.release(endpoint); // the sender's hold
                let s = self.objects.thread_mut(sender).ok_or(SysError::PeerDied)?;
                let call = matches!(s.state, ThreadState::Sending { call: true, .. });
                let message = core::mem::take(&mut s.outgoing);
                if let Err(e) = self.deliver(Some(sender), receiver, &message) {
                    self.wake(sender, e.code());
                    return Err(e);
                }
                if call {
                    self.await_reply(sender, receiver, message.is_fault, message.interruptible);
                } else {
                    self.wake(sender, 0);
                }
                Ok(())
            }
            None => {
                let ep = self.objects.endpoint_mut(endpoint);
                let silenced = ep.and_then(|ep| ep.silenced.pop_front());
                if let Some((badge, payer)) = silenced {
                    let mut message = Message::default();
                    (message.info, message.badge) = (MessageInfo::label(labels::NO_SENDERS), badge);
                    let delivered = self.deliver(None, receiver, &message);
                    self.refund_watch(payer);
                    return delivered;
                }
                let ep = self.objects.endpoint_mut(endpoint);
                ep.into_iter()
                    .for_each(|ep| ep.receivers.push_back(receiver));
                self.objects.add_ref(endpoint);
                self.block_thread(receiver, ThreadState::Receiving { endpoint });
                Ok(())
            }
        }
    }

    /// Replies to `caller` (which must be awaiting a reply) with `message`.
    pub fn reply_to(&mut self, caller: ObjRef, message: &Message) -> Result {
        let c = self.objects.thread(caller);
        let waiting = c.filter(|c| c.state == ThreadState::AwaitingReply);
        let Some(is_fault) = waiting.map(|c| c.outgoing.is_fault) else {
            // The caller died or was killed meanwhile: drop the reply.
            self.discard_reply_caps(message);
            return Ok(());
        };
        if is_fault {
            // Resuming a faulted thread: its registers stay as they were.
            self.update_thread(caller, |c| c.outgoing.is_fault = false);
            self.make_runnable(caller);
            return Ok(());
        }
        let replier = self.current();
        let result = self.deliver(replier, caller, message);
        // What did not move (the caller over its quota) is deleted too: a
        // reply's capabilities never stay with the replier.
        self.discard_reply_caps(message);
        if let Err(e) = result {
            self.set_results(caller, e.code(), &[]);
        }
        self.make_runnable(caller);
        result
    }

    /// A reply's capabilities are the caller's once sent, delivered or not
    /// (as Zircon consumes a message's handles): a reply that reaches no
    /// caller, or not all of them, deletes the rest from the replier, so a
    /// server that minted a watched capability for a caller killed meanwhile
    /// gets NO_SENDERS instead of keeping the caller's handle open, and may
    /// answer with `ReplyRecv` without checking its slots afterwards.
    pub fn discard_reply_caps(&mut self, message: &Message) {
        // Every slow-path reply comes here: nothing to do without capabilities.
        let any = message.info.caps > 0;
        let replier = any.then(|| self.current_process()).flatten();
        let table = replier.and_then(|p| self.table_of(p).ok());
        let Some(table) = table else { return };
        for slot in message.cap_slots() {
            if let Ok(object) = self.caps.delete(table, slot) {
                self.release(object);
            }
        }
    }

    /// The current thread's implicit reply (after a `recv` of a `call`).
    pub fn reply_current(&mut self, message: &Message) -> Result {
        let me = self.current().ok_or(SysError::BadState)?;
        let caller = self.objects.thread_mut(me).and_then(|t| t.reply_to.take());
        self.reply_to(caller.ok_or(SysError::NoReplyTarget)?, message)
    }

    // ---- notifications ---------------------------------------------------------------

    /// ORs `bits` into a notification, waking one waiter.
    pub fn signal(&mut self, notification: ObjRef, bits: u64) {
        let n = self.objects.notification_mut(notification);
        let Some(n) = n else { return };
        n.bits |= if bits == 0 { 1 } else { bits };
        let waiter = n.waiters.pop_front();
        let Some(waiter) = waiter else { return };
        let taken = core::mem::take(&mut n.bits);
        self.release(notification);
        self.set_results(waiter, 0, &[taken]);
        self.make_runnable(waiter);
    }

    /// Takes the bits of a notification, or blocks the current thread until set.
    pub fn wait(&mut self, notification: ObjRef, block: bool) -> Result<Option<u64>> {
        let me = self.current().ok_or(SysError::BadState)?;
        let n = self.objects.notification_mut(notification);
        let n = n.ok_or(SysError::InvalidCap)?;
        let bits = core::mem::take(&mut n.bits);
        if bits != 0 {
            return Ok(Some(bits));
        }
        ensure(block, SysError::WouldBlock)?;
        n.waiters.push_back(me);
        self.objects.add_ref(notification);
        self.block_current(ThreadState::Waiting { notification });
        Ok(None)
    }
}
