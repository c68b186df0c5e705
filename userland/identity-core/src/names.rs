//! Which names a user or group may have: 1 to 32 bytes of lowercase letters,
//! digits, `_`, `-` and `.`, starting with a letter or `_` (the portable set;
//! no `:` or `/`, which would break the files or paths, no control characters).

/// Longest user or group name.
pub const NAME_MAX: usize = 32;

/// Why a name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    /// A character outside the portable set (the first one found).
    BadCharacter(char),
    /// Starts with a digit, `-` or `.`.
    BadStart,
}

impl core::fmt::Display for NameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NameError::Empty => write!(f, "the name is empty"),
            NameError::TooLong => write!(f, "the name is longer than {NAME_MAX} bytes"),
            NameError::BadCharacter(c) if c.is_control() => {
                write!(f, "the name contains a control character")
            }
            NameError::BadCharacter(c) => write!(f, "the name contains '{c}'"),
            NameError::BadStart => write!(f, "the name must start with a letter or '_'"),
        }
    }
}

pub fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > NAME_MAX {
        return Err(NameError::TooLong);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(*c)))
    {
        return Err(NameError::BadCharacter(bad));
    }
    let first = name.as_bytes()[0];
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err(NameError::BadStart);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_portable_names() {
        for name in ["alice", "bob", "_svc", "a1", "web-admin", "x.y"] {
            assert_eq!(check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(check(""), Err(NameError::Empty));
        assert_eq!(check(&"a".repeat(33)), Err(NameError::TooLong));
        assert_eq!(check("a:b"), Err(NameError::BadCharacter(':')));
        assert_eq!(check("a/b"), Err(NameError::BadCharacter('/')));
        assert_eq!(check("a\nb"), Err(NameError::BadCharacter('\n')));
        assert_eq!(check("a\u{7f}"), Err(NameError::BadCharacter('\u{7f}')));
        assert_eq!(check("Alice"), Err(NameError::BadCharacter('A')));
        assert_eq!(check("1x"), Err(NameError::BadStart));
        assert_eq!(check("-x"), Err(NameError::BadStart));
        assert!(check("a\u{1b}[2J").is_err());
    }
}
