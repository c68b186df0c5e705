//! `ktest forgery`, the forgery test (acceptance item 8): run as an ordinary
//! user, it tries
//! every way it has to claim someone else's identity or handles, and prints
//! one line per attempt: `FORGERY <what>: refused` when nothing was gained,
//! `FORGERY <what>: GAINED` otherwise, then `FORGERY DONE gained=N`.
//!
//! Attempts: open `/etc/shadow` (the baseline: refused by mode bits); ask init
//! to set its credentials to root (only the identity service's capability may);
//! re-badge its VFS capability as root's (the kernel refuses re-badging); send
//! the VFS a request with uid 0 in its fields (chown to root) and an old-style
//! session request naming pid 1; and use capability slots it was never given
//! (other processes' handle numbers) for reads.
use alloc::string::String;
use libzos::abi::rights;
use libzos::ipc;
use libzos::{fs, posix, println, sys};
use zos_proto::badge;
use zos_proto::fs::{FsRequest, FsResponse};
use zos_proto::io::{IoRequest, IoResponse};
use zos_proto::proc::{Credentials, ProcRequest, ProcResponse};
use zos_proto::start::slots;

fn report(what: &str, gained: bool, count: &mut u32) {
    if gained {
        *count += 1;
    }
    println!(
        "FORGERY {what}: {}",
        if gained { "GAINED" } else { "refused" }
    );
}

fn shadow_readable() -> bool {
    fs::read_file("/etc/shadow").is_ok()
}

pub fn run() -> i64 {
    let mut gained = 0;
    let me = posix::credentials().map(|c| c.euid).unwrap_or(0);
    println!("FORGERY running as uid {me}");
    report("read /etc/shadow", shadow_readable(), &mut gained);

    // init's credential change, asked on our own process-manager capability.
    let request = ProcRequest::SetCredentials {
        pid: posix::getpid(),
        credentials: Credentials::root(),
        new_session: true,
    };
    let answer = ipc::call(slots::PROC, &request, &[]);
    let accepted = answer
        .as_ref()
        .is_ok_and(|r| matches!(r.decode::<ProcResponse>(), Some(ProcResponse::Ok)));
    fs::reconnect();
    let root_now = posix::credentials().is_ok_and(|c| c.euid == 0);
    report("SetCredentials to root", accepted || root_now, &mut gained);

    // Re-badge our VFS capability with root's credential number.
    let vfs = posix::proc_lookup("vfs").unwrap_or(u64::MAX);
    let rebadged = sys::cap_mint(vfs, sys::NONE, rights::WRITE, badge::client(0, 1));
    let mut rebadge_gained = false;
    if let Ok(cap) = rebadged {
        let open = FsRequest::Open {
            path: "/etc/shadow",
            flags: 0,
            mode: 0,
            cwd: "/",
            reuse: 0,
        };
        rebadge_gained = ipc::call(cap, &open, &[])
            .is_ok_and(|r| matches!(r.decode::<FsResponse>(), Some(FsResponse::Attached)));
    }
    report(
        "re-badge the VFS capability as root",
        rebadge_gained,
        &mut gained,
    );

    // uid 0 in a request's fields: chown a file of ours to root.
    let path = String::from("/tmp/forgery-file");
    let _ = fs::replace_file(&path, b"mine\n", 0o644);
    let chown = fs::chown(&path, Some(0), Some(0)).is_ok();
    let owner_root = fs::stat(&path).is_ok_and(|s| s.uid == 0);
    report("chown to uid 0", chown || owner_root, &mut gained);

    // The session request of old (an FsRequest variant naming a pid): postcard
    // bytes [variant, pid] with an unknown variant number and pid 1.
    let answer = ipc::call(vfs, &(0x7Fu8, 1u8), &[]);
    let attached = answer.is_ok_and(|r| !r.caps.is_empty());
    report("session request naming pid 1", attached, &mut gained);

    // Handle numbers we were never given: other processes' slots.
    let mut read_any = false;
    for slot in 16..96u64 {
        if sys::cap_info(slot).is_ok() {
            continue; // ours
        }
        if let Ok(reply) = ipc::call(slot, &IoRequest::Read { max: 64 }, &[]) {
            read_any |= matches!(reply.decode::<IoResponse>(), Some(IoResponse::Data(_)));
        }
    }
    report("use handle slots not held", read_any, &mut gained);
    report(
        "read /etc/shadow afterwards",
        shadow_readable(),
        &mut gained,
    );
    println!("FORGERY DONE gained={gained}");
    i64::from(gained != 0)
}
