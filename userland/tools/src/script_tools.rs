//! Tools scripts need: `chmod`, `test`/`[`, `printf`, `basename`,
//! `dirname`, `which`, `seq` and `hostname` (`/etc/hostname`, else `zos`).
//! `date` shows and sets the real-time clock; `id` lives with the user
//! tools (`users`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::{eprintln, fs, posix};
use zos_tools_core::failure::UsageError;
use zos_tools_core::{printf as format_tool, script_tools, test_expr, Failure};

use crate::io::write_out;

struct VfsFiles;

impl test_expr::Files for VfsFiles {
    fn stat(&self, path: &str, follow: bool) -> Option<(u32, u64)> {
        let stat = if follow {
            fs::stat(path)
        } else {
            fs::lstat(path)
        };
        stat.ok().map(|stat| (stat.mode, stat.size))
    }
    fn isatty(&self, fd: i32) -> bool {
        posix::isatty(fd)
    }
}

pub fn test(name: &str, args: &[&str]) -> Result<(), Failure> {
    let (status, message) = test_expr::run(name, args, &VfsFiles);
    if let Some(message) = message {
        eprintln!("{message}");
    }
    match status {
        0 => Ok(()),
        status => Err(Failure::Exit(status)),
    }
}

pub fn printf(args: &[&str]) -> Result<(), Failure> {
    let Some((format, rest)) = args.split_first() else {
        return Err(Failure::Usage("missing format".into()));
    };
    let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
    let printed = format_tool::printf(format, &rest);
    write_out(&printed.output)?;
    if printed.errors.is_empty() {
        return Ok(());
    }
    for error in &printed.errors {
        eprintln!("printf: {error}");
    }
    Err(Failure::Exit(1))
}

pub fn basename(args: &[&str]) -> Result<(), Failure> {
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--").collect();
    match args.as_slice() {
        [path] => write_out(format!("{}\n", script_tools::basename(path, None)).as_bytes()),
        [path, suffix] => {
            write_out(format!("{}\n", script_tools::basename(path, Some(suffix))).as_bytes())
        }
        _ => Err(Failure::Usage("expected PATH [SUFFIX]".into())),
    }
}

pub fn dirname(args: &[&str]) -> Result<(), Failure> {
    match args {
        [path] => write_out(format!("{}\n", script_tools::dirname(path)).as_bytes()),
        _ => Err(Failure::Usage("expected one PATH".into())),
    }
}

pub fn seq(args: &[&str]) -> Result<(), Failure> {
    let text = script_tools::seq(args).map_err(|UsageError(message)| Failure::Usage(message))?;
    write_out(text.as_bytes())
}

pub fn chmod(args: &[&str]) -> Result<(), Failure> {
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--").collect();
    let Some((spec, paths)) = args.split_first() else {
        return Err(Failure::Usage("missing operand".into()));
    };
    if paths.is_empty() {
        return Err(Failure::Usage(format!("missing operand after '{spec}'")));
    }
    let mut failed = false;
    for path in paths {
        let stat = match fs::stat(path) {
            Ok(stat) => stat,
            Err(error) => {
                eprintln!("chmod: {path}: {}", error.describe());
                failed = true;
                continue;
            }
        };
        let Some(mode) = script_tools::chmod_mode(spec, stat.mode, stat.is_dir()) else {
            return Err(Failure::Usage(format!("invalid mode: '{spec}'")));
        };
        if let Err(error) = fs::chmod(path, mode) {
            eprintln!("chmod: {path}: {}", error.describe());
            failed = true;
        }
    }
    if failed {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}

pub fn which(args: &[&str]) -> Result<(), Failure> {
    let path = posix::getenv("PATH").unwrap_or_else(|| "/bin:/sbin".to_string());
    let mut missing = false;
    for name in args {
        let found = if name.contains('/') {
            fs::stat(name).is_ok().then(|| name.to_string())
        } else {
            path.split(':').find_map(|dir| {
                let dir = if dir.is_empty() { "." } else { dir };
                let candidate = format!("{dir}/{name}");
                fs::stat(&candidate)
                    .ok()
                    .filter(|stat| stat.is_file() && stat.mode & 0o111 != 0)
                    .map(|_| candidate)
            })
        };
        match found {
            Some(found) => write_out(format!("{found}\n").as_bytes())?,
            None => missing = true,
        }
    }
    if missing {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}

pub fn hostname(args: &[&str]) -> Result<(), Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage("setting the name is not supported".into()));
    }
    let mut name = String::from("zos");
    if let Ok(fd) = fs::open("/etc/hostname", fs::O_RDONLY, 0) {
        let mut buffer = [0u8; 256];
        if let Ok(count) = posix::read(fd, &mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..count]);
            if let Some(line) = text.lines().next().filter(|l| !l.trim().is_empty()) {
                name = line.trim().to_string();
            }
        }
        let _ = posix::close(fd);
    }
    write_out(format!("{name}\n").as_bytes())
}

pub fn date(args: &[&str]) -> Result<(), Failure> {
    match args {
        ["-s", when] | ["--set", when] => {
            let seconds = zos_tools_core::script_tools::parse_date(when).ok_or_else(|| {
                Failure::Usage(format!(
                    "invalid date '{when}' (YYYY-MM-DD HH:MM:SS or @SECONDS)"
                ))
            })?;
            posix::set_realtime_ns(seconds.saturating_mul(1_000_000_000))
                .map_err(|e| crate::users::failed("cannot set the date", e))?;
            show_date(None)
        }
        [] => show_date(None),
        [format] if format.starts_with('+') => show_date(Some(&format[1..])),
        _ => Err(Failure::Usage("expected [+FORMAT] or -s DATE".into())),
    }
}

fn show_date(format: Option<&str>) -> Result<(), Failure> {
    let seconds =
        posix::realtime_ns().map_err(|e| crate::users::failed("no clock", e))? / 1_000_000_000;
    write_out(format!("{}\n", zos_tools_core::script_tools::date(seconds, format)).as_bytes())
}
