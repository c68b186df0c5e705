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
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key) && program.exists() {
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
    std::fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    std::fs::read(&program).map_err(|e| format!("reading {}: {e}", program.display()))
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
