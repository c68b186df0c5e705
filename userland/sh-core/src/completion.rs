//! Tab completion helpers: the longest common prefix of the candidates,
//! the list shown when several remain, and the candidates for a path or a
//! command name from the names found (the shell does the directory reads).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The longest prefix all candidates share; `None` when there are none.
pub fn common_prefix(candidates: &[String]) -> Option<String> {
    let first = candidates.first()?;
    let mut length = first.len();
    for candidate in &candidates[1..] {
        length = first
            .char_indices()
            .zip(candidate.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((index, c), _)| index + c.len_utf8())
            .min(length);
    }
    Some(first[..length].to_string())
}

/// The candidates in columns, each row ending in `\r\n`.
pub fn listing(candidates: &[String], columns: usize) -> String {
    let width = candidates
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let per_row = (columns / width).max(1);
    let mut text = String::new();
    for (index, candidate) in candidates.iter().enumerate() {
        text.push_str(candidate);
        if (index + 1) % per_row == 0 || index + 1 == candidates.len() {
            text.push_str("\r\n");
        } else {
            for _ in candidate.chars().count()..width {
                text.push(' ');
            }
        }
    }
    text
}

/// Splits a word being completed as a path: the directory to list (`.`
/// for none) and the prefix of the name.
pub fn split_path(word: &str) -> (String, &str) {
    match word.rfind('/') {
        Some(0) => ("/".to_string(), &word[1..]),
        Some(index) => (word[..index].to_string(), &word[index + 1..]),
        None => (".".to_string(), word),
    }
}

/// Path candidates: `names` of the directory (with `is_dir` flags) that
/// start with `prefix`, as the word would read (directories get `/`).
pub fn path_candidates(word: &str, names: &[(String, bool)]) -> Vec<String> {
    let (_, prefix) = split_path(word);
    let head = &word[..word.len() - prefix.len()];
    let mut found: Vec<String> = names
        .iter()
        .filter(|(name, _)| {
            name.starts_with(prefix) && (prefix.starts_with('.') || !name.starts_with('.'))
        })
        .map(|(name, is_dir)| {
            let mut candidate = alloc::format!("{head}{name}");
            if *is_dir {
                candidate.push('/');
            }
            candidate
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prefixes() {
        assert_eq!(common_prefix(&[]), None);
        assert_eq!(common_prefix(&strings(&["echo"])), Some("echo".into()));
        assert_eq!(
            common_prefix(&strings(&["exit", "export", "exec"])),
            Some("ex".into())
        );
        assert_eq!(common_prefix(&strings(&["a", "b"])), Some("".into()));
    }

    #[test]
    fn paths() {
        assert_eq!(split_path("/et"), ("/".into(), "et"));
        assert_eq!(split_path("/etc/mo"), ("/etc".into(), "mo"));
        assert_eq!(split_path("fi"), (".".into(), "fi"));
        let names = vec![
            ("motd".to_string(), false),
            ("init".to_string(), true),
            (".hidden".to_string(), false),
        ];
        assert_eq!(
            path_candidates("/etc/", &names),
            ["/etc/init/", "/etc/motd"]
        );
        assert_eq!(path_candidates("/etc/m", &names), ["/etc/motd"]);
        assert_eq!(path_candidates(".h", &names), [".hidden"]);
    }

    #[test]
    fn columns() {
        assert_eq!(listing(&strings(&["ab", "c"]), 80), "ab  c\r\n");
        assert_eq!(listing(&strings(&["ab", "c"]), 4), "ab\r\nc\r\n");
    }
}
