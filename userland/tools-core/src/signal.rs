//! Signal names and numbers, and `kill`'s command line:
//! `kill [-SIGNAL | -s SIGNAL] [--] PID|-PGID...` and `kill -l [SIGNAL|STATUS]...`.
//! Names work with or without `SIG`, in any case; numbers work too.

use crate::failure::UsageError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use zos_proto::proc::signal::*;

/// Every signal known by name, by number (Linux's numbering, which init
/// and the C programs' dispatcher use).
pub const SIGNALS: &[(&str, u32)] = &[
    ("HUP", SIGHUP),
    ("INT", SIGINT),
    ("QUIT", SIGQUIT),
    ("ILL", SIGILL),
    ("TRAP", SIGTRAP),
    ("ABRT", 6),
    ("BUS", SIGBUS),
    ("FPE", SIGFPE),
    ("KILL", SIGKILL),
    ("USR1", 10),
    ("SEGV", SIGSEGV),
    ("USR2", 12),
    ("PIPE", SIGPIPE),
    ("ALRM", 14),
    ("TERM", SIGTERM),
    ("STKFLT", 16),
    ("CHLD", SIGCHLD),
    ("CONT", SIGCONT),
    ("STOP", SIGSTOP),
    ("TSTP", SIGTSTP),
    ("TTIN", SIGTTIN),
    ("TTOU", SIGTTOU),
    ("URG", SIGURG),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", SIGWINCH),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Highest signal number accepted.
pub const MAX_SIGNAL: u32 = 64;

/// The signal `kill` sends when none is named.
pub const DEFAULT_SIGNAL: u32 = SIGTERM;

/// A signal given as a name (`TERM`, `SIGTERM`, `term`) or a number (`15`, `0`).
pub fn parse_signal(text: &str) -> Option<u32> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u32>().ok().filter(|n| *n <= MAX_SIGNAL);
    }
    let bare = match text.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("SIG") => &text[3..],
        _ => text,
    };
    SIGNALS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(bare))
        .map(|(_, number)| *number)
}

/// The name of a signal number, without `SIG`.
pub fn signal_name(number: u32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map(|(name, _)| *name)
}

/// What `kill` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillCommand {
    /// `kill -l ...`: print these lines.
    List(Vec<String>),
    /// Send `signal` to each target (negative: a process group).
    Send { signal: u32, targets: Vec<i32> },
}

fn unknown_signal(text: &str) -> UsageError {
    UsageError(format!("unknown signal: '{text}'"))
}

/// `kill -l` output: every name on one line, or for each argument the name of
/// a number (or of an exit status above 128) and the number of a name.
pub fn list(args: &[&str]) -> Result<Vec<String>, UsageError> {
    if args.is_empty() {
        let names: Vec<&str> = SIGNALS.iter().map(|(name, _)| *name).collect();
        return Ok(alloc::vec![names.join(" ")]);
    }
    args.iter()
        .map(|arg| {
            if let Ok(number) = arg.parse::<u32>() {
                let signal = if number > 128 { number - 128 } else { number };
                signal_name(signal)
                    .map(String::from)
                    .ok_or_else(|| unknown_signal(arg))
            } else {
                parse_signal(arg)
                    .map(|number| format!("{number}"))
                    .ok_or_else(|| unknown_signal(arg))
            }
        })
        .collect()
}

/// A process id, or with a leading `-` a process group id.
fn parse_target(text: &str) -> Result<i32, UsageError> {
    text.parse::<i32>()
        .map_err(|_| UsageError(format!("invalid process id: '{text}'")))
}

pub fn parse(args: &[&str]) -> Result<KillCommand, UsageError> {
    let mut signal = DEFAULT_SIGNAL;
    let mut rest = args;
    match rest.first().copied() {
        Some("-l" | "-L") => return list(&rest[1..]).map(KillCommand::List),
        Some("-s") => {
            let name = rest
                .get(1)
                .ok_or_else(|| UsageError("option requires an argument -- 's'".into()))?;
            signal = parse_signal(name).ok_or_else(|| unknown_signal(name))?;
            rest = &rest[2..];
        }
        Some("--") => {}
        Some(first) if first.len() > 1 && first.starts_with('-') => {
            let name = &first[1..];
            signal = parse_signal(name).ok_or_else(|| unknown_signal(name))?;
            rest = &rest[1..];
        }
        _ => {}
    }
    if rest.first() == Some(&"--") {
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return Err(UsageError("not enough arguments".into()));
    }
    let targets = rest
        .iter()
        .map(|arg| parse_target(arg))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KillCommand::Send { signal, targets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("sigint"), Some(2));
        assert_eq!(parse_signal("hup"), Some(1));
        assert_eq!(parse_signal("CHLD"), Some(17));
        assert_eq!(parse_signal("PIPE"), Some(13));
        assert_eq!(parse_signal("QUIT"), Some(3));
        assert_eq!(parse_signal("TTIN"), Some(21));
        assert_eq!(parse_signal("sigcont"), Some(18));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("0"), Some(0));
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("SIG"), None);
        assert_eq!(parse_signal(""), None);
        assert_eq!(parse_signal("FOO"), None);
        assert_eq!(parse_signal("é"), None);
        assert_eq!(signal_name(15), Some("TERM"));
        assert_eq!(signal_name(32), None);
    }

    #[test]
    fn default_signal_is_term() {
        assert_eq!(
            parse(&["12"]),
            Ok(KillCommand::Send {
                signal: 15,
                targets: vec![12]
            })
        );
    }

    #[test]
    fn signal_forms() {
        let expect = |signal| {
            Ok(KillCommand::Send {
                signal,
                targets: vec![5, -7],
            })
        };
        assert_eq!(parse(&["-9", "5", "-7"]), expect(9));
        assert_eq!(parse(&["-KILL", "5", "-7"]), expect(9));
        assert_eq!(parse(&["-SIGINT", "5", "-7"]), expect(2));
        assert_eq!(parse(&["-s", "HUP", "5", "-7"]), expect(1));
        assert_eq!(parse(&["-s", "QUIT", "--", "5", "-7"]), expect(3));
        assert_eq!(parse(&["--", "5", "-7"]), expect(15));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse(&[]).unwrap_err().0, "not enough arguments");
        assert_eq!(parse(&["-9"]).unwrap_err().0, "not enough arguments");
        assert_eq!(
            parse(&["-FOO", "1"]).unwrap_err().0,
            "unknown signal: 'FOO'"
        );
        assert_eq!(
            parse(&["-s"]).unwrap_err().0,
            "option requires an argument -- 's'"
        );
        assert_eq!(parse(&["abc"]).unwrap_err().0, "invalid process id: 'abc'");
    }

    #[test]
    fn listing() {
        assert_eq!(
            parse(&["-l"]),
            Ok(KillCommand::List(vec![
                "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM \
                 STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO \
                 PWR SYS"
                    .into()
            ]))
        );
        assert_eq!(
            list(&["9", "TERM", "143"]),
            Ok(vec!["KILL".into(), "15".into(), "TERM".into()])
        );
        assert_eq!(list(&["99"]).unwrap_err().0, "unknown signal: '99'");
    }
}
