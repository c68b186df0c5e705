//! ext2 images made on the host with `mkfs.ext2 -d` (e2fsprogs): the small sample
//! volume (192 KiB) the initramfs carries at `/usr/share/zos/sample.ext2` (what
//! `mount -t ext2 /usr/share/zos/sample.ext2 /mnt` mounts, and what the storage
//! acceptance test starts from). Images are reproducible: fixed time, UUID and
//! hash seed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the sample volume lands in the initramfs.
pub const SAMPLE_PATH: &str = "usr/share/zos/sample.ext2";
/// Size of the sample volume: small, because the root tmpfs holds the initramfs
/// and small machines (48 MiB) must still boot.
const SAMPLE_KIB: u32 = 192;
/// Inodes of the sample volume (room for the benchmark's files).
const SAMPLE_INODES: u32 = 128;

/// `mkfs.ext2`, wherever e2fsprogs put it (often outside a user's PATH).
pub fn mkfs() -> Result<PathBuf, String> {
    for dir in ["/sbin", "/usr/sbin", "/bin", "/usr/bin"] {
        let path = Path::new(dir).join("mkfs.ext2");
        if path.exists() {
            return Ok(path);
        }
    }
    crate::tools::ensure(&["mkfs.ext2"])?;
    Ok(PathBuf::from("mkfs.ext2"))
}

/// Make an ext2 image of `kib` KiB with `block_size`-byte blocks holding `root`
/// (with `inodes` inodes, or mkfs's choice).
pub fn make_image(
    root: &Path,
    image: &Path,
    block_size: u32,
    kib: u32,
    inodes: Option<u32>,
) -> Result<(), String> {
    let _ = std::fs::remove_file(image);
    let mut args = Vec::new();
    if let Some(inodes) = inodes {
        args.extend(["-N".to_string(), inodes.to_string()]);
    }
    args.extend(["-b".to_string(), block_size.to_string()]);
    args.extend(["-U", "5a05e2f2-0000-4000-8000-000000000001"].map(String::from));
    args.extend(["-E", "hash_seed=5a05e2f2-0000-4000-8000-000000000002"].map(String::from));
    args.extend(["-d".to_string(), root.display().to_string()]);
    mkfs_ext2(&args, image, u64::from(kib))
}

/// Runs `mkfs.ext2 -q -F ARGS IMAGE KIBk` with a fixed clock (repeatable
/// images), naming the image and mkfs's complaint when it fails.
fn mkfs_ext2(args: &[String], image: &Path, kib: u64) -> Result<(), String> {
    let output = Command::new(mkfs()?)
        .args(["-q", "-F"])
        .args(args)
        .arg(image)
        .arg(format!("{kib}k"))
        .env("E2FSPROGS_FAKE_TIME", "1767225600")
        .output()
        .map_err(|e| format!("running mkfs.ext2: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "mkfs.ext2 {}: {}",
            image.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The sample volume's bytes, built under `out`.
pub fn sample_image(out: &Path) -> Result<Vec<u8>, String> {
    let root = out.join("sample-ext2");
    let _ = std::fs::remove_dir_all(&root);
    let write = |path: &str, data: &[u8]| -> Result<(), String> {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, data).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("hello.txt", b"hello from ext2\n")?;
    write("docs/a/b/deep.txt", b"eight levels would be deeper\n")?;
    // 300 KiB, sparse: 16 bytes (211..226) at the end, reached through the
    // double-indirect block (1 KiB blocks); the rest is a hole.
    {
        use std::io::{Seek, SeekFrom, Write};
        let path = root.join("big.bin");
        let mut file =
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let tail: Vec<u8> = (211..227u8).collect();
        file.seek(SeekFrom::Start(300 * 1024 - 16))
            .and_then(|_| file.write_all(&tail))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::os::unix::fs::symlink("hello.txt", root.join("link"))
        .map_err(|e| format!("symlink in {}: {e}", root.display()))?;
    let image = out.join("sample.ext2");
    make_image(&root, &image, 1024, SAMPLE_KIB, Some(SAMPLE_INODES))?;
    std::fs::read(&image).map_err(|e| format!("reading {}: {e}", image.display()))
}

/// The persistent disk `cargo xtask run` attaches.
pub fn user_disk_path() -> PathBuf {
    crate::root().join("target/zos/disk.img")
}

/// Size of the persistent disk.
const USER_DISK_MIB: u64 = 256;
/// The keystore's partition at the end of the disk.
const KEYSTORE_MIB: u64 = 1;
/// Axiom's log partition, just before the keystore's (docs/axiom.md).
const AXIOM_MIB: u64 = 16;
/// Where the state partition starts (1 MiB, as partitioning tools align).
const STATE_START_SECTOR: u64 = 2048;
/// GPT type of the state volume: the Discoverable Partitions Specification's
/// "variable data partition (/var)", which is where it is mounted.
const STATE_TYPE: &str = "4D21B016-B534-45C2-A9FB-5C16E091FD2D";
/// GPT type of the keystore's partition (`zos_proto::block::KEYSTORE_PARTITION_TYPE`).
const KEYSTORE_TYPE: &str = "483C009C-B8BE-4E16-BD32-51A34F1BCFF6";
/// GPT type of Axiom's log partition (`zos_proto::block::AXIOM_PARTITION_TYPE`).
const AXIOM_TYPE: &str = "2F030B85-6B1B-4BEB-8B96-7776D9672608";

/// (Re)create the persistent disk at `image`: a GPT disk with the state volume
/// (partition 1, an empty ext2 volume with 4 KiB blocks, root-owned; mounted
/// on `/var` at boot), the keystore's partition (partition 2, zeros: the
/// keystore initialises it on first boot) and Axiom's log (partition 3,
/// zeros: axiomd writes each boot's log there). docs/storage.md, "The state
/// volume".
pub fn make_user_disk_at(image: &Path) -> Result<(), String> {
    crate::tools::ensure(&["sfdisk"])?;
    let _ = std::fs::remove_file(image);
    let sectors = USER_DISK_MIB << 11;
    std::fs::File::create(image)
        .and_then(|f| f.set_len(sectors * 512))
        .map_err(|e| format!("creating {}: {e}", image.display()))?;
    // GPT keeps 33 sectors at the end for its backup.
    let keystore_sectors = KEYSTORE_MIB << 11;
    let keystore_start = sectors - 34 - keystore_sectors;
    let keystore_start = keystore_start / 2048 * 2048;
    let axiom_sectors = AXIOM_MIB << 11;
    let axiom_start = keystore_start - axiom_sectors;
    let state_sectors = axiom_start - STATE_START_SECTOR;
    let script = format!(
        "label: gpt\nlabel-id: 5A05E2F2-0000-4000-8000-000000000010\n\
         start={STATE_START_SECTOR}, size={state_sectors}, type={STATE_TYPE}, name=zos-state, uuid=5A05E2F2-0000-4000-8000-000000000011\n\
         start={keystore_start}, size={keystore_sectors}, type={KEYSTORE_TYPE}, name=zos-keystore, uuid=5A05E2F2-0000-4000-8000-000000000012\n\
         start={axiom_start}, size={axiom_sectors}, type={AXIOM_TYPE}, name=zos-axiom, uuid=5A05E2F2-0000-4000-8000-000000000013\n"
    );
    let mut sfdisk = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "PATH=$PATH:/sbin:/usr/sbin sfdisk -q {} >/dev/null",
            image.display()
        ))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("running sfdisk: {e}"))?;
    if let Some(mut input) = sfdisk.stdin.take() {
        use std::io::Write;
        input
            .write_all(script.as_bytes())
            .map_err(|e| format!("sfdisk: {e}"))?;
    }
    let status = sfdisk.wait().map_err(|e| format!("sfdisk: {e}"))?;
    if !status.success() {
        return Err(format!("sfdisk {} failed", image.display()));
    }
    let offset = format!(
        "offset={},root_owner=0:0,hash_seed=5a05e2f2-0000-4000-8000-000000000002",
        STATE_START_SECTOR * 512
    );
    let args = ["-b", "4096", "-L", "zos-state"]
        .into_iter()
        .chain(["-U", "5a05e2f2-0000-4000-8000-000000000013", "-E", &offset])
        .map(String::from)
        .collect::<Vec<_>>();
    mkfs_ext2(&args, image, state_sectors / 2)
}

/// (Re)create the persistent disk `cargo xtask run` attaches.
pub fn make_user_disk() -> Result<PathBuf, String> {
    let image = user_disk_path();
    make_user_disk_at(&image)?;
    Ok(image)
}

/// QEMU arguments attaching `image` as the first virtio-blk disk.
pub fn drive_args(image: &Path, arch: crate::arch::Arch) -> Vec<String> {
    let device = match arch {
        crate::arch::Arch::Aarch64 => "virtio-blk-device,drive=hd0",
        crate::arch::Arch::X86_64 => "virtio-blk-pci,drive=hd0",
    };
    vec![
        "-drive".into(),
        format!("file={},if=none,format=raw,id=hd0", image.display()),
        "-device".into(),
        device.into(),
    ]
}
