//! tmpfs tests: sparse data, the byte budget, link counts, rename and readdir.

use super::*;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

fn attrs(mode: u32) -> NewInode {
    NewInode::new(mode, 0, 0)
}

fn fs() -> Tmpfs {
    Tmpfs::new(64 * MIB)
}

fn mkfile(fs: &mut Tmpfs, dir: Ino, name: &str) -> Ino {
    fs.create(dir, name, FileKind::Regular, attrs(0o644))
        .expect("create file")
}

fn mkdir(fs: &mut Tmpfs, dir: Ino, name: &str) -> Ino {
    fs.create(dir, name, FileKind::Directory, attrs(0o755))
        .expect("create dir")
}

fn names(fs: &Tmpfs, dir: Ino) -> Vec<String> {
    let mut cookie = 0;
    let mut out = Vec::new();
    while let Some((entry, next)) = fs.readdir(dir, cookie).expect("readdir") {
        out.push(entry.name);
        cookie = next;
    }
    out
}

/// Recompute everything tmpfs keeps incrementally and compare.
fn check_invariants(fs: &Tmpfs) {
    let mut used = 0;
    let mut names_of: BTreeMap<Ino, u32> = BTreeMap::new();
    let mut subdirs: BTreeMap<Ino, u32> = BTreeMap::new();
    for (&ino, inode) in &fs.inodes {
        used += inode.storage_cost();
        let from_stat = fs.getattr(ino).map(|stat| Perm::from(&stat));
        assert_eq!(fs.perm(ino), from_stat, "perm of {ino}");
        if let Content::Directory(dir) = &inode.content {
            assert!(dir.is_consistent(), "dir {ino} index");
            for (name, child_ino) in dir.iter() {
                used += entry_cost(name);
                *names_of.entry(child_ino).or_default() += 1;
                let child = fs.inodes.get(&child_ino).expect("entry names a live inode");
                if let Content::Directory(child_dir) = &child.content {
                    assert_eq!(child_dir.parent, ino, "parent of {child_ino}");
                    *subdirs.entry(ino).or_default() += 1;
                }
            }
        }
        if let Content::Regular(data) = &inode.content {
            if let Some(last) = data.last_page() {
                assert!(last * PAGE_BYTES < data.size(), "page beyond end of file");
            }
        }
    }
    assert_eq!(used, fs.budget.used, "budget accounting");
    assert!(fs.budget.used <= fs.budget.capacity.max(INODE_COST));
    for (&ino, inode) in &fs.inodes {
        let linked = names_of.get(&ino).copied().unwrap_or(0);
        let expected = if inode.kind == FileKind::Directory {
            if linked == 0 && ino != ROOT_INO {
                0
            } else {
                2 + subdirs.get(&ino).copied().unwrap_or(0)
            }
        } else {
            linked
        };
        assert_eq!(inode.nlink, expected, "nlink of {ino}");
        assert!(inode.nlink > 0 || inode.open_refs > 0, "leaked inode {ino}");
    }
}

#[test]
fn sparse_file_reads_zeros_before_data() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "sparse");
    assert_eq!(fs.write(file, MIB, b"end"), Ok(3));
    let stat = fs.getattr(file).unwrap();
    assert_eq!(stat.size, MIB + 3);
    assert_eq!(stat.blocks, 8, "one page allocated");
    let mut buf = vec![0xAA; 8192];
    assert_eq!(fs.read(file, 4096 * 10, &mut buf), Ok(8192));
    assert!(buf.iter().all(|&b| b == 0));
    let mut tail = [0; 16];
    assert_eq!(fs.read(file, MIB - 2, &mut tail), Ok(5));
    assert_eq!(&tail[..5], b"\0\0end");
    assert_eq!(fs.read(file, MIB + 3, &mut tail), Ok(0));
    assert_eq!(fs.read(file, u64::MAX, &mut tail), Ok(0));
    check_invariants(&fs);
}

#[test]
fn write_at_one_gib_costs_one_page() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "far");
    let before = fs.used_bytes();
    assert_eq!(fs.write(file, 1 << 30, &[1]), Ok(1));
    assert_eq!(fs.used_bytes() - before, PAGE_BYTES);
    assert_eq!(fs.getattr(file).unwrap().size, (1 << 30) + 1);
}

#[test]
fn write_spanning_pages_round_trips() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "f");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(fs.write(file, 4000, &data), Ok(data.len()));
    let mut back = vec![0; data.len()];
    assert_eq!(fs.read(file, 4000, &mut back), Ok(data.len()));
    assert_eq!(back, data);
    check_invariants(&fs);
}

#[test]
fn shrinking_then_growing_reads_zeros() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "f");
    fs.write(file, 0, &[7; 9000]).unwrap();
    let shrink = SetAttr {
        size: Some(5000),
        ..SetAttr::default()
    };
    fs.setattr(file, shrink).unwrap();
    assert_eq!(fs.getattr(file).unwrap().blocks, 16);
    let grow = SetAttr {
        size: Some(9000),
        ..SetAttr::default()
    };
    fs.setattr(file, grow).unwrap();
    let mut buf = [1; 4000];
    assert_eq!(fs.read(file, 5000, &mut buf), Ok(4000));
    assert!(buf.iter().all(|&b| b == 0));
    check_invariants(&fs);
}

#[test]
fn filling_up_gives_enospc_and_deleting_frees_space() {
    let mut fs = Tmpfs::new(64 * 1024);
    let file = mkfile(&mut fs, ROOT_INO, "big");
    let chunk = [0x5A; 4096];
    let mut offset = 0;
    let error = loop {
        match fs.write(file, offset, &chunk) {
            Ok(n) => offset += n as u64,
            Err(e) => break e,
        }
        assert!(offset < 64 * 1024, "budget not enforced");
    };
    assert_eq!(error, Errno::ENOSPC);
    check_invariants(&fs);
    // Names need budget too.
    let mut created = 0;
    while fs
        .create(
            ROOT_INO,
            &alloc::format!("n{created}"),
            FileKind::Regular,
            attrs(0o644),
        )
        .is_ok()
    {
        created += 1;
    }
    assert_eq!(
        fs.create(ROOT_INO, "x", FileKind::Directory, attrs(0o755)),
        Err(Errno::ENOSPC)
    );
    assert_eq!(fs.statfs().free_blocks, 0);
    // Deleting gives the space back and the fs keeps working.
    fs.unlink(ROOT_INO, "big").unwrap();
    let again = mkfile(&mut fs, ROOT_INO, "again");
    assert_eq!(fs.write(again, 0, &chunk), Ok(4096));
    let mut back = [0; 4096];
    assert_eq!(fs.read(again, 0, &mut back), Ok(4096));
    assert_eq!(back, chunk);
    check_invariants(&fs);
}

#[test]
fn partial_write_when_space_runs_out() {
    let mut fs = Tmpfs::new(INODE_COST * 2 + DIRENT_COST + 1 + 2 * PAGE_BYTES);
    let file = mkfile(&mut fs, ROOT_INO, "f");
    assert_eq!(fs.write(file, 0, &[1; 3 * PAGE_SIZE]), Ok(2 * PAGE_SIZE));
    assert_eq!(fs.write(file, 2 * PAGE_BYTES, &[1]), Err(Errno::ENOSPC));
    // Overwriting allocated pages needs no new space.
    assert_eq!(fs.write(file, 0, &[2; PAGE_SIZE]), Ok(PAGE_SIZE));
    check_invariants(&fs);
}

#[test]
fn file_size_limit_is_efbig() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "f");
    assert_eq!(fs.write(file, MAX_FILE_SIZE, b"x"), Err(Errno::EFBIG));
    assert_eq!(fs.write(file, u64::MAX, b"x"), Err(Errno::EFBIG));
    assert_eq!(fs.write(file, MAX_FILE_SIZE - 1, b"xy"), Ok(1));
    let too_big = SetAttr {
        size: Some(MAX_FILE_SIZE + 1),
        ..SetAttr::default()
    };
    assert_eq!(fs.setattr(file, too_big), Err(Errno::EFBIG));
}

#[test]
fn directory_link_counts() {
    let mut fs = fs();
    assert_eq!(fs.getattr(ROOT_INO).unwrap().nlink, 2);
    let a = mkdir(&mut fs, ROOT_INO, "a");
    let b = mkdir(&mut fs, ROOT_INO, "b");
    mkdir(&mut fs, a, "sub");
    assert_eq!(fs.getattr(ROOT_INO).unwrap().nlink, 4);
    assert_eq!(fs.getattr(a).unwrap().nlink, 3);
    fs.rename(a, "sub", b, "moved").unwrap();
    assert_eq!(fs.getattr(a).unwrap().nlink, 2);
    assert_eq!(fs.getattr(b).unwrap().nlink, 3);
    let moved = fs.lookup(b, "moved").unwrap();
    assert_eq!(fs.lookup(moved, ".."), Ok(b));
    fs.rmdir(b, "moved").unwrap();
    assert_eq!(fs.getattr(b).unwrap().nlink, 2);
    check_invariants(&fs);
}

#[test]
fn hard_links_share_data_and_count() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "one");
    fs.write(file, 0, b"shared").unwrap();
    let dir = mkdir(&mut fs, ROOT_INO, "d");
    fs.link(dir, "two", file).unwrap();
    fs.link(ROOT_INO, "three", file).unwrap();
    assert_eq!(fs.getattr(file).unwrap().nlink, 3);
    assert_eq!(fs.link(ROOT_INO, "three", file), Err(Errno::EEXIST));
    assert_eq!(fs.link(ROOT_INO, "dirlink", dir), Err(Errno::EPERM));
    fs.unlink(ROOT_INO, "one").unwrap();
    fs.unlink(ROOT_INO, "three").unwrap();
    assert_eq!(fs.getattr(file).unwrap().nlink, 1);
    let mut buf = [0; 6];
    assert_eq!(fs.read(file, 0, &mut buf), Ok(6));
    assert_eq!(&buf, b"shared");
    fs.unlink(dir, "two").unwrap();
    assert_eq!(fs.getattr(file), Err(Errno::ENOENT));
    check_invariants(&fs);
}

#[test]
fn unlinked_open_file_lives_until_released() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "tmp");
    fs.write(file, 0, &[3; 5000]).unwrap();
    let base = INODE_COST;
    fs.retain(file).unwrap();
    fs.unlink(ROOT_INO, "tmp").unwrap();
    assert_eq!(fs.getattr(file).unwrap().nlink, 0);
    assert_eq!(fs.write(file, 5000, b"more"), Ok(4));
    assert_eq!(fs.link(ROOT_INO, "back", file), Err(Errno::ENOENT));
    check_invariants(&fs);
    fs.release(file);
    assert_eq!(fs.getattr(file), Err(Errno::ENOENT));
    assert_eq!(fs.used_bytes(), base);
}

#[test]
fn removed_directory_is_empty_and_closed_to_new_entries() {
    let mut fs = fs();
    let dir = mkdir(&mut fs, ROOT_INO, "d");
    fs.retain(dir).unwrap();
    fs.rmdir(ROOT_INO, "d").unwrap();
    assert_eq!(fs.readdir(dir, 0), Ok(None));
    assert_eq!(
        fs.create(dir, "x", FileKind::Regular, attrs(0o644)),
        Err(Errno::ENOENT)
    );
    assert_eq!(fs.lookup(dir, ".."), Err(Errno::ENOENT));
    fs.release(dir);
    check_invariants(&fs);
}

#[test]
fn unlink_and_rmdir_errors() {
    let mut fs = fs();
    let dir = mkdir(&mut fs, ROOT_INO, "d");
    mkfile(&mut fs, dir, "f");
    assert_eq!(fs.unlink(ROOT_INO, "d"), Err(Errno::EISDIR));
    assert_eq!(fs.rmdir(ROOT_INO, "d"), Err(Errno::ENOTEMPTY));
    assert_eq!(fs.rmdir(dir, "f"), Err(Errno::ENOTDIR));
    assert_eq!(fs.unlink(ROOT_INO, "missing"), Err(Errno::ENOENT));
    assert_eq!(fs.unlink(ROOT_INO, "."), Err(Errno::EINVAL));
    assert_eq!(
        fs.lookup(fs.lookup(dir, "f").unwrap(), "x"),
        Err(Errno::ENOTDIR)
    );
    fs.unlink(dir, "f").unwrap();
    fs.rmdir(ROOT_INO, "d").unwrap();
    check_invariants(&fs);
}

#[test]
fn names_are_checked() {
    let mut fs = fs();
    let long = "n".repeat(NAME_MAX + 1);
    let fits = "n".repeat(NAME_MAX);
    let create =
        |fs: &mut Tmpfs, name: &str| fs.create(ROOT_INO, name, FileKind::Regular, attrs(0));
    assert_eq!(create(&mut fs, &long), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.lookup(ROOT_INO, &long), Err(Errno::ENAMETOOLONG));
    assert!(create(&mut fs, &fits).is_ok());
    assert_eq!(create(&mut fs, &fits), Err(Errno::EEXIST));
    for bad in ["", ".", "..", "a/b", "nul\0"] {
        assert_eq!(create(&mut fs, bad), Err(Errno::EINVAL), "{bad:?}");
    }
    assert_eq!(
        fs.create(ROOT_INO, "l", FileKind::Symlink, attrs(0)),
        Err(Errno::EINVAL)
    );
}

#[test]
fn rename_semantics() {
    let mut fs = fs();
    let a = mkfile(&mut fs, ROOT_INO, "a");
    let b = mkfile(&mut fs, ROOT_INO, "b");
    let d = mkdir(&mut fs, ROOT_INO, "d");
    let e = mkdir(&mut fs, ROOT_INO, "e");
    let full = mkdir(&mut fs, ROOT_INO, "full");
    mkfile(&mut fs, full, "x");
    let inner = mkdir(&mut fs, d, "inner");

    // A file replaces a file; the replaced inode goes away.
    fs.rename(ROOT_INO, "a", ROOT_INO, "b").unwrap();
    assert_eq!(fs.lookup(ROOT_INO, "b"), Ok(a));
    assert_eq!(fs.getattr(b), Err(Errno::ENOENT));
    assert_eq!(fs.lookup(ROOT_INO, "a"), Err(Errno::ENOENT));
    // Kind mismatches.
    assert_eq!(fs.rename(ROOT_INO, "b", ROOT_INO, "e"), Err(Errno::EISDIR));
    assert_eq!(fs.rename(ROOT_INO, "e", ROOT_INO, "b"), Err(Errno::ENOTDIR));
    assert_eq!(
        fs.rename(ROOT_INO, "e", ROOT_INO, "full"),
        Err(Errno::ENOTEMPTY)
    );
    // Into its own subtree, or onto itself as a subdirectory.
    assert_eq!(fs.rename(ROOT_INO, "d", inner, "loop"), Err(Errno::EINVAL));
    assert_eq!(fs.rename(ROOT_INO, "d", d, "self"), Err(Errno::EINVAL));
    // Same name and hard links to the same inode are no-ops.
    fs.rename(ROOT_INO, "b", ROOT_INO, "b").unwrap();
    fs.link(ROOT_INO, "b2", a).unwrap();
    fs.rename(ROOT_INO, "b", ROOT_INO, "b2").unwrap();
    assert_eq!(fs.getattr(a).unwrap().nlink, 2);
    // An empty directory is replaced by a directory.
    fs.rename(ROOT_INO, "d", ROOT_INO, "e").unwrap();
    assert_eq!(fs.lookup(ROOT_INO, "e"), Ok(d));
    assert_eq!(fs.getattr(e), Err(Errno::ENOENT));
    assert_eq!(fs.lookup(inner, ".."), Ok(d));
    assert_eq!(
        fs.rename(ROOT_INO, "nope", ROOT_INO, "x"),
        Err(Errno::ENOENT)
    );
    assert_eq!(fs.getattr(ROOT_INO).unwrap().nlink, 4);
    check_invariants(&fs);
}

#[test]
fn readdir_lists_dots_and_survives_removal() {
    let mut fs = fs();
    let dir = mkdir(&mut fs, ROOT_INO, "d");
    for name in ["c", "a", "b"] {
        mkfile(&mut fs, dir, name);
    }
    assert_eq!(names(&fs, dir), [".", "..", "c", "a", "b"]);
    let (dotdot, _) = fs.readdir(dir, 1).unwrap().unwrap();
    assert_eq!(dotdot.ino, ROOT_INO);
    // Stop after "c", remove "a", continue: "b" is still reported exactly once.
    let (first, next) = fs.readdir(dir, 2).unwrap().unwrap();
    assert_eq!(first.name, "c");
    fs.unlink(dir, "a").unwrap();
    let (second, next) = fs.readdir(dir, next).unwrap().unwrap();
    assert_eq!(second.name, "b");
    assert_eq!(second.kind, FileKind::Regular);
    assert_eq!(fs.readdir(dir, next), Ok(None));
    assert_eq!(fs.readdir(dir, u64::MAX), Ok(None));
    let file = fs.lookup(dir, "b").unwrap();
    assert_eq!(fs.readdir(file, 0), Err(Errno::ENOTDIR));
}

#[test]
fn timestamps_follow_the_callers_clock() {
    let mut fs = fs();
    fs.set_time(100);
    let file = mkfile(&mut fs, ROOT_INO, "f");
    assert_eq!(fs.getattr(ROOT_INO).unwrap().mtime, 100);
    fs.set_time(200);
    fs.write(file, 0, b"x").unwrap();
    let stat = fs.getattr(file).unwrap();
    assert_eq!((stat.atime, stat.mtime, stat.ctime), (100, 200, 200));
    fs.set_time(300);
    fs.read(file, 0, &mut [0; 1]).unwrap();
    assert_eq!(fs.getattr(file).unwrap().atime, 300);
    fs.set_time(400);
    let chmod = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    let stat = fs.setattr(file, chmod).unwrap();
    assert_eq!((stat.mtime, stat.ctime, stat.mode), (200, 400, 0o600));
}

#[test]
fn symlinks_store_their_target() {
    let mut fs = fs();
    let link = fs.symlink(ROOT_INO, "l", "some/where", attrs(0)).unwrap();
    assert_eq!(fs.readlink(link).as_deref(), Ok("some/where"));
    let stat = fs.getattr(link).unwrap();
    assert_eq!(
        (stat.kind, stat.size, stat.mode),
        (FileKind::Symlink, 10, 0o777)
    );
    assert_eq!(fs.readlink(ROOT_INO), Err(Errno::EINVAL));
    assert_eq!(fs.read(link, 0, &mut [0; 4]), Err(Errno::EINVAL));
    assert_eq!(fs.read(ROOT_INO, 0, &mut [0; 4]), Err(Errno::EISDIR));
    assert_eq!(fs.write(ROOT_INO, 0, b"x"), Err(Errno::EISDIR));
    assert_eq!(fs.symlink(ROOT_INO, "e", "", attrs(0)), Err(Errno::ENOENT));
    let long = "x".repeat(PATH_MAX);
    assert_eq!(
        fs.symlink(ROOT_INO, "e", &long, attrs(0)),
        Err(Errno::ENAMETOOLONG)
    );
    fs.unlink(ROOT_INO, "l").unwrap();
    check_invariants(&fs);
}

#[test]
fn read_only_refuses_every_change() {
    let mut fs = fs();
    let file = mkfile(&mut fs, ROOT_INO, "f");
    fs.set_read_only(true);
    assert!(fs.read_only());
    assert_eq!(fs.write(file, 0, b"x"), Err(Errno::EROFS));
    assert_eq!(
        fs.create(ROOT_INO, "g", FileKind::Regular, attrs(0)),
        Err(Errno::EROFS)
    );
    assert_eq!(fs.unlink(ROOT_INO, "f"), Err(Errno::EROFS));
    assert_eq!(fs.rename(ROOT_INO, "f", ROOT_INO, "g"), Err(Errno::EROFS));
    assert_eq!(fs.setattr(file, SetAttr::default()), Err(Errno::EROFS));
    assert_eq!(fs.read(file, 0, &mut [0; 1]), Ok(0));
}

#[test]
fn statfs_reports_the_budget() {
    let mut fs = Tmpfs::new(16 * PAGE_BYTES);
    let before = fs.statfs();
    assert_eq!(before.total_blocks, 16);
    assert_eq!(before.files, 1);
    let file = mkfile(&mut fs, ROOT_INO, "f");
    fs.write(file, 0, &[1; PAGE_SIZE]).unwrap();
    let after = fs.statfs();
    assert!(after.free_blocks < before.free_blocks);
    assert_eq!(after.files, 2);
    assert_eq!(fs.fs_type(), "tmpfs");
    assert_eq!(fs.sync(), Ok(()));
}

#[derive(Clone, Debug)]
enum FsOp {
    Create(u8, u8, bool),
    Write(u8, u32, u16),
    Truncate(u8, u32),
    Link(u8, u8, u8),
    Unlink(u8, u8),
    Rmdir(u8, u8),
    Rename(u8, u8, u8, u8),
    Retain(u8),
    Release(u8),
}

fn fs_op() -> impl Strategy<Value = FsOp> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(d, n, k)| FsOp::Create(d, n, k)),
        (any::<u8>(), any::<u32>(), any::<u16>()).prop_map(|(i, o, l)| FsOp::Write(i, o, l)),
        (any::<u8>(), any::<u32>()).prop_map(|(i, s)| FsOp::Truncate(i, s)),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(d, n, i)| FsOp::Link(d, n, i)),
        (any::<u8>(), any::<u8>()).prop_map(|(d, n)| FsOp::Unlink(d, n)),
        (any::<u8>(), any::<u8>()).prop_map(|(d, n)| FsOp::Rmdir(d, n)),
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| FsOp::Rename(a, b, c, d)),
        any::<u8>().prop_map(FsOp::Retain),
        any::<u8>().prop_map(FsOp::Release),
    ]
}

proptest! {
    /// Random operations on inode numbers that may or may not exist never panic and
    /// always leave the link counts and the budget consistent.
    #[test]
    fn random_operations_keep_invariants(ops in prop::collection::vec(fs_op(), 1..80)) {
        let mut fs = Tmpfs::new(48 * 1024);
        let name = |n: u8| ["a", "b", "c", "d"][usize::from(n % 4)];
        let ino = |i: u8| Ino::from(i % 12);
        let mut retained: Vec<Ino> = Vec::new();
        for op in ops {
            match op {
                FsOp::Create(d, n, is_dir) => {
                    let kind = if is_dir { FileKind::Directory } else { FileKind::Regular };
                    let _ = fs.create(ino(d), name(n), kind, attrs(0o755));
                }
                FsOp::Write(i, offset, len) => {
                    let data = vec![0x42; usize::from(len % 9000)];
                    let _ = fs.write(ino(i), u64::from(offset % 100_000), &data);
                }
                FsOp::Truncate(i, size) => {
                    let changes = SetAttr { size: Some(u64::from(size % 20_000)), ..SetAttr::default() };
                    let _ = fs.setattr(ino(i), changes);
                }
                FsOp::Link(d, n, i) => { let _ = fs.link(ino(d), name(n), ino(i)); }
                FsOp::Unlink(d, n) => { let _ = fs.unlink(ino(d), name(n)); }
                FsOp::Rmdir(d, n) => { let _ = fs.rmdir(ino(d), name(n)); }
                FsOp::Rename(a, b, c, d) => {
                    let _ = fs.rename(ino(a), name(b), ino(c), name(d));
                }
                FsOp::Retain(i) => {
                    if fs.retain(ino(i)).is_ok() {
                        retained.push(ino(i));
                    }
                }
                FsOp::Release(i) => {
                    if let Some(position) = retained.iter().position(|&r| r == ino(i)) {
                        retained.swap_remove(position);
                        fs.release(ino(i));
                    }
                }
            }
            check_invariants(&fs);
        }
        for ino in retained {
            fs.release(ino);
        }
        check_invariants(&fs);
    }
}
