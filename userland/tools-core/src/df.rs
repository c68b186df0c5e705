//! `df` and `mount`: the capacity table of the mounted file systems (1 KiB
//! blocks, used, available, use percentage) and the `mount` listing line.

use alloc::format;
use alloc::string::String;

/// One mounted file system as `df` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfRow<'a> {
    pub fs_type: &'a str,
    pub mount_point: &'a str,
    pub block_size: u64,
    pub blocks: u64,
    pub free_blocks: u64,
}

/// The column titles, aligned like [`df_line`].
pub fn df_header() -> String {
    columns(
        "Filesystem",
        "1K-blocks",
        "Used",
        "Available",
        "Use%",
        "Mounted on",
    )
}

fn columns(
    fs_type: &str,
    total: &str,
    used: &str,
    available: &str,
    percent: &str,
    mount_point: &str,
) -> String {
    format!("{fs_type:<15} {total:>10} {used:>10} {available:>10} {percent:>4} {mount_point}")
}

/// A `df` row (sizes in KiB, use rounded up, `-` when the size is zero).
pub fn df_line(row: &DfRow) -> String {
    let kib = |blocks: u64| blocks.saturating_mul(row.block_size) / 1024;
    let total = kib(row.blocks);
    let available = kib(row.free_blocks.min(row.blocks));
    let used = total - available;
    let percent = if total == 0 {
        String::from("-")
    } else {
        format!("{}%", (used * 100).div_ceil(total))
    };
    columns(
        row.fs_type,
        &format!("{total}"),
        &format!("{used}"),
        &format!("{available}"),
        &percent,
        row.mount_point,
    )
}

/// `tmpfs on / type tmpfs (rw)`.
pub fn mount_line(fs_type: &str, mount_point: &str, read_only: bool) -> String {
    let access = if read_only { "ro" } else { "rw" };
    format!("{fs_type} on {mount_point} type {fs_type} ({access})")
}

/// What `mount` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountCommand<'a> {
    /// No operands: list the mount table.
    List,
    /// `mount -a`: everything in `/etc/fstab` not marked `noauto`.
    All,
    /// `mount -t TYPE [-o ro|rw] SOURCE DIR`.
    Mount {
        fs_type: &'a str,
        source: &'a str,
        target: &'a str,
        read_only: bool,
    },
}

/// Parse `mount`'s arguments.
pub fn parse_mount<'a>(args: &[&'a str]) -> Result<MountCommand<'a>, crate::UsageError> {
    use crate::UsageError;
    let parsed = crate::getopt::parse(args, "t:o:ra")?;
    if parsed.has('a') {
        return match parsed.operands.as_slice() {
            [] => Ok(MountCommand::All),
            _ => Err(UsageError(String::from("usage: mount -a"))),
        };
    }
    let mut read_only = parsed.has('r');
    if let Some(options) = parsed.last_value('o') {
        for option in options.split(',') {
            match option {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "defaults" => {}
                other => return Err(UsageError(format!("unknown mount option '{other}'"))),
            }
        }
    }
    match parsed.operands.as_slice() {
        [] if parsed.options.is_empty() => Ok(MountCommand::List),
        [source, target] => Ok(MountCommand::Mount {
            fs_type: parsed.last_value('t').unwrap_or("ext2"),
            source,
            target,
            read_only,
        }),
        _ => Err(UsageError(String::from(
            "usage: mount [-t TYPE] [-o ro] SOURCE DIR | mount -a",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_arguments() {
        assert_eq!(parse_mount(&[]).unwrap(), MountCommand::List);
        assert_eq!(
            parse_mount(&["-t", "ext2", "-o", "ro", "/img", "/mnt"]).unwrap(),
            MountCommand::Mount {
                fs_type: "ext2",
                source: "/img",
                target: "/mnt",
                read_only: true
            }
        );
        assert!(parse_mount(&["/img"]).is_err());
        assert_eq!(parse_mount(&["-a"]).unwrap(), MountCommand::All);
        assert!(parse_mount(&["-a", "/x"]).is_err());
        assert!(parse_mount(&["-o", "bogus", "/a", "/b"]).is_err());
    }

    #[test]
    fn rows() {
        let row = DfRow {
            fs_type: "tmpfs",
            mount_point: "/tmp",
            block_size: 4096,
            blocks: 6144,
            free_blocks: 6000,
        };
        assert_eq!(
            df_line(&row),
            "tmpfs                24576        576      24000   3% /tmp"
        );
        let empty = DfRow {
            fs_type: "proc",
            mount_point: "/proc",
            block_size: 0,
            blocks: 0,
            free_blocks: 0,
        };
        assert!(df_line(&empty).contains("    - /proc"));
    }

    #[test]
    fn header_lines_up() {
        let row = DfRow {
            fs_type: "tmpfs",
            mount_point: "/",
            block_size: 1024,
            blocks: 1,
            free_blocks: 0,
        };
        let line = df_line(&row);
        assert_eq!(
            line.find(" 100% ").map(|i| i + 6),
            df_header().find("Mounted")
        );
    }

    #[test]
    fn mount_lines() {
        assert_eq!(
            mount_line("tmpfs", "/", false),
            "tmpfs on / type tmpfs (rw)"
        );
        assert_eq!(
            mount_line("proc", "/proc", true),
            "proc on /proc type proc (ro)"
        );
    }
}
