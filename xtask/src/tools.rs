//! Host tools xtask needs (QEMU, expect): found, installed, or named exactly.

use std::process::Command;

/// Debian package that provides each tool.
fn package_of(tool: &str) -> &str {
    match tool {
        "qemu-system-aarch64" => "qemu-system-arm",
        other => other,
    }
}

fn present(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
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
        let ok = Command::new("sh")
            .args([
                "-c",
                &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive {command}"),
            ])
            .status()
            .is_ok_and(|s| s.success());
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
