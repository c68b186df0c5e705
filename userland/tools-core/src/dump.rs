//! `od` and `hexdump`: options and a streaming formatter. Input arrives in
//! chunks of any size; whole 16-byte lines come out as soon as they are
//! complete, identical consecutive lines fold into `*` (unless `-v`), and
//! `finish` prints the last partial line and the final offset.
//!
//! Formats: `od` octal 2-byte words (default), `od -x` hex words, `od -c`
//! characters; `hexdump` hex words with hex offsets, `hexdump -C` the
//! canonical bytes-plus-ASCII view. Words are little-endian, as on the host.

use crate::failure::UsageError;
use crate::getopt;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Bytes per output line.
pub const LINE_BYTES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// `od`: octal 2-byte words, octal offsets.
    OctalWords,
    /// `od -x`: hex 2-byte words, octal offsets.
    HexWords,
    /// `od -c`: characters and escapes, octal offsets.
    Characters,
    /// `hexdump`: hex 2-byte words, hex offsets.
    HexdumpWords,
    /// `hexdump -C`: hex bytes and printable ASCII, 8-digit hex offsets.
    Canonical,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpOptions<'a> {
    pub format: DumpFormat,
    /// `-v`: print every line, do not fold repeats into `*`.
    pub verbose: bool,
    pub files: Vec<&'a str>,
}

/// `od [-x] [-c] [-o] [-v] [FILE]...` (the last format letter wins).
pub fn parse_od<'a>(args: &[&'a str]) -> Result<DumpOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "xcov")?;
    let mut format = DumpFormat::OctalWords;
    for (letter, _) in &parsed.options {
        format = match letter {
            'x' => DumpFormat::HexWords,
            'c' => DumpFormat::Characters,
            'o' => DumpFormat::OctalWords,
            _ => format,
        };
    }
    Ok(DumpOptions {
        format,
        verbose: parsed.has('v'),
        files: parsed.operands,
    })
}

/// `hexdump [-C] [-v] [FILE]...`.
pub fn parse_hexdump<'a>(args: &[&'a str]) -> Result<DumpOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "Cv")?;
    Ok(DumpOptions {
        format: if parsed.has('C') {
            DumpFormat::Canonical
        } else {
            DumpFormat::HexdumpWords
        },
        verbose: parsed.has('v'),
        files: parsed.operands,
    })
}

/// The streaming formatter.
#[derive(Clone, Debug)]
pub struct Dumper {
    format: DumpFormat,
    verbose: bool,
    /// Bytes of the line being filled.
    pending: Vec<u8>,
    /// Offset of the first pending byte.
    offset: u64,
    /// The last line printed, to fold repeats.
    previous: Option<Vec<u8>>,
    /// Whether a `*` stands for the lines since `previous`.
    folding: bool,
}

impl Dumper {
    pub fn new(format: DumpFormat, verbose: bool) -> Self {
        Self {
            format,
            verbose,
            pending: Vec::with_capacity(LINE_BYTES),
            offset: 0,
            previous: None,
            folding: false,
        }
    }

    /// Takes `chunk`; returns the text of the lines it completed.
    pub fn feed(&mut self, mut chunk: &[u8]) -> String {
        let mut text = String::new();
        while !chunk.is_empty() {
            let wanted = LINE_BYTES - self.pending.len();
            let taken = wanted.min(chunk.len());
            self.pending.extend_from_slice(&chunk[..taken]);
            chunk = &chunk[taken..];
            if self.pending.len() == LINE_BYTES {
                self.emit_full_line(&mut text);
            }
        }
        text
    }

    /// The last partial line and the final offset.
    pub fn finish(mut self) -> String {
        let mut text = String::new();
        if !self.pending.is_empty() {
            let line = core::mem::take(&mut self.pending);
            text.push_str(&self.format_line(self.offset, &line));
            self.offset += line.len() as u64;
        }
        text.push_str(&self.format_offset(self.offset));
        text.push('\n');
        text
    }

    fn emit_full_line(&mut self, text: &mut String) {
        let line = core::mem::take(&mut self.pending);
        let repeated = !self.verbose && self.previous.as_deref() == Some(line.as_slice());
        if repeated {
            if !self.folding {
                text.push_str("*\n");
                self.folding = true;
            }
        } else {
            self.folding = false;
            text.push_str(&self.format_line(self.offset, &line));
        }
        self.offset += LINE_BYTES as u64;
        self.previous = Some(line);
        self.pending = Vec::with_capacity(LINE_BYTES);
    }

    fn format_offset(&self, offset: u64) -> String {
        match self.format {
            DumpFormat::OctalWords | DumpFormat::HexWords | DumpFormat::Characters => {
                format!("{offset:07o}")
            }
            DumpFormat::HexdumpWords => format!("{offset:07x}"),
            DumpFormat::Canonical => format!("{offset:08x}"),
        }
    }

    fn format_line(&self, offset: u64, bytes: &[u8]) -> String {
        let mut line = self.format_offset(offset);
        match self.format {
            DumpFormat::OctalWords => {
                for word in words(bytes) {
                    line.push_str(&format!(" {word:06o}"));
                }
            }
            DumpFormat::HexWords | DumpFormat::HexdumpWords => {
                for word in words(bytes) {
                    line.push_str(&format!(" {word:04x}"));
                }
            }
            DumpFormat::Characters => {
                for byte in bytes {
                    line.push_str(&format!(" {:>3}", character(*byte)));
                }
            }
            DumpFormat::Canonical => {
                line.push(' ');
                for index in 0..LINE_BYTES {
                    if index == LINE_BYTES / 2 {
                        line.push(' ');
                    }
                    match bytes.get(index) {
                        Some(byte) => line.push_str(&format!(" {byte:02x}")),
                        None => line.push_str("   "),
                    }
                }
                line.push_str("  |");
                for byte in bytes {
                    line.push(if (0x20..0x7f).contains(byte) {
                        char::from(*byte)
                    } else {
                        '.'
                    });
                }
                line.push('|');
            }
        }
        line.push('\n');
        line
    }
}

/// Little-endian 2-byte words; an odd last byte is padded with zero.
fn words(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))
}

/// How `od -c` shows a byte: itself, a C escape, or three octal digits.
fn character(byte: u8) -> String {
    match byte {
        0 => String::from("\\0"),
        7 => String::from("\\a"),
        8 => String::from("\\b"),
        9 => String::from("\\t"),
        10 => String::from("\\n"),
        11 => String::from("\\v"),
        12 => String::from("\\f"),
        13 => String::from("\\r"),
        0x20..=0x7e => String::from(char::from(byte)),
        _ => format!("{byte:03o}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(format: DumpFormat, data: &[u8], chunk: usize) -> String {
        let mut dumper = Dumper::new(format, false);
        let mut text = String::new();
        for piece in data.chunks(chunk.max(1)) {
            text.push_str(&dumper.feed(piece));
        }
        text.push_str(&dumper.finish());
        text
    }

    #[test]
    fn od_hex_words() {
        assert_eq!(
            dump(DumpFormat::HexWords, b"this is\n", 3),
            "0000000 6874 7369 6920 0a73\n0000010\n"
        );
    }

    #[test]
    fn od_octal_words_and_odd_length() {
        assert_eq!(
            dump(DumpFormat::OctalWords, b"abc", 1),
            "0000000 061141 000143\n0000003\n"
        );
    }

    #[test]
    fn od_characters() {
        assert_eq!(
            dump(DumpFormat::Characters, b"a\tb\n\x1b\0", 4),
            "0000000   a  \\t   b  \\n 033  \\0\n0000006\n"
        );
    }

    #[test]
    fn hexdump_words() {
        assert_eq!(
            dump(DumpFormat::HexdumpWords, b"hello world\n", 5),
            "0000000 6568 6c6c 206f 6f77 6c72 0a64\n000000c\n"
        );
    }

    #[test]
    fn canonical() {
        assert_eq!(
            dump(DumpFormat::Canonical, b"hello world\nhello", 7),
            "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a 68 65 6c 6c  |hello world.hell|\n\
             00000010  6f                                                |o|\n\
             00000011\n"
        );
    }

    #[test]
    fn repeats_fold_into_a_star() {
        let zeros = [0u8; 64];
        assert_eq!(
            dump(DumpFormat::HexWords, &zeros, 10),
            "0000000 0000 0000 0000 0000 0000 0000 0000 0000\n*\n0000100\n"
        );
        let mut verbose = Dumper::new(DumpFormat::HexWords, true);
        let text = verbose.feed(&zeros) + &verbose.finish();
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn empty_input() {
        assert_eq!(dump(DumpFormat::OctalWords, b"", 1), "0000000\n");
        assert_eq!(dump(DumpFormat::Canonical, b"", 1), "00000000\n");
    }

    #[test]
    fn options() {
        assert_eq!(parse_od(&["-x"]).unwrap().format, DumpFormat::HexWords);
        assert_eq!(
            parse_od(&["-xc", "f"]).unwrap().format,
            DumpFormat::Characters
        );
        assert_eq!(parse_od(&[]).unwrap().format, DumpFormat::OctalWords);
        assert_eq!(parse_hexdump(&["-C", "f"]).unwrap().files, ["f"]);
        assert!(parse_hexdump(&["-x"]).is_err());
    }
}
