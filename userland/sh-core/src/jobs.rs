//! The job table: one job per pipeline started with `&` (and the foreground job
//! while it runs), each a process group with its member pids and their exit
//! statuses, numbered `[1]`, `[2]`… Also job references (`%N`, `%%`, `%+`,
//! `%-`, a pid), the `jobs`/`Done` report lines, and `%N` → `-PGID` for `kill`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Exited(i32),
    Signaled(u32),
}

impl JobStatus {
    /// The shell's `$?`: the exit code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            JobStatus::Exited(code) => code,
            JobStatus::Signaled(signal) => 128 + signal as i32,
        }
    }

    /// The word a job listing shows: `Done`, `Exit 3`, `Terminated`…
    pub fn describe(self) -> String {
        match self {
            JobStatus::Exited(0) => "Done".to_string(),
            JobStatus::Exited(code) => format!("Exit {code}"),
            JobStatus::Signaled(signal) => signal_description(signal).to_string(),
        }
    }
}

/// What shells print for a death by `signal`.
pub fn signal_description(signal: u32) -> String {
    match signal {
        1 => "Hangup".to_string(),
        2 => "Interrupt".to_string(),
        3 => "Quit".to_string(),
        6 => "Aborted".to_string(),
        9 => "Killed".to_string(),
        11 => "Segmentation fault".to_string(),
        13 => "Broken pipe".to_string(),
        15 => "Terminated".to_string(),
        other => format!("Signal {other}"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub number: usize,
    pub pgid: u32,
    /// The command line as typed (for listings).
    pub command: String,
    /// Every process of the pipeline, in order, with its status once ended.
    pub processes: Vec<(u32, Option<JobStatus>)>,
    /// Stopped (Ctrl-Z, SIGSTOP) until continued (`fg`, `bg`, SIGCONT).
    pub stopped: bool,
    /// Stopped in the background (SIGTTIN at a read of the terminal, a
    /// `kill -STOP`) and not yet reported before a prompt.
    pub stop_unreported: bool,
}

impl Job {
    pub fn is_done(&self) -> bool {
        self.processes.iter().all(|(_, status)| status.is_some())
    }

    /// The job's status once every process ended: that of the last stage.
    pub fn status(&self) -> Option<JobStatus> {
        if !self.is_done() {
            return None;
        }
        self.processes.last().and_then(|(_, status)| *status)
    }

    /// Processes not yet reaped.
    pub fn running_pids(&self) -> Vec<u32> {
        self.processes
            .iter()
            .filter(|(_, status)| status.is_none())
            .map(|(pid, _)| *pid)
            .collect()
    }

    pub fn last_pid(&self) -> Option<u32> {
        self.processes.last().map(|(pid, _)| *pid)
    }
}

/// A reference to a job, as given to `fg`, `wait` and `kill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobRef {
    /// `%%`, `%+`, `%` or no argument: the newest job.
    Current,
    /// `%-`: the one before it.
    Previous,
    /// `%N`.
    Number(usize),
    /// A plain process id.
    Pid(u32),
}

/// Parses `%N`, `%%`, `%+`, `%-`, `%` or (when `numbers_are_pids`) a pid;
/// otherwise a bare number is a job number. The error is the message.
pub fn parse_job_ref(text: &str, numbers_are_pids: bool) -> Result<JobRef, String> {
    match text {
        "%" | "%%" | "%+" => return Ok(JobRef::Current),
        "%-" => return Ok(JobRef::Previous),
        _ => {}
    }
    if let Some(number) = text.strip_prefix('%') {
        return match number.parse::<usize>() {
            Ok(number) if number > 0 => Ok(JobRef::Number(number)),
            _ => Err(format!("{text}: no such job")),
        };
    }
    match text.parse::<u32>() {
        Ok(pid) if pid > 0 && numbers_are_pids => Ok(JobRef::Pid(pid)),
        Ok(number) if number > 0 => Ok(JobRef::Number(number as usize)),
        _ if numbers_are_pids => Err(format!("`{text}': not a pid or valid job spec")),
        _ => Err(format!("{text}: no such job")),
    }
}

#[derive(Clone, Debug, Default)]
pub struct JobTable {
    /// Oldest first; the last is the current job (`+`).
    jobs: Vec<Job>,
}

impl JobTable {
    pub fn new() -> JobTable {
        JobTable::default()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Adds a job and returns its number: one more than the highest in use.
    pub fn add(&mut self, pgid: u32, pids: &[u32], command: &str) -> usize {
        let number = self.jobs.iter().map(|job| job.number).max().unwrap_or(0) + 1;
        self.jobs.push(Job {
            number,
            pgid,
            command: command.to_string(),
            processes: pids.iter().map(|pid| (*pid, None)).collect(),
            stopped: false,
            stop_unreported: false,
        });
        number
    }

    /// Marks the job `pid` belongs to stopped or running again; its number.
    pub fn set_stopped(&mut self, pid: u32, stopped: bool) -> Option<usize> {
        let job = self
            .jobs
            .iter_mut()
            .find(|job| job.processes.iter().any(|(member, _)| *member == pid))?;
        job.stopped = stopped;
        Some(job.number)
    }

    /// Notes that `pid`, in a background job, stopped: reported once before
    /// the next prompt ([`Jobs::take_stop_reports`]) unless its job was
    /// stopped already.
    pub fn note_background_stop(&mut self, pid: u32) {
        if let Some(job) = self
            .jobs
            .iter_mut()
            .find(|job| job.processes.iter().any(|(member, _)| *member == pid))
        {
            job.stop_unreported |= !job.stopped;
            job.stopped = true;
        }
    }

    /// `[N]+ Stopped    cmd` for every job that stopped in the background
    /// since the last prompt.
    pub fn take_stop_reports(&mut self) -> Vec<String> {
        let numbers: Vec<usize> = self
            .jobs
            .iter()
            .filter(|job| job.stop_unreported && job.stopped)
            .map(|job| job.number)
            .collect();
        for job in &mut self.jobs {
            job.stop_unreported = false;
        }
        numbers
            .into_iter()
            .filter_map(|number| self.get(number).map(|job| self.report_line(job)))
            .collect()
    }

    /// Records that `pid` ended; returns the number of its job, if any.
    pub fn record(&mut self, pid: u32, status: JobStatus) -> Option<usize> {
        for job in &mut self.jobs {
            for (member, slot) in &mut job.processes {
                if *member == pid && slot.is_none() {
                    *slot = Some(status);
                    return Some(job.number);
                }
            }
        }
        None
    }

    pub fn get(&self, number: usize) -> Option<&Job> {
        self.jobs.iter().find(|job| job.number == number)
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    pub fn find_by_pid(&self, pid: u32) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|job| job.processes.iter().any(|(member, _)| *member == pid))
    }

    /// The job a reference names (a pid names the job it belongs to).
    pub fn resolve(&self, reference: JobRef) -> Option<&Job> {
        match reference {
            JobRef::Current => self.jobs.last(),
            JobRef::Previous => self.jobs.iter().rev().nth(1),
            JobRef::Number(number) => self.get(number),
            JobRef::Pid(pid) => self.find_by_pid(pid),
        }
    }

    pub fn remove(&mut self, number: usize) -> Option<Job> {
        let index = self.jobs.iter().position(|job| job.number == number)?;
        Some(self.jobs.remove(index))
    }

    /// `+` for the current job, `-` for the previous one, else a space.
    pub fn marker(&self, number: usize) -> char {
        let mut newest = self.jobs.iter().rev();
        if newest.next().is_some_and(|job| job.number == number) {
            '+'
        } else if newest.next().is_some_and(|job| job.number == number) {
            '-'
        } else {
            ' '
        }
    }

    /// One listing line: `[N]+ Running    cmd` or `[N]+ Done    cmd`.
    pub fn report_line(&self, job: &Job) -> String {
        let state = match job.status() {
            Some(status) => status.describe(),
            None if job.stopped => "Stopped".to_string(),
            None => "Running".to_string(),
        };
        format!(
            "[{}]{} {:<7} {}",
            job.number,
            self.marker(job.number),
            state,
            job.command
        )
    }

    /// What `jobs` prints.
    pub fn listing(&self) -> String {
        let mut text = String::new();
        for job in &self.jobs {
            text.push_str(&self.report_line(job));
            text.push('\n');
        }
        text
    }

    /// Removes finished jobs, returning their report lines (printed before
    /// the next prompt).
    pub fn take_done(&mut self) -> Vec<String> {
        let lines = self
            .jobs
            .iter()
            .filter(|job| job.is_done())
            .map(|job| self.report_line(job))
            .collect();
        self.jobs.retain(|job| !job.is_done());
        lines
    }

    /// For the external `kill`: every argument after the first that starts
    /// with `%` becomes `-PGID` of that job. A job first among the arguments
    /// gets a `--` before it, so `-PGID` is not read as a signal option.
    /// The error is the message.
    pub fn expand_kill_arguments(&self, argv: &[String]) -> Result<Vec<String>, String> {
        let mut expanded = Vec::with_capacity(argv.len());
        for (index, argument) in argv.iter().enumerate() {
            if index == 0 || !argument.starts_with('%') {
                expanded.push(argument.clone());
                continue;
            }
            let job = parse_job_ref(argument, false)
                .ok()
                .and_then(|reference| self.resolve(reference))
                .ok_or_else(|| format!("{argument}: no such job"))?;
            if index == 1 {
                expanded.push("--".to_string());
            }
            expanded.push(format!("-{}", job.pgid));
        }
        Ok(expanded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers_grow_and_reuse_after_the_highest_ends() {
        let mut table = JobTable::new();
        assert_eq!(table.add(10, &[10], "a"), 1);
        assert_eq!(table.add(11, &[11], "b"), 2);
        table.remove(2);
        assert_eq!(table.add(12, &[12], "c"), 2);
        table.remove(1);
        assert_eq!(table.add(13, &[13], "d"), 3);
    }

    #[test]
    fn job_is_done_when_every_process_ended_with_last_status() {
        let mut table = JobTable::new();
        let number = table.add(20, &[20, 21], "a | b");
        assert_eq!(table.record(21, JobStatus::Exited(3)), Some(number));
        assert!(!table.get(number).unwrap().is_done());
        assert_eq!(table.get(number).unwrap().running_pids(), vec![20]);
        assert_eq!(table.record(20, JobStatus::Signaled(13)), Some(number));
        let job = table.get(number).unwrap();
        assert_eq!(job.status(), Some(JobStatus::Exited(3)));
        assert_eq!(job.last_pid(), Some(21));
        assert_eq!(table.record(99, JobStatus::Exited(0)), None);
        assert_eq!(
            table.record(20, JobStatus::Exited(0)),
            None,
            "already recorded"
        );
    }

    #[test]
    fn done_reports_and_removal() {
        let mut table = JobTable::new();
        table.add(30, &[30], "sleep 1");
        table.add(31, &[31], "sleep 2");
        table.record(30, JobStatus::Exited(0));
        assert_eq!(table.take_done(), vec!["[1]- Done    sleep 1".to_string()]);
        assert_eq!(table.len(), 1);
        table.record(31, JobStatus::Signaled(15));
        assert_eq!(
            table.take_done(),
            vec!["[2]+ Terminated sleep 2".to_string()]
        );
        assert!(table.is_empty());
        assert!(table.take_done().is_empty());
    }

    #[test]
    fn listing_shows_running_and_exit_codes() {
        let mut table = JobTable::new();
        table.add(40, &[40], "a");
        table.add(41, &[41], "b");
        table.add(42, &[42], "c");
        table.record(41, JobStatus::Exited(2));
        assert_eq!(
            table.listing(),
            "[1]  Running a\n[2]- Exit 2  b\n[3]+ Running c\n"
        );
    }

    #[test]
    fn status_codes_and_descriptions() {
        assert_eq!(JobStatus::Exited(7).code(), 7);
        assert_eq!(JobStatus::Signaled(15).code(), 143);
        assert_eq!(JobStatus::Signaled(2).code(), 130);
        assert_eq!(JobStatus::Signaled(9).describe(), "Killed");
        assert_eq!(JobStatus::Signaled(30).describe(), "Signal 30");
    }

    #[test]
    fn job_refs_parse() {
        assert_eq!(parse_job_ref("%1", true), Ok(JobRef::Number(1)));
        assert_eq!(parse_job_ref("%%", true), Ok(JobRef::Current));
        assert_eq!(parse_job_ref("%+", false), Ok(JobRef::Current));
        assert_eq!(parse_job_ref("%", false), Ok(JobRef::Current));
        assert_eq!(parse_job_ref("%-", false), Ok(JobRef::Previous));
        assert_eq!(parse_job_ref("42", true), Ok(JobRef::Pid(42)));
        assert_eq!(parse_job_ref("2", false), Ok(JobRef::Number(2)));
        assert!(parse_job_ref("%0", true).is_err());
        assert!(parse_job_ref("%x", true).is_err());
        assert!(parse_job_ref("abc", true).is_err());
        assert!(parse_job_ref("-3", false).is_err());
        assert!(parse_job_ref("0", true).is_err());
    }

    #[test]
    fn resolve_current_previous_and_pid() {
        let mut table = JobTable::new();
        table.add(50, &[50, 51], "x | y");
        table.add(52, &[52], "z");
        assert_eq!(table.resolve(JobRef::Current).unwrap().number, 2);
        assert_eq!(table.resolve(JobRef::Previous).unwrap().number, 1);
        assert_eq!(table.resolve(JobRef::Pid(51)).unwrap().number, 1);
        assert!(table.resolve(JobRef::Number(3)).is_none());
        assert!(JobTable::new().resolve(JobRef::Current).is_none());
    }

    #[test]
    fn kill_arguments_get_process_groups() {
        let mut table = JobTable::new();
        table.add(60, &[60, 61], "a | b");
        assert_eq!(
            table.expand_kill_arguments(&strings(&["kill", "-TERM", "%1", "7"])),
            Ok(strings(&["kill", "-TERM", "-60", "7"]))
        );
        assert_eq!(
            table.expand_kill_arguments(&strings(&["kill", "%%", "%1"])),
            Ok(strings(&["kill", "--", "-60", "-60"]))
        );
        assert_eq!(
            table.expand_kill_arguments(&strings(&["kill", "%2"])),
            Err("%2: no such job".to_string())
        );
        assert_eq!(
            table.expand_kill_arguments(&strings(&["%1"])),
            Ok(strings(&["%1"])),
            "the command name itself is left alone"
        );
    }

    #[test]
    fn a_stopped_job_is_listed_as_stopped_until_continued() {
        let mut table = JobTable::new();
        let number = table.add(40, &[40], "sleep 100");
        assert_eq!(table.set_stopped(40, true), Some(number));
        assert_eq!(table.listing(), "[1]+ Stopped sleep 100\n");
        assert!(table.take_done().is_empty(), "a stopped job is not done");
        table.set_stopped(40, false);
        assert_eq!(table.listing(), "[1]+ Running sleep 100\n");
        assert_eq!(table.set_stopped(99, true), None);
    }

    #[test]
    fn a_background_stop_is_reported_once() {
        let mut table = JobTable::new();
        table.add(40, &[40], "cat > /tmp/x");
        table.add(41, &[41], "sleep 100");
        table.note_background_stop(40);
        assert_eq!(
            table.take_stop_reports(),
            vec!["[1]- Stopped cat > /tmp/x".to_string()]
        );
        assert!(table.take_stop_reports().is_empty(), "reported once");
        table.note_background_stop(40);
        assert!(
            table.take_stop_reports().is_empty(),
            "still stopped: nothing new"
        );
        table.set_stopped(40, false);
        table.note_background_stop(40);
        assert_eq!(table.take_stop_reports().len(), 1, "stopped again after bg");
    }
}
