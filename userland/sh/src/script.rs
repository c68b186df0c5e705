//! Reading script files (`sh FILE`, `.`): the whole file at once, bounded
//! by [`zos_sh_syntax::MAX_INPUT_LEN`]; a file with NUL bytes in its first
//! line is refused as binary.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libzos::fs::O_RDONLY;
use libzos::posix;

/// The text of a script; the error is the message to show.
pub fn read_file(path: &str) -> Result<String, String> {
    let fd = posix::open(path, O_RDONLY, 0).map_err(|error| format!("{path}: {error}"))?;
    let fd = crate::shell::move_high(fd);
    let mut data = Vec::new();
    let mut buffer = alloc::vec![0u8; 16 * 1024];
    let result = loop {
        match posix::read(fd, &mut buffer) {
            Ok(0) => break Ok(()),
            Ok(count) => {
                data.extend_from_slice(&buffer[..count]);
                if data.len() > zos_sh_syntax::MAX_INPUT_LEN {
                    break Err(format!(
                        "{path}: script too large (limit {} bytes)",
                        zos_sh_syntax::MAX_INPUT_LEN
                    ));
                }
            }
            Err(error) => break Err(format!("{path}: {error}")),
        }
    };
    let _ = posix::close(fd);
    result?;
    let first_line = data.split(|b| *b == b'\n').next().unwrap_or_default();
    if first_line.contains(&0) {
        return Err(format!(
            "{path}: cannot execute binary file: Exec format error"
        ));
    }
    Ok(String::from_utf8_lossy(&data).into_owned())
}
