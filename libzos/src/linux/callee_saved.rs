//! The AArch64 callee-saved register block `fork` and `vfork` both keep:
//! x19–x30, sp and d8–d15 in 176 bytes (x29/x30 at 80, sp at 96, d8 at
//! 104). Each call site names the base register; x17 carries sp.

/// Stores the block at the address in `$base` (clobbers x17).
#[cfg(target_arch = "aarch64")]
#[rustfmt::skip]
macro_rules! store_callee_saved {
    ($base:literal) => {
        concat!(
            "stp x19, x20, [", $base, ", #0]\n",
            "stp x21, x22, [", $base, ", #16]\n",
            "stp x23, x24, [", $base, ", #32]\n",
            "stp x25, x26, [", $base, ", #48]\n",
            "stp x27, x28, [", $base, ", #64]\n",
            "stp x29, x30, [", $base, ", #80]\n",
            "mov x17, sp\n",
            "str x17, [", $base, ", #96]\n",
            "stp d8, d9, [", $base, ", #104]\n",
            "stp d10, d11, [", $base, ", #120]\n",
            "stp d12, d13, [", $base, ", #136]\n",
            "stp d14, d15, [", $base, ", #152]\n",
        )
    };
}

/// Loads the block from the address in `$base` (clobbers x17).
#[cfg(target_arch = "aarch64")]
#[rustfmt::skip]
macro_rules! load_callee_saved {
    ($base:literal) => {
        concat!(
            "ldp x19, x20, [", $base, ", #0]\n",
            "ldp x21, x22, [", $base, ", #16]\n",
            "ldp x23, x24, [", $base, ", #32]\n",
            "ldp x25, x26, [", $base, ", #48]\n",
            "ldp x27, x28, [", $base, ", #64]\n",
            "ldp x29, x30, [", $base, ", #80]\n",
            "ldr x17, [", $base, ", #96]\n",
            "mov sp, x17\n",
            "ldp d8, d9, [", $base, ", #104]\n",
            "ldp d10, d11, [", $base, ", #120]\n",
            "ldp d12, d13, [", $base, ", #136]\n",
            "ldp d14, d15, [", $base, ", #152]\n",
        )
    };
}
