//! console — the console/tty server. It owns the UART (the PL011, or the
//! 16550 on COM1 on x86_64: `uart16550.rs`) and serves
//! terminal handles over the `zos_proto::io` protocol.
//!
//! Two threads: the main thread answers requests on the service endpoint
//! ([`server`]); the input thread waits for the UART interrupt, feeds typed
//! bytes through the line discipline ([`discipline`]), echoes, completes
//! waiting reads and sends Ctrl-C to the foreground process group.
//! A third thread prints the kernel log: once the console runs, it is the
//! UART's only driver, and kernel messages (and processes' debug output) reach
//! the screen through it ([`kernel_log`]).
//! Resources come from the start-up page ([`start`]): grants "uart",
//! "uart-irq", "endpoint" and, optionally, "log" (the system capability that
//! lets it take over the kernel log).
#![no_std]
#![no_main]

extern crate alloc;

mod discipline;
mod kernel_log;
mod logger;
mod server;
mod sync;
mod terminal;
#[cfg_attr(target_arch = "x86_64", path = "uart16550.rs")]
#[cfg_attr(target_arch = "wasm32", path = "uart_wasm.rs")]
mod uart;

use alloc::format;
use alloc::vec::Vec;
use discipline::Event;
use libzos::abi::Sys;
use libzos::proto::proc::signal;
use libzos::sys;

libzos::entry!(main);

/// Priorities tried for the input thread, highest first (a thread may not
/// run above its creator, whose priority init chose).
const INPUT_PRIORITIES: [u64; 4] = [100, 64, 16, 1];

fn main(_arg: u64) -> i64 {
    logger::init();
    let (Some(uart_grant), Some(irq_grant), Some(endpoint)) = (
        libzos::rt::grant("uart"),
        libzos::rt::grant("uart-irq"),
        libzos::rt::grant("endpoint"),
    ) else {
        log::error!("missing grants: need \"uart\", \"uart-irq\" and \"endpoint\"");
        return 1;
    };
    if let Err(e) = uart::init(uart_grant.slot, uart_grant.base) {
        log::error!("cannot map the UART: {}", e.name());
        return 1;
    }
    let notification = match bind_interrupt(irq_grant.slot) {
        Ok(notification) => notification,
        Err(e) => {
            log::error!("cannot bind irq {}: {}", irq_grant.irq, e.name());
            return 1;
        }
    };
    if !start_input_thread(pack_input_slots(irq_grant.slot, notification)) {
        log::error!("cannot start the input thread");
        return 1;
    }
    // Take the kernel log over first: from then on every byte reaches the UART
    // through this process's lock, so no other process's line (which the
    // kernel would otherwise print itself) can cut into the line below.
    if let Some(log) = libzos::rt::grant("log") {
        kernel_log::start(log.slot);
    }
    uart::write(
        format!(
            "console: ready on {} at {:#x} irq {}\n",
            uart::NAME,
            uart_grant.base,
            irq_grant.irq
        )
        .as_bytes(),
    );
    server::run(endpoint.slot)
}

/// Routes the UART interrupt to a new notification.
fn bind_interrupt(irq_slot: u64) -> Result<u64, sys::Error> {
    let notification = sys::notification_create()?;
    sys::raw(Sys::IrqBind, [irq_slot, notification, 0, 0, 0, 0]).check()?;
    Ok(notification)
}

/// The input thread's argument: irq slot in the high half, notification slot
/// in the low half (slots are below 4096).
fn pack_input_slots(irq_slot: u64, notification: u64) -> u64 {
    (irq_slot << 32) | (notification & 0xffff_ffff)
}

fn start_input_thread(arg: u64) -> bool {
    for priority in INPUT_PRIORITIES {
        match libzos::thread::spawn(input_thread, arg, priority) {
            Ok(_) => return true,
            Err(e) if e.is(sys::SysError::NoRights) => continue,
            Err(e) => {
                log::error!("input thread: {}", e.name());
                return false;
            }
        }
    }
    false
}

/// Waits for UART interrupts and handles what was typed.
fn input_thread(arg: u64) {
    let irq_slot = arg >> 32;
    let notification = arg & 0xffff_ffff;
    let mut typed = Vec::new();
    let mut echo = Vec::new();
    loop {
        if let Err(e) = sys::wait(notification) {
            log::error!("waiting for the UART interrupt failed: {}", e.name());
            return;
        }
        typed.clear();
        echo.clear();
        let errors = uart::drain_receive(&mut typed);
        if errors > 0 {
            log::debug!("{errors} receive errors");
        }
        let mut signals = Vec::new();
        let (foreground, completions) = {
            let mut terminal = sync::lock(&terminal::TERMINAL);
            for &byte in &typed {
                match terminal.discipline.receive(byte, &mut echo) {
                    Some(Event::Interrupt) => signals.push(signal::SIGINT),
                    Some(Event::Quit) => signals.push(signal::SIGQUIT),
                    Some(Event::Suspend) => signals.push(signal::SIGTSTP),
                    None => {}
                }
            }
            (terminal.foreground, terminal.complete_waiting())
        };
        // Echo before waking readers, so the typed line is on the screen
        // before whatever the reader prints in answer.
        uart::write(&echo);
        terminal::send_completions(completions);
        let _ = sys::raw(Sys::IrqAck, [irq_slot, 0, 0, 0, 0, 0]);
        for signal in signals {
            signal_foreground(foreground, signal);
        }
    }
}

/// Sends `signal` to the console's foreground group `pgid` (0: nobody).
pub fn signal_foreground(pgid: u32, signal: u32) {
    if let Err(e) = libzos::posix::kill_group(pgid, signal) {
        log::warn!("cannot signal process group {pgid}: {e:?}");
    }
}
