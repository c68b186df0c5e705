//! Syscall handlers: decode the arguments of the current thread, check every
//! capability, right, pointer and length, act, and write the results back.
//! Each handler returns an [`Outcome`] that `finish` writes to the caller's
//! registers; nothing here can panic on user input.

use alloc::vec::Vec;
use core::ops::Range;

use zos_axiom::{Commit, SysRecord, PENDING};

use crate::arch::{AddressSpace, PageFlags, Platform, UserContext};
use crate::audit::{end_words, flag_bits, obj};
use crate::cap::Rights;
use crate::kernel::{Cost, Kernel, REGION_COST, SMALL_OBJECT_COST, WATCH_COST};
use crate::object::*;
use crate::syscall::*;
use crate::usercopy::{self, USER_TOP};
use crate::{ensure, Result};

const PAGE: u64 = 4096;
/// Most bytes one `AxiomRead` copies.
const AXIOM_READ_MAX: u64 = 1 << 16;

/// Pages of a Memory object (`MemoryCopy`'s sources).
type MemoryPages = (ObjRef, Range<u64>);

/// Results written to the caller's registers 1..=6 on success.
type Results = [u64; 6];

/// What a handler did: results for `finish` to write, an error code, or
/// `Ok(None)` when the call wrote its own results (or blocked: a call that
/// may block writes its results when it completes).
type Outcome = Result<Option<Results>>;

/// Success with `values` (at most six) in registers 1 on, the rest zero.
/// Inlined: called out of line it cost ~45 instructions, a `memcpy` call
/// among them, for what is a few register moves.
#[inline(always)]
fn ok(values: &[u64]) -> Outcome {
    let mut results = [0; 6];
    results[..values.len()].copy_from_slice(values);
    Ok(Some(results))
}

fn rights_from(bits: u64) -> Result<Rights> {
    let bits = u32::try_from(bits).map_err(|_| SysError::InvalidArgument)?;
    Rights::from_bits(bits).ok_or(SysError::InvalidArgument)
}

fn optional_slot(slot: u64) -> Result<Option<u32>> {
    let slot = (slot != NO_SLOT).then_some(slot).map(u32::try_from);
    slot.transpose().map_err(|_| SysError::InvalidCap)
}

impl<P: Platform> Kernel<P> {
    /// Handles the syscall the current thread just made; the caller then
    /// resumes whichever thread `schedule` picks.
    pub fn syscall(&mut self) {
        let Some(thread) = self.current() else { return };
        let t = self.objects.thread(thread);
        let Some(t) = t else { return };
        let (c, process, caller) = (&t.context, t.process, (t.caps, t.reply_to));
        let number = c.syscall_number();
        self.syscall_counts[(number as usize).min(SYSCALL_COUNTS - 1)] += 1;
        let args = [c.arg(0), c.arg(1), c.arg(2), c.arg(3), c.arg(4), c.arg(5)];
        let first_commit = self.audit.commits.next;
        let (p, t) = (process.index, thread.index);
        let record =
            move |code, value| SysRecord::call(p, t, number, args, first_commit).ended(code, value);
        let fast = number == Sys::Call as u64 || number == Sys::ReplyRecv as u64;
        // The partner's call completed with this message: named in `value`.
        let call = number == Sys::Call as u64;
        let fast = fast.then(|| self.fast_ipc(thread, caller, call, args));
        if let Some(Some(partner)) = fast {
            return self.log_syscall(|| record(PENDING, u64::from(partner) + 1));
        }
        let result = match Sys::from_number(number) {
            Some(call) => self.dispatch(call, thread, process, args),
            None => Err(SysError::InvalidSyscall),
        };
        let (code, value) = self.finish(thread, result);
        self.log_syscall(|| record(code, value));
    }

    /// Writes an outcome: 0 and the values, or the error code and zeros
    /// (nothing for a call that wrote its own). Returns the code and first
    /// value for the SysLog (`PENDING` for a call that wrote its own).
    fn finish(&mut self, thread: ObjRef, outcome: Outcome) -> (u16, u64) {
        // By reference: moving the values out was a `memcpy` call.
        let (code, values) = match &outcome {
            Ok(None) => return (PENDING, 0),
            Ok(Some(values)) => (0, values),
            Err(e) => (e.code(), &[0; 6]),
        };
        self.write_results(thread, code, values);
        (code as u16, values[0])
    }

    /// Target process of an operation: the caller itself or a process capability.
    fn target_process(&self, caller: ObjRef, slot: u64) -> Result<ObjRef> {
        if slot == SELF_PROCESS {
            return Ok(caller);
        }
        let (target, _) = self.lookup(caller, slot, ObjectKind::Process, Rights::WRITE)?;
        match self.objects.process(target) {
            Some(p) if p.state == ProcessState::Alive => Ok(target),
            _ => Err(SysError::DeadObject),
        }
    }

    /// Runs one syscall. Calls that may block (`Sys::may_block`) write their
    /// own results when they complete.
    fn dispatch(&mut self, call: Sys, thread: ObjRef, process: ObjRef, args: [u64; 6]) -> Outcome {
        match call {
            Sys::Yield => {
                self.rotate_current();
                ok(&[])
            }
            Sys::ThreadExit => {
                let p = self.objects.process(process);
                match p.is_some_and(|p| p.threads.len() <= 1) {
                    true => self.kill_process(process, ProcessState::Exited(0)),
                    false => self.destroy_thread(thread),
                }
                Ok(None)
            }
            Sys::ProcessExit => {
                self.kill_process(process, ProcessState::Exited(args[0] as i64));
                Ok(None)
            }
            Sys::SleepUntil => {
                self.set_results(thread, 0, &[]);
                if args[0] > P::uptime_ns() {
                    self.sleepers.push(thread);
                    self.block_current(ThreadState::Sleeping { deadline: args[0] });
                }
                Ok(None)
            }
            Sys::Wait => {
                let (notification, _) =
                    self.lookup(process, args[0], ObjectKind::Notification, Rights::READ)?;
                let bits = self.wait(notification, true)?;
                Ok(bits.map(|bits| [bits, 0, 0, 0, 0, 0]))
            }
            Sys::Call | Sys::Send => {
                let slot = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let table = self.table_of(process)?;
                let cap = *self.caps.lookup(table, slot)?;
                let kind = self.objects.get(cap.object).map(|o| o.kind());
                let mut message = self.read_message(thread, args[1], 2)?;
                message.may_grant = cap.rights.contains(Rights::GRANT);
                match kind {
                    Some(ObjectKind::Endpoint) => {
                        ensure(cap.rights.contains(Rights::WRITE), SysError::NoRights)?;
                        message.badge = cap.badge;
                        self.endpoint_send(cap.object, message, call == Sys::Call)?;
                        Ok(None)
                    }
                    Some(ObjectKind::Reply) if call == Sys::Send => {
                        // A saved reply right: one shot, consumed by use.
                        let Some(Object::Reply(r)) = self.objects.get_mut(cap.object) else {
                            return Err(SysError::InvalidCap);
                        };
                        let caller = core::mem::replace(&mut r.caller, ObjRef::NONE);
                        message.may_grant = true;
                        // A caller that is gone (dead, or no longer waiting) makes
                        // the send fail with PeerDied, so a server can give what
                        // it was answering (typed input, say) to someone else.
                        let c = self.objects.thread(caller);
                        let waiting = c.is_some_and(|c| c.state == ThreadState::AwaitingReply);
                        let result = if waiting {
                            self.reply_to(caller, &message)
                        } else {
                            self.discard_reply_caps(&message);
                            Err(SysError::PeerDied)
                        };
                        if let Ok(object) = self.caps.delete(table, slot) {
                            self.release(object);
                        }
                        result?;
                        ok(&[])
                    }
                    _ => Err(SysError::WrongType),
                }
            }
            Sys::Recv => {
                let (endpoint, _) =
                    self.lookup(process, args[0], ObjectKind::Endpoint, Rights::READ)?;
                self.endpoint_recv(thread, endpoint)?;
                Ok(None)
            }
            Sys::Reply => {
                let mut message = self.read_message(thread, args[0], 1)?;
                message.may_grant = true;
                self.reply_current(&message)?;
                ok(&[])
            }
            Sys::ReplyRecv => {
                let (endpoint, _) =
                    self.lookup(process, args[0], ObjectKind::Endpoint, Rights::READ)?;
                let mut message = self.read_message(thread, args[1], 2)?;
                message.may_grant = true;
                // A reply to a caller that vanished is not the server's problem.
                let _ = self.reply_current(&message);
                self.endpoint_recv(thread, endpoint)?;
                Ok(None)
            }
            Sys::PowerOff | Sys::Reset => {
                self.lookup(process, args[0], ObjectKind::System, Rights::WRITE)?;
                let off = call == Sys::PowerOff;
                log::info!("{} requested", if off { "power off" } else { "reset" });
                // The console dies with the machine: stop the other CPUs
                // (it may be printing on one) and print what it has not.
                (0..self.online).for_each(P::stop_user);
                crate::klog::flush_unprinted();
                if off {
                    P::power_off()
                }
                P::reset()
            }
            Sys::DebugWrite => {
                self.lookup(process, args[0], ObjectKind::System, Rights::empty())?;
                let fits = args[2] <= MAX_DEBUG_WRITE as u64;
                let len = fits.then_some(args[2] as usize).ok_or(SysError::TooBig)?;
                let space = self.space_of(thread).ok_or(SysError::DeadObject)?;
                let buffer = usercopy::read_vec::<P>(space, args[1], len)?;
                if crate::klog::record(&buffer) {
                    P::console_write(&buffer);
                }
                self.notify_log_listener();
                ok(&[len as u64])
            }
            Sys::LogRead => {
                // LogRead(system, cursor, buffer, length) -> (count, next cursor)
                self.lookup(process, args[0], ObjectKind::System, Rights::READ)?;
                let len = usize::try_from(args[3]).map_err(|_| SysError::InvalidArgument)?;
                let mut buffer = alloc::vec![0u8; len.min(MAX_DEBUG_WRITE)];
                let (count, next) = crate::klog::read(args[1], &mut buffer);
                let space = self.writable_space(thread, args[2], count)?;
                usercopy::copy_to_user::<P>(space, args[2], &buffer[..count])?;
                // The console's reads tell the kernel what was printed: all
                // before the cursor it asks from (what it read last may not
                // be on the UART yet when the machine stops).
                if self.log_listener.is_some_and(|l| l.2 == process) {
                    crate::klog::printed_up_to(args[1], next);
                }
                ok(&[count as u64, next])
            }
            Sys::LogBind => {
                // LogBind(system, notification): the caller drives the UART from
                // now on and is signalled when log bytes arrive; returns the cursor.
                self.lookup(process, args[0], ObjectKind::System, Rights::WRITE)?;
                let (notification, _) =
                    self.lookup(process, args[1], ObjectKind::Notification, Rights::WRITE)?;
                self.objects.add_ref(notification);
                let written = crate::klog::written();
                let listener = (notification, written, process);
                if let Some((old, _, _)) = self.log_listener.replace(listener) {
                    self.release(old);
                }
                crate::klog::hand_over(true);
                ok(&[written])
            }
            Sys::Clock => ok(&P::clock()),
            Sys::SystemInfo if args[0] == SYSTEM_INFO_CPUS => {
                // CPUs never brought online read zeros.
                let cpu = self.cpus.get(args[1] as usize).copied().unwrap_or_default();
                let (online, waits) = (self.online as u64, self.lock_waits);
                ok(&[online, waits, cpu.busy_ticks, cpu.switches, cpu.faults])
            }
            Sys::SystemInfo if args[0] == SYSTEM_INFO_SYSCALLS => {
                let first = (args[1] as usize).min(SYSCALL_COUNTS);
                ok(&self.syscall_counts[first..(first + 6).min(SYSCALL_COUNTS)])
            }
            Sys::SystemInfo => {
                let (quota, pid) = (self.objects.process(process))
                    .map_or((Default::default(), 0), |p| (p.quota, p.pid as u64));
                let frames = &self.frames;
                let (free, total) = (frames.free_frames() as u64, frames.total_frames() as u64);
                let (left, live) = (quota.limit.saturating_sub(quota.used), self.objects.live());
                let syscalls = self.syscall_counts.iter().sum();
                ok(&[free, total, left, live as u64, syscalls, pid])
            }
            Sys::CapCopy | Sys::CapTransfer => {
                let src = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let target = self.target_process(process, args[1])?;
                let dst_slot = optional_slot(args[2])?;
                let src_table = self.table_of(process)?;
                let dst_table = self.table_of(target)?;
                if target != process {
                    let rights = self.caps.lookup(src_table, src)?.rights;
                    ensure(rights.contains(Rights::GRANT), SysError::NoRights)?;
                }
                self.reserve_slot(target)?;
                let slot = if call == Sys::CapCopy {
                    let slot = self.caps.copy((src_table, src), dst_table, dst_slot)?;
                    let object = self.caps.lookup(dst_table, slot)?.object;
                    self.objects.add_ref(object);
                    slot
                } else {
                    self.caps.transfer((src_table, src), dst_table, dst_slot)?
                };
                ok(&[slot as u64])
            }
            Sys::CapMint | Sys::CapMintWatched => {
                let src = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let table = self.table_of(process)?;
                let rights = rights_from(args[2])?;
                let badge = if args[3] == 0 { None } else { Some(args[3]) };
                self.reserve_slot(process)?;
                let watch = (call == Sys::CapMintWatched).then_some(process);
                if watch.is_some() {
                    // Only a receiver is told; the watch's record is paid until
                    // its NO_SENDERS is received (the payer's record held so).
                    self.lookup(process, args[0], ObjectKind::Endpoint, Rights::READ)?;
                    self.charge(process, Cost::heap(WATCH_COST))?;
                    self.objects.add_ref(process);
                }
                let dst = optional_slot(args[1])?;
                let slot = self
                    .caps
                    .mint((table, src), table, dst, rights, badge, watch)
                    .inspect_err(|_| watch.into_iter().for_each(|p| self.refund_watch(p)))?;
                let object = self.caps.lookup(table, slot)?.object;
                self.objects.add_ref(object);
                ok(&[slot as u64])
            }
            Sys::CapDelete => {
                let slot = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let table = self.table_of(process)?;
                let object = self.caps.delete(table, slot)?;
                self.release(object);
                ok(&[])
            }
            Sys::CapRevoke => {
                let slot = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let table = self.table_of(process)?;
                let objects = self.caps.revoke(table, slot)?;
                let count = objects.len() as u64;
                self.release_all(objects);
                ok(&[count])
            }
            Sys::CapInfo => {
                let slot = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
                let cap = *self.caps.lookup(self.table_of(process)?, slot)?;
                let kind = self.objects.get(cap.object).map_or(0, |o| o.kind() as u64);
                ok(&[kind, cap.rights.bits() as u64, cap.badge])
            }
            Sys::EndpointCreate | Sys::NotificationCreate => {
                self.charge(process, Cost::heap(SMALL_OBJECT_COST))?;
                let object = if call == Sys::EndpointCreate {
                    Object::Endpoint(Endpoint::default())
                } else {
                    Object::Notification(Notification::default())
                };
                let object = self.new_object(object);
                self.record_charge(object, process, Cost::heap(SMALL_OBJECT_COST));
                self.grant_new(process, object, Rights::ALL)
            }
            Sys::MemoryCreate => self.memory_create(process, args),
            Sys::MemorySlice => self.memory_slice(process, args),
            Sys::MemoryMap => self.memory_map(process, args),
            Sys::MemoryUnmap => {
                let target = self.target_process(process, args[0])?;
                self.unmap_region(target, args[1])?;
                ok(&[])
            }
            Sys::MemoryProtect => self.memory_protect(process, args),
            Sys::MemoryCopy => self.memory_copy(process, args),
            Sys::MemoryInfo => {
                let (memory, _) =
                    self.lookup(process, args[0], ObjectKind::Memory, Rights::empty())?;
                match self.objects.get(memory) {
                    Some(Object::Memory(Memory::Frames { frames, .. })) => {
                        let run = frames.windows(2).all(|w| w[1] == w[0] + PAGE);
                        let first = frames.first().copied().unwrap_or(0);
                        ok(&[frames.len() as u64 * PAGE, first, 0, run as u64])
                    }
                    Some(Object::Memory(Memory::Device { base, pages })) => {
                        ok(&[pages * PAGE, *base, 1])
                    }
                    _ => Err(SysError::WrongType),
                }
            }
            Sys::ProcessCreate => self.process_create(process, args),
            Sys::ProcessKill => {
                let (target, _) =
                    self.lookup(process, args[0], ObjectKind::Process, Rights::WRITE)?;
                self.kill_process(target, ProcessState::killed(0, 0));
                ok(&[])
            }
            Sys::ProcessStatus => {
                let (target, _) =
                    self.lookup(process, args[0], ObjectKind::Process, Rights::READ)?;
                let p = self.objects.process(target).ok_or(SysError::DeadObject)?;
                // Alive, exited (code) or killed (fault address, pc); while
                // it runs, the ticks it ran in the code's place.
                let (state, a, pc) = end_words(p.state);
                let (code, address) = [(p.ticks, 0), (a, 0), (0, a)][state as usize];
                ok(&[state as u64, code, p.pid as u64, address, pc, p.quota.used])
            }
            Sys::ThreadCreate => {
                let target = self.target_process(process, args[0])?;
                let priority = self.priority_arg(thread, args[4])?;
                let in_user_space = args[1] < USER_TOP && args[2] <= USER_TOP;
                ensure(in_user_space, SysError::InvalidArgument)?;
                let new = self.create_thread(target, args[1], args[2], args[3], priority)?;
                let slot =
                    self.grant_or_undo(process, new, Rights::ALL, |k| k.destroy_thread(new))?;
                ok(&[slot as u64])
            }
            Sys::ThreadStart => {
                let (target, _) =
                    self.lookup(process, args[0], ObjectKind::Thread, Rights::WRITE)?;
                let state = self.objects.thread(target).map(|t| t.state);
                ensure(state == Some(ThreadState::Inactive), SysError::BadState)?;
                self.start_thread(target);
                ok(&[])
            }
            Sys::ThreadSuspend | Sys::ThreadResume => {
                // A thread, or every thread of a process (job control): then
                // threads in no state to change are passed over.
                let (threads, one) = self.named_threads(process, args[0])?;
                for thread in threads {
                    let suspend = call == Sys::ThreadSuspend;
                    let done = self.suspend_or_resume(thread, suspend);
                    done.or_else(|e| if one { Err(e) } else { Ok(()) })?;
                }
                ok(&[])
            }
            Sys::ThreadRegisters => {
                let (target, _) =
                    self.lookup(process, args[0], ObjectKind::Thread, Rights::WRITE)?;
                let (own, write) = (target == thread, args[2] != 0);
                let t = self.objects.thread(target).ok_or(SysError::DeadObject)?;
                let stopped = t.state == ThreadState::Suspended;
                ensure(stopped || own && write, SysError::BadState)?;
                let mut words = t.context.registers();
                let space = self.writable_space(thread, args[1], 8 * words.len())?;
                for (at, word) in (args[1]..).step_by(8).zip(&mut words) {
                    match write {
                        true => *word = usercopy::read_u64::<P>(space, at)?,
                        false => usercopy::write_u64::<P>(space, at, *word)?,
                    }
                }
                self.update_thread(target, |t| t.context.set_registers(&words));
                // The caller's own: no results written over the new registers.
                Ok((!own).then_some([0; 6]))
            }
            Sys::ThreadSetPriority => {
                let (target, _) =
                    self.lookup(process, args[0], ObjectKind::Thread, Rights::WRITE)?;
                let priority = self.priority_arg(thread, args[1])?;
                let t = self.objects.thread_mut(target);
                let t = t.ok_or(SysError::DeadObject)?;
                let old = core::mem::replace(&mut t.priority, priority);
                let queued = t.state == ThreadState::Runnable && self.cpu_running(target).is_none();
                if let Some(cpu) = queued.then(|| self.run_queue.remove(target, old)).flatten() {
                    self.run_queue.push_back(cpu, target, priority);
                }
                self.commit(Commit::priority(obj(target), priority));
                ok(&[])
            }
            Sys::ThreadSetAffinity => {
                // A thread, or every thread of a process (`taskset -p`).
                let (threads, one) = self.named_threads(process, args[0])?;
                let cpus = (args[1] & ((1 << self.online) - 1)) as u8;
                ensure(cpus != 0, SysError::InvalidArgument)?;
                for target in threads {
                    match self.objects.thread_mut(target) {
                        Some(t) => t.cpus = cpus,
                        None if one => return Err(SysError::DeadObject),
                        None => continue,
                    }
                    self.commit(Commit::affinity(obj(target), cpus));
                }
                // A CPU it may no longer use lets it go at its next entry
                // (this one on the way out, another at its next tick).
                ok(&[])
            }
            Sys::SetIpcBuffer => {
                let va = args[0];
                ensure(va.is_multiple_of(PAGE), SysError::InvalidArgument)?;
                let space = self.writable_space(thread, va, IPC_BUFFER_SIZE as usize)?;
                let writable = usercopy::is_writable::<P>(space, va, IPC_BUFFER_SIZE);
                ensure(writable, SysError::BadAddress)?;
                self.update_thread(thread, |t| t.ipc_buffer = Some(va));
                ok(&[])
            }
            Sys::ReplySave => {
                let t = self.objects.thread_mut(thread);
                let caller = t.and_then(|t| t.reply_to.take());
                let caller = caller.ok_or(SysError::NoReplyTarget)?;
                let reply = self.new_object(Object::Reply(Reply { caller }));
                let slot = self.grant_or_undo(process, reply, Rights::WRITE, |k| {
                    if let Some(t) = k.objects.thread_mut(thread) {
                        t.reply_to = Some(caller);
                    }
                    k.remove_object(reply);
                })?;
                ok(&[slot as u64])
            }
            Sys::Signal => {
                let (notification, badge) =
                    self.lookup(process, args[0], ObjectKind::Notification, Rights::WRITE)?;
                self.signal(notification, badge);
                ok(&[])
            }
            Sys::Poll => {
                let (notification, _) =
                    self.lookup(process, args[0], ObjectKind::Notification, Rights::READ)?;
                ok(&[self.wait(notification, false)?.unwrap_or(0)])
            }
            Sys::IrqBind => {
                let (irq, _) = self.lookup(process, args[0], ObjectKind::Irq, Rights::WRITE)?;
                let (notification, badge) =
                    self.lookup(process, args[1], ObjectKind::Notification, Rights::WRITE)?;
                self.objects.add_ref(notification);
                let (number, old) = match self.objects.get_mut(irq) {
                    Some(Object::Irq(i)) => (i.irq, i.notification.replace((notification, badge))),
                    _ => return Err(SysError::WrongType),
                };
                self.commit(Commit::irq_bound(obj(irq), obj(notification), badge));
                if let Some((old, _)) = old {
                    self.release(old);
                }
                P::irq_set_enabled(number, true);
                ok(&[])
            }
            Sys::AxiomRead => {
                // AxiomRead(audit, stream, cursor, buffer, bytes) -> (count, next, lost)
                self.lookup(process, args[0], ObjectKind::Audit, Rights::READ)?;
                let mut words = Vec::new();
                let max = args[4].min(AXIOM_READ_MAX) as usize / 8;
                self.flush_cap_journal();
                let read = self.audit.read(args[1], args[2], max, &mut words);
                let (first, count) = read.ok_or(SysError::InvalidArgument)?;
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let space = self.writable_space(thread, args[3], bytes.len())?;
                usercopy::copy_to_user::<P>(space, args[3], &bytes)?;
                let lost = first.saturating_sub(args[2]);
                Ok(Some([count, first + count, lost, 0, 0, 0]))
            }
            Sys::AxiomState => {
                self.lookup(process, args[0], ObjectKind::Audit, Rights::READ)?;
                let (hash, commits) = self.state_hash();
                let space = self.writable_space(thread, args[1], hash.len())?;
                usercopy::copy_to_user::<P>(space, args[1], &hash)?;
                ok(&[commits])
            }
            Sys::IrqAck => {
                let (irq, _) = self.lookup(process, args[0], ObjectKind::Irq, Rights::WRITE)?;
                if let Some(Object::Irq(i)) = self.objects.get(irq) {
                    P::irq_set_enabled(i.irq, true);
                }
                ok(&[])
            }
        }
    }

    /// The threads `slot` names: a thread, or every thread of a process
    /// (and whether it named one thread).
    fn named_threads(&self, process: ObjRef, slot: u64) -> Result<(Vec<ObjRef>, bool)> {
        if let Ok((thread, _)) = self.lookup(process, slot, ObjectKind::Thread, Rights::WRITE) {
            return Ok((alloc::vec![thread], true));
        }
        let (target, _) = self.lookup(process, slot, ObjectKind::Process, Rights::WRITE)?;
        let p = self.objects.process(target).ok_or(SysError::DeadObject)?;
        Ok((p.threads.clone(), false))
    }

    /// MemoryCreate(size, flags): zeroed frames; `CONTIGUOUS` makes them one
    /// physical run (DMA buffers: MemoryInfo reports its first address).
    fn memory_create(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let (size, flags) = (args[0], args[1]);
        let valid = size != 0 && size <= MAX_MEMORY_BYTES && flags & !memory_flags::CONTIGUOUS == 0;
        ensure(valid, SysError::InvalidArgument)?;
        let pages = size.div_ceil(PAGE) as usize;
        let cost = Cost::new(pages as u64 * PAGE, SMALL_OBJECT_COST + pages as u64 * 8);
        self.charge(process, cost)?;
        let mut frames = Vec::new();
        let reserved = frames.try_reserve_exact(pages).is_ok();
        if reserved && flags & memory_flags::CONTIGUOUS != 0 {
            let run = self.frames.alloc_contiguous(pages);
            let run_pages = |base: u64| (0..pages as u64).map(move |i| base + i * PAGE);
            frames.extend(run.into_iter().flat_map(run_pages));
        } else if reserved {
            self.frames.alloc_many(pages, &mut frames);
        }
        if frames.len() < pages {
            self.frames.free_all(&frames);
            self.refund(process, cost);
            return Err(SysError::OutOfMemory);
        }
        frames.iter().for_each(|&frame| P::zero_frame(frame));
        let memory = self.new_object(Object::Memory(Memory::Frames {
            frames,
            read_only: false,
        }));
        self.record_charge(memory, process, cost);
        self.grant_new(process, memory, Rights::ALL)
    }

    /// MemorySlice(memory, first page, pages): a new device Memory object
    /// naming part of a device Memory (one PCI BAR of a bus window), with
    /// the rights of the source capability. RAM frames cannot be sliced.
    fn memory_slice(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let slot = u32::try_from(args[0]).map_err(|_| SysError::InvalidCap)?;
        let rights = self.caps.lookup(self.table_of(process)?, slot)?.rights;
        let (memory, _) = self.lookup(process, args[0], ObjectKind::Memory, Rights::MAP)?;
        let Some(Object::Memory(Memory::Device { base, pages })) = self.objects.get(memory) else {
            return Err(SysError::WrongType);
        };
        let (first, count) = (args[1], args[2]);
        let inside = first.checked_add(count).is_some_and(|end| end <= *pages);
        ensure(count != 0 && inside, SysError::InvalidArgument)?;
        let slice = Memory::Device {
            base: base + first * PAGE,
            pages: count,
        };
        self.charge(process, Cost::heap(SMALL_OBJECT_COST))?;
        let object = self.new_object(Object::Memory(slice));
        self.record_charge(object, process, Cost::heap(SMALL_OBJECT_COST));
        self.grant_new(process, object, rights)
    }

    /// Grants a just-created object to its creator with `rights`; destroys
    /// it again when the creator has no room for the capability.
    fn grant_new(&mut self, process: ObjRef, object: ObjRef, rights: Rights) -> Outcome {
        let slot = self.grant_or_undo(process, object, rights, |k| {
            k.objects.add_ref(object);
            k.release(object);
        })?;
        ok(&[slot as u64])
    }

    /// MemoryMap(memory_slot, process_slot, va, first_page, pages, flags).
    fn memory_map(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let flags = PageFlags {
            write: args[5] & map_flags::WRITE != 0,
            execute: args[5] & map_flags::EXECUTE != 0,
            device: false,
        };
        let known_flags = args[5] & !(map_flags::WRITE | map_flags::EXECUTE) == 0;
        let valid = known_flags && !(flags.write && flags.execute);
        ensure(valid, SysError::InvalidArgument)?;
        let mut needed = Rights::MAP | Rights::READ;
        needed.set(Rights::WRITE, flags.write);
        needed.set(Rights::EXECUTE, flags.execute);
        let (memory, _) = self.lookup(process, args[0], ObjectKind::Memory, needed)?;
        let target = self.target_process(process, args[1])?;
        self.map_region(target, memory, args[2], args[3], args[4], flags)?;
        ok(&[])
    }

    /// Maps `pages` pages of `memory` from `first_page` at `va` in `target`.
    pub fn map_region(
        &mut self,
        target: ObjRef,
        memory: ObjRef,
        va: u64,
        first_page: u64,
        pages: u64,
        mut flags: PageFlags,
    ) -> Result {
        let size = pages.checked_mul(PAGE).ok_or(SysError::InvalidArgument)?;
        let end = va.checked_add(size).ok_or(SysError::InvalidArgument)?;
        let valid = va.is_multiple_of(PAGE) && pages != 0 && va >= PAGE && end <= USER_TOP;
        ensure(valid, SysError::InvalidArgument)?;
        let Some(Object::Memory(m)) = self.objects.get(memory) else {
            return Err(SysError::WrongType);
        };
        let last = first_page.checked_add(pages);
        let inside = last.is_some_and(|last| last <= m.pages());
        ensure(inside, SysError::InvalidArgument)?;
        let read_only = matches!(m, Memory::Frames { read_only, .. } if *read_only);
        ensure(!(flags.write && read_only), SysError::NoRights)?;
        flags.device = matches!(m, Memory::Device { .. });
        // Inside `m` (checked above); frames shared copy-on-write are marked.
        let mut addrs = m.run(first_page, pages);
        self.frames.mark_shared(&mut addrs, flags.write);
        let p = self.objects.process(target).ok_or(SysError::DeadObject)?;
        // No overlap with an existing region.
        let before = p.regions.range(..end).next_back();
        let overlaps = before.is_some_and(|(start, region)| start + region.pages * PAGE > va);
        ensure(!overlaps, SysError::AlreadyMapped)?;
        let table_before = p.space.as_ref().map_or(0, |s| s.table_frames());
        // Charged before anything is taken: the most page tables this range can
        // need, and the region's record; the tables not needed go back after.
        let table_bound = P::Space::max_new_tables(va, pages);
        let cost = Cost::new(table_bound * PAGE, REGION_COST);
        self.charge(target, cost)?;
        let p = self.objects.process_mut(target);
        let p = p.ok_or(SysError::DeadObject)?;
        let Some(space) = p.space.as_mut() else {
            self.refund(target, cost);
            return Err(SysError::DeadObject);
        };
        let result = space.map(va, &addrs, flags, &mut self.frames);
        // Tables built stay (and stay charged), even when mapping failed.
        let grown = space.table_frames().saturating_sub(table_before) as u64;
        p.table_frames_charged += grown;
        let mut unused = Cost::frames((table_bound - grown.min(table_bound)) * PAGE);
        if let Err(e) = result {
            unused.heap = REGION_COST;
            self.refund(target, unused);
            return Err(match e {
                crate::arch::MapError::OutOfMemory => SysError::OutOfMemory,
                crate::arch::MapError::AlreadyMapped => SysError::AlreadyMapped,
                _ => SysError::InvalidArgument,
            });
        }
        let region = Region {
            memory,
            first_page,
            pages,
            flags,
        };
        p.regions.insert(va, region);
        self.objects.add_ref(memory);
        let pages_there = first_page..first_page + pages;
        self.mappings.insert((memory, target, va), pages_there);
        let (process, memory, flags) = (obj(target), obj(memory), flag_bits(flags));
        let mapped = Commit::mapped(process, va, memory, first_page, pages, flags);
        self.commit(mapped);
        self.refund(target, unused);
        Ok(())
    }

    /// Removes the region starting at `va`.
    pub fn unmap_region(&mut self, target: ObjRef, va: u64) -> Result {
        let p = self.objects.process_mut(target);
        let p = p.ok_or(SysError::DeadObject)?;
        let region = p.regions.remove(&va).ok_or(SysError::NotMapped)?;
        p.space
            .iter_mut()
            .for_each(|s| s.unmap_run(va, region.pages));
        self.mappings.remove(&(region.memory, target, va));
        self.commit(Commit::unmapped(obj(target), va));
        self.refund(target, Cost::heap(REGION_COST));
        self.release(region.memory);
        Ok(())
    }

    /// MemoryProtect(process_slot, va, flags): only removes rights.
    fn memory_protect(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let target = self.target_process(process, args[0])?;
        let va = args[1];
        let write = args[2] & map_flags::WRITE != 0;
        let execute = args[2] & map_flags::EXECUTE != 0;
        let p = self.objects.process_mut(target);
        let p = p.ok_or(SysError::DeadObject)?;
        let region = p.regions.get_mut(&va).ok_or(SysError::NotMapped)?;
        let only_removes = (!write || region.flags.write) && (!execute || region.flags.execute);
        ensure(only_removes, SysError::NoRights)?;
        (region.flags.write, region.flags.execute) = (write, execute);
        let (memory, flags) = (region.memory, region.flags);
        let pages = region.first_page..region.first_page + region.pages;
        self.refresh_mappings(memory, pages);
        self.commit(Commit::protected(obj(target), va, flag_bits(flags)));
        ok(&[])
    }

    /// Maps pages `range` of `memory` again wherever they are mapped: its
    /// frame now, writable where the region allows it and the frame has one
    /// owner (a shared one is copied at its first write fault).
    fn refresh_mappings(&mut self, memory: ObjRef, range: Range<u64>) {
        let m = self.objects.get(memory);
        let Some(Object::Memory(m)) = m else { return };
        let run = m.run(range.start, range.end.saturating_sub(range.start));
        let frames: Vec<(u64, u64)> = range.clone().zip(run).collect();
        let all = (memory, ObjRef::default(), 0)..=(memory, ObjRef::NONE, u64::MAX);
        let meets = |there: &Range<u64>| there.start < range.end && range.start < there.end;
        for (&(_, process, start), _) in self.mappings.range(all).filter(|(_, t)| meets(t)) {
            let p = self.objects.process_mut(process);
            let p = p.map(|p| (p.regions.get(&start), p.space.as_mut()));
            let Some((Some(region), Some(space))) = p else {
                continue;
            };
            for &(index, pa) in &frames {
                let page = index.wrapping_sub(region.first_page);
                let mut flags = region.flags;
                flags.write &= !self.frames.is_shared(pa);
                if page < region.pages {
                    space.remap(start + page * PAGE, pa, flags, &mut self.frames);
                }
            }
        }
    }

    /// A write fault at `va` in `process` on a page its region lets it
    /// write but that is mapped read-only because its frame is shared
    /// (`MemoryCopy`): the Memory object gets a frame of its own with the
    /// same bytes, mapped writable. `Some` if that was the fault (the write
    /// is then retried), or if the page is writable already: another CPU's
    /// fault on it came first (its remap dropped the TLB entries), and the
    /// write is retried too. A backend reports a data abort only for an
    /// access the mapping refused or could not make (x86_64 reports
    /// instruction fetches apart; the browser, which cannot say where a
    /// trap went, reports an address no page has), so the retry cannot
    /// repeat; device pages fault for the device's reasons and stay real.
    pub fn copy_on_write(&mut self, process: ObjRef, va: u64) -> Option<()> {
        let va = va & !(PAGE - 1);
        let p = self.objects.process(process)?;
        // Usually mapped writable (or not at all): one page-table walk.
        let (_, mapped) = p.space.as_ref().and_then(|space| space.translate(va))?;
        if mapped.write && !mapped.device {
            return Some(());
        }
        let (start, region) = p.region_at(va).filter(|(_, r)| r.flags.write)?;
        let (memory, index) = (region.memory, region.first_page + (va - start) / PAGE);
        let flags = region.flags;
        let Some(Object::Memory(Memory::Frames { frames, .. })) = self.objects.get_mut(memory)
        else {
            return None;
        };
        let frame = frames.get_mut(index as usize)?;
        if !self.frames.is_shared(*frame) {
            // Its last owner: the frame stays, only this mapping changes
            // (others of the object make theirs writable at their faults).
            let (pa, p) = (*frame, self.objects.process_mut(process));
            let space = p.and_then(|p| p.space.as_mut())?;
            return space.remap(va, pa, flags, &mut self.frames).then_some(());
        }
        let copy = self.frames.alloc()?;
        let (from, to) = (P::phys_to_ptr(*frame), P::phys_to_ptr(copy));
        // SAFETY: two whole RAM frames through the linear map; `copy` was
        // free until now, so nothing else reaches it.
        unsafe { core::ptr::copy_nonoverlapping(from, to, PAGE as usize) };
        let _ = self.frames.free(core::mem::replace(frame, copy));
        // A new frame: every mapping of the object follows it.
        self.refresh_mappings(memory, index..index + 1);
        Some(())
    }

    /// `thread`'s address space for the kernel to write `[va, va + len)`
    /// in: pages of it still shared copy-on-write get their copies first.
    pub fn writable_space(&mut self, thread: ObjRef, va: u64, len: usize) -> Result<&P::Space> {
        let process = self.objects.thread(thread).map(|t| t.process);
        let process = process.ok_or(SysError::DeadObject)?;
        let end = va.saturating_add(len as u64);
        for page in (va & !(PAGE - 1)..end).step_by(PAGE as usize) {
            self.copy_on_write(process, page);
        }
        self.space_of(thread).ok_or(SysError::DeadObject)
    }

    /// MemoryCopy(source, va, length): a copy-on-write copy of a Memory
    /// object, or of the pages a process maps at `[va, va + length)`.
    fn memory_copy(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let rights = Rights::MAP | Rights::READ;
        let mut sources = match self.lookup(process, args[0], ObjectKind::Memory, rights) {
            Ok((memory, _)) => alloc::vec![(memory, 0..MAX_MEMORY_BYTES / PAGE)],
            Err(SysError::NoRights) => return Err(SysError::NoRights),
            Err(_) => self.mapped_sources(self.target_process(process, args[0])?, args)?,
        };
        let mut frames = Vec::new();
        for (memory, range) in &mut sources {
            let held = match self.objects.get(*memory) {
                Some(Object::Memory(Memory::Frames { frames, read_only })) if !read_only => frames,
                _ => return Err(SysError::WrongType),
            };
            range.end = range.end.min(held.len() as u64);
            let held = held
                .get(range.start as usize..range.end as usize)
                .unwrap_or(&[]);
            frames
                .try_reserve(held.len())
                .map_err(|_| SysError::OutOfMemory)?;
            frames.extend_from_slice(held);
        }
        ensure(!frames.is_empty(), SysError::InvalidArgument)?;
        let pages = frames.len() as u64;
        // The copy's record and its frame list.
        let cost = Cost::new(pages * PAGE, SMALL_OBJECT_COST + pages * 8);
        self.charge(process, cost)?;
        if self.frames.share_all(&frames).is_err() {
            self.refund(process, cost);
            return Err(SysError::OutOfMemory);
        }
        for (memory, range) in sources {
            self.refresh_mappings(memory, range);
        }
        let read_only = false;
        let copy = self.new_object(Object::Memory(Memory::Frames { frames, read_only }));
        self.record_charge(copy, process, cost);
        self.grant_new(process, copy, Rights::ALL)
    }

    /// The Memory objects (and their pages) `process` maps at `[va, va +
    /// length)` (`args[1]`, `args[2]`), in address order; a gap is NotMapped.
    fn mapped_sources(&self, process: ObjRef, args: [u64; 6]) -> Result<Vec<MemoryPages>> {
        let (va, length) = (args[1], args[2]);
        let valid = (va | length).is_multiple_of(PAGE) && length <= MAX_MEMORY_BYTES;
        ensure(valid, SysError::InvalidArgument)?;
        let end = va.checked_add(length).ok_or(SysError::InvalidArgument)?;
        let p = self.objects.process(process).ok_or(SysError::DeadObject)?;
        let (mut sources, mut at) = (Vec::new(), va);
        while at < end {
            let (start, region) = p.region_at(at).ok_or(SysError::NotMapped)?;
            let first = region.first_page + (at - start) / PAGE;
            let count = ((start + region.pages * PAGE).min(end) - at) / PAGE;
            sources.push((region.memory, first..first + count));
            at += count * PAGE;
        }
        Ok(sources)
    }

    /// ProcessCreate(quota, exit_notification_slot, exit_bits, fault_endpoint_slot, fault_badge).
    fn process_create(&mut self, process: ObjRef, args: [u64; 6]) -> Outcome {
        let exit = self.optional_arg(process, args[1], ObjectKind::Notification)?;
        let fault = self.optional_arg(process, args[3], ObjectKind::Endpoint)?;
        let child = self.create_process(Some(process), args[0])?;
        exit.iter()
            .chain(&fault)
            .for_each(|&o| self.objects.add_ref(o));
        if let Some(p) = self.objects.process_mut(child) {
            p.exit_notification = exit.map(|n| (n, args[2]));
            p.fault_endpoint = fault.map(|e| (e, args[4]));
        }
        let named = obj(child);
        if let Some(n) = exit {
            self.commit(Commit::exit_to(named, obj(n), args[2]));
        }
        if let Some(e) = fault {
            self.commit(Commit::faults_to(named, obj(e), args[4]));
        }
        let slot = self.grant_or_undo(process, child, Rights::ALL, |k| {
            k.kill_process(child, ProcessState::Exited(0))
        })?;
        let pid = self.objects.process(child).map_or(0, |p| p.pid);
        ok(&[slot as u64, pid as u64])
    }

    /// An optional capability argument with WRITE (`NO_SLOT`: none).
    fn optional_arg(&self, process: ObjRef, slot: u64, kind: ObjectKind) -> Result<Option<ObjRef>> {
        let object = (slot != NO_SLOT).then(|| self.lookup(process, slot, kind, Rights::WRITE));
        Ok(object.transpose()?.map(|(object, _)| object))
    }

    /// Gives `process` a capability to `object`; when it has no room, `undo`
    /// takes back what was made for it.
    fn grant_or_undo(
        &mut self,
        process: ObjRef,
        object: ObjRef,
        rights: Rights,
        undo: impl FnOnce(&mut Self),
    ) -> Result<u32> {
        let granted = self.grant(process, None, object, rights, 0);
        if granted.is_err() {
            undo(self);
        }
        granted
    }

    /// A priority argument: a level no higher than the calling thread's.
    fn priority_arg(&self, thread: ObjRef, value: u64) -> Result<u8> {
        let mine = self.objects.thread(thread).map_or(0, |t| t.priority);
        match u8::try_from(value) {
            Ok(priority) if priority > mine => Err(SysError::NoRights),
            Ok(priority) => Ok(priority),
            Err(_) => Err(SysError::InvalidArgument),
        }
    }
}
