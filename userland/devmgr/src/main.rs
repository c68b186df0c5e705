//! devmgr — the device manager. init grants it the platform's device
//! capabilities (every populated virtio-mmio slot with its interrupt, and the
//! PCI host bridge's configuration space, memory window and INTx lines);
//! devmgr reads each slot's magic and device id, enumerates PCI bus 0 and
//! places the BARs of its virtio functions (`pci`), and for each device it
//! has a driver for, starts that driver (through init's `Spawn`) with only
//! that device's capabilities: the slot's register page or the function's
//! BAR, its interrupt, and a badged capability back to devmgr. A driver that ends is started again
//! (`zos_devmgr_core::restart`); its clients' calls fail (EIO) meanwhile.
//!
//! It serves `zos_proto::block::DevRequest` on its endpoint: `lsdev`'s list,
//! the block names, and block or file handles for `vda`, `vda1`, …, which it
//! gets from the disk's driver. It tells the VFS which block names exist
//! (`FsRequest::SetBlockDevices`) so `/dev/vda1` appears and disappears.
#![no_std]
#![no_main]

extern crate alloc;

mod pci;

use alloc::string::String;
use alloc::vec::Vec;
use libzos::abi::{layout, rights};
use libzos::dprintln;
use libzos::ipc::{self, Received, Server};
use libzos::sys;
use zos_devmgr_core::table::{State, Table};
use zos_devmgr_core::virtio;
use zos_proto::badge;
use zos_proto::block::{BlockInfo, BlockRequest, BlockResponse, DevRequest, DevResponse};
use zos_proto::block::{AXIOM_PARTITION_TYPE, KEYSTORE_PARTITION_TYPE};
use zos_proto::errno::{EINVAL, EIO, ENODEV, EPERM};
use zos_proto::fs::{FsRequest, FsResponse};
use zos_proto::proc::{ProcRequest, ProcResponse};
use zos_proto::start::slots;

libzos::entry!(main);

/// Badge of the waiter thread's capability (driver exits).
const WAITER_BADGE: u64 = u64::MAX;

/// A device's capabilities, kept to start its driver again.
struct Caps {
    regs: u64,
    irq: u64,
    address: u64,
    /// `mmio`, or `pci` with the function's configuration image (hex).
    pci_image: Option<String>,
    /// The endpoint every instance of the driver serves (created once).
    endpoint: Option<u64>,
}

struct Manager {
    server: Server,
    endpoint: u64,
    table: Table,
    caps: Vec<Caps>,
    /// The whole-disk handle of each running block driver (the driver's
    /// capability for a network device).
    disks: Vec<Option<u64>>,
    /// Ready reported to init (once every disk is described and /dev knows it).
    ready: bool,
}

fn main(_arg: u64) -> i64 {
    let Some(endpoint) = libzos::rt::granted("endpoint") else {
        dprintln!("devmgr: no endpoint granted (set provides = true in the service table)");
        return 1;
    };
    let mut manager = Manager {
        server: Server::new(endpoint),
        endpoint,
        table: Table::default(),
        caps: Vec::new(),
        disks: Vec::new(),
        ready: false,
    };
    manager.enumerate_mmio();
    manager.enumerate_pci();
    if manager.table.devices.is_empty() {
        // Nothing to manage: end (restart = "on-failure") and cost nothing;
        // `lsdev` then says the device manager is not running.
        return 0;
    }
    let Ok(waiter) = sys::cap_mint(endpoint, sys::NONE, rights::WRITE, WAITER_BADGE) else {
        dprintln!("devmgr: cannot mint the waiter's capability");
        return 1;
    };
    if libzos::thread::spawn_with_stack(wait_for_drivers, waiter, 100, 16 * 1024).is_err() {
        dprintln!("devmgr: cannot start the waiter thread");
        return 1;
    }
    let notifier = sys::notification_create().ok();
    let started = notifier
        .is_some_and(|n| libzos::thread::spawn_with_stack(notify_vfs, n, 100, 16 * 1024).is_ok());
    match (started, notifier) {
        (true, Some(n)) => {
            NOTIFIER.call_once(|| n);
        }
        _ => dprintln!("devmgr: cannot start the VFS notifier; /dev shows no disks"),
    }
    for index in 0..manager.table.devices.len() {
        manager.start_driver(index);
    }
    // No disk to wait for: ready at once.
    manager.tell_vfs();
    manager.run()
}

impl Manager {
    /// Reads every granted virtio-mmio slot's identity registers.
    fn enumerate_mmio(&mut self) {
        let grants = &libzos::rt::start_info().grants;
        let slots: Vec<_> = grants.iter().filter(|g| g.name == "virtio-mmio").collect();
        for (i, grant) in slots.iter().enumerate() {
            let Some(irq) = grants
                .iter()
                .find(|g| g.name == "virtio-mmio-irq" && g.irq == grant.irq)
            else {
                dprintln!(
                    "devmgr: virtio-mmio slot at {:#x} has no interrupt",
                    grant.base
                );
                continue;
            };
            let Some(device_id) = read_mmio_identity(grant.slot, grant.base, i) else {
                continue;
            };
            let location = alloc::format!("virtio-mmio@{:#x}", grant.base);
            let index = self.table.add(location, device_id);
            self.caps.push(Caps {
                regs: grant.slot,
                irq: irq.slot,
                address: grant.base,
                pci_image: None,
                endpoint: None,
            });
            self.disks.push(None);
            debug_assert_eq!(index + 1, self.caps.len());
        }
    }

    /// The usable virtio functions of the PCI host bridge, if there is one.
    fn enumerate_pci(&mut self) {
        for device in pci::enumerate() {
            let location = alloc::format!("pci@{}", device.function);
            self.table.add(location, device.device_id);
            self.caps.push(Caps {
                regs: device.bar,
                irq: device.irq,
                address: device.bar_address,
                pci_image: Some(device.image),
                endpoint: None,
            });
            self.disks.push(None);
        }
    }

    /// Starts the driver of device `index` (if it has one).
    fn start_driver(&mut self, index: usize) {
        let device = &self.table.devices[index];
        let (Some(path), Some(caps)) = (device.driver, self.caps.get_mut(index)) else {
            return;
        };
        let name = self.table.name(index);
        let generation = alloc::format!("{}", device.restarts.total);
        let address = alloc::format!("{:#x}", caps.address);
        if caps.endpoint.is_none() {
            caps.endpoint = sys::endpoint_create().ok();
        }
        let served = caps.endpoint.ok_or(sys::Error(0));
        let copies = [
            sys::cap_copy(caps.regs, sys::SELF, sys::NONE),
            sys::cap_copy(caps.irq, sys::SELF, sys::NONE),
            sys::cap_mint(
                self.endpoint,
                sys::NONE,
                rights::WRITE | rights::GRANT,
                index as u64 + 1,
            ),
            served.and_then(|e| sys::cap_copy(e, sys::SELF, sys::NONE)),
        ];
        let copies: Vec<u64> = copies.iter().filter_map(|c| c.ok()).collect();
        if copies.len() != 4 {
            for cap in copies {
                let _ = sys::cap_delete(cap);
            }
            self.table.devices[index].state = State::Failed;
            return;
        }
        let program = path.rsplit('/').next().unwrap_or(path);
        let request = ProcRequest::Spawn {
            path,
            argv: match &caps.pci_image {
                None => alloc::vec![
                    program,
                    "mmio",
                    address.as_str(),
                    name.as_str(),
                    generation.as_str()
                ],
                Some(image) => alloc::vec![
                    program,
                    "pci",
                    address.as_str(),
                    name.as_str(),
                    generation.as_str(),
                    image.as_str()
                ],
            },
            env: alloc::vec!["PATH=/bin:/sbin"],
            cwd: "/",
            fds: alloc::vec![(3, 0), (4, 1), (5, 2), (6, 3)],
            pgid: 0,
            foreground: false,
            take_terminal: false,
            exec: false,
            name: None,
        };
        let reply = ipc::call(slots::PROC, &request, &copies);
        match reply.as_ref().ok().and_then(|r| r.decode::<ProcResponse>()) {
            Some(ProcResponse::Spawned { pid }) => {
                let device = &mut self.table.devices[index];
                device.pid = pid;
                device.state = State::Starting;
            }
            other => {
                dprintln!("devmgr: cannot start {path}: {other:?}");
                self.table.devices[index].state = State::Failed;
            }
        }
    }

    fn run(mut self) -> ! {
        loop {
            let request = match self.server.recv() {
                Ok(request) => request,
                Err(e) => {
                    dprintln!("devmgr: receive failed: {e:?}");
                    continue;
                }
            };
            let (answer, caps, then) = self.handle(&request);
            if self.server.reply_raw(&answer, &caps).is_err() {
                for cap in caps {
                    let _ = sys::cap_delete(cap);
                }
            }
            if let Some(index) = then {
                // After the reply: the driver now waits for requests.
                self.learn_disk(index);
            }
        }
    }

    /// Answers one request; `Some(index)` when device `index` just became ready.
    fn handle(&mut self, request: &Received) -> (Vec<u8>, Vec<u64>, Option<usize>) {
        let encode = |r: &DevResponse| ipc::encode_vec(r).unwrap_or_default();
        if request.badge == WAITER_BADGE {
            if let Some((pid, status)) = request.decode::<(u32, i32)>() {
                self.driver_ended(pid, status);
            }
            return (encode(&DevResponse::Ok), Vec::new(), None);
        }
        if request.badge == badge::AUTHORITY || request.badge == badge::AXIOM_AUTHORITY {
            // The keystore or axiomd, on the capability init gave it for
            // this: each may open its own partition only.
            ipc::drop_caps(&request.caps);
            let wanted = match (request.decode::<DevRequest>(), request.badge) {
                (Some(DevRequest::OpenKeystore), badge::AUTHORITY) => KEYSTORE_PARTITION_TYPE,
                (Some(DevRequest::OpenAxiomLog), badge::AXIOM_AUTHORITY) => AXIOM_PARTITION_TYPE,
                _ => return (encode(&DevResponse::Err(EPERM)), Vec::new(), None),
            };
            return match self.table.find_reserved(wanted) {
                Some((index, partition)) => self.open_partition(index, partition, false),
                None => (encode(&DevResponse::Err(ENODEV)), Vec::new(), None),
            };
        }
        if request.badge != 0 {
            // A driver: DriverReady with its whole-disk handle.
            let index = request.badge as usize - 1;
            let ready = matches!(
                request.decode::<DevRequest>(),
                Some(DevRequest::DriverReady)
            );
            match (ready, request.caps.first(), self.disks.get_mut(index)) {
                (true, Some(&cap), Some(slot)) if request.caps.len() == 1 => {
                    if let Some(old) = slot.replace(cap) {
                        let _ = sys::cap_delete(old);
                    }
                    return (encode(&DevResponse::Ok), Vec::new(), Some(index));
                }
                _ => {
                    ipc::drop_caps(&request.caps);
                    return (encode(&DevResponse::Err(EINVAL)), Vec::new(), None);
                }
            }
        }
        ipc::drop_caps(&request.caps);
        let response = match request.decode::<DevRequest>() {
            Some(DevRequest::List) => DevResponse::Devices(self.table.list()),
            Some(DevRequest::Blocks) => DevResponse::Blocks(self.table.block_names()),
            Some(DevRequest::OpenBlock { name }) => return self.open(name, false),
            Some(DevRequest::OpenDevice { name }) => return self.open(name, true),
            Some(DevRequest::OpenNic { name }) => {
                let cap = self
                    .table
                    .find_nic(name)
                    .and_then(|index| self.disks[index])
                    .map(|cap| sys::cap_copy(cap, sys::SELF, sys::NONE));
                return match cap {
                    Some(Ok(cap)) => (encode(&DevResponse::Opened), alloc::vec![cap], None),
                    Some(Err(_)) => (encode(&DevResponse::Err(EIO)), Vec::new(), None),
                    None => (encode(&DevResponse::Err(ENODEV)), Vec::new(), None),
                };
            }
            Some(DevRequest::OpenKeystore | DevRequest::OpenAxiomLog) => DevResponse::Err(EPERM),
            Some(DevRequest::DriverReady) | None => DevResponse::Err(EINVAL),
        };
        (encode(&response), Vec::new(), None)
    }

    /// A handle for block name `name` from its disk's driver.
    fn open(&mut self, name: &str, file: bool) -> (Vec<u8>, Vec<u64>, Option<usize>) {
        let encode = |r: &DevResponse| ipc::encode_vec(r).unwrap_or_default();
        let Some((index, partition)) = self.table.find_block(name) else {
            return (encode(&DevResponse::Err(ENODEV)), Vec::new(), None);
        };
        self.open_partition(index, partition, file)
    }

    /// A block (or, with `file`, a file-style) handle of partition
    /// `partition` (0: whole disk) of device `index`, from its driver.
    fn open_partition(
        &mut self,
        index: usize,
        partition: u32,
        file: bool,
    ) -> (Vec<u8>, Vec<u64>, Option<usize>) {
        let encode = |r: &DevResponse| ipc::encode_vec(r).unwrap_or_default();
        let Some(disk) = self.disks[index] else {
            return (encode(&DevResponse::Err(EIO)), Vec::new(), None);
        };
        let request = if file {
            BlockRequest::OpenFile { partition }
        } else {
            BlockRequest::Open { partition }
        };
        match ipc::call(disk, &request, &[]) {
            Ok(reply) => match (reply.decode::<BlockResponse>(), reply.caps.as_slice()) {
                (Some(BlockResponse::Opened), &[cap]) => {
                    (encode(&DevResponse::Opened), alloc::vec![cap], None)
                }
                (Some(BlockResponse::Err(e)), _) => {
                    ipc::drop_caps(&reply.caps);
                    (encode(&DevResponse::Err(e)), Vec::new(), None)
                }
                _ => {
                    ipc::drop_caps(&reply.caps);
                    (encode(&DevResponse::Err(EIO)), Vec::new(), None)
                }
            },
            Err(_) => (encode(&DevResponse::Err(EIO)), Vec::new(), None),
        }
    }

    /// Asks a driver that became ready what its disk holds, then tells the VFS.
    fn learn_disk(&mut self, index: usize) {
        let Some(disk) = self.disks[index] else {
            return;
        };
        if self.table.devices[index].nic.is_some() {
            // A network driver: the netstack asks for it (OpenNic).
            self.table.devices[index].state = State::Running;
            return;
        }
        let info = ipc::call(disk, &BlockRequest::Info, &[]);
        let info: Option<BlockInfo> = info.ok().and_then(|r| match r.decode::<BlockResponse>() {
            Some(BlockResponse::Info(info)) => Some(info),
            _ => None,
        });
        let parts = ipc::call(disk, &BlockRequest::Partitions, &[]);
        let parts = parts.ok().and_then(|r| match r.decode::<BlockResponse>() {
            Some(BlockResponse::Partitions(p)) => Some(p),
            _ => None,
        });
        let device = &mut self.table.devices[index];
        let (Some(info), Some(parts)) = (info, parts) else {
            dprintln!("devmgr: {} did not describe its disk", device.location);
            device.state = State::Failed;
            self.tell_vfs();
            return;
        };
        device.sectors = info.sectors;
        device.read_only = info.read_only;
        device.partitions = parts;
        device.state = State::Running;
        self.tell_vfs();
    }

    /// Hands the current block names to the notifier thread, which tells
    /// the VFS (never from this loop: the VFS calls devmgr to open a device,
    /// and two servers calling each other would wait for each other).
    /// Once every disk is described, the notifier also reports devmgr ready
    /// to init after the VFS has the names (so `/dev/vda1` exists for the
    /// services that wait for devmgr, such as the boot-time `mount -a`).
    fn tell_vfs(&mut self) {
        let names = self.table.block_names();
        let ready = !self.ready && self.table.settled();
        self.ready |= ready;
        let names = names.into_iter().map(|b| (b.name, b.sectors)).collect();
        let mut pending = PENDING.lock();
        // A report not yet sent may carry the ready flag: keep it.
        let ready = ready || pending.as_ref().is_some_and(|(_, r)| *r);
        *pending = Some((names, ready));
        drop(pending);
        if let Some(&notification) = NOTIFIER.get() {
            let _ = sys::signal(notification);
        }
    }

    /// A driver process ended: start it again or give up.
    fn driver_ended(&mut self, pid: u32, status: i32) {
        let Some(index) = self
            .table
            .devices
            .iter()
            .position(|d| d.pid == pid && pid != 0)
        else {
            return;
        };
        if let Some(old) = self.disks[index].take() {
            let _ = sys::cap_delete(old);
        }
        let device = &mut self.table.devices[index];
        device.pid = 0;
        let again = device.restarts.ended(sys::clock_ns());
        dprintln!(
            "devmgr: driver of {} (pid {pid}) ended with status {status}{}",
            device.location,
            if again {
                "; restarting"
            } else {
                "; failed too often, giving up"
            }
        );
        device.state = if again {
            State::Starting
        } else {
            State::Failed
        };
        self.tell_vfs();
        if again {
            self.start_driver(index);
        } else if let Some(endpoint) = self.caps[index].endpoint {
            // Nobody serves the driver's endpoint any more: answer what
            // arrives there with EIO, so no client waits forever.
            if libzos::thread::spawn_with_stack(refuse_all, endpoint, 100, 16 * 1024).is_err() {
                dprintln!("devmgr: cannot start the EIO responder");
            }
        }
    }
}

/// Serves the endpoint of a driver given up on: every request gets `EIO`
/// (the encoding `Err(EIO)` has in the block and the io protocol alike).
fn refuse_all(endpoint: u64) {
    let server = Server::new(endpoint);
    let answer = ipc::encode_vec(&BlockResponse::Err(EIO)).unwrap_or_default();
    loop {
        if let Ok(request) = server.recv() {
            ipc::drop_caps(&request.caps);
            if request.label != sys::NO_SENDERS {
                let _ = server.reply_raw(&answer, &[]);
            }
        }
    }
}

/// Block names waiting to be sent to the VFS, and whether to report ready
/// to init afterwards.
type Pending = (Vec<(String, u64)>, bool);
static PENDING: libzos::rt::BackoffMutex<Option<Pending>> = libzos::rt::BackoffMutex::new(None);
/// The notification that wakes the notifier thread.
static NOTIFIER: spin::Once<u64> = spin::Once::new();

/// Sends the VFS the block names the main loop left in [`PENDING`].
fn notify_vfs(notification: u64) {
    let mut vfs: Option<u64> = None;
    loop {
        if sys::wait(notification).is_err() {
            return;
        }
        let Some((names, ready)) = PENDING.lock().take() else {
            continue;
        };
        let devices: Vec<(&str, u64)> = names.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let request = FsRequest::SetBlockDevices { devices };
        for _ in 0..2 {
            let Some(endpoint) = vfs.or_else(|| libzos::posix::proc_lookup("vfs").ok()) else {
                break;
            };
            vfs = Some(endpoint);
            match ipc::call(endpoint, &request, &[]) {
                Ok(reply) => {
                    if !matches!(reply.decode::<FsResponse>(), Some(FsResponse::Ok)) {
                        dprintln!("devmgr: the VFS refused the block device list");
                    }
                    break;
                }
                Err(_) => {
                    let _ = sys::cap_delete(endpoint);
                    vfs = None;
                }
            }
        }
        if ready {
            let _ = ipc::call(slots::PROC, &ProcRequest::Ready, &[]);
        }
    }
}

/// Maps slot `index`'s register page read-only and reads its identity.
fn read_mmio_identity(regs: u64, address: u64, index: usize) -> Option<u32> {
    let (_, base, _) = sys::memory_info(regs).ok()?;
    let va = layout::DEVICE_WINDOW + index as u64 * 0x2000;
    sys::memory_map(regs, sys::SELF, va, 0, 1, 0).ok()?;
    let at = va + (address - base);
    // SAFETY: the slot's register page is mapped (device memory) at `va`;
    // magic, version and device id are read-only registers without side
    // effects, at offsets 0, 4 and 8 of the slot, inside that page.
    let (magic, version, device_id) = unsafe {
        (
            core::ptr::read_volatile(at as *const u32),
            core::ptr::read_volatile((at + 4) as *const u32),
            core::ptr::read_volatile((at + 8) as *const u32),
        )
    };
    let _ = sys::memory_unmap(sys::SELF, va);
    virtio::mmio_device(magic, version, device_id)
}

/// Waits for drivers (devmgr's children) to end and reports each to the main
/// loop through `waiter`, the capability badged [`WAITER_BADGE`].
fn wait_for_drivers(waiter: u64) {
    loop {
        let request = ProcRequest::Wait {
            pid: -1,
            nohang: false,
            report: 0,
        };
        let reply = ipc::call(slots::PROC, &request, &[]);
        match reply.as_ref().ok().and_then(|r| r.decode::<ProcResponse>()) {
            Some(ProcResponse::Waited { pid, status }) => {
                let _ = ipc::call(waiter, &(pid, status), &[]);
            }
            // No child yet (or an error): look again a little later.
            _ => sys::sleep_until(sys::clock_ns() + 100_000_000),
        }
    }
}
