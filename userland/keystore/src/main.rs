//! The keystore: users' private keys, apart from the file system.
//!
//! Keys never pass through the VFS: they are made here (`Generate`, asked by
//! the identity service when a user is created), kept here sealed with
//! ChaCha20-Poly1305 (`zos-keystore-core`), and used here: a client sends a
//! digest and gets a signature back. The caller's identity comes from its
//! client badge (`zos_proto::badge`), so a user signs only with their own key.
//!
//! Storage: the keystore's own partition (GPT type
//! `zos_proto::block::KEYSTORE_PARTITION_TYPE`), which devmgr hands only to the
//! holder of the `"authority:devmgr"` grant — this service — as a block
//! handle; no VFS path reaches it. The image (`KeyStore::to_bytes`) goes there
//! in two alternating slots after every change (`zos_keystore_core::device`).
//! A partition of zeros is initialised; a corrupt one is reported and left
//! alone (keys are then unavailable). Without such a partition (no disk) the
//! store lives in memory only and is gone at power-off (docs/identity.md).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libzos::block::BlockDisk;
use libzos::ipc::{self, Received, Server};
use libzos::{dprintln, fs, posix, sys};
use zos_keystore_core::device::{self, Contents, SECTOR};
use zos_keystore_core::{KeyError, KeyStore};
use zos_proto::badge;
use zos_proto::block::DevRequest;
use zos_proto::errno::*;
use zos_proto::keystore::{KeyInfo, KeyRequest, KeyResponse, DIGEST_BYTES};
use zos_proto::proc::{Credentials, ProcRequest, ProcResponse};
use zos_proto::start::slots;

libzos::entry!(main);

fn main(_arg: u64) -> i64 {
    let Some(endpoint) = libzos::rt::granted("endpoint") else {
        dprintln!("keystore: no endpoint granted (set provides = true)");
        return 1;
    };
    let (store, storage) = open_storage();
    let mut service = Service {
        store,
        storage,
        credentials: BTreeMap::new(),
    };
    let _ = ipc::call(slots::PROC, &ProcRequest::Ready, &[]);
    let server = Server::new(endpoint);
    let mut next = server.recv();
    loop {
        let response = match &next {
            Ok(message) => service.handle(message),
            Err(_) => KeyResponse::Err(EINVAL),
        };
        let bytes = ipc::encode_vec(&response).unwrap_or_default();
        next = server.reply_recv_raw(&bytes, &[]);
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Ok(fd) = fs::open("/dev/urandom", fs::O_RDONLY, 0) {
        let _ = posix::read(fd, &mut bytes);
        let _ = posix::close(fd);
    }
    let clock = sys::clock_ns().to_le_bytes();
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= clock[i % 8];
    }
    bytes
}

/// Where the sealed store is kept.
enum Storage {
    /// No partition: memory only (lost at power-off).
    Memory,
    /// The keystore's partition; `newest` is the slot holding `generation`.
    Partition {
        disk: BlockDisk,
        slot_sectors: u64,
        newest: usize,
        generation: u64,
    },
    /// A partition that holds no readable store: keys are unavailable and
    /// the partition is not written (someone may want to look at it).
    Broken,
}

/// Opens the keystore's partition (if init granted the right to ask devmgr
/// for it and a disk has one) and reads the store from it.
fn open_storage() -> (KeyStore, Storage) {
    let memory = || (KeyStore::new(random()), Storage::Memory);
    let Some(devmgr) = libzos::rt::granted("authority:devmgr") else {
        dprintln!("keystore: no device manager: keys are kept in memory only");
        return memory();
    };
    let handle = match libzos::block::devmgr_open(Some(devmgr), &DevRequest::OpenKeystore) {
        Ok(handle) => handle,
        Err(ENODEV) => {
            dprintln!("keystore: no keystore partition: keys are kept in memory only");
            return memory();
        }
        Err(e) => {
            dprintln!("keystore: cannot open the keystore partition (errno {e}): keys are kept in memory only");
            return memory();
        }
    };
    let mut disk = match BlockDisk::attach(handle, libzos::abi::layout::DMA_WINDOW) {
        Ok(disk) => disk,
        Err(e) => {
            dprintln!("keystore: cannot use the keystore partition (errno {e})");
            return (KeyStore::new(random()), Storage::Broken);
        }
    };
    let slot_sectors = device::slot_sectors(disk.sectors());
    if slot_sectors == 0 || disk.read_only() {
        dprintln!(
            "keystore: the keystore partition is too small or read-only: keys are unavailable"
        );
        return (KeyStore::new(random()), Storage::Broken);
    }
    let slots = [0, 1].map(|index| read_slot(&mut disk, index as u64 * slot_sectors, slot_sectors));
    match device::choose(slots) {
        Contents::Fresh => {
            let store = KeyStore::new(random());
            let mut storage = Storage::Partition {
                disk,
                slot_sectors,
                newest: 1,
                generation: 0,
            };
            match storage.save(&store) {
                Ok(()) => dprintln!("keystore: new keystore partition initialised"),
                Err(e) => {
                    dprintln!("keystore: cannot initialise the keystore partition (errno {e}): keys are unavailable");
                    storage = Storage::Broken;
                }
            }
            (store, storage)
        }
        Contents::Store {
            index,
            generation,
            master,
            payload,
        } => match KeyStore::from_bytes(master, &payload) {
            Ok(store) => {
                let keys = store.len();
                dprintln!("keystore: {keys} keys read from the keystore partition");
                let storage = Storage::Partition {
                    disk,
                    slot_sectors,
                    newest: index,
                    generation,
                };
                (store, storage)
            }
            Err(_) => {
                dprintln!("keystore: the keystore partition is corrupt (the store image does not parse): keys are unavailable; the partition is left as it is");
                (KeyStore::new(random()), Storage::Broken)
            }
        },
        Contents::Corrupt(reason) => {
            dprintln!("keystore: the keystore partition is corrupt ({reason}): keys are unavailable; the partition is left as it is");
            (KeyStore::new(random()), Storage::Broken)
        }
    }
}

/// One slot's bytes: the header sector, then the payload it announces (all
/// of the slot at most). A read error gives what was read (then corrupt).
fn read_slot(disk: &mut BlockDisk, start: u64, slot_sectors: u64) -> device::Slot {
    let mut bytes = alloc::vec![0u8; SECTOR];
    if disk.read(start, &mut bytes).is_err() {
        return device::Slot::Corrupt("read error");
    }
    if let Some(len) = device::payload_len(&bytes) {
        let sectors = (len.div_ceil(SECTOR) as u64).min(slot_sectors - 1);
        let mut payload = alloc::vec![0u8; sectors as usize * SECTOR];
        if disk.read(start + 1, &mut payload).is_err() {
            return device::Slot::Corrupt("read error");
        }
        bytes.extend_from_slice(&payload);
    }
    device::decode(&bytes)
}

impl Storage {
    /// Writes `store` to the older slot and flushes; memory-only storage has
    /// nothing to do, broken storage refuses.
    fn save(&mut self, store: &KeyStore) -> Result<(), i32> {
        let Storage::Partition {
            disk,
            slot_sectors,
            newest,
            generation,
        } = self
        else {
            return match self {
                Storage::Memory => Ok(()),
                _ => Err(EIO),
            };
        };
        let bytes = device::encode(*generation + 1, store.master_key(), &store.to_bytes());
        if bytes.len() as u64 > *slot_sectors * SECTOR as u64 {
            return Err(ENOSPC);
        }
        let target = 1 - *newest;
        disk.write(target as u64 * *slot_sectors, &bytes)?;
        disk.flush()?;
        *newest = target;
        *generation += 1;
        Ok(())
    }
}

fn errno(e: KeyError) -> i32 {
    match e {
        KeyError::NoKey => ENOENT,
        KeyError::Exists => EEXIST,
        KeyError::TooMany => ENOSPC,
        KeyError::BadLabel => EINVAL,
        KeyError::Sealed | KeyError::Corrupt => EIO,
        KeyError::BadSignature => EINVAL,
    }
}

struct Service {
    store: KeyStore,
    storage: Storage,
    credentials: BTreeMap<u16, Credentials>,
}

impl Service {
    fn caller(&mut self, message: &Received) -> Option<Credentials> {
        let (number, _pid) = badge::parse(message.badge)?;
        if let Some(known) = self.credentials.get(&number) {
            return Some(known.clone());
        }
        let request = ProcRequest::CredentialSet { id: number };
        let reply = ipc::call(slots::PROC, &request, &[]).ok()?;
        let Some(ProcResponse::Credentials(set)) = reply.decode::<ProcResponse>() else {
            return None;
        };
        self.credentials.insert(number, set.clone());
        Some(set)
    }

    /// After a change: on the partition, or undone (back to `before`, and
    /// the caller gets the error).
    fn saved(&mut self, before: &[u8]) -> KeyResponse {
        match self.storage.save(&self.store) {
            Ok(()) => KeyResponse::Ok,
            Err(e) => {
                dprintln!(
                    "keystore: saving to the keystore partition failed (errno {e}); change undone"
                );
                if let Ok(store) = KeyStore::from_bytes(*self.store.master_key(), before) {
                    self.store = store;
                }
                KeyResponse::Err(e)
            }
        }
    }

    fn handle(&mut self, message: &Received) -> KeyResponse {
        for cap in &message.caps {
            let _ = sys::cap_delete(*cap);
        }
        let Some(caller) = self.caller(message) else {
            return KeyResponse::Err(EPERM);
        };
        let Some(request) = message.decode::<KeyRequest>() else {
            return KeyResponse::Err(EINVAL);
        };
        let now = posix::realtime_ns().unwrap_or(0) / 1_000_000_000;
        match request {
            KeyRequest::Generate { .. } | KeyRequest::Destroy { .. } if caller.euid != 0 => {
                KeyResponse::Err(EPERM)
            }
            _ if matches!(self.storage, Storage::Broken) => KeyResponse::Err(EIO),
            KeyRequest::Generate { uid, label } => {
                let before = self.store.to_bytes();
                match self.store.generate(uid, label, random(), random(), now) {
                    Ok(_) => self.saved(&before),
                    Err(e) => KeyResponse::Err(errno(e)),
                }
            }
            KeyRequest::Destroy { uid } => {
                let before = self.store.to_bytes();
                self.store.destroy(uid);
                self.saved(&before)
            }
            KeyRequest::List { uid } => {
                let uid = uid.unwrap_or(caller.euid);
                let keys: Vec<KeyInfo> = self
                    .store
                    .keys_of(uid)
                    .map(|k| KeyInfo {
                        uid: k.uid,
                        label: k.label.clone(),
                        public: k.public.to_vec(),
                        created: k.created,
                    })
                    .collect();
                KeyResponse::Keys(keys)
            }
            KeyRequest::Sign { uid, digest } => {
                if uid.is_some_and(|uid| uid != caller.euid) {
                    dprintln!(
                        "keystore: uid {} asked to sign with uid {}'s key: refused",
                        caller.euid,
                        uid.unwrap_or(0)
                    );
                    return KeyResponse::Err(EPERM);
                }
                if digest.len() != DIGEST_BYTES {
                    return KeyResponse::Err(EINVAL);
                }
                match self.store.sign(caller.euid, &digest) {
                    Ok(signature) => KeyResponse::Signature(signature.to_vec()),
                    Err(e) => KeyResponse::Err(errno(e)),
                }
            }
            KeyRequest::Verify {
                uid,
                digest,
                signature,
            } => match self.store.verify(uid, &digest, &signature) {
                Ok(valid) => KeyResponse::Valid(valid),
                Err(e) => KeyResponse::Err(errno(e)),
            },
        }
    }
}
