//! Copying the initramfs into the root tmpfs at boot.
//!
//! File data is not copied where the file system can read it in place
//! ([`crate::fs::FileSystem::adopt_static`]): the archive stays mapped for the
//! VFS's lifetime and tmpfs copies a page only when it is written.
//!
//! The caller iterates the archive (the VFS server uses the kernel's cpio
//! reader) and hands over each member as (path, `st_mode`, data). Directories
//! are created with their modes (missing parents with 0755), regular files get
//! their data and mode, symlinks (mode 0o120000) take their data as the target.
//! Other kinds are skipped. Nothing here stops at the first error: every
//! member that could not be copied is listed in the report.

use alloc::string::String;
use alloc::vec::Vec;

use crate::cred::Cred;
use crate::errno::{Errno, VfsResult};
use crate::file::OpenFlags;
use crate::fs::{FileKind, MODE_PERMISSION_MASK};
use crate::vfs::Vfs;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// What [`populate`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub directories: usize,
    pub files: usize,
    pub symlinks: usize,
    pub bytes: u64,
    /// Members not copied, with why.
    pub failed: Vec<(String, Errno)>,
}

/// Copies archive members into `vfs` below `/`, as root.
pub fn populate<'a>(
    vfs: &mut Vfs,
    members: impl IntoIterator<Item = (&'a str, u32, &'static [u8])>,
) -> Report {
    let mut report = Report::default();
    for (name, mode, data) in members {
        let relative = name.trim_start_matches("./").trim_start_matches('/');
        if relative.is_empty() || relative == "." || relative == "TRAILER!!!" {
            continue;
        }
        let path = alloc::format!("/{relative}");
        match add(vfs, &path, mode, data) {
            Ok(FileKind::Directory) => report.directories += 1,
            Ok(FileKind::Symlink) => report.symlinks += 1,
            Ok(_) => {
                report.files += 1;
                report.bytes += data.len() as u64;
            }
            Err(errno) => report.failed.push((path, errno)),
        }
    }
    report
}

/// Creates every missing directory above `path`.
fn make_parents(vfs: &mut Vfs, path: &str) -> VfsResult<()> {
    let root = vfs.root()?;
    let mut prefix = String::new();
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for component in components.iter().take(components.len().saturating_sub(1)) {
        prefix.push('/');
        prefix.push_str(component);
        match vfs.mkdir(root, &prefix, 0o755, &Cred::ROOT) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn add(vfs: &mut Vfs, path: &str, mode: u32, data: &'static [u8]) -> VfsResult<FileKind> {
    let root = vfs.root()?;
    let permissions = mode & MODE_PERMISSION_MASK;
    make_parents(vfs, path)?;
    match mode & S_IFMT {
        S_IFDIR => {
            match vfs.mkdir(root, path, permissions, &Cred::ROOT) {
                Ok(_) => {}
                Err(Errno::EEXIST) if vfs.stat(root, path, &Cred::ROOT)?.is_dir() => {
                    vfs.chmod(root, path, permissions, &Cred::ROOT)?;
                }
                Err(e) => return Err(e),
            }
            Ok(FileKind::Directory)
        }
        S_IFREG => {
            let flags =
                OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC | OpenFlags::NOFOLLOW;
            let node = vfs.open(root, path, flags, permissions, &Cred::ROOT)?;
            let mut written = 0;
            if !data.is_empty() && vfs.adopt_static(node, data).is_ok() {
                written = data.len();
            }
            let result = loop {
                if written == data.len() {
                    break Ok(());
                }
                match vfs.write_at(node, written as u64, &data[written..]) {
                    Ok(0) => break Err(Errno::ENOSPC),
                    Ok(n) => written += n,
                    Err(e) => break Err(e),
                }
            };
            vfs.close(node);
            result?;
            vfs.chmod(root, path, permissions, &Cred::ROOT)?;
            Ok(FileKind::Regular)
        }
        S_IFLNK => {
            let target = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
            vfs.symlink(root, target, path, &Cred::ROOT)?;
            Ok(FileKind::Symlink)
        }
        _ => Err(Errno::ENOTSUP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmpfs::Tmpfs;
    use alloc::boxed::Box;

    fn vfs() -> Vfs {
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(1 << 20)))
            .expect("mount");
        vfs
    }

    fn read(vfs: &mut Vfs, path: &str) -> Vec<u8> {
        let root = vfs.root().expect("root");
        let node = vfs
            .open(root, path, OpenFlags::RDONLY, 0, &Cred::ROOT)
            .expect("open");
        let mut content = Vec::new();
        let mut buf = alloc::vec![0u8; 4096];
        loop {
            let n = vfs
                .read_at(node, content.len() as u64, &mut buf)
                .expect("read");
            if n == 0 {
                break;
            }
            content.extend_from_slice(&buf[..n]);
        }
        vfs.close(node);
        content
    }

    #[test]
    fn copies_directories_files_and_symlinks() {
        let mut vfs = vfs();
        let members: [(&str, u32, &[u8]); 7] = [
            (".", 0o040755, b""),
            ("etc", 0o040755, b""),
            ("etc/motd", 0o100644, b"hello\n"),
            ("sbin/init", 0o100755, b"\x7fELF"),
            ("bin/sh", 0o120777, b"/sbin/init"),
            ("dev/null", 0o020666, b""),
            ("TRAILER!!!", 0, b""),
        ];
        let report = populate(&mut vfs, members);
        assert_eq!(report.directories, 1);
        assert_eq!(report.files, 2);
        assert_eq!(report.symlinks, 1);
        assert_eq!(report.bytes, 10);
        assert_eq!(report.failed, [("/dev/null".into(), Errno::ENOTSUP)]);
        assert_eq!(read(&mut vfs, "/etc/motd"), b"hello\n");
        let root = vfs.root().expect("root");
        let init = vfs.stat(root, "/sbin/init", &Cred::ROOT).expect("stat");
        assert_eq!(init.st_mode(), 0o100755);
        assert!(vfs.stat(root, "/sbin", &Cred::ROOT).expect("stat").is_dir());
        assert_eq!(
            vfs.readlink(root, "/bin/sh", &Cred::ROOT).as_deref(),
            Ok("/sbin/init")
        );
        assert_eq!(read(&mut vfs, "/bin/sh"), b"\x7fELF");
    }

    #[test]
    fn later_directory_entry_sets_the_mode_and_duplicates_replace() {
        let mut vfs = vfs();
        let members: [(&str, u32, &[u8]); 4] = [
            ("tmp/x", 0o100600, b"one"),
            ("tmp", 0o041777, b""),
            ("tmp/x", 0o100644, b"second"),
            ("bad", 0o120777, b"\xff"),
        ];
        let report = populate(&mut vfs, members);
        assert_eq!(report.failed, [("/bad".into(), Errno::EINVAL)]);
        let root = vfs.root().expect("root");
        assert_eq!(
            vfs.stat(root, "/tmp", &Cred::ROOT).expect("stat").mode,
            0o1777
        );
        assert_eq!(read(&mut vfs, "/tmp/x"), b"second");
        assert_eq!(
            vfs.stat(root, "/tmp/x", &Cred::ROOT).expect("stat").mode,
            0o644
        );
    }

    #[test]
    fn running_out_of_space_is_reported() {
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(8192))).expect("mount");
        let names: Vec<String> = (0..200).map(|i| alloc::format!("file{i}")).collect();
        let members = names.iter().map(|n| (n.as_str(), 0o100644, &b"x"[..]));
        let report = populate(&mut vfs, members);
        assert!(!report.failed.is_empty());
        assert!(report.failed.iter().all(|(_, e)| *e == Errno::ENOSPC));
    }

    #[test]
    fn archive_files_are_read_in_place_and_copied_on_write() {
        static BIG: [u8; 64 * 1024] = [7u8; 64 * 1024];
        let mut vfs = Vfs::new();
        vfs.mount("/", Box::new(Tmpfs::new(16 * 1024)))
            .expect("mount");
        let report = populate(&mut vfs, [("big", 0o100644, &BIG[..])]);
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        let content = read(&mut vfs, "/big");
        assert_eq!(content.len(), BIG.len());
        assert!(content.iter().all(|&b| b == 7));
        // A write copies one page; the rest still reads from the archive.
        let root = vfs.root().expect("root");
        let node = vfs
            .open(root, "/big", OpenFlags::WRONLY, 0, &Cred::ROOT)
            .expect("open");
        assert_eq!(vfs.write_at(node, 4097, b"AB").expect("write"), 2);
        // Shrinking then growing reads zeros past the old end, not the archive.
        vfs.truncate_node(node, 5000).expect("truncate");
        vfs.truncate_node(node, 9000).expect("grow");
        vfs.close(node);
        let content = read(&mut vfs, "/big");
        assert_eq!(content.len(), 9000);
        assert_eq!(&content[4095..4100], &[7, 7, b'A', b'B', 7]);
        assert!(content[5000..].iter().all(|&b| b == 0));
        assert!(content[..4097].iter().all(|&b| b == 7));
    }
}
