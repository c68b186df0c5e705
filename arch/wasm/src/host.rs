//! What the page gives the kernel: console output, a clock and power off
//! (imports from module `host`). Off wasm32 (clippy on the host) they are
//! inert stand-ins.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "host")]
extern "C" {
    #[link_name = "console_write"]
    fn host_console_write(ptr: *const u8, len: usize);
    #[link_name = "now_ms"]
    fn host_now_ms() -> f64;
    #[link_name = "power_off"]
    fn host_power_off(code: u32);
}

/// Writes bytes to the page's terminal.
pub fn console_write(bytes: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the page reads `len` bytes at `ptr` during the call.
    unsafe {
        host_console_write(bytes.as_ptr(), bytes.len())
    };
    #[cfg(not(target_arch = "wasm32"))]
    let _ = bytes;
}

/// The kernel's debug console: `\n` becomes `\r\n` (the HAL's contract).
pub fn debug_console_write(bytes: &[u8]) {
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            console_write(b"\r\n");
        }
        if !line.is_empty() {
            console_write(line);
        }
    }
}

/// Nanoseconds since the page started (its monotonic clock).
pub fn uptime_ns() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: a pure read of the page's clock.
        let ms = unsafe { host_now_ms() };
        (ms.max(0.0) * 1_000_000.0) as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// Tells the page the system stopped (0 power off, 1 reset, 3 panic).
pub fn power_off(code: u32) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: a notification; the page stops calling the kernel.
    unsafe {
        host_power_off(code)
    };
    #[cfg(not(target_arch = "wasm32"))]
    let _ = code;
}
