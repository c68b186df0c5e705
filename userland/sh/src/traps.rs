//! `trap` conditions: `EXIT` (run when the shell ends) and signals. A
//! trapped signal's handler only records it; the shell runs the action
//! between commands ([`Shell::run_pending_traps`]). An empty action
//! ignores the signal; `-` restores the default.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libzos::posix::{self, SigAction};
use zos_tools_core::signal::{parse_signal, signal_name, SIGNALS};

use crate::shell::{out, Flow, Shell};

/// Signals received and not yet handled, one bit each.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Ctrl-C while an interactive shell runs a command line.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn record(signal: u32) {
    PENDING.fetch_or(1 << signal, Ordering::SeqCst);
}

fn interrupt(_signal: u32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// An interactive shell catches SIGINT: Ctrl-C abandons the command line
/// (checked between commands), it never ends the shell.
pub fn catch_interrupts() {
    use libzos::proto::proc::signal::{SIGINT, SIGTSTP, SIGTTIN, SIGTTOU};
    let _ = posix::signal(SIGINT, SigAction::Handler(interrupt));
    // Job control: Ctrl-Z stops the foreground job, never the shell.
    for stop in [SIGTSTP, SIGTTIN, SIGTTOU] {
        let _ = posix::signal(stop, SigAction::Ignore);
    }
}

/// Forgets a Ctrl-C typed before the command line started.
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
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
    /// After Ctrl-C in an interactive shell: abandon the command line
    /// (status 130). True if it did.
    pub fn check_interrupt(&mut self) -> bool {
        if !INTERRUPTED.swap(false, Ordering::SeqCst) {
            return false;
        }
        if let Some(action) = self.traps.get("INT").cloned() {
            self.run_text(&action);
            return false;
        }
        self.last_status = 130;
        self.exit_status = 130;
        self.flow = Flow::Abort;
        out(2, "\n");
        true
    }

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
