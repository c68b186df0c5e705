//! The Zero OS shell language as pure data and functions: a parser for the
//! POSIX shell command language ([`parse`], [`Parser`]), word expansion
//! against a caller-supplied [`Context`] (parameters, command substitution,
//! arithmetic, field splitting, pathname expansion, quote removal), the
//! arithmetic evaluator, and [`glob_match`] for `*`, `?` and `[...]`.
//!
//! Nothing here does I/O; the shell program owns reading input, running
//! commands and the variables. Input size and nesting depth are bounded
//! ([`MAX_INPUT_LEN`], [`MAX_NESTING`]), so hostile input yields an error
//! rather than a crash.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod arith;
mod ast;
mod error;
mod expand;
mod glob;
mod parser;

pub use ast::*;
pub use error::{ParseError, ParseErrorKind};
pub use expand::{
    expand_pattern, expand_to_string, expand_words, Context, ExpandError, DEFAULT_IFS,
};
pub use glob::glob_match;
pub use parser::{needs_more_input, parse, Parser};

/// Longest input, in bytes, that the parser accepts.
pub const MAX_INPUT_LEN: usize = 4 * 1024 * 1024;

/// Deepest nesting of compound commands and substitutions.
pub const MAX_NESTING: usize = 200;

/// True if `name` is a valid variable name: a letter or `_`, then letters,
/// digits or `_`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first == '_' || first.is_ascii_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::is_valid_name;

    #[test]
    fn valid_names() {
        assert!(is_valid_name("A"));
        assert!(is_valid_name("_x1"));
        assert!(is_valid_name("PATH"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("1A"));
        assert!(!is_valid_name("A-B"));
        assert!(!is_valid_name("é"));
    }
}
