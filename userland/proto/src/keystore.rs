//! The keystore's protocol (`/sbin/keystore`, registry name "keystore").
//! Private keys never leave the service: clients send a digest to sign and get
//! a signature; the caller's identity comes from its client badge, so a user
//! can use only their own key.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Length of the SHA-512 digest clients sign (of a file's contents).
pub const DIGEST_BYTES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRequest<'a> {
    /// Root only (the identity service on `useradd`): makes `uid`'s Ed25519
    /// identity key if it has none.
    Generate { uid: u32, label: &'a str },
    /// Root only (`userdel`): destroys `uid`'s keys.
    Destroy { uid: u32 },
    /// The caller's keys (public halves), or `uid`'s for anyone (public keys are
    /// public).
    List { uid: Option<u32> },
    /// Signs `digest` with the caller's identity key; `uid`, when given and not
    /// the caller's own, is refused with `EPERM`.
    Sign { uid: Option<u32>, digest: Vec<u8> },
    /// Checks `signature` over `digest` against `uid`'s identity key.
    Verify {
        uid: u32,
        digest: Vec<u8>,
        signature: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub uid: u32,
    pub label: String,
    /// The Ed25519 public key.
    pub public: Vec<u8>,
    /// Seconds since the epoch.
    pub created: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyResponse {
    Ok,
    Keys(Vec<KeyInfo>),
    Signature(Vec<u8>),
    /// Answer to `Verify`.
    Valid(bool),
    Err(i32),
}
