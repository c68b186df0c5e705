//! Word expansion: replaces parameter references with their values from an
//! [`Env`] and splits unquoted results into fields on `IFS`, following POSIX
//! field splitting. Pathname (glob) expansion is left to the shell, which owns
//! the file system; see [`crate::glob_match`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::ast::{Word, WordPart};

/// The field separators used when `IFS` is unset.
pub const DEFAULT_IFS: &str = " \t\n";

/// Where expansion looks up values. Unset names expand to nothing.
pub trait Env {
    /// The value of shell variable `name` (including `IFS`), if set.
    fn var(&self, name: &str) -> Option<String>;
    /// The value of special parameter `symbol`: `?`, `$`, `!`, `#`, `@`, `*`
    /// or a digit `0`..`9`.
    fn special(&self, symbol: char) -> Option<String>;
}

/// Expands one word into zero or more fields. Unquoted parameter values are
/// split on `IFS`; quoted ones are kept whole. A word that expands to nothing
/// unquoted (e.g. `$UNSET`) yields no field, while `""` yields one empty field.
pub fn expand_word(word: &Word, env: &dyn Env) -> Vec<String> {
    let ifs = env.var("IFS").unwrap_or_else(|| String::from(DEFAULT_IFS));
    let mut splitter = FieldSplitter::new(&ifs);
    for part in &word.parts {
        match part {
            WordPart::Literal { text, quoted } => splitter.push_literal(text, *quoted),
            WordPart::Variable { name, quoted } => {
                splitter.push_value(&env.var(name).unwrap_or_default(), *quoted)
            }
            WordPart::Special { symbol, quoted } => {
                splitter.push_value(&env.special(*symbol).unwrap_or_default(), *quoted)
            }
        }
    }
    splitter.finish()
}

/// Expands each word in turn and concatenates the fields (a command line's
/// argument vector).
pub fn expand_words(words: &[Word], env: &dyn Env) -> Vec<String> {
    words
        .iter()
        .flat_map(|word| expand_word(word, env))
        .collect()
}

/// Expands a word to one string without field splitting, as for assignment
/// values (`A=$B`) and redirection targets.
pub fn expand_word_to_string(word: &Word, env: &dyn Env) -> String {
    let mut text = String::new();
    for part in &word.parts {
        match part {
            WordPart::Literal { text: piece, .. } => text.push_str(piece),
            WordPart::Variable { name, .. } => text.push_str(&env.var(name).unwrap_or_default()),
            WordPart::Special { symbol, .. } => {
                text.push_str(&env.special(*symbol).unwrap_or_default())
            }
        }
    }
    text
}

/// Accumulates fields. IFS whitespace (space, tab, newline in `IFS`) runs
/// delimit fields and are trimmed at the ends; every other `IFS` character
/// delimits exactly one field (so `a::b` with `IFS=:` gives `a`, ``, `b`), and
/// whitespace next to it is part of the same delimiter.
struct FieldSplitter<'a> {
    ifs: &'a str,
    fields: Vec<String>,
    current: String,
    /// The current field exists even if empty (e.g. after `""`).
    field_started: bool,
    /// The last field was just ended by IFS whitespace, so a following
    /// non-whitespace IFS character belongs to the same delimiter.
    ended_by_whitespace: bool,
}

impl<'a> FieldSplitter<'a> {
    fn new(ifs: &'a str) -> Self {
        FieldSplitter {
            ifs,
            fields: Vec::new(),
            current: String::new(),
            field_started: false,
            ended_by_whitespace: false,
        }
    }

    fn push_literal(&mut self, text: &str, quoted: bool) {
        if quoted || !text.is_empty() {
            self.current.push_str(text);
            self.field_started = true;
            self.ended_by_whitespace = false;
        }
    }

    fn push_value(&mut self, value: &str, quoted: bool) {
        if quoted {
            self.push_literal(value, true);
            return;
        }
        for c in value.chars() {
            if !self.ifs.contains(c) {
                self.current.push(c);
                self.field_started = true;
                self.ended_by_whitespace = false;
            } else if matches!(c, ' ' | '\t' | '\n') {
                if self.field_started {
                    self.end_field();
                    self.ended_by_whitespace = true;
                }
            } else {
                if self.field_started || !self.ended_by_whitespace {
                    self.end_field();
                }
                self.ended_by_whitespace = false;
            }
        }
    }

    fn end_field(&mut self) {
        self.fields.push(core::mem::take(&mut self.current));
        self.field_started = false;
    }

    fn finish(mut self) -> Vec<String> {
        if self.field_started {
            self.end_field();
        }
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use alloc::collections::BTreeMap;
    use alloc::vec;

    struct TestEnv {
        vars: BTreeMap<&'static str, &'static str>,
    }

    impl Env for TestEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| String::from(*v))
        }
        fn special(&self, symbol: char) -> Option<String> {
            match symbol {
                '?' => Some("1".into()),
                '$' => Some("42".into()),
                '!' => Some("7".into()),
                '#' => Some("2".into()),
                '0' => Some("sh".into()),
                '1' => Some("first arg".into()),
                _ => None,
            }
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> TestEnv {
        TestEnv {
            vars: pairs.iter().copied().collect(),
        }
    }

    /// Parses `input` as one command and expands its words.
    fn expand(input: &str, env: &TestEnv) -> Vec<String> {
        let script = parse(input).unwrap();
        expand_words(&script.items[0].first.commands[0].words, env)
    }

    #[test]
    fn literals_pass_through() {
        assert_eq!(
            expand("echo a 'b c' \"d\"", &env(&[])),
            ["echo", "a", "b c", "d"]
        );
    }

    #[test]
    fn unquoted_variable_is_split_on_whitespace() {
        let e = env(&[("A", "  one two\t\tthree\n ")]);
        assert_eq!(expand("x $A", &e), ["x", "one", "two", "three"]);
    }

    #[test]
    fn quoted_variable_with_spaces_stays_one_field() {
        let e = env(&[("A", "  one two ")]);
        assert_eq!(expand("x \"$A\"", &e), ["x", "  one two "]);
        assert_eq!(expand("x \"${A}\"", &e), ["x", "  one two "]);
    }

    #[test]
    fn single_quoted_dollar_is_literal() {
        let e = env(&[("A", "value")]);
        assert_eq!(expand("x '$A'", &e), ["x", "$A"]);
        assert_eq!(expand("x \\$A", &e), ["x", "$A"]);
    }

    #[test]
    fn empty_unquoted_expansion_yields_no_field() {
        let e = env(&[("EMPTY", ""), ("BLANK", "   ")]);
        assert_eq!(expand("x $EMPTY $UNSET $BLANK y", &e), ["x", "y"]);
    }

    #[test]
    fn empty_quoted_expansion_yields_empty_field() {
        let e = env(&[("EMPTY", "")]);
        assert_eq!(expand("x \"$EMPTY\" '' \"\" y", &e), ["x", "", "", "", "y"]);
        assert_eq!(expand("x \"\"$EMPTY", &e), ["x", ""]);
    }

    #[test]
    fn split_value_joins_adjacent_text() {
        let e = env(&[("A", "1 2"), ("B", " 1 2 ")]);
        assert_eq!(expand("x pre${A}post", &e), ["x", "pre1", "2post"]);
        assert_eq!(expand("x pre${B}post", &e), ["x", "pre", "1", "2", "post"]);
        assert_eq!(expand("x \"q\"$B", &e), ["x", "q", "1", "2"]);
    }

    #[test]
    fn variable_name_boundaries() {
        let e = env(&[("A", "a"), ("AB", "ab")]);
        assert_eq!(expand("x $AB ${A}B $A-B", &e), ["x", "ab", "aB", "a-B"]);
    }

    #[test]
    fn special_parameters() {
        let e = env(&[]);
        assert_eq!(
            expand("x $? $$ $! $# $0", &e),
            ["x", "1", "42", "7", "2", "sh"]
        );
        assert_eq!(expand("x $1", &e), ["x", "first", "arg"]);
        assert_eq!(expand("x \"$1\"", &e), ["x", "first arg"]);
        assert_eq!(expand("x $9", &e), ["x"]);
        assert_eq!(expand("x exit=$?", &e), ["x", "exit=1"]);
    }

    #[test]
    fn lone_dollar_is_literal() {
        assert_eq!(
            expand("x $ a$ \"$\" $%", &env(&[])),
            ["x", "$", "a$", "$", "$%"]
        );
    }

    #[test]
    fn custom_ifs() {
        let e = env(&[("IFS", ":"), ("P", "/bin::/usr/bin:")]);
        assert_eq!(expand("x $P", &e), ["x", "/bin", "", "/usr/bin"]);
        let e = env(&[("IFS", ":"), ("P", ":a")]);
        assert_eq!(expand("x $P", &e), ["x", "", "a"]);
        let e = env(&[("IFS", ": "), ("P", " a : b  c: :d ")]);
        assert_eq!(expand("x $P", &e), ["x", "a", "b", "c", "", "d"]);
        let e = env(&[("IFS", ":"), ("P", "a b")]);
        assert_eq!(expand("x $P", &e), ["x", "a b"]);
    }

    #[test]
    fn empty_ifs_disables_splitting() {
        let e = env(&[("IFS", ""), ("A", " a b "), ("EMPTY", "")]);
        assert_eq!(expand("x $A $EMPTY", &e), ["x", " a b "]);
    }

    #[test]
    fn literal_ifs_characters_do_not_split() {
        let e = env(&[("IFS", ":")]);
        assert_eq!(expand("x a:b", &e), ["x", "a:b"]);
    }

    #[test]
    fn to_string_does_not_split() {
        let e = env(&[("A", " a  b ")]);
        let command = parse("V=x$A'y'$?").unwrap().items[0].first.commands[0].clone();
        assert_eq!(
            expand_word_to_string(&command.assignments[0].1, &e),
            "x a  b y1"
        );
        assert_eq!(expand_word_to_string(&Word::default(), &e), "");
    }

    #[test]
    fn expand_word_on_empty_word_gives_nothing() {
        assert_eq!(
            expand_word(&Word::default(), &env(&[])),
            Vec::<String>::new()
        );
        assert_eq!(
            expand_word(&Word::literal("a"), &env(&[])),
            vec![String::from("a")]
        );
    }
}
