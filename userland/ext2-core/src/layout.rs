//! The on-disk structures of ext2, decoded from and encoded into little-endian bytes:
//! the superblock, block group descriptors, inodes and directory entries.
//!
//! Decoding never trusts a value: this module only splits bytes into fields;
//! [`crate::volume`] checks the superblock and descriptors at mount, and every user
//! of an inode or entry checks the numbers it follows.

/// Byte offset of the primary superblock on the device.
pub const SUPERBLOCK_OFFSET: usize = 1024;
/// Size of the superblock record.
pub const SUPERBLOCK_SIZE: usize = 1024;
pub const EXT2_MAGIC: u16 = 0xEF53;
pub const ROOT_INO: u32 = 2;
/// First inode number ordinary files may use in revision-0 file systems.
pub const GOOD_OLD_FIRST_INO: u32 = 11;
pub const GOOD_OLD_INODE_SIZE: usize = 128;
pub const GROUP_DESC_SIZE: usize = 32;

/// `s_state`: unmounted cleanly.
pub const STATE_VALID: u16 = 1;
/// `s_state`: errors were detected.
pub const STATE_ERROR: u16 = 2;
/// Linux's default `s_max_mnt_count` when the field is zero.
pub const DEFAULT_MAX_MNT_COUNT: i16 = 20;

pub const COMPAT_HAS_JOURNAL: u32 = 0x4;
pub const INCOMPAT_FILETYPE: u32 = 0x2;
pub const INCOMPAT_RECOVER: u32 = 0x4;
pub const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
pub const RO_COMPAT_LARGE_FILE: u32 = 0x2;
pub const RO_COMPAT_BTREE_DIR: u32 = 0x4;
/// Incompatible features this implementation understands.
pub const INCOMPAT_SUPPORTED: u32 = INCOMPAT_FILETYPE;
/// Read-only-compatible features it can also write.
pub const RO_COMPAT_SUPPORTED: u32 =
    RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;

/// `i_flags`: the directory has an htree index (we clear it when we modify one).
pub const INODE_FLAG_INDEX: u32 = 0x1000;

pub const DIRECT_BLOCKS: usize = 12;
pub const IND_BLOCK: usize = 12;
pub const DIND_BLOCK: usize = 13;
pub const TIND_BLOCK: usize = 14;
pub const N_BLOCKS: usize = 15;
/// A symlink target shorter than this lives in `i_block` itself.
pub const FAST_SYMLINK_MAX: usize = 60;

pub const S_IFMT: u16 = 0o170000;
pub const S_IFSOCK: u16 = 0o140000;
pub const S_IFLNK: u16 = 0o120000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFBLK: u16 = 0o060000;
pub const S_IFDIR: u16 = 0o040000;
pub const S_IFCHR: u16 = 0o020000;
pub const S_IFIFO: u16 = 0o010000;

pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The superblock fields this implementation reads or keeps up to date; the rest of
/// the record is carried through unchanged in `raw`.
#[derive(Clone, Debug)]
pub struct Superblock {
    pub raw: [u8; SUPERBLOCK_SIZE],
    pub inodes_count: u32,
    pub blocks_count: u32,
    pub r_blocks_count: u32,
    pub free_blocks_count: u32,
    pub free_inodes_count: u32,
    pub first_data_block: u32,
    pub log_block_size: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub mtime: u32,
    pub wtime: u32,
    pub mnt_count: u16,
    pub max_mnt_count: i16,
    pub magic: u16,
    pub state: u16,
    pub rev_level: u32,
    pub first_ino: u32,
    pub inode_size: u16,
    pub feature_compat: u32,
    pub feature_incompat: u32,
    pub feature_ro_compat: u32,
}

impl Superblock {
    pub fn parse(raw: &[u8; SUPERBLOCK_SIZE]) -> Self {
        let rev_level = get_u32(raw, 76);
        let dynamic = rev_level >= 1;
        Superblock {
            raw: *raw,
            inodes_count: get_u32(raw, 0),
            blocks_count: get_u32(raw, 4),
            r_blocks_count: get_u32(raw, 8),
            free_blocks_count: get_u32(raw, 12),
            free_inodes_count: get_u32(raw, 16),
            first_data_block: get_u32(raw, 20),
            log_block_size: get_u32(raw, 24),
            blocks_per_group: get_u32(raw, 32),
            inodes_per_group: get_u32(raw, 40),
            mtime: get_u32(raw, 44),
            wtime: get_u32(raw, 48),
            mnt_count: get_u16(raw, 52),
            max_mnt_count: get_u16(raw, 54) as i16,
            magic: get_u16(raw, 56),
            state: get_u16(raw, 58),
            rev_level,
            first_ino: if dynamic {
                get_u32(raw, 84)
            } else {
                GOOD_OLD_FIRST_INO
            },
            inode_size: if dynamic {
                get_u16(raw, 88)
            } else {
                GOOD_OLD_INODE_SIZE as u16
            },
            feature_compat: if dynamic { get_u32(raw, 92) } else { 0 },
            feature_incompat: if dynamic { get_u32(raw, 96) } else { 0 },
            feature_ro_compat: if dynamic { get_u32(raw, 100) } else { 0 },
        }
    }

    /// The record with the mutable fields written back.
    pub fn encode(&self) -> [u8; SUPERBLOCK_SIZE] {
        let mut raw = self.raw;
        set_u32(&mut raw, 12, self.free_blocks_count);
        set_u32(&mut raw, 16, self.free_inodes_count);
        set_u32(&mut raw, 44, self.mtime);
        set_u32(&mut raw, 48, self.wtime);
        set_u16(&mut raw, 52, self.mnt_count);
        set_u16(&mut raw, 54, self.max_mnt_count as u16);
        set_u16(&mut raw, 58, self.state);
        if self.rev_level >= 1 {
            set_u32(&mut raw, 100, self.feature_ro_compat);
        }
        raw
    }

    /// The volume label (`s_volume_name`), up to its first NUL.
    pub fn volume_name(&self) -> &[u8] {
        let name = &self.raw[120..136];
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        &name[..len]
    }
}

/// One block group descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupDesc {
    pub block_bitmap: u32,
    pub inode_bitmap: u32,
    pub inode_table: u32,
    pub free_blocks: u16,
    pub free_inodes: u16,
    pub used_dirs: u16,
}

impl GroupDesc {
    pub fn parse(b: &[u8]) -> Self {
        GroupDesc {
            block_bitmap: get_u32(b, 0),
            inode_bitmap: get_u32(b, 4),
            inode_table: get_u32(b, 8),
            free_blocks: get_u16(b, 12),
            free_inodes: get_u16(b, 14),
            used_dirs: get_u16(b, 16),
        }
    }

    /// Write the fields into a 32-byte record (the padding is left alone).
    pub fn encode_into(&self, b: &mut [u8]) {
        set_u32(b, 0, self.block_bitmap);
        set_u32(b, 4, self.inode_bitmap);
        set_u32(b, 8, self.inode_table);
        set_u16(b, 12, self.free_blocks);
        set_u16(b, 14, self.free_inodes);
        set_u16(b, 16, self.used_dirs);
    }
}

/// An inode, as the fields of its first 128 bytes (plus the nanosecond parts of
/// the times when the record has room for them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inode {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: u32,
    pub ctime: u32,
    pub mtime: u32,
    pub dtime: u32,
    pub links_count: u16,
    /// Storage used, in 512-byte sectors (data and indirect blocks).
    pub blocks: u32,
    pub flags: u32,
    pub block: [u32; N_BLOCKS],
    pub generation: u32,
    pub file_acl: u32,
    /// `i_extra_isize` (0 for 128-byte records).
    pub extra_isize: u16,
    pub atime_extra: u32,
    pub ctime_extra: u32,
    pub mtime_extra: u32,
}

impl Inode {
    pub fn kind_bits(&self) -> u16 {
        self.mode & S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.kind_bits() == S_IFDIR
    }

    pub fn is_reg(&self) -> bool {
        self.kind_bits() == S_IFREG
    }

    pub fn is_symlink(&self) -> bool {
        self.kind_bits() == S_IFLNK
    }

    /// Whether the extra-time fields exist in a record of this shape.
    fn has_extra_times(record_len: usize, extra_isize: u16) -> bool {
        record_len >= 144 && extra_isize >= 16 && 128 + extra_isize as usize <= record_len
    }

    pub fn parse(record: &[u8]) -> Self {
        // Records are at least 128 bytes (the superblock's inode size is checked
        // at mount); reading through a fixed-size array lets the compiler drop a
        // bounds check per byte.
        let Some(b) = record.first_chunk::<GOOD_OLD_INODE_SIZE>() else {
            return Inode::default();
        };
        let mut block = [0u32; N_BLOCKS];
        for (i, slot) in block.iter_mut().enumerate() {
            *slot = get_u32(b, 40 + 4 * i);
        }
        let mode = get_u16(b, 0);
        let size_high = if mode & S_IFMT == S_IFREG {
            get_u32(b, 108)
        } else {
            0
        };
        let extra_isize = if record.len() > GOOD_OLD_INODE_SIZE {
            get_u16(record, 128)
        } else {
            0
        };
        let extra = Self::has_extra_times(record.len(), extra_isize);
        Inode {
            mode,
            uid: get_u16(b, 2) as u32 | (get_u16(b, 120) as u32) << 16,
            gid: get_u16(b, 24) as u32 | (get_u16(b, 122) as u32) << 16,
            size: get_u32(b, 4) as u64 | (size_high as u64) << 32,
            atime: get_u32(b, 8),
            ctime: get_u32(b, 12),
            mtime: get_u32(b, 16),
            dtime: get_u32(b, 20),
            links_count: get_u16(b, 26),
            blocks: get_u32(b, 28),
            flags: get_u32(b, 32),
            block,
            generation: get_u32(b, 100),
            file_acl: get_u32(b, 104),
            extra_isize,
            ctime_extra: if extra { get_u32(record, 132) } else { 0 },
            mtime_extra: if extra { get_u32(record, 136) } else { 0 },
            atime_extra: if extra { get_u32(record, 140) } else { 0 },
        }
    }

    /// Write the fields into an inode record, leaving bytes this type does not
    /// model (extended-attribute space, OS fields) as they were.
    pub fn encode_into(&self, b: &mut [u8]) {
        set_u16(b, 0, self.mode);
        set_u16(b, 2, self.uid as u16);
        set_u32(b, 4, self.size as u32);
        set_u32(b, 8, self.atime);
        set_u32(b, 12, self.ctime);
        set_u32(b, 16, self.mtime);
        set_u32(b, 20, self.dtime);
        set_u16(b, 24, self.gid as u16);
        set_u16(b, 26, self.links_count);
        set_u32(b, 28, self.blocks);
        set_u32(b, 32, self.flags);
        for (i, &slot) in self.block.iter().enumerate() {
            set_u32(b, 40 + 4 * i, slot);
        }
        set_u32(b, 100, self.generation);
        set_u32(b, 104, self.file_acl);
        if self.is_reg() {
            set_u32(b, 108, (self.size >> 32) as u32);
        }
        set_u16(b, 120, (self.uid >> 16) as u16);
        set_u16(b, 122, (self.gid >> 16) as u16);
        if b.len() > GOOD_OLD_INODE_SIZE {
            set_u16(b, 128, self.extra_isize);
            if Self::has_extra_times(b.len(), self.extra_isize) {
                set_u32(b, 132, self.ctime_extra);
                set_u32(b, 136, self.mtime_extra);
                set_u32(b, 140, self.atime_extra);
            }
        }
    }
}

/// Directory entry header: inode, record length, name length, file type.
pub const DIRENT_HEADER: usize = 8;

/// `file_type` values of directory entries (with the filetype feature).
pub mod ftype {
    pub const UNKNOWN: u8 = 0;
    pub const REG: u8 = 1;
    pub const DIR: u8 = 2;
    pub const CHR: u8 = 3;
    pub const BLK: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const SOCK: u8 = 6;
    pub const SYMLINK: u8 = 7;
}

/// Bytes a directory entry with a name of `name_len` bytes needs.
pub const fn dirent_len(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 3) & !3
}

/// One decoded directory entry header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirentHeader {
    pub inode: u32,
    pub rec_len: usize,
    pub name_len: usize,
    pub file_type: u8,
}

/// The entry at `at` in a directory block, if it is well formed: record length a
/// multiple of 4, at least the header and name, and inside the block.
pub fn parse_dirent(block: &[u8], at: usize) -> Option<DirentHeader> {
    if at + DIRENT_HEADER > block.len() {
        return None;
    }
    let rec_len = get_u16(block, at + 4) as usize;
    // 64 KiB blocks store a full-block record length as 0 or 65535.
    let rec_len = if block.len() == 65536 && (rec_len == 0 || rec_len == 65535) {
        65536
    } else {
        rec_len
    };
    let name_len = block[at + 6] as usize;
    let header = DirentHeader {
        inode: get_u32(block, at),
        rec_len,
        name_len,
        file_type: block[at + 7],
    };
    let well_formed = rec_len >= DIRENT_HEADER
        && rec_len % 4 == 0
        && at + rec_len <= block.len()
        && DIRENT_HEADER + name_len <= rec_len;
    well_formed.then_some(header)
}

/// Write an entry header (and name) at `at`.
pub fn write_dirent(
    block: &mut [u8],
    at: usize,
    inode: u32,
    rec_len: usize,
    ftype: u8,
    name: &[u8],
) {
    set_u32(block, at, inode);
    let stored = if rec_len >= 65536 {
        65535
    } else {
        rec_len as u16
    };
    set_u16(block, at + 4, stored);
    block[at + 6] = name.len() as u8;
    block[at + 7] = ftype;
    block[at + DIRENT_HEADER..at + DIRENT_HEADER + name.len()].copy_from_slice(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_round_trips_including_high_fields() {
        let mut inode = Inode {
            mode: S_IFREG | 0o644,
            uid: 0x12345,
            gid: 0x54321,
            size: 5 << 32 | 7,
            links_count: 1,
            extra_isize: 32,
            mtime_extra: 4 << 2,
            ..Inode::default()
        };
        inode.block[14] = 99;
        let mut raw = [0u8; 256];
        inode.encode_into(&mut raw);
        assert_eq!(Inode::parse(&raw), inode);
        let mut small = [0u8; 128];
        inode.extra_isize = 0;
        inode.mtime_extra = 0;
        inode.encode_into(&mut small);
        assert_eq!(Inode::parse(&small), inode);
    }

    #[test]
    fn malformed_dirents_are_refused() {
        let mut block = [0u8; 1024];
        write_dirent(&mut block, 0, 2, 12, ftype::DIR, b".");
        assert!(parse_dirent(&block, 0).is_some());
        set_u16(&mut block, 4, 6);
        assert!(parse_dirent(&block, 0).is_none());
        set_u16(&mut block, 4, 2048);
        assert!(parse_dirent(&block, 0).is_none());
        set_u16(&mut block, 4, 8);
        block[6] = 1;
        assert!(parse_dirent(&block, 0).is_none());
        assert!(parse_dirent(&block, 1020).is_none());
    }
}
