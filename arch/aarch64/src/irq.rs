//! Interrupt controller (GICv2 or GICv3 through `arm-gic`) and dispatch.
//!
//! The distributor is shared; each CPU brings up its own CPU interface
//! ([`init_cpu`]) and enables its own private interrupts (the timer, the
//! wake-up SGI). Device interrupts (SPIs) all go to CPU 0.

use crate::mmu::phys_to_virt;
use arm_gic::gicv2::GicV2;
use arm_gic::gicv2::{SgiTarget as V2Target, SgiTargetListFilter};
use arm_gic::gicv3::{GicCpuInterface, GicV3};
use arm_gic::gicv3::{SgiTarget as V3Target, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};
use core::ptr::NonNull;
use spin::Mutex;
use zos_boot::devicetree::Gic;

enum Controller {
    V2(GicV2<'static>, InterruptGroup),
    V3(GicV3<'static>),
}

// SAFETY: the controller is only touched with its lock held; the registers
// it reaches are either shared (distributor) or banked per CPU by the GIC.
unsafe impl Send for Controller {}

static GIC: Mutex<Option<Controller>> = Mutex::new(None);

/// Which GIC version is in use (for the banner).
pub fn version() -> u8 {
    match GIC.lock().as_ref() {
        Some(Controller::V2(..)) => 2,
        Some(Controller::V3(_)) => 3,
        None => 0,
    }
}

/// Virtual address of the GICv2 distributor (0: none).
static GICD_V2: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// GICD_ITARGETSR: one byte per interrupt, a bit per CPU interface.
const GICD_ITARGETSR: u64 = 0x800;

/// Routes shared interrupt `intid` to CPU 0 on GICv2. With more than one CPU
/// the targets reset to none, so an SPI left alone is never delivered (the
/// console went deaf on `-smp 2`); arm-gic 0.10 has no call for it.
fn route_spi_to_cpu0(intid: u32) {
    let base = GICD_V2.load(core::sync::atomic::Ordering::Relaxed);
    if base == 0 || !(32..1020).contains(&intid) {
        return;
    }
    // SAFETY: the distributor frame is mapped as device memory in the kernel's
    // linear map; ITARGETSR bytes for SPIs 32..1019 lie inside it, and byte
    // writes to them are architecturally allowed.
    unsafe { core::ptr::write_volatile((base + GICD_ITARGETSR + intid as u64) as *mut u8, 1) };
}

/// Brings up the distributor and this CPU's interface.
pub fn init(gic: Gic, cpu_count: usize) -> Result<(), &'static str> {
    let controller = match gic {
        Gic::V2 {
            distributor,
            cpu_interface,
        } => {
            // SAFETY: the frames come from the device tree and are mapped as device
            // memory in the kernel's linear map; nothing else aliases them.
            let mut v2 = unsafe {
                GicV2::new(
                    phys_to_virt(distributor.start) as *mut _,
                    phys_to_virt(cpu_interface.start) as *mut _,
                )
            };
            v2.setup();
            GICD_V2.store(
                phys_to_virt(distributor.start),
                core::sync::atomic::Ordering::Relaxed,
            );
            let group = if v2.typer().has_security_extension() {
                InterruptGroup::Group1
            } else {
                InterruptGroup::Group0
            };
            v2.set_priority_mask(0xff);
            Controller::V2(v2, group)
        }
        Gic::V3 {
            distributor,
            redistributors,
        } => {
            let gicd = NonNull::new(phys_to_virt(distributor.start) as *mut _).ok_or("gicd")?;
            let gicr = NonNull::new(phys_to_virt(redistributors.start) as *mut _).ok_or("gicr")?;
            // SAFETY: as above, device-tree frames mapped as device memory, unaliased.
            let mut v3 = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, cpu_count) }
                .map_err(|_| "GICv3 redistributor frames not found")?;
            v3.setup(0);
            GicCpuInterface::set_priority_mask(0xff);
            Controller::V3(v3)
        }
    };
    *GIC.lock() = Some(controller);
    set_enabled(crate::smp::WAKE_SGI, true);
    Ok(())
}

/// Brings up a secondary CPU's interface and its wake-up interrupt.
pub fn init_cpu(cpu: usize) {
    match GIC.lock().as_mut() {
        Some(Controller::V2(gic, _)) => {
            // Banked per CPU: its SGI/PPI groups, interface enable and mask.
            gic.setup();
            gic.set_priority_mask(0xff);
        }
        Some(Controller::V3(gic)) => {
            gic.init_cpu(cpu);
            GicCpuInterface::enable_group1(true);
            GicCpuInterface::set_priority_mask(0xff);
        }
        None => {}
    }
    set_enabled(crate::smp::WAKE_SGI, true);
}

/// Sends software-generated interrupt `sgi` to CPU `cpu`.
pub fn send_sgi(sgi: u32, cpu: usize) {
    let intid = IntId::sgi(sgi);
    match GIC.lock().as_mut() {
        Some(Controller::V2(gic, _)) => gic.send_sgi(
            intid,
            V2Target::List {
                target_list_filter: SgiTargetListFilter::CPUTargetList,
                target_list: 1 << (cpu % 8),
            },
        ),
        Some(Controller::V3(_)) => {
            let mpidr = crate::smp::mpidr(cpu);
            let _ = GicCpuInterface::send_sgi(
                intid,
                V3Target::List {
                    affinity3: (mpidr >> 32) as u8,
                    affinity2: (mpidr >> 16) as u8,
                    affinity1: (mpidr >> 8) as u8,
                    target_list: 1 << (mpidr & 0xf),
                },
                SgiTargetGroup::CurrentGroup1,
            );
        }
        None => {}
    }
}

/// Enables or masks one interrupt on this CPU.
pub fn set_enabled(irq: u32, enabled: bool) {
    let Ok(intid) = IntId::try_from(irq) else {
        return;
    };
    match GIC.lock().as_mut() {
        Some(Controller::V2(gic, _)) => {
            if enabled {
                route_spi_to_cpu0(irq);
            }
            gic.set_interrupt_priority(intid, 0x80);
            let _ = gic.enable_interrupt(intid, enabled);
        }
        Some(Controller::V3(gic)) => {
            let cpu = Some(crate::smp::cpu_id());
            let _ = gic.set_interrupt_priority(intid, cpu, 0x80);
            let _ = gic.enable_interrupt(intid, cpu, enabled);
        }
        None => {}
    }
}

/// Acknowledges every pending interrupt, passing each to `handle` but the
/// wake-up SGIs (their work is the scheduling that follows any interrupt).
pub fn dispatch(handle: &mut dyn FnMut(u32)) {
    loop {
        let pending = {
            let mut guard = GIC.lock();
            match guard.as_mut() {
                Some(Controller::V2(gic, group)) => gic.get_and_acknowledge_interrupt(*group),
                Some(Controller::V3(_)) => {
                    GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
                }
                None => None,
            }
        };
        let Some(intid) = pending else { return };
        // GICv2 puts the sending CPU in bits 10..12 of an SGI's id.
        if u32::from(intid) & 0x3ff >= 16 {
            handle(u32::from(intid));
        }
        let mut guard = GIC.lock();
        match guard.as_mut() {
            Some(Controller::V2(gic, group)) => gic.end_interrupt(intid, *group),
            Some(Controller::V3(_)) => {
                GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1)
            }
            None => {}
        }
    }
}
