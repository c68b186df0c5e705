//! Third-party programs built from their Debian source packages with
//! `zos-cc` (`ports/NAME/recipe`; docs/porting.md). Each build is cached in
//! `target/zos/ports/ARCH/NAME/`, keyed by the port's folder and the sysroot's
//! libraries, so a warm tree only reads the result.

use crate::arch::Arch;
use crate::sysroot::{self, Recipe};
use crate::{root, run_checked};
use std::path::Path;
use std::process::Command;

/// A hash of the files of the sysroot that a program links.
fn sysroot_key(sysroot: &Path) -> Result<u64, String> {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for library in ["lib/libc.a", "lib/libzos.a"] {
        let bytes = std::fs::read(sysroot.join(library)).map_err(|e| format!("{library}: {e}"))?;
        hash = sysroot::fnv1a(hash, &bytes);
    }
    Ok(hash)
}

/// Lua 5.4 (`ports/lua`): every `src/*.c` but the recipe's `exclude`,
/// compiled and linked in one `zos-cc` run for `arch`. Returns the stripped
/// program.
pub fn lua(arch: Arch) -> Result<Vec<u8>, String> {
    let sysroot = sysroot::ensure(arch)?;
    let key = format!(
        "{}-{:016x}",
        sysroot::port_key("lua")?,
        sysroot_key(&sysroot)?
    );
    let out = root().join(format!("target/zos/ports/{}/lua", arch.name()));
    let program = out.join("lua");
    let stamp = out.join(".key");
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key) && program.exists() {
        return std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()));
    }
    let recipe = Recipe::read("lua")?;
    let source = sysroot::debian_source(recipe.get("package")?, recipe.get("version")?)?;
    let src = source.join("src");
    let exclude: Vec<&str> = recipe.get("exclude")?.split_whitespace().collect();
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .map_err(|e| format!("reading {}: {e}", src.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".c") && !exclude.contains(&name.as_str()))
        .collect();
    files.sort();
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let port = root().join("ports/lua");
    // `-Ifolder` in the recipe names a folder of the port.
    let cflags =
        recipe
            .get("cflags")?
            .split_whitespace()
            .map(|flag| match flag.strip_prefix("-I") {
                Some(dir) if !dir.starts_with('/') => format!("-I{}", port.join(dir).display()),
                _ => flag.to_string(),
            });
    run_checked(
        Command::new(sysroot.join("bin/zos-cc"))
            .args(cflags)
            .arg("-s")
            .arg("-o")
            .arg(&program)
            .args(&files)
            .args(recipe.get("libs")?.split_whitespace())
            .current_dir(&src),
        "lua build (zos-cc)",
    )?;
    std::fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()))
}

/// dash (`ports/dash`): `autoreconf -fi` (Debian's patches touch
/// `configure.ac`), `configure --host=ARCH-linux-musl` with `zos-cc` (its
/// helper generators built with the host's `cc`), `make`. Returns the
/// stripped program. A test-archive program: it needs `fork`
/// (docs/posix.md), which it uses for every subshell, `$(…)` and pipeline.
pub fn dash(arch: Arch) -> Result<Vec<u8>, String> {
    let sysroot = sysroot::ensure(arch)?;
    let key = format!(
        "{}-{:016x}",
        sysroot::port_key("dash")?,
        sysroot_key(&sysroot)?
    );
    let out = root().join(format!("target/zos/ports/{}/dash", arch.name()));
    let program = out.join("dash");
    let stamp = out.join(".key");
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key) && program.exists() {
        return std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()));
    }
    crate::tools::ensure(&["autoreconf", "automake", "make"])?;
    let recipe = Recipe::read("dash")?;
    let source = sysroot::debian_source(recipe.get("package")?, recipe.get("version")?)?;
    let build = root().join(format!("target/ports/build/dash-{}", arch.name()));
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(root().join("target/ports/build"))
        .map_err(|e| format!("creating target/ports/build: {e}"))?;
    sysroot::copy_tree(&source, &build)?;
    run_checked(
        Command::new("autoreconf")
            .arg("-fi")
            .stdin(std::process::Stdio::null())
            .current_dir(&build),
        "dash autoreconf",
    )?;
    run_checked(
        Command::new("./configure")
            .arg(format!("--host={}-linux-musl", arch.name()))
            .arg(format!("CC={}", sysroot.join("bin/zos-cc").display()))
            .arg("CC_FOR_BUILD=cc")
            .arg(format!("CFLAGS={}", recipe.get("cflags")?))
            .stdin(std::process::Stdio::null())
            .current_dir(&build),
        "dash configure",
    )?;
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    run_checked(
        Command::new("make")
            .arg(&jobs)
            .stdin(std::process::Stdio::null())
            .current_dir(&build),
        "dash build (zos-cc)",
    )?;
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    run_checked(
        Command::new("llvm-strip")
            .arg("-o")
            .arg(&program)
            .arg(build.join("src/dash")),
        "llvm-strip dash",
    )?;
    std::fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()))
}

/// BusyBox (`ports/busybox`): `make defconfig`, the port's `config` lines
/// over it, `make oldconfig`, then `make busybox` with `zos-cc`. Returns the
/// stripped program.
pub fn busybox(arch: Arch) -> Result<Vec<u8>, String> {
    let sysroot = sysroot::ensure(arch)?;
    let key = format!(
        "{}-{:016x}",
        sysroot::port_key("busybox")?,
        sysroot_key(&sysroot)?
    );
    let out = root().join(format!("target/zos/ports/{}/busybox", arch.name()));
    let program = out.join("busybox");
    let stamp = out.join(".key");
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key)
        && program.exists()
        && out.join(BUSYBOX_CONFIG).exists()
    {
        return std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()));
    }
    let recipe = Recipe::read("busybox")?;
    let source = sysroot::debian_source(recipe.get("package")?, recipe.get("version")?)?;
    let build = root().join("target/ports/build/busybox");
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(root().join("target/ports/build"))
        .map_err(|e| format!("creating target/ports/build: {e}"))?;
    sysroot::copy_tree(&source, &build)?;
    // BusyBox links its built-in.o files with `$(LD) -r`: lld, not zos-cc.
    let make = |args: &[&str], what: &str| {
        run_checked(
            Command::new("make")
                .args(args)
                .arg(format!("CC={}", sysroot.join("bin/zos-cc").display()))
                .args(["HOSTCC=cc", "AR=llvm-ar", "STRIP=llvm-strip", "LD=ld.lld"])
                .stdin(std::process::Stdio::null())
                .current_dir(&build),
            what,
        )
    };
    make(&["defconfig"], "busybox make defconfig")?;
    let config_path = build.join(".config");
    let config = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("reading {}: {e}", config_path.display()))?;
    let ours = std::fs::read_to_string(root().join("ports/busybox/config"))
        .map_err(|e| format!("reading ports/busybox/config: {e}"))?;
    std::fs::write(&config_path, merge_config(&config, &ours))
        .map_err(|e| format!("writing {}: {e}", config_path.display()))?;
    // `oldconfig` asks about nothing new here; its answers come from stdin
    // (null: each default).
    make(&["oldconfig"], "busybox make oldconfig")?;
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    make(&[&jobs, "busybox"], "busybox build (zos-cc)")?;
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    run_checked(
        Command::new("llvm-strip")
            .arg("-o")
            .arg(&program)
            .arg(build.join("busybox")),
        "llvm-strip busybox",
    )?;
    // The testsuite reads the configuration to skip what is not built.
    std::fs::copy(build.join(".config"), out.join(BUSYBOX_CONFIG))
        .map_err(|e| format!("keeping busybox's .config: {e}"))?;
    std::fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()))
}

/// Where [`busybox`] keeps the `.config` it was built with.
const BUSYBOX_CONFIG: &str = "config";

/// What BusyBox's own tests need (after [`busybox`] has run): the source
/// tree (`testsuite/`, `shell/hush_test/`) and the `.config` of the build.
pub fn busybox_tests(arch: Arch) -> Result<(std::path::PathBuf, Vec<u8>), String> {
    let recipe = Recipe::read("busybox")?;
    let source = sysroot::debian_source(recipe.get("package")?, recipe.get("version")?)?;
    let config = root().join(format!(
        "target/zos/ports/{}/busybox/{BUSYBOX_CONFIG}",
        arch.name()
    ));
    let config =
        std::fs::read(&config).map_err(|e| format!("reading {}: {e}", config.display()))?;
    Ok((source, config))
}

/// Where BusyBox's tests land in the test archive: the folder stands for
/// BusyBox's build tree (`busybox`, `.config`, `testsuite/`,
/// `shell/hush_test/`), as both suites expect.
pub const BUSYBOX_TESTS: &str = "usr/share/busybox-tests";

/// Packs BusyBox's `testsuite/` and `shell/hush_test/` into `archive` under
/// [`BUSYBOX_TESTS`]. `/bin/sh` on Zero OS is zbox's shell, and the suites
/// are written for a POSIX `sh`: scripts starting `#!/bin/sh` start with
/// `#!/usr/share/busybox-tests/sh` (a link to BusyBox, so hush) in the
/// archive, and `sh` links ahead in the suites' `PATH` (the build tree and
/// hush_test's folder) do the same for `sh FILE`. Nothing else is changed.
pub fn pack_busybox_tests(arch: Arch, archive: &mut crate::cpio::Archive) -> Result<(), String> {
    let (source, config) = busybox_tests(arch)?;
    let shell = format!("/{BUSYBOX_TESTS}/sh");
    archive.add_dir("usr/share/busybox-tests");
    archive.add_symlink(&format!("{BUSYBOX_TESTS}/busybox"), "/bin/busybox");
    archive.add_symlink(&format!("{BUSYBOX_TESTS}/sh"), "/bin/busybox");
    archive.add_file(&format!("{BUSYBOX_TESTS}/.config"), 0o644, &config);
    let testsuite = format!("{BUSYBOX_TESTS}/testsuite");
    archive.add_dir(&testsuite);
    pack_suite_tree(archive, &source.join("testsuite"), &testsuite, &shell)?;
    archive.add_dir(&format!("{BUSYBOX_TESTS}/shell"));
    let hush = format!("{BUSYBOX_TESTS}/shell/hush_test");
    archive.add_dir(&hush);
    pack_suite_tree(archive, &source.join("shell/hush_test"), &hush, &shell)?;
    // run-all links `hush` itself when it is missing; `sh FILE` there runs
    // the `sh` first in its PATH (its own folder).
    archive.add_symlink(&format!("{hush}/hush"), "/bin/busybox");
    archive.add_symlink(&format!("{hush}/sh"), "/bin/busybox");
    Ok(())
}

/// Adds `dir` below `prefix` as [`crate::cpio::Archive::add_tree`] does,
/// with `#!/bin/sh` lines pointing at `shell`.
fn pack_suite_tree(
    archive: &mut crate::cpio::Archive,
    dir: &Path,
    prefix: &str,
    shell: &str,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            archive.add_dir(&path);
            pack_suite_tree(archive, &entry.path(), &path, shell)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path()).map_err(|e| e.to_string())?;
            archive.add_symlink(&path, &target.to_string_lossy());
        } else if kind.is_file() {
            let mut data = std::fs::read(entry.path()).map_err(|e| e.to_string())?;
            if let Some(rest) = data.strip_prefix(b"#!/bin/sh") {
                if rest.first().is_none_or(|c| c.is_ascii_whitespace()) {
                    data = [b"#!", shell.as_bytes(), rest].concat();
                }
            }
            let executable = entry
                .metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
            archive.add_file(&path, if executable { 0o755 } else { 0o644 }, &data);
        }
    }
    Ok(())
}

/// The applets the recipe links into /bin.
pub fn busybox_applets() -> Result<Vec<String>, String> {
    let recipe = Recipe::read("busybox")?;
    Ok(recipe
        .get("applets")?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// The option a `.config` line sets (`CONFIG_X=…` or `# CONFIG_X is not set`).
fn config_option(line: &str) -> Option<&str> {
    if let Some(rest) = line.strip_prefix("# ") {
        return rest.strip_suffix(" is not set");
    }
    line.split_once('=')
        .map(|(name, _)| name)
        .filter(|n| n.starts_with("CONFIG_"))
}

/// `base` with each option `ours` sets replaced (or added).
fn merge_config(base: &str, ours: &str) -> String {
    let overrides: Vec<(&str, &str)> = ours
        .lines()
        .filter_map(|line| config_option(line).map(|name| (name, line)))
        .collect();
    let mut out = String::new();
    for line in base.lines() {
        match config_option(line) {
            Some(name) if overrides.iter().any(|(o, _)| *o == name) => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (_, line) in overrides {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_replace_busybox_defaults() {
        let base = "CONFIG_ASH=y\n# CONFIG_STATIC is not set\nCONFIG_SED=y\n";
        let ours = "# CONFIG_ASH is not set\nCONFIG_STATIC=y\n";
        let merged = merge_config(base, ours);
        assert_eq!(
            merged,
            "CONFIG_SED=y\n# CONFIG_ASH is not set\nCONFIG_STATIC=y\n"
        );
    }
}
