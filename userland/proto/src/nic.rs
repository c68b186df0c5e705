//! Between a NIC driver (virtio-net) and the netstack. The netstack gets the
//! driver's capability from devmgr (`DevRequest::OpenNic`) and attaches:
//! frames then move through the rings of `zos-netring` in a Memory object
//! the netstack created, with a notification each way. A new `Attach`
//! (a restarted netstack) replaces the previous rings.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NicRequest {
    /// Capabilities: the ring Memory (at least `zos_netring::REGION_BYTES`)
    /// and a notification the driver signals when it queued received frames.
    /// Answers `Attached` with the notification the netstack signals when it
    /// queued frames to send.
    Attach,
    /// Not answered while the driver serves the caller's rings: the call
    /// fails (`PeerDied`) when the driver dies, which is how the netstack
    /// learns to attach to the instance devmgr starts next. Answered
    /// `Err(ECANCELED)` when another `Watch` takes its place.
    Watch,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NicResponse {
    /// `checksum_offload`: the device completes TCP checksums of frames
    /// whose ring slot asks for it (`zos_netring::Offload`).
    /// `segmentation_offload`: it also cuts TCP segments longer than the
    /// wire takes, as their slot asks (it needs `checksum_offload`).
    Attached {
        mac: [u8; 6],
        checksum_offload: bool,
        segmentation_offload: bool,
    },
    Err(i32),
}
