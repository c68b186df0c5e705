//! The Linux reference of the benchmark figures (`cargo xtask bench --arch
//! x86_64 linux`): Debian's kernel (the version the `linux-image-amd64`
//! package names now, fetched with `apt-get download` into
//! `target/zos/linux-ref/`) boots in the same QEMU as Zero OS's benchmarks,
//! under `-icount shift=0`, with a one-file initramfs whose /init is
//! `tests/linux-ref/bench.c` built static by the host's C compiler. Its rows
//! carry ktest's names with a `linux_` prefix, so the two read side by side.
//!
//! Only x86_64 for now: an AArch64 reference needs an aarch64 Linux C
//! compiler and the arm64 package index (docs/porting.md has AArch64 Linux
//! figures measured by hand).

use crate::arch::Arch;
use crate::{cpio, root, tools};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the Linux run may take (it takes about 30 s of a host core).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Boots Linux with the benchmark as /init; its rows, `linux_`-prefixed, in
/// guest instructions (the kernel's version in the row names' place: printed).
pub fn bench(arch: Arch) -> Result<Vec<(String, u64)>, String> {
    if arch != Arch::X86_64 {
        return Err(
            "bench linux: x86_64 only so far (an AArch64 reference needs an aarch64 Linux C \
             compiler and the arm64 package index)"
                .into(),
        );
    }
    tools::ensure(&["cc", "apt-get", "apt-cache", "dpkg-deb", arch.qemu()])?;
    let dir = root().join("target/zos/linux-ref");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kernel = fetch_kernel(&dir, "linux-image-amd64")?;
    let init = dir.join("init");
    let source = root().join("tests/linux-ref/bench.c");
    let built = Command::new("cc")
        .args(["-O2", "-static", "-pthread", "-o"])
        .arg(&init)
        .arg(&source)
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !built.success() {
        return Err(format!("cc could not build {}", source.display()));
    }
    let mut archive = cpio::Archive::new();
    let program = std::fs::read(&init).map_err(|e| format!("{}: {e}", init.display()))?;
    archive.add_file("init", 0o755, &program);
    let initrd = dir.join("initrd.cpio");
    std::fs::write(&initrd, archive.finish()).map_err(|e| format!("{}: {e}", initrd.display()))?;

    println!("bench linux: {} in QEMU, -icount shift=0", kernel.display());
    let mut qemu = arch.qemu_command();
    qemu.arg("-kernel").arg(&kernel).arg("-initrd").arg(&initrd);
    qemu.args(["-append", "console=ttyS0 quiet panic=-1"]);
    qemu.args(["-icount", "shift=0", "-nic", "none", "-no-reboot"]);
    let text = run_with_limit(qemu, RUN_LIMIT)?;
    let rows: Vec<(String, u64)> = text
        .lines()
        // The firmware's escape sequences may come first on a line.
        .filter_map(|l| l.split_once("bench: ").map(|(_, row)| row))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((format!("linux_{name}"), value.trim().parse().ok()?))
        })
        .collect();
    if !text.contains("bench: done") {
        return Err(format!("the Linux benchmark run did not finish:\n{text}"));
    }
    Ok(rows)
}

/// The kernel image of the package `meta` depends on (downloaded and
/// unpacked once under `dir`).
fn fetch_kernel(dir: &Path, meta: &str) -> Result<PathBuf, String> {
    let depends = Command::new("apt-cache")
        .args(["depends", meta])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    let depends = String::from_utf8_lossy(&depends.stdout);
    let package = depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .ok_or_else(|| format!("apt-cache depends {meta} names no kernel package"))?
        .to_string();
    let unpacked = dir.join(&package);
    let find_image = |boot: &Path| -> Option<PathBuf> {
        std::fs::read_dir(boot)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
    };
    if let Some(image) = find_image(&unpacked.join("boot")) {
        return Ok(image);
    }
    let status = Command::new("apt-get")
        .args(["download", &package])
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("apt-get: {e}"))?;
    let deb = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
        .ok_or_else(|| format!("apt-get download {package} failed ({status})"))?;
    let unpack = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    if !unpack.success() {
        return Err(format!("dpkg-deb -x {} failed", deb.display()));
    }
    find_image(&unpacked.join("boot"))
        .ok_or_else(|| format!("{} holds no boot/vmlinuz-*", deb.display()))
}

/// Runs `command` to its end and returns its standard output; past `limit`
/// the process (ours, by its PID) is killed and the run is an error.
fn run_with_limit(mut command: Command, limit: Duration) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("qemu: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("qemu: no standard output")?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                let text = reader.join().unwrap_or_default();
                return Err(format!("Linux did not power off within {limit:?}:\n{text}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("qemu: {e}")),
        }
    }
    reader
        .join()
        .map_err(|_| "qemu: output reader failed".to_string())
}
