//! `replay_and_verify`: a whole log checked frame by frame.
//!
//! The host's `cargo xtask axiom replay` and `axiomd`'s check of the previous
//! boot's log both use it: the header, every commit's sequence number and
//! chain head, the reducer's acceptance of every commit, and every recorded
//! state hash against the replayed state at that point.

use alloc::vec::Vec;
use core::fmt;

use crate::chain::{Chain, Frame, FrameError};
use crate::commit::{Commit, CommitError};
use crate::state::{apply, ReplayError, State};
use crate::{Digest, VERSION};

/// One state frame of a log and what the replay made of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePoint {
    /// Commits before it.
    pub commits: u64,
    /// The kernel's state hash recorded there.
    pub hash: Digest,
    /// False when commits were lost before it, so the replay could not
    /// compare (a mismatch is an error, not a point).
    pub checked: bool,
}

/// What a sound log says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Commits in the log (the sequence number after the last one).
    pub commits: u64,
    /// The chain head after the last one.
    pub head: Digest,
    /// The hash of the replayed state after the last one; `None` when
    /// commits were lost, so the state is not known.
    pub state: Option<Digest>,
    /// Every state frame, in order.
    pub states: Vec<StatePoint>,
    /// Commits lost to a full ring (loss frames), in total.
    pub lost: u64,
}

impl Verified {
    /// State frames that were compared (all matched).
    pub fn states_matched(&self) -> usize {
        self.states.iter().filter(|s| s.checked).count()
    }
}

/// Why a log is not sound: the first problem found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// No frames at all, or the first is not a header of this genesis.
    NoHeader,
    Version(u64),
    /// A header frame after the first (frame index).
    SecondHeader {
        frame: u64,
    },
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
    /// (or its stored head) was changed. `seq` is the commit due there.
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
}

/// A digest in lower-case hex.
pub struct Hex<'a>(pub &'a Digest);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LogError::NoHeader => write!(
                f,
                "the log does not start with a header frame of this genesis"
            ),
            LogError::Version(v) => {
                write!(f, "log version {v}, this replay reads version {VERSION}")
            }
            LogError::SecondHeader { frame } => {
                write!(f, "frame {frame}: a second header frame inside the log")
            }
            LogError::Truncated { frame, bytes } => write!(
                f,
                "frame {frame}: truncated ({bytes} of {} bytes)",
                Frame::BYTES
            ),
            LogError::BadFrame { frame, error } => write!(f, "frame {frame}: {error:?}"),
            LogError::BadCommit { seq, error } => {
                write!(f, "commit {seq} does not decode: {error:?}")
            }
            LogError::OutOfSequence { expected, found } => {
                write!(f, "commit {found} where commit {expected} was due")
            }
            LogError::ChainBroken { seq } => write!(f, "chain broken at commit {seq}"),
            LogError::Refused { seq, error } => {
                write!(f, "replay error at commit {seq}: {error:?}")
            }
            LogError::StateMismatch {
                commits,
                recorded,
                replayed,
            } => write!(
                f,
                "state at {commits} commits: {} MISMATCH (replayed {})",
                Hex(&recorded),
                Hex(&replayed)
            ),
            LogError::StateOutOfPlace { commits, replayed } => write!(
                f,
                "state at {commits} commits: MISMATCH (it sits after {replayed} commits)"
            ),
        }
    }
}

/// The frames of a binary log, each decoded or the reason it is not.
pub fn frames(log: &[u8]) -> impl Iterator<Item = Result<Frame, LogError>> + '_ {
    log.chunks(Frame::BYTES).enumerate().map(|(i, bytes)| {
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
    })
}

/// Checks a whole binary log (a sequence of [`Frame`]s) and replays it from
/// the empty genesis state.
pub fn replay_and_verify(log: &[u8]) -> Result<Verified, LogError> {
    replay_frames(frames(log))
}

/// [`replay_and_verify`] over frames already decoded (a serial export).
///
/// Each commit's stored head is checked first, so damage anywhere in a
/// record (its sequence word included) is pinned to the commit due there.
/// A loss frame (the kernel's ring overwrote commits before axiomd read
/// them) is not an error: axiomd chains what it read, so the chain is still
/// checked past it, but the state is unknown from there on.
pub fn replay_frames(
    mut frames: impl Iterator<Item = Result<Frame, LogError>>,
) -> Result<Verified, LogError> {
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
    let mut verified = Verified {
        commits: 0,
        head: chain.head,
        state: None,
        states: Vec::new(),
        lost: 0,
    };
    let mut gap = false;
    for (index, frame) in frames.enumerate() {
        let due = verified.commits;
        match frame? {
            Frame::Header { .. } => {
                return Err(LogError::SecondHeader {
                    frame: index as u64 + 1,
                })
            }
            Frame::Commit { record, head } => {
                if chain.link(&record) != head {
                    return Err(LogError::ChainBroken { seq: due });
                }
                let (seq, commit) = Commit::decode(&record)
                    .map_err(|error| LogError::BadCommit { seq: due, error })?;
                if seq != due {
                    return Err(LogError::OutOfSequence {
                        expected: due,
                        found: seq,
                    });
                }
                if !gap {
                    apply(&mut state, &commit).map_err(|error| LogError::Refused { seq, error })?;
                }
                verified.commits = seq + 1;
            }
            Frame::State { commits, hash } => {
                if commits != due {
                    return Err(LogError::StateOutOfPlace {
                        commits,
                        replayed: due,
                    });
                }
                if !gap {
                    let replayed = state.hash();
                    if replayed != hash {
                        return Err(LogError::StateMismatch {
                            commits,
                            recorded: hash,
                            replayed,
                        });
                    }
                }
                verified.states.push(StatePoint {
                    commits,
                    hash,
                    checked: !gap,
                });
            }
            Frame::Loss { first, count } => {
                if first != due {
                    return Err(LogError::OutOfSequence {
                        expected: due,
                        found: first,
                    });
                }
                gap = true;
                verified.lost = verified.lost.saturating_add(count);
                verified.commits = first.saturating_add(count);
            }
        }
    }
    verified.head = chain.head;
    verified.state = (!gap).then(|| state.hash());
    Ok(verified)
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
        assert_eq!((verified.commits, verified.states_matched()), (5, 1));
        assert_eq!(verified.state, Some(state.hash()));
    }

    #[test]
    fn a_flipped_byte_is_pinned_to_its_commit() {
        let (bytes, _) = log();
        // Every byte of commit 3's record and stored head (frame 4).
        for offset in 8..Frame::BYTES {
            let mut bad = bytes.clone();
            bad[4 * Frame::BYTES + offset] ^= 0x40;
            assert_eq!(
                replay_and_verify(&bad),
                Err(LogError::ChainBroken { seq: 3 }),
                "offset {offset}"
            );
        }
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
        let verified = replay_and_verify(&lossy).unwrap();
        assert_eq!(
            (verified.commits, verified.lost, verified.state),
            (5, 4, None)
        );
        let mut second = bytes.clone();
        second.extend_from_slice(&bytes[..Frame::BYTES]);
        assert_eq!(
            replay_and_verify(&second),
            Err(LogError::SecondHeader { frame: 7 })
        );
    }
}
