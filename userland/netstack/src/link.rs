//! The NIC end of the service: finding `eth0`'s driver through devmgr,
//! attaching to it with shared frame rings, and the threads that wake the
//! main loop when frames arrive.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, Ordering};
use libzos::abi::{layout, map_flags, rights};
use libzos::dprintln;
use libzos::ipc;
use libzos::sys;
use spin::Mutex;
use zos_netring::{
    Consumer, Offload, Producer, REGION_BYTES, TO_DRIVER, TO_DRIVER_RING, TO_STACK, TO_STACK_RING,
};
use zos_netstack_core::config::{self, LinkConfig};
use zos_netstack_core::device::Nic;
use zos_proto::block::{DevRequest, DevResponse};
use zos_proto::net::NetRequest;
use zos_proto::nic::{NicRequest, NicResponse};

/// The driver's end of the rings, as the stack's NIC.
pub struct RingNic {
    to_stack: Consumer,
    to_driver: Producer,
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

/// A NIC ready for the main loop to take.
pub struct Attached {
    pub nic: Box<RingNic>,
    pub mac: [u8; 6],
    pub config: LinkConfig,
    /// Signalled after frames were queued for the driver.
    pub kick: u64,
}

pub static ATTACHED: Mutex<Option<Attached>> = Mutex::new(None);
/// The endpoint, for the helper threads' `Tick`.
pub static ENDPOINT: AtomicU64 = AtomicU64::new(0);

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
    for _ in 0..ATTEMPTS {
        match try_attach(&config) {
            Ok(attached) => {
                *ATTACHED.lock() = Some(attached);
                let _ = ipc::call(ENDPOINT.load(Ordering::Relaxed), &NetRequest::Tick, &[]);
                return;
            }
            Err(Retry::Never) => return,
            Err(Retry::Later) => sys::sleep_until(sys::clock_ns() + RETRY_NS),
        }
    }
    dprintln!("netstack: eth0's driver never answered; loopback only");
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

enum Retry {
    Later,
    Never,
}

fn try_attach(config: &LinkConfig) -> Result<Attached, Retry> {
    let devmgr = libzos::posix::proc_lookup("devmgr")
        .ok()
        .ok_or(Retry::Later)?;
    let result = attach_via(devmgr, config);
    let _ = sys::cap_delete(devmgr);
    result
}

fn attach_via(devmgr: u64, config: &LinkConfig) -> Result<Attached, Retry> {
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
    let result = attach_to(driver, config);
    let _ = sys::cap_delete(driver);
    result
}

/// Creates the rings, hands them to the driver, and takes its kick.
fn attach_to(driver: u64, config: &LinkConfig) -> Result<Attached, Retry> {
    let bytes = (REGION_BYTES as u64).div_ceil(4096) * 4096;
    let memory = sys::memory_create(bytes).map_err(|_| Retry::Never)?;
    let va = layout::DMA_WINDOW;
    if sys::memory_map(memory, sys::SELF, va, 0, bytes / 4096, map_flags::WRITE).is_err() {
        let _ = sys::cap_delete(memory);
        return Err(Retry::Never);
    }
    let base = va as *mut u8;
    // SAFETY: the region is mapped for REGION_BYTES bytes, page-aligned, for
    // the life of the process; this side produces TO_DRIVER and consumes
    // TO_STACK only.
    let mut nic = unsafe {
        Box::new(RingNic {
            to_driver: Producer::new(base.add(TO_DRIVER), TO_DRIVER_RING),
            to_stack: Consumer::new(base.add(TO_STACK), TO_STACK_RING),
            checksum_offload: false,
            segmentation_offload: false,
        })
    };
    let notification = sys::notification_create().map_err(|_| Retry::Never)?;
    let signal =
        sys::cap_mint(notification, sys::NONE, rights::WRITE, 1).map_err(|_| Retry::Never)?;
    let shared = sys::cap_copy(memory, sys::SELF, sys::NONE).map_err(|_| Retry::Never)?;
    let reply = ipc::call(driver, &NicRequest::Attach, &[shared, signal]);
    let reply = match reply {
        Ok(reply) => reply,
        Err(_) => {
            let _ = sys::memory_unmap(sys::SELF, va);
            return Err(Retry::Later);
        }
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
            let _ = sys::memory_unmap(sys::SELF, va);
            return Err(Retry::Never);
        }
    };
    let waker = [64, 16, 1].iter().any(|&p| {
        libzos::thread::spawn_with_stack(frames_thread, notification, p, 16 * 1024).is_ok()
    });
    if !waker {
        dprintln!("netstack: cannot start the frame thread");
    }
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

/// Waits for the driver's "frames queued" and runs the main loop.
fn frames_thread(notification: u64) {
    let endpoint = ENDPOINT.load(Ordering::Relaxed);
    while sys::wait(notification).is_ok() {
        let _ = ipc::call(endpoint, &NetRequest::Tick, &[]);
    }
}
