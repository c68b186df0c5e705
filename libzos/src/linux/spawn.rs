//! Processes from C: `posix_spawn` (musl's is replaced by one that calls
//! [`zos_posix_spawn`]), `wait4`, and `execve` as spawn-wait-exit.

use super::{c_bytes_within, c_str, get_word, SysResult};
use crate::posix::{self, Errno, FileAction};
use alloc::borrow::Cow;
use alloc::vec::Vec;
use zos_proto::errno::*;

/// The NULL-terminated `char *[]` at `ptr` (empty for a null pointer). One
/// string may fill the whole argument space (a long environment variable),
/// and so may many short ones (`xargs` passes tens of thousands): the count
/// is bounded only by what the argument space holds (each string takes at
/// least its NUL).
/// Strings that are not UTF-8 (BusyBox's re-exec mark) travel escaped
/// (`zos_linux_abi::escape_arg`); the C start-up code turns them back.
pub(super) fn strings(ptr: u64) -> Result<Vec<Cow<'static, str>>, Errno> {
    let mut out = Vec::new();
    if ptr == 0 {
        return Ok(out);
    }
    for i in 0..zos_proto::proc::ARG_MAX as u64 {
        let item = get_word(ptr + i * 8)?;
        if item == 0 {
            return Ok(out);
        }
        let bytes = c_bytes_within(item, zos_proto::proc::ARG_MAX, Errno(E2BIG))?;
        out.push(zos_linux_abi::escape_arg(bytes));
    }
    Err(Errno(E2BIG))
}

/// Borrowed views of [`strings`]' result, as `posix::spawn` takes them.
pub(super) fn as_strs<'a>(strings: &'a [Cow<'static, str>]) -> Vec<&'a str> {
    strings.iter().map(|s| s.as_ref()).collect()
}

/// One file action as musl's `posix_spawn` hands it over
/// (`ports/musl/overlay/src/process/posix_spawn.c`).
#[repr(C)]
pub struct SpawnAction {
    cmd: i32,
    fd: i32,
    srcfd: i32,
    oflag: i32,
    mode: u32,
    path: u64,
}

const FDOP_CLOSE: i32 = 1;
const FDOP_DUP2: i32 = 2;
const FDOP_OPEN: i32 = 3;
const FDOP_CHDIR: i32 = 4;
const FDOP_FCHDIR: i32 = 5;
const POSIX_SPAWN_SETPGROUP: i32 = 2;

/// posix_spawn for musl: returns 0 with `*pid` set, or an errno value.
/// The child gets descriptors 0–3 after the actions (libzos passes no more);
/// descriptors the actions open are opened here and closed after the spawn;
/// a `chdir` action changes this process's directory around the spawn.
/// `search`: PATH to search when `path` has no slash (posix_spawnp), or null.
///
/// # Safety
/// Called from C with valid pointers: `actions` to `count` records,
/// `argv` and `envp` NULL-terminated arrays of strings.
#[no_mangle]
pub unsafe extern "C" fn zos_posix_spawn(
    pid: *mut i32,
    path: *const u8,
    search: *const u8,
    actions: *const SpawnAction,
    count: usize,
    argv: u64,
    envp: u64,
    flags: i32,
    pgroup: i32,
) -> i32 {
    super::with_ipc_tp(|| {
        // SAFETY: as this function's contract says.
        let records = if count == 0 || actions.is_null() {
            &[][..]
        } else {
            unsafe { core::slice::from_raw_parts(actions, count) }
        };
        match spawn(
            path as u64,
            search as u64,
            records,
            argv,
            envp,
            flags,
            pgroup,
        ) {
            Ok(child) => {
                if !pid.is_null() {
                    // SAFETY: the caller's pid_t.
                    unsafe { *pid = child as i32 };
                }
                0
            }
            Err(Errno(e)) => e,
        }
    })
}

fn spawn(
    path: u64,
    search: u64,
    records: &[SpawnAction],
    argv: u64,
    envp: u64,
    flags: i32,
    pgroup: i32,
) -> Result<u32, Errno> {
    let path = c_str(path)?;
    let argv = strings(argv)?;
    let env = strings(envp)?;
    let (argv, env) = (as_strs(&argv), as_strs(&env));
    let mut actions = Vec::new();
    let mut opened = Vec::new();
    let cwd = posix::getcwd();
    let mut changed_dir = false;
    let mut result = Ok(());
    for record in records {
        let step = match record.cmd {
            FDOP_CLOSE => {
                actions.push(FileAction::Close(record.fd));
                Ok(())
            }
            FDOP_DUP2 => {
                actions.push(FileAction::Dup2 {
                    from: record.srcfd,
                    to: record.fd,
                });
                Ok(())
            }
            FDOP_OPEN => c_str(record.path)
                .and_then(|p| {
                    super::file::openat(-100, record.path, record.oflag as u32, record.mode)
                        .map(|fd| (fd as i32, p))
                })
                .map(|(fd, _)| {
                    opened.push(fd);
                    actions.push(FileAction::Dup2 {
                        from: fd,
                        to: record.fd,
                    });
                }),
            FDOP_CHDIR => c_str(record.path).and_then(|p| {
                changed_dir = true;
                posix::chdir(p)
            }),
            FDOP_FCHDIR => crate::fs::path_at(record.fd, ".").and_then(|p| {
                changed_dir = true;
                posix::chdir(&p)
            }),
            _ => Err(Errno(EINVAL)),
        };
        if let Err(e) = step {
            result = Err(e);
            break;
        }
    }
    // Then the exec closes the close-on-exec descriptors, but for those a
    // `dup2` action made (a duplicate starts without the flag); the child
    // never sees the descriptors opened here for an `open` action.
    let mut closed = super::file::cloexec_fds();
    closed.extend(opened.iter().copied());
    for fd in closed {
        let made = actions
            .iter()
            .any(|action| matches!(action, FileAction::Dup2 { to, .. } if *to == fd));
        if !made {
            actions.push(FileAction::Close(fd));
        }
    }
    let spawned = result.and_then(|()| {
        let pgid = if flags & POSIX_SPAWN_SETPGROUP != 0 {
            pgroup as u32
        } else {
            posix::getpgrp()
        };
        if search == 0 || path.contains('/') {
            return posix::spawn(path, &argv, &env, &actions, pgid);
        }
        let dirs = c_str(search)?;
        let mut error = Errno(ENOENT);
        for dir in dirs.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = alloc::format!("{}/{path}", dir.trim_end_matches('/'));
            match posix::spawn(&candidate, &argv, &env, &actions, pgid) {
                Ok(pid) => return Ok(pid),
                Err(Errno(ENOENT)) | Err(Errno(ENOTDIR)) => {}
                Err(e) => error = e,
            }
        }
        Err(error)
    });
    for fd in opened {
        let _ = super::file::close(fd);
    }
    if changed_dir {
        let _ = posix::chdir(&cwd);
    }
    spawned
}

pub fn wait4(pid: i32, status: u64, options: u32, usage: u64) -> SysResult {
    const WNOHANG: u32 = 1;
    // A vfork child that never exec'd is waited for here (linux::vfork).
    let zombie = super::vfork::reap(pid);
    let waited = match zombie {
        Some((child, code)) => Some((child as u32, code)),
        None if super::vfork::only_zombie(pid)? => None,
        None => posix::wait_reporting(
            pid,
            options & WNOHANG != 0,
            options & (zos_proto::proc::wait::UNTRACED | zos_proto::proc::wait::CONTINUED),
        )?,
    };
    match waited {
        None => Ok(0),
        Some((child, code)) => {
            if status != 0 {
                super::user_bytes_mut(status, 4)?.copy_from_slice(&code.to_le_bytes());
            }
            if usage != 0 {
                super::zero_fill(usage, 144)?;
            }
            Ok(i64::from(child))
        }
    }
}

/// execve: init starts the program in place of this process, under its pid
/// (with every descriptor but the close-on-exec ones); this process ends
/// there. Returns only the error
/// of a program that could not start (docs/posix.md, "execve").
pub fn execve(path: u64, argv: u64, envp: u64) -> SysResult {
    let path = c_str(path)?;
    let argv = strings(argv)?;
    let env = strings(envp)?;
    let (argv, env) = (as_strs(&argv), as_strs(&env));
    // The old program's shared file mappings end with it, as at exit.
    super::memory::write_back_all();
    let actions: Vec<posix::FileAction> = super::file::cloexec_fds()
        .into_iter()
        .map(posix::FileAction::Close)
        .collect();
    Err(posix::exec(path, &argv, &env, &actions))
}
