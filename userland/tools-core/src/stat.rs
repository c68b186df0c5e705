//! `stat`: options and the report for one file (name, size, blocks, type,
//! inode, links, mode, owner, times). There is no real-time clock yet, so
//! times are shown as seconds since boot.

use crate::failure::UsageError;
use crate::getopt;
use crate::mode::{mode_string, type_name};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use zos_proto::fs::FileStat;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatOptions<'a> {
    /// `-L`: describe what a symlink points at.
    pub follow_links: bool,
    pub paths: Vec<&'a str>,
}

pub fn parse<'a>(args: &[&'a str]) -> Result<StatOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "L")?;
    if parsed.operands.is_empty() {
        return Err(UsageError("missing operand".into()));
    }
    Ok(StatOptions {
        follow_links: parsed.has('L'),
        paths: parsed.operands,
    })
}

/// A file time (nanoseconds since the epoch) as GNU stat shows it:
/// `2026-11-29 23:45:06.123456789 +0000`.
pub fn file_time(nanoseconds: u64) -> String {
    let seconds = nanoseconds / 1_000_000_000;
    format!(
        "{}.{:09} +0000",
        crate::script_tools::date(seconds, Some("%F %T")),
        nanoseconds % 1_000_000_000
    )
}

/// The report for `path` (`link_target` for a symlink described itself).
pub fn report(path: &str, stat: &FileStat, link_target: Option<&str>) -> String {
    let mut text = match link_target {
        Some(target) => format!("  File: {path} -> {target}\n"),
        None => format!("  File: {path}\n"),
    };
    text.push_str(&format!(
        "  Size: {:<15} Blocks: {:<10} IO Block: {:<6} {}\n",
        stat.size,
        stat.blocks,
        stat.block_size,
        type_name(stat.mode, stat.size)
    ));
    text.push_str(&format!(
        "Device: {:<14} Inode: {:<11} Links: {}\n",
        stat.dev, stat.ino, stat.nlink
    ));
    text.push_str(&format!(
        "Access: ({:04o}/{})  Uid: ({:>5})   Gid: ({:>5})\n",
        stat.mode & 0o7777,
        mode_string(stat.mode),
        stat.uid,
        stat.gid
    ));
    text.push_str(&format!("Access: {}\n", file_time(stat.atime_ns)));
    text.push_str(&format!("Modify: {}\n", file_time(stat.mtime_ns)));
    text.push_str(&format!("Change: {}\n", file_time(stat.ctime_ns)));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use zos_proto::fs::mode::S_IFREG;

    #[test]
    fn options() {
        assert!(parse(&[]).is_err());
        let options = parse(&["-L", "a", "b"]).unwrap();
        assert!(options.follow_links);
        assert_eq!(options.paths, ["a", "b"]);
    }

    #[test]
    fn times() {
        assert_eq!(
            file_time(1_500_000_000),
            "1970-01-01 00:00:01.500000000 +0000"
        );
        assert_eq!(
            file_time(1_795_995_906_000_000_007),
            "2026-11-29 23:45:06.000000007 +0000"
        );
    }

    #[test]
    fn a_regular_file() {
        let stat = FileStat {
            dev: 1,
            ino: 42,
            mode: S_IFREG | 0o644,
            nlink: 1,
            size: 5,
            blocks: 8,
            block_size: 4096,
            mtime_ns: 2_000_000_000,
            ..FileStat::default()
        };
        let text = report("/tmp/x", &stat, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  File: /tmp/x");
        assert!(lines[1].starts_with("  Size: 5 "));
        assert!(lines[1].contains("Blocks: 8 "));
        assert!(lines[1].ends_with("regular file"));
        assert!(lines[2].contains("Inode: 42") && lines[2].ends_with("Links: 1"));
        assert_eq!(
            lines[3],
            "Access: (0644/-rw-r--r--)  Uid: (    0)   Gid: (    0)"
        );
        assert_eq!(lines[5], "Modify: 1970-01-01 00:00:02.000000000 +0000");
        assert_eq!(
            report("l", &stat, Some("x")).lines().next(),
            Some("  File: l -> x")
        );
    }
}
