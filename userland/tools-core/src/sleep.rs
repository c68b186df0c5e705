//! `sleep`: durations such as `1`, `0.5`, `.25s`, `2m`, `1h`, `1d`; several
//! arguments add up. Precision is one nanosecond; larger values saturate.

use crate::failure::UsageError;
use alloc::format;

const NS_PER_SECOND: u64 = 1_000_000_000;

/// One duration argument, in nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, UsageError> {
    let invalid = || UsageError(format!("invalid time interval '{text}'"));
    let (number, unit_seconds) = match text.as_bytes().last() {
        Some(b's') => (&text[..text.len() - 1], 1),
        Some(b'm') => (&text[..text.len() - 1], 60),
        Some(b'h') => (&text[..text.len() - 1], 3600),
        Some(b'd') => (&text[..text.len() - 1], 86_400),
        _ => (text, 1),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    let whole_seconds = if whole.is_empty() {
        0
    } else {
        // Digits only, so the one failure is overflow.
        whole.parse::<u64>().unwrap_or(u64::MAX)
    };
    let mut fraction_ns = 0u64;
    let mut scale = NS_PER_SECOND;
    for digit in fraction.bytes().take(9) {
        scale /= 10;
        fraction_ns += u64::from(digit - b'0') * scale;
    }
    let whole_ns = whole_seconds
        .saturating_mul(NS_PER_SECOND)
        .saturating_add(fraction_ns);
    Ok(whole_ns.saturating_mul(unit_seconds))
}

/// The total of every argument, in nanoseconds.
pub fn parse_total(args: &[&str]) -> Result<u64, UsageError> {
    if args.is_empty() {
        return Err(UsageError("missing operand".into()));
    }
    args.iter().try_fold(0u64, |total, arg| {
        Ok(total.saturating_add(parse_duration(arg)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_fractional_seconds() {
        assert_eq!(parse_duration("1"), Ok(NS_PER_SECOND));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration(".25"), Ok(250_000_000));
        assert_eq!(parse_duration("2."), Ok(2 * NS_PER_SECOND));
        assert_eq!(parse_duration("0.0000000019"), Ok(1));
        assert_eq!(parse_duration("0"), Ok(0));
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration("3s"), Ok(3 * NS_PER_SECOND));
        assert_eq!(parse_duration("1.5m"), Ok(90 * NS_PER_SECOND));
        assert_eq!(parse_duration("1h"), Ok(3600 * NS_PER_SECOND));
        assert_eq!(parse_duration("1d"), Ok(86_400 * NS_PER_SECOND));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", ".", "s", "-1", "1..2", "abc", "1x", "1 ", "+1", "1e3"] {
            assert_eq!(
                parse_duration(bad),
                Err(UsageError(format!("invalid time interval '{bad}'"))),
                "{bad}"
            );
        }
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(parse_duration("99999999999999999999999"), Ok(u64::MAX));
        assert_eq!(parse_duration("999999999999d"), Ok(u64::MAX));
    }

    #[test]
    fn arguments_add_up() {
        assert_eq!(parse_total(&["1", "0.5"]), Ok(1_500_000_000));
        assert_eq!(
            parse_total(&[]),
            Err(UsageError(alloc::string::String::from("missing operand")))
        );
        assert!(parse_total(&["1", "x"]).is_err());
    }
}
