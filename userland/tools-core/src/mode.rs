//! File modes as the tools show and take them: `drwxr-xr-x` strings (with
//! set-user-ID, set-group-ID and sticky letters), the one-letter file types of
//! `find -type`, the names `stat` prints, and octal modes for `mkdir -m`.

use alloc::string::String;
use zos_proto::fs::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// The type letter `ls -l` puts first (`-` regular, `d`, `l`, `c`, `b`, `p`, `s`).
pub fn type_letter(mode: u32) -> char {
    match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        S_IFREG => '-',
        _ => '?',
    }
}

/// The file type as `stat` names it.
pub fn type_name(mode: u32, size: u64) -> &'static str {
    match mode & S_IFMT {
        S_IFDIR => "directory",
        S_IFLNK => "symbolic link",
        S_IFCHR => "character special file",
        S_IFBLK => "block special file",
        S_IFIFO => "fifo",
        S_IFSOCK => "socket",
        S_IFREG if size == 0 => "regular empty file",
        S_IFREG => "regular file",
        _ => "weird file",
    }
}

/// `drwxr-xr-x`: the type letter and nine permission letters; `s`/`S` and
/// `t`/`T` replace `x`/`-` for set-ID and sticky bits.
pub fn mode_string(mode: u32) -> String {
    let mut text = String::with_capacity(10);
    text.push(type_letter(mode));
    let triads = [(6, S_ISUID, 's'), (3, S_ISGID, 's'), (0, S_ISVTX, 't')];
    for (shift, special_bit, special_letter) in triads {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        text.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        let execute = bits & 0o1 != 0;
        text.push(match (mode & special_bit != 0, execute) {
            (true, true) => special_letter,
            (true, false) => special_letter.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    text
}

/// An octal mode such as `755` or `1777` (at most `7777`).
pub fn parse_octal_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_modes() {
        assert_eq!(mode_string(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o644), "-rw-r--r--");
        assert_eq!(mode_string(S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(S_IFCHR | 0o666), "crw-rw-rw-");
        assert_eq!(mode_string(S_IFIFO | 0o600), "prw-------");
    }

    #[test]
    fn special_bits() {
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(S_IFDIR | 0o1770), "drwxrwx--T");
        assert_eq!(mode_string(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o2644), "-rw-r-Sr--");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name(S_IFREG, 0), "regular empty file");
        assert_eq!(type_name(S_IFREG, 1), "regular file");
        assert_eq!(type_name(S_IFDIR, 0), "directory");
        assert_eq!(type_name(S_IFLNK, 3), "symbolic link");
    }

    #[test]
    fn octal_modes() {
        assert_eq!(parse_octal_mode("755"), Some(0o755));
        assert_eq!(parse_octal_mode("1777"), Some(0o1777));
        assert_eq!(parse_octal_mode("0"), Some(0));
        assert_eq!(parse_octal_mode("8"), None);
        assert_eq!(parse_octal_mode("77777"), None);
        assert_eq!(parse_octal_mode(""), None);
        assert_eq!(parse_octal_mode("u+x"), None);
    }
}
