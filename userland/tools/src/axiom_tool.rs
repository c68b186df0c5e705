//! `axiom`: asks `axiomd` about the kernel's Axiom log and prints the
//! answers (the chain head, the kernel's state hash, recent syscalls, the
//! frames for `cargo xtask axiom replay`). Parsing and line formats are
//! `zos_tools_core::axiom`.

use crate::io::write_out;
use crate::users::failed;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::abi::Sys;
use libzos::posix::{self, Errno};
use libzos::{ipc, sys};
use zos_proto::axiom::{
    AxiomRequest, AxiomResponse, CallRecord, MAX_CALLS_PER_REPLY, MAX_FRAMES_PER_REPLY,
};
use zos_tools_core::axiom::{call_line, hex, parse, AxiomCommand, FRAME_LINE_PREFIX};
use zos_tools_core::Failure;

/// Bytes of one frame (`zos_axiom::Frame::BYTES`).
const FRAME_BYTES: usize = 88;

/// One request to axiomd, on an endpoint looked up once.
struct Axiomd {
    endpoint: u64,
}

impl Axiomd {
    fn connect() -> Result<Self, Failure> {
        let endpoint =
            posix::proc_lookup("axiomd").map_err(|e| failed("axiomd is not running", e))?;
        Ok(Self { endpoint })
    }

    fn ask(&self, request: &AxiomRequest) -> Result<AxiomResponse, Failure> {
        let reply = ipc::call(self.endpoint, request, &[])
            .map_err(|_| Failure::Error("axiomd did not answer".into()))?;
        match reply.decode::<AxiomResponse>() {
            Some(AxiomResponse::Err(errno)) => Err(failed("axiomd", Errno(errno))),
            Some(other) => Ok(other),
            None => Err(Failure::Error("malformed answer from axiomd".into())),
        }
    }
}

impl Drop for Axiomd {
    fn drop(&mut self) {
        let _ = sys::cap_delete(self.endpoint);
    }
}

fn unexpected() -> Failure {
    Failure::Error("unexpected answer from axiomd".into())
}

pub fn axiom(args: &[&str]) -> Result<(), Failure> {
    let command = parse(args)?;
    let axiomd = Axiomd::connect()?;
    match command {
        AxiomCommand::Head => {
            let AxiomResponse::Head { commits, head } = axiomd.ask(&AxiomRequest::Head)? else {
                return Err(unexpected());
            };
            write_out(format!("head {commits} {}\n", hex(&head)).as_bytes())
        }
        AxiomCommand::State => {
            let AxiomResponse::State { commits, hash, .. } = axiomd.ask(&AxiomRequest::State)?
            else {
                return Err(unexpected());
            };
            write_out(format!("state {commits} {}\n", hex(&hash)).as_bytes())
        }
        AxiomCommand::Log { pid, count } => log(&axiomd, pid, count),
        AxiomCommand::Export => export(&axiomd),
    }
}

/// Before the machine stops: axiomd records the kernel's state hash and
/// seals the log on Axiom's partition (poweroff and reboot). Silent when
/// axiomd does not run; a failure is said, and the power-off goes on.
pub fn seal() {
    let Ok(axiomd) = Axiomd::connect() else {
        return;
    };
    if let Err(Failure::Error(reason)) = axiomd.ask(&AxiomRequest::Seal) {
        libzos::eprintln!("sealing the Axiom log: {reason}");
    }
}

/// The newest `count` syscalls (of `pid`), oldest first, a page at a time.
fn log(axiomd: &Axiomd, pid: Option<u32>, count: u32) -> Result<(), Failure> {
    let mut pages: Vec<Vec<CallRecord>> = Vec::new();
    let mut left = count;
    let mut before = None;
    while left > 0 {
        let request = AxiomRequest::Log {
            pid,
            count: left.min(MAX_CALLS_PER_REPLY),
            before,
        };
        let AxiomResponse::Calls(page) = axiomd.ask(&request)? else {
            return Err(unexpected());
        };
        let Some(oldest) = page.first() else {
            break;
        };
        before = Some(oldest.seq);
        left = left.saturating_sub(page.len() as u32);
        pages.push(page);
    }
    let mut text = String::new();
    for call in pages.iter().rev().flatten() {
        let name = Sys::from_number(u64::from(call.number)).map(|sys| format!("{sys:?}"));
        text.push_str(&call_line(call, name.as_deref()));
        text.push('\n');
    }
    write_out(text.as_bytes())
}

/// `AXIOM-BEGIN`, every frame as `AXIOM <hex>`, `AXIOM-END <frames>`.
fn export(axiomd: &Axiomd) -> Result<(), Failure> {
    write_out(b"AXIOM-BEGIN\n")?;
    let mut from = 0u64;
    loop {
        let request = AxiomRequest::Export {
            from_frame: from,
            max: MAX_FRAMES_PER_REPLY,
        };
        let AxiomResponse::Frames { bytes, .. } = axiomd.ask(&request)? else {
            return Err(unexpected());
        };
        if bytes.is_empty() {
            break;
        }
        let mut text = String::new();
        for frame in bytes.chunks(FRAME_BYTES) {
            text.push_str(FRAME_LINE_PREFIX);
            text.push_str(&hex(frame));
            text.push('\n');
        }
        write_out(text.as_bytes())?;
        from += (bytes.len() / FRAME_BYTES) as u64;
    }
    write_out(format!("AXIOM-END {from}\n").as_bytes())
}
