//! The real-time interval timer (`setitimer(ITIMER_REAL)`, `alarm`): a thread
//! of the process sleeps until the timer's deadline and then sends the process
//! SIGALRM — to its handler, which interrupts a blocked call of the main
//! thread (EINTR, `posix::interrupt_main`), or by its default action, which
//! ends the process (status 142). Arming or disarming wakes the thread at once
//! (its sleep is interrupted with `ThreadSuspend`); the thread also looks
//! again at least every [`RECHECK_NS`], so a change that lands between its
//! look and its sleep is late by at most that.

use crate::posix;
use crate::rt::BackoffMutex as Mutex;
use crate::sys::{self, Sys};

/// The longest the timer thread sleeps without looking at the timer again.
const RECHECK_NS: u64 = 100_000_000;

/// ITIMER_REAL: when it fires next (boot clock), and its period (0: once).
#[derive(Clone, Copy, Default)]
struct RealTimer {
    deadline: Option<u64>,
    interval: u64,
}

static TIMER: Mutex<RealTimer> = Mutex::new(RealTimer {
    deadline: None,
    interval: 0,
});
/// The timer thread's capability, once started.
static THREAD: Mutex<Option<u64>> = Mutex::new(None);

/// Sets the timer to fire in `value_ns` (0 disarms it) and then every
/// `interval_ns`; returns the old (time left, interval).
pub fn set(value_ns: u64, interval_ns: u64) -> Result<(u64, u64), posix::Errno> {
    let now = sys::clock_ns();
    let old = {
        let mut timer = TIMER.lock();
        let old = *timer;
        timer.deadline = (value_ns != 0).then(|| now.saturating_add(value_ns));
        timer.interval = if value_ns != 0 { interval_ns } else { 0 };
        old
    };
    if value_ns != 0 {
        wake_timer_thread()?;
    }
    let left = old.deadline.map_or(0, |d| d.saturating_sub(now).max(1));
    Ok((left, old.interval))
}

/// The timer now: (time left, interval).
pub fn get() -> (u64, u64) {
    let timer = *TIMER.lock();
    let now = sys::clock_ns();
    (
        timer.deadline.map_or(0, |d| d.saturating_sub(now).max(1)),
        timer.interval,
    )
}

/// Starts the timer thread, or ends its sleep so it sees the new deadline.
fn wake_timer_thread() -> Result<(), posix::Errno> {
    let mut thread = THREAD.lock();
    match *thread {
        Some(cap) => {
            if sys::thread_suspend(cap).is_ok() {
                let _ = sys::thread_resume(cap);
            }
        }
        None => {
            let cap = crate::thread::spawn(timer_thread, 0, 100)
                .map_err(|_| posix::Errno(zos_proto::errno::EAGAIN))?;
            *thread = Some(cap);
        }
    }
    Ok(())
}

fn timer_thread(_: u64) {
    loop {
        let now = sys::clock_ns();
        let deadline = TIMER.lock().deadline.unwrap_or(u64::MAX);
        // Raw: an `Interrupted` sleep means "look again", never "sleep again".
        let _ = sys::raw(
            Sys::SleepUntil,
            [deadline.min(now.saturating_add(RECHECK_NS)), 0, 0, 0, 0, 0],
        );
        let now = sys::clock_ns();
        let _work = crate::posix::HELPER_WORK.lock();
        let fired = {
            let mut timer = TIMER.lock();
            match timer.deadline {
                Some(deadline) if deadline <= now => {
                    timer.deadline = (timer.interval != 0).then(|| now + timer.interval);
                    true
                }
                _ => false,
            }
        };
        if fired {
            super::signal::send_self_from_elsewhere(SIGALRM);
        }
    }
}

const SIGALRM: u32 = 14;
