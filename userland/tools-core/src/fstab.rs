//! `/etc/fstab`, as `mount -a` reads it: one file system a line,
//! `SOURCE DIR TYPE OPTIONS [DUMP [PASS]]`, `#` comments. Options: `defaults`,
//! `rw`, `ro`, `nofail` (a missing or refused source is not an error),
//! `noauto` (not mounted by `mount -a`), `X-mount.subdir=DIR` (mount that
//! directory of the volume, as util-linux does); others are refused with the
//! line.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub fs_type: &'a str,
    pub read_only: bool,
    pub nofail: bool,
    pub noauto: bool,
    /// Directory of the volume to mount ("" for its root).
    pub subdir: &'a str,
}

/// The entries of `text`; the first bad line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Entry<'_>>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [source, target, fs_type, rest @ ..] = fields.as_slice() else {
            return Err(format!("line {}: fewer than 3 fields", number + 1));
        };
        if rest.len() > 3 {
            return Err(format!("line {}: more than 6 fields", number + 1));
        }
        let mut entry = Entry {
            source,
            target,
            fs_type,
            read_only: false,
            nofail: false,
            noauto: false,
            subdir: "",
        };
        for option in rest.first().map_or("defaults", |o| o).split(',') {
            match option {
                "defaults" | "auto" => {}
                "rw" => entry.read_only = false,
                "ro" => entry.read_only = true,
                "nofail" => entry.nofail = true,
                "noauto" => entry.noauto = true,
                _ if option.starts_with("X-mount.subdir=") => {
                    entry.subdir = &option["X-mount.subdir=".len()..];
                }
                other => {
                    return Err(format!("line {}: unknown option '{other}'", number + 1));
                }
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_options_and_comments() {
        let table = "# the state volume\n/dev/vda1 /var ext2 rw,nofail 0 2\n\n\
                     /img /mnt ext2 ro,noauto # a comment\n/dev/vdb /b ext2\n";
        let entries = parse(table).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0],
            Entry {
                source: "/dev/vda1",
                target: "/var",
                fs_type: "ext2",
                read_only: false,
                nofail: true,
                noauto: false,
                subdir: "",
            }
        );
        assert!(entries[1].read_only && entries[1].noauto);
        assert!(!entries[2].read_only && !entries[2].nofail);
        let sub = parse("/dev/vda1 /home ext2 nofail,X-mount.subdir=home 0 0").unwrap();
        assert_eq!(sub[0].subdir, "home");
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(parse("\n/a /b").unwrap_err(), "line 2: fewer than 3 fields");
        assert_eq!(
            parse("/a /b ext2 sync").unwrap_err(),
            "line 1: unknown option 'sync'"
        );
        assert!(parse("/a /b ext2 rw 0 0 9").is_err());
    }
}
