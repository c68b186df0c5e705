//! Regular built-ins: `cd pwd read printf test [ echo getopts command type
//! alias unalias umask local history`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix;
use zos_sh_core::builtins::{self, getopts, split_read, GetoptsState};
use zos_sh_core::command_path;
use zos_sh_core::vars::quote;
use zos_tools_core::{echo, printf, test_expr};

use crate::shell::{out, Shell};

/// File questions for `test`, answered by the VFS.
struct VfsFiles;

impl test_expr::Files for VfsFiles {
    fn stat(&self, path: &str, follow: bool) -> Option<(u32, u64)> {
        let stat = if follow {
            libzos::fs::stat(path)
        } else {
            libzos::fs::lstat(path)
        };
        stat.ok().map(|stat| (stat.mode, stat.size))
    }
    fn isatty(&self, fd: i32) -> bool {
        posix::isatty(fd)
    }
}

impl Shell {
    pub(super) fn builtin_cd(&mut self, args: &[String]) -> i32 {
        let args: Vec<&String> = args
            .iter()
            .filter(|a| a.as_str() != "-L" && a.as_str() != "-P")
            .collect();
        let (directory, announce) = match args.first().map(|a| a.as_str()) {
            None => match self.vars.get("HOME").filter(|home| !home.is_empty()) {
                Some(home) => (home.to_string(), false),
                None => return self.builtin_error("cd", "HOME not set", 1),
            },
            Some("-") => match self.vars.get("OLDPWD") {
                Some(previous) => (previous.to_string(), true),
                None => return self.builtin_error("cd", "OLDPWD not set", 1),
            },
            Some(path) => (path.to_string(), false),
        };
        let old = posix::getcwd();
        if let Err(error) = posix::chdir(&directory) {
            return self.builtin_error("cd", &format!("{directory}: {error}"), 1);
        }
        let new = posix::getcwd();
        let _ = self.vars.set("OLDPWD", &old);
        let _ = self.vars.export("PWD", Some(&new));
        if announce {
            self.print(&format!("{new}\n"));
        }
        0
    }

    pub(super) fn builtin_pwd(&mut self, _args: &[String]) -> i32 {
        self.print(&format!("{}\n", posix::getcwd()));
        0
    }

    /// Reads one line from descriptor 0 without reading past it (files are
    /// read in chunks and the descriptor moved back; pipes a byte at a time).
    fn read_line(&mut self, raw: bool) -> (String, bool) {
        let mut line = Vec::new();
        let seekable = libzos::fs::lseek(0, 0, 1).is_ok();
        let mut buffer = [0u8; 512];
        let mut ended = false;
        'outer: loop {
            let want = if seekable { buffer.len() } else { 1 };
            let count = match posix::read(0, &mut buffer[..want]) {
                Ok(0) | Err(_) => {
                    ended = true;
                    break;
                }
                Ok(count) => count,
            };
            for (index, &byte) in buffer[..count].iter().enumerate() {
                if byte == b'\n' {
                    if !raw && line.last() == Some(&b'\\') {
                        line.pop();
                        continue;
                    }
                    if seekable && index + 1 < count {
                        let back = (count - index - 1) as i64;
                        let _ = libzos::fs::lseek(0, -back, 1);
                    }
                    break 'outer;
                }
                line.push(byte);
            }
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        if raw {
            return (text, ended);
        }
        // Backslash escapes the next character.
        let mut unescaped = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    unescaped.push(next);
                }
            } else {
                unescaped.push(c);
            }
        }
        (unescaped, ended)
    }

    pub(super) fn builtin_read(&mut self, args: &[String]) -> i32 {
        let mut raw = false;
        let mut names = Vec::new();
        let mut index = 0;
        while index < args.len() {
            match args[index].as_str() {
                "-r" => raw = true,
                "-p" => {
                    index += 1;
                    if let Some(prompt) = args.get(index) {
                        out(2, prompt);
                    }
                }
                "--" => {
                    names.extend(args[index + 1..].iter().cloned());
                    break;
                }
                name => names.push(name.to_string()),
            }
            index += 1;
        }
        if names.is_empty() {
            names.push("REPLY".to_string());
        }
        let (line, ended) = self.read_line(raw);
        let ifs = self
            .vars
            .get("IFS")
            .unwrap_or(zos_sh_syntax::DEFAULT_IFS)
            .to_string();
        let values = split_read(&line, &ifs, names.len());
        for (name, value) in names.iter().zip(values) {
            if let Err(error) = self.vars.set(name, &value) {
                return self.builtin_error("read", &error.to_string(), 2);
            }
        }
        // End of file before a newline: the values are set, the status is 1.
        i32::from(ended)
    }

    pub(super) fn builtin_printf(&mut self, args: &[String]) -> i32 {
        let Some((format, rest)) = args.split_first() else {
            return self.builtin_error("printf", "usage: printf FORMAT [ARGUMENT...]", 2);
        };
        let printed = printf::printf(format, rest);
        self.write_stdout(&printed.output);
        for error in &printed.errors {
            self.complain(&format!("printf: {error}"));
        }
        i32::from(!printed.errors.is_empty())
    }

    pub(super) fn builtin_test(&mut self, name: &str, args: &[String]) -> i32 {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, message) = test_expr::run(name, &args, &VfsFiles);
        if let Some(message) = message {
            self.complain(&message);
        }
        status
    }

    pub(super) fn builtin_echo(&mut self, args: &[String]) -> i32 {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (mut options, first) = echo::parse(&args);
        if !args[..first].iter().any(|a| a.contains('E')) {
            options.escapes = true;
        }
        let bytes = echo::render(&args[first..], options);
        self.write_stdout(&bytes);
        0
    }

    pub(super) fn builtin_getopts(&mut self, args: &[String]) -> i32 {
        let (Some(optstring), Some(name)) = (args.first(), args.get(1)) else {
            return self.builtin_error("getopts", "usage: getopts OPTSTRING NAME [ARG...]", 2);
        };
        let operands = if args.len() > 2 {
            args[2..].to_vec()
        } else {
            self.positional.clone()
        };
        let optind = self
            .vars
            .get("OPTIND")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        if optind == 1 && self.getopts_offset != 0 && self.getopts_last_optind != 1 {
            self.getopts_offset = 0;
        }
        let mut state = GetoptsState {
            optind,
            offset: self.getopts_offset,
        };
        let step = getopts(optstring, &operands, &mut state);
        self.getopts_offset = state.offset;
        self.getopts_last_optind = state.optind;
        let _ = self.vars.set("OPTIND", &state.optind.to_string());
        match step {
            None => {
                let _ = self.vars.set(name, "?");
                let _ = self.vars.unset("OPTARG");
                self.getopts_offset = 0;
                1
            }
            Some(step) => {
                if let Some(message) = &step.message {
                    self.complain(&format!("getopts: {message}"));
                }
                let _ = self.vars.set(name, step.name.encode_utf8(&mut [0; 4]));
                match step.optarg {
                    Some(value) => {
                        let _ = self.vars.set("OPTARG", &value);
                    }
                    None => {
                        let _ = self.vars.unset("OPTARG");
                    }
                }
                0
            }
        }
    }

    /// What a command name is, for `command -v/-V` and `type`.
    fn describe_command(&self, name: &str, verbose: bool) -> Option<String> {
        if let Some(value) = self.aliases.get(name) {
            return Some(if verbose {
                format!("{name} is an alias for {value}")
            } else {
                format!("alias {name}={}", quote(value))
            });
        }
        if [
            "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until",
            "for", "in", "{", "}", "!",
        ]
        .contains(&name)
        {
            return Some(if verbose {
                format!("{name} is a shell keyword")
            } else {
                name.to_string()
            });
        }
        if builtins::is_special(name) {
            return Some(if verbose {
                format!("{name} is a special shell builtin")
            } else {
                name.to_string()
            });
        }
        if self.functions.contains_key(name) {
            return Some(if verbose {
                format!("{name} is a shell function")
            } else {
                name.to_string()
            });
        }
        if builtins::is_builtin(name) {
            return Some(if verbose {
                format!("{name} is a shell builtin")
            } else {
                name.to_string()
            });
        }
        let path = self.vars.get("PATH").map(ToString::to_string);
        let cwd = posix::getcwd();
        let found = command_path::candidates(name, path.as_deref(), &cwd)
            .into_iter()
            .find(|candidate| libzos::fs::stat(candidate).is_ok_and(|stat| stat.is_file()))?;
        Some(if verbose {
            format!("{name} is {found}")
        } else {
            found
        })
    }

    pub(super) fn builtin_command(&mut self, args: &[String]) -> i32 {
        let mut index = 0;
        let mut mode = None;
        while let Some(arg) = args.get(index) {
            match arg.as_str() {
                "-v" => mode = Some(false),
                "-V" => mode = Some(true),
                "-p" => {}
                "--" => {
                    index += 1;
                    break;
                }
                _ => break,
            }
            index += 1;
        }
        let rest = &args[index..];
        if let Some(verbose) = mode {
            let mut status = 0;
            for name in rest {
                match self.describe_command(name, verbose) {
                    Some(line) => self.print(&format!("{line}\n")),
                    None => {
                        if verbose {
                            self.complain(&format!("{name}: not found"));
                        }
                        status = 127;
                    }
                }
            }
            return status;
        }
        let Some(name) = rest.first() else {
            return 0;
        };
        if builtins::is_builtin(name) {
            return self.run_builtin(rest);
        }
        let pgid = if self.job_control { 0 } else { self.shell_pgid };
        match self.spawn_external(rest, &[], pgid) {
            Ok(pid) => {
                let number = self.jobs.add(pid, &[pid], &rest.join(" "));
                self.wait_foreground(number)
            }
            Err(status) => status,
        }
    }

    pub(super) fn builtin_type(&mut self, args: &[String]) -> i32 {
        let mut status = 0;
        for name in args {
            match self.describe_command(name, true) {
                Some(line) => self.print(&format!("{line}\n")),
                None => {
                    self.complain(&format!("type: {name}: not found"));
                    status = 1;
                }
            }
        }
        status
    }

    pub(super) fn builtin_alias(&mut self, args: &[String]) -> i32 {
        if args.is_empty() {
            let mut text = String::new();
            for (name, value) in &self.aliases {
                text.push_str(&format!("{name}={}\n", quote(value)));
            }
            self.print(&text);
            return 0;
        }
        let mut status = 0;
        for arg in args {
            match arg.split_once('=') {
                Some((name, value)) => {
                    self.aliases.insert(name.to_string(), value.to_string());
                }
                None => match self.aliases.get(arg) {
                    Some(value) => self.print(&format!("{arg}={}\n", quote(value))),
                    None => status = self.builtin_error("alias", &format!("{arg}: not found"), 1),
                },
            }
        }
        status
    }

    pub(super) fn builtin_unalias(&mut self, args: &[String]) -> i32 {
        if args.first().map(String::as_str) == Some("-a") {
            self.aliases.clear();
            return 0;
        }
        let mut status = 0;
        for name in args {
            if self.aliases.remove(name).is_none() {
                status = self.builtin_error("unalias", &format!("{name}: not found"), 1);
            }
        }
        status
    }

    pub(super) fn builtin_umask(&mut self, args: &[String]) -> i32 {
        let symbolic = args.first().map(String::as_str) == Some("-S");
        let rest: Vec<&String> = args.iter().filter(|a| a.as_str() != "-S").collect();
        let current = libzos::fs::umask(0);
        libzos::fs::umask(current);
        match rest.first() {
            None if symbolic => {
                let allowed = !current & 0o777;
                let part = |shift: u32| {
                    let bits = (allowed >> shift) & 7;
                    let mut text = String::new();
                    for (bit, letter) in [(4, 'r'), (2, 'w'), (1, 'x')] {
                        if bits & bit != 0 {
                            text.push(letter);
                        }
                    }
                    text
                };
                self.print(&format!("u={},g={},o={}\n", part(6), part(3), part(0)));
                0
            }
            None => {
                self.print(&format!("{current:04o}\n"));
                0
            }
            Some(mode) => match u32::from_str_radix(mode, 8) {
                Ok(mask) if mask <= 0o777 => {
                    libzos::fs::umask(mask);
                    0
                }
                _ => self.builtin_error("umask", &format!("{mode}: bad mode (octal only)"), 1),
            },
        }
    }

    pub(super) fn builtin_local(&mut self, args: &[String]) -> i32 {
        for arg in args {
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (arg.as_str(), None),
            };
            if let Err(message) = self.vars.make_local(name) {
                return self.builtin_error("local", message, 2);
            }
            if let Some(value) = value {
                if let Err(error) = self.vars.set(name, value) {
                    return self.builtin_error("local", &error.to_string(), 1);
                }
            }
        }
        0
    }

    pub(super) fn builtin_history(&mut self, args: &[String]) -> i32 {
        match args.first().map(String::as_str) {
            Some("-c") => {
                self.history.clear();
                0
            }
            Some(count) => match count.parse::<usize>() {
                Ok(count) => {
                    self.print(&self.history.listing(Some(count)));
                    0
                }
                Err(_) => {
                    self.builtin_error("history", &format!("{count}: numeric argument required"), 2)
                }
            },
            None => {
                self.print(&self.history.listing(None));
                0
            }
        }
    }
}
