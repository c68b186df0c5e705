//! A client of the block protocol (`zos_proto::block`): a block handle (from
//! devmgr by name, or one a process was given), one physically contiguous
//! data buffer attached to it, sector reads and writes through that buffer,
//! and flush requests. Errors are errno values; a failed call (the driver
//! died) is `EIO`. Used by the ext2 server (its disks) and the keystore (its
//! partition).

use crate::abi::map_flags;
use crate::{ipc, sys};
use zos_proto::block::{BlockRequest, BlockResponse, DevRequest, DevResponse, DEVMGR_SERVICE};
use zos_proto::errno::*;
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::start::slots;

/// Bytes of one sector, the protocol's unit.
pub const SECTOR: usize = 512;
/// Bytes of the data buffer: the longest single transfer.
pub const BUFFER: u64 = 256 * 1024;

/// An open block device with its buffer mapped at `va`.
pub struct BlockDisk {
    handle: u64,
    memory: u64,
    va: u64,
    sectors: u64,
    read_only: bool,
    /// Longest request in bytes.
    max_bytes: usize,
}

/// One call on a block handle; capabilities in the reply are dropped.
pub fn call(handle: u64, request: &BlockRequest, caps: &[u64]) -> Result<BlockResponse, i32> {
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

/// A request to devmgr (looked up through init) whose answer carries a
/// handle: `OpenBlock`, or `OpenKeystore` on an authority capability.
pub fn devmgr_open(devmgr: Option<u64>, request: &DevRequest) -> Result<u64, i32> {
    let (endpoint, looked_up) = match devmgr {
        Some(endpoint) => (endpoint, false),
        None => {
            let lookup = ProcRequest::Lookup {
                name: DEVMGR_SERVICE,
            };
            let reply = ipc::call(slots::PROC, &lookup, &[]).map_err(|_| EIO)?;
            match (reply.decode::<ProcResponse>(), reply.caps.first()) {
                (Some(ProcResponse::Attached), Some(cap)) => (*cap, true),
                _ => return Err(ENODEV),
            }
        }
    };
    let reply = ipc::call(endpoint, request, &[]);
    if looked_up {
        let _ = sys::cap_delete(endpoint);
    }
    let reply = reply.map_err(|_| EIO)?;
    match (reply.decode::<DevResponse>(), reply.caps.first()) {
        (Some(DevResponse::Opened), Some(cap)) => Ok(*cap),
        (Some(DevResponse::Err(e)), _) => Err(e),
        _ => Err(EIO),
    }
}

impl BlockDisk {
    /// Opens block device `name` (`vda`, `vda1`) through devmgr, its buffer
    /// mapped at `va` ([`BUFFER`] bytes of free address space).
    pub fn open(name: &str, va: u64) -> Result<Self, i32> {
        let handle = devmgr_open(None, &DevRequest::OpenBlock { name })?;
        Self::attach(handle, va)
    }

    /// Takes over block handle `handle`: creates, maps and attaches the buffer.
    pub fn attach(handle: u64, va: u64) -> Result<Self, i32> {
        let memory = match sys::memory_create_contiguous(BUFFER) {
            Ok(memory) => memory,
            Err(_) => {
                let _ = sys::cap_delete(handle);
                return Err(ENOMEM);
            }
        };
        // From here on, dropping `disk` releases the handle and the buffer.
        let mut disk = BlockDisk {
            handle,
            memory,
            va,
            sectors: 0,
            read_only: true,
            max_bytes: SECTOR,
        };
        sys::memory_map(memory, sys::SELF, va, 0, BUFFER / 4096, map_flags::WRITE)
            .map_err(|_| ENOMEM)?;
        let copy = sys::cap_copy(memory, sys::SELF, sys::NONE).map_err(|_| ENOMEM)?;
        call(handle, &BlockRequest::Attach, &[copy])?;
        let BlockResponse::Info(info) = call(handle, &BlockRequest::Info, &[])? else {
            return Err(EIO);
        };
        disk.sectors = info.sectors;
        disk.read_only = info.read_only;
        let max = (info.max_sectors as u64 * SECTOR as u64).min(BUFFER);
        disk.max_bytes = (max as usize / SECTOR).max(1) * SECTOR;
        Ok(disk)
    }

    /// Sectors of the device (or partition).
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn transfer(&mut self, sector: u64, len: usize, write: bool) -> Result<(), i32> {
        let count = (len / SECTOR) as u32;
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
        match call(self.handle, &request, &[])? {
            BlockResponse::Done { sectors } if sectors == count => Ok(()),
            _ => Err(EIO),
        }
    }

    /// Reads whole sectors from `sector` into `buf` (a multiple of [`SECTOR`]).
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), i32> {
        let mut done = 0;
        while done < buf.len() {
            let len = (buf.len() - done).min(self.max_bytes);
            self.transfer(sector + (done / SECTOR) as u64, len, false)?;
            // SAFETY: `va` maps BUFFER (>= max_bytes >= len) bytes while the disk
            // is open; the driver is done writing them once it answered.
            unsafe {
                core::ptr::copy_nonoverlapping(self.va as *const u8, buf[done..].as_mut_ptr(), len)
            };
            done += len;
        }
        Ok(())
    }

    /// Writes whole sectors from `sector` (a multiple of [`SECTOR`] bytes).
    pub fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), i32> {
        if self.read_only {
            return Err(EROFS);
        }
        let mut done = 0;
        while done < data.len() {
            let len = (data.len() - done).min(self.max_bytes);
            // SAFETY: as in `read`; no request is in flight on the buffer.
            unsafe {
                core::ptr::copy_nonoverlapping(data[done..].as_ptr(), self.va as *mut u8, len)
            };
            self.transfer(sector + (done / SECTOR) as u64, len, true)?;
            done += len;
        }
        Ok(())
    }

    /// Makes every answered write durable (a flush request).
    pub fn flush(&mut self) -> Result<(), i32> {
        match call(self.handle, &BlockRequest::Flush, &[])? {
            BlockResponse::Ok => Ok(()),
            _ => Err(EIO),
        }
    }
}

impl Drop for BlockDisk {
    fn drop(&mut self) {
        let _ = call(self.handle, &BlockRequest::Close, &[]);
        let _ = sys::cap_delete(self.handle);
        let _ = sys::memory_unmap(sys::SELF, self.va);
        let _ = sys::cap_delete(self.memory);
    }
}
