//! Tools that change the namespace: `mkdir`, `rmdir`, `rm`, `mv`, `cp`, `ln`,
//! `touch`. Errors are reported per operand as `TOOL: PATH: error (ERRNO)`;
//! the tool goes on with the next operand and exits 1 at the end.

use crate::io::{status, warn_path};
use crate::tree::{copy_file, copy_tree, remove_tree};
use libzos::posix::{self, Errno, Fd};
use libzos::{eprintln, fs};
use zos_proto::errno::{EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, EXDEV};
use zos_tools_core::file_options::{self, DEFAULT_DIR_MODE};
use zos_tools_core::path::{ancestors, destination_for, file_name, is_within};
use zos_tools_core::Failure;

fn is_directory(path: &str) -> bool {
    posix::stat(path).is_ok_and(|stat| stat.is_dir())
}

pub fn mkdir(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_mkdir(args)?;
    let mode = options.mode.unwrap_or(DEFAULT_DIR_MODE);
    let mut failed = false;
    for dir in &options.dirs {
        let created = if options.parents {
            let mut result = Ok(());
            for prefix in ancestors(dir) {
                match posix::mkdir(&prefix, DEFAULT_DIR_MODE) {
                    Err(Errno(EEXIST)) if is_directory(&prefix) => {}
                    Err(error) => {
                        result = Err((prefix, error));
                        break;
                    }
                    Ok(()) => {}
                }
            }
            result
        } else {
            posix::mkdir(dir, mode).map_err(|error| ((*dir).into(), error))
        };
        match created {
            Ok(()) => {
                // `-m` is exact: the umask does not apply to it.
                if let Some(exact) = options.mode {
                    if let Err(error) = posix::chmod(dir, exact) {
                        warn_path("mkdir", dir, error);
                        failed = true;
                    }
                }
            }
            Err((path, error)) => {
                warn_path("mkdir", &path, error);
                failed = true;
            }
        }
    }
    status(failed)
}

pub fn rmdir(args: &[&str]) -> Result<(), Failure> {
    let dirs = file_options::parse_rmdir(args)?;
    let mut failed = false;
    for dir in dirs {
        if let Err(error) = posix::rmdir(dir) {
            warn_path("rmdir", dir, error);
            failed = true;
        }
    }
    status(failed)
}

pub fn rm(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_rm(args)?;
    let mut failed = false;
    for path in &options.paths {
        let last = file_name(path);
        if last == "." || last == ".." || last == "/" {
            eprintln!("rm: refusing to remove '.', '..' or '/': skipping '{path}'");
            failed = true;
            continue;
        }
        let stat = match posix::lstat(path) {
            Ok(stat) => stat,
            Err(Errno(ENOENT)) if options.force => continue,
            Err(error) => {
                warn_path("rm", path, error);
                failed = true;
                continue;
            }
        };
        if stat.is_dir() {
            if options.recursive {
                failed |= !remove_tree("rm", path);
            } else {
                warn_path("rm", path, Errno(EISDIR));
                failed = true;
            }
        } else if let Err(error) = posix::unlink(path) {
            warn_path("rm", path, error);
            failed = true;
        }
    }
    status(failed)
}

pub fn mv(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_mv(args)?;
    let into_directory = is_directory(options.destination);
    if options.needs_directory() && !into_directory {
        warn_path("mv", options.destination, Errno(ENOTDIR));
        return status(true);
    }
    let mut failed = false;
    for source in &options.sources {
        let target = destination_for(source, options.destination, into_directory);
        if is_within(source, &target) && source.trim_end_matches('/') != target {
            eprintln!("mv: cannot move '{source}' into itself ('{target}')");
            failed = true;
            continue;
        }
        match posix::rename(source, &target) {
            Ok(()) => {}
            // Across mounts: copy, then remove the original.
            Err(Errno(EXDEV)) => failed |= !move_by_copy(source, &target),
            Err(error) => {
                warn_path("mv", source, error);
                failed = true;
            }
        }
    }
    status(failed)
}

fn move_by_copy(source: &str, target: &str) -> bool {
    let stat = match posix::lstat(source) {
        Ok(stat) => stat,
        Err(error) => {
            warn_path("mv", source, error);
            return false;
        }
    };
    if let Ok(existing) = posix::lstat(target) {
        let removed = if existing.is_dir() {
            posix::rmdir(target)
        } else {
            posix::unlink(target)
        };
        if let Err(error) = removed {
            warn_path("mv", target, error);
            return false;
        }
    }
    copy_tree("mv", source, &stat, target) && remove_tree("mv", source)
}

pub fn cp(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_cp(args)?;
    let into_directory = is_directory(options.destination);
    if options.needs_directory() && !into_directory {
        warn_path("cp", options.destination, Errno(ENOTDIR));
        return status(true);
    }
    let mut failed = false;
    for source in &options.sources {
        let target = destination_for(source, options.destination, into_directory);
        // Without -r a symlink operand is followed (its file is copied);
        // with -r, links anywhere in the tree are copied as links.
        let described = if options.recursive {
            posix::lstat(source)
        } else {
            posix::stat(source)
        };
        let stat = match described {
            Ok(stat) => stat,
            Err(error) => {
                warn_path("cp", source, error);
                failed = true;
                continue;
            }
        };
        if stat.is_dir() {
            if !options.recursive {
                eprintln!("cp: -r not specified; omitting directory '{source}'");
                failed = true;
            } else if is_within(source, &target) {
                eprintln!("cp: cannot copy a directory, '{source}', into itself, '{target}'");
                failed = true;
            } else {
                failed |= !copy_tree("cp", source, &stat, &target);
            }
        } else if options.recursive {
            failed |= !copy_tree("cp", source, &stat, &target);
        } else if stat.is_file() {
            failed |= !copy_file("cp", source, &stat, &target);
        } else {
            warn_path("cp", source, Errno(EINVAL));
            failed = true;
        }
    }
    status(failed)
}

pub fn ln(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_ln(args)?;
    let name = options.name.unwrap_or_else(|| file_name(options.target));
    let name = destination_for(options.target, name, is_directory(name));
    if options.force {
        match posix::unlink(&name) {
            Ok(()) | Err(Errno(ENOENT)) => {}
            Err(error) => {
                warn_path("ln", &name, error);
                return status(true);
            }
        }
    }
    let made = if options.symbolic {
        posix::symlink(options.target, &name)
    } else {
        posix::link(options.target, &name)
    };
    match made {
        Ok(()) => Ok(()),
        Err(error) => {
            warn_path("ln", &name, error);
            status(true)
        }
    }
}

/// Creates missing files. The VFS protocol has no request to set times
/// yet, so an existing file is left as it is.
pub fn touch(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_touch(args)?;
    let mut failed = false;
    for file in &options.files {
        match posix::stat(file) {
            Ok(_) => {
                // An existing file gets the current time as both times.
                let now = Some(posix::clock_ns());
                if let Err(error) = fs::utimens(file, now, now) {
                    warn_path("touch", file, error);
                    failed = true;
                }
                continue;
            }
            Err(Errno(ENOENT)) if options.no_create => continue,
            Err(Errno(ENOENT)) => {}
            Err(error) => {
                warn_path("touch", file, error);
                failed = true;
                continue;
            }
        }
        match posix::open(file, fs::O_WRONLY | fs::O_CREAT, 0o666) {
            Ok(fd) => {
                let _ = posix::close(fd);
            }
            Err(error) => {
                warn_path("touch", file, error);
                failed = true;
            }
        }
    }
    status(failed)
}

/// `dd`: copies `count` blocks of `bs` bytes (see `zos_tools_core::dd`).
pub fn dd(args: &[&str]) -> Result<(), Failure> {
    use zos_tools_core::dd::{self, Records};
    let options = dd::parse(args)?;
    let fail = |what: &str, error: Errno| Failure::Error(alloc::format!("{what}: {error}"));
    let input = match options.input {
        Some(path) => posix::open(path, fs::O_RDONLY, 0).map_err(|e| fail(path, e))?,
        None => 0,
    };
    let output = match options.output {
        Some(path) => {
            let trunc = if options.no_truncate || options.seek > 0 {
                0
            } else {
                fs::O_TRUNC
            };
            posix::open(path, fs::O_WRONLY | fs::O_CREAT | trunc, 0o644)
                .map_err(|e| fail(path, e))?
        }
        None => 1,
    };
    let bs = options.block_size;
    let mut block = alloc::vec![0u8; bs];
    if options.skip > 0 {
        let offset = options.skip.saturating_mul(bs as u64) as i64;
        if fs::lseek(input, offset, 0).is_err() {
            // Not seekable (a pipe): read the blocks away.
            for _ in 0..options.skip {
                if read_block(input, &mut block).map_err(|e| fail("read", e))? == 0 {
                    break;
                }
            }
        }
    }
    if options.seek > 0 {
        let offset = options.seek.saturating_mul(bs as u64) as i64;
        fs::lseek(output, offset, 0).map_err(|e| fail("seek", e))?;
    }
    let (mut records_in, mut records_out, mut bytes) =
        (Records::default(), Records::default(), 0u64);
    let mut result = Ok(());
    while options
        .count
        .is_none_or(|count| records_in.full + records_in.partial < count)
    {
        let n = match read_block(input, &mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                result = Err(fail(options.input.unwrap_or("standard input"), e));
                break;
            }
        };
        records_in.add(n, bs);
        if let Err(e) = posix::write_all(output, &block[..n]) {
            result = Err(fail(options.output.unwrap_or("standard output"), e));
            break;
        }
        records_out.add(n, bs);
        bytes += n as u64;
    }
    if result.is_ok() && options.fsync {
        result = fs::fsync(output).map_err(|e| fail("fsync", e));
    }
    libzos::eprint!("{}", dd::report(records_in, records_out, bytes));
    for fd in [input, output] {
        if fd > 1 {
            let _ = posix::close(fd);
        }
    }
    result
}

/// Reads until `block` is full or the input ends; the bytes read.
fn read_block(fd: Fd, block: &mut [u8]) -> Result<usize, Errno> {
    let mut filled = 0;
    while filled < block.len() {
        match posix::read(fd, &mut block[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
