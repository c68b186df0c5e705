//! POSIX error numbers (Linux values), defined once for every protocol
//! response, every server and libzos: the typed [`Errno`] (what the VFS core
//! returns) and the same numbers as plain `i32` constants (what travels in
//! messages), with their names and messages.

use core::fmt;

macro_rules! errno_table {
    ($($variant:ident = $value:literal, $text:literal;)*) => {
        $(
            #[doc = $text]
            pub const $variant: i32 = $value;
        )*

        /// A POSIX error number with its Linux numeric value.
        #[repr(i32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Errno {
            $(
                #[doc = $text]
                $variant = $value,
            )*
        }

        impl Errno {
            /// Every error number, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$variant,)*];

            /// The symbolic name, e.g. `"ENOENT"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Errno::$variant => stringify!($variant),)*
                }
            }

            /// The human-readable message, e.g. `"No such file or directory"`.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Errno::$variant => $text,)*
                }
            }

            /// The error with Linux number `value`, if this crate knows it.
            pub const fn from_i32(value: i32) -> Option<Errno> {
                match value {
                    $($value => Some(Errno::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

errno_table! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Numerical result out of range";
    ENAMETOOLONG = 36, "File name too long";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    EOVERFLOW = 75, "Value too large for defined data type";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    ENOTSUP = 95, "Operation not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETUNREACH = 101, "Network is unreachable";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ECANCELED = 125, "Operation canceled";
}

impl Errno {
    /// The Linux number of this error.
    pub const fn as_i32(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.name())
    }
}

impl core::error::Error for Errno {}

/// The symbolic name of an error number (`"EUNKNOWN"` for one not listed).
pub fn name(errno: i32) -> &'static str {
    Errno::from_i32(errno).map_or("EUNKNOWN", Errno::name)
}

/// A human description of an error number (`"Unknown error"` for one not listed).
pub fn describe(errno: i32) -> &'static str {
    Errno::from_i32(errno).map_or("Unknown error", Errno::description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_linux() {
        assert_eq!(Errno::EPERM as i32, 1);
        assert_eq!(Errno::ENOENT as i32, 2);
        assert_eq!(Errno::EBADF as i32, 9);
        assert_eq!(Errno::EXDEV as i32, 18);
        assert_eq!(Errno::ENOSPC as i32, 28);
        assert_eq!(Errno::ENAMETOOLONG as i32, 36);
        assert_eq!(Errno::ENOTEMPTY as i32, 39);
        assert_eq!(Errno::ELOOP as i32, 40);
    }

    #[test]
    fn round_trips_through_i32() {
        for &errno in Errno::ALL {
            assert_eq!(Errno::from_i32(errno.as_i32()), Some(errno));
            assert!(errno.name().starts_with('E'));
            assert!(!errno.description().is_empty());
        }
        assert_eq!(Errno::from_i32(0), None);
        assert_eq!(Errno::from_i32(-2), None);
        assert_eq!(Errno::from_i32(41), None);
    }

    #[test]
    fn plain_numbers_and_the_typed_table_agree() {
        assert_eq!(ENOENT, Errno::ENOENT as i32);
        assert_eq!(name(ELOOP), "ELOOP");
        assert_eq!(describe(ENOSPC), "No space left on device");
        assert_eq!(name(12345), "EUNKNOWN");
        assert_eq!(describe(-1), "Unknown error");
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(Errno::ENOENT.name(), "ENOENT");
        assert_eq!(Errno::ENOENT.description(), "No such file or directory");
        assert_eq!(
            alloc::format!("{}", Errno::EISDIR),
            "Is a directory (EISDIR)"
        );
    }
}
