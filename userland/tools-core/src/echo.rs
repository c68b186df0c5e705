//! `echo`: leading `-n` (no newline), `-e` (interpret backslash escapes) and
//! `-E` (do not) in any cluster; the first argument that is not made only of
//! those letters starts the text, which is printed as given otherwise.

use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoOptions {
    pub newline: bool,
    pub escapes: bool,
}

/// The options and the index of the first argument to print.
pub fn parse(args: &[&str]) -> (EchoOptions, usize) {
    let mut options = EchoOptions {
        newline: true,
        escapes: false,
    };
    let mut first_text = 0;
    for arg in args {
        let Some(letters) = arg.strip_prefix('-') else {
            break;
        };
        if letters.is_empty() || !letters.chars().all(|c| matches!(c, 'n' | 'e' | 'E')) {
            break;
        }
        for letter in letters.chars() {
            match letter {
                'n' => options.newline = false,
                'e' => options.escapes = true,
                _ => options.escapes = false,
            }
        }
        first_text += 1;
    }
    (options, first_text)
}

/// The bytes `echo` writes for `text` (the arguments after the options).
pub fn render(text: &[&str], options: EchoOptions) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, arg) in text.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        if options.escapes {
            if expand_escapes(arg.as_bytes(), &mut out) == Escapes::StopOutput {
                return out;
            }
        } else {
            out.extend_from_slice(arg.as_bytes());
        }
    }
    if options.newline {
        out.push(b'\n');
    }
    out
}

#[derive(PartialEq, Eq)]
enum Escapes {
    Continue,
    /// `\c`: nothing more is printed, not even the newline.
    StopOutput,
}

/// Reads up to `max` digits of `radix` from `bytes`; returns the value and how
/// many digits were used.
fn digits(bytes: &[u8], radix: u32, max: usize) -> (u32, usize) {
    let mut value = 0;
    let mut used = 0;
    while used < max {
        match bytes.get(used).and_then(|b| (*b as char).to_digit(radix)) {
            Some(digit) => {
                value = value * radix + digit;
                used += 1;
            }
            None => break,
        }
    }
    (value, used)
}

fn expand_escapes(bytes: &[u8], out: &mut Vec<u8>) -> Escapes {
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        index += 1;
        if byte != b'\\' || index == bytes.len() {
            out.push(byte);
            continue;
        }
        let kind = bytes[index];
        index += 1;
        let simple = match kind {
            b'\\' => Some(b'\\'),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'e' => Some(0x1b),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            _ => None,
        };
        if let Some(replacement) = simple {
            out.push(replacement);
            continue;
        }
        match kind {
            b'c' => return Escapes::StopOutput,
            b'0' => {
                let (value, used) = digits(&bytes[index..], 8, 3);
                out.push(value as u8);
                index += used;
            }
            b'x' => {
                let (value, used) = digits(&bytes[index..], 16, 2);
                if used == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(value as u8);
                    index += used;
                }
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Escapes::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(args: &[&str]) -> Vec<u8> {
        let (options, first) = parse(args);
        render(&args[first..], options)
    }

    #[test]
    fn plain_text() {
        assert_eq!(echo(&["hello", "world"]), b"hello world\n");
        assert_eq!(echo(&[]), b"\n");
    }

    #[test]
    fn options() {
        assert_eq!(echo(&["-n", "x"]), b"x");
        assert_eq!(echo(&["-ne", "a\\tb"]), b"a\tb");
        assert_eq!(echo(&["-e", "-E", "a\\tb"]), b"a\\tb\n");
        assert_eq!(echo(&["-n", "-n", "x"]), b"x");
    }

    #[test]
    fn non_options_are_text() {
        assert_eq!(echo(&["-x", "y"]), b"-x y\n");
        assert_eq!(echo(&["-", "y"]), b"- y\n");
        assert_eq!(echo(&["--", "y"]), b"-- y\n");
        assert_eq!(echo(&["a", "-n"]), b"a -n\n");
    }

    #[test]
    fn escapes() {
        assert_eq!(echo(&["-e", "a\\nb"]), b"a\nb\n");
        assert_eq!(echo(&["-e", "\\0101\\x42\\\\"]), b"AB\\\n");
        assert_eq!(echo(&["-e", "\\x", "\\q"]), b"\\x \\q\n");
        assert_eq!(echo(&["-e", "end\\"]), b"end\\\n");
        assert_eq!(echo(&["-e", "\\e[0m"]), b"\x1b[0m\n");
        assert_eq!(echo(&["-e", "\\0"]), b"\0\n");
    }

    #[test]
    fn backslash_c_stops_everything() {
        assert_eq!(echo(&["-e", "a\\cb", "c"]), b"a");
    }
}
