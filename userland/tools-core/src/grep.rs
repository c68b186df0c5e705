//! `grep`: options, the matcher (fixed strings with `-F`, basic regular
//! expressions otherwise), the output line prefixes, and a splitter that
//! turns chunks of input into whole lines. Exit status: 0 when a line was
//! selected, 1 when none was, 2 on errors.

use crate::failure::UsageError;
use crate::getopt;
use crate::regex::Regex;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Exit status when no line was selected.
pub const EXIT_NO_MATCH: i32 = 1;
/// Exit status after an error.
pub const EXIT_TROUBLE: i32 = 2;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrepOptions<'a> {
    /// `-v`: select lines that do not match.
    pub invert: bool,
    /// `-i`: ignore ASCII case.
    pub ignore_case: bool,
    /// `-n`: prefix line numbers.
    pub line_numbers: bool,
    /// `-c`: print only counts.
    pub count: bool,
    /// `-F`: the pattern is a fixed string.
    pub fixed: bool,
    /// `-q`: print nothing; exit 0 on the first selected line.
    pub quiet: bool,
    /// `-l`: print only the names of files with a selected line.
    pub files_with_matches: bool,
    /// `-s`: no messages about unreadable files.
    pub no_messages: bool,
    /// Every `-e PATTERN` (or else the first operand), each split at
    /// newlines: a line is selected when any of them matches (POSIX).
    pub patterns: Vec<&'a str>,
    pub files: Vec<&'a str>,
}

pub fn parse<'a>(args: &[&'a str]) -> Result<GrepOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "vinscFqle:")?;
    let mut operands = parsed.operands.clone();
    let given: Vec<&str> = parsed
        .options
        .iter()
        .filter(|(l, _)| *l == 'e')
        .filter_map(|(_, v)| *v)
        .collect();
    let lists = match given.is_empty() {
        false => given,
        true if operands.is_empty() => return Err(UsageError("missing pattern".into())),
        true => alloc::vec![operands.remove(0)],
    };
    let patterns = lists.iter().flat_map(|list| list.split('\n')).collect();
    Ok(GrepOptions {
        invert: parsed.has('v'),
        ignore_case: parsed.has('i'),
        line_numbers: parsed.has('n'),
        count: parsed.has('c'),
        fixed: parsed.has('F'),
        quiet: parsed.has('q'),
        files_with_matches: parsed.has('l'),
        no_messages: parsed.has('s'),
        patterns,
        files: operands,
    })
}

/// What a line is tested against: any of the patterns.
#[derive(Clone, Debug)]
pub struct Matcher(Vec<Pattern>);

/// One pattern.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// `-F`: the bytes (lower-cased with `-i`).
    Fixed {
        needle: Vec<u8>,
        ignore_case: bool,
    },
    Regex(Regex),
}

impl Matcher {
    pub fn new(options: &GrepOptions) -> Result<Self, UsageError> {
        let patterns = options.patterns.iter();
        let one = |pattern: &&str| Pattern::new(pattern, options.fixed, options.ignore_case);
        patterns.map(one).collect::<Result<_, _>>().map(Matcher)
    }

    pub fn is_match(&self, line: &[u8]) -> bool {
        self.0.iter().any(|pattern| pattern.is_match(line))
    }

    /// Whether `line` is selected (`-v` inverts).
    pub fn selects(&self, line: &[u8], invert: bool) -> bool {
        self.is_match(line) != invert
    }
}

impl Pattern {
    fn new(pattern: &str, fixed: bool, ignore_case: bool) -> Result<Self, UsageError> {
        if fixed {
            let mut needle = pattern.as_bytes().to_vec();
            if ignore_case {
                needle.make_ascii_lowercase();
            }
            return Ok(Pattern::Fixed {
                needle,
                ignore_case,
            });
        }
        Regex::new(pattern, ignore_case)
            .map(Pattern::Regex)
            .map_err(|error| UsageError(error.0))
    }

    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Pattern::Fixed {
                needle,
                ignore_case,
            } => {
                if needle.is_empty() {
                    return true;
                }
                line.windows(needle.len()).any(|window| {
                    if *ignore_case {
                        window.eq_ignore_ascii_case(needle)
                    } else {
                        window == needle.as_slice()
                    }
                })
            }
            Pattern::Regex(regex) => regex.is_match(line),
        }
    }
}

/// The text before a selected line: `FILE:` with several files, `N:` with `-n`.
pub fn line_prefix(file: Option<&str>, line_number: Option<u64>) -> String {
    let mut prefix = String::new();
    if let Some(file) = file {
        prefix.push_str(file);
        prefix.push(':');
    }
    if let Some(number) = line_number {
        prefix.push_str(&format!("{number}:"));
    }
    prefix
}

/// The `-c` line.
pub fn count_line(file: Option<&str>, count: u64) -> String {
    match file {
        Some(file) => format!("{file}:{count}\n"),
        None => format!("{count}\n"),
    }
}

/// Collects chunks into lines (without their newline).
#[derive(Clone, Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` for every line `chunk` completes; stops early (returning
    /// false) when `each` does.
    pub fn feed(&mut self, chunk: &[u8], mut each: impl FnMut(&[u8]) -> bool) -> bool {
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let keep_going = if self.partial.is_empty() {
                each(&rest[..newline])
            } else {
                self.partial.extend_from_slice(&rest[..newline]);
                let line = core::mem::take(&mut self.partial);
                each(&line)
            };
            rest = &rest[newline + 1..];
            if !keep_going {
                return false;
            }
        }
        self.partial.extend_from_slice(rest);
        true
    }

    /// The last line when the input did not end with a newline.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then_some(self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn matcher(args: &[&str]) -> (Matcher, bool) {
        let options = parse(args).unwrap();
        (Matcher::new(&options).unwrap(), options.invert)
    }

    #[test]
    fn options() {
        let options = parse(&["-vin", "a.b", "f", "g"]).unwrap();
        assert!(options.invert && options.ignore_case && options.line_numbers);
        assert_eq!(options.patterns, ["a.b"]);
        assert_eq!(options.files, ["f", "g"]);
        assert_eq!(parse(&["-e", "-x", "f"]).unwrap().patterns, ["-x"]);
        // Several -e, and newlines in one: any of them selects a line.
        let options = parse(&["-e", "Call", "-e", "a\nb", "f"]).unwrap();
        assert_eq!(options.patterns, ["Call", "a", "b"]);
        let matcher = Matcher::new(&options).unwrap();
        assert!(matcher.is_match(b" 24 Call 5") && matcher.is_match(b"xb"));
        assert!(!matcher.is_match(b"SystemInfo"));
        assert!(parse(&[]).is_err());
        assert!(parse(&["-Z", "x"]).is_err());
    }

    #[test]
    fn fixed_strings() {
        let (m, _) = matcher(&["-F", "a.b"]);
        assert!(m.is_match(b"xa.bx"));
        assert!(!m.is_match(b"axb"));
        let (m, _) = matcher(&["-Fi", "HeLLo"]);
        assert!(m.is_match(b"oh hello"));
        let (m, _) = matcher(&["-F", ""]);
        assert!(m.is_match(b""));
    }

    #[test]
    fn regular_expressions_and_inversion() {
        let (m, invert) = matcher(&["-v", "^#"]);
        assert!(m.selects(b"code", invert));
        assert!(!m.selects(b"# comment", invert));
        let bad = parse(&["a\\(b"]).unwrap();
        assert!(Matcher::new(&bad).is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(line_prefix(None, None), "");
        assert_eq!(line_prefix(Some("f"), Some(3)), "f:3:");
        assert_eq!(line_prefix(None, Some(12)), "12:");
        assert_eq!(count_line(Some("f"), 2), "f:2\n");
        assert_eq!(count_line(None, 0), "0\n");
    }

    #[test]
    fn lines_across_chunks() {
        let mut splitter = LineSplitter::default();
        let mut lines = vec![];
        for chunk in [&b"ab"[..], b"c\nd", b"\n\nlast"] {
            splitter.feed(chunk, |line| {
                lines.push(String::from_utf8_lossy(line).to_string());
                true
            });
        }
        assert_eq!(lines, ["abc", "d", ""]);
        assert_eq!(splitter.finish(), Some(b"last".to_vec()));
    }

    #[test]
    fn splitting_stops_early() {
        let mut splitter = LineSplitter::default();
        let mut seen = 0;
        assert!(!splitter.feed(b"a\nb\nc\n", |_| {
            seen += 1;
            seen < 2
        }));
        assert_eq!(seen, 2);
    }
}
