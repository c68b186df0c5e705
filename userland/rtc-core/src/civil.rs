//! Calendar dates (proleptic Gregorian, UTC) and days since the Unix epoch.

/// A calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Whether `year` has a 29 February.
pub fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days in `month` (1-12) of `year`.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (1970 or later).
pub fn days_since_epoch(year: u32, month: u32, day: u32) -> u64 {
    // Whole years, counting leap days, then whole months, then days.
    let years = u64::from(year.saturating_sub(1970));
    let leap_days = |y: u64| y / 4 - y / 100 + y / 400; // leap years in 1..=y
    let before = u64::from(year.max(1970)) - 1;
    let mut days = years * 365 + leap_days(before) - leap_days(1969);
    for m in 1..month.min(13) {
        days += u64::from(days_in_month(year, m));
    }
    days + u64::from(day.saturating_sub(1))
}

impl DateTime {
    /// Whether every field is in range (month 1-12, day within its month…).
    pub fn is_valid(&self) -> bool {
        (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        days_since_epoch(self.year, self.month, self.day) * 86_400
            + u64::from(self.hour) * 3600
            + u64::from(self.minute) * 60
            + u64::from(self.second)
    }

    /// The date and time `seconds` after the Unix epoch.
    pub fn from_unix_seconds(seconds: u64) -> DateTime {
        let mut days = seconds / 86_400;
        let rest = (seconds % 86_400) as u32;
        let mut year = 1970;
        loop {
            let length = if is_leap(year) { 366 } else { 365 };
            if days < length {
                break;
            }
            days -= length;
            year += 1;
        }
        let mut month = 1;
        while days >= u64::from(days_in_month(year, month)) {
            days -= u64::from(days_in_month(year, month));
            month += 1;
        }
        DateTime {
            year,
            month,
            day: days as u32 + 1,
            hour: rest / 3600,
            minute: rest / 60 % 60,
            second: rest % 60,
        }
    }
}

impl core::fmt::Display for DateTime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(1970, 1, 1, 0, 0, 0).unix_seconds(), 0);
        assert_eq!(at(2000, 3, 1, 0, 0, 0).unix_seconds(), 951_868_800);
        assert_eq!(at(2021, 6, 15, 12, 34, 56).unix_seconds(), 1_623_760_496);
        assert_eq!(at(2038, 1, 19, 3, 14, 8).unix_seconds(), 1 << 31);
        assert_eq!(at(2100, 3, 1, 0, 0, 0).unix_seconds(), 4_107_542_400);
    }

    #[test]
    fn round_trips_every_day_for_four_centuries() {
        let mut seconds = 0u64;
        while seconds < 146_097 * 86_400 {
            let date = DateTime::from_unix_seconds(seconds + 45_296);
            assert!(date.is_valid(), "{date}");
            assert_eq!(date.unix_seconds(), seconds + 45_296);
            seconds += 86_400;
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(!at(2023, 2, 29, 0, 0, 0).is_valid());
        assert!(at(2024, 2, 29, 0, 0, 0).is_valid());
        assert!(!at(1900, 2, 29, 0, 0, 0).is_valid());
        assert!(!at(2024, 13, 1, 0, 0, 0).is_valid());
        assert!(!at(2024, 4, 31, 0, 0, 0).is_valid());
        assert!(!at(2024, 1, 1, 24, 0, 0).is_valid());
        assert!(!at(1969, 12, 31, 0, 0, 0).is_valid());
    }

    #[test]
    fn displays_iso_style() {
        assert_eq!(at(2021, 6, 5, 7, 8, 9).to_string(), "2021-06-05 07:08:09");
    }
}
