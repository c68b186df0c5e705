//! `trap` conditions: `EXIT` (run when the shell ends) and signals. A
//! trapped signal's handler only records it; the shell runs the action
//! between commands ([`Shell::run_pending_traps`]). An empty action
//! ignores the signal; `-` restores the default.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use libzos::posix::{self, SigAction};
use zos_tools_core::signal::{parse_signal, signal_name, SIGNALS};

use crate::shell::{Flow, Shell};

/// Signals received and not yet handled, one bit each.
static PENDING: AtomicU64 = AtomicU64::new(0);

fn record(signal: u32) {
    PENDING.fetch_or(1 << signal, Ordering::SeqCst);
}

/// Every condition name `trap -l` lists.
pub fn names() -> Vec<&'static str> {
    let mut names = alloc::vec!["EXIT"];
    names.extend(SIGNALS.iter().map(|(name, _)| *name));
    names
}

/// The canonical name of a condition (`0`/`EXIT`, `2`/`INT`/`SIGINT`).
pub fn parse_condition(text: &str) -> Option<String> {
    if text == "0" || text.eq_ignore_ascii_case("EXIT") {
        return Some("EXIT".to_string());
    }
    let number = match text.parse::<u32>() {
        Ok(number) => number,
        Err(_) => parse_signal(text)?,
    };
    signal_name(number).map(ToString::to_string)
}

/// Tells the process manager what to do with a trapped signal.
pub fn install(name: &str, action: Option<&str>) {
    let Some(signal) = parse_signal(name) else {
        return;
    };
    let how = match action {
        None => SigAction::Default,
        Some("") => SigAction::Ignore,
        Some(_) => SigAction::Handler(record),
    };
    let _ = posix::signal(signal, how);
}

impl Shell {
    /// Runs the actions of signals that arrived since the last check.
    pub fn run_pending_traps(&mut self) {
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending == 0 {
            return;
        }
        for signal in 1..64u32 {
            if pending & (1 << signal) == 0 {
                continue;
            }
            let Some(name) = signal_name(signal) else {
                continue;
            };
            if let Some(action) = self.traps.get(name).cloned() {
                let status = self.last_status;
                self.run_text(&action);
                if self.flow != Flow::Exit {
                    self.last_status = status;
                }
            }
        }
    }
}
