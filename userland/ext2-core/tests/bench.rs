//! Figures for docs/storage.md: the ext2 workloads run by ext2-core alone
//! on an in-memory disk (no IPC, no device): what the file-system code costs.
//! Run with `cargo test --release -p zos-ext2-core --test bench -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::*;
use zos_vfs_core::{FileKind, FileSystem, NewInode};

const OWNER: NewInode = NewInode::new(0o644, 0, 0);

#[test]
#[ignore = "a benchmark: prints figures"]
fn workloads() {
    if !have_e2fsprogs() {
        return;
    }
    let image = make_image(4096, 256 * 1024, &[]);
    let t = Instant::now();
    let mut fs = mount(image);
    println!("mount: {:?}", t.elapsed());
    let root = fs.root();

    let f = fs.create(root, "seq", FileKind::Regular, OWNER).unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let t = Instant::now();
    for i in 0..1024u64 {
        fs.write(f, i * 65536, &chunk).unwrap();
    }
    fs.sync().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "64 MiB write in 64 KiB writes + sync: {:.0} MiB/s",
        64.0 / secs
    );

    fs.with_volume(|v| v.cache_mut().drop_clean());
    let mut buf = vec![0u8; 64 * 1024];
    let t = Instant::now();
    for i in 0..1024u64 {
        fs.read(f, i * 65536, &mut buf).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!("64 MiB cold read: {:.0} MiB/s", 64.0 / secs);

    let page = vec![1u8; 4096];
    let t = Instant::now();
    for i in 0..1000 {
        let ino = fs
            .create(root, &format!("f{i}"), FileKind::Regular, OWNER)
            .unwrap();
        fs.write(ino, 0, &page).unwrap();
        fs.sync().unwrap();
    }
    println!(
        "create + write 4 KiB + fsync: {:?} per op",
        t.elapsed() / 1000
    );

    let t = Instant::now();
    for i in 0..1000 {
        fs.create(root, &format!("e{i}"), FileKind::Regular, OWNER)
            .unwrap();
        fs.unlink(root, &format!("e{i}")).unwrap();
    }
    println!("create empty + unlink: {:?} per op", t.elapsed() / 1000);

    let mut dir = root;
    for d in 1..=8 {
        dir = fs
            .create(dir, &format!("d{d}"), FileKind::Directory, OWNER)
            .unwrap();
    }
    let t = Instant::now();
    for _ in 0..10_000 {
        let mut ino = root;
        for d in 1..=8 {
            ino = fs.lookup(ino, &format!("d{d}")).unwrap();
        }
        fs.getattr(ino).unwrap();
    }
    println!("stat 8 directories deep: {:?} per op", t.elapsed() / 10_000);
    let image = unmount(fs);
    assert_clean(&image);
}
