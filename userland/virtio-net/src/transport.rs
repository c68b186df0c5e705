//! The device's transport with `VIRTIO_F_EVENT_IDX` hidden.
//!
//! virtio-drivers 0.13 notifies the device after adding a buffer whenever
//! the queue's index passed the device's `avail_event`, not only when it
//! crosses it (the spec's `vring_need_event`); QEMU sets `avail_event` to
//! the index it saw when it last looked, so with event indices every frame
//! sent and every receive buffer given back was a notification — a trip
//! out of the guest's code into QEMU's device model. Without event
//! indices the device sets `VRING_USED_F_NO_NOTIFY` while it is busy with
//! a queue and the driver's notifications stop until it looks again.
//!
//! It also asks for `VIRTIO_NET_F_CSUM` when the device offers it, which
//! virtio-drivers does not know: the device then completes the TCP
//! checksums the netstack leaves to it (docs/network.md, "Checksums"); and
//! with it for `VIRTIO_NET_F_HOST_TSO4`: the device then cuts TCP segments
//! longer than the wire takes ("Segmentation").

use core::sync::atomic::{AtomicBool, Ordering};
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::PhysAddr;
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// `VIRTIO_F_RING_EVENT_IDX` (virtio 1.2, 6).
const RING_EVENT_IDX: u64 = 1 << 29;
/// `VIRTIO_NET_F_CSUM` (virtio 1.2, 5.1.3): the device takes frames with a
/// partial checksum.
const NET_CSUM: u64 = 1 << 0;

/// `VIRTIO_NET_F_HOST_TSO4` (virtio 1.2, 5.1.3): the device takes TCP/IPv4
/// segments to cut up (it needs `VIRTIO_NET_F_CSUM`).
const NET_HOST_TSO4: u64 = 1 << 11;

/// Whether the device accepted `VIRTIO_NET_F_CSUM` (set while it is
/// initialised, read when a netstack attaches).
pub static CHECKSUM_OFFLOAD: AtomicBool = AtomicBool::new(false);
/// Whether it accepted `VIRTIO_NET_F_HOST_TSO4` too.
pub static SEGMENTATION_OFFLOAD: AtomicBool = AtomicBool::new(false);

pub struct NoEventIdx<T: Transport>(pub T);

impl<T: Transport> Transport for NoEventIdx<T> {
    fn device_type(&self) -> DeviceType {
        self.0.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.0.read_device_features() & !RING_EVENT_IDX
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let offered = self.0.read_device_features();
        let checksum = offered & NET_CSUM;
        let segmentation = match checksum {
            0 => 0,
            _ => offered & NET_HOST_TSO4,
        };
        CHECKSUM_OFFLOAD.store(checksum != 0, Ordering::Relaxed);
        SEGMENTATION_OFFLOAD.store(segmentation != 0, Ordering::Relaxed);
        self.0
            .write_driver_features((driver_features & !RING_EVENT_IDX) | checksum | segmentation)
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.0.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        self.0.notify(queue)
    }

    fn get_status(&self) -> DeviceStatus {
        self.0.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.0.set_status(status)
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.0.set_guest_page_size(guest_page_size)
    }

    fn requires_legacy_layout(&self) -> bool {
        self.0.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        self.0
            .queue_set(queue, size, descriptors, driver_area, device_area)
    }

    fn queue_unset(&mut self, queue: u16) {
        self.0.queue_unset(queue)
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.0.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.0.read_config_generation()
    }

    fn read_config_space<V: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<V> {
        self.0.read_config_space(offset)
    }

    fn write_config_space<V: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: V,
    ) -> virtio_drivers::Result<()> {
        self.0.write_config_space(offset, value)
    }
}
