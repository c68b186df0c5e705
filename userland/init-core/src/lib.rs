//! init's pure logic, host-tested: the service table (`/etc/init/services.toml`,
//! a small TOML subset), its validation and start order, the restart policy,
//! pipe buffers (and a proptest of the shared-memory ring, `zos_proto::ring`,
//! against them), `#!` interpreter lines, and the table of credential sets
//! behind client badges with the rule for who may signal whom (`credentials`).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod credentials;
pub mod fault;
pub mod pipe;
pub mod restart;
#[cfg(test)]
mod ring_model;
pub mod services;
pub mod shebang;
