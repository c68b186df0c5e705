//! Why a mount was refused: each variant names the damaged or unsupported part.

use core::fmt;

use crate::device::IoError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountError {
    /// The device could not be read.
    Io(IoError),
    /// The device is smaller than a superblock.
    DeviceTooSmall { bytes: u64 },
    /// The superblock does not carry the ext2 magic number.
    BadMagic(u16),
    /// A superblock field is out of range or inconsistent with the others.
    BadSuperblock(&'static str),
    /// The superblock describes more blocks than the device holds.
    Truncated { fs_bytes: u64, device_bytes: u64 },
    /// Incompatible features this implementation cannot read.
    UnsupportedFeatures(u32),
    /// An ext3/ext4 journal holds changes that must be replayed first.
    NeedsRecovery,
    /// A block group descriptor points outside its group.
    BadGroupDescriptor { group: u32, what: &'static str },
    /// The root inode is missing or not a directory.
    BadRootInode,
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::Io(e) => write!(f, "cannot read the device: {e:?}"),
            MountError::DeviceTooSmall { bytes } => {
                write!(f, "device too small for ext2 ({bytes} bytes)")
            }
            MountError::BadMagic(m) => {
                write!(f, "not ext2: superblock magic is {m:#06x}, not 0xef53")
            }
            MountError::BadSuperblock(what) => write!(f, "corrupt superblock: {what}"),
            MountError::Truncated {
                fs_bytes,
                device_bytes,
            } => write!(
                f,
                "truncated image: superblock says {fs_bytes} bytes, device holds {device_bytes}"
            ),
            MountError::UnsupportedFeatures(bits) => {
                write!(
                    f,
                    "unsupported incompatible features {bits:#x} (ext3/ext4?)"
                )
            }
            MountError::NeedsRecovery => write!(f, "journal needs recovery (run e2fsck)"),
            MountError::BadGroupDescriptor { group, what } => {
                write!(f, "corrupt group descriptor {group}: {what}")
            }
            MountError::BadRootInode => write!(f, "corrupt root inode: not a directory"),
        }
    }
}

impl From<IoError> for MountError {
    fn from(e: IoError) -> Self {
        MountError::Io(e)
    }
}
