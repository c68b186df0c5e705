//! The IPC protocols of Zero OS services, defined once and shared by servers and
//! clients. Each request and response is a serde enum encoded with postcard; a
//! message's bytes travel in the four message registers when they fit in 32
//! bytes, otherwise in the sender's IPC buffer (up to [`MAX_MESSAGE`] bytes).
//! Capabilities (open handles, service endpoints) travel beside the bytes.
//!
//! Errors are POSIX errno numbers ([`errno`]) so libzos can hand them to POSIX
//! programs unchanged.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod axiom;
pub mod badge;
pub mod block;
pub mod errno;
pub mod fixed;
pub mod fs;
pub mod identity;
pub mod io;
pub mod keystore;
pub mod net;
pub mod nic;
pub mod pci;
pub mod proc;
pub mod pty;
pub mod rfs;
pub mod ring;
pub mod start;
pub mod watch;

/// Largest encoded message.
pub const MAX_MESSAGE: usize = 4096;
/// Largest payload in one `Read`/`Write` (leaves room for the encoding).
pub const MAX_IO_CHUNK: usize = 3968;
/// Largest shared transfer buffer a server maps for one handle.
pub const MAX_SHARED_BUFFER: usize = 1 << 20;

/// Encodes a message; `None` when it does not fit in [`MAX_MESSAGE`] bytes.
pub fn encode<T: serde::Serialize>(value: &T, buffer: &mut [u8]) -> Option<usize> {
    postcard::to_slice(value, buffer)
        .ok()
        .map(|used| used.len())
}

/// Encodes a value of any size (for shared memory, not for a message).
pub fn encode_vec<T: serde::Serialize>(value: &T) -> Option<alloc::vec::Vec<u8>> {
    postcard::to_allocvec(value).ok()
}

/// Decodes a message; a malformed one yields `None` (servers answer `EINVAL`).
pub fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_and_garbage() {
        let request = io::IoRequest::Write { data: b"hello" };
        let mut buffer = [0u8; MAX_MESSAGE];
        let n = encode(&request, &mut buffer).expect("fits");
        assert_eq!(decode::<io::IoRequest>(&buffer[..n]), Some(request));
        assert_eq!(decode::<io::IoRequest>(&[0xff, 0xff, 0xff]), None);
        let spawn = proc::ProcRequest::Spawn {
            path: "/bin/echo",
            argv: vec!["echo", "hi"],
            env: vec!["PATH=/bin"],
            cwd: "/",
            fds: vec![(0, 0), (1, 1), (2, 1)],
            pgid: 0,
            foreground: true,
            take_terminal: false,
            exec: false,
            name: Some("script"),
        };
        let n = encode(&spawn, &mut buffer).expect("fits");
        assert_eq!(decode::<proc::ProcRequest>(&buffer[..n]), Some(spawn));
    }

    #[test]
    fn file_protocol_round_trips() {
        let mut buffer = [0u8; MAX_MESSAGE];
        let open = fs::FsRequest::Open {
            path: "etc/motd",
            flags: fs::flags::O_RDONLY,
            mode: 0o644,
            cwd: "/",
            reuse: 0,
        };
        let n = encode(&open, &mut buffer).expect("fits");
        assert_eq!(decode::<fs::FsRequest>(&buffer[..n]), Some(open));
        let entries = io::IoResponse::Entries(vec![fs::DirEntry {
            ino: 7,
            kind: fs::dirent_type::DT_REG,
            name: "motd",
        }]);
        let n = encode(&entries, &mut buffer).expect("fits");
        assert_eq!(decode::<io::IoResponse>(&buffer[..n]), Some(entries));
        let seek = io::IoRequest::Seek {
            offset: -5,
            whence: 2,
        };
        let n = encode(&seek, &mut buffer).expect("fits");
        assert_eq!(decode::<io::IoRequest>(&buffer[..n]), Some(seek));
    }

    #[test]
    fn old_io_variants_keep_their_numbers() {
        // Appending variants must not renumber the ones the console and pipes use.
        let mut buffer = [0u8; MAX_MESSAGE];
        let n = encode(&io::IoRequest::SetNonBlocking(true), &mut buffer).expect("fits");
        assert_eq!(&buffer[..n], &[8, 1]);
        let n = encode(&io::IoResponse::Err(5), &mut buffer).expect("fits");
        assert_eq!(&buffer[..n], &[6, 10]);
    }
}
