//! `yes`: the line to repeat, and a buffer of whole copies of it so each write
//! carries many lines.

use alloc::vec::Vec;

/// The line `yes` prints for `args`: the arguments joined by spaces, or `y`.
pub fn line(args: &[&str]) -> Vec<u8> {
    let mut line = Vec::new();
    if args.is_empty() {
        line.push(b'y');
    }
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            line.push(b' ');
        }
        line.extend_from_slice(arg.as_bytes());
    }
    line.push(b'\n');
    line
}

/// As many whole copies of `line` as fit in `target` bytes (at least one).
pub fn fill(line: &[u8], target: usize) -> Vec<u8> {
    let copies = (target / line.len().max(1)).max(1);
    line.repeat(copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_joined_lines() {
        assert_eq!(line(&[]), b"y\n");
        assert_eq!(line(&["a", "b c"]), b"a b c\n");
        assert_eq!(line(&[""]), b"\n");
    }

    #[test]
    fn buffer_holds_whole_lines() {
        let buffer = fill(b"y\n", 3968);
        assert_eq!(buffer.len(), 3968);
        assert!(buffer.chunks(2).all(|c| c == b"y\n"));
        let buffer = fill(b"abc\n", 10);
        assert_eq!(buffer, b"abc\nabc\n");
        let long = [b'x'; 100];
        assert_eq!(fill(&long, 10).len(), 100);
    }
}
