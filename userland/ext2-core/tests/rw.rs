//! Read and write ext2 images made by the host's `mkfs.ext2`, then let `e2fsck -fn`
//! judge the result and `debugfs` read back what we wrote.

mod common;

use common::*;
use zos_ext2_core::{Ext2Fs, MemDisk, MountOptions};
use zos_vfs_core::{Errno, FileKind, FileSystem, Ino, NewInode, SetAttr};

fn walk(fs: &impl FileSystem, path: &str) -> Result<Ino, Errno> {
    let mut ino = fs.root();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        ino = fs.lookup(ino, part)?;
    }
    Ok(ino)
}

fn read_all(fs: &mut impl FileSystem, ino: Ino) -> Vec<u8> {
    let size = fs.getattr(ino).unwrap().size as usize;
    let mut buf = vec![0u8; size + 10];
    let mut done = 0;
    loop {
        let n = fs.read(ino, done as u64, &mut buf[done..]).unwrap();
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    buf
}

fn names(fs: &impl FileSystem, dir: Ino) -> Vec<String> {
    let mut out = Vec::new();
    let mut cookie = 0;
    while let Some((entry, next)) = fs.readdir(dir, cookie).unwrap() {
        out.push(entry.name);
        cookie = next;
    }
    out.sort();
    out
}

const FILE: NewInode = NewInode::new(0o644, 1000, 1000);
const DIR: NewInode = NewInode::new(0o755, 1000, 1000);

fn both_block_sizes(test: impl Fn(u32)) {
    if !have_e2fsprogs() {
        return;
    }
    test(1024);
    test(4096);
}

#[test]
fn reads_what_mkfs_wrote() {
    both_block_sizes(|bs| {
        let small = b"hello ext2\n".to_vec();
        // Past the double-indirect start for 1 KiB blocks (12 + 256 blocks).
        let big = pattern(400 * 1024 + 123, 7);
        let long_target = "x/".repeat(50) + "target";
        let image = make_image(
            bs,
            8192,
            &[
                Item::File("hello.txt", small.clone()),
                Item::Dir("a"),
                Item::Dir("a/b"),
                Item::File("a/b/big.bin", big.clone()),
                Item::Symlink("fast", "hello.txt"),
                Item::Symlink("slow", &long_target),
            ],
        );
        let mut fs = mount(image);
        let hello = walk(&fs, "hello.txt").unwrap();
        assert_eq!(read_all(&mut fs, hello), small);
        let big_ino = walk(&fs, "a/b/big.bin").unwrap();
        assert_eq!(read_all(&mut fs, big_ino), big);
        assert_eq!(fs.getattr(big_ino).unwrap().size, big.len() as u64);
        let fast = walk(&fs, "fast").unwrap();
        assert_eq!(fs.getattr(fast).unwrap().kind, FileKind::Symlink);
        assert_eq!(fs.readlink(fast).unwrap(), "hello.txt");
        assert_eq!(
            fs.readlink(walk(&fs, "slow").unwrap()).unwrap(),
            long_target
        );
        let root = fs.root();
        let listing = names(&fs, root);
        for want in [".", "..", "a", "fast", "hello.txt", "lost+found", "slow"] {
            assert!(listing.contains(&want.to_string()), "{listing:?}");
        }
        assert_eq!(walk(&fs, "a/b/..").unwrap(), walk(&fs, "a").unwrap());
        assert_eq!(walk(&fs, "nope"), Err(Errno::ENOENT));
        let image = unmount(fs);
        assert_clean(&image);
    });
}

#[test]
fn namespace_operations_leave_a_clean_volume() {
    both_block_sizes(|bs| {
        let image = make_image(bs, 4096, &[Item::File("keep.txt", b"keep".to_vec())]);
        let mut fs = mount(image);
        let root = fs.root();
        let d1 = fs.create(root, "d1", FileKind::Directory, DIR).unwrap();
        let d2 = fs.create(root, "d2", FileKind::Directory, DIR).unwrap();
        let sub = fs.create(d1, "sub", FileKind::Directory, DIR).unwrap();
        let f = fs.create(d1, "file1", FileKind::Regular, FILE).unwrap();
        assert_eq!(
            fs.create(d1, "file1", FileKind::Regular, FILE),
            Err(Errno::EEXIST)
        );
        fs.write(f, 0, b"first file").unwrap();
        // Many entries force directory growth past one block.
        for i in 0..300 {
            let name = format!("entry-with-a-long-name-{i:04}");
            let ino = fs.create(d2, &name, FileKind::Regular, FILE).unwrap();
            fs.write(ino, 0, name.as_bytes()).unwrap();
        }
        for i in (0..300).step_by(3) {
            fs.unlink(d2, &format!("entry-with-a-long-name-{i:04}"))
                .unwrap();
        }
        assert_eq!(names(&fs, d2).len(), 2 + 200);
        // Hard link, then rename within and across directories, over a target.
        fs.link(root, "hard", f).unwrap();
        assert_eq!(fs.getattr(f).unwrap().nlink, 2);
        fs.rename(d1, "file1", d1, "renamed").unwrap();
        fs.rename(d1, "renamed", d2, "moved").unwrap();
        let victim = fs.create(d2, "victim", FileKind::Regular, FILE).unwrap();
        fs.write(victim, 0, &pattern(5000, 1)).unwrap();
        fs.rename(d2, "moved", d2, "victim").unwrap();
        assert_eq!(walk(&fs, "d2/victim").unwrap(), f);
        assert_eq!(fs.getattr(victim).err(), Some(Errno::ENOENT));
        // Directory moves: into another directory, over an empty one, not into itself.
        fs.rename(d1, "sub", d2, "sub").unwrap();
        assert_eq!(walk(&fs, "d2/sub/..").unwrap(), d2);
        fs.create(d1, "empty", FileKind::Directory, DIR).unwrap();
        fs.rename(d2, "sub", d1, "empty").unwrap();
        assert_eq!(fs.rename(root, "d1", sub, "x"), Err(Errno::EINVAL));
        assert_eq!(fs.rmdir(root, "d1"), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.unlink(root, "d1"), Err(Errno::EISDIR));
        // Symlinks, fast and slow.
        fs.symlink(root, "link1", "keep.txt", FILE).unwrap();
        let long = "y".repeat(200);
        let slow = fs.symlink(root, "link2", &long, FILE).unwrap();
        assert_eq!(fs.readlink(slow).unwrap(), long);
        fs.symlink(d1, "gone", &long, FILE).unwrap();
        fs.unlink(d1, "gone").unwrap();
        // rmdir and attributes.
        let tmp = fs.create(root, "tmpdir", FileKind::Directory, DIR).unwrap();
        fs.rmdir(root, "tmpdir").unwrap();
        assert!(fs.getattr(tmp).is_err());
        let st = fs
            .setattr(
                f,
                SetAttr {
                    mode: Some(0o600),
                    uid: Some(70000),
                    gid: Some(5),
                    atime: Some(1_000_000_000_123),
                    mtime: Some(2_000_000_000_456),
                    ..SetAttr::default()
                },
            )
            .unwrap();
        assert_eq!((st.mode, st.uid, st.gid), (0o600, 70000, 5));
        assert_eq!(st.mtime, 2_000_000_000_456);
        fs.create(root, "fifo", FileKind::Fifo, FILE).unwrap();
        let dev = fs
            .create(
                root,
                "null",
                FileKind::CharDevice,
                NewInode {
                    rdev: (1 << 8) | 3,
                    ..FILE
                },
            )
            .unwrap();
        assert_eq!(fs.getattr(dev).unwrap().rdev, (1 << 8) | 3);
        let image = unmount(fs);
        assert_clean(&image);
        assert_eq!(debugfs_cat(&image, "/d2/victim"), b"first file");
        assert_eq!(debugfs_cat(&image, "/hard"), b"first file");
        assert_eq!(
            debugfs_cat(&image, "/d2/entry-with-a-long-name-0001"),
            b"entry-with-a-long-name-0001"
        );
        let st = debugfs_stat(&image, "/link2");
        assert!(st.contains("Type: symlink"), "{st}");
        // And it mounts again with everything in place.
        let fs = mount(image);
        assert_eq!(walk(&fs, "d1/empty/..").unwrap(), walk(&fs, "d1").unwrap());
        assert_eq!(
            fs.readlink(walk(&fs, "link1").unwrap()).unwrap(),
            "keep.txt"
        );
    });
}

#[test]
fn big_sparse_and_truncated_files() {
    both_block_sizes(|bs| {
        let image = make_image(bs, 16384, &[]);
        let mut fs = mount(image);
        let root = fs.root();
        // Sequential data through direct, indirect and double indirect blocks.
        let data = pattern(3 << 20, 3);
        let f = fs.create(root, "seq", FileKind::Regular, FILE).unwrap();
        for (i, chunk) in data.chunks(65536).enumerate() {
            assert_eq!(fs.write(f, (i * 65536) as u64, chunk).unwrap(), chunk.len());
        }
        assert_eq!(read_all(&mut fs, f), data);
        // Sparse: a byte past 4 GiB (triple indirect for 1 KiB blocks beyond 64 MiB).
        let sparse = fs.create(root, "sparse", FileKind::Regular, FILE).unwrap();
        fs.write(sparse, 5 << 30, b"far").unwrap();
        fs.write(sparse, 70 << 20, b"middle").unwrap();
        fs.write(sparse, 100, b"near").unwrap();
        let st = fs.getattr(sparse).unwrap();
        assert_eq!(st.size, (5 << 30) + 3);
        assert!(st.blocks < 200, "sparse file uses {} sectors", st.blocks);
        let mut buf = [1u8; 8];
        fs.read(sparse, (5 << 30) - 4, &mut buf).unwrap();
        assert_eq!(&buf[..7], b"\0\0\0\0far");
        fs.read(sparse, 70 << 20, &mut buf).unwrap();
        assert_eq!(&buf[..6], b"middle");
        // Truncate: shrink to inside a block (tail must read as zeros), then grow.
        fs.setattr(
            sparse,
            SetAttr {
                size: Some(102),
                ..SetAttr::default()
            },
        )
        .unwrap();
        fs.setattr(
            sparse,
            SetAttr {
                size: Some(4096),
                ..SetAttr::default()
            },
        )
        .unwrap();
        let mut buf = [9u8; 8];
        fs.read(sparse, 100, &mut buf).unwrap();
        assert_eq!(&buf, b"ne\0\0\0\0\0\0");
        fs.setattr(
            f,
            SetAttr {
                size: Some(300_000),
                ..SetAttr::default()
            },
        )
        .unwrap();
        assert_eq!(read_all(&mut fs, f), &data[..300_000]);
        let image = unmount(fs);
        assert_clean(&image);
        assert_eq!(debugfs_cat(&image, "/seq"), &data[..300_000]);
        let fs = mount(image.clone());
        assert_eq!(fs.getattr(walk(&fs, "sparse").unwrap()).unwrap().size, 4096);
        // A file over 4 GiB written and left in place is clean too.
        let mut fs = fs;
        let root = fs.root();
        let huge = fs.create(root, "huge", FileKind::Regular, FILE).unwrap();
        fs.write(huge, (4 << 30) + 5, b"tail").unwrap();
        let image = unmount(fs);
        assert_clean(&image);
        assert!(debugfs_stat(&image, "/huge").contains("Size: 4294967305"));
    });
}

#[test]
fn running_out_of_space_is_enospc_and_clean() {
    if !have_e2fsprogs() {
        return;
    }
    let image = make_image(1024, 1024, &[]);
    let mut fs = mount(image);
    let root = fs.root();
    let f = fs.create(root, "fill", FileKind::Regular, FILE).unwrap();
    let chunk = vec![0xAB; 64 * 1024];
    let mut offset = 0u64;
    loop {
        match fs.write(f, offset, &chunk) {
            Ok(0) | Err(Errno::ENOSPC) => break,
            Ok(n) => offset += n as u64,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(offset > 800 * 1024);
    let mut n = 0;
    loop {
        match fs.create(root, &format!("f{n}"), FileKind::Regular, FILE) {
            Ok(_) => n += 1,
            Err(Errno::ENOSPC) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    fs.unlink(root, "fill").unwrap();
    let sub = fs.create(root, "after", FileKind::Regular, FILE);
    assert!(sub.is_ok() || sub == Err(Errno::ENOSPC));
    let image = unmount(fs);
    assert_clean(&image);
}

#[test]
fn superblock_state_and_mount_count_follow_linux() {
    if !have_e2fsprogs() {
        return;
    }
    let image = make_image(1024, 2048, &[]);
    let before = zos_ext2_core::layout::Superblock::parse(image[1024..2048].try_into().unwrap());
    assert_eq!(before.state & 1, 1);
    let fs = mount(image);
    let on_disk = fs.with_volume(|v| v.cache().device().bytes[1024..2048].to_vec());
    let mounted = zos_ext2_core::layout::Superblock::parse(on_disk[..].try_into().unwrap());
    assert_eq!(mounted.state & 1, 0, "in use while mounted");
    assert_eq!(mounted.mnt_count, before.mnt_count + 1);
    assert_eq!(mounted.mtime as u64, T0 / 1_000_000_000);
    let image = unmount(fs);
    let after = zos_ext2_core::layout::Superblock::parse(image[1024..2048].try_into().unwrap());
    assert_eq!(after.state & 1, 1, "clean after unmount");
    assert_eq!(after.wtime as u64, T0 / 1_000_000_000);
    // A read-only mount writes nothing.
    let ro = Ext2Fs::mount(
        MemDisk::from_bytes(image.clone()),
        MountOptions {
            read_only: true,
            ..MountOptions::default()
        },
    )
    .unwrap();
    let mut ro = ro;
    let root = ro.root();
    assert_eq!(
        ro.create(root, "x", FileKind::Regular, FILE),
        Err(Errno::EROFS)
    );
    assert_eq!(ro.unmount().map_err(|(e, _)| e).unwrap().bytes, image);
}

#[test]
fn deleting_at_time_zero_still_sets_dtime() {
    if !have_e2fsprogs() {
        return;
    }
    // No real-time clock: the VFS's clock starts at 0 at boot.
    let image = make_image(1024, 2048, &[Item::File("f", b"x".to_vec())]);
    let mut fs = Ext2Fs::mount(MemDisk::from_bytes(image), MountOptions::default()).unwrap();
    let root = fs.root();
    fs.unlink(root, "f").unwrap();
    let image = unmount(fs);
    assert_clean(&image);
}

#[test]
fn unlinked_open_file_lives_until_release() {
    if !have_e2fsprogs() {
        return;
    }
    let image = make_image(4096, 4096, &[]);
    let mut fs = mount(image);
    let root = fs.root();
    let f = fs.create(root, "open", FileKind::Regular, FILE).unwrap();
    fs.write(f, 0, &pattern(100_000, 9)).unwrap();
    fs.retain(f).unwrap();
    let free_before = fs.statfs().free_blocks;
    fs.unlink(root, "open").unwrap();
    assert_eq!(read_all(&mut fs, f), pattern(100_000, 9));
    assert_eq!(fs.statfs().free_blocks, free_before);
    fs.release(f);
    assert!(fs.statfs().free_blocks > free_before);
    let image = unmount(fs);
    assert_clean(&image);
}

#[test]
fn sync_flushes_to_the_device() {
    if !have_e2fsprogs() {
        return;
    }
    let image = make_image(4096, 4096, &[]);
    let mut fs = mount(image);
    let root = fs.root();
    let f = fs.create(root, "durable", FileKind::Regular, FILE).unwrap();
    fs.write(f, 0, b"on disk").unwrap();
    let flushes = fs.with_volume(|v| v.cache().device().flushes);
    fs.sync().unwrap();
    let (flushes_after, bytes) =
        fs.with_volume(|v| (v.cache().device().flushes, v.cache().device().bytes.clone()));
    assert_eq!(flushes_after, flushes + 1);
    // What sync wrote is a consistent volume even without unmounting (only the
    // "not cleanly unmounted" state differs, which -n reports but accepts).
    assert_eq!(debugfs_cat(&bytes, "/durable"), b"on disk");
}
