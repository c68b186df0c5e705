//! devfs: the fixed device directory mounted on `/dev`.
//!
//! `null` (reads end at once, writes vanish), `zero` (reads zeros), `full` (reads
//! zeros, writes fail with `ENOSPC`), `random` and `urandom` (both read the
//! ChaCha20 generator of [`crate::random`]; writes are mixed into it, never
//! trusted as the only entropy), and `console`/`tty`, which the VFS server hands
//! over to the console service when they are opened (their reads and writes here
//! fail with `ENXIO`). Nodes cannot be added, removed or changed (`EPERM`).
//!
//! Pseudo-terminals: `ptmx` (opening it makes a new pty) and the directory
//! `pts`, whose entries `0`, `1`, … are the ptys that exist, as the pty
//! service last reported them ([`Devfs::set_ptys`]); the VFS server hands
//! opens of both to the pty service (docs/terminals.md).
//!
//! Block devices (`vda`, `vda1`, …) come and go as devmgr reports them
//! ([`Devfs::set_blocks`]); opening one is handed to devmgr and the disk's
//! driver by the VFS server, like the terminal (their reads and writes here
//! fail with `ENXIO`).

use alloc::string::String;

use crate::errno::{Errno, VfsResult};
use crate::fs::{
    DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp, NAME_MAX,
};
use crate::random::ChaChaRng;

pub const ROOT_INO: Ino = 1;
pub const NULL_INO: Ino = 2;
pub const ZERO_INO: Ino = 3;
pub const FULL_INO: Ino = 4;
pub const RANDOM_INO: Ino = 5;
pub const URANDOM_INO: Ino = 6;
pub const CONSOLE_INO: Ino = 7;
pub const TTY_INO: Ino = 8;
pub const PTMX_INO: Ino = 9;
/// The `pts` directory.
pub const PTS_INO: Ino = 10;
/// Pty slave nodes: this plus their number.
pub const PTS_INO_BASE: Ino = 1000;
/// Linux's major number of pty slaves (136) and of `ptmx` (5, 2).
const PTS_MAJOR: u64 = 136;
/// Block device nodes: this plus their position in the list devmgr sent.
pub const BLOCK_INO_BASE: Ino = 100;
/// Linux's major number of virtio disks.
const VIRTBLK_MAJOR: u64 = 254;

/// Linux's old-style device number: major in bits 8–15, minor below.
pub const fn device_number(major: u64, minor: u64) -> u64 {
    (major << 8) | minor
}

/// (name, inode, permission bits, device number), in listing order.
const NODES: [(&str, Ino, u32, u64); 8] = [
    ("null", NULL_INO, 0o666, device_number(1, 3)),
    ("zero", ZERO_INO, 0o666, device_number(1, 5)),
    ("full", FULL_INO, 0o666, device_number(1, 7)),
    ("random", RANDOM_INO, 0o666, device_number(1, 8)),
    ("urandom", URANDOM_INO, 0o666, device_number(1, 9)),
    ("console", CONSOLE_INO, 0o600, device_number(5, 1)),
    ("tty", TTY_INO, 0o666, device_number(5, 0)),
    ("ptmx", PTMX_INO, 0o666, device_number(5, 2)),
];

/// The device file system.
pub struct Devfs {
    rng: ChaChaRng,
    now: Timestamp,
    /// Block devices (name, 512-byte sectors), as devmgr last reported them.
    blocks: alloc::vec::Vec<(String, u64)>,
    /// Numbers of the ptys that exist, ascending.
    ptys: alloc::vec::Vec<u32>,
}

impl Devfs {
    /// A devfs whose random devices read `rng`.
    pub fn new(rng: ChaChaRng) -> Self {
        Devfs {
            rng,
            now: 0,
            blocks: alloc::vec::Vec::new(),
            ptys: alloc::vec::Vec::new(),
        }
    }

    /// Replaces the block device nodes.
    pub fn set_blocks(&mut self, blocks: alloc::vec::Vec<(String, u64)>) {
        self.blocks = blocks;
    }

    /// Replaces the list of ptys (`/dev/pts/N`).
    pub fn set_ptys(&mut self, mut ptys: alloc::vec::Vec<u32>) {
        ptys.sort_unstable();
        ptys.dedup();
        self.ptys = ptys;
    }

    /// Adds one pty (just opened through `ptmx`).
    pub fn add_pty(&mut self, index: u32) {
        if let Err(at) = self.ptys.binary_search(&index) {
            self.ptys.insert(at, index);
        }
    }

    /// Whether opening `ino` means opening a new pty master.
    pub fn is_pty_master(ino: Ino) -> bool {
        ino == PTMX_INO
    }

    /// The pty number of `ino`, when it is a slave that exists.
    pub fn pty_slave(&self, ino: Ino) -> Option<u32> {
        let index = u32::try_from(ino.checked_sub(PTS_INO_BASE)?).ok()?;
        self.ptys.binary_search(&index).ok().map(|_| index)
    }

    /// The block device name of `ino`, when it is one.
    pub fn block_name(&self, ino: Ino) -> Option<&str> {
        let index = ino.checked_sub(BLOCK_INO_BASE)?;
        self.blocks
            .get(index as usize)
            .map(|(name, _)| name.as_str())
    }

    /// Whether opening `ino` means opening the terminal.
    pub fn is_terminal(ino: Ino) -> bool {
        ino == CONSOLE_INO || ino == TTY_INO
    }

    /// Mixes more entropy into the random devices.
    pub fn absorb_entropy(&mut self, entropy: &[u8]) {
        self.rng.absorb(entropy);
    }

    fn node(ino: Ino) -> VfsResult<(&'static str, u32, u64)> {
        NODES
            .iter()
            .find(|(_, node, _, _)| *node == ino)
            .map(|(name, _, mode, rdev)| (*name, *mode, *rdev))
            .ok_or(Errno::ENOENT)
    }
}

impl Devfs {
    /// Entry `cookie` of `/dev/pts`.
    fn pts_entry(&self, cookie: u64) -> Option<DirEntry> {
        match cookie {
            0 => Some(DirEntry {
                ino: PTS_INO,
                kind: FileKind::Directory,
                name: String::from("."),
            }),
            1 => Some(DirEntry {
                ino: ROOT_INO,
                kind: FileKind::Directory,
                name: String::from(".."),
            }),
            _ => {
                let index = *self.ptys.get(usize::try_from(cookie - 2).ok()?)?;
                Some(DirEntry {
                    ino: PTS_INO_BASE + Ino::from(index),
                    kind: FileKind::CharDevice,
                    name: alloc::format!("{index}"),
                })
            }
        }
    }
}

impl FileSystem for Devfs {
    fn fs_type(&self) -> &'static str {
        "devfs"
    }

    fn set_time(&mut self, now: Timestamp) {
        self.now = now;
    }

    fn root(&self) -> Ino {
        ROOT_INO
    }

    fn read_only(&self) -> bool {
        false
    }

    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        if dir == PTS_INO {
            return match name {
                "." => Ok(PTS_INO),
                ".." => Ok(ROOT_INO),
                _ => name
                    .parse::<u32>()
                    .ok()
                    .filter(|_| !name.starts_with('+') && (name == "0" || !name.starts_with('0')))
                    .and_then(|n| self.pty_slave(PTS_INO_BASE + Ino::from(n)))
                    .map(|n| PTS_INO_BASE + Ino::from(n))
                    .ok_or(Errno::ENOENT),
            };
        }
        if dir != ROOT_INO {
            return Err(
                if Self::node(dir).is_ok() || self.block_name(dir).is_some() {
                    Errno::ENOTDIR
                } else {
                    Errno::ENOENT
                },
            );
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let block = || {
            let index = self.blocks.iter().position(|(n, _)| n == name)?;
            Some(BLOCK_INO_BASE + index as Ino)
        };
        match name {
            "." | ".." => Ok(ROOT_INO),
            "pts" => Ok(PTS_INO),
            _ => NODES
                .iter()
                .find(|(node_name, ..)| *node_name == name)
                .map(|(_, ino, ..)| *ino)
                .or_else(block)
                .ok_or(Errno::ENOENT),
        }
    }

    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        let block = ino.checked_sub(BLOCK_INO_BASE).and_then(|i| {
            self.blocks
                .get(i as usize)
                .map(|(_, sectors)| (i, *sectors))
        });
        let (kind, mode, nlink, rdev, size) = if ino == ROOT_INO {
            (FileKind::Directory, 0o755, 3, 0, 0)
        } else if ino == PTS_INO {
            (FileKind::Directory, 0o755, 2, 0, 0)
        } else if let Some(index) = self.pty_slave(ino) {
            let rdev = device_number(PTS_MAJOR, u64::from(index));
            (FileKind::CharDevice, 0o620, 1, rdev, 0)
        } else if let Some((index, sectors)) = block {
            let rdev = device_number(VIRTBLK_MAJOR, index);
            (FileKind::BlockDevice, 0o660, 1, rdev, sectors * 512)
        } else {
            let (_, mode, rdev) = Self::node(ino)?;
            (FileKind::CharDevice, mode, 1, rdev, 0)
        };
        Ok(Stat {
            ino,
            kind,
            mode,
            nlink,
            uid: 0,
            gid: 0,
            size,
            blocks: 0,
            atime: self.now,
            mtime: self.now,
            ctime: self.now,
            rdev,
        })
    }

    fn setattr(&mut self, ino: Ino, changes: SetAttr) -> VfsResult<Stat> {
        // Truncating a device (`> /dev/null` opens with O_TRUNC) is a no-op.
        let only_size = changes
            == SetAttr {
                size: changes.size,
                ..SetAttr::default()
            };
        if only_size && ino != ROOT_INO {
            return self.getattr(ino);
        }
        self.getattr(ino)?;
        Err(Errno::EPERM)
    }

    fn create(&mut self, dir: Ino, name: &str, _: FileKind, _: NewInode) -> VfsResult<Ino> {
        match self.lookup(dir, name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(_) => Err(Errno::EPERM),
        }
    }

    fn link(&mut self, _: Ino, _: &str, _: Ino) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    fn unlink(&mut self, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    fn rmdir(&mut self, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    fn rename(&mut self, _: Ino, _: &str, _: Ino, _: &str) -> VfsResult<()> {
        Err(Errno::EPERM)
    }

    fn symlink(&mut self, _: Ino, _: &str, _: &str, _: NewInode) -> VfsResult<Ino> {
        Err(Errno::EPERM)
    }

    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        self.getattr(ino)?;
        Err(Errno::EINVAL)
    }

    fn read(&mut self, ino: Ino, _offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        match ino {
            ROOT_INO => Err(Errno::EISDIR),
            NULL_INO => Ok(0),
            ZERO_INO | FULL_INO => {
                buf.fill(0);
                Ok(buf.len())
            }
            RANDOM_INO | URANDOM_INO => {
                self.rng.fill(buf);
                Ok(buf.len())
            }
            CONSOLE_INO | TTY_INO | PTMX_INO => Err(Errno::ENXIO),
            PTS_INO => Err(Errno::EISDIR),
            _ if self.block_name(ino).is_some() || self.pty_slave(ino).is_some() => {
                Err(Errno::ENXIO)
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn write(&mut self, ino: Ino, _offset: u64, data: &[u8]) -> VfsResult<usize> {
        match ino {
            ROOT_INO => Err(Errno::EISDIR),
            NULL_INO | ZERO_INO => Ok(data.len()),
            FULL_INO => Err(Errno::ENOSPC),
            RANDOM_INO | URANDOM_INO => {
                self.rng.absorb(data);
                Ok(data.len())
            }
            CONSOLE_INO | TTY_INO | PTMX_INO => Err(Errno::ENXIO),
            PTS_INO => Err(Errno::EISDIR),
            _ if self.block_name(ino).is_some() || self.pty_slave(ino).is_some() => {
                Err(Errno::ENXIO)
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        if dir == PTS_INO {
            return Ok(self.pts_entry(cookie).map(|entry| (entry, cookie + 1)));
        }
        if dir != ROOT_INO {
            self.getattr(dir)?;
            return Err(Errno::ENOTDIR);
        }
        let entry = match cookie {
            0 | 1 => DirEntry {
                ino: ROOT_INO,
                kind: FileKind::Directory,
                name: String::from(if cookie == 0 { "." } else { ".." }),
            },
            _ => match NODES.get((cookie - 2) as usize) {
                Some((name, ino, ..)) => DirEntry {
                    ino: *ino,
                    kind: FileKind::CharDevice,
                    name: String::from(*name),
                },
                None if cookie as usize - 2 == NODES.len() => DirEntry {
                    ino: PTS_INO,
                    kind: FileKind::Directory,
                    name: String::from("pts"),
                },
                None => {
                    let index = cookie as usize - 3 - NODES.len();
                    match self.blocks.get(index) {
                        Some((name, _)) => DirEntry {
                            ino: BLOCK_INO_BASE + index as Ino,
                            kind: FileKind::BlockDevice,
                            name: name.clone(),
                        },
                        None => return Ok(None),
                    }
                }
            },
        };
        Ok(Some((entry, cookie + 1)))
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            block_size: 4096,
            total_blocks: 0,
            free_blocks: 0,
            files: NODES.len() as u64 + 2 + self.ptys.len() as u64,
            free_files: 0,
            name_max: NAME_MAX as u32,
        }
    }

    fn sync(&mut self) -> VfsResult<()> {
        Ok(())
    }

    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        self.getattr(ino).map(|_| ())
    }

    fn release(&mut self, _: Ino) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devfs() -> Devfs {
        Devfs::new(ChaChaRng::from_seed([5; 32]))
    }

    #[test]
    fn null_zero_full_behave() {
        let mut dev = devfs();
        let mut buf = [0xAAu8; 16];
        assert_eq!(dev.read(NULL_INO, 0, &mut buf), Ok(0));
        assert_eq!(dev.write(NULL_INO, 0, b"gone"), Ok(4));
        assert_eq!(dev.read(ZERO_INO, 0, &mut buf), Ok(16));
        assert_eq!(buf, [0; 16]);
        buf.fill(1);
        assert_eq!(dev.read(FULL_INO, 0, &mut buf), Ok(16));
        assert_eq!(buf, [0; 16]);
        assert_eq!(dev.write(FULL_INO, 0, b"x"), Err(Errno::ENOSPC));
    }

    #[test]
    fn random_reads_differ() {
        let mut dev = devfs();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        assert_eq!(dev.read(URANDOM_INO, 0, &mut a), Ok(32));
        assert_eq!(dev.read(RANDOM_INO, 0, &mut b), Ok(32));
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn listing_and_attributes() {
        let dev = devfs();
        let mut names = alloc::vec::Vec::new();
        let mut cookie = 0;
        while let Some((entry, next)) = dev.readdir(ROOT_INO, cookie).expect("readdir") {
            names.push(entry.name);
            cookie = next;
        }
        assert_eq!(
            names,
            [
                ".", "..", "null", "zero", "full", "random", "urandom", "console", "tty", "ptmx",
                "pts"
            ]
        );
        let null = dev.lookup(ROOT_INO, "null").expect("null");
        let stat = dev.getattr(null).expect("stat");
        assert_eq!(stat.st_mode(), 0o020666);
        assert_eq!(stat.rdev, device_number(1, 3));
        assert_eq!(dev.lookup(ROOT_INO, "sda"), Err(Errno::ENOENT));
        assert_eq!(dev.lookup(NULL_INO, "x"), Err(Errno::ENOTDIR));
    }

    #[test]
    fn block_devices_come_and_go() {
        let mut dev = devfs();
        dev.set_blocks(alloc::vec![("vda".into(), 2048), ("vda1".into(), 1000)]);
        let vda1 = dev.lookup(ROOT_INO, "vda1").expect("vda1");
        assert_eq!(dev.block_name(vda1), Some("vda1"));
        let stat = dev.getattr(vda1).expect("stat");
        assert_eq!(stat.st_mode(), 0o060660);
        assert_eq!(stat.size, 512_000);
        let mut buf = [0u8; 4];
        assert_eq!(dev.read(vda1, 0, &mut buf), Err(Errno::ENXIO));
        let mut names = alloc::vec::Vec::new();
        let mut cookie = 0;
        while let Some((entry, next)) = dev.readdir(ROOT_INO, cookie).expect("readdir") {
            names.push(entry.name);
            cookie = next;
        }
        assert_eq!(names[names.len() - 2..], ["vda", "vda1"]);
        dev.set_blocks(alloc::vec::Vec::new());
        assert_eq!(dev.lookup(ROOT_INO, "vda1"), Err(Errno::ENOENT));
        assert_eq!(dev.getattr(vda1).map(|_| ()), Err(Errno::ENOENT));
    }

    #[test]
    fn pty_slaves_come_and_go() {
        let mut dev = devfs();
        let pts = dev.lookup(ROOT_INO, "pts").expect("pts");
        assert!(dev.getattr(pts).expect("stat").is_dir());
        assert_eq!(dev.lookup(pts, "0"), Err(Errno::ENOENT));
        dev.add_pty(3);
        dev.set_ptys(alloc::vec![3, 0]);
        let zero = dev.lookup(pts, "0").expect("pts/0");
        assert_eq!(dev.pty_slave(zero), Some(0));
        let stat = dev.getattr(zero).expect("stat");
        assert_eq!(stat.st_mode(), 0o020620);
        assert_eq!(stat.rdev, device_number(136, 0));
        assert_eq!(dev.lookup(pts, "00"), Err(Errno::ENOENT));
        assert_eq!(dev.lookup(pts, "+3"), Err(Errno::ENOENT));
        assert_eq!(dev.lookup(pts, ".."), Ok(ROOT_INO));
        let mut names = alloc::vec::Vec::new();
        let mut cookie = 0;
        while let Some((entry, next)) = dev.readdir(pts, cookie).expect("readdir") {
            names.push(entry.name);
            cookie = next;
        }
        assert_eq!(names, [".", "..", "0", "3"]);
        let mut buf = [0u8; 4];
        assert_eq!(dev.read(zero, 0, &mut buf), Err(Errno::ENXIO));
        assert!(Devfs::is_pty_master(
            dev.lookup(ROOT_INO, "ptmx").expect("ptmx")
        ));
        dev.set_ptys(alloc::vec::Vec::new());
        assert_eq!(dev.lookup(pts, "0"), Err(Errno::ENOENT));
        assert_eq!(dev.pty_slave(zero), None);
    }

    #[test]
    fn nodes_cannot_change() {
        let mut dev = devfs();
        let attrs = NewInode::new(0o644, 0, 0);
        assert_eq!(
            dev.create(ROOT_INO, "new", FileKind::Regular, attrs),
            Err(Errno::EPERM)
        );
        assert_eq!(
            dev.create(ROOT_INO, "null", FileKind::Regular, attrs),
            Err(Errno::EEXIST)
        );
        assert_eq!(dev.unlink(ROOT_INO, "null"), Err(Errno::EPERM));
        let chmod = SetAttr {
            mode: Some(0o600),
            ..SetAttr::default()
        };
        assert_eq!(dev.setattr(NULL_INO, chmod), Err(Errno::EPERM));
        let truncate = SetAttr {
            size: Some(0),
            ..SetAttr::default()
        };
        assert!(dev.setattr(NULL_INO, truncate).is_ok());
    }
}
