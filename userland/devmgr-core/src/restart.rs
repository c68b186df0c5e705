//! When a driver that ended is started again: at once, unless it failed
//! [`LIMIT`] times within [`WINDOW_NS`]; then the device is given up on (its
//! clients keep getting errors, nothing hangs).

/// Failures within the window before giving up.
pub const LIMIT: usize = 5;
/// The window, in nanoseconds.
pub const WINDOW_NS: u64 = 60_000_000_000;

/// A driver's recent failures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restarts {
    /// When the recent failures happened (at most LIMIT kept).
    failures: [u64; LIMIT],
    count: usize,
    /// Restarts over the whole uptime (for `lsdev`).
    pub total: u32,
}

impl Restarts {
    /// Records an end at `now`; whether to start the driver again.
    pub fn ended(&mut self, now: u64) -> bool {
        let recent: usize = self.failures[..self.count]
            .iter()
            .filter(|&&t| now.saturating_sub(t) < WINDOW_NS)
            .count();
        if recent >= LIMIT {
            return false;
        }
        if self.count == LIMIT {
            self.failures.rotate_left(1);
            self.count -= 1;
        }
        self.failures[self.count] = now;
        self.count += 1;
        self.total += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_the_limit_within_the_window() {
        let mut r = Restarts::default();
        for i in 0..LIMIT as u64 {
            assert!(r.ended(i * 1_000_000_000), "failure {i} restarts");
        }
        assert!(!r.ended(10_000_000_000));
        assert_eq!(r.total, LIMIT as u32);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let mut r = Restarts::default();
        for i in 0..20u64 {
            assert!(
                r.ended(i * WINDOW_NS),
                "one failure a window always restarts"
            );
        }
        assert_eq!(r.total, 20);
    }
}
