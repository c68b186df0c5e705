//! Where to look for a command: `$PATH` candidates (default `/bin:/sbin`), and
//! relative paths made absolute against the working directory (the process
//! manager resolves only absolute paths).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// `$PATH` when it is unset.
pub const DEFAULT_PATH: &str = "/bin:/sbin";

/// `path` joined to `cwd` unless it is absolute.
pub fn absolute(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else if cwd.ends_with('/') {
        format!("{cwd}{path}")
    } else {
        format!("{cwd}/{path}")
    }
}

/// The paths to try, in order, for command `name`: the name itself when it
/// contains a `/`, else each `$PATH` directory (an empty entry is the
/// working directory).
pub fn candidates(name: &str, path_variable: Option<&str>, cwd: &str) -> Vec<String> {
    if name.is_empty() {
        return Vec::new();
    }
    if name.contains('/') {
        return alloc::vec![absolute(cwd, name)];
    }
    path_variable
        .unwrap_or(DEFAULT_PATH)
        .split(':')
        .map(|directory| {
            let directory = if directory.is_empty() { cwd } else { directory };
            absolute(cwd, &absolute(directory, name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_and_explicit_path() {
        assert_eq!(candidates("ls", None, "/"), vec!["/bin/ls", "/sbin/ls"]);
        assert_eq!(
            candidates("ls", Some("/usr/bin::rel"), "/home"),
            vec!["/usr/bin/ls", "/home/ls", "/home/rel/ls"]
        );
        assert_eq!(candidates("ls", Some("/x/"), "/"), vec!["/x/ls"]);
    }

    #[test]
    fn names_with_slashes_are_not_searched() {
        assert_eq!(candidates("/sbin/init", None, "/"), vec!["/sbin/init"]);
        assert_eq!(candidates("./prog", None, "/tmp"), vec!["/tmp/./prog"]);
        assert_eq!(candidates("sub/prog", None, "/"), vec!["/sub/prog"]);
        assert!(candidates("", None, "/").is_empty());
    }
}
