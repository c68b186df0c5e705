//! Tools about the machine: `uname`, `uptime`, `free`, `nproc`, `spin`,
//! `sleep`, `dmesg`, `poweroff`, `reboot`.

use crate::io::write_out;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::posix::{self, Errno};
use zos_proto::proc::SystemInfo;
use zos_tools_core::{report, sleep as duration, uname as system_name, Failure};

fn system_info() -> Result<SystemInfo, Failure> {
    posix::system_info().map_err(|error| {
        Failure::Error(format!(
            "cannot read system information: {}",
            error.describe()
        ))
    })
}

pub fn uname(args: &[&str]) -> Result<(), Failure> {
    let mut line = system_name::output(args)?;
    line.push('\n');
    write_out(line.as_bytes())
}

/// `nproc`: the CPUs online; `-v` adds the kernel entries that waited for
/// the kernel lock held by another CPU (next to the syscalls since boot, the
/// bulk of kernel entries) and each CPU's busy ticks (of 10 ms), context
/// switches and user faults.
pub fn nproc(args: &[&str]) -> Result<(), Failure> {
    let (cpus, lock_waits, _) = libzos::sys::cpu_stats(0);
    let line = match args {
        [] => format!("{cpus}\n"),
        ["-v"] => {
            let stats: Vec<_> = (0..cpus).map(|c| libzos::sys::cpu_stats(c).2).collect();
            let busy: Vec<u64> = stats.iter().map(|s| s.busy_ticks).collect();
            let switches: Vec<u64> = stats.iter().map(|s| s.switches).collect();
            let faults: Vec<u64> = stats.iter().map(|s| s.faults).collect();
            let syscalls = libzos::sys::system_info()[4];
            format!(
                "{cpus} cpu(s) online, {lock_waits} kernel-lock waits in {syscalls} syscalls, \
                 busy ticks {busy:?}, context switches {switches:?}, user faults {faults:?}\n"
            )
        }
        _ => return Err(Failure::Usage(String::from("nproc takes only -v"))),
    };
    write_out(line.as_bytes())
}

/// `spin N`: N million iterations of a loop the compiler cannot remove, then
/// exit: a CPU-bound job for measuring parallelism.
pub fn spin(args: &[&str]) -> Result<(), Failure> {
    let millions: u64 = match args {
        [n] => n
            .parse()
            .map_err(|_| Failure::Usage(format!("'{n}' is not a count")))?,
        _ => return Err(Failure::Usage(String::from("spin takes one count"))),
    };
    let mut x = 0u64;
    for i in 0..millions.saturating_mul(1_000_000) {
        x = core::hint::black_box(x.wrapping_add(i));
    }
    core::hint::black_box(x);
    Ok(())
}

pub fn uptime(args: &[&str]) -> Result<(), Failure> {
    // `uptime -n`: nanoseconds since boot (machine readable; used by benchmarks).
    if args == ["-n"] {
        let line = format!("{}\n", posix::clock_ns());
        return write_out(line.as_bytes());
    }
    if let Some(extra) = args.first() {
        return Err(Failure::Usage(format!("extra operand '{extra}'")));
    }
    let info = system_info()?;
    let mut line = report::uptime_line(info.uptime_ns, info.processes);
    line.push('\n');
    write_out(line.as_bytes())
}

pub fn free(args: &[&str]) -> Result<(), Failure> {
    let unit = report::parse_free(args)?;
    let info = system_info()?;
    write_out(report::free_table(info.total_bytes, info.free_bytes, unit).as_bytes())
}

pub fn sleep(args: &[&str]) -> Result<(), Failure> {
    posix::nanosleep(duration::parse_total(args)?);
    Ok(())
}

/// Prints the kernel log ring (the last 32 KiB of kernel messages).
pub fn dmesg() -> Result<(), Failure> {
    let system = libzos::rt::system_slot();
    let mut buffer = alloc::vec![0u8; 4096];
    let mut cursor = 0;
    loop {
        let (count, next) = libzos::sys::log_read(system, cursor, &mut buffer)
            .map_err(|e| Failure::Error(format!("reading the kernel log: {}", e.name())))?;
        if count == 0 {
            return Ok(());
        }
        write_out(&buffer[..count])?;
        cursor = next;
    }
}

fn power_failure(error: Errno) -> Failure {
    Failure::Error(error.describe().into())
}

/// Disk file systems are flushed and marked clean before the machine stops.
fn unmount_disks() {
    if let Err(error) = libzos::fs::unmount_all() {
        libzos::eprintln!("unmounting file systems: {}", error.describe());
    }
}

pub fn power_off() -> Result<(), Failure> {
    unmount_disks();
    crate::axiom_tool::seal();
    posix::power_off().map_err(power_failure)
}

pub fn reboot() -> Result<(), Failure> {
    unmount_disks();
    crate::axiom_tool::seal();
    posix::reboot().map_err(power_failure)
}
