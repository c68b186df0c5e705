//! The VFS server: one process owning the file namespace.
//!
//! At start it builds the mount table (`setup`): a tmpfs root filled from the
//! initramfs, a second tmpfs on `/tmp`, devfs on `/dev`, procfs on `/proc`. It
//! then serves the VFS protocol (`zos_proto::fs`) on the endpoint init created
//! for it, and the open-handle protocol (`zos_proto::io`) on badged copies of
//! that endpoint, one badge per open handle (`server`). Path requests run
//! with the credentials of the caller, which the VFS learns from the client
//! badge init gave it (docs/identity.md).
#![no_std]
#![no_main]

extern crate alloc;

#[cfg(not(target_arch = "wasm32"))]
mod mapped;
mod remote;
mod server;
mod setup;
mod shared;

use libzos::dprintln;

libzos::entry!(main);

fn main(_arg: u64) -> i64 {
    let endpoint = match setup::granted("endpoint") {
        Some(slot) => slot,
        None => {
            dprintln!("vfs: no endpoint granted (set provides = true in the service table)");
            return 1;
        }
    };
    let state = match setup::build() {
        Ok(state) => state,
        Err(e) => {
            dprintln!("vfs: cannot build the file system: {e}");
            return 1;
        }
    };
    // Services that depend on the VFS start once it can answer them.
    let _ = libzos::ipc::call(
        zos_proto::start::slots::PROC,
        &zos_proto::proc::ProcRequest::Ready,
        &[],
    );
    server::Server::new(endpoint, state).serve()
}
