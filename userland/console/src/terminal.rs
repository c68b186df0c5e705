//! The terminal state both threads share: the line discipline, the reads
//! waiting for input (oldest first), the `poll` watches of handles waiting
//! for input and the foreground process group.

use crate::discipline::{LineDiscipline, Termios};
use crate::sync::lock;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use libzos::ipc;
use libzos::proto::io::{IoResponse, WinSize};
use libzos::proto::watch::{events, WatchList};
use spin::Mutex;

/// A read whose reply was deferred until input arrives.
pub struct PendingRead {
    /// The saved one-shot reply capability.
    pub reply: u64,
    pub max: usize,
    /// Badge of the handle that asked.
    pub handle: u64,
}

pub struct Terminal {
    pub discipline: LineDiscipline,
    pub waiting: VecDeque<PendingRead>,
    /// `poll` watches by handle badge (`zos_proto::watch`).
    pub watches: WatchList,
    /// Process group Ctrl-C is sent to (0: none yet).
    pub foreground: u32,
    /// The window size programs set and ask for (`TIOCSWINSZ`/`TIOCGWINSZ`;
    /// the UART cannot tell the real one).
    pub window: WinSize,
}

pub static TERMINAL: Mutex<Terminal> = Mutex::new(Terminal {
    discipline: LineDiscipline::new(Termios {
        canonical: true,
        echo: true,
        signals: true,
    }),
    waiting: VecDeque::new(),
    watches: WatchList::new(),
    foreground: 0,
    window: WinSize { rows: 24, cols: 80 },
});

/// A deferred reply ready to be sent (outside the lock).
pub struct Completion {
    pub reply: u64,
    pub data: Vec<u8>,
}

impl Terminal {
    /// `poll` events of every handle: input to read (once the readers
    /// already waiting have theirs), and output, which never waits.
    pub fn ready(&self) -> u16 {
        let input = self.waiting.is_empty() && self.discipline.has_input();
        events::POLLOUT | if input { events::POLLIN } else { 0 }
    }

    /// Completes waiting reads, oldest first, while there is input.
    pub fn complete_waiting(&mut self) -> Vec<Completion> {
        let mut done = Vec::new();
        while let Some(pending) = self.waiting.front() {
            let Some(data) = self.discipline.read(pending.max) else {
                break;
            };
            let reply = pending.reply;
            self.waiting.pop_front();
            done.push(Completion { reply, data });
        }
        done
    }
}

/// Sends the replies of completed reads. Input meant for a reader that went
/// away (killed while waiting) goes back to the terminal for the next reader,
/// so no typed line is lost.
pub fn send_completions(completions: Vec<Completion>) {
    reply_completions(completions);
    // Whatever changed may answer a `poll`.
    let fired = {
        let mut terminal = lock(&TERMINAL);
        let ready = terminal.ready();
        terminal.watches.take_ready(|_| ready)
    };
    libzos::poll::fire(fired);
}

fn reply_completions(mut completions: Vec<Completion>) {
    while !completions.is_empty() {
        let mut returned = Vec::new();
        for completion in completions {
            if let Err(e) =
                ipc::reply_later(completion.reply, &IoResponse::Data(&completion.data), &[])
            {
                log::debug!("a waiting reader went away: {e:?}");
                returned.push(completion.data);
            }
        }
        if returned.is_empty() {
            return;
        }
        let mut terminal = lock(&TERMINAL);
        // Oldest first back at the front, in their original order.
        for data in returned.into_iter().rev() {
            terminal.discipline.unread(data);
        }
        completions = terminal.complete_waiting();
    }
}

/// Puts input a reader did not take back at the front and completes the
/// reads waiting behind it (their replies are to be sent).
pub fn give_back(data: Vec<u8>) -> Vec<Completion> {
    let mut terminal = lock(&TERMINAL);
    terminal.discipline.unread(data);
    terminal.complete_waiting()
}

/// Runs `f` on the shared terminal, then sends the replies it completed.
pub fn with_terminal<R>(f: impl FnOnce(&mut Terminal) -> (R, Vec<Completion>)) -> R {
    let (result, completions) = {
        let mut terminal = lock(&TERMINAL);
        f(&mut terminal)
    };
    send_completions(completions);
    result
}
