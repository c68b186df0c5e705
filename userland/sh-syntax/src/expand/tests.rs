//! Table-driven expansion tests: each case is a command line and the fields
//! its words expand to, in an environment with known variables, positional
//! parameters, a fake directory tree and a fake command substitution (which
//! prints the source text of its first simple command's words).

use std::collections::HashMap;
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::{parse, Command};

struct Mock {
    vars: HashMap<String, String>,
    positional: Vec<String>,
    nounset: bool,
}

impl Mock {
    fn new() -> Mock {
        let vars = [
            ("x", "hello"),
            ("empty", ""),
            ("spaced", "  a  b  "),
            ("colon", "a:b::c:"),
            ("star", "*.txt"),
            ("path", "/usr/local/lib/libz.so.1"),
            ("HOME", "/home/me"),
            ("n", "7"),
        ];
        Mock {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            positional: vec!["one".into(), "two words".into(), "".into()],
            nounset: false,
        }
    }
}

impl Context for Mock {
    fn var(&mut self, name: &str) -> Option<String> {
        if name == "#" {
            return Some(self.positional.len().to_string());
        }
        if let Ok(index) = name.parse::<usize>() {
            return self.positional.get(index.wrapping_sub(1)).cloned();
        }
        self.vars.get(name).cloned()
    }
    fn positional(&mut self) -> Vec<String> {
        self.positional.clone()
    }
    fn set_var(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name == "RO" {
            return Err("RO: is read only".into());
        }
        self.vars.insert(name.into(), value.into());
        Ok(())
    }
    fn command_output(&mut self, program: &Program) -> Result<String, ExpandError> {
        let Some(item) = program.items.first() else {
            return Ok(String::new());
        };
        let Command::Simple(simple) = &item.and_or.first.commands[0] else {
            return Ok(String::new());
        };
        let fields = expand_words(&simple.words, self)?;
        Ok(fields[1..].join(" ") + "\n\n")
    }
    fn read_dir(&mut self, path: &str) -> Option<Vec<String>> {
        let names: &[&str] = match path {
            "." => &["a.txt", "b.txt", "c.rs", ".hidden.txt", "dir"],
            "dir" => &["x.txt", "y"],
            "/" => &["bin", "etc"],
            _ => return None,
        };
        Some(names.iter().map(|s| s.to_string()).collect())
    }
    fn nounset(&self) -> bool {
        self.nounset
    }
}

/// Expands the words of the first simple command of `line`.
fn fields_with(mock: &mut Mock, line: &str) -> Result<Vec<String>, ExpandError> {
    let program = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let Command::Simple(simple) = &program.items[0].and_or.first.commands[0] else {
        panic!("not simple: {line}");
    };
    expand_words(&simple.words, mock)
}

fn fields(line: &str) -> Vec<String> {
    fields_with(&mut Mock::new(), line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn expansion_table() {
    let cases: &[(&str, &[&str])] = &[
        ("echo plain", &["echo", "plain"]),
        ("e $x", &["e", "hello"]),
        ("e ${x}s", &["e", "hellos"]),
        ("e '$x'", &["e", "$x"]),
        ("e \"$x world\"", &["e", "hello world"]),
        ("e \\$x", &["e", "$x"]),
        ("e $empty", &["e"]),
        ("e \"$empty\"", &["e", ""]),
        ("e ''", &["e", ""]),
        ("e $spaced", &["e", "a", "b"]),
        ("e \"$spaced\"", &["e", "  a  b  "]),
        ("e x$spaced", &["e", "x", "a", "b"]),
        ("e $@", &["e", "one", "two", "words"]),
        ("e \"$@\"", &["e", "one", "two words", ""]),
        ("e \"x$@y\"", &["e", "xone", "two words", "y"]),
        ("e \"$*\"", &["e", "one two words "]),
        ("e $#", &["e", "3"]),
        ("e ${#x}", &["e", "5"]),
        ("e ${#}", &["e", "3"]),
        ("e ${unset-def}", &["e", "def"]),
        ("e ${empty-def}", &["e"]),
        ("e ${empty:-def}", &["e", "def"]),
        ("e ${x:-def}", &["e", "hello"]),
        ("e ${unset:-a b}", &["e", "a", "b"]),
        ("e \"${unset:-a b}\"", &["e", "a b"]),
        ("e ${x:+alt}", &["e", "alt"]),
        ("e ${empty:+alt}", &["e"]),
        ("e ${empty+alt}", &["e", "alt"]),
        ("e ${path#*/}", &["e", "usr/local/lib/libz.so.1"]),
        ("e ${path##*/}", &["e", "libz.so.1"]),
        ("e ${path%.*}", &["e", "/usr/local/lib/libz.so"]),
        ("e ${path%%.*}", &["e", "/usr/local/lib/libz"]),
        ("e ${path%\"*\"}", &["e", "/usr/local/lib/libz.so.1"]),
        ("e ${x#h?}", &["e", "llo"]),
        ("e \"${path##*/}\"", &["e", "libz.so.1"]),
        ("e \"${path%'.1'}\"", &["e", "/usr/local/lib/libz.so"]),
        ("e $(echo a  b)", &["e", "a", "b"]),
        ("e \"$(echo a  b)\"", &["e", "a b"]),
        ("e `echo q`", &["e", "q"]),
        ("e $(echo $(echo nested))", &["e", "nested"]),
        ("e $((1 + 2 * 3))", &["e", "7"]),
        ("e $((n * 2))", &["e", "14"]),
        ("e $(($n + 1))", &["e", "8"]),
        ("e $(( (1 + 2) * 3 ))", &["e", "9"]),
        ("e ~", &["e", "/home/me"]),
        ("e ~/bin", &["e", "/home/me/bin"]),
        ("e \"~\"", &["e", "~"]),
        ("e *.txt", &["e", "a.txt", "b.txt"]),
        ("e \"*.txt\"", &["e", "*.txt"]),
        ("e $star", &["e", "a.txt", "b.txt"]),
        ("e \"$star\"", &["e", "*.txt"]),
        ("e .*.txt", &["e", ".hidden.txt"]),
        ("e dir/*.txt", &["e", "dir/x.txt"]),
        ("e */x.txt", &["e", "dir/x.txt"]),
        ("e *.none", &["e", "*.none"]),
        ("e [ab].txt", &["e", "a.txt", "b.txt"]),
        ("e /*", &["e", "/bin", "/etc"]),
        ("e a\\ b", &["e", "a b"]),
        ("e \"a\\\"b\"", &["e", "a\"b"]),
        ("e \"a\\b\"", &["e", "a\\b"]),
        ("e $1", &["e", "one"]),
        ("e $2", &["e", "two", "words"]),
        ("e \"$2\"", &["e", "two words"]),
        ("e ${10-ten}", &["e", "ten"]),
        ("e $", &["e", "$"]),
        ("[ x ]", &["[", "x", "]"]),
        ("e [a", &["e", "[a"]),
        ("e a$", &["e", "a$"]),
    ];
    for (line, expected) in cases {
        assert_eq!(fields(line), *expected, "{line}");
    }
}

#[test]
fn ifs_splitting() {
    let mut mock = Mock::new();
    mock.vars.insert("IFS".into(), ":".into());
    assert_eq!(
        fields_with(&mut mock, "e $colon").unwrap(),
        ["e", "a", "b", "", "c"]
    );
    mock.vars.insert("IFS".into(), " :".into());
    mock.vars.insert("v".into(), " a : b  c ".into());
    assert_eq!(
        fields_with(&mut mock, "e $v").unwrap(),
        ["e", "a", "b", "c"]
    );
    mock.vars.insert("IFS".into(), "".into());
    assert_eq!(
        fields_with(&mut mock, "e $spaced").unwrap(),
        ["e", "  a  b  "]
    );
    assert_eq!(
        fields_with(&mut mock, "e \"$*\"").unwrap(),
        ["e", "onetwo words"]
    );
}

#[test]
fn assignments_and_errors() {
    let mut mock = Mock::new();
    assert_eq!(
        fields_with(&mut mock, "e ${new:=made}").unwrap(),
        ["e", "made"]
    );
    assert_eq!(mock.vars["new"], "made");
    assert_eq!(
        fields_with(&mut mock, "e $((k = 4 * 2)) $k").unwrap(),
        ["e", "8", "8"]
    );
    assert_eq!(
        fields_with(&mut mock, "e ${unset?is needed}"),
        Err(ExpandError::Required {
            name: "unset".into(),
            message: "is needed".into()
        })
    );
    assert_eq!(
        fields_with(&mut mock, "e ${empty:?}"),
        Err(ExpandError::Required {
            name: "empty".into(),
            message: "parameter null or not set".into()
        })
    );
    assert!(matches!(
        fields_with(&mut mock, "e ${3:=x}"),
        Err(ExpandError::CannotAssign(_))
    ));
    assert!(matches!(
        fields_with(&mut mock, "e ${RO:=x}"),
        Err(ExpandError::Assign(_))
    ));
    assert!(matches!(
        fields_with(&mut mock, "e $((1/0))"),
        Err(ExpandError::Arith(ArithError::DivisionByZero))
    ));
    mock.nounset = true;
    assert_eq!(
        fields_with(&mut mock, "e $nothing"),
        Err(ExpandError::Unset("nothing".into()))
    );
    assert_eq!(fields_with(&mut mock, "e \"$@\"").unwrap().len(), 4);
}

#[test]
fn no_positional_parameters() {
    let mut mock = Mock::new();
    mock.positional.clear();
    assert_eq!(fields_with(&mut mock, "e \"$@\"").unwrap(), ["e"]);
    assert_eq!(fields_with(&mut mock, "e \"$*\"").unwrap(), ["e", ""]);
    assert_eq!(fields_with(&mut mock, "e x\"$@\"").unwrap(), ["e", "x"]);
}

#[test]
fn strings_and_patterns() {
    let mut mock = Mock::new();
    let word = |line: &str| {
        let program = parse(line).unwrap();
        let Command::Simple(simple) = &program.items[0].and_or.first.commands[0] else {
            panic!()
        };
        simple.words[0].clone()
    };
    assert_eq!(
        expand_to_string(&word("$spaced*"), &mut mock).unwrap(),
        "  a  b  *"
    );
    assert_eq!(
        expand_to_string(&word("\"$@\""), &mut mock).unwrap(),
        "one two words "
    );
    assert_eq!(
        expand_pattern(&word("a\"*\"?"), &mut mock).unwrap(),
        "a\\*?"
    );
    assert_eq!(expand_pattern(&word("$star"), &mut mock).unwrap(), "*.txt");
}
