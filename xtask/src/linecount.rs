//! Counts code lines of the kernel core, the number ARCHITECTURE.md invariant 5
//! limits to 3,000.
//!
//! A code line is a line with something other than whitespace and comments on it.
//! Not counted: blank lines, `//` comments (doc comments included), `/* */`
//! comments, and test code: an item marked `#[cfg(test)]` (a `mod tests { … }`
//! block, a test-only function) and every file of a module declared under
//! `#[cfg(test)]` (`#[cfg(test)] mod hostarch;` excludes `hostarch.rs` and a
//! `hostarch/` directory). The lexer knows string, raw-string and character
//! literals, so braces and `//` inside them do not confuse it. Lone braces count:
//! rustfmt decides layout, the counter takes it as it is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The limit on the kernel core's code lines.
pub const CORE_LIMIT: usize = 3000;

/// Lines of one source text, by what is on them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Lines with code outside test items.
    pub code: usize,
    /// Lines with code inside `#[cfg(test)]` items.
    pub test: usize,
}

/// Counts the code lines of `dir`'s crate, starting at `src/lib.rs` or
/// `src/main.rs` and following every `.rs` file under `src/` except those of
/// test-only modules. Returns the total and the per-file figures.
pub fn count_crate(dir: &Path) -> Result<(usize, Vec<(PathBuf, usize)>), String> {
    let src = dir.join("src");
    let mut files = Vec::new();
    collect(&src, &mut files)?;
    files.sort();
    let mut excluded: BTreeSet<PathBuf> = BTreeSet::new();
    let mut texts = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        for module in test_modules(&text) {
            let base = module_dir(file);
            excluded.insert(base.join(format!("{module}.rs")));
            excluded.insert(base.join(&module));
        }
        texts.push((file.clone(), text));
    }
    let mut total = 0;
    let mut per_file = Vec::new();
    for (file, text) in texts {
        if excluded.iter().any(|e| file.starts_with(e)) {
            continue;
        }
        let counts = count(&text);
        total += counts.code;
        per_file.push((file, counts.code));
    }
    Ok((total, per_file))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The directory a file's child modules live in (`src/` for lib.rs/main.rs/mod.rs,
/// `src/foo/` for `src/foo.rs`).
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("lib" | "main" | "mod") | None => parent,
        Some(stem) => parent.join(stem),
    }
}

/// Names of the modules declared `#[cfg(test)] mod name;` in `text`.
fn test_modules(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut after_cfg_test = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "#[cfg(test)]" {
            after_cfg_test = true;
            continue;
        }
        if after_cfg_test {
            let declaration = line.strip_prefix("pub(crate) ").unwrap_or(line);
            let declaration = declaration.strip_prefix("pub ").unwrap_or(declaration);
            if let Some(name) = declaration
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            {
                names.push(name.trim().to_string());
            }
            after_cfg_test = line.starts_with("#[");
        }
    }
    names
}

/// What the lexer is inside of at a point of the text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// A block comment, with its nesting depth.
    Block(u32),
    Str,
    /// A raw string closed by `"` and this many `#`.
    RawStr(usize),
}

/// Skipping a `#[cfg(test)]` item: waiting for its first `{` or `;`, or inside its
/// braces at some depth.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    None,
    Pending,
    Depth(u32),
}

/// Counts the code and test lines of one Rust source text.
pub fn count(text: &str) -> Counts {
    let mut counts = Counts::default();
    let mut state = State::Code;
    let mut skip = Skip::None;
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut has_code = false;
        let mut in_test = skip != Skip::None;
        let trimmed = line.trim();
        if state == State::Code && skip == Skip::None && trimmed == "#[cfg(test)]" {
            skip = Skip::Pending;
            counts.test += 1;
            continue;
        }
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 {
                            State::Code
                        } else {
                            State::Block(depth - 1)
                        };
                        i += 2;
                        continue;
                    }
                    if c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        i += 2;
                        continue;
                    }
                }
                State::Str => {
                    has_code = true;
                    if c == '\\' {
                        i += 2;
                        continue;
                    }
                    if c == '"' {
                        state = State::Code;
                    }
                }
                State::RawStr(hashes) => {
                    has_code = true;
                    if c == '"'
                        && chars[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes
                    {
                        state = State::Code;
                        i += 1 + hashes;
                        continue;
                    }
                }
                State::Code => {
                    if c.is_whitespace() {
                        i += 1;
                        continue;
                    }
                    if c == '/' && next == Some('/') {
                        break;
                    }
                    if c == '/' && next == Some('*') {
                        state = State::Block(1);
                        i += 2;
                        continue;
                    }
                    has_code = true;
                    match c {
                        '"' => state = State::Str,
                        'r' if matches!(next, Some('"' | '#'))
                            && (i == 0 || !is_ident(chars[i - 1])) =>
                        {
                            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                            if chars.get(i + 1 + hashes) == Some(&'"') {
                                state = State::RawStr(hashes);
                                i += 2 + hashes;
                                continue;
                            }
                        }
                        '\'' => {
                            // A character literal ('x', '\n', '\u{7f}') or a lifetime.
                            if next == Some('\\') {
                                let close = chars[i + 2..].iter().position(|&ch| ch == '\'');
                                i += close.map_or(chars.len(), |p| p + 3);
                                continue;
                            }
                            if chars.get(i + 2) == Some(&'\'') {
                                i += 3;
                                continue;
                            }
                        }
                        '{' => match skip {
                            Skip::Pending => {
                                skip = Skip::Depth(1);
                                in_test = true;
                            }
                            Skip::Depth(d) => skip = Skip::Depth(d + 1),
                            Skip::None => {}
                        },
                        '}' => {
                            if let Skip::Depth(d) = skip {
                                skip = if d == 1 {
                                    Skip::None
                                } else {
                                    Skip::Depth(d - 1)
                                };
                            }
                        }
                        ';' if skip == Skip::Pending => skip = Skip::None,
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        if has_code {
            if in_test {
                counts.test += 1;
            } else {
                counts.code += 1;
            }
        }
    }
    counts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blanks_and_tests_are_not_code() {
        let text = r##"//! Module doc.

/// Doc.
fn a() -> &'static str {
    // comment
    let s = "} // not a comment {";
    let c = '{';
    let r = r#"}"#; /* trailing */
    /* block
       still block */
    s
}

#[cfg(test)]
mod tests {
    fn inner() {
        let x = "{";
    }
}

#[cfg(test)]
use std::vec::Vec;

fn b<'a>(x: &'a u8) -> &'a u8 {
    x
}
"##;
        let counts = count(text);
        // fn a, let s, let c, let r, s, }, fn b, x, }
        assert_eq!(counts.code, 9);
        assert_eq!(counts.test, 8);
    }

    #[test]
    fn test_module_declarations_are_found() {
        let text = "mod a;\n#[cfg(test)]\nmod hostarch;\n#[cfg(test)]\n#[allow(dead_code)]\npub(crate) mod kernel_tests;\n";
        assert_eq!(test_modules(text), vec!["hostarch", "kernel_tests"]);
    }
}
