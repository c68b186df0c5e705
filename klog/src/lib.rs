//! Kernel log: the `log` facade with uptime stamps, kept in a ring.
//!
//! The arch layer registers its console writer and clock with [`init`]; every
//! `log::info!` and friends then records `[    1.234567] LEVEL message`, as do
//! processes' `DebugWrite`s. Everything goes into a ring that `LogRead` reads
//! (dmesg). The UART has one owner at a time: the kernel writes it directly
//! until the console service takes the output over ([`hand_over`], through
//! `LogBind`); from then on only the console drives it, printing what it reads
//! from the ring. Panic and fault reports ([`emergency_write`]) always go
//! straight to the hardware.
//!
//! A crate of its own, beside the core: the ring and the line format are a
//! self-contained data structure shared by every backend (which installs the
//! logger and prints panics through it); the core's part — the `LogRead` and
//! `LogBind` syscalls and telling the console of new bytes — is in the core.
#![cfg_attr(not(test), no_std)]

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How the logger reaches the hardware.
pub struct LogSink {
    /// Writes raw bytes to the console.
    pub write: fn(&[u8]),
    /// Nanoseconds since boot.
    pub uptime_ns: fn() -> u64,
}

static SINK: spin::Once<LogSink> = spin::Once::new();
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring {
    bytes: [0; RING_BYTES],
    written: 0,
});
/// Bytes written since boot, readable without the ring's lock.
static WRITTEN: AtomicU64 = AtomicU64::new(0);
/// How far the console service has printed (the cursor after its last read).
static PRINTED: AtomicU64 = AtomicU64::new(0);
/// Where the console service's last read ended: the bytes from `PRINTED`
/// to here may be on their way to the UART, some of them printed already.
static READ: AtomicU64 = AtomicU64::new(0);
/// The console service drives the UART; the kernel only fills the ring.
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// Size of the log ring.
pub const RING_BYTES: usize = 32 * 1024;

/// The last [`RING_BYTES`] bytes of log; `written` counts every byte ever.
struct Ring {
    bytes: [u8; RING_BYTES],
    written: u64,
}

impl Ring {
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let at = (self.written % RING_BYTES as u64) as usize;
            self.bytes[at] = byte;
            self.written += 1;
        }
    }

    fn read(&self, cursor: u64, out: &mut [u8]) -> (usize, u64) {
        let start = cursor.max(self.written.saturating_sub(RING_BYTES as u64));
        let count = (self.written.saturating_sub(start) as usize).min(out.len());
        for (i, byte) in out[..count].iter_mut().enumerate() {
            *byte = self.bytes[((start + i as u64) % RING_BYTES as u64) as usize];
        }
        (count, start + count as u64)
    }

    /// Where the line holding `cursor` starts: after the newline before it,
    /// at most [`LINE_BACK`] bytes back and never before the oldest byte kept.
    fn line_start(&self, mut cursor: u64) -> u64 {
        let oldest = self.written.saturating_sub(RING_BYTES as u64);
        let limit = oldest.max(cursor.saturating_sub(LINE_BACK));
        while cursor > limit && self.bytes[((cursor - 1) % RING_BYTES as u64) as usize] != b'\n' {
            cursor -= 1;
        }
        cursor
    }
}

/// How far back [`Ring::line_start`] looks for the start of a line.
const LINE_BACK: u64 = 512;

/// Records `bytes` in the ring; true when the kernel still owns the UART and
/// the caller should print them too.
pub fn record(bytes: &[u8]) -> bool {
    let mut ring = RING.lock();
    ring.push(bytes);
    WRITTEN.store(ring.written, Ordering::Release);
    !HANDED_OVER.load(Ordering::Acquire)
}

/// Records `bytes` and prints them on the UART while the kernel owns it.
pub fn write(bytes: &[u8]) {
    if record(bytes) {
        if let Some(sink) = SINK.get() {
            (sink.write)(bytes);
        }
    }
}

/// Bytes written since boot (the cursor of the next byte). Inlined: the core
/// reads it on every trap, across the crate boundary.
#[inline]
pub fn written() -> u64 {
    WRITTEN.load(Ordering::Acquire)
}

/// Copies log bytes from `cursor` on into `out`; returns the count and the
/// cursor after them. A cursor older than the ring starts at the oldest byte
/// kept (the jump tells the reader how much it lost).
pub fn read(cursor: u64, out: &mut [u8]) -> (usize, u64) {
    RING.lock().read(cursor, out)
}

/// Records that the console service printed everything before `cursor`
/// and has read up to `read` (what it prints next).
pub fn printed_up_to(cursor: u64, read: u64) {
    PRINTED.fetch_max(cursor, Ordering::AcqRel);
    READ.fetch_max(read, Ordering::AcqRel);
}

/// Writes what the console has not printed yet straight to the UART: the
/// machine is about to stop (power off, reset, panic) and the console with it.
pub fn flush_unprinted() {
    if !HANDED_OVER.load(Ordering::Acquire) {
        return;
    }
    let Some(sink) = SINK.get() else { return };
    let mut cursor = PRINTED.load(Ordering::Acquire);
    // The console may have been half way through what it read last (the
    // kernel stopped its CPU): the line it was in comes again, whole and on
    // a line of its own, rather than its end glued to a cut start.
    if READ.load(Ordering::Acquire) > cursor {
        let Some(ring) = RING.try_lock() else { return };
        cursor = ring.line_start(cursor);
        drop(ring);
        (sink.write)(b"\r\n");
    }
    let mut chunk = [0u8; 256];
    loop {
        // A lock held (a panic inside `record`) means there is nothing safe to print.
        let Some(ring) = RING.try_lock() else { return };
        let (count, next) = ring.read(cursor, &mut chunk);
        drop(ring);
        if count == 0 {
            break;
        }
        (sink.write)(&chunk[..count]);
        cursor = next;
    }
    PRINTED.store(cursor, Ordering::Release);
}

/// The console takes the UART (`true`) or gives it back (`false`).
pub fn hand_over(to_console: bool) {
    HANDED_OVER.store(to_console, Ordering::Release);
}

/// The kernel takes the UART back from the console (it died, or the machine
/// stops): what the console had not printed goes out first.
pub fn take_back() {
    flush_unprinted();
    hand_over(false);
}

struct KernelLogger;

struct SinkWriter<'a>(&'a LogSink);

/// Formats into the ring (and the UART while the kernel owns it).
struct RingWriter;

impl Write for RingWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}

impl Write for SinkWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        (self.0.write)(s.as_bytes());
        Ok(())
    }
}

impl log::Log for KernelLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let Some(sink) = SINK.get() else { return };
        let ns = (sink.uptime_ns)();
        let _ = writeln!(
            RingWriter,
            "[{:5}.{:06}] {:5} {}",
            ns / 1_000_000_000,
            (ns % 1_000_000_000) / 1000,
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: KernelLogger = KernelLogger;

/// Installs the kernel logger. Later calls are ignored.
pub fn init(sink: LogSink, level: log::LevelFilter) {
    SINK.call_once(|| sink);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Writes straight to the console, bypassing the logger lock (for panic and fault
/// reports, which must get out even if the lock is held).
pub fn emergency_write(args: core::fmt::Arguments) {
    if let Some(sink) = SINK.get() {
        let _ = SinkWriter(sink).write_fmt(args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_bytes_and_reports_what_was_lost() {
        let mut ring = Ring {
            bytes: [0; RING_BYTES],
            written: 0,
        };
        ring.push(b"hello");
        let mut out = [0u8; 16];
        assert_eq!(ring.read(0, &mut out), (5, 5));
        assert_eq!(&out[..5], b"hello");
        assert_eq!(ring.read(5, &mut out), (0, 5));
        let filler = std::vec![b'x'; RING_BYTES];
        ring.push(&filler);
        ring.push(b"end");
        // The reader at 5 lost 3 bytes (overwritten); it resumes at the oldest kept.
        let (count, next) = ring.read(5, &mut out);
        assert_eq!(next - count as u64, 8);
        let mut tail = std::vec![0u8; RING_BYTES];
        let (count, next) = ring.read(0, &mut tail);
        assert_eq!(count, RING_BYTES);
        assert_eq!(next, RING_BYTES as u64 + 8);
        assert_eq!(&tail[RING_BYTES - 3..], b"end");
    }

    #[test]
    fn a_line_starts_after_the_newline_before_it() {
        let mut ring = Ring {
            bytes: [0; RING_BYTES],
            written: 0,
        };
        ring.push(b"first\nsecond line\nthird");
        assert_eq!(ring.line_start(0), 0);
        assert_eq!(ring.line_start(3), 0);
        assert_eq!(ring.line_start(6), 6); // just after a newline
        assert_eq!(ring.line_start(10), 6);
        assert_eq!(ring.line_start(24), 18);
        // Never past the oldest byte kept, never more than LINE_BACK back.
        ring.push(&std::vec![b'x'; RING_BYTES]);
        let oldest = ring.written - RING_BYTES as u64;
        assert_eq!(ring.line_start(oldest + 5), oldest);
        assert_eq!(ring.line_start(ring.written), ring.written - LINE_BACK);
    }
}
