//! Shell pattern matching for `find -name` and pathname expansion: `*` (any
//! run of characters), `?` (one character), `[abc]`, `[a-z]`, `[!x]` / `[^x]`,
//! and `\c` for a literal `c`. Matching is over whole strings, iterative, and
//! takes at most pattern length × name length steps.
//!
//! Path-specific rules (`*` not crossing `/`, hidden files needing an explicit
//! leading `.`) are the caller's job: it matches one path component at a time.

use alloc::vec::Vec;

/// One element of a compiled pattern.
#[derive(Debug, PartialEq, Eq)]
enum Element {
    AnyRun,
    AnyOne,
    Literal(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Element {
    fn matches(&self, c: char) -> bool {
        match self {
            Element::AnyRun | Element::AnyOne => true,
            Element::Literal(expected) => *expected == c,
            Element::Class { negated, ranges } => {
                ranges.iter().any(|&(low, high)| low <= c && c <= high) != *negated
            }
        }
    }
}

/// True if `name` matches the whole of `pattern`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let elements = compile(pattern);
    let name: Vec<char> = name.chars().collect();
    let (mut element_index, mut name_index) = (0, 0);
    // Where to resume after the most recent `*`: (element after it, name index).
    let mut backtrack: Option<(usize, usize)> = None;
    while name_index < name.len() {
        match elements.get(element_index) {
            Some(Element::AnyRun) => {
                element_index += 1;
                backtrack = Some((element_index, name_index));
            }
            Some(element) if element.matches(name[name_index]) => {
                element_index += 1;
                name_index += 1;
            }
            _ => match backtrack {
                // Let the last `*` swallow one more character and retry.
                Some((resume_element, resume_name)) => {
                    element_index = resume_element;
                    name_index = resume_name + 1;
                    backtrack = Some((resume_element, resume_name + 1));
                }
                None => return false,
            },
        }
    }
    elements[element_index..]
        .iter()
        .all(|element| *element == Element::AnyRun)
}

fn compile(pattern: &str) -> Vec<Element> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut elements = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let element = match chars[index] {
            '*' => {
                // Consecutive stars mean the same as one.
                if elements.last() != Some(&Element::AnyRun) {
                    elements.push(Element::AnyRun);
                }
                index += 1;
                continue;
            }
            '?' => Element::AnyOne,
            '\\' if index + 1 < chars.len() => {
                index += 1;
                Element::Literal(chars[index])
            }
            '[' => match compile_class(&chars[index + 1..]) {
                Some((class, consumed)) => {
                    index += consumed;
                    class
                }
                None => Element::Literal('['),
            },
            c => Element::Literal(c),
        };
        elements.push(element);
        index += 1;
    }
    elements
}

/// Compiles the bracket expression after a `[`. Returns the class and how many
/// characters it used including the closing `]`, or `None` if there is no
/// closing `]` (then the `[` is an ordinary character).
fn compile_class(chars: &[char]) -> Option<(Element, usize)> {
    let mut index = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        index += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut low = *chars.get(index)?;
        if low == ']' && !first {
            return Some((Element::Class { negated, ranges }, index + 1));
        }
        first = false;
        if low == '\\' && index + 1 < chars.len() {
            index += 1;
            low = chars[index];
        }
        index += 1;
        let is_range =
            chars.get(index) == Some(&'-') && !matches!(chars.get(index + 1), None | Some(']'));
        if is_range {
            let mut high = chars[index + 1];
            index += 2;
            if high == '\\' && index < chars.len() {
                high = chars[index];
                index += 1;
            }
            ranges.push((low, high));
        } else {
            ranges.push((low, low));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literal_patterns() {
        assert!(glob_match("abc", "abc"));
        assert!(!glob_match("abc", "abd"));
        assert!(!glob_match("abc", "ab"));
        assert!(!glob_match("ab", "abc"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn star() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*.rs", "main.rs"));
        assert!(!glob_match("*.rs", "main.rc"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("**a**", "bab"));
        assert!(glob_match("*a", "aaa"));
        assert!(glob_match("a*", "a"));
        assert!(glob_match("*ab*ab", "xabyabab"));
    }

    #[test]
    fn question_mark() {
        assert!(glob_match("?", "x"));
        assert!(!glob_match("?", ""));
        assert!(!glob_match("?", "xy"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("??*", "ab"));
        assert!(!glob_match("??*", "a"));
        assert!(glob_match("?", "é"));
    }

    #[test]
    fn bracket_sets_and_ranges() {
        assert!(glob_match("[abc]", "b"));
        assert!(!glob_match("[abc]", "d"));
        assert!(glob_match("[a-z]x", "qx"));
        assert!(!glob_match("[a-z]x", "Qx"));
        assert!(glob_match("[a-zA-Z0-9_]", "Z"));
        assert!(glob_match("file[0-9].txt", "file7.txt"));
        assert!(!glob_match("file[0-9].txt", "fileA.txt"));
    }

    #[test]
    fn negated_brackets() {
        assert!(glob_match("[!x]", "y"));
        assert!(!glob_match("[!x]", "x"));
        assert!(glob_match("[^a-c]", "d"));
        assert!(!glob_match("[^a-c]", "b"));
        assert!(!glob_match("[!x]", ""));
    }

    #[test]
    fn bracket_edge_cases() {
        // `]` first in a class is literal; `-` first or last is literal.
        assert!(glob_match("[]a]", "]"));
        assert!(glob_match("[!]]", "a"));
        assert!(!glob_match("[!]]", "]"));
        assert!(glob_match("[a-]", "-"));
        assert!(glob_match("[-a]", "-"));
        // An unclosed `[` is a literal character.
        assert!(glob_match("[abc", "[abc"));
        assert!(!glob_match("[abc", "a"));
        assert!(glob_match("[", "["));
        // Escapes inside classes.
        assert!(glob_match("[\\]]", "]"));
    }

    #[test]
    fn backslash_escapes() {
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "a"));
        assert!(glob_match("a\\?", "a?"));
        assert!(glob_match("\\[x]", "[x]"));
        assert!(glob_match("a\\", "a\\"));
    }

    #[test]
    fn long_inputs_are_fast() {
        let name = "a".repeat(10_000);
        let pattern = "*a".repeat(50) + "b";
        assert!(!glob_match(&pattern, &name));
    }
}
