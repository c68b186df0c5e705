//! The special built-ins: `break continue . eval exec exit export readonly
//! return set shift times trap unset`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix;
use zos_sh_core::vars::quote;

use crate::shell::{Flow, Shell};
use crate::traps;

fn count_argument(args: &[String]) -> Result<u32, String> {
    match args.first() {
        None => Ok(1),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{text}: bad number")),
        },
    }
}

impl Shell {
    pub(super) fn builtin_break(&mut self, args: &[String], is_continue: bool) -> i32 {
        let name = if is_continue { "continue" } else { "break" };
        let count = match count_argument(args) {
            Ok(count) => count,
            Err(message) => return self.builtin_error(name, &message, 1),
        };
        if self.loop_depth == 0 {
            return 0;
        }
        let count = count.min(self.loop_depth);
        self.flow = if is_continue {
            Flow::Continue(count)
        } else {
            Flow::Break(count)
        };
        0
    }

    pub(super) fn builtin_dot(&mut self, args: &[String]) -> i32 {
        let Some(file) = args.first() else {
            return self.builtin_error(".", "filename argument required", 2);
        };
        let path = if file.contains('/') {
            Some(file.clone())
        } else {
            let search = self.vars.get("PATH").unwrap_or("/bin:/sbin").to_string();
            search
                .split(':')
                .map(|dir| {
                    if dir.is_empty() {
                        file.clone()
                    } else {
                        format!("{dir}/{file}")
                    }
                })
                .find(|path| libzos::fs::stat(path).is_ok_and(|stat| stat.is_file()))
                .or_else(|| libzos::fs::stat(file).is_ok().then(|| file.clone()))
        };
        let text = match path.as_deref().map(crate::script::read_file) {
            Some(Ok(text)) => text,
            Some(Err(message)) => {
                self.complain(&format!(".: {message}"));
                return self.fail_special(1);
            }
            None => {
                self.complain(&format!(".: {file}: not found"));
                return self.fail_special(1);
            }
        };
        let saved =
            (args.len() > 1).then(|| core::mem::replace(&mut self.positional, args[1..].to_vec()));
        let saved_line = self.lineno;
        self.function_depth += 1;
        self.last_status = 0;
        self.run_text(&text);
        self.function_depth -= 1;
        self.lineno = saved_line;
        if let Some(saved) = saved {
            self.positional = saved;
        }
        if self.flow == Flow::Return {
            self.flow = Flow::Normal;
        }
        self.last_status
    }

    /// A special built-in failed: a non-interactive shell exits.
    fn fail_special(&mut self, status: i32) -> i32 {
        if !self.interactive {
            self.exit_status = status;
            self.flow = Flow::Exit;
        }
        status
    }

    pub(super) fn builtin_eval(&mut self, args: &[String]) -> i32 {
        let text = args.join(" ");
        self.last_status = 0;
        let was_interactive = self.interactive;
        self.run_text(&text);
        let _ = was_interactive;
        self.last_status
    }

    pub(super) fn builtin_exec(&mut self, args: &[String]) -> i32 {
        if args.is_empty() {
            self.keep_redirects = true;
            return 0;
        }
        // This shell is the process (not a subshell or a command
        // substitution run inside it): the program replaces it. It returns
        // only the status of a program that could not start.
        if self.subshell_depth == 0 && self.captures.is_empty() {
            let status = self.exec_in_place(args);
            self.traps.remove("EXIT");
            self.exit_status = status;
            self.flow = Flow::Exit;
            return status;
        }
        // Inside a subshell run in this process: run the program, then end
        // the subshell with its status.
        let pgid = if self.job_control { 0 } else { self.shell_pgid };
        let status = match self.spawn_external(args, &[], pgid) {
            Ok(pid) => {
                let number = self.jobs.add(pid, &[pid], &args.join(" "));
                self.wait_foreground(number)
            }
            Err(status) => status,
        };
        self.traps.remove("EXIT");
        self.exit_status = status;
        self.flow = Flow::Exit;
        status
    }

    pub(super) fn builtin_exit(&mut self, args: &[String]) -> i32 {
        let status = match args.first() {
            None => self.last_status,
            Some(text) => match text.parse::<i64>() {
                Ok(n) => (n & 0xff) as i32,
                Err(_) => {
                    self.complain(&format!("exit: {text}: numeric argument required"));
                    2
                }
            },
        };
        self.exit_status = status;
        self.flow = Flow::Exit;
        status
    }

    pub(super) fn builtin_export(&mut self, args: &[String], readonly: bool) -> i32 {
        let name = if readonly { "readonly" } else { "export" };
        let names: Vec<&String> = args.iter().filter(|a| a.as_str() != "-p").collect();
        if names.is_empty() {
            self.print(&self.vars.listing(readonly));
            return 0;
        }
        let mut status = 0;
        for arg in names {
            let (variable, value) = match arg.split_once('=') {
                Some((variable, value)) => (variable, Some(value)),
                None => (arg.as_str(), None),
            };
            let result = if readonly {
                self.vars.make_readonly(variable, value)
            } else {
                self.vars.export(variable, value)
            };
            if let Err(error) = result {
                self.complain(&format!("{name}: {error}"));
                status = self.fail_special(1);
            }
        }
        status
    }

    pub(super) fn builtin_return(&mut self, args: &[String]) -> i32 {
        let status = match args.first() {
            None => self.last_status,
            Some(text) => match text.parse::<i64>() {
                Ok(n) => (n & 0xff) as i32,
                Err(_) => return self.builtin_error("return", &format!("{text}: bad number"), 2),
            },
        };
        if self.function_depth == 0 {
            return self.builtin_error("return", "not in a function or sourced file", 1);
        }
        self.last_status = status;
        self.flow = Flow::Return;
        status
    }

    pub(super) fn builtin_set(&mut self, args: &[String]) -> i32 {
        if args.is_empty() {
            self.print(&self.vars.all_listing());
            return 0;
        }
        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            if arg == "--" {
                self.positional = args[index + 1..].to_vec();
                return 0;
            }
            let (on, letters) = match arg.as_bytes().first() {
                Some(b'-') if arg.len() > 1 => (true, &arg[1..]),
                Some(b'+') if arg.len() > 1 => (false, &arg[1..]),
                Some(b'-') => {
                    self.options.xtrace = false;
                    self.options.verbose = false;
                    self.positional = args[index + 1..].to_vec();
                    return 0;
                }
                _ => break,
            };
            if letters == "o" {
                match args.get(index + 1) {
                    Some(option) => {
                        if !self.options.set(option, on) {
                            return self.builtin_error("set", &format!("{option}: bad option"), 2);
                        }
                        index += 2;
                        continue;
                    }
                    None => {
                        let options = self.options;
                        let mut text = String::new();
                        for (name, value) in [
                            ("allexport", options.allexport),
                            ("errexit", options.errexit),
                            ("noclobber", options.noclobber),
                            ("noexec", options.noexec),
                            ("noglob", options.noglob),
                            ("nounset", options.nounset),
                            ("verbose", options.verbose),
                            ("xtrace", options.xtrace),
                        ] {
                            if on {
                                text.push_str(&format!(
                                    "{name:<16}{}\n",
                                    if value { "on" } else { "off" }
                                ));
                            } else {
                                text.push_str(&format!(
                                    "set {}o {name}\n",
                                    if value { '-' } else { '+' }
                                ));
                            }
                        }
                        self.print(&text);
                        return 0;
                    }
                }
            }
            for letter in letters.chars() {
                if !self.options.set(letter.encode_utf8(&mut [0; 4]), on) {
                    return self.fail_special(self.builtin_error(
                        "set",
                        &format!("-{letter}: bad option"),
                        2,
                    ));
                }
            }
            index += 1;
        }
        if index < args.len() {
            self.positional = args[index..].to_vec();
        }
        0
    }

    pub(super) fn builtin_shift(&mut self, args: &[String]) -> i32 {
        let count = match args.first() {
            None => 1,
            Some(text) => match text.parse::<usize>() {
                Ok(n) => n,
                Err(_) => return self.builtin_error("shift", &format!("{text}: bad number"), 2),
            },
        };
        if count > self.positional.len() {
            self.complain("shift: can't shift that many");
            return self.fail_special(2);
        }
        self.positional.drain(..count);
        0
    }

    /// `times`: no per-process CPU accounting exists yet, so the shell
    /// reports its run time as user time and zero for the rest.
    pub(super) fn builtin_times(&mut self) -> i32 {
        let ns = posix::clock_ns();
        let seconds = ns / 1_000_000_000;
        let text = format!(
            "{}m{}.{:02}s 0m0.00s\n0m0.00s 0m0.00s\n",
            seconds / 60,
            seconds % 60,
            (ns / 10_000_000) % 100
        );
        self.print(&text);
        0
    }

    pub(super) fn builtin_trap(&mut self, args: &[String]) -> i32 {
        if args.is_empty() || args[0] == "-p" {
            let mut text = String::new();
            for (condition, action) in &self.traps {
                text.push_str(&format!("trap -- {} {condition}\n", quote(action)));
            }
            self.print(&text);
            return 0;
        }
        if args[0] == "-l" {
            self.print(&format!("{}\n", traps::names().join(" ")));
            return 0;
        }
        // `trap N...` (a number first) resets; `trap - N...` too.
        let (action, conditions) = if traps::parse_condition(&args[0]).is_some() && args.len() == 1
        {
            (None, args)
        } else if args[0] == "-" {
            (None, &args[1..])
        } else {
            (Some(args[0].clone()), &args[1..])
        };
        let mut status = 0;
        for condition in conditions {
            let Some(name) = traps::parse_condition(condition) else {
                status = self.builtin_error("trap", &format!("{condition}: bad trap"), 1);
                continue;
            };
            traps::install(&name, action.as_deref());
            match &action {
                Some(action) => {
                    self.traps.insert(name, action.clone());
                }
                None => {
                    self.traps.remove(&name);
                }
            }
        }
        status
    }

    pub(super) fn builtin_unset(&mut self, args: &[String]) -> i32 {
        let mut functions = false;
        let mut status = 0;
        for arg in args {
            match arg.as_str() {
                "-f" => functions = true,
                "-v" => functions = false,
                name if functions => {
                    self.functions.remove(name);
                }
                name => {
                    if let Err(error) = self.vars.unset(name) {
                        self.complain(&format!("unset: {error}"));
                        status = self.fail_special(1);
                    }
                }
            }
        }
        status
    }
}
