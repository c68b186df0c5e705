//! The block protocol: what a block driver (virtio-blk, later others) serves for
//! a whole disk and for each partition of it, and what the VFS's devfs and the
//! ext2 server speak to a disk.
//!
//! A block handle is a badged endpoint capability of the driver; the badge names
//! the handle and with it the range of the disk it may touch (the whole disk or
//! one partition). Handles come from the device manager (`devmgr` service,
//! [`DevRequest::OpenBlock`]) or from `BlockRequest::Open` on a handle.
//!
//! Data never travels inside a message. The client creates a Memory object
//! with `MemoryCreate(size, CONTIGUOUS)` (one physical run, so the device
//! moves data straight into it), maps it, and hands it over once with
//! `Attach` (the capability travels with that message); the driver maps it
//! too, and `Read`/`Write` then name a byte offset in it. A request's data must lie inside the attached buffer.
//! Positions and counts are in 512-byte sectors ([`SECTOR_SIZE`]) as on Linux,
//! whatever the device's own block size, and are relative to the handle's
//! range (sector 0 of a partition handle is the partition's first sector).
//!
//! Several requests may be in flight on one handle: a client with several
//! threads makes several calls, each naming its own part of the buffer; the
//! driver answers each when the device completes it, in any order.
//!
//! Errors are errno numbers, listed at [`BlockResponse::Err`]. A driver that
//! crashes loses its handles: calls on them fail (the client sees `EIO`) and the
//! client opens a new handle from devmgr once the driver is back.
//! New variants are only ever appended.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The unit of every position and count in this protocol.
pub const SECTOR_SIZE: u64 = 512;
/// The name devmgr registers its endpoint under (`ProcRequest::Lookup`).
pub const DEVMGR_SERVICE: &str = "devmgr";

/// Requests on a block handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockRequest {
    /// Attaches the Memory capability travelling with this message as the
    /// handle's data buffer (replacing any earlier one). Answers `Ok`.
    Attach,
    /// What the device is; answers `Info`.
    Info,
    /// The size of the handle's range; answers `Capacity`.
    Capacity,
    /// Reads `count` sectors from `sector` into the buffer at byte `offset`.
    /// Answers `Done { sectors }` once the data is in the buffer.
    Read {
        sector: u64,
        count: u32,
        offset: u32,
    },
    /// Writes `count` sectors at `sector` from the buffer at byte `offset`.
    /// Answers `Done { sectors }` once the device has taken the data (it may
    /// still be in the device's volatile cache until `Flush`).
    Write {
        sector: u64,
        count: u32,
        offset: u32,
    },
    /// Makes every write answered before it durable (virtio-blk FLUSH).
    /// Answers `Ok`.
    Flush,
    /// A new handle to partition `index` of the same disk (0 = the whole disk,
    /// 1.. = the partitions in `Partitions` order); the capability travels
    /// with the `Opened` reply. Only on a whole-disk handle.
    Open { partition: u32 },
    /// The disk's partition table; answers `Partitions`.
    Partitions,
    /// Drops this handle (and its buffer).
    Close,
    /// Like `Open`, but the new handle speaks `zos_proto::io` with file
    /// semantics (byte offsets, `Read`/`Write`/`Seek`/`Fstat`, shared-buffer
    /// transfers, `Sync` = flush): what `/dev/vda1` opens to.
    OpenFile { partition: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockResponse {
    Ok,
    Info(BlockInfo),
    /// Sectors in the handle's range.
    Capacity {
        sectors: u64,
    },
    /// Sectors moved by a `Read`/`Write`.
    Done {
        sectors: u32,
    },
    /// A new handle travels as the message's capability.
    Opened,
    Partitions(Vec<Partition>),
    /// `EINVAL` malformed, out of the buffer or (`Attach`) a buffer that is
    /// not one physical run, `ENXIO` past the end of the range, `EROFS` write
    /// on a read-only drive (a flush there succeeds: nothing to make durable), `EIO` the device
    /// failed (or the driver restarted while the request was in flight),
    /// `ENOBUFS` no buffer attached, `ENOTTY` unknown request.
    Err(i32),
}

/// What a handle is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Sectors in the handle's range.
    pub sectors: u64,
    /// The device's logical block size in bytes (requests stay in 512-byte
    /// sectors; this is for alignment).
    pub block_size: u32,
    /// Largest `count` of one request.
    pub max_sectors: u32,
    /// A read-only drive: writes and flushes answer `EROFS`.
    pub read_only: bool,
    /// Requests the driver keeps in flight at once on the device.
    pub queue_depth: u32,
    /// First sector of the handle's range on the whole disk (0 for the disk).
    pub start: u64,
    /// `vda`, `vda1`, ...
    pub name: String,
}

/// One partition of a disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// 1-based, as in `/dev/vda1`.
    pub index: u32,
    pub start: u64,
    pub sectors: u64,
    /// MBR type byte (e.g. 0x83) or, for GPT, 0xEE.
    pub mbr_type: u8,
    /// GPT partition type GUID (all zero for MBR), in on-disk byte order.
    pub type_guid: [u8; 16],
}

/// Requests on the device manager's endpoint (`devmgr` service).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DevRequest<'a> {
    /// Every device and its driver; answers `Devices`.
    List,
    /// A block handle for `name` (`vda`, `vda1`, ...); the capability travels
    /// with the `Opened` reply. `ENODEV` no such device, `EIO` its driver is
    /// down (and being restarted).
    OpenBlock { name: &'a str },
    /// Every block device and partition name (`vda`, `vda1`, ...) with its
    /// size; answers `Blocks`.
    Blocks,
    /// A driver tells devmgr it serves: its whole-disk block handle travels
    /// with the message (sent on the capability devmgr started it with).
    DriverReady,
    /// A file-style handle (`zos_proto::io`) for `name`: what the VFS hands
    /// out when `/dev/NAME` is opened. `Opened` + capability.
    OpenDevice { name: &'a str },
    /// The capability of network interface `name`'s driver (`eth0`, ...),
    /// which speaks `zos_proto::nic`; `Opened` + capability. For the netstack.
    OpenNic { name: &'a str },
    /// The keystore's own partition (GPT type [`KEYSTORE_PARTITION_TYPE`]) as
    /// a block handle: honoured only on the authority capability
    /// (`badge::AUTHORITY`, the keystore's `"authority:devmgr"` grant);
    /// `EPERM` on any other, `ENODEV` when no disk has one.
    OpenKeystore,
    /// Axiom's log partition (GPT type [`AXIOM_PARTITION_TYPE`]) as a block
    /// handle: honoured only on `badge::AXIOM_AUTHORITY` (`axiomd`'s
    /// `"axiom-authority:devmgr"` grant); `EPERM` on any other, `ENODEV`
    /// when no disk has one.
    OpenAxiomLog,
}

/// GPT partition type of the keystore's partition
/// (483c009c-b8be-4e16-bd32-51a34f1bcff6), in on-disk byte order. devmgr
/// hides such a partition, and the whole disk holding it, from everyone but
/// the keystore.
pub const KEYSTORE_PARTITION_TYPE: [u8; 16] = [
    156, 0, 60, 72, 190, 184, 22, 78, 189, 50, 81, 163, 79, 27, 207, 246,
];

/// GPT partition type of Axiom's log partition
/// (2f030b85-6b1b-4beb-8b96-7776d9672608), in on-disk byte order: hidden
/// like the keystore's, for `axiomd` alone (docs/axiom.md).
pub const AXIOM_PARTITION_TYPE: [u8; 16] = [
    133, 11, 3, 47, 27, 107, 235, 75, 139, 150, 119, 118, 217, 103, 38, 8,
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DevResponse {
    Ok,
    Devices(Vec<DeviceInfo>),
    Opened,
    Blocks(Vec<BlockName>),
    Err(i32),
}

/// One line of `lsdev`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `virtio-mmio@0xa003e00`, `pci 00:02.0`, ...
    pub location: String,
    /// `virtio-blk`, `virtio-net`, `pci 1af4:1042`, ...
    pub kind: String,
    /// The driver's program and pid, or `-` when none is bound.
    pub driver: String,
    pub pid: u32,
    /// `running`, `restarting`, `failed`, `none`.
    pub state: String,
    pub restarts: u32,
    /// Block device name (`vda`) when it is a disk.
    pub block: Option<String>,
}

/// One block device name devmgr can open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockName {
    pub name: String,
    pub sectors: u64,
    pub read_only: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode, MAX_MESSAGE};

    #[test]
    fn block_requests_round_trip_and_stay_small() {
        let mut buffer = [0u8; MAX_MESSAGE];
        for request in [
            BlockRequest::Read {
                sector: u64::MAX,
                count: u32::MAX,
                offset: u32::MAX,
            },
            BlockRequest::Write {
                sector: 2048,
                count: 8,
                offset: 4096,
            },
            BlockRequest::Flush,
            BlockRequest::Open { partition: 1 },
        ] {
            let n = encode(&request, &mut buffer).expect("fits");
            // Every data request fits in the four message registers.
            assert!(n <= 32, "{request:?} takes {n} bytes");
            assert_eq!(decode::<BlockRequest>(&buffer[..n]), Some(request));
        }
        assert_eq!(decode::<BlockRequest>(&[0xff]), None);
        let info = BlockResponse::Info(BlockInfo {
            sectors: 1 << 20,
            block_size: 512,
            max_sectors: 256,
            read_only: true,
            queue_depth: 8,
            start: 0,
            name: "vda".into(),
        });
        let n = encode(&info, &mut buffer).expect("fits");
        assert_eq!(decode::<BlockResponse>(&buffer[..n]), Some(info));
    }

    #[test]
    fn block_and_io_errors_encode_alike() {
        // A restarted driver (or devmgr for a driver given up on) answers
        // handles it cannot tell apart with this one encoding.
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let n = encode(&BlockResponse::Err(crate::errno::EIO), &mut a).expect("fits");
        let m = encode(&crate::io::IoResponse::Err(crate::errno::EIO), &mut b).expect("fits");
        assert_eq!(a[..n], b[..m]);
    }
}
