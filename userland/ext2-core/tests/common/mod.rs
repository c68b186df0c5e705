//! Host helpers for the ext2 tests: images made by `mkfs.ext2 -d`, judged by
//! `e2fsck -fn` and read back with `debugfs`. When e2fsprogs is missing the tests
//! that need it print why and pass (xtask installs it for CI).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use zos_ext2_core::{Ext2Fs, MemDisk, MountOptions};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn tool(name: &str) -> Option<PathBuf> {
    for dir in ["/sbin", "/usr/sbin", "/bin", "/usr/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return Some(path);
        }
    }
    None
}

pub fn have_e2fsprogs() -> bool {
    let ok = tool("mkfs.ext2").is_some() && tool("e2fsck").is_some() && tool("debugfs").is_some();
    if !ok {
        eprintln!("skipping: e2fsprogs (mkfs.ext2, e2fsck, debugfs) not installed");
    }
    ok
}

pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("zos-ext2-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a test puts into the image before `mkfs.ext2 -d`.
pub enum Item<'a> {
    File(&'a str, Vec<u8>),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// An ext2 image of `kib` KiB with `block_size`-byte blocks holding `items`.
pub fn make_image(block_size: u32, kib: u32, items: &[Item]) -> Vec<u8> {
    let scratch = Scratch::new();
    let root = scratch.path("root");
    std::fs::create_dir_all(&root).unwrap();
    for item in items {
        match item {
            Item::File(path, data) => std::fs::write(root.join(path), data).unwrap(),
            Item::Dir(path) => std::fs::create_dir_all(root.join(path)).unwrap(),
            Item::Symlink(path, target) => {
                std::os::unix::fs::symlink(target, root.join(path)).unwrap()
            }
        }
    }
    let img = scratch.path("img");
    let out = Command::new(tool("mkfs.ext2").unwrap())
        .args(["-q", "-F", "-b", &block_size.to_string(), "-d"])
        .arg(&root)
        .arg(&img)
        .arg(format!("{kib}k"))
        .env("E2FSPROGS_FAKE_TIME", "1700000000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkfs.ext2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(img).unwrap()
}

/// Run `e2fsck -fn` on the image; returns (clean, output).
pub fn fsck(image: &[u8]) -> (bool, String) {
    let scratch = Scratch::new();
    let img = scratch.path("img");
    std::fs::write(&img, image).unwrap();
    let out = Command::new(tool("e2fsck").unwrap())
        .arg("-fn")
        .arg(&img)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn assert_clean(image: &[u8]) {
    let (clean, text) = fsck(image);
    assert!(clean, "e2fsck -fn found problems:\n{text}");
}

/// `debugfs -R "cat PATH"` on the image.
pub fn debugfs_cat(image: &[u8], path: &str) -> Vec<u8> {
    let scratch = Scratch::new();
    let img = scratch.path("img");
    std::fs::write(&img, image).unwrap();
    let out = Command::new(tool("debugfs").unwrap())
        .arg("-R")
        .arg(format!("cat {path}"))
        .arg(&img)
        .output()
        .unwrap();
    out.stdout
}

/// `debugfs -R "stat PATH"` output.
pub fn debugfs_stat(image: &[u8], path: &str) -> String {
    let scratch = Scratch::new();
    let img = scratch.path("img");
    std::fs::write(&img, image).unwrap();
    let out = Command::new(tool("debugfs").unwrap())
        .arg("-R")
        .arg(format!("stat {path}"))
        .arg(&img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub const T0: u64 = 1_750_000_000_000_000_000;

pub fn mount(image: Vec<u8>) -> Ext2Fs<MemDisk> {
    Ext2Fs::mount(
        MemDisk::from_bytes(image),
        MountOptions {
            now: T0,
            ..MountOptions::default()
        },
    )
    .expect("mount")
}

pub fn unmount(fs: Ext2Fs<MemDisk>) -> Vec<u8> {
    fs.unmount().map_err(|(e, _)| e).expect("unmount").bytes
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
