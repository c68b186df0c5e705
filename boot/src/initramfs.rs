//! Reading the boot archive: a cpio "newc" archive, optionally gzip compressed.
//!
//! The kernel needs just enough of the initramfs to find `/sbin/init`: [`decompress`]
//! turns gzip member(s) into bytes (raw deflate through `miniz_oxide`, with the gzip
//! framing, CRC32 and size checks done here), and [`Archive`] walks the newc entries
//! without copying. Every length and offset is checked; bad bytes give an
//! [`ArchiveError`] naming where they are, never a panic.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use miniz_oxide::inflate::core::{decompress as inflate, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// Why the archive could not be read. Offsets are byte offsets into the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// The entry starting at `offset` runs past the end of the archive.
    Truncated { offset: usize },
    /// No "070701"/"070702" magic at `offset`.
    BadMagic { offset: usize },
    /// The header field at `offset` is not eight hex digits.
    BadHexField { offset: usize },
    /// The name of the entry at `offset` is not UTF-8.
    NameNotUtf8 { offset: usize },
    /// The name of the entry at `offset` does not end with a NUL byte.
    NameNotTerminated { offset: usize },
    /// The data of the "070702" entry at `offset` does not match its checksum.
    ChecksumMismatch { offset: usize },
    /// The gzip stream is malformed.
    Gzip(&'static str),
    /// The decompressed archive would exceed the caller's limit.
    TooLarge,
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { offset } => write!(f, "cpio entry at {offset:#x} is truncated"),
            Self::BadMagic { offset } => write!(f, "no cpio newc magic at {offset:#x}"),
            Self::BadHexField { offset } => {
                write!(f, "cpio header field at {offset:#x} is not 8 hex digits")
            }
            Self::NameNotUtf8 { offset } => {
                write!(f, "name of cpio entry at {offset:#x} is not UTF-8")
            }
            Self::NameNotTerminated { offset } => {
                write!(f, "name of cpio entry at {offset:#x} is not NUL terminated")
            }
            Self::ChecksumMismatch { offset } => {
                write!(f, "data of cpio entry at {offset:#x} fails its checksum")
            }
            Self::Gzip(what) => write!(f, "bad gzip data: {what}"),
            Self::TooLarge => write!(f, "decompressed archive exceeds the size limit"),
        }
    }
}

// ---------------------------------------------------------------------------------
// gzip (RFC 1952)

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const GZIP_DEFLATE: u8 = 8;
const GZIP_HEADER_LEN: usize = 10;
const GZIP_TRAILER_LEN: usize = 8;
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xe0;

const CRC32_TABLE: [u32; 256] = crc32_table();

const fn crc32_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// The CRC-32 (IEEE 802.3, as used by gzip) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        CRC32_TABLE[usize::from(crc.to_le_bytes()[0] ^ byte)] ^ (crc >> 8)
    })
}

/// True when `bytes` starts like a gzip member.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

fn read_u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*raw.first()?, *raw.get(1)?]))
}

fn read_u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

/// Skips the gzip header of `member`, returning the offset of the deflate data.
fn gzip_header_len(member: &[u8]) -> Result<usize, ArchiveError> {
    const TRUNCATED: ArchiveError = ArchiveError::Gzip("truncated header");
    let fixed = member.get(..GZIP_HEADER_LEN).ok_or(TRUNCATED)?;
    if !is_gzip(fixed) {
        return Err(ArchiveError::Gzip("bad magic"));
    }
    if fixed.get(2) != Some(&GZIP_DEFLATE) {
        return Err(ArchiveError::Gzip("compression method is not deflate"));
    }
    let flags = fixed.get(3).copied().unwrap_or(0);
    if flags & FRESERVED != 0 {
        return Err(ArchiveError::Gzip("reserved header flags set"));
    }
    let mut pos = GZIP_HEADER_LEN;
    if flags & FEXTRA != 0 {
        let extra_len = read_u16_le(member, pos).ok_or(TRUNCATED)?;
        pos = pos + 2 + usize::from(extra_len);
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let text = member.get(pos..).ok_or(TRUNCATED)?;
            let nul = text.iter().position(|&b| b == 0).ok_or(TRUNCATED)?;
            pos = pos + nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = read_u16_le(member, pos).ok_or(TRUNCATED)?;
        let header = member.get(..pos).ok_or(TRUNCATED)?;
        if crc32(header).to_le_bytes()[..2] != stored.to_le_bytes() {
            return Err(ArchiveError::Gzip("header CRC mismatch"));
        }
        pos += 2;
    }
    if pos > member.len() {
        return Err(TRUNCATED);
    }
    Ok(pos)
}

/// Inflates the raw deflate stream at the start of `input`, appending to `out`, which
/// may grow to at most `limit` bytes. Returns how many input bytes the stream used.
fn inflate_member(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<usize, ArchiveError> {
    let start = out.len();
    let room = limit.saturating_sub(start);
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut decompressor = Box::<DecompressorOxide>::default();
    let mut buffer_len = input.len().saturating_mul(4).max(4096).min(room);
    out.resize(start + buffer_len, 0);
    let (mut consumed, mut produced) = (0, 0);
    loop {
        let remaining = input.get(consumed..).unwrap_or_default();
        let buffer = out.get_mut(start..).unwrap_or_default();
        let (status, used, written) =
            inflate(&mut decompressor, remaining, buffer, produced, flags);
        consumed += used;
        produced += written;
        match status {
            TINFLStatus::Done => {
                out.truncate(start + produced);
                return Ok(consumed);
            }
            TINFLStatus::HasMoreOutput if buffer_len < room => {
                buffer_len = buffer_len.saturating_mul(2).max(4096).min(room);
                out.resize(start + buffer_len, 0);
            }
            TINFLStatus::HasMoreOutput => return Err(ArchiveError::TooLarge),
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(ArchiveError::Gzip("truncated deflate stream"));
            }
            _ => return Err(ArchiveError::Gzip("corrupt deflate stream")),
        }
    }
}

/// Decompresses one or more concatenated gzip members (trailing zero padding allowed),
/// refusing to produce more than `limit` bytes.
pub fn decompress(bytes: &[u8], limit: usize) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    loop {
        let header_len = gzip_header_len(rest)?;
        let member_start = out.len();
        let deflate = rest.get(header_len..).unwrap_or_default();
        let deflate_len = inflate_member(deflate, &mut out, limit)?;
        let trailer_at = header_len + deflate_len;
        let trailer = rest
            .get(trailer_at..trailer_at + GZIP_TRAILER_LEN)
            .ok_or(ArchiveError::Gzip("truncated trailer"))?;
        let member = out.get(member_start..).unwrap_or_default();
        if read_u32_le(trailer, 0) != Some(crc32(member)) {
            return Err(ArchiveError::Gzip("CRC32 mismatch"));
        }
        // ISIZE is the length modulo 2^32.
        if read_u32_le(trailer, 4) != Some(member.len() as u32) {
            return Err(ArchiveError::Gzip("length (ISIZE) mismatch"));
        }
        rest = rest
            .get(trailer_at + GZIP_TRAILER_LEN..)
            .unwrap_or_default();
        if rest.iter().all(|&b| b == 0) {
            return Ok(out);
        }
    }
}

// ---------------------------------------------------------------------------------
// cpio newc

const NEWC_HEADER_LEN: usize = 110;
const NEWC_MAGIC: &[u8] = b"070701";
const NEWC_CRC_MAGIC: &[u8] = b"070702";
const TRAILER_NAME: &str = "TRAILER!!!";
const FIELD_MODE: usize = 1;
const FIELD_FILESIZE: usize = 6;
const FIELD_NAMESIZE: usize = 11;
const FIELD_CHECK: usize = 12;
const FIELD_COUNT: usize = 13;

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// One archive member, borrowed from the archive bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path without a leading "./" or "/".
    pub name: &'a str,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    pub data: &'a [u8],
}

impl Entry<'_> {
    pub const fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    pub const fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// A cpio newc archive (already decompressed).
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
}

impl<'a> Archive<'a> {
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Every entry up to the "TRAILER!!!" one; after an error the iteration ends.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
            done: false,
        }
    }

    /// The first entry named `path` ("/sbin/init" and "sbin/init" are the same).
    pub fn find(&self, path: &str) -> Result<Option<Entry<'a>>, ArchiveError> {
        let wanted = relative(path);
        for entry in self.entries() {
            let entry = entry?;
            if entry.name == wanted {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}

/// Iterator over the entries of an [`Archive`].
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match parse_entry(self.bytes, self.offset) {
            Ok(Some((entry, next))) => {
                self.offset = next;
                Some(Ok(entry))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

/// Strips any leading "./" and "/" components.
fn relative(mut path: &str) -> &str {
    loop {
        if let Some(rest) = path.strip_prefix("./") {
            path = rest;
        } else if let Some(rest) = path.strip_prefix('/') {
            path = rest;
        } else {
            return path;
        }
    }
}

fn align4(value: usize) -> Option<usize> {
    Some(value.checked_add(3)? & !3)
}

/// Parses exactly eight ASCII hex digits (no sign, no prefix).
fn parse_hex(field: &[u8]) -> Option<u32> {
    if field.len() != 8 {
        return None;
    }
    field.iter().try_fold(0u32, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value << 4 | nibble)
    })
}

/// Parses the entry at `offset`: `None` for the trailer, else the entry and the offset
/// of the next one.
fn parse_entry(bytes: &[u8], offset: usize) -> Result<Option<(Entry<'_>, usize)>, ArchiveError> {
    let truncated = ArchiveError::Truncated { offset };
    let header_end = offset.checked_add(NEWC_HEADER_LEN).ok_or(truncated)?;
    let header = bytes.get(offset..header_end).ok_or(truncated)?;
    let magic = header.get(..NEWC_MAGIC.len());
    let with_checksum = magic == Some(NEWC_CRC_MAGIC);
    if magic != Some(NEWC_MAGIC) && !with_checksum {
        return Err(ArchiveError::BadMagic { offset });
    }
    let mut fields = [0u32; FIELD_COUNT];
    for (index, value) in fields.iter_mut().enumerate() {
        let at = NEWC_MAGIC.len() + index * 8;
        let bad = ArchiveError::BadHexField {
            offset: offset + at,
        };
        *value = header.get(at..at + 8).and_then(parse_hex).ok_or(bad)?;
    }
    let field = |index: usize| fields.get(index).map_or(0, |&value| value as usize);

    let name_end = header_end
        .checked_add(field(FIELD_NAMESIZE))
        .ok_or(truncated)?;
    let raw_name = bytes.get(header_end..name_end).ok_or(truncated)?;
    let Some((&0, name)) = raw_name.split_last() else {
        return Err(ArchiveError::NameNotTerminated { offset });
    };
    let name = core::str::from_utf8(name).map_err(|_| ArchiveError::NameNotUtf8 { offset })?;

    let data_start = align4(name_end).ok_or(truncated)?;
    let data_end = data_start
        .checked_add(field(FIELD_FILESIZE))
        .ok_or(truncated)?;
    let data = bytes.get(data_start..data_end).ok_or(truncated)?;
    if name == TRAILER_NAME {
        return Ok(None);
    }
    // Only "070702" entries carry a checksum; summing the data of every plain
    // entry made each lookup cost a pass over the whole archive.
    if with_checksum {
        let checksum = data
            .iter()
            .fold(0u32, |sum, &byte| sum.wrapping_add(u32::from(byte)));
        if checksum != fields[FIELD_CHECK] {
            return Err(ArchiveError::ChecksumMismatch { offset });
        }
    }
    let next = align4(data_end).ok_or(truncated)?;
    let entry = Entry {
        name: relative(name),
        mode: fields[FIELD_MODE],
        data,
    };
    Ok(Some((entry, next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::compress_to_vec;
    use proptest::prelude::*;

    /// Writes a newc archive of `(name, mode, data)` entries and its trailer.
    fn newc_with(magic: &str, files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let trailer: (&str, u32, &[u8]) = (TRAILER_NAME, 0, b"");
        for (ino, &(name, mode, data)) in files.iter().chain([&trailer]).enumerate() {
            let check: u32 = data.iter().map(|&b| u32::from(b)).sum();
            let fields = [ino as u32, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, 0, 0];
            out.extend_from_slice(magic.as_bytes());
            for value in fields.into_iter().chain([name.len() as u32 + 1, check]) {
                out.extend_from_slice(format!("{value:08X}").as_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().next_multiple_of(4), 0);
            out.extend_from_slice(data);
            if name != TRAILER_NAME {
                out.resize(out.len().next_multiple_of(4), 0);
            }
        }
        out
    }

    const INIT: &[u8] = b"\x7fELF init program";

    fn sample() -> Vec<u8> {
        newc_with(
            "070701",
            &[
                (".", 0o040_755, b""),
                ("./sbin", 0o040_755, b""),
                ("./sbin/init", 0o100_755, INIT),
                ("etc/motd", 0o100_644, b"hello\n"),
            ],
        )
    }

    fn gzip_member(data: &[u8], flags: u8) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
        if flags & FEXTRA != 0 {
            out.extend_from_slice(&[4, 0, b'A', b'B', 0, 0]);
        }
        if flags & FNAME != 0 {
            out.extend_from_slice(b"initramfs.cpio\0");
        }
        if flags & FCOMMENT != 0 {
            out.extend_from_slice(b"a comment\0");
        }
        if flags & FHCRC != 0 {
            let crc = crc32(&out);
            out.extend_from_slice(&crc.to_le_bytes()[..2]);
        }
        out.extend_from_slice(&compress_to_vec(data, 6));
        out.extend_from_slice(&crc32(data).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    #[test]
    fn finds_and_iterates_entries() {
        let bytes = sample();
        let archive = Archive::new(&bytes);
        let names: Vec<&str> = archive.entries().map(|e| e.unwrap().name).collect();
        assert_eq!(names, [".", "sbin", "sbin/init", "etc/motd"]);
        for path in ["/sbin/init", "sbin/init", "./sbin/init"] {
            let init = archive.find(path).unwrap().expect("init present");
            assert_eq!(init.data, INIT);
            assert!(init.is_file() && !init.is_dir());
        }
        assert!(archive.find("/sbin").unwrap().unwrap().is_dir());
        assert_eq!(archive.find("/etc/motd").unwrap().unwrap().data, b"hello\n");
        assert_eq!(archive.find("/sbin/missing"), Ok(None));
        assert_eq!(archive.find("TRAILER!!!"), Ok(None));
    }

    #[test]
    fn stops_at_trailer_and_allows_padding() {
        let mut bytes = sample();
        bytes.resize(bytes.len() + 512, 0);
        bytes.extend_from_slice(b"junk after the trailer");
        assert_eq!(Archive::new(&bytes).entries().count(), 4);
        assert_eq!(Archive::new(&bytes).find("nope"), Ok(None));
    }

    #[test]
    fn truncation_at_every_length_is_an_error() {
        let bytes = sample();
        for len in 0..bytes.len() {
            let archive = Archive::new(&bytes[..len]);
            let result = archive.find("not/there");
            assert!(
                matches!(result, Err(ArchiveError::Truncated { .. })),
                "length {len}: {result:?}"
            );
            assert!(archive.entries().last().is_some_and(|e| e.is_err()));
        }
    }

    #[test]
    fn rejects_malformed_headers() {
        let find = |bytes: &[u8]| Archive::new(bytes).find("etc/motd").map(|_| ());
        let mut bad_hex = sample();
        bad_hex[6 + 6 * 8 + 3] = b'g';
        assert_eq!(
            find(&bad_hex),
            Err(ArchiveError::BadHexField { offset: 54 })
        );
        let mut signed = sample();
        signed[6 + 6 * 8] = b'+';
        assert_eq!(find(&signed), Err(ArchiveError::BadHexField { offset: 54 }));
        let mut bad_magic = sample();
        bad_magic[5] = b'7';
        assert_eq!(find(&bad_magic), Err(ArchiveError::BadMagic { offset: 0 }));
        let mut no_nul = sample();
        no_nul[111] = b'x';
        assert_eq!(
            find(&no_nul),
            Err(ArchiveError::NameNotTerminated { offset: 0 })
        );
        let mut not_utf8 = newc_with("070701", &[("bad\u{ff}", 0, b"")]);
        not_utf8[113..115].copy_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            find(&not_utf8),
            Err(ArchiveError::NameNotUtf8 { offset: 0 })
        );
        let mut huge = sample();
        huge[54..62].copy_from_slice(b"FFFFFFFF");
        assert_eq!(find(&huge), Err(ArchiveError::Truncated { offset: 0 }));
    }

    #[test]
    fn checks_crc_variant() {
        let good = newc_with("070702", &[("sbin/init", 0o100_755, INIT)]);
        assert_eq!(
            Archive::new(&good)
                .find("/sbin/init")
                .unwrap()
                .unwrap()
                .data,
            INIT
        );
        let mut bad = good.clone();
        let data_at = bad.len() - 124 - INIT.len().next_multiple_of(4);
        bad[data_at] ^= 1;
        assert_eq!(
            Archive::new(&bad).find("/sbin/init"),
            Err(ArchiveError::ChecksumMismatch { offset: 0 })
        );
    }

    #[test]
    fn crc32_matches_reference() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn gzip_round_trip() {
        let archive = sample();
        for flags in [
            0,
            FEXTRA,
            FNAME,
            FCOMMENT,
            FHCRC,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
        ] {
            let packed = gzip_member(&archive, flags);
            assert!(is_gzip(&packed));
            let unpacked = decompress(&packed, 1 << 20).unwrap();
            assert_eq!(unpacked, archive, "flags {flags:#x}");
            let init = Archive::new(&unpacked).find("/sbin/init").unwrap().unwrap();
            assert_eq!(init.data, INIT);
        }
        assert!(!is_gzip(&archive));
    }

    #[test]
    fn gzip_multiple_members_and_padding() {
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut packed = gzip_member(b"first ", 0);
        packed.extend(gzip_member(&big, FNAME));
        packed.extend(gzip_member(b"", 0));
        packed.extend([0; 16]);
        let unpacked = decompress(&packed, usize::MAX).unwrap();
        assert_eq!(unpacked, [b"first ".as_slice(), &big].concat());
        packed.push(7);
        assert_eq!(
            decompress(&packed, usize::MAX),
            Err(ArchiveError::Gzip("bad magic"))
        );
    }

    #[test]
    fn gzip_detects_corruption() {
        let data = sample();
        let packed = gzip_member(&data, FHCRC);
        let len = packed.len();
        let mut bad_crc = packed.clone();
        bad_crc[len - 8] ^= 1;
        assert_eq!(
            decompress(&bad_crc, 1 << 20),
            Err(ArchiveError::Gzip("CRC32 mismatch"))
        );
        let mut bad_size = packed.clone();
        bad_size[len - 4] ^= 1;
        assert_eq!(
            decompress(&bad_size, 1 << 20),
            Err(ArchiveError::Gzip("length (ISIZE) mismatch"))
        );
        let mut bad_header_crc = packed.clone();
        bad_header_crc[11] ^= 1;
        assert_eq!(
            decompress(&bad_header_crc, 1 << 20),
            Err(ArchiveError::Gzip("header CRC mismatch"))
        );
        let mut reserved = packed.clone();
        reserved[3] |= 0x80;
        assert!(decompress(&reserved, 1 << 20).is_err());
        let mut method = packed;
        method[2] = 7;
        assert!(decompress(&method, 1 << 20).is_err());
    }

    #[test]
    fn gzip_truncation_at_every_length_is_an_error() {
        let packed = gzip_member(&sample(), FEXTRA | FNAME | FCOMMENT | FHCRC);
        for len in 0..packed.len() {
            assert!(decompress(&packed[..len], 1 << 20).is_err(), "length {len}");
        }
    }

    #[test]
    fn gzip_respects_limit() {
        let data = vec![b'z'; 50_000];
        let packed = gzip_member(&data, 0);
        assert_eq!(
            decompress(&packed, data.len()).map(|d| d.len()),
            Ok(data.len())
        );
        assert_eq!(
            decompress(&packed, data.len() - 1),
            Err(ArchiveError::TooLarge)
        );
        assert_eq!(decompress(&packed, 0), Err(ArchiveError::TooLarge));
        assert_eq!(decompress(&gzip_member(b"", 0), 0), Ok(Vec::new()));
        let two = [gzip_member(&data, 0), gzip_member(&data, 0)].concat();
        assert_eq!(
            decompress(&two, 2 * data.len() - 1),
            Err(ArchiveError::TooLarge)
        );
    }

    #[test]
    fn errors_display_one_line() {
        let errors = [
            ArchiveError::Truncated { offset: 4 },
            ArchiveError::BadHexField { offset: 54 },
            ArchiveError::Gzip("bad magic"),
            ArchiveError::TooLarge,
        ];
        for err in errors {
            let text = err.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text}");
        }
    }

    proptest! {
        #[test]
        fn mutated_archives_never_panic(at in any::<usize>(), value in any::<u8>()) {
            let mut bytes = sample();
            let at = at % bytes.len();
            bytes[at] = value;
            let _ = Archive::new(&bytes).entries().count();
            let _ = Archive::new(&bytes).find("sbin/init");
        }

        #[test]
        fn mutated_gzip_never_panics(at in any::<usize>(), value in any::<u8>()) {
            let mut packed = gzip_member(&sample(), FEXTRA | FNAME | FHCRC);
            let at = at % packed.len();
            packed[at] = value;
            let _ = decompress(&packed, 1 << 16);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decompress(&bytes, 1 << 16);
            let _ = Archive::new(&bytes).find("x");
        }
    }
}
