//! How a tool ends when it does not succeed, and the POSIX exit code for each
//! outcome: 0 success, 1 error, 2 usage error, or a code of the tool's choosing.

use alloc::string::String;
use core::fmt;

/// A command line the tool cannot accept; the message follows `TOOL: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Exit code of a successful run.
pub const EXIT_OK: i32 = 0;
/// Exit code after an error (an operation failed).
pub const EXIT_ERROR: i32 = 1;
/// Exit code after a usage error (a bad command line).
pub const EXIT_USAGE: i32 = 2;

/// Why a tool stopped before finishing normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad command line: print `TOOL: message` and the usage line, exit 2.
    Usage(String),
    /// An operation failed: print `TOOL: message`, exit 1.
    Error(String),
    /// End with this code and print nothing (`false`, a broken pipe, the
    /// status of a command `env` ran, or errors already reported).
    Exit(i32),
}

impl Failure {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Error(_) => EXIT_ERROR,
            Failure::Exit(code) => *code,
        }
    }

    /// The message to print after `TOOL: `, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Failure::Usage(message) | Failure::Error(message) => Some(message),
            Failure::Exit(_) => None,
        }
    }
}

impl From<UsageError> for Failure {
    fn from(error: UsageError) -> Self {
        Failure::Usage(error.0)
    }
}

/// The exit code of a tool's result.
pub fn exit_code(result: &Result<(), Failure>) -> i32 {
    match result {
        Ok(()) => EXIT_OK,
        Err(failure) => failure.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn exit_codes_follow_posix() {
        assert_eq!(exit_code(&Ok(())), 0);
        assert_eq!(exit_code(&Err(Failure::Error("x".to_string()))), 1);
        assert_eq!(exit_code(&Err(Failure::Usage("x".to_string()))), 2);
        assert_eq!(exit_code(&Err(Failure::Exit(141))), 141);
    }

    #[test]
    fn usage_errors_become_usage_failures() {
        let failure: Failure = UsageError("bad".to_string()).into();
        assert_eq!(failure, Failure::Usage("bad".to_string()));
        assert_eq!(failure.message(), Some("bad"));
        assert_eq!(Failure::Exit(1).message(), None);
    }
}
