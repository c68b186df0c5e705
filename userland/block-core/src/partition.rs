//! MBR and GPT partition tables.
//!
//! [`read_table`] reads sector 0 (and, for GPT, the header at sector 1 and its
//! entry array) through a caller's sector reader and returns the partitions in
//! Linux's numbering: MBR primary slots 1–4, GPT entry index + 1. Everything is
//! checked before use: signatures, GPT header and entry CRCs, sizes, that every
//! partition lies on the disk (and, for GPT, in the usable range) and that no
//! two overlap. A disk with no table is not an error (no partitions); a table
//! that fails a check is refused with a [`TableError`] naming the problem.
//! MBR logical partitions inside an extended one are not read (the extended
//! container itself is listed, as its slot).

use alloc::vec;
use alloc::vec::Vec;
use zos_proto::block::Partition;

use crate::SECTOR;

/// Most GPT entries read (the usual table has 128).
pub const MAX_GPT_ENTRIES: u32 = 1024;
/// The MBR type of a GPT protective partition.
pub const GPT_PROTECTIVE: u8 = 0xEE;

/// Why a partition table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The disk could not be read.
    Io,
    /// An MBR entry has a boot flag other than 0x00/0x80.
    BadBootFlag(u32),
    /// Partition `n` starts at 0, is empty or runs past the disk's end.
    OutsideDisk(u32),
    /// Partitions `a` and `b` overlap.
    Overlap(u32, u32),
    /// The protective MBR points at a GPT whose header is not there.
    NoGptHeader,
    /// The GPT header's size, CRC, own position or entry layout is wrong.
    BadGptHeader(&'static str),
    /// The GPT entry array's CRC does not match.
    BadGptEntries,
}

impl core::fmt::Display for TableError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TableError::Io => write!(f, "cannot read the partition table"),
            TableError::BadBootFlag(n) => write!(f, "MBR entry {n}: bad boot flag"),
            TableError::OutsideDisk(n) => write!(f, "partition {n} lies outside the disk"),
            TableError::Overlap(a, b) => write!(f, "partitions {a} and {b} overlap"),
            TableError::NoGptHeader => write!(f, "protective MBR but no GPT header"),
            TableError::BadGptHeader(what) => write!(f, "GPT header: {what}"),
            TableError::BadGptEntries => write!(f, "GPT entry array CRC mismatch"),
        }
    }
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Reads the partition table of a disk of `sectors` sectors. `read(sector,
/// out)` fills `out` (a whole number of sectors) from `sector` on, or fails.
pub fn read_table(
    sectors: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<Vec<Partition>, TableError> {
    let mut mbr = [0u8; SECTOR];
    if sectors == 0 || !read(0, &mut mbr) {
        return Err(TableError::Io);
    }
    if mbr[510..512] != [0x55, 0xAA] {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for slot in 0..4u32 {
        let entry = &mbr[446 + 16 * slot as usize..][..16];
        let kind = entry[4];
        if kind == 0 {
            continue;
        }
        if entry[0] != 0 && entry[0] != 0x80 {
            return Err(TableError::BadBootFlag(slot + 1));
        }
        if kind == GPT_PROTECTIVE {
            return read_gpt(sectors, &mut read);
        }
        found.push(Partition {
            index: slot + 1,
            start: le32(entry, 8) as u64,
            sectors: le32(entry, 12) as u64,
            mbr_type: kind,
            type_guid: [0; 16],
        });
    }
    check_layout(&found, 1, sectors)?;
    Ok(found)
}

/// Every partition inside `[first, end)`, none overlapping.
fn check_layout(parts: &[Partition], first: u64, end: u64) -> Result<(), TableError> {
    for p in parts {
        let inside = p.sectors > 0
            && p.start >= first
            && p.start.checked_add(p.sectors).is_some_and(|e| e <= end);
        if !inside {
            return Err(TableError::OutsideDisk(p.index));
        }
    }
    for (i, a) in parts.iter().enumerate() {
        for b in &parts[i + 1..] {
            if a.start < b.start + b.sectors && b.start < a.start + a.sectors {
                return Err(TableError::Overlap(a.index, b.index));
            }
        }
    }
    Ok(())
}

fn read_gpt(
    sectors: u64,
    read: &mut impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<Vec<Partition>, TableError> {
    let mut header = [0u8; SECTOR];
    if sectors < 3 || !read(1, &mut header) {
        return Err(TableError::Io);
    }
    if &header[0..8] != b"EFI PART" {
        return Err(TableError::NoGptHeader);
    }
    let size = le32(&header, 12) as usize;
    if !(92..=SECTOR).contains(&size) {
        return Err(TableError::BadGptHeader("size"));
    }
    let stored_crc = le32(&header, 16);
    let mut copy = header;
    copy[16..20].fill(0);
    if crc32fast::hash(&copy[..size]) != stored_crc {
        return Err(TableError::BadGptHeader("CRC mismatch"));
    }
    if le64(&header, 24) != 1 {
        return Err(TableError::BadGptHeader("not at sector 1"));
    }
    let (first_usable, last_usable) = (le64(&header, 40), le64(&header, 48));
    if first_usable < 2 || last_usable < first_usable || last_usable >= sectors {
        return Err(TableError::BadGptHeader("usable range outside the disk"));
    }
    let entries_at = le64(&header, 72);
    let count = le32(&header, 80);
    let entry_size = le32(&header, 84) as usize;
    if count > MAX_GPT_ENTRIES
        || !(128..=4096).contains(&entry_size)
        || !entry_size.is_multiple_of(8)
    {
        return Err(TableError::BadGptHeader("entry count or size"));
    }
    let bytes = count as usize * entry_size;
    let array_sectors = bytes.div_ceil(SECTOR) as u64;
    let array_inside = entries_at >= 2
        && entries_at
            .checked_add(array_sectors)
            .is_some_and(|end| end <= sectors);
    if !array_inside {
        return Err(TableError::BadGptHeader("entry array outside the disk"));
    }
    let mut array = vec![0u8; array_sectors as usize * SECTOR];
    if !array.is_empty() && !read(entries_at, &mut array) {
        return Err(TableError::Io);
    }
    if crc32fast::hash(&array[..bytes]) != le32(&header, 88) {
        return Err(TableError::BadGptEntries);
    }
    let mut found = Vec::new();
    for (i, entry) in array[..bytes].chunks_exact(entry_size).enumerate() {
        let mut type_guid = [0u8; 16];
        type_guid.copy_from_slice(&entry[0..16]);
        if type_guid == [0; 16] {
            continue;
        }
        let (first, last) = (le64(entry, 32), le64(entry, 40));
        let index = i as u32 + 1;
        if last < first {
            return Err(TableError::OutsideDisk(index));
        }
        found.push(Partition {
            index,
            start: first,
            sectors: last - first + 1,
            mbr_type: GPT_PROTECTIVE,
            type_guid,
        });
    }
    check_layout(&found, first_usable, last_usable + 1)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISK: u64 = 4096;

    fn mbr(entries: &[(u8, u8, u32, u32)]) -> Vec<u8> {
        let mut disk = vec![0u8; DISK as usize * SECTOR];
        for (i, (flag, kind, start, len)) in entries.iter().enumerate() {
            let e = &mut disk[446 + 16 * i..][..16];
            e[0] = *flag;
            e[4] = *kind;
            e[8..12].copy_from_slice(&start.to_le_bytes());
            e[12..16].copy_from_slice(&len.to_le_bytes());
        }
        disk[510] = 0x55;
        disk[511] = 0xAA;
        disk
    }

    fn table(disk: &[u8]) -> Result<Vec<Partition>, TableError> {
        read_table((disk.len() / SECTOR) as u64, |sector, out| {
            let at = sector as usize * SECTOR;
            match disk.get(at..at + out.len()) {
                Some(bytes) => {
                    out.copy_from_slice(bytes);
                    true
                }
                None => false,
            }
        })
    }

    /// A GPT with the given (first, last) entries at slots 0, 1, ...
    fn gpt(parts: &[(u64, u64)]) -> Vec<u8> {
        let mut disk = mbr(&[(0, GPT_PROTECTIVE, 1, DISK as u32 - 1)]);
        let mut array = vec![0u8; 128 * 128];
        for (i, (first, last)) in parts.iter().enumerate() {
            let e = &mut array[i * 128..][..128];
            e[0..16].copy_from_slice(&[0xAF; 16]);
            e[32..40].copy_from_slice(&first.to_le_bytes());
            e[40..48].copy_from_slice(&last.to_le_bytes());
        }
        disk[2 * SECTOR..2 * SECTOR + array.len()].copy_from_slice(&array);
        let h = &mut disk[SECTOR..2 * SECTOR];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&1u64.to_le_bytes());
        h[32..40].copy_from_slice(&(DISK - 1).to_le_bytes());
        h[40..48].copy_from_slice(&34u64.to_le_bytes());
        h[48..56].copy_from_slice(&(DISK - 34).to_le_bytes());
        h[72..80].copy_from_slice(&2u64.to_le_bytes());
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        h[88..92].copy_from_slice(&crc32fast::hash(&array).to_le_bytes());
        let crc = crc32fast::hash(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        disk
    }

    #[test]
    fn no_signature_means_no_partitions() {
        assert_eq!(table(&vec![0u8; 8 * SECTOR]), Ok(Vec::new()));
    }

    #[test]
    fn mbr_primary_partitions_in_slot_order() {
        let disk = mbr(&[
            (0x80, 0x83, 2048, 1024),
            (0, 0, 0, 0),
            (0, 0x0c, 3072, 1024),
        ]);
        let parts = table(&disk).expect("valid");
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].index, parts[0].start, parts[0].sectors),
            (1, 2048, 1024)
        );
        assert_eq!((parts[1].index, parts[1].mbr_type), (3, 0x0c));
    }

    #[test]
    fn malformed_mbr_is_refused() {
        let past_end = mbr(&[(0, 0x83, 2048, 4096)]);
        assert_eq!(table(&past_end), Err(TableError::OutsideDisk(1)));
        let at_zero = mbr(&[(0, 0x83, 0, 10)]);
        assert_eq!(table(&at_zero), Err(TableError::OutsideDisk(1)));
        let overlap = mbr(&[(0, 0x83, 100, 100), (0, 0x83, 150, 100)]);
        assert_eq!(table(&overlap), Err(TableError::Overlap(1, 2)));
        let flag = mbr(&[(0x12, 0x83, 100, 100)]);
        assert_eq!(table(&flag), Err(TableError::BadBootFlag(1)));
        let wraps = mbr(&[(0, 0x83, u32::MAX, u32::MAX)]);
        assert_eq!(table(&wraps), Err(TableError::OutsideDisk(1)));
    }

    #[test]
    fn gpt_entries_by_slot() {
        let disk = gpt(&[(34, 1033), (2048, 3000)]);
        let parts = table(&disk).expect("valid");
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].index, parts[0].start, parts[0].sectors),
            (1, 34, 1000)
        );
        assert_eq!((parts[1].index, parts[1].start), (2, 2048));
        assert_eq!(parts[1].type_guid, [0xAF; 16]);
    }

    #[test]
    fn malformed_gpt_is_refused() {
        let mut bad_crc = gpt(&[(34, 1033)]);
        bad_crc[SECTOR + 40] ^= 1;
        assert_eq!(
            table(&bad_crc),
            Err(TableError::BadGptHeader("CRC mismatch"))
        );
        let mut bad_entries = gpt(&[(34, 1033)]);
        bad_entries[2 * SECTOR + 33] ^= 1;
        assert_eq!(table(&bad_entries), Err(TableError::BadGptEntries));
        let outside = gpt(&[(34, DISK)]);
        assert_eq!(table(&outside), Err(TableError::OutsideDisk(1)));
        let overlap = gpt(&[(34, 1033), (1000, 2000)]);
        assert_eq!(table(&overlap), Err(TableError::Overlap(1, 2)));
        let backwards = gpt(&[(100, 50)]);
        assert_eq!(table(&backwards), Err(TableError::OutsideDisk(1)));
        let mut missing = gpt(&[]);
        missing[SECTOR] = b'X';
        assert_eq!(table(&missing), Err(TableError::NoGptHeader));
    }

    #[test]
    fn random_tables_never_panic() {
        // A seeded xorshift over sector 0..3 with valid signatures.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..2000 {
            let mut disk = if round % 2 == 0 {
                gpt(&[(34, 1033)])
            } else {
                mbr(&[])
            };
            for _ in 0..16 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % (3 * SECTOR as u64)) as usize;
                disk[at] = (state >> 32) as u8;
            }
            disk[510] = 0x55;
            disk[511] = 0xAA;
            if let Ok(parts) = table(&disk) {
                for p in parts {
                    assert!(p.start + p.sectors <= DISK);
                }
            }
        }
    }
}
