//! `rdfsbase`/`wrfsbase` for user code on CPUs without FSGSBASE (`-cpu
//! qemu64`): there they raise `#UD`, and this module carries them out instead.
//!
//! libzos reads its thread pointer with a plain load (`fs:[IPC_BUFFER_SELF]`)
//! and sets it with `wrfsbase` once per thread, so the emulation costs one
//! trap per thread start and nothing on the IPC path. Only the forms libzos
//! emits are recognised: `F3 REX.W 0F AE /0` and `/2` with a register operand.
//! Anything else stays an undefined-instruction fault for the core.

use crate::cpu::MSR_FS_BASE;
use crate::exceptions::TrapFrame;
use crate::mmu;
use x86_64::registers::model_specific::Msr;

/// `#UD`: the invalid-opcode exception.
pub const INVALID_OPCODE: u64 = 6;
/// Length of the instructions recognised.
const LENGTH: usize = 5;

/// The FS-base instruction at the faulting `rip`, decoded.
#[derive(Debug, PartialEq, Eq)]
enum FsBase {
    Read(usize),
    Write(usize),
}

/// Decodes `F3 REX.W 0F AE /0|/2` with a register operand; `None` for
/// anything else. The register is 0-15 in the encoding's order (rax, rcx, …).
fn decode(bytes: [u8; LENGTH]) -> Option<FsBase> {
    let [prefix, rex, escape, opcode, modrm] = bytes;
    // REX.W set and REX.R/REX.X clear (the reg field is an opcode extension).
    if prefix != 0xF3 || rex & 0xFE != 0x48 || escape != 0x0F || opcode != 0xAE {
        return None;
    }
    if modrm >> 6 != 0b11 {
        return None;
    }
    let register = usize::from(modrm & 7) | (usize::from(rex & 1) << 3);
    match (modrm >> 3) & 7 {
        0 => Some(FsBase::Read(register)),
        2 => Some(FsBase::Write(register)),
        _ => None,
    }
}

fn register(frame: &mut TrapFrame, index: usize) -> &mut u64 {
    match index {
        0 => &mut frame.rax,
        1 => &mut frame.rcx,
        2 => &mut frame.rdx,
        3 => &mut frame.rbx,
        4 => &mut frame.rsp,
        5 => &mut frame.rbp,
        6 => &mut frame.rsi,
        7 => &mut frame.rdi,
        8 => &mut frame.r8,
        9 => &mut frame.r9,
        10 => &mut frame.r10,
        11 => &mut frame.r11,
        12 => &mut frame.r12,
        13 => &mut frame.r13,
        14 => &mut frame.r14,
        _ => &mut frame.r15,
    }
}

/// The user instruction bytes at `rip`, through the active user page table
/// (never a user-mode access from the kernel: a page unmapped meanwhile is
/// just "not emulated"). Only executable RAM pages are read.
fn fetch(rip: u64) -> Option<[u8; LENGTH]> {
    let mut bytes = [0u8; LENGTH];
    let root = mmu::active_root();
    for (offset, byte) in bytes.iter_mut().enumerate() {
        let va = rip.checked_add(offset as u64)?;
        let (page, flags) = mmu::translate_user(root, va)?;
        if !flags.execute || flags.device {
            return None;
        }
        // SAFETY: `page` is a RAM frame mapped in this user space, reached
        // through the kernel's linear map; reading a byte has no side effects.
        *byte = unsafe { *(mmu::phys_to_virt(page + (va & 0xfff)) as *const u8) };
    }
    Some(bytes)
}

fn canonical(address: u64) -> bool {
    let top = address >> 47;
    top == 0 || top == 0x1_ffff
}

/// Carries out an FS-base instruction that trapped with `#UD` from ring 3;
/// true if it did (the thread resumes after it), false if the trap is the
/// core's to handle.
#[cold]
pub fn fs_base_instruction(frame: &mut TrapFrame) -> bool {
    let Some(instruction) = fetch(frame.rip).and_then(decode) else {
        return false;
    };
    let fs_base = Msr::new(MSR_FS_BASE);
    match instruction {
        FsBase::Read(index) => {
            // SAFETY: reading the FS base MSR has no side effects.
            *register(frame, index) = unsafe { fs_base.read() };
        }
        FsBase::Write(index) => {
            let value = *register(frame, index);
            // The real instruction raises #GP here; the core reports the fault.
            if !canonical(value) {
                return false;
            }
            let mut fs_base = fs_base;
            // SAFETY: a canonical FS base affects only user-mode `fs:` accesses
            // of this thread; `save_tls` reads it back when the thread leaves.
            unsafe { fs_base.write(value) };
        }
    }
    frame.rip += LENGTH as u64;
    true
}
