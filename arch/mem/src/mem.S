// memcpy, memmove and memset for AArch64 (see lib.rs for why).
// x0 = destination (returned unchanged), x1 = source or fill byte,
// x2 = length. Scratch: x3-x13 (caller-saved; x18 is left alone).
// Unaligned ldp/stp are fine on Normal memory with SCTLR_EL1.A clear.
//
// Up to 64 bytes are copied as a head and a tail that may overlap (16..32
// bytes: the first 16 and the last 16), every load before any store, so
// those paths are right for overlapping buffers in either direction too.
// Longer copies move 64 bytes a turn with post-indexed pairs (ten
// instructions a turn), then finish the rest (under 64) the same way.

    .section .text.zos_mem, "ax", %progbits
    .global memcpy
    .type   memcpy, %function
    .p2align 4
memcpy:
    mov     x3, x0
    // Forward copy of x2 bytes from x1 to x3. Safe for memmove when the
    // destination lies below the source: each 64-byte block is loaded
    // whole before any of it is stored, and the rest after the loop is
    // read only from source bytes no store has reached.
.Lforward:
    cmp     x2, #64
    b.hi    .Lforward_large
    add     x12, x1, x2
    add     x13, x3, x2
    cmp     x2, #16
    b.lo    .Lsmall16
    cmp     x2, #32
    b.hi    .Lupto64
    // 16..32 bytes.
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x12, #-16]
    stp     x4, x5, [x3]
    stp     x6, x7, [x13, #-16]
    ret
.Lupto64:
    // 33..64 bytes.
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x12, #-32]
    ldp     x10, x11, [x12, #-16]
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    stp     x8, x9, [x13, #-32]
    stp     x10, x11, [x13, #-16]
    ret
.Lsmall16:
    // 0..15 bytes.
    tbz     x2, #3, .Lsmall8
    ldr     x4, [x1]
    ldr     x5, [x12, #-8]
    str     x4, [x3]
    str     x5, [x13, #-8]
    ret
.Lsmall8:
    tbz     x2, #2, .Lsmall4
    ldr     w4, [x1]
    ldr     w5, [x12, #-4]
    str     w4, [x3]
    str     w5, [x13, #-4]
    ret
.Lsmall4:
    cbz     x2, .Ldone
    ldrb    w5, [x12, #-1]
    cmp     x2, #2
    b.lo    .Lone
    ldrh    w4, [x1]
    strh    w4, [x3]
    strb    w5, [x13, #-1]
    ret
.Lone:
    strb    w5, [x3]
.Ldone:
    ret
.Lforward_large:
    // More than 64 bytes: x2 counts what is left after this turn.
    sub     x2, x2, #64
.Lforward64:
    ldp     x4, x5, [x1], #64
    ldp     x6, x7, [x1, #-48]
    ldp     x8, x9, [x1, #-32]
    ldp     x10, x11, [x1, #-16]
    stp     x4, x5, [x3], #64
    stp     x6, x7, [x3, #-48]
    stp     x8, x9, [x3, #-32]
    stp     x10, x11, [x3, #-16]
    subs    x2, x2, #64
    b.hs    .Lforward64
    // Under 64 bytes left (x2 + 64).
    add     x2, x2, #64
    b       .Lforward
    .size   memcpy, . - memcpy


    .global memmove
    .type   memmove, %function
    .p2align 4
memmove:
    mov     x3, x0
    // Forward unless the destination starts inside the source:
    // (dst - src) >= len, unsigned, also covers dst below src. Up to 64
    // bytes go forward anyway: those paths load everything first.
    sub     x4, x0, x1
    cmp     x4, x2
    b.hs    .Lforward
    cmp     x2, #64
    b.ls    .Lforward
    // Backward, from the ends; each block is loaded whole before stored.
    add     x1, x1, x2
    add     x3, x3, x2
.Lbackward64:
    cmp     x2, #64
    b.lo    .Lbackward16
    ldp     x4, x5, [x1, #-16]
    ldp     x6, x7, [x1, #-32]
    ldp     x8, x9, [x1, #-48]
    ldp     x10, x11, [x1, #-64]!
    sub     x2, x2, #64
    stp     x4, x5, [x3, #-16]
    stp     x6, x7, [x3, #-32]
    stp     x8, x9, [x3, #-48]
    stp     x10, x11, [x3, #-64]!
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
    add     x5, x0, x2
    cmp     x2, #64
    b.hi    .Lset_large
    // Up to 64 bytes: a head and a tail that may overlap.
    cmp     x2, #16
    b.lo    .Lset_small16
    stp     x4, x4, [x3]
    stp     x4, x4, [x5, #-16]
    cmp     x2, #32
    b.ls    .Lset_done
    stp     x4, x4, [x3, #16]
    stp     x4, x4, [x5, #-32]
    ret
.Lset_small16:
    tbz     x2, #3, .Lset_small8
    str     x4, [x3]
    str     x4, [x5, #-8]
    ret
.Lset_small8:
    tbz     x2, #2, .Lset_small4
    str     w4, [x3]
    str     w4, [x5, #-4]
    ret
.Lset_small4:
    cbz     x2, .Lset_done
    strb    w4, [x3]
    tbz     x2, #1, .Lset_done
    strh    w4, [x5, #-2]
.Lset_done:
    ret
.Lset_large:
    // More than 64 bytes: 64 a turn, then the last 64 (overlapping what
    // is already set) end exactly at the end.
    sub     x2, x2, #64
.Lset64:
    stp     x4, x4, [x3], #64
    stp     x4, x4, [x3, #-48]
    stp     x4, x4, [x3, #-32]
    stp     x4, x4, [x3, #-16]
    subs    x2, x2, #64
    b.hi    .Lset64
    stp     x4, x4, [x5, #-64]
    stp     x4, x4, [x5, #-48]
    stp     x4, x4, [x5, #-32]
    stp     x4, x4, [x5, #-16]
    ret
    .size   memset, . - memset
