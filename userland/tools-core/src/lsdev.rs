//! `lsdev`'s table: every device devmgr found, its driver and state, then the
//! block devices (disks and partitions) with their sizes.

use alloc::format;
use alloc::string::String;
use zos_proto::block::{BlockName, DeviceInfo};

/// The whole listing.
pub fn format(devices: &[DeviceInfo], blocks: &[BlockName]) -> String {
    let mut out = format!(
        "{:<24} {:<14} {:<12} {:>5} {:<9} {:>8} {}\n",
        "DEVICE", "TYPE", "DRIVER", "PID", "STATE", "RESTARTS", "BLOCK"
    );
    for d in devices {
        let pid = if d.pid == 0 {
            String::from("-")
        } else {
            format!("{}", d.pid)
        };
        out += &format!(
            "{:<24} {:<14} {:<12} {:>5} {:<9} {:>8} {}\n",
            d.location,
            d.kind,
            d.driver,
            pid,
            d.state,
            d.restarts,
            d.block.as_deref().unwrap_or("-")
        );
    }
    for b in blocks {
        out += &format!(
            "block {:<8} {:>12} sectors {:>8} KiB{}\n",
            b.name,
            b.sectors,
            b.sectors / 2,
            if b.read_only { " read-only" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn table() {
        let devices = vec![DeviceInfo {
            location: "virtio-mmio@0xa003e00".into(),
            kind: "virtio-blk".into(),
            driver: "virtio-blk".into(),
            pid: 7,
            state: "running".into(),
            restarts: 1,
            block: Some("vda".into()),
        }];
        let blocks = vec![BlockName {
            name: "vda1".into(),
            sectors: 2048,
            read_only: true,
        }];
        let text = format(&devices, &blocks);
        let lines: alloc::vec::Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DEVICE"));
        assert!(lines[1].starts_with(
            "virtio-mmio@0xa003e00    virtio-blk     virtio-blk       7 running          1 vda"
        ));
        assert_eq!(
            lines[2],
            "block vda1             2048 sectors     1024 KiB read-only"
        );
    }
}
