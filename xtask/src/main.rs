//! `cargo xtask`: builds Zero OS, packs the initramfs, boots QEMU, runs the tests
//! and the benchmarks. Pure Rust, no build scripts of its own beyond cargo.
//!
//! Commands:
//! - `build`              kernel + userland + initramfs into `target/zos/<arch>/`
//! - `run [-- ARGS]`      build, then boot QEMU on the serial console
//! - `test [NAME…]`       host tests, fmt, clippy, acceptance scripts (all, or NAME)
//! - `bench [GROUP…]`     boot QEMU and print per-operation figures (bench.json);
//!   group `linux` (only when named) boots Debian's Linux with the same rows
//! - `disk`               (re)create `target/zos/disk.img`, the ext2 disk `run` attaches
//!
//! `build`, `run` and `bench` take `--arch aarch64|x86_64` (default aarch64);
//! `test` builds both (the x86_64 scripts get `ZOS_X86_KERNEL`/`ZOS_X86_INITRD`).
//! - `sysroot`            musl + libzos C runtime + `zos-cc` in `target/zos/sysroot/` (docs/porting.md)
//! - `cc ARGS…`           compile C for Zero OS (`zos-cc`)
//! - `check`              `test` without QEMU: lines, host tests, fmt, clippy for every target
//! - `lines`              code lines of the kernel core (limit 3,000), boot and arch crates
//! - `axiom replay FILE`  replay an Axiom log (frames, a serial log with `axiom export`,
//!   or a disk image / Axiom's partition) and check its chain and state hashes;
//!   `axiom diff [--until N] A B` the first differing commit (of the first N only);
//!   `axiom show FILE [FROM [TO]]` the commits numbered FROM to TO, one a line

mod arch;
mod axiom;
mod cpio;
mod disk;
mod linecount;
mod linuxref;
mod netbench;
mod ports;
mod sysroot;
mod tools;
mod web;

use arch::Arch;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Targets for which `cargo xtask test` builds the kernel core on its own
/// (invariant 6: the core compiles for every target; wasm has no backend yet).
pub const CORE_ONLY_TARGETS: [&str; 2] = ["x86_64-unknown-none", "wasm32-unknown-unknown"];
/// A second userland target: libzos and every program build (and link, with the
/// same `userland/user.ld`) for it.
pub const SECOND_USER_TARGET: &str = "x86_64-unknown-none";
/// User programs: (package, binary) — each lands in the initramfs as /sbin/<binary>.
pub const USER_PROGRAMS: [(&str, &str); 15] = [
    ("zos-init", "init"),
    ("zos-ktest", "ktest"),
    ("zos-tools", "zbox"),
    ("zos-console", "console"),
    ("zos-sh", "sh"),
    ("zos-vfs", "vfs"),
    ("zos-netstack", "netstack"),
    ("zos-devmgr", "devmgr"),
    ("zos-virtio-blk", "virtio-blk"),
    ("zos-virtio-net", "virtio-net"),
    ("zos-identity", "identity"),
    ("zos-keystore", "keystore"),
    ("zos-ext2", "ext2"),
    ("zos-pty", "pty"),
    ("zos-axiomd", "axiomd"),
];
/// Where the multi-call tools binary lands in the initramfs.
pub const MULTI_CALL_BINARY: &str = "/sbin/zbox";
/// Tools inside the multi-call binary: each gets `/bin/<tool>`, a symlink to
/// [`MULTI_CALL_BINARY`] (zbox picks the tool from argv[0]). Must match
/// `zos_tools_core::dispatch::TOOLS` (checked by a test).
pub const TOOL_NAMES: [&str; 76] = [
    "[",
    "axiom",
    "basename",
    "cat",
    "chgrp",
    "chmod",
    "chown",
    "cksum",
    "clear",
    "cp",
    "date",
    "dd",
    "df",
    "dirname",
    "dmesg",
    "echo",
    "env",
    "false",
    "find",
    "free",
    "getty",
    "grep",
    "groupadd",
    "head",
    "hexdump",
    "hostname",
    "httpd",
    "id",
    "ifconfig",
    "kill",
    "ln",
    "login",
    "ls",
    "lsdev",
    "mkdir",
    "mount",
    "mv",
    "nc",
    "netstat",
    "nproc",
    "nslookup",
    "od",
    "passwd",
    "ping",
    "poweroff",
    "printf",
    "ps",
    "reboot",
    "rm",
    "rmdir",
    "seq",
    "sha256sum",
    "sleep",
    "spin",
    "stat",
    "su",
    "svc",
    "sync",
    "tail",
    "tee",
    "test",
    "touch",
    "true",
    "umount",
    "uname",
    "uptime",
    "useradd",
    "userdel",
    "usermod",
    "wc",
    "wget",
    "which",
    "who",
    "whoami",
    "yes",
    "zkey",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, mut rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r.to_vec()),
        None => ("help", Vec::new()),
    };
    let arch = match Arch::from_args(&mut rest) {
        Ok(arch) => arch,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    let needs_toolchain = matches!(
        command,
        "build" | "run" | "test" | "bench" | "sysroot" | "cc" | "wasm" | "web"
    );
    if needs_toolchain {
        if let Err(message) = tools::ensure_toolchain() {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    }
    let result = match command {
        "build" => build(arch).map(|_| ()),
        "run" => run(arch, &rest),
        "test" => test(&rest),
        "bench" => bench(arch, &rest),
        "disk" => disk::make_user_disk().map(|image| {
            println!("xtask: made {} (ext2, 256 MiB)", image.display());
        }),
        "lines" => lines().map(|_| ()),
        "check" => check(),
        "axiom" => axiom::run(&rest),
        "sysroot" => sysroot::ensure(arch).map(|dir| println!("sysroot: {}", dir.display())),
        "cc" => sysroot::cc(arch, &rest),
        "wasm" => web::build_wasm().and_then(|a| web::host_test(&a)),
        "web" => web::web(&rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <build|run [-- QEMU ARGS]|test [NAME...]|bench [GROUP...]|disk> [--arch aarch64|x86_64]");
            println!("       cargo xtask wasm (browser port: build + host test) | web [--port N] [--check]");
            println!("       cargo xtask axiom replay FILE | diff [--until N] A B | show FILE [FROM [TO]]");
            Ok(())
        }
        other => Err(format!("unknown command '{other}' (try: build, run, test)")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Repository root (the parent of `xtask/`), found at run time: `cargo xtask`
/// sets `CARGO_MANIFEST_DIR` for the xtask it runs; otherwise the nearest
/// directory above the current one that holds `xtask/Cargo.toml`. Never a path
/// fixed at compile time, so a copied `target/` works on its own checkout.
pub fn root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
            if let Some(parent) = Path::new(&dir).parent() {
                if parent.join("xtask/Cargo.toml").is_file() {
                    return parent.to_path_buf();
                }
            }
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        cwd.ancestors()
            .find(|dir| dir.join("xtask/Cargo.toml").is_file())
            .map(Path::to_path_buf)
            .unwrap_or(cwd)
    })
    .clone()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// `cargo VERB --release --target TARGET -p PACKAGE…`: the shape of every
/// cross build and lint run here (native targets and the browser's).
pub fn cargo_release<'a>(
    verb: &str,
    target: &str,
    packages: impl IntoIterator<Item = &'a str>,
) -> Command {
    let mut command = cargo();
    command.args([verb, "--release", "--target", target]);
    for package in packages {
        command.args(["-p", package]);
    }
    command
}

/// What ends a `cargo clippy` line: every lint is an error.
pub const DENY_WARNINGS: [&str; 3] = ["--", "-D", "warnings"];

/// Runs a command, failing with its description when it fails.
pub fn run_checked(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

pub struct Artifacts {
    pub arch: Arch,
    /// The kernel ELF (symbols, debugging).
    pub kernel: PathBuf,
    /// What QEMU's `-kernel` boots: on AArch64 the same kernel as an arm64
    /// Image (QEMU hands `-initrd` only to Images); on x86_64 the ELF itself
    /// (its PVH note is the entry).
    pub image: PathBuf,
    /// The boot archive (`cargo xtask run`; what a user's machine boots).
    pub initramfs: PathBuf,
    /// The boot archive plus the test programs and test suites
    /// (`ZOS_TEST_INITRD` for the acceptance scripts; the benchmarks).
    pub test_initramfs: PathBuf,
}

/// Builds the kernel, userland and initramfs for `arch`.
pub fn build(arch: Arch) -> Result<Artifacts, String> {
    let mut kernel_build = cargo();
    kernel_build.args([
        "build",
        "--release",
        "-p",
        arch.kernel_package(),
        "--target",
        arch.kernel_target(),
    ]);
    if let Some((flags, dir)) = arch.kernel_build_env() {
        kernel_build
            .env("RUSTFLAGS", flags)
            .args(["--target-dir", dir]);
    }
    run_checked(&mut kernel_build, &format!("{} kernel build", arch.name()))?;
    let out = arch.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let kernel = out.join("kernel.elf");
    let built = arch.built_kernel();
    std::fs::copy(&built, &kernel).map_err(|e| format!("copying {}: {e}", built.display()))?;
    let image = match arch {
        Arch::Aarch64 => {
            let image = out.join("kernel.img");
            run_checked(
                Command::new(tools::llvm_objcopy()?)
                    .args(["-O", "binary"])
                    .arg(&kernel)
                    .arg(&image),
                "llvm-objcopy (kernel.elf -> kernel.img)",
            )?;
            image
        }
        Arch::X86_64 => kernel.clone(),
    };
    let user_target = arch.user_target();

    run_checked(
        cargo()
            .args(["build", "--release", "--target", user_target])
            .args(
                USER_PROGRAMS
                    .iter()
                    .flat_map(|(package, _)| ["-p", package]),
            ),
        &format!("{} userland build", arch.name()),
    )?;
    let mut archive = cpio::Archive::new();
    archive.add_tree(&root().join("initramfs"), "")?;
    archive.add_dir("sbin");
    for (_, program) in USER_PROGRAMS {
        let path = root().join(format!("target/{user_target}/release/{program}"));
        // Debug information and symbols stay in target/ (for debuggers); the
        // initramfs gets stripped copies (nothing in the system reads symbols,
        // and every byte of the archive is RAM on small machines).
        let stripped = out.join(format!("{program}.stripped"));
        run_checked(
            Command::new(tools::llvm_objcopy()?)
                .arg("--strip-all")
                .arg(&path)
                .arg(&stripped),
            "llvm-objcopy --strip-all",
        )?;
        let data =
            std::fs::read(&stripped).map_err(|e| format!("reading {}: {e}", stripped.display()))?;
        archive.add_file(&format!("sbin/{program}"), 0o755, &data);
    }
    // The account files live on the state volume's /var (docs/storage.md,
    // "The state volume"); /etc keeps links to them for the programs that read
    // /etc/passwd. Without a disk /var is part of the in-memory root.
    for file in ["passwd", "group", "shadow"] {
        archive.add_symlink(&format!("etc/{file}"), &format!("/var/lib/identity/{file}"));
    }
    archive.add_dir("usr/share/zos");
    archive.add_file(disk::SAMPLE_PATH, 0o644, &disk::sample_image(&out)?);
    archive.add_dir("bin");
    archive.add_symlink("bin/sh", "/sbin/sh");
    archive.add_file("bin/lua", 0o755, &ports::lua(arch)?);
    archive.add_file("bin/busybox", 0o755, &ports::busybox(arch)?);
    // zbox wins where both have a tool (docs/porting.md): BusyBox gets
    // only names zbox lacks.
    for applet in ports::busybox_applets()? {
        if TOOL_NAMES.contains(&applet.as_str()) {
            return Err(format!(
                "ports/busybox/recipe: applet {applet} is a zbox tool (zbox wins)"
            ));
        }
        archive.add_symlink(&format!("bin/{applet}"), "/bin/busybox");
    }
    for tool in TOOL_NAMES {
        archive.add_symlink(&format!("bin/{tool}"), MULTI_CALL_BINARY);
    }
    // The test archive: the boot archive plus what only tests and benchmarks
    // run (the project's C and Rust std test programs, BusyBox's own test
    // suites). Every byte of the boot archive is RAM twice on small machines
    // (the archive and the root tmpfs), so these stay out of it.
    let mut tests = archive.clone();
    for (name, data) in c_programs(arch, &out)?
        .into_iter()
        .chain(rust_std_programs(arch, &out)?)
    {
        tests.add_file(&format!("bin/{name}"), 0o755, &data);
    }
    // BusyBox's own suites only where busybox_suite.exp runs (AArch64: the
    // suite takes ~10 minutes, too long for a second run in CI).
    if arch == Arch::Aarch64 {
        ports::pack_busybox_tests(arch, &mut tests)?;
    }
    // dash (ports/dash): a test program for now, exercising fork.
    tests.add_file("bin/dash", 0o755, &ports::dash(arch)?);
    let initramfs = out.join("initramfs.cpio");
    std::fs::write(&initramfs, archive.finish())
        .map_err(|e| format!("writing {}: {e}", initramfs.display()))?;
    let test_initramfs = out.join("initramfs-tests.cpio");
    std::fs::write(&test_initramfs, tests.finish())
        .map_err(|e| format!("writing {}: {e}", test_initramfs.display()))?;
    Ok(Artifacts {
        arch,
        kernel,
        image,
        initramfs,
        test_initramfs,
    })
}

/// The project's C programs (`tests/c/*.c`), each built with `zos-cc` into
/// `/bin/<name>`: stripped images by name.
fn c_programs(arch: Arch, out: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let sysroot = sysroot::ensure(arch)?;
    let dir = root().join("tests/c");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    let built = out.join("c");
    std::fs::create_dir_all(&built).map_err(|e| format!("creating {}: {e}", built.display()))?;
    let mut programs = Vec::new();
    for source in sources {
        let name = source
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("odd C file name")?
            .replace('_', "-");
        let binary = built.join(&name);
        run_checked(
            Command::new(sysroot.join("bin/zos-cc"))
                .args(["-O2", "-Wall", "-Werror", "-s", "-o"])
                .arg(&binary)
                .arg(&source),
            &format!("zos-cc {}", source.display()),
        )?;
        let data =
            std::fs::read(&binary).map_err(|e| format!("reading {}: {e}", binary.display()))?;
        programs.push((name, data));
    }
    Ok(programs)
}

/// The Rust `std` programs (`tests/rust-std/*.rs`, one file each), built for
/// `ARCH-unknown-linux-musl` and linked against the sysroot's musl and
/// libzos (`zos-rust-ld`) into `/bin/<name>`.
fn rust_std_programs(arch: Arch, out: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let sysroot = sysroot::ensure(arch)?;
    let dir = root().join("tests/rust-std");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    sources.sort();
    let built = out.join("rust-std");
    std::fs::create_dir_all(&built).map_err(|e| format!("creating {}: {e}", built.display()))?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut programs = Vec::new();
    for source in sources {
        let name = source
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("odd Rust file name")?
            .replace('_', "-");
        let binary = built.join(&name);
        run_checked(
            Command::new(&rustc)
                .args([
                    "--edition",
                    "2021",
                    "--target",
                    &format!("{}-unknown-linux-musl", arch.name()),
                    "-O",
                ])
                .arg("-C")
                .arg(format!(
                    "linker={}",
                    sysroot.join("bin/zos-rust-ld").display()
                ))
                .args(["-C", "linker-flavor=gcc", "-C", "link-self-contained=no"])
                // Static, not static-pie (x86_64-unknown-linux-musl's default),
                // as zos-cc links C.
                .args(["-C", "relocation-model=static"])
                .args([
                    "-C",
                    "strip=symbols",
                    "-C",
                    "opt-level=s",
                    "-C",
                    "panic=abort",
                    "-o",
                ])
                .arg(&binary)
                .arg(&source)
                .current_dir(root()),
            &format!("rustc {}", source.display()),
        )?;
        let data =
            std::fs::read(&binary).map_err(|e| format!("reading {}: {e}", binary.display()))?;
        programs.push((name, data));
    }
    Ok(programs)
}

/// The reference QEMU command line (ARCHITECTURE.md §5, §12).
pub fn qemu_command(artifacts: &Artifacts) -> Command {
    let mut command = artifacts.arch.qemu_command();
    command.arg("-kernel").arg(&artifacts.image);
    command.arg("-initrd").arg(&artifacts.initramfs);
    command.args(["-nic", "none"]);
    command
}

fn run(arch: Arch, args: &[String]) -> Result<(), String> {
    tools::ensure(&[arch.qemu()])?;
    let artifacts = build(arch)?;
    let extra = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let mut qemu = qemu_command(&artifacts);
    // The persistent disk, made on first use, unless the user attaches their own.
    if !extra.iter().any(|a| a == "-drive") {
        let image = disk::user_disk_path();
        let made = if image.exists() {
            Ok(image)
        } else {
            disk::make_user_disk()
        };
        match made {
            Ok(image) => {
                eprintln!(
                    "xtask: disk {} attached (mount -t ext2 /dev/vda /mnt)",
                    image.display()
                );
                qemu.args(disk::drive_args(&image, arch));
            }
            Err(message) => eprintln!("xtask: no persistent disk: {message}"),
        }
    }
    qemu.args(extra);
    let several_cpus = extra
        .windows(2)
        .any(|pair| pair[0] == "-smp" && pair[1].split(',').next() != Some("1"));
    if several_cpus && !extra.iter().any(|a| a == "-accel") && arch.qemu_mttcg_races() {
        eprintln!(
            "xtask: QEMU before 8.1 crashes with several x86_64 vCPU threads; \
             running them on one host thread (docs/x86_64.md)"
        );
        qemu.args(["-accel", "tcg,thread=single"]);
    }
    eprintln!("xtask: booting; Ctrl-A X quits QEMU");
    run_checked(&mut qemu, "qemu")
}

/// Boots the benchmark mode of ktest twice — under `-icount shift=0` (one virtual
/// nanosecond per guest instruction, so figures are instruction counts) and on
/// the wall clock — and writes `target/zos/bench.json`.
///
/// `groups` (none: all) picks rows: `kernel` (ktest), `shell` (bench.sh),
/// `blk` (the raw disk), `ext2disk` (issue 10's ext2 rows), `boot`, `net`
/// (issue 11's network rows against a peer in a network namespace: wall
/// figures only, needs root; see `netbench`). A partial run prints its rows
/// and leaves bench.json alone.
fn bench(arch: Arch, groups: &[String]) -> Result<(), String> {
    const GROUPS: [&str; 9] = [
        "kernel", "smp4", "scale", "shell", "blk", "ext2disk", "boot", "net", "linux",
    ];
    if let Some(bad) = groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
        return Err(format!(
            "bench: unknown group {bad} (groups: {})",
            GROUPS.join(" ")
        ));
    }
    let named = |group: &str| groups.iter().any(|g| g == group);
    let wants = |group: &str| groups.is_empty() || named(group);
    tools::ensure(&[arch.qemu()])?;
    let artifacts = build(arch)?;
    // bench.sh runs the test programs (`c-true`).
    let artifacts = Artifacts {
        initramfs: artifacts.test_initramfs.clone(),
        ..artifacts
    };
    // `extra` boot arguments (`axiom=off`: the same rows without Axiom's
    // recording, suffixed `_axiom_off`, for its cost; docs/axiom.md).
    // ktest's mode 4 is the benchmarks, 12 the scalability run.
    let run_mode = |mode: u32, cpus: u32, icount: bool, extra: &str| {
        let mut qemu = qemu_command(&artifacts);
        qemu.args(["-smp", &cpus.to_string()]);
        qemu.args([
            "-append",
            &format!("init.run=ktest init.arg={mode} poweroff {extra}"),
        ]);
        if icount {
            qemu.args(["-icount", "shift=0"]);
        }
        let output = qemu.output().map_err(|e| format!("qemu: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let figures: Vec<(String, u64)> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("bench: "))
            .filter_map(|l| {
                let (name, value) = l.split_once(' ')?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect();
        if !text.contains("bench: done") {
            return Err(format!("benchmark run did not finish:\n{text}"));
        }
        Ok::<_, String>(figures)
    };
    let run_on = |cpus: u32, icount: bool, extra: &str| run_mode(4, cpus, icount, extra);
    let run = |icount: bool, extra: &str| run_on(1, icount, extra);
    let mut instructions = Vec::new();
    let mut nanoseconds = Vec::new();
    if wants("kernel") {
        instructions.extend(run(true, "")?);
        nanoseconds.extend(run(false, "")?);
        let off = |figures: Vec<(String, u64)>| {
            // The short rows, and a spawn (about a hundred commits, which
            // axiomd chains while the next spawn runs).
            let short = [
                "null_syscall",
                "ipc_call_reply_short",
                "ipc_call_reply_4k",
                "spawn_wait",
            ];
            let kept = figures
                .into_iter()
                .filter(move |(n, _)| short.contains(&n.as_str()));
            kept.map(|(name, value)| (format!("{name}_axiom_off"), value))
        };
        instructions.extend(off(run(true, "axiom=off")?));
        nanoseconds.extend(off(run(false, "axiom=off")?));
    }
    if wants("smp4") {
        // Every row again on four CPUs (the cross-CPU round trip only
        // there), wall time only: under -icount the CPUs take turns, and a
        // CPU spinning for the kernel lock whose holder is not running
        // burns its whole turn, so instruction counts would measure QEMU's
        // round robin, not the kernel (a run took over ten minutes).
        for (name, value) in run_on(4, false, "")? {
            let name = match name.as_str() {
                "ipc_call_reply_cross_cpu" => name,
                _ => format!("{name}_smp4"),
            };
            wall_row(&mut instructions, &mut nanoseconds, name, value);
        }
    }
    if wants("scale") {
        // Spawn+waits per second of guest time, one spawner alone and four
        // at once, on one CPU and on four: without -icount (the CPUs run in
        // parallel only then; guest time is the host's, so these vary).
        for cpus in [1, 4] {
            let figures = run_mode(12, cpus, false, "")?;
            for (name, value) in figures {
                // The ns column holds the rate.
                let name = format!("{name}_smp{cpus}");
                wall_row(&mut instructions, &mut nanoseconds, name, value);
            }
        }
    }
    if wants("shell") {
        instructions.extend(shell_bench(&artifacts, true, "bench.sh", &[])?);
        nanoseconds.extend(shell_bench(&artifacts, false, "bench.sh", &[])?);
    }
    if arch == Arch::Aarch64 && wants("blk") {
        // A scratch disk for the block figures (virtio-mmio).
        let disk = root().join("target/zos/bench-disk.img");
        std::fs::File::create(&disk)
            .and_then(|f| f.set_len(64 << 20))
            .map_err(|e| format!("creating {}: {e}", disk.display()))?;
        let drive = format!("file={},if=none,id=hd,format=raw", disk.display());
        let args = ["-drive", &drive, "-device", "virtio-blk-device,drive=hd"];
        instructions.extend(shell_bench(&artifacts, true, "block-bench.sh", &args)?);
        nanoseconds.extend(shell_bench(&artifacts, false, "block-bench.sh", &args)?);
        // The same disk on PCI (`virtio-blk-pci`): the same rows, `_pci`.
        let args = ["-drive", &drive, "-device", "virtio-blk-pci,drive=hd"];
        let pci = |figures: Vec<(String, u64)>| {
            figures
                .into_iter()
                .map(|(name, value)| (format!("{name}_pci"), value))
        };
        instructions.extend(pci(shell_bench(&artifacts, true, "block-bench.sh", &args)?));
        nanoseconds.extend(pci(shell_bench(
            &artifacts,
            false,
            "block-bench.sh",
            &args,
        )?));
    }
    if arch == Arch::Aarch64 && wants("ext2disk") {
        // ext2 on a disk: issue 10's rows, on a 256 MiB volume as Linux's
        // figures were taken (mkfs.ext2, 4 KiB blocks), made fresh per run.
        let volume = root().join("target/zos/bench-ext2.img");
        // `ZOS_BENCH_DRIVE=aio=io_uring` (any -drive options) for comparing how
        // QEMU reaches the image.
        let extra = std::env::var("ZOS_BENCH_DRIVE").map_or(String::new(), |o| format!(",{o}"));
        let drive = format!("file={},if=none,id=hd,format=raw{extra}", volume.display());
        let args = ["-drive", &drive, "-device", "virtio-blk-device,drive=hd"];
        for icount in [true, false] {
            let empty = root().join("target/zos/bench-ext2-root");
            std::fs::create_dir_all(&empty).map_err(|e| format!("{}: {e}", empty.display()))?;
            disk::make_image(&empty, &volume, 4096, 256 * 1024, None)?;
            let figures = shell_bench(&artifacts, icount, "ext2-bench.sh", &args)?;
            if icount {
                instructions.extend(figures);
            } else {
                nanoseconds.extend(figures);
            }
        }
    }
    if wants("boot") {
        for (name, extra) in [("", &[][..]), ("_axiom_off", &["-append", "axiom=off"][..])] {
            let (boot_wall_ms, boot_virtual_ns) = boot_to_prompt(&artifacts, extra)?;
            let name = format!("boot_to_prompt{name}");
            instructions.push((name.clone(), boot_virtual_ns));
            nanoseconds.push((name, boot_wall_ms * 1_000_000));
        }
    }
    // A full run as a user who cannot make network namespaces skips the
    // network rows; `bench net` asks for them and fails with the reason.
    let net_possible = !groups.is_empty() || tools::is_root();
    if !net_possible {
        println!("bench: network rows skipped (they need root: a namespace and a tap device)");
    }
    if arch == Arch::Aarch64 && wants("net") && net_possible {
        // Wall time only: the peer is on the host (no -icount run).
        for (name, ns) in netbench::net_bench(&artifacts)? {
            wall_row(&mut instructions, &mut nanoseconds, name, ns);
        }
    }
    // Linux in the same QEMU (it downloads a kernel package): only when
    // named. Instructions only (its wall time is not measured).
    if named("linux") {
        for (name, count) in linuxref::bench(arch)? {
            nanoseconds.push((name.clone(), 0));
            instructions.push((name, count));
        }
    }
    let mut json = String::from("{\n");
    println!("{:<28} {:>14} {:>14}", "operation", "instructions", "ns");
    for (i, (name, count)) in instructions.iter().enumerate() {
        let ns = nanoseconds
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v);
        println!("{name:<28} {count:>14} {ns:>14}");
        let comma = if i + 1 < instructions.len() { "," } else { "" };
        json.push_str(&format!(
            "  \"{name}\": {{\"instructions\": {count}, \"ns\": {ns}}}{comma}\n"
        ));
    }
    json.push_str("}\n");
    if !groups.is_empty() {
        println!("(a partial run: bench.json not written)");
        return Ok(());
    }
    let path = match arch {
        Arch::Aarch64 => root().join("target/zos/bench.json"),
        Arch::X86_64 => root().join("target/zos/bench-x86_64.json"),
    };
    std::fs::write(&path, json).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("(* under -icount shift=0: MiB per billion guest instructions)");
    println!("wrote {}", path.display());
    Ok(())
}

/// A row measured in wall time only (no -icount run): 0 instructions.
fn wall_row(
    instructions: &mut Vec<(String, u64)>,
    nanoseconds: &mut Vec<(String, u64)>,
    name: String,
    value: u64,
) {
    instructions.push((name.clone(), 0));
    nanoseconds.push((name, value));
}

/// Runs `/usr/share/sh-tests/SCRIPT` at the shell prompt (QEMU given `extra`
/// arguments) and collects its `bench: NAME VALUE` lines (per-operation guest
/// nanoseconds; guest instructions under `-icount shift=0`).
fn shell_bench(
    artifacts: &Artifacts,
    icount: bool,
    script: &str,
    extra: &[&str],
) -> Result<Vec<(String, u64)>, String> {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let (mut child, mut stdout, mut stdin) = spawn_piped_qemu(artifacts, icount, extra)?;
    // Read on a thread of its own: a guest that hangs prints nothing, and a
    // blocking read here would wait past the deadline for ever.
    let (bytes, output) = std::sync::mpsc::channel::<u8>();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while matches!(stdout.read(&mut byte), Ok(1)) {
            if bytes.send(byte[0]).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut sent = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(byte) = output.recv_timeout(left) else {
            break;
        };
        seen.push(byte);
        if !sent && seen.ends_with(b"/ # ") {
            let command = format!("sh /usr/share/sh-tests/{script}\r");
            let _ = stdin.write_all(command.as_bytes());
            let _ = stdin.flush();
            sent = true;
        }
        if seen.ends_with(b"bench: done") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&seen);
    if !text.contains("bench: done") {
        return Err(format!("shell benchmark did not finish:\n{text}"));
    }
    Ok(text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("bench: "))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect())
}

/// Boots QEMU (under `-icount shift=0` when `icount`) with its serial console
/// on pipes, for benchmarks that type at the prompt.
fn spawn_piped_qemu(
    artifacts: &Artifacts,
    icount: bool,
    extra: &[&str],
) -> Result<
    (
        std::process::Child,
        std::process::ChildStdout,
        std::process::ChildStdin,
    ),
    String,
> {
    use std::process::Stdio;
    let mut qemu = qemu_command(artifacts);
    if icount {
        // `ZOS_BENCH_ICOUNT=shift=0,sleep=off` for profiling: idle time then
        // does not advance the guest clock, so rows count guest work alone.
        let mode = std::env::var("ZOS_BENCH_ICOUNT").unwrap_or_else(|_| "shift=0".into());
        qemu.args(["-icount", &mode]);
    }
    qemu.args(extra);
    let mut child = qemu
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("qemu: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    Ok((child, stdout, stdin))
}

/// Boots to the shell prompt: wall-clock milliseconds (median of 5), and guest
/// instructions under `-icount shift=0` (the guest clock at the prompt, read
/// with `uptime -n`, minus the cost of running `uptime -n` itself).
fn boot_to_prompt(artifacts: &Artifacts, extra: &[&str]) -> Result<(u64, u64), String> {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let boot = |icount: bool| -> Result<(u64, Vec<u64>), String> {
        let (mut child, mut stdout, mut stdin) = spawn_piped_qemu(artifacts, icount, extra)?;
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        let mut prompt_ms = None;
        let mut numbers = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if stdout.read(&mut byte).map_err(|e| e.to_string())? == 0 {
                break;
            }
            seen.push(byte[0]);
            if seen.ends_with(b"/ # ") {
                if prompt_ms.is_none() {
                    prompt_ms = Some(start.elapsed().as_millis() as u64);
                }
                if numbers.len() >= 2 || !icount {
                    break;
                }
                let _ = stdin.write_all(b"uptime -n\r");
                let _ = stdin.flush();
                let text = String::from_utf8_lossy(&seen).into_owned();
                if let Some(n) = text
                    .lines()
                    .rev()
                    .find_map(|l| l.trim().parse::<u64>().ok())
                {
                    if numbers.last() != Some(&n) {
                        numbers.push(n);
                    }
                }
            }
            if icount && seen.ends_with(b"\n") && numbers.len() < 2 {
                let text = String::from_utf8_lossy(&seen).into_owned();
                if let Some(n) = text
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse::<u64>().ok())
                {
                    if numbers.last() != Some(&n) {
                        numbers.push(n);
                    }
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok((prompt_ms.ok_or("no prompt within 60 s")?, numbers))
    };
    let mut walls = Vec::new();
    for _ in 0..5 {
        walls.push(boot(false)?.0);
    }
    walls.sort_unstable();
    let (_, numbers) = boot(true)?;
    let virtual_ns = match numbers.as_slice() {
        [first, second, ..] => first.saturating_sub(second.saturating_sub(*first)),
        [first] => *first,
        [] => 0,
    };
    Ok((walls[2], virtual_ns))
}

/// Prints the code lines of the kernel core, the boot crate and each arch
/// backend (see `linecount`); fails when the core is over its limit.
fn lines() -> Result<usize, String> {
    let (core, files) = linecount::count_crate(&root().join("kernel"))?;
    for (file, count) in &files {
        let name = file.strip_prefix(root()).unwrap_or(file);
        println!("  {count:>5}  {}", name.display());
    }
    for other in [
        "abi",
        "boot",
        "klog",
        "frames",
        "arch/aarch64",
        "arch/x86_64",
        "arch/wasm",
    ] {
        let (count, _) = linecount::count_crate(&root().join(other))?;
        println!("lines: {other}: {count} code lines (not limited)");
    }
    println!(
        "lines: kernel core: {core} code lines (limit {})",
        linecount::CORE_LIMIT
    );
    if core > linecount::CORE_LIMIT {
        return Err(format!(
            "the kernel core has {core} code lines, over the limit of {} (docs/kernel.md)",
            linecount::CORE_LIMIT
        ));
    }
    Ok(core)
}

fn test(filters: &[String]) -> Result<(), String> {
    tools::ensure(&[
        "qemu-system-aarch64",
        "qemu-system-x86_64",
        "expect",
        "cpio",
        // Partitions the disk images of the storage tests.
        "sfdisk",
        // net_ns.exp's private network: a namespace with a tap device, and
        // dnsmasq for DHCP and local names.
        "ip",
        "dnsmasq",
    ])?;
    if filters.is_empty() {
        check()?;
    }
    let artifacts = build(Arch::Aarch64)?;
    let x86 = build(Arch::X86_64)?;
    acceptance(&artifacts, &x86, filters)?;
    if filters.is_empty() {
        // The browser port (docs/browser.md), after the native tests: the wasm
        // kernel under Node, then the page in headless Chromium.
        tools::ensure(&["node", "npm", "chromium"])?;
        web::build_wasm().and_then(|wasm| web::host_test(&wasm))?;
        web::web(&["--check".to_string()])?;
    }
    Ok(())
}

/// Everything `test` checks before it boots anything: the kernel core's size,
/// host unit tests, rustfmt, and clippy for every target (`cargo xtask check`).
fn check() -> Result<(), String> {
    lines()?;
    // Host crates are the workspace's default members (see Cargo.toml).
    run_checked(cargo().arg("test"), "host unit tests")?;
    run_checked(
        cargo().args(["fmt", "--all", "--check"]),
        "cargo fmt --check",
    )?;
    run_checked(
        cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]),
        "clippy (host)",
    )?;
    run_checked(
        cargo_release(
            "clippy",
            Arch::Aarch64.kernel_target(),
            ["zos-arch-aarch64"],
        )
        .args(DENY_WARNINGS),
        "clippy (aarch64 kernel)",
    )?;
    let x86 = Arch::X86_64;
    let mut x86_clippy = cargo_release("clippy", x86.kernel_target(), [x86.kernel_package()]);
    if let Some((flags, dir)) = x86.kernel_build_env() {
        x86_clippy
            .env("RUSTFLAGS", flags)
            .args(["--target-dir", dir]);
    }
    run_checked(x86_clippy.args(DENY_WARNINGS), "clippy (x86_64 kernel)")?;
    run_checked(
        cargo_release(
            "clippy",
            Arch::Aarch64.user_target(),
            ["libzos", "zos-libc"]
                .into_iter()
                .chain(USER_PROGRAMS.iter().map(|(package, _)| *package)),
        )
        .args(DENY_WARNINGS),
        "clippy (aarch64 userland)",
    )?;
    other_targets()?;
    Ok(())
}

/// Proves the arch boundary without a second backend: the kernel core, with
/// lints, for each of [`CORE_ONLY_TARGETS`]; libzos and every user program built
/// and linked for [`SECOND_USER_TARGET`], with lints.
fn other_targets() -> Result<(), String> {
    for target in CORE_ONLY_TARGETS {
        run_checked(
            cargo_release("clippy", target, ["zos-kernel"]).args(DENY_WARNINGS),
            &format!("kernel core for {target}"),
        )?;
    }
    let user_packages = || {
        ["libzos"]
            .into_iter()
            .chain(USER_PROGRAMS.iter().map(|(package, _)| *package))
    };
    run_checked(
        cargo_release("clippy", SECOND_USER_TARGET, user_packages()).args(DENY_WARNINGS),
        &format!("clippy (userland for {SECOND_USER_TARGET})"),
    )?;
    run_checked(
        &mut cargo_release("build", SECOND_USER_TARGET, user_packages()),
        &format!("userland build for {SECOND_USER_TARGET}"),
    )
}

/// One run of an acceptance script: which architecture, how many CPUs.
struct Run {
    script: PathBuf,
    /// The run's name: the script's stem, `-x86` for x86_64, `-smpN` for N CPUs.
    name: String,
    arch: Arch,
    smp: Option<u32>,
    /// `pci` for a script's `-pci` variant (`ZOS_VIRTIO`; its virtio devices
    /// are then `-device virtio-*-pci`, see lib.tcl's `virtio_device`).
    virtio: Option<&'static str>,
}

/// The runs of one script. Every script runs on AArch64; one whose header
/// says `# runs on: aarch64 x86_64` also runs on x86_64 (`NAME-x86`, the
/// same expectations except where the script asks `zos_arch`). Every script
/// runs a second time on four CPUs (`NAME-smp4`: issue 17 asks every
/// script to pass there) unless its header says `# runs once` or names its
/// own CPU counts (`# variants: smp1 smp2 smp8` runs
/// `NAME-smp1`, … instead: `smp.exp` asks for four itself). The x86_64
/// runs use one CPU; a script whose header says `# variants: x86-smp2`
/// also runs on x86_64 with two (`NAME-x86-smp2`), a few short ones only,
/// for CI time. A script whose header says `# variants: pci` runs once more
/// with its virtio devices on PCI (`NAME-pci`).
fn runs_of(script: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(script).unwrap_or_default();
    let stem = script
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_string();
    // `# runs once`: a script that must not run twice skips the -smp 4 run
    // (none does today: BusyBox's suites run on one CPU and on four).
    let once = text.lines().any(|l| l.trim() == "# runs once");
    // A header line `# KEY: … WORD …`.
    let header_words = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(key))
            .flat_map(|words| words.split_whitespace().map(str::to_string))
            .collect()
    };
    let header_says = |key: &str, word: &str| header_words(key).iter().any(|w| w == word);
    // `# variants: smpN`: the script's own CPU counts.
    let own_counts: Vec<u32> = header_words("# variants:")
        .iter()
        .filter_map(|w| w.strip_prefix("smp")?.parse().ok())
        .collect();
    let run = |suffix: &str, arch: Arch, smp: Option<u32>, virtio: Option<&'static str>| Run {
        script: script.to_path_buf(),
        name: format!("{stem}{suffix}"),
        arch,
        smp,
        virtio,
    };
    let mut runs = vec![run("", Arch::Aarch64, None, None)];
    let counts = match (once, own_counts.is_empty()) {
        (true, _) => Vec::new(),
        (false, true) => vec![4],
        (false, false) => own_counts,
    };
    for cpus in counts {
        runs.push(run(&format!("-smp{cpus}"), Arch::Aarch64, Some(cpus), None));
    }
    if header_says("# variants:", "pci") {
        runs.push(run("-pci", Arch::Aarch64, None, Some("pci")));
    }
    if header_says("# runs on:", "x86_64") {
        runs.push(run("-x86", Arch::X86_64, None, None));
        if header_says("# variants:", "x86-smp2") {
            runs.push(run("-x86-smp2", Arch::X86_64, Some(2), None));
        }
    }
    runs
}

/// Runs every `tests/acceptance/*.exp` on each architecture it names; filters
/// select scripts by stem (`boot`: all its runs) or runs by name (`boot-x86`).
fn acceptance(artifacts: &Artifacts, x86: &Artifacts, filters: &[String]) -> Result<(), String> {
    let dir = root().join("tests/acceptance");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "exp"))
        .collect();
    scripts.sort();
    let mut runs: Vec<Run> = scripts
        .iter()
        .flat_map(|script| runs_of(script))
        .filter(|run| {
            let stem = run
                .script
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("");
            filters.is_empty() || filters.iter().any(|f| f == stem || *f == run.name)
        })
        .collect();
    if runs.is_empty() {
        return Err("no acceptance scripts matched".into());
    }
    // The longest runs first (BusyBox's suites, 9–20 minutes, then ktest's),
    // so the two lanes end together.
    runs.sort_by_key(|run| {
        ["busybox_suite", "ktest"]
            .iter()
            .position(|long| run.name.starts_with(long))
            .unwrap_or(2)
    });
    // Two scripts at a time (each boots its own QEMU; the machines this runs on
    // have two cores); `ZOS_TEST_JOBS` overrides. Each script's serial log goes
    // to target/zos/acceptance/NAME.log and is printed whole when it fails.
    let jobs: usize = std::env::var("ZOS_TEST_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2);
    let logs = root().join("target/zos/acceptance");
    std::fs::create_dir_all(&logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
    // A fresh disk as `cargo xtask disk` makes it, for the scripts that boot
    // with one (they copy it): ZOS_DISK_TEMPLATE.
    let template = root().join("target/zos/disk-template.img");
    disk::make_user_disk_at(&template)?;
    let queue = std::sync::Mutex::new(runs.iter());
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(runs.len()) {
            scope.spawn(|| loop {
                let Some(run) = queue.lock().ok().and_then(|mut q| q.next()) else {
                    return;
                };
                let name = &run.name;
                let built = match run.arch {
                    Arch::Aarch64 => artifacts,
                    Arch::X86_64 => x86,
                };
                let log = logs.join(format!("{name}.log"));
                println!("acceptance: {name} ...");
                let started = std::time::Instant::now();
                let outcome = std::fs::File::create(&log)
                    .and_then(|file| Ok((file.try_clone()?, file)))
                    .and_then(|(out, err)| {
                        let mut command = Command::new("expect");
                        if let Some(cpus) = run.smp {
                            command.env("ZOS_SMP", cpus.to_string());
                        }
                        if let Some(transport) = run.virtio {
                            command.env("ZOS_VIRTIO", transport);
                        }
                        command
                            .arg("-f")
                            .arg(&run.script)
                            .env("ZOS_ARCH", run.arch.name())
                            .env("ZOS_KERNEL", &built.image)
                            .env("ZOS_KERNEL_ELF", &built.kernel)
                            .env("ZOS_INITRD", &built.initramfs)
                            .env("ZOS_TEST_INITRD", &built.test_initramfs)
                            .env("ZOS_ROOT", root())
                            .env("ZOS_DISK_TEMPLATE", &template)
                            // This xtask, for scripts that check a log on the
                            // host (`axiom replay`).
                            .env("ZOS_XTASK", std::env::current_exe().unwrap_or_default())
                            .current_dir(root())
                            .stdin(std::process::Stdio::null())
                            .stdout(out)
                            .stderr(err)
                            .status()
                    });
                let seconds = started.elapsed().as_secs();
                match outcome {
                    Ok(status) if status.success() => {
                        println!("acceptance: {name} PASSED in {seconds} s");
                    }
                    other => {
                        let text = std::fs::read_to_string(&log).unwrap_or_default();
                        println!(
                            "---- {name} serial log ----\n{text}\n---- end of {name} ----\nacceptance: {name} FAILED in {seconds} s ({})",
                            match other {
                                Ok(status) => status.to_string(),
                                Err(e) => format!("starting expect: {e}"),
                            }
                        );
                        if let Ok(mut list) = failed.lock() {
                            list.push(name.clone());
                        }
                    }
                }
            });
        }
    });
    let mut failed = failed.into_inner().unwrap_or_default();
    failed.sort();
    println!(
        "acceptance: {} passed, {} failed",
        runs.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        println!("acceptance: all {} passed", runs.len());
        Ok(())
    } else {
        Err(format!("acceptance failures: {}", failed.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_match_the_multi_call_binary() {
        let built_in: Vec<&str> = zos_tools_core::dispatch::tool_names().collect();
        assert_eq!(TOOL_NAMES.to_vec(), built_in);
    }

    #[test]
    fn multi_call_binary_is_packed() {
        let name = MULTI_CALL_BINARY.trim_start_matches("/sbin/");
        assert!(USER_PROGRAMS.iter().any(|(_, program)| *program == name));
    }
}
