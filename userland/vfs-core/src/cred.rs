//! Who is asking, and whether the mode bits let them.
//!
//! The VFS server learns the caller's identity from the IPC badge; this module only
//! applies the classic owner/group/other `rwx` rules, with uid 0 bypassing them.
//! The group class applies when the file's group is the caller's effective group
//! or one of its supplementary groups.

use alloc::vec::Vec;
use bitflags::bitflags;

use crate::errno::{Errno, VfsResult};
use crate::fs::{FileKind, Stat, MODE_STICKY};

/// The identity an operation runs as: the caller's effective ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Cred {
    /// The superuser, which passes every permission check.
    pub const ROOT: Cred = Cred::new(0, 0);

    pub const fn new(uid: u32, gid: u32) -> Self {
        Cred {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// With supplementary groups.
    pub fn with_groups(uid: u32, gid: u32, groups: Vec<u32>) -> Self {
        Cred { uid, gid, groups }
    }

    /// Whether `gid` is this identity's effective group or one of its groups.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    pub const fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Whether this identity owns the inode (or is root), as `chmod`/`utime` require.
    pub const fn owns(&self, stat: &Stat) -> bool {
        self.is_root() || self.uid == stat.uid
    }
}

bitflags! {
    /// Access wanted to an inode, with the bit values of a mode's `rwx` triple.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Access: u32 {
        const READ = 0o4;
        const WRITE = 0o2;
        /// Execute a file, or search (traverse) a directory.
        const EXECUTE = 0o1;
    }
}

/// What a permission check reads of an inode: a path walk keeps this
/// much of each directory's attributes, not the whole [`Stat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl From<&Stat> for Perm {
    fn from(stat: &Stat) -> Self {
        Perm {
            kind: stat.kind,
            mode: stat.mode,
            uid: stat.uid,
            gid: stat.gid,
        }
    }
}

/// `EACCES` unless `cred` may access `stat`'s inode as `wanted`.
pub fn check_access(stat: &Stat, cred: &Cred, wanted: Access) -> VfsResult<()> {
    check_perm(Perm::from(stat), cred, wanted)
}

/// `EACCES` unless `cred` may access an inode with `perm` as `wanted`.
///
/// Root may do anything except execute a non-directory with no execute bit set.
/// Otherwise exactly one class applies: owner if the uid matches, else group if the
/// gid matches, else other.
pub fn check_perm(perm: Perm, cred: &Cred, wanted: Access) -> VfsResult<()> {
    if cred.is_root() {
        let executes_file = wanted.contains(Access::EXECUTE) && perm.kind != FileKind::Directory;
        if executes_file && perm.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        return Ok(());
    }
    let class_bits = if cred.uid == perm.uid {
        perm.mode >> 6
    } else if cred.in_group(perm.gid) {
        perm.mode >> 3
    } else {
        perm.mode
    } & 0o7;
    if class_bits & wanted.bits() == wanted.bits() {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// In a sticky directory (like `/tmp`) only the owner of an entry, the owner of the
/// directory, or root may remove or rename the entry: `EPERM` otherwise.
pub fn check_sticky(dir: &Stat, victim: &Stat, cred: &Cred) -> VfsResult<()> {
    let sticky = dir.mode & MODE_STICKY != 0;
    if sticky && !cred.is_root() && cred.uid != dir.uid && cred.uid != victim.uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::FileKind;

    fn stat(kind: FileKind, mode: u32, uid: u32, gid: u32) -> Stat {
        Stat {
            ino: 7,
            kind,
            mode,
            nlink: 1,
            uid,
            gid,
            size: 0,
            blocks: 0,
            atime: 0,
            mtime: 0,
            ctime: 0,
            rdev: 0,
        }
    }

    #[test]
    fn owner_group_other_classes() {
        let file = stat(FileKind::Regular, 0o640, 100, 200);
        let owner = Cred::new(100, 1);
        let group = Cred::new(101, 200);
        let other = Cred::new(102, 300);
        assert_eq!(
            check_access(&file, &owner, Access::READ | Access::WRITE),
            Ok(())
        );
        assert_eq!(check_access(&file, &group, Access::READ), Ok(()));
        assert_eq!(
            check_access(&file, &group, Access::WRITE),
            Err(Errno::EACCES)
        );
        assert_eq!(
            check_access(&file, &other, Access::READ),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn owner_class_applies_even_when_others_have_more() {
        let file = stat(FileKind::Regular, 0o077, 100, 200);
        assert_eq!(
            check_access(&file, &Cred::new(100, 200), Access::READ),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn supplementary_groups_give_the_group_class() {
        let file = stat(FileKind::Regular, 0o640, 100, 200);
        let member = Cred::with_groups(101, 1, alloc::vec![5, 200]);
        assert_eq!(check_access(&file, &member, Access::READ), Ok(()));
        let stranger = Cred::with_groups(101, 1, alloc::vec![5]);
        assert_eq!(
            check_access(&file, &stranger, Access::READ),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn root_bypasses_except_exec_without_x() {
        let file = stat(FileKind::Regular, 0o000, 100, 200);
        assert_eq!(
            check_access(&file, &Cred::ROOT, Access::READ | Access::WRITE),
            Ok(())
        );
        assert_eq!(
            check_access(&file, &Cred::ROOT, Access::EXECUTE),
            Err(Errno::EACCES)
        );
        let dir = stat(FileKind::Directory, 0o000, 100, 200);
        assert_eq!(check_access(&dir, &Cred::ROOT, Access::EXECUTE), Ok(()));
    }

    #[test]
    fn sticky_directory_protects_other_users_entries() {
        let tmp = stat(FileKind::Directory, 0o1777, 0, 0);
        let theirs = stat(FileKind::Regular, 0o666, 100, 100);
        assert_eq!(check_sticky(&tmp, &theirs, &Cred::new(100, 100)), Ok(()));
        assert_eq!(
            check_sticky(&tmp, &theirs, &Cred::new(101, 100)),
            Err(Errno::EPERM)
        );
        assert_eq!(check_sticky(&tmp, &theirs, &Cred::ROOT), Ok(()));
    }
}
