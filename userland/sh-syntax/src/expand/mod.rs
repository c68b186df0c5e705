//! Word expansion in POSIX order: tilde, parameter, command substitution
//! and arithmetic (left to right), then field splitting by `IFS` (only of
//! what unquoted expansions produced), pathname expansion (only of unquoted
//! pattern characters) and quote removal.
//!
//! Each byte of a field in progress carries where it came from ([`Kind`]),
//! which decides whether it may split a field or act as a pattern
//! character. The shell supplies variables, command output and directory
//! listings through [`Context`].

mod param;
mod pathname;
#[cfg(test)]
mod tests;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::arith::{self, ArithError, ArithVars};
use crate::ast::{Program, Word, WordPart};

/// `IFS` when it is unset.
pub const DEFAULT_IFS: &str = " \t\n";

/// What expansion needs from the shell.
pub trait Context {
    /// A variable, positional parameter (`"1"`) or special parameter
    /// (`"?"`, `"#"`, `"$"`, `"!"`, `"-"`, `"0"`); `None` if unset.
    fn var(&mut self, name: &str) -> Option<String>;
    /// The positional parameters `$1`...
    fn positional(&mut self) -> Vec<String>;
    /// Sets a variable (`${x:=w}`, arithmetic assignment); the error is the
    /// message to show.
    fn set_var(&mut self, name: &str, value: &str) -> Result<(), String>;
    /// Runs a command substitution and returns its standard output.
    fn command_output(&mut self, program: &Program) -> Result<String, ExpandError>;
    /// The names in a directory (`None` if it cannot be read).
    fn read_dir(&mut self, path: &str) -> Option<Vec<String>>;
    /// The home directory of `user`.
    fn home(&mut self, user: &str) -> Option<String> {
        let _ = user;
        None
    }
    /// `set -u`: expanding an unset parameter is an error.
    fn nounset(&self) -> bool {
        false
    }
    /// `set -f`: no pathname expansion.
    fn noglob(&self) -> bool {
        false
    }
}

/// Why a word could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// `set -u` and an unset parameter.
    Unset(String),
    /// `${x?message}` with `x` unset (or null with `:`).
    Required {
        name: String,
        message: String,
    },
    /// `${1=w}` and the like: only variables can be assigned.
    CannotAssign(String),
    /// A refused assignment (readonly); the message.
    Assign(String),
    Arith(ArithError),
    /// A command substitution failed to run; the message.
    Command(String),
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::Unset(name) => write!(f, "{name}: parameter not set"),
            ExpandError::Required { name, message } => write!(f, "{name}: {message}"),
            ExpandError::CannotAssign(name) => write!(f, "${name}: cannot assign in this way"),
            ExpandError::Assign(message) | ExpandError::Command(message) => f.write_str(message),
            ExpandError::Arith(error) => write!(f, "{error}"),
        }
    }
}

/// Where a byte of a field came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Unquoted source text: may be a pattern character, never splits.
    Literal,
    /// The result of an unquoted expansion: splits and may be a pattern.
    Expanded,
    /// Quoted: neither.
    Quoted,
}

/// A field being built.
#[derive(Clone, Debug, Default)]
struct Field {
    text: String,
    kinds: Vec<Kind>,
    /// It had quotes, so it survives even when empty.
    quoted: bool,
}

impl Field {
    fn push(&mut self, text: &str, kind: Kind) {
        self.text.push_str(text);
        self.kinds.extend(core::iter::repeat_n(kind, text.len()));
    }

    /// The text with pattern characters that must match literally escaped.
    fn pattern(&self) -> String {
        let mut out = String::new();
        for (index, c) in self.text.char_indices() {
            if self.kinds[index] == Kind::Quoted && matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    /// True if an unquoted `*` or `?`, or an unquoted `[` with a `]` after
    /// it, makes this a pattern (a lone `[`, as in `[ -n x ]`, is not).
    fn has_pattern(&self) -> bool {
        let active = |index: usize| self.kinds[index] != Kind::Quoted;
        let mut open_bracket = false;
        for (index, c) in self.text.char_indices() {
            match c {
                '*' | '?' if active(index) => return true,
                '[' if active(index) => open_bracket = true,
                ']' if open_bracket => return true,
                _ => {}
            }
        }
        false
    }
}

/// The expansion state of one word.
struct Expansion<'c> {
    ctx: &'c mut dyn Context,
    fields: Vec<Field>,
    /// How unquoted source text counts: `Expanded` inside `${x:-word}`,
    /// whose result is split like any expansion.
    literal: Kind,
}

impl Expansion<'_> {
    fn current(&mut self) -> &mut Field {
        if self.fields.is_empty() {
            self.fields.push(Field::default());
        }
        let last = self.fields.len() - 1;
        &mut self.fields[last]
    }

    fn push(&mut self, text: &str, quoted: bool) {
        let kind = if quoted { Kind::Quoted } else { Kind::Expanded };
        self.current().push(text, kind);
    }

    /// Starts a new field (between the words of `$@`).
    fn break_field(&mut self, quoted: bool) {
        self.current();
        self.fields.push(Field {
            quoted,
            ..Field::default()
        });
    }

    fn parts(&mut self, parts: &[WordPart], quoted: bool) -> Result<(), ExpandError> {
        for part in parts {
            match part {
                WordPart::Literal(text) => {
                    let kind = if quoted { Kind::Quoted } else { self.literal };
                    self.current().push(text, kind);
                }
                WordPart::Quoted(text) => {
                    let field = self.current();
                    field.push(text, Kind::Quoted);
                    field.quoted = true;
                }
                WordPart::Double(inner) => {
                    let only_at = matches!(inner.as_slice(),
                        [WordPart::Param(p)] if p.name == "@" && p.op == crate::ParamOp::Plain);
                    if !(only_at && self.ctx.positional().is_empty()) {
                        self.current().quoted = true;
                    }
                    self.parts(inner, true)?;
                }
                WordPart::Param(param) => self.param(param, quoted)?,
                WordPart::Command(program) => {
                    let mut output = self.ctx.command_output(program)?;
                    let trimmed = output.trim_end_matches('\n').len();
                    output.truncate(trimmed);
                    self.push(&output, quoted);
                }
                WordPart::Arith(expression) => {
                    let text = expand_to_string(expression, self.ctx)?;
                    let value = arith::evaluate(&text, &mut ArithContext(self.ctx))
                        .map_err(ExpandError::Arith)?;
                    self.push(&value.to_string(), quoted);
                }
                WordPart::Tilde(user) => {
                    let home = if user.is_empty() {
                        self.ctx.var("HOME")
                    } else {
                        self.ctx.home(user)
                    };
                    match home {
                        Some(home) => self.push(&home, true),
                        None => self
                            .current()
                            .push(&alloc::format!("~{user}"), Kind::Literal),
                    }
                }
            }
        }
        Ok(())
    }
}

/// Arithmetic's view of the shell's variables.
struct ArithContext<'a>(&'a mut dyn Context);

impl ArithVars for ArithContext<'_> {
    fn get(&mut self, name: &str) -> Option<String> {
        self.0.var(name)
    }
    fn set(&mut self, name: &str, value: i64) -> Result<(), String> {
        self.0.set_var(name, &value.to_string())
    }
}

/// Expands words into fields: all expansions, field splitting, pathname
/// expansion and quote removal.
pub fn expand_words(words: &[Word], ctx: &mut dyn Context) -> Result<Vec<String>, ExpandError> {
    let mut out = Vec::new();
    let mut ifs: Option<String> = None;
    for word in words {
        // Fast path: plain text without pattern characters is itself.
        if let Some(text) = word.as_plain() {
            if !text.contains(['*', '?', '[']) {
                out.push(String::from(text));
                continue;
            }
        }
        let mut expansion = Expansion {
            ctx: &mut *ctx,
            fields: Vec::new(),
            literal: Kind::Literal,
        };
        expansion.parts(&word.parts, false)?;
        let fields = expansion.fields;
        let ifs =
            ifs.get_or_insert_with(|| ctx.var("IFS").unwrap_or_else(|| DEFAULT_IFS.to_string()));
        for field in fields {
            for piece in split_field(field, ifs) {
                if piece.has_pattern() && !ctx.noglob() {
                    let matches = pathname::expand(&piece.pattern(), ctx);
                    if !matches.is_empty() {
                        out.extend(matches);
                        continue;
                    }
                }
                out.push(piece.text);
            }
        }
    }
    Ok(out)
}

/// Expands a word to one string: no field splitting or pathname expansion
/// (assignments, redirection targets, `case` words, here-documents).
pub fn expand_to_string(word: &Word, ctx: &mut dyn Context) -> Result<String, ExpandError> {
    Ok(expand_joined(word, ctx)?.text)
}

/// Expands a word to a pattern for `case` and `${x#pattern}`: quoted
/// characters are escaped so that they match literally.
pub fn expand_pattern(word: &Word, ctx: &mut dyn Context) -> Result<String, ExpandError> {
    Ok(expand_joined(word, ctx)?.pattern())
}

fn expand_joined(word: &Word, ctx: &mut dyn Context) -> Result<Field, ExpandError> {
    let mut expansion = Expansion {
        ctx,
        fields: Vec::new(),
        literal: Kind::Literal,
    };
    expansion.parts(&word.parts, false)?;
    let mut joined = Field::default();
    for (index, field) in expansion.fields.iter().enumerate() {
        if index > 0 {
            joined.push(" ", Kind::Quoted);
        }
        joined.text.push_str(&field.text);
        joined.kinds.extend_from_slice(&field.kinds);
    }
    Ok(joined)
}

/// Splits a field at unquoted-expansion bytes that are in `ifs`.
fn split_field(field: Field, ifs: &str) -> Vec<Field> {
    let splits = |index: usize, c: char| field.kinds[index] == Kind::Expanded && ifs.contains(c);
    if !field.text.char_indices().any(|(i, c)| splits(i, c)) {
        if field.text.is_empty() && !field.quoted {
            return Vec::new();
        }
        return alloc::vec![field];
    }
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n');
    let mut out = Vec::new();
    let mut current = Field::default();
    let mut started = field.quoted && field.kinds.first() == Some(&Kind::Quoted);
    let chars: Vec<(usize, char)> = field.text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (index, c) = chars[i];
        if !splits(index, c) {
            let end = chars.get(i + 1).map_or(field.text.len(), |(next, _)| *next);
            current.push(&field.text[index..end], field.kinds[index]);
            if field.kinds[index] == Kind::Quoted {
                current.quoted = true;
            }
            started = true;
            i += 1;
            continue;
        }
        // One delimiter: IFS white space, at most one other IFS character,
        // then IFS white space.
        let mut hard = false;
        while i < chars.len() && splits(chars[i].0, chars[i].1) {
            let c = chars[i].1;
            if is_space(c) {
                i += 1;
            } else if !hard {
                hard = true;
                i += 1;
            } else {
                break;
            }
        }
        if started || hard {
            out.push(core::mem::take(&mut current));
        }
        current = Field::default();
        started = false;
    }
    if started {
        out.push(current);
    }
    out
}
