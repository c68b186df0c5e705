//! Command history: the last [`History::capacity`] commands, numbered from 1
//! for the life of the shell (numbers keep counting when old entries fall off,
//! as in other shells), for `history` and the editor's Up/Down keys.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};

/// Entries kept when no other capacity is asked for.
pub const DEFAULT_CAPACITY: usize = 500;

#[derive(Clone, Debug)]
pub struct History {
    entries: VecDeque<String>,
    capacity: usize,
    /// The number of `entries[0]`.
    first_number: usize,
}

impl Default for History {
    fn default() -> Self {
        History::new(DEFAULT_CAPACITY)
    }
}

impl History {
    pub fn new(capacity: usize) -> History {
        History {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            first_number: 1,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records a command. Blank lines and a repeat of the newest entry are
    /// not recorded; a trailing newline is dropped.
    pub fn push(&mut self, command: &str) {
        let command = command.trim_end_matches('\n');
        if command.trim().is_empty() {
            return;
        }
        if self.entries.back().is_some_and(|last| last == command) {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
            self.first_number += 1;
        }
        self.entries.push_back(command.to_string());
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `index`, 0 being the oldest kept.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(String::as_str)
    }

    /// Entries with their numbers, oldest first.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &str)> {
        self.entries
            .iter()
            .enumerate()
            .map(move |(index, entry)| (self.first_number + index, entry.as_str()))
    }

    pub fn clear(&mut self) {
        self.first_number += self.entries.len();
        self.entries.clear();
    }

    /// What `history` prints: `%5d  command` per entry; only the newest
    /// `last` entries when given. Continuation lines are indented.
    pub fn listing(&self, last: Option<usize>) -> String {
        let skip = last.map_or(0, |n| self.len().saturating_sub(n));
        let mut text = String::new();
        for (number, entry) in self.numbered().skip(skip) {
            text.push_str(&format!(
                "{number:5}  {}\n",
                entry.replace('\n', "\n       ")
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blank_and_repeated_commands() {
        let mut history = History::new(10);
        history.push("ls");
        history.push("ls");
        history.push("   ");
        history.push("");
        history.push("pwd\n");
        history.push("ls");
        assert_eq!(history.len(), 3);
        assert_eq!(history.get(0), Some("ls"));
        assert_eq!(history.get(1), Some("pwd"));
        assert_eq!(history.get(2), Some("ls"));
        assert_eq!(history.get(3), None);
    }

    #[test]
    fn numbers_keep_counting_past_capacity() {
        let mut history = History::new(2);
        history.push("a");
        history.push("b");
        history.push("c");
        let numbered: Vec<(usize, &str)> = history.numbered().collect();
        assert_eq!(numbered, vec![(2, "b"), (3, "c")]);
        assert_eq!(history.listing(None), "    2  b\n    3  c\n");
    }

    #[test]
    fn listing_last_n_and_clear() {
        let mut history = History::new(10);
        for command in ["a", "b", "c"] {
            history.push(command);
        }
        assert_eq!(history.listing(Some(1)), "    3  c\n");
        assert_eq!(history.listing(Some(9)).lines().count(), 3);
        history.clear();
        assert!(history.is_empty());
        history.push("d");
        assert_eq!(history.listing(None), "    4  d\n");
    }

    #[test]
    fn multi_line_entries_are_indented() {
        let mut history = History::new(10);
        history.push("echo 'a\nb'");
        assert_eq!(history.listing(None), "    1  echo 'a\n       b'\n");
    }

    #[test]
    fn zero_capacity_still_keeps_one() {
        let mut history = History::new(0);
        history.push("a");
        history.push("b");
        assert_eq!(history.len(), 1);
        assert_eq!(history.get(0), Some("b"));
    }
}
