//! `sh`, the Zero OS shell: a POSIX shell. Usage: `sh [-eixufnv] [-o
//! OPTION]... [FILE [ARG...]]`, `sh -c COMMAND [NAME [ARG...]]`, `sh -s
//! [ARG...]` (commands from standard input; the line editor on a
//! terminal). The language and the pure logic live in `zos-sh-syntax` and
//! `zos-sh-core`; this program runs commands through `libzos::posix`.
//!
//! The interpreter runs on a thread with a 1 MiB stack (the main thread
//! only waits), so deep nesting reaches the shell's own limits — errors
//! with a message — long before the stack's end.
#![no_std]
#![no_main]

extern crate alloc;

mod builtins;
mod compound;
mod context;
mod exec;
mod input;
mod redirect;
mod script;
mod shell;
mod simple;
mod subshell;
mod terminal;
mod traps;

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use libzos::posix;
use zos_sh_core::prompt;
use zos_sh_syntax::needs_more_input;

use input::{LineSource, ReadLine};
use shell::{out, Flow, Options, Shell};
use terminal::Terminal;

libzos::entry!(main);

/// `$?` after Ctrl-C at the prompt, as if the line had died of SIGINT.
const CANCELLED_STATUS: i32 = 130;

/// The interpreter thread's stack.
const INTERPRETER_STACK: u64 = 1024 * 1024;

fn main(_arg: u64) -> i64 {
    match libzos::thread::spawn_with_stack(interpreter, 0, 100, INTERPRETER_STACK) {
        Ok(_) => {
            // The interpreter ends the process; this thread just waits.
            if let Ok(notification) = libzos::sys::notification_create() {
                loop {
                    let _ = libzos::sys::wait(notification);
                }
            }
            loop {
                posix::nanosleep(1_000_000_000_000);
            }
        }
        // No memory for a big stack: run here, with less depth.
        Err(_) => run() as i64,
    }
}

fn interpreter(_arg: u64) {
    let status = run();
    posix::exit(status);
}

/// What the command line asked for.
struct Invocation {
    options: Options,
    command: Option<String>,
    from_stdin: bool,
    interactive: bool,
    operands: Vec<String>,
}

fn parse_arguments(args: &[String]) -> Result<Invocation, String> {
    let mut invocation = Invocation {
        options: Options::default(),
        command: None,
        from_stdin: false,
        interactive: false,
        operands: Vec::new(),
    };
    let mut want_command = false;
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        if arg == "--" {
            index += 1;
            break;
        }
        let (on, letters) = match arg.as_bytes() {
            [b'-', _, ..] => (true, &arg[1..]),
            [b'+', _, ..] => (false, &arg[1..]),
            [b'-'] => {
                index += 1;
                break;
            }
            _ => break,
        };
        for letter in letters.chars() {
            match letter {
                'c' => want_command = true,
                's' => invocation.from_stdin = true,
                'i' => invocation.interactive = on,
                'o' => {
                    index += 1;
                    let Some(name) = args.get(index) else {
                        return Err("-o: option requires an argument".to_string());
                    };
                    if !invocation.options.set(name, on) {
                        return Err(alloc::format!("-o {name}: unknown option"));
                    }
                }
                other => {
                    if !invocation.options.set(other.encode_utf8(&mut [0; 4]), on) {
                        return Err(alloc::format!("-{other}: unknown option"));
                    }
                }
            }
        }
        index += 1;
    }
    let mut operands: Vec<String> = args[index..].to_vec();
    if want_command {
        if operands.is_empty() {
            return Err("-c: option requires an argument".to_string());
        }
        invocation.command = Some(operands.remove(0));
    }
    invocation.operands = operands;
    Ok(invocation)
}

fn run() -> i32 {
    // Built-ins write into pipelines from this process: a reader that quit
    // must not end the shell.
    posix::ignore_sigpipe(true);
    let args: Vec<String> = posix::args().to_vec();
    let name = args.first().cloned().unwrap_or_else(|| "sh".to_string());
    let invocation = match parse_arguments(args.get(1..).unwrap_or_default()) {
        Ok(invocation) => invocation,
        Err(message) => {
            out(2, &alloc::format!("sh: {message}\n"));
            return 2;
        }
    };
    let mut operands = invocation.operands.clone();
    if let Some(command) = &invocation.command {
        let name = if operands.is_empty() {
            name
        } else {
            operands.remove(0)
        };
        let mut shell = Shell::new(name, operands);
        shell.options = invocation.options;
        shell.run_text(command);
        return shell.finish();
    }
    if !invocation.from_stdin && !operands.is_empty() {
        let path = operands.remove(0);
        let mut shell = Shell::new(path.clone(), operands);
        shell.options = invocation.options;
        return match script::read_file(&path) {
            Ok(text) => {
                shell.run_text(&text);
                shell.finish()
            }
            Err(message) => {
                out(2, &alloc::format!("sh: {message}\n"));
                if message.ends_with("(ENOENT)") || message.contains("No such file") {
                    127
                } else {
                    126
                }
            }
        };
    }
    let mut shell = Shell::new(name, operands);
    shell.options = invocation.options;
    run_standard_input(&mut shell, invocation.interactive)
}

/// Commands from descriptor 0: the line editor on a terminal, else plain lines.
fn run_standard_input(shell: &mut Shell, force_interactive: bool) -> i32 {
    let on_terminal = posix::isatty(0);
    shell.interactive = on_terminal || force_interactive;
    shell.job_control = on_terminal;
    let mut source = if on_terminal {
        let pid = posix::getpid();
        if shell.shell_pgid != pid && posix::setpgid(0, 0).is_ok() {
            shell.shell_pgid = pid;
        }
        let terminal = Rc::new(Terminal::claim(0, shell.shell_pgid));
        traps::catch_interrupts();
        shell.terminal = Some(terminal.clone());
        LineSource::editor(terminal)
    } else {
        LineSource::plain(0, shell.interactive)
    };
    let status = run_loop(shell, &mut source);
    if let Some(terminal) = source.terminal() {
        terminal.restore();
    }
    status
}

/// `!!` becomes the previous command (outside single quotes).
fn expand_history(line: &str, shell: &Shell) -> Option<String> {
    if !line.contains("!!") {
        return None;
    }
    let previous = shell
        .history
        .get(shell.history.len().checked_sub(1)?)?
        .to_string();
    let mut result = String::new();
    let mut in_single = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_single = !in_single;
        }
        if c == '!' && !in_single && chars.peek() == Some(&'!') {
            chars.next();
            result.push_str(&previous);
        } else {
            result.push(c);
        }
    }
    Some(result)
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
        shell.run_pending_traps();
        let Some(mut text) = read_command(shell, source) else {
            return shell.finish();
        };
        if shell.interactive {
            if let Some(expanded) = expand_history(&text, shell) {
                out(1, &alloc::format!("{expanded}\n"));
                text = expanded;
            }
            shell.history.push(&text);
        }
        if let Some(terminal) = source.terminal() {
            traps::clear_interrupt();
            terminal.running();
        }
        shell.run_text(&text);
        if shell.flow == Flow::Exit {
            return shell.finish();
        }
        if shell.flow == Flow::Abort {
            shell.last_status = shell.exit_status;
        }
        shell.flow = Flow::Normal;
    }
}

/// Whether the shell runs as root (asked once: credentials change only by
/// starting a new process, through `login` or `su`).
fn is_root() -> bool {
    static ROOT: spin::Once<bool> = spin::Once::new();
    *ROOT.call_once(|| posix::geteuid() == 0)
}

/// Reads one complete command (asking for continuation lines while it is
/// incomplete). `None` at end of input.
fn read_command(shell: &mut Shell, source: &mut LineSource) -> Option<String> {
    let mut text = String::new();
    loop {
        let continuing = !text.is_empty();
        let line_prompt = if continuing {
            shell.vars.get("PS2").unwrap_or("> ").to_string()
        } else {
            match shell.vars.get("PS1") {
                Some(ps1) => ps1.to_string(),
                None => prompt::primary_for(&posix::getcwd(), is_root()),
            }
        };
        let mut completer = input::ShellCompleter {
            commands: zos_sh_core::builtins::SPECIAL
                .iter()
                .chain(zos_sh_core::builtins::REGULAR)
                .map(|name| name.to_string())
                .chain(shell.functions.keys().cloned())
                .chain(shell.aliases.keys().cloned())
                .collect(),
            path: shell.vars.get("PATH").unwrap_or("/bin:/sbin").to_string(),
        };
        match source.read_line(&line_prompt, &shell.history, &mut completer) {
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
                shell.last_status = CANCELLED_STATUS;
                text.clear();
            }
            ReadLine::TooLong => {
                out(
                    2,
                    &alloc::format!(
                        "sh: line too long (more than {} bytes); ignored\n",
                        zos_sh_core::MAX_LINE_BYTES
                    ),
                );
                shell.last_status = 2;
                text.clear();
            }
            // An unfinished command at end of input still runs (and reports
            // its syntax error).
            ReadLine::End if continuing => return Some(text),
            ReadLine::End => return None,
        }
    }
}
