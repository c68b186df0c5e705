//! `cargo xtask axiom replay FILE` and `cargo xtask axiom diff A B`: the
//! host's check of an Axiom log (docs/axiom.md).
//!
//! A log is the frames `axiomd` keeps: a binary file of 88-byte frames, or a
//! text file (a serial log) whose lines starting with `AXIOM ` carry one
//! frame each in hex (`axiom export`; with several exports in one file, the
//! last). Replay is `zos_axiom::replay_frames`, the check axiomd runs on
//! the previous boot's log: the header, each frame's stored chain head
//! against the chain recomputed from the records, the sequence, every commit
//! through `zos_axiom::apply` from the empty genesis state, and each recorded
//! kernel state hash against the replayed state's. A `Loss` frame (the
//! kernel's ring overwrote commits before axiomd read them) ends the state
//! checks: the state cannot be replayed past a gap.

use zos_axiom::{
    replay_frames, Commit, Frame, Hex, StoreError, StoreHeader, COMMIT_WORDS, FRAMES_OFFSET,
};

/// What starts a frame line in a serial log.
const LINE_PREFIX: &str = "AXIOM ";
/// The line `axiom export` prints before the frames.
const BEGIN_LINE: &str = "AXIOM-BEGIN";

/// Why a log could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum LogError {
    /// A binary log whose length is not a whole number of frames.
    Truncated { bytes: usize },
    /// A frame line that is not 176 hex digits (1-based line number).
    BadLine { line: usize },
    /// A frame with an unknown tag (0-based frame index).
    BadFrame { index: usize, tag: u64 },
    /// No frames at all.
    Empty,
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogError::Truncated { bytes } => write!(
                f,
                "{bytes} bytes is not a whole number of {}-byte frames (truncated?)",
                Frame::BYTES
            ),
            LogError::BadLine { line } => write!(
                f,
                "line {line}: an AXIOM line must carry {} hex digits",
                Frame::BYTES * 2
            ),
            LogError::BadFrame { index, tag } => {
                write!(f, "frame {index}: unknown tag {tag:#x}")
            }
            LogError::Empty => write!(f, "no Axiom frames in it"),
        }
    }
}

fn decode_all(raw: Vec<Vec<u8>>) -> Result<Vec<Frame>, LogError> {
    if raw.is_empty() {
        return Err(LogError::Empty);
    }
    raw.iter()
        .enumerate()
        .map(|(index, bytes)| {
            Frame::decode(bytes).map_err(|e| match e {
                zos_axiom::FrameError::UnknownTag(tag) => LogError::BadFrame { index, tag },
                zos_axiom::FrameError::Short(bytes) => LogError::Truncated { bytes },
            })
        })
        .collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != Frame::BYTES * 2 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The frames of a log file's contents, binary or text.
pub fn parse_log(contents: &[u8]) -> Result<Vec<Frame>, LogError> {
    let header_tag = Frame::Header {
        version: 0,
        genesis: [0; 32],
    }
    .encode();
    if contents.starts_with(&header_tag[..8]) {
        if !contents.len().is_multiple_of(Frame::BYTES) {
            return Err(LogError::Truncated {
                bytes: contents.len(),
            });
        }
        return decode_all(contents.chunks(Frame::BYTES).map(<[u8]>::to_vec).collect());
    }
    let text = String::from_utf8_lossy(contents);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    // Several exports in one serial log: the last is the whole log.
    let start = lines
        .iter()
        .rposition(|l| l.trim_end() == BEGIN_LINE)
        .map_or(0, |i| i + 1);
    let mut raw = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start) {
        if let Some(hex) = line.strip_prefix(LINE_PREFIX) {
            raw.push(unhex(hex.trim_end()).ok_or(LogError::BadLine { line: i + 1 })?);
        }
    }
    decode_all(raw)
}

/// What a replay found: its lines, and whether the log is whole and good.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub ok: bool,
}

/// Replays `frames` with `zos_axiom::replay_frames` (the check axiomd runs
/// at boot) and says what it found, a line per state frame and a summary.
pub fn replay(frames: &[Frame]) -> Report {
    match replay_frames(frames.iter().copied().map(Ok)) {
        Err(error) => Report {
            lines: vec![error.to_string()],
            ok: false,
        },
        Ok(verified) => {
            let mut lines: Vec<String> = verified
                .states
                .iter()
                .map(|point| match point.checked {
                    true => format!(
                        "state at {} commits: {} matches",
                        point.commits,
                        Hex(&point.hash)
                    ),
                    false => format!(
                        "state at {} commits: not checked (commits were lost before it)",
                        point.commits
                    ),
                })
                .collect();
            if verified.lost > 0 {
                lines.push(format!("lost {} commits to a full ring", verified.lost));
            }
            let state = verified.state.as_ref().map_or_else(
                || "unknown (commits lost)".to_string(),
                |hash| Hex(hash).to_string(),
            );
            lines.push(format!(
                "commits {}, chain ok, head {}, state {state}",
                verified.commits,
                Hex(&verified.head)
            ));
            Report {
                lines,
                ok: verified.lost == 0,
            }
        }
    }
}

/// The commit records of a log, in order.
fn records(frames: &[Frame]) -> Vec<[u64; COMMIT_WORDS]> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Commit { record, .. } => Some(*record),
            _ => None,
        })
        .collect()
}

fn describe(record: &[u64; COMMIT_WORDS]) -> String {
    match Commit::decode(record) {
        Ok((seq, commit)) => format!("#{seq} {commit:?}"),
        Err(e) => format!("{record:x?} ({e:?})"),
    }
}

/// Compares the commits of two logs: the first that differs, or how many
/// they share. With `until`, only the first `until` commits (both logs must
/// have them): a prefix comparison, for two boots whose commits may part
/// after an input (docs/axiom.md, "Determinism").
pub fn diff(a: &[Frame], b: &[Frame], until: Option<u64>) -> Report {
    let (mut a, mut b) = (records(a), records(b));
    if let Some(until) = until {
        let short = |name: &str, log: &[[u64; COMMIT_WORDS]]| {
            (log.len() < until as usize).then(|| {
                format!(
                    "{name} has {} commits, fewer than the {until} to compare",
                    log.len()
                )
            })
        };
        let lines: Vec<String> = [short("A", &a), short("B", &b)]
            .into_iter()
            .flatten()
            .collect();
        if !lines.is_empty() {
            return Report { lines, ok: false };
        }
        a.truncate(until as usize);
        b.truncate(until as usize);
    }
    if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
        return Report {
            lines: vec![
                format!("first difference at commit {}", a[i][0]),
                format!("A: {}", describe(&a[i])),
                format!("B: {}", describe(&b[i])),
            ],
            ok: false,
        };
    }
    if a.len() != b.len() {
        return Report {
            lines: vec![format!(
                "the first {} commits are identical; A has {}, B has {}",
                a.len().min(b.len()),
                a.len(),
                b.len()
            )],
            ok: false,
        };
    }
    Report {
        lines: vec![format!("identical {} commits", a.len())],
        ok: true,
    }
}

fn load(path: &str) -> Result<Vec<Frame>, String> {
    let contents = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let stored = stored_log(&contents).map_err(|e| format!("{path}: {e}"))?;
    parse_log(stored.unwrap_or(&contents)).map_err(|e| format!("{path}: {e}"))
}

/// GPT partition type of Axiom's partition, on-disk byte order
/// (`zos_proto::block::AXIOM_PARTITION_TYPE`, 2f030b85-6b1b-4beb-8b96-7776d9672608).
const AXIOM_PARTITION_TYPE: [u8; 16] = [
    133, 11, 3, 47, 27, 107, 235, 75, 139, 150, 119, 118, 217, 103, 38, 8,
];
const SECTOR: usize = 512;

/// The frames of a stored log: `contents` is a disk image with Axiom's GPT
/// partition, or that partition alone; `None` for anything else (a log file).
/// What the header counts is returned, as axiomd's boot check reads it.
fn stored_log(contents: &[u8]) -> Result<Option<&[u8]>, String> {
    let word = |at: usize, bytes: usize| -> Option<u64> {
        let slice = contents.get(at..at + bytes)?;
        Some(slice.iter().rev().fold(0, |w, b| w << 8 | u64::from(*b)))
    };
    let partition = if contents.get(SECTOR..SECTOR + 8) == Some(b"EFI PART") {
        let entries = word(SECTOR + 72, 8).ok_or("short GPT header")? as usize * SECTOR;
        let count = word(SECTOR + 80, 4).ok_or("short GPT header")? as usize;
        let size = word(SECTOR + 84, 4).ok_or("short GPT header")? as usize;
        let found = (0..count.min(256)).find_map(|i| {
            let at = entries + i * size;
            (contents.get(at..at + 16)? == AXIOM_PARTITION_TYPE)
                .then(|| Some((word(at + 32, 8)? as usize, word(at + 40, 8)? as usize)))?
        });
        let Some((first, last)) = found else {
            return Err("a disk image without Axiom's partition".into());
        };
        contents
            .get(first * SECTOR..(last + 1) * SECTOR)
            .ok_or("Axiom's partition lies past the image's end")?
    } else {
        contents
    };
    let capacity = partition.len() as u64;
    match StoreHeader::decode(partition, capacity) {
        Ok(header) => {
            let start = FRAMES_OFFSET as usize;
            let end = start + header.frames as usize * Frame::BYTES;
            println!(
                "Axiom partition: boot {}, {} frames, {}",
                header.boot,
                header.frames,
                if header.sealed {
                    "sealed"
                } else {
                    "not sealed"
                }
            );
            Ok(Some(&partition[start..end]))
        }
        Err(StoreError::Empty) if partition.len() != contents.len() => {
            Err("Axiom's partition holds no log".into())
        }
        Err(StoreError::Empty) => Ok(None),
        Err(error) => Err(format!("Axiom's partition header: {error:?}")),
    }
}

/// The commits numbered `from..=to` of a log, one line each: what `diff`
/// found is read in its context this way.
pub fn show(frames: &[Frame], from: u64, to: u64) -> Report {
    let lines: Vec<String> = records(frames)
        .iter()
        .filter(|record| (from..=to).contains(&record[0]))
        .map(describe)
        .collect();
    let ok = !lines.is_empty();
    let lines = if ok {
        lines
    } else {
        vec![format!("the log has no commits numbered {from} to {to}")]
    };
    Report { lines, ok }
}

/// `cargo xtask axiom replay FILE | diff [--until N] A B | show FILE [FROM [TO]]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    const USAGE: &str =
        "usage: cargo xtask axiom replay FILE | diff [--until N] A B | show FILE [FROM [TO]]";
    let number = |n: &str| {
        n.parse::<u64>()
            .map_err(|_| format!("{n}: not a commit number\n{USAGE}"))
    };
    let report = match args.as_slice() {
        ["replay", file] => replay(&load(file)?),
        ["show", file] => show(&load(file)?, 0, u64::MAX),
        ["show", file, from] => show(&load(file)?, number(from)?, u64::MAX),
        ["show", file, from, to] => show(&load(file)?, number(from)?, number(to)?),
        ["diff", a, b] => diff(&load(a)?, &load(b)?, None),
        ["diff", "--until", n, a, b] => diff(&load(a)?, &load(b)?, Some(number(n)?)),
        _ => return Err(USAGE.into()),
    };
    for line in &report.lines {
        println!("{line}");
    }
    if report.ok {
        Ok(())
    } else {
        Err("the Axiom log does not check out".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zos_axiom::{apply, Chain, Obj, State, VERSION};

    /// A small log as axiomd writes it: header, commits with their chain
    /// heads, and state frames with the kernel's hash at two points.
    fn synthetic() -> Vec<Frame> {
        let commits = [
            Commit::TableCreated {
                table: 1,
                max_slots: 64,
            },
            Commit::ProcessCreated {
                process: Obj::new(2, 0),
                pid: 1,
                table: 1,
                creator: Obj::NONE,
                limit: 1 << 24,
            },
            Commit::ObjectCreated {
                object: Obj::new(3, 0),
                kind: 4,
                detail: 0,
            },
            Commit::CapInserted {
                node: 0,
                parent: zos_axiom::NO_NODE,
                table: 1,
                slot: 5,
                object: Obj::new(3, 0),
                rights: 7,
                badge: 0,
            },
            Commit::QuotaUsed {
                process: Obj::new(2, 0),
                used: 4096,
            },
        ];
        let mut chain = Chain::new();
        let mut state = State::default();
        let mut frames = vec![Frame::Header {
            version: VERSION,
            genesis: chain.head,
        }];
        for (seq, commit) in commits.iter().enumerate() {
            let record = commit.encode(seq as u64);
            let head = chain.link(&record);
            frames.push(Frame::Commit { record, head });
            apply(&mut state, commit).expect("the synthetic commits apply");
            if seq == 2 || seq == 4 {
                frames.push(Frame::State {
                    commits: seq as u64 + 1,
                    hash: state.hash(),
                });
            }
        }
        frames
    }

    fn as_text(frames: &[Frame]) -> String {
        let mut text = String::from("boot noise\r\nAXIOM-BEGIN\r\n");
        for frame in frames {
            let line: String = frame.encode().iter().map(|b| format!("{b:02x}")).collect();
            text.push_str(&format!("AXIOM {line}\r\n"));
        }
        text + &format!("AXIOM-END {}\r\n/ # ", frames.len())
    }

    #[test]
    fn a_good_log_replays_from_binary_and_from_a_serial_log() {
        let frames = synthetic();
        let binary: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        assert_eq!(parse_log(&binary), Ok(frames.clone()));
        assert_eq!(parse_log(as_text(&frames).as_bytes()), Ok(frames.clone()));
        let report = replay(&frames);
        assert!(report.ok, "{:?}", report.lines);
        assert_eq!(report.lines.len(), 3);
        assert!(report.lines[0].starts_with("state at 3 commits: "));
        assert!(report.lines[0].ends_with(" matches"));
        assert!(report.lines[2].starts_with("commits 5, chain ok, head "));
        assert_eq!(diff(&frames, &frames, None).lines, ["identical 5 commits"]);
    }

    #[test]
    fn show_lists_the_commits_in_range() {
        let frames = synthetic();
        let report = show(&frames, 1, 2);
        assert!(report.ok, "{:?}", report.lines);
        assert_eq!(report.lines.len(), 2);
        assert!(report.lines[0].starts_with("#1 ProcessCreated"));
        assert!(report.lines[1].starts_with("#2 ObjectCreated"));
        assert_eq!(show(&frames, 0, u64::MAX).lines.len(), 5);
        let report = show(&frames, 9, 12);
        assert!(!report.ok);
        assert_eq!(report.lines, ["the log has no commits numbered 9 to 12"]);
    }

    #[test]
    fn a_flipped_byte_is_pinned_to_its_commit() {
        let frames = synthetic();
        let mut text = as_text(&frames);
        // Frame 3 is commit 2 (frame 0 the header): flip one hex digit of a
        // field word of its record.
        let line_start = text
            .match_indices("AXIOM ")
            .nth(3)
            .map(|(i, _)| i + LINE_PREFIX.len())
            .expect("frame line");
        let at = line_start + 2 * 8 * 3 + 1;
        let flipped = if &text[at..at + 1] == "0" { "1" } else { "0" };
        text.replace_range(at..at + 1, flipped);
        let damaged = parse_log(text.as_bytes()).expect("still parses");
        let report = replay(&damaged);
        assert!(!report.ok);
        assert_eq!(
            report.lines.last().map(String::as_str),
            Some("chain broken at commit 2")
        );
        let report = diff(&frames, &damaged, None);
        assert!(!report.ok);
        assert_eq!(report.lines[0], "first difference at commit 2");
        // A prefix that ends before the damage is identical; one past the
        // end of a log is refused.
        let report = diff(&frames, &damaged, Some(2));
        assert!(report.ok, "{:?}", report.lines);
        assert_eq!(report.lines, ["identical 2 commits"]);
        let report = diff(&frames, &damaged, Some(3));
        assert_eq!(report.lines[0], "first difference at commit 2");
        let report = diff(&frames, &damaged, Some(6));
        assert!(!report.ok);
        assert_eq!(
            report.lines,
            [
                "A has 5 commits, fewer than the 6 to compare",
                "B has 5 commits, fewer than the 6 to compare"
            ]
        );
    }

    #[test]
    fn a_wrong_state_hash_and_a_loss_are_reported() {
        let mut frames = synthetic();
        if let Some(Frame::State { hash, .. }) = frames.get_mut(4) {
            hash[0] ^= 1;
        }
        let report = replay(&frames);
        assert!(!report.ok);
        assert!(report.lines[0].contains("MISMATCH"), "{:?}", report.lines);
        // Commits 0 and 1 lost: axiomd chains the records it read, so the
        // chain still checks; the state does not.
        let mut chain = Chain::new();
        let mut frames = vec![synthetic()[0], Frame::Loss { first: 0, count: 2 }];
        for frame in &synthetic()[3..] {
            frames.push(match *frame {
                Frame::Commit { record, .. } => Frame::Commit {
                    record,
                    head: chain.link(&record),
                },
                other => other,
            });
        }
        let report = replay(&frames);
        assert!(!report.ok);
        assert!(
            report.lines[0].contains("not checked"),
            "{:?}",
            report.lines
        );
        assert_eq!(report.lines[2], "lost 2 commits to a full ring");
        assert!(report.lines[3].contains("chain ok"), "{:?}", report.lines);
    }

    /// A disk image: a GPT whose second entry is Axiom's partition (LBA
    /// 40..=71), holding `frames` under a stored-log header.
    fn disk_image(frames: &[Frame], sealed: bool) -> Vec<u8> {
        let mut image = vec![0u8; 80 * SECTOR];
        image[SECTOR..SECTOR + 8].copy_from_slice(b"EFI PART");
        image[SECTOR + 72..SECTOR + 80].copy_from_slice(&2u64.to_le_bytes());
        image[SECTOR + 80..SECTOR + 84].copy_from_slice(&4u32.to_le_bytes());
        image[SECTOR + 84..SECTOR + 88].copy_from_slice(&128u32.to_le_bytes());
        let entry = 2 * SECTOR + 128;
        image[entry..entry + 16].copy_from_slice(&AXIOM_PARTITION_TYPE);
        image[entry + 32..entry + 40].copy_from_slice(&40u64.to_le_bytes());
        image[entry + 40..entry + 48].copy_from_slice(&71u64.to_le_bytes());
        let header = StoreHeader {
            version: VERSION,
            boot: 7,
            frames: frames.len() as u64,
            sealed,
            full: false,
        };
        let start = 40 * SECTOR;
        image[start..start + SECTOR].copy_from_slice(&header.encode());
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        let at = start + FRAMES_OFFSET as usize;
        image[at..at + bytes.len()].copy_from_slice(&bytes);
        image
    }

    #[test]
    fn a_disk_image_yields_its_stored_log() {
        let frames = synthetic();
        let image = disk_image(&frames, true);
        let stored = stored_log(&image).expect("a GPT image").expect("a log");
        assert_eq!(parse_log(stored), Ok(frames.clone()));
        // The partition alone.
        let partition = &image[40 * SECTOR..72 * SECTOR];
        assert_eq!(stored_log(partition), Ok(Some(stored)));
        // A log file is not a stored log.
        let binary: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        assert_eq!(stored_log(&binary), Ok(None));
        // An image without the partition, or with a damaged header.
        let mut other = image.clone();
        other[2 * SECTOR + 128] ^= 1;
        assert!(stored_log(&other).is_err());
        let mut damaged = image.clone();
        damaged[40 * SECTOR + 20] ^= 1;
        assert!(stored_log(&damaged).is_err());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(parse_log(b""), Err(LogError::Empty));
        assert_eq!(parse_log(b"AXIOM zz\n"), Err(LogError::BadLine { line: 1 }));
        let mut binary: Vec<u8> = synthetic().iter().flat_map(|f| f.encode()).collect();
        binary.pop();
        assert!(matches!(
            parse_log(&binary),
            Err(LogError::Truncated { .. })
        ));
        let mut frames = synthetic();
        frames.remove(0);
        assert!(!replay(&frames).ok);
        // Commit 1 removed: the chain breaks where it was due.
        let mut frames = synthetic();
        frames.remove(2);
        let report = replay(&frames);
        assert_eq!(
            report.lines.last().map(String::as_str),
            Some("chain broken at commit 1")
        );
    }
}
