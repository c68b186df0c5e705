//! The block device ext2 sits on: fixed 512-byte sectors, read, write, flush.
//!
//! The ext2 server implements [`BlockDevice`] over the block protocol; host tests use
//! [`MemDisk`]. Every access is range-checked here as well as by the device, so a
//! corrupt image can never make the file system touch bytes outside the device.

use alloc::vec;
use alloc::vec::Vec;

/// Bytes in one sector, the unit of [`BlockDevice`] addresses.
pub const SECTOR_SIZE: usize = 512;

/// Why a device access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The range lies (partly) beyond the end of the device.
    OutOfRange,
    /// The device refuses writes.
    ReadOnly,
    /// The device reported an error (or its driver went away).
    Device,
}

/// A disk addressed in [`SECTOR_SIZE`] sectors.
pub trait BlockDevice {
    /// Number of sectors.
    fn sector_count(&self) -> u64;
    /// Whether writes are refused.
    fn read_only(&self) -> bool {
        false
    }
    /// Read `buf.len() / SECTOR_SIZE` sectors from `sector` on.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Write `data.len() / SECTOR_SIZE` sectors from `sector` on.
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError>;
    /// Make every completed write durable (a flush request to the device).
    fn flush(&mut self) -> Result<(), IoError>;
}

impl<D: BlockDevice + ?Sized> BlockDevice for alloc::boxed::Box<D> {
    fn sector_count(&self) -> u64 {
        (**self).sector_count()
    }
    fn read_only(&self) -> bool {
        (**self).read_only()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        (**self).write(sector, data)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        (**self).flush()
    }
}

/// Whether `len` bytes from `sector` fit a device of `sectors` sectors.
pub fn range_ok(sectors: u64, sector: u64, len: usize) -> bool {
    len.is_multiple_of(SECTOR_SIZE)
        && sector
            .checked_add((len / SECTOR_SIZE) as u64)
            .is_some_and(|end| end <= sectors)
}

/// A disk held in memory: the test double, and the image of a file-backed disk.
#[derive(Clone, Debug)]
pub struct MemDisk {
    pub bytes: Vec<u8>,
    pub read_only: bool,
    /// Flush requests seen.
    pub flushes: u64,
    /// Sector writes seen.
    pub writes: u64,
}

impl MemDisk {
    /// A zeroed disk of `sectors` sectors.
    pub fn zeroed(sectors: u64) -> Self {
        Self::from_bytes(vec![0; sectors as usize * SECTOR_SIZE])
    }

    /// A disk holding `bytes` (cut down to whole sectors).
    pub fn from_bytes(mut bytes: Vec<u8>) -> Self {
        bytes.truncate(bytes.len() / SECTOR_SIZE * SECTOR_SIZE);
        MemDisk {
            bytes,
            read_only: false,
            flushes: 0,
            writes: 0,
        }
    }
}

impl BlockDevice for MemDisk {
    fn sector_count(&self) -> u64 {
        (self.bytes.len() / SECTOR_SIZE) as u64
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        if !range_ok(self.sector_count(), sector, buf.len()) {
            return Err(IoError::OutOfRange);
        }
        let start = sector as usize * SECTOR_SIZE;
        buf.copy_from_slice(&self.bytes[start..start + buf.len()]);
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        if self.read_only {
            return Err(IoError::ReadOnly);
        }
        if !range_ok(self.sector_count(), sector, data.len()) {
            return Err(IoError::OutOfRange);
        }
        let start = sector as usize * SECTOR_SIZE;
        self.bytes[start..start + data.len()].copy_from_slice(data);
        self.writes += (data.len() / SECTOR_SIZE) as u64;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.flushes += 1;
        Ok(())
    }
}
