//! `sh`, the Zero OS shell. Usage: `sh` (interactive on a terminal, else
//! commands from standard input), `sh -c COMMAND [NAME [ARG...]]`, `sh -i`,
//! `sh FILE` (needs the VFS: not yet). The language and the pure logic live in
//! `zos-sh-syntax` and `zos-sh-core`; this program reads lines, runs commands
//! through `libzos::posix`, and manages the terminal.
#![no_std]
#![no_main]

extern crate alloc;

mod input;
mod shell;
mod terminal;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::eprintln;
use libzos::posix::{self, Errno, Fd};
use zos_sh_core::prompt;
use zos_sh_syntax::needs_more_input;

use input::{LineSource, ReadLine};
use shell::Shell;
use terminal::Terminal;

libzos::entry!(main);

/// `$?` after Ctrl-C at the prompt, as if the line had died of SIGINT.
const CANCELLED_STATUS: i32 = 130;

fn main(_arg: u64) -> i64 {
    // Builtins write into pipelines from this process: a reader that quit
    // must not end the shell.
    posix::ignore_sigpipe(true);
    let args: Vec<String> = posix::args().to_vec();
    let name = args.first().cloned().unwrap_or_else(|| "sh".to_string());
    let mut rest: &[String] = args.get(1..).unwrap_or_default();
    let mut force_interactive = false;
    while let Some(option) = rest.first() {
        match option.as_str() {
            "-i" => force_interactive = true,
            "--" => {
                rest = &rest[1..];
                break;
            }
            "-c" => return run_command_string(&name, &rest[1..]) as i64,
            _ => break,
        }
        rest = &rest[1..];
    }
    match rest.split_first() {
        Some((script, arguments)) if script != "-" => {
            run_script_file(script, arguments.to_vec()) as i64
        }
        _ => run_standard_input(name, force_interactive) as i64,
    }
}

/// `sh -c COMMAND [NAME [ARG...]]`: runs COMMAND and exits with its status.
fn run_command_string(shell_name: &str, arguments: &[String]) -> i32 {
    let Some((command, rest)) = arguments.split_first() else {
        eprintln!("sh: -c: option requires an argument");
        return 2;
    };
    let (name, positional) = match rest.split_first() {
        Some((name, positional)) => (name.clone(), positional.to_vec()),
        None => (shell_name.to_string(), Vec::new()),
    };
    let mut shell = Shell::new(name, positional);
    shell.run_text(command, None);
    shell.exit_request.unwrap_or(shell.last_status())
}

/// `sh FILE`: reading the script needs `open`, which waits for the VFS.
fn run_script_file(path: &str, positional: Vec<String>) -> i32 {
    match open_script(path) {
        Ok(fd) => {
            let mut shell = Shell::new(path.to_string(), positional);
            let mut source = LineSource::plain(fd, false);
            let status = run_loop(&mut shell, &mut source);
            let _ = posix::close(fd);
            status
        }
        Err(error) => {
            eprintln!("sh: {path}: {}", error.describe());
            126
        }
    }
}

/// Opens a script for reading.
fn open_script(path: &str) -> Result<Fd, Errno> {
    posix::open(path, libzos::fs::O_RDONLY, 0)
}

/// Commands from descriptor 0: the line editor on a terminal, else plain lines.
fn run_standard_input(name: String, force_interactive: bool) -> i32 {
    let on_terminal = posix::isatty(0);
    let mut shell = Shell::new(name, Vec::new());
    shell.interactive = on_terminal || force_interactive;
    shell.job_control = on_terminal;
    let mut source = if on_terminal {
        let pid = posix::getpid();
        if shell.shell_pgid != pid && posix::setpgid(0, 0).is_ok() {
            shell.shell_pgid = pid;
        }
        LineSource::editor(Terminal::claim(0, shell.shell_pgid))
    } else {
        LineSource::plain(0, shell.interactive)
    };
    let status = run_loop(&mut shell, &mut source);
    if let Some(terminal) = source.terminal() {
        terminal.restore();
    }
    status
}

/// Reads, parses and runs commands until end of input or `exit`; returns
/// the shell's exit status.
fn run_loop(shell: &mut Shell, source: &mut LineSource) -> i32 {
    loop {
        if shell.interactive {
            shell.report_done_jobs();
        } else {
            shell.reap_background();
        }
        let Some(text) = read_command(shell, source) else {
            return shell.last_status();
        };
        if shell.interactive {
            shell.history.push(&text);
        }
        shell.run_text(&text, source.terminal());
        if let Some(code) = shell.exit_request {
            return code;
        }
    }
}

/// Reads one complete command (asking for continuation lines while it is
/// incomplete). `None` at end of input.
fn read_command(shell: &mut Shell, source: &mut LineSource) -> Option<String> {
    let mut text = String::new();
    loop {
        let continuing = !text.is_empty();
        let line_prompt = prompt::for_line(&posix::getcwd(), continuing);
        match source.read_line(&line_prompt, &shell.history) {
            ReadLine::Line(line) => {
                if continuing {
                    text.push('\n');
                }
                text.push_str(&line);
                if !needs_more_input(&text) {
                    return Some(text);
                }
            }
            ReadLine::Cancelled => {
                shell.set_status(CANCELLED_STATUS);
                text.clear();
            }
            ReadLine::TooLong => {
                eprintln!(
                    "sh: line too long (more than {} bytes); ignored",
                    zos_sh_core::MAX_LINE_BYTES
                );
                shell.set_status(2);
                text.clear();
            }
            // An unfinished command at end of input still runs (and reports
            // its syntax error).
            ReadLine::End if continuing => return Some(text),
            ReadLine::End => return None,
        }
    }
}
