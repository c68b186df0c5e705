//! `printf FORMAT [ARG...]` as POSIX describes it: the format's backslash
//! escapes, conversions `%s %b %c %d %i %u %o %x %X %e %E %f %F %g %G %%`
//! with flags (`- + space # 0`), width and precision (also `*`), and the
//! format reused while arguments remain. Numeric arguments may be
//! `'c` (the character's code); a bad number is reported and counts as 0.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Widest field and longest precision honoured (bounds memory use).
const MAX_WIDTH: u64 = 4 << 20;

/// The output, the complaints (one per bad argument), and whether `\c`
/// asked to stop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Printed {
    pub output: Vec<u8>,
    pub errors: Vec<String>,
}

/// Appends the escape starting after a backslash; returns bytes used.
/// `in_b`: `%b` rules (`\0NNN` octal, `\c` stops: reported by `true`).
fn escape(bytes: &[u8], in_b: bool, out: &mut Vec<u8>) -> (usize, bool) {
    let Some(&first) = bytes.first() else {
        out.push(b'\\');
        return (0, false);
    };
    let simple = match first {
        b'\\' => Some(b'\\'),
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'"' if !in_b => Some(b'"'),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return (1, false);
    }
    if first == b'c' && in_b {
        return (1, true);
    }
    if first.is_ascii_digit() && first < b'8' {
        let (start, max) = if in_b && first == b'0' {
            (1, 3)
        } else {
            (0, 3)
        };
        let mut value: u32 = 0;
        let mut used = start;
        while used < bytes.len() && used - start < max && (b'0'..b'8').contains(&bytes[used]) {
            value = value * 8 + u32::from(bytes[used] - b'0');
            used += 1;
        }
        out.push(value as u8);
        return (used, false);
    }
    out.push(b'\\');
    out.push(first);
    (1, false)
}

/// A numeric argument; the error names it.
fn number(arg: &str) -> Result<i64, String> {
    if let Some(rest) = arg.strip_prefix('\'').or_else(|| arg.strip_prefix('"')) {
        return Ok(rest.chars().next().map_or(0, |c| c as i64));
    }
    let trimmed = arg.trim_start();
    if trimmed.is_empty() {
        return Ok(0);
    }
    crate_number(trimmed).ok_or_else(|| format!("{arg}: invalid number"))
}

fn crate_number(text: &str) -> Option<i64> {
    let (negative, value) = zos_sh_syntax::arith::parse_literal(text)?;
    let value = value as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// One conversion's flags, width and precision.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    /// Pads `body` (with `sign` in front) to the width.
    fn pad(&self, sign: &str, body: &str, numeric: bool) -> String {
        let length = sign.chars().count() + body.chars().count();
        if length >= self.width {
            return format!("{sign}{body}");
        }
        let fill = self.width - length;
        if self.left {
            format!("{sign}{body}{}", " ".repeat(fill))
        } else if self.zero && numeric {
            format!("{sign}{}{body}", "0".repeat(fill))
        } else {
            format!("{}{sign}{body}", " ".repeat(fill))
        }
    }
}

/// Runs `printf FORMAT ARGS...`.
pub fn printf(format: &str, args: &[String]) -> Printed {
    let mut printed = Printed::default();
    let mut next = 0usize;
    loop {
        let used_before = next;
        if run_once(format.as_bytes(), args, &mut next, &mut printed) {
            return printed;
        }
        if next >= args.len() || next == used_before {
            return printed;
        }
    }
}

/// One pass over the format; `true` if `\c` stopped everything.
fn run_once(format: &[u8], args: &[String], next: &mut usize, printed: &mut Printed) -> bool {
    let take = |next: &mut usize| {
        let arg = args.get(*next).cloned();
        if arg.is_some() {
            *next += 1;
        }
        arg
    };
    let mut i = 0;
    while i < format.len() {
        let byte = format[i];
        if byte == b'\\' {
            let (used, _) = escape(&format[i + 1..], false, &mut printed.output);
            i += 1 + used;
            continue;
        }
        if byte != b'%' {
            printed.output.push(byte);
            i += 1;
            continue;
        }
        i += 1;
        if format.get(i) == Some(&b'%') {
            printed.output.push(b'%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = format.get(i) {
            match flag {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alternate = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let read_count = |i: &mut usize, next: &mut usize, errors: &mut Vec<String>| {
            if format.get(*i) == Some(&b'*') {
                *i += 1;
                let arg = take(next).unwrap_or_default();
                return number(&arg).unwrap_or_else(|e| {
                    errors.push(e);
                    0
                });
            }
            let mut value = 0i64;
            while let Some(digit) = format.get(*i).filter(|b| b.is_ascii_digit()) {
                value = value
                    .saturating_mul(10)
                    .saturating_add(i64::from(digit - b'0'));
                *i += 1;
            }
            value
        };
        let width = read_count(&mut i, next, &mut printed.errors);
        if width < 0 {
            spec.left = true;
        }
        spec.width = width.unsigned_abs().min(MAX_WIDTH) as usize;
        if format.get(i) == Some(&b'.') {
            i += 1;
            let precision = read_count(&mut i, next, &mut printed.errors);
            spec.precision = Some(precision.clamp(0, MAX_WIDTH as i64) as usize);
        }
        let Some(&conversion) = format.get(i) else {
            printed.errors.push("missing format character".to_string());
            return true;
        };
        i += 1;
        let arg = match conversion {
            b's' | b'b' | b'c' | b'd' | b'i' | b'u' | b'o' | b'x' | b'X' | b'e' | b'E' | b'f'
            | b'F' | b'g' | b'G' => take(next),
            other => {
                printed
                    .errors
                    .push(format!("%{}: invalid conversion", other as char));
                return true;
            }
        };
        let out = &mut printed.output;
        match conversion {
            b's' => {
                let mut text = arg.unwrap_or_default();
                if let Some(precision) = spec.precision {
                    text = text.chars().take(precision).collect();
                }
                out.extend_from_slice(spec.pad("", &text, false).as_bytes());
            }
            b'b' => {
                let arg = arg.unwrap_or_default();
                let bytes = arg.as_bytes();
                let mut body = Vec::new();
                let mut j = 0;
                let mut stop = false;
                while j < bytes.len() {
                    if bytes[j] == b'\\' {
                        let (used, c) = escape(&bytes[j + 1..], true, &mut body);
                        j += 1 + used;
                        if c {
                            stop = true;
                            break;
                        }
                    } else {
                        body.push(bytes[j]);
                        j += 1;
                    }
                }
                let text = String::from_utf8_lossy(&body).into_owned();
                out.extend_from_slice(spec.pad("", &text, false).as_bytes());
                if stop {
                    return true;
                }
            }
            b'c' => {
                let text: String = arg.unwrap_or_default().chars().take(1).collect();
                out.extend_from_slice(spec.pad("", &text, false).as_bytes());
            }
            b'e' | b'E' | b'f' | b'F' | b'g' | b'G' => {
                let arg = arg.unwrap_or_default();
                let value: f64 = arg.trim().parse().unwrap_or_else(|_| {
                    number(&arg).map(|n| n as f64).unwrap_or_else(|e| {
                        printed.errors.push(e);
                        0.0
                    })
                });
                let precision = spec.precision.unwrap_or(6);
                let body = match conversion {
                    b'e' => format!("{:.*e}", precision, value.abs()),
                    b'E' => format!("{:.*E}", precision, value.abs()),
                    _ => format!("{:.*}", precision, value.abs()),
                };
                let sign = if value.is_sign_negative() && value != 0.0 {
                    "-"
                } else if spec.plus {
                    "+"
                } else if spec.space {
                    " "
                } else {
                    ""
                };
                printed
                    .output
                    .extend_from_slice(spec.pad(sign, &body, true).as_bytes());
            }
            _ => {
                let arg = arg.unwrap_or_default();
                let value = number(&arg).unwrap_or_else(|e| {
                    printed.errors.push(e);
                    0
                });
                let (sign, mut body) = match conversion {
                    b'd' | b'i' => {
                        let sign = if value < 0 {
                            "-"
                        } else if spec.plus {
                            "+"
                        } else if spec.space {
                            " "
                        } else {
                            ""
                        };
                        (sign, value.unsigned_abs().to_string())
                    }
                    b'u' => ("", (value as u64).to_string()),
                    b'o' => (
                        "",
                        format!(
                            "{}{:o}",
                            if spec.alternate { "0" } else { "" },
                            value as u64
                        ),
                    ),
                    b'x' => (
                        if spec.alternate && value != 0 {
                            "0x"
                        } else {
                            ""
                        },
                        format!("{:x}", value as u64),
                    ),
                    _ => (
                        if spec.alternate && value != 0 {
                            "0X"
                        } else {
                            ""
                        },
                        format!("{:X}", value as u64),
                    ),
                };
                if let Some(precision) = spec.precision {
                    while body.len() < precision {
                        body.insert(0, '0');
                    }
                    spec.zero = false;
                }
                printed
                    .output
                    .extend_from_slice(spec.pad(sign, &body, true).as_bytes());
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: &str, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        String::from_utf8(printf(format, &args).output).unwrap()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("hello\\n", &[], "hello\n"),
            ("%s-%s\\n", &["a", "b"], "a-b\n"),
            ("%s\\n", &["a", "b", "c"], "a\nb\nc\n"),
            ("%d %i", &["42", "-7"], "42 -7"),
            ("%5d|%-5d|%05d", &["1", "2", "3"], "    1|2    |00003"),
            ("%x %X %o %#x", &["255", "255", "8", "255"], "ff FF 10 0xff"),
            ("%.3s", &["abcdef"], "abc"),
            ("%c", &["xyz"], "x"),
            ("%b", &["a\\tb\\0101"], "a\tbA"),
            ("%d", &["'A"], "65"),
            ("%%", &[], "%"),
            ("%s", &[], ""),
            ("%*d", &["4", "7"], "   7"),
            ("%.2f", &["3.14159"], "3.14"),
            ("%+d", &["5"], "+5"),
            ("\\101\\x", &[], "A\\x"),
            ("%b|", &["stop\\cnot"], "stop"),
            ("%.3d", &["7"], "007"),
        ];
        for (format, args, expected) in cases {
            assert_eq!(run(format, args), *expected, "{format}");
        }
    }

    #[test]
    fn bad_numbers_are_reported() {
        let printed = printf("%d", &["12abc".to_string()]);
        assert_eq!(printed.output, b"0");
        assert_eq!(printed.errors.len(), 1);
        assert!(!printf("%y", &[]).errors.is_empty());
    }
}
