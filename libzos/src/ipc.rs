//! Protocol messages over IPC: a postcard-encoded request or response, in the
//! message registers when it fits in 32 bytes and in the IPC buffer otherwise,
//! plus up to four capabilities. Clients use [`call`]; servers [`Server`].

use crate::abi::{MessageInfo, IPC_BUFFER_DATA, MAX_MESSAGE_CAPS};
use crate::sys::{self, Error, Msg, Sys};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Why a protocol exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpcError {
    /// The kernel refused the call (bad capability, peer died, ...).
    Sys(Error),
    /// The message does not encode into 4 KiB.
    TooBig,
    /// The peer answered something that does not decode.
    Malformed,
}

impl From<Error> for IpcError {
    fn from(e: Error) -> Self {
        IpcError::Sys(e)
    }
}

/// IPC buffer of the calling thread (kept in TPIDR_EL0 by the runtime).
fn buffer() -> *mut u8 {
    crate::thread::ipc_buffer() as *mut u8
}

/// A received message: its bytes (copied out of registers or buffer), badge
/// and capability slots that arrived with it.
pub struct Received {
    pub bytes: Vec<u8>,
    pub badge: u64,
    pub caps: Vec<u64>,
    pub label: u32,
}

impl Received {
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Option<T> {
        zos_proto::decode(&self.bytes)
    }
}

fn received(msg: Msg) -> Received {
    let length = msg.info.length as usize;
    let bytes = if length <= 32 {
        let mut all = [0u8; 32];
        for (i, word) in msg.words.iter().enumerate() {
            all[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        all[..length].to_vec()
    } else {
        // SAFETY: the kernel wrote `length` (≤ 4096) bytes at the data offset of
        // this thread's 8 KiB IPC buffer, which stays mapped for its lifetime.
        unsafe {
            core::slice::from_raw_parts(buffer().add(IPC_BUFFER_DATA as usize), length).to_vec()
        }
    };
    let caps = (0..msg.info.caps as usize)
        // SAFETY: the kernel wrote `caps` (≤ 4) slot numbers at the buffer start.
        .map(|i| unsafe { core::ptr::read_volatile((buffer() as *const u64).add(i)) })
        .collect();
    Received {
        bytes,
        badge: msg.badge,
        caps,
        label: msg.info.label,
    }
}

/// The data area of the calling thread's IPC buffer.
fn data_area() -> &'static mut [u8] {
    // SAFETY: the calling thread's IPC buffer is 8 KiB, mapped writable for the
    // thread's lifetime; its data area starts at IPC_BUFFER_DATA and holds
    // 4096 bytes, and only this thread uses it.
    unsafe {
        core::slice::from_raw_parts_mut(
            buffer().add(IPC_BUFFER_DATA as usize),
            zos_proto::MAX_MESSAGE,
        )
    }
}

/// Finishes a message whose `length` bytes are in the data area: up to 32
/// bytes move into the four registers; `caps` go to the capability area.
fn finish(length: usize, caps: &[u64]) -> Result<(MessageInfo, [u64; 4]), IpcError> {
    if caps.len() > MAX_MESSAGE_CAPS {
        return Err(IpcError::TooBig);
    }
    let mut words = [0u64; 4];
    if length <= 32 {
        let mut padded = [0u8; 32];
        padded[..length].copy_from_slice(&data_area()[..length]);
        for (i, word) in words.iter_mut().enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&padded[i * 8..i * 8 + 8]);
            *word = u64::from_le_bytes(bytes);
        }
    }
    for (i, cap) in caps.iter().enumerate() {
        // SAFETY: the capability area holds 4 words; i < 4.
        unsafe { core::ptr::write_volatile((buffer() as *mut u64).add(i), *cap) };
    }
    let info = MessageInfo {
        label: 0,
        caps: caps.len() as u8,
        length: length as u16,
    };
    Ok((info, words))
}

/// Encodes a message straight into this thread's IPC buffer (no scratch copy).
fn stage<T: Serialize>(value: &T, caps: &[u64]) -> Result<(MessageInfo, [u64; 4]), IpcError> {
    let length = zos_proto::encode(value, data_area()).ok_or(IpcError::TooBig)?;
    finish(length, caps)
}

/// Stages already-encoded bytes (for servers that build responses generically).
fn stage_raw(bytes: &[u8], caps: &[u64]) -> Result<(MessageInfo, [u64; 4]), IpcError> {
    let area = data_area();
    if bytes.len() > area.len() {
        return Err(IpcError::TooBig);
    }
    area[..bytes.len()].copy_from_slice(bytes);
    finish(bytes.len(), caps)
}

/// Room a reply vector starts with: most replies fit, so encoding allocates
/// once instead of growing the vector four times (a `stat` reply did: about
/// 800 of the VFS's instructions per call, docs/userland.md).
const ENCODE_START: usize = 128;

/// Encodes a value into a fresh byte vector (for [`Server::reply_recv_raw`]).
pub fn encode_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, IpcError> {
    let start = Vec::with_capacity(ENCODE_START);
    let bytes = postcard::to_extend(value, start).map_err(|_| IpcError::TooBig)?;
    if bytes.len() > zos_proto::MAX_MESSAGE {
        return Err(IpcError::TooBig);
    }
    Ok(bytes)
}

/// Answers a deferred caller with already-encoded bytes.
pub fn reply_later_raw(reply_cap: u64, bytes: &[u8], caps: &[u64]) -> Result<(), IpcError> {
    let (info, words) = stage_raw(bytes, caps)?;
    sys::ipc_send(reply_cap, info, words)?;
    Ok(())
}

/// The first badge a server that mints badged handles gives out; it counts
/// up from there.
///
/// init hands a restarted service the endpoint its predecessor served, so
/// handles the dead instance minted (held by clients, in messages still
/// queued, in their no-senders notices) arrive at the new one. Counting
/// from 1, such a handle named whatever the new instance minted first: a
/// client could read another's socket or terminal, or the VFS write to a
/// file system mounted after the restart through a mount of the old one.
/// Starting at the clock, no badge repeats across instances: minting takes
/// far longer than a nanosecond, so every badge an instance gave out is
/// below the clock when its successor starts. Small constants (0, the
/// service's own badge) stay below it too.
pub fn first_badge() -> u64 {
    sys::clock_ns().max(1 << 16)
}

/// Deletes capabilities this process received but does not keep (the
/// extra ones of a request or reply).
pub fn drop_caps(caps: &[u64]) {
    for &cap in caps {
        let _ = sys::cap_delete(cap);
    }
}

/// Sends `request` (with `caps`) on `endpoint` and waits for the reply.
pub fn call<T: Serialize>(endpoint: u64, request: &T, caps: &[u64]) -> Result<Received, IpcError> {
    let (info, words) = stage(request, caps)?;
    let reply = sys::ipc_call(endpoint, info, words)?;
    Ok(received(reply))
}

/// Sends already-encoded bytes (with `caps`) on `endpoint` and waits for the reply.
pub fn call_raw(endpoint: u64, bytes: &[u8], caps: &[u64]) -> Result<Received, IpcError> {
    let (info, words) = stage_raw(bytes, caps)?;
    let reply = sys::ipc_call(endpoint, info, words)?;
    Ok(received(reply))
}

/// A server's receive loop helper.
pub struct Server {
    pub endpoint: u64,
}

impl Server {
    pub fn new(endpoint: u64) -> Self {
        Server { endpoint }
    }

    /// Waits for the next request.
    pub fn recv(&self) -> Result<Received, IpcError> {
        Ok(received(sys::ipc_recv(self.endpoint)?))
    }

    /// Replies to the current caller and waits for the next request.
    pub fn reply_recv<T: Serialize>(
        &self,
        response: &T,
        caps: &[u64],
    ) -> Result<Received, IpcError> {
        let (info, words) = stage(response, caps)?;
        Ok(received(sys::ipc_reply_recv(self.endpoint, info, words)?))
    }

    /// Replies with already-encoded bytes and waits for the next request.
    pub fn reply_recv_raw(&self, bytes: &[u8], caps: &[u64]) -> Result<Received, IpcError> {
        let (info, words) = stage_raw(bytes, caps)?;
        Ok(received(sys::ipc_reply_recv(self.endpoint, info, words)?))
    }

    /// Replies to the current caller with already-encoded bytes.
    pub fn reply_raw(&self, bytes: &[u8], caps: &[u64]) -> Result<(), IpcError> {
        let (info, words) = stage_raw(bytes, caps)?;
        sys::ipc_reply(info, words)?;
        Ok(())
    }

    /// Replies to the current caller.
    pub fn reply<T: Serialize>(&self, response: &T, caps: &[u64]) -> Result<(), IpcError> {
        let (info, words) = stage(response, caps)?;
        sys::ipc_reply(info, words)?;
        Ok(())
    }

    /// Keeps the right to reply to the current caller for later (a deferred
    /// reply); returns the reply capability slot.
    pub fn defer(&self) -> Result<u64, IpcError> {
        let r = sys::raw(Sys::ReplySave, [0; 6]).check()?;
        Ok(r.0[1])
    }
}

/// Answers a caller whose reply was deferred with [`Server::defer`]; consumes
/// the reply capability.
pub fn reply_later<T: Serialize>(
    reply_cap: u64,
    response: &T,
    caps: &[u64],
) -> Result<(), IpcError> {
    let (info, words) = stage(response, caps)?;
    sys::ipc_send(reply_cap, info, words)?;
    Ok(())
}
