// PVH entry: QEMU (through its PVH option ROM) jumps to `pvh_start32` in 32-bit
// protected mode, paging off, with the physical address of the hvm_start_info
// in ebx. We build boot page tables (2 MiB pages: the first 4 GiB identity
// mapped, at the linear map 0xFFFF800000000000, and the first GiB at the
// kernel base 0xFFFFFFFF80000000), enter long mode and jump to the higher half.
// Rust replaces these tables with W^X ones (mmu.rs) soon after.

.section .note.Xen, "a", @note
.balign 4
.long 4             // name size ("Xen\0")
.long 4             // descriptor size
.long 18            // XEN_ELFNOTE_PHYS32_ENTRY
.asciz "Xen"
.balign 4
.long pvh_start32

.section .text.boot32, "ax"
.code32
.global pvh_start32
pvh_start32:
    cli
    cld
    mov     esi, ebx                    // hvm_start_info (physical), kept in esi
    // PML4: [0] and [256] -> low PDPT, [511] -> high PDPT
    mov     eax, offset boot_pdpt_low
    or      eax, 3
    mov     dword ptr [boot_pml4], eax
    mov     dword ptr [boot_pml4 + 256 * 8], eax
    mov     eax, offset boot_pdpt_high
    or      eax, 3
    mov     dword ptr [boot_pml4 + 511 * 8], eax
    // low PDPT: four page directories (4 GiB); high PDPT [510] -> first GiB
    mov     eax, offset boot_pd
    or      eax, 3
    mov     dword ptr [boot_pdpt_low], eax
    mov     dword ptr [boot_pdpt_high + 510 * 8], eax
    add     eax, 4096
    mov     dword ptr [boot_pdpt_low + 8], eax
    add     eax, 4096
    mov     dword ptr [boot_pdpt_low + 16], eax
    add     eax, 4096
    mov     dword ptr [boot_pdpt_low + 24], eax
    // 2048 directory entries of 2 MiB: present, writable, large
    xor     ecx, ecx
1:  mov     eax, ecx
    shl     eax, 21
    or      eax, 0x83
    mov     dword ptr [boot_pd + ecx * 8], eax
    mov     edx, ecx
    shr     edx, 11
    mov     dword ptr [boot_pd + ecx * 8 + 4], edx
    inc     ecx
    cmp     ecx, 2048
    jb      1b
    // CR4.PAE, CR3, EFER.LME|NXE|SCE, then paging (and write protect)
    mov     eax, cr4
    or      eax, 1 << 5
    mov     cr4, eax
    mov     eax, offset boot_pml4
    mov     cr3, eax
    mov     ecx, 0xC0000080
    rdmsr
    or      eax, (1 << 8) | (1 << 11) | 1
    wrmsr
    mov     eax, cr0
    or      eax, (1 << 31) | (1 << 16) | 1
    mov     cr0, eax
    lgdt    [boot_gdt_pointer]
    mov     eax, 0x08
    push    eax
    mov     eax, offset pvh_start64
    push    eax
    retf

.code64
pvh_start64:
    mov     ax, 0x10
    mov     ds, ax
    mov     es, ax
    mov     ss, ax
    xor     eax, eax
    mov     fs, ax
    mov     gs, ax
    movabs  rax, offset pvh_high64
    jmp     rax

.section .data.boot32, "aw"
.balign 4096
boot_pml4:      .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 2048, 8, 0
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF            // 0x08: 64-bit kernel code
    .quad 0x00CF92000000FFFF            // 0x10: kernel data
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

.text
pvh_high64:
    movabs  rsp, offset __boot_stack_top
    mov     edi, esi                    // argument: hvm_start_info (physical)
    xor     ebp, ebp
    call    kernel_main
2:  hlt
    jmp     2b
