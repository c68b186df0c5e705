//! The CMOS clock (MC146818 and its descendants): registers 0, 2, 4 (seconds,
//! minutes, hours), 7, 8, 9 (day, month, year), 0x32 (century, where the
//! firmware keeps it), status A (bit 7: update in progress) and status B
//! (bit 2: binary instead of BCD; bit 1: 24-hour instead of 12-hour, where
//! bit 7 of the hours is PM).
//!
//! The clock updates its registers once a second; a read can straddle the
//! update. [`read_unix_seconds`] waits for no update in progress and reads
//! until two snapshots agree.

use crate::civil::DateTime;

const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0A;
const STATUS_B: u8 = 0x0B;
const CENTURY: u8 = 0x32;
const UPDATING: u8 = 0x80;
const BINARY: u8 = 0x04;
const HOURS_24: u8 = 0x02;
const PM: u8 = 0x80;

/// Why no time came out of the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcError {
    /// It stayed mid-update, or never read the same twice.
    Unstable,
    /// The registers hold no valid date (a dead battery, a cleared CMOS).
    Invalid,
}

/// The registers of one snapshot, raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Snapshot([u8; 7]);

fn snapshot(read: &mut impl FnMut(u8) -> u8) -> Snapshot {
    Snapshot([SECONDS, MINUTES, HOURS, DAY, MONTH, YEAR, CENTURY].map(read))
}

fn from_bcd(value: u8) -> Option<u32> {
    let (tens, ones) = (value >> 4, value & 0xF);
    (tens < 10 && ones < 10).then_some(u32::from(tens) * 10 + u32::from(ones))
}

/// Decodes one snapshot under status B's formats.
fn decode(raw: Snapshot, status_b: u8) -> Result<DateTime, RtcError> {
    let [seconds, minutes, hours, day, month, year, century] = raw.0;
    let number = |value: u8| {
        if status_b & BINARY != 0 {
            Some(u32::from(value))
        } else {
            from_bcd(value)
        }
    };
    let field = |value: u8| number(value).ok_or(RtcError::Invalid);
    let mut hour = field(hours & !PM)?;
    if status_b & HOURS_24 == 0 {
        // 12-hour clock: 12 AM is midnight, 12 PM is noon.
        if !(1..=12).contains(&hour) {
            return Err(RtcError::Invalid);
        }
        hour %= 12;
        if hours & PM != 0 {
            hour += 12;
        }
    }
    let year_in_century = field(year)?;
    // Century register when it holds 19 or 20-something; else this century.
    let century = number(century)
        .filter(|c| (19..=99).contains(c))
        .unwrap_or(20);
    let date = DateTime {
        year: century * 100 + year_in_century,
        month: field(month)?,
        day: field(day)?,
        hour,
        minute: field(minutes)?,
        second: field(seconds)?,
    };
    if date.is_valid() {
        Ok(date)
    } else {
        Err(RtcError::Invalid)
    }
}

/// Bounds on the waits (an update lasts under 2 ms; each read is a port
/// access of about a microsecond).
const WAIT_READS: u32 = 100_000;
const ATTEMPTS: u32 = 8;

/// Reads the clock through `read(register) -> value` (the caller selects the
/// register on the index port and reads the data port) and returns the date.
pub fn read(mut read: impl FnMut(u8) -> u8) -> Result<DateTime, RtcError> {
    for _ in 0..ATTEMPTS {
        let mut waits = 0;
        while read(STATUS_A) & UPDATING != 0 {
            waits += 1;
            if waits == WAIT_READS {
                return Err(RtcError::Unstable);
            }
        }
        let first = snapshot(&mut read);
        let status_b = read(STATUS_B);
        if read(STATUS_A) & UPDATING != 0 {
            continue;
        }
        if snapshot(&mut read) == first {
            return decode(first, status_b);
        }
    }
    Err(RtcError::Unstable)
}

/// Like [`read`], in seconds since the Unix epoch.
pub fn read_unix_seconds(reader: impl FnMut(u8) -> u8) -> Result<u64, RtcError> {
    read(reader).map(|date| date.unix_seconds())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake CMOS: 128 registers; `ticks` makes status A report an update
    /// for that many reads, and `change_after` bumps the seconds once after
    /// that many reads (a read straddling the update).
    struct Fake {
        registers: [u8; 128],
        updating_reads: u32,
        change_after: Option<u32>,
        reads: u32,
    }

    impl Fake {
        fn new(values: &[(u8, u8)]) -> Self {
            let mut registers = [0u8; 128];
            for &(index, value) in values {
                registers[index as usize] = value;
            }
            Fake {
                registers,
                updating_reads: 0,
                change_after: None,
                reads: 0,
            }
        }
        fn read(&mut self, index: u8) -> u8 {
            self.reads += 1;
            if Some(self.reads) == self.change_after {
                self.registers[SECONDS as usize] += 1;
            }
            if index == STATUS_A && self.updating_reads > 0 {
                self.updating_reads -= 1;
                return UPDATING;
            }
            self.registers[index as usize]
        }
    }

    /// 2021-06-15 12:34:56 in BCD, 24-hour (QEMU's format), century 0x20.
    fn qemu_like() -> Fake {
        Fake::new(&[
            (SECONDS, 0x56),
            (MINUTES, 0x34),
            (HOURS, 0x12),
            (DAY, 0x15),
            (MONTH, 0x06),
            (YEAR, 0x21),
            (CENTURY, 0x20),
            (STATUS_B, HOURS_24),
        ])
    }

    #[test]
    fn bcd_24_hour() {
        let mut fake = qemu_like();
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Ok(1_623_760_496));
    }

    #[test]
    fn binary_12_hour_pm_and_midnight() {
        let mut fake = Fake::new(&[
            (SECONDS, 56),
            (MINUTES, 34),
            (HOURS, PM | 12),
            (DAY, 15),
            (MONTH, 6),
            (YEAR, 21),
            (STATUS_B, BINARY),
        ]);
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Ok(1_623_760_496));
        fake.registers[HOURS as usize] = 12; // 12 AM
        assert_eq!(
            read_unix_seconds(|r| fake.read(r)),
            Ok(1_623_715_200 + 34 * 60 + 56)
        );
        fake.registers[HOURS as usize] = PM | 1; // 1 PM
        assert_eq!(
            read_unix_seconds(|r| fake.read(r)),
            Ok(1_623_715_200 + 13 * 3600 + 34 * 60 + 56)
        );
    }

    #[test]
    fn waits_out_an_update_and_a_torn_read() {
        let mut fake = qemu_like();
        fake.updating_reads = 50;
        fake.change_after = Some(55);
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Ok(1_623_760_497));
    }

    #[test]
    fn a_clock_stuck_updating_is_unstable() {
        let mut fake = qemu_like();
        fake.updating_reads = u32::MAX;
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Err(RtcError::Unstable));
    }

    #[test]
    fn garbage_is_invalid() {
        let mut fake = qemu_like();
        fake.registers[MONTH as usize] = 0x13;
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Err(RtcError::Invalid));
        fake.registers[MONTH as usize] = 0x1A; // not BCD
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Err(RtcError::Invalid));
        let mut cleared = Fake::new(&[(STATUS_B, HOURS_24)]);
        assert_eq!(
            read_unix_seconds(|r| cleared.read(r)),
            Err(RtcError::Invalid)
        );
    }

    #[test]
    fn missing_century_means_this_one() {
        let mut fake = qemu_like();
        fake.registers[CENTURY as usize] = 0;
        assert_eq!(read_unix_seconds(|r| fake.read(r)), Ok(1_623_760_496));
    }
}
