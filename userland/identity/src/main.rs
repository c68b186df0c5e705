//! The identity service: users, groups, passwords and sessions.
//!
//! It keeps the accounts in `/etc/passwd`, `/etc/group` and `/etc/shadow`
//! (0600) through the VFS, creating them on first start, and the machine record
//! in `/system/config/machine.json` (its boot count goes up on every start).
//! Clients reach it through a client-badged capability (`zos_proto::badge`), so
//! it knows each caller's pid and credentials without trusting the request.
//! It holds the credential authority capability ("credentials" grant): after a
//! right password (`Login`, `SwitchUser`) it tells init to give the calling
//! process the user's credentials; nothing else can. Wrong passwords are
//! answered after [`FAILURE_DELAY_NS`] through a deferred reply, so the one who
//! guessed waits and every other client is served meanwhile; until then
//! further guesses by the same caller uid at the same user are refused without
//! hashing, so a flood of wrong passwords costs one argon2id run per delay and
//! does not slow anyone else's login. The logic
//! (formats, names, argon2id, the account rules) is `zos-identity-core`.
#![no_std]
#![no_main]

extern crate alloc;

mod accounts;

use accounts::Accounts;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use libzos::abi::rights;
use libzos::ipc::{self, Received, Server};
use libzos::{dprintln, sys};
use zos_proto::badge;
use zos_proto::errno::*;
use zos_proto::identity::{IdRequest, IdResponse};
use zos_proto::proc::{Credentials, ProcRequest, ProcResponse};
use zos_proto::start::slots;

libzos::entry!(main);

/// How long a wrong password keeps its caller waiting.
const FAILURE_DELAY_NS: u64 = 2_000_000_000;
/// Badge of the timer thread's capability.
const TICK_BADGE: u64 = 0x7469_636B;
/// When the timer thread should next call (0: nothing delayed). The thread
/// sleeps only while replies are held back, and otherwise waits on a
/// notification, so an idle service costs nothing.
static TICK_DEADLINE: AtomicU64 = AtomicU64::new(0);

fn main(_arg: u64) -> i64 {
    let (Some(endpoint), Some(authority)) = (
        libzos::rt::granted("endpoint"),
        libzos::rt::granted("credentials"),
    ) else {
        dprintln!("identity: needs the \"endpoint\" and \"credentials\" grants");
        return 1;
    };
    let accounts = match Accounts::load() {
        Ok(accounts) => accounts,
        Err(e) => {
            dprintln!(
                "identity: cannot set up the account files: {}",
                e.describe()
            );
            return 1;
        }
    };
    let (Ok(tick), Ok(wake)) = (
        sys::cap_mint(endpoint, sys::NONE, rights::WRITE, TICK_BADGE),
        sys::notification_create(),
    ) else {
        dprintln!("identity: no timer capability");
        return 1;
    };
    if libzos::thread::spawn(ticker, tick | (wake << 32), 100).is_err() {
        dprintln!("identity: no timer thread");
        return 1;
    }
    let _ = ipc::call(slots::PROC, &ProcRequest::Ready, &[]);
    let mut service = Service {
        accounts,
        authority,
        credentials: BTreeMap::new(),
        wake,
        delayed: Vec::new(),
        throttled: BTreeMap::new(),
    };
    service.serve(endpoint)
}

/// Calls the service when [`TICK_DEADLINE`] passes. `arg`: wake-up
/// notification << 32 | the tick capability.
fn ticker(arg: u64) {
    let wake = arg >> 32;
    let tick = arg & 0xFFFF_FFFF;
    loop {
        let deadline = TICK_DEADLINE.load(Ordering::Acquire);
        if deadline == 0 {
            let _ = sys::wait(wake);
            continue;
        }
        if sys::clock_ns() < deadline {
            sys::sleep_until(deadline);
            continue;
        }
        TICK_DEADLINE.store(0, Ordering::Release);
        let _ = ipc::call(tick, &(), &[]);
    }
}

/// A caller as its badge names it.
struct Caller {
    pid: u32,
    credentials: Credentials,
}

impl Caller {
    fn is_root(&self) -> bool {
        self.credentials.euid == 0
    }
}

struct Service {
    accounts: Accounts,
    authority: u64,
    /// Credential sets by badge number (numbers never change meaning).
    credentials: BTreeMap<u16, Credentials>,
    /// Wakes the timer thread.
    wake: u64,
    /// Replies held back after a wrong password: (due, reply capability, bytes).
    delayed: Vec<(u64, u64, Vec<u8>)>,
    /// (caller uid, target user) → when its next guess is heard again.
    throttled: BTreeMap<(u32, String), u64>,
}

enum Answer {
    Now(IdResponse),
    /// Sent when the failure delay has passed.
    Later(IdResponse),
    Nothing,
}

fn encode(response: &IdResponse) -> Vec<u8> {
    ipc::encode_vec(response).unwrap_or_default()
}

fn fail(errno: i32, message: &str) -> IdResponse {
    IdResponse::Err(errno, String::from(message))
}

impl Service {
    fn serve(&mut self, endpoint: u64) -> ! {
        let server = Server::new(endpoint);
        let mut next = server.recv();
        loop {
            let answer = match &next {
                Ok(message) => self.handle(message),
                Err(_) => Answer::Nothing,
            };
            next = match answer {
                Answer::Now(response) => server.reply_recv_raw(&encode(&response), &[]),
                Answer::Later(response) => {
                    if let Ok(reply) = server.defer() {
                        let due = sys::clock_ns() + FAILURE_DELAY_NS;
                        self.delayed.push((due, reply, encode(&response)));
                        self.arm_timer();
                    }
                    server.recv()
                }
                Answer::Nothing => server.reply_recv_raw(&[], &[]),
            };
        }
    }

    /// Whether a guess by `caller` at `name`'s password is heard now.
    fn may_guess(&mut self, caller: &Caller, name: &str) -> bool {
        let now = sys::clock_ns();
        self.throttled.retain(|_, until| *until > now);
        !self
            .throttled
            .contains_key(&(caller.credentials.uid, String::from(name)))
    }

    /// Records the refusal window after a wrong guess.
    fn failed_guess(&mut self, caller: &Caller, name: &str) {
        let until = sys::clock_ns() + FAILURE_DELAY_NS;
        self.throttled
            .insert((caller.credentials.uid, String::from(name)), until);
    }

    fn release_delayed(&mut self) {
        let now = sys::clock_ns();
        let (due, waiting): (Vec<_>, Vec<_>) = core::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|d| d.0 <= now);
        self.delayed = waiting;
        for (_, reply, bytes) in due {
            let _ = ipc::reply_later_raw(reply, &bytes, &[]);
        }
        self.arm_timer();
    }

    /// Sets the timer thread's deadline to the earliest held-back reply.
    fn arm_timer(&self) {
        if let Some(first) = self.delayed.iter().map(|d| d.0).min() {
            TICK_DEADLINE.store(first, Ordering::Release);
            let _ = sys::signal(self.wake);
        }
    }

    fn caller(&mut self, message: &Received) -> Option<Caller> {
        let (number, pid) = badge::parse(message.badge)?;
        let credentials = match self.credentials.get(&number) {
            Some(known) => known.clone(),
            None => {
                let request = ProcRequest::CredentialSet { id: number };
                let reply = ipc::call(slots::PROC, &request, &[]).ok()?;
                let Some(ProcResponse::Credentials(set)) = reply.decode::<ProcResponse>() else {
                    return None;
                };
                self.credentials.insert(number, set.clone());
                set
            }
        };
        Some(Caller { pid, credentials })
    }

    fn handle(&mut self, message: &Received) -> Answer {
        for cap in &message.caps {
            let _ = sys::cap_delete(*cap);
        }
        if message.badge == TICK_BADGE {
            self.release_delayed();
            return Answer::Nothing;
        }
        let Some(caller) = self.caller(message) else {
            return Answer::Now(fail(EPERM, "unknown caller"));
        };
        let Some(request) = message.decode::<IdRequest>() else {
            return Answer::Now(fail(EINVAL, "malformed request"));
        };
        self.accounts.reload();
        match request {
            IdRequest::Login {
                name,
                password,
                tty,
            } => self.switch(&caller, name, password, Some(tty)),
            IdRequest::SwitchUser { name, password } => self.switch(&caller, name, password, None),
            IdRequest::Logout { session } => {
                let authority = self.authority;
                // Background jobs end with the session (init signals them,
                // as only it knows the session's members).
                let hang_up = |leader: u32| {
                    let request = ProcRequest::EndSession { leader };
                    if ipc::call(authority, &request, &[]).is_err() {
                        dprintln!("identity: init did not end session {leader}'s processes");
                    }
                };
                Answer::Now(self.accounts.logout(session, &caller.credentials, hang_up))
            }
            IdRequest::SetPassword { name, old, new } => {
                if !caller.is_root() && !self.may_guess(&caller, name) {
                    return Answer::Later(fail(EACCES, "authentication failure"));
                }
                match self
                    .accounts
                    .set_password(&caller.credentials, name, old, new)
                {
                    Ok(()) => Answer::Now(IdResponse::Ok),
                    Err(response @ IdResponse::Err(EACCES, _)) => {
                        self.failed_guess(&caller, name);
                        Answer::Later(response)
                    }
                    Err(response) => Answer::Now(response),
                }
            }
            IdRequest::Sessions => Answer::Now(self.accounts.sessions()),
            admin if !caller.is_root() => {
                let _ = admin;
                Answer::Now(fail(EPERM, "only root may change accounts"))
            }
            IdRequest::AddUser { name } => Answer::Now(self.accounts.add_user(name)),
            IdRequest::DeleteUser { name, remove_home } => {
                Answer::Now(self.accounts.delete_user(name, remove_home))
            }
            IdRequest::AddGroup { name } => Answer::Now(self.accounts.add_group(name)),
            IdRequest::AddToGroup { name, group } => {
                Answer::Now(self.accounts.add_to_group(name, group))
            }
        }
    }

    /// `Login` (with a session) and `SwitchUser`: check, then have init give
    /// the caller the user's credentials.
    fn switch(&mut self, caller: &Caller, name: &str, password: &str, tty: Option<&str>) -> Answer {
        let needs_password = tty.is_some() || !caller.is_root();
        if needs_password {
            if !self.may_guess(caller, name) {
                return Answer::Later(fail(EACCES, "login incorrect"));
            }
            if !self.accounts.password_matches(name, password) {
                self.failed_guess(caller, name);
                return Answer::Later(fail(EACCES, "login incorrect"));
            }
        }
        let Some(user) = self.accounts.user_credentials(name) else {
            return Answer::Later(fail(EACCES, "login incorrect"));
        };
        let credentials = Credentials::user(user.uid, user.gid, user.groups.clone());
        let request = ProcRequest::SetCredentials {
            pid: caller.pid,
            credentials,
            new_session: tty.is_some(),
        };
        let granted = ipc::call(self.authority, &request, &[])
            .is_ok_and(|r| matches!(r.decode::<ProcResponse>(), Some(ProcResponse::Ok)));
        if !granted {
            return Answer::Now(fail(EIO, "init refused the credentials"));
        }
        let session = match tty {
            Some(tty) => self.accounts.open_session(name, user.uid, tty, caller.pid),
            None => 0,
        };
        Answer::Now(IdResponse::LoggedIn {
            session,
            uid: user.uid,
            gid: user.gid,
            home: user.home,
            shell: user.shell,
        })
    }
}
