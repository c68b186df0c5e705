//! The tables and lines of `ps`, `svc`, `uptime` and `free`.

use crate::failure::UsageError;
use crate::getopt;
use alloc::format;
use alloc::string::String;

pub const PS_HEADER: &str = "  PID  PPID  PGID S USER     NAME";

/// One `ps` line (without the newline), aligned under [`PS_HEADER`]; `user`
/// is the effective user's name (cut to 8 characters).
pub fn ps_row(pid: u32, ppid: u32, pgid: u32, state: char, user: &str, name: &str) -> String {
    let user: String = user.chars().take(8).collect();
    format!("{pid:>5} {ppid:>5} {pgid:>5} {state} {user:<8} {name}")
}

pub const SVC_HEADER: &str = "NAME             STATE        PID RESTARTS";

/// One `svc` line; a service without a process shows `-` as its pid.
pub fn svc_row(name: &str, state: &str, pid: u32, restarts: u32) -> String {
    let pid = if pid == 0 {
        String::from("-")
    } else {
        format!("{pid}")
    };
    format!("{name:<16} {state:<10} {pid:>5} {restarts:>8}")
}

/// `up 1 day, 2:03:04, 5 processes`.
pub fn uptime_line(uptime_ns: u64, processes: u32) -> String {
    let seconds = uptime_ns / 1_000_000_000;
    let days = seconds / 86_400;
    let hours = seconds % 86_400 / 3600;
    let minutes = seconds % 3600 / 60;
    let secs = seconds % 60;
    let days = match days {
        0 => String::new(),
        1 => String::from("1 day, "),
        n => format!("{n} days, "),
    };
    let processes = match processes {
        1 => String::from("1 process"),
        n => format!("{n} processes"),
    };
    format!("up {days}{hours}:{minutes:02}:{secs:02}, {processes}")
}

/// The unit `free` shows amounts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeUnit {
    Bytes,
    KiB,
    MiB,
    /// The largest binary unit that keeps the figure readable (`1.5Gi`).
    Human,
}

pub fn parse_free(args: &[&str]) -> Result<FreeUnit, UsageError> {
    let parsed = getopt::parse(args, "bkmh")?;
    if let Some(extra) = parsed.operands.first() {
        return Err(UsageError(format!("extra operand '{extra}'")));
    }
    Ok(match parsed.options.last().map(|(letter, _)| *letter) {
        Some('b') => FreeUnit::Bytes,
        Some('m') => FreeUnit::MiB,
        Some('h') => FreeUnit::Human,
        _ => FreeUnit::KiB,
    })
}

/// An amount of memory in `unit`.
pub fn amount(bytes: u64, unit: FreeUnit) -> String {
    match unit {
        FreeUnit::Bytes => format!("{bytes}"),
        FreeUnit::KiB => format!("{}", bytes / 1024),
        FreeUnit::MiB => format!("{}", bytes / (1024 * 1024)),
        FreeUnit::Human => human(bytes),
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["Ki", "Mi", "Gi", "Ti", "Pi"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut scale = 1024u64;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes / scale >= 1024 {
        scale *= 1024;
        unit += 1;
    }
    // One decimal, rounded to nearest, in integer arithmetic.
    let tenths = (u128::from(bytes) * 10 + u128::from(scale) / 2) / u128::from(scale);
    format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit])
}

/// The two lines `free` prints (with newlines).
pub fn free_table(total_bytes: u64, free_bytes: u64, unit: FreeUnit) -> String {
    let used = total_bytes.saturating_sub(free_bytes);
    format!(
        "{:<6}{:>12}{:>12}{:>12}\n{:<6}{:>12}{:>12}{:>12}\n",
        "",
        "total",
        "used",
        "free",
        "Mem:",
        amount(total_bytes, unit),
        amount(used, unit),
        amount(free_bytes, unit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_line_up() {
        let row = ps_row(12, 1, 12, 'S', "root", "sh");
        assert_eq!(row, "   12     1    12 S root     sh");
        assert_eq!(row.find('S'), PS_HEADER.find('S'));
        assert_eq!(row.find("root"), PS_HEADER.find("USER"));
        assert_eq!(row.find("sh"), PS_HEADER.find("NAME"));
    }

    #[test]
    fn svc_rows_line_up() {
        let row = svc_row("console", "running", 3, 0);
        assert_eq!(row, "console          running        3        0");
        assert_eq!(row.len(), SVC_HEADER.len());
        assert_eq!(
            svc_row("net", "stopped", 0, 2),
            "net              stopped        -        2"
        );
    }

    #[test]
    fn uptime() {
        assert_eq!(uptime_line(42_000_000_000, 1), "up 0:00:42, 1 process");
        assert_eq!(
            uptime_line((3600 + 120 + 5) * 1_000_000_000, 7),
            "up 1:02:05, 7 processes"
        );
        assert_eq!(
            uptime_line((86_400 + 1) * 1_000_000_000, 2),
            "up 1 day, 0:00:01, 2 processes"
        );
        assert_eq!(
            uptime_line(3 * 86_400 * 1_000_000_000 + 999_999_999, 0),
            "up 3 days, 0:00:00, 0 processes"
        );
    }

    #[test]
    fn free_units() {
        assert_eq!(parse_free(&[]), Ok(FreeUnit::KiB));
        assert_eq!(parse_free(&["-m"]), Ok(FreeUnit::MiB));
        assert_eq!(parse_free(&["-k", "-b"]), Ok(FreeUnit::Bytes));
        assert_eq!(parse_free(&["-h"]), Ok(FreeUnit::Human));
        assert!(parse_free(&["-x"]).is_err());
        assert!(parse_free(&["x"]).is_err());
    }

    #[test]
    fn amounts() {
        assert_eq!(amount(1 << 30, FreeUnit::KiB), "1048576");
        assert_eq!(amount(1 << 30, FreeUnit::MiB), "1024");
        assert_eq!(amount(1000, FreeUnit::Bytes), "1000");
        assert_eq!(amount(1000, FreeUnit::Human), "1000B");
        assert_eq!(amount(1536, FreeUnit::Human), "1.5Ki");
        assert_eq!(amount(1 << 30, FreeUnit::Human), "1.0Gi");
        assert_eq!(amount(1023 * 1024 * 1024, FreeUnit::Human), "1023.0Mi");
        assert_eq!(amount(u64::MAX, FreeUnit::Human), "16384.0Pi");
    }

    #[test]
    fn free_table_in_kib() {
        let table = free_table(1 << 30, 1 << 29, FreeUnit::KiB);
        assert_eq!(
            table,
            "             total        used        free\n\
             Mem:       1048576      524288      524288\n"
        );
        // More free than total (racy figures) must not underflow.
        assert!(free_table(10, 20, FreeUnit::Bytes).contains("           0"));
    }
}
