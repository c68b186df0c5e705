//! The pseudo-terminal service's own requests (`/sbin/pty`, docs/terminals.md).
//!
//! The service's endpoint capability (badge 0, what `Lookup "pty"` returns;
//! the VFS holds one) speaks [`PtyRequest`]: it opens masters (`/dev/ptmx`)
//! and slaves (`/dev/pts/N`) and lists the ptys that exist (for `/dev/pts`).
//! The handles it returns are badged capabilities that speak
//! [`crate::io::IoRequest`] like every other open file.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The service name init registers.
pub const SERVICE: &str = "pty";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PtyRequest {
    /// A new pty; answers `Opened` with the master handle as capability.
    /// The slave starts locked (`IoRequest::SetPtyLock(false)` unlocks it).
    OpenMaster,
    /// A handle of slave `index`; answers `Opened` with it, or `Err`:
    /// `ENOENT` (no such pty), `EIO` (locked, or its master is gone).
    OpenSlave { index: u32 },
    /// The numbers of the ptys that exist; answers `List`.
    List,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PtyResponse {
    Opened { index: u32 },
    List(Vec<u32>),
    Err(i32),
}
