// Exception vectors.
//
// Every entry saves a full `TrapFrame` (x0-x30, ELR, SPSR, SP_EL0: 34 words) at
// the current SP_EL1. While a user thread runs, SP_EL1 points just past that
// thread's saved-register block, so a trap from EL0 stores the user registers
// straight into the thread; the handler then switches to the per-CPU kernel stack
// kept in TPIDR_EL1. Traps taken in EL1 save onto the kernel stack itself.

.equ FRAME_SIZE, 272

.macro SAVE_FRAME
    sub     sp, sp, #FRAME_SIZE
    SAVE_REGISTERS
.endm

// The registers into the frame at SP.
.macro SAVE_REGISTERS
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x21, elr_el1
    stp     x30, x21, [sp, #240]
    mrs     x22, spsr_el1
    mrs     x23, sp_el0
    stp     x22, x23, [sp, #256]
.endm

.macro RESTORE_FRAME
    ldp     x22, x23, [sp, #256]
    msr     spsr_el1, x22
    msr     sp_el0, x23
    ldp     x30, x21, [sp, #240]
    msr     elr_el1, x21
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #FRAME_SIZE
.endm

// kind: 0 sync, 1 irq, 2 fiq, 3 serror; +4 when taken from EL1 with SP_EL0,
// +8 from EL1 with SP_EL1 (kernel), +12 from EL0 (user).
//
// A kernel entry first checks that the frame fits on the kernel stack: every
// stack is the upper half of a 128 KiB-aligned slot (linker.ld), so an SP
// with bit 16 clear has run off its stack's bottom. Pushing the frame there
// would fault again and again; instead `kernel_stack_overflow` reports it.
// No register is free yet, so x0 is parked in SP for the test (SP + x0 - SP
// gives x0 back), as Linux's arm64 entry does.
.macro KERNEL_ENTRY kind
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    add     sp, sp, x0                  // sp = frame + x0
    sub     x0, sp, x0                  // x0 = frame
    tbz     x0, #16, kernel_stack_overflow
    sub     x0, sp, x0                  // x0 = x0
    sub     sp, sp, x0                  // sp = frame
    SAVE_REGISTERS
    mov     x0, sp
    mov     x1, #\kind
    b       kernel_trap_common
.endm

.macro USER_ENTRY kind
.balign 0x80
    SAVE_FRAME
    mov     x0, sp
    mov     x1, #\kind
    b       user_trap_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    KERNEL_ENTRY 0      // current EL, SP_EL0
    KERNEL_ENTRY 1
    KERNEL_ENTRY 2
    KERNEL_ENTRY 3
    KERNEL_ENTRY 8      // current EL, SP_ELx (the kernel)
    KERNEL_ENTRY 9
    KERNEL_ENTRY 10
    KERNEL_ENTRY 11
    USER_ENTRY 12       // lower EL, AArch64
    USER_ENTRY 13
    USER_ENTRY 14
    USER_ENTRY 15
    KERNEL_ENTRY 16     // lower EL, AArch32 (never allowed)
    KERNEL_ENTRY 17
    KERNEL_ENTRY 18
    KERNEL_ENTRY 19

// SP ran off the bottom of this CPU's kernel stack: report on the slot's
// overflow stack (its first 8 KiB; TPIDR_EL1 is the CPU's block, in the
// same slot) and stop. Nothing here returns, so x0 and SP may be lost.
kernel_stack_overflow:
    mrs     x0, tpidr_el1
    and     x0, x0, #0xfffffffffffe0000 // the slot's base
    add     x0, x0, #(8 * 1024)         // the overflow stack's top
    mov     sp, x0
    bl      handle_kernel_stack_overflow

kernel_trap_common:
    bl      handle_kernel_trap
    RESTORE_FRAME
    eret

user_trap_common:
    mrs     x2, tpidr_el1               // per-CPU kernel stack top
    mov     sp, x2
    bl      handle_user_trap            // never returns: it ends in resume_user
.global resume_user
resume_user:
    mov     sp, x0
    RESTORE_FRAME
    eret
