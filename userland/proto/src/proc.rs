//! The process manager protocol (served by init). Every process gets a
//! capability to init's endpoint badged with its pid, so init knows who asks;
//! the pid is a name, the capability is the authority.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// POSIX signal numbers.
pub mod signal {
    pub const SIGHUP: u32 = 1;
    pub const SIGINT: u32 = 2;
    pub const SIGQUIT: u32 = 3;
    pub const SIGILL: u32 = 4;
    pub const SIGTRAP: u32 = 5;
    pub const SIGBUS: u32 = 7;
    pub const SIGFPE: u32 = 8;
    pub const SIGKILL: u32 = 9;
    pub const SIGSEGV: u32 = 11;
    pub const SIGPIPE: u32 = 13;
    pub const SIGTERM: u32 = 15;
    pub const SIGCHLD: u32 = 17;
    pub const SIGCONT: u32 = 18;
    pub const SIGSTOP: u32 = 19;
    pub const SIGTSTP: u32 = 20;
    pub const SIGTTIN: u32 = 21;
    pub const SIGTTOU: u32 = 22;
    pub const SIGURG: u32 = 23;
    /// The terminal's window size changed.
    pub const SIGWINCH: u32 = 28;

    /// Signals whose default action is to do nothing (the others end the
    /// process, or stop it: [`stops_by_default`]; SIGCONT continues it).
    pub const fn ignored_by_default(signal: u32) -> bool {
        matches!(signal, SIGCHLD | SIGURG | SIGWINCH | SIGCONT)
    }

    /// Signals whose default action stops the process (job control).
    pub const fn stops_by_default(signal: u32) -> bool {
        matches!(signal, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
    }
}

/// `ProcRequest::Wait` report flags and the wait statuses they bring (Linux's
/// values: `WUNTRACED`, `WCONTINUED`, a stopped status `0x7f | signal << 8`,
/// a continued one `0xffff`).
pub mod wait {
    pub const UNTRACED: u32 = 2;
    pub const CONTINUED: u32 = 8;
    pub const CONTINUED_STATUS: i32 = 0xffff;

    /// The wait status of a process stopped by `signal`.
    pub const fn stopped_status(signal: u32) -> i32 {
        0x7f | (signal as i32) << 8
    }

    /// The signal that stopped the process, for a stopped status.
    pub const fn stop_signal(status: i32) -> Option<u32> {
        if status & 0xff == 0x7f {
            Some(((status >> 8) & 0xff) as u32)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcRequest<'a> {
    /// Starts a program. `fds` maps a descriptor number to the index of a
    /// capability attached to the message (a handle the child will own).
    /// `pgid` 0 starts a new process group led by the child. `foreground`
    /// false is a background job (`&`), refused first when init's reserve for
    /// foreground commands is all that is left. `take_terminal`: the child
    /// makes its group the foreground of its terminal before its program runs
    /// (a job control shell's foreground job; docs/terminals.md).
    Spawn {
        path: &'a str,
        #[serde(borrow)]
        argv: Vec<&'a str>,
        #[serde(borrow)]
        env: Vec<&'a str>,
        cwd: &'a str,
        fds: Vec<(u32, u8)>,
        pgid: u32,
        foreground: bool,
        take_terminal: bool,
        /// `execve`: the program replaces the caller — it runs under the
        /// caller's pid, parent, group, session, credentials and ignored
        /// signals, and the caller's process ends without an exit status
        /// (its parent waits for the program). Not answered on success.
        exec: bool,
        /// The process's name when it is not `argv[0]`'s last component: the
        /// script a libzos spawn found in the VFS, whose interpreter `path`
        /// names (Linux names a process after the file executed).
        name: Option<&'a str>,
    },
    /// Waits for a child (`pid` -1: any child) to end; `nohang` returns at once.
    /// `report` (`wait::UNTRACED`, `wait::CONTINUED`) also answers a child's
    /// stop or continuation, once each (job control).
    Wait {
        pid: i32,
        nohang: bool,
        report: u32,
    },
    /// Sends a signal; a negative pid names a process group.
    Kill {
        pid: i32,
        signal: u32,
    },
    /// The caller's pid, parent pid and process group.
    Ids,
    /// Moves a process (0 = the caller) into a group (0 = its own).
    SetPgid {
        pid: u32,
        pgid: u32,
    },
    /// The processes whose pid is above `after`, in pid order, as many as
    /// fit one message; an empty list means there are no more (ask again
    /// after the last pid received).
    List {
        after: u32,
    },
    /// The endpoint of a named service, as a capability in the reply.
    Lookup {
        name: &'a str,
    },
    /// Every service init manages.
    Services,
    /// A new pipe: the reply carries the read end then the write end.
    Pipe,
    /// Kernel and memory figures.
    SystemInfo,
    /// What the caller does with a signal: 0 default action, 1 ignore, 2 catch.
    /// Caught signals are delivered as bit `1 << signal` on the notification
    /// capability attached to the first catching request (SIGKILL cannot be
    /// caught or ignored).
    SignalAction {
        signal: u32,
        action: u8,
    },
    /// A service with `ready_notify` tells init it now serves requests.
    Ready,
    PowerOff,
    Reboot,
    /// A `Spawn` too long for one message (arguments and environment up to
    /// [`ARG_MAX`]): the attached Memory object holds `length` bytes, the
    /// postcard-encoded `Spawn`; init keeps it for the caller's next
    /// `SpawnStaged`.
    StageSpawn {
        length: u32,
    },
    /// Starts the staged `Spawn`; the attached capabilities are its `fds`.
    SpawnStaged,
    /// What a live process uses: the bytes of memory its quota pays for
    /// (`ProcessStatus`'s quota used; `VmRSS` in `/proc/<pid>/status`) and
    /// the CPU time its threads ran (`utime` in `/proc/<pid>/stat`). Asked
    /// per process: figures in every `List` row would not fit 300 processes
    /// in one message.
    Usage {
        pid: u32,
    },
    /// The credentials of a process (`pid` 0: the caller).
    Credentials {
        pid: u32,
    },
    /// The credentials a client badge's credential number stands for
    /// (see [`crate::badge`]); servers ask this once per number and cache it:
    /// a number always means the same credentials.
    CredentialSet {
        id: u16,
    },
    /// Gives process `pid` new credentials. Honoured only on the credential
    /// authority capability (service grant "credentials", held by the
    /// identity service); `EPERM` on any other. With `new_session` (a
    /// login) the process also leads a new session: its session id becomes
    /// its pid, and the processes it starts from then on inherit that id
    /// (so a logout can end the session's background jobs: `EndSession`).
    SetCredentials {
        pid: u32,
        credentials: Credentials,
        new_session: bool,
    },
    /// Hangs up on the session `leader` leads: SIGHUP to each of its live
    /// processes but the leader (a logout). Honoured only on the credential
    /// authority capability; `EPERM` on any other.
    EndSession {
        leader: u32,
    },
    /// Sets the real-time clock (nanoseconds since the Unix epoch); root only.
    SetTime {
        epoch_ns: u64,
    },
    /// The program for the caller's next `Spawn` (or `SpawnStaged`): the
    /// attached Memory object holds `length` bytes, an ELF file the caller
    /// read from the VFS (a program on a disk, not in the boot archive). The
    /// next spawn runs it instead of looking its path up in the archive.
    StageImage {
        length: u64,
    },
    /// `fork`: a new process that is the caller's sibling-by-fork: a new pid
    /// whose parent is the caller, with the caller's credentials, session,
    /// process group and ignored signals, registered for `Wait`, `Kill` and
    /// `List` like a spawned child, but with an empty address space and no
    /// thread. Its fixed slots (itself, console, this endpoint badged with
    /// its pid) are filled, and the caller's read-only program segments
    /// are mapped (shared) when init loaded them from the boot archive. The
    /// reply is `Forked` with the child's process capability attached: the
    /// caller copies the rest of its memory and its descriptors into it and
    /// starts its thread (docs/posix.md, "fork"), or kills it. `EAGAIN` at
    /// the process limit, `ENOMEM` without memory.
    Fork,
    /// The CPUs process `pid` (0: the caller) may run on, bit N for CPU N
    /// (`sched_getaffinity`, `taskset -p`); with `cpus` not 0, first sets
    /// every thread of it to those of them that are online (`EINVAL` when
    /// none is). Setting follows the rule of `Kill`: a user only its own
    /// processes, root any (`EPERM`); `ESRCH` for no such live process.
    /// Answered by `Affinity`.
    Affinity {
        pid: u32,
        cpus: u64,
    },
    /// The caller's fault that init holds (a fault of a program that
    /// catches its signal: init signalled bit 0 of the caller's signal
    /// notification, [`FAULT_HELD`]). With `deliver`, init lets the faulting
    /// thread go — it stops where it faulted if the caller suspended it
    /// first — and answers `Fault`; without, init ends the caller as killed
    /// by the fault's signal (the handler cannot run: blocked, gone, no
    /// room for its frame). `ESRCH` when no fault is held.
    FaultResume {
        deliver: bool,
    },
    /// May the caller read (`signal` SIGTTIN) or change the settings of
    /// (SIGTTOU) a terminal whose foreground process group is `foreground`?
    /// `Ok`: yes — it is in that group, the group is gone or none, or the
    /// terminal belongs to another session (not the caller's controlling
    /// terminal); for SIGTTOU also when the caller ignores or blocks it.
    /// `EIO`: no — a read with SIGTTIN ignored or `blocked` (the caller's
    /// signal mask), or an orphaned group. `EINTR`: init sent `signal` to the
    /// caller's group (which stops it, or runs a handler); ask again once it
    /// goes on. The terminal knows its foreground group but not who calls;
    /// init knows groups, sessions and dispositions (docs/terminals.md).
    TerminalAccess {
        foreground: u32,
        signal: u32,
        blocked: bool,
    },
    /// `setsid`: the caller leads a new session and a new process group,
    /// both named by its pid; `EPERM` if it leads a process group already
    /// (POSIX). A terminal whose foreground group is of another session is
    /// not its controlling terminal (`TerminalAccess`).
    SetSid,
    /// Descriptors for the caller's next `Spawn` beyond the four its own
    /// message carries (a message takes four capabilities): descriptor and
    /// index of its attached capability, as in `Spawn` (descriptors that
    /// share an index share one open file description). `first` discards
    /// what an earlier, unfinished spawn staged. `EBADF` for a descriptor
    /// not below [`OPEN_MAX`] or an index past the capabilities; `EMFILE`
    /// past [`OPEN_MAX`] staged.
    StageFds {
        fds: Vec<(u32, u8)>,
        first: bool,
    },
}

/// The bit of a program's signal notification that says init holds a
/// fault of it for its handler ([`ProcRequest::FaultResume`]); signal
/// numbers start at 1, so bit 0 is free.
pub const FAULT_HELD: u64 = 1;

/// Descriptors a process may have open: 0 to `OPEN_MAX - 1`, all of which a
/// spawn or exec passes on ([`ProcRequest::StageFds`]).
pub const OPEN_MAX: u32 = 256;

/// Longest program [`ProcRequest::StageImage`] takes.
pub const IMAGE_MAX: u64 = 64 << 20;

/// A process's identity: real and effective user and group ids and the
/// supplementary groups. Set at spawn (inherited from the parent), changed only
/// through [`ProcRequest::SetCredentials`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Credentials {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
}

impl Credentials {
    /// Most supplementary groups a process has (as Linux's NGROUPS_MAX is large,
    /// but 32 is plenty here and bounds every message).
    pub const MAX_GROUPS: usize = 32;

    pub const fn root() -> Self {
        Credentials {
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            groups: Vec::new(),
        }
    }

    /// Real and effective ids all `uid`/`gid`.
    pub fn user(uid: u32, gid: u32, groups: Vec<u32>) -> Self {
        Credentials {
            uid,
            euid: uid,
            gid,
            egid: gid,
            groups,
        }
    }
}

/// Most bytes of arguments and environment a program can be given (each
/// string counted with its terminating NUL), like Linux's ARG_MAX.
pub const ARG_MAX: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcResponse<'a> {
    Spawned {
        pid: u32,
    },
    /// Answer to `Fork`: the child's pid and the start addresses of the
    /// caller's read-only program segments already mapped in the child
    /// (shared with every process of the same program, not copied).
    Forked {
        pid: u32,
        shared: Vec<u64>,
    },
    /// `status` is a POSIX wait status: exit code << 8, or the signal number.
    Waited {
        pid: u32,
        status: i32,
    },
    /// `Wait` with `nohang` and no child has ended.
    NotYet,
    Ids {
        pid: u32,
        ppid: u32,
        pgid: u32,
    },
    #[serde(borrow)]
    List(Vec<ProcInfo<'a>>),
    #[serde(borrow)]
    Services(Vec<ServiceInfo<'a>>),
    SystemInfo(SystemInfo),
    /// A capability travels with the reply (Lookup, Pipe).
    Attached,
    Ok,
    Err(i32),
    /// Answer to `Usage`: bytes, and timer ticks of 10 ms.
    Usage {
        memory: u64,
        cpu_ticks: u64,
    },
    /// Answer to `Credentials` and `CredentialSet`.
    Credentials(Credentials),
    /// Answer to `Affinity`: the process's CPUs now.
    Affinity {
        cpus: u64,
    },
    /// Answer to `FaultResume { deliver: true }`: the fault's signal, its
    /// `si_code` and the faulting address (`si_addr`).
    Fault {
        signal: u32,
        code: u32,
        address: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo<'a> {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    /// 'R' running, 'S' sleeping/waiting, 'Z' ended but not reaped.
    pub state: char,
    pub name: &'a str,
    /// Effective user id.
    pub uid: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo<'a> {
    pub name: &'a str,
    pub state: &'a str,
    pub pid: u32,
    pub restarts: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub uptime_ns: u64,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub processes: u32,
    /// Now, in nanoseconds since the Unix epoch (UTC), from the real-time
    /// clock read at boot (0-based at boot when the machine has none).
    pub realtime_ns: u64,
}

/// Builds a POSIX wait status.
pub const fn exit_status(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Builds a POSIX wait status for death by a signal.
pub const fn signal_status(signal: u32) -> i32 {
    (signal & 0x7f) as i32
}
