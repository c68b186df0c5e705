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
    let mut command = Command::new(mkfs()?);
    if let Some(inodes) = inodes {
        command.args(["-N", &inodes.to_string()]);
    }
    let output = command
        .args(["-q", "-F", "-b", &block_size.to_string()])
        .args(["-U", "5a05e2f2-0000-4000-8000-000000000001"])
        .args(["-E", "hash_seed=5a05e2f2-0000-4000-8000-000000000002"])
        .arg("-d")
        .arg(root)
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
const USER_DISK_MIB: u32 = 256;

/// (Re)create the persistent disk: an ext2 volume (4 KiB blocks) holding `home/`
/// and a note, made from a directory assembled under `target/zos/disk-root`.
pub fn make_user_disk() -> Result<PathBuf, String> {
    let out = crate::root().join("target/zos");
    let root = out.join("disk-root");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("home")).map_err(|e| format!("{}: {e}", root.display()))?;
    std::fs::write(
        root.join("README"),
        "This volume is target/zos/disk.img on the host: what you save here \
         survives `cargo xtask run`. `cargo xtask disk` makes a fresh one.\n",
    )
    .map_err(|e| format!("{}: {e}", root.display()))?;
    let image = user_disk_path();
    make_image(&root, &image, 4096, USER_DISK_MIB * 1024, None)?;
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
