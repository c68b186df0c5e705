//! init (PID 1): the service manager and process manager.
//!
//! At boot it reads the boot information page, then either runs the program
//! named by `init.run=NAME` (tests) or starts the services of
//! `/etc/init/services.toml` in dependency order, giving each only the
//! capabilities its entry lists. It then serves the process-manager protocol
//! (`zos_proto::proc`): spawn, wait, kill, process groups, `ps`, the service
//! registry, pipes — and supervises services, restarting them per policy.
#![no_std]
#![no_main]

extern crate alloc;

mod boot;
mod clock;
#[cfg(target_arch = "x86_64")]
mod cmos;
mod manager;
mod pipes;

use libzos::dprintln;

libzos::entry!(main);

/// Least quota the console, the VFS and the shell can run in.
const MIN_QUOTA: u64 = 12 << 20;
/// The RAM that leaves init [`MIN_QUOTA`] after the kernel's share.
const MIN_RAM_MIB: u64 = 24;

fn main(info: u64) -> i64 {
    let Some(boot) = boot::BootInfo::read(info) else {
        dprintln!("init: boot information page missing or corrupt");
        return 1;
    };
    dprintln!(
        "init: started as pid 1 with {} MiB of memory quota and {} device capabilities",
        boot.quota >> 20,
        boot.devices.len()
    );
    if boot.quota < MIN_QUOTA && boot.arg("init.run").is_none() {
        dprintln!(
            "init: {} MiB of memory is too little to run the system (init needs {} MiB, about {} MiB of RAM: -m {}M); stopping",
            boot.quota >> 20,
            MIN_QUOTA >> 20,
            MIN_RAM_MIB,
            MIN_RAM_MIB
        );
        let _ = libzos::sys::power_off(libzos::abi::bootinfo::SLOT_SYSTEM);
        return 1;
    }
    if boot.flag("init.crash") {
        // Test hook (services.exp): init faults on purpose, so the kernel's
        // handling of init's death can be seen.
        dprintln!("init: init.crash: faulting on purpose");
        // SAFETY: deliberately invalid: this read must fault.
        let value = unsafe { core::ptr::read_volatile(0xdead_0000 as *const u64) };
        return value as i64;
    }
    let mut manager = match manager::Manager::new(boot) {
        Ok(manager) => manager,
        Err(e) => {
            dprintln!("init: cannot set up the process manager: {e}");
            return 1;
        }
    };
    manager.boot();
    manager.serve()
}
