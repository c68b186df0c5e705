//! Building the namespace at start: the root tmpfs filled from the initramfs,
//! `/tmp`, `/dev` and `/proc`, and the seed of the random devices.
//!
//! Capacities: the root tmpfs holds `vfs.root_mib=N` MiB (kernel command line,
//! which init passes as `ZOS_CMDLINE`) or half of the quota left at start;
//! `/tmp` holds `vfs.tmp_mib=N` MiB or a quarter. The rest is for the server's
//! own heap and mappings.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use libzos::{dprintln, posix, sys};
use zos_boot::initramfs::Archive;
use zos_vfs_core::procfs::Procfs;
use zos_vfs_core::vfs::MountId;
use zos_vfs_core::{populate, ChaChaRng, Cred, Devfs, Errno, SharedFs, Tmpfs, Vfs};

/// Where the initramfs is mapped (read-only) while the root is filled.
const INITRAMFS_VA: u64 = libzos::abi::layout::VFS_INITRAMFS;

/// Why the namespace could not be built.
#[derive(Debug)]
pub enum SetupError {
    Mount(&'static str, Errno),
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::Mount(path, e) => write!(f, "cannot mount {path}: {e}"),
        }
    }
}

/// Everything the server works on.
pub struct State {
    pub vfs: Vfs,
    pub procfs: Rc<RefCell<Procfs>>,
    pub devfs: Rc<RefCell<Devfs>>,
    pub proc_mount: MountId,
    pub dev_mount: MountId,
    /// The text of `/proc/cpuinfo`.
    pub cpuinfo: String,
}

/// The capability slot of a grant from init.
pub use libzos::rt::granted;

/// `key=value` from the kernel command line init passes in `ZOS_CMDLINE`.
fn boot_arg(key: &str) -> Option<String> {
    let cmdline = posix::getenv("ZOS_CMDLINE")?;
    cmdline
        .split_ascii_whitespace()
        .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
        .map(String::from)
}

fn mib_arg(key: &str) -> Option<u64> {
    boot_arg(key)?.parse::<u64>().ok().map(|mib| mib << 20)
}

/// The two tmpfs budgets: asked for on the command line or the defaults (half
/// and a quarter of the quota), but together never more than three quarters of
/// what the server may use, so file data can never exhaust the server's own
/// memory; a request beyond that is reduced, with a warning naming the limit.
fn capacities(quota: u64, root_asked: Option<u64>, tmp_asked: Option<u64>) -> (u64, u64) {
    let most = quota / 4 * 3;
    let mut root = root_asked.unwrap_or(quota / 2);
    let mut tmp = tmp_asked.unwrap_or(quota / 4);
    if root > most {
        dprintln!(
            "vfs: warning: vfs.root_mib={} is more than this machine allows; using {} MiB",
            root >> 20,
            (most / 2) >> 20
        );
        root = most / 2;
    }
    if root + tmp > most {
        let allowed = most - root;
        if tmp_asked.is_some() {
            dprintln!(
                "vfs: warning: vfs.tmp_mib={} is more than this machine allows; using {} MiB",
                tmp >> 20,
                allowed >> 20
            );
        }
        tmp = allowed;
    }
    (root, tmp)
}

/// Now, in nanoseconds since the Unix epoch: init's clock (the PL031 read at
/// boot) as an offset to the monotonic clock, which libzos asks of init at
/// most once a second (so `date -s` reaches file times within a second).
pub fn now() -> u64 {
    libzos::posix::realtime_or_boot_ns()
}

pub fn build() -> Result<State, SetupError> {
    let quota = sys::system_info()[2];
    let (root_bytes, tmp_bytes) =
        capacities(quota, mib_arg("vfs.root_mib"), mib_arg("vfs.tmp_mib"));
    let mut vfs = Vfs::new();
    vfs.set_time(now());
    vfs.mount("/", Box::new(Tmpfs::new(root_bytes)))
        .map_err(|e| SetupError::Mount("/", e))?;
    let root = vfs.root().map_err(|e| SetupError::Mount("/", e))?;
    // Mount points first: a boot archive larger than the root's budget then
    // loses files (each reported), never /tmp, /dev or /proc.
    for (path, mode) in [("/tmp", 0o1777), ("/dev", 0o755), ("/proc", 0o555)] {
        match vfs.mkdir(root, path, mode, &Cred::ROOT) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(SetupError::Mount(path, e)),
        }
    }
    fill_from_initramfs(&mut vfs);
    vfs.mount("/tmp", Box::new(Tmpfs::new(tmp_bytes)))
        .map_err(|e| SetupError::Mount("/tmp", e))?;
    vfs.chmod(root, "/tmp", 0o1777, &Cred::ROOT)
        .map_err(|e| SetupError::Mount("/tmp", e))?;
    let (devfs_mount, devfs) = SharedFs::new(Devfs::new(seed_generator()));
    let dev_mount = vfs
        .mount("/dev", Box::new(devfs_mount))
        .map_err(|e| SetupError::Mount("/dev", e))?;
    let (procfs_mount, procfs) = SharedFs::new(Procfs::new());
    let proc_mount = vfs
        .mount("/proc", Box::new(procfs_mount))
        .map_err(|e| SetupError::Mount("/proc", e))?;
    dprintln!(
        "vfs: / is tmpfs of {} MiB, /tmp tmpfs of {} MiB, /dev devfs, /proc procfs",
        root_bytes >> 20,
        tmp_bytes >> 20
    );
    Ok(State {
        vfs,
        procfs,
        devfs,
        proc_mount,
        dev_mount,
        cpuinfo: cpuinfo(),
    })
}

/// Fills the root tmpfs from the initramfs (grant "initramfs"), whose files it
/// then reads in place until they are written.
fn fill_from_initramfs(vfs: &mut Vfs) {
    let Some(slot) = granted("initramfs") else {
        dprintln!("vfs: no initramfs granted; the root starts empty");
        return;
    };
    let size = match sys::memory_info(slot) {
        Ok((size, _, _)) => size,
        Err(e) => {
            dprintln!("vfs: initramfs capability unusable: {}", e.name());
            return;
        }
    };
    if let Err(e) = sys::memory_map(slot, sys::SELF, INITRAMFS_VA, 0, size / 4096, 0) {
        dprintln!("vfs: cannot map the initramfs: {}", e.name());
        return;
    }
    // SAFETY: `size` bytes were just mapped read-only at INITRAMFS_VA and stay
    // mapped for the rest of the VFS's life (root files read them in place);
    // nothing writes them.
    let bytes: &'static [u8] =
        unsafe { core::slice::from_raw_parts(INITRAMFS_VA as *const u8, size as usize) };
    let archive = Archive::new(bytes);
    let mut unreadable = None;
    let members = archive.entries().map_while(|entry| match entry {
        Ok(entry) => Some((entry.name, entry.mode, entry.data)),
        Err(e) => {
            unreadable = Some(e);
            None
        }
    });
    // The archive stays mapped: root files are read from it until written.
    let report = populate::populate(vfs, members);
    if let Some(e) = unreadable {
        dprintln!("vfs: initramfs: {e}; copied what came before");
    }
    for (path, errno) in &report.failed {
        dprintln!("vfs: initramfs: {path} not copied: {errno}");
    }
    dprintln!(
        "vfs: root filled from the initramfs: {} directories, {} files ({} KiB), {} symlinks",
        report.directories,
        report.files,
        report.bytes / 1024,
        report.symlinks
    );
}

/// Seeds the generator from timer jitter: the low bits of the counter around
/// yields and short busy loops vary with interrupts, caches and the host. The
/// device tree's `rng-seed` (which the kernel passes to init and init to
/// services granted "rng-seed", as `ZOS_RNG_SEED` in hex) is mixed in too.
fn seed_generator() -> ChaChaRng {
    let mut samples: Vec<u8> = Vec::with_capacity(8 * 512);
    let mut previous = sys::clock_ns();
    for round in 0..512u64 {
        let mut spin = previous ^ round;
        for _ in 0..(previous & 0x3F) {
            spin = spin.rotate_left(7) ^ round;
        }
        if round % 16 == 0 {
            sys::yield_now();
        }
        let now = sys::clock_ns();
        samples.extend_from_slice(&(now.wrapping_sub(previous) ^ spin).to_le_bytes());
        previous = now;
    }
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&sys::clock_ns().to_le_bytes());
    seed[8..16].copy_from_slice(&sys::system_info()[4].to_le_bytes());
    let mut rng = ChaChaRng::from_seed(seed);
    rng.absorb(&samples);
    if let Some(hex) = posix::getenv("ZOS_RNG_SEED") {
        let bytes: Vec<u8> = hex
            .as_bytes()
            .chunks(2)
            .filter_map(|pair| u8::from_str_radix(core::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
        rng.absorb(&bytes);
    }
    rng
}

/// What `/proc/cpuinfo` says: only what is known: one entry per online CPU. The kernel does not report
/// the CPU model, and MIDR_EL1 cannot be read at EL0, so the model is given by
/// the `vfs.cpu=` boot argument when present and called unknown otherwise.
fn cpuinfo() -> String {
    let model =
        boot_arg("vfs.cpu").unwrap_or_else(|| String::from("unknown (not reported by the kernel)"));
    let cpus = sys::cpus_online();
    (0..cpus.max(1))
        .map(|n| format!("processor\t: {n}\nmodel name\t: {model}\nCPU architecture: 8\n\n"))
        .collect()
}
