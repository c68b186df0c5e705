// The application processors' way from a start-up IPI to Rust (smp.rs).
//
// smp.rs copies the bytes between `ap_trampoline_start` and
// `ap_trampoline_end` to physical 0x8000 (the SIPI vector is 0x08) and fills
// in the parameter words at the end before each start-up IPI. A started CPU
// runs it in real mode at 0800:0000: it notes that it is alive, loads the
// trampoline's GDT, enters 32-bit protected mode, turns on PAE, loads the
// trampoline's page table (the first 2 MiB identity-mapped, the upper half
// the kernel's; below 4 GiB as 32-bit CR3 needs), sets EFER.LME|NXE|SCE,
// turns on paging (long mode) and write protection, far-jumps to 64-bit code
// and calls the Rust entry on its own stack with its per-CPU block.
// Every address below is absolute: the code runs only at its copy.

.equ AP_BASE, 0x8000
// Fixed offsets of the data (memory operands take no label differences).
.equ AP_GDT, 0x200
.equ AP_GDT_POINTER, 0x220
.equ AP_ALIVE, 0x228
.equ AP_CR3, 0x230
.equ AP_STACK, 0x238
.equ AP_BLOCK, 0x240
.equ AP_ENTRY, 0x248

.section .rodata.ap_trampoline, "a"
.balign 4096
.global ap_trampoline_start
ap_trampoline_start:
.code16
    cli
    cld
    xor     ax, ax
    mov     ds, ax
    mov     byte ptr [AP_BASE + AP_ALIVE], 1
    lgdt    [AP_BASE + AP_GDT_POINTER]
    mov     eax, cr0
    or      eax, 1
    mov     cr0, eax
    // ljmp 0x08:ap_protected with a 32-bit offset (operand-size prefix)
    .byte   0x66, 0xea
    .long   AP_BASE + (ap_protected - ap_trampoline_start)
    .word   0x08

.code32
ap_protected:
    mov     ax, 0x10
    mov     ds, ax
    mov     es, ax
    mov     ss, ax
    mov     eax, cr4
    or      eax, 1 << 5                 // PAE
    mov     cr4, eax
    mov     eax, dword ptr [AP_BASE + AP_CR3]
    mov     cr3, eax
    mov     ecx, 0xC0000080             // EFER
    rdmsr
    or      eax, (1 << 8) | (1 << 11) | 1   // LME, NXE, SCE
    wrmsr
    mov     eax, cr0
    or      eax, (1 << 31) | (1 << 16) | 1  // PG, WP, PE
    mov     cr0, eax
    // ljmp 0x18:ap_long (64-bit code)
    .byte   0xea
    .long   AP_BASE + (ap_long - ap_trampoline_start)
    .word   0x18

.code64
ap_long:
    mov     ax, 0x10
    mov     ds, ax
    mov     es, ax
    mov     ss, ax
    xor     eax, eax
    mov     fs, ax
    mov     gs, ax
    mov     rsp, qword ptr [AP_BASE + AP_STACK]
    mov     rdi, qword ptr [AP_BASE + AP_BLOCK]
    mov     rax, qword ptr [AP_BASE + AP_ENTRY]
    xor     ebp, ebp
    call    rax
2:  hlt
    jmp     2b

.org AP_GDT
ap_gdt:
    .quad   0
    .quad   0x00CF9A000000FFFF          // 0x08: 32-bit code
    .quad   0x00CF92000000FFFF          // 0x10: data
    .quad   0x00AF9A000000FFFF          // 0x18: 64-bit code
.org AP_GDT_POINTER
ap_gdt_pointer:
    .word   4 * 8 - 1
    .long   AP_BASE + AP_GDT
.org AP_ALIVE
.global ap_alive
ap_alive:
    .byte   0
// Parameters, written by smp.rs into the copy before each start-up IPI.
.org AP_CR3
.global ap_cr3
ap_cr3:     .quad 0
.global ap_stack
ap_stack:   .quad 0
.global ap_block
ap_block:   .quad 0
.global ap_entry
ap_entry:   .quad 0
.global ap_trampoline_end
ap_trampoline_end:

.text
