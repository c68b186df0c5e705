//! How a log is kept on Axiom's partition.
//!
//! The first sector holds a [`StoreHeader`]: a magic, the format version,
//! a boot counter, how many frames follow, whether the log was sealed (a
//! final state frame written at power-off) and a SHA-256 of those fields.
//! The frames start at byte [`FRAMES_OFFSET`], back to back. `axiomd`
//! rewrites the header after each batch of frames, so a crash loses at most
//! the last batch, and the next boot verifies what the header counts.

use sha2::{Digest as _, Sha256};

use crate::chain::Frame;

/// Where the frames start on the partition.
pub const FRAMES_OFFSET: u64 = 4096;
/// Bytes of the header sector.
pub const HEADER_BYTES: usize = 512;
const MAGIC: u64 = 0x5452_5058_4153_4f5a; // "ZOSAXPRT"

/// The header of a stored log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreHeader {
    pub version: u64,
    /// Counts the boots that wrote a log here (1 for the first).
    pub boot: u64,
    /// Frames stored after the header.
    pub frames: u64,
    /// The log ended with a final state frame (a clean power-off).
    pub sealed: bool,
    /// Frames did not fit the partition: the log stops early.
    pub full: bool,
}

/// Why a partition holds no usable log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Never written (all zeros, or another format).
    Empty,
    /// The header's checksum does not match its fields.
    CorruptHeader,
    /// The header counts more frames than the partition holds.
    TooLong { frames: u64 },
}

impl StoreHeader {
    fn fields(&self) -> [u64; 5] {
        let flags = self.sealed as u64 | (self.full as u64) << 1;
        [MAGIC, self.version, self.boot, self.frames, flags]
    }

    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        let fields = self.fields();
        for (i, word) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        let sum: [u8; 32] = Sha256::digest(&out[..40]).into();
        out[40..72].copy_from_slice(&sum);
        out
    }

    /// The header of a partition `capacity` bytes long from its first sector.
    pub fn decode(sector: &[u8], capacity: u64) -> Result<StoreHeader, StoreError> {
        if sector.len() < 72 {
            return Err(StoreError::Empty);
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&sector[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        if word(0) != MAGIC {
            return Err(StoreError::Empty);
        }
        let sum: [u8; 32] = Sha256::digest(&sector[..40]).into();
        if sector[40..72] != sum {
            return Err(StoreError::CorruptHeader);
        }
        let header = StoreHeader {
            version: word(1),
            boot: word(2),
            frames: word(3),
            sealed: word(4) & 1 != 0,
            full: word(4) & 2 != 0,
        };
        if header.frames > max_frames(capacity) {
            return Err(StoreError::TooLong {
                frames: header.frames,
            });
        }
        Ok(header)
    }
}

/// How many frames a partition of `capacity` bytes holds.
pub fn max_frames(capacity: u64) -> u64 {
    capacity.saturating_sub(FRAMES_OFFSET) / Frame::BYTES as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_damage_is_seen() {
        let h = StoreHeader {
            version: 1,
            boot: 3,
            frames: 100,
            sealed: true,
            full: false,
        };
        let bytes = h.encode();
        assert_eq!(StoreHeader::decode(&bytes, 1 << 20), Ok(h));
        assert_eq!(
            StoreHeader::decode(&[0; 512], 1 << 20),
            Err(StoreError::Empty)
        );
        let mut bad = bytes;
        bad[24] ^= 1;
        assert_eq!(
            StoreHeader::decode(&bad, 1 << 20),
            Err(StoreError::CorruptHeader)
        );
        assert_eq!(
            StoreHeader::decode(&bytes, 8192),
            Err(StoreError::TooLong { frames: 100 })
        );
        assert_eq!(max_frames(FRAMES_OFFSET + 2 * 88 + 5), 2);
    }
}
