//! The Zero OS syscall ABI, shared by the kernel and `libzos` (as Hubris's
//! `sys/abi`): syscall numbers, error codes, the message-info word and IPC
//! buffer layout, rights bits, object kinds, the boot information page given to
//! init and the fixed addresses of the user address space. Nothing here depends
//! on the kernel; `docs/kernel.md` documents each call.
//!
//! Register convention, per architecture (the one place each is written down;
//! `libzos/src/arch/` implements it):
//!
//! | | instruction | number | arguments | results (0 = error code, then values) |
//! |---|---|---|---|---|
//! | aarch64 | `svc #0` | `x8` | `x0`–`x5` | `x0`, then `x1`–`x6` |
//! | x86_64 | `syscall` | `rax` | `rdi rsi rdx r10 r8 r9` | `rax`, then `rdi rsi rdx r10 r8 r9` |
//!
//! | wasm32 | import `zos.zos_syscall(number, a0..a5, results)` | first argument | the next six | seven u64 written at `results` |
//!
//! On x86_64 `syscall` itself overwrites `rcx` (return address) and `r11`
//! (flags); every other register is preserved. On wasm32 (the browser port,
//! `docs/browser.md`) a process is a wasm module and its syscall an import.
#![no_std]

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
    // 40 was ThreadResume (removed; the number is not reused).
    LogRead = 41,
    LogBind = 42,
    CapMintWatched = 43,
    MemorySlice = 44,
    ThreadSuspend = 45,
    ThreadResume = 46,
    /// AxiomRead(audit, stream, cursor, buffer, records) -> (count, next
    /// cursor, lost): copies the records of stream 0 (commits) or 1 (SysLog)
    /// from sequence `cursor` on; `lost` counts those the ring overwrote
    /// before they were read (the reader logs the loss).
    AxiomRead = 47,
    /// AxiomState(audit, buffer) -> (commits): writes the kernel's state hash
    /// (32 bytes) and returns how many commits it covers.
    AxiomState = 48,
    /// ThreadSetAffinity(thread, cpus) -> (): the CPUs the thread may run
    /// on (bit N: CPU N), limited to the CPUs online; none of them online
    /// is InvalidArgument. A thread running on a CPU it may no longer use
    /// moves at that CPU's next kernel entry (its next tick at the latest).
    ThreadSetAffinity = 49,
    /// ThreadRegisters(thread, buffer, write) -> (): copies a suspended
    /// thread's user registers ([`registers`]: `USER_REGISTERS` words) to
    /// `buffer`, or with `write` from it. The caller's own thread with
    /// `write` continues from those registers and gets no results (the
    /// return from a signal handler). The kernel keeps what user mode may
    /// not choose (AArch64: only NZCV of PSTATE; x86_64: only the arithmetic
    /// flags, DF, TF and AC, and a non-canonical RIP or RSP becomes 0).
    ThreadRegisters = 50,
    /// MemoryCopy(source, va, length) -> (memory): a new Memory object with
    /// the contents of `source`, sharing its frames copy-on-write: the first
    /// write through any mapping of either copies that page (in the kernel,
    /// at the write fault). `source` is a Memory capability (MAP and READ;
    /// the whole object, `va` and `length` unused) or a process (`SELF` or a
    /// capability with WRITE: the pages mapped at `[va, va + length)`, which
    /// may span several regions but no gap). RAM frames only; the caller pays
    /// as for `MemoryCreate` of that size and gets every right.
    MemoryCopy = 51,
}

impl Sys {
    /// Calls that may block the caller (or end it): the kernel writes their
    /// results when the caller resumes, not when the call returns.
    pub fn may_block(self) -> bool {
        use Sys::*;
        matches!(
            self,
            Call | Send
                | Recv
                | Reply
                | ReplyRecv
                | Wait
                | SleepUntil
                | Yield
                | ThreadExit
                | ProcessExit
        )
    }

    pub fn from_number(number: u64) -> Option<Sys> {
        use Sys::*;
        static TABLE: [Option<Sys>; 52] = [
            Some(DebugWrite),
            Some(Yield),
            Some(ProcessExit),
            Some(CapCopy),
            Some(CapMint),
            Some(CapDelete),
            Some(CapRevoke),
            Some(CapTransfer),
            Some(CapInfo),
            Some(EndpointCreate),
            Some(NotificationCreate),
            Some(MemoryCreate),
            Some(MemoryMap),
            Some(MemoryUnmap),
            Some(MemoryProtect),
            Some(MemoryInfo),
            Some(ProcessCreate),
            Some(ProcessKill),
            Some(ProcessStatus),
            Some(ThreadCreate),
            Some(ThreadStart),
            Some(ThreadExit),
            Some(ThreadSetPriority),
            Some(SetIpcBuffer),
            Some(Call),
            Some(Send),
            Some(Recv),
            Some(Reply),
            Some(ReplyRecv),
            Some(ReplySave),
            Some(Signal),
            Some(Wait),
            Some(Poll),
            Some(IrqBind),
            Some(IrqAck),
            Some(SleepUntil),
            Some(Clock),
            Some(SystemInfo),
            Some(PowerOff),
            Some(Reset),
            None,
            Some(LogRead),
            Some(LogBind),
            Some(CapMintWatched),
            Some(MemorySlice),
            Some(ThreadSuspend),
            Some(ThreadResume),
            Some(AxiomRead),
            Some(AxiomState),
            Some(ThreadSetAffinity),
            Some(ThreadRegisters),
            Some(MemoryCopy),
        ];
        TABLE.get(usize::try_from(number).ok()?).copied().flatten()
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
    /// A blocked call was interrupted (`ThreadSuspend`): nothing was done.
    Interrupted = 19,
}

impl SysError {
    pub fn code(self) -> u64 {
        self as u64
    }

    /// The error a result register 0 names (`None` for 0 and unknown codes).
    pub fn from_code(code: u64) -> Option<SysError> {
        use SysError::*;
        const ALL: [SysError; 19] = [
            InvalidSyscall,
            InvalidCap,
            WrongType,
            NoRights,
            InvalidArgument,
            BadAddress,
            OutOfMemory,
            QuotaExceeded,
            SlotsFull,
            AlreadyMapped,
            NotMapped,
            WouldBlock,
            PeerDied,
            NoReplyTarget,
            DeadObject,
            TooBig,
            RightsEscalation,
            BadState,
            Interrupted,
        ];
        ALL.get(usize::try_from(code).ok()?.checked_sub(1)?)
            .copied()
    }

    /// The error's name as written here (`"QuotaExceeded"`), for messages.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 19] = [
            "InvalidSyscall",
            "InvalidCap",
            "WrongType",
            "NoRights",
            "InvalidArgument",
            "BadAddress",
            "OutOfMemory",
            "QuotaExceeded",
            "SlotsFull",
            "AlreadyMapped",
            "NotMapped",
            "WouldBlock",
            "PeerDied",
            "NoReplyTarget",
            "DeadObject",
            "TooBig",
            "RightsEscalation",
            "BadState",
            "Interrupted",
        ];
        NAMES
            .get((self as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("Unknown")
    }
}

/// What kind of object a capability names (`CapInfo`, boot information entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ObjectKind {
    Process = 1,
    Thread = 2,
    Endpoint = 3,
    Notification = 4,
    Memory = 5,
    Irq = 6,
    Reply = 7,
    System = 8,
    /// The right to read the kernel's Axiom rings (commits and SysLog).
    Audit = 9,
}

/// The process-slot value that means "the calling process itself".
pub const SELF_PROCESS: u64 = u64::MAX;
/// `SystemInfo`'s first argument asking for the page of the CPU named by the
/// second: online CPUs, kernel entries that waited for the kernel lock, then
/// that CPU's busy ticks (timer ticks that found a thread running), context
/// switches (a different thread prepared to run on it) and user faults
/// taken on it (0 asks for the memory page; a CPU not online reads zeros).
pub const SYSTEM_INFO_CPUS: u64 = 1;
/// `SystemInfo`'s first argument asking for syscall counts since boot: six
/// counts from the syscall number in the second argument on. Numbers from
/// [`SYSCALL_COUNTS`]` - 1` up share the last count (all invalid).
pub const SYSTEM_INFO_SYSCALLS: u64 = 2;
/// How many syscall numbers the kernel counts apart.
pub const SYSCALL_COUNTS: usize = 64;

/// The user registers `ThreadRegisters` reads and writes, one u64 each, by
/// index. AArch64: x0..x30, then SP, PC and PSTATE; x86_64: the order below.
pub mod registers {
    /// Words in a register buffer (the larger architecture's count).
    pub const USER_REGISTERS: usize = 34;
    pub mod aarch64 {
        pub const LR: usize = 30;
        pub const SP: usize = 31;
        pub const PC: usize = 32;
        pub const PSTATE: usize = 33;
    }
    pub mod x86_64 {
        pub const RAX: usize = 0;
        pub const RBX: usize = 1;
        pub const RCX: usize = 2;
        pub const RDX: usize = 3;
        pub const RSI: usize = 4;
        pub const RDI: usize = 5;
        pub const RBP: usize = 6;
        pub const RSP: usize = 7;
        /// r8..r15 follow from here.
        pub const R8: usize = 8;
        pub const RIP: usize = 16;
        pub const RFLAGS: usize = 17;
    }
}
/// "No capability" in optional slot arguments.
pub const NO_SLOT: u64 = u64::MAX;
/// Largest single Memory object (`MemoryCreate`), 1 GiB.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// Most bytes one `DebugWrite` prints.
pub const MAX_DEBUG_WRITE: usize = 4096;

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
/// Offset of the IPC buffer's last word, which the kernel never writes. On
/// x86_64 libzos keeps the buffer's own address there, so reading the thread
/// pointer is one load from `fs:` (the TLS ABI's self pointer), on CPUs with
/// and without FSGSBASE (`docs/x86_64.md`, "The thread pointer").
pub const IPC_BUFFER_SELF: u64 = IPC_BUFFER_SIZE - 8;
const _: () = assert!(IPC_BUFFER_DATA + MAX_MESSAGE_BYTES as u64 <= IPC_BUFFER_SELF);

/// Packs and unpacks the message-info word: label (32 bits), capability count
/// (8 bits) and length in bytes (16 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageInfo {
    pub label: u32,
    pub caps: u8,
    pub length: u16,
}

impl MessageInfo {
    /// A message with only a label: no data, no capabilities.
    pub const fn label(label: u32) -> Self {
        MessageInfo {
            label,
            caps: 0,
            length: 0,
        }
    }

    pub fn decode(word: u64) -> Option<Self> {
        let info = MessageInfo {
            label: (word >> 32) as u32,
            caps: ((word >> 16) & 0xff) as u8,
            length: (word & 0xffff) as u16,
        };
        let valid = word & 0xff00_0000 & !CALL_INTERRUPTIBLE == 0
            && info.length as usize <= MAX_MESSAGE_BYTES
            && info.caps as usize <= MAX_MESSAGE_CAPS;
        valid.then_some(info)
    }

    pub fn encode(self) -> u64 {
        ((self.label as u64) << 32) | ((self.caps as u64) << 16) | self.length as u64
    }

    /// For a valid message of registers only (no capabilities, at most
    /// [`SHORT_MESSAGE_BYTES`]), the info word the receiver gets:
    /// `decode(word).map(encode)` for those, `None` for any other word. The
    /// kernel's IPC fast path takes only these, and tests them with two
    /// masks instead of unpacking the word.
    #[inline(always)]
    pub const fn short(word: u64) -> Option<u64> {
        let delivered = word & !CALL_INTERRUPTIBLE;
        let short =
            delivered & 0xffff_0000 == 0 && delivered & 0xffff <= SHORT_MESSAGE_BYTES as u64;
        if short {
            Some(delivered)
        } else {
            None
        }
    }
}

/// Memory mapping flags in syscall arguments.
pub mod map_flags {
    pub const WRITE: u64 = 1;
    pub const EXECUTE: u64 = 2;
}

/// `MemoryCreate` flags.
/// A bit of a `Call`'s message-info word (bits 31–24 are otherwise zero):
/// the caller may be interrupted while the server holds the call
/// (`ThreadSuspend`: a read of a terminal waiting for a line may, a write a
/// file server is carrying out may not). A reply then reaches nobody.
pub const CALL_INTERRUPTIBLE: u64 = 1 << 24;

pub mod memory_flags {
    /// The frames form one physical run (a DMA buffer); `MemoryInfo` reports
    /// the first frame's address.
    pub const CONTIGUOUS: u64 = 1;
}

bitflags::bitflags! {
    /// What the holder of a capability may do with its object.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Rights: u32 {
        const READ = 1;
        const WRITE = 2;
        const GRANT = 4;
        const MAP = 8;
        const EXECUTE = 16;
        const ALL = Self::READ.bits()
            | Self::WRITE.bits()
            | Self::GRANT.bits()
            | Self::MAP.bits()
            | Self::EXECUTE.bits();
    }
}

/// Capability rights bits as syscall argument words ([`Rights`]).
pub mod rights {
    use super::Rights;
    pub const READ: u64 = Rights::READ.bits() as u64;
    pub const WRITE: u64 = Rights::WRITE.bits() as u64;
    pub const GRANT: u64 = Rights::GRANT.bits() as u64;
    pub const MAP: u64 = Rights::MAP.bits() as u64;
    pub const EXECUTE: u64 = Rights::EXECUTE.bits() as u64;
}

/// Fault kinds: the first word of a fault message (`labels::FAULT`).
pub mod fault {
    pub const DATA_ABORT: u64 = 1;
    pub const INSTRUCTION_ABORT: u64 = 2;
    pub const UNDEFINED_INSTRUCTION: u64 = 3;
    pub const ALIGNMENT: u64 = 4;
    pub const OTHER: u64 = 5;

    /// A kind's name for reports.
    pub fn kind_name(kind: u64) -> &'static str {
        match kind {
            DATA_ABORT => "data abort",
            INSTRUCTION_ABORT => "instruction abort",
            UNDEFINED_INSTRUCTION => "undefined instruction",
            ALIGNMENT => "alignment fault",
            _ => "exception",
        }
    }
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

    /// A fixed buffer for formatting without `alloc` or `std`.
    struct Cursor<'a>(&'a mut [u8], usize);

    impl core::fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

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
        assert_eq!(MessageInfo::decode(1 << 25), None);
        // The one flag bit a call may carry decodes to the same message.
        assert_eq!(
            MessageInfo::decode(info.encode() | CALL_INTERRUPTIBLE),
            Some(info)
        );
    }

    #[test]
    fn short_is_decode_then_encode_of_short_messages() {
        // Every length, capability count and flag bit (bits 25–0), two labels.
        for label in [0, 0xdead_beef] {
            for low in 0..1u64 << 26 {
                let word = label << 32 | low;
                let expected = MessageInfo::decode(word)
                    .filter(|i| i.caps == 0 && i.length as usize <= SHORT_MESSAGE_BYTES)
                    .map(MessageInfo::encode);
                assert_eq!(MessageInfo::short(word), expected, "{word:#x}");
            }
        }
        // Bits 31–25 set: never valid.
        assert_eq!(MessageInfo::short(1 << 31 | 8), None);
    }

    #[test]
    fn error_codes_round_trip() {
        for code in 1..=19 {
            assert_eq!(SysError::from_code(code).map(SysError::code), Some(code));
        }
        assert_eq!(SysError::from_code(0), None);
        assert_eq!(SysError::from_code(20), None);
    }

    #[test]
    fn error_codes_and_names_agree() {
        for code in 1..=19 {
            let error = SysError::from_code(code).expect("a known code");
            assert_eq!(error.code(), code);
            let mut debug = [0u8; 32];
            let mut cursor = Cursor(&mut debug, 0);
            core::fmt::write(&mut cursor, format_args!("{error:?}")).expect("fits");
            let length = cursor.1;
            assert_eq!(&debug[..length], error.name().as_bytes());
        }
        assert_eq!(SysError::from_code(0), None);
        assert_eq!(SysError::from_code(20), None);
    }

    #[test]
    fn numbers_round_trip() {
        for n in (0..40).chain(41..52) {
            assert_eq!(Sys::from_number(n).map(|s| s as u64), Some(n));
        }
        assert_eq!(Sys::from_number(40), None);
        assert_eq!(Sys::from_number(52), None);
        assert_eq!(Sys::from_number(u64::MAX), None);
    }
}

/// Where the kernel puts things in init's address space (and the conventions
/// `libzos` follows for every process it starts). wasm32 has its own, packed
/// below 4 GiB: a process's address space is its linear memory there, as
/// large as its highest mapping, so what every process maps comes first and
/// what only one service maps (init's initramfs, the VFS's windows) last,
/// sharing addresses.
#[cfg(target_arch = "wasm32")]
pub mod layout {
    /// Exclusive upper bound of user space (the 32-bit linear memory).
    pub const USER_TOP: u64 = 0x1_0000_0000;
    /// Lowest mappable user address.
    pub const USER_BOTTOM: u64 = 0x1000;
    /// The module's own memory (its data and the stack the linker laid out)
    /// must end below this; nothing is mapped under it.
    pub const MODULE_STATIC_TOP: u64 = 0x0080_0000;
    /// The main thread's IPC buffer (8 KiB).
    pub const IPC_BUFFER: u64 = 0x0080_0000;
    /// The boot information page (read-only), passed to init.
    pub const BOOT_INFO: u64 = 0x0081_0000;
    /// A process's start-up page (arguments, environment, descriptors).
    pub const START_INFO: u64 = 0x0082_0000;
    /// Top of the main thread's stack (`__stack_pointer` starts here).
    pub const STACK_TOP: u64 = 0x00C0_0000;
    /// No address-space randomisation in a wasm linear memory.
    pub const RANDOM_SPAN: u64 = 0;
    pub const STACK_RANDOM_SPAN: u64 = 0;
    /// Size of init's stack.
    pub const INIT_STACK_SIZE: u64 = 256 * 1024;
    /// Stacks and IPC buffers of extra threads, one 2 MiB slot each.
    pub const THREAD_AREA: u64 = 0x00C0_0000;
    /// Slots in [`THREAD_AREA`]: threads a process can ever start.
    pub const THREAD_SLOTS: u64 = 8;
    /// The buffer a process shares with the VFS.
    pub const VFS_SHARED: u64 = 0x01C0_0000;
    /// The two 64 KiB buffers a process shares with socket servers (the netstack).
    pub const SOCKET_SHARED: u64 = 0x01F0_0000;
    /// Device registers a driver maps (the terminal's page).
    pub const DEVICE_WINDOW: u64 = 0x01C1_0000;
    /// Pipe rings (libzos and init), [`PIPE_RING_STRIDE`] apart. Unused on
    /// wasm32 (pipes keep to messages there, `docs/init.md`).
    pub const PIPE_RINGS: u64 = 0x3800_0000;
    /// Address space per pipe ring window.
    pub const PIPE_RING_STRIDE: u64 = 128 * 1024;
    /// Where the loader maps memory it fills for a child (a module, <= 12 MiB).
    pub const LOADER_SCRATCH: u64 = 0x0200_0000;
    /// Where init maps a child's start-up page while writing it.
    pub const START_SCRATCH: u64 = 0x02C0_0000;
    /// Every process's heap (libzos), at most [`HEAP_LIMIT`] bytes.
    pub const HEAP_BASE: u64 = 0x0300_0000;
    /// Largest heap.
    pub const HEAP_LIMIT: u64 = 128 << 20;
    /// The initramfs, mapped read-only into init.
    pub const INITRAMFS: u64 = 0x0B00_0000;
    /// Where the VFS maps the initramfs while filling its root.
    pub const VFS_INITRAMFS: u64 = 0x0B00_0000;
    /// The VFS's windows onto its clients' shared buffers.
    pub const VFS_WINDOWS: u64 = 0x0F00_0000;
    /// The VFS's data buffers of mounts served by other processes, 256 KiB each.
    pub const VFS_REMOTE_BUFFERS: u64 = 0x1B00_0000;
    /// Pages mapped at or above this stay out of the linear memory (the
    /// kernel keeps them in frames only).
    pub const LINEAR_TOP: u64 = 0x4000_0000;
    /// Block-protocol buffers a client attaches (no device drivers run in the
    /// page, but the same tools build).
    pub const DMA_WINDOW: u64 = 0x1F00_0000;
    /// The program's wasm module: the loader maps the file here and the
    /// kernel compiles it when the process's first thread starts.
    pub const MODULE_WINDOW: u64 = 0x8000_0000;
    /// No I/O ports on wasm32; kept so portable code compiles.
    pub const IO_PORT_WINDOW: u64 = 1 << 52;
    /// Never an I/O port on wasm32.
    pub const fn io_port(_physical: u64) -> Option<u16> {
        None
    }
}

/// Where the kernel puts things in init's address space (and the conventions
/// `libzos` follows for every process it starts).
#[cfg(not(target_arch = "wasm32"))]
pub mod layout {
    /// Exclusive upper bound of user space (47-bit addresses).
    pub const USER_TOP: u64 = 0x0000_8000_0000_0000;
    /// Lowest mappable user address: page 0 stays unmapped so null dereferences fault.
    pub const USER_BOTTOM: u64 = 0x1000;
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

    // Conventions of userspace (libzos and the services), kept here so that every
    // fixed user address is defined once and none overlap.

    /// Anonymous `mmap` of C programs (libzos's Linux-syscall dispatcher),
    /// up to [`HEAP_BASE`].
    pub const LINUX_MMAP: u64 = 0x0000_0800_0000_0000;
    /// Every process's heap (libzos), from a random offset below
    /// [`RANDOM_SPAN`] above it (ASLR).
    pub const HEAP_BASE: u64 = 0x0000_1000_0000_0000;
    /// How far ASLR moves the heap and `mmap` bases up and the main stack
    /// down (page-aligned; the stack also by 16-byte steps inside a page).
    pub const RANDOM_SPAN: u64 = 1 << 40;
    /// How far ASLR moves the main thread's stack top down.
    pub const STACK_RANDOM_SPAN: u64 = 1 << 30;
    /// Where the loader maps memory it fills for a child (libzos).
    pub const LOADER_SCRATCH: u64 = 0x0000_2000_0000_0000;
    /// Where init maps a child's start-up page while writing it.
    pub const START_SCRATCH: u64 = 0x0000_2100_0000_0000;
    /// Stacks and IPC buffers of extra threads, one 2 MiB slot each (libzos).
    pub const THREAD_AREA: u64 = 0x0000_3000_0000_0000;
    /// The buffer a process shares with the VFS (libzos).
    pub const VFS_SHARED: u64 = 0x0000_4000_0000_0000;
    /// The two 64 KiB buffers a process shares with socket servers (libzos).
    pub const SOCKET_SHARED: u64 = 0x0000_4100_0000_0000;
    /// Device registers a driver maps (the console's UART page).
    pub const DEVICE_WINDOW: u64 = 0x0000_5000_0000_0000;
    /// A driver's DMA buffers and the buffers its clients attach.
    pub const DMA_WINDOW: u64 = 0x0000_5100_0000_0000;
    /// Pipe rings a process maps (libzos; init maps every ring it owns
    /// here too), [`PIPE_RING_STRIDE`] apart.
    pub const PIPE_RINGS: u64 = 0x0000_5200_0000_0000;
    /// Address space per pipe ring window.
    pub const PIPE_RING_STRIDE: u64 = 128 * 1024;
    /// x86 I/O ports as device memory: page `n` of this physical window
    /// stands for port `n`. A device Memory object over it is granted like an
    /// MMIO region; mapping its pages (anywhere) lets the process use those
    /// ports with `in`/`out`. Above every real physical address (52 bits).
    pub const IO_PORT_WINDOW: u64 = 1 << 52;
    /// The first I/O port of a device whose physical base lies in
    /// [`IO_PORT_WINDOW`] (`None` for memory-mapped devices).
    pub const fn io_port(physical: u64) -> Option<u16> {
        if physical < IO_PORT_WINDOW || (physical - IO_PORT_WINDOW) >> 12 > 0xffff {
            None
        } else {
            Some(((physical - IO_PORT_WINDOW) >> 12) as u16)
        }
    }
    /// The VFS's windows onto its clients' shared buffers.
    pub const VFS_WINDOWS: u64 = 0x0000_5000_0000_0000;
    /// The VFS's data buffers of mounts served by other processes, 256 KiB each.
    pub const VFS_REMOTE_BUFFERS: u64 = VFS_WINDOWS - (1 << 32);
    /// Where the VFS maps the initramfs while filling its root.
    pub const VFS_INITRAMFS: u64 = 0x0000_6000_0000_0000;
    /// The VFS's mappings of files' shared pages (`mmap(MAP_SHARED)`).
    pub const VFS_MAPPED_FILES: u64 = 0x0000_5800_0000_0000;
    /// A process's start-up page (arguments, environment, descriptors),
    /// read-only: the last 512 KiB (`MAX_START_INFO`) of the IPC buffer's
    /// 2 MiB, so that both share one last-level page table.
    pub const START_INFO: u64 = 0x0000_7FFF_FF18_0000;
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
    /// Length of the platform's random seed (the device tree's `rng-seed`, at
    /// most [`MAX_RNG_SEED`] bytes), stored right after the command line.
    pub const WORD_RNG_SEED_LEN: usize = 8;
    /// Most bytes of random seed passed on.
    pub const MAX_RNG_SEED: usize = 64;
    /// First entry; each entry is [`ENTRY_WORDS`] words:
    /// slot, kind (ObjectKind), physical base, size, irq, name (24 bytes, NUL-padded).
    pub const FIRST_ENTRY: usize = 9;
    pub const ENTRY_WORDS: usize = 8;
    /// Fixed capability slots of init.
    pub const SLOT_SELF: u64 = 0;
    pub const SLOT_SYSTEM: u64 = 1;
    pub const SLOT_INITRAMFS: u64 = 2;
    pub const SLOT_MAIN_THREAD: u64 = 3;
    pub const SLOT_BOOT_INFO: u64 = 4;
    /// The Audit object (Axiom's rings): init hands it to `axiomd` only.
    pub const SLOT_AUDIT: u64 = 5;
}
