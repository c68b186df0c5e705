//! Subshells without fork(). Two mechanisms, chosen per use:
//!
//! - **In process**: `( list )`, command substitution and the last stage
//!   of a pipeline run in the shell itself between a snapshot and a
//!   restore of everything a subshell may change (variables, functions,
//!   positional parameters, options, traps, aliases, working directory,
//!   descriptors 0–9). `exit` inside ends only the subshell. Command
//!   substitution collects what built-ins print in memory; when a process
//!   or a redirection needs a real descriptor 1, it becomes a temporary
//!   file in /tmp, read back afterwards (a pipe could fill while the shell
//!   is its only reader).
//! - **A child shell**: stages of a pipeline other than the last and
//!   background lists, which must run concurrently, start `/bin/sh -c`
//!   with a script that recreates the state they need (unexported
//!   variables, functions, options) followed by the command's source;
//!   exported variables travel in the environment, `$0` and the positional
//!   parameters as arguments.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::fs::{O_CREAT, O_TRUNC, O_WRONLY};
use libzos::posix::{self, Fd, Pid};
use zos_sh_core::vars::Variables;
use zos_sh_syntax::{ExpandError, FunctionDef, Program};

use crate::shell::{Capture, Flow, Options, Shell};

/// Largest state script passed to a child shell as an argument.
const STATE_INLINE_LIMIT: usize = 16 * 1024;

/// What a subshell may change and gets back afterwards.
struct Snapshot {
    vars: Variables,
    positional: Vec<String>,
    functions: BTreeMap<String, Rc<FunctionDef>>,
    aliases: BTreeMap<String, String>,
    options: Options,
    traps: BTreeMap<String, String>,
    cwd: String,
    fds: Vec<(Fd, Option<Fd>)>,
    loop_depth: u32,
    function_depth: u32,
    getopts_offset: usize,
    errexit_suppressed: u32,
}

impl Shell {
    fn snapshot(&mut self) -> Snapshot {
        let fds = (0..10)
            .map(|fd| (fd, self.save_fd(fd)))
            .collect::<Vec<(Fd, Option<Fd>)>>();
        Snapshot {
            vars: self.vars.clone(),
            positional: self.positional.clone(),
            functions: self.functions.clone(),
            aliases: self.aliases.clone(),
            options: self.options,
            traps: self.traps.clone(),
            cwd: posix::getcwd(),
            fds,
            loop_depth: self.loop_depth,
            function_depth: self.function_depth,
            getopts_offset: self.getopts_offset,
            errexit_suppressed: self.errexit_suppressed,
        }
    }

    fn restore_snapshot(&mut self, snapshot: Snapshot) {
        self.vars = snapshot.vars;
        self.positional = snapshot.positional;
        self.functions = snapshot.functions;
        self.aliases = snapshot.aliases;
        self.options = snapshot.options;
        self.traps = snapshot.traps;
        if posix::getcwd() != snapshot.cwd {
            let _ = posix::chdir(&snapshot.cwd);
        }
        for (fd, copy) in snapshot.fds {
            self.restore_fd(fd, copy);
        }
        self.loop_depth = snapshot.loop_depth;
        self.function_depth = snapshot.function_depth;
        self.getopts_offset = snapshot.getopts_offset;
        self.errexit_suppressed = snapshot.errexit_suppressed;
    }

    /// Runs `body` as a subshell inside this process; returns its status.
    pub fn subshell(&mut self, body: impl FnOnce(&mut Shell) -> i32) -> i32 {
        let snapshot = self.snapshot();
        // Traps are reset in a subshell, except ignored ones.
        self.traps.retain(|_, action| action.is_empty());
        self.subshell_depth += 1;
        self.loop_depth = 0;
        let mut status = body(self);
        let aborted = self.flow == Flow::Abort;
        if self.flow == Flow::Exit {
            status = self.exit_status;
        }
        self.flow = Flow::Normal;
        if let Some(action) = self.traps.remove("EXIT") {
            self.last_status = status;
            self.run_text(&action);
            if self.flow == Flow::Exit {
                status = self.exit_status;
            }
            self.flow = Flow::Normal;
        }
        self.subshell_depth -= 1;
        self.restore_snapshot(snapshot);
        if aborted {
            self.flow = Flow::Abort;
        }
        status
    }

    /// `$(...)`: runs the program in a subshell and returns its standard
    /// output (held in memory unless a process or a redirection needs a
    /// real descriptor; then in a temporary file). Sets `$?`.
    pub fn capture_output(&mut self, program: &Program) -> Result<String, ExpandError> {
        let depth = self.captures.len();
        self.captures.push(Capture::Buffer(Vec::new()));
        let status = self.subshell(|shell| shell.run_program(program));
        let mut output = Vec::new();
        while self.captures.len() > depth {
            match self.captures.pop() {
                Some(Capture::Buffer(buffer)) => output = buffer,
                Some(Capture::File { fd, path }) => {
                    let mut buffer = alloc::vec![0u8; 16 * 1024];
                    let mut offset = 0u64;
                    while let Ok(count) = libzos::fs::pread(fd, &mut buffer, offset) {
                        if count == 0 {
                            break;
                        }
                        output.extend_from_slice(&buffer[..count]);
                        offset += count as u64;
                    }
                    let _ = posix::close(fd);
                    let _ = libzos::fs::unlink(&path);
                }
                None => break,
            }
        }
        self.last_status = status;
        self.substitution_status = Some(status);
        Ok(String::from_utf8_lossy(&output).into_owned())
    }

    /// Shell text that recreates this shell's state in a child shell.
    pub fn state_script(&self) -> String {
        let mut script = self.vars.recreate_script();
        for (name, value) in &self.aliases {
            script.push_str(&alloc::format!(
                "alias {name}={}\n",
                zos_sh_core::vars::quote(value)
            ));
        }
        for function in self.functions.values() {
            script.push_str(&function.source);
            script.push('\n');
        }
        let letters: String = self
            .options
            .letters(false)
            .chars()
            .filter(|c| *c != 'n')
            .collect();
        if !letters.is_empty() {
            script.push_str("set -");
            script.push_str(&letters);
            script.push('\n');
        }
        script
    }

    /// Starts `/bin/sh -c STATE+SOURCE NAME ARGS...` (a pipeline stage or
    /// background list that needs the shell).
    pub fn spawn_child_shell(&mut self, source: &str, pgid: Pid) -> Result<Pid, i32> {
        let positional = self.positional.clone();
        self.spawn_child_shell_with(source, &positional, pgid, "sh")
    }

    /// Starts a child shell running an already expanded built-in or
    /// function call (`"$@"` with `argv` as the positional parameters), so
    /// that nothing is expanded twice.
    pub fn spawn_child_command(&mut self, argv: &[String], pgid: Pid) -> Result<Pid, i32> {
        self.spawn_child_shell_with(
            "\"$@\"",
            argv,
            pgid,
            argv.first().map_or("sh", String::as_str),
        )
    }

    fn spawn_child_shell_with(
        &mut self,
        source: &str,
        positional: &[String],
        pgid: Pid,
        what: &str,
    ) -> Result<Pid, i32> {
        self.materialize_capture();
        let mut script = self.state_script();
        // Arguments are limited (63 KiB with the environment): a large
        // state goes through a file the child reads and removes.
        if script.len() > STATE_INLINE_LIMIT {
            let path = self.temp_path("state");
            let written = posix::open(&path, O_WRONLY | O_CREAT | O_TRUNC, 0o600).map(|fd| {
                let result = posix::write_all(fd, script.as_bytes());
                let _ = posix::close(fd);
                result
            });
            if let Ok(Ok(())) = written {
                script = alloc::format!(". {path}\nrm -f {path}\n");
            }
        }
        script.push_str(source);
        let mut argv = alloc::vec![
            "sh".to_string(),
            "-c".to_string(),
            script,
            self.name.clone()
        ];
        argv.extend(positional.iter().cloned());
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let environment = self.vars.child_environment(&[]);
        let environment_refs: Vec<&str> = environment.iter().map(String::as_str).collect();
        let job = self.job_kind();
        let internal = crate::shell::internal_descriptors();
        posix::spawn_job(
            "/bin/sh",
            &argv_refs,
            &environment_refs,
            &internal,
            pgid,
            job,
        )
        .map_err(|error| self.report_spawn_error(what, error))
    }
}
