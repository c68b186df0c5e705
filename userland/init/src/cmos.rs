//! The PC's CMOS real-time clock (x86_64): the boot information's "cmos"
//! device is two pages of the I/O-port window, ports 0x70 (register index)
//! and 0x71 (data); mapping them grants init those two ports. The register
//! protocol and the date arithmetic are `zos-rtc-core`'s (host-tested).
//!
//! init's clock (`clock.rs`) is seeded from it once at boot; on AArch64 the
//! PL031 plays this part.

use crate::boot::BootInfo;
use crate::clock::Clock;
use libzos::abi::{layout, map_flags};
use libzos::{dprintln, sys};
use zos_rtc_core::civil::DateTime;
use zos_rtc_core::cmos::{self, RtcError};

/// Where init maps the clock's ports (a page each, no page-table entries).
const CMOS_VA: u64 = layout::DEVICE_WINDOW + (1 << 20);

/// Why the clock could not be read.
#[derive(Debug)]
pub enum ClockError {
    /// The grant is not a pair of I/O ports.
    NotPorts,
    Map(sys::Error),
    Clock(RtcError),
}

impl core::fmt::Display for ClockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClockError::NotPorts => write!(f, "the grant is not an I/O-port range"),
            ClockError::Map(e) => write!(f, "mapping its ports failed ({e:?})"),
            ClockError::Clock(RtcError::Unstable) => write!(f, "it never read the same twice"),
            ClockError::Clock(RtcError::Invalid) => write!(f, "it holds no valid date"),
        }
    }
}

/// Maps the clock (Memory capability `slot`, physical `base` in the port
/// window) and reads the date.
pub fn read(slot: u64, base: u64) -> Result<DateTime, ClockError> {
    let index = layout::io_port(base).ok_or(ClockError::NotPorts)?;
    sys::memory_map(slot, sys::SELF, CMOS_VA, 0, 2, map_flags::WRITE).map_err(ClockError::Map)?;
    let mut index_port = x86_64::instructions::port::Port::<u8>::new(index);
    let mut data_port = x86_64::instructions::port::Port::<u8>::new(index + 1);
    cmos::read(|register| {
        // SAFETY: the two ports were just granted to this process and are
        // the CMOS clock's; only this function drives them. Bit 7 of the
        // index (NMI masking) stays clear.
        unsafe {
            index_port.write(register & 0x7f);
            data_port.read()
        }
    })
    .map_err(ClockError::Clock)
}

/// The clock seeded from the boot information's "cmos" device, if it has
/// one and it reads; says what it found either way.
pub fn clock(boot: &BootInfo) -> Option<Clock> {
    let device = boot.devices.iter().find(|d| d.name == "cmos")?;
    match read(device.slot, device.base) {
        Ok(now) => {
            dprintln!("init: real-time clock (cmos): {now} UTC");
            Some(Clock::from_seconds(now.unix_seconds()))
        }
        Err(e) => {
            dprintln!("init: warning: the cmos clock cannot be read: {e}");
            None
        }
    }
}
