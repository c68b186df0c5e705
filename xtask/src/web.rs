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

/// Bad programs for the host acceptance test: a module whose `_start` hits
/// `unreachable`, one that loads far outside its memory, and one with a
/// good header but garbage after it (refused when the kernel compiles it).
const BAD_MODULES: [(&str, &[u8]); 3] = [
    ("unreachable", &module_with_body(&[0x03, 0x00, 0x00, 0x0b])),
    (
        "out-of-bounds",
        // i32.const 0x7fffffff; i32.load; drop; end
        &module_with_body(&[
            0x0c, 0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x28, 0x02, 0x00, 0x1a, 0x0b,
        ]),
    ),
    ("malformed", b"\0asm\x01\0\0\0\x01\xffgarbage"),
];

/// A minimal module: one memory page, `_start: fn(i64)` whose body (size
/// byte first) is `body` (at most 16 bytes), both exported.
const fn module_with_body(body: &[u8]) -> [u8; 64] {
    let head: [u8; 42] = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x05, 0x01, 0x60, 0x01, 0x7e, 0x00, // type: (i64) -> ()
        0x03, 0x02, 0x01, 0x00, // function 0 has type 0
        0x05, 0x03, 0x01, 0x00, 0x01, // one memory, one page
        0x07, 0x13, 0x02, // exports: memory, _start
        0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, //
        0x06, b'_', b's', b't', b'a', b'r', //
    ];
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    // "t", func 0, then the code section holding one body.
    out[42] = b't';
    out[43] = 0x00;
    out[44] = 0x00;
    out[45] = 0x0a;
    out[46] = (body.len() + 1) as u8;
    out[47] = 0x01;
    let mut j = 0;
    while j < body.len() {
        out[48 + j] = body[j];
        j += 1;
    }
    // A module shorter than 64 bytes ends in zero padding, which the kernel
    // trims (a section id 0 of size 0 is never valid).
    out
}

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
    archive.add_dir("usr/share/wasm-tests");
    for (name, module) in BAD_MODULES {
        archive.add_file(&format!("usr/share/wasm-tests/{name}"), 0o755, module);
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
