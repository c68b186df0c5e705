// Zero OS AArch64 entry.
//
// QEMU enters here at the physical load address with the MMU off, at EL2 or EL1,
// x0 = device tree address (or 0 for ELF kernels; the blob then sits at the start
// of RAM). This code: parks secondary CPUs (smp.rs starts them later at
// `_secondary_start`), drops from EL2 to EL1, zeroes BSS, builds a coarse boot
// page table (1 GiB blocks, identity + higher half), turns the MMU on and
// jumps to `kernel_main` in the higher half. Rust then replaces the coarse
// mapping with the final fine-grained one (see mmu.rs).

.equ PHYS_OFFSET_HI, 0xFFFF            // PHYS_OFFSET = 0xFFFF << 48
.equ BLOCK_NORMAL,   0x701             // block | AttrIndx 0 | SH inner | AF
.equ BLOCK_DEVICE,   0x405             // block | AttrIndx 1 | AF (XN bits added below)
.equ MAIR_VALUE,     0x04FF            // attr0 normal WB RA WA, attr1 device nGnRE
.equ SCTLR_RES1,     0x30D00800
.equ SCTLR_MMU,      0x30D0180D        // RES1 | M | C | SA | I
// TCR: T0SZ=16 T1SZ=16, 4K granules, WBWA inner shareable walks for both halves.
.equ TCR_LOW,        0x3510            // T0SZ | IRGN0 | ORGN0 | SH0
.equ TCR_HIGH,       0xB510            // (T1SZ | IRGN1 | ORGN1 | SH1 | TG1) >> 16

// Turns the MMU on with translation control `tcr` and tables `ttbr0` (low
// half) and `ttbr1` (high half); the boot CPU and every secondary use it.
// Clobbers x1.
.macro MMU_ON tcr, ttbr0, ttbr1
    msr     tcr_el1, \tcr
    msr     ttbr0_el1, \ttbr0
    msr     ttbr1_el1, \ttbr1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x1, =SCTLR_MMU
    msr     sctlr_el1, x1
    isb
.endm

// Runs on the kernel stack whose top holds this CPU's block at `block` (which
// TPIDR_EL1 then names, smp.rs) and takes exceptions through the kernel's
// vectors. Clobbers x1 after reading `block`.
.macro ON_KERNEL_STACK block
    mov     sp, \block
    msr     tpidr_el1, \block
    ldr     x1, =exception_vectors
    msr     vbar_el1, x1
    isb
.endm

// EL2: configure EL1 (AArch64, counter and FP/SIMD untrapped, GIC system
// registers usable) and drop to it at `target`, all exceptions masked.
.macro DROP_TO_EL1 target
    mov     x1, #(1 << 31)              // HCR_EL2.RW: EL1 is AArch64
    msr     hcr_el2, x1
    mov     x1, #3                      // EL1 may read the counter and use timers
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr
    mov     x1, #0x33ff                 // CPTR_EL2: do not trap FP/SIMD
    msr     cptr_el2, x1
    mrs     x1, id_aa64pfr0_el1
    ubfx    x1, x1, #24, #4             // GIC system register interface?
    cbz     x1, 1f
    mov     x1, #0xf                    // ICC_SRE_EL2: SRE | DFB | DIB | Enable
    msr     s3_4_c12_c9_5, x1
1:  ldr     x1, =SCTLR_RES1
    msr     sctlr_el1, x1
    mov     x1, #0x3c5                  // EL1h, all exceptions masked
    msr     spsr_el2, x1
    adr     x1, \target
    msr     elr_el2, x1
    isb
    eret
.endm

.section .text.head, "ax"
// arm64 Linux Image header: QEMU (like a real boot loader) loads an Image at
// RAM base + text_offset, passes the device tree in x0 and loads `-initrd`.
// QEMU does not load an initrd for ELF kernels, so `cargo xtask run` boots the
// Image (kernel.img); the ELF (kernel.elf) is for debuggers and symbols.
.global _image_header
_image_header:
    b       _start                      // code0
    .long   0                           // code1
    .quad   0x200000                    // text_offset: RAM base + 2 MiB
    .quad   __image_size                // image size including BSS and stack
    .quad   0x2                         // flags: little endian, 4 KiB pages
    .quad   0, 0, 0                     // reserved
    .ascii  "ARM\x64"                   // magic
    .long   0                           // reserved (no PE header)

.section .text.boot, "ax"
.global _start
_start:
    mov     x19, x0                     // keep the device tree pointer
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    cbnz    x1, park

    mrs     x1, CurrentEL
    lsr     x1, x1, #2
    mov     x20, x1                     // remember the entry EL for the banner
    cmp     x1, #2
    b.ne    at_el1

    DROP_TO_EL1 at_el1

at_el1:
    msr     daifset, #0xf
    mov     x1, #(3 << 20)              // CPACR_EL1.FPEN: FP/SIMD usable (EL0 and EL1)
    msr     cpacr_el1, x1
    isb

    // Physical stack for the few calls before the MMU is on.
    adrp    x1, __boot_stack_top
    add     x1, x1, :lo12:__boot_stack_top
    mov     sp, x1

    // Zero BSS (physical addresses: adrp is PC-relative).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1], #16
    b       2b
3:
    // Coarse boot tables: L1[0] = first GiB as device memory, L1[1..16] = RAM.
    adrp    x2, boot_l1
    movz    x3, #0x0060, lsl #48        // PXN | UXN
    mov     x10, #BLOCK_DEVICE
    orr     x3, x3, x10
    str     x3, [x2]
    mov     x4, #1
    mov     x10, #BLOCK_NORMAL
4:  lsl     x5, x4, #30
    orr     x5, x5, x10
    str     x5, [x2, x4, lsl #3]
    add     x4, x4, #1
    cmp     x4, #16
    b.lo    4b
    orr     x7, x2, #3                  // table descriptor
    adrp    x6, boot_l0_low
    str     x7, [x6]
    adrp    x8, boot_l0_high
    str     x7, [x8]

    ldr     x1, =MAIR_VALUE
    msr     mair_el1, x1
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #7                  // PARange -> TCR.IPS
    cmp     x1, #5
    mov     x9, #5
    csel    x1, x1, x9, ls
    lsl     x1, x1, #32
    movz    x9, #TCR_HIGH, lsl #16
    movk    x9, #TCR_LOW
    orr     x1, x1, x9
    MMU_ON  x1, x6, x8

    // Now in the higher half for good. The stack's top 32 bytes are this
    // CPU's block (index 0, flags clear), which TPIDR_EL1 points to (smp.rs).
    ldr     x1, =__boot_stack_top
    sub     x1, x1, #32
    stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    ON_KERNEL_STACK x1
    mov     x0, x19                     // device tree (physical, may be 0)
    mov     x1, x20                     // entry exception level
    ldr     x2, =kernel_main
    br      x2

park:
    wfe
    b       park

// A secondary CPU, started by PSCI CPU_ON (smp.rs) at this physical address
// with the MMU off and x0 = its index. It turns the MMU on with the boot
// identity table below and the kernel's final table above (both from
// `SMP_BOOT`, written and cleaned to memory by the boot CPU: TCR, TTBR1, this
// CPU's stack block), then enters `secondary_main` in the higher half.
.global _secondary_start
_secondary_start:
    mov     x19, x0
    mrs     x1, CurrentEL
    lsr     x1, x1, #2
    cmp     x1, #2
    b.ne    secondary_el1
    DROP_TO_EL1 secondary_el1
secondary_el1:
    msr     daifset, #0xf
    mov     x1, #(3 << 20)              // CPACR_EL1.FPEN: FP/SIMD usable
    msr     cpacr_el1, x1
    ldr     x1, =MAIR_VALUE
    msr     mair_el1, x1
    adrp    x2, SMP_BOOT
    add     x2, x2, :lo12:SMP_BOOT
    ldr     x3, [x2, #0]                // TCR
    ldr     x4, [x2, #8]                // TTBR1: the kernel's final table
    adrp    x5, boot_l0_low
    MMU_ON  x3, x5, x4
    ldr     x1, [x2, #16]               // stack block (a kernel address)
    ON_KERNEL_STACK x1
    mov     x0, x19
    ldr     x2, =secondary_main
    br      x2

.section .bss.boot_tables, "aw", @nobits
.balign 4096
boot_l0_low:  .space 4096
boot_l0_high: .space 4096
boot_l1:      .space 4096
