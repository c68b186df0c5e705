//! The line editor: a state machine fed one input byte at a time (the terminal
//! is in raw mode, no echo), producing the bytes to write back and, at the end,
//! an [`EditEvent`]. Redrawing uses only `\r`, the prompt, the line, `\x1b[K`
//! (erase to end of line) and `\x1b[ND` (cursor left N), and assumes one column
//! per character and a line shorter than the terminal.
//!
//! Keys: printable text (UTF-8), Backspace/DEL, Left/Right, Up/Down (history),
//! Home/End (also Ctrl-A/Ctrl-E and `ESC [ H`/`F`, `ESC [ 1~`/`4~`), Delete,
//! Ctrl-B/Ctrl-F, Ctrl-K, Ctrl-U, Ctrl-C (cancel), Ctrl-D (end of input on an
//! empty line, else delete), Enter (CR or LF; a CR LF pair counts once).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::history::History;
use crate::MAX_LINE_BYTES;

/// What a fed byte did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditEvent {
    /// Still editing.
    Pending,
    /// Enter: the finished line (without the newline).
    Line(String),
    /// Ctrl-C: the line was thrown away.
    Cancelled,
    /// Ctrl-D on an empty line.
    EndOfInput,
}

/// Longest escape sequence parameter text kept (longer ones are ignored).
const MAX_ESCAPE_PARAMETERS: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Started,
    /// After `ESC [`, collecting parameter bytes.
    Csi(String),
    /// After `ESC O`.
    Ss3,
}

/// Control bytes the editor understands.
mod key {
    pub const CTRL_A: u8 = 0x01;
    pub const CTRL_B: u8 = 0x02;
    pub const CTRL_C: u8 = 0x03;
    pub const CTRL_D: u8 = 0x04;
    pub const CTRL_E: u8 = 0x05;
    pub const CTRL_F: u8 = 0x06;
    pub const BACKSPACE: u8 = 0x08;
    pub const LINE_FEED: u8 = 0x0a;
    pub const CTRL_K: u8 = 0x0b;
    pub const CARRIAGE_RETURN: u8 = 0x0d;
    pub const CTRL_U: u8 = 0x15;
    pub const ESCAPE: u8 = 0x1b;
    pub const DELETE: u8 = 0x7f;
}

/// Terminal bell: input refused (line full, nothing to recall).
const BELL: &str = "\x07";

#[derive(Clone, Debug)]
pub struct LineEditor {
    prompt: String,
    line: Vec<char>,
    /// Cursor position in characters, `0..=line.len()`.
    cursor: usize,
    /// Bytes of `line` as UTF-8 (kept to enforce [`MAX_LINE_BYTES`]).
    line_bytes: usize,
    escape: Escape,
    /// An incomplete UTF-8 sequence.
    partial_char: Vec<u8>,
    /// The previous byte was a CR (so a following LF is not a second Enter).
    after_carriage_return: bool,
    /// Which history entry is shown (index into the history), if any.
    history_position: Option<usize>,
    /// The line being typed before Up was first pressed.
    draft: Vec<char>,
    output: String,
}

impl Default for LineEditor {
    fn default() -> Self {
        LineEditor::new()
    }
}

impl LineEditor {
    pub fn new() -> LineEditor {
        LineEditor {
            prompt: String::new(),
            line: Vec::new(),
            cursor: 0,
            line_bytes: 0,
            escape: Escape::None,
            partial_char: Vec::new(),
            after_carriage_return: false,
            history_position: None,
            draft: Vec::new(),
            output: String::new(),
        }
    }

    /// Starts a new line: clears the state and writes the prompt.
    pub fn begin(&mut self, prompt: &str) {
        self.prompt = String::from(prompt);
        self.reset_line();
        self.escape = Escape::None;
        self.partial_char.clear();
        self.output.push_str(prompt);
    }

    fn reset_line(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.line_bytes = 0;
        self.history_position = None;
        self.draft.clear();
    }

    /// The text being edited.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// Cursor position in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Takes the bytes to write to the terminal so far.
    pub fn take_output(&mut self) -> String {
        core::mem::take(&mut self.output)
    }

    /// Feeds every byte, stopping at the first that ends the line; returns
    /// that event and how many bytes were used.
    pub fn feed_all(&mut self, bytes: &[u8], history: &History) -> (EditEvent, usize) {
        for (index, byte) in bytes.iter().enumerate() {
            let event = self.feed(*byte, history);
            if event != EditEvent::Pending {
                return (event, index + 1);
            }
        }
        (EditEvent::Pending, bytes.len())
    }

    /// Feeds one input byte.
    pub fn feed(&mut self, byte: u8, history: &History) -> EditEvent {
        let after_carriage_return = core::mem::replace(&mut self.after_carriage_return, false);
        match core::mem::replace(&mut self.escape, Escape::None) {
            Escape::None => {}
            Escape::Started => {
                self.escape = match byte {
                    b'[' => Escape::Csi(String::new()),
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
                return EditEvent::Pending;
            }
            Escape::Csi(mut parameters) => {
                if (0x40..=0x7e).contains(&byte) {
                    self.csi(&parameters, byte, history);
                } else if parameters.len() < MAX_ESCAPE_PARAMETERS {
                    parameters.push(byte as char);
                    self.escape = Escape::Csi(parameters);
                }
                // An over-long sequence is dropped up to its final byte.
                else {
                    self.escape = Escape::Csi(parameters);
                }
                return EditEvent::Pending;
            }
            Escape::Ss3 => {
                self.csi("", byte, history);
                return EditEvent::Pending;
            }
        }
        if byte >= 0x80 || !self.partial_char.is_empty() {
            self.utf8_byte(byte);
            return EditEvent::Pending;
        }
        match byte {
            key::CARRIAGE_RETURN => {
                self.after_carriage_return = true;
                self.finish_line()
            }
            key::LINE_FEED if after_carriage_return => EditEvent::Pending,
            key::LINE_FEED => self.finish_line(),
            key::CTRL_C => {
                self.output.push_str("^C\r\n");
                self.reset_line();
                EditEvent::Cancelled
            }
            key::CTRL_D if self.line.is_empty() => {
                self.output.push_str("\r\n");
                EditEvent::EndOfInput
            }
            key::CTRL_D => {
                self.delete_under_cursor();
                EditEvent::Pending
            }
            key::CTRL_A => {
                self.move_to(0);
                EditEvent::Pending
            }
            key::CTRL_E => {
                self.move_to(self.line.len());
                EditEvent::Pending
            }
            key::CTRL_B => {
                self.move_to(self.cursor.saturating_sub(1));
                EditEvent::Pending
            }
            key::CTRL_F => {
                self.move_to((self.cursor + 1).min(self.line.len()));
                EditEvent::Pending
            }
            key::CTRL_K => {
                self.line.truncate(self.cursor);
                self.recount();
                self.redraw();
                EditEvent::Pending
            }
            key::CTRL_U => {
                self.line.drain(..self.cursor);
                self.cursor = 0;
                self.recount();
                self.redraw();
                EditEvent::Pending
            }
            key::BACKSPACE | key::DELETE => {
                self.backspace();
                EditEvent::Pending
            }
            key::ESCAPE => {
                self.escape = Escape::Started;
                EditEvent::Pending
            }
            0x20..=0x7e => {
                self.insert(byte as char);
                EditEvent::Pending
            }
            // Tab and other control characters are not editing keys.
            _ => EditEvent::Pending,
        }
    }

    fn finish_line(&mut self) -> EditEvent {
        self.output.push_str("\r\n");
        let line = self.line();
        self.reset_line();
        EditEvent::Line(line)
    }

    fn csi(&mut self, parameters: &str, final_byte: u8, history: &History) {
        match (parameters, final_byte) {
            ("", b'A') => self.history_up(history),
            ("", b'B') => self.history_down(history),
            ("", b'C') => self.move_to((self.cursor + 1).min(self.line.len())),
            ("", b'D') => self.move_to(self.cursor.saturating_sub(1)),
            ("", b'H') | ("1" | "7", b'~') => self.move_to(0),
            ("", b'F') | ("4" | "8", b'~') => self.move_to(self.line.len()),
            ("3", b'~') => self.delete_under_cursor(),
            _ => {}
        }
    }

    fn utf8_byte(&mut self, byte: u8) {
        self.partial_char.push(byte);
        match core::str::from_utf8(&self.partial_char) {
            Ok(text) => {
                let characters: Vec<char> = text.chars().collect();
                self.partial_char.clear();
                for character in characters {
                    self.insert(character);
                }
            }
            Err(error) if error.error_len().is_some() || self.partial_char.len() >= 4 => {
                // Not UTF-8: drop the bytes.
                self.partial_char.clear();
            }
            Err(_) => {}
        }
    }

    fn insert(&mut self, character: char) {
        if self.line_bytes + character.len_utf8() > MAX_LINE_BYTES {
            self.output.push_str(BELL);
            return;
        }
        self.line.insert(self.cursor, character);
        self.cursor += 1;
        self.line_bytes += character.len_utf8();
        if self.cursor == self.line.len() {
            self.output.push(character);
        } else {
            self.redraw();
        }
    }

    fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        let removed = self.line.remove(self.cursor);
        self.line_bytes -= removed.len_utf8();
        if self.cursor == self.line.len() {
            self.output.push_str("\x08 \x08");
        } else {
            self.redraw();
        }
    }

    fn delete_under_cursor(&mut self) {
        if self.cursor < self.line.len() {
            let removed = self.line.remove(self.cursor);
            self.line_bytes -= removed.len_utf8();
            self.redraw();
        }
    }

    fn move_to(&mut self, position: usize) {
        if position < self.cursor {
            self.output
                .push_str(&format!("\x1b[{}D", self.cursor - position));
        } else if position > self.cursor {
            self.output
                .push_str(&format!("\x1b[{}C", position - self.cursor));
        }
        self.cursor = position;
    }

    fn recount(&mut self) {
        self.line_bytes = self.line.iter().map(|c| c.len_utf8()).sum();
    }

    /// Rewrites the whole line and puts the cursor back.
    fn redraw(&mut self) {
        self.output.push('\r');
        self.output.push_str(&self.prompt);
        self.output.extend(self.line.iter());
        self.output.push_str("\x1b[K");
        let after_cursor = self.line.len() - self.cursor;
        if after_cursor > 0 {
            self.output.push_str(&format!("\x1b[{after_cursor}D"));
        }
    }

    /// Replaces the line with `text`, cursor at the end (multi-line history
    /// entries show their newlines as spaces). Over-long text is cut.
    fn show(&mut self, text: &[char]) {
        self.line.clear();
        self.line_bytes = 0;
        for character in text {
            let character = if *character == '\n' { ' ' } else { *character };
            if self.line_bytes + character.len_utf8() > MAX_LINE_BYTES {
                break;
            }
            self.line_bytes += character.len_utf8();
            self.line.push(character);
        }
        self.cursor = self.line.len();
        self.redraw();
    }

    fn history_up(&mut self, history: &History) {
        let target = match self.history_position {
            None if history.is_empty() => None,
            None => Some(history.len() - 1),
            Some(0) => None,
            Some(position) => Some(position - 1),
        };
        let Some(target) = target.filter(|t| *t < history.len()) else {
            self.output.push_str(BELL);
            return;
        };
        if self.history_position.is_none() {
            self.draft = self.line.clone();
        }
        self.history_position = Some(target);
        let entry: Vec<char> = history.get(target).unwrap_or_default().chars().collect();
        self.show(&entry);
    }

    fn history_down(&mut self, history: &History) {
        let Some(position) = self.history_position else {
            self.output.push_str(BELL);
            return;
        };
        if position + 1 < history.len() {
            self.history_position = Some(position + 1);
            let entry: Vec<char> = history
                .get(position + 1)
                .unwrap_or_default()
                .chars()
                .collect();
            self.show(&entry);
        } else {
            self.history_position = None;
            let draft = core::mem::take(&mut self.draft);
            self.show(&draft);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor() -> LineEditor {
        let mut editor = LineEditor::new();
        editor.begin("/ # ");
        editor.take_output();
        editor
    }

    fn feed(editor: &mut LineEditor, bytes: &[u8], history: &History) -> EditEvent {
        let (event, used) = editor.feed_all(bytes, history);
        assert_eq!(used, bytes.len(), "event came early");
        event
    }

    #[test]
    fn begin_writes_prompt() {
        let mut editor = LineEditor::new();
        editor.begin("/ # ");
        assert_eq!(editor.take_output(), "/ # ");
        assert_eq!(editor.take_output(), "");
    }

    #[test]
    fn typing_echoes_and_enter_finishes() {
        let history = History::default();
        let mut editor = editor();
        assert_eq!(feed(&mut editor, b"ls -l", &history), EditEvent::Pending);
        assert_eq!(editor.take_output(), "ls -l");
        assert_eq!(editor.cursor(), 5);
        assert_eq!(
            feed(&mut editor, b"\r", &history),
            EditEvent::Line("ls -l".into())
        );
        assert_eq!(editor.take_output(), "\r\n");
        assert_eq!(editor.line(), "");
    }

    #[test]
    fn crlf_is_one_enter_but_lf_alone_is_enter() {
        let history = History::default();
        let mut editor = editor();
        let (event, used) = editor.feed_all(b"a\r\nb\n", &history);
        assert_eq!(event, EditEvent::Line("a".into()));
        assert_eq!(used, 2);
        let (event, used) = editor.feed_all(b"\nb\n", &history);
        assert_eq!(event, EditEvent::Line("b".into()));
        assert_eq!(used, 3);
    }

    #[test]
    fn backspace_at_end_and_in_middle() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"abc\x7f", &history);
        assert_eq!(editor.line(), "ab");
        assert_eq!(editor.take_output(), "abc\x08 \x08");
        feed(&mut editor, b"\x1b[D\x08", &history);
        assert_eq!(editor.line(), "b");
        assert_eq!(editor.cursor(), 0);
        assert_eq!(editor.take_output(), "\x1b[1D\r/ # b\x1b[K\x1b[1D");
        // Backspace at the start does nothing.
        feed(&mut editor, b"\x7f", &history);
        assert_eq!(editor.line(), "b");
        assert_eq!(editor.take_output(), "");
    }

    #[test]
    fn arrows_move_and_insert_in_middle_redraws() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"ac\x1b[DX", &history);
        assert_eq!(editor.line(), "aXc");
        assert_eq!(editor.cursor(), 2);
        assert_eq!(editor.take_output(), "ac\x1b[1D\r/ # aXc\x1b[K\x1b[1D");
        feed(&mut editor, b"\x1b[C\x1b[C", &history);
        assert_eq!(editor.cursor(), 3, "right stops at the end");
        assert_eq!(editor.take_output(), "\x1b[1C");
    }

    #[test]
    fn home_and_end_keys() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"hello\x01", &history);
        assert_eq!(editor.cursor(), 0);
        feed(&mut editor, b"\x05", &history);
        assert_eq!(editor.cursor(), 5);
        feed(&mut editor, b"\x1b[H", &history);
        assert_eq!(editor.cursor(), 0);
        feed(&mut editor, b"\x1b[F", &history);
        assert_eq!(editor.cursor(), 5);
        feed(&mut editor, b"\x1b[1~", &history);
        assert_eq!(editor.cursor(), 0);
        feed(&mut editor, b"\x1bOF", &history);
        assert_eq!(editor.cursor(), 5);
        feed(&mut editor, b"\x1b[7~\x1b[3~", &history);
        assert_eq!(editor.line(), "ello", "Delete removes under the cursor");
    }

    #[test]
    fn ctrl_u_kills_before_cursor_and_ctrl_k_after() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"one two\x1b[D\x1b[D\x1b[D\x15", &history);
        assert_eq!(editor.line(), "two");
        assert_eq!(editor.cursor(), 0);
        editor.take_output();
        feed(&mut editor, b"\x06\x0b", &history);
        assert_eq!(editor.line(), "t");
        assert_eq!(editor.take_output(), "\x1b[1C\r/ # t\x1b[K");
    }

    #[test]
    fn ctrl_c_cancels_the_line() {
        let history = History::default();
        let mut editor = editor();
        assert_eq!(
            feed(&mut editor, b"sleep 5\x03", &history),
            EditEvent::Cancelled
        );
        assert_eq!(editor.line(), "");
        assert_eq!(editor.take_output(), "sleep 5^C\r\n");
    }

    #[test]
    fn ctrl_d_ends_input_only_on_empty_line() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"ab\x01\x04", &history);
        assert_eq!(editor.line(), "b");
        feed(&mut editor, b"\x04", &history);
        assert_eq!(editor.line(), "");
        assert_eq!(feed(&mut editor, b"\x04", &history), EditEvent::EndOfInput);
    }

    #[test]
    fn history_up_down_restores_draft() {
        let mut history = History::default();
        history.push("first");
        history.push("second");
        let mut editor = editor();
        feed(&mut editor, b"dra", &history);
        feed(&mut editor, b"\x1b[A", &history);
        assert_eq!(editor.line(), "second");
        assert_eq!(editor.cursor(), 6);
        feed(&mut editor, b"\x1b[A", &history);
        assert_eq!(editor.line(), "first");
        editor.take_output();
        feed(&mut editor, b"\x1b[A", &history);
        assert_eq!(editor.line(), "first", "stays at the oldest");
        assert_eq!(editor.take_output(), BELL);
        feed(&mut editor, b"\x1b[B", &history);
        assert_eq!(editor.line(), "second");
        feed(&mut editor, b"\x1b[B", &history);
        assert_eq!(editor.line(), "dra");
        assert_eq!(editor.take_output(), "\r/ # second\x1b[K\r/ # dra\x1b[K");
        feed(&mut editor, b"\x1b[B", &history);
        assert_eq!(editor.take_output(), BELL);
    }

    #[test]
    fn history_up_with_empty_history_rings() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"\x1b[A", &history);
        assert_eq!(editor.take_output(), BELL);
        assert_eq!(editor.line(), "");
    }

    #[test]
    fn recalled_multi_line_entry_shows_spaces() {
        let mut history = History::default();
        history.push("a |\nb");
        let mut editor = editor();
        feed(&mut editor, b"\x1b[A", &history);
        assert_eq!(editor.line(), "a | b");
    }

    #[test]
    fn utf8_input_is_assembled() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, "é€".as_bytes(), &history);
        assert_eq!(editor.line(), "é€");
        assert_eq!(editor.cursor(), 2);
        // Invalid bytes are dropped.
        feed(&mut editor, &[0xff, b'x'], &history);
        assert_eq!(editor.line(), "é€x");
        feed(&mut editor, b"\x7f\x7f", &history);
        assert_eq!(editor.line(), "é");
    }

    #[test]
    fn unknown_escapes_and_controls_are_ignored() {
        let history = History::default();
        let mut editor = editor();
        feed(
            &mut editor,
            b"a\x1b[99;99;99;99;99;99;99;99Zb\t\x1bxc",
            &history,
        );
        assert_eq!(editor.line(), "abc");
    }

    #[test]
    fn line_length_is_bounded() {
        let history = History::default();
        let mut editor = editor();
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        feed(&mut editor, &long, &history);
        assert_eq!(editor.line().len(), MAX_LINE_BYTES);
        assert!(editor.take_output().ends_with(BELL));
    }

    #[test]
    fn begin_resets_an_unfinished_escape() {
        let history = History::default();
        let mut editor = editor();
        feed(&mut editor, b"\x1b[", &history);
        editor.begin("> ");
        feed(&mut editor, b"A", &history);
        assert_eq!(editor.line(), "A");
    }
}
