//! `wc`: counting lines, words (runs of non-blank bytes), characters (UTF-8
//! sequences) and bytes over a stream fed in chunks, and the output line.

use crate::failure::UsageError;
use crate::getopt;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub lines: u64,
    pub words: u64,
    pub chars: u64,
    pub bytes: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.lines += other.lines;
        self.words += other.words;
        self.chars += other.chars;
        self.bytes += other.bytes;
    }
}

/// Counts a stream given in chunks (a word may span chunks).
#[derive(Clone, Debug)]
pub struct Counter {
    counts: Counts,
    in_word: bool,
    /// Which counts need a look at every byte (the byte count never does):
    /// `wc -c` of a large file or pipe is then no loop over its bytes.
    lines: bool,
    words: bool,
    chars: bool,
}

impl Default for Counter {
    /// A counter of everything.
    fn default() -> Self {
        Counter {
            counts: Counts::default(),
            in_word: false,
            lines: true,
            words: true,
            chars: true,
        }
    }
}

fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl Counter {
    /// A counter of only what `options` prints (the others stay 0).
    pub fn for_output(options: &WcOptions) -> Self {
        Counter {
            lines: options.lines,
            words: options.words,
            chars: options.chars,
            ..Counter::default()
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.lines {
            self.counts.lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
        }
        if self.chars {
            // Every byte but a UTF-8 continuation byte starts a character.
            let starts = chunk.iter().filter(|&&byte| byte & 0xc0 != 0x80).count();
            self.counts.chars += starts as u64;
        }
        if self.words {
            for &byte in chunk {
                if is_blank(byte) {
                    self.in_word = false;
                } else if !self.in_word {
                    self.in_word = true;
                    self.counts.words += 1;
                }
            }
        }
        self.counts.bytes += chunk.len() as u64;
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }
}

/// Which counts to print (in the fixed order lines, words, chars, bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WcOptions<'a> {
    pub lines: bool,
    pub words: bool,
    pub chars: bool,
    pub bytes: bool,
    /// The inputs; empty means standard input.
    pub files: Vec<&'a str>,
}

impl WcOptions<'_> {
    fn selected(&self, counts: &Counts) -> Vec<u64> {
        [
            (self.lines, counts.lines),
            (self.words, counts.words),
            (self.chars, counts.chars),
            (self.bytes, counts.bytes),
        ]
        .iter()
        .filter(|(wanted, _)| *wanted)
        .map(|(_, value)| *value)
        .collect()
    }
}

pub fn parse<'a>(args: &[&'a str]) -> Result<WcOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "lwmc")?;
    let mut options = WcOptions {
        lines: parsed.has('l'),
        words: parsed.has('w'),
        chars: parsed.has('m'),
        bytes: parsed.has('c'),
        files: parsed.operands,
    };
    if !(options.lines || options.words || options.chars || options.bytes) {
        options.lines = true;
        options.words = true;
        options.bytes = true;
    }
    Ok(options)
}

/// One output line (with its newline). A lone count on a lone input is printed
/// bare (`wc -c` → `2`); otherwise each count takes seven columns.
pub fn format_line(counts: &Counts, options: &WcOptions, name: Option<&str>) -> String {
    let values = options.selected(counts);
    let bare = values.len() == 1 && options.files.len() <= 1;
    let mut line = String::new();
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            line.push(' ');
        }
        if bare {
            line.push_str(&format!("{value}"));
        } else {
            line.push_str(&format!("{value:>7}"));
        }
    }
    if let Some(name) = name {
        line.push(' ');
        line.push_str(name);
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(chunks: &[&[u8]]) -> Counts {
        let mut counter = Counter::default();
        for chunk in chunks {
            counter.feed(chunk);
        }
        counter.counts()
    }

    #[test]
    fn counts_lines_words_bytes() {
        let counts = count(&[b"hello world\n", b"  two\tlines \n"]);
        assert_eq!(
            counts,
            Counts {
                lines: 2,
                words: 4,
                chars: 25,
                bytes: 25
            }
        );
        assert_eq!(count(&[]), Counts::default());
        assert_eq!(count(&[b"no newline"]).lines, 0);
    }

    #[test]
    fn counts_only_what_is_printed() {
        let text: &[&[u8]] = &[b"h\xc3\xa9llo wor", b"ld\n  two\tlines \n"];
        let all = count(text);
        for flags in ["-c", "-l", "-w", "-m", "-lc", "-wm", "-lwmc"] {
            let options = parse(&[flags]).expect("valid flags");
            let mut counter = Counter::for_output(&options);
            text.iter().for_each(|chunk| counter.feed(chunk));
            let counts = counter.counts();
            assert_eq!(options.selected(&counts), options.selected(&all), "{flags}");
        }
        // `-c` alone counts no line, word or character.
        let mut bytes_only = Counter::for_output(&parse(&["-c"]).expect("valid"));
        bytes_only.feed(b"a b\n");
        assert_eq!(
            bytes_only.counts(),
            Counts {
                bytes: 4,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn words_span_chunks() {
        assert_eq!(count(&[b"hel", b"lo", b" wor", b"ld"]).words, 2);
        assert_eq!(count(&[b"a ", b" b"]).words, 2);
    }

    #[test]
    fn characters_are_utf8_sequences() {
        let counts = count(&["héllo €\n".as_bytes()]);
        assert_eq!(counts.chars, 8);
        assert_eq!(counts.bytes, 11);
    }

    #[test]
    fn default_output() {
        let options = parse(&[]).unwrap();
        let counts = count(&[b"y\n"]);
        assert_eq!(
            format_line(&counts, &options, None),
            "      1       1       2\n"
        );
    }

    #[test]
    fn single_count_is_bare() {
        let counts = count(&[b"y\n"]);
        assert_eq!(format_line(&counts, &parse(&["-c"]).unwrap(), None), "2\n");
        assert_eq!(
            format_line(&counts, &parse(&["-l", "f"]).unwrap(), Some("f")),
            "1 f\n"
        );
        assert_eq!(
            format_line(&counts, &parse(&["-lw"]).unwrap(), None),
            "      1       1\n"
        );
    }

    #[test]
    fn several_files_are_aligned() {
        let options = parse(&["-l", "a", "b"]).unwrap();
        let counts = count(&[b"\n\n"]);
        assert_eq!(format_line(&counts, &options, Some("a")), "      2 a\n");
    }

    #[test]
    fn totals_add_up() {
        let mut total = Counts::default();
        total.add(&count(&[b"a b\n"]));
        total.add(&count(&[b"c\n"]));
        assert_eq!((total.lines, total.words, total.bytes), (2, 3, 6));
    }

    #[test]
    fn bad_option() {
        assert_eq!(parse(&["-x"]).unwrap_err().0, "invalid option -- 'x'");
    }
}
