//! Tools that look at or act on processes: `ps`, `kill`, `svc`, `env`.

use crate::io::write_out;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::eprintln;
use libzos::posix::{self, Errno};
use zos_proto::errno::ENOENT;
use zos_tools_core::env::{self, EnvCommand};
use zos_tools_core::failure::EXIT_ERROR;
use zos_tools_core::signal::{self, KillCommand};
use zos_tools_core::{report, Failure, UsageError};

/// Exit status when the command `env` should run does not exist.
const EXIT_NOT_FOUND: i32 = 127;
/// Exit status when it exists but cannot be started.
const EXIT_CANNOT_RUN: i32 = 126;

fn no_operands(args: &[&str]) -> Result<(), UsageError> {
    match args.first() {
        Some(extra) => Err(UsageError(format!("extra operand '{extra}'"))),
        None => Ok(()),
    }
}

pub fn ps(args: &[&str]) -> Result<(), Failure> {
    no_operands(args)?;
    let mut processes = posix::processes()
        .map_err(|error| Failure::Error(format!("cannot list processes: {}", error.describe())))?;
    processes.sort_by_key(|process| process.pid);
    let names = crate::users::Names::load();
    let mut text = String::from(report::PS_HEADER);
    text.push('\n');
    for process in &processes {
        text.push_str(&report::ps_row(
            process.pid,
            process.ppid,
            process.pgid,
            process.state,
            &names.user(process.uid),
            &process.name,
        ));
        text.push('\n');
    }
    write_out(text.as_bytes())
}

pub fn svc(args: &[&str]) -> Result<(), Failure> {
    no_operands(args)?;
    let services = posix::services()
        .map_err(|error| Failure::Error(format!("cannot list services: {}", error.describe())))?;
    let mut text = String::from(report::SVC_HEADER);
    text.push('\n');
    for service in &services {
        text.push_str(&report::svc_row(
            &service.name,
            &service.state,
            service.pid,
            service.restarts,
        ));
        text.push('\n');
    }
    write_out(text.as_bytes())
}

pub fn kill(args: &[&str]) -> Result<(), Failure> {
    match signal::parse(args)? {
        KillCommand::List(lines) => {
            let mut text = lines.join("\n");
            text.push('\n');
            write_out(text.as_bytes())
        }
        KillCommand::Send { signal, targets } => {
            let mut failed = false;
            for target in targets {
                if let Err(error) = posix::kill(target, signal) {
                    eprintln!("kill: ({target}) - {}", error.describe());
                    failed = true;
                }
            }
            if failed {
                Err(Failure::Exit(EXIT_ERROR))
            } else {
                Ok(())
            }
        }
    }
}

pub fn env(args: &[&str]) -> Result<(), Failure> {
    let command = env::parse(args)?;
    let environment = env::apply(&posix::environment(), &command);
    if command.command.is_empty() {
        let mut text = String::new();
        for entry in &environment {
            text.push_str(entry);
            text.push('\n');
        }
        return write_out(text.as_bytes());
    }
    run_command(&command, &environment)
}

/// Runs the command in `environment` in place of `env` (trying each `PATH`
/// entry): it keeps env's pid, as `execvp` does. Returns only when no
/// candidate could start.
fn run_command(command: &EnvCommand, environment: &[String]) -> Result<(), Failure> {
    let program = command.command[0];
    let search_path = environment
        .iter()
        .find_map(|entry| entry.strip_prefix("PATH="));
    let environment: Vec<&str> = environment.iter().map(String::as_str).collect();
    let mut last_error = Errno(ENOENT);
    for candidate in env::candidates(program, search_path) {
        match posix::exec(&candidate, &command.command, &environment, &[]) {
            Errno(ENOENT) => {}
            error => {
                last_error = error;
                break;
            }
        }
    }
    eprintln!("env: '{program}': {}", last_error.describe());
    Err(Failure::Exit(if last_error == Errno(ENOENT) {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    }))
}
