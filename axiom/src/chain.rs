//! The hash chain over commits and the framed log format.
//!
//! `axiomd` links every commit record it drains into a SHA-256 chain
//! (`head = SHA-256(head ‖ record)`, from the hash of [`GENESIS_LABEL`]) and
//! writes [`Frame`]s: a header, each commit with the chain head after it, the
//! kernel's state hash at a point of the log, and the record of commits lost
//! to a full ring. Frames are fixed-size, so a truncated log is seen as such
//! and a damaged one is pinned to the commit whose stored head no longer
//! matches.

use sha2::{Digest as _, Sha256};

use crate::commit::COMMIT_WORDS;
use crate::Digest;

/// What the chain's first head is the hash of.
pub const GENESIS_LABEL: &[u8] = b"zos-axiom-genesis-v1";

/// A running hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub head: Digest,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    pub fn new() -> Self {
        Self {
            head: Sha256::digest(GENESIS_LABEL).into(),
        }
    }

    /// Links one commit record; returns the new head.
    pub fn link(&mut self, record: &[u64; COMMIT_WORDS]) -> Digest {
        let mut sha = Sha256::new();
        sha.update(self.head);
        record.iter().for_each(|w| sha.update(w.to_le_bytes()));
        self.head = sha.finalize().into();
        self.head
    }
}

/// One frame of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Starts a log: the format version and the genesis head.
    Header { version: u64, genesis: Digest },
    /// A commit record and the chain head after it.
    Commit {
        record: [u64; COMMIT_WORDS],
        head: Digest,
    },
    /// The kernel's state hash after the first `commits` commits.
    State { commits: u64, hash: Digest },
    /// `count` commits from sequence `first` were lost (the ring overflowed).
    Loss { first: u64, count: u64 },
}

/// Why a frame does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    UnknownTag(u64),
    Short(usize),
}

const TAG_HEADER: u64 = 0x474f_4c58_4153_4f5a; // "ZOSAXLOG"
const TAG_COMMIT: u64 = 1;
const TAG_STATE: u64 = 2;
const TAG_LOSS: u64 = 3;

impl Frame {
    /// Bytes of every frame: a tag word, six words, a 32-byte hash.
    pub const BYTES: usize = 8 + COMMIT_WORDS * 8 + 32;

    pub fn encode(&self) -> [u8; Self::BYTES] {
        let (tag, words, hash) = match *self {
            Frame::Header { version, genesis } => (TAG_HEADER, [version, 0, 0, 0, 0, 0], genesis),
            Frame::Commit { record, head } => (TAG_COMMIT, record, head),
            Frame::State { commits, hash } => (TAG_STATE, [commits, 0, 0, 0, 0, 0], hash),
            Frame::Loss { first, count } => (TAG_LOSS, [first, count, 0, 0, 0, 0], [0; 32]),
        };
        let mut out = [0u8; Self::BYTES];
        out[..8].copy_from_slice(&tag.to_le_bytes());
        for (i, w) in words.iter().enumerate() {
            out[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        out[8 + COMMIT_WORDS * 8..].copy_from_slice(&hash);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        if bytes.len() < Self::BYTES {
            return Err(FrameError::Short(bytes.len()));
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let mut words = [0u64; COMMIT_WORDS];
        for (i, w) in words.iter_mut().enumerate() {
            *w = word(1 + i);
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[8 + COMMIT_WORDS * 8..Self::BYTES]);
        Ok(match word(0) {
            TAG_HEADER => Frame::Header {
                version: words[0],
                genesis: hash,
            },
            TAG_COMMIT => Frame::Commit {
                record: words,
                head: hash,
            },
            TAG_STATE => Frame::State {
                commits: words[0],
                hash,
            },
            TAG_LOSS => Frame::Loss {
                first: words[0],
                count: words[1],
            },
            other => return Err(FrameError::UnknownTag(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_the_chain_depends_on_every_word() {
        let mut chain = Chain::new();
        let record = [0, 7, 1, 2, 3, 4];
        let head = chain.link(&record);
        let frames = [
            Frame::Header {
                version: 1,
                genesis: Chain::new().head,
            },
            Frame::Commit { record, head },
            Frame::State {
                commits: 1,
                hash: [9; 32],
            },
            Frame::Loss { first: 5, count: 3 },
        ];
        for f in frames {
            assert_eq!(Frame::decode(&f.encode()), Ok(f));
        }
        let mut other = Chain::new();
        assert_ne!(other.link(&[0, 7, 1, 2, 3, 5]), head);
        assert_eq!(Frame::decode(&[0; 10]), Err(FrameError::Short(10)));
    }
}
