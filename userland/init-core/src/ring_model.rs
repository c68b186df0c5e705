//! The shared-memory ring (`zos_proto::ring`) against the message path's
//! pipe model (`pipe::Pipe`): the same outcomes and bytes, except where POSIX
//! asks more of the ring (a write of at most `PIPE_BUF` never splits).

use crate::pipe::{Pipe, ReadOutcome, WriteOutcome};
use proptest::prelude::*;
use zos_proto::ring::{flags, OwnedRing, RingRead, RingWrite, PIPE_BUF};

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<u8>),
    Read(usize),
    CloseWriters,
    CloseReaders,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Write),
        8 => (0usize..300).prop_map(Op::Read),
        1 => Just(Op::CloseWriters),
        1 => Just(Op::CloseReaders),
    ]
}

proptest! {
    /// Small rings (every write is "small", ≤ PIPE_BUF): all or nothing.
    #[test]
    fn matches_the_model(capacity in 1usize..200, ops in proptest::collection::vec(op(), 0..200)) {
        let mut owned = OwnedRing::new(capacity);
        let ring = owned.ring();
        let mut model = std::collections::VecDeque::new();
        let (mut readers, mut writers) = (true, true);
        for op in ops {
            match op {
                Op::Write(bytes) => {
                    let got = ring.write(&bytes);
                    if !readers {
                        prop_assert_eq!(got, RingWrite::BrokenPipe);
                    } else if bytes.is_empty() {
                        let empty = matches!(got, RingWrite::Written { bytes: 0, .. });
                        prop_assert!(empty);
                    } else if capacity - model.len() < bytes.len() {
                        prop_assert_eq!(got, RingWrite::WouldBlock);
                    } else {
                        let whole = matches!(got, RingWrite::Written { bytes: n, .. } if n == bytes.len());
                        prop_assert!(whole);
                        model.extend(bytes);
                    }
                }
                Op::Read(max) => {
                    let mut out = vec![0u8; max];
                    match ring.read(&mut out) {
                        RingRead::Data { bytes, .. } => {
                            prop_assert_eq!(bytes, max.min(model.len()));
                            let expected: Vec<u8> = model.drain(..bytes).collect();
                            prop_assert_eq!(&out[..bytes], &expected[..]);
                        }
                        RingRead::EndOfFile => prop_assert!(!writers && model.is_empty()),
                        RingRead::WouldBlock => prop_assert!(writers && model.is_empty()),
                        RingRead::Corrupt => prop_assert!(false, "positions never go wrong here"),
                    }
                }
                Op::CloseWriters => {
                    writers = false;
                    ring.close_side(flags::NO_WRITERS);
                }
                Op::CloseReaders => {
                    readers = false;
                    ring.close_side(flags::NO_READERS);
                }
            }
            prop_assert_eq!(ring.buffered(), Some(model.len()));
        }
    }

    /// Large writes behave as the message path's `Pipe`: they take what fits.
    #[test]
    fn large_writes_match_pipe(chunks in proptest::collection::vec((PIPE_BUF + 1)..(3 * PIPE_BUF), 1..6)) {
        let mut owned = OwnedRing::new(crate::pipe::PIPE_CAPACITY);
        let ring = owned.ring();
        let mut pipe = Pipe::new();
        for len in chunks {
            let bytes = vec![0x5a; len];
            match (ring.write(&bytes), pipe.write(&bytes)) {
                (RingWrite::Written { bytes: a, .. }, WriteOutcome::Written(b)) => prop_assert_eq!(a, b),
                (RingWrite::WouldBlock, WriteOutcome::WouldBlock) => {}
                (a, b) => prop_assert!(false, "ring {:?} vs pipe {:?}", a, b),
            }
            let mut out = vec![0u8; 1000];
            match (ring.read(&mut out), pipe.read(1000)) {
                (RingRead::Data { bytes, .. }, ReadOutcome::Data(data)) => prop_assert_eq!(bytes, data.len()),
                (a, b) => prop_assert!(false, "ring {:?} vs pipe {:?}", a, b),
            }
        }
    }
}
