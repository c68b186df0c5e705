//! Plain line input (standard input is not a terminal, or later a script
//! file): bytes in, lines out, each at most [`MAX_LINE_BYTES`]; a longer line
//! is skipped up to its newline and reported once as [`LineItem::TooLong`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::MAX_LINE_BYTES;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineItem {
    /// A line without its newline (invalid UTF-8 replaced).
    Line(String),
    /// A line longer than the limit was dropped.
    TooLong,
}

#[derive(Clone, Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    /// Bytes already consumed by [`LineSplitter::next_line`].
    start: usize,
    /// Dropping the rest of an over-long line.
    discarding: bool,
    ended: bool,
}

impl LineSplitter {
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    /// Adds input bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Marks end of input: a last line without a newline still counts.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// The next complete line, if there is one.
    pub fn next_line(&mut self) -> Option<LineItem> {
        loop {
            let unread = &self.pending[self.start..];
            let newline = unread.iter().position(|b| *b == b'\n');
            match newline {
                Some(length) => {
                    let line_start = self.start;
                    self.start += length + 1;
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    if length > MAX_LINE_BYTES {
                        return Some(LineItem::TooLong);
                    }
                    let line = &self.pending[line_start..line_start + length];
                    return Some(LineItem::Line(String::from_utf8_lossy(line).into_owned()));
                }
                None if unread.len() > MAX_LINE_BYTES => {
                    self.start = self.pending.len();
                    if self.discarding {
                        continue;
                    }
                    self.discarding = true;
                    return Some(LineItem::TooLong);
                }
                None if self.ended && !unread.is_empty() => {
                    let line = String::from_utf8_lossy(unread).into_owned();
                    self.start = self.pending.len();
                    if core::mem::take(&mut self.discarding) {
                        return None;
                    }
                    return Some(LineItem::Line(line));
                }
                None => return None,
            }
        }
    }

    /// True once input ended and every line was taken.
    pub fn is_finished(&self) -> bool {
        self.ended && self.start >= self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Option<LineItem> {
        Some(LineItem::Line(text.into()))
    }

    #[test]
    fn splits_across_pushes() {
        let mut splitter = LineSplitter::new();
        splitter.push(b"echo a\necho");
        assert_eq!(splitter.next_line(), line("echo a"));
        assert_eq!(splitter.next_line(), None);
        splitter.push(b" b\n\n");
        assert_eq!(splitter.next_line(), line("echo b"));
        assert_eq!(splitter.next_line(), line(""));
        assert_eq!(splitter.next_line(), None);
        assert!(!splitter.is_finished());
        splitter.push(b"last");
        splitter.end();
        assert_eq!(splitter.next_line(), line("last"));
        assert_eq!(splitter.next_line(), None);
        assert!(splitter.is_finished());
    }

    #[test]
    fn over_long_line_is_reported_once_and_skipped() {
        let mut splitter = LineSplitter::new();
        let chunk = vec![b'x'; MAX_LINE_BYTES / 2 + 1];
        splitter.push(&chunk);
        assert_eq!(splitter.next_line(), None);
        splitter.push(&chunk);
        assert_eq!(splitter.next_line(), Some(LineItem::TooLong));
        splitter.push(&chunk);
        assert_eq!(splitter.next_line(), None);
        splitter.push(b"tail\nok\n");
        assert_eq!(splitter.next_line(), line("ok"));
        assert_eq!(splitter.next_line(), None);
    }

    #[test]
    fn over_long_line_arriving_whole() {
        let mut splitter = LineSplitter::new();
        let mut input = vec![b'y'; MAX_LINE_BYTES + 1];
        input.extend_from_slice(b"\nnext\n");
        splitter.push(&input);
        assert_eq!(splitter.next_line(), Some(LineItem::TooLong));
        assert_eq!(splitter.next_line(), line("next"));
    }

    #[test]
    fn over_long_unterminated_tail_at_end() {
        let mut splitter = LineSplitter::new();
        splitter.push(&vec![b'z'; MAX_LINE_BYTES + 1]);
        splitter.end();
        assert_eq!(splitter.next_line(), Some(LineItem::TooLong));
        assert_eq!(splitter.next_line(), None);
        assert!(splitter.is_finished());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut splitter = LineSplitter::new();
        splitter.push(b"a\xffb\n");
        assert_eq!(splitter.next_line(), line("a\u{fffd}b"));
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let mut splitter = LineSplitter::new();
        let mut input = vec![b'q'; MAX_LINE_BYTES];
        input.push(b'\n');
        splitter.push(&input);
        assert!(
            matches!(splitter.next_line(), Some(LineItem::Line(l)) if l.len() == MAX_LINE_BYTES)
        );
    }
}
