//! init's pure logic, host-tested: the service table (`/etc/init/services.toml`,
//! a small TOML subset), its validation and start order, the restart policy,
//! pipe buffers, and `#!` interpreter lines.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod pipe;
pub mod restart;
pub mod services;
pub mod shebang;
