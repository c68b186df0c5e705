//! `MemoryCopy`: copies that share frames until the first write through
//! either side, which the write fault resolves in the kernel; the kernel's
//! own writes into user memory (IPC delivery) resolve them too.

use super::*;
use crate::kernel::fault;
use crate::syscall::{NO_SLOT, SELF_PROCESS};

const MB: u64 = 1 << 20;
const DATA: u64 = 0x20_0000;

/// A user write as the CPU would make it: a fault on a read-only page first
/// (resolved by the kernel or not), then the write.
fn user_write(h: &mut Harness, thread: ObjRef, va: u64, bytes: &[u8]) -> bool {
    let process = h.process_of(thread);
    let space = h.k.objects.process(process).and_then(|p| p.space.as_ref());
    let writable = usercopy::is_writable::<HostPlatform>(space.expect("space"), va, 1);
    if !writable {
        h.run(thread);
        h.k.user_fault(fault::DATA_ABORT, va, 0);
        if h.state(thread) != ThreadState::Runnable {
            return false;
        }
    }
    h.write_user(process, va, bytes);
    true
}

/// A parent with 4 pages at [`DATA`] (page N starts with byte N + 1), its
/// thread, and a child process mapping a copy of them at the same address.
fn parent_and_child(h: &mut Harness) -> (ObjRef, ObjRef, ObjRef) {
    let parent = h.spawn_process(MB);
    let t = h.thread(parent);
    h.map_fresh(parent, DATA, 4, rw());
    for page in 0..4 {
        h.write_user(parent, DATA + page * PAGE, &[page as u8 + 1; 16]);
    }
    let copy = ok(h.syscall(t, Sys::MemoryCopy, &[SELF_PROCESS, DATA, 4 * PAGE]))[1];
    let child = h.spawn_process(MB);
    let memory = h.object(parent, copy).expect("copy");
    h.k.map_region(child, memory, DATA, 0, 4, rw())
        .expect("map copy");
    ok(h.syscall(t, Sys::CapDelete, &[copy]));
    (parent, t, child)
}

fn first_byte(h: &Harness, process: ObjRef, page: u64) -> u8 {
    h.read_user(process, DATA + page * PAGE, 1)[0]
}

#[test]
fn a_write_copies_only_the_page_written_and_only_once() {
    let mut h = Harness::new();
    let free_before = h.k.frames.free_frames();
    let (parent, t, child) = parent_and_child(&mut h);
    assert_eq!(h.k.frames.shared_frames(), 4);
    let free_after_copy = h.k.frames.free_frames();
    // Both sides read the same bytes; neither may write without a copy.
    for page in 0..4 {
        assert_eq!(first_byte(&h, parent, page), page as u8 + 1);
        assert_eq!(first_byte(&h, child, page), page as u8 + 1);
    }
    let parent_space = h.k.objects.process(parent).and_then(|p| p.space.as_ref());
    let writable = usercopy::is_writable::<HostPlatform>(parent_space.expect("space"), DATA, 1);
    assert!(!writable, "the source is read-only in its page tables now");
    // The parent writes page 1: one frame more, the child keeps its byte.
    assert!(user_write(&mut h, t, DATA + PAGE, &[0xAA]));
    assert_eq!(h.state(t), ThreadState::Runnable, "resolved, not reported");
    assert_eq!(
        (first_byte(&h, parent, 1), first_byte(&h, child, 1)),
        (0xAA, 2)
    );
    assert_eq!(h.k.frames.free_frames(), free_after_copy - 1);
    assert_eq!(h.k.frames.shared_frames(), 3);
    // The child's page 1 has one owner left: writable without a copy.
    let child_thread = h.thread(child);
    let free = h.k.frames.free_frames();
    assert!(user_write(&mut h, child_thread, DATA + PAGE, &[0xBB]));
    assert_eq!(h.k.frames.free_frames(), free, "no copy for the last owner");
    assert_eq!(
        (first_byte(&h, parent, 1), first_byte(&h, child, 1)),
        (0xAA, 0xBB)
    );
    // The child writes page 3: its own copy; the parent's is untouched.
    assert!(user_write(&mut h, child_thread, DATA + 3 * PAGE, &[0xCC]));
    assert_eq!(
        (first_byte(&h, parent, 3), first_byte(&h, child, 3)),
        (4, 0xCC)
    );
    assert_eq!(h.k.frames.shared_frames(), 2);
    // Every frame comes back once both are gone.
    h.k.kill_process(child, ProcessState::Exited(0));
    assert_eq!(h.k.frames.shared_frames(), 0);
    h.k.kill_process(parent, ProcessState::Exited(0));
    std::println!(
        "alive {:?}",
        h.k.objects.process(parent).map(|p| p.space.is_some())
    );
    assert_eq!(h.k.frames.free_frames(), free_before);
}

#[test]
fn the_kernel_copies_before_it_writes_a_shared_page() {
    let mut h = Harness::new();
    let server_process = h.spawn_process(MB);
    let server = h.thread(server_process);
    let client_process = h.spawn_process(MB);
    let client = h.thread(client_process);
    let ep = h.endpoint(server);
    let client_ep = h.give(server_process, ep, client_process, Rights::ALL, 0);
    // The server's IPC buffer is shared with a copy kept in the client.
    let buffer = h.ipc_buffer(server);
    h.write_user(server_process, buffer + IPC_BUFFER_DATA, &[7; 64]);
    let copy = ok(h.syscall(
        server,
        Sys::MemoryCopy,
        &[SELF_PROCESS, buffer, IPC_BUFFER_SIZE],
    ))[1];
    let memory = h.object(server_process, copy).expect("copy");
    h.k.map_region(
        client_process,
        memory,
        DATA,
        0,
        IPC_BUFFER_SIZE / PAGE,
        rw(),
    )
    .expect("map copy");
    // A long message lands in the server's buffer, not in the copy.
    h.syscall(server, Sys::Recv, &[ep]);
    h.write_message_data(client, &[9; 64]);
    ok(h.syscall(client, Sys::Send, &[client_ep, info(1, 0, 64)]));
    assert_eq!(h.regs(server)[0], 0, "delivered");
    let got = h.read_user(server_process, buffer + IPC_BUFFER_DATA, 64);
    assert_eq!(got, [9; 64]);
    let kept = h.read_user(client_process, DATA + IPC_BUFFER_DATA, 64);
    assert_eq!(kept, [7; 64], "the copy keeps what was there");
}

#[test]
fn a_memory_object_is_copied_whole_and_bad_requests_are_refused() {
    let mut h = Harness::new();
    let p = h.spawn_process(MB);
    let t = h.thread(p);
    let memory = ok(h.syscall(t, Sys::MemoryCreate, &[3 * PAGE, 0]))[1];
    let copy = ok(h.syscall(t, Sys::MemoryCopy, &[memory, 0, 0]))[1];
    let info = ok(h.syscall(t, Sys::MemoryInfo, &[copy]));
    assert_eq!(info[1], 3 * PAGE);
    assert_eq!(h.k.frames.shared_frames(), 3);
    // Without MAP and READ on the source: refused.
    let weak = ok(h.syscall(
        t,
        Sys::CapMint,
        &[memory, NO_SLOT, Rights::WRITE.bits() as u64, 0],
    ))[1];
    err(
        h.syscall(t, Sys::MemoryCopy, &[weak, 0, 0]),
        SysError::NoRights,
    );
    // A gap, a misaligned range, nothing at all, a non-memory capability.
    h.map_fresh(p, DATA, 2, rw());
    let gap = [SELF_PROCESS, DATA, 3 * PAGE];
    err(h.syscall(t, Sys::MemoryCopy, &gap), SysError::NotMapped);
    err(
        h.syscall(t, Sys::MemoryCopy, &[SELF_PROCESS, DATA + 1, PAGE]),
        SysError::InvalidArgument,
    );
    err(
        h.syscall(t, Sys::MemoryCopy, &[SELF_PROCESS, DATA, 0]),
        SysError::InvalidArgument,
    );
    err(
        h.syscall(t, Sys::MemoryCopy, &[SELF_PROCESS, !0xfff, 2 * PAGE]),
        SysError::InvalidArgument,
    );
    let ep = h.endpoint(t);
    err(
        h.syscall(t, Sys::MemoryCopy, &[ep, DATA, PAGE]),
        SysError::WrongType,
    );
    // Over the quota: refused with nothing shared.
    let shared = h.k.frames.shared_frames();
    let small = h.spawn_process(MB);
    let small_thread = h.thread(small);
    h.map_fresh(small, DATA, 200, rw());
    let big = [SELF_PROCESS, DATA, 200 * PAGE];
    err(
        h.syscall(small_thread, Sys::MemoryCopy, &big),
        SysError::QuotaExceeded,
    );
    assert_eq!(h.k.frames.shared_frames(), shared);
    let small_space = h.k.objects.process(small).and_then(|p| p.space.as_ref());
    let writable = usercopy::is_writable::<HostPlatform>(small_space.expect("space"), DATA, 1);
    assert!(writable, "a refused copy leaves the source writable");
}

#[test]
fn a_fault_on_a_page_its_region_may_not_write_still_goes_to_the_supervisor() {
    let mut h = Harness::new();
    let (parent, t, _child) = parent_and_child(&mut h);
    // Read-only by its region (mprotect), shared or not: a real fault.
    ok(h.syscall(t, Sys::MemoryProtect, &[SELF_PROCESS, DATA, 0]));
    assert!(!user_write(&mut h, t, DATA, &[1]));
    let p = h.k.objects.process(parent).expect("process");
    assert!(matches!(
        p.state,
        ProcessState::Killed {
            fault_address: DATA,
            ..
        }
    ));
}

#[test]
fn a_second_cpus_fault_on_a_page_already_copied_is_retried_not_fatal() {
    let mut h = Harness::new();
    let (parent, t, _child) = parent_and_child(&mut h);
    // Two threads write page 0 at once on two CPUs: both fault; the first
    // fault handled copies the page, the second finds it writable.
    let second = h.thread(parent);
    assert!(user_write(&mut h, t, DATA, &[0x11]));
    let free = h.k.frames.free_frames();
    h.run(second);
    h.k.user_fault(fault::DATA_ABORT, DATA + 8, 0);
    assert_eq!(h.state(second), ThreadState::Runnable, "retried");
    let p = h.k.objects.process(parent).expect("process");
    assert_eq!(p.state, ProcessState::Alive);
    assert_eq!(h.k.frames.free_frames(), free, "no second copy");
    assert_eq!(first_byte(&h, parent, 0), 0x11);
}
