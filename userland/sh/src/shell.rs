//! The shell's state — variables, positional parameters, functions,
//! options, traps, jobs — and the entry points that parse and run text:
//! [`Shell::run_text`] (a line or `-c` string), [`Shell::run_script`] (one
//! complete command at a time, as POSIX requires), and how the shell ends
//! (the EXIT trap, `exit`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix::{self, Fd, Pid};
use zos_sh_core::history::History;
use zos_sh_core::jobs::JobTable;
use zos_sh_core::vars::Variables;
use zos_sh_syntax::{FunctionDef, ParseError, Parser};

use crate::terminal::Terminal;

/// Where a command substitution's output goes: memory while only the
/// shell writes it (built-ins, functions), a temporary file on descriptor 1
/// once a process or a redirection of descriptor 1 needs a real one.
pub enum Capture {
    Buffer(Vec<u8>),
    File { fd: Fd, path: String },
}

/// How far the stack may grow below where the shell started (bytes)
/// before nesting is refused with an error instead of a crash.
pub const STACK_BUDGET: usize = 900 * 1024;

/// Where running a list stands: normally on, or unwinding for `break`,
/// `continue`, `return` or `exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Normal,
    Break(u32),
    Continue(u32),
    Return,
    Exit,
    /// A fatal error in an interactive shell: back to the prompt.
    Abort,
}

/// `set` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
    pub noglob: bool,
    pub noexec: bool,
    pub verbose: bool,
    pub noclobber: bool,
    pub allexport: bool,
}

impl Options {
    /// The letters for `$-`.
    pub fn letters(&self, interactive: bool) -> String {
        let mut text = String::new();
        for (on, letter) in [
            (self.allexport, 'a'),
            (self.noclobber, 'C'),
            (self.errexit, 'e'),
            (self.noglob, 'f'),
            (interactive, 'i'),
            (self.noexec, 'n'),
            (self.nounset, 'u'),
            (self.verbose, 'v'),
            (self.xtrace, 'x'),
        ] {
            if on {
                text.push(letter);
            }
        }
        text
    }

    /// Sets option `letter` (or long `name` for `-o`); false if unknown.
    pub fn set(&mut self, letter: &str, on: bool) -> bool {
        let slot = match letter {
            "e" | "errexit" => &mut self.errexit,
            "u" | "nounset" => &mut self.nounset,
            "x" | "xtrace" => &mut self.xtrace,
            "f" | "noglob" => &mut self.noglob,
            "n" | "noexec" => &mut self.noexec,
            "v" | "verbose" => &mut self.verbose,
            "C" | "noclobber" => &mut self.noclobber,
            "a" | "allexport" => &mut self.allexport,
            // Accepted for compatibility, no effect here.
            "m" | "monitor" | "b" | "notify" | "h" | "ignoreeof" | "vi" | "emacs" => return true,
            _ => return false,
        };
        *slot = on;
        true
    }
}

pub struct Shell {
    pub vars: Variables,
    pub positional: Vec<String>,
    /// `$0`.
    pub name: String,
    pub last_status: i32,
    pub last_background: Option<Pid>,
    pub pid: Pid,
    pub functions: BTreeMap<String, Rc<FunctionDef>>,
    pub aliases: BTreeMap<String, String>,
    pub options: Options,
    /// Trap actions by condition name (`EXIT`, `INT`, ...).
    pub traps: BTreeMap<String, String>,
    pub flow: Flow,
    /// The status `exit` asked for.
    pub exit_status: i32,
    /// Enclosing loops (for `break`/`continue`).
    pub loop_depth: u32,
    /// Enclosing function calls (for `return`).
    pub function_depth: u32,
    /// Inside an `if`/`while` condition, a `!` pipeline or a non-final
    /// part of `&&`/`||`: `set -e` does not apply.
    pub errexit_suppressed: u32,
    /// In-process subshells around the current command.
    pub subshell_depth: u32,
    /// Position inside the current `getopts` argument group.
    pub getopts_offset: usize,
    /// `OPTIND` as `getopts` last left it (a reset to 1 starts over).
    pub getopts_last_optind: usize,
    /// Set by `exec` without a command: keep this command's redirections.
    pub keep_redirects: bool,
    /// The status of the last command substitution of the current command.
    pub substitution_status: Option<i32>,
    /// The pipeline being started is a background job (init keeps a reserve
    /// of processes and memory that only foreground commands may use).
    pub starting_background: bool,
    /// Aliases being substituted (an alias is not expanded inside itself).
    pub expanding_aliases: Vec<String>,
    /// Command substitutions being captured, innermost last.
    pub captures: Vec<Capture>,
    pub lineno: u32,
    pub history: History,
    pub jobs: JobTable,
    pub job_control: bool,
    pub interactive: bool,
    pub shell_pgid: Pid,
    /// An address near the bottom of the stack when the shell started.
    pub stack_base: usize,
    pub temp_counter: u32,
    /// The terminal while it is the shell's (interactive on a terminal).
    pub terminal: Option<Rc<Terminal>>,
}

/// An address on the current stack (its depth).
#[inline(never)]
pub fn stack_position() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

impl Shell {
    pub fn new(name: String, positional: Vec<String>) -> Shell {
        let environment = posix::environment();
        let mut vars = Variables::from_environment(environment.iter().map(String::as_str));
        let pid = posix::getpid();
        let _ = vars.set("PPID", &posix::getppid().to_string());
        if vars.get("IFS").is_none() {
            let _ = vars.set("IFS", zos_sh_syntax::DEFAULT_IFS);
        }
        let _ = vars.set("OPTIND", "1");
        if vars.get("PS4").is_none() {
            let _ = vars.set("PS4", "+ ");
        }
        let cwd = posix::getcwd();
        let _ = vars.export("PWD", Some(&cwd));
        Shell {
            vars,
            positional,
            name,
            last_status: 0,
            last_background: None,
            pid,
            functions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            options: Options::default(),
            traps: BTreeMap::new(),
            flow: Flow::Normal,
            exit_status: 0,
            loop_depth: 0,
            function_depth: 0,
            errexit_suppressed: 0,
            subshell_depth: 0,
            getopts_offset: 0,
            getopts_last_optind: 1,
            keep_redirects: false,
            substitution_status: None,
            captures: Vec::new(),
            expanding_aliases: Vec::new(),
            starting_background: false,
            lineno: 0,
            history: History::default(),
            jobs: JobTable::new(),
            job_control: false,
            interactive: false,
            shell_pgid: posix::getpgrp(),
            stack_base: stack_position(),
            temp_counter: 0,
            terminal: None,
        }
    }

    /// Ends the current command for a fatal error: a non-interactive shell
    /// exits with `status`, an interactive one goes back to its prompt.
    pub fn abort(&mut self, status: i32) {
        self.last_status = status;
        self.exit_status = status;
        self.flow = if self.interactive {
            Flow::Abort
        } else {
            Flow::Exit
        };
    }

    /// Standard output of built-ins: the innermost capture's buffer, or
    /// descriptor 1.
    pub fn write_stdout(&mut self, bytes: &[u8]) {
        match self.captures.last_mut() {
            Some(Capture::Buffer(buffer)) => buffer.extend_from_slice(bytes),
            _ => {
                let _ = posix::write_all(1, bytes);
            }
        }
    }

    /// [`Shell::write_stdout`] for text.
    pub fn print(&mut self, text: &str) {
        self.write_stdout(text.as_bytes());
    }

    /// Gives the innermost in-memory capture a real descriptor 1 (a
    /// temporary file holding what was captured so far).
    pub fn materialize_capture(&mut self) {
        if !matches!(self.captures.last(), Some(Capture::Buffer(_))) {
            return;
        }
        let path = self.temp_path("subst");
        use libzos::fs::{O_CREAT, O_RDWR, O_TRUNC};
        let Ok(fd) = posix::open(&path, O_RDWR | O_CREAT | O_TRUNC, 0o600) else {
            return;
        };
        let fd = move_high(fd);
        if let Some(Capture::Buffer(buffer)) = self.captures.pop() {
            let _ = posix::write_all(fd, &buffer);
        }
        let _ = posix::dup2(fd, 1);
        self.captures.push(Capture::File { fd, path });
    }

    /// True once the stack is too deep to nest further.
    pub fn stack_exhausted(&self) -> bool {
        self.stack_base.saturating_sub(stack_position()) > STACK_BUDGET
    }

    /// `sh: message` on standard error.
    pub fn complain(&self, message: &str) {
        let text = format!("{}: {message}\n", self.error_prefix());
        let _ = posix::write_all(2, text.as_bytes());
    }

    fn error_prefix(&self) -> String {
        if self.interactive || self.lineno == 0 {
            "sh".to_string()
        } else {
            format!("{}: line {}", self.name, self.lineno)
        }
    }

    /// Reports a syntax error: status 2, and a non-interactive shell ends.
    pub fn syntax_error(&mut self, error: &ParseError) {
        let message = format!("{error}");
        // At the prompt the line number says nothing.
        let message = match message.split_once(": ") {
            Some((line, rest)) if self.interactive && line.starts_with("line ") => rest,
            _ => &message,
        };
        let text = format!("{}: {message}\n", self.name_for_errors());
        let _ = posix::write_all(2, text.as_bytes());
        self.last_status = 2;
        if !self.interactive {
            self.exit_status = 2;
            self.flow = Flow::Exit;
        }
    }

    fn name_for_errors(&self) -> &str {
        if self.interactive {
            "sh"
        } else {
            &self.name
        }
    }

    /// Parses and runs text one complete command at a time, stopping at
    /// the first syntax error (the commands before it have run).
    pub fn run_text(&mut self, text: &str) {
        let mut parser = Parser::new(text);
        loop {
            match parser.next_command() {
                Ok(Some(program)) => {
                    if self.options.verbose {
                        for item in &program.items {
                            out(2, &format!("{}\n", item.source));
                        }
                    }
                    if !self.options.noexec || self.interactive {
                        self.run_program(&program);
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    self.syntax_error(&error);
                    return;
                }
            }
            if self.flow != Flow::Normal {
                return;
            }
        }
    }

    /// Runs the EXIT trap (once) and returns the status to exit with.
    pub fn finish(&mut self) -> i32 {
        let status = if self.flow == Flow::Exit {
            self.exit_status
        } else {
            self.last_status
        };
        if let Some(action) = self.traps.remove("EXIT") {
            self.flow = Flow::Normal;
            self.last_status = status;
            self.run_text(&action);
            if self.flow == Flow::Exit {
                return self.exit_status;
            }
        }
        status
    }

    /// A fresh name for a temporary file of this shell.
    pub fn temp_path(&mut self, what: &str) -> String {
        self.temp_counter = self.temp_counter.wrapping_add(1);
        format!("/tmp/.sh-{}-{}-{what}", self.pid, self.temp_counter)
    }

    /// `$-`.
    pub fn option_letters(&self) -> String {
        self.options.letters(self.interactive)
    }
}

/// The shell's own descriptors: saved copies, pipe ends, the script it
/// reads, each moved to 10 or above by [`move_high`]. A descriptor the
/// user made there (`exec 12>file`) is not in it ([`user_descriptor`]).
static OWN_DESCRIPTORS: libzos::rt::BackoffMutex<BTreeSet<Fd>> =
    libzos::rt::BackoffMutex::new(BTreeSet::new());

/// The shell's own descriptors as actions that keep them from a child or
/// an exec'd program, as close-on-exec keeps them in other shells; every
/// other one (the user's 0–9, and those the user opened at 10 and above)
/// is inherited.
pub fn internal_descriptors() -> Vec<posix::FileAction> {
    let own = OWN_DESCRIPTORS.lock();
    posix::descriptors()
        .into_iter()
        .filter(|fd| own.contains(fd))
        .map(posix::FileAction::Close)
        .collect()
}

/// Records that descriptor `fd` now holds what the user asked for (a
/// redirection's target), not one of the shell's own.
pub fn user_descriptor(fd: Fd) {
    OWN_DESCRIPTORS.lock().remove(&fd);
}

/// Moves a descriptor to 10 or above (out of the user's 0–9), closing
/// the original; the result is one of the shell's own.
pub fn move_high(fd: Fd) -> Fd {
    let moved = move_to_ten_or_above(fd);
    if moved >= 10 {
        OWN_DESCRIPTORS.lock().insert(moved);
    }
    moved
}

fn move_to_ten_or_above(fd: Fd) -> Fd {
    if fd >= 10 {
        return fd;
    }
    let used = posix::descriptors();
    let mut target = 10;
    while used.contains(&target) {
        target += 1;
    }
    match posix::dup2(fd, target) {
        Ok(_) => {
            let _ = posix::close(fd);
            target
        }
        Err(_) => fd,
    }
}

/// Writes text to a descriptor, ignoring errors (a closed pipe).
pub fn out(fd: Fd, text: &str) {
    let _ = posix::write_all(fd, text.as_bytes());
}
