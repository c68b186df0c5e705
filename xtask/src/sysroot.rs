//! `cargo xtask sysroot`: the C toolchain for Zero OS.
//!
//! musl comes from its Debian source package (`apt-get source`, unpacked under
//! `target/ports/src/`), is turned into the `A_zos` arch (A: aarch64, x86_64)
//! by laying `ports/musl/overlay/` and `overlay-A/` over a copy of musl's own
//! `A` files, and is built with clang into `target/zos/sysroot/A/` (headers,
//! `libc.a`).
//! The build is keyed by a hash of `ports/musl/` (recipe and overlay): a warm
//! tree never rebuilds it. libzos's C runtime (`libzos/c`, the Linux-syscall
//! dispatcher and start-up code) is built by cargo as `libzos.a` next to it,
//! and `bin/zos-cc` compiles and links a C program for Zero OS in one command.
//! See docs/porting.md.

use crate::arch::Arch;
use crate::{root, run_checked, tools};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sysroot of `arch`.
pub fn dir(arch: Arch) -> PathBuf {
    root().join(format!("target/zos/sysroot/{}", arch.name()))
}

/// The target triple clang compiles C for `arch` with.
fn c_triple(arch: Arch) -> String {
    format!("{}-linux-musl", arch.name())
}

/// The recipe of a port: `key = value` lines, `#` comments.
pub(crate) struct Recipe {
    entries: Vec<(String, String)>,
}

impl Recipe {
    pub(crate) fn read(port: &str) -> Result<Recipe, String> {
        let path = root().join(format!("ports/{port}/recipe"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Ok(Recipe::parse(&text))
    }

    fn parse(text: &str) -> Recipe {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Recipe { entries }
    }

    pub(crate) fn get(&self, key: &str) -> Result<&str, String> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("recipe has no '{key}'"))
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions (the
/// standard library's does not promise to), for cache keys.
pub(crate) fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every file under `dir`, sorted, as paths relative to it (none if there is
/// no `dir`).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let entries =
            std::fs::read_dir(&at).map_err(|e| format!("reading {}: {e}", at.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                out.push(relative.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The cache key of a port: its whole folder (recipe, configuration, overlay).
pub(crate) fn port_key(port: &str) -> Result<String, String> {
    let dir = root().join(format!("ports/{port}"));
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for file in files_under(&dir)? {
        let bytes =
            std::fs::read(dir.join(&file)).map_err(|e| format!("{}: {e}", file.display()))?;
        hash = fnv1a(hash, file.to_string_lossy().as_bytes());
        hash = fnv1a(hash, &[0]);
        hash = fnv1a(hash, &bytes);
    }
    Ok(format!("{hash:016x}"))
}

/// The unpacked Debian source of `package` (version `version`), fetched once.
pub fn debian_source(package: &str, version: &str) -> Result<PathBuf, String> {
    let upstream = version.split('-').next().unwrap_or(version);
    let upstream = upstream.split(':').next_back().unwrap_or(upstream);
    let src = root().join("target/ports/src");
    let unpacked = src.join(format!("{package}-{upstream}"));
    if unpacked.join(".zos-complete").exists() {
        return Ok(unpacked);
    }
    tools::ensure(&["dpkg-source"])?;
    std::fs::create_dir_all(&src).map_err(|e| format!("creating {}: {e}", src.display()))?;
    let _ = std::fs::remove_dir_all(&unpacked);
    let fetch = || {
        Command::new("apt-get")
            .args(["source", "-qq", &format!("{package}={version}")])
            .current_dir(&src)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !fetch() {
        tools::enable_debian_sources()?;
        if !fetch() {
            return Err(format!(
                "apt-get source {package}={version} failed (is a deb-src line configured?)"
            ));
        }
    }
    if !unpacked.is_dir() {
        return Err(format!(
            "apt-get source did not unpack {}",
            unpacked.display()
        ));
    }
    std::fs::write(unpacked.join(".zos-complete"), version)
        .map_err(|e| format!("marking {}: {e}", unpacked.display()))?;
    Ok(unpacked)
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    run_checked(
        Command::new("cp").arg("-a").arg(from).arg(to),
        &format!("copying {}", from.display()),
    )
}

/// Builds musl for `arch` into its sysroot unless the sysroot already holds
/// the build of this recipe and overlay.
fn musl(arch: Arch, sysroot: &Path) -> Result<(), String> {
    let key = port_key("musl")?;
    let stamp = sysroot.join(".musl-key");
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k.trim() == key) {
        return Ok(());
    }
    tools::ensure(&["clang", "ld.lld", "llvm-ar", "make"])?;
    let recipe = Recipe::read("musl")?;
    let source = debian_source(recipe.get("package")?, recipe.get("version")?)?;
    let build = root().join(format!("target/ports/build/musl-{}", arch.name()));
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(build.parent().unwrap_or(&build))
        .map_err(|e| format!("creating {}: {e}", build.display()))?;
    copy_tree(&source, &build)?;
    let base = arch.name();
    let zos_arch = format!("{base}_zos");
    let arch_dir = build.join(format!("arch/{zos_arch}"));
    // The new arch: musl's base arch headers, the dispatcher's ABI files
    // from `abi_from`, our syscall_arch.h over them.
    copy_tree(&build.join(format!("arch/{base}")), &arch_dir)?;
    let abi_from = recipe.get("abi_from")?;
    for file in recipe.get("abi_files")?.split_whitespace() {
        copy_file(
            &build.join(format!("arch/{abi_from}/{file}")),
            &arch_dir.join(file),
        )?;
    }
    let overlays = [
        root().join("ports/musl/overlay"),
        root().join(format!("ports/musl/overlay-{base}")),
    ];
    let mut overlay_src = Vec::new();
    for overlay in &overlays {
        for file in files_under(&overlay.join("arch"))? {
            copy_file(&overlay.join("arch").join(&file), &arch_dir.join(&file))?;
        }
        for file in files_under(&overlay.join("src"))? {
            overlay_src.push((overlay.join("src").join(&file), file));
        }
    }
    // Arch sources: every src/DIR/BASE file, unless the overlay replaces it.
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    for dir in std::fs::read_dir(build.join("src"))
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let from = dir.path().join(base);
        if !from.is_dir() {
            continue;
        }
        let name = dir.file_name().to_string_lossy().into_owned();
        let to = dir.path().join(&zos_arch);
        std::fs::create_dir_all(&to).map_err(|e| format!("creating {}: {e}", to.display()))?;
        for file in std::fs::read_dir(&from)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let replaced = overlay_src.iter().any(|(_, o)| {
                o.parent() == Some(Path::new(&name)) && stem(o) == stem(&file.path())
            });
            if !replaced {
                copy_file(&file.path(), &to.join(file.file_name()))?;
            }
        }
    }
    for (from, file) in &overlay_src {
        let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
            continue;
        };
        copy_file(
            from,
            &build.join("src").join(dir).join(&zos_arch).join(name),
        )?;
    }
    let prefix = sysroot.to_string_lossy().into_owned();
    let cflags = recipe.get("cflags")?;
    run_checked(
        Command::new("./configure")
            .args(recipe.get("configure")?.split_whitespace())
            .arg(format!("--target={}", c_triple(arch)))
            .arg(format!("--prefix={prefix}"))
            .env("CC", format!("clang --target={}", c_triple(arch)))
            .env("AR", "llvm-ar")
            .env("RANLIB", "llvm-ranlib")
            .env("CFLAGS", cflags)
            .current_dir(&build),
        "musl configure",
    )?;
    // configure names the arch from the target triple; ours replaces it.
    let config = build.join("config.mak");
    let text = std::fs::read_to_string(&config).map_err(|e| format!("reading config.mak: {e}"))?;
    let text = text.replace(&format!("ARCH = {base}\n"), &format!("ARCH = {zos_arch}\n"));
    std::fs::write(&config, text).map_err(|e| format!("writing config.mak: {e}"))?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let _ = std::fs::remove_dir_all(sysroot.join("include"));
    run_checked(
        Command::new("make")
            .arg(format!("-j{jobs}"))
            .arg("install")
            .current_dir(&build),
        "musl build",
    )?;
    std::fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    let _ = std::fs::remove_dir_all(&build);
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

/// Crates of libzos's runtime in cargo's static library; every other member
/// is a compiler builtin.
const RUNTIME_CRATES: [&str; 18] = [
    "alloc",
    "bitflags",
    "buddy_system_allocator",
    "cobs",
    "core",
    "libzos",
    "lock_api",
    "postcard",
    "scopeguard",
    "serde",
    "serde_core",
    "spin",
    "thiserror",
    "zos_abi",
    "zos_boot",
    "zos_libc",
    "zos_linux_abi",
    "zos_proto",
];

/// What a C or Rust program may see of libzos: the start-up code, the
/// dispatcher and the spawn entry.
const EXPORTED: [&str; 4] = [
    "_start",
    "zos_linux_syscall",
    "zos_posix_spawn",
    "zos_vfork",
];

/// libzos's C runtime, built by cargo (incremental) as a static library and
/// split in two: `libzos.a`, one object with everything of libzos's own Rust
/// runtime made local but [`EXPORTED`] (so a Rust `std` program, which has
/// its own allocator, panic handler and core, links it too), and
/// `libzos_builtins.a`, the compiler builtins C programs need (128-bit
/// `long double` arithmetic and the like).
fn libzos(arch: Arch, sysroot: &Path) -> Result<(), String> {
    let target = arch.user_target();
    // Optimised for size in a target folder of its own (so the userland's
    // build keeps its settings): the dispatcher is in every C program.
    run_checked(
        crate::cargo()
            .args(["build", "--release", "-p", "zos-libc", "--target", target])
            .args(["--target-dir", "target/zos-libc"])
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "0"),
        "libzos C runtime build",
    )?;
    let archive = root().join(format!("target/zos-libc/{target}/release/libzos_libc.a"));
    let tools = tools::llvm_objcopy()?;
    let bin = tools.parent().ok_or("llvm-tools has no folder")?;
    let work = root().join(format!("target/ports/build/libzos-{}", arch.name()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    run_checked(
        Command::new(bin.join("llvm-ar"))
            .arg("x")
            .arg(&archive)
            .current_dir(&work),
        "llvm-ar x libzos_libc.a",
    )?;
    let mut runtime = Vec::new();
    let mut builtins = Vec::new();
    for entry in std::fs::read_dir(&work)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let krate = name.split('-').next().unwrap_or("");
        if RUNTIME_CRATES.contains(&krate) {
            runtime.push(name);
        } else if name.ends_with(".o") {
            builtins.push(name);
        }
    }
    runtime.sort();
    builtins.sort();
    run_checked(
        Command::new(bin.join("rust-lld"))
            .args(["-flavor", "gnu", "-r", "-o", "libzos.o"])
            .args(&runtime)
            .current_dir(&work),
        "rust-lld -r (libzos.o)",
    )?;
    run_checked(
        Command::new(&tools)
            .args(EXPORTED.iter().map(|s| format!("--keep-global-symbol={s}")))
            .arg("libzos.o")
            .current_dir(&work),
        "llvm-objcopy (libzos.o)",
    )?;
    for (library, members) in [
        ("libzos.a", vec!["libzos.o".to_string()]),
        ("libzos_builtins.a", builtins),
    ] {
        let _ = std::fs::remove_file(work.join(library));
        run_checked(
            Command::new(bin.join("llvm-ar"))
                .arg("rcs")
                .arg(library)
                .args(&members)
                .current_dir(&work),
            &format!("llvm-ar ({library})"),
        )?;
        copy_file(&work.join(library), &sysroot.join("lib").join(library))?;
    }
    Ok(())
}

/// The `zos-cc` wrapper: clang for the sysroot's arch (@TRIPLE@) with its
/// headers and libraries, linked static (no PIE) by lld with libzos's
/// start-up code. `zos-cc --arch A ...` runs the sysroot of arch A's.
const ZOS_CC: &str = r#"#!/bin/sh
# zos-cc: compiles and links C for Zero OS (written by `cargo xtask sysroot`).
# Usage like cc: zos-cc hello.c -o hello; zos-cc --arch x86_64 hello.c -o hello
SYSROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$1" = --arch ]; then
    other="$SYSROOT/../$2/bin/zos-cc"
    if [ ! -x "$other" ]; then
        echo "zos-cc: no sysroot for arch '$2' (cargo xtask sysroot --arch $2)" >&2
        exit 2
    fi
    shift 2
    exec "$other" "$@"
fi
RESOURCE="$(clang -print-resource-dir)"
link=yes
for arg in "$@"; do
    case "$arg" in
        -c|-S|-E|-M|-MM) link=no ;;
    esac
done
set -- --target=@TRIPLE@ -nostdinc -isystem "$SYSROOT/include" \
    -isystem "$RESOURCE/include" -fno-pic "$@"
if [ "$link" = yes ]; then
    exec clang "$@" -fuse-ld=lld -static -nostdlib -nostartfiles \
        -Wl,-u,_start -Wl,--gc-sections -Wl,-z,max-page-size=4096 -L"$SYSROOT/lib" \
        -Wl,--start-group -lc -lzos -lzos_builtins -Wl,--end-group
fi
exec clang "$@"
"#;

/// The linker for Rust `std` programs (`rustc --target @ARCH@-unknown-linux-musl
/// -C linker=zos-rust-ld -C linker-flavor=gcc -C link-self-contained=no`):
/// the sysroot's musl and libzos instead of Rust's own musl, and Rust's
/// libunwind.
const ZOS_RUST_LD: &str = r#"#!/bin/sh
# zos-rust-ld: links Rust std programs for Zero OS (written by `cargo xtask sysroot`).
SYSROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUST_MUSL="$(rustc --print sysroot)/lib/rustlib/@ARCH@-unknown-linux-musl/lib/self-contained"
exec clang --target=@TRIPLE@ -fuse-ld=lld -static -nostdlib -nostartfiles "$@" \
    -Wl,-u,_start -Wl,-z,max-page-size=4096 -L"$SYSROOT/lib" -L"$RUST_MUSL" \
    -Wl,--start-group -lc -lzos -lunwind -Wl,--end-group
"#;

/// Makes sure the sysroot of `arch` is complete and current; returns its folder.
pub fn ensure(arch: Arch) -> Result<PathBuf, String> {
    let sysroot = dir(arch);
    std::fs::create_dir_all(sysroot.join("bin"))
        .map_err(|e| format!("creating {}: {e}", sysroot.display()))?;
    musl(arch, &sysroot)?;
    libzos(arch, &sysroot)?;
    for (name, template) in [("zos-cc", ZOS_CC), ("zos-rust-ld", ZOS_RUST_LD)] {
        let text = template
            .replace("@TRIPLE@", &c_triple(arch))
            .replace("@ARCH@", arch.name());
        let path = sysroot.join("bin").join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, &text).map_err(|e| format!("writing {}: {e}", path.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        }
    }
    Ok(sysroot)
}

/// Runs `arch`'s `zos-cc` with `args`.
pub fn cc(arch: Arch, args: &[String]) -> Result<(), String> {
    let sysroot = ensure(arch)?;
    run_checked(
        Command::new(sysroot.join("bin/zos-cc")).args(args),
        "zos-cc",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_reads_keys_and_skips_comments() {
        let recipe = Recipe::parse("# c\npackage = musl\n\nconfigure = --a --b=c\n");
        assert_eq!(recipe.get("package"), Ok("musl"));
        assert_eq!(recipe.get("configure"), Ok("--a --b=c"));
        assert!(recipe.get("version").is_err());
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(0xcbf2_9ce4_8422_2325, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
