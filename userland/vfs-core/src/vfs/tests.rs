//! VFS tests: resolution, mounts, every POSIX error the server reports, open files,
//! and a property test of random operation sequences.

use super::*;
use crate::file::{OpenFile, OpenFlags, Whence};
use crate::fs::{FileSystem, SetAttr};
use crate::tmpfs::Tmpfs;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

const USER: Cred = Cred::new(1000, 1000);
const OTHER: Cred = Cred::new(1001, 1001);
const ROOT: Cred = Cred::ROOT;

/// `/` and `/tmp` (sticky, world-writable) on separate tmpfs instances.
fn setup() -> (Vfs, Node) {
    let mut vfs = Vfs::new();
    vfs.mount("/", Box::new(Tmpfs::new(1 << 24))).unwrap();
    let root = vfs.root().unwrap();
    vfs.mkdir(root, "/tmp", 0o755, &ROOT).unwrap();
    vfs.mkdir(root, "/etc", 0o755, &ROOT).unwrap();
    vfs.mount("/tmp", Box::new(Tmpfs::new(1 << 20))).unwrap();
    vfs.chmod(root, "/tmp", 0o1777, &ROOT).unwrap();
    (vfs, root)
}

fn create(vfs: &mut Vfs, cwd: Node, path: &str, cred: &Cred) -> Node {
    let flags = OpenFlags::CREAT | OpenFlags::WRONLY;
    let node = vfs.open(cwd, path, flags, 0o644, cred).unwrap();
    vfs.close(node);
    node
}

fn write_file(vfs: &mut Vfs, cwd: Node, path: &str, data: &[u8]) {
    let flags = OpenFlags::CREAT | OpenFlags::WRONLY | OpenFlags::TRUNC;
    let mut file = OpenFile::open(vfs, cwd, path, flags, 0o644, &ROOT).unwrap();
    assert_eq!(file.write(vfs, data), Ok(data.len()));
    file.close(vfs);
}

fn read_file(vfs: &mut Vfs, cwd: Node, path: &str) -> VfsResult<Vec<u8>> {
    let mut file = OpenFile::open(vfs, cwd, path, OpenFlags::RDONLY, 0, &ROOT)?;
    let mut out = Vec::new();
    let mut buf = [0; 1000];
    loop {
        let n = file.read(vfs, &mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    file.close(vfs);
    Ok(out)
}

fn list(vfs: &Vfs, dir: Node) -> Vec<String> {
    let mut out = Vec::new();
    let mut cookie = 0;
    while let Some((entry, next)) = vfs.readdir(dir, cookie).unwrap() {
        out.push(entry.name);
        cookie = next;
    }
    out
}

#[test]
fn first_mount_must_be_root() {
    let mut vfs = Vfs::new();
    assert_eq!(vfs.root(), Err(Errno::EBADF));
    assert_eq!(
        vfs.mount("/tmp", Box::new(Tmpfs::new(4096))).err(),
        Some(Errno::ENOENT)
    );
    assert!(vfs.mount("/", Box::new(Tmpfs::new(4096))).is_ok());
}

#[test]
fn mount_table_lists_paths_and_types() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/tmp/deep", 0o755, &ROOT).unwrap();
    vfs.mount("/tmp/deep", Box::new(Tmpfs::new(1 << 16)))
        .unwrap();
    let rows: Vec<(String, &str)> = vfs
        .mounts()
        .into_iter()
        .map(|m| (m.path, m.fs_type))
        .collect();
    let expected = [("/", "tmpfs"), ("/tmp", "tmpfs"), ("/tmp/deep", "tmpfs")];
    let expected: Vec<(String, &str)> = expected.iter().map(|(p, t)| (p.to_string(), *t)).collect();
    assert_eq!(rows, expected);
    assert_eq!(
        vfs.mount("/etc/nope", Box::new(Tmpfs::new(1))).err(),
        Some(Errno::ENOENT)
    );
    create(&mut vfs, root, "/etc/file", &ROOT);
    assert_eq!(
        vfs.mount("/etc/file", Box::new(Tmpfs::new(1))).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        vfs.mount("etc", Box::new(Tmpfs::new(1))).err(),
        Some(Errno::EINVAL)
    );
}

#[test]
fn dotdot_crosses_mount_points_both_ways() {
    let (mut vfs, root) = setup();
    let tmp = vfs.resolve(root, "/tmp", true, &ROOT).unwrap();
    assert_ne!(tmp.mount, root.mount, "mounted root hides the directory");
    assert_eq!(vfs.resolve(tmp, "..", true, &ROOT), Ok(root));
    assert_eq!(
        vfs.resolve(root, "/tmp/../etc", true, &ROOT),
        vfs.resolve(root, "/etc", true, &ROOT)
    );
    let work = vfs.mkdir(tmp, "work", 0o755, &ROOT).unwrap();
    assert_eq!(vfs.resolve(work, "../../tmp/./work", true, &ROOT), Ok(work));
    assert_eq!(vfs.resolve(root, "/../../..", true, &ROOT), Ok(root));
    assert_eq!(vfs.path_of(work).as_deref(), Ok("/tmp/work"));
    assert_eq!(vfs.path_of(root).as_deref(), Ok("/"));
    // readdir at the mount root reports the real parent as "..".
    let (dotdot, _) = vfs.readdir(tmp, 1).unwrap().unwrap();
    assert_eq!((dotdot.name.as_str(), dotdot.ino), ("..", root.ino));
}

#[test]
fn relative_paths_and_dots() {
    let (mut vfs, root) = setup();
    let etc = vfs.resolve(root, "etc", true, &ROOT).unwrap();
    write_file(&mut vfs, etc, "motd", b"hi");
    assert_eq!(read_file(&mut vfs, root, "/etc/./motd").unwrap(), b"hi");
    assert_eq!(read_file(&mut vfs, etc, "../etc//motd").unwrap(), b"hi");
    assert_eq!(read_file(&mut vfs, etc, "./motd").unwrap(), b"hi");
    assert_eq!(vfs.resolve(etc, ".", true, &ROOT), Ok(etc));
    assert_eq!(vfs.stat(root, "", &ROOT), Err(Errno::ENOENT));
    assert_eq!(vfs.stat(root, "/etc/missing", &ROOT), Err(Errno::ENOENT));
    assert_eq!(vfs.stat(root, "/etc/mo\0td", &ROOT), Err(Errno::EINVAL));
}

#[test]
fn enotdir_when_a_file_is_used_as_a_directory() {
    let (mut vfs, root) = setup();
    create(&mut vfs, root, "/etc/f", &ROOT);
    let file = vfs.resolve(root, "/etc/f", true, &ROOT).unwrap();
    assert_eq!(vfs.stat(root, "/etc/f/x", &ROOT), Err(Errno::ENOTDIR));
    assert_eq!(vfs.stat(root, "/etc/f/", &ROOT), Err(Errno::ENOTDIR));
    assert_eq!(vfs.stat(file, "x", &ROOT), Err(Errno::ENOTDIR));
    assert_eq!(
        vfs.mkdir(root, "/etc/f/d", 0o755, &ROOT),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(vfs.rmdir(root, "/etc/f", &ROOT), Err(Errno::ENOTDIR));
    assert_eq!(vfs.unlink(root, "/etc/f/", &ROOT), Err(Errno::ENOTDIR));
    let flags = OpenFlags::RDONLY | OpenFlags::DIRECTORY;
    assert_eq!(
        vfs.open(root, "/etc/f", flags, 0, &ROOT),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(vfs.readdir(file, 0), Err(Errno::ENOTDIR));
}

#[test]
fn eisdir_cases() {
    let (mut vfs, root) = setup();
    assert_eq!(vfs.unlink(root, "/etc", &ROOT), Err(Errno::EISDIR));
    assert_eq!(
        vfs.open(root, "/etc", OpenFlags::WRONLY, 0, &ROOT),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        vfs.open(root, "/etc", OpenFlags::RDWR, 0, &ROOT),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        vfs.open(root, "/etc", OpenFlags::CREAT, 0o644, &ROOT),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        vfs.open(root, "/etc/new/", OpenFlags::CREAT, 0o644, &ROOT),
        Err(Errno::EISDIR)
    );
    assert_eq!(vfs.truncate(root, "/etc", 0, &ROOT), Err(Errno::EISDIR));
    let etc = vfs
        .open(root, "/etc", OpenFlags::DIRECTORY, 0, &ROOT)
        .unwrap();
    assert_eq!(vfs.read_at(etc, 0, &mut [0; 4]), Err(Errno::EISDIR));
    vfs.close(etc);
}

#[test]
fn open_flags_semantics() {
    let (mut vfs, root) = setup();
    let rw = OpenFlags::RDWR;
    assert_eq!(
        vfs.open(root, "/etc/f", rw, 0o644, &ROOT),
        Err(Errno::ENOENT)
    );
    vfs.chmod(root, "/etc", 0o777, &ROOT).unwrap();
    let node = vfs
        .open(root, "/etc/f", rw | OpenFlags::CREAT, 0o640, &USER)
        .unwrap();
    let stat = vfs.stat_node(node).unwrap();
    assert_eq!((stat.mode, stat.uid, stat.gid), (0o640, 1000, 1000));
    vfs.close(node);
    // The creator may write a file it has just created even if its mode forbids it.
    let flags = OpenFlags::CREAT | OpenFlags::EXCL | OpenFlags::WRONLY;
    let ro = vfs.open(root, "/etc/ro", flags, 0o444, &USER).unwrap();
    assert_eq!(vfs.write_at(ro, 0, b"abc"), Ok(3));
    vfs.close(ro);
    assert_eq!(
        vfs.open(root, "/etc/ro", OpenFlags::WRONLY, 0, &USER),
        Err(Errno::EACCES)
    );
    assert_eq!(
        vfs.open(root, "/etc/f", flags, 0o644, &ROOT),
        Err(Errno::EEXIST)
    );
    // O_TRUNC empties an existing file.
    write_file(&mut vfs, root, "/etc/f", b"0123456789");
    let node = vfs
        .open(
            root,
            "/etc/f",
            OpenFlags::WRONLY | OpenFlags::TRUNC,
            0,
            &ROOT,
        )
        .unwrap();
    assert_eq!(vfs.stat_node(node).unwrap().size, 0);
    vfs.close(node);
    // Conflicting access modes.
    let both = OpenFlags::WRONLY | OpenFlags::RDWR;
    assert_eq!(vfs.open(root, "/etc/f", both, 0, &ROOT), Err(Errno::EINVAL));
    // O_CREAT on a missing parent.
    assert_eq!(
        vfs.open(root, "/nope/f", OpenFlags::CREAT, 0o644, &ROOT),
        Err(Errno::ENOENT)
    );
}

#[test]
fn open_and_nofollow_with_symlinks() {
    let (mut vfs, root) = setup();
    write_file(&mut vfs, root, "/etc/real", b"data");
    vfs.symlink(root, "real", "/etc/link", &ROOT).unwrap();
    assert_eq!(read_file(&mut vfs, root, "/etc/link").unwrap(), b"data");
    let nofollow = OpenFlags::RDONLY | OpenFlags::NOFOLLOW;
    assert_eq!(
        vfs.open(root, "/etc/link", nofollow, 0, &ROOT),
        Err(Errno::ELOOP)
    );
    let create_nofollow = nofollow | OpenFlags::CREAT;
    assert_eq!(
        vfs.open(root, "/etc/link", create_nofollow, 0o644, &ROOT),
        Err(Errno::ELOOP)
    );
    let excl = OpenFlags::CREAT | OpenFlags::EXCL;
    assert_eq!(
        vfs.open(root, "/etc/link", excl, 0o644, &ROOT),
        Err(Errno::EEXIST)
    );
    // O_CREAT through an existing symlink opens its target.
    let node = vfs
        .open(root, "/etc/link", OpenFlags::CREAT, 0o644, &ROOT)
        .unwrap();
    assert_eq!(Ok(node), vfs.resolve(root, "/etc/real", true, &ROOT));
    vfs.close(node);
    // stat follows, lstat does not.
    assert_eq!(
        vfs.stat(root, "/etc/link", &ROOT).unwrap().kind,
        FileKind::Regular
    );
    assert_eq!(
        vfs.lstat(root, "/etc/link", &ROOT).unwrap().kind,
        FileKind::Symlink
    );
    assert_eq!(
        vfs.readlink(root, "/etc/link", &ROOT).as_deref(),
        Ok("real")
    );
    assert_eq!(vfs.readlink(root, "/etc/real", &ROOT), Err(Errno::EINVAL));
}

#[test]
fn symlinks_resolve_relative_to_their_directory_and_across_mounts() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/etc/conf", 0o755, &ROOT).unwrap();
    write_file(&mut vfs, root, "/tmp/target", b"tmp!");
    vfs.symlink(root, "../../tmp/target", "/etc/conf/rel", &ROOT)
        .unwrap();
    vfs.symlink(root, "/tmp", "/etc/tmplink", &ROOT).unwrap();
    vfs.symlink(root, "conf", "/etc/dirlink", &ROOT).unwrap();
    assert_eq!(read_file(&mut vfs, root, "/etc/conf/rel").unwrap(), b"tmp!");
    assert_eq!(
        read_file(&mut vfs, root, "/etc/tmplink/target").unwrap(),
        b"tmp!"
    );
    assert_eq!(
        read_file(&mut vfs, root, "/etc/dirlink/rel").unwrap(),
        b"tmp!"
    );
    // A trailing slash follows a final symlink even for lstat.
    assert_eq!(
        vfs.lstat(root, "/etc/dirlink/", &ROOT).unwrap().kind,
        FileKind::Directory
    );
    // Dangling links.
    vfs.symlink(root, "/nowhere", "/etc/dangling", &ROOT)
        .unwrap();
    assert_eq!(vfs.stat(root, "/etc/dangling", &ROOT), Err(Errno::ENOENT));
    assert!(vfs.lstat(root, "/etc/dangling", &ROOT).is_ok());
    assert_eq!(
        vfs.symlink(root, "", "/etc/empty", &ROOT),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        vfs.symlink(root, "x", "/etc/conf", &ROOT),
        Err(Errno::EEXIST)
    );
}

#[test]
fn symlink_loops_are_eloop() {
    let (mut vfs, root) = setup();
    vfs.symlink(root, "b", "/etc/a", &ROOT).unwrap();
    vfs.symlink(root, "a", "/etc/b", &ROOT).unwrap();
    vfs.symlink(root, "self", "/etc/self", &ROOT).unwrap();
    assert_eq!(vfs.stat(root, "/etc/a", &ROOT), Err(Errno::ELOOP));
    assert_eq!(vfs.stat(root, "/etc/self/x", &ROOT), Err(Errno::ELOOP));
    assert_eq!(
        vfs.open(root, "/etc/a", OpenFlags::CREAT, 0o644, &ROOT),
        Err(Errno::ELOOP)
    );
    assert!(vfs.lstat(root, "/etc/a", &ROOT).is_ok());
    // A chain of exactly MAX_SYMLINKS links resolves; one more does not.
    create(&mut vfs, root, "/etc/l0", &ROOT);
    for i in 1..=MAX_SYMLINKS + 1 {
        let target = alloc::format!("l{}", i - 1);
        vfs.symlink(root, &target, &alloc::format!("/etc/l{i}"), &ROOT)
            .unwrap();
    }
    assert!(vfs
        .stat(root, &alloc::format!("/etc/l{MAX_SYMLINKS}"), &ROOT)
        .is_ok());
    let too_many = alloc::format!("/etc/l{}", MAX_SYMLINKS + 1);
    assert_eq!(vfs.stat(root, &too_many, &ROOT), Err(Errno::ELOOP));
}

#[test]
fn overlong_names_and_paths_are_enametoolong() {
    let (mut vfs, root) = setup();
    let huge = "a/".repeat(5_000);
    assert_eq!(huge.len(), 10_000);
    assert_eq!(vfs.stat(root, &huge, &ROOT), Err(Errno::ENAMETOOLONG));
    assert_eq!(
        vfs.open(root, &huge, OpenFlags::CREAT, 0o644, &ROOT),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        vfs.mkdir(root, &huge, 0o755, &ROOT),
        Err(Errno::ENAMETOOLONG)
    );
    let long_name = alloc::format!("/etc/{}", "n".repeat(256));
    assert_eq!(vfs.stat(root, &long_name, &ROOT), Err(Errno::ENAMETOOLONG));
    assert_eq!(
        vfs.mkdir(root, &long_name, 0o755, &ROOT),
        Err(Errno::ENAMETOOLONG)
    );
    let ok_name = alloc::format!("/etc/{}", "n".repeat(255));
    assert!(vfs.mkdir(root, &ok_name, 0o755, &ROOT).is_ok());
    assert_eq!(
        vfs.symlink(root, &"t".repeat(PATH_MAX), "/etc/l", &ROOT),
        Err(Errno::ENAMETOOLONG)
    );
}

#[test]
fn mkdir_rmdir_errors() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/etc/d", 0o755, &ROOT).unwrap();
    create(&mut vfs, root, "/etc/d/f", &ROOT);
    assert_eq!(vfs.mkdir(root, "/etc/d", 0o755, &ROOT), Err(Errno::EEXIST));
    assert_eq!(vfs.mkdir(root, "/", 0o755, &ROOT), Err(Errno::EEXIST));
    assert_eq!(
        vfs.mkdir(root, "/etc/d/..", 0o755, &ROOT),
        Err(Errno::EEXIST)
    );
    assert_eq!(vfs.rmdir(root, "/etc/d", &ROOT), Err(Errno::ENOTEMPTY));
    assert_eq!(vfs.rmdir(root, "/etc/d/.", &ROOT), Err(Errno::EINVAL));
    assert_eq!(vfs.rmdir(root, "/etc/d/..", &ROOT), Err(Errno::ENOTEMPTY));
    assert_eq!(vfs.rmdir(root, "/etc/none", &ROOT), Err(Errno::ENOENT));
    assert_eq!(vfs.rmdir(root, "/tmp", &ROOT), Err(Errno::EBUSY));
    vfs.unlink(root, "/etc/d/f", &ROOT).unwrap();
    vfs.rmdir(root, "/etc/d/", &ROOT).unwrap();
    assert_eq!(vfs.stat(root, "/etc/d", &ROOT), Err(Errno::ENOENT));
}

#[test]
fn rename_edge_cases() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/etc/a", 0o755, &ROOT).unwrap();
    vfs.mkdir(root, "/etc/a/b", 0o755, &ROOT).unwrap();
    vfs.mkdir(root, "/etc/empty", 0o755, &ROOT).unwrap();
    write_file(&mut vfs, root, "/etc/f1", b"one");
    write_file(&mut vfs, root, "/etc/f2", b"two");
    let r = |vfs: &mut Vfs, from: &str, to: &str| vfs.rename(root, from, root, to, &ROOT);
    assert_eq!(r(&mut vfs, "/etc/a", "/etc/a/b/c"), Err(Errno::EINVAL));
    assert_eq!(r(&mut vfs, "/etc/a", "/etc/a/c"), Err(Errno::EINVAL));
    assert_eq!(r(&mut vfs, "/etc/a/.", "/etc/x"), Err(Errno::EINVAL));
    assert_eq!(r(&mut vfs, "/etc/f1", "/etc/a/.."), Err(Errno::EINVAL));
    assert_eq!(r(&mut vfs, "/etc/f1", "/tmp/f1"), Err(Errno::EXDEV));
    assert_eq!(r(&mut vfs, "/etc/f1", "/etc/empty"), Err(Errno::EISDIR));
    assert_eq!(r(&mut vfs, "/etc/empty", "/etc/f1"), Err(Errno::ENOTDIR));
    assert_eq!(r(&mut vfs, "/etc", "/etc2/x"), Err(Errno::ENOENT));
    assert_eq!(r(&mut vfs, "/etc/f1/", "/etc/f9"), Err(Errno::ENOTDIR));
    assert_eq!(r(&mut vfs, "/etc/empty", "/etc/a"), Err(Errno::ENOTEMPTY));
    assert_eq!(r(&mut vfs, "/tmp", "/etc/tmp2"), Err(Errno::EBUSY));
    assert_eq!(r(&mut vfs, "/nope", "/etc/x"), Err(Errno::ENOENT));
    // Replacing a file, then moving a directory onto an empty one.
    r(&mut vfs, "/etc/f1", "/etc/f2").unwrap();
    assert_eq!(read_file(&mut vfs, root, "/etc/f2").unwrap(), b"one");
    assert_eq!(vfs.stat(root, "/etc/f1", &ROOT), Err(Errno::ENOENT));
    r(&mut vfs, "/etc/a/b", "/etc/empty").unwrap();
    assert_eq!(vfs.stat(root, "/etc/a", &ROOT).unwrap().nlink, 2);
    assert_eq!(vfs.stat(root, "/etc/empty", &ROOT).unwrap().nlink, 2);
    r(&mut vfs, "/etc/empty/", "/etc/a/moved/").unwrap();
    assert_eq!(vfs.stat(root, "/etc/a", &ROOT).unwrap().nlink, 3);
    // Renaming onto itself is a no-op.
    r(&mut vfs, "/etc/f2", "/etc/f2").unwrap();
    assert_eq!(read_file(&mut vfs, root, "/etc/f2").unwrap(), b"one");
}

#[test]
fn mount_points_follow_their_directory_when_renamed() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/etc/mnt", 0o755, &ROOT).unwrap();
    vfs.mkdir(root, "/etc/mnt/point", 0o755, &ROOT).unwrap();
    vfs.mount("/etc/mnt/point", Box::new(Tmpfs::new(1 << 16)))
        .unwrap();
    vfs.rename(root, "/etc/mnt", root, "/etc/moved", &ROOT)
        .unwrap();
    let paths: Vec<String> = vfs.mounts().into_iter().map(|m| m.path).collect();
    assert_eq!(paths, ["/", "/tmp", "/etc/moved/point"]);
}

#[test]
fn hard_link_counts_and_exdev() {
    let (mut vfs, root) = setup();
    write_file(&mut vfs, root, "/etc/orig", b"x");
    vfs.link(root, "/etc/orig", root, "/etc/second", &ROOT)
        .unwrap();
    vfs.mkdir(root, "/etc/d", 0o755, &ROOT).unwrap();
    vfs.link(root, "/etc/second", root, "/etc/d/third", &ROOT)
        .unwrap();
    assert_eq!(vfs.stat(root, "/etc/orig", &ROOT).unwrap().nlink, 3);
    assert_eq!(
        vfs.stat(root, "/etc/orig", &ROOT).unwrap().ino,
        vfs.stat(root, "/etc/d/third", &ROOT).unwrap().ino
    );
    assert_eq!(
        vfs.link(root, "/etc/orig", root, "/tmp/x", &ROOT),
        Err(Errno::EXDEV)
    );
    assert_eq!(
        vfs.link(root, "/etc/d", root, "/etc/dl", &ROOT),
        Err(Errno::EPERM)
    );
    assert_eq!(
        vfs.link(root, "/etc/orig", root, "/etc/second", &ROOT),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        vfs.link(root, "/etc/none", root, "/etc/y", &ROOT),
        Err(Errno::ENOENT)
    );
    // A symlink is linked itself, not its target.
    vfs.symlink(root, "orig", "/etc/sl", &ROOT).unwrap();
    vfs.link(root, "/etc/sl", root, "/etc/sl2", &ROOT).unwrap();
    assert_eq!(
        vfs.lstat(root, "/etc/sl2", &ROOT).unwrap().kind,
        FileKind::Symlink
    );
    vfs.unlink(root, "/etc/orig", &ROOT).unwrap();
    vfs.unlink(root, "/etc/second", &ROOT).unwrap();
    assert_eq!(vfs.stat(root, "/etc/d/third", &ROOT).unwrap().nlink, 1);
    assert_eq!(read_file(&mut vfs, root, "/etc/d/third").unwrap(), b"x");
}

#[test]
fn permissions_give_eacces() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/etc/private", 0o700, &ROOT).unwrap();
    write_file(&mut vfs, root, "/etc/private/secret", b"s");
    write_file(&mut vfs, root, "/etc/readonly", b"r");
    vfs.chmod(root, "/etc/readonly", 0o644, &ROOT).unwrap();
    // No search permission on a directory along the path.
    assert_eq!(
        vfs.stat(root, "/etc/private/secret", &USER),
        Err(Errno::EACCES)
    );
    assert_eq!(vfs.chmod(root, "/etc/private", 0o744, &ROOT), Ok(()));
    assert_eq!(
        vfs.stat(root, "/etc/private/secret", &USER),
        Err(Errno::EACCES)
    );
    vfs.chmod(root, "/etc/private", 0o711, &ROOT).unwrap();
    assert!(vfs.stat(root, "/etc/private/secret", &USER).is_ok());
    // Mode bits of the file itself.
    assert_eq!(
        vfs.open(root, "/etc/readonly", OpenFlags::WRONLY, 0, &USER),
        Err(Errno::EACCES)
    );
    assert!(vfs
        .open(root, "/etc/readonly", OpenFlags::RDONLY, 0, &USER)
        .is_ok());
    assert_eq!(
        vfs.truncate(root, "/etc/readonly", 0, &USER),
        Err(Errno::EACCES)
    );
    // Write permission on the directory to create or remove.
    assert_eq!(
        vfs.mkdir(root, "/etc/mine", 0o755, &USER),
        Err(Errno::EACCES)
    );
    assert_eq!(
        vfs.open(root, "/etc/new", OpenFlags::CREAT, 0o644, &USER),
        Err(Errno::EACCES)
    );
    assert_eq!(vfs.unlink(root, "/etc/readonly", &USER), Err(Errno::EACCES));
    assert_eq!(vfs.symlink(root, "x", "/etc/sl", &USER), Err(Errno::EACCES));
    assert_eq!(
        vfs.link(root, "/etc/readonly", root, "/etc/l", &USER),
        Err(Errno::EACCES)
    );
    assert_eq!(
        vfs.rename(root, "/etc/readonly", root, "/etc/r2", &USER),
        Err(Errno::EACCES)
    );
    // Root bypasses all of it.
    vfs.chmod(root, "/etc/readonly", 0, &ROOT).unwrap();
    assert!(vfs
        .open(root, "/etc/readonly", OpenFlags::RDWR, 0, &ROOT)
        .is_ok());
}

#[test]
fn ownership_rules_give_eperm() {
    let (mut vfs, root) = setup();
    let mine = create(&mut vfs, root, "/tmp/mine", &USER);
    assert_eq!(vfs.stat_node(mine).unwrap().uid, USER.uid);
    assert_eq!(
        vfs.chmod(root, "/tmp/mine", 0o600, &OTHER),
        Err(Errno::EPERM)
    );
    assert_eq!(vfs.chmod(root, "/tmp/mine", 0o600, &USER), Ok(()));
    assert_eq!(vfs.stat_node(mine).unwrap().mode, 0o600);
    assert_eq!(
        vfs.chown(root, "/tmp/mine", Some(OTHER.uid), None, &USER),
        Err(Errno::EPERM)
    );
    assert_eq!(
        vfs.chown(root, "/tmp/mine", None, Some(42), &USER),
        Err(Errno::EPERM)
    );
    assert_eq!(
        vfs.chown(root, "/tmp/mine", None, Some(USER.gid), &USER),
        Ok(())
    );
    vfs.chmod(root, "/tmp/mine", 0o6755, &USER).unwrap();
    vfs.chown(root, "/tmp/mine", Some(OTHER.uid), Some(OTHER.gid), &ROOT)
        .unwrap();
    let stat = vfs.stat_node(mine).unwrap();
    assert_eq!(
        (stat.uid, stat.gid, stat.mode),
        (OTHER.uid, OTHER.gid, 0o755)
    );
    assert_eq!(
        vfs.set_times(root, "/tmp/mine", Some(5), Some(6), &USER),
        Err(Errno::EPERM)
    );
    vfs.set_times(root, "/tmp/mine", Some(5), Some(6), &OTHER)
        .unwrap();
    let stat = vfs.stat_node(mine).unwrap();
    assert_eq!((stat.atime, stat.mtime), (5, 6));
    // The sticky /tmp protects other users' files.
    create(&mut vfs, root, "/tmp/users", &USER);
    assert_eq!(vfs.unlink(root, "/tmp/users", &OTHER), Err(Errno::EPERM));
    assert_eq!(
        vfs.rename(root, "/tmp/users", root, "/tmp/x", &OTHER),
        Err(Errno::EPERM)
    );
    assert_eq!(vfs.unlink(root, "/tmp/users", &USER), Ok(()));
    assert_eq!(
        vfs.mknod(root, "/tmp/dev", FileKind::CharDevice, 0o600, 0x0501, &USER),
        Err(Errno::EPERM)
    );
    let dev = vfs
        .mknod(root, "/tmp/dev", FileKind::CharDevice, 0o600, 0x0501, &ROOT)
        .unwrap();
    assert_eq!(vfs.stat_node(dev).unwrap().rdev, 0x0501);
    let fifo = vfs
        .mknod(root, "/tmp/fifo", FileKind::Fifo, 0o600, 0, &USER)
        .unwrap();
    assert_eq!(vfs.stat_node(fifo).unwrap().kind, FileKind::Fifo);
}

#[test]
fn setgid_directories_pass_on_their_group() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/tmp/shared", 0o2777, &ROOT).unwrap();
    vfs.chown(root, "/tmp/shared", None, Some(77), &ROOT)
        .unwrap();
    vfs.chmod(root, "/tmp/shared", 0o2777, &ROOT).unwrap();
    let file = create(&mut vfs, root, "/tmp/shared/f", &USER);
    assert_eq!(vfs.stat_node(file).unwrap().gid, 77);
    let dir = vfs.mkdir(root, "/tmp/shared/d", 0o755, &USER).unwrap();
    let stat = vfs.stat_node(dir).unwrap();
    assert_eq!((stat.gid, stat.mode), (77, 0o2755));
}

#[test]
fn read_only_mount_gives_erofs() {
    let (mut vfs, root) = setup();
    let mut image = Tmpfs::new(1 << 16);
    let file = image
        .create(
            image.root(),
            "f",
            FileKind::Regular,
            crate::fs::NewInode::new(0o644, 0, 0),
        )
        .unwrap();
    image.write(file, 0, b"content").unwrap();
    image.set_read_only(true);
    vfs.mkdir(root, "/mnt", 0o755, &ROOT).unwrap();
    vfs.mount("/mnt", Box::new(image)).unwrap();
    assert!(vfs.mounts().iter().any(|m| m.path == "/mnt" && m.read_only));
    assert_eq!(read_file(&mut vfs, root, "/mnt/f").unwrap(), b"content");
    let cases = [
        vfs.open(root, "/mnt/f", OpenFlags::WRONLY, 0, &ROOT)
            .map(|_| ()),
        vfs.open(
            root,
            "/mnt/f",
            OpenFlags::RDONLY | OpenFlags::TRUNC,
            0,
            &ROOT,
        )
        .map(|_| ()),
        vfs.open(root, "/mnt/g", OpenFlags::CREAT, 0o644, &ROOT)
            .map(|_| ()),
        vfs.mkdir(root, "/mnt/d", 0o755, &ROOT).map(|_| ()),
        vfs.unlink(root, "/mnt/f", &ROOT),
        vfs.rename(root, "/mnt/f", root, "/mnt/g", &ROOT),
        vfs.symlink(root, "f", "/mnt/l", &ROOT).map(|_| ()),
        vfs.link(root, "/mnt/f", root, "/mnt/h", &ROOT),
        vfs.chmod(root, "/mnt/f", 0o600, &ROOT),
        vfs.chown(root, "/mnt/f", Some(1), None, &ROOT),
        vfs.truncate(root, "/mnt/f", 0, &ROOT),
    ];
    for (index, result) in cases.into_iter().enumerate() {
        assert_eq!(result, Err(Errno::EROFS), "case {index}");
    }
}

#[test]
fn filling_tmp_gives_enospc_then_recovers() {
    let (mut vfs, root) = setup();
    let flags = OpenFlags::CREAT | OpenFlags::WRONLY;
    let mut file = OpenFile::open(&mut vfs, root, "/tmp/fill", flags, 0o644, &USER).unwrap();
    let chunk = [0xEE; 65536];
    let error = loop {
        match file.write(&mut vfs, &chunk) {
            Ok(_) => assert!(file.offset() <= 1 << 20),
            Err(error) => break error,
        }
    };
    assert_eq!(error, Errno::ENOSPC);
    // Less than a page is left: small objects fit until that is gone too.
    let mut count = 0;
    let error = loop {
        match vfs.mkdir(root, &alloc::format!("/tmp/d{count}"), 0o755, &USER) {
            Ok(_) => count += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(error, Errno::ENOSPC);
    assert!(count < 32);
    // The root file system is separate and unaffected.
    write_file(&mut vfs, root, "/etc/fine", b"ok");
    file.close(&mut vfs);
    vfs.unlink(root, "/tmp/fill", &USER).unwrap();
    vfs.mkdir(root, "/tmp/more", 0o755, &USER).unwrap();
    assert_eq!(vfs.mkdir(root, "/tmp/d0", 0o755, &USER), Err(Errno::EEXIST));
    write_file(&mut vfs, root, "/tmp/more/f", b"works");
    assert_eq!(read_file(&mut vfs, root, "/tmp/more/f").unwrap(), b"works");
}

#[test]
fn sparse_file_through_open_file() {
    let (mut vfs, root) = setup();
    let flags = OpenFlags::CREAT | OpenFlags::RDWR;
    let mut file = OpenFile::open(&mut vfs, root, "/etc/sparse", flags, 0o644, &ROOT).unwrap();
    assert_eq!(file.lseek(&vfs, 1 << 20, Whence::Start), Ok(1 << 20));
    assert_eq!(file.write(&mut vfs, b"tail"), Ok(4));
    assert_eq!(vfs.stat_node(file.node()).unwrap().size, (1 << 20) + 4);
    file.lseek(&vfs, 0, Whence::Start).unwrap();
    let mut buf = vec![0xFF; 1 << 20];
    assert_eq!(file.read(&mut vfs, &mut buf), Ok(1 << 20));
    assert!(buf.iter().all(|&b| b == 0));
    let mut tail = [0; 8];
    assert_eq!(file.read(&mut vfs, &mut tail), Ok(4));
    assert_eq!(&tail[..4], b"tail");
    file.close(&mut vfs);
}

#[test]
fn append_lseek_and_access_modes() {
    let (mut vfs, root) = setup();
    write_file(&mut vfs, root, "/etc/log", b"first\n");
    let flags = OpenFlags::WRONLY | OpenFlags::APPEND;
    let mut appender = OpenFile::open(&mut vfs, root, "/etc/log", flags, 0, &ROOT).unwrap();
    appender.lseek(&vfs, 0, Whence::Start).unwrap();
    assert_eq!(appender.write(&mut vfs, b"second\n"), Ok(7));
    assert_eq!(appender.offset(), 13);
    assert_eq!(appender.write_at(&mut vfs, 0, b"third\n"), Ok(6));
    assert_eq!(
        read_file(&mut vfs, root, "/etc/log").unwrap(),
        b"first\nsecond\nthird\n"
    );
    assert_eq!(appender.read(&mut vfs, &mut [0; 4]), Err(Errno::EBADF));
    appender.set_status_flags(OpenFlags::NONBLOCK | OpenFlags::RDWR);
    assert!(appender.is_nonblocking());
    assert!(!appender.flags().contains(OpenFlags::APPEND));
    assert!(appender.flags().contains(OpenFlags::WRONLY));
    appender.close(&mut vfs);

    let mut reader =
        OpenFile::open(&mut vfs, root, "/etc/log", OpenFlags::RDONLY, 0, &ROOT).unwrap();
    assert_eq!(reader.write(&mut vfs, b"x"), Err(Errno::EBADF));
    assert_eq!(reader.lseek(&vfs, -3, Whence::End), Ok(16));
    assert_eq!(reader.lseek(&vfs, 2, Whence::Current), Ok(18));
    assert_eq!(reader.lseek(&vfs, -19, Whence::Current), Err(Errno::EINVAL));
    assert_eq!(reader.lseek(&vfs, -1, Whence::Start), Err(Errno::EINVAL));
    assert_eq!(
        reader.lseek(&vfs, i64::MAX, Whence::End),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(reader.offset(), 18, "failed seeks leave the offset alone");
    assert_eq!(reader.lseek(&vfs, 100, Whence::Start), Ok(100));
    assert_eq!(reader.read(&mut vfs, &mut [0; 4]), Ok(0));
    assert_eq!(Whence::from_i32(3), Err(Errno::EINVAL));
    assert_eq!(Whence::from_i32(2), Ok(Whence::End));
    reader.close(&mut vfs);
}

#[test]
fn readdir_through_an_open_directory() {
    let (mut vfs, root) = setup();
    for name in ["b", "a"] {
        create(&mut vfs, root, &alloc::format!("/etc/{name}"), &ROOT);
    }
    vfs.mkdir(root, "/etc/sub", 0o755, &ROOT).unwrap();
    let mut dir = OpenFile::open(&mut vfs, root, "/etc", OpenFlags::DIRECTORY, 0, &ROOT).unwrap();
    let mut seen = Vec::new();
    while let Some(entry) = dir.readdir(&vfs).unwrap() {
        seen.push((entry.name, entry.kind));
    }
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [".", "..", "b", "a", "sub"]);
    assert_eq!(seen[4].1, FileKind::Directory);
    assert_eq!(dir.lseek(&vfs, 0, Whence::End), Err(Errno::EINVAL));
    dir.lseek(&vfs, 0, Whence::Start).unwrap();
    assert_eq!(
        dir.readdir(&vfs).unwrap().map(|e| e.name).as_deref(),
        Some(".")
    );
    dir.close(&mut vfs);
    assert_eq!(list(&vfs, root), [".", "..", "tmp", "etc"]);
}

#[test]
fn unlinked_open_file_stays_readable() {
    let (mut vfs, root) = setup();
    write_file(&mut vfs, root, "/tmp/scratch", b"still here");
    let free_before = vfs
        .statfs(vfs.resolve(root, "/tmp", true, &ROOT).unwrap())
        .unwrap();
    let mut file =
        OpenFile::open(&mut vfs, root, "/tmp/scratch", OpenFlags::RDONLY, 0, &ROOT).unwrap();
    vfs.unlink(root, "/tmp/scratch", &ROOT).unwrap();
    let mut buf = [0; 10];
    assert_eq!(file.read(&mut vfs, &mut buf), Ok(10));
    assert_eq!(&buf, b"still here");
    assert_eq!(vfs.unmount("/tmp").err(), Some(Errno::EBUSY));
    file.close(&mut vfs);
    let tmp = vfs.resolve(root, "/tmp", true, &ROOT).unwrap();
    assert!(vfs.statfs(tmp).unwrap().free_files > free_before.free_files);
}

#[test]
fn unmount_rules() {
    let (mut vfs, root) = setup();
    vfs.mkdir(root, "/tmp/inner", 0o755, &ROOT).unwrap();
    let inner = vfs
        .mount("/tmp/inner", Box::new(Tmpfs::new(1 << 16)))
        .unwrap();
    let stale = vfs.mount_root(inner).unwrap();
    assert_eq!(vfs.unmount("/").err(), Some(Errno::EBUSY));
    assert_eq!(vfs.unmount("/etc").err(), Some(Errno::EINVAL));
    assert_eq!(
        vfs.unmount("/tmp").err(),
        Some(Errno::EBUSY),
        "has a mount inside"
    );
    let fs = vfs.unmount("/tmp/inner").unwrap();
    assert_eq!(fs.fs_type(), "tmpfs");
    assert_eq!(vfs.stat_node(stale), Err(Errno::EBADF));
    assert_eq!(
        vfs.stat(root, "/tmp/inner", &ROOT).unwrap().kind,
        FileKind::Directory
    );
    assert!(vfs.unmount("/tmp").is_ok());
    assert_eq!(vfs.mounts().len(), 1);
    assert_eq!(vfs.sync_all(), Ok(()));
}

#[test]
fn times_come_from_the_vfs_clock() {
    let (mut vfs, root) = setup();
    vfs.set_time(1_000);
    let node = create(&mut vfs, root, "/tmp/t", &ROOT);
    assert_eq!(vfs.stat_node(node).unwrap().mtime, 1_000);
    vfs.set_time(2_000);
    vfs.write_at(node, 0, b"x").unwrap();
    let stat = vfs.stat_node(node).unwrap();
    assert_eq!((stat.mtime, stat.ctime), (2_000, 2_000));
    vfs.set_time(3_000);
    vfs.truncate_node(node, 0).unwrap();
    assert_eq!(vfs.stat_node(node).unwrap().mtime, 3_000);
    let changes = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    assert!(vfs
        .fs_mut(node.mount)
        .unwrap()
        .setattr(node.ino, changes)
        .is_ok());
}

// ---- property test ----

#[derive(Clone, Debug)]
enum Op {
    Open(String, u32),
    Mkdir(String),
    Rmdir(String),
    Unlink(String),
    Rename(String, String),
    Link(String, String),
    Symlink(String, String),
    Write(String, u32, u16),
    Truncate(String, u32),
    Chmod(String, u16),
    Stat(String),
    List(String),
    Chdir(String),
    AsUser(bool),
}

fn path() -> impl Strategy<Value = String> {
    let component = prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("tmp"),
        Just("l"),
        Just("."),
        Just(".."),
        Just(""),
    ];
    (any::<bool>(), prop::collection::vec(component, 1..5)).prop_map(|(absolute, parts)| {
        let joined = parts.join("/");
        if absolute {
            alloc::format!("/{joined}")
        } else {
            joined
        }
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (path(), any::<u32>()).prop_map(|(p, f)| Op::Open(p, f)),
        path().prop_map(Op::Mkdir),
        path().prop_map(Op::Rmdir),
        path().prop_map(Op::Unlink),
        (path(), path()).prop_map(|(a, b)| Op::Rename(a, b)),
        (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
        (path(), path()).prop_map(|(a, b)| Op::Symlink(a, b)),
        (path(), any::<u32>(), any::<u16>()).prop_map(|(p, o, l)| Op::Write(p, o, l)),
        (path(), any::<u32>()).prop_map(|(p, s)| Op::Truncate(p, s)),
        (path(), any::<u16>()).prop_map(|(p, m)| Op::Chmod(p, m)),
        path().prop_map(Op::Stat),
        path().prop_map(Op::List),
        path().prop_map(Op::Chdir),
        any::<bool>().prop_map(Op::AsUser),
    ]
}

/// Every reachable directory has `2 + subdirectories` links, and every entry can be
/// stat'ed.
fn check_tree(vfs: &Vfs, dir: Node, depth: usize) {
    if depth > 12 {
        return;
    }
    let mut subdirs = 0;
    let mut cookie = 0;
    while let Some((entry, next)) = vfs.readdir(dir, cookie).unwrap() {
        cookie = next;
        if entry.name == "." || entry.name == ".." {
            continue;
        }
        let child = vfs.step(dir, &entry.name).unwrap();
        let stat = vfs.stat_node(child).unwrap();
        if entry.kind == FileKind::Directory {
            subdirs += 1;
            check_tree(vfs, child, depth + 1);
        } else {
            assert_eq!(entry.kind, stat.kind);
        }
    }
    assert_eq!(vfs.stat_node(dir).unwrap().nlink, 2 + subdirs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random operation sequences on random paths (with `.`, `..`, empty components,
    /// symlinks and a mount point) never panic and keep the tree consistent.
    #[test]
    fn random_vfs_operations_never_panic(ops in prop::collection::vec(op(), 1..60)) {
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(256 * 1024))).unwrap();
        let root = vfs.root().unwrap();
        vfs.mkdir(root, "/tmp", 0o777, &ROOT).unwrap();
        vfs.mount("/tmp", Box::new(Tmpfs::new(64 * 1024))).unwrap();
        vfs.chmod(root, "/tmp", 0o1777, &ROOT).unwrap();
        vfs.retain(root).unwrap();
        let mut cwd = root;
        let mut cred = ROOT;
        let mut open = Vec::new();
        for op in ops {
            match op {
                Op::Open(p, raw) => {
                    let flags = OpenFlags::from_bits_truncate(raw);
                    if let Ok(node) = vfs.open(cwd, &p, flags, raw & 0o777, &cred) {
                        open.push(OpenFile::new(node, flags));
                    }
                }
                Op::Mkdir(p) => { let _ = vfs.mkdir(cwd, &p, 0o755, &cred); }
                Op::Rmdir(p) => { let _ = vfs.rmdir(cwd, &p, &cred); }
                Op::Unlink(p) => { let _ = vfs.unlink(cwd, &p, &cred); }
                Op::Rename(a, b) => { let _ = vfs.rename(cwd, &a, cwd, &b, &cred); }
                Op::Link(a, b) => { let _ = vfs.link(cwd, &a, cwd, &b, &cred); }
                Op::Symlink(a, b) => { let _ = vfs.symlink(cwd, &a, &b, &cred); }
                Op::Write(p, offset, len) => {
                    let pick = usize::try_from(offset).unwrap_or(0) % open.len().max(1);
                    if let Some(file) = open.get_mut(pick) {
                        let _ = file.lseek(&vfs, i64::from(offset % 200_000), Whence::Start);
                        let _ = file.write(&mut vfs, &vec![7; usize::from(len % 10_000)]);
                        let _ = file.read(&mut vfs, &mut [0; 64]);
                    }
                    let _ = vfs.resolve(cwd, &p, true, &cred)
                        .and_then(|node| vfs.write_at(node, u64::from(offset), &[1, 2, 3]));
                }
                Op::Truncate(p, size) => { let _ = vfs.truncate(cwd, &p, u64::from(size % 100_000), &cred); }
                Op::Chmod(p, mode) => { let _ = vfs.chmod(cwd, &p, u32::from(mode), &cred); }
                Op::Stat(p) => {
                    let _ = vfs.stat(cwd, &p, &cred);
                    let _ = vfs.lstat(cwd, &p, &cred);
                    let _ = vfs.readlink(cwd, &p, &cred);
                }
                Op::List(p) => {
                    if let Ok(node) = vfs.resolve(cwd, &p, true, &cred) {
                        let mut cookie = 0;
                        while let Ok(Some((_, next))) = vfs.readdir(node, cookie) {
                            cookie = next;
                        }
                        let _ = vfs.path_of(node);
                    }
                }
                Op::Chdir(p) => {
                    if let Ok(node) = vfs.resolve(cwd, &p, true, &cred) {
                        if vfs.stat_node(node).is_ok_and(|s| s.is_dir()) && vfs.retain(node).is_ok() {
                            vfs.close(cwd);
                            cwd = node;
                        }
                    }
                }
                Op::AsUser(user) => cred = if user { USER } else { ROOT },
            }
        }
        check_tree(&vfs, root, 0);
        for file in open {
            file.close(&mut vfs);
        }
        vfs.close(cwd);
        let _ = vfs.mounts();
        check_tree(&vfs, root, 0);
    }
}

#[test]
fn components_skip_empty_parts_and_know_the_last() {
    let mut parts = super::Components {
        rest: "//tmp/./a//b/",
    };
    let mut seen = Vec::new();
    while let Some(name) = parts.next() {
        seen.push((name, parts.is_empty()));
    }
    assert_eq!(
        seen,
        [("tmp", false), (".", false), ("a", false), ("b", true)]
    );
    assert_eq!(super::Components { rest: "///" }.next(), None);
    assert_eq!(super::Components { rest: "" }.next(), None);
    let unicode: Vec<&str> = super::Components { rest: "/é/ü/" }.collect();
    assert_eq!(unicode, ["é", "ü"]);
}

/// Shared pages on the heap, as a mapper would see the server's memory.
struct HeapPages(alloc::rc::Rc<core::cell::RefCell<Vec<u8>>>);

impl SharedPages for HeapPages {
    fn bytes(&self) -> u64 {
        self.0.borrow().len() as u64
    }
    fn load(&self, offset: u64, buf: &mut [u8]) {
        let bytes = self.0.borrow();
        buf.copy_from_slice(&bytes[offset as usize..offset as usize + buf.len()]);
    }
    fn store(&self, offset: u64, data: &[u8]) {
        let mut bytes = self.0.borrow_mut();
        bytes[offset as usize..offset as usize + data.len()].copy_from_slice(data);
    }
}

#[test]
fn shared_pages_see_writes_and_are_seen_by_reads() {
    let (mut vfs, root) = setup();
    write_file(&mut vfs, root, "/tmp/mapped", b"hello world");
    let node = vfs.resolve(root, "/tmp/mapped", true, &ROOT).unwrap();
    let memory = alloc::rc::Rc::new(core::cell::RefCell::new(vec![0xAA; 8192]));
    vfs.attach_shared_pages(node, Box::new(HeapPages(memory.clone())))
        .unwrap();
    // Filled from the file; the rest of the pages as the server made them.
    assert_eq!(&memory.borrow()[..11], b"hello world");
    assert_eq!(vfs.shared_pages_len(node), Some(8192));
    let again = Box::new(HeapPages(memory.clone()));
    assert_eq!(vfs.attach_shared_pages(node, again), Err(Errno::EEXIST));
    // A mapper's store is what a read through a handle finds.
    memory.borrow_mut()[..5].copy_from_slice(b"HELLO");
    assert_eq!(
        read_file(&mut vfs, root, "/tmp/mapped").unwrap(),
        b"HELLO world"
    );
    // A write through a handle reaches the mappers.
    let file = OpenFile::open(&mut vfs, root, "/tmp/mapped", OpenFlags::RDWR, 0, &ROOT).unwrap();
    assert_eq!(file.write_at(&mut vfs, 6, b"there"), Ok(5));
    assert_eq!(&memory.borrow()[..11], b"HELLO there");
    // Truncation clears what falls past the end; growth shows zeros.
    vfs.truncate_node(node, 3).unwrap();
    assert_eq!(&memory.borrow()[..11], b"HEL\0\0\0\0\0\0\0\0");
    assert_eq!(file.write_at(&mut vfs, 5, b"!"), Ok(1));
    assert_eq!(
        read_file(&mut vfs, root, "/tmp/mapped").unwrap(),
        b"HEL\0\0!"
    );
    // Let go of: the mappers' last bytes stay in the file.
    memory.borrow_mut()[..3].copy_from_slice(b"hey");
    vfs.detach_shared_pages(node, true).unwrap();
    assert_eq!(vfs.shared_pages_len(node), None);
    memory.borrow_mut()[..3].copy_from_slice(b"xxx");
    assert_eq!(
        read_file(&mut vfs, root, "/tmp/mapped").unwrap(),
        b"hey\0\0!"
    );
    file.close(&mut vfs);
}

#[test]
fn shared_pages_shorter_than_the_file_cover_only_their_part() {
    let (mut vfs, root) = setup();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    write_file(&mut vfs, root, "/tmp/long", &data);
    let node = vfs.resolve(root, "/tmp/long", true, &ROOT).unwrap();
    let memory = alloc::rc::Rc::new(core::cell::RefCell::new(vec![0; 4096]));
    vfs.attach_shared_pages(node, Box::new(HeapPages(memory.clone())))
        .unwrap();
    assert_eq!(&memory.borrow()[..], &data[..4096]);
    memory.borrow_mut()[4095] = 7;
    let mut expected = data.clone();
    expected[4095] = 7;
    assert_eq!(read_file(&mut vfs, root, "/tmp/long").unwrap(), expected);
    vfs.flush_shared_pages(node).unwrap();
    vfs.detach_shared_pages(node, true).unwrap();
    assert_eq!(read_file(&mut vfs, root, "/tmp/long").unwrap(), expected);
}
