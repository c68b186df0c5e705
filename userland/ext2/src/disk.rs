//! A disk through the block protocol (`libzos::block`) as ext2's
//! `BlockDevice`. A failed call (the driver died) becomes an I/O error; the
//! volume then answers `EIO`.

use libzos::block::{BlockDisk, BUFFER};
use zos_ext2_core::{BlockDevice, IoError};
use zos_proto::errno::*;

/// Where buffers are mapped: one slot of [`BUFFER`] bytes per disk.
const BUFFERS_BASE: u64 = libzos::abi::layout::VFS_WINDOWS - (2 << 30);

pub struct Disk(BlockDisk);

/// Open block device `name` (`vda`, `vda1`) through devmgr; `slot` picks the
/// buffer's place in the address space (one per mounted disk).
pub fn open(name: &str, slot: u64) -> Result<Disk, i32> {
    BlockDisk::open(name, BUFFERS_BASE + slot * BUFFER).map(Disk)
}

fn io_error(errno: i32) -> IoError {
    match errno {
        EROFS => IoError::ReadOnly,
        ENXIO => IoError::OutOfRange,
        _ => IoError::Device,
    }
}

impl BlockDevice for Disk {
    fn sector_count(&self) -> u64 {
        self.0.sectors()
    }

    fn read_only(&self) -> bool {
        self.0.read_only()
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.0.read(sector, buf).map_err(io_error)
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        self.0.write(sector, data).map_err(io_error)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush().map_err(io_error)
    }
}
