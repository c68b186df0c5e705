//! The NIC end of the service: finding `eth0`'s driver through devmgr,
//! attaching to it with shared frame rings, the thread that wakes the main
//! loop when frames arrive, and attaching again when the driver died and
//! devmgr started it anew (the link thread keeps a `Watch` call open on the
//! driver, which fails when it dies).

use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, Ordering};
use libzos::abi::{layout, map_flags, rights};
use libzos::dprintln;
use libzos::ipc;
use libzos::rt::BackoffMutex as Mutex;
use libzos::sys;
use zos_netring::{
    Consumer, Offload, Producer, REGION_BYTES, TO_DRIVER, TO_DRIVER_RING, TO_STACK, TO_STACK_RING,
};
use zos_netstack_core::config::{self, LinkConfig};
use zos_netstack_core::device::Nic;
use zos_proto::block::{DevRequest, DevResponse};
use zos_proto::net::NetRequest;
use zos_proto::nic::{NicRequest, NicResponse};

/// The driver's end of the rings, as the stack's NIC. Dropped (the NIC
/// detached), it unmaps the rings and lets their Memory go.
pub struct RingNic {
    to_stack: Consumer,
    to_driver: Producer,
    /// Where the rings are mapped, and their Memory object.
    va: u64,
    memory: u64,
    /// The driver's device completes TCP checksums.
    checksum_offload: bool,
    /// The driver's device cuts long TCP segments.
    segmentation_offload: bool,
}

impl Nic for RingNic {
    fn receive(&mut self, out: &mut [u8]) -> Option<usize> {
        loop {
            match self.to_stack.pop_into(out)? {
                Ok(n) => return Some(n),
                // A frame the driver got wrong: skipped (counted).
                Err(_) => continue,
            }
        }
    }

    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        self.to_driver.reserve(len).ok()
    }

    fn commit(&mut self, offload: Offload) {
        self.to_driver.commit_with(offload);
    }

    fn checksum_offload(&self) -> bool {
        self.checksum_offload
    }

    fn segmentation_offload(&self) -> Option<usize> {
        let segments = self.checksum_offload && self.segmentation_offload;
        segments.then(|| self.to_driver.max_frame())
    }
}

impl Drop for RingNic {
    fn drop(&mut self) {
        let _ = sys::memory_unmap(sys::SELF, self.va);
        let _ = sys::cap_delete(self.memory);
    }
}

/// A NIC ready for the main loop to take.
pub struct Attached {
    pub nic: Box<RingNic>,
    pub mac: [u8; 6],
    pub config: LinkConfig,
    /// Signalled after frames were queued for the driver.
    pub kick: u64,
}

/// What the link thread has for the main loop.
pub enum LinkChange {
    Attached(Attached),
    /// The driver died: the NIC is gone until it is attached again.
    Lost,
}

pub static LINK_CHANGE: Mutex<Option<LinkChange>> = Mutex::new(None);
/// The endpoint, for the helper threads' `Tick`.
pub static ENDPOINT: AtomicU64 = AtomicU64::new(0);
/// The notification the driver signals (one for the process's life, with
/// one thread waiting on it), and how many times rings were mapped.
static FRAMES: AtomicU64 = AtomicU64::new(0);
static ATTACHMENTS: AtomicU64 = AtomicU64::new(0);
/// Address space for one set of rings: a new set is mapped before the
/// old one's NIC is dropped.
const RING_WINDOW: u64 = 4 << 20;

/// How often and how long to look for the driver (devmgr and the driver
/// start beside the netstack).
const ATTEMPTS: u32 = 50;
const RETRY_NS: u64 = 200_000_000;

/// Starts the thread that attaches `eth0` when there is one.
pub fn start() {
    let started = [64, 16, 1].iter().any(|&priority| {
        libzos::thread::spawn_with_stack(attach_thread, 0, priority, 64 * 1024).is_ok()
    });
    if !started {
        dprintln!("netstack: cannot start the link thread; no eth0");
    }
}

fn attach_thread(_arg: u64) {
    let config = read_config();
    let mut driver = None;
    for _ in 0..ATTEMPTS {
        match try_attach(&config) {
            Ok((attached, cap)) => {
                hand_over(LinkChange::Attached(attached));
                driver = Some(cap);
                break;
            }
            Err(Retry::Never) => return,
            Err(Retry::Later) => sys::sleep_until(sys::clock_ns() + RETRY_NS),
        }
    }
    let Some(driver) = driver else {
        dprintln!("netstack: eth0's driver never answered; loopback only");
        return;
    };
    // Held open until the driver dies; then attach to its next instance
    // through the same endpoint, which devmgr keeps.
    while ipc::call(driver, &NicRequest::Watch, &[]).is_err() {
        dprintln!("netstack: eth0's driver died; attaching to its next instance");
        hand_over(LinkChange::Lost);
        let again = (0..ATTEMPTS).find_map(|_| match attach_to(driver, &config) {
            Ok(attached) => Some(Some(attached)),
            Err(Retry::Never) => Some(None),
            Err(Retry::Later) => {
                sys::sleep_until(sys::clock_ns() + RETRY_NS);
                None
            }
        });
        match again.flatten() {
            Some(attached) => hand_over(LinkChange::Attached(attached)),
            None => {
                dprintln!("netstack: eth0's driver does not come back; loopback only");
                break;
            }
        }
    }
    let _ = sys::cap_delete(driver);
}

/// Gives the main loop a change of the link, wakes it, and waits until it
/// took the change (it applies it under the lock): the rings of the NIC it
/// replaced are then unmapped, and their window free for the next set.
fn hand_over(change: LinkChange) {
    *LINK_CHANGE.lock() = Some(change);
    for _ in 0..1000 {
        let _ = ipc::call(ENDPOINT.load(Ordering::Relaxed), &NetRequest::Tick, &[]);
        if LINK_CHANGE.lock().is_none() {
            return;
        }
        sys::sleep_until(sys::clock_ns() + 1_000_000);
    }
}

fn read_config() -> LinkConfig {
    let Ok(bytes) = libzos::fs::read_file("/etc/network.conf") else {
        return LinkConfig::default();
    };
    let (config, problems) = config::parse(&alloc::string::String::from_utf8_lossy(&bytes));
    for problem in problems {
        dprintln!("netstack: /etc/network.conf: {problem}");
    }
    config
}

/// Replaces `/etc/resolv.conf` with `text` (the DNS servers of a lease or
/// of `/etc/network.conf`), so programs that read it see them; the
/// netstack's own resolver keeps its copy.
pub fn write_resolv_conf(text: &str) {
    if let Err(e) = libzos::fs::replace_file("/etc/resolv.conf", text.as_bytes(), 0o644) {
        dprintln!("netstack: cannot write /etc/resolv.conf: {e:?}");
    }
}

/// The DNS servers `/etc/resolv.conf` names now (`None` when it cannot be
/// read: the netstack's own stay).
pub fn read_resolv_conf() -> Option<alloc::vec::Vec<[u8; 4]>> {
    let bytes = libzos::fs::read_file("/etc/resolv.conf").ok()?;
    let text = alloc::string::String::from_utf8_lossy(&bytes);
    Some(config::resolv_conf_servers(&text))
}

enum Retry {
    Later,
    Never,
}

fn try_attach(config: &LinkConfig) -> Result<(Attached, u64), Retry> {
    let devmgr = libzos::posix::proc_lookup("devmgr")
        .ok()
        .ok_or(Retry::Later)?;
    let result = attach_via(devmgr, config);
    let _ = sys::cap_delete(devmgr);
    result
}

/// The attached NIC and the driver's capability (kept to watch it).
fn attach_via(devmgr: u64, config: &LinkConfig) -> Result<(Attached, u64), Retry> {
    let reply = ipc::call(devmgr, &DevRequest::List, &[]).map_err(|_| Retry::Later)?;
    match reply.decode::<DevResponse>() {
        Some(DevResponse::Devices(devices)) if devices.iter().any(|d| d.kind == "virtio-net") => {}
        Some(DevResponse::Devices(_)) => return Err(Retry::Never),
        _ => return Err(Retry::Later),
    }
    let reply =
        ipc::call(devmgr, &DevRequest::OpenNic { name: "eth0" }, &[]).map_err(|_| Retry::Later)?;
    let driver = match (reply.decode::<DevResponse>(), reply.caps.as_slice()) {
        (Some(DevResponse::Opened), &[cap]) => cap,
        _ => {
            ipc::drop_caps(&reply.caps);
            return Err(Retry::Later);
        }
    };
    match attach_to(driver, config) {
        Ok(attached) => Ok((attached, driver)),
        Err(e) => {
            let _ = sys::cap_delete(driver);
            Err(e)
        }
    }
}

/// Creates the rings, hands them to the driver, and takes its kick.
fn attach_to(driver: u64, config: &LinkConfig) -> Result<Attached, Retry> {
    let bytes = (REGION_BYTES as u64).div_ceil(4096) * 4096;
    let memory = sys::memory_create(bytes).map_err(|_| Retry::Never)?;
    // Two windows in turn: the main loop may still hold the previous rings.
    let va = layout::DMA_WINDOW + (ATTACHMENTS.fetch_add(1, Ordering::Relaxed) % 2) * RING_WINDOW;
    if sys::memory_map(memory, sys::SELF, va, 0, bytes / 4096, map_flags::WRITE).is_err() {
        let _ = sys::cap_delete(memory);
        return Err(Retry::Never);
    }
    let base = va as *mut u8;
    // SAFETY: the region is mapped for REGION_BYTES bytes, page-aligned,
    // until the RingNic is dropped; this side produces TO_DRIVER and
    // consumes TO_STACK only.
    let mut nic = unsafe {
        Box::new(RingNic {
            to_driver: Producer::new(base.add(TO_DRIVER), TO_DRIVER_RING),
            to_stack: Consumer::new(base.add(TO_STACK), TO_STACK_RING),
            va,
            memory,
            checksum_offload: false,
            segmentation_offload: false,
        })
    };
    let notification = frames_notification().ok_or(Retry::Never)?;
    let signal =
        sys::cap_mint(notification, sys::NONE, rights::WRITE, 1).map_err(|_| Retry::Never)?;
    let shared = sys::cap_copy(memory, sys::SELF, sys::NONE).map_err(|_| Retry::Never)?;
    let reply = ipc::call(driver, &NicRequest::Attach, &[shared, signal]);
    let Ok(reply) = reply else {
        return Err(Retry::Later);
    };
    let (mac, kick) = match (reply.decode::<NicResponse>(), reply.caps.as_slice()) {
        (
            Some(NicResponse::Attached {
                mac,
                checksum_offload,
                segmentation_offload,
            }),
            &[kick],
        ) => {
            nic.checksum_offload = checksum_offload;
            nic.segmentation_offload = segmentation_offload;
            (mac, kick)
        }
        other => {
            dprintln!("netstack: eth0's driver refused the rings: {:?}", other.0);
            ipc::drop_caps(&reply.caps);
            return Err(Retry::Never);
        }
    };
    let [a, b, c, d, e, f] = mac;
    let offloads = match (nic.checksum_offload, nic.segmentation_offload) {
        (true, true) => ", TCP checksums and segmentation by the device",
        (true, false) => ", TCP checksums by the device",
        _ => "",
    };
    dprintln!("netstack: eth0 {a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x} attached{offloads}");
    Ok(Attached {
        nic,
        mac,
        config: config.clone(),
        kick,
    })
}

/// The notification the driver signals, and the thread waiting on it:
/// made at the first attach, kept for every later one.
fn frames_notification() -> Option<u64> {
    let made = FRAMES.load(Ordering::Relaxed);
    if made != 0 {
        return Some(made);
    }
    let notification = sys::notification_create().ok()?;
    let waker = [64, 16, 1].iter().any(|&p| {
        libzos::thread::spawn_with_stack(frames_thread, notification, p, 16 * 1024).is_ok()
    });
    if !waker {
        dprintln!("netstack: cannot start the frame thread");
    }
    FRAMES.store(notification, Ordering::Relaxed);
    Some(notification)
}

/// Waits for the driver's "frames queued" and runs the main loop.
fn frames_thread(notification: u64) {
    let endpoint = ENDPOINT.load(Ordering::Relaxed);
    while sys::wait(notification).is_ok() {
        let _ = ipc::call(endpoint, &NetRequest::Tick, &[]);
    }
}
