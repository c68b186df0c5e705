//! The device table: every device found, its driver's state, and the disk
//! names (`vda`, `vdb`, … in the order disks are found, as Linux names
//! virtio disks) with their partitions (`vda1`, …).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use zos_proto::block::{BlockName, DeviceInfo, Partition};
use zos_proto::block::{AXIOM_PARTITION_TYPE, KEYSTORE_PARTITION_TYPE};

/// Partition types only one service may open (and whose disk nobody may).
pub const RESERVED_TYPES: [[u8; 16]; 2] = [KEYSTORE_PARTITION_TYPE, AXIOM_PARTITION_TYPE];

use crate::restart::Restarts;

/// A driver's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No driver for this kind of device.
    None,
    /// Started, not yet serving.
    Starting,
    Running,
    /// Failed too often; given up.
    Failed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::None => "none",
            State::Starting => "starting",
            State::Running => "running",
            State::Failed => "failed",
        }
    }
}

/// One device.
#[derive(Clone, Debug)]
pub struct Device {
    pub location: String,
    pub device_id: u32,
    pub driver: Option<&'static str>,
    pub pid: u32,
    pub state: State,
    pub restarts: Restarts,
    /// Disk name, for block devices.
    pub disk: Option<String>,
    /// Interface name (`eth0`, ...), for network devices.
    pub nic: Option<String>,
    /// Filled in when the driver serves.
    pub sectors: u64,
    pub read_only: bool,
    pub partitions: Vec<Partition>,
}

impl Device {
    /// This disk's partition of GPT type `type_guid`, if it has one.
    fn partition_of_type(&self, type_guid: [u8; 16]) -> Option<u32> {
        self.partitions
            .iter()
            .find(|p| p.type_guid == type_guid)
            .map(|p| p.index)
    }

    /// Whether `partition` (0: the whole disk) may be opened by anyone: not
    /// a reserved partition (the keystore's, Axiom's log), and not the
    /// whole disk holding one (which would reach its sectors too).
    fn public(&self, partition: u32) -> bool {
        let reserved = |p: &&Partition| RESERVED_TYPES.contains(&p.type_guid);
        let mut held = self.partitions.iter().filter(reserved).peekable();
        held.peek().is_none() || (partition != 0 && held.all(|p| p.index != partition))
    }

    /// Whether the driver serves and the disk was described.
    fn settled(&self) -> bool {
        self.disk.is_none() || matches!(self.state, State::Running | State::Failed)
    }
}

/// Every device.
#[derive(Default, Debug)]
pub struct Table {
    pub devices: Vec<Device>,
}

/// `vda` … `vdz`, then `vdaa` …, as Linux counts.
pub fn disk_name(index: usize) -> String {
    let letter = |n: usize| (b'a' + (n % 26) as u8) as char;
    if index < 26 {
        format!("vd{}", letter(index))
    } else {
        format!("vd{}{}", letter(index / 26 - 1), letter(index))
    }
}

impl Table {
    /// Adds a device found at `location`; returns its index.
    pub fn add(&mut self, location: String, device_id: u32) -> usize {
        let driver = crate::virtio::driver(device_id);
        let disks = self.devices.iter().filter(|d| d.disk.is_some()).count();
        let disk = (device_id == 2).then(|| disk_name(disks));
        let nics = self.devices.iter().filter(|d| d.nic.is_some()).count();
        let nic = (device_id == 1).then(|| format!("eth{nics}"));
        self.devices.push(Device {
            location,
            device_id,
            driver,
            pid: 0,
            state: if driver.is_some() {
                State::Starting
            } else {
                State::None
            },
            restarts: Restarts::default(),
            disk,
            nic,
            sectors: 0,
            read_only: false,
            partitions: Vec::new(),
        });
        self.devices.len() - 1
    }

    /// The device and partition (0: whole disk) a block name stands for.
    pub fn find_block(&self, name: &str) -> Option<(usize, u32)> {
        self.devices.iter().enumerate().find_map(|(i, d)| {
            let disk = d.disk.as_deref()?;
            let rest = name.strip_prefix(disk)?;
            if d.state != State::Running {
                return None;
            }
            let n: u32 = match rest {
                "" => 0,
                _ => rest.parse().ok()?,
            };
            let exists = n == 0 || d.partitions.iter().any(|p| p.index == n);
            (exists && d.public(n)).then_some((i, n))
        })
    }

    /// The running network device called `name`.
    pub fn find_nic(&self, name: &str) -> Option<usize> {
        self.devices
            .iter()
            .position(|d| d.nic.as_deref() == Some(name) && d.state == State::Running)
    }

    /// The name devmgr gives the device's driver (`vda`, `eth0`).
    pub fn name(&self, index: usize) -> String {
        let d = &self.devices[index];
        d.disk.clone().or_else(|| d.nic.clone()).unwrap_or_default()
    }

    /// The device and partition of the first serving disk's partition of
    /// a reserved type (the keystore's, Axiom's log), for its holder alone.
    pub fn find_reserved(&self, type_guid: [u8; 16]) -> Option<(usize, u32)> {
        self.devices.iter().enumerate().find_map(|(i, d)| {
            let partition = d.partition_of_type(type_guid)?;
            (d.state == State::Running).then_some((i, partition))
        })
    }

    /// Whether every disk's driver serves (and its partitions are known) or
    /// was given up on: what devmgr waits for before it reports ready.
    pub fn settled(&self) -> bool {
        self.devices.iter().all(Device::settled)
    }

    /// Every openable block name (running disks and their partitions).
    pub fn block_names(&self) -> Vec<BlockName> {
        let mut names = Vec::new();
        for d in self.devices.iter().filter(|d| d.state == State::Running) {
            let Some(disk) = &d.disk else { continue };
            if d.public(0) {
                names.push(BlockName {
                    name: disk.clone(),
                    sectors: d.sectors,
                    read_only: d.read_only,
                });
            }
            for p in d.partitions.iter().filter(|p| d.public(p.index)) {
                names.push(BlockName {
                    name: format!("{disk}{}", p.index),
                    sectors: p.sectors,
                    read_only: d.read_only,
                });
            }
        }
        names
    }

    /// The `lsdev` lines.
    pub fn list(&self) -> Vec<DeviceInfo> {
        self.devices
            .iter()
            .map(|d| DeviceInfo {
                location: d.location.clone(),
                kind: String::from(crate::virtio::kind_name(d.device_id)),
                driver: String::from(d.driver.map_or("-", |p| p.rsplit('/').next().unwrap_or(p))),
                pid: d.pid,
                state: String::from(d.state.name()),
                restarts: d.restarts.total,
                block: d.disk.clone().or_else(|| d.nic.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_count_like_linux() {
        assert_eq!(disk_name(0), "vda");
        assert_eq!(disk_name(25), "vdz");
        assert_eq!(disk_name(26), "vdaa");
        assert_eq!(disk_name(27), "vdab");
    }

    #[test]
    fn block_names_and_lookup() {
        let mut t = Table::default();
        t.add("virtio-mmio@0xa003c00".into(), 1);
        let disk = t.add("virtio-mmio@0xa003e00".into(), 2);
        assert_eq!(t.find_block("vda"), None, "not running yet");
        let d = &mut t.devices[disk];
        d.state = State::Running;
        d.sectors = 1000;
        d.partitions.push(Partition {
            index: 1,
            start: 34,
            sectors: 900,
            mbr_type: 0x83,
            type_guid: [0; 16],
        });
        assert_eq!(t.find_block("vda"), Some((1, 0)));
        assert_eq!(t.find_block("vda1"), Some((1, 1)));
        assert_eq!(t.find_block("vda2"), None);
        assert_eq!(t.find_block("vdax"), None);
        assert_eq!(t.find_block("vdb"), None);
        let names: Vec<String> = t.block_names().into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["vda", "vda1"]);
        assert_eq!(t.find_reserved(KEYSTORE_PARTITION_TYPE), None);
        let list = t.list();
        assert_eq!(list[0].driver, "virtio-net");
        assert_eq!(list[0].block.as_deref(), Some("eth0"));
        assert_eq!(t.find_nic("eth0"), None, "not running yet");
        t.devices[0].state = State::Running;
        assert_eq!(t.find_nic("eth0"), Some(0));
        assert_eq!(t.find_nic("eth1"), None);
        assert_eq!(t.name(0), "eth0");
        assert_eq!(t.name(1), "vda");
        assert_eq!(list[1].driver, "virtio-blk");
        assert_eq!(list[1].block.as_deref(), Some("vda"));
    }

    #[test]
    fn reserved_partitions_and_their_disk_are_hidden() {
        let mut t = Table::default();
        let disk = t.add("virtio-mmio@0xa003e00".into(), 2);
        assert!(!t.settled(), "a disk whose driver has not reported yet");
        let d = &mut t.devices[disk];
        d.state = State::Running;
        d.sectors = 1000;
        let types = [
            (1, [7; 16]),
            (2, KEYSTORE_PARTITION_TYPE),
            (3, AXIOM_PARTITION_TYPE),
        ];
        for (index, type_guid) in types {
            d.partitions.push(Partition {
                index,
                start: 34 + 400 * u64::from(index),
                sectors: 400,
                mbr_type: 0xEE,
                type_guid,
            });
        }
        assert!(t.settled());
        assert_eq!(t.find_block("vda1"), Some((0, 1)));
        assert_eq!(t.find_block("vda2"), None, "the keystore's partition");
        assert_eq!(t.find_block("vda3"), None, "Axiom's log");
        assert_eq!(t.find_reserved(AXIOM_PARTITION_TYPE), Some((0, 3)));
        assert_eq!(t.find_block("vda"), None, "the whole disk reaches it too");
        let names: Vec<String> = t.block_names().into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["vda1"]);
        assert_eq!(t.find_reserved(KEYSTORE_PARTITION_TYPE), Some((0, 2)));
        t.devices[disk].state = State::Starting;
        assert_eq!(
            t.find_reserved(KEYSTORE_PARTITION_TYPE),
            None,
            "only a serving disk"
        );
    }
}
