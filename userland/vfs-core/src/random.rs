//! The CSPRNG behind `/dev/random` and `/dev/urandom`: ChaCha20 (RFC 8439) used
//! as a stream generator with fast key erasure.
//!
//! Every request runs the block function under the current key; the first block
//! of each request becomes the next key and is never output, so a later
//! compromise of the state does not reveal earlier output. Entropy is absorbed by
//! XOR-ing it into the key and replacing the key with a fresh block (the ChaCha
//! block function with its feed-forward acts as the mixing function). The server
//! seeds it from timer jitter and, when init passes one, the device tree's
//! `rng-seed`; the generator itself reads no clock.

/// The ChaCha20 block function: 64 bytes of key stream for `key`, block
/// `counter` and `nonce` (RFC 8439 §2.3).
pub fn chacha20_block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; 64] {
    let mut initial = [0u32; 16];
    initial[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    initial[4..12].copy_from_slice(key);
    initial[12] = counter;
    initial[13..].copy_from_slice(nonce);
    let mut state = initial;
    for _ in 0..10 {
        quarter_round(&mut state, 0, 4, 8, 12);
        quarter_round(&mut state, 1, 5, 9, 13);
        quarter_round(&mut state, 2, 6, 10, 14);
        quarter_round(&mut state, 3, 7, 11, 15);
        quarter_round(&mut state, 0, 5, 10, 15);
        quarter_round(&mut state, 1, 6, 11, 12);
        quarter_round(&mut state, 2, 7, 8, 13);
        quarter_round(&mut state, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, (word, start)) in state.iter().zip(initial.iter()).enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.wrapping_add(*start).to_le_bytes());
    }
    out
}

fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

fn words_of(bytes: &[u8]) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    words
}

/// A ChaCha20 generator with fast key erasure.
#[derive(Clone)]
pub struct ChaChaRng {
    key: [u32; 8],
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
            key: words_of(&seed),
            generation: 0,
            absorbed: 32,
        }
    }

    /// Mixes `entropy` into the key.
    pub fn absorb(&mut self, entropy: &[u8]) {
        for chunk in entropy.chunks(32) {
            let mut padded = [0u8; 32];
            padded[..chunk.len()].copy_from_slice(chunk);
            for (word, extra) in self.key.iter_mut().zip(words_of(&padded)) {
                *word ^= extra;
            }
            self.rekey();
            self.absorbed += chunk.len() as u64;
        }
    }

    /// Bytes of entropy absorbed since creation (the seed counts 32).
    pub fn absorbed(&self) -> u64 {
        self.absorbed
    }

    fn nonce(&self) -> [u32; 3] {
        [
            self.generation as u32,
            (self.generation >> 32) as u32,
            0x7a_6f_73, // "zos"
        ]
    }

    /// Replaces the key with block 0 of the current stream.
    fn rekey(&mut self) {
        let block = chacha20_block(&self.key, 0, &self.nonce());
        self.key = words_of(&block[..32]);
        self.generation = self.generation.wrapping_add(1);
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let nonce = self.nonce();
        let next_key = chacha20_block(&self.key, 0, &nonce);
        for (index, chunk) in out.chunks_mut(64).enumerate() {
            // Blocks 1.. are output; 2^32 blocks (256 GiB) per request at most.
            let counter = (index as u32).wrapping_add(1);
            let block = chacha20_block(&self.key, counter, &nonce);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        self.key = words_of(&next_key[..32]);
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> alloc::string::String {
        bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc8439_block_function_test_vector() {
        // RFC 8439 §2.3.2: key 00..1f, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00.
        let key_bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
        let key = words_of(&key_bytes);
        let nonce = [0x0900_0000, 0x4a00_0000, 0];
        let block = chacha20_block(&key, 1, &nonce);
        assert_eq!(
            hex(&block),
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
        );
    }

    #[test]
    fn rfc8439_all_zero_key_vector() {
        // RFC 8439 appendix A.1, test vector #1: zero key, zero nonce, counter 0.
        let block = chacha20_block(&[0; 8], 0, &[0; 3]);
        assert_eq!(
            hex(&block[..32]),
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
