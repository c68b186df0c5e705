//! The boot banner: CPU, RAM and the devices found, one line each (the
//! acceptance scripts match these lines).

use crate::acpi_tables::Platform;
use crate::pvh::StartInfo;
use crate::{apic, console, cpu, irq, timer};
use zos_kernel::PAGE_SIZE;

pub fn print(
    info: &StartInfo,
    free_frames: usize,
    features: &cpu::Features,
    platform: Option<&Platform>,
    online: usize,
) {
    let cpu = cpu::identify();
    log::info!("Zero OS {} (x86_64) booting", env!("CARGO_PKG_VERSION"));
    log::info!(
        "cpu: {} ({}, family {:#x} model {:#x}), TSC {} MHz",
        text(&cpu.brand),
        text(&cpu.vendor),
        cpu.family,
        cpu.model,
        timer::tsc_hz() / 1_000_000
    );
    log::info!(
        "smp: {online} of {} cpu(s) online",
        platform.map_or(1, |p| p.cpus.max(1))
    );
    log::info!(
        "cpu: nx on, smep {}, smap {}, fsgsbase {}",
        on(features.smep),
        on(features.smap),
        on(features.fsgsbase)
    );
    log::info!(
        "memory: {} MiB RAM in {} range(s), {} MiB free, kernel heap ready",
        info.ram_bytes() >> 20,
        info.memory_count,
        (free_frames * PAGE_SIZE) >> 20
    );
    log::info!(
        "device: uart 16550 at port {:#x} irq {}",
        console::COM1,
        console::COM1_IRQ
    );
    log::info!("device: rtc cmos at port {:#x}", crate::CMOS_PORT);
    if info.rsdp != 0 {
        log::info!("device: acpi rsdp at {:#x}", info.rsdp);
    }
    if let Some(p) = platform {
        log::info!("device: local apic at {:#x}", p.local_apic);
        if let Some((base, gsi)) = p.io_apic {
            log::info!("device: ioapic at {base:#x}, gsi base {gsi}");
        }
        if let Some(port) = p.pm1a_control {
            let reset = p.reset.map_or(0, |(port, _)| port);
            log::info!("device: acpi power off at port {port:#x}, reset at port {reset:#x}");
        }
        if let Some((base, first, last)) = p.ecam {
            log::info!("device: pci ecam at {base:#x}, buses {first}-{last}");
        }
    }
    if irq::uses_apic() {
        log::info!(
            "device: timer local apic at {} Hz ({} counts a tick)",
            1_000_000_000 / timer::TICK_NS,
            apic::timer_count()
        );
    } else {
        log::info!(
            "device: timer pit irq {} at {} Hz (legacy pic)",
            timer::IRQ,
            1_000_000_000 / timer::TICK_NS
        );
    }
    match info.initrd {
        Some(r) => log::info!("device: initrd at {:#x}, {} bytes", r.start, r.len()),
        None => log::info!("device: no initrd"),
    }
    if !info.cmdline().is_empty() {
        log::info!("boot arguments: {}", info.cmdline());
    }
}

/// A NUL-padded CPUID string.
fn text(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).unwrap_or("?").trim()
}

fn on(flag: bool) -> &'static str {
    if flag {
        "on"
    } else {
        "off"
    }
}
