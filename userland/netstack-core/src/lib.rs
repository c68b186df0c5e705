//! The netstack's logic, free of system calls so it runs in host tests: one
//! smoltcp Ethernet interface over a segment with a loopback end
//! (127.0.0.1/8) and, once attached, a NIC end (DHCP or a static address,
//! a default route, DNS); a table of BSD sockets over smoltcp's TCP and UDP
//! sockets; ICMP echo and DNS queries for the tools.
//!
//! The service feeds it requests with a token of its own (the deferred reply
//! it will answer); a request that cannot finish now is kept and completed by
//! a later [`Stack::poll`], which returns the `(token, Reply)` pairs it
//! finished. Time is passed in (milliseconds since boot).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod checksum;
pub mod config;
pub mod device;
pub mod segmentation;
pub mod shared;
mod stack;

pub use stack::{Reply, SockId, Stack, Token};
