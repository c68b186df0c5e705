//! The line discipline: what happens to each byte typed on the terminal.
//!
//! Canonical mode collects a line the user can edit — Backspace or DEL erases
//! one character (echoing `"\x08 \x08"`), Ctrl-U erases the whole line, CR
//! counts as NL — and hands it to readers when NL (or Ctrl-D) ends it. Ctrl-D
//! on an empty line is end of file. Raw mode hands bytes over as they arrive,
//! unchanged. In both modes Ctrl-C, when `signals` is on, throws away pending
//! input and reports [`Event::Interrupt`] so the server can signal the
//! foreground process group.
//!
//! Echo bytes are returned raw (`"\n"`, not `"\r\n"`); the server's output
//! path translates newlines for the device. Control characters typed in
//! canonical mode echo as `^X`, like Linux's ECHOCTL, so escape sequences do
//! not move the cursor.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use zos_proto::io::Termios;

/// Longest line in canonical mode; further characters are ignored (the user
/// can still erase, kill, or end the line).
pub const MAX_LINE: usize = 4095;
/// Most bytes waiting for readers; input beyond it is dropped (with a bell).
pub const MAX_PENDING: usize = 16 * 1024;

/// Ctrl-C: interrupt.
pub const INTERRUPT: u8 = 0x03;
/// Ctrl-\: quit.
pub const QUIT: u8 = 0x1c;
/// Ctrl-Z: stop the foreground job.
pub const SUSPEND: u8 = 0x1a;
/// Ctrl-D: end of file.
pub const END_OF_FILE: u8 = 0x04;
/// Ctrl-H: backspace.
pub const BACKSPACE: u8 = 0x08;
/// Ctrl-U: kill the line.
pub const KILL_LINE: u8 = 0x15;
/// DEL, what most terminals send for the Backspace key.
pub const DELETE: u8 = 0x7f;

const ERASE_ECHO: &[u8] = b"\x08 \x08";
const INTERRUPT_ECHO: &[u8] = b"^C\n";
const QUIT_ECHO: &[u8] = b"^\\\n";
const SUSPEND_ECHO: &[u8] = b"^Z\n";
const BELL: u8 = 0x07;

/// Something the server must act on besides echo and input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Ctrl-C with `signals` on: SIGINT to the foreground process group.
    Interrupt,
    /// Ctrl-\ with `signals` on: SIGQUIT to the foreground process group.
    Quit,
    /// Ctrl-Z with `signals` on: SIGTSTP to the foreground process group.
    Suspend,
}

/// One terminal's input state.
#[derive(Clone, Debug)]
pub struct LineDiscipline {
    settings: Termios,
    /// The line being edited (canonical mode).
    editing: Vec<u8>,
    /// Input ready for readers, oldest first. In canonical mode each entry is
    /// one line and an empty entry marks end of file; raw bytes extend the
    /// last entry while `raw_tail_open`.
    ready: VecDeque<Vec<u8>>,
    /// Bytes in `ready`.
    ready_bytes: usize,
    /// Whether raw input may be appended to the last entry of `ready`.
    raw_tail_open: bool,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new(Termios::default())
    }
}

impl LineDiscipline {
    pub const fn new(settings: Termios) -> Self {
        LineDiscipline {
            settings,
            editing: Vec::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
            raw_tail_open: false,
        }
    }

    pub fn settings(&self) -> Termios {
        self.settings
    }

    /// Changes the settings. Leaving canonical mode makes the half-typed line
    /// readable at once, as on Linux.
    pub fn set_settings(&mut self, settings: Termios) {
        if self.settings.canonical && !settings.canonical && !self.editing.is_empty() {
            let line = core::mem::take(&mut self.editing);
            self.push_raw(&line);
        }
        if settings.canonical {
            self.raw_tail_open = false;
        }
        self.settings = settings;
    }

    /// Whether a read would return something now (data or end of file).
    pub fn has_input(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The line being edited (canonical mode).
    pub fn editing(&self) -> &[u8] {
        &self.editing
    }

    /// Takes one typed byte; appends what to echo to `echo`.
    pub fn receive(&mut self, byte: u8, echo: &mut Vec<u8>) -> Option<Event> {
        if matches!(byte, INTERRUPT | QUIT | SUSPEND) && self.settings.signals {
            self.editing.clear();
            self.ready.clear();
            self.ready_bytes = 0;
            self.raw_tail_open = false;
            let (event, shown) = match byte {
                INTERRUPT => (Event::Interrupt, INTERRUPT_ECHO),
                QUIT => (Event::Quit, QUIT_ECHO),
                _ => (Event::Suspend, SUSPEND_ECHO),
            };
            if self.settings.echo {
                echo.extend_from_slice(shown);
            }
            return Some(event);
        }
        if self.settings.canonical {
            self.receive_canonical(byte, echo);
        } else {
            if self.push_raw(&[byte]) {
                if self.settings.echo {
                    echo.push(byte);
                }
            } else {
                echo.push(BELL);
            }
        }
        None
    }

    fn receive_canonical(&mut self, byte: u8, echo: &mut Vec<u8>) {
        let echo_on = self.settings.echo;
        match byte {
            b'\r' | b'\n' => {
                self.editing.push(b'\n');
                let line = core::mem::take(&mut self.editing);
                if self.push_line(line) {
                    if echo_on {
                        echo.push(b'\n');
                    }
                } else {
                    echo.push(BELL);
                }
            }
            BACKSPACE | DELETE => {
                let width = self.erase_last();
                if echo_on {
                    for _ in 0..width {
                        echo.extend_from_slice(ERASE_ECHO);
                    }
                }
            }
            KILL_LINE => {
                while !self.editing.is_empty() {
                    let width = self.erase_last();
                    if echo_on {
                        for _ in 0..width {
                            echo.extend_from_slice(ERASE_ECHO);
                        }
                    }
                }
            }
            END_OF_FILE => {
                // An empty entry is end of file; otherwise the line goes as
                // it is, without a newline.
                let line = core::mem::take(&mut self.editing);
                if !self.push_line(line) {
                    echo.push(BELL);
                }
            }
            _ => {
                if self.editing.len() >= MAX_LINE {
                    echo.push(BELL);
                    return;
                }
                self.editing.push(byte);
                if echo_on {
                    if is_echoed_as_caret(byte) {
                        echo.push(b'^');
                        echo.push(byte ^ 0x40);
                    } else {
                        echo.push(byte);
                    }
                }
            }
        }
    }

    /// Removes the last character of the edited line (a whole UTF-8
    /// sequence); returns how many columns its echo took (0 when the line
    /// was empty).
    fn erase_last(&mut self) -> usize {
        let Some(last) = self.editing.pop() else {
            return 0;
        };
        if is_echoed_as_caret(last) {
            return 2;
        }
        if last & 0xc0 == 0x80 {
            // A continuation byte: drop the rest of the sequence, up to and
            // including its lead byte (at most three more bytes).
            for _ in 0..3 {
                match self.editing.last() {
                    Some(&b) if b & 0xc0 == 0x80 => {
                        self.editing.pop();
                    }
                    Some(&b) if b & 0xc0 == 0xc0 => {
                        self.editing.pop();
                        break;
                    }
                    _ => break,
                }
            }
        }
        1
    }

    /// Queues a finished line (empty = end of file); false when full.
    fn push_line(&mut self, line: Vec<u8>) -> bool {
        if self.ready_bytes + line.len() > MAX_PENDING {
            return false;
        }
        self.ready_bytes += line.len();
        self.ready.push_back(line);
        self.raw_tail_open = false;
        true
    }

    /// Queues raw bytes; false (nothing queued) when full.
    fn push_raw(&mut self, bytes: &[u8]) -> bool {
        if self.ready_bytes + bytes.len() > MAX_PENDING {
            return false;
        }
        self.ready_bytes += bytes.len();
        match self.ready.back_mut() {
            Some(tail) if self.raw_tail_open => tail.extend_from_slice(bytes),
            _ => {
                self.ready.push_back(bytes.to_vec());
                self.raw_tail_open = true;
            }
        }
        true
    }

    /// What a `read` of up to `max` bytes returns now: `None` when it would
    /// wait, an empty vector for end of file (or `max` 0), else the data —
    /// at most one line in canonical mode, everything available in raw mode.
    pub fn read(&mut self, max: usize) -> Option<Vec<u8>> {
        if max == 0 {
            return Some(Vec::new());
        }
        let front = self.ready.front()?;
        if front.is_empty() {
            self.pop_front();
            return Some(Vec::new());
        }
        if self.settings.canonical {
            return Some(self.take_from_front(max));
        }
        let mut out = Vec::new();
        while out.len() < max {
            match self.ready.front() {
                Some(entry) if !entry.is_empty() => {
                    let part = self.take_from_front(max - out.len());
                    out.extend_from_slice(&part);
                }
                // Stop before an end-of-file mark; the next read returns it.
                _ => break,
            }
        }
        Some(out)
    }

    /// Puts data a reader could not take (it went away) back at the front, so
    /// the next read gets it.
    pub fn unread(&mut self, data: Vec<u8>) {
        self.ready_bytes += data.len();
        self.ready.push_front(data);
    }

    /// Up to `max` bytes of the front entry (removed once used up).
    fn take_from_front(&mut self, max: usize) -> Vec<u8> {
        let Some(front) = self.ready.front_mut() else {
            return Vec::new();
        };
        if front.len() <= max {
            let whole = core::mem::take(front);
            self.pop_front();
            self.ready_bytes -= whole.len();
            return whole;
        }
        let rest = front.split_off(max);
        let head = core::mem::replace(front, rest);
        self.ready_bytes -= head.len();
        head
    }

    fn pop_front(&mut self) {
        self.ready.pop_front();
        if self.ready.is_empty() {
            self.raw_tail_open = false;
        }
    }
}

/// Control characters (other than tab and newline) echo as `^X`.
fn is_echoed_as_caret(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t' && byte != b'\n') || byte == DELETE
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: Termios = Termios {
        canonical: true,
        echo: true,
        signals: true,
    };
    const RAW: Termios = Termios {
        canonical: false,
        echo: false,
        signals: false,
    };

    /// Types `input`; returns the echo and the events.
    fn type_bytes(tty: &mut LineDiscipline, input: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let mut echo = Vec::new();
        let mut events = Vec::new();
        for &byte in input {
            if let Some(event) = tty.receive(byte, &mut echo) {
                events.push(event);
            }
        }
        (echo, events)
    }

    #[test]
    fn canonical_line_is_readable_only_after_newline() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, events) = type_bytes(&mut tty, b"ls -l");
        assert_eq!(echo, b"ls -l");
        assert!(events.is_empty());
        assert!(!tty.has_input());
        assert_eq!(tty.read(100), None);
        let (echo, _) = type_bytes(&mut tty, b"\n");
        assert_eq!(echo, b"\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"ls -l\n"[..]));
        assert_eq!(tty.read(100), None);
    }

    #[test]
    fn carriage_return_ends_the_line_as_newline() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, b"pwd\r");
        assert_eq!(echo, b"pwd\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"pwd\n"[..]));
    }

    #[test]
    fn a_read_returns_one_line_at_a_time() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, b"one\ntwo\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"one\n"[..]));
        assert_eq!(tty.read(100).as_deref(), Some(&b"two\n"[..]));
        assert_eq!(tty.read(100), None);
    }

    #[test]
    fn a_short_read_leaves_the_rest_of_the_line() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, b"hello\nnext\n");
        assert_eq!(tty.read(2).as_deref(), Some(&b"he"[..]));
        assert_eq!(tty.read(100).as_deref(), Some(&b"llo\n"[..]));
        assert_eq!(tty.read(100).as_deref(), Some(&b"next\n"[..]));
    }

    #[test]
    fn zero_byte_read_returns_nothing_and_consumes_nothing() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, b"x\n");
        assert_eq!(tty.read(0), Some(Vec::new()));
        assert_eq!(tty.read(10).as_deref(), Some(&b"x\n"[..]));
    }

    #[test]
    fn backspace_and_delete_erase_one_character() {
        for erase in [BACKSPACE, DELETE] {
            let mut tty = LineDiscipline::new(CANONICAL);
            let (echo, _) = type_bytes(&mut tty, &[b'a', b'b', erase, b'c', b'\n']);
            assert_eq!(echo, b"ab\x08 \x08c\n");
            assert_eq!(tty.read(100).as_deref(), Some(&b"ac\n"[..]));
        }
    }

    #[test]
    fn erasing_an_empty_line_echoes_nothing() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, &[DELETE, DELETE]);
        assert!(echo.is_empty());
        assert!(tty.editing().is_empty());
    }

    #[test]
    fn erase_removes_a_whole_utf8_character() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, "aé€".as_bytes());
        assert_eq!(echo, "aé€".as_bytes());
        let (echo, _) = type_bytes(&mut tty, &[DELETE]);
        assert_eq!(echo, ERASE_ECHO);
        assert_eq!(tty.editing(), "aé".as_bytes());
        type_bytes(&mut tty, &[DELETE]);
        assert_eq!(tty.editing(), b"a");
    }

    #[test]
    fn control_characters_echo_as_caret_and_erase_two_columns() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, b"\x1b[A");
        assert_eq!(echo, b"^[[A");
        let (echo, _) = type_bytes(&mut tty, &[DELETE, DELETE]);
        assert_eq!(echo, b"\x08 \x08\x08 \x08");
        // The escape itself took two columns ("^[").
        let (echo, _) = type_bytes(&mut tty, &[DELETE]);
        assert_eq!(echo, b"\x08 \x08\x08 \x08");
        assert!(tty.editing().is_empty());
    }

    #[test]
    fn kill_line_erases_everything_typed() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, &[b'a', b'b', b'c', KILL_LINE]);
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08");
        assert!(tty.editing().is_empty());
        type_bytes(&mut tty, b"d\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"d\n"[..]));
    }

    #[test]
    fn ctrl_z_reports_suspend() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, events) = type_bytes(&mut tty, &[b'x', SUSPEND]);
        assert_eq!(echo, b"x^Z\n");
        assert_eq!(events, [Event::Suspend]);
    }

    #[test]
    fn ctrl_backslash_discards_the_line_and_reports_quit() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, events) = type_bytes(&mut tty, &[b's', QUIT]);
        assert_eq!(echo, b"s^\\\n");
        assert_eq!(events, [Event::Quit]);
        assert!(tty.editing().is_empty());
    }

    #[test]
    fn ctrl_c_discards_the_line_and_reports_an_interrupt() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, b"done\n");
        let (echo, events) = type_bytes(&mut tty, &[b's', b'l', b'e', INTERRUPT]);
        assert_eq!(echo, b"sle^C\n");
        assert_eq!(events, [Event::Interrupt]);
        assert!(tty.editing().is_empty());
        // Pending input is flushed too, as on Linux.
        assert_eq!(tty.read(100), None);
        type_bytes(&mut tty, b"ok\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"ok\n"[..]));
    }

    #[test]
    fn ctrl_c_without_signals_is_an_ordinary_character() {
        let mut tty = LineDiscipline::new(Termios {
            signals: false,
            ..CANONICAL
        });
        let (echo, events) = type_bytes(&mut tty, &[INTERRUPT, b'\n']);
        assert!(events.is_empty());
        assert_eq!(echo, b"^C\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"\x03\n"[..]));
    }

    #[test]
    fn ctrl_c_without_echo_echoes_nothing() {
        let mut tty = LineDiscipline::new(Termios {
            echo: false,
            ..CANONICAL
        });
        let (echo, events) = type_bytes(&mut tty, &[b'x', INTERRUPT]);
        assert!(echo.is_empty());
        assert_eq!(events, [Event::Interrupt]);
    }

    #[test]
    fn ctrl_d_on_an_empty_line_is_end_of_file() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let (echo, _) = type_bytes(&mut tty, &[END_OF_FILE]);
        assert!(echo.is_empty());
        assert!(tty.has_input());
        assert_eq!(tty.read(100), Some(Vec::new()));
        assert_eq!(tty.read(100), None);
    }

    #[test]
    fn ctrl_d_after_text_pushes_the_line_without_newline() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, &[b'a', b'b', END_OF_FILE, END_OF_FILE]);
        assert_eq!(tty.read(100).as_deref(), Some(&b"ab"[..]));
        assert_eq!(tty.read(100), Some(Vec::new()));
    }

    #[test]
    fn echo_off_hides_input_but_keeps_it() {
        let mut tty = LineDiscipline::new(Termios {
            echo: false,
            ..CANONICAL
        });
        let (echo, _) = type_bytes(&mut tty, b"secret\x7f\n");
        assert!(echo.is_empty());
        assert_eq!(tty.read(100).as_deref(), Some(&b"secre\n"[..]));
    }

    #[test]
    fn raw_mode_delivers_bytes_unchanged_as_they_arrive() {
        let mut tty = LineDiscipline::new(RAW);
        let (echo, events) = type_bytes(&mut tty, b"a\r\x7f\x04\x03");
        assert!(echo.is_empty());
        assert!(events.is_empty());
        assert_eq!(tty.read(100).as_deref(), Some(&b"a\r\x7f\x04\x03"[..]));
        assert_eq!(tty.read(100), None);
    }

    #[test]
    fn raw_mode_reads_respect_max() {
        let mut tty = LineDiscipline::new(RAW);
        type_bytes(&mut tty, b"abcdef");
        assert_eq!(tty.read(4).as_deref(), Some(&b"abcd"[..]));
        assert_eq!(tty.read(4).as_deref(), Some(&b"ef"[..]));
        assert_eq!(tty.read(4), None);
    }

    #[test]
    fn raw_mode_echoes_when_asked() {
        let mut tty = LineDiscipline::new(Termios { echo: true, ..RAW });
        let (echo, _) = type_bytes(&mut tty, b"q\x1b");
        assert_eq!(echo, b"q\x1b");
    }

    #[test]
    fn raw_mode_with_signals_still_interrupts() {
        let mut tty = LineDiscipline::new(Termios {
            signals: true,
            ..RAW
        });
        let (echo, events) = type_bytes(&mut tty, &[b'x', INTERRUPT]);
        assert_eq!(events, [Event::Interrupt]);
        assert!(echo.is_empty());
        assert_eq!(tty.read(10), None);
    }

    #[test]
    fn leaving_canonical_mode_releases_the_partial_line() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, b"full\npart");
        tty.set_settings(RAW);
        type_bytes(&mut tty, b"X");
        assert_eq!(tty.read(100).as_deref(), Some(&b"full\npartX"[..]));
    }

    #[test]
    fn raw_reads_stop_at_an_earlier_end_of_file() {
        let mut tty = LineDiscipline::new(CANONICAL);
        type_bytes(&mut tty, &[b'a', b'\n', END_OF_FILE]);
        tty.set_settings(RAW);
        type_bytes(&mut tty, b"z");
        assert_eq!(tty.read(100).as_deref(), Some(&b"a\n"[..]));
        assert_eq!(tty.read(100), Some(Vec::new()));
        assert_eq!(tty.read(100).as_deref(), Some(&b"z"[..]));
    }

    #[test]
    fn back_to_canonical_does_not_glue_lines_to_raw_bytes() {
        let mut tty = LineDiscipline::new(RAW);
        type_bytes(&mut tty, b"r");
        tty.set_settings(CANONICAL);
        type_bytes(&mut tty, b"line\n");
        assert_eq!(tty.read(100).as_deref(), Some(&b"r"[..]));
        assert_eq!(tty.read(100).as_deref(), Some(&b"line\n"[..]));
    }

    #[test]
    fn an_overlong_line_is_cut_with_a_bell() {
        let mut tty = LineDiscipline::new(CANONICAL);
        let long = alloc::vec![b'x'; MAX_LINE + 10];
        let (echo, _) = type_bytes(&mut tty, &long);
        assert_eq!(echo.iter().filter(|&&b| b == BELL).count(), 10);
        type_bytes(&mut tty, b"\n");
        let line = tty.read(usize::MAX).expect("a line");
        assert_eq!(line.len(), MAX_LINE + 1);
    }

    #[test]
    fn pending_input_is_bounded() {
        let mut tty = LineDiscipline::new(RAW);
        let flood = alloc::vec![b'y'; MAX_PENDING + 100];
        let (echo, _) = type_bytes(&mut tty, &flood);
        assert_eq!(echo.len(), 100);
        assert_eq!(tty.read(usize::MAX).map(|v| v.len()), Some(MAX_PENDING));
        // Room again after reading.
        type_bytes(&mut tty, b"k");
        assert_eq!(tty.read(10).as_deref(), Some(&b"k"[..]));
    }
}
