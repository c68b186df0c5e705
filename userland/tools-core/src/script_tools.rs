//! The logic of the small tools scripts lean on: `basename`, `dirname`,
//! `seq`, `chmod`'s modes (octal and symbolic `u+x,go-w,a=r`), and the
//! calendar `date` prints from a count of seconds.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::failure::UsageError;

/// `basename PATH [SUFFIX]`.
pub fn basename(path: &str, suffix: Option<&str>) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() {
            String::new()
        } else {
            "/".to_string()
        };
    }
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    match suffix {
        Some(suffix) if base != suffix && !suffix.is_empty() => {
            base.strip_suffix(suffix).unwrap_or(base).to_string()
        }
        _ => base.to_string(),
    }
}

/// `dirname PATH`.
pub fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.starts_with('/') { "/" } else { "." }.to_string();
    }
    match trimmed.rfind('/') {
        None => ".".to_string(),
        Some(index) => {
            let parent = trimmed[..index].trim_end_matches('/');
            if parent.is_empty() {
                "/".to_string()
            } else {
                parent.to_string()
            }
        }
    }
}

/// `seq [-s SEP] [FIRST [INCREMENT]] LAST`: the output text.
pub fn seq(args: &[&str]) -> Result<String, UsageError> {
    let mut separator = "\n".to_string();
    let mut rest = args;
    if rest.first() == Some(&"-s") {
        separator = rest
            .get(1)
            .ok_or_else(|| UsageError("option requires an argument -- 's'".into()))?
            .to_string();
        rest = &rest[2..];
    }
    let numbers = rest
        .iter()
        .map(|text| {
            text.parse::<f64>()
                .map_err(|_| UsageError(format!("invalid number: '{text}'")))
        })
        .collect::<Result<Vec<f64>, _>>()?;
    let (first, step, last) = match numbers.as_slice() {
        [last] => (1.0, 1.0, *last),
        [first, last] => (*first, 1.0, *last),
        [first, step, last] => (*first, *step, *last),
        _ => return Err(UsageError("expected FIRST [INCREMENT] LAST".into())),
    };
    if step == 0.0 {
        return Err(UsageError("the increment must not be zero".into()));
    }
    let decimals = rest
        .iter()
        .map(|text| text.split_once('.').map_or(0, |(_, frac)| frac.len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut index = 0u64;
    loop {
        let value = first + step * index as f64;
        if (step > 0.0 && value > last + 1e-9) || (step < 0.0 && value < last - 1e-9) {
            break;
        }
        if index > 0 {
            out.push_str(&separator);
        }
        out.push_str(&format!("{value:.decimals$}"));
        index += 1;
        if index > 10_000_000 {
            break;
        }
    }
    if index > 0 {
        out.push('\n');
    }
    Ok(out)
}

/// A new mode from `spec` (octal, or symbolic clauses) and the old one.
pub fn chmod_mode(spec: &str, old: u32, is_dir: bool) -> Option<u32> {
    if !spec.is_empty() && spec.bytes().all(|b| (b'0'..b'8').contains(&b)) {
        let mode = u32::from_str_radix(spec, 8).ok()?;
        return (mode <= 0o7777).then_some(mode);
    }
    let mut mode = old & 0o7777;
    for clause in spec.split(',') {
        let who_len = clause
            .bytes()
            .take_while(|b| matches!(b, b'u' | b'g' | b'o' | b'a'))
            .count();
        let who = &clause[..who_len];
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        let mut rest = &clause[who_len..];
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let op = rest.chars().next()?;
            if !matches!(op, '+' | '-' | '=') {
                return None;
            }
            rest = &rest[1..];
            let perm_len = rest
                .bytes()
                .take_while(|b| matches!(b, b'r' | b'w' | b'x' | b'X' | b's' | b't'))
                .count();
            let mut bits = 0u32;
            for c in rest[..perm_len].chars() {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || old & 0o111 != 0 => 0o111,
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => 0,
                };
            }
            rest = &rest[perm_len..];
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => mode = (mode & !(mask & 0o7777)) | bits,
            }
        }
    }
    Some(mode)
}

/// Year, month (1–12), day from days since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since the epoch of a proleptic Gregorian date (the inverse of `civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of a `date -s` operand: `@SECONDS`,
/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DDTHH:MM[:SS]` (UTC).
pub fn parse_date(text: &str) -> Option<u64> {
    if let Some(seconds) = text.strip_prefix('@') {
        return seconds.parse().ok();
    }
    let (day_part, time_part) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut ymd = day_part.split('-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: u32 = ymd.next()?.parse().ok()?;
    let day: u32 = ymd.next()?.parse().ok()?;
    if ymd.next().is_some() || !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let last = month_days[(month - 1) as usize] + u32::from(leap && month == 2);
    if !(1..=last).contains(&day) {
        return None;
    }
    let mut clock = [0u64; 3];
    if let Some(time) = time_part {
        let parts: Vec<&str> = time.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        for (slot, part) in clock.iter_mut().zip(&parts) {
            *slot = part.parse().ok()?;
        }
        if clock[0] > 23 || clock[1] > 59 || clock[2] > 60 {
            return None;
        }
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
}

/// `date` output for `seconds` since the epoch: the default format, or a
/// `+FORMAT` with `%Y %m %d %H %M %S %s %j %a %b %e %T %D %F %n %t %%`.
pub fn date(seconds: u64, format: Option<&str>) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (seconds / 86_400) as i64;
    let (year, month, day) = civil(days);
    let second_of_day = seconds % 86_400;
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let weekday = DAYS[(days % 7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    let format = format.unwrap_or("%a %b %e %H:%M:%S UTC %Y");
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{year}")),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('e') => out.push_str(&format!("{day:2}")),
            Some('H') => out.push_str(&format!("{hour:02}")),
            Some('M') => out.push_str(&format!("{minute:02}")),
            Some('S') => out.push_str(&format!("{second:02}")),
            Some('s') => out.push_str(&format!("{seconds}")),
            Some('a') => out.push_str(weekday),
            Some('b') => out.push_str(month_name),
            Some('T') => out.push_str(&format!("{hour:02}:{minute:02}:{second:02}")),
            Some('D') => out.push_str(&format!("{month:02}/{day:02}/{:02}", year % 100)),
            Some('F') => out.push_str(&format!("{year}-{month:02}-{day:02}")),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_date_forms() {
        assert_eq!(parse_date("@0"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400));
        assert_eq!(parse_date("2000-03-01 00:00:00"), Some(951_868_800));
        assert_eq!(parse_date("2024-02-29T12:30"), Some(1_709_209_800));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-01-01 25:00"), None);
        assert_eq!(parse_date("yesterday"), None);
        let round = parse_date("2026-11-29 23:45:06").expect("valid");
        assert_eq!(date(round, Some("%F %T")), "2026-11-29 23:45:06");
    }

    #[test]
    fn names() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("/usr/lib/libz.so", None, "libz.so"),
            ("/usr/lib/", None, "lib"),
            ("/", None, "/"),
            ("file.txt", Some(".txt"), "file"),
            (".txt", Some(".txt"), ".txt"),
            ("", None, ""),
        ];
        for (path, suffix, expected) in cases {
            assert_eq!(basename(path, *suffix), *expected);
        }
        let dirs: &[(&str, &str)] = &[
            ("/usr/lib/libz.so", "/usr/lib"),
            ("/usr", "/"),
            ("usr", "."),
            ("/", "/"),
            ("a/b/", "a"),
            ("//x", "/"),
        ];
        for (path, expected) in dirs {
            assert_eq!(dirname(path), *expected, "{path}");
        }
    }

    #[test]
    fn sequences() {
        assert_eq!(seq(&["3"]).unwrap(), "1\n2\n3\n");
        assert_eq!(seq(&["2", "4"]).unwrap(), "2\n3\n4\n");
        assert_eq!(seq(&["5", "-2", "1"]).unwrap(), "5\n3\n1\n");
        assert_eq!(seq(&["-s", ",", "3"]).unwrap(), "1,2,3\n");
        assert_eq!(seq(&["0", "0.5", "1"]).unwrap(), "0.0\n0.5\n1.0\n");
        assert_eq!(seq(&["0"]).unwrap(), "");
        assert!(seq(&["x"]).is_err());
        assert!(seq(&["1", "0", "3"]).is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(chmod_mode("755", 0, false), Some(0o755));
        assert_eq!(chmod_mode("u+x", 0o644, false), Some(0o744));
        assert_eq!(chmod_mode("+x", 0o644, false), Some(0o755));
        assert_eq!(chmod_mode("go-r", 0o644, false), Some(0o600));
        assert_eq!(chmod_mode("a=r,u+w", 0o777, false), Some(0o644));
        assert_eq!(chmod_mode("a+X", 0o644, true), Some(0o755));
        assert_eq!(chmod_mode("a+X", 0o644, false), Some(0o644));
        assert_eq!(chmod_mode("q+x", 0o644, false), None);
        assert_eq!(chmod_mode("99", 0o644, false), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date(0, None), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(date(1_700_000_000, Some("%F %T")), "2023-11-14 22:13:20");
        assert_eq!(date(86_400 * 366, Some("%Y-%m-%d %a")), "1971-01-02 Sat");
        assert_eq!(date(5, Some("%s%%")), "5%");
    }
}
