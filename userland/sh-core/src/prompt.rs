//! Prompts: `PWD # ` for a new command (`PWD $ ` for users other than root),
//! `> ` while a command continues on another line.

use alloc::format;
use alloc::string::String;

/// The prompt before a command continues (open quote, trailing `|`…).
pub const CONTINUATION_PROMPT: &str = "> ";

/// The primary prompt for working directory `cwd`.
pub fn primary(cwd: &str) -> String {
    format!("{cwd} # ")
}

/// The primary prompt of a user: `#` for root, `$` for everyone else.
pub fn primary_for(cwd: &str, root: bool) -> String {
    if root {
        primary(cwd)
    } else {
        format!("{cwd} $ ")
    }
}

/// The prompt for the first line (`continuing` false) or a later one.
pub fn for_line(cwd: &str, continuing: bool) -> String {
    if continuing {
        String::from(CONTINUATION_PROMPT)
    } else {
        primary(cwd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(primary("/"), "/ # ");
        assert_eq!(primary_for("/home/alice", false), "/home/alice $ ");
        assert_eq!(primary_for("/", true), "/ # ");
        assert_eq!(for_line("/tmp", false), "/tmp # ");
        assert_eq!(for_line("/tmp", true), "> ");
    }
}
