//! One pseudo-terminal: the state the pty service keeps for a master/slave
//! pair, with no IPC in it (the server wraps it; tested here on the host).
//!
//! What the master writes is "typed" into the same [`LineDiscipline`] the
//! console uses: echo goes back to the master, finished input to slave
//! readers, Ctrl-C becomes [`Event::Interrupt`]. What the slave writes goes to
//! the master with newlines sent as CR LF (the console's output rule, Linux's
//! `OPOST|ONLCR`). Both directions are bounded: a full output buffer makes
//! slave writers wait.
//!
//! Hang-up, as on Linux: when the last master handle closes, slave reads
//! return end of file and slave writes fail (`EIO`); when the last slave
//! handle closes (after one was opened), master reads return what is left and
//! then fail with `EIO`.

use crate::discipline::{Event, LineDiscipline};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use zos_proto::io::{Termios, WinSize};

/// Most bytes waiting for the master to read; slave writers wait beyond it.
pub const MAX_OUTPUT: usize = 16 * 1024;

/// What a read of one side gives now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Data, or end of file when empty.
    Data(Vec<u8>),
    /// Nothing yet: the reader waits (or gets `EAGAIN`).
    Wait,
    /// The other side hung up (master reads after the slave closed): `EIO`.
    HungUp,
}

/// What a slave write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// This many bytes were taken (at least one).
    Wrote(usize),
    /// The output buffer is full: the writer waits (or gets `EAGAIN`).
    Wait,
    /// The master is gone: `EIO`.
    HungUp,
}

/// Which end of the pair a handle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Master,
    Slave,
}

#[derive(Clone, Debug)]
pub struct Pty {
    /// Input from the master on its way to slave readers.
    pub discipline: LineDiscipline,
    /// Slave output and echo on their way to the master.
    output: VecDeque<u8>,
    masters: usize,
    slaves: usize,
    /// A slave was opened at least once (the master's reads wait until then).
    slave_opened: bool,
    /// `TIOCSPTLCK`: a locked slave cannot be opened.
    pub locked: bool,
    pub window: WinSize,
    /// Process group terminal signals go to (0: none).
    pub foreground: u32,
}

impl Default for Pty {
    fn default() -> Self {
        Self::new()
    }
}

impl Pty {
    /// A new pair with one master handle and a locked slave.
    pub fn new() -> Self {
        Pty {
            discipline: LineDiscipline::new(Termios::default()),
            output: VecDeque::new(),
            masters: 1,
            slaves: 0,
            slave_opened: false,
            locked: true,
            window: WinSize::default(),
            foreground: 0,
        }
    }

    /// Counts a new handle of `side` (an open or a dup).
    pub fn attach(&mut self, side: Side) {
        match side {
            Side::Master => self.masters += 1,
            Side::Slave => {
                self.slaves += 1;
                self.slave_opened = true;
            }
        }
    }

    /// Counts a closed handle of `side`; true when that was the last of the
    /// side (the other side sees a hang-up).
    pub fn detach(&mut self, side: Side) -> bool {
        let count = match side {
            Side::Master => &mut self.masters,
            Side::Slave => &mut self.slaves,
        };
        if *count == 0 {
            return false;
        }
        *count -= 1;
        *count == 0
    }

    pub fn master_open(&self) -> bool {
        self.masters > 0
    }

    /// Nobody holds either end: the pty can be forgotten.
    pub fn unused(&self) -> bool {
        self.masters == 0 && self.slaves == 0
    }

    /// Whether a slave may be opened now (not locked, master still open).
    pub fn may_open_slave(&self) -> bool {
        !self.locked && self.master_open()
    }

    /// The master writes: each byte is typed into the line discipline; echo
    /// joins the output. Returns the events to act on (Ctrl-C).
    pub fn master_write(&mut self, data: &[u8]) -> Vec<Event> {
        let mut echo = Vec::new();
        let mut events = Vec::new();
        for &byte in data {
            if let Some(event) = self.discipline.receive(byte, &mut echo) {
                events.push(event);
            }
        }
        push_translated(&mut self.output, &echo);
        events
    }

    /// The slave writes: as much as fits (newlines as CR LF).
    pub fn slave_write(&mut self, data: &[u8]) -> WriteOutcome {
        if !self.master_open() {
            return WriteOutcome::HungUp;
        }
        if data.is_empty() {
            return WriteOutcome::Wrote(0);
        }
        let room = MAX_OUTPUT.saturating_sub(self.output.len());
        if room == 0 {
            return WriteOutcome::Wait;
        }
        let taken = data.len().min(room);
        push_translated(&mut self.output, &data[..taken]);
        WriteOutcome::Wrote(taken)
    }

    /// The master reads up to `max` bytes of output.
    pub fn master_read(&mut self, max: usize) -> ReadOutcome {
        if max == 0 {
            return ReadOutcome::Data(Vec::new());
        }
        if self.output.is_empty() {
            return if self.slave_opened && self.slaves == 0 {
                ReadOutcome::HungUp
            } else {
                ReadOutcome::Wait
            };
        }
        let n = max.min(self.output.len());
        ReadOutcome::Data(self.output.drain(..n).collect())
    }

    /// The slave reads (through the line discipline).
    pub fn slave_read(&mut self, max: usize) -> ReadOutcome {
        match self.discipline.read(max) {
            Some(data) => ReadOutcome::Data(data),
            None if !self.master_open() => ReadOutcome::Data(Vec::new()),
            None => ReadOutcome::Wait,
        }
    }

    /// Whether a read of `side` would answer now (`poll`).
    pub fn readable(&self, side: Side) -> bool {
        match side {
            Side::Master => !self.output.is_empty() || (self.slave_opened && self.slaves == 0),
            Side::Slave => self.discipline.has_input() || !self.master_open(),
        }
    }

    /// `poll` events of `side` (`zos_proto::watch::events`, as Linux): the
    /// master reads output and has `POLLHUP` once every slave that opened
    /// closed, and its writes never wait; the slave reads typed input, has
    /// `POLLHUP` once the master is gone and `POLLOUT` while output fits.
    pub fn poll_events(&self, side: Side) -> u16 {
        use zos_proto::watch::events::*;
        let flag = |on: bool, bit: u16| if on { bit } else { 0 };
        match side {
            Side::Master => {
                flag(!self.output.is_empty(), POLLIN)
                    | flag(self.slave_opened && self.slaves == 0, POLLHUP)
                    | POLLOUT
            }
            Side::Slave => {
                let open = self.master_open();
                flag(self.discipline.has_input(), POLLIN)
                    | flag(!open, POLLHUP)
                    | flag(open && self.output.len() < MAX_OUTPUT, POLLOUT)
            }
        }
    }

    /// Whether a slave writer would be taken now.
    pub fn writable(&self) -> bool {
        self.output.len() < MAX_OUTPUT || !self.master_open()
    }

    /// Sets the window size; true when it changed (SIGWINCH is due).
    pub fn set_window(&mut self, window: WinSize) -> bool {
        let changed = self.window != window;
        self.window = window;
        changed
    }

    /// Puts back data a reader of `side` could not take (it went away), so
    /// the next read gets it.
    pub fn unread(&mut self, side: Side, data: Vec<u8>) {
        match side {
            Side::Master => {
                for byte in data.into_iter().rev() {
                    self.output.push_front(byte);
                }
            }
            Side::Slave => self.discipline.unread(data),
        }
    }

    /// Bytes waiting for the master.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }
}

/// Appends `data` with each `\n` as `\r\n`.
fn push_translated(out: &mut VecDeque<u8>, data: &[u8]) {
    for &byte in data {
        if byte == b'\n' {
            out.push_back(b'\r');
        }
        out.push_back(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(outcome: ReadOutcome) -> Vec<u8> {
        match outcome {
            ReadOutcome::Data(d) => d,
            other => panic!("expected data, got {other:?}"),
        }
    }

    fn opened() -> Pty {
        let mut pty = Pty::new();
        pty.locked = false;
        pty.attach(Side::Slave);
        pty
    }

    #[test]
    fn a_new_pty_is_locked_until_unlocked() {
        let mut pty = Pty::new();
        assert!(!pty.may_open_slave());
        pty.locked = false;
        assert!(pty.may_open_slave());
    }

    #[test]
    fn poll_events_follow_input_output_room_and_hangup() {
        use zos_proto::watch::events::*;
        let mut pty = opened();
        assert_eq!(pty.poll_events(Side::Slave), POLLOUT);
        assert_eq!(pty.poll_events(Side::Master), POLLOUT);
        pty.master_write(b"ls\r");
        assert_eq!(pty.poll_events(Side::Slave), POLLIN | POLLOUT);
        assert_eq!(pty.poll_events(Side::Master), POLLIN | POLLOUT, "the echo");
        let _ = pty.master_read(100);
        let _ = pty.slave_read(100);
        let big = alloc::vec![b'x'; MAX_OUTPUT];
        assert!(matches!(pty.slave_write(&big), WriteOutcome::Wrote(_)));
        assert_eq!(pty.poll_events(Side::Slave), 0, "output full");
        pty.detach(Side::Slave);
        assert_eq!(pty.poll_events(Side::Master), POLLIN | POLLOUT | POLLHUP);
        pty.detach(Side::Master);
        assert_eq!(pty.poll_events(Side::Slave) & POLLHUP, POLLHUP);
    }

    #[test]
    fn master_input_goes_through_the_line_discipline() {
        let mut pty = opened();
        assert!(pty.master_write(b"echo hi").is_empty());
        assert_eq!(pty.slave_read(100), ReadOutcome::Wait);
        assert!(!pty.readable(Side::Slave));
        pty.master_write(b"\r");
        assert!(pty.readable(Side::Slave));
        assert_eq!(data(pty.slave_read(100)), b"echo hi\n");
        // The echo came back to the master, newline as CR LF.
        assert_eq!(data(pty.master_read(100)), b"echo hi\r\n");
    }

    #[test]
    fn slave_output_reaches_the_master_with_crlf() {
        let mut pty = opened();
        assert_eq!(pty.slave_write(b"PTY OK\n"), WriteOutcome::Wrote(7));
        assert!(pty.readable(Side::Master));
        assert_eq!(data(pty.master_read(3)), b"PTY");
        assert_eq!(data(pty.master_read(100)), b" OK\r\n");
        assert_eq!(pty.master_read(100), ReadOutcome::Wait);
    }

    #[test]
    fn ctrl_c_from_the_master_is_an_interrupt() {
        let mut pty = opened();
        assert_eq!(pty.master_write(b"x\x03"), [Event::Interrupt]);
    }

    #[test]
    fn raw_mode_passes_bytes_at_once() {
        let mut pty = opened();
        pty.discipline.set_settings(Termios {
            canonical: false,
            echo: false,
            signals: false,
        });
        pty.master_write(b"q");
        assert_eq!(data(pty.slave_read(10)), b"q");
        assert_eq!(pty.master_read(10), ReadOutcome::Wait);
    }

    #[test]
    fn master_close_gives_the_slave_eof_and_eio() {
        let mut pty = opened();
        assert_eq!(pty.slave_read(10), ReadOutcome::Wait);
        assert!(pty.detach(Side::Master));
        assert!(pty.readable(Side::Slave));
        assert_eq!(data(pty.slave_read(10)), b"");
        assert_eq!(pty.slave_write(b"x"), WriteOutcome::HungUp);
        assert!(!pty.unused());
        pty.detach(Side::Slave);
        assert!(pty.unused());
    }

    #[test]
    fn input_typed_before_the_hangup_is_still_read() {
        let mut pty = opened();
        pty.master_write(b"last\n");
        pty.detach(Side::Master);
        assert_eq!(data(pty.slave_read(10)), b"last\n");
        assert_eq!(data(pty.slave_read(10)), b"");
    }

    #[test]
    fn slave_close_drains_then_fails_master_reads() {
        let mut pty = opened();
        pty.slave_write(b"bye");
        assert!(pty.detach(Side::Slave));
        assert_eq!(data(pty.master_read(10)), b"bye");
        assert!(pty.readable(Side::Master));
        assert_eq!(pty.master_read(10), ReadOutcome::HungUp);
    }

    #[test]
    fn master_waits_before_any_slave_opened() {
        let mut pty = Pty::new();
        assert_eq!(pty.master_read(10), ReadOutcome::Wait);
        assert!(!pty.readable(Side::Master));
    }

    #[test]
    fn dup_counts_keep_a_side_open() {
        let mut pty = opened();
        pty.attach(Side::Slave);
        assert!(!pty.detach(Side::Slave));
        assert_eq!(pty.master_read(10), ReadOutcome::Wait);
        assert!(pty.detach(Side::Slave));
        // More closes than opens change nothing.
        assert!(!pty.detach(Side::Slave));
    }

    #[test]
    fn a_full_output_buffer_makes_writers_wait() {
        let mut pty = opened();
        let big = alloc::vec![b'y'; MAX_OUTPUT + 10];
        assert_eq!(pty.slave_write(&big), WriteOutcome::Wrote(MAX_OUTPUT));
        assert!(!pty.writable());
        assert_eq!(pty.slave_write(b"z"), WriteOutcome::Wait);
        assert_eq!(data(pty.master_read(10)).len(), 10);
        assert_eq!(pty.slave_write(b"zz"), WriteOutcome::Wrote(2));
    }

    #[test]
    fn unread_data_comes_back_first() {
        let mut pty = opened();
        pty.slave_write(b"abc");
        let taken = data(pty.master_read(2));
        pty.unread(Side::Master, taken);
        assert_eq!(data(pty.master_read(10)), b"abc");
        pty.master_write(b"x\n");
        let line = data(pty.slave_read(10));
        pty.unread(Side::Slave, line);
        assert_eq!(data(pty.slave_read(10)), b"x\n");
    }

    #[test]
    fn window_changes_are_reported_once() {
        let mut pty = opened();
        assert_eq!(pty.window, WinSize { rows: 24, cols: 80 });
        let size = WinSize {
            rows: 50,
            cols: 132,
        };
        assert!(pty.set_window(size));
        assert!(!pty.set_window(size));
        assert_eq!(pty.window, size);
    }
}
