//! `replay_and_verify`: a whole log checked frame by frame.
//!
//! The host's `cargo xtask axiom replay` and `axiomd`'s check of the previous
//! boot's log both use it: the header, every commit's sequence number and
//! chain head, the reducer's acceptance of every commit, and every recorded
//! state hash against the replayed state at that point.

use crate::chain::{Chain, Frame, FrameError};
use crate::commit::{Commit, CommitError};
use crate::state::{apply, ReplayError, State};
use crate::{Digest, VERSION};

/// What a sound log says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Commits replayed.
    pub commits: u64,
    /// The chain head after the last one.
    pub head: Digest,
    /// The hash of the replayed state after the last one.
    pub state: Digest,
    /// State frames compared (all matched).
    pub states_matched: u64,
}

/// Why a log is not sound: the first problem found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// No frames at all, or the first is not a header of this version.
    NoHeader,
    Version(u64),
    /// The log ends inside a frame (`bytes` of it present).
    Truncated {
        frame: u64,
        bytes: usize,
    },
    BadFrame {
        frame: u64,
        error: FrameError,
    },
    /// A commit's record does not decode.
    BadCommit {
        seq: u64,
        error: CommitError,
    },
    /// A commit out of sequence (a missing, repeated or moved record).
    OutOfSequence {
        expected: u64,
        found: u64,
    },
    /// The stored chain head differs from the recomputed one: this commit
    /// (or its stored head) was changed.
    ChainBroken {
        seq: u64,
    },
    /// The reducer refused the commit.
    Refused {
        seq: u64,
        error: ReplayError,
    },
    /// The state recorded after `commits` commits differs from the replay.
    StateMismatch {
        commits: u64,
        recorded: Digest,
        replayed: Digest,
    },
    /// A state frame for a point the replay is not at.
    StateOutOfPlace {
        commits: u64,
        replayed: u64,
    },
    /// The ring overflowed: the log has a gap and cannot be replayed past it.
    Lost {
        first: u64,
        count: u64,
    },
}

/// Checks a whole log (a sequence of [`Frame`]s) and replays it from the
/// empty genesis state.
pub fn replay_and_verify(log: &[u8]) -> Result<Verified, LogError> {
    let mut frames = log.chunks(Frame::BYTES).enumerate().map(|(i, bytes)| {
        let frame = i as u64;
        match bytes.len() {
            Frame::BYTES => {
                Frame::decode(bytes).map_err(|error| LogError::BadFrame { frame, error })
            }
            short => Err(LogError::Truncated {
                frame,
                bytes: short,
            }),
        }
    });
    let mut chain = Chain::new();
    match frames.next().transpose()? {
        Some(Frame::Header { version, genesis }) if genesis == chain.head => {
            if version != VERSION {
                return Err(LogError::Version(version));
            }
        }
        _ => return Err(LogError::NoHeader),
    }
    let mut state = State::default();
    let (mut commits, mut states_matched) = (0u64, 0u64);
    for frame in frames {
        match frame? {
            Frame::Header { .. } => return Err(LogError::NoHeader),
            Frame::Commit { record, head } => {
                let (seq, commit) =
                    Commit::decode(&record).map_err(|error| LogError::BadCommit {
                        seq: record[0],
                        error,
                    })?;
                if seq != commits {
                    return Err(LogError::OutOfSequence {
                        expected: commits,
                        found: seq,
                    });
                }
                if chain.link(&record) != head {
                    return Err(LogError::ChainBroken { seq });
                }
                apply(&mut state, &commit).map_err(|error| LogError::Refused { seq, error })?;
                commits += 1;
            }
            Frame::State { commits: at, hash } => {
                if at != commits {
                    return Err(LogError::StateOutOfPlace {
                        commits: at,
                        replayed: commits,
                    });
                }
                let replayed = state.hash();
                if replayed != hash {
                    return Err(LogError::StateMismatch {
                        commits: at,
                        recorded: hash,
                        replayed,
                    });
                }
                states_matched += 1;
            }
            Frame::Loss { first, count } => return Err(LogError::Lost { first, count }),
        }
    }
    Ok(Verified {
        commits,
        head: chain.head,
        state: state.hash(),
        states_matched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{Obj, NO_NODE};
    use alloc::vec::Vec;

    /// A small log: a process, an endpoint, two caps, a state frame.
    fn log() -> (Vec<u8>, State) {
        let p = Obj::new(0, 0);
        let e = Obj::new(1, 0);
        let commits = [
            Commit::TableCreated {
                table: 1,
                max_slots: 8,
            },
            Commit::ProcessCreated {
                process: p,
                pid: 1,
                table: 1,
                creator: Obj::NONE,
                limit: 100,
            },
            Commit::ObjectCreated {
                object: e,
                kind: 3,
                detail: 0,
            },
            Commit::CapInserted {
                node: 0,
                parent: NO_NODE,
                table: 1,
                slot: 0,
                object: e,
                rights: 31,
                badge: 0,
            },
            Commit::CapInserted {
                node: 1,
                parent: 0,
                table: 1,
                slot: 1,
                object: e,
                rights: 2,
                badge: 9,
            },
        ];
        let mut chain = Chain::new();
        let mut out = Vec::new();
        out.extend_from_slice(
            &Frame::Header {
                version: VERSION,
                genesis: chain.head,
            }
            .encode(),
        );
        let mut state = State::default();
        for (seq, c) in commits.iter().enumerate() {
            let record = c.encode(seq as u64);
            let head = chain.link(&record);
            out.extend_from_slice(&Frame::Commit { record, head }.encode());
            apply(&mut state, c).unwrap();
        }
        out.extend_from_slice(
            &Frame::State {
                commits: 5,
                hash: state.hash(),
            }
            .encode(),
        );
        (out, state)
    }

    #[test]
    fn a_sound_log_replays_to_its_state() {
        let (bytes, state) = log();
        let verified = replay_and_verify(&bytes).unwrap();
        assert_eq!((verified.commits, verified.states_matched), (5, 1));
        assert_eq!(verified.state, state.hash());
    }

    #[test]
    fn a_flipped_byte_is_pinned_to_its_commit() {
        let (bytes, _) = log();
        // Every byte of commit 3's record (frame 4; its sequence word aside).
        for offset in 16..8 + 48 {
            let mut bad = bytes.clone();
            bad[4 * Frame::BYTES + offset] ^= 0x40;
            let result = replay_and_verify(&bad);
            assert!(
                matches!(
                    result,
                    Err(LogError::ChainBroken { seq: 3 }) | Err(LogError::BadCommit { .. })
                ),
                "offset {offset}: {result:?}"
            );
        }
        let mut bad = bytes.clone();
        bad[4 * Frame::BYTES + 8] ^= 1; // the sequence number
        assert_eq!(
            replay_and_verify(&bad),
            Err(LogError::OutOfSequence {
                expected: 3,
                found: 2
            })
        );
        let mut bad = bytes.clone();
        bad[7 * Frame::BYTES - 1] ^= 1; // the state hash
        assert!(matches!(
            replay_and_verify(&bad),
            Err(LogError::StateMismatch { commits: 5, .. })
        ));
    }

    #[test]
    fn truncated_empty_and_lossy_logs_are_reported() {
        let (bytes, _) = log();
        let cut = &bytes[..bytes.len() - 10];
        assert_eq!(
            replay_and_verify(cut),
            Err(LogError::Truncated {
                frame: 6,
                bytes: Frame::BYTES - 10
            })
        );
        assert_eq!(replay_and_verify(&[]), Err(LogError::NoHeader));
        let mut lossy = bytes[..2 * Frame::BYTES].to_vec();
        lossy.extend_from_slice(&Frame::Loss { first: 1, count: 4 }.encode());
        assert_eq!(
            replay_and_verify(&lossy),
            Err(LogError::Lost { first: 1, count: 4 })
        );
    }
}
