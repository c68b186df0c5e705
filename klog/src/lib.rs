//! Kernel log: the `log` facade printed on the debug console with uptime stamps.
//!
//! The arch layer registers its console writer and clock with [`init`]; every
//! `log::info!` and friends (in the core, boot and the backend) then prints
//! `[    1.234567] LEVEL message`. Kept out of the kernel core: the core only
//! calls the `log` macros, and how a line is formatted is not its business.
#![no_std]

use core::fmt::Write;

/// How the logger reaches the hardware.
pub struct LogSink {
    /// Writes raw bytes to the console.
    pub write: fn(&[u8]),
    /// Nanoseconds since boot.
    pub uptime_ns: fn() -> u64,
}

static SINK: spin::Once<LogSink> = spin::Once::new();
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

struct KernelLogger;

struct SinkWriter<'a>(&'a LogSink);

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
        let _guard = LOCK.lock();
        let ns = (sink.uptime_ns)();
        let mut out = SinkWriter(sink);
        let _ = writeln!(
            out,
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
