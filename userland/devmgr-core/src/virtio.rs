//! Identifying virtio devices from their first registers.

/// `virt` in little-endian: the first word of every virtio-mmio slot.
pub const MMIO_MAGIC: u32 = 0x7472_6976;
/// PCI vendor id of virtio devices.
pub const PCI_VENDOR: u16 = 0x1af4;

/// virtio device kinds by device id (virtio 1.2, §5).
pub fn kind_name(device_id: u32) -> &'static str {
    match device_id {
        1 => "virtio-net",
        2 => "virtio-blk",
        3 => "virtio-console",
        4 => "virtio-rng",
        5 => "virtio-balloon",
        9 => "virtio-9p",
        16 => "virtio-gpu",
        18 => "virtio-input",
        19 => "virtio-vsock",
        _ => "virtio-other",
    }
}

/// The device id in a virtio-mmio slot (registers 0x000 magic, 0x004
/// version, 0x008 device id), or `None` for an empty or foreign slot.
pub fn mmio_device(magic: u32, version: u32, device_id: u32) -> Option<u32> {
    (magic == MMIO_MAGIC && (1..=2).contains(&version) && device_id != 0).then_some(device_id)
}

/// The virtio device id of a PCI function (transitional ids 0x1000–0x103f
/// and modern ids 0x1040 + id), or `None` when it is not virtio.
pub fn pci_device(vendor: u16, device: u16) -> Option<u32> {
    if vendor != PCI_VENDOR {
        return None;
    }
    match device {
        0x1001 => Some(2),
        0x1000 => Some(1),
        0x1040..=0x107f => Some((device - 0x1040) as u32),
        _ => None,
    }
}

/// The driver program for a virtio device id, when there is one.
pub fn driver(device_id: u32) -> Option<&'static str> {
    match device_id {
        1 => Some("/sbin/virtio-net"),
        2 => Some("/sbin/virtio-blk"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_functions() {
        assert_eq!(mmio_device(MMIO_MAGIC, 2, 2), Some(2));
        assert_eq!(mmio_device(MMIO_MAGIC, 1, 0), None, "empty slot");
        assert_eq!(mmio_device(0, 2, 2), None);
        assert_eq!(mmio_device(MMIO_MAGIC, 3, 2), None);
        assert_eq!(pci_device(0x1af4, 0x1042), Some(2));
        assert_eq!(pci_device(0x1af4, 0x1001), Some(2));
        assert_eq!(pci_device(0x8086, 0x1042), None);
        assert_eq!(kind_name(2), "virtio-blk");
        assert_eq!(driver(2), Some("/sbin/virtio-blk"));
        assert_eq!(driver(1), Some("/sbin/virtio-net"));
        assert_eq!(driver(4), None);
    }
}
