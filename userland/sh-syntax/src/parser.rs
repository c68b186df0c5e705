//! Builds a [`Script`] from tokens: `;`/`&`/newline-separated and-or lists of
//! `&&`/`||`-joined pipelines of simple commands. The grammar has no nesting, so
//! the parser is a handful of loops and cannot overflow the stack.

use alloc::string::String;
use alloc::vec::Vec;
use core::iter::Peekable;

use crate::ast::{
    AndOr, Command, Connector, Pipeline, Redirect, RedirectKind, Script, Word, WordPart,
};
use crate::error::ParseError;
use crate::is_valid_name;
use crate::lexer::{lex, Operator, Token};

/// Parses a line or a whole script file.
pub fn parse(input: &str) -> Result<Script, ParseError> {
    Parser::new(lex(input)?.tokens).parse_script()
}

/// True if `input` is incomplete and the shell should read another line (with a
/// continuation prompt) and append it: an open quote, a trailing `|`, `&&` or
/// `||`, or a trailing backslash or backslash-newline.
pub fn needs_more_input(input: &str) -> bool {
    match lex(input) {
        Err(
            ParseError::UnterminatedSingleQuote
            | ParseError::UnterminatedDoubleQuote
            | ParseError::TrailingBackslash,
        ) => true,
        Err(_) => false,
        Ok(lexed) if lexed.ended_in_continuation => true,
        Ok(lexed) => matches!(
            Parser::new(lexed.tokens).parse_script(),
            Err(ParseError::MissingCommandAfter(operator)) if operator != "!"
        ),
    }
}

struct Parser {
    tokens: Peekable<alloc::vec::IntoIter<Token>>,
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Parser {
        Parser {
            tokens: tokens.into_iter().peekable(),
        }
    }

    fn peek_operator(&mut self) -> Option<Operator> {
        match self.tokens.peek() {
            Some(Token::Operator(operator)) => Some(*operator),
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek_operator() == Some(Operator::Newline) {
            self.tokens.next();
        }
    }

    fn parse_script(mut self) -> Result<Script, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.tokens.peek().is_none() {
                return Ok(Script { items });
            }
            let mut and_or = self.parse_and_or()?;
            match self.tokens.next() {
                None | Some(Token::Operator(Operator::Semicolon | Operator::Newline)) => {}
                Some(Token::Operator(Operator::Ampersand)) => and_or.background = true,
                Some(other) => return Err(unexpected(&other)),
            }
            items.push(and_or);
        }
    }

    fn parse_and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.parse_pipeline(None)?;
        let mut rest = Vec::new();
        loop {
            let (connector, operator) = match self.peek_operator() {
                Some(Operator::AndIf) => (Connector::And, "&&"),
                Some(Operator::OrIf) => (Connector::Or, "||"),
                _ => break,
            };
            self.tokens.next();
            self.skip_newlines();
            rest.push((connector, self.parse_pipeline(Some(operator))?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
        })
    }

    /// `after` names the operator before this pipeline, for error messages.
    fn parse_pipeline(&mut self, after: Option<&'static str>) -> Result<Pipeline, ParseError> {
        let negated =
            matches!(self.tokens.peek(), Some(Token::Word(word)) if word.is_unquoted("!"));
        if negated {
            self.tokens.next();
        }
        let mut commands = Vec::new();
        commands.push(self.parse_command(if negated { Some("!") } else { after })?);
        while self.peek_operator() == Some(Operator::Pipe) {
            self.tokens.next();
            self.skip_newlines();
            commands.push(self.parse_command(Some("|"))?);
        }
        Ok(Pipeline { negated, commands })
    }

    fn parse_command(&mut self, after: Option<&'static str>) -> Result<Command, ParseError> {
        let mut command = Command::default();
        loop {
            let next_word = self.tokens.next_if(|token| matches!(token, Token::Word(_)));
            if let Some(Token::Word(word)) = next_word {
                if command.words.is_empty() {
                    match split_assignment(word) {
                        Ok(assignment) => command.assignments.push(assignment),
                        Err(word) => command.words.push(word),
                    }
                } else {
                    command.words.push(word);
                }
                continue;
            }
            match self.tokens.peek() {
                Some(Token::IoNumber(_)) => command.redirects.push(self.parse_redirect()?),
                Some(Token::Operator(operator)) if operator.is_redirection() => {
                    command.redirects.push(self.parse_redirect()?)
                }
                _ => break,
            }
        }
        if !command.is_empty() {
            return Ok(command);
        }
        Err(match self.tokens.peek() {
            None => ParseError::MissingCommandAfter(String::from(after.unwrap_or("newline"))),
            Some(Token::Operator(
                operator @ (Operator::Pipe
                | Operator::AndIf
                | Operator::OrIf
                | Operator::Semicolon
                | Operator::Ampersand),
            )) => ParseError::EmptyCommand(String::from(operator.as_str())),
            Some(other) => unexpected(other),
        })
    }

    fn parse_redirect(&mut self) -> Result<Redirect, ParseError> {
        let explicit_fd = match self.tokens.peek() {
            Some(Token::IoNumber(fd)) => {
                let fd = *fd;
                self.tokens.next();
                Some(fd)
            }
            _ => None,
        };
        let operator = match self.tokens.next() {
            Some(Token::Operator(operator)) if operator.is_redirection() => operator,
            // The lexer only emits a descriptor number right before `<` or `>`,
            // so these cannot happen; they are errors rather than panics anyway.
            Some(other) => return Err(unexpected(&other)),
            None => return Err(ParseError::UnexpectedToken(String::from("newline"))),
        };
        if matches!(operator, Operator::DoubleLess | Operator::DoubleLessDash) {
            return Err(ParseError::Unsupported("here-documents (`<<')"));
        }
        let target = match self.tokens.next() {
            Some(Token::Word(word)) => word,
            _ => {
                return Err(ParseError::MissingRedirectTarget(String::from(
                    operator.as_str(),
                )))
            }
        };
        let kind = match operator {
            Operator::Less => RedirectKind::Read,
            Operator::Great | Operator::Clobber => RedirectKind::Write,
            Operator::DoubleGreat => RedirectKind::Append,
            Operator::LessGreat => RedirectKind::ReadWrite,
            Operator::GreatAnd => dup_kind(operator, &target, RedirectKind::DupWrite)?,
            _ => dup_kind(operator, &target, RedirectKind::DupRead)?,
        };
        Ok(Redirect {
            fd: explicit_fd.unwrap_or(kind.default_fd()),
            kind,
            target,
        })
    }
}

/// Reads the `M` of `>&M` / `<&M`: a descriptor number or `-` (close).
fn dup_kind(
    operator: Operator,
    target: &Word,
    make: fn(u32) -> RedirectKind,
) -> Result<RedirectKind, ParseError> {
    let text = target.as_literal();
    match text.as_deref() {
        Some("-") => Ok(RedirectKind::Close),
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits
            .parse::<u32>()
            .map(make)
            .map_err(|_| ParseError::BadFileDescriptor(String::from(digits))),
        _ => Err(ParseError::BadDupTarget {
            operator: String::from(operator.as_str()),
            target: alloc::format!("{target}"),
        }),
    }
}

/// Splits `NAME=value` (with `NAME=` unquoted) into an assignment, or gives the
/// word back unchanged.
fn split_assignment(mut word: Word) -> Result<(String, Word), Word> {
    let Some(WordPart::Literal {
        text,
        quoted: false,
    }) = word.parts.first()
    else {
        return Err(word);
    };
    let Some(equals) = text.find('=') else {
        return Err(word);
    };
    if !is_valid_name(&text[..equals]) {
        return Err(word);
    }
    let name = String::from(&text[..equals]);
    let first_value_text = String::from(&text[equals + 1..]);
    let mut value = Word::default();
    value.push_literal(&first_value_text, false);
    value.parts.extend(word.parts.drain(1..));
    Ok((name, value))
}

fn unexpected(token: &Token) -> ParseError {
    match token {
        Token::Operator(Operator::LeftParen) => {
            ParseError::Unsupported("subshells and grouping `( ... )'")
        }
        Token::Operator(operator) => ParseError::UnexpectedToken(String::from(operator.as_str())),
        Token::IoNumber(fd) => ParseError::UnexpectedToken(alloc::format!("{fd}")),
        Token::Word(word) => ParseError::UnexpectedToken(alloc::format!("{word}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn lit(text: &str) -> WordPart {
        WordPart::Literal {
            text: text.into(),
            quoted: false,
        }
    }

    fn words(command: &Command) -> Vec<String> {
        command.words.iter().map(|w| w.to_string()).collect()
    }

    fn only_command(input: &str) -> Command {
        let mut script = parse(input).unwrap();
        assert_eq!(script.items.len(), 1, "{input}");
        let item = script.items.remove(0);
        assert!(item.rest.is_empty());
        assert!(!item.background);
        assert_eq!(item.first.commands.len(), 1);
        item.first.commands.into_iter().next().unwrap()
    }

    fn error_message(input: &str) -> String {
        parse(input).unwrap_err().to_string()
    }

    #[test]
    fn empty_input_is_an_empty_script() {
        assert_eq!(parse("").unwrap(), Script::default());
        assert_eq!(parse("\n\n  # comment\n").unwrap(), Script::default());
    }

    #[test]
    fn simple_command() {
        let command = only_command("echo hello world");
        assert_eq!(words(&command), ["echo", "hello", "world"]);
        assert!(command.assignments.is_empty());
        assert!(command.redirects.is_empty());
    }

    #[test]
    fn pipeline() {
        let script = parse("ls -l | grep x | wc -l").unwrap();
        let pipeline = &script.items[0].first;
        assert!(!pipeline.negated);
        assert_eq!(pipeline.commands.len(), 3);
        assert_eq!(words(&pipeline.commands[1]), ["grep", "x"]);
    }

    #[test]
    fn negated_pipeline() {
        let script = parse("! grep x f | wc").unwrap();
        let pipeline = &script.items[0].first;
        assert!(pipeline.negated);
        assert_eq!(words(&pipeline.commands[0]), ["grep", "x", "f"]);
        // A quoted `!` or one not at the start is an ordinary word.
        assert!(!parse("'!' x").unwrap().items[0].first.negated);
        assert_eq!(words(&only_command("echo !")), ["echo", "!"]);
    }

    #[test]
    fn and_or_lists() {
        let script = parse("a && b || c").unwrap();
        let item = &script.items[0];
        assert_eq!(words(&item.first.commands[0]), ["a"]);
        assert_eq!(item.rest.len(), 2);
        assert_eq!(item.rest[0].0, Connector::And);
        assert_eq!(item.rest[1].0, Connector::Or);
        assert_eq!(words(&item.rest[1].1.commands[0]), ["c"]);
    }

    #[test]
    fn sequences_and_background() {
        let script = parse("a | b && c & d; e").unwrap();
        assert_eq!(script.items.len(), 3);
        assert!(script.items[0].background);
        assert_eq!(script.items[0].first.commands.len(), 2);
        assert_eq!(script.items[0].rest.len(), 1);
        assert!(!script.items[1].background);
        assert!(!script.items[2].background);
        assert!(parse("sleep 1 &").unwrap().items[0].background);
        assert_eq!(parse("a;").unwrap().items.len(), 1);
    }

    #[test]
    fn newlines_separate_commands() {
        let script = parse("echo a\necho b\n\n# c\necho d # e\n").unwrap();
        assert_eq!(script.items.len(), 3);
        assert_eq!(words(&script.items[2].first.commands[0]), ["echo", "d"]);
    }

    #[test]
    fn newline_allowed_after_pipe_and_connectors() {
        let script = parse("a |\n\n b &&\n c ||\n d").unwrap();
        assert_eq!(script.items.len(), 1);
        assert_eq!(script.items[0].first.commands.len(), 2);
        assert_eq!(script.items[0].rest.len(), 2);
    }

    #[test]
    fn redirections() {
        let command = only_command("cmd <in >out 2>>err 3<>rw 2>&1 0<&3 4>&- >|clobber");
        assert_eq!(words(&command), ["cmd"]);
        let summary: Vec<(u32, RedirectKind, String)> = command
            .redirects
            .iter()
            .map(|r| (r.fd, r.kind, r.target.to_string()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, RedirectKind::Read, "in".into()),
                (1, RedirectKind::Write, "out".into()),
                (2, RedirectKind::Append, "err".into()),
                (3, RedirectKind::ReadWrite, "rw".into()),
                (2, RedirectKind::DupWrite(1), "1".into()),
                (0, RedirectKind::DupRead(3), "3".into()),
                (4, RedirectKind::Close, "-".into()),
                (1, RedirectKind::Write, "clobber".into()),
            ]
        );
    }

    #[test]
    fn redirect_with_and_without_space() {
        assert_eq!(
            only_command(">file").redirects,
            only_command("> file").redirects
        );
        let command = only_command("echo a>b");
        assert_eq!(words(&command), ["echo", "a"]);
        assert_eq!(command.redirects[0].fd, 1);
        assert_eq!(command.redirects[0].kind, RedirectKind::Write);
        assert_eq!(command.redirects[0].target.to_string(), "b");
    }

    #[test]
    fn redirects_may_come_anywhere_in_a_command() {
        let command = only_command(">out echo <in a 2>/dev/null b");
        assert_eq!(words(&command), ["echo", "a", "b"]);
        assert_eq!(command.redirects.len(), 3);
        assert_eq!(command.redirects[2].target.to_string(), "/dev/null");
    }

    #[test]
    fn redirect_only_command() {
        let command = only_command("> empty");
        assert!(command.words.is_empty());
        assert_eq!(command.redirects.len(), 1);
    }

    #[test]
    fn redirect_target_may_be_quoted_or_variable() {
        let command = only_command("echo >\"$HOME/out file\"");
        assert_eq!(
            command.redirects[0].target.parts[0],
            WordPart::Variable {
                name: "HOME".into(),
                quoted: true
            }
        );
    }

    #[test]
    fn assignments() {
        let command = only_command("A=1 B=2 cmd x");
        assert_eq!(
            command.assignments,
            vec![
                ("A".into(), Word::literal("1")),
                ("B".into(), Word::literal("2"))
            ]
        );
        assert_eq!(words(&command), ["cmd", "x"]);

        let command = only_command("A=b");
        assert_eq!(command.assignments, vec![("A".into(), Word::literal("b"))]);
        assert!(command.words.is_empty());

        let command = only_command("cmd A=1");
        assert!(command.assignments.is_empty());
        assert_eq!(words(&command), ["cmd", "A=1"]);
    }

    #[test]
    fn assignment_values() {
        let command = only_command("EMPTY= Q='a b' V=x$Y\"z\" E=a=b");
        let values: Vec<(String, Word)> = command.assignments;
        assert_eq!(values[0], ("EMPTY".into(), Word::default()));
        assert_eq!(values[1].1.to_string(), "'a b'");
        assert_eq!(
            values[2].1.parts,
            vec![
                lit("x"),
                WordPart::Variable {
                    name: "Y".into(),
                    quoted: false
                },
                WordPart::Literal {
                    text: "z".into(),
                    quoted: true
                },
            ]
        );
        assert_eq!(values[3].1, Word::literal("a=b"));
    }

    #[test]
    fn not_assignments() {
        // Invalid names, quoted names, or `=` first are ordinary words.
        assert_eq!(words(&only_command("1A=x")), ["1A=x"]);
        assert_eq!(words(&only_command("=x")), ["=x"]);
        assert_eq!(only_command("'A'=x").assignments.len(), 0);
        assert_eq!(only_command("A-B=x").assignments.len(), 0);
    }

    #[test]
    fn assignments_around_redirects() {
        let command = only_command("A=1 >f B=2 cmd");
        assert_eq!(command.assignments.len(), 2);
        assert_eq!(words(&command), ["cmd"]);
    }

    #[test]
    fn words_with_variables_and_quotes() {
        let command = only_command("echo \"$A b\" '$A' $? ${B}c \\$D");
        assert_eq!(
            command.words[1].parts,
            vec![
                WordPart::Variable {
                    name: "A".into(),
                    quoted: true
                },
                WordPart::Literal {
                    text: " b".into(),
                    quoted: true
                },
            ]
        );
        assert_eq!(
            command.words[2].parts,
            vec![WordPart::Literal {
                text: "$A".into(),
                quoted: true
            }]
        );
        assert_eq!(
            command.words[3].parts,
            vec![WordPart::Special {
                symbol: '?',
                quoted: false
            }]
        );
        assert_eq!(command.words[4].parts.len(), 2);
        assert_eq!(command.words[5].as_literal().as_deref(), Some("$D"));
    }

    #[test]
    fn sh_dash_c_style_argument() {
        let command = only_command("sh -c 'echo $A; ls | wc'");
        assert_eq!(command.words[2].as_literal().unwrap(), "echo $A; ls | wc");
        let inner = parse(&command.words[2].as_literal().unwrap()).unwrap();
        assert_eq!(inner.items.len(), 2);
    }

    #[test]
    fn multi_line_script() {
        let script = "#!/bin/sh\n# setup\nX=1\nif_missing=yes\n\necho $X \\\n  continued\nfalse || echo failed\nsleep 5 &\necho $!\n";
        let parsed = parse(script).unwrap();
        assert_eq!(parsed.items.len(), 6);
        assert_eq!(
            words(&parsed.items[2].first.commands[0]),
            ["echo", "${X}", "continued"]
        );
        assert!(parsed.items[4].background);
    }

    #[test]
    fn error_unterminated_quotes() {
        assert_eq!(
            error_message("echo 'abc"),
            "syntax error: unterminated single quote (missing `'')"
        );
        assert_eq!(
            error_message("echo \"abc"),
            "syntax error: unterminated double quote (missing `\"')"
        );
        assert_eq!(
            error_message("echo ${abc"),
            "syntax error: unterminated `${' (missing `}')"
        );
        assert_eq!(
            error_message("echo ${a-b}"),
            "syntax error: bad substitution `${a-b}'"
        );
    }

    #[test]
    fn error_empty_commands() {
        assert_eq!(parse("| foo"), Err(ParseError::EmptyCommand("|".into())));
        assert_eq!(
            error_message("| foo"),
            "syntax error near unexpected token `|'"
        );
        assert_eq!(
            error_message("a | | b"),
            "syntax error near unexpected token `|'"
        );
        assert_eq!(
            error_message("; a"),
            "syntax error near unexpected token `;'"
        );
        assert_eq!(
            error_message("a ;; b"),
            "syntax error near unexpected token `;;'"
        );
        assert_eq!(
            error_message("a & & b"),
            "syntax error near unexpected token `&'"
        );
        assert_eq!(
            error_message("a && || b"),
            "syntax error near unexpected token `||'"
        );
        assert_eq!(
            error_message("a\n&& b"),
            "syntax error near unexpected token `&&'"
        );
        assert_eq!(
            error_message("! ; x"),
            "syntax error near unexpected token `;'"
        );
    }

    #[test]
    fn error_missing_command_at_end() {
        assert_eq!(
            parse("a && "),
            Err(ParseError::MissingCommandAfter("&&".into()))
        );
        assert_eq!(
            error_message("a && "),
            "syntax error: missing command after `&&'"
        );
        assert_eq!(
            error_message("a ||\n"),
            "syntax error: missing command after `||'"
        );
        assert_eq!(
            error_message("a |"),
            "syntax error: missing command after `|'"
        );
        assert_eq!(
            error_message("!"),
            "syntax error: missing command after `!'"
        );
    }

    #[test]
    fn error_missing_redirect_target() {
        assert_eq!(
            parse("echo >"),
            Err(ParseError::MissingRedirectTarget(">".into()))
        );
        assert_eq!(
            error_message("echo >"),
            "syntax error: missing file name after `>'"
        );
        assert_eq!(
            error_message("cat < | x"),
            "syntax error: missing file name after `<'"
        );
        assert_eq!(
            error_message("echo 2>> ;"),
            "syntax error: missing file name after `>>'"
        );
        assert_eq!(
            error_message("echo > # comment"),
            "syntax error: missing file name after `>'"
        );
    }

    #[test]
    fn error_bad_dup_target() {
        assert_eq!(
            error_message("echo 2>&file"),
            "syntax error: `>&' needs a file descriptor number or `-', not `file'"
        );
        assert_eq!(
            error_message("cat <&$FD"),
            "syntax error: `<&' needs a file descriptor number or `-', not `${FD}'"
        );
        assert_eq!(
            error_message("echo >&99999999999"),
            "syntax error: bad file descriptor `99999999999'"
        );
    }

    #[test]
    fn error_trailing_backslash() {
        assert_eq!(parse("echo \\"), Err(ParseError::TrailingBackslash));
        assert_eq!(
            error_message("echo \\"),
            "syntax error: `\\' at end of input escapes nothing"
        );
    }

    #[test]
    fn error_unsupported_and_unexpected() {
        assert_eq!(
            error_message("cat <<EOF"),
            "syntax error: here-documents (`<<') not supported"
        );
        assert_eq!(
            error_message("(ls)"),
            "syntax error: subshells and grouping `( ... )' not supported"
        );
        assert_eq!(
            error_message("echo $(ls)"),
            "syntax error: command substitution `$(...)' not supported"
        );
        assert_eq!(
            error_message("echo a )"),
            "syntax error near unexpected token `)'"
        );
        assert_eq!(
            error_message("! \n"),
            "syntax error near unexpected token `newline'"
        );
    }

    #[test]
    fn error_limits() {
        let long = "x".repeat(crate::MAX_INPUT_LEN + 1);
        assert_eq!(
            error_message(&long),
            alloc::format!(
                "input too long: {} bytes (limit is 65536)",
                crate::MAX_INPUT_LEN + 1
            )
        );
        let many = "a|".repeat(crate::MAX_TOKENS);
        assert_eq!(
            error_message(&many),
            "input too long: more than 16384 words and operators"
        );
    }

    #[test]
    fn deep_pipelines_do_not_recurse() {
        let input = "a|".repeat(crate::MAX_TOKENS / 2 - 1) + "a";
        let script = parse(&input).unwrap();
        assert_eq!(script.items[0].first.commands.len(), crate::MAX_TOKENS / 2);
        let input = "a&&".repeat(crate::MAX_TOKENS / 2 - 1) + "a";
        assert_eq!(
            parse(&input).unwrap().items[0].rest.len(),
            crate::MAX_TOKENS / 2 - 1
        );
    }

    #[test]
    fn needs_more_input_cases() {
        for incomplete in [
            "echo 'abc",
            "echo \"abc",
            "echo \"a\nb",
            "a |",
            "a | ",
            "a |\n",
            "a &&",
            "a ||",
            "a && \n\n",
            "echo \\",
            "echo a \\\n",
            "echo a\\\n",
            "A='x\n",
        ] {
            assert!(needs_more_input(incomplete), "{incomplete:?}");
        }
        for complete in [
            "",
            "echo a",
            "echo a\n",
            "a &",
            "a;",
            "echo 'a'",
            "echo \\\\",
            "echo a \\\nb",
            "| a",
            "echo ${a",
            "!",
            "echo # '",
        ] {
            assert!(!needs_more_input(complete), "{complete:?}");
        }
    }

    #[test]
    fn continuation_then_parse_succeeds() {
        let mut input = String::from("echo 'one");
        assert!(needs_more_input(&input));
        input.push_str("\ntwo'");
        assert!(!needs_more_input(&input));
        let command = only_command(&input);
        assert_eq!(command.words[1].as_literal().unwrap(), "one\ntwo");
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "echo hello world",
            "a | b && c & d; e",
            "! a | b || c",
            "A=1 B='x y' cmd \"$A\" '$B' ${C}d $? \"$$\" >out 2>&1 <in 3>>log 4<&- 5<>rw",
            "echo it\\'s a$ \"#x\" '' \"\"",
            "sleep 1 & sleep 2 &",
            "cmd A=1",
            "echo \"a${B}c\"'d'e\\ f",
            ">f ! x",
            "! >f ! x",
            "! ! x",
            "x >&'1' 2<&\"0\" 3>&'-' <&-",
            "a=1 ! x",
        ] {
            let script = parse(input).unwrap();
            let printed = script.to_string();
            assert_eq!(parse(&printed).unwrap(), script, "{input} -> {printed}");
        }
        assert_eq!(
            parse("a|b&&c&d;e").unwrap().to_string(),
            "a | b && c & d; e"
        );
        assert_eq!(parse("x 2>&1 >f").unwrap().to_string(), "x 2>&1 >f");
    }
}
