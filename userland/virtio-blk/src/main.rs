//! virtio-blk — the driver of one virtio block device, started by devmgr with
//! only that device's capabilities: its registers (descriptor 3: the
//! virtio-mmio slot's page, or for PCI the BAR holding the virtio structures),
//! its interrupt (descriptor 4), a badged capability back to devmgr
//! (descriptor 5) and the endpoint to serve on (descriptor 6: devmgr keeps
//! it across restarts, so requests sent while the driver was down reach the
//! next instance, which answers them `EIO`). DMA memory it creates itself
//! (`MemoryCreate` with `CONTIGUOUS`, charged to its quota).
//!
//! Arguments: `virtio-blk mmio ADDRESS NAME GENERATION` (the slot's physical
//! address, the disk's name such as `vda`, and how often devmgr started this
//! device's driver before), or `virtio-blk pci BAR NAME GENERATION IMAGE`
//! (the address of the BAR holding the virtio structures and the function's
//! configuration image, `zos_proto::pci::ConfigImage`).
//!
//! It reads the partition table, then serves the block protocol
//! (`zos_proto::block`) and file-style handles (`zos_proto::io`) on badged
//! capabilities of its endpoint; the whole-disk handle goes to devmgr with
//! `DriverReady`. Requests go to the device without waiting: several are in
//! flight, and an interrupt thread tells the main loop when some completed.
//! Protocol and design: docs/drivers.md.
#![no_std]
#![no_main]

extern crate alloc;

mod server;

use alloc::string::String;
use alloc::vec::Vec;
use libzos::abi::Sys;
use libzos::dprintln;
use libzos::sys;
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::transport::SomeTransport;
use zos_block_core::partition;
use zos_proto::block::{BlockResponse, Partition};

use zos_virtio_hal::{self as hal, descriptor, parse_hex, ZosHal};

libzos::entry!(main);

/// The device driver type.
pub type Blk = VirtIOBlk<ZosHal, SomeTransport<'static>>;

fn main(_arg: u64) -> i64 {
    match run() {
        Ok(()) => 0,
        Err(message) => {
            dprintln!("virtio-blk: {message}");
            1
        }
    }
}

fn run() -> Result<(), String> {
    let argv = &libzos::rt::start_info().argv;
    let (Some(transport), Some(address), Some(name), Some(generation)) =
        (argv.get(1), argv.get(2), argv.get(3), argv.get(4))
    else {
        return Err(
            "usage: virtio-blk mmio|pci ADDRESS NAME GENERATION [IMAGE] (started by devmgr)".into(),
        );
    };
    let generation: u64 = generation.parse().map_err(|_| "bad generation")?;
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
    let mut blk = Blk::new(transport).map_err(|e| alloc::format!("device init: {e}"))?;
    let partitions = read_partitions(&mut blk, name);
    let notification = sys::notification_create().map_err(|e| e.name())?;
    sys::raw(Sys::IrqBind, [irq, notification, 0, 0, 0, 0])
        .check()
        .map_err(|e| alloc::format!("cannot bind the interrupt: {}", e.name()))?;
    blk.enable_interrupts();
    let mut service = server::Service::new(blk, endpoint, generation, name.clone(), partitions);
    let whole_disk = service.new_handle(0, server::Kind::Block)?;
    server::start_interrupt_thread(server::Interrupts {
        endpoint,
        irq,
        notification,
        devmgr,
        whole_disk,
    })?;
    service.run()
}

/// Reads the partition table through a DMA scratch buffer; a malformed table
/// is refused (only the whole disk is served) with a warning.
fn read_partitions(blk: &mut Blk, name: &str) -> Vec<Partition> {
    const CHUNK: usize = 64 * 1024;
    let Ok(scratch) = hal::alloc(CHUNK as u64) else {
        return Vec::new();
    };
    // SAFETY: the scratch mapping is ours alone; the device writes it only
    // inside `read_blocks`, which returns once it is done.
    let buffer = unsafe { scratch.bytes() };
    let sectors = blk.capacity();
    let table = partition::read_table(sectors, |sector, out| {
        for (i, chunk) in out.chunks_mut(CHUNK).enumerate() {
            let at = sector + (i * CHUNK / zos_block_core::SECTOR) as u64;
            if blk
                .read_blocks(at as usize, &mut buffer[..chunk.len()])
                .is_err()
            {
                return false;
            }
            chunk.copy_from_slice(&buffer[..chunk.len()]);
        }
        true
    });
    hal::unmap(&scratch);
    match table {
        Ok(parts) => parts,
        Err(e) => {
            dprintln!("virtio-blk: {name}: partition table refused: {e}");
            Vec::new()
        }
    }
}

/// An error reply.
pub fn refuse(errno: i32) -> BlockResponse {
    BlockResponse::Err(errno)
}
