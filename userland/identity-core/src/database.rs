//! Users and groups together, as the identity service keeps them: the three
//! account files plus the rules for changing them, a user's credentials, the
//! home layout and the user record.
//!
//! Homes are `/home/<name>`: POSIX tools, `~user` and every ported program
//! expect that, and names are unique and validated ([`crate::names`]); the
//! user's UUID lives in the record (`/home/<name>/.zos/identity/user.json`), so
//! nothing needs the UUID in a path.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::files::{self, BadLine, GroupEntry, PasswdEntry, ShadowEntry};
use crate::names::{self, NameError};

/// First uid and gid given to people (below: the system's).
pub const FIRST_USER_ID: u32 = 1000;
/// Highest id handed out.
pub const LAST_ID: u32 = 60_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    BadName(NameError),
    Exists,
    NoSuchUser,
    NoSuchGroup,
    /// root cannot be deleted.
    Protected,
    /// Every id up to [`LAST_ID`] is taken.
    NoFreeId,
}

impl core::fmt::Display for DbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DbError::BadName(e) => write!(f, "{e}"),
            DbError::Exists => write!(f, "the name is already taken"),
            DbError::NoSuchUser => write!(f, "no such user"),
            DbError::NoSuchGroup => write!(f, "no such group"),
            DbError::Protected => write!(f, "root cannot be removed"),
            DbError::NoFreeId => write!(f, "no free id"),
        }
    }
}

/// What a process logged in as a user runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCredentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
    pub shell: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Database {
    pub users: Vec<PasswdEntry>,
    pub groups: Vec<GroupEntry>,
    pub shadow: Vec<ShadowEntry>,
}

/// The directories a new home gets (relative to it) and their modes.
pub const HOME_LAYOUT: [(&str, u32); 12] = [
    ("Documents", 0o755),
    ("Downloads", 0o755),
    ("Desktop", 0o755),
    ("Pictures", 0o755),
    ("Music", 0o755),
    ("Apps", 0o755),
    (".zos", 0o700),
    (".zos/identity", 0o700),
    (".zos/sessions", 0o700),
    (".zos/credentials", 0o700),
    (".zos/tokens", 0o700),
    (".zos/config", 0o700),
];

impl Database {
    /// A fresh system: root (no password until `passwd` sets one) and the
    /// `root`, `wheel` and `users` groups.
    pub fn initial() -> Database {
        Database {
            users: alloc::vec![PasswdEntry {
                name: "root".into(),
                uid: 0,
                gid: 0,
                gecos: "root".into(),
                home: "/root".into(),
                shell: "/bin/sh".into(),
            }],
            groups: alloc::vec![
                GroupEntry {
                    name: "root".into(),
                    gid: 0,
                    members: Vec::new()
                },
                GroupEntry {
                    name: "wheel".into(),
                    gid: 10,
                    members: Vec::new()
                },
                GroupEntry {
                    name: "users".into(),
                    gid: 100,
                    members: Vec::new()
                },
            ],
            shadow: alloc::vec![ShadowEntry {
                name: "root".into(),
                hash: String::new(),
                last_change: 0,
            }],
        }
    }

    /// Reads the three files; malformed lines are skipped and returned
    /// (file name, line) for the caller to warn about.
    pub fn parse(
        passwd: &str,
        group: &str,
        shadow: &str,
    ) -> (Database, Vec<(&'static str, BadLine)>) {
        let (users, bad_users) = files::parse_passwd(passwd);
        let (groups, bad_groups) = files::parse_group(group);
        let (shadow, bad_shadow) = files::parse_shadow(shadow);
        let mut bad = Vec::new();
        bad.extend(bad_users.into_iter().map(|b| ("/etc/passwd", b)));
        bad.extend(bad_groups.into_iter().map(|b| ("/etc/group", b)));
        bad.extend(bad_shadow.into_iter().map(|b| ("/etc/shadow", b)));
        (
            Database {
                users,
                groups,
                shadow,
            },
            bad,
        )
    }

    /// The three files' text: (passwd, group, shadow).
    pub fn format(&self) -> (String, String, String) {
        (
            files::format_passwd(&self.users),
            files::format_group(&self.groups),
            files::format_shadow(&self.shadow),
        )
    }

    pub fn user(&self, name: &str) -> Option<&PasswdEntry> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn user_by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.users.iter().find(|u| u.uid == uid)
    }

    /// The shadow field of `name` (locked `!` if the user has no shadow line).
    pub fn password_hash(&self, name: &str) -> &str {
        self.shadow
            .iter()
            .find(|s| s.name == name)
            .map_or("!", |s| s.hash.as_str())
    }

    fn free_id(&self, taken: impl Fn(u32) -> bool) -> Result<u32, DbError> {
        (FIRST_USER_ID..=LAST_ID)
            .find(|id| !taken(*id))
            .ok_or(DbError::NoFreeId)
    }

    /// Adds a user with a group of the same name (uid = gid where free),
    /// home `/home/<name>` and a locked password (`!`) until one is set.
    pub fn add_user(&mut self, name: &str, days_now: u64) -> Result<PasswdEntry, DbError> {
        names::check(name).map_err(DbError::BadName)?;
        if self.user(name).is_some() || self.groups.iter().any(|g| g.name == name) {
            return Err(DbError::Exists);
        }
        let uid = self.free_id(|id| {
            self.users.iter().any(|u| u.uid == id) || self.groups.iter().any(|g| g.gid == id)
        })?;
        let entry = PasswdEntry {
            name: name.to_string(),
            uid,
            gid: uid,
            gecos: name.to_string(),
            home: format!("/home/{name}"),
            shell: "/bin/sh".into(),
        };
        self.users.push(entry.clone());
        self.groups.push(GroupEntry {
            name: name.to_string(),
            gid: uid,
            members: Vec::new(),
        });
        self.shadow.push(ShadowEntry {
            name: name.to_string(),
            hash: "!".into(),
            last_change: days_now,
        });
        Ok(entry)
    }

    /// Removes a user, its own group and its group memberships.
    pub fn delete_user(&mut self, name: &str) -> Result<PasswdEntry, DbError> {
        let entry = self.user(name).cloned().ok_or(DbError::NoSuchUser)?;
        if entry.uid == 0 {
            return Err(DbError::Protected);
        }
        self.users.retain(|u| u.name != name);
        self.shadow.retain(|s| s.name != name);
        self.groups
            .retain(|g| !(g.name == name && g.gid == entry.gid && g.members.is_empty()));
        for group in &mut self.groups {
            group.members.retain(|m| m != name);
        }
        Ok(entry)
    }

    pub fn add_group(&mut self, name: &str) -> Result<GroupEntry, DbError> {
        names::check(name).map_err(DbError::BadName)?;
        if self.groups.iter().any(|g| g.name == name) {
            return Err(DbError::Exists);
        }
        let gid = self.free_id(|id| self.groups.iter().any(|g| g.gid == id))?;
        let entry = GroupEntry {
            name: name.to_string(),
            gid,
            members: Vec::new(),
        };
        self.groups.push(entry.clone());
        Ok(entry)
    }

    /// `usermod -aG group user`.
    pub fn add_member(&mut self, user: &str, group: &str) -> Result<(), DbError> {
        if self.user(user).is_none() {
            return Err(DbError::NoSuchUser);
        }
        let group = self
            .groups
            .iter_mut()
            .find(|g| g.name == group)
            .ok_or(DbError::NoSuchGroup)?;
        if !group.members.iter().any(|m| m == user) {
            group.members.push(user.to_string());
        }
        Ok(())
    }

    pub fn set_password(&mut self, name: &str, hash: String, days_now: u64) -> Result<(), DbError> {
        if self.user(name).is_none() {
            return Err(DbError::NoSuchUser);
        }
        match self.shadow.iter_mut().find(|s| s.name == name) {
            Some(entry) => {
                entry.hash = hash;
                entry.last_change = days_now;
            }
            None => self.shadow.push(ShadowEntry {
                name: name.to_string(),
                hash,
                last_change: days_now,
            }),
        }
        Ok(())
    }

    /// What `name` runs with: its uid, primary gid, and every group that lists
    /// it as a member (plus the primary one).
    pub fn credentials(&self, name: &str) -> Result<UserCredentials, DbError> {
        let user = self.user(name).ok_or(DbError::NoSuchUser)?;
        let mut groups: Vec<u32> = alloc::vec![user.gid];
        for group in &self.groups {
            if group.members.iter().any(|m| m == name) && !groups.contains(&group.gid) {
                groups.push(group.gid);
            }
        }
        Ok(UserCredentials {
            uid: user.uid,
            gid: user.gid,
            groups,
            home: user.home.clone(),
            shell: user.shell.clone(),
        })
    }
}

/// The status a user record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Offline,
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Offline => "offline",
            Status::Suspended => "suspended",
        }
    }
}

/// A UUID (version 4, random) from 16 random bytes, in its text form.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The user record (`.zos/identity/user.json`): UUID, names, status, times
/// (seconds since the epoch) and preferences.
pub fn user_record(
    uuid: &str,
    user: &PasswdEntry,
    status: Status,
    created: u64,
    last_activity: u64,
) -> String {
    format!(
        "{{\n  \"uuid\": {},\n  \"name\": {},\n  \"display_name\": {},\n  \"uid\": {},\n  \
         \"status\": \"{}\",\n  \"created\": {},\n  \"last_activity\": {},\n  \
         \"preferences\": {{}}\n}}\n",
        json_string(uuid),
        json_string(&user.name),
        json_string(&user.gecos),
        user.uid,
        status.as_str(),
        created,
        last_activity
    )
}

/// The machine record (`/system/config/machine.json`).
pub fn machine_record(uuid: &str, created: u64, boot_count: u64) -> String {
    format!(
        "{{\n  \"uuid\": {},\n  \"created\": {},\n  \"boot_count\": {}\n}}\n",
        json_string(uuid),
        created,
        boot_count
    )
}

/// A number field of a record written by [`machine_record`] or
/// [`user_record`] (a tiny reader for our own files).
pub fn record_number(record: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\":");
    let at = record.find(&pattern)? + pattern.len();
    let rest = record[at..].trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A string field of one of our records.
pub fn record_string(record: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":");
    let at = record.find(&pattern)? + pattern.len();
    let rest = record[at..].trim_start().strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_users_groups_and_members() {
        let mut db = Database::initial();
        let alice = db.add_user("alice", 19_000).expect("add");
        assert_eq!((alice.uid, alice.gid), (1000, 1000));
        assert_eq!(alice.home, "/home/alice");
        let bob = db.add_user("bob", 19_000).expect("add");
        assert_eq!(bob.uid, 1001);
        assert_eq!(db.add_user("alice", 0), Err(DbError::Exists));
        assert_eq!(
            db.add_user("a:b", 0),
            Err(DbError::BadName(NameError::BadCharacter(':')))
        );
        let staff = db.add_group("staff").expect("group");
        assert_eq!(staff.gid, 1002);
        db.add_member("alice", "staff").expect("member");
        db.add_member("alice", "wheel").expect("member");
        assert_eq!(db.add_member("carol", "staff"), Err(DbError::NoSuchUser));
        assert_eq!(db.add_member("alice", "nope"), Err(DbError::NoSuchGroup));
        let creds = db.credentials("alice").expect("creds");
        assert_eq!(creds.groups, [1000, 10, 1002]);
        assert_eq!(db.password_hash("alice"), "!");
    }

    #[test]
    fn delete_user_and_protect_root() {
        let mut db = Database::initial();
        db.add_user("alice", 0).expect("add");
        db.add_member("alice", "wheel").expect("member");
        db.delete_user("alice").expect("delete");
        assert!(db.user("alice").is_none());
        assert!(db.groups.iter().all(|g| g.name != "alice"));
        assert!(db
            .groups
            .iter()
            .all(|g| !g.members.contains(&"alice".into())));
        assert_eq!(db.delete_user("root"), Err(DbError::Protected));
        assert_eq!(db.delete_user("ghost"), Err(DbError::NoSuchUser));
    }

    #[test]
    fn files_round_trip_and_bad_lines_reported() {
        let mut db = Database::initial();
        db.add_user("alice", 5).expect("add");
        db.set_password("alice", "$argon2id$x".into(), 6)
            .expect("set");
        let (passwd, group, shadow) = db.format();
        let (again, bad) = Database::parse(&passwd, &group, &shadow);
        assert!(bad.is_empty());
        assert_eq!(again, db);
        let (_, bad) = Database::parse("root:x:0:0::/root:/bin/sh\njunk\n", "g:x:zz:\n", "");
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].0, "/etc/passwd");
        assert_eq!(bad[0].1.line, 2);
    }

    #[test]
    fn records_and_uuids() {
        let uuid = uuid_v4([0xAB; 16]);
        assert_eq!(uuid, "abababab-abab-4bab-abab-abababababab");
        let alice = Database::initial().users[0].clone();
        let record = user_record(&uuid, &alice, Status::Active, 10, 20);
        assert_eq!(
            record_string(&record, "uuid").as_deref(),
            Some(uuid.as_str())
        );
        assert_eq!(record_string(&record, "status").as_deref(), Some("active"));
        assert_eq!(record_number(&record, "last_activity"), Some(20));
        let machine = machine_record(&uuid, 5, 3);
        assert_eq!(record_number(&machine, "boot_count"), Some(3));
        assert_eq!(record_number(&machine, "nope"), None);
    }
}
