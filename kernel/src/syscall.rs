//! The syscall table: numbers, error codes and the ABI shared with `libzos`.
//!
//! ABI: the syscall number in register 8 (`x8`), arguments in registers 0–5,
//! results in registers 0–6 with register 0 the [`SysError`] code (0 = success).
//! `docs/kernel.md` documents each call with its arguments, results and errors.

/// Syscall numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Sys {
    DebugWrite = 0,
    Yield = 1,
    ProcessExit = 2,
    CapCopy = 3,
    CapMint = 4,
    CapDelete = 5,
    CapRevoke = 6,
    CapTransfer = 7,
    CapInfo = 8,
    EndpointCreate = 9,
    NotificationCreate = 10,
    MemoryCreate = 11,
    MemoryMap = 12,
    MemoryUnmap = 13,
    MemoryProtect = 14,
    MemoryInfo = 15,
    ProcessCreate = 16,
    ProcessKill = 17,
    ProcessStatus = 18,
    ThreadCreate = 19,
    ThreadStart = 20,
    ThreadExit = 21,
    ThreadSetPriority = 22,
    SetIpcBuffer = 23,
    Call = 24,
    Send = 25,
    Recv = 26,
    Reply = 27,
    ReplyRecv = 28,
    ReplySave = 29,
    Signal = 30,
    Wait = 31,
    Poll = 32,
    IrqBind = 33,
    IrqAck = 34,
    SleepUntil = 35,
    Clock = 36,
    SystemInfo = 37,
    PowerOff = 38,
    Reset = 39,
    ThreadResume = 40,
    LogRead = 41,
    LogBind = 42,
    CapMintWatched = 43,
}

impl Sys {
    pub fn from_number(number: u64) -> Option<Sys> {
        use Sys::*;
        static TABLE: [Sys; 44] = [
            DebugWrite,
            Yield,
            ProcessExit,
            CapCopy,
            CapMint,
            CapDelete,
            CapRevoke,
            CapTransfer,
            CapInfo,
            EndpointCreate,
            NotificationCreate,
            MemoryCreate,
            MemoryMap,
            MemoryUnmap,
            MemoryProtect,
            MemoryInfo,
            ProcessCreate,
            ProcessKill,
            ProcessStatus,
            ThreadCreate,
            ThreadStart,
            ThreadExit,
            ThreadSetPriority,
            SetIpcBuffer,
            Call,
            Send,
            Recv,
            Reply,
            ReplyRecv,
            ReplySave,
            Signal,
            Wait,
            Poll,
            IrqBind,
            IrqAck,
            SleepUntil,
            Clock,
            SystemInfo,
            PowerOff,
            Reset,
            ThreadResume,
            LogRead,
            LogBind,
            CapMintWatched,
        ];
        TABLE.get(usize::try_from(number).ok()?).copied()
    }
}

/// Error codes returned in register 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum SysError {
    /// No such syscall number.
    InvalidSyscall = 1,
    /// The slot is out of range or empty.
    InvalidCap = 2,
    /// The capability names the wrong kind of object.
    WrongType = 3,
    /// The capability lacks a right the operation needs.
    NoRights = 4,
    /// An argument is out of range or inconsistent.
    InvalidArgument = 5,
    /// A user pointer is unmapped, not writable, or not user memory.
    BadAddress = 6,
    /// The machine is out of physical memory.
    OutOfMemory = 7,
    /// The process's memory quota is exhausted.
    QuotaExceeded = 8,
    /// The capability table is full.
    SlotsFull = 9,
    /// The range is already mapped.
    AlreadyMapped = 10,
    /// Nothing is mapped there.
    NotMapped = 11,
    /// Non-blocking call found nothing to do.
    WouldBlock = 12,
    /// The peer of an IPC died or the reply right was dropped.
    PeerDied = 13,
    /// `reply` without a caller to reply to.
    NoReplyTarget = 14,
    /// The process or thread is dead.
    DeadObject = 15,
    /// A message is longer than 4096 bytes or carries more than 4 capabilities.
    TooBig = 16,
    /// Mint asked for more rights than the source has, or re-badged a badge.
    RightsEscalation = 17,
    /// The thread is in the wrong state for this operation.
    BadState = 18,
}

impl SysError {
    pub fn code(self) -> u64 {
        self as u64
    }
}

/// The process-slot value that means "the calling process itself".
pub const SELF_PROCESS: u64 = u64::MAX;

/// Largest IPC message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Most capabilities one message carries.
pub const MAX_MESSAGE_CAPS: usize = 4;
/// Bytes that travel in registers (4 words).
pub const SHORT_MESSAGE_BYTES: usize = 32;
/// Size of a thread's IPC buffer: 4 capability slot words, then the data.
pub const IPC_BUFFER_SIZE: u64 = 8192;
/// Offset of the data area in the IPC buffer.
pub const IPC_BUFFER_DATA: u64 = 64;

/// Packs and unpacks the message-info word: label (32 bits), capability count
/// (8 bits) and length in bytes (16 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageInfo {
    pub label: u32,
    pub caps: u8,
    pub length: u16,
}

impl MessageInfo {
    pub fn decode(word: u64) -> Option<Self> {
        let info = MessageInfo {
            label: (word >> 32) as u32,
            caps: ((word >> 16) & 0xff) as u8,
            length: (word & 0xffff) as u16,
        };
        let valid = (word >> 24) & 0xff == 0
            && info.length as usize <= MAX_MESSAGE_BYTES
            && info.caps as usize <= MAX_MESSAGE_CAPS;
        valid.then_some(info)
    }

    pub fn encode(self) -> u64 {
        ((self.label as u64) << 32) | ((self.caps as u64) << 16) | self.length as u64
    }
}

/// Memory mapping flags in syscall arguments.
pub mod map_flags {
    pub const WRITE: u64 = 1;
    pub const EXECUTE: u64 = 2;
}

/// Capability rights bits in syscall arguments (same as `cap::Rights`).
pub mod rights {
    pub const READ: u64 = 1;
    pub const WRITE: u64 = 2;
    pub const GRANT: u64 = 4;
    pub const MAP: u64 = 8;
    pub const EXECUTE: u64 = 16;
}

/// Labels of messages the kernel itself sends.
pub mod labels {
    /// A fault message: words = [kind, address, pc, syndrome]; badge = the fault
    /// endpoint badge given at process creation.
    pub const FAULT: u32 = 0xFFFF_0001;
    /// No capability carrying the badge is left: words all 0; badge = the watched
    /// badge (see `CapMintWatched`). Received after every message already queued.
    pub const NO_SENDERS: u32 = 0xFFFF_0002;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trip_and_limits() {
        let info = MessageInfo {
            label: 0xdead_beef,
            caps: 4,
            length: 4096,
        };
        assert_eq!(MessageInfo::decode(info.encode()), Some(info));
        assert_eq!(MessageInfo::decode(4097), None);
        assert_eq!(MessageInfo::decode(5 << 16), None);
        assert_eq!(MessageInfo::decode(1 << 24), None);
    }

    #[test]
    fn numbers_round_trip() {
        for n in 0..44 {
            assert_eq!(Sys::from_number(n).map(|s| s as u64), Some(n));
        }
        assert_eq!(Sys::from_number(44), None);
        assert_eq!(Sys::from_number(u64::MAX), None);
    }
}

/// Where the kernel puts things in init's address space (and the conventions
/// `libzos` follows for every process it starts).
pub mod layout {
    /// Top of the main thread's stack (the page below the stack stays unmapped).
    pub const STACK_TOP: u64 = 0x0000_7FFF_FF00_0000;
    /// Size of init's stack.
    pub const INIT_STACK_SIZE: u64 = 256 * 1024;
    /// The main thread's IPC buffer (8 KiB).
    pub const IPC_BUFFER: u64 = 0x0000_7FFF_FF10_0000;
    /// The boot information page (read-only), passed to init in register 0.
    pub const BOOT_INFO: u64 = 0x0000_7FFF_FF20_0000;
    /// The initramfs, mapped read-only into init.
    pub const INITRAMFS: u64 = 0x0000_7FFF_0000_0000;
}

/// The boot information page given to init: little-endian u64 words.
pub mod bootinfo {
    /// "ZOSBOOT1"
    pub const MAGIC: u64 = 0x3154_4f4f_4253_4f5a;
    pub const WORD_MAGIC: usize = 0;
    pub const WORD_ENTRY_COUNT: usize = 1;
    pub const WORD_INITRAMFS_SIZE: usize = 2;
    pub const WORD_QUOTA: usize = 3;
    pub const WORD_FREE_FRAMES: usize = 4;
    pub const WORD_TOTAL_FRAMES: usize = 5;
    pub const WORD_BOOT_NS: usize = 6;
    /// Length of the kernel command line, stored right after the entries.
    pub const WORD_CMDLINE_LEN: usize = 7;
    /// First entry; each entry is [`ENTRY_WORDS`] words:
    /// slot, kind (ObjectKind), physical base, size, irq, name (24 bytes, NUL-padded).
    pub const FIRST_ENTRY: usize = 8;
    pub const ENTRY_WORDS: usize = 8;
    /// Fixed capability slots of init.
    pub const SLOT_SELF: u64 = 0;
    pub const SLOT_SYSTEM: u64 = 1;
    pub const SLOT_INITRAMFS: u64 = 2;
    pub const SLOT_MAIN_THREAD: u64 = 3;
    pub const SLOT_BOOT_INFO: u64 = 4;
}
