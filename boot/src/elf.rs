//! Validation of user ELF executables before the kernel maps them.
//!
//! [`validate`] checks that a file is a static 64-bit little-endian executable for the
//! running machine whose loadable segments are sane: inside the file, inside user
//! space, page congruent, never writable and executable at once, not overlapping, and
//! with the entry point in code. The loader then only copies what [`ElfImage`] names.
//!
//! The ELF header (64 bytes) and program headers (56 bytes each) are parsed by hand
//! with explicit little-endian reads rather than through `xmas-elf`: that crate casts
//! the input to header structs with `zero::read`, which asserts length *and alignment*
//! (a panic on a misaligned buffer), and its segment accessors slice the file without
//! bounds checks. Reading the few fields we need byte by byte is short and cannot
//! panic.

use alloc::vec::Vec;
use core::fmt;

pub use zos_abi::layout::{USER_BOTTOM, USER_TOP};
/// `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;
/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;
/// Not an ELF machine: the browser port's programs are wasm modules
/// (`docs/browser.md`); [`validate_wasm`] checks their header.
pub const EM_WASM: u16 = 0x5741;
/// Most `PT_LOAD` segments an executable may have.
pub const MAX_LOAD_SEGMENTS: usize = 16;

const PAGE: u64 = 4096;
const ELF_HEADER_SIZE: usize = 64;
const PROGRAM_HEADER_SIZE: usize = 56;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
/// `e_phnum` value meaning "the real count is in section header 0".
const PN_XNUM: u16 = 0xffff;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One loadable segment: map `mem_size` bytes at `vaddr`, the first `file_size` of
/// them copied from the file at `file_offset`, the rest zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

impl Segment {
    /// First byte past the segment in memory (cannot overflow once validated).
    pub const fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.mem_size)
    }

    /// The page-aligned range `[start, end)` of virtual memory the segment occupies.
    pub const fn page_range(&self) -> (u64, u64) {
        let start = self.vaddr & !(PAGE - 1);
        let end = self.end().div_ceil(PAGE).saturating_mul(PAGE);
        (start, end)
    }

    /// The bytes of `file` that initialise the segment, or `None` when `file` is not
    /// the file this segment was validated against.
    pub fn file_bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.file_offset).ok()?;
        let len = usize::try_from(self.file_size).ok()?;
        file.get(start..start.checked_add(len)?)
    }
}

/// A validated executable: where to start and what to map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub entry: u64,
    pub segments: Vec<Segment>,
}

/// Why an ELF file was refused. `index` is the program header's index in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    TooShort,
    BadMagic,
    Not64Bit,
    NotLittleEndian,
    WrongMachine { found: u16 },
    NotExecutable { elf_type: u16 },
    BadVersion,
    BadHeader(&'static str),
    NoLoadableSegments,
    TooManySegments,
    SegmentOutsideFile { index: usize },
    SegmentOutsideUserSpace { index: usize },
    FileSizeExceedsMemSize { index: usize },
    WritableAndExecutable { index: usize },
    OverlappingSegments { first: usize, second: usize },
    BadAlignment { index: usize },
    EntryNotExecutable { entry: u64 },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(f, "file is shorter than an ELF header"),
            Self::BadMagic => write!(f, "not an ELF file (bad magic)"),
            Self::Not64Bit => write!(f, "not a 64-bit ELF file"),
            Self::NotLittleEndian => write!(f, "not a little-endian ELF file"),
            Self::WrongMachine { found } => {
                write!(f, "ELF file is for machine {found}, not this one")
            }
            Self::NotExecutable { elf_type } => {
                write!(
                    f,
                    "ELF type {elf_type} is not a static executable (ET_EXEC)"
                )
            }
            Self::BadVersion => write!(f, "unknown ELF version"),
            Self::BadHeader(what) => write!(f, "bad ELF header: {what}"),
            Self::NoLoadableSegments => write!(f, "ELF file has no loadable segments"),
            Self::TooManySegments => {
                write!(
                    f,
                    "ELF file has more than {MAX_LOAD_SEGMENTS} loadable segments"
                )
            }
            Self::SegmentOutsideFile { index } => {
                write!(f, "segment {index} extends past the end of the file")
            }
            Self::SegmentOutsideUserSpace { index } => {
                write!(f, "segment {index} lies outside user space")
            }
            Self::FileSizeExceedsMemSize { index } => {
                write!(
                    f,
                    "segment {index} has a file size larger than its memory size"
                )
            }
            Self::WritableAndExecutable { index } => {
                write!(f, "segment {index} is both writable and executable")
            }
            Self::OverlappingSegments { first, second } => {
                write!(f, "segments {first} and {second} share a page")
            }
            Self::BadAlignment { index } => write!(
                f,
                "segment {index} has a virtual address not congruent to its file offset"
            ),
            Self::EntryNotExecutable { entry } => {
                write!(f, "entry point {entry:#x} is not in an executable segment")
            }
        }
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([raw[0], raw[1]]))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

/// The header fields the loader cares about, read from a buffer known to hold them.
struct Header {
    entry: u64,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
}

fn parse_header(file: &[u8], machine: u16) -> Result<Header, ElfError> {
    let header = file.get(..ELF_HEADER_SIZE).ok_or(ElfError::TooShort)?;
    // Every read below is inside `header`, so the `TooShort` fallbacks never trigger.
    let u16_at = |at| read_u16(header, at).ok_or(ElfError::TooShort);
    if header.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::BadMagic);
    }
    if header.get(4) != Some(&ELFCLASS64) {
        return Err(ElfError::Not64Bit);
    }
    if header.get(5) != Some(&ELFDATA2LSB) {
        return Err(ElfError::NotLittleEndian);
    }
    if header.get(6) != Some(&EV_CURRENT) || read_u32(header, 20) != Some(u32::from(EV_CURRENT)) {
        return Err(ElfError::BadVersion);
    }
    let elf_type = u16_at(16)?;
    if elf_type != ET_EXEC {
        return Err(ElfError::NotExecutable { elf_type });
    }
    let found = u16_at(18)?;
    if found != machine {
        return Err(ElfError::WrongMachine { found });
    }
    if usize::from(u16_at(52)?) != ELF_HEADER_SIZE {
        return Err(ElfError::BadHeader("e_ehsize is not 64"));
    }
    Ok(Header {
        entry: read_u64(header, 24).ok_or(ElfError::TooShort)?,
        phoff: read_u64(header, 32).ok_or(ElfError::TooShort)?,
        phentsize: u16_at(54)?,
        phnum: u16_at(56)?,
    })
}

/// Checks one `PT_LOAD` program header (at `ph`, 56 bytes) against the file.
fn parse_load_segment(ph: &[u8], index: usize, file_len: u64) -> Result<Segment, ElfError> {
    let field = |at| read_u64(ph, at).ok_or(ElfError::BadHeader("short program header"));
    let flags = read_u32(ph, 4).ok_or(ElfError::BadHeader("short program header"))?;
    let (file_offset, vaddr, file_size, mem_size, align) =
        (field(8)?, field(16)?, field(32)?, field(40)?, field(48)?);

    let file_end = file_offset.checked_add(file_size);
    if file_end.is_none_or(|end| end > file_len) {
        return Err(ElfError::SegmentOutsideFile { index });
    }
    if file_size > mem_size {
        return Err(ElfError::FileSizeExceedsMemSize { index });
    }
    let mem_end = vaddr.checked_add(mem_size);
    if vaddr < USER_BOTTOM || mem_end.is_none_or(|end| end > USER_TOP) {
        return Err(ElfError::SegmentOutsideUserSpace { index });
    }
    let congruent = |modulus: u64| vaddr % modulus == file_offset % modulus;
    let align_ok = align <= 1 || (align.is_power_of_two() && congruent(align));
    if !congruent(PAGE) || !align_ok {
        return Err(ElfError::BadAlignment { index });
    }
    let (writable, executable) = (flags & PF_W != 0, flags & PF_X != 0);
    if writable && executable {
        return Err(ElfError::WritableAndExecutable { index });
    }
    Ok(Segment {
        vaddr,
        mem_size,
        file_offset,
        file_size,
        readable: flags & PF_R != 0,
        writable,
        executable,
    })
}

/// Checks the header of a wasm module (magic and version 1): the browser
/// port's programs. The kernel validates the whole module when it compiles it;
/// this only refuses files that are plainly not modules. The image has no
/// segments and entry 0 (the module's `_start` export).
pub fn validate_wasm(file: &[u8]) -> Result<ElfImage, ElfError> {
    match file.get(..8) {
        None => Err(ElfError::TooShort),
        Some(b"\0asm\x01\0\0\0") => Ok(ElfImage {
            entry: 0,
            segments: Vec::new(),
        }),
        Some(header) if header[..4] == *b"\0asm" => Err(ElfError::BadVersion),
        Some(_) => Err(ElfError::BadMagic),
    }
}

/// Validates `file` as a static executable for `machine` ([`EM_AARCH64`],
/// [`EM_X86_64`]; [`EM_WASM`] checks a wasm module's header instead) and returns what to map. Never panics, whatever the bytes.
///
/// `PT_LOAD` segments with a memory size of zero map nothing and are left out.
pub fn validate(file: &[u8], machine: u16) -> Result<ElfImage, ElfError> {
    if machine == EM_WASM {
        return validate_wasm(file);
    }
    let header = parse_header(file, machine)?;
    if usize::from(header.phentsize) != PROGRAM_HEADER_SIZE {
        return Err(ElfError::BadHeader("e_phentsize is not 56"));
    }
    if header.phnum == PN_XNUM {
        return Err(ElfError::BadHeader("extended program header numbering"));
    }
    let table = usize::try_from(header.phoff)
        .ok()
        .and_then(|start| {
            let len = usize::from(header.phnum).checked_mul(PROGRAM_HEADER_SIZE)?;
            file.get(start..start.checked_add(len)?)
        })
        .ok_or(ElfError::BadHeader(
            "program header table extends past the end of the file",
        ))?;

    let file_len = u64::try_from(file.len()).unwrap_or(u64::MAX);
    // (program header index, segment), at most MAX_LOAD_SEGMENTS of them.
    let mut loads: Vec<(usize, Segment)> = Vec::new();
    for (index, ph) in table.chunks_exact(PROGRAM_HEADER_SIZE).enumerate() {
        match read_u32(ph, 0) {
            Some(PT_LOAD) => {}
            Some(PT_INTERP) => {
                return Err(ElfError::BadHeader("has an interpreter (not static)"));
            }
            _ => continue,
        }
        if loads.len() == MAX_LOAD_SEGMENTS {
            return Err(ElfError::TooManySegments);
        }
        let segment = parse_load_segment(ph, index, file_len)?;
        if segment.mem_size > 0 {
            loads.push((index, segment));
        }
    }
    if loads.is_empty() {
        return Err(ElfError::NoLoadableSegments);
    }

    for (position, (first, a)) in loads.iter().enumerate() {
        for (second, b) in loads.iter().skip(position + 1) {
            let ((a_start, a_end), (b_start, b_end)) = (a.page_range(), b.page_range());
            if a_start < b_end && b_start < a_end {
                return Err(ElfError::OverlappingSegments {
                    first: *first,
                    second: *second,
                });
            }
        }
    }

    let entry = header.entry;
    let in_code = |(_, s): &(usize, Segment)| s.executable && s.vaddr <= entry && entry < s.end();
    if !loads.iter().any(in_code) {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    Ok(ElfImage {
        entry,
        segments: loads.into_iter().map(|(_, segment)| segment).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A program header for the test ELF builder.
    #[derive(Clone, Copy)]
    struct Ph {
        kind: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        file_size: u64,
        mem_size: u64,
        align: u64,
    }

    fn load(flags: u32, offset: u64, vaddr: u64, file_size: u64, mem_size: u64) -> Ph {
        Ph {
            kind: PT_LOAD,
            flags,
            offset,
            vaddr,
            file_size,
            mem_size,
            align: PAGE,
        }
    }

    /// Assembles an ELF64 file: header, program headers right after it, then zeroed
    /// contents up to `total_len`.
    fn build(entry: u64, phs: &[Ph], total_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF");
        out.extend_from_slice(&[ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&ET_EXEC.to_le_bytes());
        out.extend_from_slice(&EM_AARCH64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out.extend_from_slice(&(phs.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
        assert_eq!(out.len(), ELF_HEADER_SIZE);
        for ph in phs {
            out.extend_from_slice(&ph.kind.to_le_bytes());
            out.extend_from_slice(&ph.flags.to_le_bytes());
            for value in [
                ph.offset,
                ph.vaddr,
                ph.vaddr,
                ph.file_size,
                ph.mem_size,
                ph.align,
            ] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out.resize(total_len.max(out.len()), 0);
        out
    }

    const CODE: u64 = 0x40_0000;
    const DATA: u64 = 0x60_0000;

    /// Code (R+X) covering the headers and a page of text, data (R+W) with bss.
    fn valid_phs() -> Vec<Ph> {
        vec![
            load(PF_R | PF_X, 0, CODE, 0x1000, 0x1000),
            load(PF_R | PF_W, 0x1000, DATA, 0x800, 0x3000),
        ]
    }

    fn valid() -> Vec<u8> {
        build(CODE + 0x100, &valid_phs(), 0x1800)
    }

    fn with_ph(mutate: impl FnOnce(&mut Vec<Ph>)) -> Vec<u8> {
        let mut phs = valid_phs();
        mutate(&mut phs);
        build(CODE + 0x100, &phs, 0x1800)
    }

    #[test]
    fn accepts_valid_executable() {
        let file = valid();
        let image = validate(&file, EM_AARCH64).expect("valid ELF");
        assert_eq!(image.entry, CODE + 0x100);
        assert_eq!(image.segments.len(), 2);
        let code = image.segments[0];
        assert!(code.readable && code.executable && !code.writable);
        assert_eq!(code.page_range(), (CODE, CODE + 0x1000));
        let data = image.segments[1];
        assert!(data.readable && data.writable && !data.executable);
        assert_eq!(
            (data.file_offset, data.file_size, data.mem_size),
            (0x1000, 0x800, 0x3000)
        );
        assert_eq!(data.file_bytes(&file).map(<[u8]>::len), Some(0x800));
    }

    #[test]
    fn truncation_at_every_length_is_an_error() {
        let file = valid();
        for len in 0..file.len() {
            assert!(
                validate(&file[..len], EM_AARCH64).is_err(),
                "accepted at {len}"
            );
        }
        assert_eq!(validate(&file[..10], EM_AARCH64), Err(ElfError::TooShort));
    }

    fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
        let mut file = valid();
        file[at..at + bytes.len()].copy_from_slice(bytes);
        file
    }

    #[test]
    fn rejects_bad_identification() {
        let check = |file: Vec<u8>, err| assert_eq!(validate(&file, EM_AARCH64), Err(err));
        check(patched(0, b"\x7fELG"), ElfError::BadMagic);
        check(patched(4, &[1]), ElfError::Not64Bit);
        check(patched(5, &[2]), ElfError::NotLittleEndian);
        check(patched(6, &[2]), ElfError::BadVersion);
        check(patched(20, &[0]), ElfError::BadVersion);
        check(
            patched(16, &3u16.to_le_bytes()),
            ElfError::NotExecutable { elf_type: 3 },
        );
        check(
            patched(52, &32u16.to_le_bytes()),
            ElfError::BadHeader("e_ehsize is not 64"),
        );
        check(
            patched(54, &32u16.to_le_bytes()),
            ElfError::BadHeader("e_phentsize is not 56"),
        );
        assert_eq!(
            validate(&valid(), EM_X86_64),
            Err(ElfError::WrongMachine { found: EM_AARCH64 })
        );
    }

    #[test]
    fn rejects_bad_program_header_table() {
        let outside = ElfError::BadHeader("program header table extends past the end of the file");
        let far = patched(32, &0x10_0000u64.to_le_bytes());
        assert_eq!(validate(&far, EM_AARCH64), Err(outside));
        let wrapping = patched(32, &u64::MAX.to_le_bytes());
        assert_eq!(validate(&wrapping, EM_AARCH64), Err(outside));
        let huge = patched(56, &0xfff0u16.to_le_bytes());
        assert_eq!(validate(&huge, EM_AARCH64), Err(outside));
        let xnum = patched(56, &PN_XNUM.to_le_bytes());
        assert!(matches!(
            validate(&xnum, EM_AARCH64),
            Err(ElfError::BadHeader(_))
        ));
        let none = patched(56, &0u16.to_le_bytes());
        assert_eq!(
            validate(&none, EM_AARCH64),
            Err(ElfError::NoLoadableSegments)
        );
    }

    #[test]
    fn rejects_too_many_segments() {
        let phs: Vec<Ph> = (0..17)
            .map(|i| load(PF_R | PF_X, 0, CODE + i * PAGE, 0x100, 0x100))
            .collect();
        assert_eq!(
            validate(&build(CODE, &phs, 0x1000), EM_AARCH64),
            Err(ElfError::TooManySegments)
        );
        let sixteen = build(CODE, &phs[..16], 0x1000);
        assert_eq!(
            validate(&sixteen, EM_AARCH64).map(|i| i.segments.len()),
            Ok(16)
        );
    }

    #[test]
    fn rejects_bad_segments() {
        let check = |file: Vec<u8>, err| assert_eq!(validate(&file, EM_AARCH64), Err(err));
        check(
            with_ph(|p| p[1].file_size = 0x900),
            ElfError::SegmentOutsideFile { index: 1 },
        );
        check(
            with_ph(|p| p[1].offset = u64::MAX - 0x7ff),
            ElfError::SegmentOutsideFile { index: 1 },
        );
        check(
            with_ph(|p| p[1].mem_size = 0x700),
            ElfError::FileSizeExceedsMemSize { index: 1 },
        );
        check(
            with_ph(|p| p[1].vaddr = 0xffff_0000_0000_0000),
            ElfError::SegmentOutsideUserSpace { index: 1 },
        );
        check(
            with_ph(|p| p[1].vaddr = USER_TOP - 0x1000),
            ElfError::SegmentOutsideUserSpace { index: 1 },
        );
        check(
            with_ph(|p| {
                p[1].vaddr = !0xfff;
                p[1].mem_size = 0x2000;
            }),
            ElfError::SegmentOutsideUserSpace { index: 1 },
        );
        check(
            with_ph(|p| p[0].vaddr = 0),
            ElfError::SegmentOutsideUserSpace { index: 0 },
        );
        check(
            with_ph(|p| p[1].vaddr = DATA + 0x10),
            ElfError::BadAlignment { index: 1 },
        );
        check(
            with_ph(|p| p[1].align = 0x3000),
            ElfError::BadAlignment { index: 1 },
        );
        check(
            with_ph(|p| p[1].flags = PF_R | PF_W | PF_X),
            ElfError::WritableAndExecutable { index: 1 },
        );
        check(
            with_ph(|p| p[1].vaddr = CODE),
            ElfError::OverlappingSegments {
                first: 0,
                second: 1,
            },
        );
        // Disjoint bytes but a shared page still overlap.
        check(
            with_ph(|p| {
                p[0].file_size = 0x800;
                p[0].mem_size = 0x800;
                p[1].vaddr = CODE + 0x800;
                p[1].offset = 0x800;
            }),
            ElfError::OverlappingSegments {
                first: 0,
                second: 1,
            },
        );
        check(
            with_ph(|p| {
                p.push(Ph {
                    kind: PT_INTERP,
                    flags: PF_R,
                    offset: 0,
                    vaddr: 0,
                    file_size: 0,
                    mem_size: 0,
                    align: 1,
                })
            }),
            ElfError::BadHeader("has an interpreter (not static)"),
        );
    }

    #[test]
    fn entry_must_be_in_code() {
        let check = |entry, err| {
            assert_eq!(
                validate(&build(entry, &valid_phs(), 0x1800), EM_AARCH64),
                Err(err)
            )
        };
        check(DATA + 8, ElfError::EntryNotExecutable { entry: DATA + 8 });
        check(
            CODE + 0x1000,
            ElfError::EntryNotExecutable {
                entry: CODE + 0x1000,
            },
        );
        check(0, ElfError::EntryNotExecutable { entry: 0 });
    }

    #[test]
    fn non_load_and_empty_segments_are_ignored() {
        let file = with_ph(|p| {
            p.push(Ph {
                kind: 0x6474_e551,
                flags: PF_R | PF_W | PF_X,
                offset: u64::MAX,
                vaddr: 0,
                file_size: 9,
                mem_size: 0,
                align: 3,
            });
            p.push(load(PF_R, 0, 0x9000, 0, 0));
        });
        assert_eq!(validate(&file, EM_AARCH64).map(|i| i.segments.len()), Ok(2));
    }

    #[test]
    fn errors_display_one_line() {
        let errors = [
            ElfError::TooShort,
            ElfError::WrongMachine { found: 3 },
            ElfError::BadHeader("x"),
            ElfError::OverlappingSegments {
                first: 1,
                second: 2,
            },
            ElfError::EntryNotExecutable { entry: 0x10 },
        ];
        for err in errors {
            let text = err.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = validate(&bytes, EM_AARCH64);
        }

        #[test]
        fn mutated_elf_never_panics(at in 0usize..0x1800, value in any::<u8>(), header_only in any::<bool>()) {
            let mut file = valid();
            // Most interesting bytes are in the headers; aim there half of the time.
            let at = if header_only { at % (64 + 2 * 56) } else { at };
            file[at] = value;
            if let Ok(image) = validate(&file, EM_AARCH64) {
                for segment in &image.segments {
                    prop_assert!(segment.file_bytes(&file).is_some());
                    prop_assert!(segment.vaddr >= USER_BOTTOM && segment.end() <= USER_TOP);
                    prop_assert!(!(segment.writable && segment.executable));
                }
            }
        }
    }
}
