//! The commit log on Axiom's own partition, and the boot-time check of the
//! log the previous boot left there.
//!
//! The partition's layout is `zos_axiom::store`'s: a checksummed
//! [`StoreHeader`] in sector 0, frames back to back from
//! [`FRAMES_OFFSET`], exactly the frames `axiom export` prints (the header
//! frame first). At boot [`check_previous`] reads what the header counts and
//! runs `zos_axiom::replay_frames` over it (the chain, the sequence, every
//! commit through the reducer, every recorded state hash); a sealed log
//! (a clean power-off) must end in a state frame, which is then the state at
//! shutdown. Then [`StoredLog::start`] begins this boot's log over it and
//! [`StoredLog::append`] adds frames as `axiomd` drains the kernel's ring,
//! rewriting the header after each batch; [`StoredLog::seal`] marks the
//! log complete and flushes the device. A batch is whole sectors: the last
//! partial sector is kept in memory and written again with the next batch.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use zos_axiom::{
    max_frames, replay_frames, Frame, Hex, LogError, StoreError, StoreHeader, Verified,
    FRAMES_OFFSET, VERSION,
};

/// Bytes of a sector.
pub const SECTOR: usize = 512;
/// Sectors read at a time while checking the previous log.
const READ_SECTORS: u64 = 128;
/// Frames written in one batch at most (about 176 KiB).
pub const BATCH_FRAMES: usize = 2048;

/// A block device as the log uses it (the partition's handle in `axiomd`,
/// a byte vector in the tests).
pub trait Sectors {
    type Error: Copy;
    fn sectors(&self) -> u64;
    /// Whole sectors from `sector` into `buf`.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Whole sectors from `sector`.
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Everything written so far durable.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

/// What the partition held from the previous boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Previous<E> {
    /// Never written, or not a log of this format.
    Empty,
    /// The header sector is damaged, or counts more frames than fit.
    Unreadable(StoreError),
    /// A log of another version (not replayed).
    OtherVersion(u64),
    /// The device failed while the log was read.
    Io(E),
    /// A header without frames: that boot ended before any were written.
    NoFrames { header: StoreHeader },
    /// The log checked out.
    Verified {
        header: StoreHeader,
        verified: Verified,
    },
    /// The log did not check out: the first problem.
    Broken {
        header: StoreHeader,
        error: LogError,
    },
}

impl<E: core::fmt::Debug> Previous<E> {
    /// The boot number the next log takes.
    pub fn next_boot(&self) -> u64 {
        match self {
            Previous::Verified { header, .. }
            | Previous::Broken { header, .. }
            | Previous::NoFrames { header } => header.boot + 1,
            _ => 1,
        }
    }

    /// Whether the log was there and sound.
    pub fn is_sound(&self) -> bool {
        matches!(
            self,
            Previous::Verified { .. } | Previous::Empty | Previous::NoFrames { .. }
        )
    }

    /// One line for the console.
    pub fn describe(&self) -> String {
        match self {
            Previous::Empty => "the Axiom partition holds no log yet".into(),
            Previous::Unreadable(StoreError::CorruptHeader) => {
                "the Axiom partition's header is corrupt: the previous log is ignored".into()
            }
            Previous::Unreadable(error) => {
                format!("the Axiom partition's header is not usable ({error:?}): the previous log is ignored")
            }
            Previous::OtherVersion(version) => format!(
                "the previous boot's log is format version {version} (this is {VERSION}): not checked"
            ),
            Previous::Io(error) => format!("reading the previous boot's log failed: {error:?}"),
            Previous::NoFrames { header } => format!(
                "the previous boot's log (boot {}) holds no frames: it ended before any were written",
                header.boot
            ),
            Previous::Broken { header, error } => format!(
                "the previous boot's log (boot {}) FAILED VERIFICATION: {error}",
                header.boot
            ),
            Previous::Verified { header, verified } => describe_sound(header, verified),
        }
    }
}

fn describe_sound(header: &StoreHeader, verified: &Verified) -> String {
    let head = format!(
        "the previous boot's log (boot {}): {} commits, chain ok",
        header.boot, verified.commits
    );
    if verified.lost > 0 {
        return format!(
            "{head}; {} commits were lost to a full ring, so its state is not checked",
            verified.lost
        );
    }
    let last = verified.states.last();
    match (header.sealed, last) {
        (true, Some(point)) if point.commits == verified.commits => format!(
            "{head}; state at power-off ({} commits) {} matches",
            point.commits,
            Hex(&point.hash)
        ),
        (true, _) => format!("{head}; sealed, but the state at power-off is missing"),
        (false, Some(point)) => format!(
            "{head}; not sealed (no clean power-off); state at {} commits matches",
            point.commits
        ),
        (false, None) => format!("{head}; not sealed (no clean power-off); no state recorded"),
    }
}

/// The frames the header counts, read a few sectors at a time; a device
/// error ends them and is kept.
struct DiskFrames<'a, D: Sectors> {
    disk: &'a mut D,
    next_sector: u64,
    end_sector: u64,
    left: u64,
    index: u64,
    pending: Vec<u8>,
    at: usize,
    error: Option<D::Error>,
}

impl<D: Sectors> Iterator for DiskFrames<'_, D> {
    type Item = Result<Frame, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.error.is_some() {
            return None;
        }
        while self.pending.len() - self.at < Frame::BYTES {
            self.pending.drain(..self.at);
            self.at = 0;
            let count = READ_SECTORS.min(self.end_sector.saturating_sub(self.next_sector));
            if count == 0 {
                return Some(Err(LogError::Truncated {
                    frame: self.index,
                    bytes: self.pending.len(),
                }));
            }
            let mut chunk = vec![0u8; count as usize * SECTOR];
            if let Err(error) = self.disk.read(self.next_sector, &mut chunk) {
                self.error = Some(error);
                return None;
            }
            self.next_sector += count;
            self.pending.extend_from_slice(&chunk);
        }
        let bytes = &self.pending[self.at..self.at + Frame::BYTES];
        self.at += Frame::BYTES;
        self.left -= 1;
        let frame = self.index;
        self.index += 1;
        Some(Frame::decode(bytes).map_err(|error| LogError::BadFrame { frame, error }))
    }
}

/// Reads and checks the log the previous boot left on the partition.
pub fn check_previous<D: Sectors>(disk: &mut D) -> Previous<D::Error> {
    let capacity = disk.sectors() * SECTOR as u64;
    let mut sector = [0u8; SECTOR];
    if let Err(error) = disk.read(0, &mut sector) {
        return Previous::Io(error);
    }
    let header = match StoreHeader::decode(&sector, capacity) {
        Ok(header) => header,
        Err(StoreError::Empty) => return Previous::Empty,
        Err(error) => return Previous::Unreadable(error),
    };
    if header.version != VERSION {
        return Previous::OtherVersion(header.version);
    }
    if header.frames == 0 {
        return Previous::NoFrames { header };
    }
    let mut frames = DiskFrames {
        disk,
        next_sector: FRAMES_OFFSET / SECTOR as u64,
        end_sector: capacity / SECTOR as u64,
        left: header.frames,
        index: 0,
        pending: Vec::new(),
        at: 0,
        error: None,
    };
    let result = replay_frames(&mut frames);
    if let Some(error) = frames.error {
        return Previous::Io(error);
    }
    match result {
        Ok(verified) => Previous::Verified { header, verified },
        Err(error) => Previous::Broken { header, error },
    }
}

/// This boot's log on the partition.
pub struct StoredLog {
    header: StoreHeader,
    /// Frames the partition can hold.
    capacity: u64,
    /// The bytes of the sector the next frame starts in, before it.
    tail: Vec<u8>,
}

impl StoredLog {
    /// Starts log number `boot` over whatever the partition held: a header
    /// that counts no frames.
    pub fn start<D: Sectors>(disk: &mut D, boot: u64) -> Result<Self, D::Error> {
        let mut log = StoredLog {
            header: StoreHeader {
                version: VERSION,
                boot,
                frames: 0,
                sealed: false,
                full: false,
            },
            capacity: max_frames(disk.sectors() * SECTOR as u64),
            tail: Vec::new(),
        };
        log.write_header(disk)?;
        Ok(log)
    }

    /// Frames stored.
    pub fn frames(&self) -> u64 {
        self.header.frames
    }

    /// The partition is full: later frames are not stored.
    pub fn is_full(&self) -> bool {
        self.header.full
    }

    pub fn boot(&self) -> u64 {
        self.header.boot
    }

    fn write_header<D: Sectors>(&mut self, disk: &mut D) -> Result<(), D::Error> {
        disk.write(0, &self.header.encode())
    }

    /// Appends `frames` (the log's frames from [`StoredLog::frames`] on) and
    /// rewrites the header to count them; clears the seal. Frames past the
    /// partition's end are dropped and the header says it is full.
    pub fn append<D: Sectors>(&mut self, disk: &mut D, frames: &[Frame]) -> Result<(), D::Error> {
        let room = self.capacity.saturating_sub(self.header.frames);
        let take = frames.len().min(room as usize);
        if frames.is_empty() || (take == 0 && self.header.full) {
            return Ok(());
        }
        if take > 0 {
            let start = FRAMES_OFFSET + self.header.frames * Frame::BYTES as u64;
            let mut bytes = core::mem::take(&mut self.tail);
            bytes.reserve(take * Frame::BYTES + SECTOR);
            frames[..take]
                .iter()
                .for_each(|frame| bytes.extend_from_slice(&frame.encode()));
            let length = bytes.len();
            bytes.resize(length.div_ceil(SECTOR) * SECTOR, 0);
            disk.write(start / SECTOR as u64, &bytes)?;
            self.tail = bytes[length / SECTOR * SECTOR..length].to_vec();
            self.header.frames += take as u64;
        }
        self.header.full = take < frames.len();
        self.header.sealed = false;
        self.write_header(disk)
    }

    /// Marks the log complete (its last frame the state at power-off) and
    /// makes everything durable.
    pub fn seal<D: Sectors>(&mut self, disk: &mut D) -> Result<(), D::Error> {
        self.header.sealed = true;
        self.write_header(disk)?;
        disk.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zos_axiom::{apply, Chain, Commit, Obj, State};

    /// A disk in memory; `fail_reads_from` makes reads of later sectors fail.
    struct MemDisk {
        bytes: Vec<u8>,
        fail_reads_from: u64,
        flushes: u32,
    }

    impl MemDisk {
        fn new(sectors: u64) -> Self {
            MemDisk {
                bytes: vec![0; sectors as usize * SECTOR],
                fail_reads_from: u64::MAX,
                flushes: 0,
            }
        }
    }

    impl Sectors for MemDisk {
        type Error = i32;
        fn sectors(&self) -> u64 {
            (self.bytes.len() / SECTOR) as u64
        }
        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), i32> {
            let at = sector as usize * SECTOR;
            if sector + (buf.len() / SECTOR) as u64 > self.fail_reads_from {
                return Err(5);
            }
            buf.copy_from_slice(self.bytes.get(at..at + buf.len()).ok_or(22)?);
            Ok(())
        }
        fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), i32> {
            assert_eq!(data.len() % SECTOR, 0);
            let at = sector as usize * SECTOR;
            self.bytes
                .get_mut(at..at + data.len())
                .ok_or(22)?
                .copy_from_slice(data);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), i32> {
            self.flushes += 1;
            Ok(())
        }
    }

    /// A log as axiomd keeps it: header, `count` commits (a process, then
    /// endpoints and quota changes), a state frame in the middle and, when
    /// `sealed`, one at the end.
    fn log(count: u64, sealed: bool) -> Vec<Frame> {
        let mut chain = Chain::new();
        let mut state = State::default();
        let mut frames = vec![Frame::Header {
            version: VERSION,
            genesis: chain.head,
        }];
        let process = Obj::new(0, 0);
        for seq in 0..count {
            let commit = match seq {
                0 => Commit::TableCreated {
                    table: 1,
                    max_slots: 64,
                },
                1 => Commit::ProcessCreated {
                    process,
                    pid: 1,
                    table: 1,
                    creator: Obj::NONE,
                    limit: 1 << 30,
                },
                n if n % 2 == 0 => Commit::ObjectCreated {
                    object: Obj::new(n as u32, 0),
                    kind: 3,
                    detail: 0,
                },
                n => Commit::QuotaUsed {
                    process,
                    used: n * 4096,
                },
            };
            let record = commit.encode(seq);
            let head = chain.link(&record);
            frames.push(Frame::Commit { record, head });
            apply(&mut state, &commit).expect("the test commits apply");
            if seq == count / 2 || (sealed && seq + 1 == count) {
                frames.push(Frame::State {
                    commits: seq + 1,
                    hash: state.hash(),
                });
            }
        }
        frames
    }

    /// Stores `frames` in uneven batches, as drains come.
    fn store(disk: &mut MemDisk, frames: &[Frame], boot: u64) -> StoredLog {
        let mut stored = StoredLog::start(disk, boot).expect("header written");
        let mut at = 0;
        for batch in [1, 2, 5, 37, 1, 300].iter().cycle() {
            if at >= frames.len() {
                break;
            }
            let end = (at + batch).min(frames.len());
            stored.append(disk, &frames[at..end]).expect("written");
            at = end;
        }
        stored
    }

    #[test]
    fn a_sealed_log_verifies_at_the_next_boot() {
        let mut disk = MemDisk::new(2048);
        assert_eq!(check_previous(&mut disk), Previous::Empty);
        let frames = log(500, true);
        let mut stored = store(&mut disk, &frames, 1);
        stored.seal(&mut disk).expect("sealed");
        assert_eq!((stored.frames(), disk.flushes), (frames.len() as u64, 1));
        let previous = check_previous(&mut disk);
        let Previous::Verified { header, verified } = &previous else {
            panic!("{previous:?}");
        };
        assert!(header.sealed);
        assert_eq!((verified.commits, verified.states_matched()), (500, 2));
        let line = previous.describe();
        assert!(
            line.contains("(boot 1): 500 commits, chain ok; state at power-off (500 commits) "),
            "{line}"
        );
        assert!(line.ends_with(" matches"), "{line}");
        assert_eq!(previous.next_boot(), 2);
        // The next boot's log starts over it.
        let stored = StoredLog::start(&mut disk, 2).expect("header");
        assert_eq!(stored.frames(), 0);
        let previous = check_previous(&mut disk);
        assert!(previous.is_sound());
        assert_eq!(previous.next_boot(), 3);
    }

    #[test]
    fn an_unsealed_log_says_so_and_appending_unseals() {
        let mut disk = MemDisk::new(2048);
        let frames = log(100, false);
        let mut stored = store(&mut disk, &frames[..50], 4);
        stored.seal(&mut disk).expect("sealed");
        stored.append(&mut disk, &frames[50..]).expect("more");
        let line = check_previous(&mut disk).describe();
        assert!(
            line.contains("(boot 4): 100 commits, chain ok; not sealed"),
            "{line}"
        );
    }

    #[test]
    fn damage_on_the_partition_is_reported() {
        let mut disk = MemDisk::new(2048);
        let frames = log(300, true);
        store(&mut disk, &frames, 1)
            .seal(&mut disk)
            .expect("sealed");
        // Frame 100 is commit 99: one bit of a field word.
        let mut damaged = MemDisk::new(0);
        damaged.bytes = disk.bytes.clone();
        damaged.bytes[FRAMES_OFFSET as usize + 100 * Frame::BYTES + 30] ^= 4;
        let previous = check_previous(&mut damaged);
        assert!(!previous.is_sound());
        assert_eq!(
            previous.describe(),
            "the previous boot's log (boot 1) FAILED VERIFICATION: chain broken at commit 99"
        );
        assert_eq!(previous.next_boot(), 2);
        // A damaged header: ignored, the next log is boot 1 again.
        let mut damaged = MemDisk::new(0);
        damaged.bytes = disk.bytes.clone();
        damaged.bytes[20] ^= 1;
        let previous = check_previous(&mut damaged);
        assert_eq!(previous, Previous::Unreadable(StoreError::CorruptHeader));
        assert_eq!(previous.next_boot(), 1);
        // Frames the header counts but the device lost (zeros).
        let mut damaged = MemDisk::new(0);
        damaged.bytes = disk.bytes.clone();
        let end = FRAMES_OFFSET as usize + frames.len() * Frame::BYTES;
        damaged.bytes[end - 3 * Frame::BYTES..end].fill(0);
        assert!(matches!(
            check_previous(&mut damaged),
            Previous::Broken {
                error: LogError::BadFrame { .. },
                ..
            }
        ));
        // A read error part of the way.
        disk.fail_reads_from = 40;
        assert_eq!(check_previous(&mut disk), Previous::Io(5));
    }

    #[test]
    fn a_full_partition_keeps_what_fits() {
        // 16 sectors: 8 of header area, 8 of frames (46 frames).
        let mut disk = MemDisk::new(16);
        let frames = log(100, false);
        let stored = store(&mut disk, &frames, 1);
        assert!(stored.is_full());
        assert_eq!(stored.frames(), max_frames(16 * SECTOR as u64));
        let Previous::Verified { header, verified } = check_previous(&mut disk) else {
            panic!("the kept frames verify");
        };
        assert!(header.full && !header.sealed);
        assert_eq!(verified.commits, 45);
    }
}
