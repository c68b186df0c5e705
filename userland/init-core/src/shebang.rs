//! `#!` interpreter lines: a program image that starts with `#!` names the
//! interpreter that runs it (`#!/bin/sh`, `#!/bin/sh -e`). The process
//! manager starts the interpreter with the script's path inserted:
//! `interpreter [argument] path args...`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Longest interpreter line looked at (as Linux: 256 bytes).
pub const MAX_LINE: usize = 256;

/// The interpreter and its optional single argument, if `image` starts
/// with a well-formed `#!` line.
pub fn parse(image: &[u8]) -> Option<(String, Option<String>)> {
    let rest = image.strip_prefix(b"#!")?;
    let end = rest
        .iter()
        .take(MAX_LINE)
        .position(|&b| b == b'\n')
        .unwrap_or(rest.len().min(MAX_LINE));
    let line = core::str::from_utf8(&rest[..end]).ok()?.trim();
    let (interpreter, argument) = match line.split_once([' ', '\t']) {
        Some((interpreter, argument)) => (interpreter, Some(argument.trim())),
        None => (line, None),
    };
    if interpreter.is_empty() {
        return None;
    }
    Some((
        interpreter.to_string(),
        argument.filter(|a| !a.is_empty()).map(ToString::to_string),
    ))
}

/// The interpreter's argument vector for running `path` with `argv`.
pub fn argv<'a>(
    interpreter: &'a str,
    argument: Option<&'a str>,
    path: &'a str,
    argv: &[&'a str],
) -> Vec<&'a str> {
    let mut result = alloc::vec![interpreter];
    result.extend(argument);
    result.push(path);
    result.extend(argv.iter().skip(1));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(parse(b"#!/bin/sh\necho"), Some(("/bin/sh".into(), None)));
        assert_eq!(
            parse(b"#! /bin/sh  -e \nx"),
            Some(("/bin/sh".into(), Some("-e".into())))
        );
        assert_eq!(parse(b"#!/bin/sh"), Some(("/bin/sh".into(), None)));
        assert_eq!(parse(b"#!\n"), None);
        assert_eq!(parse(b"\x7fELF"), None);
        assert_eq!(parse(b"echo hi"), None);
        assert_eq!(parse(b"#!\xff\xfe\n"), None);
    }

    #[test]
    fn arguments() {
        assert_eq!(
            argv("/bin/sh", Some("-e"), "/bin/s", &["s", "a", "b"]),
            ["/bin/sh", "-e", "/bin/s", "a", "b"]
        );
        assert_eq!(argv("/bin/sh", None, "/x", &["x"]), ["/bin/sh", "/x"]);
    }
}
