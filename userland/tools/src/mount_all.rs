//! `mount -a`: mounts what `/etc/fstab` lists (`zos_tools_core::fstab`), as
//! the boot-time `mount` service does before the identity service starts
//! (docs/storage.md, "The state volume"). A missing mount point is made
//! (root's, 0755). A `nofail` entry whose source is missing is skipped
//! quietly; one that fails otherwise is reported (on the console, as the
//! boot-time service has no terminal; once per source), and neither makes the
//! status non-zero.

use crate::io::status;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::{dprintln, fs};
use zos_proto::errno::{ENODEV, ENOENT, ENXIO};
use zos_tools_core::{fstab, Failure};

const FSTAB: &str = "/etc/fstab";

pub fn mount_all() -> Result<(), Failure> {
    let text =
        fs::read_file(FSTAB).map_err(|error| Failure::Error(alloc::format!("{FSTAB}: {error}")))?;
    let text = String::from_utf8_lossy(&text);
    let entries =
        fstab::parse(&text).map_err(|e| Failure::Error(alloc::format!("{FSTAB}: {e}")))?;
    let mounted = fs::mounts().unwrap_or_default();
    let mut failed = false;
    let mut refused: Vec<&str> = Vec::new();
    for entry in entries.iter().filter(|e| !e.noauto) {
        if mounted.iter().any(|m| m.path == entry.target) || refused.contains(&entry.source) {
            continue;
        }
        if fs::stat(entry.target).is_err() {
            let _ = fs::mkdir(entry.target, 0o755);
        }
        let request = fs::MountRequest {
            source: entry.source,
            target: entry.target,
            fs_type: entry.fs_type,
            read_only: entry.read_only,
            subdir: entry.subdir,
        };
        match fs::mount_with_reason(&request) {
            Ok(()) => {}
            Err(error) if entry.nofail && matches!(error.errno.0, ENOENT | ENODEV | ENXIO) => {
                refused.push(entry.source);
            }
            Err(error) => {
                let why = error.reason.as_deref().unwrap_or(error.errno.describe());
                dprintln!("mount: {} on {}: {why}", entry.source, entry.target);
                failed |= !entry.nofail;
                refused.push(entry.source);
            }
        }
    }
    status(failed)
}
