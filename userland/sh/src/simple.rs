//! Simple commands: expansion of words and assignments, `set -x` traces,
//! and dispatch — special built-ins (assignments stay), functions, regular
//! built-ins (assignments last for the command), external programs found
//! on `$PATH` (assignments go to their environment).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix::{self, Errno, Pid};
use libzos::proto::errno::{E2BIG, EACCES, ENOENT, ENOEXEC, ENOTDIR};
use zos_sh_core::builtins;
use zos_sh_core::command_path;
use zos_sh_syntax::{expand_to_string, expand_words, Command, ExpandError, SimpleCommand};

use crate::shell::{internal_descriptors, Flow, Shell};

/// A simple command after expansion.
pub struct Stage {
    pub argv: Vec<String>,
    pub assignments: Vec<(String, String)>,
}

impl Shell {
    /// Runs any command of a pipeline in the shell.
    pub fn run_command(&mut self, command: &Command) -> i32 {
        if self.stack_exhausted() {
            self.complain("nesting too deep (functions, subshells or substitutions)");
            self.abort(2);
            return 2;
        }
        let status = match command {
            Command::Simple(simple) => self.run_simple(simple),
            Command::Compound(compound, redirects) => {
                self.run_compound_redirected(compound, redirects)
            }
            Command::Function(definition) => {
                if builtins::is_special(&definition.name) {
                    self.complain(&format!(
                        "{}: a special built-in cannot be redefined",
                        definition.name
                    ));
                    return 2;
                }
                self.functions
                    .insert(definition.name.clone(), definition.clone());
                0
            }
        };
        self.last_status = status;
        status
    }

    /// Reports an expansion error; a non-interactive shell then exits.
    pub fn expansion_failed(&mut self, error: &ExpandError) -> i32 {
        self.complain(&error.to_string());
        if !self.interactive {
            self.exit_status = if matches!(error, ExpandError::Arith(_)) {
                2
            } else {
                1
            };
            self.flow = Flow::Exit;
        }
        1
    }

    /// Expands a simple command's words and assignment values.
    pub fn prepare_simple(&mut self, simple: &SimpleCommand) -> Result<Stage, i32> {
        self.lineno = simple.line;
        let argv = match expand_words(&simple.words, self) {
            Ok(argv) => argv,
            Err(error) => return Err(self.expansion_failed(&error)),
        };
        let mut assignments = Vec::new();
        for (name, value) in &simple.assignments {
            match expand_to_string(value, self) {
                Ok(value) => assignments.push((name.clone(), value)),
                Err(error) => return Err(self.expansion_failed(&error)),
            }
        }
        Ok(Stage { argv, assignments })
    }

    /// `set -x`: the command as it runs, after `$PS4`.
    fn trace(&mut self, stage: &Stage) {
        if !self.options.xtrace {
            return;
        }
        let mut line = self.vars.get("PS4").unwrap_or("+ ").to_string();
        let mut first = true;
        for (name, value) in &stage.assignments {
            if !first {
                line.push(' ');
            }
            first = false;
            line.push_str(&format!("{name}={}", zos_sh_core::vars::quote(value)));
        }
        for arg in &stage.argv {
            if !first {
                line.push(' ');
            }
            first = false;
            line.push_str(&zos_sh_core::vars::quote(arg));
        }
        line.push('\n');
        crate::shell::out(2, &line);
    }

    /// Sets variables in the shell (`A=1` alone, or before a special
    /// built-in); returns false if one was read-only.
    pub fn assign(&mut self, assignments: &[(String, String)]) -> bool {
        for (name, value) in assignments {
            if let Err(error) = self.vars.set(name, value) {
                self.complain(&error.to_string());
                if !self.interactive {
                    self.exit_status = 1;
                    self.flow = Flow::Exit;
                }
                return false;
            }
            if self.options.allexport {
                let _ = self.vars.export(name, None);
            }
        }
        true
    }

    /// Alias substitution: a command name that is an alias runs as the
    /// alias's text followed by the rest of the command (not recursively).
    pub fn alias_text(&self, simple: &SimpleCommand) -> Option<String> {
        if !simple.assignments.is_empty() || self.aliases.is_empty() {
            return None;
        }
        let name = simple.words.first()?.as_plain()?;
        if self.expanding_aliases.iter().any(|active| active == name) {
            return None;
        }
        let value = self.aliases.get(name)?;
        let rest = simple.source.trim_start().strip_prefix(name)?;
        Some(format!("{value}{rest}"))
    }

    fn run_simple(&mut self, simple: &SimpleCommand) -> i32 {
        if let Some(text) = self.alias_text(simple) {
            let name = simple.words[0].as_plain().unwrap_or_default().to_string();
            self.expanding_aliases.push(name);
            self.last_status = 0;
            self.run_text(&text);
            self.expanding_aliases.pop();
            return self.last_status;
        }
        self.substitution_status = None;
        let stage = match self.prepare_simple(simple) {
            Ok(stage) => stage,
            Err(status) => return status,
        };
        // A command without a name has the last command substitution's status.
        let substitution_status = self.substitution_status.take().unwrap_or(0);
        self.trace(&stage);
        let Some(name) = stage.argv.first().cloned() else {
            if !self.assign(&stage.assignments) {
                return 1;
            }
            return match self.redirect(&simple.redirects) {
                Ok(saved) => {
                    self.restore(saved);
                    substitution_status
                }
                Err(status) => status,
            };
        };
        let saved = match self.redirect(&simple.redirects) {
            Ok(saved) => saved,
            Err(status) => {
                if builtins::is_special(&name) && !self.interactive {
                    self.exit_status = status;
                    self.flow = Flow::Exit;
                }
                return status;
            }
        };
        let status = if builtins::is_special(&name) {
            if self.assign(&stage.assignments) {
                self.run_builtin(&stage.argv)
            } else {
                1
            }
        } else if let Some(function) = self.functions.get(&name).cloned() {
            let restore = self.temporary_assign(&stage.assignments);
            let status = self.call_function(&function, &stage.argv);
            self.undo_temporary(restore);
            status
        } else if builtins::is_builtin(&name) {
            let restore = self.temporary_assign(&stage.assignments);
            let status = self.run_builtin(&stage.argv);
            self.undo_temporary(restore);
            status
        } else {
            let own_group = self.job_control;
            let pgid = if own_group { 0 } else { self.shell_pgid };
            match self.spawn_external(&stage.argv, &stage.assignments, pgid) {
                Ok(pid) => {
                    let number = self.jobs.add(pid, &[pid], &self.current_text(&stage));
                    self.wait_foreground(number)
                }
                Err(status) => status,
            }
        };
        if self.keep_redirects {
            self.keep_redirects = false;
            self.forget(saved);
        } else {
            self.restore(saved);
        }
        status
    }

    fn current_text(&self, stage: &Stage) -> String {
        stage.argv.join(" ")
    }

    /// Sets variables for one built-in or function call; returns what to
    /// put back.
    fn temporary_assign(
        &mut self,
        assignments: &[(String, String)],
    ) -> Vec<(String, Option<String>, bool)> {
        let mut restore = Vec::new();
        for (name, value) in assignments {
            restore.push((
                name.clone(),
                self.vars.get(name).map(ToString::to_string),
                self.vars.is_exported(name),
            ));
            if let Err(error) = self.vars.set(name, value) {
                self.complain(&error.to_string());
            }
        }
        restore
    }

    fn undo_temporary(&mut self, restore: Vec<(String, Option<String>, bool)>) {
        for (name, value, _) in restore.into_iter().rev() {
            match value {
                Some(value) => {
                    let _ = self.vars.set(&name, &value);
                }
                None => {
                    let _ = self.vars.unset(&name);
                }
            }
        }
    }

    /// True if the expanded command is neither a built-in nor a function.
    pub fn is_external(&self, stage: &Stage) -> bool {
        stage
            .argv
            .first()
            .is_some_and(|name| !builtins::is_builtin(name) && !self.functions.contains_key(name))
    }

    /// Starts an external command with the shell's descriptors 0–3;
    /// redirections of the command are applied around the spawn.
    pub fn spawn_stage(
        &mut self,
        stage: &Stage,
        redirects: &[zos_sh_syntax::Redirect],
        pgid: Pid,
    ) -> Result<Pid, i32> {
        let saved = self.redirect(redirects)?;
        let result = self.spawn_external(&stage.argv, &stage.assignments, pgid);
        self.restore(saved);
        result
    }

    /// Finds `argv[0]` on `$PATH` and starts it; the error is the status.
    pub fn spawn_external(
        &mut self,
        argv: &[String],
        assignments: &[(String, String)],
        pgid: Pid,
    ) -> Result<Pid, i32> {
        let Some(name) = argv.first() else {
            return Err(0);
        };
        self.materialize_capture();
        let argv = if name == "kill" {
            match self.jobs.expand_kill_arguments(argv) {
                Ok(argv) => argv,
                Err(message) => {
                    self.complain(&format!("kill: {message}"));
                    return Err(1);
                }
            }
        } else {
            argv.to_vec()
        };
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let environment = self.vars.child_environment(assignments);
        let environment_refs: Vec<&str> = environment.iter().map(String::as_str).collect();
        // `PATH=... cmd` searches the command's own PATH.
        let path_variable = assignments
            .iter()
            .rev()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.clone())
            .or_else(|| self.vars.get("PATH").map(ToString::to_string));
        let cwd = posix::getcwd();
        let mut not_executable: Option<Errno> = None;
        let internal = internal_descriptors();
        for path in command_path::candidates(name, path_variable.as_deref(), &cwd) {
            let job = self.job_kind();
            match posix::spawn_job(&path, &argv_refs, &environment_refs, &internal, pgid, job) {
                Ok(pid) => return Ok(pid),
                Err(Errno(ENOENT | ENOTDIR)) => {}
                Err(Errno(ENOEXEC))
                    if !libzos::fs::stat(&path).is_ok_and(|stat| stat.mode & 0o111 != 0) =>
                {
                    return Err(self.report_spawn_error(name, Errno(EACCES)));
                }
                Err(Errno(ENOEXEC)) => {
                    // A text file without `#!`: run it with this shell.
                    let mut script_argv = alloc::vec!["sh", path.as_str()];
                    script_argv.extend(argv_refs.iter().skip(1));
                    return posix::spawn_job(
                        "/bin/sh",
                        &script_argv,
                        &environment_refs,
                        &internal,
                        pgid,
                        job,
                    )
                    .map_err(|error| self.report_spawn_error(name, error));
                }
                Err(error @ Errno(EACCES)) => not_executable = Some(error),
                Err(error) => return Err(self.report_spawn_error(name, error)),
            }
        }
        match not_executable {
            Some(error) => Err(self.report_spawn_error(name, error)),
            None => {
                self.complain(&format!("{name}: not found"));
                Err(127)
            }
        }
    }

    /// `exec NAME ARGS…` in the shell's own process: the program found on
    /// `PATH` replaces the shell (same pid, descriptors 0–3, the terminal
    /// left in its usual settings). Returns only when none could start,
    /// with the status POSIX gives that (127 not found, 126 not executable).
    pub fn exec_in_place(&mut self, argv: &[String]) -> i32 {
        let Some(name) = argv.first() else {
            return 0;
        };
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let environment = self.vars.child_environment(&[]);
        let environment_refs: Vec<&str> = environment.iter().map(String::as_str).collect();
        let path_variable = self.vars.get("PATH").map(ToString::to_string);
        let cwd = posix::getcwd();
        if let Some(terminal) = &self.terminal {
            terminal.restore();
        }
        let mut not_executable: Option<Errno> = None;
        let internal = internal_descriptors();
        for path in command_path::candidates(name, path_variable.as_deref(), &cwd) {
            match posix::exec(&path, &argv_refs, &environment_refs, &internal) {
                Errno(ENOENT | ENOTDIR) => {}
                Errno(ENOEXEC) if libzos::fs::stat(&path).is_ok_and(|s| s.mode & 0o111 != 0) => {
                    // A text file without `#!`: this shell's language.
                    let mut script_argv = alloc::vec!["sh", path.as_str()];
                    script_argv.extend(argv_refs.iter().skip(1));
                    let error = posix::exec("/bin/sh", &script_argv, &environment_refs, &internal);
                    return self.report_spawn_error(name, error);
                }
                Errno(ENOEXEC) => return self.report_spawn_error(name, Errno(EACCES)),
                error @ Errno(EACCES) => not_executable = Some(error),
                error => return self.report_spawn_error(name, error),
            }
        }
        match not_executable {
            Some(error) => self.report_spawn_error(name, error),
            None => {
                self.complain(&format!("exec: {name}: not found"));
                127
            }
        }
    }

    /// What a process started now is to this shell: a background job, a
    /// foreground job that takes the terminal at start (with job control),
    /// or a plain command.
    pub fn job_kind(&self) -> posix::Job {
        if self.starting_background {
            posix::Job::Background
        } else if self.job_control && self.terminal.is_some() {
            posix::Job::Foreground
        } else {
            posix::Job::Command
        }
    }

    /// Prints why a command could not start; returns 126.
    pub fn report_spawn_error(&self, name: &str, error: Errno) -> i32 {
        let message = match error.0 {
            E2BIG => "Argument list too long",
            _ => error.describe(),
        };
        self.complain(&format!("{name}: {message}"));
        126
    }
}
