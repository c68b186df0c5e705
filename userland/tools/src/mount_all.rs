//! `mount -a`: mounts what `/etc/fstab` lists (`zos_tools_core::fstab`), as
//! the boot-time `mount` service does before the identity service starts
//! (docs/storage.md, "The state volume"). A missing mount point is made
//! (root's, 0755). A `nofail` entry whose source is missing is skipped
//! quietly; one that fails otherwise is reported (on the console, as the
//! boot-time service has no terminal; once per source), and neither makes the
//! status non-zero.
//!
//! First, when the kernel command line says `root=DEVICE` (`rootfstype=`,
//! default ext2; `ro`), that volume is mounted on `/`: the VFS makes it the
//! root and keeps the boot archive at `/initrd` (docs/storage.md, "A disk as
//! `/`"). A root that cannot be mounted is reported on the console and the
//! boot goes on with the archive as `/`.

use crate::io::status;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::{dprintln, fs};
use zos_proto::errno::{ENODEV, ENOENT, ENXIO};
use zos_tools_core::{fstab, Failure};

const FSTAB: &str = "/etc/fstab";

/// `key=value` from the kernel command line (init passes it in `ZOS_CMDLINE`).
fn boot_arg<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_ascii_whitespace()
        .filter_map(|a| a.strip_prefix(key)?.strip_prefix('='))
        .next_back()
}

/// Mounts `root=` on `/`, if asked (and `/` is still the archive's tmpfs);
/// failures are reported, never fatal. The device when `/` is on it.
fn mount_root() -> Option<String> {
    let cmdline = libzos::posix::getenv("ZOS_CMDLINE")?;
    let source = boot_arg(&cmdline, "root")?;
    if fs::mounts()
        .unwrap_or_default()
        .iter()
        .any(|m| m.path == "/" && m.fs_type != "tmpfs")
    {
        return Some(String::from(source));
    }
    let fs_type = boot_arg(&cmdline, "rootfstype").unwrap_or("ext2");
    let read_only = cmdline.split_ascii_whitespace().any(|a| a == "ro");
    let request = fs::MountRequest {
        source,
        target: "/",
        fs_type,
        read_only,
        subdir: "",
    };
    match fs::mount_with_reason(&request) {
        Ok(()) => {
            dprintln!("mount: root={source} ({fs_type}) mounted on /");
            Some(String::from(source))
        }
        Err(error) => {
            let why = error.reason.as_deref().unwrap_or(error.errno.describe());
            dprintln!("mount: root={source}: {why}; staying on the boot archive's root");
            None
        }
    }
}

pub fn mount_all() -> Result<(), Failure> {
    // Entries for the root's own device are skipped: its directories are
    // already where fstab would put them.
    let root = mount_root();
    let text =
        fs::read_file(FSTAB).map_err(|error| Failure::Error(alloc::format!("{FSTAB}: {error}")))?;
    let text = String::from_utf8_lossy(&text);
    let entries =
        fstab::parse(&text).map_err(|e| Failure::Error(alloc::format!("{FSTAB}: {e}")))?;
    let mounted = fs::mounts().unwrap_or_default();
    let mut failed = false;
    let mut refused: Vec<&str> = Vec::new();
    for entry in entries.iter().filter(|e| !e.noauto) {
        if mounted.iter().any(|m| m.path == entry.target)
            || refused.contains(&entry.source)
            || root.as_deref() == Some(entry.source)
        {
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
