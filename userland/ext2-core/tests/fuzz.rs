//! Hostile images: a seeded fuzzer mutates mkfs-made images (superblock, group
//! descriptors, inode tables, directory entries, block pointers, truncation, random
//! disks), then mounts, walks, reads and writes each one. The file system must
//! refuse the mount with a message, or answer with errors; it must never panic,
//! hang, or touch bytes outside the image.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use zos_ext2_core::{BlockDevice, Ext2Fs, IoError, MemDisk, MountOptions};
use zos_vfs_core::{FileKind, FileSystem, Ino, NewInode, SetAttr};

const IMAGES: u64 = 1200;

/// A disk that fails the test on any access outside itself.
struct Guarded(MemDisk);

impl BlockDevice for Guarded {
    fn sector_count(&self) -> u64 {
        self.0.sector_count()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let r = self.0.read(sector, buf);
        assert_ne!(
            r,
            Err(IoError::OutOfRange),
            "read outside the image at sector {sector}"
        );
        r
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        let r = self.0.write(sector, data);
        assert_ne!(
            r,
            Err(IoError::OutOfRange),
            "write outside the image at sector {sector}"
        );
        r
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush()
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Byte ranges worth hitting in an image: superblock, descriptors, the first
/// inode table, and the rest of the used area (directories, indirect blocks).
fn regions(image: &[u8]) -> Vec<(usize, usize)> {
    let log = u32_at(image, 1024 + 24).min(2);
    let bs = 1024usize << log;
    let gdt = if bs == 1024 { 2 * 1024 } else { bs };
    let table = u32_at(image, gdt + 8) as usize * bs;
    let table = table.min(image.len() - 4096);
    vec![
        (1024, 2048),
        (gdt, gdt + 64),
        (table, table + 16 * 256),
        (0, image.len().min(2 << 20)),
    ]
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut image = base.to_vec();
    match rng.below(10) {
        0 => {
            // Truncated image.
            let len = rng.below(image.len() as u64) as usize;
            image.truncate(len);
        }
        1 => {
            // Random bytes.
            let len = 1024 * (1 + rng.below(4096)) as usize;
            image = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 && len > 2048 {
                image[1024 + 56] = 0x53;
                image[1024 + 57] = 0xEF;
            }
        }
        _ => {
            let regions = regions(&image);
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let (lo, hi) = regions[rng.below(regions.len() as u64) as usize];
                if hi <= lo + 4 || hi > image.len() {
                    continue;
                }
                let at = (lo + rng.below((hi - lo - 4) as u64) as usize) & !3;
                match rng.below(4) {
                    0 => image[at] ^= 1 << rng.below(8),
                    1 => image[at..at + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes()),
                    // A block pointer just past the end, or far past it.
                    2 => {
                        let blocks = u32_at(&image, 1024 + 4);
                        let v = blocks.wrapping_add(rng.below(3) as u32);
                        image[at..at + 4].copy_from_slice(&v.to_le_bytes());
                    }
                    _ => image[at] = rng.next() as u8,
                }
            }
        }
    }
    image
}

const OWNER: NewInode = NewInode::new(0o644, 0, 0);

/// Visit everything reachable, read files and links, then modify the volume.
fn exercise(fs: &mut Ext2Fs<Guarded>) {
    let mut stack: Vec<(Ino, u32)> = vec![(fs.root(), 0)];
    let mut visited = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut files = Vec::new();
    while let Some((dir, depth)) = stack.pop() {
        let mut cookie = 0;
        let mut entries = 0;
        while let Ok(Some((entry, next))) = fs.readdir(dir, cookie) {
            assert!(next > cookie, "readdir cookie did not advance");
            cookie = next;
            entries += 1;
            visited += 1;
            if entries > 5000 || visited > 20_000 {
                break;
            }
            if entry.name == "." || entry.name == ".." {
                continue;
            }
            let Ok(ino) = fs.lookup(dir, &entry.name) else {
                continue;
            };
            let Ok(st) = fs.getattr(ino) else { continue };
            match st.kind {
                FileKind::Directory if depth < 16 => stack.push((ino, depth + 1)),
                FileKind::Regular => {
                    files.push((dir, entry.name.clone(), ino));
                    let _ = fs.read(ino, 0, &mut buf);
                    let _ = fs.read(ino, st.size.saturating_sub(100), &mut buf);
                }
                FileKind::Symlink => {
                    let _ = fs.readlink(ino);
                }
                _ => {}
            }
        }
    }
    let root = fs.root();
    if let Ok(new) = fs.create(root, "fuzz-new", FileKind::Regular, OWNER) {
        let _ = fs.write(new, 0, &buf[..20_000]);
        let _ = fs.write(new, 300_000, b"x");
    }
    let _ = fs.create(root, "fuzz-dir", FileKind::Directory, OWNER);
    let _ = fs.symlink(root, "fuzz-link", &"s".repeat(100), OWNER);
    for (dir, name, ino) in files.iter().take(4) {
        let _ = fs.write(*ino, 10, b"overwrite");
        let _ = fs.setattr(
            *ino,
            SetAttr {
                size: Some(5),
                ..SetAttr::default()
            },
        );
        let _ = fs.rename(*dir, name, root, "fuzz-renamed");
        let _ = fs.unlink(root, "fuzz-renamed");
    }
    let _ = fs.rmdir(root, "fuzz-dir");
    let _ = fs.sync();
}

fn run_one(image: Vec<u8>) -> bool {
    let len = image.len();
    match Ext2Fs::mount(Guarded(MemDisk::from_bytes(image)), MountOptions::default()) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
        Ok(mut fs) => {
            exercise(&mut fs);
            let disk = match fs.unmount() {
                Ok(d) | Err((_, d)) => d,
            };
            assert_eq!(disk.0.bytes.len(), len / 512 * 512, "image changed size");
            true
        }
    }
}

#[test]
fn mutated_images_never_panic_hang_or_escape() {
    if !have_e2fsprogs() {
        return;
    }
    let mut items = vec![
        Item::Dir("d"),
        Item::Dir("d/e"),
        Item::File("d/e/big", pattern(300 * 1024, 1)),
        Item::Symlink("fast", "d/e/big"),
        Item::Symlink(
            "slow",
            "d/e/big/................................................................",
        ),
    ];
    let names: Vec<String> = (0..40).map(|i| format!("d/f{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        items.push(Item::File(name, pattern(i * 97, i as u32)));
    }
    let bases = [
        make_image(1024, 2048, &items),
        make_image(4096, 4096, &items),
    ];
    let seed = std::env::var("EXT2_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026u64);
    let count = std::env::var("EXT2_FUZZ_IMAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(IMAGES);
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        let mut mounted = 0;
        for n in 0..count {
            let base = &bases[(n % 2) as usize];
            let image = mutate(&mut rng, base);
            tx.send(n).unwrap();
            mounted += run_one(image) as u64;
        }
        eprintln!("{count} images, {mounted} mounted and exercised");
        // Most mutations must get past mount, or the walk tests nothing.
        assert!(
            mounted * 2 > count,
            "only {mounted} of {count} images mounted"
        );
        tx.send(u64::MAX).unwrap();
    });
    let mut current = 0;
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(u64::MAX) => break,
            Ok(n) => current = n,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("image {current} (seed {seed:#x}) took over 20 s: a loop?")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("image {current} (seed {seed:#x}) panicked")
            }
        }
    }
    worker.join().unwrap();
}

#[test]
fn damaged_superblocks_are_named() {
    if !have_e2fsprogs() {
        return;
    }
    let base = make_image(1024, 2048, &[]);
    let mount_err = |image: Vec<u8>| {
        Ext2Fs::mount(MemDisk::from_bytes(image), MountOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let mut bad = base.clone();
    bad[1024 + 56] = 0;
    assert!(mount_err(bad).contains("magic"));
    assert!(mount_err(base[..base.len() / 2].to_vec()).contains("truncated"));
    let mut bad = base.clone();
    bad[1024 + 24] = 9;
    assert!(mount_err(bad).contains("block size"));
    let mut bad = base.clone();
    bad[2048 + 8..2048 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(mount_err(bad).contains("group descriptor 0"));
    assert!(mount_err(vec![0; 1000]).contains("too small"));
}
