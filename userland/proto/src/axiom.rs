//! The protocol of `axiomd` (`/sbin/axiomd`, registry name "axiomd"): the
//! keeper of the kernel's Axiom log (docs/axiom.md). It answers where the
//! commit hash chain stands, the kernel's state hash (recorded in the log as
//! it answers), the recent syscalls (by pid), and the log itself as frames
//! for the host to replay (`cargo xtask axiom replay`).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Most syscall records in one `Calls` answer (they fit in one message).
pub const MAX_CALLS_PER_REPLY: u32 = 32;
/// Most frames in one `Frames` answer (88 bytes each, in one message).
pub const MAX_FRAMES_PER_REPLY: u32 = 40;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AxiomRequest {
    /// How many commits are chained and the chain's head.
    Head,
    /// Asks the kernel for its state hash, records it in the log (a `State`
    /// frame after exactly the commits it covers) and answers it.
    State,
    /// The newest `count` syscalls (at most [`MAX_CALLS_PER_REPLY`]) with a
    /// sequence number below `before` (None: the newest), of process `pid`
    /// only when given; oldest first.
    Log {
        pid: Option<u32>,
        count: u32,
        before: Option<u64>,
    },
    /// Frames `from_frame..` of the log, at most `max` (at most
    /// [`MAX_FRAMES_PER_REPLY`]).
    Export { from_frame: u64, max: u32 },
    /// Before power-off (init asks): records the kernel's state hash, writes
    /// every frame to Axiom's partition, marks the stored log sealed and
    /// flushes the device. `Sealed`.
    Seal,
}

/// One syscall as the SysLog recorded it, with the caller's pid resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub seq: u64,
    /// The caller's pid (0: its process was created before the log's start
    /// or lost to a ring overflow).
    pub pid: u32,
    /// The kernel's slab index of the calling thread.
    pub thread: u32,
    pub number: u16,
    /// The error code (0 success) or `zos_axiom::PENDING` (it blocked).
    pub code: u16,
    pub args: [u64; 6],
    pub value: u64,
    pub first_commit: u64,
    pub commits: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AxiomResponse {
    Head {
        commits: u64,
        head: [u8; 32],
    },
    State {
        commits: u64,
        hash: [u8; 32],
        head: [u8; 32],
    },
    Calls(Vec<CallRecord>),
    /// Encoded frames (`zos_axiom::Frame::BYTES` each) and how many frames
    /// the log holds in all.
    Frames {
        total: u64,
        bytes: Vec<u8>,
    },
    /// The log ends in the state after `commits` commits; `stored`: it is
    /// on the partition, sealed (false: there is none, the log is in
    /// memory only).
    Sealed {
        commits: u64,
        stored: bool,
    },
    Err(i32),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode, MAX_MESSAGE};
    use alloc::vec;

    #[test]
    fn a_full_reply_fits_in_one_message() {
        let worst = CallRecord {
            seq: u64::MAX,
            pid: u32::MAX,
            thread: u32::MAX,
            number: u16::MAX,
            code: u16::MAX,
            args: [u64::MAX; 6],
            value: u64::MAX,
            first_commit: u64::MAX,
            commits: u32::MAX,
        };
        let mut buffer = [0u8; MAX_MESSAGE];
        let calls = AxiomResponse::Calls(vec![worst; MAX_CALLS_PER_REPLY as usize]);
        let n = encode(&calls, &mut buffer).expect("calls fit");
        assert_eq!(decode::<AxiomResponse>(&buffer[..n]), Some(calls));
        let frames = AxiomResponse::Frames {
            total: u64::MAX,
            bytes: vec![0xAB; MAX_FRAMES_PER_REPLY as usize * 88],
        };
        assert!(encode(&frames, &mut buffer).is_some(), "frames fit");
        assert_eq!(decode::<AxiomRequest>(&[0xff, 3]), None);
    }
}
