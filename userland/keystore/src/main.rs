//! The keystore: users' private keys, apart from the file system.
//!
//! Keys never pass through the VFS: they are made here (`Generate`, asked by
//! the identity service when a user is created), kept here sealed with
//! ChaCha20-Poly1305 (`zos-keystore-core`), and used here: a client sends a
//! digest and gets a signature back. The caller's identity comes from its
//! client badge (`zos_proto::badge`), so a user signs only with their own key.
//!
//! Storage: until the storage service gives the keystore a partition only it
//! holds, the sealed image lives in this process's memory and its master key is
//! drawn at start, so keys do not survive a reboot (docs/identity.md). The
//! image format (`KeyStore::to_bytes`) is what will go to that partition.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libzos::ipc::{self, Received, Server};
use libzos::{dprintln, fs, posix, sys};
use zos_keystore_core::{KeyError, KeyStore};
use zos_proto::badge;
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
    let mut service = Service {
        store: KeyStore::new(random()),
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
            KeyRequest::Generate { uid, label } => {
                match self.store.generate(uid, label, random(), random(), now) {
                    Ok(_) => KeyResponse::Ok,
                    Err(e) => KeyResponse::Err(errno(e)),
                }
            }
            KeyRequest::Destroy { uid } => {
                self.store.destroy(uid);
                KeyResponse::Ok
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
