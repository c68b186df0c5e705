//! `test EXPRESSION` and `[ EXPRESSION ]`: POSIX's rules by argument count
//! (0 to 4 arguments), and beyond that a parser for `!`, `-a`, `-o` and
//! parentheses. Unary file tests ask a [`Files`] implementation; string
//! tests `-n -z = != < >`; integer tests `-eq -ne -lt -le -gt -ge`.
//! The result is the exit status: 0 true, 1 false, 2 error (with a message).

use alloc::format;
use alloc::string::String;

use zos_proto::fs::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

/// What `test` needs to know about files.
pub trait Files {
    /// The mode and size of `path` (`follow`: through a final symlink).
    fn stat(&self, path: &str, follow: bool) -> Option<(u32, u64)>;
    /// True if descriptor `fd` is a terminal.
    fn isatty(&self, fd: i32) -> bool;
}

const UNARY: &[&str] = &[
    "-b", "-c", "-d", "-e", "-f", "-g", "-h", "-L", "-n", "-p", "-r", "-S", "-s", "-t", "-u", "-w",
    "-x", "-z", "-k",
];
const BINARY: &[&str] = &[
    "=", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef", "==",
];

fn integer(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    trimmed
        .parse::<i64>()
        .map_err(|_| format!("{text}: integer expression expected"))
}

fn unary(op: &str, arg: &str, files: &dyn Files) -> Result<bool, String> {
    let kind = |follow: bool| files.stat(arg, follow).map(|(mode, _)| mode & S_IFMT);
    Ok(match op {
        "-n" => !arg.is_empty(),
        "-z" => arg.is_empty(),
        "-e" => files.stat(arg, true).is_some(),
        "-f" => kind(true) == Some(S_IFREG),
        "-d" => kind(true) == Some(S_IFDIR),
        "-b" => kind(true) == Some(S_IFBLK),
        "-c" => kind(true) == Some(S_IFCHR),
        "-p" => kind(true) == Some(S_IFIFO),
        "-S" => kind(true) == Some(S_IFSOCK),
        "-h" | "-L" => kind(false) == Some(S_IFLNK),
        "-s" => files.stat(arg, true).is_some_and(|(_, size)| size > 0),
        "-g" => files
            .stat(arg, true)
            .is_some_and(|(mode, _)| mode & 0o2000 != 0),
        "-u" => files
            .stat(arg, true)
            .is_some_and(|(mode, _)| mode & 0o4000 != 0),
        "-k" => files
            .stat(arg, true)
            .is_some_and(|(mode, _)| mode & 0o1000 != 0),
        // Approximation: readable and writable if it exists (the VFS has no
        // access(2) request yet; the open itself is checked).
        "-r" | "-w" => files.stat(arg, true).is_some(),
        "-x" => files
            .stat(arg, true)
            .is_some_and(|(mode, _)| mode & 0o111 != 0 || mode & S_IFMT == S_IFDIR),
        "-t" => files.isatty(integer(arg)? as i32),
        _ => return Err(format!("{op}: unary operator expected")),
    })
}

fn binary(left: &str, op: &str, right: &str) -> Result<bool, String> {
    Ok(match op {
        "=" | "==" => left == right,
        "!=" => left != right,
        "<" => left < right,
        ">" => left > right,
        "-eq" => integer(left)? == integer(right)?,
        "-ne" => integer(left)? != integer(right)?,
        "-lt" => integer(left)? < integer(right)?,
        "-le" => integer(left)? <= integer(right)?,
        "-gt" => integer(left)? > integer(right)?,
        "-ge" => integer(left)? >= integer(right)?,
        _ => return Err(format!("{op}: binary operator not supported")),
    })
}

/// Evaluates `test`'s arguments (without the closing `]`).
pub fn evaluate(args: &[&str], files: &dyn Files) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [one] => Ok(!one.is_empty()),
        ["!", one] => Ok(one.is_empty()),
        [op, arg] if UNARY.contains(op) => unary(op, arg, files),
        [op, _] => Err(format!("{op}: unary operator expected")),
        [left, op, right] if BINARY.contains(op) => binary(left, op, right),
        [left, "-a", right] => Ok(!left.is_empty() && !right.is_empty()),
        [left, "-o", right] => Ok(!left.is_empty() || !right.is_empty()),
        ["!", rest @ ..] if args.len() <= 4 => evaluate(rest, files).map(|value| !value),
        ["(", inner, ")"] => Ok(!inner.is_empty()),
        ["(", a, b, ")"] => evaluate(&[a, b], files),
        _ => {
            let mut parser = Parser { args, at: 0, files };
            let value = parser.or()?;
            match parser.args.get(parser.at) {
                None => Ok(value),
                Some(extra) => Err(format!("{extra}: unexpected argument")),
            }
        }
    }
}

struct Parser<'a> {
    args: &'a [&'a str],
    at: usize,
    files: &'a dyn Files,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.args.get(self.at).copied()
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek() == Some("-o") {
            self.at += 1;
            let right = self.and()?;
            value = value || right;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.not()?;
        while self.peek() == Some("-a") {
            self.at += 1;
            let right = self.not()?;
            value = value && right;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek() == Some("!") {
            self.at += 1;
            return self.not().map(|value| !value);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let Some(first) = self.peek() else {
            return Err(String::from("argument expected"));
        };
        if first == "(" {
            self.at += 1;
            let value = self.or()?;
            if self.peek() != Some(")") {
                return Err(String::from("missing `)'"));
            }
            self.at += 1;
            return Ok(value);
        }
        if let Some(op) = self.args.get(self.at + 1).filter(|op| BINARY.contains(op)) {
            if let Some(right) = self.args.get(self.at + 2) {
                self.at += 3;
                return binary(first, op, right);
            }
        }
        if UNARY.contains(&first) {
            if let Some(arg) = self.args.get(self.at + 1) {
                self.at += 2;
                return unary(first, arg, self.files);
            }
        }
        self.at += 1;
        Ok(!first.is_empty())
    }
}

/// `test`/`[` as a command: the exit status, and a message on error.
pub fn run(name: &str, args: &[&str], files: &dyn Files) -> (i32, Option<String>) {
    let args = if name == "[" {
        match args.split_last() {
            Some((&"]", rest)) => rest,
            _ => return (2, Some(String::from("[: missing `]'"))),
        }
    } else {
        args
    };
    match evaluate(args, files) {
        Ok(true) => (0, None),
        Ok(false) => (1, None),
        Err(message) => (2, Some(format!("{name}: {message}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Files for Fake {
        fn stat(&self, path: &str, follow: bool) -> Option<(u32, u64)> {
            match path {
                "/etc" => Some((S_IFDIR | 0o755, 0)),
                "/etc/motd" => Some((S_IFREG | 0o644, 10)),
                "/empty" => Some((S_IFREG | 0o755, 0)),
                "/link" if !follow => Some((S_IFLNK | 0o777, 4)),
                "/link" => Some((S_IFREG | 0o644, 10)),
                _ => None,
            }
        }
        fn isatty(&self, fd: i32) -> bool {
            fd == 0
        }
    }

    #[test]
    fn table() {
        let cases: &[(&[&str], i32)] = &[
            (&[], 1),
            (&["x"], 0),
            (&[""], 1),
            (&["!", ""], 0),
            (&["-n", "a"], 0),
            (&["-z", "a"], 1),
            (&["-d", "/etc"], 0),
            (&["-f", "/etc"], 1),
            (&["-f", "/etc/motd"], 0),
            (&["-s", "/empty"], 1),
            (&["-x", "/empty"], 0),
            (&["-e", "/none"], 1),
            (&["-h", "/link"], 0),
            (&["-t", "0"], 0),
            (&["a", "=", "a"], 0),
            (&["a", "!=", "a"], 1),
            (&["3", "-lt", "10"], 0),
            (&["10", "-le", "3"], 1),
            (&["a", "<", "b"], 0),
            (&["!", "a", "=", "b"], 0),
            (&["(", "x", ")"], 0),
            (&["-n", "a", "-a", "-z", ""], 0),
            (&["-z", "a", "-o", "b", "=", "b"], 0),
            (&["!", "(", "a", "=", "a", ")", "-o", "x", "=", "y"], 1),
            (&["-n", "-a", "-n"], 0),
            (&["=", "=", "="], 0),
            (&["a", "-eq", "1"], 2),
            (&["-q", "x"], 2),
        ];
        for (args, expected) in cases {
            assert_eq!(run("test", args, &Fake).0, *expected, "{args:?}");
        }
    }

    #[test]
    fn brackets() {
        assert_eq!(run("[", &["a", "]"], &Fake).0, 0);
        assert_eq!(run("[", &["a"], &Fake).0, 2);
    }
}
