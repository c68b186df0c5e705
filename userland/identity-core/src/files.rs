//! The POSIX account files.
//!
//! `/etc/passwd`: `name:x:uid:gid:gecos:home:shell` (world-readable).
//! `/etc/group`: `name:x:gid:member,member` (world-readable).
//! `/etc/shadow`: `name:hash:lastchange:::::: ` (root only, mode 0600); `hash` is
//! an argon2id PHC string, `*` or `!…` (locked) or empty (no password).
//!
//! Parsing keeps every good line and reports each malformed one (line number
//! and why) so a service can warn and carry on.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The display name (GECOS field).
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub hash: String,
    /// Days since the epoch of the last change.
    pub last_change: u64,
}

/// A skipped line: its number (from 1) and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// Parsed entries and the lines skipped.
pub type Parsed<T> = (Vec<T>, Vec<BadLine>);

fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

fn number(text: &str, what: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|_| format!("{what} '{text}' is not a number"))
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
}

fn parse_all<T>(text: &str, one: fn(&str) -> Result<T, String>) -> Parsed<T> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (line, content) in lines(text) {
        match one(content) {
            Ok(entry) => good.push(entry),
            Err(reason) => bad.push(BadLine { line, reason }),
        }
    }
    (good, bad)
}

fn check_name(name: &str) -> Result<(), String> {
    crate::names::check(name).map_err(|e| e.to_string())
}

pub fn parse_passwd_line(line: &str) -> Result<PasswdEntry, String> {
    let f = fields(line);
    if f.len() != 7 {
        return Err(format!("{} fields instead of 7", f.len()));
    }
    check_name(f[0])?;
    Ok(PasswdEntry {
        name: f[0].to_string(),
        uid: number(f[2], "uid")?,
        gid: number(f[3], "gid")?,
        gecos: f[4].to_string(),
        home: f[5].to_string(),
        shell: f[6].to_string(),
    })
}

pub fn parse_group_line(line: &str) -> Result<GroupEntry, String> {
    let f = fields(line);
    if f.len() != 4 {
        return Err(format!("{} fields instead of 4", f.len()));
    }
    check_name(f[0])?;
    let members = f[3]
        .split(',')
        .filter(|m| !m.is_empty())
        .map(ToString::to_string)
        .collect();
    Ok(GroupEntry {
        name: f[0].to_string(),
        gid: number(f[2], "gid")?,
        members,
    })
}

pub fn parse_shadow_line(line: &str) -> Result<ShadowEntry, String> {
    let f = fields(line);
    if f.len() < 3 {
        return Err(format!("{} fields instead of 9", f.len()));
    }
    check_name(f[0])?;
    Ok(ShadowEntry {
        name: f[0].to_string(),
        hash: f[1].to_string(),
        last_change: f[2].parse().unwrap_or(0),
    })
}

pub fn parse_passwd(text: &str) -> Parsed<PasswdEntry> {
    parse_all(text, parse_passwd_line)
}

pub fn parse_group(text: &str) -> Parsed<GroupEntry> {
    parse_all(text, parse_group_line)
}

pub fn parse_shadow(text: &str) -> Parsed<ShadowEntry> {
    parse_all(text, parse_shadow_line)
}

pub fn format_passwd(entries: &[PasswdEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "{}:x:{}:{}:{}:{}:{}\n",
            e.name, e.uid, e.gid, e.gecos, e.home, e.shell
        ));
    }
    out
}

pub fn format_group(entries: &[GroupEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("{}:x:{}:{}\n", e.name, e.gid, e.members.join(",")));
    }
    out
}

pub fn format_shadow(entries: &[ShadowEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("{}:{}:{}::::::\n", e.name, e.hash, e.last_change));
    }
    out
}

/// The name of user `uid` in passwd text (what `ls -l` and `ps` show), or the
/// number itself.
pub fn user_name(passwd: &str, uid: u32) -> String {
    parse_passwd(passwd)
        .0
        .into_iter()
        .find(|e| e.uid == uid)
        .map_or_else(|| format!("{uid}"), |e| e.name)
}

/// The name of group `gid` in group text, or the number itself.
pub fn group_name(group: &str, gid: u32) -> String {
    parse_group(group)
        .0
        .into_iter()
        .find(|e| e.gid == gid)
        .map_or_else(|| format!("{gid}"), |e| e.name)
}

/// A user id from a name or a number.
pub fn lookup_uid(passwd: &str, name: &str) -> Option<u32> {
    parse_passwd(passwd)
        .0
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| e.uid)
        .or_else(|| name.parse().ok())
}

/// A group id from a name or a number.
pub fn lookup_gid(group: &str, name: &str) -> Option<u32> {
    parse_group(group)
        .0
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| e.gid)
        .or_else(|| name.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          # comment\n\
                          alice:x:1000:1000:Alice A:/home/alice:/bin/sh\n\
                          broken line\n\
                          bob:x:notanumber:1001::/home/bob:/bin/sh\n\
                          b:ad:x:1:1::/:/bin/sh\n";

    #[test]
    fn passwd_skips_malformed_lines() {
        let (good, bad) = parse_passwd(PASSWD);
        assert_eq!(good.len(), 2);
        assert_eq!(good[1].name, "alice");
        assert_eq!(good[1].gecos, "Alice A");
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0].line, 4);
        assert!(bad[1].reason.contains("uid"));
        assert_eq!(
            format_passwd(&good[1..]),
            "alice:x:1000:1000:Alice A:/home/alice:/bin/sh\n"
        );
    }

    #[test]
    fn group_and_shadow_round_trip() {
        let text = "wheel:x:10:alice,bob\nusers:x:100:\n:x:1:\n";
        let (groups, bad) = parse_group(text);
        assert_eq!(groups.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(groups[0].members, ["alice", "bob"]);
        assert_eq!(
            format_group(&groups),
            "wheel:x:10:alice,bob\nusers:x:100:\n"
        );
        let shadow = "root::0::::::\nalice:$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA:19000::::::\n";
        let (entries, bad) = parse_shadow(shadow);
        assert!(bad.is_empty());
        assert_eq!(entries[1].hash, "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA");
        assert_eq!(format_shadow(&entries), shadow);
    }

    #[test]
    fn names_for_ids() {
        assert_eq!(user_name(PASSWD, 1000), "alice");
        assert_eq!(user_name(PASSWD, 4242), "4242");
        assert_eq!(group_name("wheel:x:10:\n", 10), "wheel");
        assert_eq!(lookup_uid(PASSWD, "alice"), Some(1000));
        assert_eq!(lookup_uid(PASSWD, "77"), Some(77));
        assert_eq!(lookup_uid(PASSWD, "nobody"), None);
        assert_eq!(lookup_gid("wheel:x:10:\n", "wheel"), Some(10));
    }
}
