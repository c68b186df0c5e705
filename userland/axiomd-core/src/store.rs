//! Compact storage of the frame log: what axiomd keeps in memory.
//!
//! A frame as exported is 88 bytes; most of a commit record repeats the one
//! before it (the same objects, tables and processes), and the chain head
//! follows from the records. So each frame is kept as a tag byte and LEB128
//! varints: a commit as its sequence number's step past the expected one,
//! its header word (the kind) and its four field words as (zigzag) steps
//! from those of the previous commit of the same kind; a state as its
//! commit count and hash; a loss as its first commit and count. Heads are
//! recomputed when frames are read back, from marks that hold the chain
//! head and the decoder state every [`MARK_EVERY`] frames, or from where the
//! last read ended (an export reads front to back), so reading frame N
//! decodes at most that many. Bytes live in fixed chunks, so the log grows
//! without reallocating what it holds. A typical commit takes about 10 bytes.

use alloc::vec::Vec;
use zos_axiom::{Chain, Digest, Frame, COMMIT_WORDS};

/// Frames between two marks.
pub const MARK_EVERY: u64 = 1024;
/// Bytes of one storage chunk.
const CHUNK_BYTES: usize = 16 * 1024;
/// The largest encoded frame: a tag and six varints of at most ten bytes,
/// or a tag, a varint and a hash.
const MAX_ENCODED: usize = 1 + COMMIT_WORDS * 10;

const TAG_COMMIT: u8 = 0;
const TAG_STATE: u8 = 1;
const TAG_LOSS: u8 = 2;

/// Commit kinds told apart for the steps from the previous of the same kind
/// (kinds above share slots, which only costs bytes).
const KIND_SLOTS: usize = 32;

/// What encoding and decoding carry from one frame to the next.
#[derive(Clone)]
struct Cursor {
    chain: Chain,
    /// The field words of the last commit of each kind.
    previous: [[u64; 4]; KIND_SLOTS],
    next_seq: u64,
}

impl Cursor {
    fn new() -> Self {
        Self {
            chain: Chain::new(),
            previous: [[0; 4]; KIND_SLOTS],
            next_seq: 0,
        }
    }
}

/// Where decoding may start: frame `frame` begins at `chunk`/`offset`.
/// Marks are kept every [`MARK_EVERY`] frames; a read returns the one where
/// it stopped, to go on from.
#[derive(Clone)]
pub struct Mark {
    frame: u64,
    chunk: usize,
    offset: usize,
    cursor: Cursor,
}

/// The frames of one log after its header.
pub struct FrameStore {
    chunks: Vec<Vec<u8>>,
    marks: Vec<Mark>,
    /// Frames kept, the header (frame 0, never stored) included.
    frames: u64,
    encoder: Cursor,
    max_bytes: usize,
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A signed step as an unsigned number that is small when the step is.
fn zigzag(step: u64) -> u64 {
    (step << 1) ^ ((step as i64 >> 63) as u64)
}

fn unzigzag(value: u64) -> u64 {
    (value >> 1) ^ (value & 1).wrapping_neg()
}

pub(crate) fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl FrameStore {
    /// An empty log that keeps at most about `max_bytes` bytes of frames.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            chunks: Vec::new(),
            marks: Vec::new(),
            frames: 1,
            encoder: Cursor::new(),
            max_bytes,
        }
    }

    /// The header every log starts with.
    pub fn header() -> Frame {
        Frame::Header {
            version: zos_axiom::VERSION,
            genesis: Chain::new().head,
        }
    }

    /// Frames kept, the header included.
    pub fn len(&self) -> u64 {
        self.frames
    }

    /// Never: the header is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bytes the kept frames take.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Whether another frame would pass the limit.
    pub fn is_full(&self) -> bool {
        self.chunks.len() * CHUNK_BYTES + MAX_ENCODED > self.max_bytes
            && self
                .chunks
                .last()
                .is_none_or(|c| c.len() + MAX_ENCODED > CHUNK_BYTES)
    }

    /// Appends a frame (a header is refused: there is one, first). Commit
    /// heads are not stored: they follow from the records. Returns false
    /// when the store is full.
    pub fn push(&mut self, frame: &Frame) -> bool {
        if self.is_full() || matches!(frame, Frame::Header { .. }) {
            return false;
        }
        if self
            .chunks
            .last()
            .is_none_or(|c| c.len() + MAX_ENCODED > CHUNK_BYTES)
        {
            self.chunks.push(Vec::with_capacity(CHUNK_BYTES));
        }
        let chunk = self.chunks.len() - 1;
        if (self.frames - 1).is_multiple_of(MARK_EVERY) {
            self.marks.push(Mark {
                frame: self.frames,
                chunk,
                offset: self.chunks[chunk].len(),
                cursor: self.encoder.clone(),
            });
        }
        let out = &mut self.chunks[chunk];
        match *frame {
            Frame::Commit { record, .. } => {
                out.push(TAG_COMMIT);
                put_varint(out, record[0].wrapping_sub(self.encoder.next_seq));
                put_varint(out, record[1]);
                let previous = &mut self.encoder.previous[record[1] as usize % KIND_SLOTS];
                for (word, before) in record[2..].iter().zip(previous.iter()) {
                    put_varint(out, zigzag(word.wrapping_sub(*before)));
                }
                previous.copy_from_slice(&record[2..]);
                self.encoder.chain.link(&record);
                self.encoder.next_seq = record[0].wrapping_add(1);
            }
            Frame::State { commits, hash } => {
                out.push(TAG_STATE);
                put_varint(out, commits);
                out.extend_from_slice(&hash);
            }
            Frame::Loss { first, count } => {
                out.push(TAG_LOSS);
                put_varint(out, first);
                put_varint(out, count);
                self.encoder.next_seq = first.wrapping_add(count);
            }
            Frame::Header { .. } => {}
        }
        self.frames += 1;
        true
    }

    /// Frames `from..` (at most `max`), in order.
    pub fn read(&self, from: u64, max: usize) -> Vec<Frame> {
        self.read_on(from, max, None).0
    }

    /// Like [`FrameStore::read`], starting at `resume` when it is where
    /// `from` begins (the mark a previous read returned); also returns
    /// where this read stopped.
    pub fn read_on(
        &self,
        from: u64,
        max: usize,
        resume: Option<&Mark>,
    ) -> (Vec<Frame>, Option<Mark>) {
        let mut frames = Vec::new();
        let mut from = from;
        if from == 0 && max > 0 {
            frames.push(Self::header());
            from = 1;
        }
        if from >= self.frames || frames.len() >= max {
            return (frames, None);
        }
        let start = match resume {
            Some(mark) if mark.frame == from => mark,
            _ => match self.marks.get(((from - 1) / MARK_EVERY) as usize) {
                Some(mark) => mark,
                None => return (frames, None),
            },
        };
        let mut cursor = start.cursor.clone();
        let (mut chunk, mut at) = (start.chunk, start.offset);
        let mut index = start.frame;
        while index < self.frames && frames.len() < max {
            let Some(bytes) = self.chunks.get(chunk) else {
                break;
            };
            if at >= bytes.len() {
                chunk += 1;
                at = 0;
                continue;
            }
            let Some(frame) = decode_one(bytes, &mut at, &mut cursor) else {
                break;
            };
            if index >= from {
                frames.push(frame);
            }
            index += 1;
        }
        let stopped = Mark {
            frame: index,
            chunk,
            offset: at,
            cursor,
        };
        (frames, Some(stopped))
    }
}

fn decode_one(bytes: &[u8], at: &mut usize, cursor: &mut Cursor) -> Option<Frame> {
    let tag = *bytes.get(*at)?;
    *at += 1;
    match tag {
        TAG_COMMIT => {
            let mut record = [0u64; COMMIT_WORDS];
            record[0] = cursor.next_seq.wrapping_add(get_varint(bytes, at)?);
            record[1] = get_varint(bytes, at)?;
            let previous = &mut cursor.previous[record[1] as usize % KIND_SLOTS];
            for (word, before) in record[2..].iter_mut().zip(previous.iter()) {
                *word = before.wrapping_add(unzigzag(get_varint(bytes, at)?));
            }
            previous.copy_from_slice(&record[2..]);
            let head = cursor.chain.link(&record);
            cursor.next_seq = record[0].wrapping_add(1);
            Some(Frame::Commit { record, head })
        }
        TAG_STATE => {
            let commits = get_varint(bytes, at)?;
            let hash: Digest = bytes.get(*at..*at + 32)?.try_into().ok()?;
            *at += 32;
            Some(Frame::State { commits, hash })
        }
        TAG_LOSS => {
            let first = get_varint(bytes, at)?;
            let count = get_varint(bytes, at)?;
            cursor.next_seq = first.wrapping_add(count);
            Some(Frame::Loss { first, count })
        }
        _ => None,
    }
}
