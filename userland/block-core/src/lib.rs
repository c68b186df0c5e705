//! The block layer's logic, kept apart from the driver so the host tests it:
//!
//! - [`partition`]: MBR and GPT partition tables, checked before they are
//!   trusted (a malformed table is refused, never half-used);
//! - [`request`]: whether a block request fits the handle's range and buffer,
//!   and where on the disk it lands;
//! - [`bytes`]: byte-granular reads and writes (what `dd`, `cat` and `od` do
//!   on `/dev/vda`) expressed as whole-sector transfers;
//! - [`dma`]: the driver's map from its virtual addresses to the physical
//!   addresses the kernel reported, and a bounce pool for small buffers that
//!   live outside DMA memory.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod bytes;
pub mod dma;
pub mod partition;
pub mod request;

/// Bytes in a sector, the unit of every block request.
pub const SECTOR: usize = zos_proto::block::SECTOR_SIZE as usize;
