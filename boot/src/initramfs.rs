//! Reading the boot archive: an uncompressed cpio "newc" archive.
//!
//! Boot needs just enough of the initramfs to find `/sbin/init`: [`Archive`]
//! walks the newc entries without copying. Every length and offset is checked;
//! bad bytes give an [`ArchiveError`] naming where they are, never a panic. A
//! compressed archive is refused ([`is_compressed`]): the build never makes one,
//! and decompressing is not a kernel's job.

use core::fmt;

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
    /// The archive is compressed (gzip, xz, zstd, …); only plain cpio is read.
    Compressed,
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
            Self::Compressed => write!(
                f,
                "the archive is compressed; boot with an uncompressed cpio newc archive"
            ),
        }
    }
}

/// True when `bytes` starts like a compressed archive (gzip, xz, zstd, bzip2,
/// lz4, lzma) rather than a cpio header.
pub fn is_compressed(bytes: &[u8]) -> bool {
    const MAGICS: [&[u8]; 6] = [
        &[0x1f, 0x8b],
        &[0xfd, b'7', b'z', b'X', b'Z', 0],
        &[0x28, 0xb5, 0x2f, 0xfd],
        b"BZh",
        &[0x02, 0x21, 0x4c, 0x18],
        &[0x5d, 0, 0],
    ];
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
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

/// Strips any leading "./" and "/" components: an archive member's name
/// for a path (init's program index looks names up with it too).
pub fn relative(mut path: &str) -> &str {
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
    fn compressed_archives_are_recognised() {
        assert!(is_compressed(&[0x1f, 0x8b, 8, 0]));
        assert!(is_compressed(b"\xfd7zXZ\0rest"));
        assert!(is_compressed(&[0x28, 0xb5, 0x2f, 0xfd, 0]));
        assert!(!is_compressed(&sample()));
        assert!(!is_compressed(b""));
    }

    #[test]
    fn errors_display_one_line() {
        let errors = [
            ArchiveError::Truncated { offset: 4 },
            ArchiveError::BadHexField { offset: 54 },
            ArchiveError::Compressed,
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
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Archive::new(&bytes).find("x");
        }
    }
}
