//! The device manager's logic, host-tested: what sits in a virtio-mmio slot
//! ([`virtio`]), PCI enumeration, BAR assignment and the virtio capability
//! check ([`pci`]), the table of devices with their drivers and disk names
//! ([`table`]), and when a crashed driver is restarted ([`restart`]).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod pci;
pub mod restart;
pub mod table;
pub mod virtio;
