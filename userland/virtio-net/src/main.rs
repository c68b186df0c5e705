//! virtio-net — the driver of one virtio network device, started by devmgr
//! with only that device's capabilities (descriptor 3 its registers, 4 its
//! interrupt, 5 devmgr, 6 the endpoint to serve), like virtio-blk.
//!
//! Arguments: `virtio-net mmio ADDRESS NAME GENERATION`, or for a PCI function
//! `virtio-net pci BAR NAME GENERATION IMAGE` (see virtio-blk).
//!
//! It hands devmgr its capability (`DriverReady`); the netstack gets it
//! from devmgr and attaches (`zos_proto::nic::NicRequest::Attach`) with a
//! Memory object holding two frame rings (`zos-netring`) and a notification.
//! A worker thread waits on one notification for two things: the device's
//! interrupt (frames received, transmissions done) and the netstack's kick
//! (frames queued to send). Received frames are copied once from the
//! device's DMA buffers into the ring; frames to send once from the ring
//! into DMA buffers: wire-sized ones, or for the TCP segments the device
//! cuts up (TSO) 16 KiB ones. Docs: docs/network.md.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use libzos::abi::{rights, Sys};
use libzos::dprintln;
use libzos::ipc::{self, Server};
use libzos::rt::BackoffMutex as Mutex;
use libzos::sys;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::SomeTransport;
use zos_netring::{
    Consumer, Offload, Producer, REGION_BYTES, TO_DRIVER, TO_DRIVER_RING, TO_STACK, TO_STACK_RING,
};
use zos_proto::block::{DevRequest, DevResponse};
use zos_proto::errno::{ECANCELED, EINVAL, ENOMEM};
use zos_proto::nic::{NicRequest, NicResponse};
use zos_virtio_hal::{self as hal, descriptor, parse_hex, Mapped, ZosHal};

mod transport;
use transport::{NoEventIdx, CHECKSUM_OFFLOAD, SEGMENTATION_OFFLOAD};

libzos::entry!(main);

/// Descriptors per virtqueue (and wire-sized DMA buffers per direction).
const QUEUE: usize = 128;
/// Bytes of one DMA buffer (virtio-net header + the largest frame).
const BUFFER: usize = 2048;
/// Transmit buffers for segments the device cuts up, and their bytes (the
/// header + the longest frame of the ring to the driver).
const LARGE_BUFFERS: usize = 32;
const LARGE_BUFFER: usize = TO_DRIVER_RING.slot + 16;
/// The longest frame the wire takes whole.
const WIRE_FRAME: usize = 1514;
/// Notification bits of the worker.
const IRQ_BIT: u64 = 1;
const KICK_BIT: u64 = 2;

type Net = VirtIONetRaw<ZosHal, NoEventIdx<SomeTransport<'static>>, QUEUE>;

/// The netstack's side: its rings and its notification.
struct Link {
    to_stack: Producer,
    to_driver: Consumer,
    stack: u64,
    memory: Mapped,
}

static LINK: Mutex<Option<Link>> = Mutex::new(None);
/// Everything the worker thread owns, handed over once.
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);
/// The worker's notification (for the main thread's kick after an attach).
static NOTIFICATION: AtomicU64 = AtomicU64::new(0);

/// One transmit DMA buffer: wire-sized, or large (segments to cut).
#[derive(Clone, Copy)]
enum TxBuffer {
    Wire(usize),
    Large(usize),
}

struct Worker {
    net: Net,
    irq: u64,
    notification: u64,
    rx: Mapped,
    tx: Mapped,
    /// Only when the device cuts segments.
    tx_large: Option<Mapped>,
    /// Receive token → buffer index.
    rx_token: [Option<usize>; QUEUE],
    /// Transmit token → (buffer, length).
    tx_token: [Option<(TxBuffer, usize)>; QUEUE],
    free_tx: Vec<usize>,
    free_tx_large: Vec<usize>,
    /// Frames dropped because nobody was attached or the ring was full.
    dropped: u64,
}

fn main(_arg: u64) -> i64 {
    match run() {
        Ok(()) => 0,
        Err(message) => {
            dprintln!("virtio-net: {message}");
            1
        }
    }
}

fn run() -> Result<(), String> {
    let argv = &libzos::rt::start_info().argv;
    let (Some(transport), Some(address), Some(name)) = (argv.get(1), argv.get(2), argv.get(3))
    else {
        return Err(
            "usage: virtio-net mmio|pci ADDRESS NAME GENERATION [IMAGE] (started by devmgr)".into(),
        );
    };
    let address = parse_hex(address).ok_or("bad address")?;
    let (Some(regs), Some(irq), Some(devmgr), Some(endpoint)) =
        (descriptor(3), descriptor(4), descriptor(5), descriptor(6))
    else {
        return Err("missing device capabilities (started by devmgr?)".into());
    };
    hal::init().map_err(|e| alloc::format!("no DMA memory: {}", e.name()))?;
    let transport = match transport.as_str() {
        "mmio" => hal::mmio_transport(regs, address)?,
        "pci" => hal::pci_transport(regs, argv.get(5).map_or("", |s| s.as_str()))?,
        other => return Err(alloc::format!("unknown transport '{other}'")),
    };
    let net = Net::new(NoEventIdx(transport)).map_err(|e| alloc::format!("device init: {e}"))?;
    let mac = net.mac_address();
    let notification = sys::notification_create().map_err(|e| e.name())?;
    NOTIFICATION.store(notification, Ordering::Relaxed);
    let irq_signal =
        sys::cap_mint(notification, sys::NONE, rights::WRITE, IRQ_BIT).map_err(|e| e.name())?;
    let kick =
        sys::cap_mint(notification, sys::NONE, rights::WRITE, KICK_BIT).map_err(|e| e.name())?;
    sys::raw(Sys::IrqBind, [irq, irq_signal, 0, 0, 0, 0])
        .check()
        .map_err(|e| alloc::format!("cannot bind the interrupt: {}", e.name()))?;
    let rx = hal::alloc((QUEUE * BUFFER) as u64).map_err(|e| e.name())?;
    let tx = hal::alloc((QUEUE * BUFFER) as u64).map_err(|e| e.name())?;
    let large_buffers = match SEGMENTATION_OFFLOAD.load(Ordering::Relaxed) {
        true => LARGE_BUFFERS,
        false => 0,
    };
    let tx_large = match large_buffers {
        0 => None,
        n => Some(hal::alloc((n * LARGE_BUFFER) as u64).map_err(|e| e.name())?),
    };
    let mut worker = Worker {
        net,
        irq,
        notification,
        rx,
        tx,
        tx_large,
        rx_token: [None; QUEUE],
        tx_token: [None; QUEUE],
        free_tx: (0..QUEUE).collect(),
        free_tx_large: (0..large_buffers).collect(),
        dropped: 0,
    };
    for index in 0..QUEUE {
        worker.post_receive(index)?;
    }
    worker.net.enable_interrupts();
    *WORKER.lock() = Some(worker);
    let started = [150, 100, 64, 16, 1]
        .iter()
        .any(|&priority| libzos::thread::spawn(worker_thread, 0, priority).is_ok());
    if !started {
        return Err("cannot start the worker thread".into());
    }
    let handle = sys::cap_mint(endpoint, sys::NONE, rights::WRITE | rights::GRANT, 1)
        .map_err(|e| e.name())?;
    let reply = ipc::call(devmgr, &DevRequest::DriverReady, &[handle]);
    if !matches!(
        reply.as_ref().ok().and_then(|r| r.decode::<DevResponse>()),
        Some(DevResponse::Ok)
    ) {
        dprintln!("virtio-net: devmgr did not take {name}");
    }
    serve(endpoint, kick, mac)
}

/// Writes into the frame's virtio-net header what the netstack asked of
/// the device: to complete a checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, with
/// where the sum starts and where it goes), and to cut a TCP segment into
/// `segment_size` pieces (`VIRTIO_NET_HDR_GSO_TCPV4`, with where its
/// payload starts). Each only when the device took the feature and the
/// places lie inside the frame: the request is the netstack's word, in
/// memory it can scribble on. `false`: a frame longer than the wire takes
/// that the device will not cut, not to be sent.
fn fill_offload(header: &mut [u8], frame: &[u8], offload: Offload) -> bool {
    let (start, offset) = (
        usize::from(offload.checksum_start),
        usize::from(offload.checksum_offset),
    );
    let len = frame.len();
    let fits = start + offset + 2 <= len && header.len() >= 10;
    if !offload.wants_checksum() || !fits || !CHECKSUM_OFFLOAD.load(Ordering::Relaxed) {
        return len <= WIRE_FRAME;
    }
    const NEEDS_CSUM: u8 = 1;
    header[0] |= NEEDS_CSUM;
    header[6..8].copy_from_slice(&(start as u16).to_le_bytes());
    header[8..10].copy_from_slice(&(offset as u16).to_le_bytes());
    if len <= WIRE_FRAME {
        return true;
    }
    // The TCP header's length, from its data offset.
    let headers = frame
        .get(start + 12)
        .map(|byte| start + usize::from(byte >> 4) * 4);
    let cut = offload.segment_size != 0 && SEGMENTATION_OFFLOAD.load(Ordering::Relaxed);
    match headers {
        Some(headers) if cut && headers < len => {
            const GSO_TCPV4: u8 = 1;
            header[1] = GSO_TCPV4;
            header[2..4].copy_from_slice(&(headers as u16).to_le_bytes());
            header[4..6].copy_from_slice(&offload.segment_size.to_le_bytes());
            true
        }
        _ => false,
    }
}

/// Answers `Attach` requests (a netstack, or the next one after a restart),
/// and holds the netstack's `Watch` call unanswered: it fails when this
/// driver dies.
fn serve(endpoint: u64, kick: u64, mac: [u8; 6]) -> Result<(), String> {
    let server = Server::new(endpoint);
    let mut watcher: Option<u64> = None;
    loop {
        let Ok(request) = server.recv() else {
            continue;
        };
        if request.label == sys::NO_SENDERS {
            continue;
        }
        let answer = match (request.decode::<NicRequest>(), request.caps.as_slice()) {
            (Some(NicRequest::Watch), &[]) => {
                let Ok(reply) = server.defer() else {
                    continue;
                };
                if let Some(previous) = watcher.replace(reply) {
                    let bytes = ipc::encode_vec(&NicResponse::Err(ECANCELED));
                    if ipc::reply_later_raw(previous, &bytes.unwrap_or_default(), &[]).is_err() {
                        let _ = sys::cap_delete(previous);
                    }
                }
                continue;
            }
            (Some(NicRequest::Attach), &[memory, stack]) => match attach(memory, stack) {
                Ok(()) => match sys::cap_copy(kick, sys::SELF, sys::NONE) {
                    Ok(copy) => {
                        let bytes = ipc::encode_vec(&NicResponse::Attached {
                            mac,
                            checksum_offload: CHECKSUM_OFFLOAD.load(Ordering::Relaxed),
                            segmentation_offload: SEGMENTATION_OFFLOAD.load(Ordering::Relaxed),
                        });
                        let _ = server.reply_raw(&bytes.unwrap_or_default(), &[copy]);
                        let _ = sys::signal(NOTIFICATION.load(Ordering::Relaxed));
                        continue;
                    }
                    Err(_) => NicResponse::Err(ENOMEM),
                },
                Err(e) => {
                    let _ = sys::cap_delete(memory);
                    let _ = sys::cap_delete(stack);
                    NicResponse::Err(e)
                }
            },
            _ => {
                for &cap in &request.caps {
                    let _ = sys::cap_delete(cap);
                }
                NicResponse::Err(EINVAL)
            }
        };
        let _ = server.reply_raw(&ipc::encode_vec(&answer).unwrap_or_default(), &[]);
    }
}

/// Maps the netstack's rings and makes them the current link.
fn attach(memory: u64, stack: u64) -> Result<(), i32> {
    let (len, _, _) = sys::memory_info(memory).map_err(|_| EINVAL)?;
    if len < REGION_BYTES as u64 {
        return Err(EINVAL);
    }
    let mapped = hal::map(memory).map_err(|_| ENOMEM)?;
    let base = mapped.va as *mut u8;
    // SAFETY: the region is mapped for REGION_BYTES bytes (checked) until the
    // link is replaced, page-aligned; this driver produces TO_STACK and
    // consumes TO_DRIVER only.
    let link = unsafe {
        Link {
            to_stack: Producer::new(base.add(TO_STACK), TO_STACK_RING),
            to_driver: Consumer::new(base.add(TO_DRIVER), TO_DRIVER_RING),
            stack,
            memory: mapped,
        }
    };
    let old = LINK.lock().replace(link);
    if let Some(old) = old {
        hal::unmap(&old.memory);
        let _ = sys::cap_delete(old.stack);
    }
    Ok(())
}

fn worker_thread(_arg: u64) {
    let Some(mut worker) = WORKER.lock().take() else {
        return;
    };
    loop {
        let Ok(bits) = sys::wait(worker.notification) else {
            return;
        };
        if bits & IRQ_BIT != 0 {
            worker.net.ack_interrupt();
        }
        worker.move_frames();
        if bits & IRQ_BIT != 0 {
            let _ = sys::raw(Sys::IrqAck, [worker.irq, 0, 0, 0, 0, 0]);
        }
    }
}

impl Worker {
    fn rx_buffer(&mut self, index: usize) -> &'static mut [u8] {
        // SAFETY: buffer `index` of the receive DMA memory; the device owns it
        // only between `receive_begin` and `receive_complete`, which this
        // thread alone calls.
        unsafe { &mut self.rx.bytes()[index * BUFFER..(index + 1) * BUFFER] }
    }

    fn tx_buffer(&mut self, buffer: TxBuffer) -> &'static mut [u8] {
        // SAFETY: as `rx_buffer`, for the transmit DMA memory.
        unsafe {
            match buffer {
                TxBuffer::Wire(i) => &mut self.tx.bytes()[i * BUFFER..(i + 1) * BUFFER],
                TxBuffer::Large(i) => match self.tx_large.as_mut() {
                    Some(large) => &mut large.bytes()[i * LARGE_BUFFER..(i + 1) * LARGE_BUFFER],
                    None => &mut [],
                },
            }
        }
    }

    /// A free transmit buffer for a frame of `len` bytes after a header of
    /// `header` bytes.
    fn take_tx_buffer(&mut self, header: usize, len: usize) -> Option<TxBuffer> {
        if header + len <= BUFFER {
            self.free_tx.pop().map(TxBuffer::Wire)
        } else {
            self.free_tx_large.pop().map(TxBuffer::Large)
        }
    }

    fn free_tx_buffer(&mut self, buffer: TxBuffer) {
        match buffer {
            TxBuffer::Wire(i) => self.free_tx.push(i),
            TxBuffer::Large(i) => self.free_tx_large.push(i),
        }
    }

    fn post_receive(&mut self, index: usize) -> Result<(), String> {
        let buffer = self.rx_buffer(index);
        // SAFETY: the buffer is DMA memory that stays mapped and untouched
        // until the device returns it (`receive_complete`).
        let token = unsafe { self.net.receive_begin(buffer) }
            .map_err(|e| alloc::format!("receive queue: {e}"))?;
        if let Some(slot) = self.rx_token.get_mut(token as usize) {
            *slot = Some(index);
        }
        Ok(())
    }

    /// Received frames to the netstack, transmissions done, frames queued by
    /// the netstack to the device.
    fn move_frames(&mut self) {
        let mut link = LINK.lock();
        let mut received = false;
        while let Some(token) = self.net.poll_receive() {
            let Some(index) = self.rx_token.get_mut(token as usize).and_then(Option::take) else {
                break;
            };
            let buffer = self.rx_buffer(index);
            // SAFETY: the same buffer that was posted under this token.
            match unsafe { self.net.receive_complete(token, buffer) } {
                Ok((header, len)) => match link.as_mut() {
                    Some(link) => {
                        let frame = &buffer[header..(header + len).min(BUFFER)];
                        received |= link.to_stack.push(frame).is_ok();
                    }
                    None => self.dropped += 1,
                },
                Err(_) => self.dropped += 1,
            }
            if let Err(e) = self.post_receive(index) {
                dprintln!("virtio-net: {e}");
            }
        }
        while let Some(token) = self.net.poll_transmit() {
            let Some((index, len)) = self.tx_token.get_mut(token as usize).and_then(Option::take)
            else {
                break;
            };
            let buffer = self.tx_buffer(index);
            // SAFETY: the same buffer and length that were sent under this token.
            let _ = unsafe { self.net.transmit_complete(token, &buffer[..len]) };
            self.free_tx_buffer(index);
        }
        if let Some(link) = link.as_mut() {
            // The header's size does not change: learnt once per batch.
            let mut scratch = [0u8; 16];
            let Ok(header) = self.net.fill_buffer_header(&mut scratch) else {
                return;
            };
            while let Some((next, _)) = link.to_driver.peek() {
                if header + next > BUFFER && self.tx_large.is_none() {
                    // Longer than any buffer here (the netstack's mistake):
                    // skipped, and counted by the ring.
                    let _ = link.to_driver.pop_frame(&mut []);
                    self.dropped += 1;
                    continue;
                }
                let Some(index) = self.take_tx_buffer(header, next) else {
                    break;
                };
                let buffer = self.tx_buffer(index);
                if self.net.fill_buffer_header(buffer).is_err() {
                    self.free_tx_buffer(index);
                    break;
                }
                let (head, frame) = buffer.split_at_mut(header);
                match link.to_driver.pop_frame(frame) {
                    None => {
                        self.free_tx_buffer(index);
                        break;
                    }
                    Some(Ok((len, offload))) => {
                        if !fill_offload(head, &frame[..len], offload) {
                            self.dropped += 1;
                            self.free_tx_buffer(index);
                            continue;
                        }
                        let total = header + len;
                        // SAFETY: DMA memory, untouched until the device is done
                        // (`transmit_complete`).
                        match unsafe { self.net.transmit_begin(&buffer[..total]) } {
                            Ok(token) => {
                                if let Some(slot) = self.tx_token.get_mut(token as usize) {
                                    *slot = Some((index, total));
                                }
                            }
                            Err(_) => {
                                self.dropped += 1;
                                self.free_tx_buffer(index);
                                break;
                            }
                        }
                    }
                    Some(Err(_)) => self.free_tx_buffer(index),
                }
            }
            if received {
                let _ = sys::signal(link.stack);
            }
        }
    }
}
