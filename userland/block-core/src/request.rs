//! Checking a block request against the handle that carries it.
//!
//! A handle sees a range of the disk (`start`, `sectors`: the whole disk or one
//! partition) and owns a buffer of `buffer_len` bytes. A `Read`/`Write` of
//! `count` sectors at `sector` into the buffer at `offset` is served only when
//! it lies wholly inside both; the answer says where on the disk and where in
//! the buffer.

use zos_proto::errno::{EINVAL, ENXIO};

use crate::SECTOR;

/// The part of a disk a handle may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub sectors: u64,
}

/// A checked transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// First sector on the whole disk.
    pub disk_sector: u64,
    /// Byte offset in the buffer.
    pub offset: usize,
    /// Bytes moved.
    pub len: usize,
}

/// Checks a transfer of `count` sectors (at most `max_sectors`); errors are
/// errno numbers: `EINVAL` (empty, too long, outside the buffer, offset not
/// sector aligned), `ENXIO` (past the end of the range).
pub fn check(
    range: Range,
    buffer_len: usize,
    max_sectors: u32,
    sector: u64,
    count: u32,
    offset: u32,
) -> Result<Transfer, i32> {
    if count == 0 || count > max_sectors || !(offset as usize).is_multiple_of(SECTOR) {
        return Err(EINVAL);
    }
    let len = count as usize * SECTOR;
    let offset = offset as usize;
    if offset.checked_add(len).is_none_or(|end| end > buffer_len) {
        return Err(EINVAL);
    }
    let inside = sector
        .checked_add(count as u64)
        .is_some_and(|end| end <= range.sectors);
    if !inside {
        return Err(ENXIO);
    }
    Ok(Transfer {
        disk_sector: range.start + sector,
        offset,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: Range = Range {
        start: 2048,
        sectors: 100,
    };

    #[test]
    fn inside_range_and_buffer() {
        assert_eq!(
            check(PART, 8192, 256, 96, 4, 4096),
            Ok(Transfer {
                disk_sector: 2144,
                offset: 4096,
                len: 2048
            })
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(check(PART, 8192, 256, 97, 4, 0), Err(ENXIO));
        assert_eq!(check(PART, 8192, 256, u64::MAX, 4, 0), Err(ENXIO));
        assert_eq!(check(PART, 8192, 256, 0, 0, 0), Err(EINVAL));
        assert_eq!(check(PART, 8192, 8, 0, 9, 0), Err(EINVAL));
        assert_eq!(check(PART, 8192, 256, 0, 17, 0), Err(EINVAL));
        assert_eq!(check(PART, 8192, 256, 0, 1, 7680 + 1), Err(EINVAL));
        assert_eq!(check(PART, 8192, 256, 0, 2, 7680), Err(EINVAL));
        assert_eq!(check(PART, 0, 256, 0, 1, 0), Err(EINVAL));
        assert_eq!(
            check(PART, 8192, u32::MAX, 0, u32::MAX, u32::MAX - 511),
            Err(EINVAL)
        );
    }
}
