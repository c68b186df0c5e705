//! procfs: a read-only view of processes and the system, mounted on `/proc`.
//!
//! The file system holds a snapshot ([`ProcSnapshot`]) that the VFS server
//! refreshes from init before serving a request that reaches `/proc`; file
//! contents are generated from the snapshot on every read, so one snapshot
//! reads consistently in several chunks. Files: `cpuinfo`, `meminfo`,
//! `uptime`, `mounts`, `self` (a symlink to the caller's directory), `stat`
//! (per-CPU time and context switches), `vmstat` (fault counts), `syscalls`
//! (calls per syscall since boot, Zero OS's own),
//! `sys/fs/file-nr` (open handles as Linux shows them: allocated, 0, maximum)
//! and, for every process, `<pid>/status` (with `VmRSS`: the memory the
//! process's quota pays for), `<pid>/cmdline`, `<pid>/stat` (with its CPU
//! time). Any change fails with `EACCES`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use crate::errno::{Errno, VfsResult};
use crate::fs::{
    DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp, NAME_MAX,
};

const ROOT_INO: Ino = 1;
const CPUINFO_INO: Ino = 2;
const MEMINFO_INO: Ino = 3;
const UPTIME_INO: Ino = 4;
const MOUNTS_INO: Ino = 5;
const SELF_INO: Ino = 6;
const SYS_INO: Ino = 7;
const SYS_FS_INO: Ino = 8;
const FILE_NR_INO: Ino = 9;
const STAT_INO: Ino = 10;
const SYSCALLS_INO: Ino = 11;
const VMSTAT_INO: Ino = 12;

/// Files of the root directory after `.` and `..`: (name, inode).
const ROOT_FILES: [(&str, Ino); 9] = [
    ("cpuinfo", CPUINFO_INO),
    ("meminfo", MEMINFO_INO),
    ("mounts", MOUNTS_INO),
    ("self", SELF_INO),
    ("stat", STAT_INO),
    ("sys", SYS_INO),
    ("syscalls", SYSCALLS_INO),
    ("uptime", UPTIME_INO),
    ("vmstat", VMSTAT_INO),
];

/// The fixed directories below the root: (directory, parent, its one entry).
const SUB_DIRS: [(Ino, Ino, &str, Ino); 2] = [
    (SYS_INO, ROOT_INO, "fs", SYS_FS_INO),
    (SYS_FS_INO, SYS_INO, "file-nr", FILE_NR_INO),
];

fn sub_dir(dir: Ino) -> Option<(Ino, &'static str, Ino)> {
    SUB_DIRS
        .iter()
        .find(|d| d.0 == dir)
        .map(|&(_, parent, name, ino)| (parent, name, ino))
}

fn kind_of(ino: Ino) -> FileKind {
    match ino {
        SELF_INO => FileKind::Symlink,
        SYS_INO | SYS_FS_INO => FileKind::Directory,
        _ => FileKind::Regular,
    }
}

/// What a process directory holds: (name, sub-inode).
const PROCESS_FILES: [(&str, u64); 3] = [("cmdline", 1), ("stat", 3), ("status", 2)];

/// Inode of a process directory (`sub` 0) or one of its files.
fn process_ino(pid: u32, sub: u64) -> Ino {
    ((pid as u64 + 1) << 4) | sub
}

/// (pid, sub) of a process inode.
fn split_process_ino(ino: Ino) -> Option<(u32, u64)> {
    let pid = (ino >> 4).checked_sub(1)?;
    (ino >= 1 << 5).then_some((u32::try_from(pid).ok()?, ino & 0xF))
}

/// The pid whose directory holds inode `ino` (a process directory or file).
pub fn pid_of(ino: Ino) -> Option<u32> {
    split_process_ino(ino).map(|(pid, _)| pid)
}

/// One process as init reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    /// `R`, `S` or `Z`.
    pub state: char,
    pub name: String,
    /// Bytes of memory its quota pays for (frames and kernel objects).
    pub memory: u64,
    /// Timer ticks (10 ms) its threads ran.
    pub cpu_ticks: u64,
}

/// What the kernel counted on one CPU since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Timer ticks (10 ms) that found it running a thread.
    pub busy_ticks: u64,
    /// Threads prepared to run on it after another.
    pub switches: u64,
    /// User faults it took.
    pub faults: u64,
}

/// One row of `/proc/mounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountLine {
    /// What is mounted (a device or image path; the type name for virtual ones).
    pub source: String,
    pub path: String,
    pub fs_type: String,
    pub read_only: bool,
}

/// Everything procfs shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcSnapshot {
    pub processes: Vec<ProcessInfo>,
    pub uptime_ns: u64,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub mounts: Vec<MountLine>,
    /// The text of `/proc/cpuinfo` (the server decides what it can honestly say).
    pub cpuinfo: String,
    /// Open handles of the VFS and the most it allows (`sys/fs/file-nr`).
    pub open_handles: u64,
    pub max_handles: u64,
    /// Each online CPU's counts (`/proc/stat`, `/proc/vmstat`).
    pub cpus: Vec<CpuTime>,
    /// Calls since boot by syscall: (number, name, count), every syscall.
    pub syscall_counts: Vec<(u64, String, u64)>,
}

/// The process file system.
pub struct Procfs {
    snapshot: ProcSnapshot,
    /// The pid `/proc/self` names (0: none known).
    caller: u32,
    now: Timestamp,
}

impl Default for Procfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Procfs {
    pub fn new() -> Self {
        Procfs {
            snapshot: ProcSnapshot::default(),
            caller: 0,
            now: 0,
        }
    }

    /// Replaces what procfs shows.
    pub fn set_snapshot(&mut self, snapshot: ProcSnapshot) {
        self.snapshot = snapshot;
    }

    pub fn snapshot(&self) -> &ProcSnapshot {
        &self.snapshot
    }

    /// The process on whose behalf the next operations run.
    pub fn set_caller(&mut self, pid: u32) {
        self.caller = pid;
    }

    fn process(&self, pid: u32) -> VfsResult<&ProcessInfo> {
        self.snapshot
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .ok_or(Errno::ENOENT)
    }

    /// The content of a file inode.
    fn content(&self, ino: Ino) -> VfsResult<String> {
        match ino {
            CPUINFO_INO => Ok(self.snapshot.cpuinfo.clone()),
            MEMINFO_INO => Ok(format_meminfo(&self.snapshot)),
            STAT_INO => Ok(format_proc_stat(&self.snapshot)),
            VMSTAT_INO => Ok(format_vmstat(&self.snapshot)),
            SYSCALLS_INO => Ok(format_syscalls(&self.snapshot.syscall_counts)),
            UPTIME_INO => Ok(format_uptime(self.snapshot.uptime_ns)),
            MOUNTS_INO => Ok(format_mounts(&self.snapshot.mounts)),
            FILE_NR_INO => Ok(format!(
                "{}\t0\t{}\n",
                self.snapshot.open_handles, self.snapshot.max_handles
            )),
            ROOT_INO | SELF_INO | SYS_INO | SYS_FS_INO => Err(Errno::EISDIR),
            _ => {
                let (pid, sub) = split_process_ino(ino).ok_or(Errno::ENOENT)?;
                let process = self.process(pid)?;
                match sub {
                    1 => Ok(format_cmdline(process)),
                    2 => Ok(format_status(process)),
                    3 => Ok(format_stat(process)),
                    0 => Err(Errno::EISDIR),
                    _ => Err(Errno::ENOENT),
                }
            }
        }
    }

    fn self_target(&self) -> VfsResult<String> {
        if self.caller == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(self.caller.to_string())
    }
}

/// `/proc/meminfo`: total and free memory in kB.
pub fn format_meminfo(snapshot: &ProcSnapshot) -> String {
    let total = snapshot.total_bytes / 1024;
    let free = snapshot.free_bytes / 1024;
    format!(
        "MemTotal:       {total:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\n"
    )
}

/// `/proc/stat` in Linux's format, in ticks of 10 ms (USER_HZ 100): a `cpu`
/// line with the sums, then one per CPU, then `ctxt` (context switches: a
/// CPU changed the thread it runs), `procs_running` and `procs_blocked`.
/// The kernel counts the ticks that found a CPU running a thread, not
/// kernel and user time apart, so all busy time is in the first (user)
/// column; idle is the rest of the uptime. The other columns (nice, system,
/// iowait, irq, softirq, steal, guest, guest_nice) read 0.
pub fn format_proc_stat(snapshot: &ProcSnapshot) -> String {
    let uptime_ticks = snapshot.uptime_ns / 10_000_000;
    let line = |name: &str, busy: u64, idle: u64| format!("{name} {busy} 0 0 {idle} 0 0 0 0 0 0\n");
    let idle = |busy: u64| uptime_ticks.saturating_sub(busy);
    let cpus = &snapshot.cpus;
    let busy_sum: u64 = cpus.iter().map(|c| c.busy_ticks).sum();
    let idle_sum: u64 = cpus.iter().map(|c| idle(c.busy_ticks)).sum();
    let mut text = line("cpu ", busy_sum, idle_sum);
    for (cpu, time) in cpus.iter().enumerate() {
        text.push_str(&line(
            &format!("cpu{cpu}"),
            time.busy_ticks,
            idle(time.busy_ticks),
        ));
    }
    let switches: u64 = cpus.iter().map(|c| c.switches).sum();
    let running = snapshot.processes.iter().filter(|p| p.state == 'R').count();
    // Linux counts tasks in uninterruptible sleep (state D, mostly waiting
    // for I/O). init reports no such state (a process waiting for a server
    // is S), so this reads 0 rather than every sleeping process.
    let blocked = snapshot.processes.iter().filter(|p| p.state == 'D').count();
    let _ = write!(
        text,
        "ctxt {switches}\nprocs_running {running}\nprocs_blocked {blocked}\n"
    );
    text
}

/// `/proc/vmstat`: `pgfault`, the user faults every CPU took (Zero OS maps
/// memory when it is asked for, so these are faults a supervisor handled or
/// that killed their process, not demand paging); `pgmajfault` reads 0 (no
/// paging to disk).
pub fn format_vmstat(snapshot: &ProcSnapshot) -> String {
    let faults: u64 = snapshot.cpus.iter().map(|c| c.faults).sum();
    format!("pgfault {faults}\npgmajfault 0\n")
}

/// `/proc/syscalls`: one line per syscall, `number name count`, the calls
/// since boot (the kernel counts them on entry, fast path included).
pub fn format_syscalls(counts: &[(u64, String, u64)]) -> String {
    let mut text = String::new();
    for (number, name, count) in counts {
        let _ = writeln!(text, "{number:>3} {name:<20} {count}");
    }
    text
}

/// `/proc/uptime`: seconds since boot with two decimals; the idle figure is
/// not known to userspace yet and reads 0.00.
pub fn format_uptime(uptime_ns: u64) -> String {
    let hundredths = uptime_ns / 10_000_000;
    format!("{}.{:02} 0.00\n", hundredths / 100, hundredths % 100)
}

/// `/proc/mounts` in the fstab format.
pub fn format_mounts(mounts: &[MountLine]) -> String {
    let mut text = String::new();
    for mount in mounts {
        let mode = if mount.read_only { "ro" } else { "rw" };
        let _ = writeln!(
            text,
            "{} {} {} {mode} 0 0",
            mount.source, mount.path, mount.fs_type
        );
    }
    text
}

fn state_name(state: char) -> &'static str {
    match state {
        'R' => "running",
        'Z' => "zombie",
        _ => "sleeping",
    }
}

/// `/proc/<pid>/status`.
pub fn format_status(process: &ProcessInfo) -> String {
    format!(
        "Name:\t{}\nState:\t{} ({})\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\nPgid:\t{}\nVmRSS:\t{:>8} kB\nThreads:\t1\n",
        process.name,
        process.state,
        state_name(process.state),
        process.pid,
        process.pid,
        process.ppid,
        process.pgid,
        process.memory / 1024
    )
}

/// `/proc/<pid>/cmdline`: NUL-terminated arguments. Only the program name is
/// known (init does not report argv).
pub fn format_cmdline(process: &ProcessInfo) -> String {
    format!("{}\0", process.name)
}

/// `/proc/<pid>/stat`: the 52 fields of Linux's format; pid, comm, state, ppid,
/// pgrp, session, utime (field 14, ticks of 10 ms: all its CPU time, as the
/// kernel does not split user and system time), num_threads (1), vsize and
/// rss (23 and 24: the memory its quota pays for, in bytes and pages) are
/// real; the other accounting fields read 0.
pub fn format_stat(process: &ProcessInfo) -> String {
    let mut text = format!(
        "{} ({}) {} {} {} {}",
        process.pid, process.name, process.state, process.ppid, process.pgid, process.pgid
    );
    let pages = process.memory.div_ceil(4096);
    for field in 7..=52 {
        let value = match field {
            14 => process.cpu_ticks,
            20 => 1,
            23 => process.memory,
            24 => pages,
            _ => 0,
        };
        let _ = write!(text, " {value}");
    }
    text.push('\n');
    text
}

impl FileSystem for Procfs {
    fn fs_type(&self) -> &'static str {
        "proc"
    }

    fn set_time(&mut self, now: Timestamp) {
        self.now = now;
    }

    fn root(&self) -> Ino {
        ROOT_INO
    }

    fn read_only(&self) -> bool {
        false
    }

    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if dir == ROOT_INO {
            if name == "." || name == ".." {
                return Ok(ROOT_INO);
            }
            if let Some((_, ino)) = ROOT_FILES.iter().find(|(n, _)| *n == name) {
                return Ok(*ino);
            }
            let pid: u32 = name.parse().map_err(|_| Errno::ENOENT)?;
            if name.starts_with('0') || name.starts_with('+') {
                return Err(Errno::ENOENT);
            }
            self.process(pid)?;
            return Ok(process_ino(pid, 0));
        }
        if let Some((parent, entry, ino)) = sub_dir(dir) {
            return match name {
                "." => Ok(dir),
                ".." => Ok(parent),
                _ if name == entry => Ok(ino),
                _ => Err(Errno::ENOENT),
            };
        }
        let stat = self.getattr(dir)?;
        if !stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let (pid, _) = split_process_ino(dir).ok_or(Errno::ENOENT)?;
        match name {
            "." => Ok(dir),
            ".." => Ok(ROOT_INO),
            _ => PROCESS_FILES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, sub)| process_ino(pid, *sub))
                .ok_or(Errno::ENOENT),
        }
    }

    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        let (kind, mode, nlink, size) = match ino {
            ROOT_INO | SYS_INO | SYS_FS_INO => (FileKind::Directory, 0o555, 2, 0),
            FILE_NR_INO => (FileKind::Regular, 0o444, 1, self.content(ino)?.len() as u64),
            SELF_INO => (
                FileKind::Symlink,
                0o777,
                1,
                self.self_target()?.len() as u64,
            ),
            CPUINFO_INO | MEMINFO_INO | UPTIME_INO | MOUNTS_INO | STAT_INO | SYSCALLS_INO
            | VMSTAT_INO => (FileKind::Regular, 0o444, 1, self.content(ino)?.len() as u64),
            _ => match split_process_ino(ino) {
                Some((pid, 0)) => {
                    self.process(pid)?;
                    (FileKind::Directory, 0o555, 2, 0)
                }
                Some(_) => (FileKind::Regular, 0o444, 1, self.content(ino)?.len() as u64),
                None => return Err(Errno::ENOENT),
            },
        };
        Ok(Stat {
            ino,
            kind,
            mode,
            nlink,
            uid: 0,
            gid: 0,
            size,
            blocks: 0,
            atime: self.now,
            mtime: self.now,
            ctime: self.now,
            rdev: 0,
        })
    }

    fn setattr(&mut self, ino: Ino, _: SetAttr) -> VfsResult<Stat> {
        self.getattr(ino)?;
        Err(Errno::EACCES)
    }

    fn create(&mut self, _: Ino, _: &str, _: FileKind, _: NewInode) -> VfsResult<Ino> {
        Err(Errno::EACCES)
    }

    fn link(&mut self, _: Ino, _: &str, _: Ino) -> VfsResult<()> {
        Err(Errno::EACCES)
    }

    fn unlink(&mut self, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EACCES)
    }

    fn rmdir(&mut self, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EACCES)
    }

    fn rename(&mut self, _: Ino, _: &str, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EACCES)
    }

    fn symlink(&mut self, _: Ino, _: &str, _: &str, _: NewInode) -> VfsResult<Ino> {
        Err(Errno::EACCES)
    }

    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        if ino == SELF_INO {
            return self.self_target();
        }
        self.getattr(ino)?;
        Err(Errno::EINVAL)
    }

    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        let content = self.content(ino)?;
        let bytes = content.as_bytes();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let count = buf.len().min(bytes.len() - start);
        buf[..count].copy_from_slice(&bytes[start..start + count]);
        Ok(count)
    }

    fn write(&mut self, ino: Ino, _: u64, _: &[u8]) -> VfsResult<usize> {
        self.getattr(ino)?;
        Err(Errno::EACCES)
    }

    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        let stat = self.getattr(dir)?;
        if !stat.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let dots = |name: &str, ino| DirEntry {
            ino,
            kind: FileKind::Directory,
            name: String::from(name),
        };
        let entry = match cookie {
            0 => dots(".", dir),
            1 => dots("..", sub_dir(dir).map_or(ROOT_INO, |d| d.0)),
            2 if sub_dir(dir).is_some() => match sub_dir(dir) {
                Some((_, name, ino)) => DirEntry {
                    ino,
                    kind: kind_of(ino),
                    name: String::from(name),
                },
                None => return Ok(None),
            },
            _ if sub_dir(dir).is_some() => return Ok(None),
            _ if dir == ROOT_INO => {
                let index = (cookie - 2) as usize;
                if let Some((name, ino)) = ROOT_FILES.get(index) {
                    DirEntry {
                        ino: *ino,
                        kind: kind_of(*ino),
                        name: String::from(*name),
                    }
                } else {
                    // Processes in pid order; the cookie is 2 + files + pid index.
                    let mut pids: Vec<u32> =
                        self.snapshot.processes.iter().map(|p| p.pid).collect();
                    pids.sort_unstable();
                    match pids.get(index - ROOT_FILES.len()) {
                        Some(pid) => DirEntry {
                            ino: process_ino(*pid, 0),
                            kind: FileKind::Directory,
                            name: pid.to_string(),
                        },
                        None => return Ok(None),
                    }
                }
            }
            _ => {
                let (pid, _) = split_process_ino(dir).ok_or(Errno::ENOENT)?;
                match PROCESS_FILES.get((cookie - 2) as usize) {
                    Some((name, sub)) => DirEntry {
                        ino: process_ino(pid, *sub),
                        kind: FileKind::Regular,
                        name: String::from(*name),
                    },
                    None => return Ok(None),
                }
            }
        };
        Ok(Some((entry, cookie + 1)))
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            block_size: 4096,
            total_blocks: 0,
            free_blocks: 0,
            files: 0,
            free_files: 0,
            name_max: NAME_MAX as u32,
        }
    }

    fn sync(&mut self) -> VfsResult<()> {
        Ok(())
    }

    fn retain(&mut self, _: Ino) -> VfsResult<()> {
        // A process directory may vanish while open: reads then fail with ENOENT.
        Ok(())
    }

    fn release(&mut self, _: Ino) {}
}

/// Whether `path` may reach procfs (it holds `proc`) and whether it has a
/// `pts` component: one pass over the bytes, since every path request asks
/// (a request per `stat` must not pay a search per word).
#[inline]
pub fn mentions_proc_or_pts(path: &str) -> (bool, bool) {
    let bytes = path.as_bytes();
    let (mut proc, mut pts) = (false, false);
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'p') {
        let rest = &bytes[i..];
        proc |= rest.starts_with(b"proc");
        let starts_component = i == 0 || bytes[i - 1] == b'/';
        let ends_component = rest.len() == 3 || rest.get(3) == Some(&b'/');
        pts |= starts_component && ends_component && rest.starts_with(b"pts");
    }
    (proc, pts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn procfs() -> Procfs {
        let mut fs = Procfs::new();
        fs.set_snapshot(ProcSnapshot {
            processes: vec![
                ProcessInfo {
                    pid: 1,
                    ppid: 0,
                    pgid: 1,
                    state: 'S',
                    name: "init".into(),
                    memory: 0,
                    cpu_ticks: 3,
                },
                ProcessInfo {
                    pid: 12,
                    ppid: 1,
                    pgid: 12,
                    state: 'R',
                    name: "sh".into(),
                    memory: 300 * 1024,
                    cpu_ticks: 250,
                },
            ],
            uptime_ns: 12_345_678_901,
            cpus: vec![
                CpuTime {
                    busy_ticks: 1000,
                    switches: 7000,
                    faults: 2,
                },
                CpuTime {
                    busy_ticks: 34,
                    switches: 11,
                    faults: 1,
                },
            ],
            syscall_counts: vec![(0, "DebugWrite".into(), 5), (24, "Call".into(), 90210)],
            total_bytes: 1 << 30,
            free_bytes: 512 << 20,
            mounts: vec![
                MountLine {
                    source: "tmpfs".into(),
                    path: "/".into(),
                    fs_type: "tmpfs".into(),
                    read_only: false,
                },
                MountLine {
                    source: "proc".into(),
                    path: "/proc".into(),
                    fs_type: "proc".into(),
                    read_only: true,
                },
            ],
            cpuinfo: "processor\t: 0\n".into(),
            open_handles: 42,
            max_handles: 8192,
        });
        fs
    }

    fn read_all(fs: &mut Procfs, ino: Ino) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = fs.read(ino, out.len() as u64, &mut buf).expect("read");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn paths_that_reach_procfs_or_a_pts_directory() {
        assert_eq!(mentions_proc_or_pts("/proc/1/status"), (true, false));
        assert_eq!(mentions_proc_or_pts("/dev/pts/0"), (false, true));
        assert_eq!(mentions_proc_or_pts("pts"), (false, true));
        assert_eq!(mentions_proc_or_pts("/dev/pts"), (false, true));
        assert_eq!(mentions_proc_or_pts("/tmp/a/b/c"), (false, false));
        assert_eq!(mentions_proc_or_pts("/tmp/ptsx/apts"), (false, false));
        assert_eq!(mentions_proc_or_pts("/tmp/process"), (true, false));
        assert_eq!(mentions_proc_or_pts(""), (false, false));
    }

    #[test]
    fn formats() {
        assert_eq!(format_uptime(12_345_678_901), "12.34 0.00\n");
        assert_eq!(format_uptime(0), "0.00 0.00\n");
        let fs = procfs();
        assert_eq!(
            format_meminfo(fs.snapshot()),
            "MemTotal:        1048576 kB\nMemFree:          524288 kB\nMemAvailable:     524288 kB\n"
        );
        assert_eq!(
            format_mounts(&fs.snapshot().mounts),
            "tmpfs / tmpfs rw 0 0\nproc /proc proc ro 0 0\n"
        );
        let sh = &fs.snapshot().processes[1];
        assert!(format_status(sh)
            .starts_with("Name:\tsh\nState:\tR (running)\nTgid:\t12\nPid:\t12\nPPid:\t1\n"));
        assert_eq!(format_cmdline(sh), "sh\0");
        let stat = format_stat(sh);
        assert!(stat.starts_with("12 (sh) R 1 12 12 0"));
        let fields: Vec<&str> = stat.split_whitespace().collect();
        assert_eq!(fields.len(), 52);
        // utime, num_threads, vsize and rss (pages), 1-based field numbers.
        assert_eq!(
            [fields[13], fields[19], fields[22], fields[23]],
            ["250", "1", "307200", "75"]
        );
        assert_eq!(format_vmstat(fs.snapshot()), "pgfault 3\npgmajfault 0\n");
        assert_eq!(
            format_syscalls(&fs.snapshot().syscall_counts),
            "  0 DebugWrite           5\n 24 Call                 90210\n"
        );
    }

    #[test]
    fn every_root_file_looks_up_stats_and_reads() {
        let mut fs = procfs();
        fs.set_caller(12);
        for (name, _) in ROOT_FILES {
            let ino = fs.lookup(ROOT_INO, name).expect(name);
            let stat = fs.getattr(ino).expect(name);
            if stat.kind == FileKind::Regular {
                assert_eq!(read_all(&mut fs, ino).len() as u64, stat.size, "{name}");
            }
        }
    }

    #[test]
    fn proc_stat_has_a_sum_line_and_one_per_cpu() {
        let mut fs = procfs();
        let stat = fs.lookup(ROOT_INO, "stat").expect("stat");
        // 1234 ticks of uptime: idle is the rest of each CPU's.
        assert_eq!(
            read_all(&mut fs, stat),
            "cpu  1034 0 0 1434 0 0 0 0 0 0\ncpu0 1000 0 0 234 0 0 0 0 0 0\ncpu1 34 0 0 1200 0 0 0 0 0 0\n\
             ctxt 7011\nprocs_running 1\nprocs_blocked 0\n"
        );
    }

    #[test]
    fn tree_and_reads() {
        let mut fs = procfs();
        let uptime = fs.lookup(ROOT_INO, "uptime").expect("uptime");
        assert_eq!(read_all(&mut fs, uptime), "12.34 0.00\n");
        assert_eq!(fs.getattr(uptime).expect("stat").size, 11);
        let dir = fs.lookup(ROOT_INO, "12").expect("pid dir");
        assert!(fs.getattr(dir).expect("stat").is_dir());
        let status = fs.lookup(dir, "status").expect("status");
        assert!(read_all(&mut fs, status).contains("Name:\tsh\n"));
        assert_eq!(fs.lookup(dir, ".."), Ok(ROOT_INO));
        assert_eq!(fs.lookup(ROOT_INO, "13"), Err(Errno::ENOENT));
        assert_eq!(fs.lookup(ROOT_INO, "012"), Err(Errno::ENOENT));
        assert_eq!(fs.lookup(status, "x"), Err(Errno::ENOTDIR));
        let mut names = Vec::new();
        let mut cookie = 0;
        while let Some((entry, next)) = fs.readdir(ROOT_INO, cookie).expect("readdir") {
            names.push(entry.name);
            cookie = next;
        }
        assert_eq!(
            names,
            [
                ".", "..", "cpuinfo", "meminfo", "mounts", "self", "stat", "sys", "syscalls",
                "uptime", "vmstat", "1", "12"
            ]
        );
    }

    #[test]
    fn file_nr_and_memory_read_as_linux_shows_them() {
        let mut fs = procfs();
        let sys = fs.lookup(ROOT_INO, "sys").expect("sys");
        let sys_fs = fs.lookup(sys, "fs").expect("fs");
        assert_eq!(fs.lookup(sys_fs, ".."), Ok(sys));
        assert_eq!(fs.lookup(sys_fs, "x"), Err(Errno::ENOENT));
        let file_nr = fs.lookup(sys_fs, "file-nr").expect("file-nr");
        assert_eq!(read_all(&mut fs, file_nr), "42\t0\t8192\n");
        assert_eq!(
            fs.readdir(sys_fs, 2).expect("readdir").map(|e| e.0.name),
            Some("file-nr".into())
        );
        assert_eq!(fs.readdir(sys_fs, 3).expect("readdir"), None);
        assert_eq!(
            fs.readdir(sys, 1).expect("readdir").map(|e| e.0.ino),
            Some(ROOT_INO)
        );
        let sh = &fs.snapshot().processes[1];
        assert!(format_status(sh).contains("\nVmRSS:\t     300 kB\nThreads:"));
        let status = fs.lookup(fs.lookup(ROOT_INO, "12").expect("dir"), "status");
        assert_eq!(status.map(pid_of), Ok(Some(12)));
        assert_eq!(pid_of(FILE_NR_INO), None);
    }

    #[test]
    fn self_names_the_caller() {
        let mut fs = procfs();
        assert_eq!(fs.readlink(SELF_INO), Err(Errno::ENOENT));
        fs.set_caller(12);
        assert_eq!(fs.readlink(SELF_INO).as_deref(), Ok("12"));
        assert_eq!(fs.getattr(SELF_INO).expect("stat").kind, FileKind::Symlink);
    }

    #[test]
    fn changes_are_refused() {
        let mut fs = procfs();
        assert_eq!(fs.write(UPTIME_INO, 0, b"1"), Err(Errno::EACCES));
        assert_eq!(
            fs.create(ROOT_INO, "x", FileKind::Regular, NewInode::new(0o644, 0, 0)),
            Err(Errno::EACCES)
        );
        assert_eq!(fs.unlink(ROOT_INO, "uptime"), Err(Errno::EACCES));
        assert_eq!(
            fs.setattr(UPTIME_INO, SetAttr::default()),
            Err(Errno::EACCES)
        );
    }
}
