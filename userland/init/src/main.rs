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
mod start_pages;

use libzos::{dprintln, sys};

libzos::entry!(main);

/// Least quota the console, the VFS and the shell can run in.
const MIN_QUOTA: u64 = 9 << 20;

fn main(info: u64) -> i64 {
    // Checked before anything is allocated: with too little memory even
    // reading the boot information would fail, and silently.
    let Some(quota) = boot::BootInfo::read_quota(info) else {
        dprintln!("init: boot information page missing or corrupt");
        return 1;
    };
    if quota < MIN_QUOTA {
        // What the kernel and the boot archive took stays taken; the RAM to ask
        // for is today's plus what init lacks, rounded up to whole MiB.
        let ram = sys::system_info()[1] * 4096 + (MIN_QUOTA - quota);
        let ram_mib = ram.div_ceil(1 << 20);
        dprintln!(
            "init: {} MiB of memory is too little to run the system (init needs {} MiB, about {} MiB of RAM: -m {}M); stopping",
            quota >> 20,
            MIN_QUOTA >> 20,
            ram_mib,
            ram_mib
        );
        let _ = sys::power_off(libzos::abi::bootinfo::SLOT_SYSTEM);
        return 1;
    }
    let Some(boot) = boot::BootInfo::read(info) else {
        dprintln!("init: boot information page missing or corrupt");
        return 1;
    };
    dprintln!(
        "init: started as pid 1 with {} MiB of memory quota and {} device capabilities",
        boot.quota >> 20,
        boot.devices.len()
    );
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
