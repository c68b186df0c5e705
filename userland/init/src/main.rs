//! init (PID 1) — for now: reads the boot information, and either runs the
//! program named by `init.run=NAME` on the kernel command line and reports its
//! exit status, or idles. The service manager comes with the userspace issue.
#![no_std]
#![no_main]

extern crate alloc;

use libzos::abi::{bootinfo, layout};
use libzos::loader::{self, SpawnOptions};
use libzos::{println, sys};
use zos_kernel::initramfs::Archive;

libzos::entry!(main);

fn word(info: u64, index: usize) -> u64 {
    // SAFETY: the kernel mapped the boot info page read-only at `info`; indices
    // used here lie inside the header or the entries it announces.
    unsafe { core::ptr::read_volatile((info as *const u64).add(index)) }
}

fn main(info: u64) -> i64 {
    if word(info, bootinfo::WORD_MAGIC) != bootinfo::MAGIC {
        println!("init: boot information page missing or corrupt");
        return 1;
    }
    let entries = word(info, bootinfo::WORD_ENTRY_COUNT) as usize;
    let cmdline_len = word(info, bootinfo::WORD_CMDLINE_LEN) as usize;
    let cmdline_at = info + ((bootinfo::FIRST_ENTRY + entries * bootinfo::ENTRY_WORDS) * 8) as u64;
    // SAFETY: the command line follows the entries inside the mapped page(s).
    let cmdline =
        unsafe { core::slice::from_raw_parts(cmdline_at as *const u8, cmdline_len.min(4096)) };
    let cmdline = core::str::from_utf8(cmdline).unwrap_or("");
    let quota = word(info, bootinfo::WORD_QUOTA);
    println!(
        "init: started as pid 1 with {} MiB of memory quota and {} device capabilities",
        quota >> 20,
        entries
    );
    let ramfs_size = word(info, bootinfo::WORD_INITRAMFS_SIZE) as usize;
    // SAFETY: the kernel mapped the initramfs read-only at this address.
    let ramfs = unsafe { core::slice::from_raw_parts(layout::INITRAMFS as *const u8, ramfs_size) };
    let archive = Archive::new(ramfs);

    let run = cmdline
        .split_ascii_whitespace()
        .find_map(|a| a.strip_prefix("init.run="));
    let run_arg = cmdline
        .split_ascii_whitespace()
        .find_map(|a| a.strip_prefix("init.arg="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let power_off_after = cmdline.split_ascii_whitespace().any(|a| a == "poweroff");
    match run {
        Some(name) => {
            let code = run_program(&archive, name, quota, run_arg);
            println!("init: {name} exited with status {code}");
        }
        None => println!("init: no services configured yet; idling"),
    }
    if power_off_after {
        println!("init: powering off");
        let _ = sys::power_off(bootinfo::SLOT_SYSTEM);
    }
    loop {
        sys::sleep_until(u64::MAX);
    }
}

/// Spawns `/sbin/NAME` (or `/bin/NAME`) and waits for it; returns its status.
fn run_program(archive: &Archive, name: &str, quota: u64, arg: u64) -> i64 {
    let mut path = alloc::string::String::from("/sbin/");
    path.push_str(name);
    let file = match archive.find(&path) {
        Ok(Some(file)) => file,
        _ => {
            println!("init: {path}: not found in the initramfs");
            return 127;
        }
    };
    let Ok(exited) = sys::notification_create() else {
        return 126;
    };
    let options = SpawnOptions {
        quota: quota / 2,
        exit_notification: exited,
        exit_bits: 1,
        fault_endpoint: sys::NONE,
        fault_badge: 0,
        priority: 100,
        arg,
    };
    let child = match loader::spawn(file.data, &options) {
        Ok(child) => child,
        Err(e) => {
            println!("init: {path}: cannot start: {e:?}");
            return 126;
        }
    };
    // The child's capabilities: itself, a print-only console, the initramfs.
    let grants = [
        sys::cap_copy(child.process, child.process, 0),
        sys::cap_mint(bootinfo::SLOT_SYSTEM, sys::NONE, 5, 0)
            .and_then(|s| sys::cap_copy(s, child.process, 1)),
        sys::cap_copy(bootinfo::SLOT_INITRAMFS, child.process, 2),
    ];
    if let Some(Err(e)) = grants.iter().find(|g| g.is_err()) {
        println!("init: {path}: cannot grant capabilities: {}", e.name());
        return 126;
    }
    if let Err(e) = loader::start(&child) {
        println!("init: {path}: cannot start thread: {}", e.name());
        return 126;
    }
    let _ = sys::wait(exited);
    match sys::process_status(child.process) {
        Ok([1, code, ..]) => code as i64,
        Ok([2, _, _, address, pc]) => {
            println!("init: {path} was killed (fault at {address:#x}, pc {pc:#x})");
            139
        }
        _ => 1,
    }
}
