//! Running lists, and-or lists and pipelines. A single command runs in the
//! shell; in a pipeline of several, external commands are spawned with
//! their pipe ends, the last stage runs in the shell as an in-process
//! subshell if it is a built-in, function or compound command, and other
//! such stages run in a child shell (see `subshell.rs`). `set -e` is
//! applied here, with POSIX's exceptions.

use alloc::vec::Vec;

use libzos::posix::{self, Pid};
use libzos::proto::proc::signal::{SIGINT, SIGPIPE};
use libzos::proto::proc::wait;
use zos_sh_core::jobs::JobStatus;
use zos_sh_syntax::{AndOr, Command, Connector, ListItem, Pipeline, Program};

use crate::shell::{move_high, Flow, Shell};

/// How one stage of a pipeline was started.
enum Started {
    Process(Pid),
    Done(i32),
}

pub fn job_status(wait_status: i32) -> JobStatus {
    match posix::term_signal(wait_status) {
        Some(signal) => JobStatus::Signaled(signal),
        None => JobStatus::Exited(posix::status_code(wait_status)),
    }
}

impl Shell {
    /// Runs a list; stops early when `flow` leaves `Normal`.
    pub fn run_program(&mut self, program: &Program) -> i32 {
        for item in &program.items {
            if self.interactive && self.check_interrupt() {
                break;
            }
            self.run_item(item);
            if self.flow != Flow::Normal {
                break;
            }
        }
        self.last_status
    }

    fn run_item(&mut self, item: &ListItem) {
        if item.background {
            self.run_background(item);
            return;
        }
        let status = self.run_and_or(&item.and_or);
        self.last_status = status;
    }

    pub fn run_and_or(&mut self, and_or: &AndOr) -> i32 {
        let count = and_or.rest.len();
        // All but the last pipeline are exempt from `set -e`.
        if count > 0 {
            self.errexit_suppressed += 1;
        }
        let mut status = self.run_pipeline_checked(&and_or.first, count == 0);
        for (index, (connector, pipeline)) in and_or.rest.iter().enumerate() {
            if self.flow != Flow::Normal {
                break;
            }
            let last = index + 1 == count;
            if last {
                self.errexit_suppressed -= 1;
            }
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                status = self.run_pipeline_checked(pipeline, last);
            }
            if !run && last {
                // Skipped last pipeline: the status stands, no `set -e`.
                self.last_status = status;
                return status;
            }
        }
        if count > 0 && self.errexit_suppressed > 0 && self.flow != Flow::Normal {
            // Unwinding (return/exit) before the last pipeline ran.
        }
        status
    }

    /// Runs a pipeline, sets `$?`, and applies `set -e` when `checked`.
    fn run_pipeline_checked(&mut self, pipeline: &Pipeline, checked: bool) -> i32 {
        if pipeline.negated {
            self.errexit_suppressed += 1;
        }
        let status = self.run_pipeline(pipeline, false);
        if pipeline.negated {
            self.errexit_suppressed -= 1;
        }
        let status = if pipeline.negated {
            i32::from(status == 0)
        } else {
            status
        };
        self.last_status = status;
        if checked
            && status != 0
            && !pipeline.negated
            && self.options.errexit
            && self.errexit_suppressed == 0
            && self.flow == Flow::Normal
        {
            self.exit_status = status;
            self.flow = Flow::Exit;
        }
        status
    }

    /// `&`: a pipeline of external commands becomes a job; anything that
    /// needs the shell runs in a child shell.
    fn run_background(&mut self, item: &ListItem) {
        self.starting_background = true;
        self.run_background_job(item);
        self.starting_background = false;
    }

    fn run_background_job(&mut self, item: &ListItem) {
        let and_or = &item.and_or;
        if and_or.rest.is_empty() && !and_or.first.negated {
            self.run_pipeline(&and_or.first, true);
        } else {
            let pid = self.spawn_child_shell(&item.source, 0);
            if let Ok(pid) = pid {
                self.jobs.add(pid, &[pid], &item.source);
                self.last_background = Some(pid);
                if self.interactive {
                    crate::shell::out(2, &alloc::format!("[{}] {pid}\n", self.jobs.len()));
                }
            }
        }
        self.last_status = 0;
    }

    /// Runs a pipeline (without `!`) and returns the last stage's status.
    pub fn run_pipeline(&mut self, pipeline: &Pipeline, background: bool) -> i32 {
        let commands = &pipeline.commands;
        if commands.len() == 1 && !background {
            return self.run_command(&commands[0]);
        }
        self.materialize_capture();
        let own_group = background || self.job_control;
        let mut pgid: Pid = if own_group { 0 } else { self.shell_pgid };
        let mut started: Vec<Started> = Vec::new();
        let mut previous_read = None;
        let mut in_process_last = None;
        for (index, command) in commands.iter().enumerate() {
            let last = index + 1 == commands.len();
            let (next_read, write) = if last {
                (None, None)
            } else {
                match posix::pipe() {
                    Ok((read_end, write_end)) => {
                        (Some(move_high(read_end)), Some(move_high(write_end)))
                    }
                    Err(error) => {
                        self.complain(&alloc::format!("pipe: {}", error.describe()));
                        started.push(Started::Done(1));
                        break;
                    }
                }
            };
            let saved_in = previous_read.map(|fd| (self.save_fd(0), fd));
            if let Some((_, fd)) = saved_in {
                let _ = posix::dup2(fd, 0);
            }
            let saved_out = write.map(|fd| (self.save_fd(1), fd));
            if let Some((_, fd)) = saved_out {
                let _ = posix::dup2(fd, 1);
            }
            let source = pipeline
                .command_sources
                .get(index)
                .cloned()
                .unwrap_or_default();
            if last && !background && !self.is_external_candidate(command) {
                // Runs below, after the other stages started; keep its input.
                in_process_last = previous_read.map(|fd| (fd, saved_in.map(|(s, _)| s)));
            } else {
                let outcome = self.start_stage(command, &source, pgid);
                if let Started::Process(pid) = outcome {
                    if own_group && pgid == 0 {
                        pgid = pid;
                    }
                }
                started.push(outcome);
                if let Some((saved, _)) = saved_in {
                    self.restore_fd(0, saved);
                }
                if let Some(fd) = previous_read {
                    let _ = posix::close(fd);
                }
            }
            if let Some((saved, fd)) = saved_out {
                self.restore_fd(1, saved);
                let _ = posix::close(fd);
            }
            previous_read = next_read;
        }
        if let Some(fd) = previous_read {
            let _ = posix::close(fd);
        }
        let pids: Vec<Pid> = started
            .iter()
            .filter_map(|s| match s {
                Started::Process(pid) => Some(*pid),
                Started::Done(_) => None,
            })
            .collect();
        let number = if pids.is_empty() {
            None
        } else {
            let group = if own_group { pgid } else { pids[0] };
            Some(self.jobs.add(group, &pids, &pipeline.source))
        };
        if background {
            if let (Some(number), Some(pid)) = (number, pids.last()) {
                self.last_background = Some(*pid);
                if self.interactive {
                    crate::shell::out(2, &alloc::format!("[{number}] {pid}\n"));
                }
            }
            return 0;
        }
        let mut status = match started.last() {
            Some(Started::Done(status)) => Some(*status),
            _ => None,
        };
        if let Some((read_end, saved)) = in_process_last {
            let command = &commands[commands.len() - 1];
            let last_status = self.subshell(|shell| shell.run_command(command));
            if let Some(saved) = saved {
                self.restore_fd(0, saved);
            }
            let _ = posix::close(read_end);
            status = Some(last_status);
        }
        let waited = match number {
            Some(number) => self.wait_foreground(number),
            None => 0,
        };
        status.unwrap_or(waited)
    }

    /// Starts one stage of a pipeline as a process (an external command,
    /// or a child shell for anything else).
    fn start_stage(&mut self, command: &Command, source: &str, pgid: Pid) -> Started {
        let is_alias =
            matches!(command, Command::Simple(simple) if self.alias_text(simple).is_some());
        if let (Command::Simple(simple), false) = (command, is_alias) {
            match self.prepare_simple(simple) {
                Err(status) => return Started::Done(status),
                Ok(stage) => {
                    if self.is_external(&stage) {
                        return match self.spawn_stage(&stage, &simple.redirects, pgid) {
                            Ok(pid) => Started::Process(pid),
                            Err(status) => Started::Done(status),
                        };
                    }
                    if stage.argv.is_empty() {
                        return Started::Done(0);
                    }
                    // A built-in or function: run it, already expanded, in
                    // a child shell with the stage's redirections.
                    let saved = match self.redirect(&simple.redirects) {
                        Ok(saved) => saved,
                        Err(status) => return Started::Done(status),
                    };
                    let result = self.spawn_child_command(&stage.argv, pgid);
                    self.restore(saved);
                    return match result {
                        Ok(pid) => Started::Process(pid),
                        Err(status) => Started::Done(status),
                    };
                }
            }
        }
        match self.spawn_child_shell(source, pgid) {
            Ok(pid) => Started::Process(pid),
            Err(status) => Started::Done(status),
        }
    }

    /// Waits for every process of job `number` with the terminal handed to
    /// its group; removes the job and returns its status.
    /// With job control, makes process group `pgid` the terminal's
    /// foreground; returns the terminal to take back later.
    pub fn give_terminal_to(&self, pgid: u32) -> Option<alloc::rc::Rc<crate::terminal::Terminal>> {
        let terminal = self.terminal.clone().filter(|_| self.job_control)?;
        terminal.give_to(pgid);
        Some(terminal)
    }

    pub fn wait_foreground(&mut self, number: usize) -> i32 {
        let Some(pgid) = self.jobs.get(number).map(|job| job.pgid) else {
            return 0;
        };
        let terminal = self.give_terminal_to(pgid);
        let stopped_by = self.wait_job(number);
        if let Some(terminal) = &terminal {
            terminal.take_back();
        }
        if let Some(signal) = stopped_by {
            // Ctrl-Z: the job stays, stopped, and the shell reads again.
            if let Some(job) = self.jobs.get(number) {
                let line = self.jobs.report_line(job);
                crate::shell::out(2, &alloc::format!("\n{line}\n"));
            }
            return 128 + signal as i32;
        }
        let Some(job) = self.jobs.remove(number) else {
            return 0;
        };
        let interrupted = job
            .processes
            .iter()
            .any(|(_, status)| *status == Some(JobStatus::Signaled(SIGINT)));
        let status = job.status().unwrap_or(JobStatus::Exited(0));
        if interrupted && self.interactive {
            crate::shell::out(2, "\n");
        } else if let JobStatus::Signaled(signal) = status {
            if signal != SIGPIPE && signal != SIGINT {
                crate::shell::out(2, &alloc::format!("{}\n", status.describe()));
            }
        }
        status.code()
    }

    /// Waits until every process of job `number` ended, or (with job
    /// control) until one of them stopped: then the signal that stopped it.
    pub fn wait_job(&mut self, number: usize) -> Option<u32> {
        let pids = self
            .jobs
            .get(number)
            .map(|job| job.running_pids())
            .unwrap_or_default();
        let report = if self.job_control { wait::UNTRACED } else { 0 };
        for pid in pids {
            let status = match posix::wait_reporting(pid as i32, false, report) {
                Ok(Some((_, wait_status))) => match wait::stop_signal(wait_status) {
                    Some(signal) => {
                        self.jobs.set_stopped(pid, true);
                        return Some(signal);
                    }
                    None => job_status(wait_status),
                },
                Ok(None) | Err(_) => JobStatus::Exited(127),
            };
            self.jobs.record(pid, status);
        }
        None
    }

    /// Collects ended background processes without blocking, and notes
    /// those stopped or continued meanwhile.
    pub fn reap_background(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let report = wait::UNTRACED | wait::CONTINUED;
        while let Ok(Some((pid, wait_status))) = posix::wait_reporting(-1, true, report) {
            if wait::stop_signal(wait_status).is_some() {
                self.jobs.note_background_stop(pid);
            } else if wait_status == wait::CONTINUED_STATUS {
                self.jobs.set_stopped(pid, false);
            } else {
                self.jobs.record(pid, job_status(wait_status));
            }
        }
    }

    /// `[N]+ Done    cmd` for every background job that ended, and
    /// `[N]+ Stopped    cmd` for every one that stopped meanwhile.
    pub fn report_done_jobs(&mut self) {
        self.reap_background();
        let stopped = self.jobs.take_stop_reports();
        for line in stopped.into_iter().chain(self.jobs.take_done()) {
            crate::shell::out(2, &alloc::format!("{line}\n"));
        }
    }
}

impl Shell {
    /// True if a stage might be an external command (decided after expansion).
    fn is_external_candidate(&self, command: &Command) -> bool {
        match command {
            Command::Simple(simple) => match simple.words.first().and_then(|w| w.as_literal()) {
                Some(name) => {
                    !zos_sh_core::builtins::is_builtin(&name)
                        && !self.functions.contains_key(&name)
                        && !self.aliases.contains_key(&name)
                }
                None => !simple.words.is_empty(),
            },
            _ => false,
        }
    }
}
