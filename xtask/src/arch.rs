//! The architectures xtask builds and boots: targets, artefact folders and
//! the reference QEMU command line of each. `--arch aarch64|x86_64` picks one
//! on `build`, `run` and `bench`; AArch64 is the default.

use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    pub fn parse(name: &str) -> Result<Arch, String> {
        match name {
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            other => Err(format!("unknown architecture '{other}' (aarch64, x86_64)")),
        }
    }

    /// Takes `--arch NAME` (or `--arch=NAME`) out of `args`.
    pub fn from_args(args: &mut Vec<String>) -> Result<Arch, String> {
        let Some(at) = args
            .iter()
            .take_while(|a| *a != "--")
            .position(|a| a == "--arch" || a.starts_with("--arch="))
        else {
            return Ok(Arch::Aarch64);
        };
        let flag = args.remove(at);
        let name = match flag.strip_prefix("--arch=") {
            Some(name) => name.to_string(),
            None if at < args.len() => args.remove(at),
            None => return Err("--arch needs a value (aarch64, x86_64)".into()),
        };
        Arch::parse(&name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The backend crate that builds the kernel binary.
    pub fn kernel_package(self) -> &'static str {
        match self {
            Arch::Aarch64 => "zos-arch-aarch64",
            Arch::X86_64 => "zos-arch-x86_64",
        }
    }

    /// Target triple of the kernel (never FP/SIMD in the kernel).
    pub fn kernel_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none-softfloat",
            Arch::X86_64 => "x86_64-unknown-none",
        }
    }

    /// Target triple of userland.
    pub fn user_target(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64-unknown-none",
            Arch::X86_64 => "x86_64-unknown-none",
        }
    }

    /// The x86_64 kernel shares its triple with userland, whose link flags
    /// (`.cargo/config.toml`: `userland/user.ld`) must not reach it: it is
    /// built with its own RUSTFLAGS (which replace the config's) into its own
    /// target folder, so the two never rebuild each other.
    pub fn kernel_build_env(self) -> Option<(&'static str, &'static str)> {
        match self {
            Arch::Aarch64 => None,
            Arch::X86_64 => Some((
                "-C code-model=kernel -C relocation-model=static",
                "target/x86_64-kernel",
            )),
        }
    }

    /// Where cargo leaves the kernel binary.
    pub fn built_kernel(self) -> PathBuf {
        let dir = match self.kernel_build_env() {
            Some((_, dir)) => dir,
            None => "target",
        };
        crate::root().join(format!("{dir}/{}/release/kernel", self.kernel_target()))
    }

    /// Where artefacts land.
    pub fn out_dir(self) -> PathBuf {
        crate::root().join(format!("target/zos/{}", self.name()))
    }

    pub fn qemu(self) -> &'static str {
        match self {
            Arch::Aarch64 => "qemu-system-aarch64",
            Arch::X86_64 => "qemu-system-x86_64",
        }
    }

    /// Whether this architecture's QEMU races a memory-map change (a PCI
    /// BAR or command write) against MMIO on other vCPU threads and
    /// crashes: x86_64 before QEMU 8.1 (docs/x86_64.md, "QEMU before 8.1").
    /// Such a QEMU runs several CPUs on one host thread
    /// (`-accel tcg,thread=single`).
    pub fn qemu_mttcg_races(self) -> bool {
        if self != Arch::X86_64 {
            return false;
        }
        let Ok(output) = Command::new(self.qemu()).arg("--version").output() else {
            return false;
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text
            .split("version ")
            .nth(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .take(2)
                    .map(|n| n.parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        matches!(version.as_slice(), [major, minor] if (*major, *minor) < (8, 1))
    }

    /// The reference QEMU command line (ARCHITECTURE.md §5 and §12), without
    /// kernel and initrd. On x86_64 `-cpu max` turns on SMEP, SMAP and
    /// FSGSBASE (any model boots; `docs/x86_64.md`).
    pub fn qemu_command(self) -> Command {
        let mut command = Command::new(self.qemu());
        match self {
            Arch::Aarch64 => command.args(["-machine", "virt", "-cpu", "cortex-a57"]),
            Arch::X86_64 => command.args(["-machine", "q35", "-cpu", "max"]),
        };
        command.args(["-m", "1G", "-nographic"]);
        command
    }
}
