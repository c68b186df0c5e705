//! Running parsed commands: and-or lists, pipelines (one process group per
//! job, pipe ends closed in the parent after each spawn), builtins in the
//! shell process, external programs found on `$PATH`, foreground waits with
//! the terminal handed to the job, and background jobs in the job table.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix::{self, Errno, Fd, FileAction, Pid};
use libzos::proto::errno::{E2BIG, EACCES, ECHILD, ENOENT, ENOTDIR};
use libzos::proto::proc::signal::{SIGINT, SIGPIPE};
use libzos::{eprintln, println};
use zos_sh_core::builtins::{self, Builtin, CdTarget, HistoryCommand};
use zos_sh_core::command_path;
use zos_sh_core::fdplan::{ExpandedRedirect, FdAction, FdPlan, FdSource, PlanError};
use zos_sh_core::history::History;
use zos_sh_core::jobs::{JobRef, JobStatus, JobTable};
use zos_sh_core::vars::{ShellEnv, Specials, Variables};
use zos_sh_syntax::{
    expand_word_to_string, expand_words, parse, AndOr, Command, Connector, Pipeline, RedirectKind,
};

use crate::terminal::Terminal;

/// One command of a pipeline after expansion.
struct Stage {
    argv: Vec<String>,
    assignments: Vec<(String, String)>,
    redirects: Vec<ExpandedRedirect>,
}

/// What became of one pipeline stage.
enum Outcome {
    Running(Pid),
    Finished(i32),
}

/// Where a builtin's standard output and error go (`None`: discarded).
#[derive(Clone, Copy)]
struct BuiltinIo {
    out: Option<Fd>,
    err: Option<Fd>,
}

impl BuiltinIo {
    fn from_plan(plan: &FdPlan) -> BuiltinIo {
        let target = |fd| match plan.source(fd) {
            FdSource::Parent(parent) => Some(parent),
            FdSource::Null | FdSource::Closed => None,
        };
        BuiltinIo {
            out: target(1),
            err: target(2),
        }
    }

    fn print(&self, text: &str) {
        if let Some(fd) = self.out {
            let _ = posix::write_all(fd, text.as_bytes());
        }
    }

    /// `sh: NAME: message` on standard error.
    fn complain(&self, name: &str, message: &str) {
        if let Some(fd) = self.err {
            let _ = posix::write_all(fd, format!("sh: {name}: {message}\n").as_bytes());
        }
    }
}

pub struct Shell {
    pub variables: Variables,
    pub specials: Specials,
    pub history: History,
    pub jobs: JobTable,
    /// Job control: each foreground pipeline in its own group, owning the
    /// terminal while it runs (an interactive shell on a terminal).
    pub job_control: bool,
    /// Report finished background jobs before prompts.
    pub interactive: bool,
    pub shell_pgid: Pid,
    /// Descriptors open when the shell started, which children inherit.
    pub inherited_fds: Vec<Fd>,
    /// Set by `exit`: leave with this status after the current command.
    pub exit_request: Option<i32>,
    /// The pipeline being started is a background job (init keeps a reserve
    /// of processes and memory that only foreground commands may use).
    pub starting_background: bool,
}

fn to_file_action(action: FdAction) -> FileAction {
    match action {
        FdAction::Dup2 { from, to } => FileAction::Dup2 { from, to },
        FdAction::Close(fd) => FileAction::Close(fd),
    }
}

fn job_status(wait_status: i32) -> JobStatus {
    match posix::term_signal(wait_status) {
        Some(signal) => JobStatus::Signaled(signal),
        None => JobStatus::Exited(posix::status_code(wait_status)),
    }
}

impl Shell {
    pub fn new(name: String, positional: Vec<String>) -> Shell {
        let environment = posix::environment();
        Shell {
            variables: Variables::from_environment(environment.iter().map(String::as_str)),
            specials: Specials {
                last_status: 0,
                shell_pid: posix::getpid(),
                last_background_pid: None,
                name,
                positional,
            },
            history: History::default(),
            jobs: JobTable::new(),
            job_control: false,
            interactive: false,
            shell_pgid: posix::getpgrp(),
            inherited_fds: posix::descriptors(),
            exit_request: None,
            starting_background: false,
        }
    }

    pub fn last_status(&self) -> i32 {
        self.specials.last_status
    }

    pub fn set_status(&mut self, status: i32) {
        self.specials.last_status = status;
    }

    /// Parses and runs a line or script; a syntax error sets `$?` to 2.
    pub fn run_text(&mut self, text: &str, terminal: Option<&Terminal>) {
        let script = match parse(text) {
            Ok(script) => script,
            Err(error) => {
                eprintln!("sh: {error}");
                self.set_status(2);
                return;
            }
        };
        for item in &script.items {
            self.run_and_or(item, terminal);
            if self.exit_request.is_some() {
                return;
            }
        }
    }

    fn run_and_or(&mut self, item: &AndOr, terminal: Option<&Terminal>) {
        if item.background {
            self.run_background(item);
            return;
        }
        let mut status = self.run_pipeline(&item.first, false, terminal);
        self.set_status(status);
        for (connector, pipeline) in &item.rest {
            if self.exit_request.is_some() {
                return;
            }
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                status = self.run_pipeline(pipeline, false, terminal);
                self.set_status(status);
            }
        }
    }

    /// `&`: a plain pipeline of external commands runs as a job directly;
    /// anything needing the shell itself (`a && b &`, a lone builtin) runs
    /// in a child shell, `sh -c TEXT`.
    fn run_background(&mut self, item: &AndOr) {
        let lone_builtin = item.first.commands.len() == 1
            && item.first.commands[0]
                .words
                .first()
                .and_then(|word| word.as_literal())
                .is_some_and(|name| builtins::is_builtin(&name));
        if item.rest.is_empty() && !lone_builtin && !item.first.negated {
            let status = self.run_pipeline(&item.first, true, None);
            self.set_status(status);
            return;
        }
        let mut foreground = item.clone();
        foreground.background = false;
        let text = foreground.to_string();
        let stage = Stage {
            argv: alloc::vec!["sh".to_string(), "-c".to_string(), text.clone()],
            assignments: Vec::new(),
            redirects: Vec::new(),
        };
        let status = self.run_stages(&[stage], &text, true, None);
        self.set_status(status);
    }

    fn expand_command(&self, command: &Command) -> Stage {
        let fallback = |name: &str| posix::getenv(name);
        let env = ShellEnv {
            variables: &self.variables,
            specials: &self.specials,
            fallback: &fallback,
        };
        Stage {
            argv: expand_words(&command.words, &env),
            assignments: command
                .assignments
                .iter()
                .map(|(name, value)| (name.clone(), expand_word_to_string(value, &env)))
                .collect(),
            redirects: command
                .redirects
                .iter()
                .map(|redirect| ExpandedRedirect {
                    fd: redirect.fd,
                    kind: redirect.kind,
                    target: expand_word_to_string(&redirect.target, &env),
                })
                .collect(),
        }
    }

    /// Runs a pipeline and returns its status (negated for `!`).
    fn run_pipeline(
        &mut self,
        pipeline: &Pipeline,
        background: bool,
        terminal: Option<&Terminal>,
    ) -> i32 {
        let stages: Vec<Stage> = pipeline
            .commands
            .iter()
            .map(|command| self.expand_command(command))
            .collect();
        let status = self.run_stages(&stages, &pipeline.to_string(), background, terminal);
        if pipeline.negated {
            i32::from(status == 0)
        } else {
            status
        }
    }

    /// Applies a stage's redirections in order: files are opened here, in the
    /// shell (the child gets the open descriptor), dups and closes rearrange
    /// the plan. Opened descriptors join `opened` so the shell closes them
    /// once the child has its copies. Returns the status on failure.
    fn apply_redirects(
        &self,
        plan: &mut FdPlan,
        redirects: &[ExpandedRedirect],
        opened: &mut Vec<Fd>,
    ) -> Result<(), i32> {
        use libzos::fs::{O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
        for redirect in redirects {
            let flags = match redirect.kind {
                RedirectKind::Read => Some(O_RDONLY),
                RedirectKind::Write => Some(O_WRONLY | O_CREAT | O_TRUNC),
                RedirectKind::Append => Some(O_WRONLY | O_CREAT | O_APPEND),
                RedirectKind::ReadWrite => Some(O_RDWR | O_CREAT),
                _ => None,
            };
            match flags {
                Some(flags) => match posix::open(&redirect.target, flags, 0o666) {
                    Ok(fd) => {
                        opened.push(fd);
                        plan.connect(redirect.fd as i32, fd);
                    }
                    Err(error) => {
                        eprintln!("sh: {}: {error}", redirect.target);
                        return Err(1);
                    }
                },
                None => {
                    if let Err(error) = plan.apply(redirect) {
                        self.report_plan_error(&error);
                        return Err(1);
                    }
                }
            }
        }
        Ok(())
    }

    fn report_plan_error(&self, error: &PlanError) {
        match error {
            PlanError::NotImplemented(path) => {
                eprintln!(
                    "sh: {path}: {}",
                    Errno(libzos::proto::errno::ENOSYS).describe()
                )
            }
            PlanError::BadDescriptor(fd) => {
                eprintln!(
                    "sh: {fd}: {}",
                    Errno(libzos::proto::errno::EBADF).describe()
                )
            }
        }
    }

    fn run_stages(
        &mut self,
        stages: &[Stage],
        text: &str,
        background: bool,
        terminal: Option<&Terminal>,
    ) -> i32 {
        let in_pipeline = stages.len() > 1;
        let own_group = background || self.job_control;
        self.starting_background = background;
        let mut pgid: Pid = if own_group { 0 } else { self.shell_pgid };
        let mut outcomes: Vec<Outcome> = Vec::new();
        // Builtin stages run in this process after every external stage has
        // started (so their readers exist); their pipe ends stay open until
        // then.
        let mut deferred: Vec<(usize, FdPlan, Vec<Fd>)> = Vec::new();
        let mut previous_read: Option<Fd> = None;
        for (index, stage) in stages.iter().enumerate() {
            let last = index + 1 == stages.len();
            let (next_read, write) = if last {
                (None, None)
            } else {
                match posix::pipe() {
                    Ok((read_end, write_end)) => (Some(read_end), Some(write_end)),
                    Err(error) => {
                        eprintln!("sh: pipe: {}", error.describe());
                        if let Some(fd) = previous_read {
                            let _ = posix::close(fd);
                        }
                        outcomes.push(Outcome::Finished(1));
                        break;
                    }
                }
            };
            let mut plan = FdPlan::inherit(&self.inherited_fds);
            if let Some(read_end) = previous_read {
                plan.connect(0, read_end);
            }
            if let Some(write_end) = write {
                plan.connect(1, write_end);
            }
            let mut parent_ends: Vec<Fd> = previous_read.into_iter().chain(write).collect();
            previous_read = next_read;
            if let Err(status) = self.apply_redirects(&mut plan, &stage.redirects, &mut parent_ends)
            {
                outcomes.push(Outcome::Finished(status));
                close_all(&parent_ends);
                continue;
            }
            let is_builtin = stage
                .argv
                .first()
                .is_some_and(|name| builtins::is_builtin(name));
            if stage.argv.is_empty() {
                if !in_pipeline && !background {
                    self.assign(&stage.assignments);
                }
                outcomes.push(Outcome::Finished(0));
                close_all(&parent_ends);
            } else if is_builtin {
                outcomes.push(Outcome::Finished(0));
                deferred.push((index, plan, parent_ends));
            } else {
                let actions: Vec<FileAction> = plan
                    .actions(posix::MAX_CHILD_FDS as i32)
                    .into_iter()
                    .map(to_file_action)
                    .collect();
                match self.spawn_external(stage, &actions, pgid) {
                    Ok(pid) => {
                        if own_group && pgid == 0 {
                            pgid = pid;
                        }
                        outcomes.push(Outcome::Running(pid));
                    }
                    Err(status) => outcomes.push(Outcome::Finished(status)),
                }
                close_all(&parent_ends);
            }
        }
        // Last first: a builtin reading a pipe (builtins never read) closes its
        // end before an earlier builtin writes into it, which then gets EPIPE
        // instead of filling a pipe only the shell holds.
        for (index, plan, parent_ends) in deferred.into_iter().rev() {
            let io = BuiltinIo::from_plan(&plan);
            let status = self.run_builtin(&stages[index].argv, io, in_pipeline, terminal);
            outcomes[index] = Outcome::Finished(status);
            close_all(&parent_ends);
        }
        let pids: Vec<Pid> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Running(pid) => Some(*pid),
                Outcome::Finished(_) => None,
            })
            .collect();
        let last_outcome_status = match outcomes.last() {
            Some(Outcome::Finished(status)) => Some(*status),
            _ => None,
        };
        if pids.is_empty() {
            return last_outcome_status.unwrap_or(0);
        }
        let group = if own_group { pgid } else { pids[0] };
        let number = self.jobs.add(group, &pids, text);
        if background {
            if let Some(pid) = pids.last() {
                self.specials.last_background_pid = Some(*pid);
                if self.interactive {
                    println!("[{number}] {pid}");
                }
            }
            return 0;
        }
        let job_terminal = if self.job_control { terminal } else { None };
        let status = self.wait_foreground(number, job_terminal);
        last_outcome_status.unwrap_or(status)
    }

    /// Waits for every process of job `number` with the terminal handed to
    /// its group; removes the job and returns its `$?`.
    fn wait_foreground(&mut self, number: usize, terminal: Option<&Terminal>) -> i32 {
        let Some(pgid) = self.jobs.get(number).map(|job| job.pgid) else {
            return 0;
        };
        if let Some(terminal) = terminal {
            terminal.give_to(pgid);
        }
        self.wait_job(number);
        if let Some(terminal) = terminal {
            terminal.take_back();
        }
        let Some(job) = self.jobs.remove(number) else {
            return 0;
        };
        let interrupted = job
            .processes
            .iter()
            .any(|(_, status)| *status == Some(JobStatus::Signaled(SIGINT)));
        let status = job.status().unwrap_or(JobStatus::Exited(0));
        if interrupted {
            println!();
        } else if let JobStatus::Signaled(signal) = status {
            if signal != SIGPIPE {
                eprintln!("{}", status.describe());
            }
        }
        status.code()
    }

    /// Waits until every process of job `number` ended (recording them).
    fn wait_job(&mut self, number: usize) {
        let pids = self
            .jobs
            .get(number)
            .map(|job| job.running_pids())
            .unwrap_or_default();
        for pid in pids {
            let status = match posix::waitpid(pid as i32, false) {
                Ok(Some((_, wait_status))) => job_status(wait_status),
                // Already gone (reaped elsewhere): nothing more to learn.
                Ok(None) | Err(_) => JobStatus::Exited(127),
            };
            self.jobs.record(pid, status);
        }
    }

    /// Collects ended background processes without blocking.
    pub fn reap_background(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        while let Ok(Some((pid, wait_status))) = posix::waitpid(-1, true) {
            self.jobs.record(pid, job_status(wait_status));
        }
    }

    /// `[N]+ Done    cmd` for every background job that ended.
    pub fn report_done_jobs(&mut self) {
        self.reap_background();
        for line in self.jobs.take_done() {
            println!("{line}");
        }
    }

    /// `A=b` alone: shell variables (exported ones reach the environment).
    fn assign(&mut self, assignments: &[(String, String)]) {
        for (name, value) in assignments {
            self.variables.set(name, value);
            if self.variables.is_exported(name) {
                posix::setenv(name, value);
            }
        }
    }

    /// Starts an external command; the error is the status to report.
    fn spawn_external(
        &mut self,
        stage: &Stage,
        actions: &[FileAction],
        pgid: Pid,
    ) -> Result<Pid, i32> {
        let Some(name) = stage.argv.first() else {
            return Err(0);
        };
        let argv = if name == "kill" {
            match self.jobs.expand_kill_arguments(&stage.argv) {
                Ok(argv) => argv,
                Err(message) => {
                    eprintln!("sh: kill: {message}");
                    return Err(1);
                }
            }
        } else {
            stage.argv.clone()
        };
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let environment = self.variables.child_environment(&stage.assignments);
        let environment_refs: Vec<&str> = environment.iter().map(String::as_str).collect();
        let path_variable = self
            .variables
            .get("PATH")
            .map(ToString::to_string)
            .or_else(|| posix::getenv("PATH"));
        let cwd = posix::getcwd();
        let mut not_executable: Option<Errno> = None;
        for path in command_path::candidates(name, path_variable.as_deref(), &cwd) {
            let foreground = !self.starting_background;
            match posix::spawn_job(
                &path,
                &argv_refs,
                &environment_refs,
                actions,
                pgid,
                foreground,
            ) {
                Ok(pid) => return Ok(pid),
                Err(Errno(ENOENT | ENOTDIR)) => {}
                Err(error @ Errno(EACCES)) => not_executable = Some(error),
                Err(error) => return Err(report_spawn_error(name, error)),
            }
        }
        match not_executable {
            Some(error) => Err(report_spawn_error(name, error)),
            None => {
                eprintln!("sh: {name}: not found");
                Err(127)
            }
        }
    }

    /// Runs a builtin in the shell. In a pipeline of several commands
    /// builtins act as if in a subshell: no effect on the shell's state.
    fn run_builtin(
        &mut self,
        argv: &[String],
        io: BuiltinIo,
        in_pipeline: bool,
        terminal: Option<&Terminal>,
    ) -> i32 {
        let name = argv.first().map(String::as_str).unwrap_or_default();
        let builtin = match builtins::parse_builtin(argv) {
            None => return 0,
            Some(Err(error)) => {
                io.complain(name, &error.message);
                return error.status;
            }
            Some(Ok(builtin)) => builtin,
        };
        match builtin {
            Builtin::True => 0,
            Builtin::False => 1,
            Builtin::Pwd => {
                io.print(&format!("{}\n", posix::getcwd()));
                0
            }
            Builtin::Help => {
                io.print(&builtins::help_text());
                0
            }
            Builtin::History(HistoryCommand::List(count)) => {
                io.print(&self.history.listing(count));
                0
            }
            Builtin::History(HistoryCommand::Clear) => {
                if !in_pipeline {
                    self.history.clear();
                }
                0
            }
            Builtin::Jobs => {
                self.reap_background();
                io.print(&self.jobs.listing());
                0
            }
            Builtin::ExportList => {
                io.print(&self.variables.export_listing());
                0
            }
            Builtin::Exit { code, complaint } => {
                if let Some(complaint) = complaint {
                    io.complain("exit", &complaint);
                }
                let code = code.unwrap_or(self.last_status());
                if !in_pipeline {
                    self.exit_request = Some(code);
                }
                code
            }
            _ if in_pipeline => 0,
            Builtin::Cd(target) => self.change_directory(target, io),
            Builtin::Export(exports) => {
                for (name, value) in exports {
                    self.variables.export(&name, value.as_deref());
                    if let Some(value) = self.variables.get(&name) {
                        posix::setenv(&name, value);
                    }
                }
                0
            }
            Builtin::Unset(names) => {
                for name in names {
                    self.variables.unset(&name);
                    posix::unsetenv(&name);
                }
                0
            }
            Builtin::Fg(reference) => {
                self.reap_background();
                let Some(job) = self.jobs.resolve(reference) else {
                    io.complain("fg", "no such job");
                    return 1;
                };
                let number = job.number;
                io.print(&format!("{}\n", job.command));
                let job_terminal = if self.job_control { terminal } else { None };
                self.wait_foreground(number, job_terminal)
            }
            Builtin::Wait(references) => self.wait_builtin(&references, io),
        }
    }

    fn change_directory(&mut self, target: CdTarget, io: BuiltinIo) -> i32 {
        let lookup = |shell: &Shell, name: &str| {
            shell
                .variables
                .get(name)
                .map(ToString::to_string)
                .or_else(|| posix::getenv(name))
        };
        let (directory, announce) = match target {
            CdTarget::Home => (
                lookup(self, "HOME")
                    .filter(|home| !home.is_empty())
                    .unwrap_or_else(|| "/".to_string()),
                false,
            ),
            CdTarget::Previous => match lookup(self, "OLDPWD") {
                Some(previous) => (previous, true),
                None => {
                    io.complain("cd", "OLDPWD not set");
                    return 1;
                }
            },
            CdTarget::Path(path) => (path, false),
        };
        let old = posix::getcwd();
        if let Err(error) = posix::chdir(&directory) {
            io.complain("cd", &format!("{directory}: {}", error.describe()));
            return 1;
        }
        let new = posix::getcwd();
        self.assign(&[
            ("OLDPWD".to_string(), old),
            ("PWD".to_string(), new.clone()),
        ]);
        if announce {
            io.print(&format!("{new}\n"));
        }
        0
    }

    /// `wait`: no operand waits for every job and returns 0 (POSIX); with
    /// operands, the status of the last one (127 if it is not a child).
    fn wait_builtin(&mut self, references: &[JobRef], io: BuiltinIo) -> i32 {
        self.reap_background();
        if references.is_empty() {
            let numbers: Vec<usize> = self.jobs.jobs().iter().map(|job| job.number).collect();
            for number in numbers {
                self.wait_job(number);
                self.jobs.remove(number);
            }
            return 0;
        }
        let mut status = 0;
        for reference in references {
            status = match self.jobs.resolve(*reference).map(|job| job.number) {
                Some(number) => {
                    self.wait_job(number);
                    self.jobs
                        .remove(number)
                        .and_then(|job| job.status())
                        .map_or(127, JobStatus::code)
                }
                None => match reference {
                    JobRef::Pid(pid) => match posix::waitpid(*pid as i32, false) {
                        Ok(Some((_, wait_status))) => posix::status_code(wait_status),
                        Ok(None) | Err(Errno(ECHILD)) | Err(_) => {
                            io.complain("wait", &format!("pid {pid} is not a child of this shell"));
                            127
                        }
                    },
                    JobRef::Number(number) => {
                        io.complain("wait", &format!("%{number}: no such job"));
                        127
                    }
                    JobRef::Current | JobRef::Previous => {
                        io.complain("wait", "no current job");
                        127
                    }
                },
            };
        }
        status
    }
}

fn close_all(fds: &[Fd]) {
    for fd in fds {
        let _ = posix::close(*fd);
    }
}

/// Prints why a command could not start; returns 126 (found but not run).
fn report_spawn_error(name: &str, error: Errno) -> i32 {
    let message = match error.0 {
        E2BIG => "Argument list too long",
        _ => error.describe(),
    };
    eprintln!("sh: {name}: {message}");
    126
}
