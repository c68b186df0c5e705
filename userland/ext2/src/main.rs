//! The ext2 server: mounts ext2 volumes and serves each to the VFS over the remote
//! file-system protocol (`zos_proto::rfs`); the file system itself is
//! `zos-ext2-core`.
//!
//! On its service endpoint it answers `RfsServiceRequest::Open`: a block device
//! by devmgr name (through the block protocol, `disk`), or an image file by
//! path, which is read whole into memory through the VFS (a RAM copy: changes
//! stay in memory and vanish at unmount). Mounting a device that is already
//! mounted shares its volume (one block cache), optionally from a directory
//! of it (`subdir`): one disk volume backs `/home`, `/root`, `/system` and
//! `/var` (docs/storage.md, "The state volume"). Each mount gets a badged,
//! watched capability of the endpoint; the VFS speaks `RfsCall`s on it. If every
//! copy of that capability goes (the VFS died), the kernel's `NO_SENDERS`
//! unmounts the volume cleanly. A malformed or damaged volume is refused with the
//! reason printed; a bad request gets an error reply; nothing stops the server.
#![no_std]
#![no_main]

extern crate alloc;

mod disk;
mod image;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libzos::abi::{map_flags, rights};
use libzos::dprintln;
use libzos::ipc::{self, Received, Server};
use libzos::sys;
use zos_ext2_core::{BlockDevice, Ext2Fs, MountOptions};
use zos_proto::errno::*;
use zos_proto::rfs::{RfsCall, RfsRequest, RfsResponse, RfsServiceRequest, GENERATION_BYTES};
use zos_vfs_core::remote::{serve, DataBuffer};
use zos_vfs_core::{FileKind, FileSystem, NewInode};

libzos::entry!(main);

/// Where the VFS's data buffers are mapped, one window of [`WINDOW`] bytes per mount.
const WINDOWS_BASE: u64 = libzos::abi::layout::VFS_WINDOWS;
const WINDOW: u64 = zos_proto::MAX_SHARED_BUFFER as u64;
/// Most volumes mounted at once.
const MAX_MOUNTS: u64 = 64;
/// Block cache per volume.
const CACHE_BYTES: usize = 8 << 20;

/// A data buffer mapped from the VFS. The VFS may write it at any time, so it is
/// only touched with raw copies, never through a Rust reference.
struct Window {
    memory: u64,
    va: u64,
    size: usize,
}

impl Window {
    /// Writes the volume's change counter after the data part.
    fn set_generation(&self, generation: u64) {
        let word = (self.va + self.size as u64) as *mut u64;
        // SAFETY: the window maps `size + GENERATION_BYTES` bytes (the counter
        // is its last aligned word) while it exists; only this server writes it.
        unsafe { core::ptr::write_volatile(word, generation.to_le()) };
    }
}

impl DataBuffer for Window {
    fn size(&self) -> usize {
        self.size
    }
    fn store(&mut self, data: &[u8]) {
        let count = data.len().min(self.size);
        // SAFETY: `va` maps `size` writable bytes while the window exists.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.va as *mut u8, count) };
    }
    fn load(&self, out: &mut [u8]) {
        let count = out.len().min(self.size);
        // SAFETY: as in `store`.
        unsafe { core::ptr::copy_nonoverlapping(self.va as *const u8, out.as_mut_ptr(), count) };
    }
    fn bytes(&mut self) -> Option<&mut [u8]> {
        // SAFETY: `va` maps `size` writable bytes while the window exists, and
        // the borrow of `self` keeps it. The only other mapping is the
        // client's, which waits for this request's answer while the server
        // works in the buffer; a client that writes it meanwhile changes only
        // the bytes of its own request.
        Some(unsafe { core::slice::from_raw_parts_mut(self.va as *mut u8, self.size) })
    }
}

/// One mounted volume, shared by every mount of its device.
struct Volume {
    fs: Ext2Fs<Box<dyn BlockDevice>>,
    /// The block device's name (`vda1`); `None` for an image file (never shared).
    device: Option<String>,
    /// Which disk-buffer slot of the address space it uses.
    slot: u64,
    /// Mounts using it.
    users: usize,
    /// Raised by every request that changes names or attributes
    /// (`zos_proto::rfs::GENERATION_BYTES`).
    generation: u64,
}

struct Mount {
    volume: u64,
    /// The directory mounted, when not the volume's root.
    root: Option<u64>,
    window: Option<Window>,
    /// Which window slot of the address space it uses.
    slot: u64,
}

struct Service {
    server: Server,
    endpoint: u64,
    volumes: BTreeMap<u64, Volume>,
    next_volume: u64,
    mounts: BTreeMap<u64, Mount>,
    /// Badges are never reused, so a late `NO_SENDERS` cannot hit a newer mount.
    next_badge: u64,
}

fn encode(response: &RfsResponse) -> Vec<u8> {
    zos_proto::encode_vec(response).unwrap_or_default()
}

fn error(errno: i32) -> Vec<u8> {
    encode(&RfsResponse::Err(errno))
}

fn main(_arg: u64) -> i64 {
    let Some(endpoint) = libzos::rt::granted("endpoint") else {
        dprintln!("ext2: no endpoint granted (set provides = true in the service table)");
        return 1;
    };
    Service {
        server: Server::new(endpoint),
        endpoint,
        volumes: BTreeMap::new(),
        next_volume: 1,
        mounts: BTreeMap::new(),
        // Not counted from 1: a dead predecessor's handles reach this instance too.
        next_badge: libzos::ipc::first_badge(),
    }
    .run()
}

impl Service {
    fn run(mut self) -> ! {
        let mut next = self.server.recv();
        loop {
            let (bytes, caps) = match &next {
                Ok(message) => self.handle(message),
                Err(_) => {
                    next = self.server.recv();
                    continue;
                }
            };
            if message_needs_no_reply(&next) {
                next = self.server.recv();
                continue;
            }
            next = self.server.reply_recv_raw(&bytes, &caps);
        }
    }

    fn handle(&mut self, message: &Received) -> (Vec<u8>, Vec<u64>) {
        if message.label == sys::NO_SENDERS {
            // The VFS let go of this mount (it unmounted or died): leave it clean.
            if let Some(mount) = self.mounts.remove(&message.badge) {
                self.finish(mount);
            }
            return (Vec::new(), Vec::new());
        }
        if message.badge == 0 {
            return self.service_request(message);
        }
        let badge = message.badge;
        let Some(call) = message.decode::<RfsCall>() else {
            ipc::drop_caps(&message.caps);
            return (error(EINVAL), Vec::new());
        };
        let reply = match call.op {
            RfsRequest::Attach => {
                let reply = self.attach(badge, message.caps.first().copied());
                ipc::drop_caps(message.caps.get(1..).unwrap_or(&[]));
                reply
            }
            RfsRequest::Unmount => {
                ipc::drop_caps(&message.caps);
                match self.mounts.remove(&badge) {
                    Some(mount) => self.finish(mount),
                    None => error(EIO),
                }
            }
            _ => {
                ipc::drop_caps(&message.caps);
                let mount = self.mounts.get_mut(&badge);
                let volume = mount.as_ref().and_then(|m| self.volumes.get_mut(&m.volume));
                match (mount, volume) {
                    (Some(mount), Some(volume)) => match (&call.op, mount.root) {
                        // A directory mounted as the root of its mount.
                        (RfsRequest::Info, Some(root)) => encode(&RfsResponse::Info {
                            fs_type: volume.fs.fs_type(),
                            root,
                            read_only: volume.fs.read_only(),
                        }),
                        _ => {
                            let buffer = mount.window.as_mut().map(|w| w as &mut dyn DataBuffer);
                            let reply = serve(&mut volume.fs, &call, buffer);
                            if call.op.changes_volume() {
                                volume.generation += 1;
                                let (id, generation) = (mount.volume, volume.generation);
                                self.publish_generation(id, generation);
                            }
                            reply
                        }
                    },
                    _ => error(EIO),
                }
            }
        };
        (reply, Vec::new())
    }

    /// Writes the volume's change counter into the buffer of every mount
    /// of it, before the answer goes out: their clients' caches of names
    /// and attributes are stale from now on.
    fn publish_generation(&self, volume: u64, generation: u64) {
        for mount in self.mounts.values().filter(|m| m.volume == volume) {
            if let Some(window) = &mount.window {
                window.set_generation(generation);
            }
        }
    }

    /// Releases the mount's window; the last mount of a volume unmounts it
    /// cleanly, earlier ones flush it.
    fn finish(&mut self, mount: Mount) -> Vec<u8> {
        if let Some(window) = mount.window {
            let _ = sys::memory_unmap(sys::SELF, window.va);
            let _ = sys::cap_delete(window.memory);
        }
        let Some(volume) = self.volumes.get_mut(&mount.volume) else {
            return error(EIO);
        };
        volume.users -= 1;
        if volume.users > 0 {
            return match volume.fs.sync() {
                Ok(()) => encode(&RfsResponse::Ok),
                Err(e) => error(e.as_i32()),
            };
        }
        let Some(volume) = self.volumes.remove(&mount.volume) else {
            return error(EIO);
        };
        match volume.fs.unmount() {
            Ok(_) => {
                dprintln!("ext2: volume {} unmounted cleanly", mount.volume);
                encode(&RfsResponse::Ok)
            }
            Err((e, _)) => {
                dprintln!("ext2: volume {}: unmount failed: {e}", mount.volume);
                error(e.as_i32())
            }
        }
    }

    fn attach(&mut self, badge: u64, memory: Option<u64>) -> Vec<u8> {
        let Some(memory) = memory else {
            return error(EINVAL);
        };
        let Some(mount) = self.mounts.get_mut(&badge) else {
            let _ = sys::cap_delete(memory);
            return error(EIO);
        };
        let size = match sys::memory_info(memory) {
            Ok((size, _, 0)) if size > 0 && size <= WINDOW => size,
            _ => {
                let _ = sys::cap_delete(memory);
                return error(EINVAL);
            }
        };
        if let Some(old) = mount.window.take() {
            let _ = sys::memory_unmap(sys::SELF, old.va);
            let _ = sys::cap_delete(old.memory);
        }
        let va = WINDOWS_BASE + mount.slot * WINDOW;
        if sys::memory_map(memory, sys::SELF, va, 0, size / 4096, map_flags::WRITE).is_err() {
            let _ = sys::cap_delete(memory);
            return error(EINVAL);
        }
        let window = Window {
            memory,
            va,
            size: size as usize - GENERATION_BYTES,
        };
        let generation = self.volumes.get(&mount.volume).map_or(0, |v| v.generation);
        window.set_generation(generation);
        mount.window = Some(window);
        encode(&RfsResponse::Ok)
    }

    fn service_request(&mut self, message: &Received) -> (Vec<u8>, Vec<u64>) {
        ipc::drop_caps(&message.caps);
        let Some(RfsServiceRequest::Open {
            source,
            device,
            read_only,
            now,
            subdir,
        }) = message.decode::<RfsServiceRequest>()
        else {
            dprintln!("ext2: malformed service request");
            return (error(EINVAL), Vec::new());
        };
        let Some(slot) = (0..MAX_MOUNTS).find(|s| self.mounts.values().all(|m| m.slot != *s))
        else {
            return (error(ENFILE), Vec::new());
        };
        let shared = self
            .volumes
            .iter()
            .find(|(_, v)| device && v.device.as_deref() == Some(source))
            .map(|(id, v)| (*id, v.fs.read_only()));
        let volume = match shared {
            Some((_, ro)) if ro != read_only => return (error(EBUSY), Vec::new()),
            Some((id, _)) => id,
            None => match self.open_volume(source, device, read_only, now) {
                Ok(id) => id,
                Err(reply) => return (reply, Vec::new()),
            },
        };
        let root = match self.subdirectory(volume, subdir) {
            Ok(root) => root,
            Err(e) => {
                dprintln!("ext2: {source}: no directory '{subdir}' to mount: errno {e}");
                self.release_if_unused(volume);
                return (error(e), Vec::new());
            }
        };
        let badge = self.next_badge;
        let Ok(cap) = sys::cap_mint_watched(
            self.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            badge,
        ) else {
            self.release_if_unused(volume);
            return (error(ENFILE), Vec::new());
        };
        self.next_badge += 1;
        if let Some(v) = self.volumes.get_mut(&volume) {
            v.users += 1;
        }
        self.mounts.insert(
            badge,
            Mount {
                volume,
                root,
                window: None,
                slot,
            },
        );
        (encode(&RfsResponse::Attached), alloc::vec![cap])
    }

    /// Mounts the volume on `source`; a refusal is the reply to send.
    fn open_volume(
        &mut self,
        source: &str,
        device: bool,
        read_only: bool,
        now: u64,
    ) -> Result<u64, Vec<u8>> {
        let Some(slot) = (0..MAX_MOUNTS).find(|s| self.volumes.values().all(|v| v.slot != *s))
        else {
            return Err(error(ENFILE));
        };
        let disk: Box<dyn BlockDevice> = if device {
            match disk::open(source, slot) {
                Ok(disk) => Box::new(disk),
                Err(e) => {
                    dprintln!("ext2: cannot open block device {source}: errno {e}");
                    return Err(error(e));
                }
            }
        } else {
            match image::load(source) {
                Ok(disk) => Box::new(disk),
                Err(e) => {
                    dprintln!("ext2: cannot read {source}: errno {e}");
                    return Err(error(e));
                }
            }
        };
        let opts = MountOptions {
            read_only,
            cache_bytes: CACHE_BYTES,
            now,
        };
        let fs = match Ext2Fs::mount(disk, opts) {
            Ok(fs) => fs,
            Err(e) => {
                let reason = e.to_string();
                dprintln!("ext2: mount refused: {reason}");
                return Err(encode(&RfsResponse::Refused {
                    errno: EINVAL,
                    reason: &reason,
                }));
            }
        };
        let id = self.next_volume;
        self.next_volume += 1;
        let info = fs.with_volume(|v| {
            let s = v.statfs();
            (s.total_blocks, v.block_size(), v.read_only())
        });
        dprintln!(
            "ext2: mounted volume {id}: {} blocks of {} bytes{}",
            info.0,
            info.1,
            if info.2 { ", read-only" } else { "" }
        );
        self.volumes.insert(
            id,
            Volume {
                fs,
                device: device.then(|| String::from(source)),
                slot,
                users: 0,
                generation: 0,
            },
        );
        Ok(id)
    }

    /// The inode of directory `subdir` of the volume (made, owned by root,
    /// when missing on a writable volume); `None` for the root itself.
    fn subdirectory(&mut self, volume: u64, subdir: &str) -> Result<Option<u64>, i32> {
        let Some(volume) = self.volumes.get_mut(&volume) else {
            return Err(EIO);
        };
        let fs = &mut volume.fs;
        let mut ino = fs.root();
        for name in subdir.split('/').filter(|n| !n.is_empty() && *n != ".") {
            if name == ".." {
                return Err(EINVAL);
            }
            ino = match fs.lookup(ino, name) {
                Ok(found) => found,
                Err(zos_vfs_core::Errno::ENOENT) if !fs.read_only() => {
                    let attrs = NewInode {
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        rdev: 0,
                    };
                    fs.create(ino, name, FileKind::Directory, attrs)
                        .map_err(|e| e.as_i32())?
                }
                Err(e) => return Err(e.as_i32()),
            };
            let stat = fs.getattr(ino).map_err(|e| e.as_i32())?;
            if stat.kind != FileKind::Directory {
                return Err(ENOTDIR);
            }
        }
        Ok((ino != fs.root()).then_some(ino))
    }

    /// Unmounts a volume no mount uses (after a refused second step).
    fn release_if_unused(&mut self, volume: u64) {
        if self.volumes.get(&volume).is_some_and(|v| v.users == 0) {
            if let Some(v) = self.volumes.remove(&volume) {
                let _ = v.fs.unmount();
            }
        }
    }
}

fn message_needs_no_reply(message: &Result<Received, libzos::ipc::IpcError>) -> bool {
    matches!(message, Ok(m) if m.label == sys::NO_SENDERS)
}
