//! The grammar of the POSIX shell command language, by recursive descent:
//! lists, and-or lists, pipelines, simple and compound commands, function
//! definitions, redirections and here-documents. Reserved words are only
//! recognised in command position. Words are scanned in [`word`]; tokens in
//! [`token`].
//!
//! Nesting is bounded by [`crate::MAX_NESTING`] so that hostile input gives
//! an error instead of exhausting the stack.

mod compound;
#[cfg(test)]
mod tests;
mod token;
mod word;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::ast::*;
use crate::error::{error, token_text, ParseError, ParseErrorKind};
use crate::is_valid_name;
pub(crate) use token::Token;

/// Parses a whole script or line.
pub fn parse(text: &str) -> Result<Program, ParseError> {
    let mut parser = Parser::new(text);
    let program = parser.parse_list(false)?;
    match parser.next_token()? {
        Token::End => Ok(program),
        token => Err(parser.unexpected(&token)),
    }
}

/// True if `text` is an unfinished command that more lines could complete.
pub fn needs_more_input(text: &str) -> bool {
    // A line ending in an unescaped backslash continues on the next one.
    let trailing = text.bytes().rev().take_while(|&b| b == b'\\').count();
    if trailing % 2 == 1 && !matches!(parse(text), Err(ref e) if !e.incomplete()) {
        return true;
    }
    matches!(parse(text), Err(error) if error.incomplete())
}

/// A parser over one text. [`Parser::next_command`] yields one complete
/// command (up to a newline) at a time, as a shell runs a script.
pub struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Line number of `line_pos` (for `$LINENO` and messages).
    line: u32,
    line_pos: usize,
    base_line: u32,
    /// A token read ahead: (token, its start, its end).
    peeked: Option<(Token, usize, usize)>,
    /// Where the last consumed token ended.
    last_end: usize,
    /// Here-documents named on the current line, read after its newline.
    pending: Vec<Rc<HereDoc>>,
    depth: usize,
}

fn is_closing_word(text: &str) -> bool {
    matches!(
        text,
        "then" | "elif" | "else" | "fi" | "do" | "done" | "esac" | "}"
    )
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str) -> Parser<'a> {
        Parser::with_line(src, 1)
    }

    pub(crate) fn with_line(src: &'a str, line: u32) -> Parser<'a> {
        Parser {
            src,
            pos: 0,
            line: 0,
            line_pos: 0,
            base_line: line,
            peeked: None,
            last_end: 0,
            pending: Vec::new(),
            depth: 0,
        }
    }

    /// The next complete command (one line's worth, more if a compound
    /// command spans lines); `None` at end of input.
    pub fn next_command(&mut self) -> Result<Option<Program>, ParseError> {
        if self.src.len() > crate::MAX_INPUT_LEN {
            return Err(error(
                ParseErrorKind::InputTooLong(self.src.len()),
                self.base_line,
            ));
        }
        self.linebreak()?;
        if matches!(self.peek()?, Token::End) {
            return Ok(None);
        }
        let program = self.parse_list(true)?;
        match self.peek()? {
            Token::End => {}
            Token::Newline => {
                self.next_token()?;
            }
            token => {
                let token = token.clone();
                return Err(self.unexpected(&token));
            }
        }
        Ok(Some(program))
    }

    /// The line the parser is at (1-based).
    pub fn current_line(&mut self) -> u32 {
        let end = self.pos.min(self.src.len());
        if end < self.line_pos {
            self.line = 0;
            self.line_pos = 0;
        }
        self.line += self.src.as_bytes()[self.line_pos..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        self.line_pos = end;
        self.base_line + self.line
    }

    pub(crate) fn unexpected(&mut self, token: &Token) -> ParseError {
        let line = self.current_line();
        match token {
            Token::End => error(ParseErrorKind::UnexpectedEnd("command"), line),
            other => error(
                ParseErrorKind::UnexpectedToken(token_text(&other.text())),
                line,
            ),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > crate::MAX_NESTING {
            return Err(error(ParseErrorKind::TooDeep, self.current_line()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips newline tokens.
    fn linebreak(&mut self) -> Result<(), ParseError> {
        while matches!(self.peek()?, Token::Newline) {
            self.next_token()?;
        }
        Ok(())
    }

    fn is_reserved(token: &Token, word: &str) -> bool {
        matches!(token, Token::Word(w, _) if w.as_plain() == Some(word))
    }

    fn peek_is_reserved(&mut self, word: &str) -> Result<bool, ParseError> {
        Ok(Self::is_reserved(self.peek()?, word))
    }

    fn peek_is_op(&mut self, op: &str) -> Result<bool, ParseError> {
        Ok(matches!(self.peek()?, Token::Op(o) if *o == op))
    }

    /// Consumes the reserved word `word` (closing construct `what`).
    fn expect_reserved(&mut self, word: &str, what: &'static str) -> Result<(), ParseError> {
        let token = self.next_token()?;
        if Self::is_reserved(&token, word) {
            return Ok(());
        }
        match token {
            Token::End => Err(error(
                ParseErrorKind::UnexpectedEnd(what),
                self.current_line(),
            )),
            token => Err(self.unexpected(&token)),
        }
    }

    fn expect_op(&mut self, op: &str, what: &'static str) -> Result<(), ParseError> {
        let token = self.next_token()?;
        match token {
            Token::Op(o) if o == op => Ok(()),
            Token::End => Err(error(
                ParseErrorKind::UnexpectedEnd(what),
                self.current_line(),
            )),
            token => Err(self.unexpected(&token)),
        }
    }

    /// True if the next token ends a list (a closing reserved word, `)`,
    /// `;;`, `;&` or the end).
    fn at_list_end(&mut self) -> Result<bool, ParseError> {
        Ok(match self.peek()? {
            Token::End => true,
            Token::Op(op) => matches!(*op, ")" | ";;" | ";&"),
            Token::Word(word, _) => word.as_plain().is_some_and(is_closing_word),
            _ => false,
        })
    }

    /// A list of and-or lists separated by `;`, `&` or newlines. With
    /// `one_line`, stops after the first newline at this level.
    pub(crate) fn parse_list(&mut self, one_line: bool) -> Result<Program, ParseError> {
        let mut program = Program::default();
        loop {
            if !one_line {
                self.linebreak()?;
            }
            if self.at_list_end()? || (one_line && matches!(self.peek()?, Token::Newline)) {
                break;
            }
            let start = self.token_start()?;
            let and_or = self.parse_and_or()?;
            let source = self.src[start..self.last_end.max(start)].trim().to_string();
            let mut background = false;
            let next = self.peek()?.clone();
            match next {
                Token::Op("&") => {
                    background = true;
                    self.next_token()?;
                }
                Token::Op(";") => {
                    self.next_token()?;
                }
                Token::Newline | Token::End => {}
                _ if self.at_list_end()? => {}
                token => return Err(self.unexpected(&token)),
            }
            program.items.push(ListItem {
                and_or,
                background,
                source,
            });
        }
        Ok(program)
    }

    /// A list that must hold at least one command (`if`, loops, groups).
    fn parse_nonempty_list(&mut self) -> Result<Program, ParseError> {
        let program = self.parse_list(false)?;
        if program.items.is_empty() {
            let token = self.peek()?.clone();
            return Err(self.unexpected(&token));
        }
        Ok(program)
    }

    /// Where the next token starts in the source.
    fn token_start(&mut self) -> Result<usize, ParseError> {
        self.peek()?;
        Ok(self
            .peeked
            .as_ref()
            .map_or(self.pos, |(_, start, _)| *start))
    }

    fn parse_and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.parse_pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek()? {
                Token::Op("&&") => Connector::And,
                Token::Op("||") => Connector::Or,
                _ => break,
            };
            self.next_token()?;
            self.linebreak()?;
            rest.push((connector, self.parse_pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn parse_pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let start = self.token_start()?;
        let mut pipeline = Pipeline::default();
        if self.peek_is_reserved("!")? {
            self.next_token()?;
            pipeline.negated = true;
        }
        loop {
            let command_start = self.token_start()?;
            pipeline.commands.push(self.parse_command()?);
            pipeline.command_sources.push(
                self.src[command_start..self.last_end.max(command_start)]
                    .trim()
                    .to_string(),
            );
            if !self.peek_is_op("|")? {
                break;
            }
            self.next_token()?;
            self.linebreak()?;
        }
        pipeline.source = self.src[start..self.last_end.max(start)].trim().to_string();
        Ok(pipeline)
    }

    fn parse_command(&mut self) -> Result<Command, ParseError> {
        if let Some(compound) = self.parse_compound()? {
            let redirects = self.parse_redirects()?;
            return Ok(Command::Compound(Box::new(compound), redirects));
        }
        self.parse_simple()
    }

    fn parse_redirects(&mut self) -> Result<Vec<Redirect>, ParseError> {
        let mut redirects = Vec::new();
        while let Some(redirect) = self.parse_redirect()? {
            redirects.push(redirect);
        }
        Ok(redirects)
    }

    /// A redirection if one starts here.
    fn parse_redirect(&mut self) -> Result<Option<Redirect>, ParseError> {
        let fd = match self.peek()? {
            Token::IoNumber(fd) => {
                let fd = *fd;
                self.next_token()?;
                Some(fd)
            }
            _ => None,
        };
        let kind = match self.peek()? {
            Token::Op(op) => match *op {
                "<" => RedirectKind::Read,
                ">" => RedirectKind::Write,
                ">|" => RedirectKind::Clobber,
                ">>" => RedirectKind::Append,
                "<>" => RedirectKind::ReadWrite,
                "<&" => RedirectKind::DupRead,
                ">&" => RedirectKind::DupWrite,
                "<<" | "<<-" => RedirectKind::HereDoc,
                _ if fd.is_some() => {
                    let token = self.peek()?.clone();
                    return Err(self.unexpected(&token));
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let strip_tabs = matches!(self.next_token()?, Token::Op("<<-"));
        let (word, raw) = match self.next_token()? {
            Token::Word(word, raw) => (word, raw),
            Token::End => {
                return Err(error(
                    ParseErrorKind::UnexpectedEnd("redirection"),
                    self.current_line(),
                ))
            }
            token => return Err(self.unexpected(&token)),
        };
        let target = if kind == RedirectKind::HereDoc {
            let quoted = word.has_quotes();
            let delimiter = word.as_literal().unwrap_or(raw);
            let heredoc = Rc::new(HereDoc {
                delimiter,
                strip_tabs,
                quoted,
                body: RefCell::new(Word::default()),
            });
            self.pending.push(heredoc.clone());
            RedirectTarget::HereDoc(heredoc)
        } else {
            RedirectTarget::Word(word)
        };
        Ok(Some(Redirect { fd, kind, target }))
    }

    fn parse_simple(&mut self) -> Result<Command, ParseError> {
        let line = self.current_line();
        let start = self.token_start()?;
        let mut command = SimpleCommand {
            line,
            ..SimpleCommand::default()
        };
        loop {
            if let Some(redirect) = self.parse_redirect()? {
                command.redirects.push(redirect);
                continue;
            }
            if !matches!(self.peek()?, Token::Word(..)) {
                break;
            }
            let Token::Word(word, raw) = self.next_token()? else {
                break;
            };
            if command.words.is_empty() {
                if let Some(assignment) = word::split_assignment(&word) {
                    command.assignments.push(assignment);
                    continue;
                }
                if command.assignments.is_empty()
                    && command.redirects.is_empty()
                    && self.peek_is_op("(")?
                {
                    return self.parse_function(raw, start);
                }
            }
            command.words.push(word);
        }
        if command.assignments.is_empty()
            && command.words.is_empty()
            && command.redirects.is_empty()
        {
            let token = self.peek()?.clone();
            return Err(self.unexpected(&token));
        }
        command.source = self.src[start..self.last_end.max(start)].to_string();
        Ok(Command::Simple(command))
    }

    /// `name ( ) linebreak compound-command [redirections]`.
    fn parse_function(&mut self, name: String, start: usize) -> Result<Command, ParseError> {
        if !is_valid_name(&name) {
            return Err(error(
                ParseErrorKind::BadFunctionName(name),
                self.current_line(),
            ));
        }
        self.next_token()?;
        self.expect_op(")", "function definition")?;
        self.linebreak()?;
        let Some(body) = self.parse_compound()? else {
            let token = self.peek()?.clone();
            return Err(self.unexpected(&token));
        };
        let redirects = self.parse_redirects()?;
        let source = self.src[start..self.last_end.max(start)].trim().to_string();
        Ok(Command::Function(Rc::new(FunctionDef {
            name,
            body,
            redirects,
            source,
        })))
    }
}
