//! Real time: the PL031 real-time clock of the `virt` machine.
//!
//! init holds the clock's register page (the boot information's "pl031"
//! device capability); no other process is given it. At boot init reads the
//! clock's seconds once and keeps the difference to the kernel's monotonic
//! clock, so "now" is `offset + clock_ns()` with nanosecond resolution and
//! costs no device access. `date -s` (root only, checked by the caller of
//! [`Clock::set`]) writes the clock's load register so the new time survives a
//! reset of the machine, and moves the offset. On x86_64 the CMOS clock
//! (`cmos.rs`) seeds the offset once through [`Clock::from_seconds`] (read
//! only: `date -s` moves the offset, not the CMOS). Without either, time
//! starts at 0 at boot and can still be set.

use libzos::abi::{layout, map_flags};
use libzos::sys;

/// Where init maps the clock's page (its own device window).
const RTC_VA: u64 = layout::DEVICE_WINDOW;
/// Data register: seconds since the epoch (read).
const RTC_DR: u64 = 0x000;
/// Load register: writing sets the counter.
const RTC_LR: u64 = 0x008;
/// Control register: bit 0 starts the counter.
const RTC_CR: u64 = 0x00C;

pub struct Clock {
    /// The mapped register page, when the machine has a PL031.
    registers: Option<u64>,
    /// Real time minus monotonic time, in nanoseconds.
    offset_ns: u64,
    /// A hardware clock gave the time (the PL031, or the CMOS at boot).
    hardware: bool,
}

impl Clock {
    /// Maps the clock (Memory capability `slot`, physical `base`) and reads it.
    pub fn new(device: Option<(u64, u64)>) -> Clock {
        let registers = device.and_then(|(slot, base)| {
            sys::memory_map(slot, sys::SELF, RTC_VA, 0, 1, map_flags::WRITE)
                .ok()
                .map(|()| RTC_VA + (base & 0xFFF))
        });
        let mut clock = Clock {
            registers,
            offset_ns: 0,
            hardware: registers.is_some(),
        };
        if let Some(seconds) = clock.read_seconds() {
            clock.offset_ns = (seconds as u64 * 1_000_000_000).saturating_sub(sys::clock_ns());
        }
        clock
    }

    fn read_seconds(&self) -> Option<u32> {
        let base = self.registers?;
        // SAFETY: `base` lies in the device page mapped in `new`; RTC_DR is a
        // 32-bit register of the PL031 at that offset.
        Some(unsafe { core::ptr::read_volatile((base + RTC_DR) as *const u32) })
    }

    /// A clock set once from a read-only hardware clock's `seconds` since
    /// the epoch (the CMOS on x86_64).
    #[cfg(target_arch = "x86_64")]
    pub fn from_seconds(seconds: u64) -> Clock {
        Clock {
            registers: None,
            offset_ns: seconds
                .saturating_mul(1_000_000_000)
                .saturating_sub(sys::clock_ns()),
            hardware: true,
        }
    }

    /// Whether a hardware clock backs the time.
    pub fn has_hardware(&self) -> bool {
        self.hardware
    }

    /// Now, in nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        self.offset_ns.saturating_add(sys::clock_ns())
    }

    /// Sets the time (and the hardware clock, whose counter has whole seconds
    /// and ends in 2106).
    pub fn set(&mut self, epoch_ns: u64) {
        self.offset_ns = epoch_ns.saturating_sub(sys::clock_ns());
        if let Some(base) = self.registers {
            let seconds = (epoch_ns / 1_000_000_000).min(u32::MAX as u64) as u32;
            // SAFETY: `base` lies in the mapped device page; RTC_LR and RTC_CR
            // are the PL031's load and control registers.
            unsafe {
                core::ptr::write_volatile((base + RTC_LR) as *mut u32, seconds);
                core::ptr::write_volatile((base + RTC_CR) as *mut u32, 1);
            }
        }
    }
}
