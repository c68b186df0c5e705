//! The CSPRNG of Zero OS's services: ChaCha20 (RFC 8439, the `chacha20` crate's
//! cipher) used as a stream generator with fast key erasure. The VFS serves
//! `/dev/random` and `/dev/urandom` from one; init draws each process's
//! address-space layout seed (ASLR) from another.
//!
//! Every request runs the block function under the current key; the first block
//! of each request becomes the next key and is never output, so a later
//! compromise of the state does not reveal earlier output. Entropy is absorbed by
//! XOR-ing it into the key and replacing the key with a fresh block (the ChaCha
//! block function with its feed-forward acts as the mixing function). The server
//! seeds it from timer jitter and, when init passes one, the device tree's
//! `rng-seed`; the generator itself reads no clock.
#![no_std]

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;

/// Writes ChaCha20 key stream (RFC 8439: 96-bit nonce, 32-bit block counter)
/// for `key` and `nonce` from block `counter` on into `out`. The cipher is the
/// `chacha20` crate's; this module only builds the generator around it.
fn key_stream(key: &[u8; 32], counter: u32, nonce: &[u8; 12], out: &mut [u8]) {
    let mut cipher = ChaCha20::new(key.into(), nonce.into());
    cipher.seek(counter as u64 * 64);
    out.fill(0);
    cipher.apply_keystream(out);
}

/// A ChaCha20 generator with fast key erasure.
#[derive(Clone)]
pub struct ChaChaRng {
    key: [u8; 32],
    /// Counts requests; used as the nonce so no (key, nonce) pair repeats even
    /// if a key did.
    generation: u64,
    /// Bytes of entropy absorbed so far (for `/proc` and tests).
    absorbed: u64,
}

impl ChaChaRng {
    /// A generator keyed with `seed` (already mixed entropy).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        ChaChaRng {
            key: seed,
            generation: 0,
            absorbed: 32,
        }
    }

    /// Mixes `entropy` into the key.
    pub fn absorb(&mut self, entropy: &[u8]) {
        for chunk in entropy.chunks(32) {
            for (byte, extra) in self.key.iter_mut().zip(chunk) {
                *byte ^= extra;
            }
            self.rekey();
            self.absorbed += chunk.len() as u64;
        }
    }

    /// Bytes of entropy absorbed since creation (the seed counts 32).
    pub fn absorbed(&self) -> u64 {
        self.absorbed
    }

    fn nonce(&self) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.generation.to_le_bytes());
        nonce[8..].copy_from_slice(b"zos\0");
        nonce
    }

    /// Replaces the key with the start of block 0 of the current stream.
    fn rekey(&mut self) {
        let mut next = [0u8; 32];
        key_stream(&self.key, 0, &self.nonce(), &mut next);
        self.key = next;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Fills `out` with random bytes: block 0 becomes the next key (never
    /// output), blocks 1.. are the output (2^32 - 1 blocks per request at most).
    pub fn fill(&mut self, out: &mut [u8]) {
        let nonce = self.nonce();
        let mut next = [0u8; 32];
        key_stream(&self.key, 0, &nonce, &mut next);
        key_stream(&self.key, 1, &nonce, out);
        self.key = next;
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;

    fn hex(bytes: &[u8]) -> alloc::string::String {
        bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc8439_block_function_test_vector() {
        // RFC 8439 §2.3.2: key 00..1f, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let mut block = [0u8; 64];
        key_stream(&key, 1, &nonce, &mut block);
        assert_eq!(
            hex(&block),
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
        );
    }

    #[test]
    fn rfc8439_all_zero_key_vector() {
        // RFC 8439 appendix A.1, test vector #1: zero key, zero nonce, counter 0.
        let mut block = [0u8; 32];
        key_stream(&[0; 32], 0, &[0; 12], &mut block);
        assert_eq!(
            hex(&block),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        );
    }

    #[test]
    fn output_differs_between_requests_and_seeds() {
        let mut rng = ChaChaRng::from_seed([7; 32]);
        let mut first = [0u8; 100];
        let mut second = [0u8; 100];
        rng.fill(&mut first);
        rng.fill(&mut second);
        assert_ne!(first, second);
        assert_ne!(first, [0; 100]);
        let mut other = ChaChaRng::from_seed([8; 32]);
        let mut third = [0u8; 100];
        other.fill(&mut third);
        assert_ne!(first, third);
    }

    #[test]
    fn absorbing_entropy_changes_the_stream() {
        let mut plain = ChaChaRng::from_seed([1; 32]);
        let mut mixed = plain.clone();
        mixed.absorb(&[0x42; 40]);
        assert_eq!(mixed.absorbed(), 72);
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        plain.fill(&mut a);
        mixed.fill(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (ChaChaRng::from_seed([3; 32]), ChaChaRng::from_seed([3; 32]));
        let (mut x, mut y) = ([0u8; 200], [0u8; 200]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
    }

    #[test]
    fn roughly_balanced_bits() {
        let mut rng = ChaChaRng::from_seed([9; 32]);
        let mut data = [0u8; 4096];
        rng.fill(&mut data);
        let ones: u32 = data.iter().map(|b| b.count_ones()).sum();
        let total = 4096 * 8;
        assert!((ones as i64 - total / 2).abs() < 600, "{ones} of {total}");
    }
}
