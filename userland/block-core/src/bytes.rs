//! Byte-granular access to a disk, as `dd`, `cat` and `od` make it on
//! `/dev/vda`: a read or write at any byte offset becomes one whole-sector
//! transfer that covers it (capped to a scratch size). A write that does not
//! start and end on sector boundaries first reads the covering sectors, then
//! patches them and writes them back.

use crate::SECTOR;

/// The sectors that cover a byte access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cover {
    /// First sector (relative to the handle's range).
    pub sector: u64,
    /// Sectors to transfer.
    pub count: u32,
    /// Bytes to skip in the first sector.
    pub skip: usize,
    /// Bytes of the caller's access served by this transfer.
    pub len: usize,
    /// A write must read the sectors first (partial head or tail sector).
    pub read_first: bool,
}

/// The covering transfer for `len` bytes at byte `offset` on a range of
/// `sectors` sectors, at most `scratch` bytes (a multiple of the sector size,
/// at least one sector). `None` at or past the end (end of file), or when
/// `len` is 0.
pub fn cover(sectors: u64, offset: u64, len: usize, scratch: usize) -> Option<Cover> {
    let size = sectors.checked_mul(SECTOR as u64)?;
    if len == 0 || offset >= size {
        return None;
    }
    let sector = offset / SECTOR as u64;
    let skip = (offset % SECTOR as u64) as usize;
    let len = len
        .min(scratch.saturating_sub(skip))
        .min((size - offset).min(usize::MAX as u64) as usize);
    if len == 0 {
        return None;
    }
    let count = (skip + len).div_ceil(SECTOR);
    let read_first = skip != 0 || !len.is_multiple_of(SECTOR);
    Some(Cover {
        sector,
        count: count as u32,
        skip,
        len,
        read_first,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_unaligned_accesses() {
        let c = cover(100, 1024, 4096, 65536).expect("inside");
        assert_eq!(
            (c.sector, c.count, c.skip, c.len, c.read_first),
            (2, 8, 0, 4096, false)
        );
        let c = cover(100, 1030, 10, 65536).expect("inside");
        assert_eq!(
            (c.sector, c.count, c.skip, c.len, c.read_first),
            (2, 1, 6, 10, true)
        );
        let c = cover(100, 510, 4, 65536).expect("inside");
        assert_eq!((c.sector, c.count, c.skip), (0, 2, 510));
    }

    #[test]
    fn capped_by_scratch_and_end() {
        let c = cover(100, 100, 1 << 20, 4096).expect("inside");
        assert_eq!((c.count, c.len), (8, 3996));
        let c = cover(100, 100 * 512 - 3, 100, 4096).expect("inside");
        assert_eq!((c.sector, c.count, c.len), (99, 1, 3));
        assert_eq!(cover(100, 100 * 512, 1, 4096), None);
        assert_eq!(cover(100, 0, 0, 4096), None);
        assert_eq!(cover(u64::MAX, 0, 1, 4096).map(|c| c.len), None);
    }
}
