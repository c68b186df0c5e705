//! The syntax tree produced by the parser: a [`Script`] of and-or lists, each a
//! chain of pipelines, each a chain of simple commands made of words, variable
//! assignments and redirections.
//!
//! Every type prints back (via `Display`) as shell text that parses to the same
//! tree, which the shell can use for `set -x`-style tracing and job listings.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use crate::{is_valid_name, SPECIAL_PARAMETERS};

/// A whole line or script file: and-or lists run one after another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub items: Vec<AndOr>,
}

/// Pipelines joined by `&&` / `||`, optionally run in the background (`&`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
    pub background: bool,
}

/// How a pipeline in an [`AndOr`] is joined to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: run only if the previous pipeline succeeded.
    And,
    /// `||`: run only if the previous pipeline failed.
    Or,
}

/// Commands joined by `|`; `negated` is a leading `!` inverting the exit status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
}

/// A simple command. `assignments` come before the command name (`A=1 cmd`);
/// with no `words` they set shell variables instead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub assignments: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

impl Command {
    /// True if the command has no assignments, words or redirects.
    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty() && self.words.is_empty() && self.redirects.is_empty()
    }
}

/// One redirection, applied left to right: `fd` is the descriptor being set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub fd: u32,
    pub kind: RedirectKind,
    /// The file name, or for dup/close the literal descriptor text (`1`, `-`).
    pub target: Word,
}

/// What a [`Redirect`] does to its descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `N<file` (default fd 0).
    Read,
    /// `N>file` or `N>|file` (default fd 1).
    Write,
    /// `N>>file` (default fd 1).
    Append,
    /// `N<>file` (default fd 0).
    ReadWrite,
    /// `N>&M` (default fd 1): make `fd` a copy of `M`.
    DupWrite(u32),
    /// `N<&M` (default fd 0): make `fd` a copy of `M`.
    DupRead(u32),
    /// `N>&-` or `N<&-`: close `fd`.
    Close,
}

impl RedirectKind {
    /// The descriptor used when none is written before the operator.
    pub fn default_fd(self) -> u32 {
        match self {
            RedirectKind::Read | RedirectKind::ReadWrite | RedirectKind::DupRead(_) => 0,
            RedirectKind::Write
            | RedirectKind::Append
            | RedirectKind::DupWrite(_)
            | RedirectKind::Close => 1,
        }
    }
}

/// A shell word before expansion: literal text and parameter references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<WordPart>,
}

/// A piece of a [`Word`]. `quoted` records whether the piece came from inside
/// quotes (or a backslash escape), which turns off field splitting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WordPart {
    Literal {
        text: String,
        quoted: bool,
    },
    /// `$NAME` or `${NAME}`.
    Variable {
        name: String,
        quoted: bool,
    },
    /// `$?`, `$$`, `$!`, `$#`, `$@`, `$*` or `$0`..`$9`.
    Special {
        symbol: char,
        quoted: bool,
    },
}

impl Word {
    /// A word of one unquoted literal.
    pub fn literal(text: &str) -> Word {
        let mut word = Word::default();
        word.push_literal(text, false);
        word
    }

    /// Appends literal text, merging with a preceding literal of the same
    /// quoting. Empty quoted text is kept (it makes `""` an empty field).
    pub fn push_literal(&mut self, text: &str, quoted: bool) {
        if let Some(WordPart::Literal {
            text: last,
            quoted: last_quoted,
        }) = self.parts.last_mut()
        {
            if *last_quoted == quoted {
                last.push_str(text);
                return;
            }
        }
        if text.is_empty() && !quoted {
            return;
        }
        self.parts.push(WordPart::Literal {
            text: String::from(text),
            quoted,
        });
    }

    /// Appends one literal character (see [`Word::push_literal`]).
    pub fn push_char(&mut self, c: char, quoted: bool) {
        let mut buffer = [0u8; 4];
        self.push_literal(c.encode_utf8(&mut buffer), quoted);
    }

    /// The text of the word if it has no parameter references, ignoring quoting.
    pub fn as_literal(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                WordPart::Literal { text: piece, .. } => text.push_str(piece),
                _ => return None,
            }
        }
        Some(text)
    }

    /// True if the word is exactly the given unquoted text (used for `!`).
    pub fn is_unquoted(&self, expected: &str) -> bool {
        matches!(self.parts.as_slice(), [WordPart::Literal { text, quoted: false }] if text == expected)
    }

    fn fmt_with(&self, f: &mut fmt::Formatter<'_>, at_word_start: bool) -> fmt::Result {
        if self.parts.is_empty() {
            return if at_word_start {
                f.write_str("''")
            } else {
                Ok(())
            };
        }
        for (index, part) in self.parts.iter().enumerate() {
            match part {
                WordPart::Literal { text, quoted: true } => write_single_quoted(f, text)?,
                WordPart::Literal {
                    text,
                    quoted: false,
                } => {
                    let next_is_unquoted_dollar = matches!(
                        self.parts.get(index + 1),
                        Some(WordPart::Variable { quoted: false, .. })
                            | Some(WordPart::Special { quoted: false, .. })
                    );
                    write_unquoted(
                        f,
                        text,
                        at_word_start && index == 0,
                        next_is_unquoted_dollar,
                    )?
                }
                WordPart::Variable { name, quoted } => {
                    if *quoted {
                        write!(f, "\"${{{name}}}\"")?
                    } else {
                        write!(f, "${{{name}}}")?
                    }
                }
                WordPart::Special { symbol, quoted } => {
                    if *quoted {
                        write!(f, "\"${symbol}\"")?
                    } else {
                        write!(f, "${symbol}")?
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_single_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in text.chars() {
        if c == '\'' {
            f.write_str("'\\''")?;
        } else {
            f.write_char(c)?;
        }
    }
    f.write_char('\'')
}

/// Characters that end or change the meaning of an unquoted word.
fn is_special_unquoted(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')' | '\'' | '"' | '\\' | '`'
    )
}

/// True if a `$` followed by `next` would start an expansion.
fn dollar_starts_expansion(next: char) -> bool {
    next == '{'
        || next == '('
        || next == '_'
        || next.is_ascii_alphanumeric()
        || SPECIAL_PARAMETERS.contains(&next)
}

/// Writes unquoted literal text; characters that would be read differently get
/// a backslash (which reparses as quoted, but only hand-built trees need it).
fn write_unquoted(
    f: &mut fmt::Formatter<'_>,
    text: &str,
    at_word_start: bool,
    next_is_unquoted_dollar: bool,
) -> fmt::Result {
    let mut chars = text.chars().peekable();
    let mut first = at_word_start;
    while let Some(c) = chars.next() {
        let needs_escape = match c {
            '#' => first,
            '$' => match chars.peek() {
                Some(&next) => dollar_starts_expansion(next),
                None => next_is_unquoted_dollar,
            },
            _ => is_special_unquoted(c),
        };
        if needs_escape {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
        first = false;
    }
    Ok(())
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, true)
    }
}

impl fmt::Display for Redirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == RedirectKind::Close || self.fd != self.kind.default_fd() {
            write!(f, "{}", self.fd)?;
        }
        match self.kind {
            RedirectKind::Read => write!(f, "<{}", self.target),
            RedirectKind::Write => write!(f, ">{}", self.target),
            RedirectKind::Append => write!(f, ">>{}", self.target),
            RedirectKind::ReadWrite => write!(f, "<>{}", self.target),
            RedirectKind::DupWrite(_) | RedirectKind::Close => write!(f, ">&{}", self.target),
            RedirectKind::DupRead(_) => write!(f, "<&{}", self.target),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `! x` would read back as a negated pipeline, so a command whose first
        // word is `!` (after a redirect, as in `>f ! x`) keeps its redirects first.
        let bang_first = self.assignments.is_empty()
            && self.words.first().is_some_and(|word| word.is_unquoted("!"));
        let mut separator = "";
        if bang_first {
            for redirect in &self.redirects {
                write!(f, "{separator}{redirect}")?;
                separator = " ";
            }
        }
        for (name, value) in &self.assignments {
            write!(f, "{separator}{name}=")?;
            value.fmt_with(f, false)?;
            separator = " ";
        }
        for (index, word) in self.words.iter().enumerate() {
            f.write_str(separator)?;
            // A first word that looks like an assignment must not become one.
            let looks_like_assignment = index == 0
                && matches!(word.parts.first(), Some(WordPart::Literal { text, quoted: false })
                    if text.split_once('=').is_some_and(|(name, _)| is_valid_name(name)));
            if looks_like_assignment {
                f.write_char('\\')?;
            }
            word.fmt_with(f, true)?;
            separator = " ";
        }
        if !bang_first {
            for redirect in &self.redirects {
                write!(f, "{separator}{redirect}")?;
                separator = " ";
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("! ")?;
        }
        for (index, command) in self.commands.iter().enumerate() {
            if index > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{command}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AndOr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        for (connector, pipeline) in &self.rest {
            let operator = match connector {
                Connector::And => "&&",
                Connector::Or => "||",
            };
            write!(f, " {operator} {pipeline}")?;
        }
        if self.background {
            f.write_str(" &")?;
        }
        Ok(())
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, item) in self.items.iter().enumerate() {
            if index > 0 {
                let previous_was_background = self.items[index - 1].background;
                f.write_str(if previous_was_background { " " } else { "; " })?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn push_literal_merges_same_quoting() {
        let mut word = Word::default();
        word.push_literal("a", false);
        word.push_literal("b", false);
        word.push_literal("c", true);
        word.push_literal("", true);
        assert_eq!(
            word.parts,
            vec![
                WordPart::Literal {
                    text: "ab".into(),
                    quoted: false
                },
                WordPart::Literal {
                    text: "c".into(),
                    quoted: true
                },
            ]
        );
    }

    #[test]
    fn empty_quoted_literal_is_kept_but_empty_unquoted_is_not() {
        let mut word = Word::default();
        word.push_literal("", false);
        assert!(word.parts.is_empty());
        word.push_literal("", true);
        assert_eq!(word.parts.len(), 1);
        assert_eq!(word.to_string(), "''");
    }

    #[test]
    fn display_quotes_and_escapes() {
        let mut word = Word::default();
        word.push_literal("it's", true);
        assert_eq!(word.to_string(), "'it'\\''s'");
        assert_eq!(Word::literal("a b").to_string(), "a\\ b");
        assert_eq!(Word::literal("#x").to_string(), "\\#x");
        assert_eq!(Word::literal("$A").to_string(), "\\$A");
        assert_eq!(Word::literal("a$").to_string(), "a$");
    }

    #[test]
    fn display_redirects_with_default_and_explicit_fds() {
        let show = |fd, kind| {
            let target = match kind {
                RedirectKind::DupWrite(source) | RedirectKind::DupRead(source) => {
                    Word::literal(&source.to_string())
                }
                RedirectKind::Close => Word::literal("-"),
                _ => Word::literal("f"),
            };
            Redirect { fd, kind, target }.to_string()
        };
        assert_eq!(show(1, RedirectKind::Write), ">f");
        assert_eq!(show(2, RedirectKind::Write), "2>f");
        assert_eq!(show(0, RedirectKind::Read), "<f");
        assert_eq!(show(1, RedirectKind::Append), ">>f");
        assert_eq!(show(0, RedirectKind::ReadWrite), "<>f");
        assert_eq!(show(2, RedirectKind::DupWrite(1)), "2>&1");
        assert_eq!(show(0, RedirectKind::DupRead(3)), "<&3");
        assert_eq!(show(1, RedirectKind::Close), "1>&-");
    }

    #[test]
    fn display_escapes_first_word_that_looks_like_assignment() {
        let command = Command {
            assignments: vec![],
            words: vec![Word::literal("A=1")],
            redirects: vec![],
        };
        assert_eq!(command.to_string(), "\\A=1");
    }
}
