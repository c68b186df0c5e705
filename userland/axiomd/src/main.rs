//! axiomd: the keeper of the kernel's Axiom log (docs/axiom.md).
//!
//! Holds the only Audit capability besides init's (grant "axiom"). Every
//! ~100 ms (a timer thread calls its own endpoint) and before every request
//! it drains the kernel's commit and SysLog rings into a
//! `zos_axiomd_core::Recorder`: the hash-chained commit log since boot, as
//! frames, and the newest syscalls with their callers' pids. Clients
//! (`axiom` in zbox) ask for the chain head, the kernel's state hash (which
//! is then recorded in the log), recent syscalls and the frames themselves
//! (`zos_proto::axiom`). With a disk that has Axiom's partition (devmgr
//! opens it only on axiomd's "axiom-authority:devmgr" grant), it first
//! checks the log the previous boot left there and says so on the console,
//! then writes this boot's log there as it drains, and seals it when init
//! powers off (`zos_axiomd_core::persist`). It starts right after devmgr;
//! the kernel's ring holds the commits of the boot before that.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use libzos::block::BlockDisk;
use libzos::ipc::{self, Received, Server};
use libzos::sys::{self, AxiomStream};
use libzos::{abi::rights, dprintln};
use zos_axiom::Digest;
use zos_axiomd_core::persist::{self, Sectors, StoredLog, BATCH_FRAMES};
use zos_axiomd_core::store::Mark;
use zos_axiomd_core::{AuditSource, ReadResult, RecordError, Recorder, Ring};
use zos_proto::axiom::{AxiomRequest, AxiomResponse, MAX_CALLS_PER_REPLY, MAX_FRAMES_PER_REPLY};
use zos_proto::block::DevRequest;
use zos_proto::errno::*;
use zos_proto::proc::ProcRequest;
use zos_proto::start::slots;

libzos::entry!(main);

/// Badge of the timer thread's capability to this service.
const TICK_BADGE: u64 = 0x6178_696f_6d74;
/// Bytes of the buffer the rings are read into (small: axiomd's memory
/// counts against everyone's; a drain takes more reads instead).
const DRAIN_BUFFER_BYTES: usize = 16 * 1024;
/// How often the rings are drained when nobody asks.
const DRAIN_INTERVAL_NS: u64 = 100_000_000;
/// When the first drain comes if nobody asks sooner: the boot's commits wait
/// in the kernel's ring (65,536) until the boot has reached its prompt and
/// gone idle. Chained at once, at axiomd's start behind devmgr, their
/// SHA-256 in software was 16 % of the instructions to the prompt; at one
/// second the catch-up met the boot's last steps at a guest time that
/// follows the host (idle warps), which broke two boots' equality.
const FIRST_DRAIN_NS: u64 = 5_000_000_000;

fn main(_arg: u64) -> i64 {
    let (Some(endpoint), Some(audit)) = (
        libzos::rt::granted("endpoint"),
        libzos::rt::granted("axiom"),
    ) else {
        dprintln!("axiomd: needs the \"endpoint\" and \"axiom\" grants");
        return 1;
    };
    let mut kernel = Kernel { audit };
    let mut recorder = Recorder::new();
    let mut buffer = vec![0u8; DRAIN_BUFFER_BYTES];
    match sys::cap_mint(endpoint, sys::NONE, rights::WRITE, TICK_BADGE) {
        Ok(tick) => {
            if libzos::thread::spawn_with_stack(ticker, tick, 100, 16 * 1024).is_err() {
                dprintln!("axiomd: no timer thread: the rings are read only on requests");
            }
        }
        Err(_) => dprintln!("axiomd: no timer capability: the rings are read only on requests"),
    }
    let _ = ipc::call(slots::PROC, &ProcRequest::Ready, &[]);
    let mut storage = open_storage();
    if let Some(storage) = storage.as_mut() {
        storage.catch_up(&recorder);
    }
    let server = Server::new(endpoint);
    let mut next = server.recv();
    let mut reported_loss = (0, 0);
    let mut started = false;
    loop {
        // The first checkpoint, at the first tick or request: the state
        // hash of the boot so far, in the log from the start.
        if !started {
            started = true;
            match recorder.checkpoint(&mut kernel, &mut buffer) {
                Ok(_) => {}
                Err(RecordError::Source(e)) => {
                    dprintln!("axiomd: cannot read the Axiom rings: {}", e.name());
                    return 1;
                }
                Err(_) => dprintln!("axiomd: commits were lost before axiomd started"),
            }
        }
        let response = match &next {
            Ok(message) => {
                let response = handle(&mut recorder, &mut kernel, &mut buffer, message);
                let sealing = matches!(response, AxiomResponse::Sealed { .. });
                if let Some(stored) = storage.as_mut() {
                    if message.badge == TICK_BADGE || sealing {
                        stored.catch_up(&recorder);
                    }
                    if sealing && !stored.failed && !stored.seal() {
                        stored.failed = true;
                    }
                }
                if storage.as_ref().is_some_and(|stored| stored.failed) {
                    storage = None;
                }
                match response {
                    AxiomResponse::Sealed { commits, .. } => AxiomResponse::Sealed {
                        commits,
                        stored: storage.is_some(),
                    },
                    other => other,
                }
            }
            Err(_) => AxiomResponse::Err(EINVAL),
        };
        let lost = (recorder.commits_lost(), recorder.calls_lost());
        if lost.0 > reported_loss.0 {
            dprintln!(
                "axiomd: {} commits lost to a full commit ring (a Loss frame in the log)",
                lost.0 - reported_loss.0
            );
        }
        // SysLog loss is the bounded ring doing its job under load (the
        // records' sequence numbers show the gaps), so the console hears
        // of it once per boot; commit loss breaks replay and is always told.
        if lost.1 > 0 && reported_loss.1 == 0 {
            dprintln!(
                "axiomd: {} syscall records lost to a full SysLog ring (later losses show as gaps in `axiom log`)",
                lost.1
            );
        }
        reported_loss = lost;
        let bytes = ipc::encode_vec(&response).unwrap_or_default();
        next = server.reply_recv_raw(&bytes, &[]);
    }
}

/// Calls the service every [`DRAIN_INTERVAL_NS`] so it drains the rings,
/// the first time [`FIRST_DRAIN_NS`] after the start.
fn ticker(tick: u64) {
    sys::sleep_until(sys::clock_ns() + FIRST_DRAIN_NS);
    loop {
        let _ = ipc::call_raw(tick, &[], &[]);
        sys::sleep_until(sys::clock_ns() + DRAIN_INTERVAL_NS);
    }
}

/// Axiom's partition, as `persist` reads and writes it.
struct Partition(BlockDisk);

impl Sectors for Partition {
    type Error = i32;
    fn sectors(&self) -> u64 {
        self.0.sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), i32> {
        self.0.read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), i32> {
        self.0.write(sector, data)
    }
    fn flush(&mut self) -> Result<(), i32> {
        self.0.flush()
    }
}

/// This boot's log on the partition and where writing it stands.
struct Storage {
    disk: Partition,
    log: StoredLog,
    /// Where the last read of the recorder's frames stopped.
    resume: Option<Mark>,
    /// A write failed: the log is kept in memory only from then on.
    failed: bool,
    told_full: bool,
}

impl Storage {
    /// Writes every frame the recorder holds that the partition does not.
    fn catch_up(&mut self, recorder: &Recorder) {
        loop {
            let frames = recorder.stored_frames(self.log.frames(), BATCH_FRAMES, &mut self.resume);
            if let Err(e) = self.log.append(&mut self.disk, &frames) {
                dprintln!("axiomd: writing Axiom's partition failed (errno {e}): the log is kept in memory only");
                self.failed = true;
                return;
            }
            if self.log.is_full() && !self.told_full {
                dprintln!(
                    "axiomd: Axiom's partition is full after {} frames: later frames stay in memory",
                    self.log.frames()
                );
                self.told_full = true;
            }
            if frames.len() < BATCH_FRAMES || self.log.is_full() {
                return;
            }
        }
    }

    /// Seals the stored log; false when that failed.
    fn seal(&mut self) -> bool {
        match self.log.seal(&mut self.disk) {
            Ok(()) => {
                dprintln!(
                    "axiomd: log sealed on Axiom's partition ({} frames, boot {})",
                    self.log.frames(),
                    self.log.boot()
                );
                true
            }
            Err(e) => {
                dprintln!("axiomd: sealing the log on Axiom's partition failed (errno {e})");
                false
            }
        }
    }
}

/// Opens Axiom's partition (when init granted the right to ask devmgr for
/// it and a disk has one), checks the previous boot's log on it and starts
/// this boot's.
fn open_storage() -> Option<Storage> {
    let Some(devmgr) = libzos::rt::granted("axiom-authority:devmgr") else {
        dprintln!("axiomd: no device manager: the log is kept in memory only");
        return None;
    };
    let handle = match libzos::block::devmgr_open(Some(devmgr), &DevRequest::OpenAxiomLog) {
        Ok(handle) => handle,
        Err(ENODEV) => {
            dprintln!("axiomd: no Axiom partition: the log is kept in memory only");
            return None;
        }
        Err(e) => {
            dprintln!(
                "axiomd: cannot open Axiom's partition (errno {e}): the log is kept in memory only"
            );
            return None;
        }
    };
    let disk = match BlockDisk::attach(handle, libzos::abi::layout::DMA_WINDOW) {
        Ok(disk) if !disk.read_only() => disk,
        Ok(_) => {
            dprintln!("axiomd: Axiom's partition is read-only: the log is kept in memory only");
            return None;
        }
        Err(e) => {
            dprintln!(
                "axiomd: cannot use Axiom's partition (errno {e}): the log is kept in memory only"
            );
            return None;
        }
    };
    let mut disk = Partition(disk);
    let started = sys::clock_ns();
    let previous = persist::check_previous(&mut disk);
    let took_ms = (sys::clock_ns() - started) / 1_000_000;
    dprintln!("axiomd: {} (checked in {took_ms} ms)", previous.describe());
    let log = match StoredLog::start(&mut disk, previous.next_boot()) {
        Ok(log) => log,
        Err(e) => {
            dprintln!("axiomd: writing Axiom's partition failed (errno {e}): the log is kept in memory only");
            return None;
        }
    };
    dprintln!(
        "axiomd: this boot's log goes to Axiom's partition (boot {})",
        log.boot()
    );
    Some(Storage {
        disk,
        log,
        resume: None,
        failed: false,
        told_full: false,
    })
}

/// The kernel's Axiom calls on the Audit capability.
struct Kernel {
    audit: u64,
}

impl AuditSource for Kernel {
    type Error = sys::Error;

    fn read(
        &mut self,
        ring: Ring,
        cursor: u64,
        buffer: &mut [u8],
    ) -> Result<ReadResult, sys::Error> {
        let stream = match ring {
            Ring::Commits => AxiomStream::Commits,
            Ring::SysLog => AxiomStream::SysLog,
        };
        let (count, next, lost) = sys::axiom_read(self.audit, stream, cursor, buffer)?;
        Ok(ReadResult { count, next, lost })
    }

    fn state(&mut self) -> Result<(u64, Digest), sys::Error> {
        let mut hash = [0u8; 32];
        let commits = sys::axiom_state(self.audit, &mut hash)?;
        Ok((commits, hash))
    }
}

fn handle(
    recorder: &mut Recorder,
    kernel: &mut Kernel,
    buffer: &mut [u8],
    message: &Received,
) -> AxiomResponse {
    ipc::drop_caps(&message.caps);
    if let Err(e) = recorder.drain(kernel, buffer) {
        dprintln!("axiomd: reading the Axiom rings failed: {}", e.name());
        return AxiomResponse::Err(EIO);
    }
    if message.badge == TICK_BADGE {
        return AxiomResponse::Err(0);
    }
    let Some(request) = message.decode::<AxiomRequest>() else {
        return AxiomResponse::Err(EINVAL);
    };
    match request {
        AxiomRequest::Head => {
            let (commits, head) = recorder.head();
            AxiomResponse::Head { commits, head }
        }
        AxiomRequest::Seal => match recorder.checkpoint(kernel, buffer) {
            Ok(point) => AxiomResponse::Sealed {
                commits: point.commits,
                stored: false,
            },
            Err(_) => {
                dprintln!("axiomd: no state hash for the seal");
                AxiomResponse::Err(EIO)
            }
        },
        AxiomRequest::State => match recorder.checkpoint(kernel, buffer) {
            Ok(point) => AxiomResponse::State {
                commits: point.commits,
                hash: point.hash,
                head: point.head,
            },
            Err(RecordError::Source(e)) => {
                dprintln!("axiomd: AxiomState failed: {}", e.name());
                AxiomResponse::Err(EIO)
            }
            Err(RecordError::StateBehind { state, read }) => {
                dprintln!(
                    "axiomd: the kernel's state hash covers {state} commits, {read} already read"
                );
                AxiomResponse::Err(EIO)
            }
            Err(RecordError::StateOvertaken { state, read }) => {
                dprintln!("axiomd: commits lost before the state point ({state}; read to {read})");
                AxiomResponse::Err(EIO)
            }
        },
        AxiomRequest::Log { pid, count, before } => {
            let count = count.min(MAX_CALLS_PER_REPLY) as usize;
            AxiomResponse::Calls(recorder.calls(pid, count, before))
        }
        AxiomRequest::Export { from_frame, max } => AxiomResponse::Frames {
            total: recorder.frame_count(),
            bytes: recorder.export(from_frame, max.min(MAX_FRAMES_PER_REPLY)),
        },
    }
}
