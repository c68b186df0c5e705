//! The line editor: a state machine fed one input byte at a time (the terminal
//! is in raw mode, no echo), producing the bytes to write back and, at the end,
//! an [`EditEvent`]. Redrawing uses only `\r`, the prompt, the line, `\x1b[K`
//! (erase to end of line), `\x1b[J` (erase to end of screen) and cursor moves
//! (`\x1b[NA` up, `B` down, `C` right, `D` left), assuming one column per
//! character and a terminal [`LineEditor::set_columns`] wide (80 by default):
//! a line longer than the terminal wraps, and redrawing goes back to the row
//! of the prompt instead of printing a new copy of it.
//!
//! Keys: printable text (UTF-8), Backspace/DEL, Left/Right, Up/Down (history),
//! Home/End (also Ctrl-A/Ctrl-E and `ESC [ H`/`F`, `ESC [ 1~`/`4~`), Delete,
//! Ctrl-B/Ctrl-F, Ctrl-K, Ctrl-U, Ctrl-W (erase the word before the cursor),
//! Tab (completion through a [`Completer`]), Ctrl-C (cancel), Ctrl-D (end of
//! input on an empty line, else delete), Enter (CR or LF; a CR LF pair counts
//! once).

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
    pub const CTRL_W: u8 = 0x17;
    pub const TAB: u8 = 0x09;
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
    /// Terminal width in columns.
    columns: usize,
    /// Where the terminal's cursor is: characters from the prompt's start.
    screen: usize,
}

/// Completion for Tab: the candidates for the word before the cursor
/// (`first` if it is the command name). Directories end with `/`.
pub trait Completer {
    fn complete(&mut self, word: &str, first: bool) -> Vec<String>;
}

/// No completion.
pub struct NoCompletion;

impl Completer for NoCompletion {
    fn complete(&mut self, _word: &str, _first: bool) -> Vec<String> {
        Vec::new()
    }
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
            columns: 80,
            screen: 0,
        }
    }

    /// Sets the terminal width (at least 10 columns).
    pub fn set_columns(&mut self, columns: usize) {
        self.columns = columns.max(10);
    }

    fn prompt_len(&self) -> usize {
        self.prompt.chars().count()
    }

    /// Moves the terminal cursor to `target` (characters from the prompt's
    /// start), across rows when the line wraps.
    fn move_screen(&mut self, target: usize) {
        let width = self.columns;
        let (from_row, from_col) = (self.screen / width, self.screen % width);
        let (to_row, to_col) = (target / width, target % width);
        if from_row > to_row {
            self.output
                .push_str(&format!("\x1b[{}A", from_row - to_row));
        } else if to_row > from_row {
            self.output
                .push_str(&format!("\x1b[{}B", to_row - from_row));
        }
        if to_col > from_col {
            self.output
                .push_str(&format!("\x1b[{}C", to_col - from_col));
        } else if from_col > to_col {
            self.output
                .push_str(&format!("\x1b[{}D", from_col - to_col));
        }
        self.screen = target;
    }

    /// After printing up to `position`: a terminal that filled the last
    /// column waits to wrap; make the wrap happen so rows stay countable.
    fn settle_wrap(&mut self, position: usize) {
        if position > 0 && position.is_multiple_of(self.columns) {
            self.output.push_str(" \r");
        }
    }

    /// Starts a new line: clears the state and writes the prompt.
    pub fn begin(&mut self, prompt: &str) {
        self.prompt = String::from(prompt);
        self.reset_line();
        self.escape = Escape::None;
        self.partial_char.clear();
        self.output.push_str(prompt);
        self.screen = self.prompt_len();
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
        self.feed_all_completing(bytes, history, &mut NoCompletion)
    }

    /// [`LineEditor::feed_all`] with Tab completion.
    pub fn feed_all_completing(
        &mut self,
        bytes: &[u8],
        history: &History,
        completer: &mut dyn Completer,
    ) -> (EditEvent, usize) {
        for (index, byte) in bytes.iter().enumerate() {
            if *byte == key::TAB && self.escape == Escape::None && self.partial_char.is_empty() {
                self.complete(completer);
                continue;
            }
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
            key::CTRL_W => {
                let mut start = self.cursor;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                self.line.drain(start..self.cursor);
                self.cursor = start;
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
        let end = self.prompt_len() + self.line.len();
        if self.screen / self.columns != end / self.columns {
            self.move_screen(end);
        }
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
            self.screen += 1;
            self.settle_wrap(self.screen);
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
        // `\x08` does not go back across a row boundary.
        if self.cursor == self.line.len() && !self.screen.is_multiple_of(self.columns) {
            self.output.push_str("\x08 \x08");
            self.screen -= 1;
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
        self.move_screen(self.prompt_len() + position);
        self.cursor = position;
    }

    fn recount(&mut self) {
        self.line_bytes = self.line.iter().map(|c| c.len_utf8()).sum();
    }

    /// Rewrites the whole line and puts the cursor back.
    fn redraw(&mut self) {
        let rows_up = self.screen / self.columns;
        if rows_up > 0 {
            self.output.push_str(&format!("\x1b[{rows_up}A"));
        }
        self.output.push('\r');
        self.output.push_str(&self.prompt);
        self.output.extend(self.line.iter());
        let end = self.prompt_len() + self.line.len();
        // One row: erase to the end of it; wrapped: to the end of the screen.
        if rows_up == 0 && end < self.columns {
            self.output.push_str("\x1b[K");
        } else {
            self.output.push_str("\x1b[J");
        }
        self.settle_wrap(end);
        self.screen = end;
        self.move_screen(self.prompt_len() + self.cursor);
    }

    /// Tab: completes the word before the cursor — alone, the whole
    /// candidate; several, their common prefix, or a list of them.
    fn complete(&mut self, completer: &mut dyn Completer) {
        let start = self.line[..self.cursor]
            .iter()
            .rposition(|c| *c == ' ' || *c == '|' || *c == ';' || *c == '&')
            .map_or(0, |i| i + 1);
        let word: String = self.line[start..self.cursor].iter().collect();
        let before: String = self.line[..start].iter().collect();
        let first = before
            .trim_end()
            .chars()
            .last()
            .is_none_or(|c| matches!(c, '|' | ';' | '&'));
        let candidates = completer.complete(&word, first);
        let Some(common) = crate::completion::common_prefix(&candidates) else {
            self.output.push_str(BELL);
            return;
        };
        let mut addition: Vec<char> = common.chars().skip(word.chars().count()).collect();
        if candidates.len() == 1 && !common.ends_with('/') {
            addition.push(' ');
        }
        if addition.is_empty() && candidates.len() > 1 {
            // Nothing to add: show the choices, then the line again.
            self.move_screen(self.prompt_len() + self.line.len());
            self.output.push_str("\r\n");
            self.output
                .push_str(&crate::completion::listing(&candidates, self.columns));
            self.output.push_str(&self.prompt);
            self.output.extend(self.line.iter());
            self.screen = self.prompt_len() + self.line.len();
            self.settle_wrap(self.screen);
            self.move_screen(self.prompt_len() + self.cursor);
            return;
        }
        for character in addition {
            self.insert(character);
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
mod tests;
