//! `log` records on the debug console, prefixed with the service name.

use libzos::println;
use log::{Level, LevelFilter, Log, Metadata, Record};

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match record.level() {
            Level::Info => println!("console: {}", record.args()),
            level => println!("console: {level}: {}", record.args()),
        }
    }

    fn flush(&self) {}
}

/// Installs the logger; informational messages and worse are shown.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
