// Interrupt, exception and syscall entry, and the return to user mode.
//
// Every entry builds a `TrapFrame` (exceptions.rs): 15 general registers,
// vector, error code, then the hardware frame (rip, cs, rflags, rsp, ss).
// While a user thread runs, TSS.rsp0 and `syscall_frame_end` point just past
// that thread's saved frame, so a trap from user mode saves the registers
// straight into the thread; the handler then switches to the kernel stack.
// Traps from ring 0 (the kernel idles with interrupts open only in `hlt`)
// save onto the kernel stack itself.
//
// Per-CPU words are reached through the GS base (smp.rs, `PerCpu`): gs:16
// the kernel stack top, gs:24 `syscall_frame_end`, gs:32 the user rsp during
// `syscall` entry, gs:40 this CPU's TSS. Every entry from ring 3 and every
// return to it runs `swapgs`, so user code never holds the kernel's GS base.

.equ FRAME_SIZE, 176

.macro PUSH_GPRS
    push    rax
    push    rbx
    push    rcx
    push    rdx
    push    rsi
    push    rdi
    push    rbp
    push    r8
    push    r9
    push    r10
    push    r11
    push    r12
    push    r13
    push    r14
    push    r15
.endm

.macro POP_GPRS
    pop     r15
    pop     r14
    pop     r13
    pop     r12
    pop     r11
    pop     r10
    pop     r9
    pop     r8
    pop     rbp
    pop     rdi
    pop     rsi
    pop     rdx
    pop     rcx
    pop     rbx
    pop     rax
.endm

// 256 stubs of 16 bytes each (the IDT points entry n at trap_vectors + 16 n).
// Vectors whose exceptions push an error code (8, 10-14, 17, 21, 29, 30) skip
// the dummy one. Pushes are spelled as bytes: `push imm` with a symbol is a
// memory operand in Intel syntax.
.text
.balign 16
.global trap_vectors
trap_vectors:
.set vec, 0
.rept 256
.balign 16
.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
.else
    .byte 0x6a, 0x00                    // push 0
.endif
    .byte 0x68                          // push imm32: the vector
    .long vec
    jmp     trap_common
.set vec, vec + 1
.endr

trap_common:
    // An interrupt or exception keeps the interrupted code's direction flag
    // (only `syscall` clears it, through FMASK): user mode may have set it
    // with `std`, and the kernel's string copies assume it clear.
    cld
    test    qword ptr [rsp + 24], 3     // cs of the interrupted code
    jnz     1f
    PUSH_GPRS
    mov     rdi, rsp
    call    handle_kernel_trap
    POP_GPRS
    add     rsp, 16
    iretq
1:  swapgs
    PUSH_GPRS
    mov     rdi, rsp
    mov     rsp, qword ptr gs:[16]      // the kernel stack top
    call    handle_user_trap            // returns the frame to resume
    mov     rdi, rax
    jmp     resume_user

// `syscall`: rcx = user rip, r11 = user rflags, rsp still the user's.
// Interrupts are off (FMASK clears IF).
.global syscall_entry
syscall_entry:
    swapgs
    mov     qword ptr gs:[32], rsp      // the user rsp
    mov     rsp, qword ptr gs:[24]      // syscall_frame_end
    push    0x1b                        // ss: user data
    push    qword ptr gs:[32]
    push    r11                         // rflags
    push    0x23                        // cs: user code
    push    rcx                         // rip
    push    0                           // error code
    push    256                         // vector: syscall
    PUSH_GPRS
    mov     rdi, rsp
    mov     rsp, qword ptr gs:[16]      // the kernel stack top
    call    handle_user_trap
    mov     rdi, rax
    // fall through

// resume_user(frame): restores a user thread's frame and returns to it.
.global resume_user
resume_user:
    lea     rax, [rdi + FRAME_SIZE]
    mov     qword ptr gs:[24], rax      // syscall_frame_end
    mov     rcx, qword ptr gs:[40]      // this CPU's TSS
    mov     qword ptr [rcx + 4], rax    // TSS.rsp0
    mov     rsp, rdi
    POP_GPRS
    add     rsp, 16
    swapgs
    iretq
