//! When init restarts a service that ended: a restart limit means "this many
//! failures within a time window", not over the whole uptime, and restarts
//! after repeated failures wait longer each time (a back-off), so a service
//! that keeps crashing neither spins the machine nor is given up on forever
//! because of crashes long ago. A clean exit (status 0) of an `always`
//! service (a user typing `exit` at the console's shell) is not a failure.

use alloc::collections::VecDeque;

use crate::services::Restart;

/// First back-off delay, doubled for each further failure in the window.
pub const FIRST_BACKOFF_NS: u64 = 250_000_000;
/// Longest back-off delay.
pub const MAX_BACKOFF_NS: u64 = 8_000_000_000;

/// What to do with a service that just ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this many nanoseconds (0: at once).
    Restart { delay_ns: u64 },
    /// It failed `failures` times within the window: leave it stopped.
    GiveUp { failures: u32 },
    /// Its restart policy says no.
    Stop,
}

/// The failures of one service within its window.
#[derive(Clone, Debug, Default)]
pub struct CrashHistory {
    failures: VecDeque<u64>,
}

impl CrashHistory {
    /// Failures counted now (within the window as of the last decision).
    pub fn recent_failures(&self) -> u32 {
        self.failures.len() as u32
    }

    /// Records that the service ended at `now_ns` (`failed`: a non-zero status
    /// or a signal) and decides. `limit` 0 means no limit (back-off still
    /// applies); `window_ns` is how far back failures count.
    pub fn ended(
        &mut self,
        restart: Restart,
        failed: bool,
        now_ns: u64,
        limit: u32,
        window_ns: u64,
    ) -> Decision {
        let wanted = match restart {
            Restart::Always => true,
            Restart::OnFailure => failed,
            Restart::Never => false,
        };
        if !wanted {
            return Decision::Stop;
        }
        while self
            .failures
            .front()
            .is_some_and(|&t| now_ns.saturating_sub(t) > window_ns)
        {
            self.failures.pop_front();
        }
        if !failed {
            return Decision::Restart { delay_ns: 0 };
        }
        self.failures.push_back(now_ns);
        // Keep the history bounded whatever the limit.
        while self.failures.len() > 64 {
            self.failures.pop_front();
        }
        let failures = self.failures.len() as u32;
        if limit != 0 && failures > limit {
            return Decision::GiveUp { failures };
        }
        let delay_ns = match failures {
            0 | 1 => 0,
            n => FIRST_BACKOFF_NS
                .saturating_mul(1 << (n - 2).min(16))
                .min(MAX_BACKOFF_NS),
        };
        Decision::Restart { delay_ns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn clean_exits_of_always_services_never_count() {
        let mut h = CrashHistory::default();
        for i in 0..100 {
            assert_eq!(
                h.ended(Restart::Always, false, i * S / 10, 5, 60 * S),
                Decision::Restart { delay_ns: 0 }
            );
        }
        assert_eq!(h.recent_failures(), 0);
    }

    #[test]
    fn failures_within_the_window_back_off_then_give_up() {
        let mut h = CrashHistory::default();
        let mut delays = alloc::vec::Vec::new();
        for i in 0..5 {
            match h.ended(Restart::Always, true, i * S, 5, 60 * S) {
                Decision::Restart { delay_ns } => delays.push(delay_ns),
                other => panic!("restart expected, got {other:?}"),
            }
        }
        assert_eq!(
            delays,
            [
                0,
                FIRST_BACKOFF_NS,
                2 * FIRST_BACKOFF_NS,
                4 * FIRST_BACKOFF_NS,
                8 * FIRST_BACKOFF_NS
            ]
        );
        assert_eq!(
            h.ended(Restart::Always, true, 5 * S, 5, 60 * S),
            Decision::GiveUp { failures: 6 }
        );
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut h = CrashHistory::default();
        for i in 0..5 {
            h.ended(Restart::OnFailure, true, i * S, 5, 10 * S);
        }
        // Long after: the count starts again, with no back-off.
        assert_eq!(
            h.ended(Restart::OnFailure, true, 100 * S, 5, 10 * S),
            Decision::Restart { delay_ns: 0 }
        );
        assert_eq!(h.recent_failures(), 1);
    }

    #[test]
    fn no_limit_keeps_restarting_with_a_bounded_back_off() {
        let mut h = CrashHistory::default();
        let mut last = Decision::Stop;
        for i in 0..200 {
            last = h.ended(Restart::Always, true, i * S, 0, 60 * S);
        }
        assert_eq!(
            last,
            Decision::Restart {
                delay_ns: MAX_BACKOFF_NS
            }
        );
    }

    #[test]
    fn policies_that_say_no() {
        let mut h = CrashHistory::default();
        assert_eq!(h.ended(Restart::Never, true, 0, 5, S), Decision::Stop);
        assert_eq!(h.ended(Restart::OnFailure, false, 0, 5, S), Decision::Stop);
    }
}
