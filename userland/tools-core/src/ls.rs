//! `ls`: options, which names a listing shows and in what order, the aligned
//! `ls -l` table (mode, links, owner, group, size, name, `-> target`), the
//! `total` line, and names in columns for a terminal.

use crate::failure::UsageError;
use crate::getopt;
use crate::mode::mode_string;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use zos_proto::fs::FileStat;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsOptions<'a> {
    /// `-l`: the long table.
    pub long: bool,
    /// `-a`: names starting with `.`, including `.` and `..`.
    pub all: bool,
    /// `-1`: one name per line even on a terminal.
    pub one_per_line: bool,
    /// `-d`: list directories themselves, not their entries.
    pub directory_itself: bool,
    /// `-h`: sizes in the long table as `1.5K`, `128M` (powers of 1024).
    pub human: bool,
    /// The operands; none means `.`.
    pub paths: Vec<&'a str>,
}

pub fn parse<'a>(args: &[&'a str]) -> Result<LsOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "la1dh")?;
    let mut paths = parsed.operands.clone();
    if paths.is_empty() {
        paths.push(".");
    }
    Ok(LsOptions {
        long: parsed.has('l'),
        all: parsed.has('a'),
        one_per_line: parsed.has('1'),
        directory_itself: parsed.has('d'),
        human: parsed.has('h'),
        paths,
    })
}

/// Whether a directory entry called `name` is listed.
pub fn shows(name: &str, all: bool) -> bool {
    all || !name.starts_with('.')
}

/// Sorts names bytewise, as the C locale does.
pub fn sort_names(names: &mut [String]) {
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
}

/// One row of `ls -l`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongEntry {
    pub name: String,
    pub stat: FileStat,
    /// What a symlink points at.
    pub link_target: Option<String>,
}

/// A size as `ls -h` shows it: bytes below 1 KiB, else the unit (K, M, G, T,
/// P, E) with one decimal below 10 and none above, always rounded up.
pub fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let units = ['K', 'M', 'G', 'T', 'P', 'E'];
    let mut unit = 0;
    let mut scale = 1024u128;
    while (bytes as u128).div_ceil(scale) > 1023 && unit + 1 < units.len() {
        // Past 1023 of this unit (after rounding up), the next unit reads better.
        unit += 1;
        scale *= 1024;
    }
    let bytes = bytes as u128;
    let tenths = (bytes * 10).div_ceil(scale);
    if tenths < 100 {
        format!("{}.{}{}", tenths / 10, tenths % 10, units[unit])
    } else {
        format!("{}{}", bytes.div_ceil(scale), units[unit])
    }
}

/// The `ls -l` rows with columns aligned across all of them, owners and groups
/// as numbers.
pub fn long_table(entries: &[LongEntry]) -> String {
    long_table_named(entries, false, &|uid| uid.to_string(), &|gid| {
        gid.to_string()
    })
}

/// [`long_table`] with owner and group names from `user` and `group`, and
/// `-h` sizes when `human` is set.
pub fn long_table_named(
    entries: &[LongEntry],
    human: bool,
    user: &dyn Fn(u32) -> String,
    group: &dyn Fn(u32) -> String,
) -> String {
    let size_text = |e: &LongEntry| {
        if human {
            human_size(e.stat.size)
        } else {
            e.stat.size.to_string()
        }
    };
    let width = |value: &dyn Fn(&LongEntry) -> String| {
        entries.iter().map(|e| value(e).len()).max().unwrap_or(0)
    };
    let links_width = width(&|e| e.stat.nlink.to_string());
    let uid_width = width(&|e| user(e.stat.uid));
    let gid_width = width(&|e| group(e.stat.gid));
    let size_width = width(&|e| size_text(e));
    let mut text = String::new();
    for entry in entries {
        let stat = &entry.stat;
        text.push_str(&format!(
            "{} {:>links_width$} {:<uid_width$} {:<gid_width$} {:>size_width$} {}",
            mode_string(stat.mode),
            stat.nlink,
            user(stat.uid),
            group(stat.gid),
            size_text(entry),
            entry.name,
        ));
        if let Some(target) = &entry.link_target {
            text.push_str(" -> ");
            text.push_str(target);
        }
        text.push('\n');
    }
    text
}

/// `total N`: the space used by a directory's entries in 1 KiB units.
pub fn total_line(entries: &[LongEntry]) -> String {
    let blocks: u64 = entries.iter().map(|e| e.stat.blocks).sum();
    format!("total {}\n", blocks.div_ceil(2))
}

/// Names down columns fitting `width` characters, as `ls` on a terminal.
pub fn columns(names: &[String], width: usize) -> String {
    if names.is_empty() {
        return String::new();
    }
    let gap = 2;
    let cell = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) + gap;
    let per_row = (width / cell).max(1);
    let rows = names.len().div_ceil(per_row);
    let mut text = String::new();
    for row in 0..rows {
        let mut line = String::new();
        let mut column = row;
        while column < names.len() {
            let name = &names[column];
            line.push_str(name);
            if column + rows < names.len() {
                for _ in name.chars().count()..cell {
                    line.push(' ');
                }
            }
            column += rows;
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The `DIR:` line before a directory's listing when several are listed.
pub fn directory_header(path: &str, first: bool) -> String {
    let gap = if first { "" } else { "\n" };
    format!("{gap}{path}:\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn human_sizes_round_up_like_gnu_ls() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(1537), "1.6K");
        assert_eq!(human_size(10 * 1024), "10K");
        assert_eq!(human_size(128 << 20), "128M");
        assert_eq!(human_size((1 << 20) - 1), "1.0M");
        assert_eq!(human_size(5 << 30), "5.0G");
    }
    use zos_proto::fs::mode::{S_IFDIR, S_IFLNK, S_IFREG};

    fn entry(name: &str, mode: u32, size: u64, target: Option<&str>) -> LongEntry {
        LongEntry {
            name: name.to_string(),
            stat: FileStat {
                mode,
                nlink: if mode & S_IFDIR != 0 { 12 } else { 1 },
                size,
                blocks: size.div_ceil(512),
                ..FileStat::default()
            },
            link_target: target.map(str::to_string),
        }
    }

    #[test]
    fn options() {
        let options = parse(&["-la", "/tmp", "/"]).unwrap();
        assert!(options.long && options.all && !options.one_per_line);
        assert_eq!(options.paths, ["/tmp", "/"]);
        assert_eq!(parse(&[]).unwrap().paths, ["."]);
        assert!(parse(&["-x"]).is_err());
    }

    #[test]
    fn hidden_names() {
        assert!(!shows(".", false));
        assert!(!shows(".profile", false));
        assert!(shows("..", true));
        assert!(shows("bin", false));
    }

    #[test]
    fn sorting_is_bytewise() {
        let mut names = vec!["b".to_string(), "B".to_string(), "a".to_string()];
        sort_names(&mut names);
        assert_eq!(names, ["B", "a", "b"]);
    }

    #[test]
    fn long_rows_align() {
        let entries = [
            entry("bin", S_IFDIR | 0o755, 0, None),
            entry("notes", S_IFREG | 0o644, 12345, None),
            entry("sh", S_IFLNK | 0o777, 10, Some("/sbin/zbox")),
        ];
        assert_eq!(
            long_table(&entries),
            "drwxr-xr-x 12 0 0     0 bin\n\
             -rw-r--r--  1 0 0 12345 notes\n\
             lrwxrwxrwx  1 0 0    10 sh -> /sbin/zbox\n"
        );
        assert_eq!(total_line(&entries), "total 13\n");
    }

    #[test]
    fn names_in_columns() {
        let names: Vec<String> = ["a", "bb", "ccc", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(columns(&names, 80), "a    bb   ccc  d    e\n");
        assert_eq!(columns(&names, 10), "a    d\nbb   e\nccc\n");
        assert_eq!(columns(&[], 80), "");
    }

    #[test]
    fn headers() {
        assert_eq!(directory_header("/tmp", true), "/tmp:\n");
        assert_eq!(directory_header("/", false), "\n/:\n");
    }
}
