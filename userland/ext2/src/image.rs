//! An ext2 image file read whole into memory through the VFS (the loop-style
//! mount used until the block layer serves real disks). The copy is what gets
//! mounted: changes live in memory and are not written back to the file.

use libzos::fs;
use libzos::posix::Errno;
use zos_ext2_core::MemDisk;
use zos_proto::errno::*;

/// Largest image accepted (it lives in this server's memory).
const MAX_IMAGE: u64 = 48 << 20;
/// Bytes per read.
const CHUNK: usize = 256 * 1024;

pub fn load(path: &str) -> Result<MemDisk, i32> {
    let fd = fs::open(path, zos_proto::fs::flags::O_RDONLY, 0).map_err(|Errno(e)| e)?;
    let result = read_all(fd);
    let _ = libzos::posix::close(fd);
    result
}

fn read_all(fd: libzos::posix::Fd) -> Result<MemDisk, i32> {
    let stat = fs::fstat(fd).map_err(|Errno(e)| e)?;
    if !stat.is_file() {
        return Err(ENOTBLK);
    }
    if stat.size > MAX_IMAGE {
        return Err(EFBIG);
    }
    let size = stat.size as usize;
    let mut bytes = alloc::vec::Vec::new();
    bytes.try_reserve_exact(size).map_err(|_| ENOMEM)?;
    bytes.resize(size, 0);
    let mut done = 0;
    while done < size {
        let end = (done + CHUNK).min(size);
        let n = fs::pread(fd, &mut bytes[done..end], done as u64).map_err(|Errno(e)| e)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    bytes.truncate(done);
    Ok(MemDisk::from_bytes(bytes))
}
