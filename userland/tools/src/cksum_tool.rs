//! `cksum [FILE]...`: the POSIX checksum, byte count and name of each file
//! (standard input without operands), as GNU's `cksum -a crc` prints them.
//! The checksum itself is `zos_tools_core::cksum`.

use crate::io::{self, status, write_out};
use alloc::format;
use alloc::vec;
use libzos::eprintln;
use zos_proto::MAX_IO_CHUNK;
use zos_tools_core::cksum::Cksum;
use zos_tools_core::Failure;

pub fn cksum(args: &[&str]) -> Result<(), Failure> {
    let names = if args.is_empty() {
        vec!["-"]
    } else {
        args.to_vec()
    };
    let mut buffer = vec![0u8; MAX_IO_CHUNK];
    let mut failed = false;
    for name in names {
        let fd = match io::open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                eprintln!("cksum: {}", io::input_error(name, error));
                failed = true;
                continue;
            }
        };
        let mut sum = Cksum::default();
        let read = io::for_each_chunk(fd, &mut buffer, |chunk| {
            sum.feed(chunk);
            Ok(())
        });
        io::close_input(fd);
        if let Err(io::StreamError::Read(error)) = read {
            eprintln!("cksum: {}", io::input_error(name, error));
            failed = true;
            continue;
        }
        let (crc, len) = sum.finish();
        let line = match name {
            "-" => format!("{crc} {len}\n"),
            _ => format!("{crc} {len} {name}\n"),
        };
        write_out(line.as_bytes())?;
    }
    status(failed)
}
