//! POSIX basic regular expressions for `grep`, matched by a small
//! backtracking matcher over bytes.
//!
//! Supported: literals, `.`, `*` (literal at the start of the expression),
//! `^` at the start and `$` at the end (literal elsewhere), bracket
//! expressions with ranges, `[^...]` and `[:class:]` names, `\` escapes, and
//! the GNU extensions `\+`, `\?` and the interval `\{m,n\}`. Groups `\(\)`,
//! back-references and `\|` are refused. Case folding is ASCII only.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Longest expression accepted (keeps backtracking depth bounded).
pub const MAX_PATTERN_LEN: usize = 4096;
/// Most repetitions an interval may ask for.
const MAX_INTERVAL: u32 = 255;

#[derive(Clone, Debug, PartialEq, Eq)]
enum ClassItem {
    Range(u8, u8),
    Named(NamedClass),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NamedClass {
    Alpha,
    Digit,
    Alnum,
    Upper,
    Lower,
    Space,
    Blank,
    Punct,
    Print,
    Graph,
    Cntrl,
    Xdigit,
}

impl NamedClass {
    fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"alpha" => Self::Alpha,
            b"digit" => Self::Digit,
            b"alnum" => Self::Alnum,
            b"upper" => Self::Upper,
            b"lower" => Self::Lower,
            b"space" => Self::Space,
            b"blank" => Self::Blank,
            b"punct" => Self::Punct,
            b"print" => Self::Print,
            b"graph" => Self::Graph,
            b"cntrl" => Self::Cntrl,
            b"xdigit" => Self::Xdigit,
            _ => return None,
        })
    }

    fn contains(self, byte: u8) -> bool {
        match self {
            Self::Alpha => byte.is_ascii_alphabetic(),
            Self::Digit => byte.is_ascii_digit(),
            Self::Alnum => byte.is_ascii_alphanumeric(),
            Self::Upper => byte.is_ascii_uppercase(),
            Self::Lower => byte.is_ascii_lowercase(),
            Self::Space => byte.is_ascii_whitespace() || byte == 0x0b,
            Self::Blank => byte == b' ' || byte == b'\t',
            Self::Punct => byte.is_ascii_punctuation(),
            Self::Print => (0x20..0x7f).contains(&byte),
            Self::Graph => byte.is_ascii_graphic(),
            Self::Cntrl => byte.is_ascii_control(),
            Self::Xdigit => byte.is_ascii_hexdigit(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Atom {
    Byte(u8),
    Any,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

/// An atom and how often it may repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Piece {
    atom: Atom,
    min: u32,
    /// `None`: without bound.
    max: Option<u32>,
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regex {
    pieces: Vec<Piece>,
    anchored_start: bool,
    anchored_end: bool,
    ignore_case: bool,
}

/// Why an expression was refused (the message follows `grep: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexError(pub String);

fn error(message: &str) -> RegexError {
    RegexError(String::from(message))
}

impl Regex {
    /// Compiles a basic regular expression.
    pub fn new(pattern: &str, ignore_case: bool) -> Result<Self, RegexError> {
        let bytes = pattern.as_bytes();
        if bytes.len() > MAX_PATTERN_LEN {
            return Err(error("regular expression too big"));
        }
        let mut index = 0;
        let anchored_start = bytes.first() == Some(&b'^');
        if anchored_start {
            index = 1;
        }
        let mut end = bytes.len();
        // A final `$` anchors unless escaped (`\$`).
        let anchored_end = end > index && bytes[end - 1] == b'$' && !escaped_at(bytes, end - 1);
        if anchored_end {
            end -= 1;
        }
        let mut pieces: Vec<Piece> = Vec::new();
        while index < end {
            let byte = bytes[index];
            index += 1;
            let atom = match byte {
                b'.' => Atom::Any,
                b'[' => {
                    let (atom, next) = parse_class(bytes, index, end)?;
                    index = next;
                    atom
                }
                b'*' if pieces.is_empty() => Atom::Byte(b'*'),
                b'*' => {
                    repeat(&mut pieces, 0, None)?;
                    continue;
                }
                b'\\' => {
                    let Some(&escaped) = bytes[..end].get(index) else {
                        return Err(error("trailing backslash (\\)"));
                    };
                    index += 1;
                    match escaped {
                        b'+' if !pieces.is_empty() => {
                            repeat(&mut pieces, 1, None)?;
                            continue;
                        }
                        b'?' if !pieces.is_empty() => {
                            repeat(&mut pieces, 0, Some(1))?;
                            continue;
                        }
                        b'{' if !pieces.is_empty() => {
                            let (min, max, next) = parse_interval(bytes, index, end)?;
                            index = next;
                            repeat(&mut pieces, min, max)?;
                            continue;
                        }
                        b'(' | b')' | b'|' | b'1'..=b'9' => {
                            return Err(error(
                                "groups, alternation and back-references are not supported",
                            ))
                        }
                        other => Atom::Byte(other),
                    }
                }
                other => Atom::Byte(other),
            };
            pieces.push(Piece {
                atom,
                min: 1,
                max: Some(1),
            });
        }
        if ignore_case {
            for piece in &mut pieces {
                if let Atom::Byte(byte) = &mut piece.atom {
                    *byte = byte.to_ascii_lowercase();
                }
            }
        }
        Ok(Self {
            pieces,
            anchored_start,
            anchored_end,
            ignore_case,
        })
    }

    /// Whether the expression matches somewhere in `line`.
    pub fn is_match(&self, line: &[u8]) -> bool {
        if self.anchored_start {
            return self.match_here(0, line, 0);
        }
        (0..=line.len()).any(|start| self.match_here(0, line, start))
    }

    fn atom_matches(&self, atom: &Atom, byte: u8) -> bool {
        match atom {
            Atom::Any => true,
            Atom::Byte(wanted) => {
                if self.ignore_case {
                    byte.to_ascii_lowercase() == *wanted
                } else {
                    byte == *wanted
                }
            }
            Atom::Class { negated, items } => {
                let mut found = class_contains(items, byte);
                if self.ignore_case && !found {
                    found = class_contains(items, byte.to_ascii_lowercase())
                        || class_contains(items, byte.to_ascii_uppercase());
                }
                found != *negated
            }
        }
    }

    /// Whether pieces from `piece_index` on match `line` from `position`.
    fn match_here(&self, piece_index: usize, line: &[u8], position: usize) -> bool {
        let Some(piece) = self.pieces.get(piece_index) else {
            return !self.anchored_end || position == line.len();
        };
        // How many times the atom matches here, up to its maximum.
        let limit = piece.max.map_or(usize::MAX, |max| max as usize);
        let mut count = 0;
        while count < limit
            && position + count < line.len()
            && self.atom_matches(&piece.atom, line[position + count])
        {
            count += 1;
        }
        let min = piece.min as usize;
        if count < min {
            return false;
        }
        // Greedy: the longest run first.
        (min..=count)
            .rev()
            .any(|taken| self.match_here(piece_index + 1, line, position + taken))
    }
}

/// Whether `bytes[index]` is preceded by an odd number of backslashes.
fn escaped_at(bytes: &[u8], index: usize) -> bool {
    bytes[..index]
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count()
        % 2
        == 1
}

fn repeat(pieces: &mut [Piece], min: u32, max: Option<u32>) -> Result<(), RegexError> {
    let Some(last) = pieces.last_mut() else {
        return Err(error("repetition without anything to repeat"));
    };
    if last.min != 1 || last.max != Some(1) {
        // `a**` means `a*`; other stacked repeats multiply, which we refuse.
        if min == 0 && max.is_none() && last.min <= 1 {
            last.min = 0;
            last.max = None;
            return Ok(());
        }
        return Err(error("repeated repetition"));
    }
    last.min = min;
    last.max = max;
    Ok(())
}

/// `m\}`, `m,\}` or `m,n\}` after `\{`; returns (min, max, index after `\}`).
fn parse_interval(
    bytes: &[u8],
    start: usize,
    end: usize,
) -> Result<(u32, Option<u32>, usize), RegexError> {
    let rest = &bytes[start..end];
    let Some(close) = rest.windows(2).position(|w| w == b"\\}") else {
        return Err(error("unmatched \\{"));
    };
    let body = core::str::from_utf8(&rest[..close]).map_err(|_| error("invalid interval"))?;
    let number = |text: &str| -> Result<u32, RegexError> {
        match text.parse::<u32>() {
            Ok(n) if n <= MAX_INTERVAL && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(error("invalid content of \\{\\}")),
        }
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body)?;
            (n, Some(n))
        }
        Some((low, "")) => (number(low)?, None),
        Some((low, high)) => (number(low)?, Some(number(high)?)),
    };
    if max.is_some_and(|max| max < min) {
        return Err(error("invalid content of \\{\\}"));
    }
    Ok((min, max, start + close + 2))
}

/// A bracket expression starting after `[`; returns the atom and the index
/// after its `]`.
fn parse_class(bytes: &[u8], start: usize, end: usize) -> Result<(Atom, usize), RegexError> {
    let mut index = start;
    let negated = bytes.get(index) == Some(&b'^') && index < end;
    if negated {
        index += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        if index >= end {
            return Err(error("unmatched [, [^, [:, [., or [="));
        }
        let byte = bytes[index];
        if byte == b']' && !first {
            index += 1;
            break;
        }
        first = false;
        if byte == b'[' && bytes.get(index + 1) == Some(&b':') {
            let name_start = index + 2;
            let Some(length) = bytes[name_start..end].windows(2).position(|w| w == b":]") else {
                return Err(error("unmatched [:"));
            };
            let name = &bytes[name_start..name_start + length];
            let Some(class) = NamedClass::from_name(name) else {
                return Err(RegexError(format!(
                    "invalid character class '{}'",
                    String::from_utf8_lossy(name)
                )));
            };
            items.push(ClassItem::Named(class));
            index = name_start + length + 2;
            continue;
        }
        let is_range =
            bytes.get(index + 1) == Some(&b'-') && index + 2 < end && bytes[index + 2] != b']';
        if is_range {
            let high = bytes[index + 2];
            if high < byte {
                return Err(error("invalid range end"));
            }
            items.push(ClassItem::Range(byte, high));
            index += 3;
        } else {
            items.push(ClassItem::Range(byte, byte));
            index += 1;
        }
    }
    Ok((Atom::Class { negated, items }, index))
}

fn class_contains(items: &[ClassItem], byte: u8) -> bool {
    items.iter().any(|item| match item {
        ClassItem::Range(low, high) => (*low..=*high).contains(&byte),
        ClassItem::Named(class) => class.contains(byte),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, line: &str) -> bool {
        Regex::new(pattern, false)
            .unwrap()
            .is_match(line.as_bytes())
    }

    #[test]
    fn literals_and_dot() {
        assert!(matches("abc", "xxabcxx"));
        assert!(!matches("abd", "xxabcxx"));
        assert!(matches("a.c", "abc"));
        assert!(!matches("a.c", "ac"));
        assert!(matches("", "anything"));
    }

    #[test]
    fn stars() {
        assert!(matches("ab*c", "ac"));
        assert!(matches("ab*c", "abbbc"));
        assert!(matches("a.*z", "a to z"));
        assert!(!matches("a.*z", "a to y"));
        assert!(matches("*a", "x*a"));
        assert!(!matches("*a", "xa"));
        assert!(matches("^*a", "*a"));
        assert!(matches("a**", "b"));
    }

    #[test]
    fn anchors() {
        assert!(matches("^ab", "abc"));
        assert!(!matches("^ab", "cab"));
        assert!(matches("bc$", "abc"));
        assert!(!matches("bc$", "bcd"));
        assert!(matches("^$", ""));
        assert!(!matches("^$", "x"));
        assert!(matches("a^b", "a^b"));
        assert!(matches("a$b", "a$b"));
        assert!(matches("a\\$", "a$"));
        assert!(matches("^.*$", "whole line"));
    }

    #[test]
    fn brackets() {
        assert!(matches("[abc]x", "bx"));
        assert!(!matches("[abc]x", "dx"));
        assert!(matches("[a-z][0-9]", "q7"));
        assert!(!matches("^[^0-9]*$", "abc1"));
        assert!(matches("^[^0-9]*$", "abc"));
        assert!(matches("[]]", "]"));
        assert!(matches("[^]]", "a"));
        assert!(matches("[a-]", "-"));
        assert!(matches("[[:digit:]][[:alpha:]]", "1a"));
        assert!(!matches("[[:space:]]", "abc"));
        assert!(Regex::new("[abc", false).is_err());
        assert!(Regex::new("[[:bogus:]]", false).is_err());
        assert!(Regex::new("[z-a]", false).is_err());
    }

    #[test]
    fn escapes_and_extensions() {
        assert!(matches("a\\.c", "a.c"));
        assert!(!matches("a\\.c", "abc"));
        assert!(matches("a\\*", "a*"));
        assert!(matches("\\[x\\]", "[x]"));
        assert!(matches("ab\\+c", "abbc"));
        assert!(!matches("ab\\+c", "ac"));
        assert!(matches("^ab\\?c$", "ac"));
        assert!(matches("^a\\{2,3\\}$", "aaa"));
        assert!(!matches("^a\\{2,3\\}$", "aaaa"));
        assert!(matches("^a\\{2\\}$", "aa"));
        assert!(matches("^a\\{2,\\}$", "aaaaa"));
        assert!(Regex::new("a\\{3,2\\}", false).is_err());
        assert!(Regex::new("\\(a\\)", false).is_err());
        assert!(Regex::new("a\\", false).is_err());
    }

    #[test]
    fn case_folding() {
        let regex = Regex::new("HeLLo [a-c]", true).unwrap();
        assert!(regex.is_match(b"say hello B"));
        assert!(!Regex::new("hello", false).unwrap().is_match(b"HELLO"));
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        let regex = Regex::new("a.b", false).unwrap();
        assert!(regex.is_match(b"a\xffb"));
    }
}
