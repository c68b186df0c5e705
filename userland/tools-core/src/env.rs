//! `env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG]...]`: the command line,
//! the environment it produces, and where to look for the command.

use crate::failure::UsageError;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Where commands are looked for when `PATH` is unset.
pub const DEFAULT_PATH: &str = "/bin:/sbin";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvCommand<'a> {
    /// `-i`: start from an empty environment.
    pub clear: bool,
    /// `-u NAME`: remove these.
    pub unset: Vec<&'a str>,
    /// `NAME=VALUE` settings, in order.
    pub assignments: Vec<(&'a str, &'a str)>,
    /// The command and its arguments; empty: print the environment.
    pub command: Vec<&'a str>,
}

pub fn parse<'a>(args: &[&'a str]) -> Result<EnvCommand<'a>, UsageError> {
    let mut parsed = EnvCommand::default();
    let mut index = 0;
    while let Some(&arg) = args.get(index) {
        match arg {
            "-i" | "-" => parsed.clear = true,
            "-u" => {
                index += 1;
                let name = args
                    .get(index)
                    .ok_or_else(|| UsageError("option requires an argument -- 'u'".into()))?;
                parsed.unset.push(name);
            }
            "--" => {
                index += 1;
                break;
            }
            option if option.starts_with('-') => {
                return Err(UsageError(format!("invalid option '{option}'")));
            }
            _ => break,
        }
        index += 1;
    }
    while let Some((name, value)) = args.get(index).and_then(|arg| arg.split_once('=')) {
        if name.is_empty() {
            return Err(UsageError(format!("invalid assignment '{name}={value}'")));
        }
        parsed.assignments.push((name, value));
        index += 1;
    }
    parsed.command = args[index..].to_vec();
    Ok(parsed)
}

/// The environment (`NAME=VALUE` strings) after applying `command` to `current`.
pub fn apply(current: &[String], command: &EnvCommand) -> Vec<String> {
    let mut env: Vec<String> = if command.clear {
        Vec::new()
    } else {
        current.to_vec()
    };
    let name_of = |entry: &str| entry.split_once('=').map_or("", |(n, _)| n).to_string();
    env.retain(|entry| !command.unset.contains(&name_of(entry).as_str()));
    for (name, value) in &command.assignments {
        let entry = format!("{name}={value}");
        match env.iter_mut().find(|e| name_of(e) == *name) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
    env
}

/// The paths to try, in order, for `command` given `PATH` (if set).
pub fn candidates(command: &str, path: Option<&str>) -> Vec<String> {
    if command.contains('/') {
        return alloc::vec![command.to_string()];
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(':')
        .map(|dir| match dir {
            "" => format!("./{command}"),
            dir => format!("{}/{command}", dir.trim_end_matches('/')),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn print_only() {
        assert_eq!(parse(&[]), Ok(EnvCommand::default()));
    }

    #[test]
    fn full_command_line() {
        let parsed = parse(&["-i", "-u", "X", "A=1", "B=", "ls", "-l", "C=3"]).unwrap();
        assert!(parsed.clear);
        assert_eq!(parsed.unset, ["X"]);
        assert_eq!(parsed.assignments, [("A", "1"), ("B", "")]);
        assert_eq!(parsed.command, ["ls", "-l", "C=3"]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&["-z"]).unwrap_err().0, "invalid option '-z'");
        assert_eq!(
            parse(&["-u"]).unwrap_err().0,
            "option requires an argument -- 'u'"
        );
        assert_eq!(parse(&["=x"]).unwrap_err().0, "invalid assignment '=x'");
    }

    #[test]
    fn double_dash_ends_options() {
        let parsed = parse(&["--", "-i"]).unwrap();
        assert!(!parsed.clear);
        assert_eq!(parsed.command, ["-i"]);
    }

    #[test]
    fn applying_changes() {
        let current = vec!["HOME=/".to_string(), "X=1".to_string(), "Y=2".to_string()];
        let parsed = parse(&["-u", "X", "Y=3", "Z=4"]).unwrap();
        assert_eq!(apply(&current, &parsed), ["HOME=/", "Y=3", "Z=4"]);
        let parsed = parse(&["-i", "A=b=c"]).unwrap();
        assert_eq!(apply(&current, &parsed), ["A=b=c"]);
    }

    #[test]
    fn search_path() {
        assert_eq!(candidates("/x/y", Some("/bin")), ["/x/y"]);
        assert_eq!(candidates("ls", None), ["/bin/ls", "/sbin/ls"]);
        assert_eq!(
            candidates("ls", Some("/usr/bin/::/b")),
            ["/usr/bin/ls", "./ls", "/b/ls"]
        );
    }
}
