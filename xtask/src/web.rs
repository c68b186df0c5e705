//! The browser port (docs/browser.md): `cargo xtask wasm` builds the kernel
//! cdylib and a wasm userland into `target/zos/wasm/`; `cargo xtask web`
//! adds the page (xterm.js vendored from npm) in `target/zos/web/` and serves
//! it on 127.0.0.1. The wasm builds use their own target folders: their
//! flags differ from the native builds', and sharing `target/` would rebuild
//! everything on each switch.

use crate::{cargo, cpio, root, run_checked, MULTI_CALL_BINARY, TOOL_NAMES, USER_PROGRAMS};
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
/// Link flags of every wasm program: `_start`, the function table (thread
/// entries are table indices) and the stack pointer (each thread's own) are
/// exported; the module's own stack is small, threads get theirs from libzos.
const USER_FLAGS: &str = "-C link-arg=--export=_start -C link-arg=--export-table \
     -C link-arg=--export=__stack_pointer -C link-arg=-zstack-size=65536 -C strip=debuginfo";

/// What `build_wasm` made.
pub struct WasmArtifacts {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
}

pub fn out_dir() -> PathBuf {
    root().join("target/zos/wasm")
}

/// Builds the kernel module, the wasm userland and its initramfs.
pub fn build_wasm() -> Result<WasmArtifacts, String> {
    let kernel_dir = root().join("target/wasm-kernel");
    let user_dir = root().join("target/wasm-user");
    run_checked(
        cargo()
            .args([
                "build",
                "--release",
                "-p",
                "zos-arch-wasm",
                "--target",
                TARGET,
            ])
            .arg("--target-dir")
            .arg(&kernel_dir)
            .env("RUSTFLAGS", "-C strip=debuginfo"),
        "wasm kernel build",
    )?;
    run_checked(
        cargo()
            .args(["build", "--release", "--target", TARGET])
            .arg("--target-dir")
            .arg(&user_dir)
            .args(
                USER_PROGRAMS
                    .iter()
                    .flat_map(|(package, _)| ["-p", package]),
            )
            .env("RUSTFLAGS", USER_FLAGS),
        "wasm userland build",
    )?;
    let out = out_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let kernel = out.join("kernel.wasm");
    let built = kernel_dir.join(format!("{TARGET}/release/zos_arch_wasm.wasm"));
    std::fs::copy(&built, &kernel).map_err(|e| format!("copying {}: {e}", built.display()))?;
    let mut archive = cpio::Archive::new();
    archive.add_tree(&root().join("initramfs"), "")?;
    archive.add_dir("sbin");
    for (_, program) in USER_PROGRAMS {
        let path = user_dir.join(format!("{TARGET}/release/{program}.wasm"));
        let data = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        archive.add_file(&format!("sbin/{program}"), 0o755, &data);
    }
    archive.add_dir("bin");
    archive.add_symlink("bin/sh", "/sbin/sh");
    for tool in TOOL_NAMES {
        archive.add_symlink(&format!("bin/{tool}"), MULTI_CALL_BINARY);
    }
    let initramfs = out.join("initramfs.cpio");
    std::fs::write(&initramfs, archive.finish())
        .map_err(|e| format!("writing {}: {e}", initramfs.display()))?;
    Ok(WasmArtifacts { kernel, initramfs })
}

/// Boots the wasm kernel under Node (no browser) and runs the shell steps of
/// `tests/browser/host.mjs`.
pub fn host_test(artifacts: &WasmArtifacts) -> Result<(), String> {
    run_checked(
        Command::new("node")
            .arg(root().join("tests/browser/host.mjs"))
            .arg(&artifacts.kernel)
            .arg(&artifacts.initramfs),
        "wasm host acceptance (node tests/browser/host.mjs)",
    )
}
