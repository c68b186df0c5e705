//! `dd`'s operands and its closing report. `dd if=FILE of=FILE bs=N count=N
//! skip=N seek=N conv=notrunc,fsync`: sizes take the suffixes c (1), w (2), b (512),
//! k/K (1024), M, G (powers of 1024) and kB, MB, GB (powers of 1000). Each
//! input block is read until it is full or the input ends (what GNU calls
//! `iflag=fullblock`: a device or pipe may return less per read), so the
//! record counts say how many whole blocks moved.

use alloc::format;
use alloc::string::String;

use crate::failure::UsageError;

/// Largest block size accepted.
pub const MAX_BLOCK: u64 = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdOptions<'a> {
    pub input: Option<&'a str>,
    pub output: Option<&'a str>,
    pub block_size: usize,
    pub count: Option<u64>,
    pub skip: u64,
    pub seek: u64,
    /// `conv=notrunc`: keep the output file's length.
    pub no_truncate: bool,
    /// `conv=fsync` (or `fdatasync`): flush the output to its device at the end.
    pub fsync: bool,
}

/// A size with an optional suffix.
pub fn parse_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let unit: u64 = match suffix {
        "" | "c" => 1,
        "w" => 2,
        "b" => 512,
        "k" | "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(unit)
}

pub fn parse<'a>(args: &[&'a str]) -> Result<DdOptions<'a>, UsageError> {
    let mut options = DdOptions {
        input: None,
        output: None,
        block_size: 512,
        count: None,
        skip: 0,
        seek: 0,
        no_truncate: false,
        fsync: false,
    };
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(UsageError(format!("unrecognized operand '{arg}'")));
        };
        let size =
            || parse_size(value).ok_or_else(|| UsageError(format!("invalid number '{value}'")));
        match key {
            "if" => options.input = Some(value),
            "of" => options.output = Some(value),
            "bs" => {
                let bs = size()?;
                if bs == 0 || bs > MAX_BLOCK {
                    return Err(UsageError(format!("invalid block size '{value}'")));
                }
                options.block_size = bs as usize;
            }
            "count" => options.count = Some(size()?),
            "skip" => options.skip = size()?,
            "seek" => options.seek = size()?,
            "conv" => {
                for conv in value.split(',') {
                    match conv {
                        "notrunc" => options.no_truncate = true,
                        "fsync" | "fdatasync" => options.fsync = true,
                        _ => return Err(UsageError(format!("invalid conversion '{conv}'"))),
                    }
                }
            }
            _ => return Err(UsageError(format!("unrecognized operand '{arg}'"))),
        }
    }
    Ok(options)
}

/// Whole and partial blocks moved one way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records {
    pub full: u64,
    pub partial: u64,
}

impl Records {
    /// Counts a block of `len` bytes out of `block_size`.
    pub fn add(&mut self, len: usize, block_size: usize) {
        if len == block_size {
            self.full += 1;
        } else if len > 0 {
            self.partial += 1;
        }
    }
}

/// The closing report on standard error, as GNU dd prints it (without the
/// time and rate).
pub fn report(input: Records, output: Records, bytes: u64) -> String {
    format!(
        "{}+{} records in\n{}+{} records out\n{bytes} bytes copied\n",
        input.full, input.partial, output.full, output.partial
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("2b"), Some(1024));
        assert_eq!(parse_size("1kB"), Some(1000));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn operands() {
        let o = parse(&[
            "if=/dev/vda",
            "of=out",
            "bs=4k",
            "count=3",
            "skip=1",
            "conv=notrunc",
        ])
        .expect("valid");
        assert_eq!(o.input, Some("/dev/vda"));
        assert_eq!(o.output, Some("out"));
        assert_eq!(
            (o.block_size, o.count, o.skip, o.seek),
            (4096, Some(3), 1, 0)
        );
        assert!(o.no_truncate && !o.fsync);
        assert!(parse(&["conv=fsync"]).expect("valid").fsync);
        assert!(parse(&["bs=0"]).is_err());
        assert!(parse(&["bs=1G"]).is_err());
        assert!(parse(&["junk"]).is_err());
        assert!(parse(&["iff=x"]).is_err());
        assert!(parse(&["conv=ucase"]).is_err());
    }

    #[test]
    fn report_counts_partial_blocks() {
        let mut r = Records::default();
        r.add(512, 512);
        r.add(100, 512);
        r.add(0, 512);
        assert_eq!(
            r,
            Records {
                full: 1,
                partial: 1
            }
        );
        assert_eq!(
            report(r, r, 612),
            "1+1 records in\n1+1 records out\n612 bytes copied\n"
        );
    }
}
