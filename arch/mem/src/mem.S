// memcpy, memmove and memset for AArch64 (see lib.rs for why).
// x0 = destination (returned unchanged), x1 = source or fill byte,
// x2 = length. Scratch: x3-x11 (caller-saved; x18 is left alone).
// Unaligned ldp/stp are fine on Normal memory with SCTLR_EL1.A clear.

    .section .text.zos_mem, "ax", %progbits
    .global memcpy
    .type   memcpy, %function
    .p2align 4
memcpy:
    mov     x3, x0
    // Forward copy of x2 bytes from x1 to x3. Safe for memmove when the
    // destination lies below the source: each 64-byte block is loaded
    // whole before any of it is stored.
.Lforward:
    cmp     x2, #64
    b.lo    .Lforward16
.Lforward64:
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x1, #32]
    ldp     x10, x11, [x1, #48]
    add     x1, x1, #64
    sub     x2, x2, #64
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    stp     x8, x9, [x3, #32]
    stp     x10, x11, [x3, #48]
    add     x3, x3, #64
    cmp     x2, #64
    b.hs    .Lforward64
.Lforward16:
    cmp     x2, #16
    b.lo    .Lforward_tail
    ldp     x4, x5, [x1], #16
    stp     x4, x5, [x3], #16
    sub     x2, x2, #16
    b       .Lforward16
.Lforward_tail:
    // Fewer than 16 bytes: bits 3..0 of x2 say which pieces remain.
    tbz     x2, #3, 1f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
1:  tbz     x2, #2, 2f
    ldr     w4, [x1], #4
    str     w4, [x3], #4
2:  tbz     x2, #1, 3f
    ldrh    w4, [x1], #2
    strh    w4, [x3], #2
3:  tbz     x2, #0, 4f
    ldrb    w4, [x1]
    strb    w4, [x3]
4:  ret
    .size   memcpy, . - memcpy


    .global memmove
    .type   memmove, %function
    .p2align 4
memmove:
    mov     x3, x0
    // Forward unless the destination starts inside the source:
    // (dst - src) >= len, unsigned, also covers dst below src.
    sub     x4, x0, x1
    cmp     x4, x2
    b.hs    .Lforward
    // Backward, from the ends; each block is loaded whole before stored.
    add     x1, x1, x2
    add     x3, x3, x2
.Lbackward64:
    cmp     x2, #64
    b.lo    .Lbackward16
    ldp     x4, x5, [x1, #-16]
    ldp     x6, x7, [x1, #-32]
    ldp     x8, x9, [x1, #-48]
    ldp     x10, x11, [x1, #-64]
    sub     x1, x1, #64
    sub     x2, x2, #64
    stp     x4, x5, [x3, #-16]
    stp     x6, x7, [x3, #-32]
    stp     x8, x9, [x3, #-48]
    stp     x10, x11, [x3, #-64]
    sub     x3, x3, #64
    b       .Lbackward64
.Lbackward16:
    cmp     x2, #16
    b.lo    .Lbackward_tail
    ldp     x4, x5, [x1, #-16]!
    stp     x4, x5, [x3, #-16]!
    sub     x2, x2, #16
    b       .Lbackward16
.Lbackward_tail:
    tbz     x2, #3, 1f
    ldr     x4, [x1, #-8]!
    str     x4, [x3, #-8]!
1:  tbz     x2, #2, 2f
    ldr     w4, [x1, #-4]!
    str     w4, [x3, #-4]!
2:  tbz     x2, #1, 3f
    ldrh    w4, [x1, #-2]!
    strh    w4, [x3, #-2]!
3:  tbz     x2, #0, 4f
    ldrb    w4, [x1, #-1]
    strb    w4, [x3, #-1]
4:  ret
    .size   memmove, . - memmove


    .global memset
    .type   memset, %function
    .p2align 4
memset:
    // The fill byte in all eight bytes of x4.
    and     w1, w1, #0xff
    mov     x4, #0x0101010101010101
    mul     x4, x1, x4
    mov     x3, x0
.Lset64:
    cmp     x2, #64
    b.lo    .Lset16
    stp     x4, x4, [x3]
    stp     x4, x4, [x3, #16]
    stp     x4, x4, [x3, #32]
    stp     x4, x4, [x3, #48]
    add     x3, x3, #64
    sub     x2, x2, #64
    b       .Lset64
.Lset16:
    cmp     x2, #16
    b.lo    .Lset_tail
    stp     x4, x4, [x3], #16
    sub     x2, x2, #16
    b       .Lset16
.Lset_tail:
    tbz     x2, #3, 1f
    str     x4, [x3], #8
1:  tbz     x2, #2, 2f
    str     w4, [x3], #4
2:  tbz     x2, #1, 3f
    strh    w4, [x3], #2
3:  tbz     x2, #0, 4f
    strb    w4, [x3]
4:  ret
    .size   memset, . - memset
