//! Axiom: the kernel's audit records and what is computed from them.
//!
//! Every change of kernel object state is a [`Commit`]; the kernel appends each
//! one to a bounded ring as it makes the change, and every syscall leaves a
//! [`SysRecord`]. `axiomd` drains both rings and links the commits into a hash
//! [`Chain`]. [`State`] and [`apply`] are the one reducer: replaying the commits
//! from the empty genesis state gives the kernel's object state, and
//! [`StateHasher`] hashes both the same way, so the host can check that
//! `hash(reduce(genesis, commits))` equals the hash the kernel reports.
//! `no_std`: the kernel, `axiomd` and the host tools share this crate.
#![no_std]

extern crate alloc;

mod chain;
mod commit;
mod replay;
mod ring;
mod state;
mod store;
mod syslog;

pub use chain::{Chain, Frame, FrameError, GENESIS_LABEL};
pub use commit::{CapChange, Commit, CommitError, Obj, COMMIT_WORDS, NO_NODE};
pub use replay::{frames, replay_and_verify, replay_frames, Hex, LogError, StatePoint, Verified};
pub use ring::{Ring, Rings};
pub use state::{
    apply, CapRecord, ObjectRecord, ProcessRecord, RegionRecord, ReplayError, State, StateHasher,
    ThreadRecord,
};
pub use store::{max_frames, StoreError, StoreHeader, FRAMES_OFFSET, HEADER_BYTES};
pub use syslog::{SysRecord, COMPLETION, PENDING, SYS_RECORD_WORDS};

/// The version of the record formats; a log's header carries it.
pub const VERSION: u64 = 1;

/// A SHA-256 digest.
pub type Digest = [u8; 32];
