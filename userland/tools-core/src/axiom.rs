//! `axiom`: the command line and the lines it prints about the kernel's
//! Axiom log, as `axiomd` keeps it (docs/axiom.md). `axiom export` prints
//! the frames as `AXIOM <hex>` lines that `cargo xtask axiom replay` reads
//! back out of a serial log.

use crate::failure::UsageError;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use zos_proto::axiom::CallRecord;

/// Syscalls `axiom log` lists when `-n` is not given.
pub const DEFAULT_CALLS: u32 = 10;
/// What a SysLog record's code is when the call blocked (`zos_axiom::PENDING`).
pub const PENDING_CODE: u16 = 0xFFFF;
/// The number of a completion record: the result of the thread's previous
/// blocked call (`zos_axiom::COMPLETION`).
pub const COMPLETION_NUMBER: u16 = 0xFFFF;
/// What starts every frame line of `axiom export`.
pub const FRAME_LINE_PREFIX: &str = "AXIOM ";

/// What `axiom` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxiomCommand {
    Head,
    State,
    Log { pid: Option<u32>, count: u32 },
    Export,
}

/// Parses `axiom head | state | log [-p PID] [-n N] | export`.
pub fn parse(args: &[&str]) -> Result<AxiomCommand, UsageError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(UsageError("expected head, state, log or export".into()));
    };
    let no_more = |command| match rest {
        [] => Ok(command),
        [extra, ..] => Err(UsageError(format!("unexpected argument '{extra}'"))),
    };
    match *command {
        "head" => no_more(AxiomCommand::Head),
        "state" => no_more(AxiomCommand::State),
        "export" => no_more(AxiomCommand::Export),
        "log" => {
            let (mut pid, mut count) = (None, DEFAULT_CALLS);
            let mut iter = rest.iter();
            while let Some(flag) = iter.next() {
                let mut value = |name: &str| {
                    iter.next()
                        .ok_or_else(|| UsageError(format!("{name} needs a number")))
                        .and_then(|text| {
                            text.parse::<u32>()
                                .map_err(|_| UsageError(format!("{name}: invalid number '{text}'")))
                        })
                };
                match *flag {
                    "-p" => pid = Some(value("-p")?),
                    "-n" => count = value("-n")?,
                    other => return Err(UsageError(format!("unknown option '{other}'"))),
                }
            }
            Ok(AxiomCommand::Log { pid, count })
        }
        other => Err(UsageError(format!("unknown command '{other}'"))),
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// One syscall line: `#SEQ pid PID NAME(ARGS) = CODE VALUE commits FIRST+COUNT`
/// (`blocked` for the code of a call that blocked: its result came later).
/// `name` is the syscall's name, or None for a number the ABI does not know.
pub fn call_line(call: &CallRecord, name: Option<&str>) -> String {
    let mut line = format!("#{} pid {} ", call.seq, call.pid);
    if call.number == COMPLETION_NUMBER {
        let _ = write!(
            line,
            "(tid slot {} blocked call completed) = {} {}",
            call.thread, call.code, call.value
        );
        return line;
    }
    match name {
        Some(name) => line.push_str(name),
        None => {
            let _ = write!(line, "sys{}", call.number);
        }
    }
    line.push('(');
    for (i, arg) in call.args.iter().enumerate() {
        let _ = write!(line, "{}{arg:#x}", if i == 0 { "" } else { ", " });
    }
    line.push_str(") = ");
    if call.code == PENDING_CODE && call.value != 0 {
        // The IPC fast path: the message went straight to a waiting thread,
        // whose call completed with it.
        let _ = write!(line, "blocked, handed to tid slot {}", call.value - 1);
    } else if call.code == PENDING_CODE {
        line.push_str("blocked");
    } else {
        let _ = write!(line, "{} {}", call.code, call.value);
    }
    let _ = write!(line, " commits {}+{}", call.first_commit, call.commits);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_bad_flags() {
        assert_eq!(parse(&["head"]), Ok(AxiomCommand::Head));
        assert_eq!(parse(&["state"]), Ok(AxiomCommand::State));
        assert_eq!(parse(&["export"]), Ok(AxiomCommand::Export));
        assert_eq!(
            parse(&["log"]),
            Ok(AxiomCommand::Log {
                pid: None,
                count: DEFAULT_CALLS
            })
        );
        assert_eq!(
            parse(&["log", "-n", "5", "-p", "12"]),
            Ok(AxiomCommand::Log {
                pid: Some(12),
                count: 5
            })
        );
        for bad in [
            &[][..],
            &["log", "-x"],
            &["log", "-n"],
            &["log", "-n", "five"],
            &["log", "-p", "-1"],
            &["head", "extra"],
            &["frobnicate"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_call_line() {
        let call = CallRecord {
            seq: 7,
            pid: 12,
            thread: 3,
            number: 24,
            code: 0,
            args: [1, 0x20, 0, 0, 0, 0],
            value: 5,
            first_commit: 100,
            commits: 2,
        };
        assert_eq!(
            call_line(&call, Some("Call")),
            "#7 pid 12 Call(0x1, 0x20, 0x0, 0x0, 0x0, 0x0) = 0 5 commits 100+2"
        );
        let blocked = CallRecord {
            code: PENDING_CODE,
            number: 999,
            ..call
        };
        assert!(call_line(&blocked, None).starts_with("#7 pid 12 sys999(0x1"));
        let blocked = CallRecord {
            value: 0,
            ..blocked
        };
        assert!(call_line(&blocked, None).ends_with(") = blocked commits 100+2"));
        let handed = CallRecord {
            value: 4,
            ..blocked
        };
        assert!(
            call_line(&handed, None).ends_with(") = blocked, handed to tid slot 3 commits 100+2")
        );
        let completed = CallRecord {
            number: COMPLETION_NUMBER,
            code: 0,
            value: 0x40,
            ..call
        };
        assert_eq!(
            call_line(&completed, None),
            "#7 pid 12 (tid slot 3 blocked call completed) = 0 64"
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
