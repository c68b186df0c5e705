//! Whole-tree operations shared by `rm -r`, `cp -r`, `mv` across mounts and
//! `find`/`ls`: listing a directory's names, removing a tree, copying a file
//! in [`CHUNK_SIZE`] pieces, and copying a tree (symlinks copied as links).
//! Every failure is reported as `TOOL: PATH: error` where it happens; the
//! functions return whether all went well.

use crate::io::{warn_path, CHUNK_SIZE};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use libzos::fs::{self, FileStat};
use libzos::posix::{self, Errno, Fd};
use zos_tools_core::path::join;

/// The names in directory `path` except `.` and `..`, sorted bytewise. The
/// directory is closed before this returns, so callers may change it.
pub fn list_names(path: &str) -> Result<Vec<String>, Errno> {
    let mut names = Vec::new();
    for entry in posix::read_dir(path)? {
        let entry = entry?;
        if entry.name != "." && entry.name != ".." {
            names.push(entry.name);
        }
    }
    zos_tools_core::ls::sort_names(&mut names);
    Ok(names)
}

/// Removes `path` and, if it is a directory, everything below it.
pub fn remove_tree(tool: &str, path: &str) -> bool {
    let stat = match posix::lstat(path) {
        Ok(stat) => stat,
        Err(error) => {
            warn_path(tool, path, error);
            return false;
        }
    };
    let removed = if stat.is_dir() {
        let names = match list_names(path) {
            Ok(names) => names,
            Err(error) => {
                warn_path(tool, path, error);
                return false;
            }
        };
        let mut all_removed = true;
        for name in names {
            all_removed &= remove_tree(tool, &join(path, &name));
        }
        if !all_removed {
            return false;
        }
        posix::rmdir(path)
    } else {
        posix::unlink(path)
    };
    match removed {
        Ok(()) => true,
        Err(error) => {
            warn_path(tool, path, error);
            false
        }
    }
}

/// Copies everything from `from` to `to` (both open descriptors).
fn copy_data(from: Fd, to: Fd, buffer: &mut [u8]) -> Result<(), (bool, Errno)> {
    loop {
        let n = posix::read(from, buffer).map_err(|e| (true, e))?;
        if n == 0 {
            return Ok(());
        }
        posix::write_all(to, &buffer[..n]).map_err(|e| (false, e))?;
    }
}

/// Copies regular file `source` (with attributes `stat`) to `target`,
/// creating or truncating it.
pub fn copy_file(tool: &str, source: &str, stat: &FileStat, target: &str) -> bool {
    if let Ok(existing) = posix::stat(target) {
        if existing.dev == stat.dev && existing.ino == stat.ino {
            libzos::eprintln!("{tool}: '{source}' and '{target}' are the same file");
            return false;
        }
    }
    let from = match posix::open(source, fs::O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(error) => {
            warn_path(tool, source, error);
            return false;
        }
    };
    let to = match posix::open(
        target,
        fs::O_WRONLY | fs::O_CREAT | fs::O_TRUNC,
        stat.mode & 0o7777,
    ) {
        Ok(fd) => fd,
        Err(error) => {
            let _ = posix::close(from);
            warn_path(tool, target, error);
            return false;
        }
    };
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let copied = copy_data(from, to, &mut buffer);
    let _ = posix::close(from);
    let closed = posix::close(to);
    match (copied, closed) {
        (Ok(()), Ok(())) => true,
        (Err((true, error)), _) => {
            warn_path(tool, source, error);
            false
        }
        (Err((false, error)), _) | (Ok(()), Err(error)) => {
            warn_path(tool, target, error);
            false
        }
    }
}

/// Copies the symlink `source` as a new symlink `target`.
fn copy_link(tool: &str, source: &str, target: &str) -> bool {
    let link_target = match posix::readlink(source) {
        Ok(link_target) => link_target,
        Err(error) => {
            warn_path(tool, source, error);
            return false;
        }
    };
    match posix::symlink(&link_target, target) {
        Ok(()) => true,
        Err(error) => {
            warn_path(tool, target, error);
            false
        }
    }
}

/// Copies `source` (described by `stat`, from `lstat`) to `target`:
/// directories recursively, symlinks as links, regular files by content.
pub fn copy_tree(tool: &str, source: &str, stat: &FileStat, target: &str) -> bool {
    if stat.is_symlink() {
        return copy_link(tool, source, target);
    }
    if stat.is_file() {
        return copy_file(tool, source, stat, target);
    }
    if !stat.is_dir() {
        libzos::eprintln!("{tool}: {source}: cannot copy a special file");
        return false;
    }
    // Owner-writable while filling it; the source's mode is set at the end.
    match posix::mkdir(target, 0o700) {
        Ok(()) => {}
        Err(error) => {
            if !posix::stat(target).is_ok_and(|t| t.is_dir()) {
                warn_path(tool, target, error);
                return false;
            }
        }
    }
    let names = match list_names(source) {
        Ok(names) => names,
        Err(error) => {
            warn_path(tool, source, error);
            return false;
        }
    };
    let mut all_copied = true;
    for name in names {
        let from = join(source, &name);
        match posix::lstat(&from) {
            Ok(child) => all_copied &= copy_tree(tool, &from, &child, &join(target, &name)),
            Err(error) => {
                warn_path(tool, &from, error);
                all_copied = false;
            }
        }
    }
    if let Err(error) = posix::chmod(target, stat.mode & 0o7777) {
        warn_path(tool, target, error);
        return false;
    }
    all_copied
}
