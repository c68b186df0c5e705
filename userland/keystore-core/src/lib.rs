//! Zero OS keystore core: users' Ed25519 identity keys, kept sealed.
//!
//! Each private key (its 32-byte seed) is encrypted with ChaCha20-Poly1305
//! under the store's master key and a fresh nonce, and bound to its owner's
//! uid and label (the associated data), so a record moved to another user does
//! not open. A key is opened only inside [`KeyStore::sign`], for one signature.
//! [`KeyStore::to_bytes`] / [`KeyStore::from_bytes`] give the at-rest format (a
//! magic, a version, records); a corrupt image is an error, never a panic.
//!
//! Randomness (seeds, nonces) comes from the caller, so everything here is
//! deterministic and tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod device;

use alloc::string::String;
use alloc::vec::Vec;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha512};

/// First bytes of a store image.
pub const MAGIC: &[u8; 4] = b"ZKS1";
/// Longest key label.
pub const LABEL_MAX: usize = 64;
/// Most keys one user holds.
pub const KEYS_PER_USER: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The user has no (such) key.
    NoKey,
    /// The user already has a key with that label.
    Exists,
    TooMany,
    BadLabel,
    /// A record did not open: wrong master key or tampered data.
    Sealed,
    /// The at-rest image is not a keystore (or is cut short).
    Corrupt,
    BadSignature,
}

/// One key: public half in the clear, private seed sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub uid: u32,
    pub label: String,
    pub created: u64,
    pub public: [u8; 32],
    nonce: [u8; 12],
    sealed_seed: Vec<u8>,
}

pub struct KeyStore {
    master: [u8; 32],
    records: Vec<KeyRecord>,
}

fn associated(uid: u32, label: &str) -> Vec<u8> {
    let mut data = Vec::from(uid.to_le_bytes());
    data.extend_from_slice(label.as_bytes());
    data
}

/// The SHA-512 digest of a file's contents (what `zkey` signs).
pub fn digest(contents: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(&Sha512::digest(contents));
    out
}

impl KeyStore {
    pub fn new(master: [u8; 32]) -> Self {
        KeyStore {
            master,
            records: Vec::new(),
        }
    }

    /// The master key (what the keystore's partition header keeps).
    pub fn master_key(&self) -> &[u8; 32] {
        &self.master
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.master))
    }

    /// Makes a key for `uid` from `seed` (32 random bytes), sealed with `nonce`.
    pub fn generate(
        &mut self,
        uid: u32,
        label: &str,
        seed: [u8; 32],
        nonce: [u8; 12],
        now: u64,
    ) -> Result<&KeyRecord, KeyError> {
        if label.is_empty() || label.len() > LABEL_MAX || label.chars().any(char::is_control) {
            return Err(KeyError::BadLabel);
        }
        if self
            .records
            .iter()
            .any(|r| r.uid == uid && r.label == label)
        {
            return Err(KeyError::Exists);
        }
        if self.records.iter().filter(|r| r.uid == uid).count() >= KEYS_PER_USER {
            return Err(KeyError::TooMany);
        }
        let signing = SigningKey::from_bytes(&seed);
        let sealed_seed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &seed,
                    aad: &associated(uid, label),
                },
            )
            .map_err(|_| KeyError::Sealed)?;
        self.records.push(KeyRecord {
            uid,
            label: label.into(),
            created: now,
            public: signing.verifying_key().to_bytes(),
            nonce,
            sealed_seed,
        });
        Ok(&self.records[self.records.len() - 1])
    }

    /// Destroys every key of `uid`; answers how many.
    pub fn destroy(&mut self, uid: u32) -> usize {
        let before = self.records.len();
        self.records.retain(|r| r.uid != uid);
        before - self.records.len()
    }

    /// Keys in the store.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn keys_of(&self, uid: u32) -> impl Iterator<Item = &KeyRecord> {
        self.records.iter().filter(move |r| r.uid == uid)
    }

    fn identity_key(&self, uid: u32) -> Result<&KeyRecord, KeyError> {
        self.keys_of(uid).next().ok_or(KeyError::NoKey)
    }

    /// Signs `message` with `uid`'s identity key (its first key).
    pub fn sign(&self, uid: u32, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let record = self.identity_key(uid)?;
        let seed = self
            .cipher()
            .decrypt(
                Nonce::from_slice(&record.nonce),
                Payload {
                    msg: &record.sealed_seed,
                    aad: &associated(record.uid, &record.label),
                },
            )
            .map_err(|_| KeyError::Sealed)?;
        let seed: [u8; 32] = seed.as_slice().try_into().map_err(|_| KeyError::Sealed)?;
        Ok(SigningKey::from_bytes(&seed).sign(message).to_bytes())
    }

    /// Whether `signature` over `message` is `uid`'s identity key's.
    pub fn verify(&self, uid: u32, message: &[u8], signature: &[u8]) -> Result<bool, KeyError> {
        let record = self.identity_key(uid)?;
        let key = VerifyingKey::from_bytes(&record.public).map_err(|_| KeyError::Corrupt)?;
        let Ok(signature) = Signature::from_slice(signature) else {
            return Ok(false);
        };
        Ok(key.verify(message, &signature).is_ok())
    }

    /// The at-rest image: magic, record count, then each record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(&MAGIC[..]);
        out.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        for r in &self.records {
            out.extend_from_slice(&r.uid.to_le_bytes());
            out.extend_from_slice(&r.created.to_le_bytes());
            out.push(r.label.len() as u8);
            out.extend_from_slice(r.label.as_bytes());
            out.extend_from_slice(&r.public);
            out.extend_from_slice(&r.nonce);
            out.extend_from_slice(&(r.sealed_seed.len() as u16).to_le_bytes());
            out.extend_from_slice(&r.sealed_seed);
        }
        out
    }

    /// Reads an image written by [`KeyStore::to_bytes`]; `Corrupt` for anything else.
    pub fn from_bytes(master: [u8; 32], bytes: &[u8]) -> Result<KeyStore, KeyError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(4)? != MAGIC {
            return Err(KeyError::Corrupt);
        }
        let count = u32::from_le_bytes(reader.array()?);
        let mut records = Vec::new();
        for _ in 0..count {
            let uid = u32::from_le_bytes(reader.array()?);
            let created = u64::from_le_bytes(reader.array()?);
            let label_len = reader.take(1)?[0] as usize;
            let label = core::str::from_utf8(reader.take(label_len)?)
                .map_err(|_| KeyError::Corrupt)?
                .into();
            let public = reader.array()?;
            let nonce = reader.array()?;
            let sealed_len = u16::from_le_bytes(reader.array()?) as usize;
            let sealed_seed = reader.take(sealed_len)?.to_vec();
            records.push(KeyRecord {
                uid,
                label,
                created,
                public,
                nonce,
                sealed_seed,
            });
        }
        if reader.at != bytes.len() {
            return Err(KeyError::Corrupt);
        }
        Ok(KeyStore { master, records })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeyError> {
        let end = self.at.checked_add(n).ok_or(KeyError::Corrupt)?;
        let slice = self.bytes.get(self.at..end).ok_or(KeyError::Corrupt)?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], KeyError> {
        self.take(N)?.try_into().map_err(|_| KeyError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> KeyStore {
        let mut store = KeyStore::new([9; 32]);
        store
            .generate(1000, "identity", [1; 32], [2; 12], 5)
            .expect("alice");
        store
            .generate(1001, "identity", [3; 32], [4; 12], 6)
            .expect("bob");
        store
    }

    #[test]
    fn sign_verify_and_tamper() {
        let store = store();
        let message = digest(b"hello");
        let signature = store.sign(1000, &message).expect("sign");
        assert_eq!(store.verify(1000, &message, &signature), Ok(true));
        assert_eq!(store.verify(1001, &message, &signature), Ok(false));
        let changed = digest(b"hellO");
        assert_eq!(store.verify(1000, &changed, &signature), Ok(false));
        assert_eq!(store.verify(1000, &message, &[0; 3]), Ok(false));
        assert_eq!(store.sign(42, &message), Err(KeyError::NoKey));
    }

    #[test]
    fn private_seed_is_not_in_the_image() {
        let image = store().to_bytes();
        assert!(!image.windows(32).any(|w| w == [1u8; 32]));
        assert!(!image.windows(32).any(|w| w == [3u8; 32]));
    }

    #[test]
    fn round_trip_and_wrong_master() {
        let original = store();
        let image = original.to_bytes();
        let again = KeyStore::from_bytes([9; 32], &image).expect("reads");
        let message = digest(b"x");
        assert_eq!(again.sign(1000, &message), original.sign(1000, &message));
        let wrong = KeyStore::from_bytes([8; 32], &image).expect("reads");
        assert_eq!(wrong.sign(1000, &message), Err(KeyError::Sealed));
    }

    #[test]
    fn record_moved_to_another_user_does_not_open() {
        let mut store = store();
        store.records[1].sealed_seed = store.records[0].sealed_seed.clone();
        store.records[1].nonce = store.records[0].nonce;
        assert_eq!(store.sign(1001, &digest(b"x")), Err(KeyError::Sealed));
    }

    #[test]
    fn corrupt_images_are_errors() {
        let image = store().to_bytes();
        assert_eq!(
            KeyStore::from_bytes([9; 32], b"").err(),
            Some(KeyError::Corrupt)
        );
        assert_eq!(
            KeyStore::from_bytes([9; 32], b"XXXX\0\0\0\0").err(),
            Some(KeyError::Corrupt)
        );
        for cut in 0..image.len() {
            assert!(KeyStore::from_bytes([9; 32], &image[..cut]).is_err());
        }
        let mut flipped = image.clone();
        flipped[5] ^= 0xFF; // a huge record count
        assert!(KeyStore::from_bytes([9; 32], &flipped).is_err());
    }

    #[test]
    fn limits() {
        let mut store = store();
        assert_eq!(
            store.generate(1000, "identity", [5; 32], [6; 12], 0).err(),
            Some(KeyError::Exists)
        );
        assert_eq!(
            store.generate(1000, "", [5; 32], [6; 12], 0).err(),
            Some(KeyError::BadLabel)
        );
        assert_eq!(store.destroy(1000), 1);
        assert_eq!(store.keys_of(1000).count(), 0);
    }
}
