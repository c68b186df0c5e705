//! Terminal control for an interactive shell on a terminal: raw mode while the
//! line editor reads, canonical mode while commands run, and who owns the
//! terminal (the process group that Ctrl-C is sent to).
//!
//! The shell itself can be killed by SIGINT (there are no signal handlers), so
//! terminal signals are on only while a job's group is in the foreground: the
//! job gets the terminal first and signals go on after; when it ends, signals
//! go off before the shell takes the terminal back. While the shell owns the
//! terminal, Ctrl-C arrives as the byte 0x03.

use libzos::posix::{self, Fd, Pid};
use libzos::proto::io::Termios;

pub struct Terminal {
    fd: Fd,
    shell_pgid: Pid,
}

/// Canonical and echoing, without terminal signals (the shell in front).
const COOKED_QUIET: Termios = Termios {
    canonical: true,
    echo: true,
    signals: false,
};

/// What the line editor needs: every byte as typed, nothing echoed.
const RAW: Termios = Termios {
    canonical: false,
    echo: false,
    signals: false,
};

impl Terminal {
    /// Takes the terminal on `fd` for the shell's process group.
    pub fn claim(fd: Fd, shell_pgid: Pid) -> Terminal {
        let terminal = Terminal { fd, shell_pgid };
        terminal.set(COOKED_QUIET);
        let _ = posix::tcsetpgrp(fd, shell_pgid);
        terminal
    }

    pub fn fd(&self) -> Fd {
        self.fd
    }

    fn set(&self, termios: Termios) {
        let _ = posix::tcsetattr(self.fd, termios);
    }

    /// Raw mode for the line editor.
    pub fn raw(&self) {
        self.set(RAW);
    }

    /// Canonical mode with echo while the shell runs builtins and commands.
    pub fn cooked(&self) {
        self.set(COOKED_QUIET);
    }

    /// Puts job `pgid` in the foreground with Ctrl-C sending SIGINT.
    pub fn give_to(&self, pgid: Pid) {
        let _ = posix::tcsetpgrp(self.fd, pgid);
        self.set(Termios::default());
    }

    /// Takes the terminal back from a job.
    pub fn take_back(&self) {
        self.set(COOKED_QUIET);
        let _ = posix::tcsetpgrp(self.fd, self.shell_pgid);
    }

    /// The usual settings for whoever reads the terminal after the shell.
    pub fn restore(&self) {
        self.set(Termios::default());
    }
}
