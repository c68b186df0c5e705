//! Job built-ins: `jobs`, `fg`, `bg`, `wait`, and `kill` (job specs like
//! `%1` become process groups; `kill -l` lists signal names).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libzos::posix::{self, Errno};
use libzos::proto::errno::ECHILD;
use libzos::proto::proc::signal::SIGCONT;
use zos_sh_core::jobs::{parse_job_ref, JobRef, JobStatus};
use zos_tools_core::signal::{self, KillCommand};

use crate::shell::Shell;

impl Shell {
    pub(super) fn builtin_jobs(&mut self) -> i32 {
        self.reap_background();
        // The listing reports every stop: none is left for the prompt.
        let _ = self.jobs.take_stop_reports();
        self.print(&self.jobs.listing());
        0
    }

    pub(super) fn builtin_fg(&mut self, args: &[String]) -> i32 {
        self.reap_background();
        let reference = match args.first() {
            Some(text) => match parse_job_ref(text, false) {
                Ok(reference) => reference,
                Err(message) => return self.builtin_error("fg", &message, 1),
            },
            None => JobRef::Current,
        };
        let Some(job) = self.jobs.resolve(reference) else {
            return self.builtin_error("fg", "no such job", 1);
        };
        let (number, pgid, stopped) = (job.number, job.pgid, job.stopped);
        self.print(&format!("{}\n", job.command));
        if stopped {
            // The terminal first: continued while in the background, a job
            // reading it would stop again at once (SIGTTIN).
            self.give_terminal_to(pgid);
            self.continue_job(number, pgid);
        }
        self.wait_foreground(number)
    }

    /// Sends SIGCONT to a stopped job's process group and marks it running.
    fn continue_job(&mut self, number: usize, pgid: u32) {
        let _ = posix::kill(-(pgid as i32), SIGCONT);
        let pids = self
            .jobs
            .get(number)
            .map(|job| job.running_pids())
            .unwrap_or_default();
        for pid in pids {
            self.jobs.set_stopped(pid, false);
        }
    }

    /// `bg`: a stopped job runs on in the background.
    pub(super) fn builtin_bg(&mut self, args: &[String]) -> i32 {
        let reference = match args.first() {
            Some(text) => match parse_job_ref(text, false) {
                Ok(reference) => reference,
                Err(message) => return self.builtin_error("bg", &message, 1),
            },
            None => JobRef::Current,
        };
        match self.jobs.resolve(reference) {
            Some(job) => {
                let (number, pgid, stopped) = (job.number, job.pgid, job.stopped);
                let line = format!(
                    "[{}]{} {} &\n",
                    number,
                    self.jobs.marker(number),
                    job.command
                );
                if stopped {
                    self.continue_job(number, pgid);
                }
                self.print(&line);
                0
            }
            None => self.builtin_error("bg", "no such job", 1),
        }
    }

    pub(super) fn builtin_wait(&mut self, args: &[String]) -> i32 {
        self.reap_background();
        if args.is_empty() {
            let numbers: Vec<usize> = self.jobs.jobs().iter().map(|job| job.number).collect();
            for number in numbers {
                self.wait_job(number);
                self.jobs.remove(number);
            }
            return 0;
        }
        let mut status = 0;
        for arg in args {
            let reference = match parse_job_ref(arg, true) {
                Ok(reference) => reference,
                Err(message) => {
                    status = self.builtin_error("wait", &message, 2);
                    continue;
                }
            };
            status = match self.jobs.resolve(reference).map(|job| job.number) {
                Some(number) => {
                    self.wait_job(number);
                    self.jobs
                        .remove(number)
                        .and_then(|job| job.status())
                        .map_or(127, JobStatus::code)
                }
                None => match reference {
                    JobRef::Pid(pid) => match posix::waitpid(pid as i32, false) {
                        Ok(Some((_, wait_status))) => posix::status_code(wait_status),
                        Ok(None) | Err(Errno(ECHILD)) | Err(_) => 127,
                    },
                    _ => 127,
                },
            };
        }
        status
    }

    pub(super) fn builtin_kill(&mut self, args: &[String]) -> i32 {
        let expanded = match self.jobs.expand_kill_arguments(
            &core::iter::once(String::from("kill"))
                .chain(args.iter().cloned())
                .collect::<Vec<String>>(),
        ) {
            Ok(expanded) => expanded,
            Err(message) => return self.builtin_error("kill", &message, 1),
        };
        let refs: Vec<&str> = expanded[1..].iter().map(String::as_str).collect();
        match signal::parse(&refs) {
            Ok(KillCommand::List(lines)) => {
                for line in lines {
                    self.print(&format!("{line}\n"));
                }
                0
            }
            Ok(KillCommand::Send { signal, targets }) => {
                let mut status = 0;
                for target in targets {
                    if let Err(error) = posix::kill(target, signal) {
                        status = self.builtin_error(
                            "kill",
                            &format!("{target}: {}", error.describe()),
                            1,
                        );
                    }
                }
                status
            }
            Err(error) => self.builtin_error("kill", &error.0, 2),
        }
    }
}
