//! Terminal control for an interactive shell on a terminal: raw mode while the
//! line editor reads, canonical mode while commands run, and who owns the
//! terminal (the process group that Ctrl-C is sent to).
//!
//! While the line editor reads, the terminal is raw and Ctrl-C arrives as the
//! byte 0x03. While the shell runs commands itself (loops, built-ins), its
//! own group is in the foreground with terminal signals on: Ctrl-C sends it
//! SIGINT, which its handler turns into "abandon this command line". A job
//! gets the terminal (signals on) while it runs.

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
    /// Takes the terminal on `fd` for the shell's process group: first the
    /// foreground (unchecked, as a session's start: the shell may begin as
    /// a background group of its parent's, e.g. `login`'s), then settings.
    pub fn claim(fd: Fd, shell_pgid: Pid) -> Terminal {
        let terminal = Terminal { fd, shell_pgid };
        let _ = posix::claim_terminal(fd, shell_pgid);
        terminal.set(COOKED_QUIET);
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

    /// Puts job `pgid` in the foreground. The settings stay those `running`
    /// set before the job started: setting them again here, after the job's
    /// first process may already have changed them (`su` turning echo off
    /// for its password prompt, on another CPU), would undo its change.
    pub fn give_to(&self, pgid: Pid) {
        let _ = posix::tcsetpgrp(self.fd, pgid);
    }

    /// Takes the terminal back from a job (the shell runs on, Ctrl-C
    /// interrupting it).
    pub fn take_back(&self) {
        let _ = posix::tcsetpgrp(self.fd, self.shell_pgid);
        self.set(Termios::default());
    }

    /// The shell runs a command line: Ctrl-C sends it SIGINT.
    pub fn running(&self) {
        let _ = posix::tcsetpgrp(self.fd, self.shell_pgid);
        self.set(Termios::default());
    }

    /// The usual settings for whoever reads the terminal after the shell.
    pub fn restore(&self) {
        self.set(Termios::default());
    }
}
