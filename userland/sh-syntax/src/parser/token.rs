//! Tokens: operators, newlines (after which pending here-document bodies are
//! read), IO numbers (`2` in `2>file`) and words. Blanks, comments and
//! backslash-newline continuations between tokens are skipped here.

use alloc::rc::Rc;
use alloc::string::String;

use super::Parser;
use crate::ast::{HereDoc, Word, WordPart};
use crate::error::{error, ParseError, ParseErrorKind};

/// One token of shell input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A word and its source text.
    Word(Word, String),
    /// Digits right before `<` or `>`.
    IoNumber(u32),
    Op(&'static str),
    Newline,
    End,
}

impl Token {
    /// The token as the user wrote it (for messages).
    pub(crate) fn text(&self) -> String {
        match self {
            Token::Word(_, raw) => raw.clone(),
            Token::IoNumber(n) => alloc::format!("{n}"),
            Token::Op(op) => String::from(*op),
            Token::Newline => String::from("\n"),
            Token::End => String::from("end of file"),
        }
    }
}

/// Operators, longest first.
const OPERATORS: &[&str] = &[
    "<<-", "&&", "||", ";;", ";&", "<<", ">>", "<&", ">&", "<>", ">|", "(", ")", "&", "|", ";",
    "<", ">",
];

/// Bytes that end an unquoted word.
pub(crate) fn is_meta(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
    )
}

impl Parser<'_> {
    pub(crate) fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// The next token without consuming it.
    pub(crate) fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            self.skip_blanks();
            let start = self.pos;
            let token = self.scan_token()?;
            self.peeked = Some((token, start, self.pos));
        }
        match &self.peeked {
            Some((token, _, _)) => Ok(token),
            None => Ok(&Token::End),
        }
    }

    /// Consumes the next token.
    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        self.peek()?;
        match self.peeked.take() {
            Some((token, _, end)) => {
                self.last_end = end;
                if token == Token::Newline {
                    self.read_here_documents()?;
                }
                Ok(token)
            }
            None => Ok(Token::End),
        }
    }

    /// Skips blanks, comments and line continuations.
    fn skip_blanks(&mut self) {
        loop {
            match self.byte(self.pos) {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\\') if self.byte(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => {
                    while self.byte(self.pos).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn scan_token(&mut self) -> Result<Token, ParseError> {
        let Some(byte) = self.byte(self.pos) else {
            if let Some(heredoc) = self.pending.first() {
                return Err(error(
                    ParseErrorKind::MissingHereDocEnd(heredoc.delimiter.clone()),
                    self.current_line(),
                ));
            }
            return Ok(Token::End);
        };
        if byte == b'\n' {
            self.pos += 1;
            return Ok(Token::Newline);
        }
        let rest = &self.src[self.pos..];
        if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            self.pos += op.len();
            return Ok(Token::Op(op));
        }
        // An IO number: digits directly followed by `<` or `>`.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && matches!(rest.as_bytes().get(digits), Some(b'<' | b'>')) {
            if let Ok(fd) = rest[..digits].parse::<u32>() {
                self.pos += digits;
                return Ok(Token::IoNumber(fd));
            }
        }
        let start = self.pos;
        let word = self.scan_word()?;
        Ok(Token::Word(word, String::from(&self.src[start..self.pos])))
    }

    /// Reads the bodies of the here-documents named on the line just ended.
    fn read_here_documents(&mut self) -> Result<(), ParseError> {
        let pending = core::mem::take(&mut self.pending);
        for heredoc in pending {
            let body_line = self.current_line();
            let mut body = String::new();
            loop {
                if self.pos >= self.src.len() {
                    return Err(error(
                        ParseErrorKind::MissingHereDocEnd(heredoc.delimiter.clone()),
                        self.current_line(),
                    ));
                }
                let rest = &self.src[self.pos..];
                let (line, advance) = match rest.find('\n') {
                    Some(end) => (&rest[..end], end + 1),
                    None => (rest, rest.len()),
                };
                self.pos += advance;
                let line = if heredoc.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == heredoc.delimiter {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            let word = if heredoc.quoted {
                Word {
                    parts: alloc::vec![WordPart::Quoted(body)],
                }
            } else {
                let mut sub = Parser::with_line(&body, body_line);
                sub.scan_here_body()?
            };
            set_body(&heredoc, word);
        }
        Ok(())
    }
}

fn set_body(heredoc: &Rc<HereDoc>, word: Word) {
    *heredoc.body.borrow_mut() = word;
}
