//! The browser port (docs/browser.md): `cargo xtask wasm` builds the kernel
//! cdylib and a wasm userland into `target/zos/wasm/`; `cargo xtask web`
//! adds the page (xterm.js vendored from npm) in `target/zos/web/` and serves
//! it on 127.0.0.1. The wasm builds use their own target folders: their
//! flags differ from the native builds', and sharing `target/` would rebuild
//! everything on each switch.

use crate::{
    cargo_release, cpio, root, run_checked, DENY_WARNINGS, MULTI_CALL_BINARY, TOOL_NAMES,
    USER_PROGRAMS,
};
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
/// Link flags of every wasm program: `_start`, the function table (thread
/// entries are table indices) and the stack pointer (each thread's own) are
/// exported; the module's own stack is small, threads get theirs from libzos.
const USER_FLAGS: &str = "-C link-arg=--export=_start -C link-arg=--export-table \
     -C link-arg=--export=__stack_pointer -C link-arg=-zstack-size=65536 -C strip=debuginfo";

/// Bad programs for the host acceptance test: a module whose `_start` hits
/// `unreachable`, one that loads far outside its memory, one asking for a
/// 1.2 GiB memory (past `LINEAR_TOP`: refused before the kernel allocates it), and one with a
/// good header but garbage after it (refused when the kernel compiles it).
fn bad_modules() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("unreachable", module(1, &[0x00, 0x00, 0x0b])),
        (
            "out-of-bounds",
            // i32.const 0x7fffffff; i32.load; drop; end
            module(
                1,
                &[
                    0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x28, 0x02, 0x00, 0x1a, 0x0b,
                ],
            ),
        ),
        ("huge-memory", module(20_000, &[0x00, 0x0b])),
        ("malformed", b"\0asm\x01\0\0\0\x01\xffgarbage".to_vec()),
    ]
}

/// A minimal module: a memory of `pages` pages and `_start: fn(i64)` with
/// `body` (locals and code), both exported.
fn module(pages: u32, body: &[u8]) -> Vec<u8> {
    fn leb(mut value: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(content.len() as u32, out);
        out.extend_from_slice(content);
    }
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[0x01, 0x60, 0x01, 0x7e, 0x00], &mut out); // type: (i64) -> ()
    section(3, &[0x01, 0x00], &mut out); // function 0 has type 0
    let mut memory = vec![0x01, 0x00];
    leb(pages, &mut memory);
    section(5, &memory, &mut out);
    let mut exports = vec![0x02];
    exports.extend_from_slice(b"\x06memory\x02\x00\x06_start\x00\x00");
    section(7, &exports, &mut out);
    let mut code = vec![0x01];
    leb(body.len() as u32, &mut code);
    code.extend_from_slice(body);
    section(10, &code, &mut out);
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

/// Device drivers and the disk file system have nothing to drive in a page
/// (docs/browser.md: no block devices); every other program of the native
/// boot archive runs.
const NOT_IN_BROWSER: [&str; 4] = ["zos-devmgr", "zos-virtio-blk", "zos-virtio-net", "zos-ext2"];

fn browser_programs() -> Vec<(&'static str, &'static str)> {
    USER_PROGRAMS
        .iter()
        .copied()
        .filter(|(package, _)| !NOT_IN_BROWSER.contains(package))
        .collect()
}

/// Builds the kernel module, the wasm userland and its initramfs.
pub fn build_wasm() -> Result<WasmArtifacts, String> {
    let kernel_dir = root().join("target/wasm-kernel");
    let user_dir = root().join("target/wasm-user");
    run_checked(
        cargo_release("build", TARGET, ["zos-arch-wasm"])
            .arg("--target-dir")
            .arg(&kernel_dir)
            .env("RUSTFLAGS", "-C strip=debuginfo"),
        "wasm kernel build",
    )?;
    run_checked(
        cargo_release(
            "build",
            TARGET,
            browser_programs().iter().map(|(package, _)| *package),
        )
        .arg("--target-dir")
        .arg(&user_dir)
        .env("RUSTFLAGS", USER_FLAGS),
        "wasm userland build",
    )?;
    // Clippy for what only wasm32 compiles: the backend, libzos's wasm32
    // arch file and the console's terminal (the rest is checked natively).
    run_checked(
        cargo_release("clippy", TARGET, ["zos-arch-wasm"])
            .arg("--target-dir")
            .arg(&kernel_dir)
            .env("RUSTFLAGS", "-C strip=debuginfo")
            .args(DENY_WARNINGS),
        "wasm kernel clippy",
    )?;
    run_checked(
        cargo_release("clippy", TARGET, ["libzos", "zos-console"])
            .arg("--target-dir")
            .arg(&user_dir)
            .env("RUSTFLAGS", USER_FLAGS)
            .args(DENY_WARNINGS),
        "wasm userland clippy",
    )?;
    let out = out_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let kernel = out.join("kernel.wasm");
    let built = kernel_dir.join(format!("{TARGET}/release/zos_arch_wasm.wasm"));
    std::fs::copy(&built, &kernel).map_err(|e| format!("copying {}: {e}", built.display()))?;
    let mut archive = cpio::Archive::new();
    archive.add_tree(&root().join("initramfs"), "")?;
    archive.add_dir("sbin");
    for (_, program) in browser_programs() {
        let path = user_dir.join(format!("{TARGET}/release/{program}.wasm"));
        let data = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        archive.add_file(&format!("sbin/{program}"), 0o755, &data);
    }
    archive.add_dir("usr/share/wasm-tests");
    for (name, module) in bad_modules() {
        archive.add_file(&format!("usr/share/wasm-tests/{name}"), 0o755, &module);
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
    // The kernel runs synchronously inside `node`: a kernel that never
    // returns from `kernel_run` would hang the test, so coreutils' timeout
    // bounds the whole run.
    run_checked(
        Command::new("timeout")
            .args(["600", "node"])
            .arg(root().join("tests/browser/host.mjs"))
            .arg(&artifacts.kernel)
            .arg(&artifacts.initramfs),
        "wasm host acceptance (node tests/browser/host.mjs)",
    )
}

/// npm packages the page and its test use, at pinned versions: installed
/// into `target/zos/npm` at build time (xterm.js is copied into the page,
/// puppeteer-core drives Debian's chromium in the test).
const NPM_PACKAGES: [&str; 2] = ["@xterm/xterm@6.0.0", "puppeteer-core@25.16.0"];

fn npm_dir() -> PathBuf {
    root().join("target/zos/npm")
}

/// Builds `target/zos/web/`: the page, its script, xterm.js from npm, the
/// kernel and the initramfs.
pub fn build_web() -> Result<PathBuf, String> {
    let artifacts = build_wasm()?;
    let npm = npm_dir();
    std::fs::create_dir_all(&npm).map_err(|e| format!("creating {}: {e}", npm.display()))?;
    if NPM_PACKAGES
        .iter()
        .any(|p| !npm.join("node_modules").join(package_name(p)).exists())
    {
        run_checked(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&npm)
                .args(NPM_PACKAGES),
            "npm install (xterm.js, puppeteer-core)",
        )?;
    }
    let web = root().join("target/zos/web");
    let vendor = web.join("vendor");
    std::fs::create_dir_all(&vendor).map_err(|e| format!("creating {}: {e}", vendor.display()))?;
    let xterm = npm.join("node_modules/@xterm/xterm");
    let copies = [
        (xterm.join("lib/xterm.mjs"), vendor.join("xterm.mjs")),
        (xterm.join("css/xterm.css"), vendor.join("xterm.css")),
        (xterm.join("LICENSE"), vendor.join("xterm.LICENSE")),
        (root().join("web/index.html"), web.join("index.html")),
        (root().join("web/zos.js"), web.join("zos.js")),
        (artifacts.kernel.clone(), web.join("kernel.wasm")),
        (artifacts.initramfs.clone(), web.join("initramfs.cpio")),
    ];
    for (from, to) in copies {
        std::fs::copy(&from, &to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    }
    Ok(web)
}

fn package_name(spec: &str) -> &str {
    match spec.rfind('@') {
        Some(at) if at > 0 => &spec[..at],
        _ => spec,
    }
}

/// `cargo xtask web [--port N] [--check]`: builds the page and serves it on
/// 127.0.0.1 until interrupted; `--check` instead opens it in headless
/// Chromium (tests/browser/page.mjs) and stops.
pub fn web(args: &[String]) -> Result<(), String> {
    let check = args.iter().any(|a| a == "--check");
    let port = match args.iter().position(|a| a == "--port") {
        Some(at) => args
            .get(at + 1)
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or("--port needs a number")?,
        None if check => 0,
        None => 8018,
    };
    let web = build_web()?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{address}/");
    let root_dir = web.clone();
    std::thread::spawn(move || serve(listener, &root_dir));
    if !check {
        println!("Zero OS page: {url} (Ctrl-C stops the server)");
        loop {
            std::thread::park();
        }
    }
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("no chromium (apt-get install chromium)")?;
    run_checked(
        Command::new("timeout")
            .args(["900", "node"])
            .arg(root().join("tests/browser/page.mjs"))
            .arg(&url)
            .arg(web.join("screenshot.png"))
            .env("CHROMIUM", chromium)
            .env("NODE_PATH", npm_dir().join("node_modules")),
        "browser acceptance (node tests/browser/page.mjs)",
    )
}

/// A static file server for the page: GET only, files under `root` only.
fn serve(listener: std::net::TcpListener, root: &std::path::Path) {
    use std::io::{BufRead, BufReader, Write};
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let path = path.split('?').next().unwrap_or("/");
        let name = if path == "/" {
            "index.html"
        } else {
            path.trim_start_matches('/')
        };
        let safe = !name.split('/').any(|part| part == ".." || part.is_empty());
        let body = if safe {
            std::fs::read(root.join(name)).ok()
        } else {
            None
        };
        let response = match body {
            Some(body) => {
                let kind = match name.rsplit('.').next() {
                    Some("html") => "text/html; charset=utf-8",
                    Some("js" | "mjs") => "text/javascript",
                    Some("css") => "text/css",
                    Some("wasm") => "application/wasm",
                    Some("png") => "image/png",
                    _ => "application/octet-stream",
                };
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            }
            None => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = stream.write_all(&response);
    }
}
