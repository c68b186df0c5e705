//! Users and permissions: `id`, `whoami`, `who`, `chown`, `chgrp`, `login`,
//! `getty`, `su`, `passwd`, `useradd`, `userdel`, `groupadd`, `usermod`. Names come from `/etc/passwd` and `/etc/group` (parsed by
//! `zos-identity-core`); everything that changes who a process is goes through
//! the identity service, which alone can ask init for new credentials.

use crate::io::write_out;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libzos::fs;
use libzos::ipc;
use libzos::posix::{self, Errno};
use libzos::{eprintln, print, sys};
use zos_identity_core::files;
use zos_proto::errno::*;
use zos_proto::identity::{IdRequest, IdResponse};
use zos_tools_core::Failure;

/// Tries `login` allows before it gives up.
const LOGIN_TRIES: u32 = 3;

/// User and group names, read once.
pub struct Names {
    passwd: String,
    group: String,
}

fn read_text(path: &str) -> String {
    fs::read_file(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl Names {
    pub fn load() -> Names {
        Names {
            passwd: read_text("/etc/passwd"),
            group: read_text("/etc/group"),
        }
    }

    pub fn user(&self, uid: u32) -> String {
        files::user_name(&self.passwd, uid)
    }

    pub fn group(&self, gid: u32) -> String {
        files::group_name(&self.group, gid)
    }

    pub fn uid(&self, name: &str) -> Option<u32> {
        files::lookup_uid(&self.passwd, name)
    }

    fn gid(&self, name: &str) -> Option<u32> {
        files::lookup_gid(&self.group, name)
    }

    fn entry(&self, name: &str) -> Option<files::PasswdEntry> {
        files::parse_passwd(&self.passwd)
            .0
            .into_iter()
            .find(|e| e.name == name)
    }

    /// Groups listing `name` as a member, plus `gid`.
    fn groups_of(&self, name: &str, gid: u32) -> Vec<u32> {
        let mut groups = alloc::vec![gid];
        for g in files::parse_group(&self.group).0 {
            if g.members.iter().any(|m| m == name) && !groups.contains(&g.gid) {
                groups.push(g.gid);
            }
        }
        groups
    }
}

pub(crate) fn failed(what: &str, e: Errno) -> Failure {
    Failure::Error(format!("{what}: {}", e.describe()))
}

// ---- id, whoami, who ---------------------------------------------------------------

pub fn id(args: &[&str]) -> Result<(), Failure> {
    let names = Names::load();
    let mut flags = String::new();
    let mut user = None;
    for arg in args {
        match arg.strip_prefix('-') {
            Some(letters) if !letters.is_empty() => flags.push_str(letters),
            _ if user.is_none() => user = Some(*arg),
            _ => return Err(Failure::Usage("one user at most".into())),
        }
    }
    if flags.chars().any(|c| !"ugGn".contains(c)) {
        return Err(Failure::Usage(format!("unknown option in '-{flags}'")));
    }
    let (uid, gid, groups) = match user {
        Some(name) => {
            let entry = names
                .entry(name)
                .ok_or_else(|| Failure::Error(format!("'{name}': no such user")))?;
            let groups = names.groups_of(name, entry.gid);
            (entry.uid, entry.gid, groups)
        }
        None => {
            let c = posix::credentials().map_err(|e| failed("credentials", e))?;
            let mut groups = alloc::vec![c.egid];
            groups.extend(c.groups.iter().filter(|g| **g != c.egid));
            (c.euid, c.egid, groups)
        }
    };
    let by_name = flags.contains('n');
    let text = if flags.contains('u') {
        if by_name {
            names.user(uid)
        } else {
            uid.to_string()
        }
    } else if flags.contains('g') {
        if by_name {
            names.group(gid)
        } else {
            gid.to_string()
        }
    } else if flags.contains('G') {
        let list: Vec<String> = groups
            .iter()
            .map(|g| {
                if by_name {
                    names.group(*g)
                } else {
                    g.to_string()
                }
            })
            .collect();
        list.join(" ")
    } else {
        let list: Vec<String> = groups
            .iter()
            .map(|g| format!("{g}({})", names.group(*g)))
            .collect();
        format!(
            "uid={uid}({}) gid={gid}({}) groups={}",
            names.user(uid),
            names.group(gid),
            list.join(",")
        )
    };
    write_out(format!("{text}\n").as_bytes())
}

pub fn whoami(args: &[&str]) -> Result<(), Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage("no operands".into()));
    }
    let uid = posix::geteuid();
    write_out(format!("{}\n", Names::load().user(uid)).as_bytes())
}

fn identity(request: &IdRequest) -> Result<IdResponse, Failure> {
    let service = posix::proc_lookup("identity")
        .map_err(|e| failed("the identity service is not running", e))?;
    let reply = ipc::call(service, request, &[]);
    let _ = sys::cap_delete(service);
    let reply = reply.map_err(|_| Failure::Error("the identity service did not answer".into()))?;
    reply
        .decode::<IdResponse>()
        .ok_or_else(|| Failure::Error("malformed answer from the identity service".into()))
}

/// `Ok` or the service's error as a failure.
fn identity_ok(request: &IdRequest) -> Result<IdResponse, Failure> {
    match identity(request)? {
        IdResponse::Err(errno, message) if message.is_empty() => {
            Err(failed("refused", Errno(errno)))
        }
        IdResponse::Err(_, message) => Err(Failure::Error(message)),
        other => Ok(other),
    }
}

pub fn who(args: &[&str]) -> Result<(), Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage("no operands".into()));
    }
    let IdResponse::Sessions(sessions) = identity_ok(&IdRequest::Sessions)? else {
        return Err(Failure::Error("unexpected answer".into()));
    };
    let mut text = String::new();
    for s in sessions {
        let when = zos_tools_core::script_tools::date(s.created, Some("%F %H:%M"));
        text.push_str(&format!(
            "{:<10} {:<8} {}  (session {}, pid {})\n",
            s.user, s.tty, when, s.id, s.leader
        ));
    }
    write_out(text.as_bytes())
}

// ---- chown, chgrp ------------------------------------------------------------------

fn change_owner(
    tool: &str,
    uid: Option<u32>,
    gid: Option<u32>,
    paths: &[&str],
) -> Result<(), Failure> {
    if paths.is_empty() {
        return Err(Failure::Usage("missing file operand".into()));
    }
    let mut ok = true;
    for path in paths {
        if let Err(e) = fs::chown(path, uid, gid) {
            eprintln!("{tool}: {path}: {}", e.describe());
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Failure::Exit(1))
    }
}

pub fn chown(args: &[&str]) -> Result<(), Failure> {
    let Some((spec, paths)) = args.split_first() else {
        return Err(Failure::Usage("missing operand".into()));
    };
    let names = Names::load();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (*spec, None),
    };
    let uid = match user {
        "" => None,
        name => Some(
            names
                .uid(name)
                .ok_or_else(|| Failure::Error(format!("invalid user: '{name}'")))?,
        ),
    };
    let gid = match group {
        None | Some("") => None,
        Some(name) => Some(
            names
                .gid(name)
                .ok_or_else(|| Failure::Error(format!("invalid group: '{name}'")))?,
        ),
    };
    change_owner("chown", uid, gid, paths)
}

pub fn chgrp(args: &[&str]) -> Result<(), Failure> {
    let Some((group, paths)) = args.split_first() else {
        return Err(Failure::Usage("missing operand".into()));
    };
    let gid = Names::load()
        .gid(group)
        .ok_or_else(|| Failure::Error(format!("invalid group: '{group}'")))?;
    change_owner("chgrp", None, Some(gid), paths)
}

// ---- reading from the terminal -----------------------------------------------------

/// One line from standard input without its newline; `None` at end of input.
fn read_line() -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match posix::read(0, &mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) if byte[0] == b'\r' => {}
            Ok(1) => line.push(byte[0]),
            _ if line.is_empty() => return None,
            _ => break,
        }
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

/// Prompts and reads a line with echo off (a password); echo comes back after.
/// Echo goes off before the prompt appears, so nothing typed ahead is shown.
fn read_secret(prompt: &str) -> Option<String> {
    let saved = posix::tcgetattr(0).ok();
    if let Some(mut quiet) = saved {
        quiet.echo = false;
        let _ = posix::tcsetattr(0, quiet);
    }
    print!("{prompt}");
    let line = read_line();
    if let Some(saved) = saved {
        let _ = posix::tcsetattr(0, saved);
    }
    print!("\n");
    line
}

// ---- login, getty, su --------------------------------------------------------------

/// Runs `shell` (with `-c command` if given) in `home` as the process now is,
/// waits for it and answers its exit status.
fn run_shell(name: &str, home: &str, shell: &str, command: Option<&str>, login: bool) -> i32 {
    // Our VFS capability still carries the old credentials; drop it so later
    // requests (and the chdir below) go with the new ones.
    fs::reconnect();
    posix::setenv("USER", name);
    posix::setenv("LOGNAME", name);
    if login {
        posix::setenv("HOME", home);
        posix::setenv("SHELL", shell);
        if posix::chdir(home).is_err() {
            eprintln!("warning: cannot enter {home}; starting in /");
            let _ = posix::chdir("/");
        }
    }
    let env = posix::environment();
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let mut argv = alloc::vec![shell];
    if let Some(command) = command {
        argv.push("-c");
        argv.push(command);
    }
    match posix::spawn(shell, &argv, &env, &[], 0) {
        Ok(pid) => match posix::waitpid(pid as i32, false) {
            Ok(Some((_, status))) => posix::status_code(status),
            _ => 1,
        },
        Err(e) => {
            eprintln!("{shell}: {}", e.describe());
            127
        }
    }
}

fn login_once(name: &str) -> Result<i32, Failure> {
    let Some(password) = read_secret("Password: ") else {
        return Err(Failure::Exit(1));
    };
    let request = IdRequest::Login {
        name,
        password: &password,
        tty: "console",
    };
    match identity(&request)? {
        IdResponse::LoggedIn {
            session,
            home,
            shell,
            ..
        } => {
            let status = run_shell(name, &home, &shell, None, true);
            let _ = identity(&IdRequest::Logout { session });
            Ok(status)
        }
        IdResponse::Err(EACCES, _) => Err(Failure::Error("Login incorrect".into())),
        IdResponse::Err(_, message) => Err(Failure::Error(message)),
        _ => Err(Failure::Error("unexpected answer".into())),
    }
}

pub fn login(args: &[&str]) -> Result<(), Failure> {
    let mut given = args.first().map(|s| s.to_string());
    for _ in 0..LOGIN_TRIES {
        let name = match given.take() {
            Some(name) => name,
            None => {
                print!("zos login: ");
                match read_line() {
                    Some(line) if !line.trim().is_empty() => line.trim().to_string(),
                    Some(_) => continue,
                    None => return Err(Failure::Exit(1)),
                }
            }
        };
        match login_once(&name) {
            Ok(status) => {
                return if status == 0 {
                    Ok(())
                } else {
                    Err(Failure::Exit(status))
                }
            }
            Err(Failure::Error(message)) => eprintln!("{message}\n"),
            Err(other) => return Err(other),
        }
    }
    Err(Failure::Exit(1))
}

/// The console's login prompt (the `getty` service with the `login` boot
/// argument): a banner, then `login`. init starts it again when it ends.
pub fn getty(_args: &[&str]) -> Result<(), Failure> {
    print!("\nZero OS (console)\n\n");
    login(&[])
}

pub fn su(args: &[&str]) -> Result<(), Failure> {
    let mut login_shell = false;
    let mut command = None;
    let mut user = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "-" | "-l" | "--login" => login_shell = true,
            "-c" => {
                command = Some(
                    *rest
                        .next()
                        .ok_or_else(|| Failure::Usage("-c needs a command".into()))?,
                )
            }
            name if user.is_none() && !name.starts_with('-') => user = Some(name),
            other => return Err(Failure::Usage(format!("unexpected '{other}'"))),
        }
    }
    let name = user.unwrap_or("root");
    let password = if posix::geteuid() == 0 {
        String::new()
    } else {
        read_secret("Password: ").ok_or(Failure::Exit(1))?
    };
    let request = IdRequest::SwitchUser {
        name,
        password: &password,
    };
    match identity(&request)? {
        IdResponse::LoggedIn { home, shell, .. } => {
            let status = run_shell(name, &home, &shell, command, login_shell);
            if status == 0 {
                Ok(())
            } else {
                Err(Failure::Exit(status))
            }
        }
        IdResponse::Err(EACCES, _) => Err(Failure::Error("Authentication failure".into())),
        IdResponse::Err(_, message) => Err(Failure::Error(message)),
        _ => Err(Failure::Error("unexpected answer".into())),
    }
}

// ---- passwd and account changes ----------------------------------------------------

pub fn passwd(args: &[&str]) -> Result<(), Failure> {
    let names = Names::load();
    let me = names.user(posix::getuid());
    let name = match args {
        [] => me.clone(),
        [name] => name.to_string(),
        _ => return Err(Failure::Usage("one user at most".into())),
    };
    let old = if posix::geteuid() == 0 {
        String::new()
    } else {
        read_secret("Current password: ").ok_or(Failure::Exit(1))?
    };
    let new = read_secret("New password: ").ok_or(Failure::Exit(1))?;
    let again = read_secret("Retype new password: ").ok_or(Failure::Exit(1))?;
    if new != again {
        return Err(Failure::Error(
            "the passwords do not match; unchanged".into(),
        ));
    }
    let request = IdRequest::SetPassword {
        name: &name,
        old: &old,
        new: &new,
    };
    identity_ok(&request)?;
    write_out(format!("passwd: password updated for {name}\n").as_bytes())
}

pub fn useradd(args: &[&str]) -> Result<(), Failure> {
    let [name] = args else {
        return Err(Failure::Usage("expected one NAME".into()));
    };
    identity_ok(&IdRequest::AddUser { name }).map(|_| ())
}

pub fn userdel(args: &[&str]) -> Result<(), Failure> {
    let (remove_home, name) = match args {
        ["-r", name] => (true, *name),
        [name] => (false, *name),
        _ => return Err(Failure::Usage("expected [-r] NAME".into())),
    };
    identity_ok(&IdRequest::DeleteUser { name, remove_home }).map(|_| ())
}

pub fn groupadd(args: &[&str]) -> Result<(), Failure> {
    let [name] = args else {
        return Err(Failure::Usage("expected one NAME".into()));
    };
    identity_ok(&IdRequest::AddGroup { name }).map(|_| ())
}

pub fn usermod(args: &[&str]) -> Result<(), Failure> {
    let (groups, name) = match args {
        ["-aG", groups, name] | ["-a", "-G", groups, name] => (*groups, *name),
        _ => return Err(Failure::Usage("expected -aG GROUP[,GROUP...] NAME".into())),
    };
    for group in groups.split(',').filter(|g| !g.is_empty()) {
        identity_ok(&IdRequest::AddToGroup { name, group })?;
    }
    Ok(())
}
