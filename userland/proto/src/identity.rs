//! The identity service's protocol (`/sbin/identity`, registry name
//! "identity"). The service learns who calls from the client badge
//! (`crate::badge`), never from these fields: `name` always names the user a
//! request is about, not the caller.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdRequest<'a> {
    /// Checks `password` and, if right, gives the calling process `name`'s
    /// credentials and opens a session on `tty`. A wrong password is answered
    /// `EACCES` after a delay (the caller waits; nobody else does).
    Login {
        name: &'a str,
        password: &'a str,
        tty: &'a str,
    },
    /// Like `Login` without a session (`su`); root callers need no password.
    SwitchUser { name: &'a str, password: &'a str },
    /// Ends a session (its leader's processes are ended by the caller, `login`).
    Logout { session: u64 },
    /// Sets `name`'s password. Root: any user, no old password. Others: only
    /// themselves, with the current password.
    SetPassword {
        name: &'a str,
        old: &'a str,
        new: &'a str,
    },
    /// Root only: a user, its group, home, record and identity key.
    AddUser { name: &'a str },
    /// Root only: removes the user, ends its sessions and processes; its home
    /// stays unless `remove_home`.
    DeleteUser { name: &'a str, remove_home: bool },
    /// Root only.
    AddGroup { name: &'a str },
    /// Root only: `usermod -aG group user`.
    AddToGroup { name: &'a str, group: &'a str },
    /// Every open session.
    Sessions,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: u64,
    pub user: String,
    pub tty: String,
    pub leader: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub expires: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdResponse {
    Ok,
    /// After `Login`/`SwitchUser`: what to start the user's shell with.
    LoggedIn {
        session: u64,
        uid: u32,
        gid: u32,
        home: String,
        shell: String,
    },
    /// After `AddUser`/`AddGroup`: the new id.
    Created {
        id: u32,
    },
    Sessions(Vec<SessionInfo>),
    /// An errno, and a message for the user when there is more to say.
    Err(i32, String),
}
