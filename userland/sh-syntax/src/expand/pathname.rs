//! Pathname expansion: a pattern is matched one `/`-separated component at
//! a time against directory listings from the shell; names starting with
//! `.` match only a pattern that starts with a literal `.`. Results are
//! sorted; no match leaves the word as it was (the caller's job).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::Context;
use crate::glob_match;

/// True if a component has an unescaped `*`, `?` or `[`.
fn is_pattern(component: &str) -> bool {
    let mut escaped = false;
    for c in component.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// Removes backslash escapes.
fn unescape(component: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in component.chars() {
        if c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// All paths matching `pattern`, sorted.
pub(super) fn expand(pattern: &str, ctx: &mut dyn Context) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut paths: Vec<String> = alloc::vec![if absolute {
        "/".to_string()
    } else {
        String::new()
    }];
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let mut next = Vec::new();
        for base in &paths {
            let directory = if base.is_empty() { "." } else { base.as_str() };
            let join = |name: &str| {
                if base.is_empty() || base.ends_with('/') {
                    alloc::format!("{base}{name}")
                } else {
                    alloc::format!("{base}/{name}")
                }
            };
            if is_pattern(component) {
                let Some(mut names) = ctx.read_dir(directory) else {
                    continue;
                };
                names.sort();
                for name in names {
                    if name.starts_with('.') && !component.starts_with('.') {
                        continue;
                    }
                    if name == "." || name == ".." {
                        continue;
                    }
                    if glob_match(component, &name) {
                        next.push(join(&name));
                    }
                }
            } else {
                let name = unescape(component);
                // A literal last component after a pattern must exist.
                let must_exist = last && index > 0 && (paths.len() > 1 || is_pattern(pattern));
                if !must_exist
                    || ctx
                        .read_dir(directory)
                        .is_some_and(|names| names.contains(&name))
                {
                    next.push(join(&name));
                }
            }
        }
        paths = next;
        if paths.is_empty() {
            break;
        }
    }
    if pattern.ends_with('/') {
        for path in &mut paths {
            path.push('/');
        }
    }
    paths.sort();
    paths
}
