//! A disk through the block protocol (`zos_proto::block`): a handle from devmgr,
//! one physically contiguous data buffer attached to it, sector reads and writes
//! through that buffer, and flush requests. A failed call (the driver died)
//! becomes an I/O error; the volume then answers `EIO`.

use libzos::abi::map_flags;
use libzos::ipc;
use libzos::sys;
use zos_ext2_core::{BlockDevice, IoError, SECTOR_SIZE};
use zos_proto::block::{BlockRequest, BlockResponse, DevRequest, DevResponse, DEVMGR_SERVICE};
use zos_proto::errno::*;
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::start::slots;

/// Bytes of the data buffer: the longest single transfer.
const BUFFER: u64 = 256 * 1024;
/// Where buffers are mapped: one slot of [`BUFFER`] bytes per disk.
const BUFFERS_BASE: u64 = libzos::abi::layout::VFS_WINDOWS - (2 << 30);

pub struct BlockDisk {
    handle: u64,
    memory: u64,
    va: u64,
    sectors: u64,
    read_only: bool,
    /// Longest request in bytes.
    max_bytes: usize,
}

fn lookup_devmgr() -> Result<u64, i32> {
    let request = ProcRequest::Lookup {
        name: DEVMGR_SERVICE,
    };
    let reply = ipc::call(slots::PROC, &request, &[]).map_err(|_| EIO)?;
    match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(cap)) => Ok(*cap),
        _ => Err(ENODEV),
    }
}

fn block_call(handle: u64, request: &BlockRequest, caps: &[u64]) -> Result<BlockResponse, i32> {
    let reply = ipc::call(handle, request, caps).map_err(|_| EIO)?;
    for cap in &reply.caps {
        let _ = sys::cap_delete(*cap);
    }
    match reply.decode::<BlockResponse>() {
        Some(BlockResponse::Err(e)) => Err(e),
        Some(response) => Ok(response),
        None => Err(EIO),
    }
}

impl BlockDisk {
    /// Open block device `name` (`vda`, `vda1`) through devmgr; `slot` picks the
    /// buffer's place in the address space (one per mounted disk).
    pub fn open(name: &str, slot: u64) -> Result<Self, i32> {
        let devmgr = lookup_devmgr()?;
        let reply = ipc::call(devmgr, &DevRequest::OpenBlock { name }, &[]);
        let _ = sys::cap_delete(devmgr);
        let reply = reply.map_err(|_| EIO)?;
        let handle = match (reply.decode::<DevResponse>(), reply.caps.first()) {
            (Some(DevResponse::Opened), Some(cap)) => *cap,
            (Some(DevResponse::Err(e)), _) => return Err(e),
            _ => return Err(EIO),
        };
        let memory = match sys::memory_create_contiguous(BUFFER) {
            Ok(memory) => memory,
            Err(_) => {
                let _ = sys::cap_delete(handle);
                return Err(ENOMEM);
            }
        };
        let va = BUFFERS_BASE + slot * BUFFER;
        let mut disk = BlockDisk {
            handle,
            memory,
            va,
            sectors: 0,
            read_only: true,
            max_bytes: SECTOR_SIZE,
        };
        sys::memory_map(memory, sys::SELF, va, 0, BUFFER / 4096, map_flags::WRITE)
            .map_err(|_| ENOMEM)?;
        let copy = sys::cap_copy(memory, sys::SELF, sys::NONE).map_err(|_| ENOMEM)?;
        block_call(handle, &BlockRequest::Attach, &[copy])?;
        let BlockResponse::Info(info) = block_call(handle, &BlockRequest::Info, &[])? else {
            return Err(EIO);
        };
        disk.sectors = info.sectors;
        disk.read_only = info.read_only;
        let max = (info.max_sectors as u64 * SECTOR_SIZE as u64).min(BUFFER);
        disk.max_bytes = (max as usize / SECTOR_SIZE).max(1) * SECTOR_SIZE;
        Ok(disk)
    }

    fn transfer(&mut self, sector: u64, len: usize, write: bool) -> Result<(), IoError> {
        let count = (len / SECTOR_SIZE) as u32;
        let request = if write {
            BlockRequest::Write {
                sector,
                count,
                offset: 0,
            }
        } else {
            BlockRequest::Read {
                sector,
                count,
                offset: 0,
            }
        };
        match block_call(self.handle, &request, &[]) {
            Ok(BlockResponse::Done { sectors }) if sectors == count => Ok(()),
            Err(EROFS) => Err(IoError::ReadOnly),
            Err(ENXIO) => Err(IoError::OutOfRange),
            _ => Err(IoError::Device),
        }
    }
}

impl Drop for BlockDisk {
    fn drop(&mut self) {
        let _ = block_call(self.handle, &BlockRequest::Close, &[]);
        let _ = sys::cap_delete(self.handle);
        let _ = sys::memory_unmap(sys::SELF, self.va);
        let _ = sys::cap_delete(self.memory);
    }
}

impl BlockDevice for BlockDisk {
    fn sector_count(&self) -> u64 {
        self.sectors
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let mut done = 0;
        while done < buf.len() {
            let len = (buf.len() - done).min(self.max_bytes);
            self.transfer(sector + (done / SECTOR_SIZE) as u64, len, false)?;
            // SAFETY: `va` maps BUFFER (>= max_bytes >= len) bytes while the disk
            // is open; the driver is done writing them once it answered.
            unsafe {
                core::ptr::copy_nonoverlapping(self.va as *const u8, buf[done..].as_mut_ptr(), len)
            };
            done += len;
        }
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        if self.read_only {
            return Err(IoError::ReadOnly);
        }
        let mut done = 0;
        while done < data.len() {
            let len = (data.len() - done).min(self.max_bytes);
            // SAFETY: as in `read`; no request is in flight on the buffer.
            unsafe {
                core::ptr::copy_nonoverlapping(data[done..].as_ptr(), self.va as *mut u8, len)
            };
            self.transfer(sector + (done / SECTOR_SIZE) as u64, len, true)?;
            done += len;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        match block_call(self.handle, &BlockRequest::Flush, &[]) {
            Ok(BlockResponse::Ok) => Ok(()),
            _ => Err(IoError::Device),
        }
    }
}
