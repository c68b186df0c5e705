//! Built-in commands, run in the shell process with its current
//! descriptors (redirections are already in place). Special built-ins are
//! in [`special`], the others in [`regular`] and [`job_control`].

mod job_control;
mod regular;
mod special;

use alloc::string::String;

use crate::shell::Shell;

impl Shell {
    /// Runs built-in `argv[0]`; returns its status.
    pub fn run_builtin(&mut self, argv: &[String]) -> i32 {
        let name = argv[0].as_str();
        let args = &argv[1..];
        match name {
            ":" | "true" => 0,
            "false" => 1,
            "break" => self.builtin_break(args, false),
            "continue" => self.builtin_break(args, true),
            "." => self.builtin_dot(args),
            "eval" => self.builtin_eval(args),
            "exec" => self.builtin_exec(args),
            "exit" => self.builtin_exit(args),
            "export" => self.builtin_export(args, false),
            "readonly" => self.builtin_export(args, true),
            "return" => self.builtin_return(args),
            "set" => self.builtin_set(args),
            "shift" => self.builtin_shift(args),
            "times" => self.builtin_times(),
            "trap" => self.builtin_trap(args),
            "unset" => self.builtin_unset(args),
            "cd" => self.builtin_cd(args),
            "pwd" => self.builtin_pwd(args),
            "read" => self.builtin_read(args),
            "printf" => self.builtin_printf(args),
            "test" | "[" => self.builtin_test(name, args),
            "echo" => self.builtin_echo(args),
            "getopts" => self.builtin_getopts(args),
            "command" => self.builtin_command(args),
            "type" => self.builtin_type(args),
            "alias" => self.builtin_alias(args),
            "unalias" => self.builtin_unalias(args),
            "umask" => self.builtin_umask(args),
            "local" => self.builtin_local(args),
            "hash" => 0,
            "help" => {
                self.print(&zos_sh_core::builtins::help_text());
                0
            }
            "history" => self.builtin_history(args),
            "wait" => self.builtin_wait(args),
            "kill" => self.builtin_kill(args),
            "jobs" => self.builtin_jobs(),
            "fg" => self.builtin_fg(args),
            "bg" => self.builtin_bg(args),
            _ => {
                self.complain(&alloc::format!("{name}: not a built-in"));
                127
            }
        }
    }

    /// `sh: NAME: message`, then the status.
    pub fn builtin_error(&self, name: &str, message: &str, status: i32) -> i32 {
        self.complain(&alloc::format!("{name}: {message}"));
        status
    }
}
