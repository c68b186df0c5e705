//! `tail`: options (`-n N`, `-c N`, `+N` to start from line or byte N, the
//! old `-N`) and a streaming buffer that keeps only what may still be
//! printed: the last N lines or bytes (memory bounded by what is kept, not
//! by the input), or everything after the first N-1.

use crate::failure::UsageError;
use crate::getopt;
use crate::head::parse_count;
use alloc::format;
use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailMode {
    /// The last N lines.
    LastLines(u64),
    /// The last N bytes.
    LastBytes(u64),
    /// Everything from line N (1-based) on.
    FromLine(u64),
    /// Everything from byte N (1-based) on.
    FromByte(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailOptions<'a> {
    pub mode: TailMode,
    pub files: Vec<&'a str>,
}

fn count_mode(value: &str, bytes: bool) -> Result<TailMode, UsageError> {
    let invalid = || {
        let what = if bytes { "bytes" } else { "lines" };
        UsageError(format!("invalid number of {what}: '{value}'"))
    };
    let (from_start, digits) = match value.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('-').unwrap_or(value)),
    };
    let count = parse_count(digits).ok_or_else(invalid)?;
    Ok(match (from_start, bytes) {
        (true, false) => TailMode::FromLine(count.max(1)),
        (true, true) => TailMode::FromByte(count.max(1)),
        (false, false) => TailMode::LastLines(count),
        (false, true) => TailMode::LastBytes(count),
    })
}

pub fn parse<'a>(args: &[&'a str]) -> Result<TailOptions<'a>, UsageError> {
    let (legacy, rest) = match args.split_first() {
        Some((first, rest))
            if first.len() > 1
                && first.starts_with('-')
                && first[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(*first), rest)
        }
        _ => (None, args),
    };
    let parsed = getopt::parse(rest, "n:c:")?;
    let mut mode = match legacy {
        Some(count) => count_mode(count, false)?,
        None => TailMode::LastLines(10),
    };
    for (letter, value) in &parsed.options {
        mode = count_mode(value.unwrap_or(""), *letter == 'c')?;
    }
    Ok(TailOptions {
        mode,
        files: parsed.operands,
    })
}

/// Where the last `lines` lines of `data` start (a final line without a
/// newline counts as a line).
pub fn last_lines_start(data: &[u8], lines: u64) -> usize {
    if lines == 0 {
        return data.len();
    }
    let body = match data.last() {
        Some(b'\n') => &data[..data.len() - 1],
        _ => data,
    };
    let mut seen = 0;
    for (index, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                return index + 1;
            }
        }
    }
    0
}

/// The streaming part of `tail`.
#[derive(Clone, Debug)]
pub struct TailBuffer {
    mode: TailMode,
    kept: Vec<u8>,
    /// Length of `kept` after the last trim (trims happen when it doubles).
    trimmed_len: usize,
    /// For `FromLine`/`FromByte`: lines or bytes still to skip.
    to_skip: u64,
}

/// Trim no more often than once per this many bytes kept.
const MIN_TRIM: usize = 64 * 1024;

impl TailBuffer {
    pub fn new(mode: TailMode) -> Self {
        let to_skip = match mode {
            TailMode::FromLine(n) | TailMode::FromByte(n) => n - 1,
            _ => 0,
        };
        Self {
            mode,
            kept: Vec::new(),
            trimmed_len: 0,
            to_skip,
        }
    }

    /// Takes `chunk`; returns what can be printed at once (only for the
    /// `From` modes; the `Last` modes print at [`TailBuffer::finish`]).
    pub fn feed<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        match self.mode {
            TailMode::FromByte(_) => {
                let skipped = (chunk.len() as u64).min(self.to_skip) as usize;
                self.to_skip -= skipped as u64;
                &chunk[skipped..]
            }
            TailMode::FromLine(_) => {
                let mut start = 0;
                while self.to_skip > 0 {
                    match chunk[start..].iter().position(|b| *b == b'\n') {
                        Some(newline) => {
                            start += newline + 1;
                            self.to_skip -= 1;
                        }
                        None => return &[],
                    }
                }
                &chunk[start..]
            }
            TailMode::LastLines(_) | TailMode::LastBytes(_) => {
                self.kept.extend_from_slice(chunk);
                if self.kept.len() >= MIN_TRIM.max(self.trimmed_len * 2) {
                    self.trim();
                }
                &[]
            }
        }
    }

    fn trim(&mut self) {
        let start = match self.mode {
            TailMode::LastBytes(n) => self.kept.len().saturating_sub(n as usize),
            // One more line than wanted: the last may still be growing.
            TailMode::LastLines(n) => last_lines_start(&self.kept, n.saturating_add(1)),
            _ => 0,
        };
        self.kept.drain(..start);
        self.trimmed_len = self.kept.len();
    }

    /// What is left to print at the end of the input.
    pub fn finish(mut self) -> Vec<u8> {
        let start = match self.mode {
            TailMode::LastBytes(n) => self.kept.len().saturating_sub(n as usize),
            TailMode::LastLines(n) => last_lines_start(&self.kept, n),
            _ => 0,
        };
        self.kept.split_off(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn run(mode: TailMode, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut buffer = TailBuffer::new(mode);
        let mut out = vec![];
        for piece in data.chunks(chunk.max(1)) {
            out.extend_from_slice(buffer.feed(piece));
        }
        out.extend(buffer.finish());
        out
    }

    #[test]
    fn options() {
        assert_eq!(parse(&[]).unwrap().mode, TailMode::LastLines(10));
        assert_eq!(
            parse(&["-n", "3", "f"]).unwrap().mode,
            TailMode::LastLines(3)
        );
        assert_eq!(parse(&["-n", "+2"]).unwrap().mode, TailMode::FromLine(2));
        assert_eq!(parse(&["-c", "5"]).unwrap().mode, TailMode::LastBytes(5));
        assert_eq!(parse(&["-c", "+1"]).unwrap().mode, TailMode::FromByte(1));
        assert_eq!(parse(&["-4", "f"]).unwrap().mode, TailMode::LastLines(4));
        assert_eq!(parse(&["-4", "f"]).unwrap().files, ["f"]);
        assert!(parse(&["-n", "x"]).is_err());
    }

    #[test]
    fn last_lines() {
        let data = b"1\n2\n3\n4\n";
        for chunk in [1, 3, 100] {
            assert_eq!(run(TailMode::LastLines(2), data, chunk), b"3\n4\n");
        }
        assert_eq!(run(TailMode::LastLines(2), b"1\n2\n3", 2), b"2\n3");
        assert_eq!(run(TailMode::LastLines(0), data, 2), b"");
        assert_eq!(run(TailMode::LastLines(10), data, 2), data);
    }

    #[test]
    fn last_bytes() {
        assert_eq!(run(TailMode::LastBytes(3), b"abcdef", 2), b"def");
        assert_eq!(run(TailMode::LastBytes(30), b"abc", 2), b"abc");
    }

    #[test]
    fn from_the_start() {
        assert_eq!(run(TailMode::FromLine(2), b"1\n2\n3\n", 1), b"2\n3\n");
        assert_eq!(run(TailMode::FromLine(1), b"1\n2\n", 3), b"1\n2\n");
        assert_eq!(run(TailMode::FromByte(3), b"abcdef", 2), b"cdef");
    }

    #[test]
    fn large_streams_stay_bounded() {
        let mut buffer = TailBuffer::new(TailMode::LastLines(2));
        let line = [b'x'; 99];
        for _ in 0..10_000 {
            buffer.feed(&line);
            buffer.feed(b"\n");
            assert!(buffer.kept.len() <= 2 * MIN_TRIM + 200);
        }
        assert_eq!(buffer.finish().len(), 200);
    }
}
