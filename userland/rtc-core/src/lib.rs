//! Zero OS real-time clock core: what a clock driver needs besides the device
//! access itself, so all of it is tested on the host.
//!
//! [`cmos`] reads the PC's CMOS clock (MC146818: an index port and a data
//! port) through a caller-given register reader and returns Unix seconds;
//! [`civil`] converts between days since 1970-01-01 and calendar dates.
//! Written here because the crates for this either pull in port I/O of their
//! own (which user code reaches only through a granted capability) or are
//! not kept up.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod civil;
pub mod cmos;
