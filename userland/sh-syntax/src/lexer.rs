//! Turns shell input into tokens: words (already split into literal and
//! parameter parts, with quoting recorded), descriptor numbers in front of
//! redirections (`2` in `2>&1`), and operators. Comments and line continuations
//! are dropped here, so the parser only ever sees tokens.

use alloc::string::String;
use alloc::vec::Vec;

use crate::ast::{Word, WordPart};
use crate::error::ParseError;
use crate::{MAX_INPUT_LEN, MAX_TOKENS, SPECIAL_PARAMETERS};

/// One lexical unit of shell input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    /// Unquoted digits directly followed by `<` or `>`: the descriptor to redirect.
    IoNumber(u32),
    Operator(Operator),
}

/// Shell operators. `Newline` separates commands like `;`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Pipe,
    AndIf,
    OrIf,
    Semicolon,
    DoubleSemicolon,
    Ampersand,
    Newline,
    LeftParen,
    RightParen,
    Less,
    Great,
    DoubleGreat,
    LessAnd,
    GreatAnd,
    LessGreat,
    Clobber,
    DoubleLess,
    DoubleLessDash,
}

impl Operator {
    /// The operator as written (`newline` for [`Operator::Newline`], as in
    /// "unexpected token `newline'").
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Pipe => "|",
            Operator::AndIf => "&&",
            Operator::OrIf => "||",
            Operator::Semicolon => ";",
            Operator::DoubleSemicolon => ";;",
            Operator::Ampersand => "&",
            Operator::Newline => "newline",
            Operator::LeftParen => "(",
            Operator::RightParen => ")",
            Operator::Less => "<",
            Operator::Great => ">",
            Operator::DoubleGreat => ">>",
            Operator::LessAnd => "<&",
            Operator::GreatAnd => ">&",
            Operator::LessGreat => "<>",
            Operator::Clobber => ">|",
            Operator::DoubleLess => "<<",
            Operator::DoubleLessDash => "<<-",
        }
    }

    /// True for operators that start a redirection.
    pub fn is_redirection(self) -> bool {
        matches!(
            self,
            Operator::Less
                | Operator::Great
                | Operator::DoubleGreat
                | Operator::LessAnd
                | Operator::GreatAnd
                | Operator::LessGreat
                | Operator::Clobber
                | Operator::DoubleLess
                | Operator::DoubleLessDash
        )
    }
}

/// The result of lexing: tokens, plus whether the input ended in a line
/// continuation (backslash-newline), which means more input is expected.
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    pub ended_in_continuation: bool,
}

/// Splits `input` into tokens.
pub fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    lex(input).map(|lexed| lexed.tokens)
}

pub(crate) fn lex(input: &str) -> Result<Lexed, ParseError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(ParseError::InputTooLong(input.len()));
    }
    let (chars, ended_in_continuation) = remove_line_continuations(input);
    let mut lexer = Lexer {
        chars,
        position: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(Lexed {
        tokens: lexer.tokens,
        ended_in_continuation,
    })
}

/// Drops every backslash-newline outside single quotes and comments, as the
/// shell does before splitting anything else (so `$\<newline>$` is `$$` and
/// `&\<newline>&` is `&&`). Also returns whether the input ended in one.
fn remove_line_continuations(input: &str) -> (Vec<char>, bool) {
    enum Context {
        Unquoted,
        SingleQuoted,
        DoubleQuoted,
        Comment,
    }
    let mut chars = input.chars().peekable();
    let mut kept = Vec::with_capacity(input.len());
    let mut context = Context::Unquoted;
    let mut at_word_start = true;
    let mut ended_in_continuation = false;
    while let Some(c) = chars.next() {
        ended_in_continuation = false;
        match context {
            Context::SingleQuoted if c == '\'' => context = Context::Unquoted,
            Context::Comment if c == '\n' => {
                context = Context::Unquoted;
                at_word_start = true;
            }
            Context::SingleQuoted | Context::Comment => {}
            Context::Unquoted | Context::DoubleQuoted if c == '\\' => match chars.peek() {
                Some('\n') => {
                    chars.next();
                    ended_in_continuation = chars.peek().is_none();
                    continue;
                }
                Some(&escaped) => {
                    kept.push(c);
                    kept.push(escaped);
                    chars.next();
                    at_word_start = false;
                    continue;
                }
                None => {}
            },
            Context::DoubleQuoted if c == '"' => context = Context::Unquoted,
            Context::DoubleQuoted => {}
            Context::Unquoted => {
                match c {
                    '\'' => context = Context::SingleQuoted,
                    '"' => context = Context::DoubleQuoted,
                    '#' if at_word_start => context = Context::Comment,
                    _ => {}
                }
                at_word_start = ends_word(c);
            }
        }
        kept.push(c);
    }
    (kept, ended_in_continuation)
}

/// Characters that end an unquoted word.
fn ends_word(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')'
    )
}

struct Lexer {
    chars: Vec<char>,
    position: usize,
    tokens: Vec<Token>,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn push(&mut self, token: Token) -> Result<(), ParseError> {
        if self.tokens.len() >= MAX_TOKENS {
            return Err(ParseError::TooManyTokens);
        }
        self.tokens.push(token);
        Ok(())
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.position += 1;
            }
            let Some(c) = self.peek() else {
                return Ok(());
            };
            match c {
                '\n' => {
                    self.position += 1;
                    self.push(Token::Operator(Operator::Newline))?;
                }
                '#' => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.position += 1;
                    }
                }
                '|' | '&' | ';' | '<' | '>' | '(' | ')' => {
                    let operator = self.lex_operator(c);
                    self.push(Token::Operator(operator))?;
                }
                _ => self.lex_word()?,
            }
        }
    }

    fn lex_operator(&mut self, first: char) -> Operator {
        let second = self.peek_at(1);
        let (operator, length) = match (first, second) {
            ('|', Some('|')) => (Operator::OrIf, 2),
            ('|', _) => (Operator::Pipe, 1),
            ('&', Some('&')) => (Operator::AndIf, 2),
            ('&', _) => (Operator::Ampersand, 1),
            (';', Some(';')) => (Operator::DoubleSemicolon, 2),
            (';', _) => (Operator::Semicolon, 1),
            ('<', Some('<')) if self.peek_at(2) == Some('-') => (Operator::DoubleLessDash, 3),
            ('<', Some('<')) => (Operator::DoubleLess, 2),
            ('<', Some('&')) => (Operator::LessAnd, 2),
            ('<', Some('>')) => (Operator::LessGreat, 2),
            ('<', _) => (Operator::Less, 1),
            ('>', Some('>')) => (Operator::DoubleGreat, 2),
            ('>', Some('&')) => (Operator::GreatAnd, 2),
            ('>', Some('|')) => (Operator::Clobber, 2),
            ('>', _) => (Operator::Great, 1),
            ('(', _) => (Operator::LeftParen, 1),
            _ => (Operator::RightParen, 1),
        };
        self.position += length;
        operator
    }

    fn lex_word(&mut self) -> Result<(), ParseError> {
        let mut word = Word::default();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            match c {
                '\\' => {
                    let Some(escaped) = self.peek_at(1) else {
                        return Err(ParseError::TrailingBackslash);
                    };
                    word.push_char(escaped, true);
                    self.position += 2;
                }
                '\'' => self.lex_single_quoted(&mut word)?,
                '"' => self.lex_double_quoted(&mut word)?,
                '$' => self.lex_dollar(&mut word, false)?,
                '`' => return Err(ParseError::Unsupported("command substitution (`...`)")),
                _ => {
                    word.push_char(c, false);
                    self.position += 1;
                }
            }
        }
        if matches!(self.peek(), Some('<' | '>')) {
            if let Some(digits) = io_number_text(&word) {
                let fd = digits
                    .parse::<u32>()
                    .map_err(|_| ParseError::BadFileDescriptor(String::from(digits)))?;
                return self.push(Token::IoNumber(fd));
            }
        }
        self.push(Token::Word(word))
    }

    fn lex_single_quoted(&mut self, word: &mut Word) -> Result<(), ParseError> {
        let start = self.position + 1;
        let Some(length) = self.chars[start..].iter().position(|&c| c == '\'') else {
            return Err(ParseError::UnterminatedSingleQuote);
        };
        let text: String = self.chars[start..start + length].iter().collect();
        word.push_literal(&text, true);
        self.position = start + length + 1;
        Ok(())
    }

    fn lex_double_quoted(&mut self, word: &mut Word) -> Result<(), ParseError> {
        self.position += 1;
        let mut produced_anything = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::UnterminatedDoubleQuote);
            };
            match c {
                '"' => {
                    self.position += 1;
                    break;
                }
                '\\' => match self.peek_at(1) {
                    None => return Err(ParseError::UnterminatedDoubleQuote),
                    Some(escaped @ ('$' | '`' | '"' | '\\')) => {
                        word.push_char(escaped, true);
                        produced_anything = true;
                        self.position += 2;
                    }
                    Some(_) => {
                        word.push_char('\\', true);
                        produced_anything = true;
                        self.position += 1;
                    }
                },
                '$' => {
                    self.lex_dollar(word, true)?;
                    produced_anything = true;
                }
                '`' => return Err(ParseError::Unsupported("command substitution (`...`)")),
                _ => {
                    word.push_char(c, true);
                    produced_anything = true;
                    self.position += 1;
                }
            }
        }
        if !produced_anything {
            word.push_literal("", true);
        }
        Ok(())
    }

    /// Lexes `$NAME`, `${NAME}`, `$?` and friends at the current `$`; a `$` that
    /// starts none of these is a literal `$`.
    fn lex_dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        match self.peek_at(1) {
            Some('{') => {
                let start = self.position + 2;
                let Some(length) = self.chars[start..].iter().position(|&c| c == '}') else {
                    return Err(ParseError::UnterminatedBrace);
                };
                let inner: String = self.chars[start..start + length].iter().collect();
                let mut inner_chars = inner.chars();
                let part = match (inner_chars.next(), inner_chars.next()) {
                    (Some(symbol), None)
                        if symbol.is_ascii_digit() || SPECIAL_PARAMETERS.contains(&symbol) =>
                    {
                        WordPart::Special { symbol, quoted }
                    }
                    _ if crate::is_valid_name(&inner) => WordPart::Variable {
                        name: inner,
                        quoted,
                    },
                    _ => return Err(ParseError::BadSubstitution(inner)),
                };
                word.parts.push(part);
                self.position = start + length + 1;
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let start = self.position + 1;
                let length = self.chars[start..]
                    .iter()
                    .position(|&c| !(c == '_' || c.is_ascii_alphanumeric()))
                    .unwrap_or(self.chars.len() - start);
                let name: String = self.chars[start..start + length].iter().collect();
                word.parts.push(WordPart::Variable { name, quoted });
                self.position = start + length;
            }
            Some(symbol) if symbol.is_ascii_digit() || SPECIAL_PARAMETERS.contains(&symbol) => {
                word.parts.push(WordPart::Special { symbol, quoted });
                self.position += 2;
            }
            Some('(') => return Err(ParseError::Unsupported("command substitution `$(...)'")),
            _ => {
                word.push_char('$', quoted);
                self.position += 1;
            }
        }
        Ok(())
    }
}

/// The digits of a word that is nothing but unquoted ASCII digits.
fn io_number_text(word: &Word) -> Option<&str> {
    match word.parts.as_slice() {
        [WordPart::Literal {
            text,
            quoted: false,
        }] if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn lit(text: &str) -> WordPart {
        WordPart::Literal {
            text: text.into(),
            quoted: false,
        }
    }

    fn quoted(text: &str) -> WordPart {
        WordPart::Literal {
            text: text.into(),
            quoted: true,
        }
    }

    fn word(parts: Vec<WordPart>) -> Token {
        Token::Word(Word { parts })
    }

    fn op(operator: Operator) -> Token {
        Token::Operator(operator)
    }

    #[test]
    fn splits_words_on_blanks() {
        assert_eq!(
            tokenize("  echo\thello   world ").unwrap(),
            vec![
                word(vec![lit("echo")]),
                word(vec![lit("hello")]),
                word(vec![lit("world")])
            ]
        );
    }

    #[test]
    fn empty_and_blank_input_has_no_tokens() {
        assert!(tokenize("").unwrap().is_empty());
        assert!(tokenize("  \t ").unwrap().is_empty());
        assert!(tokenize("# only a comment").unwrap().is_empty());
    }

    #[test]
    fn recognises_every_operator() {
        let tokens = tokenize("| || & && ; ;; ( ) < > >> <& >& <> >| << <<- \n").unwrap();
        let expected = [
            Operator::Pipe,
            Operator::OrIf,
            Operator::Ampersand,
            Operator::AndIf,
            Operator::Semicolon,
            Operator::DoubleSemicolon,
            Operator::LeftParen,
            Operator::RightParen,
            Operator::Less,
            Operator::Great,
            Operator::DoubleGreat,
            Operator::LessAnd,
            Operator::GreatAnd,
            Operator::LessGreat,
            Operator::Clobber,
            Operator::DoubleLess,
            Operator::DoubleLessDash,
            Operator::Newline,
        ];
        assert_eq!(tokens, expected.iter().map(|&o| op(o)).collect::<Vec<_>>());
    }

    #[test]
    fn operators_need_no_surrounding_blanks() {
        assert_eq!(
            tokenize("a|b&&c;d").unwrap(),
            vec![
                word(vec![lit("a")]),
                op(Operator::Pipe),
                word(vec![lit("b")]),
                op(Operator::AndIf),
                word(vec![lit("c")]),
                op(Operator::Semicolon),
                word(vec![lit("d")]),
            ]
        );
    }

    #[test]
    fn io_number_only_directly_before_redirection() {
        assert_eq!(
            tokenize("2>&1").unwrap(),
            vec![
                Token::IoNumber(2),
                op(Operator::GreatAnd),
                word(vec![lit("1")])
            ]
        );
        assert_eq!(
            tokenize("2 >f").unwrap(),
            vec![
                word(vec![lit("2")]),
                op(Operator::Great),
                word(vec![lit("f")])
            ]
        );
        assert_eq!(
            tokenize("a2>f").unwrap(),
            vec![
                word(vec![lit("a2")]),
                op(Operator::Great),
                word(vec![lit("f")])
            ]
        );
        assert_eq!(
            tokenize("'2'>f").unwrap(),
            vec![
                word(vec![quoted("2")]),
                op(Operator::Great),
                word(vec![lit("f")])
            ]
        );
        assert_eq!(
            tokenize("0<in").unwrap(),
            vec![
                Token::IoNumber(0),
                op(Operator::Less),
                word(vec![lit("in")])
            ]
        );
    }

    #[test]
    fn huge_io_number_is_an_error() {
        assert_eq!(
            tokenize("99999999999>f"),
            Err(ParseError::BadFileDescriptor("99999999999".into()))
        );
    }

    #[test]
    fn comment_only_at_word_start() {
        assert_eq!(
            tokenize("echo a#b #c d\nx").unwrap(),
            vec![
                word(vec![lit("echo")]),
                word(vec![lit("a#b")]),
                op(Operator::Newline),
                word(vec![lit("x")]),
            ]
        );
        assert_eq!(
            tokenize("echo '#'x").unwrap()[1],
            word(vec![quoted("#"), lit("x")])
        );
    }

    #[test]
    fn single_quotes_are_fully_literal() {
        assert_eq!(
            tokenize("'$A \\ \"x\"'").unwrap(),
            vec![word(vec![quoted("$A \\ \"x\"")])]
        );
        assert_eq!(tokenize("''").unwrap(), vec![word(vec![quoted("")])]);
    }

    #[test]
    fn double_quotes_expand_variables_and_limit_escapes() {
        assert_eq!(
            tokenize(r#""a $B \$ \" \\ \n \`""#).unwrap(),
            vec![word(vec![
                quoted("a "),
                WordPart::Variable {
                    name: "B".into(),
                    quoted: true
                },
                quoted(" $ \" \\ \\n `"),
            ])]
        );
        assert_eq!(tokenize("\"\"").unwrap(), vec![word(vec![quoted("")])]);
    }

    #[test]
    fn backslash_newline_inside_double_quotes_is_removed() {
        assert_eq!(
            tokenize("\"a\\\nb\"").unwrap(),
            vec![word(vec![quoted("ab")])]
        );
    }

    #[test]
    fn backslash_quotes_next_char() {
        assert_eq!(
            tokenize("a\\ b \\$X \\\\").unwrap(),
            vec![
                word(vec![lit("a"), quoted(" "), lit("b")]),
                word(vec![quoted("$"), lit("X")]),
                word(vec![quoted("\\")]),
            ]
        );
    }

    #[test]
    fn line_continuation_joins_words_and_lines() {
        assert_eq!(
            tokenize("ec\\\nho a \\\n b").unwrap(),
            vec![
                word(vec![lit("echo")]),
                word(vec![lit("a")]),
                word(vec![lit("b")])
            ]
        );
        let lexed = lex("echo a \\\n").unwrap();
        assert!(lexed.ended_in_continuation);
        let lexed = lex("echo a\\\n").unwrap();
        assert!(lexed.ended_in_continuation);
        assert!(!lex("echo a \\\nb").unwrap().ended_in_continuation);
    }

    #[test]
    fn line_continuation_is_removed_everywhere_but_single_quotes_and_comments() {
        assert_eq!(
            tokenize("$\\\n$ &\\\n& 'a\\\nb'").unwrap(),
            vec![
                word(vec![WordPart::Special {
                    symbol: '$',
                    quoted: false
                }]),
                op(Operator::AndIf),
                word(vec![quoted("a\\\nb")]),
            ]
        );
        assert_eq!(
            tokenize("# c \\\nx").unwrap(),
            vec![op(Operator::Newline), word(vec![lit("x")])]
        );
        assert_eq!(
            tokenize("a\\\n#b \\#c").unwrap(),
            vec![word(vec![lit("a#b")]), word(vec![quoted("#"), lit("c")])]
        );
        assert_eq!(
            tokenize("\"$A\\\nB\"").unwrap(),
            vec![word(vec![WordPart::Variable {
                name: "AB".into(),
                quoted: true
            }])]
        );
    }

    #[test]
    fn dollar_forms() {
        let tokens = tokenize("$A ${B_1}x $? $$ $! $# $0 $9 $@ $* ${?} $ a$ $% $-").unwrap();
        let expected = vec![
            word(vec![WordPart::Variable {
                name: "A".into(),
                quoted: false,
            }]),
            word(vec![
                WordPart::Variable {
                    name: "B_1".into(),
                    quoted: false,
                },
                lit("x"),
            ]),
            word(vec![WordPart::Special {
                symbol: '?',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '$',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '!',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '#',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '0',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '9',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '@',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '*',
                quoted: false,
            }]),
            word(vec![WordPart::Special {
                symbol: '?',
                quoted: false,
            }]),
            word(vec![lit("$")]),
            word(vec![lit("a$")]),
            word(vec![lit("$%")]),
            word(vec![lit("$-")]),
        ];
        assert_eq!(tokens, expected);
    }

    #[test]
    fn positional_takes_one_digit() {
        assert_eq!(
            tokenize("$10").unwrap(),
            vec![word(vec![
                WordPart::Special {
                    symbol: '1',
                    quoted: false
                },
                lit("0")
            ])]
        );
    }

    #[test]
    fn variable_name_stops_at_non_name_char() {
        assert_eq!(
            tokenize("$A-b").unwrap(),
            vec![word(vec![
                WordPart::Variable {
                    name: "A".into(),
                    quoted: false
                },
                lit("-b")
            ])]
        );
    }

    #[test]
    fn lexer_errors() {
        assert_eq!(tokenize("'abc"), Err(ParseError::UnterminatedSingleQuote));
        assert_eq!(tokenize("\"abc"), Err(ParseError::UnterminatedDoubleQuote));
        assert_eq!(
            tokenize("\"abc\\"),
            Err(ParseError::UnterminatedDoubleQuote)
        );
        assert_eq!(tokenize("${abc"), Err(ParseError::UnterminatedBrace));
        assert_eq!(
            tokenize("${a b}"),
            Err(ParseError::BadSubstitution("a b".into()))
        );
        assert_eq!(tokenize("${}"), Err(ParseError::BadSubstitution("".into())));
        assert_eq!(tokenize("abc\\"), Err(ParseError::TrailingBackslash));
        assert!(matches!(
            tokenize("echo $(date)"),
            Err(ParseError::Unsupported(_))
        ));
        assert!(matches!(
            tokenize("echo `date`"),
            Err(ParseError::Unsupported(_))
        ));
    }

    #[test]
    fn limits_are_enforced() {
        let long = "a".repeat(MAX_INPUT_LEN + 1);
        assert_eq!(
            tokenize(&long),
            Err(ParseError::InputTooLong(MAX_INPUT_LEN + 1))
        );
        let many = "; ".repeat(MAX_TOKENS + 1);
        assert_eq!(tokenize(&many), Err(ParseError::TooManyTokens));
        let exactly = "; ".repeat(MAX_TOKENS);
        assert_eq!(tokenize(&exactly).unwrap().len(), MAX_TOKENS);
    }

    #[test]
    fn non_ascii_text_is_preserved() {
        assert_eq!(
            tokenize("héllo 'wörld'").unwrap(),
            vec![word(vec![lit("héllo")]), word(vec![quoted("wörld")])]
        );
    }
}
