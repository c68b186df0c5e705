//! Compound commands: `( )`, `{ }`, `if`, `while`/`until`, `for` and
//! `case`, each with its closing word checked.

use alloc::vec::Vec;

use super::{Parser, Token};
use crate::ast::*;
use crate::error::{error, ParseError, ParseErrorKind};
use crate::is_valid_name;

impl Parser<'_> {
    /// A compound command if one starts here.
    pub(super) fn parse_compound(&mut self) -> Result<Option<CompoundCommand>, ParseError> {
        let keyword = match self.peek()? {
            Token::Op("(") => "(",
            Token::Word(word, _) => match word.as_plain() {
                Some(w @ ("{" | "if" | "while" | "until" | "for" | "case")) => match w {
                    "{" => "{",
                    "if" => "if",
                    "while" => "while",
                    "until" => "until",
                    "for" => "for",
                    _ => "case",
                },
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.next_token()?;
        self.enter()?;
        let command = match keyword {
            "(" => {
                let body = self.parse_nonempty_list()?;
                self.expect_op(")", "(")?;
                CompoundCommand::Subshell(body)
            }
            "{" => {
                let body = self.parse_nonempty_list()?;
                self.expect_reserved("}", "{")?;
                CompoundCommand::Brace(body)
            }
            "if" => self.parse_if()?,
            "while" | "until" => {
                let condition = self.parse_nonempty_list()?;
                self.expect_reserved("do", "while")?;
                let body = self.parse_nonempty_list()?;
                self.expect_reserved("done", "while")?;
                CompoundCommand::Loop {
                    until: keyword == "until",
                    condition,
                    body,
                }
            }
            "for" => self.parse_for()?,
            _ => self.parse_case()?,
        };
        self.leave();
        Ok(Some(command))
    }

    fn parse_if(&mut self) -> Result<CompoundCommand, ParseError> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.parse_nonempty_list()?;
            self.expect_reserved("then", "if")?;
            let body = self.parse_nonempty_list()?;
            branches.push((condition, body));
            if self.peek_is_reserved("elif")? {
                self.next_token()?;
                continue;
            }
            if self.peek_is_reserved("else")? {
                self.next_token()?;
                otherwise = Some(self.parse_nonempty_list()?);
            }
            self.expect_reserved("fi", "if")?;
            return Ok(CompoundCommand::If {
                branches,
                otherwise,
            });
        }
    }

    fn parse_for(&mut self) -> Result<CompoundCommand, ParseError> {
        let name = match self.next_token()? {
            Token::Word(word, raw) if word.as_plain().is_some_and(is_valid_name) => raw,
            token => return Err(self.unexpected(&token)),
        };
        self.linebreak()?;
        let mut words = None;
        if self.peek_is_reserved("in")? {
            self.next_token()?;
            let mut list = Vec::new();
            while let Token::Word(..) = self.peek()? {
                if let Token::Word(word, _) = self.next_token()? {
                    list.push(word);
                }
            }
            match self.next_token()? {
                Token::Op(";") | Token::Newline => {}
                Token::End => {
                    return Err(error(
                        ParseErrorKind::UnexpectedEnd("for"),
                        self.current_line(),
                    ))
                }
                token => return Err(self.unexpected(&token)),
            }
            words = Some(list);
        } else if self.peek_is_op(";")? {
            self.next_token()?;
        }
        self.linebreak()?;
        self.expect_reserved("do", "for")?;
        let body = self.parse_nonempty_list()?;
        self.expect_reserved("done", "for")?;
        Ok(CompoundCommand::For { name, words, body })
    }

    fn parse_case(&mut self) -> Result<CompoundCommand, ParseError> {
        let word = match self.next_token()? {
            Token::Word(word, _) => word,
            token => return Err(self.unexpected(&token)),
        };
        self.linebreak()?;
        self.expect_reserved("in", "case")?;
        let mut arms = Vec::new();
        loop {
            self.linebreak()?;
            if self.peek_is_reserved("esac")? {
                self.next_token()?;
                break;
            }
            if self.peek_is_op("(")? {
                self.next_token()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.next_token()? {
                    Token::Word(word, _) => patterns.push(word),
                    Token::End => {
                        return Err(error(
                            ParseErrorKind::UnexpectedEnd("case"),
                            self.current_line(),
                        ))
                    }
                    token => return Err(self.unexpected(&token)),
                }
                if self.peek_is_op("|")? {
                    self.next_token()?;
                    continue;
                }
                self.expect_op(")", "case")?;
                break;
            }
            let body = self.parse_list(false)?;
            let mut fall_through = false;
            match self.peek()? {
                Token::Op(";;") => {
                    self.next_token()?;
                }
                Token::Op(";&") => {
                    self.next_token()?;
                    fall_through = true;
                }
                _ => {
                    arms.push(CaseArm {
                        patterns,
                        body,
                        fall_through,
                    });
                    self.linebreak()?;
                    self.expect_reserved("esac", "case")?;
                    break;
                }
            }
            arms.push(CaseArm {
                patterns,
                body,
                fall_through,
            });
        }
        Ok(CompoundCommand::Case { word, arms })
    }
}
