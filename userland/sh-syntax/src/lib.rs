//! The Zero OS shell language as pure data and functions: a lexer, a parser that
//! turns a line (or a whole script file) into a [`Script`], word expansion against
//! a caller-supplied [`Env`], and a small [`glob_match`] for `*`, `?` and `[...]`.
//!
//! Nothing here does I/O; the shell program owns reading lines, running commands
//! and looking variables up. Parsing is iterative (no recursion) and bounded by
//! [`MAX_INPUT_LEN`] and [`MAX_TOKENS`], so hostile input yields a [`ParseError`]
//! rather than a crash.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod ast;
mod error;
mod expand;
mod glob;
pub mod lexer;
mod parser;

pub use ast::{
    AndOr, Command, Connector, Pipeline, Redirect, RedirectKind, Script, Word, WordPart,
};
pub use error::ParseError;
pub use expand::{expand_word, expand_word_to_string, expand_words, Env, DEFAULT_IFS};
pub use glob::glob_match;
pub use parser::{needs_more_input, parse};

/// Longest input, in bytes, that [`parse`] accepts.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Most tokens (words and operators) one input may contain.
pub const MAX_TOKENS: usize = 16 * 1024;

/// Special parameters recognised after `$` (besides the digits `0`..`9`).
pub const SPECIAL_PARAMETERS: &[char] = &['?', '$', '!', '#', '@', '*'];

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
