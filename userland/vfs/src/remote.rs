//! Mounts served by other processes: the IPC [`Transport`] under
//! `zos_vfs_core::remote::RemoteFs`. Each mount has its own data buffer (a Memory
//! object mapped here and attached at the server), through which file contents
//! move; requests and replies travel as messages on the mount capability.

use alloc::boxed::Box;
use alloc::vec::Vec;
use libzos::abi::map_flags;
use libzos::ipc;
use libzos::sys;
use zos_proto::rfs::{RfsCall, RfsRequest, RfsResponse};
use zos_vfs_core::remote::{RemoteFs, ServerGone, Transport};
use zos_vfs_core::{Errno, FileSystem, Timestamp};

/// Bytes of each mount's data buffer.
const BUFFER: u64 = 256 * 1024;
/// The data part of the buffer; the volume's change counter follows it
/// (`zos_proto::rfs::GENERATION_BYTES`).
const DATA_BYTES: usize = BUFFER as usize - zos_proto::rfs::GENERATION_BYTES;
/// Where the data buffers are mapped, one slot each.
const BUFFERS_BASE: u64 = libzos::abi::layout::VFS_REMOTE_BUFFERS;
const MAX_REMOTE: u64 = 64;

pub struct IpcTransport {
    cap: u64,
    memory: u64,
    va: u64,
}

impl Transport for IpcTransport {
    fn call(&self, request: &[u8]) -> Result<Vec<u8>, ServerGone> {
        let reply = ipc::call_raw(self.cap, request, &[]).map_err(|_| ServerGone)?;
        for cap in &reply.caps {
            let _ = sys::cap_delete(*cap);
        }
        Ok(reply.bytes)
    }
    fn buffer_len(&self) -> usize {
        DATA_BYTES
    }
    fn store(&self, data: &[u8]) {
        let count = data.len().min(DATA_BYTES);
        // SAFETY: `va` maps BUFFER writable bytes while the transport exists; the
        // server may write them too, so only raw copies touch them.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.va as *mut u8, count) };
    }
    fn load(&self, out: &mut [u8]) {
        let count = out.len().min(DATA_BYTES);
        // SAFETY: as in `store`.
        unsafe { core::ptr::copy_nonoverlapping(self.va as *const u8, out.as_mut_ptr(), count) };
    }
    fn generation(&self) -> Option<u64> {
        let word = (self.va + DATA_BYTES as u64) as *const u64;
        // SAFETY: the counter is the buffer's last aligned word, mapped while
        // the transport exists; the server writes it between requests, so a
        // volatile read sees the value of its last answer.
        Some(u64::from_le(unsafe { core::ptr::read_volatile(word) }))
    }
}

impl Drop for IpcTransport {
    fn drop(&mut self) {
        let _ = sys::memory_unmap(sys::SELF, self.va);
        let _ = sys::cap_delete(self.memory);
        let _ = sys::cap_delete(self.cap);
    }
}

/// A free buffer slot: slots are numbered by the mount capability's slot modulo
/// [`MAX_REMOTE`], probing for an unmapped one.
fn buffer_va(used: &[u64]) -> Option<u64> {
    (0..MAX_REMOTE)
        .map(|i| BUFFERS_BASE + i * BUFFER)
        .find(|va| !used.contains(va))
}

/// Set up the data buffer on the mount capability `cap` (which this takes) and
/// ask the server what it serves.
pub fn connect(
    cap: u64,
    now: Timestamp,
    used: &[u64],
) -> Result<(Box<dyn FileSystem>, u64), Errno> {
    let fail = |e| {
        let _ = sys::cap_delete(cap);
        Err(e)
    };
    let Some(va) = buffer_va(used) else {
        return fail(Errno::ENFILE);
    };
    let Ok(memory) = sys::memory_create(BUFFER) else {
        return fail(Errno::ENOMEM);
    };
    if sys::memory_map(memory, sys::SELF, va, 0, BUFFER / 4096, map_flags::WRITE).is_err() {
        let _ = sys::cap_delete(memory);
        return fail(Errno::ENOMEM);
    }
    let transport = IpcTransport { cap, memory, va };
    let Ok(copy) = sys::cap_copy(memory, sys::SELF, sys::NONE) else {
        return Err(Errno::ENOMEM);
    };
    let attach = RfsCall {
        now,
        op: RfsRequest::Attach,
    };
    let bytes = zos_proto::encode_vec(&attach).ok_or(Errno::EINVAL)?;
    let reply = ipc::call_raw(cap, &bytes, &[copy]).map_err(|_| Errno::EIO)?;
    match reply.decode::<RfsResponse>() {
        Some(RfsResponse::Ok) => {}
        Some(RfsResponse::Err(e)) => return Err(Errno::from_i32(e).unwrap_or(Errno::EIO)),
        _ => return Err(Errno::EIO),
    }
    let fs = RemoteFs::connect(transport, now)?;
    Ok((Box::new(fs), va))
}
