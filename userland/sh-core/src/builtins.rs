//! Built-in commands without I/O: which names are special or regular
//! built-ins, `help` text, `getopts` stepping, `read`'s field assignment by
//! IFS, and `set`'s option letters.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// POSIX special built-ins: assignments before them stay, errors in them
/// end a non-interactive shell, functions cannot hide them.
pub const SPECIAL: &[&str] = &[
    "break", "continue", ":", ".", "eval", "exec", "exit", "export", "readonly", "return", "set",
    "shift", "times", "trap", "unset",
];

/// Regular built-ins (run in the shell, found before `$PATH`).
pub const REGULAR: &[&str] = &[
    "cd", "pwd", "read", "printf", "test", "[", "echo", "getopts", "command", "type", "alias",
    "unalias", "umask", "wait", "kill", "jobs", "fg", "bg", "hash", "true", "false", "local",
    "help", "history",
];

pub fn is_special(name: &str) -> bool {
    SPECIAL.contains(&name)
}

pub fn is_builtin(name: &str) -> bool {
    is_special(name) || REGULAR.contains(&name)
}

/// What `help` prints.
pub fn help_text() -> String {
    let mut text = String::from("Zero OS shell (POSIX sh). Special built-ins:\n ");
    for name in SPECIAL {
        text.push(' ');
        text.push_str(name);
    }
    text.push_str("\nBuilt-ins:\n ");
    for name in REGULAR {
        text.push(' ');
        text.push_str(name);
    }
    text.push_str("\nOther commands are run from $PATH (default /bin:/sbin).\n");
    text
}

/// One step of `getopts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetoptsStep {
    /// The option letter, `?` for an unknown one or a missing argument
    /// (`:` for a missing argument with a leading `:` in the optstring).
    pub name: char,
    /// `OPTARG`: the argument, or the bad letter in silent mode.
    pub optarg: Option<String>,
    /// The message to print (not in silent mode).
    pub message: Option<String>,
}

/// Where `getopts` is: `OPTIND` and the position inside a group (`-abc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetoptsState {
    pub optind: usize,
    pub offset: usize,
}

/// Advances `getopts`. `None` at the end of the options (the state then
/// points at the first operand).
pub fn getopts(optstring: &str, args: &[String], state: &mut GetoptsState) -> Option<GetoptsStep> {
    let silent = optstring.starts_with(':');
    let letters = optstring.trim_start_matches(':');
    let arg = args.get(state.optind.checked_sub(1)?)?;
    if state.offset == 0 {
        if arg == "--" {
            state.optind += 1;
            return None;
        }
        if !arg.starts_with('-') || arg == "-" {
            return None;
        }
        state.offset = 1;
    }
    let letter = arg[state.offset..].chars().next()?;
    state.offset += letter.len_utf8();
    let finish_arg = |state: &mut GetoptsState| {
        state.optind += 1;
        state.offset = 0;
    };
    let at_end = state.offset >= arg.len();
    let spec = letters.find(letter).filter(|_| letter != ':');
    let Some(index) = spec else {
        if at_end {
            finish_arg(state);
        }
        return Some(if silent {
            GetoptsStep {
                name: '?',
                optarg: Some(letter.to_string()),
                message: None,
            }
        } else {
            GetoptsStep {
                name: '?',
                optarg: None,
                message: Some(alloc::format!("illegal option -- {letter}")),
            }
        });
    };
    let wants_argument = letters[index + letter.len_utf8()..].starts_with(':');
    if !wants_argument {
        if at_end {
            finish_arg(state);
        }
        return Some(GetoptsStep {
            name: letter,
            optarg: None,
            message: None,
        });
    }
    let value = if !at_end {
        let value = arg[state.offset..].to_string();
        finish_arg(state);
        Some(value)
    } else {
        finish_arg(state);
        let value = args.get(state.optind - 1).cloned();
        if value.is_some() {
            state.optind += 1;
        }
        value
    };
    match value {
        Some(value) => Some(GetoptsStep {
            name: letter,
            optarg: Some(value),
            message: None,
        }),
        None if silent => Some(GetoptsStep {
            name: ':',
            optarg: Some(letter.to_string()),
            message: None,
        }),
        None => Some(GetoptsStep {
            name: '?',
            optarg: None,
            message: Some(alloc::format!("option requires an argument -- {letter}")),
        }),
    }
}

/// `read`: splits a line into `count` values by IFS; the last gets the
/// rest of the line (without trailing IFS white space).
pub fn split_read(line: &str, ifs: &str, count: usize) -> Vec<String> {
    let is_ifs = |c: char| ifs.contains(c);
    let is_white = |c: char| is_ifs(c) && matches!(c, ' ' | '\t' | '\n');
    let mut values = Vec::new();
    let mut rest = line.trim_start_matches(is_white);
    while values.len() + 1 < count && !rest.is_empty() {
        let end = rest.find(is_ifs).unwrap_or(rest.len());
        values.push(rest[..end].to_string());
        // The delimiter: IFS white space, at most one other IFS character,
        // IFS white space.
        let mut after = rest[end..].trim_start_matches(is_white);
        if let Some(c) = after.chars().next().filter(|&c| is_ifs(c) && !is_white(c)) {
            after = after[c.len_utf8()..].trim_start_matches(is_white);
        }
        rest = after;
    }
    let last = rest.trim_end_matches(is_white);
    if count > 0 && values.len() < count {
        values.push(last.to_string());
    }
    while values.len() < count {
        values.push(String::new());
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopts_walks_options() {
        let argv = args(&["-ab", "-c", "val", "-cX", "-z", "--", "op"]);
        let mut state = GetoptsState {
            optind: 1,
            offset: 0,
        };
        let mut seen = Vec::new();
        while let Some(step) = getopts("abc:", &argv, &mut state) {
            seen.push((step.name, step.optarg));
        }
        assert_eq!(
            seen,
            [
                ('a', None),
                ('b', None),
                ('c', Some("val".into())),
                ('c', Some("X".into())),
                ('?', None)
            ]
        );
        assert_eq!(state.optind, 7);
    }

    #[test]
    fn getopts_missing_argument() {
        let argv = args(&["-c"]);
        let mut state = GetoptsState {
            optind: 1,
            offset: 0,
        };
        let step = getopts(":c:", &argv, &mut state).unwrap();
        assert_eq!((step.name, step.optarg), (':', Some("c".into())));
        let mut state = GetoptsState {
            optind: 1,
            offset: 0,
        };
        let step = getopts("c:", &argv, &mut state).unwrap();
        assert_eq!(step.name, '?');
        assert!(step.message.is_some());
    }

    #[test]
    fn read_splitting() {
        let cases: &[(&str, &str, usize, &[&str])] = &[
            ("  a b  c  ", " \t\n", 2, &["a", "b  c"]),
            ("a b", " \t\n", 3, &["a", "b", ""]),
            ("a:b:c", ":", 2, &["a", "b:c"]),
            ("a::c", ":", 3, &["a", "", "c"]),
            ("  x  ", " ", 1, &["x"]),
            ("a b", "", 2, &["a b", ""]),
        ];
        for (line, ifs, count, expected) in cases {
            assert_eq!(split_read(line, ifs, *count), *expected, "{line:?} {ifs:?}");
        }
    }

    #[test]
    fn names() {
        assert!(is_special("eval"));
        assert!(!is_special("cd"));
        assert!(is_builtin("cd"));
        assert!(!is_builtin("ls"));
    }
}
