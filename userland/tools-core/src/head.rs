//! `head`: options (`-n N`, `-c N`, the old `-N`), and a filter that passes
//! through the first lines or bytes of a stream chunk by chunk and says when it
//! has had enough, so the tool can stop reading (and `yes | head -n 1` ends).

use crate::failure::UsageError;
use crate::getopt;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// How much of each input to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Lines(u64),
    Bytes(u64),
}

/// Ten lines, as POSIX specifies.
pub const DEFAULT_LIMIT: Limit = Limit::Lines(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadOptions<'a> {
    pub limit: Limit,
    /// The inputs; empty means standard input.
    pub files: Vec<&'a str>,
}

/// A count with an optional binary suffix: `K` (1024), `M`, `G`.
pub fn parse_count(text: &str) -> Option<u64> {
    let (digits, multiplier) = match text.as_bytes().last() {
        Some(b'K') => (&text[..text.len() - 1], 1 << 10),
        Some(b'M') => (&text[..text.len() - 1], 1 << 20),
        Some(b'G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

pub fn parse<'a>(args: &[&'a str]) -> Result<HeadOptions<'a>, UsageError> {
    // The historical form `head -5` means `head -n 5`.
    let (legacy, rest) = match args.split_first() {
        Some((first, rest))
            if first.len() > 1
                && first.starts_with('-')
                && first[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(&first[1..]), rest)
        }
        _ => (None, args),
    };
    let parsed = getopt::parse(rest, "n:c:")?;
    let mut limit = match legacy {
        Some(count) => Limit::Lines(parse_count(count).ok_or_else(|| invalid_lines(count))?),
        None => DEFAULT_LIMIT,
    };
    for (letter, value) in &parsed.options {
        let value = value.unwrap_or("");
        limit = match letter {
            'n' => Limit::Lines(parse_count(value).ok_or_else(|| invalid_lines(value))?),
            _ => Limit::Bytes(
                parse_count(value)
                    .ok_or_else(|| UsageError(format!("invalid number of bytes: '{value}'")))?,
            ),
        };
    }
    Ok(HeadOptions {
        limit,
        files: parsed.operands,
    })
}

fn invalid_lines(value: &str) -> UsageError {
    UsageError(format!("invalid number of lines: '{value}'"))
}

/// The line before each input's text when there are several inputs.
pub fn file_header(name: &str, first: bool) -> String {
    let shown = if name == "-" { "standard input" } else { name };
    let gap = if first { "" } else { "\n" };
    format!("{gap}==> {shown} <==\n")
}

/// Passes through the first lines or bytes of a stream.
#[derive(Clone, Debug)]
pub struct HeadFilter {
    limit: Limit,
    /// Lines or bytes still to pass.
    remaining: u64,
}

impl HeadFilter {
    pub fn new(limit: Limit) -> Self {
        let remaining = match limit {
            Limit::Lines(n) | Limit::Bytes(n) => n,
        };
        Self { limit, remaining }
    }

    /// Whether everything wanted has passed (no more input is needed).
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// The part of `chunk` to print.
    pub fn take<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        match self.limit {
            Limit::Bytes(_) => {
                let n = (chunk.len() as u64).min(self.remaining) as usize;
                self.remaining -= n as u64;
                &chunk[..n]
            }
            Limit::Lines(_) => {
                if self.remaining == 0 {
                    return &[];
                }
                for (index, byte) in chunk.iter().enumerate() {
                    if *byte == b'\n' {
                        self.remaining -= 1;
                        if self.remaining == 0 {
                            return &chunk[..=index];
                        }
                    }
                }
                chunk
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn run(limit: Limit, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut filter = HeadFilter::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            if filter.is_done() {
                break;
            }
            out.extend_from_slice(filter.take(chunk));
        }
        (out, filter.is_done())
    }

    #[test]
    fn options() {
        assert_eq!(parse(&[]).unwrap().limit, Limit::Lines(10));
        assert_eq!(parse(&["-n", "3"]).unwrap().limit, Limit::Lines(3));
        assert_eq!(parse(&["-n3"]).unwrap().limit, Limit::Lines(3));
        assert_eq!(parse(&["-c", "2K"]).unwrap().limit, Limit::Bytes(2048));
        assert_eq!(
            parse(&["-n", "1", "-c", "5"]).unwrap().limit,
            Limit::Bytes(5)
        );
        assert_eq!(
            parse(&["-7", "f"]).unwrap(),
            HeadOptions {
                limit: Limit::Lines(7),
                files: vec!["f"]
            }
        );
        assert_eq!(parse(&["a", "-", "b"]).unwrap().files, ["a", "-", "b"]);
    }

    #[test]
    fn bad_numbers() {
        assert_eq!(
            parse(&["-n", "x"]).unwrap_err().0,
            "invalid number of lines: 'x'"
        );
        assert_eq!(
            parse(&["-c", "-1"]).unwrap_err().0,
            "invalid number of bytes: '-1'"
        );
        assert_eq!(
            parse(&["-n", "99999999999999999999"]).unwrap_err().0,
            "invalid number of lines: '99999999999999999999'"
        );
        assert_eq!(parse(&["-q"]).unwrap_err().0, "invalid option -- 'q'");
        assert!(parse_count("").is_none());
        assert!(parse_count("K").is_none());
        assert_eq!(parse_count("1M"), Some(1 << 20));
    }

    #[test]
    fn lines_across_chunks() {
        let (out, done) = run(Limit::Lines(2), &[b"a", b"b\nc", b"\nd\n"]);
        assert_eq!(out, b"ab\nc\n");
        assert!(done);
    }

    #[test]
    fn stops_as_soon_as_enough() {
        let (out, done) = run(Limit::Lines(1), &[b"y\ny\ny\n"]);
        assert_eq!(out, b"y\n");
        assert!(done);
        assert!(HeadFilter::new(Limit::Lines(0)).is_done());
        assert!(HeadFilter::new(Limit::Bytes(0)).is_done());
    }

    #[test]
    fn short_input() {
        let (out, done) = run(Limit::Lines(5), &[b"one\n", b"two"]);
        assert_eq!(out, b"one\ntwo");
        assert!(!done);
    }

    #[test]
    fn bytes() {
        let (out, done) = run(Limit::Bytes(4), &[b"ab", b"cdef"]);
        assert_eq!(out, b"abcd");
        assert!(done);
    }

    #[test]
    fn headers() {
        assert_eq!(file_header("a", true), "==> a <==\n");
        assert_eq!(file_header("-", false), "\n==> standard input <==\n");
    }
}
