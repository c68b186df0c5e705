//! File systems served by another process: [`RemoteFs`] is the VFS's side, a
//! [`FileSystem`] that forwards every operation over the remote file-system
//! protocol (`zos_proto::rfs`) to a server; [`serve`] is the server's side, which
//! answers those requests from any local [`FileSystem`] (the ext2 server's).
//!
//! The IPC itself stays outside this crate behind [`Transport`] and [`DataBuffer`],
//! so both ends are tested here on the host. When the server is gone (a call fails)
//! the mount answers `EIO` from then on; the VFS keeps running.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use zos_proto::fs::{FileStat, FsStat};
use zos_proto::rfs::{RfsCall, RfsEntry, RfsRequest, RfsResponse};

use crate::errno::{Errno, VfsResult};
use crate::fs::{DirEntry, FileKind, FileSystem, Ino, NewInode, SetAttr, Stat, StatFs, Timestamp};

/// The server could not be reached (it died, or its capability is gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerGone;

/// How a [`RemoteFs`] reaches its server.
pub trait Transport {
    /// Send one encoded request and return the reply's bytes.
    fn call(&self, request: &[u8]) -> Result<Vec<u8>, ServerGone>;
    /// Size of the shared data buffer.
    fn buffer_len(&self) -> usize;
    /// Copy `data` to the start of the data buffer.
    fn store(&self, data: &[u8]);
    /// Copy the start of the data buffer into `out`.
    fn load(&self, out: &mut [u8]);
    /// The volume's change counter the server keeps in the buffer
    /// (`zos_proto::rfs::GENERATION_BYTES`); `None` when this transport has
    /// none, and then nothing is cached.
    fn generation(&self) -> Option<u64> {
        None
    }
}

/// The data buffer as the server sees it.
pub trait DataBuffer {
    /// Size in bytes.
    fn size(&self) -> usize;
    fn store(&mut self, data: &[u8]);
    fn load(&self, out: &mut [u8]);
    /// The buffer itself, when the server may read and write it in place:
    /// `Read` then fills it straight from the file system and `Write` takes
    /// its data from there, with no copy in between.
    fn bytes(&mut self) -> Option<&mut [u8]> {
        None
    }
}

fn from_file_stat(stat: &FileStat) -> VfsResult<Stat> {
    Ok(Stat {
        ino: stat.ino,
        kind: FileKind::from_mode(stat.mode).ok_or(Errno::EIO)?,
        mode: stat.mode & crate::fs::MODE_PERMISSION_MASK,
        nlink: stat.nlink,
        uid: stat.uid,
        gid: stat.gid,
        size: stat.size,
        blocks: stat.blocks,
        atime: stat.atime_ns,
        mtime: stat.mtime_ns,
        ctime: stat.ctime_ns,
        rdev: stat.rdev,
    })
}

fn errno(value: i32) -> Errno {
    Errno::from_i32(value).unwrap_or(Errno::EIO)
}

/// The VFS's proxy for a file system served by another process.
pub struct RemoteFs<T: Transport> {
    transport: T,
    fs_type: &'static str,
    root: Ino,
    read_only: bool,
    now: Timestamp,
    /// Set once a call failed: the server is gone and every operation is `EIO`.
    dead: Cell<bool>,
    /// Lookups and attributes learnt at one value of the volume's change counter.
    cache: RefCell<MetaCache>,
}

/// Names and attributes of a remote volume, valid while its change counter
/// keeps the value they were learnt at: path resolution (a lookup and a
/// permission check per component) then costs no round trip. Any change,
/// through this mount, another mount of the volume or another client of the
/// server, moves the counter and empties the cache; so does reaching
/// [`MetaCache::MAX_ENTRIES`].
#[derive(Default)]
struct MetaCache {
    generation: Option<u64>,
    /// `None`: the name is known not to exist.
    names: BTreeMap<(Ino, String), Option<Ino>>,
    attrs: BTreeMap<Ino, Stat>,
}

impl MetaCache {
    const MAX_ENTRIES: usize = 1024;

    /// Empties the cache unless it was learnt at `generation`.
    fn validate(&mut self, generation: u64) {
        if self.generation != Some(generation) {
            self.names.clear();
            self.attrs.clear();
            self.generation = Some(generation);
        }
    }

    /// `name` in `dir` now names `ino`; `dir`'s times and size moved.
    fn added(&mut self, dir: Ino, name: &str, ino: Ino) {
        self.attrs.remove(&dir);
        self.names.insert((dir, String::from(name)), Some(ino));
    }

    fn clear(&mut self) {
        self.names.clear();
        self.attrs.clear();
    }

    /// `name` in `dir` is gone (unlinked or removed); so are the attributes of
    /// what it named, and, for a directory, the names under it (its inode
    /// number may come back as another file).
    fn forget_name(&mut self, dir: Ino, name: &str, was_directory: bool) {
        self.attrs.remove(&dir);
        match self.names.insert((dir, String::from(name)), None) {
            Some(Some(ino)) => {
                self.attrs.remove(&ino);
                if was_directory {
                    self.names.retain(|(parent, _), _| *parent != ino);
                }
            }
            _ => {
                self.clear();
                self.names.insert((dir, String::from(name)), None);
            }
        }
    }
}

impl<T: Transport> RemoteFs<T> {
    /// Ask the server behind `transport` what it serves.
    pub fn connect(transport: T, now: Timestamp) -> VfsResult<Self> {
        let mut fs = RemoteFs {
            transport,
            fs_type: "remote",
            root: 0,
            read_only: true,
            now,
            dead: Cell::new(false),
            cache: RefCell::new(MetaCache::default()),
        };
        let (fs_type, root, read_only) = fs.call(RfsRequest::Info, |r| match r {
            RfsResponse::Info {
                fs_type,
                root,
                read_only,
            } => Ok((
                match *fs_type {
                    "ext2" => "ext2",
                    _ => "remote",
                },
                *root,
                *read_only,
            )),
            _ => Err(Errno::EIO),
        })?;
        fs.fs_type = fs_type;
        fs.root = root;
        fs.read_only = read_only;
        Ok(fs)
    }

    /// Whether the server has gone away.
    pub fn is_dead(&self) -> bool {
        self.dead.get()
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn call<R>(
        &self,
        op: RfsRequest,
        take: impl FnOnce(&RfsResponse) -> VfsResult<R>,
    ) -> VfsResult<R> {
        if self.dead.get() {
            return Err(Errno::EIO);
        }
        let request = RfsCall { now: self.now, op };
        let bytes = zos_proto::encode_vec(&request).ok_or(Errno::EINVAL)?;
        let Ok(reply) = self.transport.call(&bytes) else {
            self.dead.set(true);
            return Err(Errno::EIO);
        };
        match zos_proto::decode::<RfsResponse>(&reply) {
            Some(RfsResponse::Err(e)) => Err(errno(e)),
            Some(response) => take(&response),
            None => Err(Errno::EIO),
        }
    }

    fn ok(&self, op: RfsRequest) -> VfsResult<()> {
        self.call(op, |r| match r {
            RfsResponse::Ok => Ok(()),
            _ => Err(Errno::EIO),
        })
    }

    fn ino(&self, op: RfsRequest) -> VfsResult<Ino> {
        self.call(op, |r| match r {
            RfsResponse::Ino(ino) => Ok(*ino),
            _ => Err(Errno::EIO),
        })
    }

    /// `find` in the cache, or else `ask` the server and `keep` the answer
    /// when the volume did not change meanwhile (an answer that raced a
    /// change may already be stale, so it is not kept).
    fn cached<R>(
        &self,
        find: impl FnOnce(&MetaCache) -> Option<R>,
        ask: impl FnOnce() -> VfsResult<R>,
        keep: impl FnOnce(&mut MetaCache, &R),
    ) -> VfsResult<R> {
        let Some(before) = self.transport.generation().filter(|_| !self.dead.get()) else {
            return ask();
        };
        self.cache.borrow_mut().validate(before);
        if let Some(found) = find(&self.cache.borrow()) {
            return Ok(found);
        }
        let answer = ask()?;
        if self.transport.generation() == Some(before) {
            let mut cache = self.cache.borrow_mut();
            if cache.names.len() + cache.attrs.len() >= MetaCache::MAX_ENTRIES {
                cache.generation = None;
                cache.validate(before);
            }
            keep(&mut cache, &answer);
        }
        Ok(answer)
    }

    /// A change made through this mount. The server moves the volume's counter
    /// once per change, before it answers; when the counter moved by exactly
    /// this one, nobody else changed the volume meanwhile, and the cache stays
    /// valid with `adjust` applying what the change did. Otherwise (or after an
    /// error) the cache is emptied at its next use. This keeps create-heavy work
    /// from asking the server again for every name on its path.
    fn change<R>(
        &self,
        ask: impl FnOnce() -> VfsResult<R>,
        adjust: impl FnOnce(&mut MetaCache, &R),
    ) -> VfsResult<R> {
        let before = self.transport.generation().filter(|_| !self.dead.get());
        if let Some(before) = before {
            self.cache.borrow_mut().validate(before);
        }
        let answer = ask()?;
        let after = before.map(|b| b.wrapping_add(1));
        if after.is_some() && self.transport.generation() == after {
            let mut cache = self.cache.borrow_mut();
            cache.generation = after;
            adjust(&mut cache, &answer);
            if cache.names.len() + cache.attrs.len() > MetaCache::MAX_ENTRIES {
                cache.clear();
            }
        }
        Ok(answer)
    }

    /// A read or write of `len` bytes: how many the server moved (never more).
    fn count(&self, op: RfsRequest, len: usize) -> VfsResult<usize> {
        self.call(op, |r| match r {
            RfsResponse::Count(n) if (*n as usize) <= len => Ok(*n as usize),
            _ => Err(Errno::EIO),
        })
    }
}

/// Moves `total` bytes through a shared buffer of `chunk` bytes, one `step(done,
/// len)` per chunk: stops at a short step, and after an error once something
/// moved (a short count, as POSIX reads and writes report).
fn in_chunks(
    chunk: usize,
    total: usize,
    mut step: impl FnMut(usize, usize) -> VfsResult<usize>,
) -> VfsResult<usize> {
    if chunk == 0 {
        return Err(Errno::EIO);
    }
    let mut done = 0;
    while done < total {
        let len = (total - done).min(chunk);
        let n = match step(done, len) {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += n;
        if n < len {
            break;
        }
    }
    Ok(done)
}

impl<T: Transport> FileSystem for RemoteFs<T> {
    fn fs_type(&self) -> &'static str {
        self.fs_type
    }

    fn set_time(&mut self, now: Timestamp) {
        self.now = now;
    }

    fn root(&self) -> Ino {
        self.root
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn lookup(&self, dir: Ino, name: &str) -> VfsResult<Ino> {
        if matches!(name, "." | "..") {
            return self.ino(RfsRequest::Lookup { dir, name });
        }
        let key = (dir, String::from(name));
        let found = self.cached(
            |cache| cache.names.get(&key).copied(),
            || match self.ino(RfsRequest::Lookup { dir, name }) {
                Ok(ino) => Ok(Some(ino)),
                Err(Errno::ENOENT) => Ok(None),
                Err(e) => Err(e),
            },
            |cache, ino| {
                cache.names.insert(key.clone(), *ino);
            },
        )?;
        found.ok_or(Errno::ENOENT)
    }

    fn getattr(&self, ino: Ino) -> VfsResult<Stat> {
        self.cached(
            |cache| cache.attrs.get(&ino).cloned(),
            || {
                self.call(RfsRequest::Getattr { ino }, |r| match r {
                    RfsResponse::Stat(stat) => from_file_stat(stat),
                    _ => Err(Errno::EIO),
                })
            },
            |cache, stat| {
                cache.attrs.insert(ino, stat.clone());
            },
        )
    }

    fn setattr(&mut self, ino: Ino, c: SetAttr) -> VfsResult<Stat> {
        let op = RfsRequest::Setattr {
            ino,
            mode: c.mode,
            uid: c.uid,
            gid: c.gid,
            size: c.size,
            atime: c.atime,
            mtime: c.mtime,
        };
        self.change(
            || {
                self.call(op, |r| match r {
                    RfsResponse::Stat(stat) => from_file_stat(stat),
                    _ => Err(Errno::EIO),
                })
            },
            |cache, stat| {
                cache.attrs.insert(ino, stat.clone());
            },
        )
    }

    fn create(&mut self, dir: Ino, name: &str, kind: FileKind, attrs: NewInode) -> VfsResult<Ino> {
        let op = RfsRequest::Create {
            dir,
            name,
            mode: kind.mode_type_bits() | (attrs.mode & crate::fs::MODE_PERMISSION_MASK),
            uid: attrs.uid,
            gid: attrs.gid,
            rdev: attrs.rdev,
        };
        self.change(|| self.ino(op), |cache, ino| cache.added(dir, name, *ino))
    }

    fn link(&mut self, dir: Ino, name: &str, target: Ino) -> VfsResult<()> {
        self.change(
            || self.ok(RfsRequest::Link { dir, name, target }),
            |cache, _| {
                cache.added(dir, name, target);
                cache.attrs.remove(&target);
            },
        )
    }

    fn unlink(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.change(
            || self.ok(RfsRequest::Unlink { dir, name }),
            |cache, _| cache.forget_name(dir, name, false),
        )
    }

    fn rmdir(&mut self, dir: Ino, name: &str) -> VfsResult<()> {
        self.change(
            || self.ok(RfsRequest::Rmdir { dir, name }),
            |cache, _| cache.forget_name(dir, name, true),
        )
    }

    fn rename(
        &mut self,
        old_dir: Ino,
        old_name: &str,
        new_dir: Ino,
        new_name: &str,
    ) -> VfsResult<()> {
        let op = RfsRequest::Rename {
            old_dir,
            old_name,
            new_dir,
            new_name,
        };
        // Rare enough that forgetting everything is the simple answer.
        self.change(|| self.ok(op), |cache, _| cache.clear())
    }

    fn symlink(&mut self, dir: Ino, name: &str, target: &str, owner: NewInode) -> VfsResult<Ino> {
        let op = RfsRequest::Symlink {
            dir,
            name,
            target,
            uid: owner.uid,
            gid: owner.gid,
        };
        self.change(|| self.ino(op), |cache, ino| cache.added(dir, name, *ino))
    }

    fn readlink(&self, ino: Ino) -> VfsResult<String> {
        self.call(RfsRequest::Readlink { ino }, |r| match r {
            RfsResponse::Path(p) => Ok(String::from(*p)),
            _ => Err(Errno::EIO),
        })
    }

    fn read(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> VfsResult<usize> {
        in_chunks(self.transport.buffer_len(), buf.len(), |done, len| {
            let at = offset + done as u64;
            let n = self.count(
                RfsRequest::Read {
                    ino,
                    offset: at,
                    len: len as u32,
                },
                len,
            )?;
            self.transport.load(&mut buf[done..done + n]);
            Ok(n)
        })
    }

    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> VfsResult<usize> {
        in_chunks(self.transport.buffer_len(), data.len(), |done, len| {
            self.transport.store(&data[done..done + len]);
            let op = RfsRequest::Write {
                ino,
                offset: offset + done as u64,
                len: len as u32,
            };
            self.change(
                || self.count(op, len),
                |cache, _| {
                    cache.attrs.remove(&ino);
                },
            )
        })
    }

    /// Each entry read is also kept as a name: `rm -r`, `ls -l` and `find`
    /// look up what they just listed.
    fn readdir(&self, dir: Ino, cookie: u64) -> VfsResult<Option<(DirEntry, u64)>> {
        let ask = || {
            self.call(RfsRequest::ReadDir { dir, cookie }, |r| match r {
                RfsResponse::Entry(None) => Ok(None),
                RfsResponse::Entry(Some(e)) if e.next > cookie => Ok(Some((
                    DirEntry {
                        ino: e.ino,
                        kind: FileKind::from_mode(e.mode).ok_or(Errno::EIO)?,
                        name: String::from(e.name),
                    },
                    e.next,
                ))),
                _ => Err(Errno::EIO),
            })
        };
        self.cached(
            |_| None,
            ask,
            |cache, found| {
                if let Some((entry, _)) = found {
                    if !matches!(entry.name.as_str(), "." | "..") {
                        let key = (dir, entry.name.clone());
                        cache.names.insert(key, Some(entry.ino));
                    }
                }
            },
        )
    }

    fn statfs(&self) -> StatFs {
        let figures = self.call(RfsRequest::StatFs, |r| match r {
            RfsResponse::StatFs(s) => Ok(*s),
            _ => Err(Errno::EIO),
        });
        let s = figures.unwrap_or_default();
        StatFs {
            block_size: s.block_size.max(1),
            total_blocks: s.blocks,
            free_blocks: s.free_blocks,
            files: s.files,
            free_files: s.free_files,
            name_max: s.name_max,
        }
    }

    fn sync(&mut self) -> VfsResult<()> {
        self.ok(RfsRequest::Sync)
    }

    fn retain(&mut self, ino: Ino) -> VfsResult<()> {
        self.ok(RfsRequest::Retain { ino })
    }

    fn release(&mut self, ino: Ino) {
        let _ = self.ok(RfsRequest::Release { ino });
    }

    /// Tell the server to flush, mark the volume clean and let go of it.
    fn unmount(&mut self) -> VfsResult<()> {
        self.ok(RfsRequest::Unmount)
    }
}

/// Answer one request from `fs` (the server's side); `Attach` and `Unmount` belong
/// to the server binary and get `EINVAL` here. Returns the encoded reply.
pub fn serve(
    fs: &mut dyn FileSystem,
    call: &RfsCall,
    buffer: Option<&mut dyn DataBuffer>,
) -> Vec<u8> {
    fs.set_time(call.now);
    let response_bytes = |r: &RfsResponse| zos_proto::encode_vec(r).unwrap_or_default();
    let err = |e: Errno| response_bytes(&RfsResponse::Err(e.as_i32()));
    let ok = |r: VfsResult<()>| match r {
        Ok(()) => response_bytes(&RfsResponse::Ok),
        Err(e) => err(e),
    };
    let ino = |r: VfsResult<Ino>| match r {
        Ok(i) => response_bytes(&RfsResponse::Ino(i)),
        Err(e) => err(e),
    };
    let stat = |r: VfsResult<Stat>| match r {
        Ok(s) => response_bytes(&RfsResponse::Stat(s.to_wire(0))),
        Err(e) => err(e),
    };
    match call.op {
        RfsRequest::Attach | RfsRequest::Unmount => err(Errno::EINVAL),
        RfsRequest::Info => response_bytes(&RfsResponse::Info {
            fs_type: fs.fs_type(),
            root: fs.root(),
            read_only: fs.read_only(),
        }),
        RfsRequest::Lookup { dir, name } => ino(fs.lookup(dir, name)),
        RfsRequest::Getattr { ino } => stat(fs.getattr(ino)),
        RfsRequest::Setattr {
            ino,
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        } => stat(fs.setattr(
            ino,
            SetAttr {
                mode,
                uid,
                gid,
                size,
                atime,
                mtime,
            },
        )),
        RfsRequest::Create {
            dir,
            name,
            mode,
            uid,
            gid,
            rdev,
        } => match FileKind::from_mode(mode) {
            Some(kind) if kind != FileKind::Symlink => ino(fs.create(
                dir,
                name,
                kind,
                NewInode {
                    mode: mode & crate::fs::MODE_PERMISSION_MASK,
                    uid,
                    gid,
                    rdev,
                },
            )),
            _ => err(Errno::EINVAL),
        },
        RfsRequest::Link { dir, name, target } => ok(fs.link(dir, name, target)),
        RfsRequest::Unlink { dir, name } => ok(fs.unlink(dir, name)),
        RfsRequest::Rmdir { dir, name } => ok(fs.rmdir(dir, name)),
        RfsRequest::Rename {
            old_dir,
            old_name,
            new_dir,
            new_name,
        } => ok(fs.rename(old_dir, old_name, new_dir, new_name)),
        RfsRequest::Symlink {
            dir,
            name,
            target,
            uid,
            gid,
        } => ino(fs.symlink(dir, name, target, NewInode::new(0o777, uid, gid))),
        RfsRequest::Readlink { ino } => match fs.readlink(ino) {
            Ok(path) => response_bytes(&RfsResponse::Path(&path)),
            Err(e) => err(e),
        },
        RfsRequest::Read { ino, offset, len } => {
            let Some(buffer) = buffer else {
                return err(Errno::EINVAL);
            };
            let len = (len as usize).min(buffer.size());
            let read = match buffer.bytes() {
                Some(bytes) => fs.read(ino, offset, &mut bytes[..len]),
                None => {
                    let mut data = vec![0u8; len];
                    let read = fs.read(ino, offset, &mut data);
                    if let Ok(n) = read {
                        buffer.store(&data[..n]);
                    }
                    read
                }
            };
            match read {
                Ok(n) => response_bytes(&RfsResponse::Count(n as u32)),
                Err(e) => err(e),
            }
        }
        RfsRequest::Write { ino, offset, len } => {
            let Some(buffer) = buffer else {
                return err(Errno::EINVAL);
            };
            let len = (len as usize).min(buffer.size());
            let written = match buffer.bytes() {
                Some(bytes) => fs.write(ino, offset, &bytes[..len]),
                None => {
                    let mut data = vec![0u8; len];
                    buffer.load(&mut data);
                    fs.write(ino, offset, &data)
                }
            };
            match written {
                Ok(n) => response_bytes(&RfsResponse::Count(n as u32)),
                Err(e) => err(e),
            }
        }
        RfsRequest::ReadDir { dir, cookie } => match fs.readdir(dir, cookie) {
            Ok(None) => response_bytes(&RfsResponse::Entry(None)),
            Ok(Some((entry, next))) => response_bytes(&RfsResponse::Entry(Some(RfsEntry {
                ino: entry.ino,
                mode: entry.kind.mode_type_bits(),
                name: &entry.name,
                next,
            }))),
            Err(e) => err(e),
        },
        RfsRequest::StatFs => {
            let s = fs.statfs();
            response_bytes(&RfsResponse::StatFs(FsStat {
                block_size: s.block_size,
                blocks: s.total_blocks,
                free_blocks: s.free_blocks,
                files: s.files,
                free_files: s.free_files,
                name_max: s.name_max,
                read_only: fs.read_only(),
            }))
        }
        RfsRequest::Sync => ok(fs.sync()),
        RfsRequest::Retain { ino } => ok(fs.retain(ino)),
        RfsRequest::Release { ino } => {
            fs.release(ino);
            response_bytes(&RfsResponse::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmpfs::Tmpfs;
    use alloc::boxed::Box;
    use alloc::rc::Rc;
    use core::cell::RefCell;

    struct Buffer(Vec<u8>);

    impl DataBuffer for Buffer {
        fn size(&self) -> usize {
            self.0.len()
        }
        fn store(&mut self, data: &[u8]) {
            self.0[..data.len()].copy_from_slice(data);
        }
        fn load(&self, out: &mut [u8]) {
            out.copy_from_slice(&self.0[..out.len()]);
        }
        fn bytes(&mut self) -> Option<&mut [u8]> {
            Some(&mut self.0)
        }
    }

    /// The server in the same process; `alive` false plays a dead server.
    struct Local {
        fs: Rc<RefCell<Box<dyn FileSystem>>>,
        buffer: RefCell<Buffer>,
        alive: Cell<bool>,
        /// The volume's change counter, shared by every mount of it, as
        /// the server keeps it (`None`: a server without one).
        generation: Option<Rc<Cell<u64>>>,
        calls: Cell<usize>,
    }

    impl Transport for Local {
        fn call(&self, request: &[u8]) -> Result<Vec<u8>, ServerGone> {
            if !self.alive.get() {
                return Err(ServerGone);
            }
            self.calls.set(self.calls.get() + 1);
            let call: RfsCall = zos_proto::decode(request).ok_or(ServerGone)?;
            if let Some(generation) = self.generation.as_ref() {
                if call.op.changes_volume() {
                    generation.set(generation.get() + 1);
                }
            }
            let mut buffer = self.buffer.borrow_mut();
            Ok(serve(
                &mut **self.fs.borrow_mut(),
                &call,
                Some(&mut *buffer),
            ))
        }
        fn generation(&self) -> Option<u64> {
            self.generation.as_ref().map(|g| g.get())
        }
        fn buffer_len(&self) -> usize {
            self.buffer.borrow().0.len()
        }
        fn store(&self, data: &[u8]) {
            self.buffer.borrow_mut().store(data);
        }
        fn load(&self, out: &mut [u8]) {
            self.buffer.borrow().load(out);
        }
    }

    fn remote() -> RemoteFs<Local> {
        let fs: Box<dyn FileSystem> = Box::new(Tmpfs::new(1 << 24));
        mount_of(Rc::new(RefCell::new(fs)), None)
    }

    fn mount_of(
        fs: Rc<RefCell<Box<dyn FileSystem>>>,
        generation: Option<Rc<Cell<u64>>>,
    ) -> RemoteFs<Local> {
        let local = Local {
            fs,
            buffer: RefCell::new(Buffer(vec![0; 1000])),
            alive: Cell::new(true),
            generation,
            calls: Cell::new(0),
        };
        RemoteFs::connect(local, 5).unwrap()
    }

    #[test]
    fn names_and_attributes_are_cached_until_the_volume_changes() {
        let fs: Box<dyn FileSystem> = Box::new(Tmpfs::new(1 << 24));
        let fs = Rc::new(RefCell::new(fs));
        let generation = Rc::new(Cell::new(0));
        let mut a = mount_of(fs.clone(), Some(generation.clone()));
        let mut b = mount_of(fs, Some(generation));
        let root = a.root();
        let owner = NewInode::new(0o755, 0, 0);
        let dir = a.create(root, "d", FileKind::Directory, owner).unwrap();
        let file = a.create(dir, "f", FileKind::Regular, owner).unwrap();
        // The first walk asks the server; the second is answered here.
        let calls = |fs: &RemoteFs<Local>| fs.transport().calls.get();
        let walk = |fs: &RemoteFs<Local>| {
            let d = fs.lookup(root, "d").unwrap();
            let f = fs.lookup(d, "f").unwrap();
            (fs.getattr(d).unwrap().nlink, fs.getattr(f).unwrap().size, f)
        };
        assert_eq!(walk(&a), (2, 0, file));
        let before = calls(&a);
        assert_eq!(walk(&a), (2, 0, file));
        assert_eq!(calls(&a), before, "answered from the cache");
        // "." and ".." always ask (a directory's parent moves with renames).
        a.lookup(dir, "..").unwrap();
        assert_eq!(calls(&a), before + 1);
        // A change through another mount of the volume is seen at once.
        assert_eq!(walk(&b), (2, 0, file));
        b.write(file, 0, b"four").unwrap();
        b.unlink(dir, "f").unwrap();
        assert_eq!(a.lookup(dir, "f"), Err(Errno::ENOENT));
        assert_eq!(a.getattr(dir).unwrap().nlink, 2);
        let again = a.create(dir, "f", FileKind::Regular, owner).unwrap();
        a.write(again, 0, b"12345").unwrap();
        assert_eq!(b.getattr(b.lookup(dir, "f").unwrap()).unwrap().size, 5);
        // A server without a counter: nothing is kept.
        let plain = remote();
        let root = plain.root();
        let before = calls(&plain);
        plain.getattr(root).unwrap();
        plain.getattr(root).unwrap();
        assert_eq!(calls(&plain), before + 2);
    }

    #[test]
    fn changes_through_this_mount_keep_the_cache() {
        let fs: Box<dyn FileSystem> = Box::new(Tmpfs::new(1 << 24));
        let fs = Rc::new(RefCell::new(fs));
        let generation = Rc::new(Cell::new(0));
        let mut a = mount_of(fs.clone(), Some(generation.clone()));
        let mut b = mount_of(fs, Some(generation));
        let calls = |fs: &RemoteFs<Local>| fs.transport().calls.get();
        let root = a.root();
        let owner = NewInode::new(0o755, 0, 0);
        let dir = a.create(root, "d", FileKind::Directory, owner).unwrap();
        assert_eq!(a.lookup(dir, "f"), Err(Errno::ENOENT));
        let before = calls(&a);
        // A missing name is remembered, and so is what this mount creates.
        assert_eq!(a.lookup(dir, "f"), Err(Errno::ENOENT));
        assert_eq!(calls(&a), before);
        let file = a.create(dir, "f", FileKind::Regular, owner).unwrap();
        assert_eq!(a.lookup(root, "d"), Ok(dir));
        assert_eq!(a.lookup(dir, "f"), Ok(file));
        assert_eq!(calls(&a), before + 1, "only the create travelled");
        // Attributes a change moved are asked again: the directory's, the file's after a write.
        assert_eq!(a.getattr(file).unwrap().size, 0);
        a.write(file, 0, b"abc").unwrap();
        assert_eq!(a.getattr(file).unwrap().size, 3);
        let stat = a
            .setattr(
                file,
                SetAttr {
                    size: Some(1),
                    ..SetAttr::default()
                },
            )
            .unwrap();
        let before = calls(&a);
        assert_eq!(a.getattr(file).unwrap(), stat);
        assert_eq!(calls(&a), before);
        // Unlink and rmdir forget the name and what was under it.
        a.unlink(dir, "f").unwrap();
        assert_eq!(a.lookup(dir, "f"), Err(Errno::ENOENT));
        a.rmdir(root, "d").unwrap();
        assert_eq!(a.lookup(root, "d"), Err(Errno::ENOENT));
        // Names listed by readdir are known without a lookup.
        let listed = a.create(root, "listed", FileKind::Regular, owner).unwrap();
        b.create(root, "other", FileKind::Regular, owner).unwrap();
        let mut cookie = 0;
        while let Some((_, next)) = a.readdir(root, cookie).unwrap() {
            cookie = next;
        }
        let before = calls(&a);
        assert_eq!(a.lookup(root, "listed"), Ok(listed));
        assert!(a.lookup(root, "other").is_ok());
        assert_eq!(calls(&a), before);
        // Another mount's change in between: this mount's cache is not kept.
        let again = a.create(root, "d", FileKind::Directory, owner).unwrap();
        b.rmdir(root, "d").unwrap();
        a.create(root, "e", FileKind::Regular, owner).unwrap();
        assert_eq!(a.lookup(root, "d"), Err(Errno::ENOENT));
        let _ = again;
    }

    #[test]
    fn operations_travel_both_ways() {
        let mut fs = remote();
        assert_eq!(fs.fs_type(), "remote");
        let root = fs.root();
        let owner = NewInode::new(0o644, 7, 8);
        let dir = fs.create(root, "d", FileKind::Directory, owner).unwrap();
        let file = fs.create(dir, "f", FileKind::Regular, owner).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        // Larger than the data buffer: split into several calls.
        assert_eq!(fs.write(file, 10, &data).unwrap(), 5000);
        let mut back = vec![0u8; 6000];
        assert_eq!(fs.read(file, 10, &mut back).unwrap(), 5000);
        assert_eq!(&back[..5000], &data[..]);
        assert_eq!(fs.lookup(dir, "f").unwrap(), file);
        assert_eq!(fs.getattr(file).unwrap().uid, 7);
        fs.symlink(dir, "l", "f", owner).unwrap();
        assert_eq!(fs.readlink(fs.lookup(dir, "l").unwrap()).unwrap(), "f");
        let mut names = Vec::new();
        let mut cookie = 0;
        while let Some((e, next)) = fs.readdir(dir, cookie).unwrap() {
            names.push(e.name);
            cookie = next;
        }
        assert!(names.contains(&String::from("l")));
        fs.rename(dir, "f", root, "g").unwrap();
        assert_eq!(fs.lookup(dir, "f"), Err(Errno::ENOENT));
        let st = fs
            .setattr(
                file,
                SetAttr {
                    size: Some(3),
                    ..SetAttr::default()
                },
            )
            .unwrap();
        assert_eq!(st.size, 3);
        assert!(fs.statfs().total_blocks > 0);
        fs.sync().unwrap();
    }

    #[test]
    fn a_dead_server_gives_eio() {
        let mut fs = remote();
        let root = fs.root();
        fs.transport().alive.set(false);
        assert_eq!(fs.lookup(root, "x"), Err(Errno::EIO));
        assert!(fs.is_dead());
        assert_eq!(fs.sync(), Err(Errno::EIO));
        assert_eq!(fs.statfs().total_blocks, 0);
        fs.release(root);
    }
}
