//! Errors from lexing and parsing shell input. Each prints a one-line message in
//! the style of other shells (`syntax error near unexpected token `|'`), which the
//! shell shows to the user before carrying on with the next line.

use alloc::string::String;
use core::fmt::{self, Write as _};

use crate::{MAX_INPUT_LEN, MAX_TOKENS};

/// Why a line or script could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A `'` with no closing `'`.
    UnterminatedSingleQuote,
    /// A `"` with no closing `"`.
    UnterminatedDoubleQuote,
    /// A `${` with no closing `}`.
    UnterminatedBrace,
    /// `${...}` holding something other than a name or special parameter.
    BadSubstitution(String),
    /// An operator where it is not allowed, e.g. `)` or `;;`.
    UnexpectedToken(String),
    /// A redirection operator with no file name after it, e.g. `echo >`.
    MissingRedirectTarget(String),
    /// A control operator with no command before it, e.g. `| foo` or `; a`.
    EmptyCommand(String),
    /// Input ends right after an operator that needs a command, e.g. `a &&`.
    MissingCommandAfter(String),
    /// A `\` as the very last character of the input.
    TrailingBackslash,
    /// A descriptor number before a redirection that does not fit in a `u32`.
    BadFileDescriptor(String),
    /// `>&` / `<&` followed by something other than a number or `-`.
    BadDupTarget { operator: String, target: String },
    /// Valid shell syntax that this shell does not implement (here-documents,
    /// command substitution, subshells...).
    Unsupported(&'static str),
    /// The input is longer than [`MAX_INPUT_LEN`] bytes.
    InputTooLong(usize),
    /// The input has more than [`MAX_TOKENS`] tokens.
    TooManyTokens,
}

/// Shows user-supplied text on one line: control characters are escaped and
/// long text is cut short.
struct Excerpt<'a>(&'a str);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 40;
        for (index, c) in self.0.chars().enumerate() {
            if index == MAX_CHARS {
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
        match self {
            ParseError::UnterminatedSingleQuote => {
                f.write_str("syntax error: unterminated single quote (missing `'')")
            }
            ParseError::UnterminatedDoubleQuote => {
                f.write_str("syntax error: unterminated double quote (missing `\"')")
            }
            ParseError::UnterminatedBrace => {
                f.write_str("syntax error: unterminated `${' (missing `}')")
            }
            ParseError::BadSubstitution(inner) => {
                write!(
                    f,
                    "syntax error: bad substitution `${{{}}}'",
                    Excerpt(inner)
                )
            }
            ParseError::UnexpectedToken(token) | ParseError::EmptyCommand(token) => {
                write!(f, "syntax error near unexpected token `{}'", Excerpt(token))
            }
            ParseError::MissingRedirectTarget(operator) => {
                write!(
                    f,
                    "syntax error: missing file name after `{}'",
                    Excerpt(operator)
                )
            }
            ParseError::MissingCommandAfter(operator) => {
                write!(
                    f,
                    "syntax error: missing command after `{}'",
                    Excerpt(operator)
                )
            }
            ParseError::TrailingBackslash => {
                f.write_str("syntax error: `\\' at end of input escapes nothing")
            }
            ParseError::BadFileDescriptor(text) => {
                write!(f, "syntax error: bad file descriptor `{}'", Excerpt(text))
            }
            ParseError::BadDupTarget { operator, target } => write!(
                f,
                "syntax error: `{}' needs a file descriptor number or `-', not `{}'",
                Excerpt(operator),
                Excerpt(target)
            ),
            ParseError::Unsupported(feature) => {
                write!(f, "syntax error: {feature} not supported")
            }
            ParseError::InputTooLong(length) => write!(
                f,
                "input too long: {length} bytes (limit is {MAX_INPUT_LEN})"
            ),
            ParseError::TooManyTokens => {
                write!(
                    f,
                    "input too long: more than {MAX_TOKENS} words and operators"
                )
            }
        }
    }
}

impl core::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages_stay_on_one_line_and_short() {
        let message = ParseError::BadSubstitution("a\nb".into()).to_string();
        assert_eq!(message, "syntax error: bad substitution `${a\\nb}'");
        let long = "x".repeat(100);
        let message = ParseError::BadDupTarget {
            operator: ">&".into(),
            target: long,
        }
        .to_string();
        assert!(message.ends_with(&alloc::format!("not `{}...'", "x".repeat(40))));
    }

    #[test]
    fn every_variant_has_a_message() {
        let all = [
            ParseError::UnterminatedSingleQuote,
            ParseError::UnterminatedDoubleQuote,
            ParseError::UnterminatedBrace,
            ParseError::BadSubstitution("x".into()),
            ParseError::UnexpectedToken(")".into()),
            ParseError::MissingRedirectTarget(">".into()),
            ParseError::EmptyCommand("|".into()),
            ParseError::MissingCommandAfter("&&".into()),
            ParseError::TrailingBackslash,
            ParseError::BadFileDescriptor("9999999999".into()),
            ParseError::Unsupported("here-documents"),
            ParseError::InputTooLong(70000),
            ParseError::TooManyTokens,
        ];
        for error in all {
            let message = error.to_string();
            assert!(!message.is_empty() && !message.contains('\n'), "{message}");
        }
    }
}
