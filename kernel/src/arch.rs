//! The interface between the portable core and an architecture backend.
//!
//! Each backend (`arch/aarch64`, later `arch/x86_64` and `arch/wasm`) implements
//! [`Platform`]; the core calls only these functions to touch hardware. See
//! `docs/hal.md` for the contract of each function.

/// Services an architecture backend gives the portable core.
pub trait Platform {
    /// Writes bytes to the debug console, blocking until sent.
    fn console_write(bytes: &[u8]);
    /// Nanoseconds since boot from a monotonic counter.
    fn uptime_ns() -> u64;
    /// Arms the one-shot timer to fire at `deadline_ns` after boot.
    fn set_timer_deadline(deadline_ns: u64);
    /// Masks or unmasks interrupt `irq` at the interrupt controller.
    fn irq_set_enabled(irq: u32, enabled: bool);
    /// Waits (low power) until an interrupt is pending.
    fn wait_for_interrupt();
    /// Powers the machine off. Never returns.
    fn power_off() -> !;
    /// Resets the machine. Never returns.
    fn reset() -> !;
}
