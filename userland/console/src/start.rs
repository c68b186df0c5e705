//! The start-up information init wrote for this process: which capability
//! slots hold the UART, its interrupt and the service endpoint.

use libzos::proto::start::{Grant, StartInfo, MAX_START_INFO, START_INFO};
use spin::Once;

static START: Once<StartInfo> = Once::new();

/// The decoded start-up page (empty when it is missing or malformed).
///
/// TODO: use `libzos::rt::start_info()` once libzos provides it; this reads
/// the same page the same way (a u32 little-endian length, then postcard).
pub fn start_info() -> &'static StartInfo {
    START.call_once(|| {
        // SAFETY: init maps the start-up page read-only at START_INFO before
        // the first thread runs; the length word is read first and bounded by
        // MAX_START_INFO, the size of that mapping.
        let bytes = unsafe {
            let length = core::ptr::read_volatile(START_INFO as *const u32) as usize;
            if length > MAX_START_INFO - 4 {
                return StartInfo::default();
            }
            core::slice::from_raw_parts((START_INFO + 4) as *const u8, length)
        };
        libzos::proto::decode(bytes).unwrap_or_default()
    })
}

/// The grant called `name`.
pub fn grant(name: &str) -> Option<&'static Grant> {
    start_info().grants.iter().find(|grant| grant.name == name)
}
