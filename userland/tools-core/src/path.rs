//! Path text for the file tools: joining a directory and a name, the last
//! component, the prefixes `mkdir -p` creates, and where `cp`/`mv` put a
//! source when the destination is a directory.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// `dir/name` with exactly one slash between them (`/` + `a` → `/a`).
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return name.to_string();
    }
    let base = dir.trim_end_matches('/');
    if base.is_empty() {
        format!("/{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// The last component, ignoring trailing slashes (`a/b/` → `b`, `/` → `/`).
pub fn file_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "" } else { "/" };
    }
    match trimmed.rsplit_once('/') {
        Some((_, last)) => last,
        None => trimmed,
    }
}

/// Every prefix of `path` naming a directory, shortest first, as `mkdir -p`
/// creates them: `a/b/c` → `a`, `a/b`, `a/b/c`; `/x/y` → `/x`, `/x/y`.
pub fn ancestors(path: &str) -> Vec<String> {
    let absolute = path.starts_with('/');
    let mut prefixes = Vec::new();
    let mut current = String::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if !current.is_empty() || absolute {
            current.push('/');
        }
        current.push_str(component);
        prefixes.push(current.clone());
    }
    prefixes
}

/// Where `source` goes when copied or moved to `destination`: inside it when
/// it is a directory, else `destination` itself.
pub fn destination_for(source: &str, destination: &str, destination_is_dir: bool) -> String {
    if destination_is_dir {
        join(destination, file_name(source))
    } else {
        destination.to_string()
    }
}

/// Whether `inner` is `outer` or lies below it (text only: `cp -r a a/b`).
pub fn is_within(outer: &str, inner: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    let inner = inner.trim_end_matches('/');
    inner == outer || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/tmp", "a"), "/tmp/a");
        assert_eq!(join("/tmp/", "a"), "/tmp/a");
        assert_eq!(join("dir", "a"), "dir/a");
        assert_eq!(join("", "a"), "a");
    }

    #[test]
    fn last_components() {
        assert_eq!(file_name("a/b/"), "b");
        assert_eq!(file_name("/tmp/x"), "x");
        assert_eq!(file_name("x"), "x");
        assert_eq!(file_name("/"), "/");
        assert_eq!(file_name("//"), "/");
    }

    #[test]
    fn mkdir_prefixes() {
        assert_eq!(ancestors("a/b/c"), ["a", "a/b", "a/b/c"]);
        assert_eq!(ancestors("/x//y/"), ["/x", "/x/y"]);
        assert!(ancestors("/").is_empty());
    }

    #[test]
    fn destinations() {
        assert_eq!(destination_for("/tmp/a", "/b", true), "/b/a");
        assert_eq!(destination_for("/tmp/a/", "/b", true), "/b/a");
        assert_eq!(destination_for("/tmp/a", "/b", false), "/b");
    }

    #[test]
    fn nesting() {
        assert!(is_within("/a", "/a/b"));
        assert!(is_within("/a/", "/a"));
        assert!(!is_within("/a", "/ab"));
        assert!(!is_within("/a/b", "/a"));
    }
}
