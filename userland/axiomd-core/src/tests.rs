//! The recorder against a fake kernel: chained frames, losses, state
//! checkpoints placed after exactly the commits they cover, pids.

use super::*;
use alloc::vec;
use zos_axiom::{apply, Obj, State};

/// A kernel with rings of `capacity` records: commits and SysLog records
/// appended by the test; each read of the SysLog adds a record of its own,
/// as the real kernel does.
struct FakeKernel {
    commits: Vec<[u64; COMMIT_WORDS]>,
    calls: Vec<SysRecord>,
    capacity: usize,
    /// Commits made just before the state hash is taken, and just after.
    before_state: Vec<Commit>,
    after_state: Vec<Commit>,
}

impl FakeKernel {
    fn new(capacity: usize) -> Self {
        Self {
            commits: Vec::new(),
            calls: Vec::new(),
            capacity,
            before_state: Vec::new(),
            after_state: Vec::new(),
        }
    }

    fn commit(&mut self, commit: Commit) {
        let seq = self.commits.len() as u64;
        self.commits.push(commit.encode(seq));
    }

    fn call(&mut self, process: u32, number: u16) {
        let seq = self.calls.len() as u64;
        self.calls.push(SysRecord {
            seq,
            process,
            number,
            ..Default::default()
        });
    }
}

fn copy<const W: usize>(
    records: &[[u64; W]],
    capacity: usize,
    cursor: u64,
    buffer: &mut [u8],
) -> ReadResult {
    let oldest = records.len().saturating_sub(capacity) as u64;
    let first = cursor.max(oldest);
    let fits = buffer.len() / (W * 8);
    let mut count = 0;
    for record in records.iter().skip(first as usize).take(fits) {
        for (i, word) in record.iter().enumerate() {
            let at = count * W * 8 + i * 8;
            buffer[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
        count += 1;
    }
    ReadResult {
        count: count as u64,
        next: first + count as u64,
        lost: first - cursor,
    }
}

impl AuditSource for FakeKernel {
    type Error = ();

    fn read(&mut self, ring: Ring, cursor: u64, buffer: &mut [u8]) -> Result<ReadResult, ()> {
        let result = match ring {
            Ring::Commits => copy(&self.commits, self.capacity, cursor, buffer),
            Ring::SysLog => {
                let words: Vec<_> = self.calls.iter().map(SysRecord::encode).collect();
                copy(&words, self.capacity, cursor, buffer)
            }
        };
        self.call(9, 47);
        Ok(result)
    }

    fn state(&mut self) -> Result<(u64, Digest), ()> {
        for commit in core::mem::take(&mut self.before_state) {
            self.commit(commit);
        }
        let commits = self.commits.len() as u64;
        let mut state = State::default();
        for record in &self.commits[..commits as usize] {
            let (_, commit) = Commit::decode(record).map_err(|_| ())?;
            apply(&mut state, &commit).map_err(|_| ())?;
        }
        for commit in core::mem::take(&mut self.after_state) {
            self.commit(commit);
        }
        Ok((commits, state.hash()))
    }
}

fn process(index: u32, pid: u32) -> Commit {
    Commit::ProcessCreated {
        process: Obj::new(index, 0),
        pid,
        table: index,
        creator: Obj::NONE,
        limit: 1 << 20,
    }
}

fn table(table: u32) -> Commit {
    Commit::TableCreated {
        table,
        max_slots: 16,
    }
}

fn all_frames(recorder: &Recorder) -> Vec<Frame> {
    (0..recorder.frame_count())
        .filter_map(|i| recorder.frame(i))
        .collect()
}

#[test]
fn commits_are_chained_and_calls_get_their_pids() {
    let mut kernel = FakeKernel::new(1000);
    kernel.commit(table(1));
    kernel.commit(process(3, 40));
    kernel.commit(process(4, 41));
    kernel.call(3, 24);
    kernel.call(4, 25);
    kernel.call(3, 26);
    let mut recorder = Recorder::new();
    // A buffer of two commit records: the drain takes several reads.
    let mut buffer = vec![0u8; 2 * SYS_RECORD_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    let frames = all_frames(&recorder);
    assert_eq!(frames.len(), 4);
    let mut chain = Chain::new();
    assert_eq!(
        frames[0],
        Frame::Header {
            version: zos_axiom::VERSION,
            genesis: chain.head
        }
    );
    for (frame, record) in frames[1..].iter().zip(&kernel.commits) {
        let head = chain.link(record);
        assert_eq!(
            *frame,
            Frame::Commit {
                record: *record,
                head
            }
        );
    }
    assert_eq!(recorder.head(), (3, chain.head));
    let of_40: Vec<u16> = recorder
        .calls(Some(40), 10, None)
        .iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(of_40, [24, 26]);
    assert_eq!(recorder.calls(Some(41), 10, None).len(), 1);
    // Newest first when limited, listed oldest first; paging with `before`.
    let newest = recorder.calls(None, 2, None);
    assert!(newest[0].seq < newest[1].seq);
    let older = recorder.calls(None, 1, Some(newest[0].seq));
    assert_eq!(older[0].seq + 1, newest[0].seq);
}

#[test]
fn draining_stops_although_every_read_adds_a_syscall() {
    let mut kernel = FakeKernel::new(100_000);
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    assert!(kernel.calls.len() < 10);
}

#[test]
fn an_overwritten_ring_leaves_a_loss_frame_and_the_chain_goes_on() {
    let mut kernel = FakeKernel::new(4);
    for t in 0..10 {
        kernel.commit(table(t));
    }
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    let frames = all_frames(&recorder);
    assert_eq!(frames[1], Frame::Loss { first: 0, count: 6 });
    assert_eq!(frames.len(), 2 + 4);
    assert_eq!(recorder.head().0, 10);
}

#[test]
fn a_state_frame_sits_after_exactly_the_commits_it_covers() {
    let mut kernel = FakeKernel::new(1000);
    kernel.commit(table(1));
    kernel.commit(table(2));
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    // The kernel moves on while axiomd asks (another CPU): its hash covers
    // four commits, and two more follow before axiomd reads again.
    kernel.before_state = vec![table(3), table(4)];
    kernel.after_state = vec![table(5), table(6)];
    let point = recorder
        .checkpoint(&mut kernel, &mut buffer)
        .expect("checkpoint");
    assert_eq!(point.commits, 4);
    let frames = all_frames(&recorder);
    assert_eq!(
        frames[5],
        Frame::State {
            commits: 4,
            hash: point.hash
        }
    );
    let Frame::Commit { head, .. } = frames[4] else {
        panic!("a commit before the state frame");
    };
    assert_eq!(head, point.head);
    assert_eq!(frames.len(), 8);
    assert_eq!(recorder.head().0, 6);
    // The next checkpoint comes after the two.
    let point = recorder
        .checkpoint(&mut kernel, &mut buffer)
        .expect("checkpoint");
    assert_eq!(point.commits, 6);
    assert_eq!(all_frames(&recorder).len(), 9);
}

#[test]
fn export_gives_encoded_frames_in_pages() {
    let mut kernel = FakeKernel::new(1000);
    for t in 0..5 {
        kernel.commit(table(t));
    }
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    let first = recorder.export(0, 4);
    let rest = recorder.export(4, 4);
    assert_eq!(first.len(), 4 * Frame::BYTES);
    assert_eq!(rest.len(), 2 * Frame::BYTES);
    assert_eq!(
        Frame::decode(&rest[Frame::BYTES..]),
        Ok(all_frames(&recorder)[5])
    );
    assert!(recorder.export(6, 4).is_empty());
    assert!(recorder.export(u64::MAX, 4).is_empty());
}

#[test]
fn only_the_newest_syscalls_are_kept() {
    let mut kernel = FakeKernel::new(100_000);
    for _ in 0..SYSLOG_KEEP + 10 {
        kernel.call(1, 2);
    }
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    let all = recorder.calls(None, usize::MAX, None);
    // At least the newest SYSLOG_KEEP; the oldest go a chunk at a time.
    assert!(all.len() >= SYSLOG_KEEP && all.len() < SYSLOG_KEEP + 1024);
    // The newest kept is the last one read (the reads add their own).
    assert_eq!(
        all.last().map(|c| c.seq),
        Some(kernel.calls.len() as u64 - 2)
    );
    assert_eq!(
        all[0].seq + SYSLOG_KEEP as u64 - 1,
        all[SYSLOG_KEEP - 1].seq
    );
}

/// Frames as axiomd would push them: commits with their heads, a loss and
/// state frames in between.
fn mixed_frames(commits: u64) -> Vec<Frame> {
    let mut chain = Chain::new();
    let mut frames = vec![store::FrameStore::header()];
    let mut seq = 0;
    while seq < commits {
        if seq == 300 {
            frames.push(Frame::Loss {
                first: 300,
                count: 7,
            });
            seq += 7;
            continue;
        }
        let commit = if seq % 3 == 0 {
            process(seq as u32, seq as u32 + 100)
        } else {
            Commit::QuotaUsed {
                process: Obj::new(seq as u32 / 3, 1),
                used: seq * 4096,
            }
        };
        let record = commit.encode(seq);
        frames.push(Frame::Commit {
            record,
            head: chain.link(&record),
        });
        if seq % 500 == 0 {
            frames.push(Frame::State {
                commits: seq + 1,
                hash: [seq as u8; 32],
            });
        }
        seq += 1;
    }
    frames
}

#[test]
fn the_compact_store_gives_back_every_frame_with_its_head() {
    let frames = mixed_frames(5000);
    let mut store = store::FrameStore::new(usize::MAX);
    for frame in &frames[1..] {
        assert!(store.push(frame));
    }
    assert_eq!(store.len(), frames.len() as u64);
    assert_eq!(store.read(0, usize::MAX), frames);
    // From anywhere, across marks and chunks.
    for from in [1, 255, 256, 257, 1000, 4999, frames.len() as u64 - 1] {
        let got = store.read(from, 40);
        let end = (from as usize + 40).min(frames.len());
        assert_eq!(got, frames[from as usize..end], "from {from}");
    }
    // Front to back, each read going on from where the last one stopped,
    // as an export does.
    let (mut got, mut resume) = (Vec::new(), None);
    while got.len() < frames.len() {
        let (page, stopped) = store.read_on(got.len() as u64, 40, resume.as_ref());
        assert!(!page.is_empty());
        got.extend(page);
        resume = stopped;
    }
    assert_eq!(got, frames);
    assert!(store.read(frames.len() as u64, 10).is_empty());
    assert!(store.read(u64::MAX, 10).is_empty());
    assert!(
        store.bytes() < frames.len() * 16,
        "{} bytes for {} frames",
        store.bytes(),
        frames.len()
    );
}

#[test]
fn a_full_log_ends_in_a_loss_frame() {
    let mut kernel = FakeKernel::new(1 << 20);
    for t in 0..20_000 {
        kernel.commit(table(t));
    }
    let mut recorder = Recorder::with_limit(64 * 1024);
    let mut buffer = vec![0u8; READ_BYTES];
    recorder.drain(&mut kernel, &mut buffer).expect("drains");
    let count = recorder.frame_count();
    assert!(count < 20_000);
    let Some(Frame::Loss { first, count: lost }) = recorder.frame(count - 1) else {
        panic!("the last frame is a loss");
    };
    assert_eq!(first + lost, 20_000);
    assert_eq!(first, count - 2);
    assert_eq!(recorder.frames(count - 3, 10).len(), 3);
}

#[test]
fn compact_call_records_come_back_whole() {
    let mut log = calls::CallLog::new(10);
    let call = CallRecord {
        seq: u64::MAX,
        pid: u32::MAX,
        thread: 7,
        number: 47,
        code: 0xFFFF,
        args: [0, 1, u64::MAX, 0x10fd_4478_0000, 5, 6],
        value: 1 << 40,
        first_commit: 123_456,
        commits: u32::MAX,
    };
    log.push(&call);
    assert_eq!(log.iter().collect::<Vec<_>>(), [call]);
}
