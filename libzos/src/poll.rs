//! Waiting for descriptors (`poll`) without looking again and again
//! (docs/userland.md, "poll: readiness watches").
//!
//! A process has one poll notification, made on its first `poll` that must
//! wait. A poll that finds nothing ready hands every descriptor's server a
//! capability to it (`IoRequest::Watch`, badge [`READY_BIT`]); the server
//! signals it once when the handle becomes ready. The poller then waits on
//! the notification; two more kinds of capability to it wake that wait: a
//! timer thread's ([`TIMER_BIT`]: the kernel's `Wait` has no deadline, so
//! a small pool of threads sleeps until a poll's deadline and signals) and
//! the signal thread's ([`SIGNAL_BIT`]: a signal for a handler interrupts
//! the poll, `EINTR`). Every wake-up is only a hint: the poller drains the
//! bits and looks at every descriptor again.
//!
//! One thread waits on the notification at a time; a second thread polling
//! meanwhile (and a poll whose timer could not be had) looks again every
//! [`SLICE_NS`] instead, as every poll did before.

use crate::rt::BackoffMutex as Mutex;
use crate::sys;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Badge bits of the capabilities to the poll notification.
pub const TIMER_BIT: u64 = 1;
pub const SIGNAL_BIT: u64 = 2;
pub const READY_BIT: u64 = 4;

/// How often a poll that cannot sleep on its notification (or watches a
/// handle whose server cannot watch) looks again.
pub const SLICE_NS: u64 = 5_000_000;

/// Timer threads one process keeps at most: a poll that ends early leaves
/// its timer asleep until the old deadline, and the next poll takes another.
const MAX_TIMERS: usize = 4;
/// The timer and signal threads' priority (the signal thread's).
const HELPER_PRIORITY: u64 = 100;

const NO_SLOT: u64 = u64::MAX;

/// The poll notification (READ: only this process waits on it).
static NOTIFICATION: AtomicU64 = AtomicU64::new(NO_SLOT);
/// A capability to it with [`SIGNAL_BIT`], for the signal thread.
static SIGNAL_CAP: AtomicU64 = AtomicU64::new(NO_SLOT);
/// Set while a thread waits on the notification.
static WAITING: AtomicBool = AtomicBool::new(false);
static CREATE: Mutex<()> = Mutex::new(());

/// One timer thread: sleeps until `deadline` when kicked, then signals.
struct Timer {
    kick: u64,
    fire: u64,
    deadline: AtomicU64,
    busy: AtomicBool,
}

static TIMERS: Mutex<Vec<&'static Timer>> = Mutex::new(Vec::new());

/// In a fork child: the poll notification and its timer threads were the
/// parent's; made again on first use.
#[cfg(not(target_arch = "wasm32"))] // used by linux::fork only
pub(crate) fn fork_child_reset() {
    NOTIFICATION.store(NO_SLOT, Ordering::Release);
    SIGNAL_CAP.store(NO_SLOT, Ordering::Release);
    WAITING.store(false, Ordering::Release);
    TIMERS.lock().clear();
}

fn notification() -> Option<u64> {
    let slot = NOTIFICATION.load(Ordering::Acquire);
    if slot != NO_SLOT {
        return Some(slot);
    }
    let _guard = CREATE.lock();
    let slot = NOTIFICATION.load(Ordering::Acquire);
    if slot != NO_SLOT {
        return Some(slot);
    }
    let created = sys::notification_create().ok()?;
    if let Ok(for_signals) =
        sys::cap_mint(created, sys::NONE, crate::abi::rights::WRITE, SIGNAL_BIT)
    {
        SIGNAL_CAP.store(for_signals, Ordering::Release);
    }
    NOTIFICATION.store(created, Ordering::Release);
    Some(created)
}

/// The signal thread saw a signal: wake a poll in progress (it returns
/// `EINTR` if the signal is due). Nothing when no poll ever waited.
pub fn interrupt() {
    let cap = SIGNAL_CAP.load(Ordering::Acquire);
    if cap != NO_SLOT {
        let _ = sys::signal(cap);
    }
}

/// The right to wait on the poll notification for one poll.
pub struct Waiter {
    notification: Option<u64>,
    /// The deadline a timer thread was armed for (one per deadline).
    timed: core::cell::Cell<Option<u64>>,
}

impl Waiter {
    /// Takes the notification if no other thread waits on it; without it,
    /// [`Waiter::watch_capability`] gives nothing and waits are sliced.
    pub fn new() -> Self {
        let notification = notification().filter(|_| {
            WAITING
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        Waiter {
            notification,
            timed: core::cell::Cell::new(None),
        }
    }

    /// Whether this poll sleeps on the notification (servers can wake it).
    pub fn can_wait(&self) -> bool {
        self.notification.is_some()
    }

    /// Forgets earlier wake-ups (their events are looked at next anyway).
    pub fn drain(&self) {
        if let Some(n) = self.notification {
            let _ = sys::poll(n);
        }
    }

    /// A fresh capability for one `Watch` (moved to the server), or `None`.
    pub fn watch_capability(&self) -> Option<u64> {
        let n = self.notification?;
        sys::cap_mint(n, sys::NONE, crate::abi::rights::WRITE, READY_BIT).ok()
    }

    /// Waits for a watch, a signal or `deadline` (ns since boot; `None`:
    /// no deadline). Returns the bits that woke it (0: a sliced wait).
    pub fn wait(&self, deadline: Option<u64>) -> u64 {
        let Some(n) = self.notification else {
            sliced_sleep(deadline);
            return 0;
        };
        if let Some(deadline) = deadline.filter(|&d| self.timed.get() != Some(d)) {
            if arm_timer(n, deadline) {
                self.timed.set(Some(deadline));
            } else {
                // No timer: look at the notification every slice.
                loop {
                    if let Ok(bits) = sys::poll(n) {
                        if bits != 0 {
                            return bits;
                        }
                    }
                    if sys::clock_ns() >= deadline {
                        return TIMER_BIT;
                    }
                    sliced_sleep(Some(deadline));
                }
            }
        }
        sys::wait(n).unwrap_or(0)
    }
}

impl Default for Waiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.notification.is_some() {
            WAITING.store(false, Ordering::Release);
        }
    }
}

fn sliced_sleep(deadline: Option<u64>) {
    let wake = sys::clock_ns().saturating_add(SLICE_NS);
    sys::sleep_until(deadline.map_or(wake, |d| d.min(wake)));
}

/// Has an idle timer thread (started on first need) signal `n`'s timer bit
/// at `deadline`; false when none can be had.
fn arm_timer(n: u64, deadline: u64) -> bool {
    let mut timers = TIMERS.lock();
    for timer in timers.iter() {
        if timer
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            timer.deadline.store(deadline, Ordering::Release);
            return sys::signal(timer.kick).is_ok();
        }
    }
    if timers.len() >= MAX_TIMERS {
        return false;
    }
    let Ok(kick) = sys::notification_create() else {
        return false;
    };
    let Ok(fire) = sys::cap_mint(n, sys::NONE, crate::abi::rights::WRITE, TIMER_BIT) else {
        let _ = sys::cap_delete(kick);
        return false;
    };
    let timer: &'static Timer = Box::leak(Box::new(Timer {
        kick,
        fire,
        deadline: AtomicU64::new(deadline),
        busy: AtomicBool::new(true),
    }));
    if crate::thread::spawn(timer_thread, timer as *const Timer as u64, HELPER_PRIORITY).is_err() {
        // The record stays (leaked, a few words); the slot is not retried.
        return false;
    }
    timers.push(timer);
    sys::signal(kick).is_ok()
}

fn timer_thread(arg: u64) {
    // SAFETY: `arm_timer` passes a leaked (never freed) `Timer`.
    let timer = unsafe { &*(arg as *const Timer) };
    loop {
        if sys::wait(timer.kick).is_err() {
            return;
        }
        sys::sleep_until(timer.deadline.load(Ordering::Acquire));
        let _ = sys::signal(timer.fire);
        timer.busy.store(false, Ordering::Release);
    }
}

/// Server side: signals the watch capabilities a `zos_proto::watch::WatchList`
/// gave back, once each, and deletes them (one-shot watches).
pub fn fire(notifications: Vec<u64>) {
    for cap in notifications {
        let _ = sys::signal(cap);
        let _ = sys::cap_delete(cap);
    }
}

/// Server side: deletes capabilities of watches that were replaced or whose
/// handle closed.
pub fn discard(notification: Option<u64>) {
    if let Some(cap) = notification {
        let _ = sys::cap_delete(cap);
    }
}
