//! `ktest netbuf`: the netstack's bulk socket path (`ShareBuffer`,
//! `ReadShared`, `WriteShared`) against a client that sends it bad buffers
//! and lengths. Each must get an error answer, and the netstack must keep
//! serving (`EINVAL` where the socket's own state would give another error,
//! so a missing length check shows): afterwards a loopback connection moves 60,000 patterned bytes
//! through `posix::write`/`posix::read` (the shared buffers) intact.
//! Prints `NETBUF passed N failed M`; exit status 0 only if nothing failed.

use libzos::net::{self, SockAddr, SocketKind};
use libzos::posix;
use libzos::println;
use libzos::proto::errno::EINVAL;
use libzos::proto::io::{IoRequest, IoResponse};
use libzos::proto::net::{NetRequest, NetResponse};
use libzos::{ipc, sys};

/// The answer to `request` carrying `caps` on handle `slot`: `Some(errno)`
/// for an error answer, `None` for anything else (or no answer).
fn error_of(slot: u64, request: &IoRequest, caps: &[u64]) -> Option<i32> {
    let reply = ipc::call(slot, request, caps).ok()?;
    match reply.decode::<IoResponse>() {
        Some(IoResponse::Err(e)) => Some(e),
        _ => None,
    }
}

fn answers_ok(slot: u64, request: &IoRequest, caps: &[u64]) -> bool {
    ipc::call(slot, request, caps)
        .ok()
        .is_some_and(|r| r.decode::<IoResponse>() == Some(IoResponse::Ok))
}

pub fn run() -> i64 {
    let mut passed = 0;
    let mut failed = 0;
    let mut check = |name: &str, ok: bool| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
            println!("NETBUF FAIL {name}");
        }
    };
    // A socket handle of our own, asked for directly (not a descriptor).
    let endpoint = posix::proc_lookup("net").unwrap_or(u64::MAX);
    let request = NetRequest::Socket {
        kind: SocketKind::Stream,
        nonblocking: false,
    };
    let socket = ipc::call(endpoint, &request, &[]).ok().and_then(|reply| {
        match (reply.decode::<NetResponse>(), reply.caps.as_slice()) {
            (Some(NetResponse::Socket), &[cap]) => Some(cap),
            _ => None,
        }
    });
    let Some(slot) = socket else {
        println!("NETBUF no netstack");
        return 1;
    };
    // No capability, and one that is no Memory object (an endpoint).
    check(
        "ShareBuffer without a capability",
        error_of(slot, &IoRequest::ShareBuffer, &[]).is_some(),
    );
    let endpoint = sys::cap_copy(slot, sys::SELF, sys::NONE).unwrap_or(u64::MAX);
    check(
        "ShareBuffer with an endpoint",
        error_of(slot, &IoRequest::ShareBuffer, &[endpoint]).is_some(),
    );
    // Too big (1 MiB: the netstack takes at most 256 KiB).
    if let Ok(big) = sys::memory_create(1 << 20) {
        check(
            "ShareBuffer of 1 MiB",
            error_of(slot, &IoRequest::ShareBuffer, &[big]).is_some(),
        );
    }
    // Lengths before any buffer, then past an 8 KiB buffer.
    let write = |len| IoRequest::WriteShared { len, offset: None };
    check(
        "WriteShared without a buffer",
        error_of(slot, &write(16), &[]) == Some(EINVAL),
    );
    match sys::memory_create(8192) {
        Ok(small) => {
            check(
                "ShareBuffer of 8 KiB",
                answers_ok(slot, &IoRequest::ShareBuffer, &[small]),
            );
            check(
                "WriteShared past the buffer",
                error_of(slot, &write(8193), &[]) == Some(EINVAL),
            );
            check(
                "WriteShared of u32::MAX",
                error_of(slot, &write(u32::MAX), &[]) == Some(EINVAL),
            );
        }
        Err(_) => check("an 8 KiB Memory object", false),
    }
    let _ = sys::cap_delete(slot);
    check("the netstack keeps serving", loopback_intact());
    println!("NETBUF passed {passed} failed {failed}");
    i64::from(failed != 0)
}

/// 60,000 patterned bytes through a loopback connection, written and read
/// in large calls (the shared-buffer path), arrive intact.
fn loopback_intact() -> bool {
    const LEN: usize = 60_000;
    let addr = SockAddr {
        addr: [127, 0, 0, 1],
        port: 47_123,
    };
    let (Ok(listener), Ok(client)) = (
        net::socket(net::AF_INET, net::SOCK_STREAM, 0),
        net::socket(net::AF_INET, net::SOCK_STREAM, 0),
    ) else {
        return false;
    };
    let sent: alloc::vec::Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let mut got = alloc::vec![0u8; LEN];
    let mut done = 0;
    let moved = (|| -> Result<(), posix::Errno> {
        net::bind(listener, &addr)?;
        net::listen(listener, 1)?;
        net::connect(client, &addr)?;
        posix::write_all(client, &sent)?;
        let (conn, _) = net::accept(listener)?;
        while done < LEN {
            let n = posix::read(conn, &mut got[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        posix::close(conn)
    })();
    let _ = (posix::close(client), posix::close(listener));
    moved.is_ok() && done == LEN && got == sent
}
