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
