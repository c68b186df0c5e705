//! Errors from parsing shell input. Each prints a one-line message in the
//! style of other shells (`line 3: syntax error near unexpected token `fi'`).
//! [`ParseError::incomplete`] tells an interactive shell that more lines
//! could finish the command (an open quote, `if` without `fi`, ...).

use alloc::string::String;
use core::fmt::{self, Write as _};

/// Why the input could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// 1-based line where the problem was found.
    pub line: u32,
}

/// The kinds of [`ParseError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Input ended inside a construct; `what` names it (`'`, `$(`, `if`...).
    UnexpectedEnd(&'static str),
    /// A token where the grammar does not allow it.
    UnexpectedToken(String),
    /// `${...}` that is not a parameter expansion.
    BadSubstitution(String),
    /// A here-document whose delimiter line never came.
    MissingHereDocEnd(String),
    /// Nesting deeper than [`crate::MAX_NESTING`].
    TooDeep,
    /// Input longer than [`crate::MAX_INPUT_LEN`] bytes.
    InputTooLong(usize),
    /// A function name that is not a valid name.
    BadFunctionName(String),
}

impl ParseError {
    /// True if more input could complete the command.
    pub fn incomplete(&self) -> bool {
        matches!(
            self.kind,
            ParseErrorKind::UnexpectedEnd(_) | ParseErrorKind::MissingHereDocEnd(_)
        )
    }
}

/// Shows user text on one line: control characters escaped, long text cut.
struct Excerpt<'a>(&'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, c) in self.0.chars().enumerate() {
            if index == 40 {
                return f.write_str("...");
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            ParseErrorKind::UnexpectedEnd(what) => {
                write!(f, "syntax error: unexpected end of file (unclosed {what})")
            }
            ParseErrorKind::UnexpectedToken(token) => {
                write!(f, "syntax error near unexpected token `{}'", Excerpt(token))
            }
            ParseErrorKind::BadSubstitution(text) => {
                write!(f, "bad substitution: ${{{}}}", Excerpt(text))
            }
            ParseErrorKind::MissingHereDocEnd(delimiter) => write!(
                f,
                "here-document ended by end of file (wanted `{}')",
                Excerpt(delimiter)
            ),
            ParseErrorKind::TooDeep => write!(
                f,
                "syntax error: nested more than {} levels deep",
                crate::MAX_NESTING
            ),
            ParseErrorKind::InputTooLong(length) => write!(
                f,
                "input too long ({length} bytes; the limit is {})",
                crate::MAX_INPUT_LEN
            ),
            ParseErrorKind::BadFunctionName(name) => {
                write!(f, "`{}' is not a valid function name", Excerpt(name))
            }
        }
    }
}

/// Shorthand for building errors.
pub(crate) fn error(kind: ParseErrorKind, line: u32) -> ParseError {
    ParseError { kind, line }
}

/// The text of a token for messages.
pub(crate) fn token_text(text: &str) -> String {
    if text == "\n" {
        String::from("newline")
    } else {
        String::from(text)
    }
}
