//! The shared-memory pipe ring (docs/init.md) against a peer that scribbles on
//! it: ktest attaches a pipe's ring the way libzos does, writes impossible
//! positions and a lock nobody releases into its header, and checks that the
//! reading side gets `EIO` (libzos) or an error answer (init serving a raw
//! `Read`), never a fault, and that init keeps serving.

use crate::check;
use libzos::abi::map_flags;
use libzos::posix::{self, Errno};
use libzos::println;
use libzos::proto::errno::EIO;
use libzos::proto::io::{IoRequest, IoResponse};
use libzos::proto::proc::{ProcRequest, ProcResponse};
use libzos::proto::ring::{RingHeader, CAPACITY, RING_BYTES};
use libzos::{ipc, sys};

/// Where ktest maps the ring it scribbles on (away from libzos's windows).
const SCRIBBLE_VA: u64 = 0x0000_6100_0000_0000;

pub fn test() {
    let ok = posix::pipe().and_then(|(r, w)| {
        posix::write(w, b"ring")?;
        let mut out = [0u8; 8];
        let n = posix::read(r, &mut out)?;
        let _ = (posix::close(r), posix::close(w));
        Ok(&out[..n] == b"ring")
    });
    check("pipe ring moves bytes", ok == Ok(true));

    let Ok(reply) = ipc::call(libzos::proto::start::slots::PROC, &ProcRequest::Pipe, &[]) else {
        check("pipe for the scribble test", false);
        return;
    };
    let (Some(ProcResponse::Attached), &[read_end, write_end]) =
        (reply.decode::<ProcResponse>(), reply.caps.as_slice())
    else {
        check("pipe for the scribble test", false);
        return;
    };
    let attached = ipc::call(write_end, &IoRequest::AttachRing, &[]).ok();
    let memory = match attached
        .as_ref()
        .map(|r| (r.decode::<IoResponse>(), r.caps.as_slice()))
    {
        Some((Some(IoResponse::Ring { capacity }), &[memory, ..]))
            if capacity as usize == CAPACITY =>
        {
            memory
        }
        _ => {
            check("ring attached", false);
            return;
        }
    };
    let pages = (RING_BYTES / 4096) as u64;
    if sys::memory_map(memory, sys::SELF, SCRIBBLE_VA, 0, pages, map_flags::WRITE).is_err() {
        check("ring mapped", false);
        return;
    }
    // SAFETY: SCRIBBLE_VA maps the ring's header page (atomics only).
    let header = unsafe { &*(SCRIBBLE_VA as *const RingHeader) };
    use core::sync::atomic::Ordering::SeqCst;
    header.write_pos.store(1 << 40, SeqCst);
    let Ok(fd) = posix::install(read_end) else {
        check("read end installed", false);
        return;
    };
    let mut out = [0u8; 64];
    check(
        "scribbled positions: read fails with EIO",
        posix::read(fd, &mut out) == Err(Errno(EIO)),
    );
    let raw = ipc::call(read_end, &IoRequest::Read { max: 64 }, &[]);
    check(
        "scribbled positions: init answers a raw read with EIO",
        matches!(
            raw.as_ref().ok().and_then(|r| r.decode::<IoResponse>()),
            Some(IoResponse::Err(EIO))
        ),
    );
    // A lock held by nobody alive: the reader gives up with EIO.
    header
        .write_pos
        .store(header.read_pos.load(SeqCst) + 3, SeqCst);
    header.reader_lock.store(0x7fff_fff0, SeqCst);
    check(
        "ring lock never released: read fails with EIO",
        posix::read(fd, &mut out) == Err(Errno(EIO)),
    );
    header.reader_lock.store(0, SeqCst);
    let init_alive = matches!(
        ipc::call(libzos::proto::start::slots::PROC, &ProcRequest::Ids, &[])
            .ok()
            .and_then(|r| r
                .decode::<ProcResponse>()
                .map(|r| matches!(r, ProcResponse::Ids { .. }))),
        Some(true)
    );
    check("init serves after the scribbles", init_alive);
    let _ = sys::memory_unmap(sys::SELF, SCRIBBLE_VA);
    let _ = posix::close(fd);
    let _ = sys::cap_delete(write_end);
    println!("ktest: pipe ring: a scribbled ring gives EIO, init keeps serving");
}
