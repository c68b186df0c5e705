//! Host tools xtask needs (QEMU, expect): found, installed, or named exactly.

use std::process::Command;

/// Debian package that provides each tool.
fn package_of(tool: &str) -> &str {
    match tool {
        "qemu-system-aarch64" => "qemu-system-arm",
        "qemu-system-x86_64" => "qemu-system-x86",
        "mkfs.ext2" | "e2fsck" | "debugfs" => "e2fsprogs",
        "sfdisk" => "fdisk",
        "ld.lld" => "lld",
        "llvm-ar" => "llvm",
        "dpkg-source" => "dpkg-dev",
        "autoreconf" => "autoconf",
        "node" => "nodejs",
        "dnsmasq" => "dnsmasq-base",
        "ip" => "iproute2",
        // `bench linux` builds a static C program.
        "cc" => "gcc libc6-dev",
        other => other,
    }
}

/// The install command for `packages` with qemu-utils moved to the
/// version the distribution's QEMU has, when a QEMU system package is
/// among them and the installed qemu-utils is another version (its
/// `Breaks` then stops the install); `None` otherwise.
fn qemu_utils_aligned(packages: &[&str]) -> Option<String> {
    if !packages.iter().any(|p| p.starts_with("qemu-system")) {
        return None;
    }
    let output = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let installed = output(&["dpkg-query", "-W", "-f=${Version}", "qemu-utils"])?;
    let policy = output(&["apt-cache", "policy", "qemu-system-common"])?;
    let candidate = policy
        .lines()
        .find_map(|line| line.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "(none)")?;
    if installed.trim() == candidate {
        return None;
    }
    Some(format!(
        "apt-get install -y --allow-downgrades {} qemu-utils={candidate}",
        packages.join(" ")
    ))
}

fn present(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Makes sure every tool is on PATH: installs missing ones with apt-get when
/// running as root, otherwise fails with the exact command to run.
pub fn ensure(tools: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !present(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|t| package_of(t)).collect();
    let command = format!("apt-get install -y {}", packages.join(" "));
    if is_root() && present("apt-get") {
        eprintln!("xtask: installing missing tools: {command}");
        let run = |command: &str| {
            Command::new("sh")
                .args([
                    "-c",
                    &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive {command}"),
                ])
                .status()
                .is_ok_and(|s| s.success())
        };
        let mut ok = run(&command);
        if !ok {
            if let Some(aligned) = qemu_utils_aligned(&packages) {
                // A machine image with a newer qemu-utils (from backports)
                // breaks the distribution's QEMU: install both at one version.
                eprintln!("xtask: retrying with qemu-utils at QEMU's version: {aligned}");
                ok = run(&aligned);
            }
        }
        if ok && missing.iter().all(|t| present(t)) {
            return Ok(());
        }
        return Err(format!(
            "installing {} failed; run: sudo {command}",
            packages.join(" ")
        ));
    }
    Err(format!(
        "missing {}; install with: sudo {command}",
        missing.join(", ")
    ))
}

/// Adds `deb-src` entries mirroring the machine's Debian `deb` sources (a
/// file of its own, `zos-deb-src.sources`) so `apt-get source` works, then
/// updates the package lists. Root only; otherwise says what to do.
pub fn enable_debian_sources() -> Result<(), String> {
    let list = std::path::Path::new("/etc/apt/sources.list.d/debian.sources");
    let ours = std::path::Path::new("/etc/apt/sources.list.d/zos-deb-src.sources");
    if !is_root() {
        return Err(
            "apt-get source needs deb-src entries; add them (as root) to /etc/apt/sources.list.d/"
                .into(),
        );
    }
    if !ours.exists() {
        let text = std::fs::read_to_string(list).map_err(|e| {
            format!(
                "reading {}: {e} (add deb-src entries by hand)",
                list.display()
            )
        })?;
        let sources: String = text
            .lines()
            .map(|l| {
                if l.trim() == "Types: deb" {
                    "Types: deb-src"
                } else {
                    l
                }
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        eprintln!("xtask: adding deb-src entries ({})", ours.display());
        std::fs::write(ours, sources).map_err(|e| format!("writing {}: {e}", ours.display()))?;
    }
    let ok = Command::new("apt-get")
        .args(["update", "-qq"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("apt-get update failed".into())
    }
}

/// Path of `llvm-objcopy` from the toolchain's `llvm-tools` component.
pub fn llvm_objcopy() -> Result<std::path::PathBuf, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(&rustc)
            .args(args)
            .current_dir(crate::root())
            .output()
            .map_err(|e| format!("running rustc: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let sysroot = output(&["--print", "sysroot"])?;
    let host = output(&["-vV"])?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or("rustc -vV printed no host triple")?;
    let path =
        std::path::Path::new(sysroot.trim()).join(format!("lib/rustlib/{host}/bin/llvm-objcopy"));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found; install it with: rustup component add llvm-tools",
            path.display()
        ))
    }
}

/// The `targets` and `components` lists of `rust-toolchain.toml`.
fn pinned_lists(toolchain_file: &str) -> (Vec<String>, Vec<String>) {
    let list = |key: &str| -> Vec<String> {
        toolchain_file
            .lines()
            .map(str::trim)
            .find_map(|line| {
                let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
                let inner = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
                Some(
                    inner
                        .split(',')
                        .map(|item| item.trim().trim_matches('"').to_string())
                        .filter(|item| !item.is_empty())
                        .collect(),
                )
            })
            .unwrap_or_default()
    };
    (list("targets"), list("components"))
}

/// Lines of `rustup <what> list --installed` for the pinned toolchain.
fn rustup_installed(what: &str) -> Option<Vec<String>> {
    let output = Command::new("rustup")
        .args([what, "list", "--installed"])
        .current_dir(crate::root())
        .output()
        .ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect()
    })
}

/// Makes sure the pinned toolchain has every target and component that
/// `rust-toolchain.toml` names: rustup installs a missing toolchain by itself,
/// but not the extra targets and components of one that is already there.
pub fn ensure_toolchain() -> Result<(), String> {
    let file = crate::root().join("rust-toolchain.toml");
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let (targets, components) = pinned_lists(&text);
    let Some(installed_targets) = rustup_installed("target") else {
        // No rustup (a distribution toolchain): nothing we can add; cargo will say
        // what is missing.
        return Ok(());
    };
    let missing_targets: Vec<&String> = targets
        .iter()
        .filter(|t| !installed_targets.contains(t))
        .collect();
    if !missing_targets.is_empty() {
        let names: Vec<&str> = missing_targets.iter().map(|s| s.as_str()).collect();
        eprintln!("xtask: installing rust targets: {}", names.join(" "));
        let mut command = Command::new("rustup");
        command
            .args(["target", "add"])
            .args(&names)
            .current_dir(crate::root());
        crate::run_checked(&mut command, "rustup target add")?;
    }
    // Component names in `--installed` carry the host triple (`clippy-x86_64-…`);
    // `rust-src` has none.
    let installed_components = rustup_installed("component").unwrap_or_default();
    let missing_components: Vec<&str> = components
        .iter()
        .filter(|c| {
            !installed_components
                .iter()
                .any(|i| i == *c || i.starts_with(&format!("{c}-")))
        })
        .map(String::as_str)
        .collect();
    if !missing_components.is_empty() {
        eprintln!(
            "xtask: installing rust components: {}",
            missing_components.join(" ")
        );
        let mut command = Command::new("rustup");
        command
            .args(["component", "add"])
            .args(&missing_components)
            .current_dir(crate::root());
        crate::run_checked(&mut command, "rustup component add")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pinned_lists;

    #[test]
    fn reads_the_pinned_lists() {
        let text = "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"a\", \"b-c\"]\ncomponents = [\"rust-src\",\"clippy\"]\n";
        let (targets, components) = pinned_lists(text);
        assert_eq!(targets, ["a", "b-c"]);
        assert_eq!(components, ["rust-src", "clippy"]);
    }
}
