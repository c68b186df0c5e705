//! POSIX-style option parsing shared by the tools: clustered flags (`-lw`),
//! values attached or separate (`-n5`, `-n 5`), `--` ends the options, so does
//! the first operand, and a lone `-` is an operand (standard input).

use crate::failure::UsageError;
use alloc::format;
use alloc::vec::Vec;

/// Options in the order given, then the operands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// Each option letter with its value, when the letter takes one.
    pub options: Vec<(char, Option<&'a str>)>,
    pub operands: Vec<&'a str>,
}

impl<'a> Parsed<'a> {
    /// Whether option `letter` was given.
    pub fn has(&self, letter: char) -> bool {
        self.options.iter().any(|(l, _)| *l == letter)
    }

    /// The value of the last `letter` given (later options win).
    pub fn last_value(&self, letter: char) -> Option<&'a str> {
        self.options
            .iter()
            .rev()
            .find(|(l, _)| *l == letter)
            .and_then(|(_, value)| *value)
    }
}

/// How `letter` is declared in `spec` ("n:c:lw": `n` and `c` take values).
fn takes_value(spec: &str, letter: char) -> Option<bool> {
    let mut chars = spec.chars().peekable();
    while let Some(declared) = chars.next() {
        let with_value = chars.peek() == Some(&':');
        if with_value {
            chars.next();
        }
        if declared == letter {
            return Some(with_value);
        }
    }
    None
}

/// Parses `args` (without the program name) against `spec`.
pub fn parse<'a>(args: &[&'a str], spec: &str) -> Result<Parsed<'a>, UsageError> {
    let mut parsed = Parsed::default();
    let mut index = 0;
    while index < args.len() {
        let arg = args[index];
        index += 1;
        if arg == "--" {
            break;
        }
        if arg == "-" || !arg.starts_with('-') {
            index -= 1;
            break;
        }
        let letters = &arg[1..];
        for (offset, letter) in letters.char_indices() {
            match takes_value(spec, letter) {
                None => return Err(UsageError(format!("invalid option -- '{letter}'"))),
                Some(false) => parsed.options.push((letter, None)),
                Some(true) => {
                    let attached = &letters[offset + letter.len_utf8()..];
                    let value = if !attached.is_empty() {
                        attached
                    } else if let Some(next) = args.get(index) {
                        index += 1;
                        next
                    } else {
                        return Err(UsageError(format!(
                            "option requires an argument -- '{letter}'"
                        )));
                    };
                    parsed.options.push((letter, Some(value)));
                    break;
                }
            }
        }
    }
    parsed.operands.extend_from_slice(&args[index..]);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clustered_flags_and_operands() {
        let parsed = parse(&["-lw", "-c", "file", "-l"], "lwc").unwrap();
        assert_eq!(
            parsed.options,
            [('l', None), ('w', None), ('c', None)].to_vec()
        );
        assert_eq!(parsed.operands, ["file", "-l"]);
    }

    #[test]
    fn values_attached_or_separate() {
        let parsed = parse(&["-n5", "-c", "10", "x"], "n:c:").unwrap();
        assert_eq!(parsed.last_value('n'), Some("5"));
        assert_eq!(parsed.last_value('c'), Some("10"));
        assert_eq!(parsed.operands, ["x"]);
        let parsed = parse(&["-ln3"], "ln:").unwrap();
        assert!(parsed.has('l'));
        assert_eq!(parsed.last_value('n'), Some("3"));
    }

    #[test]
    fn later_values_win() {
        let parsed = parse(&["-n", "1", "-n", "2"], "n:").unwrap();
        assert_eq!(parsed.last_value('n'), Some("2"));
    }

    #[test]
    fn double_dash_and_lone_dash() {
        let parsed = parse(&["--", "-n"], "n:").unwrap();
        assert!(parsed.options.is_empty());
        assert_eq!(parsed.operands, ["-n"]);
        let parsed = parse(&["-", "-l"], "l").unwrap();
        assert_eq!(parsed.operands, ["-", "-l"]);
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(parse(&["-x"], "n:").unwrap_err().0, "invalid option -- 'x'");
        assert_eq!(
            parse(&["-n"], "n:").unwrap_err().0,
            "option requires an argument -- 'n'"
        );
    }

    #[test]
    fn empty_arguments() {
        let parsed = parse(&[], "n:").unwrap();
        assert!(parsed.options.is_empty() && parsed.operands.is_empty());
    }
}
