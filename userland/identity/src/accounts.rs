//! The accounts as files: loading and saving `/etc/passwd`, `/etc/group` and
//! `/etc/shadow`, homes and user records, the machine record, sessions, and
//! the keystore calls that go with creating and deleting users.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libzos::fs;
use libzos::ipc;
use libzos::posix::{self, Errno};
use libzos::{dprintln, sys};
use zos_identity_core::database::{self, Database, DbError, Status, UserCredentials, HOME_LAYOUT};
use zos_identity_core::password;
use zos_identity_core::sessions::Sessions;
use zos_proto::errno::*;
use zos_proto::identity::{IdResponse, SessionInfo};
use zos_proto::keystore::{KeyRequest, KeyResponse};
use zos_proto::proc::{signal, Credentials};

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
const SHADOW: &str = "/etc/shadow";
const MACHINE: &str = "/system/config/machine.json";

pub struct Accounts {
    db: Database,
    sessions: Sessions,
    machine: String,
    /// Modification times of the three files when last read, to notice edits
    /// made with an editor.
    stamps: [u64; 3],
}

fn now_s() -> u64 {
    posix::realtime_ns().unwrap_or(0) / 1_000_000_000
}

fn days_now() -> u64 {
    now_s() / 86_400
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Ok(fd) = fs::open("/dev/urandom", fs::O_RDONLY, 0) {
        let _ = posix::read(fd, &mut bytes);
        let _ = posix::close(fd);
    }
    // Never all zero even if /dev/urandom failed: mix in the clock.
    let clock = sys::clock_ns().to_le_bytes();
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= clock[i % 8];
    }
    bytes
}

fn text(path: &str) -> Option<String> {
    fs::read_file(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn mtime(path: &str) -> u64 {
    fs::stat(path).map_or(0, |s| s.mtime_ns)
}

fn err(errno: i32, message: impl Into<String>) -> IdResponse {
    IdResponse::Err(errno, message.into())
}

fn db_error(e: DbError) -> IdResponse {
    let errno = match e {
        DbError::BadName(_) => EINVAL,
        DbError::Exists => EEXIST,
        DbError::NoSuchUser | DbError::NoSuchGroup => ENOENT,
        DbError::Protected => EPERM,
        DbError::NoFreeId => ENOSPC,
    };
    err(errno, e.to_string())
}

/// Makes directory `path` (through a symlink, to where it points) with
/// `mode`; an existing one gets `mode` too (a mount point of the state
/// volume starts as 0755).
fn ensure_dir(path: &str, mode: u32) -> Result<(), Errno> {
    let path = fs::final_target(path);
    match fs::mkdir(&path, mode) {
        Ok(()) | Err(Errno(EEXIST)) => fs::chmod(&path, mode),
        Err(e) => Err(e),
    }
}

/// Makes every missing directory above the file `path` points to (the
/// account files are links into `/var/lib/identity`).
fn ensure_parents(path: &str) -> Result<(), Errno> {
    let target = fs::final_target(path);
    let mut dir = String::new();
    let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        dir.push('/');
        dir.push_str(part);
        if fs::stat(&dir).is_err() {
            ensure_dir(&dir, 0o755)?;
        }
    }
    Ok(())
}

fn keystore(request: &KeyRequest) -> Option<KeyResponse> {
    let reply = posix::proc_lookup("keystore").ok()?;
    let answer = ipc::call(reply, request, &[]).ok();
    let _ = sys::cap_delete(reply);
    answer.and_then(|a| a.decode::<KeyResponse>())
}

/// Removes `path` and everything under it.
fn remove_tree(path: &str) -> Result<(), Errno> {
    let stat = fs::lstat(path)?;
    if !stat.is_dir() {
        return fs::unlink(path);
    }
    let names: Vec<String> = fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .map(|e| e.name)
        .filter(|n| n != "." && n != "..")
        .collect();
    for name in names {
        remove_tree(&format!("{path}/{name}"))?;
    }
    fs::rmdir(path)
}

impl Accounts {
    /// Reads the account files, creating them (and `/home`, `/root`, the
    /// machine record) on a fresh system.
    pub fn load() -> Result<Accounts, Errno> {
        ensure_dir("/system", 0o755)?;
        ensure_dir("/system/config", 0o755)?;
        ensure_dir("/home", 0o755)?;
        ensure_dir("/root", 0o700)?;
        for file in [PASSWD, GROUP, SHADOW] {
            ensure_parents(file)?;
        }
        let mut accounts = Accounts {
            db: Database::initial(),
            sessions: Sessions::new(),
            machine: String::new(),
            stamps: [0; 3],
        };
        if fs::stat(PASSWD).is_ok() {
            accounts.read_files();
        } else {
            accounts.save()?;
        }
        accounts.machine = accounts.machine_record()?;
        Ok(accounts)
    }

    /// The machine record: made once, its boot count raised on every start.
    fn machine_record(&self) -> Result<String, Errno> {
        let existing = text(MACHINE);
        let uuid = existing
            .as_deref()
            .and_then(|r| database::record_string(r, "uuid"))
            .unwrap_or_else(|| database::uuid_v4(random()));
        let created = existing
            .as_deref()
            .and_then(|r| database::record_number(r, "created"))
            .unwrap_or_else(now_s);
        let boots = existing
            .as_deref()
            .and_then(|r| database::record_number(r, "boot_count"))
            .unwrap_or(0)
            + 1;
        let record = database::machine_record(&uuid, created, boots);
        fs::replace_file(MACHINE, record.as_bytes(), 0o644)?;
        Ok(uuid)
    }

    fn read_files(&mut self) {
        let passwd = text(PASSWD).unwrap_or_default();
        let group = text(GROUP).unwrap_or_default();
        let shadow = text(SHADOW).unwrap_or_default();
        let (db, bad) = Database::parse(&passwd, &group, &shadow);
        for (file, line) in bad {
            dprintln!(
                "identity: {file}: line {} skipped: {}",
                line.line,
                line.reason
            );
        }
        if db.user("root").is_none() {
            dprintln!("identity: {PASSWD} has no root; keeping the built-in root entry");
            let mut fixed = db;
            let initial = Database::initial();
            fixed.users.insert(0, initial.users[0].clone());
            self.db = fixed;
        } else {
            self.db = db;
        }
        self.stamps = [mtime(PASSWD), mtime(GROUP), mtime(SHADOW)];
    }

    /// Reads the files again if someone edited them since.
    pub fn reload(&mut self) {
        if [mtime(PASSWD), mtime(GROUP), mtime(SHADOW)] != self.stamps {
            self.read_files();
        }
    }

    fn save(&mut self) -> Result<(), Errno> {
        let (passwd, group, shadow) = self.db.format();
        fs::replace_file(PASSWD, passwd.as_bytes(), 0o644)?;
        fs::replace_file(GROUP, group.as_bytes(), 0o644)?;
        fs::replace_file(SHADOW, shadow.as_bytes(), 0o600)?;
        self.stamps = [mtime(PASSWD), mtime(GROUP), mtime(SHADOW)];
        Ok(())
    }

    fn saved(&mut self, response: IdResponse) -> IdResponse {
        match self.save() {
            Ok(()) => response,
            Err(e) => err(
                e.0,
                format!("cannot write the account files: {}", e.describe()),
            ),
        }
    }

    pub fn password_matches(&self, name: &str, password: &str) -> bool {
        if self.db.user(name).is_none() {
            // Same work for unknown users, so timing does not tell who exists.
            let _ = password::hash(password, &[0; password::SALT_BYTES]);
            return false;
        }
        match password::verify(self.db.password_hash(name), password) {
            Ok(matches) => matches,
            Err(_) => {
                dprintln!("identity: {SHADOW}: the hash of '{name}' is not a valid PHC string");
                false
            }
        }
    }

    pub fn user_credentials(&self, name: &str) -> Option<UserCredentials> {
        self.db.credentials(name).ok()
    }

    pub fn open_session(&mut self, name: &str, uid: u32, tty: &str, leader: u32) -> u64 {
        let alive = |pid: u32| posix::credentials_of(pid).is_ok();
        self.sessions.prune(alive);
        self.touch_record(name, Status::Active);
        self.sessions
            .open(name, uid, tty, &self.machine, leader, now_s())
    }

    /// Closes session `id`; `hang_up` is given its leader (the login's pid),
    /// whose session's processes are then to be ended.
    pub fn logout(
        &mut self,
        id: u64,
        caller: &Credentials,
        hang_up: impl FnOnce(u32),
    ) -> IdResponse {
        let owner = self
            .sessions
            .list()
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.uid);
        match owner {
            None => err(ENOENT, "no such session"),
            Some(uid) if caller.euid != 0 && caller.uid != uid && caller.euid != uid => {
                err(EPERM, "not your session")
            }
            Some(_) => {
                if let Some(session) = self.sessions.close(id) {
                    hang_up(session.leader);
                    if !self.sessions.list().iter().any(|s| s.user == session.user) {
                        self.touch_record(&session.user, Status::Offline);
                    }
                }
                IdResponse::Ok
            }
        }
    }

    pub fn sessions(&mut self) -> IdResponse {
        let alive = |pid: u32| posix::credentials_of(pid).is_ok();
        self.sessions.prune(alive);
        IdResponse::Sessions(
            self.sessions
                .list()
                .iter()
                .map(|s| SessionInfo {
                    id: s.id,
                    user: s.user.clone(),
                    tty: s.tty.clone(),
                    leader: s.leader,
                    created: s.created,
                    expires: s.expires,
                })
                .collect(),
        )
    }

    pub fn set_password(
        &mut self,
        caller: &Credentials,
        name: &str,
        old: &str,
        new: &str,
    ) -> Result<(), IdResponse> {
        let user = self
            .db
            .user(name)
            .cloned()
            .ok_or_else(|| err(ENOENT, "no such user"))?;
        if caller.euid != 0 {
            if caller.uid != user.uid {
                return Err(err(EPERM, "only root may change another user's password"));
            }
            if !self.password_matches(name, old) {
                return Err(err(EACCES, "authentication failure"));
            }
        }
        if new.is_empty() {
            return Err(err(EINVAL, "the new password is empty"));
        }
        let hash =
            password::hash(new, &random()).map_err(|_| err(EIO, "hashing the password failed"))?;
        self.db
            .set_password(name, hash, days_now())
            .map_err(db_error)?;
        match self.saved(IdResponse::Ok) {
            IdResponse::Ok => Ok(()),
            failure => Err(failure),
        }
    }

    pub fn add_user(&mut self, name: &str) -> IdResponse {
        let entry = match self.db.add_user(name, days_now()) {
            Ok(entry) => entry,
            Err(e) => return db_error(e),
        };
        let response = self.saved(IdResponse::Created { id: entry.uid });
        if !matches!(response, IdResponse::Created { .. }) {
            return response;
        }
        if let Err(e) = self.make_home(&entry.home, entry.uid, entry.gid) {
            return err(
                e.0,
                format!("user added, but its home failed: {}", e.describe()),
            );
        }
        let uuid = database::uuid_v4(random());
        let record = database::user_record(&uuid, &entry, Status::Offline, now_s(), now_s());
        let record_path = format!("{}/.zos/identity/user.json", entry.home);
        let written = fs::replace_file(&record_path, record.as_bytes(), 0o600)
            .and_then(|()| fs::chown(&record_path, Some(entry.uid), Some(entry.gid)));
        if let Err(e) = written {
            return err(
                e.0,
                format!("user added, but its record failed: {}", e.describe()),
            );
        }
        let key = KeyRequest::Generate {
            uid: entry.uid,
            label: "identity",
        };
        match keystore(&key) {
            Some(KeyResponse::Ok) => {}
            other => {
                dprintln!("identity: no identity key for '{name}': keystore answered {other:?}")
            }
        }
        response
    }

    fn make_home(&self, home: &str, uid: u32, gid: u32) -> Result<(), Errno> {
        ensure_dir(home, 0o755)?;
        fs::chown(home, Some(uid), Some(gid))?;
        for (relative, mode) in HOME_LAYOUT {
            let path = format!("{home}/{relative}");
            ensure_dir(&path, mode)?;
            fs::chown(&path, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Updates `status` and `last_activity` in the user's record.
    fn touch_record(&self, name: &str, status: Status) {
        let Some(user) = self.db.user(name) else {
            return;
        };
        let path = format!("{}/.zos/identity/user.json", user.home);
        let Some(old) = text(&path) else {
            return;
        };
        let uuid = database::record_string(&old, "uuid").unwrap_or_default();
        let created = database::record_number(&old, "created").unwrap_or(0);
        let record = database::user_record(&uuid, user, status, created, now_s());
        if fs::replace_file(&path, record.as_bytes(), 0o600).is_ok() {
            let _ = fs::chown(&path, Some(user.uid), Some(user.gid));
        }
    }

    pub fn delete_user(&mut self, name: &str, remove_home: bool) -> IdResponse {
        let entry = match self.db.delete_user(name) {
            Ok(entry) => entry,
            Err(e) => return db_error(e),
        };
        // End the user's sessions and every process running as the user.
        self.sessions.close_user(name);
        if let Ok(processes) = posix::processes() {
            for p in processes.iter().filter(|p| p.uid == entry.uid) {
                let _ = posix::kill(p.pid as i32, signal::SIGKILL);
            }
        }
        let _ = keystore(&KeyRequest::Destroy { uid: entry.uid });
        let response = self.saved(IdResponse::Ok);
        if remove_home && matches!(response, IdResponse::Ok) {
            if let Err(e) = remove_tree(&entry.home) {
                return err(
                    e.0,
                    format!("user removed, but not its home: {}", e.describe()),
                );
            }
        }
        response
    }

    pub fn add_group(&mut self, name: &str) -> IdResponse {
        match self.db.add_group(name) {
            Ok(group) => self.saved(IdResponse::Created { id: group.gid }),
            Err(e) => db_error(e),
        }
    }

    pub fn add_to_group(&mut self, name: &str, group: &str) -> IdResponse {
        match self.db.add_member(name, group) {
            Ok(()) => self.saved(IdResponse::Ok),
            Err(e) => db_error(e),
        }
    }
}
