//! Scanning one word: quotes, backslashes, `$name`, `${...}`, `$(...)`,
//! backquotes, `$((...))` and a leading tilde, into [`WordPart`]s. The
//! same scanner reads here-document bodies (where only `$`, backquote and
//! backslash are special) and the inside of `${...}` and `$((...))`.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::token::is_meta;
use super::{Parser, Token};
use crate::ast::{Param, ParamOp, Word, WordPart};
use crate::error::{error, ParseError, ParseErrorKind};
use crate::is_valid_name;

/// Where the scanner is, which decides what ends a word and what is special.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An ordinary word: ends at a metacharacter.
    Word,
    /// The word of `${x:-word}`: ends at `}`; `in_double`: inside `"..."`.
    Brace { in_double: bool },
    /// A here-document body: ends at the end of the text.
    HereBody,
}

/// Appends literal text to `parts`, merging with a literal before it.
fn push_text(parts: &mut Vec<WordPart>, text: &str, quoted: bool) {
    match (parts.last_mut(), quoted) {
        (Some(WordPart::Literal(last)), false) | (Some(WordPart::Quoted(last)), true) => {
            last.push_str(text)
        }
        _ => parts.push(if quoted {
            WordPart::Quoted(text.to_string())
        } else {
            WordPart::Literal(text.to_string())
        }),
    }
}

/// Splits `NAME=value` (NAME unquoted and valid) into the name and value.
pub(crate) fn split_assignment(word: &Word) -> Option<(String, Word)> {
    let WordPart::Literal(first) = word.parts.first()? else {
        return None;
    };
    let equals = first.find('=')?;
    let name = &first[..equals];
    if !is_valid_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    let value = &first[equals + 1..];
    let rest_start = parts.len();
    if !value.is_empty() {
        parts.push(WordPart::Literal(value.to_string()));
    }
    parts.extend(word.parts[1..].iter().cloned());
    let _ = rest_start;
    let mut value = Word { parts };
    tilde_in_assignment(&mut value);
    Some((name.to_string(), value))
}

/// `~` at the start of an assignment value becomes a tilde prefix.
fn tilde_in_assignment(value: &mut Word) {
    let Some(WordPart::Literal(text)) = value.parts.first() else {
        return;
    };
    let Some(rest) = text.strip_prefix('~') else {
        return;
    };
    let user_len = rest.find(['/', ':']).unwrap_or(rest.len());
    if user_len == rest.len() && value.parts.len() > 1 {
        return;
    }
    let user = rest[..user_len].to_string();
    let after = rest[user_len..].to_string();
    let mut parts = alloc::vec![WordPart::Tilde(user)];
    if !after.is_empty() {
        parts.push(WordPart::Literal(after));
    }
    parts.extend(value.parts.drain(1..));
    value.parts = parts;
}

fn is_name_start(byte: u8) -> bool {
    byte == b'_' || byte.is_ascii_alphabetic()
}

fn is_name_byte(byte: u8) -> bool {
    byte == b'_' || byte.is_ascii_alphanumeric()
}

impl Parser<'_> {
    fn end_error(&mut self, what: &'static str) -> ParseError {
        error(ParseErrorKind::UnexpectedEnd(what), self.current_line())
    }

    /// The character at the position (whole UTF-8 character).
    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|rest| rest.chars().next())
    }

    /// An ordinary word, starting at the current position.
    pub(crate) fn scan_word(&mut self) -> Result<Word, ParseError> {
        let mut parts = Vec::new();
        if self.byte(self.pos) == Some(b'~') {
            let rest = &self.src[self.pos + 1..];
            let user_len = rest
                .bytes()
                .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
                .count();
            let after = rest.as_bytes().get(user_len).copied();
            if after.is_none() || after == Some(b'/') || after.is_some_and(is_meta) {
                parts.push(WordPart::Tilde(rest[..user_len].to_string()));
                self.pos += 1 + user_len;
            }
        }
        self.scan_parts(&mut parts, Mode::Word)?;
        Ok(Word { parts })
    }

    /// A here-document body (the whole text of this parser).
    pub(crate) fn scan_here_body(&mut self) -> Result<Word, ParseError> {
        let mut parts = Vec::new();
        self.scan_parts(&mut parts, Mode::HereBody)?;
        Ok(Word { parts })
    }

    fn scan_parts(&mut self, parts: &mut Vec<WordPart>, mode: Mode) -> Result<(), ParseError> {
        let in_double = matches!(mode, Mode::Brace { in_double: true });
        loop {
            let Some(byte) = self.byte(self.pos) else {
                return match mode {
                    Mode::Brace { .. } => Err(self.end_error("${")),
                    _ => Ok(()),
                };
            };
            match (mode, byte) {
                (Mode::Word, b) if is_meta(b) => return Ok(()),
                (Mode::Brace { .. }, b'}') => return Ok(()),
                (_, b'\\') => {
                    self.pos += 1;
                    match self.char_at(self.pos) {
                        Some('\n') => self.pos += 1,
                        None => push_text(parts, "\\", mode == Mode::HereBody),
                        Some(c) if mode == Mode::HereBody || in_double => {
                            if matches!(c, '$' | '`' | '\\') || (in_double && c == '}') {
                                push_text(parts, c.encode_utf8(&mut [0; 4]), true);
                            } else {
                                push_text(parts, "\\", true);
                                push_text(parts, c.encode_utf8(&mut [0; 4]), true);
                            }
                            self.pos += c.len_utf8();
                        }
                        Some(c) => {
                            push_text(parts, c.encode_utf8(&mut [0; 4]), true);
                            self.pos += c.len_utf8();
                        }
                    }
                }
                (Mode::Word | Mode::Brace { in_double: false }, b'\'') => {
                    let start = self.pos + 1;
                    let Some(length) = self.src[start..].find('\'') else {
                        return Err(self.end_error("'"));
                    };
                    parts.push(WordPart::Quoted(
                        self.src[start..start + length].to_string(),
                    ));
                    self.pos = start + length + 1;
                }
                (Mode::Word | Mode::Brace { .. }, b'"') => {
                    self.pos += 1;
                    let inner = self.scan_double()?;
                    parts.push(WordPart::Double(inner));
                }
                (_, b'$') => {
                    let part = self.scan_dollar(in_double || mode == Mode::HereBody)?;
                    match part {
                        Some(part) => parts.push(part),
                        None => push_text(parts, "$", in_double || mode == Mode::HereBody),
                    }
                }
                (_, b'`') => {
                    let part = self.scan_backquote(in_double || mode == Mode::HereBody)?;
                    parts.push(part);
                }
                _ => {
                    let start = self.pos;
                    while let Some(b) = self.byte(self.pos) {
                        let stop = matches!(b, b'\\' | b'$' | b'`' | b'\'' | b'"' | b'}')
                            || (mode == Mode::Word && is_meta(b));
                        if stop && self.pos > start {
                            break;
                        }
                        self.pos += 1;
                        if stop {
                            break;
                        }
                    }
                    let quoted = in_double || mode == Mode::HereBody;
                    let text = &self.src[start..self.pos];
                    push_text(parts, text, quoted);
                }
            }
        }
    }

    /// The inside of `"..."`, after the opening quote; consumes the closing one.
    fn scan_double(&mut self) -> Result<Vec<WordPart>, ParseError> {
        let mut parts = Vec::new();
        loop {
            let Some(byte) = self.byte(self.pos) else {
                return Err(self.end_error("\""));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    if parts.is_empty() {
                        parts.push(WordPart::Quoted(String::new()));
                    }
                    return Ok(parts);
                }
                b'\\' => {
                    self.pos += 1;
                    match self.char_at(self.pos) {
                        Some('\n') => self.pos += 1,
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            push_text(&mut parts, c.encode_utf8(&mut [0; 4]), true);
                            self.pos += 1;
                        }
                        _ => push_text(&mut parts, "\\", true),
                    }
                }
                b'$' => match self.scan_dollar(true)? {
                    Some(part) => parts.push(part),
                    None => push_text(&mut parts, "$", true),
                },
                b'`' => {
                    let part = self.scan_backquote(true)?;
                    parts.push(part);
                }
                _ => {
                    let start = self.pos;
                    while self
                        .byte(self.pos)
                        .is_some_and(|b| !matches!(b, b'"' | b'\\' | b'$' | b'`'))
                    {
                        self.pos += 1;
                    }
                    let text = &self.src[start..self.pos];
                    push_text(&mut parts, text, true);
                }
            }
        }
    }

    /// After a `$`: a parameter, `${...}`, `$(...)` or `$((...))`. `None`
    /// (with the `$` consumed) when the `$` is literal.
    fn scan_dollar(&mut self, in_double: bool) -> Result<Option<WordPart>, ParseError> {
        self.pos += 1;
        let Some(byte) = self.byte(self.pos) else {
            return Ok(None);
        };
        let simple = |name: String| {
            Some(WordPart::Param(Box::new(Param {
                name,
                op: ParamOp::Plain,
                word: Word::default(),
            })))
        };
        match byte {
            b'{' => {
                self.pos += 1;
                self.enter()?;
                let part = self.scan_brace_param(in_double)?;
                self.leave();
                Ok(Some(part))
            }
            b'(' if self.byte(self.pos + 1) == Some(b'(') => {
                let save = self.pos;
                self.pos += 2;
                self.enter()?;
                let arith = self.scan_arith()?;
                self.leave();
                match arith {
                    Some(word) => Ok(Some(WordPart::Arith(word))),
                    None => {
                        self.pos = save;
                        self.scan_command_substitution().map(Some)
                    }
                }
            }
            b'(' => self.scan_command_substitution().map(Some),
            b if is_name_start(b) => {
                let start = self.pos;
                while self.byte(self.pos).is_some_and(is_name_byte) {
                    self.pos += 1;
                }
                Ok(simple(self.src[start..self.pos].to_string()))
            }
            b if b.is_ascii_digit()
                || matches!(b, b'?' | b'$' | b'!' | b'#' | b'@' | b'*' | b'-') =>
            {
                self.pos += 1;
                Ok(simple((b as char).to_string()))
            }
            _ => Ok(None),
        }
    }

    /// `$( list )`, at the `(`.
    fn scan_command_substitution(&mut self) -> Result<WordPart, ParseError> {
        self.pos += 1;
        self.enter()?;
        // The word scanner runs with no token read ahead.
        let saved_peek = self.peeked.take();
        let saved_end = self.last_end;
        let program = self.parse_list(false)?;
        match self.next_token()? {
            Token::Op(")") => {}
            Token::End => return Err(self.end_error("$(")),
            token => return Err(self.unexpected(&token)),
        }
        self.peeked = saved_peek;
        self.last_end = saved_end;
        self.leave();
        Ok(WordPart::Command(Rc::new(program)))
    }

    /// A backquoted command, at the opening backquote.
    fn scan_backquote(&mut self, in_double: bool) -> Result<WordPart, ParseError> {
        self.pos += 1;
        let line = self.current_line();
        let mut text = String::new();
        loop {
            let Some(c) = self.char_at(self.pos) else {
                return Err(self.end_error("`"));
            };
            self.pos += c.len_utf8();
            match c {
                '`' => break,
                '\\' => match self.char_at(self.pos) {
                    Some(next @ ('$' | '`' | '\\')) => {
                        text.push(next);
                        self.pos += 1;
                    }
                    Some('"') if in_double => {
                        text.push('"');
                        self.pos += 1;
                    }
                    _ => text.push('\\'),
                },
                c => text.push(c),
            }
        }
        self.enter()?;
        let mut sub = Parser::with_line(&text, line);
        sub.depth = self.depth;
        let program = sub.parse_list(false)?;
        match sub.next_token()? {
            Token::End => {}
            token => return Err(sub.unexpected(&token)),
        }
        self.leave();
        Ok(WordPart::Command(Rc::new(program)))
    }

    /// `$((expr))` after the `$((`: the expression as a word, or `None` if
    /// the parentheses do not close with `))` (then it is `$( (...) )`).
    fn scan_arith(&mut self) -> Result<Option<Word>, ParseError> {
        let mut parts = Vec::new();
        let mut depth = 0usize;
        loop {
            let Some(byte) = self.byte(self.pos) else {
                return Err(self.end_error("$(("));
            };
            match byte {
                b'(' => {
                    depth += 1;
                    push_text(&mut parts, "(", true);
                    self.pos += 1;
                }
                b')' if depth > 0 => {
                    depth -= 1;
                    push_text(&mut parts, ")", true);
                    self.pos += 1;
                }
                b')' => {
                    if self.byte(self.pos + 1) == Some(b')') {
                        self.pos += 2;
                        return Ok(Some(Word { parts }));
                    }
                    return Ok(None);
                }
                b'$' => match self.scan_dollar(true)? {
                    Some(part) => parts.push(part),
                    None => push_text(&mut parts, "$", true),
                },
                b'`' => {
                    let part = self.scan_backquote(true)?;
                    parts.push(part);
                }
                b'"' => {
                    self.pos += 1;
                    let inner = self.scan_double()?;
                    parts.push(WordPart::Double(inner));
                }
                b'\'' => {
                    let start = self.pos + 1;
                    let Some(length) = self.src[start..].find('\'') else {
                        return Err(self.end_error("'"));
                    };
                    push_text(&mut parts, &self.src[start..start + length], true);
                    self.pos = start + length + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if let Some(c) = self.char_at(self.pos) {
                        if c != '\n' {
                            push_text(&mut parts, c.encode_utf8(&mut [0; 4]), true);
                        }
                        self.pos += c.len_utf8();
                    }
                }
                _ => {
                    let c = self.char_at(self.pos).unwrap_or(' ');
                    push_text(&mut parts, c.encode_utf8(&mut [0; 4]), true);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// `${...}` after the `${`.
    fn scan_brace_param(&mut self, in_double: bool) -> Result<WordPart, ParseError> {
        let start = self.pos;
        let bad = |parser: &mut Parser<'_>| {
            let end = parser.src[start..]
                .find('}')
                .map_or(parser.src.len(), |n| start + n);
            let text = parser.src[start..end].to_string();
            if end >= parser.src.len() {
                return parser.end_error("${");
            }
            error(ParseErrorKind::BadSubstitution(text), parser.current_line())
        };
        // `${#name}`: the length (but `${#}` and `${#-w}` are about `$#`).
        let mut length = false;
        if self.byte(self.pos) == Some(b'#') {
            let next = self.byte(self.pos + 1);
            let after_special = self.byte(self.pos + 2);
            let length_follows = match next {
                Some(b'}') | None => false,
                Some(b) if is_name_start(b) || b.is_ascii_digit() => true,
                Some(b'?' | b'$' | b'!' | b'#' | b'@' | b'*' | b'-') => after_special == Some(b'}'),
                _ => false,
            };
            if length_follows {
                length = true;
                self.pos += 1;
            }
        }
        let name_start = self.pos;
        match self.byte(self.pos) {
            Some(b) if is_name_start(b) => {
                while self.byte(self.pos).is_some_and(is_name_byte) {
                    self.pos += 1;
                }
            }
            Some(b) if b.is_ascii_digit() => {
                while self.byte(self.pos).is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
            Some(b'?' | b'$' | b'!' | b'#' | b'@' | b'*' | b'-') => self.pos += 1,
            _ => return Err(bad(self)),
        }
        let name = self.src[name_start..self.pos].to_string();
        let op = if length {
            ParamOp::Length
        } else {
            let colon = self.byte(self.pos) == Some(b':');
            let at = if colon { self.pos + 1 } else { self.pos };
            let mut extra = 0;
            let op = match self.byte(at) {
                Some(b'}') if !colon => ParamOp::Plain,
                Some(b'-') => ParamOp::Default { colon },
                Some(b'=') => ParamOp::Assign { colon },
                Some(b'?') => ParamOp::Error { colon },
                Some(b'+') => ParamOp::Alternative { colon },
                Some(b'%') if !colon => {
                    if self.byte(at + 1) == Some(b'%') {
                        extra = 1;
                        ParamOp::RemoveLargestSuffix
                    } else {
                        ParamOp::RemoveSmallestSuffix
                    }
                }
                Some(b'#') if !colon => {
                    if self.byte(at + 1) == Some(b'#') {
                        extra = 1;
                        ParamOp::RemoveLargestPrefix
                    } else {
                        ParamOp::RemoveSmallestPrefix
                    }
                }
                None => return Err(self.end_error("${")),
                _ => return Err(bad(self)),
            };
            if op != ParamOp::Plain {
                self.pos = at + 1 + extra;
            }
            op
        };
        let mut word = Word::default();
        // A pattern (`${x#pattern}`) is not quoted by double quotes around
        // the expansion; the word of `${x:-word}` is.
        let pattern = matches!(
            op,
            ParamOp::RemoveSmallestPrefix
                | ParamOp::RemoveLargestPrefix
                | ParamOp::RemoveSmallestSuffix
                | ParamOp::RemoveLargestSuffix
        );
        if !matches!(op, ParamOp::Plain | ParamOp::Length) {
            let in_double = in_double && !pattern;
            self.scan_parts(&mut word.parts, Mode::Brace { in_double })?;
        }
        if self.byte(self.pos) != Some(b'}') {
            return Err(bad(self));
        }
        self.pos += 1;
        Ok(WordPart::Param(Box::new(Param { name, op, word })))
    }
}
