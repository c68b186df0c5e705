//! Table-driven parser tests: the shape of what parses (as a compact
//! outline), the errors of what does not, and which inputs are incomplete.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{needs_more_input, parse, Parser};
use crate::ast::*;
use crate::error::ParseErrorKind;

/// A compact outline of a program: `;` between items, `&` for background.
fn outline(program: &Program) -> String {
    let items: Vec<String> = program
        .items
        .iter()
        .map(|item| {
            let mut text = pipeline(&item.and_or.first);
            for (connector, next) in &item.and_or.rest {
                text.push_str(match connector {
                    Connector::And => " && ",
                    Connector::Or => " || ",
                });
                text.push_str(&pipeline(next));
            }
            if item.background {
                text.push_str(" &");
            }
            text
        })
        .collect();
    items.join("; ")
}

fn pipeline(pipeline: &Pipeline) -> String {
    let commands: Vec<String> = pipeline.commands.iter().map(command).collect();
    let bang = if pipeline.negated { "! " } else { "" };
    format!("{bang}{}", commands.join(" | "))
}

fn command(cmd: &Command) -> String {
    match cmd {
        Command::Simple(simple) => {
            let mut parts: Vec<String> = simple
                .assignments
                .iter()
                .map(|(name, _)| format!("{name}="))
                .collect();
            parts.extend(simple.words.iter().map(|w| format!("w{}", w.parts.len())));
            parts.extend(
                simple
                    .redirects
                    .iter()
                    .map(|r| format!("r{}", r.descriptor())),
            );
            format!("S({})", parts.join(" "))
        }
        Command::Compound(compound, redirects) => {
            let inner = match compound.as_ref() {
                CompoundCommand::Brace(body) => format!("{{{}}}", outline(body)),
                CompoundCommand::Subshell(body) => format!("({})", outline(body)),
                CompoundCommand::If {
                    branches,
                    otherwise,
                } => {
                    let mut text = String::from("if");
                    for (condition, body) in branches {
                        text.push_str(&format!("[{}?{}]", outline(condition), outline(body)));
                    }
                    if let Some(body) = otherwise {
                        text.push_str(&format!("else[{}]", outline(body)));
                    }
                    text
                }
                CompoundCommand::Loop {
                    until,
                    condition,
                    body,
                } => format!(
                    "{}[{}?{}]",
                    if *until { "until" } else { "while" },
                    outline(condition),
                    outline(body)
                ),
                CompoundCommand::For { name, words, body } => format!(
                    "for {name}{}[{}]",
                    words
                        .as_ref()
                        .map_or(String::from("@"), |w| format!("{}", w.len())),
                    outline(body)
                ),
                CompoundCommand::Case { arms, .. } => {
                    let arms: Vec<String> = arms
                        .iter()
                        .map(|arm| {
                            format!(
                                "{}:{}{}",
                                arm.patterns.len(),
                                outline(&arm.body),
                                if arm.fall_through { "&" } else { "" }
                            )
                        })
                        .collect();
                    format!("case[{}]", arms.join(","))
                }
            };
            format!("{inner}{}", "r".repeat(redirects.len()))
        }
        Command::Function(definition) => {
            format!(
                "fn {}{}",
                definition.name,
                command(&Command::Compound(
                    alloc::boxed::Box::new(definition.body.clone()),
                    definition.redirects.clone(),
                ))
            )
        }
    }
}

#[test]
fn shapes() {
    let cases: &[(&str, &str)] = &[
        ("echo hi", "S(w1 w1)"),
        ("a=1 b=2 cmd x", "S(a= b= w1 w1)"),
        ("a=1", "S(a=)"),
        ("x=1 >f", "S(x= r1)"),
        ("cmd 2>&1 >out <in", "S(w1 r2 r1 r0)"),
        ("a | b | c", "S(w1) | S(w1) | S(w1)"),
        ("! a | b", "! S(w1) | S(w1)"),
        ("a && b || c", "S(w1) && S(w1) || S(w1)"),
        ("a &\nb", "S(w1) &; S(w1)"),
        ("a &&\n\n b", "S(w1) && S(w1)"),
        ("a |\n b", "S(w1) | S(w1)"),
        ("{ a; b; }", "{S(w1); S(w1)}"),
        ("(a; b) > f", "(S(w1); S(w1))r"),
        (
            "if a; then b; elif c; then d; else e; fi",
            "if[S(w1)?S(w1)][S(w1)?S(w1)]else[S(w1)]",
        ),
        ("if a\nthen\n b\nfi", "if[S(w1)?S(w1)]"),
        ("while a; do b; done", "while[S(w1)?S(w1)]"),
        ("until a; do b; done <in", "until[S(w1)?S(w1)]r"),
        ("for i in a b c; do x; done", "for i3[S(w1)]"),
        ("for i; do x; done", "for i@[S(w1)]"),
        ("for i\ndo x\ndone", "for i@[S(w1)]"),
        ("for i in; do x; done", "for i0[S(w1)]"),
        (
            "case x in a|b) y;; (c) ;; *) z;& d) w; esac",
            "case[2:S(w1),1:,1:S(w1)&,1:S(w1)]",
        ),
        ("case x in\n a) y\n ;;\nesac", "case[1:S(w1)]"),
        ("case x in esac", "case[]"),
        ("f() { a; }", "fn f{S(w1)}"),
        ("f ( )\n{ a; } >log", "fn f{S(w1)}r"),
        ("f() (a)", "fn f(S(w1))"),
        ("echo if then fi", "S(w1 w1 w1 w1)"),
        ("echo }", "S(w1 w1)"),
        ("a # comment ; b", "S(w1)"),
        ("a\\\nb", "S(w1)"),
        ("echo a#b", "S(w1 w1)"),
        ("cat <<EOF\nbody\nEOF\n", "S(w1 r0)"),
        ("cat <<A; cat <<B\na\nA\nb\nB\n", "S(w1 r0); S(w1 r0)"),
        ("echo $(a; b) `c`", "S(w1 w1 w1)"),
        ("echo \"$x\"$y'z'", "S(w1 w3)"),
        ("echo $((1 + (2)))", "S(w1 w1)"),
        ("echo $( (a) )", "S(w1 w1)"),
        ("echo $(case x in x) y;; esac)", "S(w1 w1)"),
        ("2>err cmd", "S(w1 r2)"),
        ("", ""),
        ("\n\n", ""),
    ];
    for (input, expected) in cases {
        let program = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(outline(&program), *expected, "{input:?}");
    }
}

#[test]
fn words_and_expansions() {
    let word = |input: &str| {
        let program = parse(input).unwrap();
        let Command::Simple(simple) = &program.items[0].and_or.first.commands[0] else {
            panic!()
        };
        simple.words[1].clone()
    };
    let param = |part: &WordPart| match part {
        WordPart::Param(param) => (param.name.clone(), param.op),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        param(&word("e ${x:-y}").parts[0]),
        ("x".into(), ParamOp::Default { colon: true })
    );
    assert_eq!(
        param(&word("e ${x=y}").parts[0]),
        ("x".into(), ParamOp::Assign { colon: false })
    );
    assert_eq!(
        param(&word("e ${#x}").parts[0]),
        ("x".into(), ParamOp::Length)
    );
    assert_eq!(
        param(&word("e ${#}").parts[0]),
        ("#".into(), ParamOp::Plain)
    );
    assert_eq!(
        param(&word("e ${x##*/}").parts[0]),
        ("x".into(), ParamOp::RemoveLargestPrefix)
    );
    assert_eq!(
        param(&word("e ${10}").parts[0]),
        ("10".into(), ParamOp::Plain)
    );
    assert_eq!(param(&word("e $10").parts[0]), ("1".into(), ParamOp::Plain));
    assert!(matches!(word("e $((1+2))").parts[0], WordPart::Arith(_)));
    assert!(matches!(word("e $(echo)").parts[0], WordPart::Command(_)));
    assert!(matches!(word("e ~/x").parts[0], WordPart::Tilde(_)));
    assert_eq!(word("e 'a b'").parts, [WordPart::Quoted("a b".into())]);
    assert_eq!(
        word("e a\\ b").parts,
        [
            WordPart::Literal("a".into()),
            WordPart::Quoted(" ".into()),
            WordPart::Literal("b".into())
        ]
    );
    // A here-document with a quoted delimiter is not expanded.
    let program = parse("cat <<'E'\n$x\nE\n").unwrap();
    let Command::Simple(simple) = &program.items[0].and_or.first.commands[0] else {
        panic!()
    };
    let RedirectTarget::HereDoc(heredoc) = &simple.redirects[0].target else {
        panic!()
    };
    assert!(heredoc.quoted);
    assert_eq!(
        heredoc.body.borrow().parts,
        [WordPart::Quoted("$x\n".into())]
    );
}

#[test]
fn errors() {
    let cases: &[(&str, &str)] = &[
        ("if then fi", "then"),
        ("a | | b", "|"),
        ("; a", ";"),
        ("a ;; b", ";;"),
        ("fi", "fi"),
        ("{ }", "}"),
        ("( )", ")"),
        ("while a; do done", "done"),
        ("for 1 in a; do b; done", "1"),
        ("a > ", "redirection"),
        ("a >&", "redirection"),
        ("case x in a) b;; c", "case"),
        ("echo ${x!}", "bad substitution"),
        ("echo ${}", "bad substitution"),
        ("f() a", "a"),
        ("1f() { a; }", "not a valid function name"),
    ];
    for (input, needle) in cases {
        let error = parse(input).expect_err(input);
        let message = format!("{error}");
        assert!(message.contains(needle), "{input:?}: {message}");
    }
}

#[test]
fn incomplete_inputs() {
    for input in [
        "echo 'abc",
        "echo \"abc",
        "echo $(ls",
        "echo ${x",
        "echo `ls",
        "if a; then b",
        "while a",
        "for i in a",
        "case x in",
        "{ a",
        "( a",
        "a &&",
        "a |",
        "cat <<EOF\nbody",
        "f() {",
        "echo $((1 +",
        "a \\",
    ] {
        assert!(needs_more_input(input), "{input:?}");
    }
    for input in ["echo hi", "if a; then b; fi", "fi", "a ;; b"] {
        assert!(!needs_more_input(input), "{input:?}");
    }
}

#[test]
fn limits() {
    // Debug builds use far more stack per level than the shell's release
    // build; give the deep cases room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(deep_inputs)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_inputs() {
    let deep = "(".repeat(10_000);
    let error = parse(&deep).unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::TooDeep);
    let deep = "$(".repeat(10_000);
    assert_eq!(
        parse(&format!("echo {deep}")).unwrap_err().kind,
        ParseErrorKind::TooDeep
    );
    let long = "a".repeat(crate::MAX_INPUT_LEN + 1);
    assert!(matches!(
        Parser::new(&long).next_command().unwrap_err().kind,
        ParseErrorKind::InputTooLong(_)
    ));
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let text = String::from_utf8_lossy(&garbage);
    let _ = parse(&text);
}

#[test]
fn one_command_at_a_time() {
    let mut parser = Parser::new("a; b\nif c\nthen d\nfi\nbad ;;\nnever\n");
    let first = parser.next_command().unwrap().unwrap();
    assert_eq!(outline(&first), "S(w1); S(w1)");
    let second = parser.next_command().unwrap().unwrap();
    assert_eq!(outline(&second), "if[S(w1)?S(w1)]");
    assert!(parser.next_command().is_err());
}

#[test]
fn line_numbers() {
    let program = parse("a\n\nb\nc <<E\nx\nE\nd\n").unwrap();
    let lines: Vec<u32> = program
        .items
        .iter()
        .map(|item| match &item.and_or.first.commands[0] {
            Command::Simple(simple) => simple.line,
            _ => 0,
        })
        .collect();
    assert_eq!(lines, [1, 3, 4, 7]);
}
