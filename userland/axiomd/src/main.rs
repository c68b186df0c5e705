//! axiomd: the keeper of the kernel's Axiom log (docs/axiom.md).
//!
//! Holds the only Audit capability besides init's (grant "axiom"). Every
//! ~100 ms (a timer thread calls its own endpoint) and before every request
//! it drains the kernel's commit and SysLog rings into a
//! `zos_axiomd_core::Recorder`: the hash-chained commit log since boot, as
//! frames, and the newest syscalls with their callers' pids. Clients
//! (`axiom` in zbox) ask for the chain head, the kernel's state hash (which
//! is then recorded in the log), recent syscalls and the frames themselves
//! (`zos_proto::axiom`). It starts first, so boot-time commits are read
//! before the ring wraps.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use libzos::ipc::{self, Received, Server};
use libzos::sys::{self, AxiomStream};
use libzos::{abi::rights, dprintln};
use zos_axiom::Digest;
use zos_axiomd_core::{AuditSource, ReadResult, RecordError, Recorder, Ring};
use zos_proto::axiom::{AxiomRequest, AxiomResponse, MAX_CALLS_PER_REPLY, MAX_FRAMES_PER_REPLY};
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
    // The first checkpoint: the boot's state hash, in the log from the start.
    match recorder.checkpoint(&mut kernel, &mut buffer) {
        Ok(_) => {}
        Err(RecordError::Source(e)) => {
            dprintln!("axiomd: cannot read the Axiom rings: {}", e.name());
            return 1;
        }
        Err(_) => dprintln!("axiomd: commits were lost before axiomd started"),
    }
    match sys::cap_mint(endpoint, sys::NONE, rights::WRITE, TICK_BADGE) {
        Ok(tick) => {
            if libzos::thread::spawn_with_stack(ticker, tick, 100, 16 * 1024).is_err() {
                dprintln!("axiomd: no timer thread: the rings are read only on requests");
            }
        }
        Err(_) => dprintln!("axiomd: no timer capability: the rings are read only on requests"),
    }
    let _ = ipc::call(slots::PROC, &ProcRequest::Ready, &[]);
    let server = Server::new(endpoint);
    let mut next = server.recv();
    let mut reported_loss = 0;
    loop {
        let response = match &next {
            Ok(message) => handle(&mut recorder, &mut kernel, &mut buffer, message),
            Err(_) => AxiomResponse::Err(EINVAL),
        };
        let lost = recorder.calls_lost();
        if lost > reported_loss {
            dprintln!(
                "axiomd: {} syscall records lost to a full SysLog ring",
                lost - reported_loss
            );
            reported_loss = lost;
        }
        let bytes = ipc::encode_vec(&response).unwrap_or_default();
        next = server.reply_recv_raw(&bytes, &[]);
    }
}

/// Calls the service every [`DRAIN_INTERVAL_NS`] so it drains the rings.
fn ticker(tick: u64) {
    loop {
        sys::sleep_until(sys::clock_ns() + DRAIN_INTERVAL_NS);
        let _ = ipc::call_raw(tick, &[], &[]);
    }
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
