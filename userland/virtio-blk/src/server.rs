//! The driver's service loop: handles (badged capabilities of the endpoint,
//! each seeing the whole disk or one partition), requests queued to the device
//! without waiting, and their completion when the interrupt thread reports.
//!
//! Block handles move data straight between the device and the client's
//! attached (physically contiguous) buffer. File handles (`/dev/vda1`) go
//! through a DMA scratch buffer of the handle: reads copy the covering
//! sectors out, writes that do not cover whole sectors read them first.
//!
//! A flush waits until every earlier request is done, then runs alone.
//! A handle whose capabilities are all gone (`NO_SENDERS`) or that is
//! closed keeps its buffers mapped until its requests in flight complete:
//! the device must never write into memory that has been given back.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use libzos::abi::{rights, Sys};
use libzos::dprintln;
use libzos::ipc::{self, Received, Server};
use libzos::sys;
use virtio_drivers::device::blk::{BlkReq, BlkResp};
use zos_block_core::bytes;
use zos_block_core::request::{self, Range};
use zos_block_core::SECTOR;
use zos_proto::block::{
    BlockInfo, BlockRequest, BlockResponse, DevRequest, DevResponse, Partition,
};
use zos_proto::errno::{EBUSY, EINVAL, EIO, ENOBUFS, ENOSPC, ENOTTY, ENXIO, EROFS};
use zos_proto::fs::{mode, FileStat};
use zos_proto::io::{HandleKind, HandleStat, IoRequest, IoResponse};
use zos_proto::MAX_IO_CHUNK;

use crate::Blk;
use zos_virtio_hal::{self as hal, Mapped};

/// Largest request (sectors) and the size of a file handle's scratch.
const MAX_SECTORS: u32 = 256;
const SCRATCH: usize = MAX_SECTORS as usize * SECTOR;
/// Request header + status slots in DMA memory (one per request in flight).
const SLOTS: usize = 16;
const SLOT_BYTES: u64 = 32;
/// Linux's major number for virtio block devices (for `rdev`).
const VIRTBLK_MAJOR: u64 = 254;

/// What a handle speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Block,
    File,
}

struct Handle {
    partition: u32,
    range: Range,
    kind: Kind,
    /// Block: the attached buffer; file: the client's shared transfer buffer.
    buffer: Option<Mapped>,
    /// File handles: DMA scratch.
    scratch: Option<Mapped>,
    /// File position, shared by clones.
    pos: Rc<Cell<u64>>,
    inflight: u32,
    closing: bool,
}

/// What to do when a transfer completes.
enum Then {
    /// Block request: answer `Done`.
    Done { sectors: u32 },
    /// File read: copy `len` bytes from `skip` in the scratch to the client.
    FileRead {
        skip: usize,
        len: usize,
        shared: bool,
        advance: bool,
    },
    /// File write whose covering sectors were read: patch, then write.
    FilePatch {
        skip: usize,
        data: Vec<u8>,
        shared: bool,
        advance: bool,
    },
    /// File write done.
    FileWritten {
        len: usize,
        shared: bool,
        advance: bool,
    },
}

/// A transfer waiting for (or on) the device.
struct Io {
    reply: u64,
    handle: u64,
    disk_sector: u64,
    va: u64,
    len: usize,
    write: bool,
    then: Then,
}

enum Work {
    Io(Io),
    /// `file`: asked by a file handle (`Sync`), answered in `zos_proto::io`.
    Flush {
        reply: u64,
        file: bool,
    },
}

/// A transfer on the device.
struct Op {
    io: Io,
    slot: usize,
}

/// What to send back now.
enum Answer {
    Now(Vec<u8>, Vec<u64>),
    Later,
}

fn block(response: &BlockResponse) -> Answer {
    Answer::Now(ipc::encode_vec(response).unwrap_or_default(), Vec::new())
}

fn io(response: &IoResponse) -> Answer {
    Answer::Now(ipc::encode_vec(response).unwrap_or_default(), Vec::new())
}

pub struct Service {
    blk: Blk,
    server: Server,
    endpoint: u64,
    name: String,
    partitions: Vec<Partition>,
    read_only: bool,
    handles: BTreeMap<u64, Handle>,
    next_badge: u64,
    ops: BTreeMap<u16, Op>,
    slots: Option<Mapped>,
    free_slots: Vec<usize>,
    waiting: VecDeque<Work>,
}

impl Service {
    /// `generation` numbers this instance of the driver (devmgr's restart
    /// count): badges start at `generation << 32`, so handles of an earlier
    /// instance, still held by clients, are told apart and answered `EIO`.
    pub fn new(
        blk: Blk,
        endpoint: u64,
        generation: u64,
        name: String,
        partitions: Vec<Partition>,
    ) -> Self {
        let slots = hal::alloc(SLOTS as u64 * SLOT_BYTES).ok();
        let free_slots = if slots.is_some() {
            (0..SLOTS).rev().collect()
        } else {
            Vec::new()
        };
        let read_only = blk.readonly();
        dprintln!(
            "virtio-blk: {name}: {} sectors ({} MiB){}, {} partition(s)",
            blk.capacity(),
            blk.capacity() / 2048,
            if read_only { ", read-only" } else { "" },
            partitions.len()
        );
        Service {
            blk,
            server: Server::new(endpoint),
            endpoint,
            name,
            partitions,
            read_only,
            handles: BTreeMap::new(),
            next_badge: (generation << 32) + 1,
            ops: BTreeMap::new(),
            slots,
            free_slots,
            waiting: VecDeque::new(),
        }
    }

    fn range_of(&self, partition: u32) -> Option<Range> {
        if partition == 0 {
            return Some(Range {
                start: 0,
                sectors: self.blk.capacity(),
            });
        }
        self.partitions
            .iter()
            .find(|p| p.index == partition)
            .map(|p| Range {
                start: p.start,
                sectors: p.sectors,
            })
    }

    /// A new watched handle capability on `partition` (0: the whole disk).
    pub fn new_handle(&mut self, partition: u32, kind: Kind) -> Result<u64, String> {
        let range = self.range_of(partition).ok_or("no such partition")?;
        let scratch = match kind {
            Kind::File => Some(hal::alloc(SCRATCH as u64).map_err(|e| e.name())?),
            Kind::Block => None,
        };
        let badge = self.next_badge;
        let cap = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            badge,
        );
        let cap = match cap {
            Ok(cap) => cap,
            Err(e) => {
                if let Some(scratch) = scratch {
                    hal::unmap(&scratch);
                }
                return Err(e.name().into());
            }
        };
        self.next_badge += 1;
        self.handles.insert(
            badge,
            Handle {
                partition,
                range,
                kind,
                buffer: None,
                scratch,
                pos: Rc::new(Cell::new(0)),
                inflight: 0,
                closing: false,
            },
        );
        Ok(cap)
    }

    pub fn run(mut self) -> Result<(), String> {
        loop {
            let request = match self.server.recv() {
                Ok(request) => request,
                Err(e) => {
                    dprintln!("virtio-blk: receive failed: {e:?}");
                    continue;
                }
            };
            let answer = if request.label == sys::NO_SENDERS {
                self.close(request.badge);
                Answer::Later
            } else if request.badge == 0 {
                // The interrupt thread: something completed.
                self.interrupt();
                block(&BlockResponse::Ok)
            } else {
                self.dispatch(&request)
            };
            if let Answer::Now(bytes, caps) = answer {
                if self.server.reply_raw(&bytes, &caps).is_err() {
                    for cap in caps {
                        let _ = sys::cap_delete(cap);
                    }
                }
            }
            self.pump();
        }
    }

    fn dispatch(&mut self, request: &Received) -> Answer {
        let Some(kind) = self.handles.get(&request.badge).map(|h| h.kind) else {
            // A handle of an earlier instance of this driver (it crashed):
            // `Err(EIO)` encodes alike in the block and the io protocol.
            ipc::drop_caps(&request.caps);
            return block(&BlockResponse::Err(EIO));
        };
        match kind {
            Kind::Block => match request.decode::<BlockRequest>() {
                Some(r) => self.block_request(request.badge, r, &request.caps),
                None => {
                    ipc::drop_caps(&request.caps);
                    block(&BlockResponse::Err(EINVAL))
                }
            },
            Kind::File => match request.decode::<IoRequest>() {
                Some(r) => self.file_request(request.badge, r, &request.caps),
                None => {
                    ipc::drop_caps(&request.caps);
                    io(&IoResponse::Err(EINVAL))
                }
            },
        }
    }

    fn info(&self, handle: &Handle) -> BlockInfo {
        let name = if handle.partition == 0 {
            self.name.clone()
        } else {
            alloc::format!("{}{}", self.name, handle.partition)
        };
        BlockInfo {
            sectors: handle.range.sectors,
            block_size: SECTOR as u32,
            max_sectors: MAX_SECTORS,
            read_only: self.read_only,
            queue_depth: SLOTS as u32,
            start: handle.range.start,
            name,
        }
    }

    fn block_request(&mut self, badge: u64, request: BlockRequest, caps: &[u64]) -> Answer {
        let err = |e| block(&BlockResponse::Err(e));
        if !matches!(request, BlockRequest::Attach) {
            ipc::drop_caps(caps);
        }
        let Some(handle) = self.handles.get(&badge) else {
            return err(EINVAL);
        };
        match request {
            BlockRequest::Attach => self.attach(badge, caps, true),
            BlockRequest::Info => block(&BlockResponse::Info(self.info(handle))),
            BlockRequest::Capacity => block(&BlockResponse::Capacity {
                sectors: handle.range.sectors,
            }),
            BlockRequest::Read {
                sector,
                count,
                offset,
            }
            | BlockRequest::Write {
                sector,
                count,
                offset,
            } => {
                let write = matches!(request, BlockRequest::Write { .. });
                if write && self.read_only {
                    return err(EROFS);
                }
                let Some(buffer) = handle.buffer else {
                    return err(ENOBUFS);
                };
                let checked = request::check(
                    handle.range,
                    buffer.len as usize,
                    MAX_SECTORS,
                    sector,
                    count,
                    offset,
                );
                let transfer = match checked {
                    Ok(t) => t,
                    Err(e) => return err(e),
                };
                let Ok(reply) = self.server.defer() else {
                    return err(EIO);
                };
                self.queue(Io {
                    reply,
                    handle: badge,
                    disk_sector: transfer.disk_sector,
                    va: buffer.va + transfer.offset as u64,
                    len: transfer.len,
                    write,
                    then: Then::Done { sectors: count },
                });
                Answer::Later
            }
            BlockRequest::Flush => self.flush(false),
            BlockRequest::Open { partition } | BlockRequest::OpenFile { partition } => {
                if handle.partition != 0 {
                    return err(EINVAL);
                }
                let kind = if matches!(request, BlockRequest::Open { .. }) {
                    Kind::Block
                } else {
                    Kind::File
                };
                match self.new_handle(partition, kind) {
                    Ok(cap) => Answer::Now(
                        ipc::encode_vec(&BlockResponse::Opened).unwrap_or_default(),
                        alloc::vec![cap],
                    ),
                    Err(_) => err(ENXIO),
                }
            }
            BlockRequest::Partitions => block(&BlockResponse::Partitions(self.partitions.clone())),
            BlockRequest::Close => {
                self.close(badge);
                block(&BlockResponse::Ok)
            }
        }
    }

    /// Maps the Memory capability in `caps` as the handle's buffer; block
    /// handles need it to be one physical run (the device writes it directly).
    fn attach(&mut self, badge: u64, caps: &[u64], contiguous: bool) -> Answer {
        let answer = |ok: Result<(), i32>| match (contiguous, ok) {
            (true, Ok(())) => block(&BlockResponse::Ok),
            (true, Err(e)) => block(&BlockResponse::Err(e)),
            (false, Ok(())) => io(&IoResponse::Ok),
            (false, Err(e)) => io(&IoResponse::Err(e)),
        };
        let (Some(&memory), 1) = (caps.first(), caps.len()) else {
            ipc::drop_caps(caps);
            return answer(Err(EINVAL));
        };
        if self.handles.get(&badge).is_some_and(|h| h.inflight > 0) {
            ipc::drop_caps(caps);
            return answer(Err(EBUSY));
        }
        let mapped = match hal::map(memory) {
            Ok(mapped) => mapped,
            Err(_) => {
                ipc::drop_caps(caps);
                return answer(Err(EINVAL));
            }
        };
        if contiguous && mapped.pa.is_none() {
            hal::unmap(&mapped);
            return answer(Err(EINVAL));
        }
        if let Some(handle) = self.handles.get_mut(&badge) {
            if let Some(old) = handle.buffer.replace(mapped) {
                hal::unmap(&old);
            }
        }
        answer(Ok(()))
    }

    /// Queues a flush behind everything before it (a read-only drive has
    /// nothing to flush).
    fn flush(&mut self, file: bool) -> Answer {
        let now = |ok: bool| match (file, ok) {
            (false, true) => block(&BlockResponse::Ok),
            (false, false) => block(&BlockResponse::Err(EIO)),
            (true, true) => io(&IoResponse::Ok),
            (true, false) => io(&IoResponse::Err(EIO)),
        };
        if self.read_only {
            return now(true);
        }
        let Ok(reply) = self.server.defer() else {
            return now(false);
        };
        self.waiting.push_back(Work::Flush { reply, file });
        Answer::Later
    }

    fn queue(&mut self, io: Io) {
        if let Some(h) = self.handles.get_mut(&io.handle) {
            h.inflight += 1;
        }
        self.waiting.push_back(Work::Io(io));
    }

    /// Starts waiting work while the device takes it.
    fn pump(&mut self) {
        while let Some(work) = self.waiting.pop_front() {
            match work {
                Work::Flush { reply, file } => {
                    if !self.ops.is_empty() {
                        self.waiting.push_front(Work::Flush { reply, file });
                        return;
                    }
                    let ok = self.blk.flush().inspect_err(|e| {
                        dprintln!("virtio-blk: {}: flush failed: {e}", self.name);
                    });
                    let _ = match (file, ok.is_ok()) {
                        (false, true) => ipc::reply_later(reply, &BlockResponse::Ok, &[]),
                        (false, false) => ipc::reply_later(reply, &BlockResponse::Err(EIO), &[]),
                        (true, true) => ipc::reply_later(reply, &IoResponse::Ok, &[]),
                        (true, false) => ipc::reply_later(reply, &IoResponse::Err(EIO), &[]),
                    };
                }
                Work::Io(io) => {
                    if let Err(io) = self.submit(io) {
                        self.waiting.push_front(Work::Io(io));
                        return;
                    }
                }
            }
        }
    }

    /// Hands a transfer to the device; gives it back when the queue is full.
    fn submit(&mut self, io: Io) -> Result<(), Io> {
        let (Some(slots), Some(slot)) = (self.slots, self.free_slots.pop()) else {
            if self.ops.is_empty() {
                // Never any room: fail it rather than wait forever.
                self.finish(io, false);
                return Ok(());
            }
            return Err(io);
        };
        let (req, resp, buf) = slot_parts(&slots, slot, &io);
        // SAFETY: the header, status and data stay untouched and mapped until
        // the completion (`interrupt`) hands the same three back; a handle's
        // buffers are unmapped only when it has nothing in flight.
        let token = unsafe {
            if io.write {
                self.blk
                    .write_blocks_nb(io.disk_sector as usize, req, buf, resp)
            } else {
                self.blk
                    .read_blocks_nb(io.disk_sector as usize, req, buf, resp)
            }
        };
        match token {
            Ok(token) => {
                self.ops.insert(token, Op { io, slot });
                Ok(())
            }
            Err(virtio_drivers::Error::QueueFull) => {
                self.free_slots.push(slot);
                Err(io)
            }
            Err(e) => {
                dprintln!(
                    "virtio-blk: {}: submitting a request failed: {e}",
                    self.name
                );
                self.free_slots.push(slot);
                self.finish(io, false);
                Ok(())
            }
        }
    }

    /// Collects every completed transfer.
    fn interrupt(&mut self) {
        self.blk.ack_interrupt();
        while let Some(token) = self.blk.peek_used() {
            let (Some(op), Some(slots)) = (self.ops.remove(&token), self.slots) else {
                dprintln!(
                    "virtio-blk: {}: the device completed an unknown request",
                    self.name
                );
                break;
            };
            let (req, resp, buf) = slot_parts(&slots, op.slot, &op.io);
            // SAFETY: the same header, status and buffer `submit` gave for this token.
            let result = unsafe {
                if op.io.write {
                    self.blk.complete_write_blocks(token, req, buf, resp)
                } else {
                    self.blk.complete_read_blocks(token, req, buf, resp)
                }
            };
            self.free_slots.push(op.slot);
            if let Err(e) = &result {
                dprintln!(
                    "virtio-blk: {}: sector {}: {e}",
                    self.name,
                    op.io.disk_sector
                );
            }
            self.finish(op.io, result.is_ok());
        }
    }

    /// Answers (or continues) a transfer that ended.
    fn finish(&mut self, io: Io, ok: bool) {
        let badge = io.handle;
        let Some(handle) = self.handles.get_mut(&badge) else {
            let _ = sys::cap_delete(io.reply);
            return;
        };
        handle.inflight = handle.inflight.saturating_sub(1);
        match io.then {
            Then::Done { sectors } => {
                let response = if ok {
                    BlockResponse::Done { sectors }
                } else {
                    BlockResponse::Err(EIO)
                };
                let _ = ipc::reply_later(io.reply, &response, &[]);
            }
            Then::FileRead {
                skip,
                len,
                shared,
                advance,
            } => {
                let scratch = handle.scratch.map(|s| s.va).unwrap_or(0);
                // SAFETY: the device is done with the scratch; `skip + len`
                // lies inside the transfer, inside the scratch.
                let data = unsafe {
                    core::slice::from_raw_parts((scratch + skip as u64) as *const u8, len)
                };
                let response = match (ok, shared, handle.buffer) {
                    (false, ..) => IoResponse::Err(EIO),
                    (true, false, _) => IoResponse::Data(data),
                    (true, true, Some(buffer)) if buffer.len as usize >= len => {
                        // SAFETY: the client's buffer is mapped and at least `len` long.
                        unsafe { buffer.bytes()[..len].copy_from_slice(data) };
                        IoResponse::Transferred(len as u32)
                    }
                    (true, true, _) => IoResponse::Err(ENOBUFS),
                };
                if advance && ok {
                    handle.pos.set(handle.pos.get() + len as u64);
                }
                let _ = ipc::reply_later(io.reply, &response, &[]);
            }
            Then::FilePatch {
                skip,
                data,
                shared,
                advance,
            } => {
                if !ok {
                    let _ = ipc::reply_later(io.reply, &IoResponse::Err(EIO), &[]);
                } else {
                    // SAFETY: as for FileRead; `skip + data.len()` ≤ the transfer.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            data.as_ptr(),
                            (io.va + skip as u64) as *mut u8,
                            data.len(),
                        )
                    };
                    handle.inflight += 1;
                    let write = Io {
                        write: true,
                        then: Then::FileWritten {
                            len: data.len(),
                            shared,
                            advance,
                        },
                        ..io
                    };
                    self.waiting.push_front(Work::Io(write));
                }
            }
            Then::FileWritten {
                len,
                shared,
                advance,
            } => {
                let response = match (ok, shared) {
                    (false, _) => IoResponse::Err(EIO),
                    (true, true) => IoResponse::Transferred(len as u32),
                    (true, false) => IoResponse::Written(len as u32),
                };
                if advance && ok {
                    handle.pos.set(handle.pos.get() + len as u64);
                }
                let _ = ipc::reply_later(io.reply, &response, &[]);
            }
        }
        self.reap(badge);
    }

    /// Drops a handle (now, or once its transfers are done).
    fn close(&mut self, badge: u64) {
        if let Some(handle) = self.handles.get_mut(&badge) {
            handle.closing = true;
        }
        self.reap(badge);
    }

    fn reap(&mut self, badge: u64) {
        let done = self
            .handles
            .get(&badge)
            .is_some_and(|h| h.closing && h.inflight == 0);
        if !done {
            return;
        }
        if let Some(handle) = self.handles.remove(&badge) {
            for mapped in handle.buffer.iter().chain(handle.scratch.iter()) {
                hal::unmap(mapped);
            }
        }
    }

    fn file_stat(&self, handle: &Handle) -> FileStat {
        let size = handle.range.sectors * SECTOR as u64;
        FileStat {
            dev: 0,
            ino: handle.partition as u64 + 1,
            mode: mode::S_IFBLK | 0o660,
            nlink: 1,
            uid: 0,
            gid: 0,
            size,
            blocks: handle.range.sectors,
            block_size: SCRATCH as u32,
            atime_ns: 0,
            mtime_ns: 0,
            ctime_ns: 0,
            rdev: (VIRTBLK_MAJOR << 8) | handle.partition as u64,
        }
    }

    fn file_request(&mut self, badge: u64, request: IoRequest, caps: &[u64]) -> Answer {
        if !matches!(request, IoRequest::ShareBuffer) {
            ipc::drop_caps(caps);
        }
        let Some(handle) = self.handles.get(&badge) else {
            return io(&IoResponse::Err(EINVAL));
        };
        let pos = handle.pos.get();
        let size = handle.range.sectors * SECTOR as u64;
        match request {
            IoRequest::Read { max } => self.file_read(badge, pos, max as usize, false, true),
            IoRequest::ReadAt { offset, max } => {
                self.file_read(badge, offset, max as usize, false, false)
            }
            IoRequest::ReadShared { max, offset } => {
                let at = offset.unwrap_or(pos);
                self.file_read(badge, at, max as usize, true, offset.is_none())
            }
            IoRequest::Write { data } => self.file_write(badge, pos, data.to_vec(), false, true),
            IoRequest::WriteAt { offset, data } => {
                self.file_write(badge, offset, data.to_vec(), false, false)
            }
            IoRequest::WriteShared { len, offset } => {
                let data = match handle.buffer {
                    // SAFETY: the client's buffer is mapped; the client is
                    // blocked in this call, so it does not change under us.
                    Some(b) => unsafe { b.bytes()[..(len as usize).min(b.len as usize)].to_vec() },
                    None => return io(&IoResponse::Err(ENOBUFS)),
                };
                let at = offset.unwrap_or(pos);
                self.file_write(badge, at, data, true, offset.is_none())
            }
            IoRequest::Seek { offset, whence } => {
                let base = match whence {
                    0 => 0,
                    1 => pos as i64,
                    2 => size as i64,
                    _ => return io(&IoResponse::Err(EINVAL)),
                };
                match base.checked_add(offset).filter(|p| *p >= 0) {
                    Some(p) => {
                        handle.pos.set(p as u64);
                        io(&IoResponse::Position(p as u64))
                    }
                    None => io(&IoResponse::Err(EINVAL)),
                }
            }
            IoRequest::Fstat => io(&IoResponse::FileStat(self.file_stat(handle))),
            IoRequest::Stat => io(&IoResponse::Stat(HandleStat {
                kind: HandleKind::Device,
                size,
            })),
            IoRequest::Sync => self.flush(true),
            IoRequest::ShareBuffer => self.attach(badge, caps, false),
            IoRequest::Clone => {
                let (partition, shared_pos) = (handle.partition, handle.pos.clone());
                match self.new_handle(partition, Kind::File) {
                    Ok(cap) => {
                        let badge = self.next_badge - 1;
                        if let Some(h) = self.handles.get_mut(&badge) {
                            h.pos = shared_pos;
                        }
                        Answer::Now(
                            ipc::encode_vec(&IoResponse::Cloned).unwrap_or_default(),
                            alloc::vec![cap],
                        )
                    }
                    Err(_) => io(&IoResponse::Err(EIO)),
                }
            }
            IoRequest::Close => {
                self.close(badge);
                io(&IoResponse::Ok)
            }
            IoRequest::SetNonBlocking(_) => io(&IoResponse::Ok),
            IoRequest::Truncate { .. } => io(&IoResponse::Err(EINVAL)),
            _ => io(&IoResponse::Err(ENOTTY)),
        }
    }

    fn file_read(
        &mut self,
        badge: u64,
        at: u64,
        max: usize,
        shared: bool,
        advance: bool,
    ) -> Answer {
        let Some(handle) = self.handles.get(&badge) else {
            return io(&IoResponse::Err(EINVAL));
        };
        let limit = if shared {
            handle.buffer.map_or(0, |b| b.len as usize)
        } else {
            MAX_IO_CHUNK
        };
        let Some(scratch) = handle.scratch else {
            return io(&IoResponse::Err(EIO));
        };
        if handle.inflight > 0 {
            return io(&IoResponse::Err(EBUSY));
        }
        let Some(cover) = bytes::cover(handle.range.sectors, at, max.min(limit), SCRATCH) else {
            // End of the device.
            return io(&if shared {
                IoResponse::Transferred(0)
            } else {
                IoResponse::Data(&[])
            });
        };
        let disk_sector = handle.range.start + cover.sector;
        let Ok(reply) = self.server.defer() else {
            return io(&IoResponse::Err(EIO));
        };
        self.queue(Io {
            reply,
            handle: badge,
            disk_sector,
            va: scratch.va,
            len: cover.count as usize * SECTOR,
            write: false,
            then: Then::FileRead {
                skip: cover.skip,
                len: cover.len,
                shared,
                advance,
            },
        });
        Answer::Later
    }

    fn file_write(
        &mut self,
        badge: u64,
        at: u64,
        mut data: Vec<u8>,
        shared: bool,
        advance: bool,
    ) -> Answer {
        if self.read_only {
            return io(&IoResponse::Err(EROFS));
        }
        let Some(handle) = self.handles.get(&badge) else {
            return io(&IoResponse::Err(EINVAL));
        };
        let Some(scratch) = handle.scratch else {
            return io(&IoResponse::Err(EIO));
        };
        if handle.inflight > 0 {
            return io(&IoResponse::Err(EBUSY));
        }
        if data.is_empty() {
            return io(&if shared {
                IoResponse::Transferred(0)
            } else {
                IoResponse::Written(0)
            });
        }
        let Some(cover) = bytes::cover(handle.range.sectors, at, data.len(), SCRATCH) else {
            return io(&IoResponse::Err(ENOSPC));
        };
        data.truncate(cover.len);
        let disk_sector = handle.range.start + cover.sector;
        let Ok(reply) = self.server.defer() else {
            return io(&IoResponse::Err(EIO));
        };
        let len = cover.count as usize * SECTOR;
        let then = if cover.read_first {
            Then::FilePatch {
                skip: cover.skip,
                data,
                shared,
                advance,
            }
        } else {
            // SAFETY: the scratch is this handle's and idle (nothing in flight).
            unsafe { scratch.bytes()[..data.len()].copy_from_slice(&data) };
            Then::FileWritten {
                len: data.len(),
                shared,
                advance,
            }
        };
        let write = !cover.read_first;
        self.queue(Io {
            reply,
            handle: badge,
            disk_sector,
            va: scratch.va,
            len,
            write,
            then,
        });
        Answer::Later
    }
}

/// The header, status and data of request slot `slot`.
fn slot_parts(
    slots: &Mapped,
    slot: usize,
    io: &Io,
) -> (&'static mut BlkReq, &'static mut BlkResp, &'static mut [u8]) {
    let base = slots.va + slot as u64 * SLOT_BYTES;
    // SAFETY: each slot is SLOT_BYTES of mapped DMA memory used by one request
    // at a time (the free list hands it out once); BlkReq (16 bytes) and
    // BlkResp (1 byte) are plain data valid for any bytes; the data buffer was
    // checked to lie in a mapping of the handle.
    unsafe {
        (
            &mut *(base as *mut BlkReq),
            &mut *((base + 16) as *mut BlkResp),
            core::slice::from_raw_parts_mut(io.va as *mut u8, io.len),
        )
    }
}

/// What the interrupt thread needs.
pub struct Interrupts {
    pub endpoint: u64,
    pub irq: u64,
    pub notification: u64,
    /// devmgr's capability and the whole-disk handle to hand it.
    pub devmgr: u64,
    pub whole_disk: u64,
}

static INTERRUPT: spin::Once<Interrupts> = spin::Once::new();

/// Starts the thread that tells devmgr the disk is served, then turns device
/// interrupts into messages to the main loop (on the unbadged endpoint). It
/// is a thread of its own so the main loop serves from the start: devmgr may
/// be waiting on this endpoint (a request to the previous instance) while we
/// tell it we are here.
pub fn start_interrupt_thread(interrupts: Interrupts) -> Result<(), String> {
    INTERRUPT.call_once(|| interrupts);
    let started = [150, 100, 64, 16, 1]
        .iter()
        .any(|&priority| libzos::thread::spawn(interrupt_thread, 0, priority).is_ok());
    if started {
        Ok(())
    } else {
        Err("cannot start the interrupt thread".into())
    }
}

fn interrupt_thread(_arg: u64) {
    let Some(&Interrupts {
        endpoint,
        irq,
        notification,
        devmgr,
        whole_disk,
    }) = INTERRUPT.get()
    else {
        return;
    };
    let reply = ipc::call(devmgr, &DevRequest::DriverReady, &[whole_disk]);
    if !matches!(
        reply.as_ref().ok().and_then(|r| r.decode::<DevResponse>()),
        Some(DevResponse::Ok)
    ) {
        dprintln!("virtio-blk: devmgr did not take the disk");
    }
    loop {
        if sys::wait(notification).is_err() {
            return;
        }
        let _ = ipc::call(endpoint, &BlockRequest::Info, &[]);
        let _ = sys::raw(Sys::IrqAck, [irq, 0, 0, 0, 0, 0]);
    }
}
