//! The CPU: GDT and TSS, control-register features (NX, SMEP, SMAP, SSE,
//! FSGSBASE), the `syscall` MSRs, and CPUID for the banner.

use core::arch::asm;
use core::arch::x86_64::{__cpuid, __cpuid_count};
use x86_64::instructions::tables::{lgdt, load_tss};
use x86_64::registers::model_specific::Msr;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::structures::DescriptorTablePointer;
use x86_64::{PrivilegeLevel, VirtAddr};

/// Kernel code and data selectors.
pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
/// User data and code selectors (RPL 3), in the order `sysret` expects.
pub const USER_DS: u64 = 0x18 | 3;
pub const USER_CS: u64 = 0x20 | 3;
const TSS_SELECTOR: u16 = 0x28;

/// I/O ports a user process may be granted: 0..1024 (the ISA range, where
/// COM1 lives); the bitmap stops there, so higher ports always fault.
pub const IO_PORTS: usize = 1024;
/// Bytes of the I/O permission bitmap (one bit per port, set = denied).
pub const IOPB_BYTES: usize = IO_PORTS / 8;

/// The 64-bit task state segment: the ring-0 stack, IST entries and the I/O
/// permission bitmap of the running process.
#[repr(C, packed(4))]
pub struct Tss {
    reserved0: u32,
    pub rsp0: u64,
    rsp1: u64,
    rsp2: u64,
    reserved1: u64,
    pub ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
    /// Ports 0..IO_PORTS, then the 0xff byte the CPU requires at the end.
    pub iopb: [u8; IOPB_BYTES + 1],
}

/// Size of the TSS without its bitmap (where `iomap_base` points).
pub const TSS_HEADER: usize = 104;

impl Default for Tss {
    fn default() -> Self {
        Self::new()
    }
}

impl Tss {
    /// A TSS denying every port, its stacks still unset.
    pub const fn new() -> Self {
        Tss {
            reserved0: 0,
            rsp0: 0,
            rsp1: 0,
            rsp2: 0,
            reserved1: 0,
            ist: [0; 7],
            reserved2: 0,
            reserved3: 0,
            iomap_base: TSS_HEADER as u16,
            iopb: [0xff; IOPB_BYTES + 1],
        }
    }
}

/// Loads a process's I/O permission bitmap into this CPU's TSS.
pub fn load_iopb(bitmap: &[u8; IOPB_BYTES]) {
    let tss = crate::smp::this().tss();
    // SAFETY: this CPU's TSS, written only by this CPU (kernel lock held,
    // called from `activate`); the CPU reads the bitmap only on a later
    // `in`/`out` from user mode.
    unsafe {
        let iopb = &raw mut (*tss).iopb;
        core::ptr::copy_nonoverlapping(bitmap.as_ptr(), iopb.cast::<u8>(), IOPB_BYTES);
    }
}

/// Stacks for double faults (IST 1), one per CPU, so a kernel stack
/// overflow is reported.
const FAULT_STACK_BYTES: usize = 16384;
#[repr(C, align(16))]
struct FaultStack([u8; FAULT_STACK_BYTES]);
static mut DOUBLE_FAULT_STACKS: [FaultStack; zos_kernel::kernel::MAX_CPUS] =
    [const { FaultStack([0; FAULT_STACK_BYTES]) }; zos_kernel::kernel::MAX_CPUS];

/// Every CPU's GDT starts as this (the TSS descriptor is filled per CPU).
const GDT_TEMPLATE: [u64; 7] = [
    0,
    0x00AF_9A00_0000_FFFF, // 0x08 kernel code
    0x00CF_9200_0000_FFFF, // 0x10 kernel data
    0x00CF_F200_0000_FFFF, // 0x18 user data
    0x00AF_FA00_0000_FFFF, // 0x20 user code (64-bit)
    0,                     // 0x28 TSS (two entries)
    0,
];

const _: () = assert!(core::mem::offset_of!(Tss, iopb) == TSS_HEADER);

/// Loads this CPU's GDT and TSS (with its double-fault stack).
pub fn init_gdt(block: &crate::smp::PerCpu) {
    let (gdt, tss) = (block.gdt(), block.tss());
    // SAFETY: each CPU runs this once at start-up on its own block before
    // anything else uses its GDT or TSS; the blocks live forever, as the CPU
    // requires; the double-fault stack of this CPU's index is its own.
    unsafe {
        let stack = &raw const DOUBLE_FAULT_STACKS[block.id()] as u64 + FAULT_STACK_BYTES as u64;
        (*tss).ist[0] = stack;
        let base = tss as u64;
        let limit = crate::smp::TSS_LIMIT;
        *gdt = GDT_TEMPLATE;
        (*gdt)[5] = (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (0x89 << 40)
            | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        (*gdt)[6] = base >> 32;
        lgdt(&DescriptorTablePointer {
            limit: (core::mem::size_of::<[u64; 7]>() - 1) as u16,
            base: VirtAddr::new(gdt as u64),
        });
        asm!(
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:x}",
            "mov es, {ds:x}",
            "mov ss, {ds:x}",
            cs = in(reg) KERNEL_CS as u64,
            ds = in(reg) KERNEL_DS as u64,
            tmp = out(reg) _,
        );
        load_tss(SegmentSelector::new(
            TSS_SELECTOR / 8,
            PrivilegeLevel::Ring0,
        ));
    }
}

const MSR_STAR: u32 = 0xC000_0081;
const MSR_LSTAR: u32 = 0xC000_0082;
const MSR_FMASK: u32 = 0xC000_0084;
/// The FS base: the user thread pointer.
pub const MSR_FS_BASE: u32 = 0xC000_0100;

extern "C" {
    fn syscall_entry();
}

/// What CPUID says this CPU has.
pub struct Features {
    pub smep: bool,
    pub smap: bool,
    pub fsgsbase: bool,
}

pub fn features() -> Features {
    let max = __cpuid(0).eax;
    if max < 7 {
        return Features {
            smep: false,
            smap: false,
            fsgsbase: false,
        };
    }
    let ebx = __cpuid_count(7, 0).ebx;
    Features {
        smep: ebx & (1 << 7) != 0,
        smap: ebx & (1 << 20) != 0,
        fsgsbase: ebx & 1 != 0,
    }
}

/// Turns on SSE for user code (the kernel itself is soft-float), global pages,
/// SMEP/SMAP and FSGSBASE when present, and the `syscall` instruction.
pub fn init_features() -> Features {
    let found = features();
    // SAFETY: each bit only enables a feature CPUID reported (or that every
    // x86_64 CPU has: SSE, global pages); the MSRs are architectural.
    unsafe {
        let mut cr0: u64;
        asm!("mov {}, cr0", out(reg) cr0);
        cr0 &= !(1 << 2); // EM off: FPU/SSE instructions run
        cr0 |= 1 << 1; // MP
        asm!("mov cr0, {}", in(reg) cr0);
        let mut cr4: u64;
        asm!("mov {}, cr4", out(reg) cr4);
        cr4 |= (1 << 9) | (1 << 10) | (1 << 7); // OSFXSR, OSXMMEXCPT, PGE
        if found.fsgsbase {
            cr4 |= 1 << 16;
        }
        if found.smep {
            cr4 |= 1 << 20;
        }
        if found.smap {
            cr4 |= 1 << 21;
        }
        asm!("mov cr4, {}", in(reg) cr4);
        Msr::new(MSR_STAR).write(((KERNEL_DS as u64) << 48) | ((KERNEL_CS as u64) << 32));
        Msr::new(MSR_LSTAR).write(syscall_entry as *const () as u64);
        // IF, TF, DF, AC and NT are cleared on entry.
        Msr::new(MSR_FMASK).write(0x4_7700);
    }
    found
}

/// The CPU's vendor and brand strings, for the banner.
pub struct Identity {
    pub vendor: [u8; 12],
    pub brand: [u8; 48],
    pub family: u32,
    pub model: u32,
}

pub fn identify() -> Identity {
    // CPUID leaves are checked against the maximum reported before use.
    {
        let leaf0 = __cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[0..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&leaf0.ecx.to_le_bytes());
        let leaf1 = __cpuid(1);
        let base_family = (leaf1.eax >> 8) & 0xf;
        let family = if base_family == 0xf {
            base_family + ((leaf1.eax >> 20) & 0xff)
        } else {
            base_family
        };
        let model = ((leaf1.eax >> 4) & 0xf) | (((leaf1.eax >> 16) & 0xf) << 4);
        let mut brand = [0u8; 48];
        if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
                let r = __cpuid(leaf);
                for (j, word) in [r.eax, r.ebx, r.ecx, r.edx].iter().enumerate() {
                    let at = i * 16 + j * 4;
                    brand[at..at + 4].copy_from_slice(&word.to_le_bytes());
                }
            }
        }
        Identity {
            vendor,
            brand,
            family,
            model,
        }
    }
}

/// Zeroes a 4 KiB frame with `rep stosq`.
pub fn zero_frame(va: u64) {
    // SAFETY: the caller owns the frame at `va` (linear map).
    unsafe {
        asm!(
            "rep stosq",
            inout("rdi") va => _,
            inout("rcx") 512u64 => _,
            in("rax") 0u64,
            options(nostack, preserves_flags),
        )
    };
}
