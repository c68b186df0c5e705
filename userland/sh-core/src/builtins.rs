//! Builtin commands: their names, help text, and argument parsing into a
//! [`Builtin`] value the shell then carries out. Parse errors carry the
//! message (printed as `sh: NAME: message`) and the exit status.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::jobs::{parse_job_ref, JobRef};
use zos_sh_syntax::is_valid_name;

/// Every builtin, with a one-line description, in `help` order.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "cd",
        "cd [DIR|-]       change directory (no DIR: $HOME, else /)",
    ),
    ("pwd", "pwd              print the working directory"),
    (
        "exit",
        "exit [N]         leave the shell with status N (default $?)",
    ),
    (
        "export",
        "export [NAME[=VALUE]...]  export variables (no NAME: list them)",
    ),
    ("unset", "unset NAME...    remove variables"),
    ("help", "help             this list"),
    (
        "history",
        "history [-c|N]   numbered command history (-c clears)",
    ),
    ("jobs", "jobs             background jobs"),
    ("fg", "fg [%N]          wait for a job in the foreground"),
    (
        "wait",
        "wait [%N|PID...] wait for jobs (no argument: all of them)",
    ),
    ("true", "true             succeed"),
    ("false", "false            fail"),
    (":", ":                do nothing, successfully"),
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.iter().any(|(builtin, _)| *builtin == name)
}

/// What `help` prints.
pub fn help_text() -> String {
    let mut text = String::from("Zero OS shell builtins:\n");
    for (_, line) in BUILTINS {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("Other commands are run from $PATH (default /bin:/sbin).\n");
    text
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CdTarget {
    /// No argument.
    Home,
    /// `cd -`.
    Previous,
    Path(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryCommand {
    List(Option<usize>),
    Clear,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Builtin {
    Cd(CdTarget),
    Pwd,
    /// `exit [N]`; `None`: the last status. `complaint`: a bad N, which still
    /// exits (with status 2) after printing it.
    Exit {
        code: Option<i32>,
        complaint: Option<String>,
    },
    /// `export` with no names lists exports.
    Export(Vec<(String, Option<String>)>),
    ExportList,
    Unset(Vec<String>),
    Help,
    History(HistoryCommand),
    Jobs,
    Fg(JobRef),
    /// No references: every job.
    Wait(Vec<JobRef>),
    True,
    False,
}

/// A usage error: message and exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinError {
    pub message: String,
    pub status: i32,
}

fn usage(message: String) -> BuiltinError {
    BuiltinError { message, status: 2 }
}

fn failure(message: String) -> BuiltinError {
    BuiltinError { message, status: 1 }
}

/// Parses `argv` (with `argv[0]` the builtin's name); `None` if it is not a
/// builtin.
pub fn parse_builtin(argv: &[String]) -> Option<Result<Builtin, BuiltinError>> {
    let (name, arguments) = argv.split_first()?;
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let parsed = match name.as_str() {
        "cd" => parse_cd(&arguments),
        "pwd" => Ok(Builtin::Pwd),
        "exit" => parse_exit(&arguments),
        "export" => parse_export(&arguments),
        "unset" => parse_unset(&arguments),
        "help" => Ok(Builtin::Help),
        "history" => parse_history(&arguments),
        "jobs" => Ok(Builtin::Jobs),
        "fg" => parse_fg(&arguments),
        "wait" => parse_wait(&arguments),
        "true" | ":" => Ok(Builtin::True),
        "false" => Ok(Builtin::False),
        _ => return None,
    };
    Some(parsed)
}

fn parse_cd(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    match arguments {
        [] => Ok(Builtin::Cd(CdTarget::Home)),
        ["-"] => Ok(Builtin::Cd(CdTarget::Previous)),
        [path] => Ok(Builtin::Cd(CdTarget::Path(path.to_string()))),
        _ => Err(failure("too many arguments".to_string())),
    }
}

/// `exit N` keeps the low 8 bits, so `exit 256` is 0 and `exit -1` is 255.
fn parse_exit(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    match arguments {
        [] => Ok(Builtin::Exit {
            code: None,
            complaint: None,
        }),
        [text] => match text.parse::<i64>() {
            Ok(code) => Ok(Builtin::Exit {
                code: Some((code & 0xff) as i32),
                complaint: None,
            }),
            Err(_) => Ok(Builtin::Exit {
                code: Some(2),
                complaint: Some(format!("{text}: numeric argument required")),
            }),
        },
        _ => Err(failure("too many arguments".to_string())),
    }
}

fn parse_export(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    let names: Vec<&str> = arguments.iter().copied().filter(|a| *a != "-p").collect();
    if names.is_empty() {
        return Ok(Builtin::ExportList);
    }
    let mut exports = Vec::new();
    for argument in names {
        let (name, value) = match argument.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (argument, None),
        };
        if !is_valid_name(name) {
            return Err(failure(format!("`{argument}': not a valid identifier")));
        }
        exports.push((name.to_string(), value));
    }
    Ok(Builtin::Export(exports))
}

fn parse_unset(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    let mut names = Vec::new();
    for argument in arguments {
        if *argument == "-v" {
            continue;
        }
        if !is_valid_name(argument) {
            return Err(failure(format!("`{argument}': not a valid identifier")));
        }
        names.push(argument.to_string());
    }
    Ok(Builtin::Unset(names))
}

fn parse_history(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    match arguments {
        [] => Ok(Builtin::History(HistoryCommand::List(None))),
        ["-c"] => Ok(Builtin::History(HistoryCommand::Clear)),
        [count] => match count.parse::<usize>() {
            Ok(count) => Ok(Builtin::History(HistoryCommand::List(Some(count)))),
            Err(_) => Err(usage(format!("{count}: numeric argument required"))),
        },
        _ => Err(failure("too many arguments".to_string())),
    }
}

fn parse_fg(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    match arguments {
        [] => Ok(Builtin::Fg(JobRef::Current)),
        [job] => parse_job_ref(job, false).map(Builtin::Fg).map_err(failure),
        _ => Err(failure("too many arguments".to_string())),
    }
}

fn parse_wait(arguments: &[&str]) -> Result<Builtin, BuiltinError> {
    let mut references = Vec::new();
    for argument in arguments {
        let reference = parse_job_ref(argument, true).map_err(usage)?;
        references.push(reference);
    }
    Ok(Builtin::Wait(references))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Option<Result<Builtin, BuiltinError>> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_builtin(&argv)
    }

    #[test]
    fn non_builtins_and_empty() {
        assert_eq!(parse("ls -l"), None);
        assert_eq!(parse_builtin(&[]), None);
        assert!(is_builtin("cd"));
        assert!(!is_builtin("echo"));
    }

    #[test]
    fn cd_forms() {
        assert_eq!(parse("cd"), Some(Ok(Builtin::Cd(CdTarget::Home))));
        assert_eq!(parse("cd -"), Some(Ok(Builtin::Cd(CdTarget::Previous))));
        assert_eq!(
            parse("cd /tmp"),
            Some(Ok(Builtin::Cd(CdTarget::Path("/tmp".into()))))
        );
        assert_eq!(parse("cd a b").unwrap().unwrap_err().status, 1);
    }

    #[test]
    fn exit_codes_wrap_and_bad_numbers_still_exit() {
        let exit = |code, complaint: Option<&str>| {
            Some(Ok(Builtin::Exit {
                code,
                complaint: complaint.map(String::from),
            }))
        };
        assert_eq!(parse("exit"), exit(None, None));
        assert_eq!(parse("exit 3"), exit(Some(3), None));
        assert_eq!(parse("exit 256"), exit(Some(0), None));
        assert_eq!(parse("exit -1"), exit(Some(255), None));
        assert_eq!(
            parse("exit x"),
            exit(Some(2), Some("x: numeric argument required"))
        );
        assert_eq!(parse("exit 1 2").unwrap().unwrap_err().status, 1);
    }

    #[test]
    fn export_and_unset_check_names() {
        assert_eq!(parse("export"), Some(Ok(Builtin::ExportList)));
        assert_eq!(parse("export -p"), Some(Ok(Builtin::ExportList)));
        assert_eq!(
            parse("export A=1 B"),
            Some(Ok(Builtin::Export(vec![
                ("A".into(), Some("1".into())),
                ("B".into(), None)
            ])))
        );
        let error = parse("export 1A=x").unwrap().unwrap_err();
        assert_eq!(error.message, "`1A=x': not a valid identifier");
        assert_eq!(error.status, 1);
        assert_eq!(
            parse("unset -v A B"),
            Some(Ok(Builtin::Unset(vec!["A".into(), "B".into()])))
        );
        assert!(parse("unset A-B").unwrap().is_err());
    }

    #[test]
    fn history_arguments() {
        assert_eq!(
            parse("history"),
            Some(Ok(Builtin::History(HistoryCommand::List(None))))
        );
        assert_eq!(
            parse("history 5"),
            Some(Ok(Builtin::History(HistoryCommand::List(Some(5)))))
        );
        assert_eq!(
            parse("history -c"),
            Some(Ok(Builtin::History(HistoryCommand::Clear)))
        );
        assert_eq!(parse("history x").unwrap().unwrap_err().status, 2);
    }

    #[test]
    fn fg_and_wait_references() {
        assert_eq!(parse("fg"), Some(Ok(Builtin::Fg(JobRef::Current))));
        assert_eq!(parse("fg %2"), Some(Ok(Builtin::Fg(JobRef::Number(2)))));
        assert_eq!(parse("fg 2"), Some(Ok(Builtin::Fg(JobRef::Number(2)))));
        assert!(parse("fg %x").unwrap().is_err());
        assert_eq!(parse("wait"), Some(Ok(Builtin::Wait(vec![]))));
        assert_eq!(
            parse("wait %1 42"),
            Some(Ok(Builtin::Wait(vec![JobRef::Number(1), JobRef::Pid(42)])))
        );
        assert_eq!(parse("wait abc").unwrap().unwrap_err().status, 2);
    }

    #[test]
    fn help_lists_every_builtin() {
        let text = help_text();
        for (name, _) in BUILTINS {
            assert!(text.contains(name), "{name} missing from help");
        }
        assert_eq!(parse("help"), Some(Ok(Builtin::Help)));
        assert_eq!(parse(":"), Some(Ok(Builtin::True)));
        assert_eq!(parse("false"), Some(Ok(Builtin::False)));
    }
}
