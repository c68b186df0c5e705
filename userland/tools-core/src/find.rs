//! `find`: the command line (starting points, then `-name GLOB`, `-type
//! f|d|l|c|b|p|s`, `-maxdepth N`, `-mindepth N`, `-print`; every test must
//! hold) and the test of one walked entry. Globs are the shell's
//! (`zos_sh_syntax::glob_match`).

use crate::failure::UsageError;
use alloc::format;
use alloc::vec::Vec;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindOptions<'a> {
    /// Starting points; `.` when none is given.
    pub paths: Vec<&'a str>,
    /// `-name`: globs the last component must match.
    pub names: Vec<&'a str>,
    /// `-type`: the `ls -l` type letter wanted (`f` is `-`).
    pub kinds: Vec<char>,
    pub max_depth: Option<u32>,
    pub min_depth: u32,
}

fn depth(value: &str, option: &str) -> Result<u32, UsageError> {
    value
        .parse::<u32>()
        .map_err(|_| UsageError(format!("{option}: invalid depth '{value}'")))
}

pub fn parse<'a>(args: &[&'a str]) -> Result<FindOptions<'a>, UsageError> {
    let mut options = FindOptions::default();
    let mut index = 0;
    while index < args.len() && !args[index].starts_with('-') {
        options.paths.push(args[index]);
        index += 1;
    }
    if options.paths.is_empty() {
        options.paths.push(".");
    }
    while index < args.len() {
        let option = args[index];
        index += 1;
        if option == "-print" {
            continue;
        }
        let Some(value) = args.get(index).copied() else {
            return Err(UsageError(format!("missing argument to '{option}'")));
        };
        index += 1;
        match option {
            "-name" => options.names.push(value),
            "-type" => {
                let letter = match value {
                    "f" => '-',
                    "d" | "l" | "c" | "b" | "p" | "s" => value.chars().next().unwrap_or('?'),
                    _ => return Err(UsageError(format!("unknown argument to -type: {value}"))),
                };
                options.kinds.push(letter);
            }
            "-maxdepth" => options.max_depth = Some(depth(value, option)?),
            "-mindepth" => options.min_depth = depth(value, option)?,
            _ => return Err(UsageError(format!("unknown predicate '{option}'"))),
        }
    }
    Ok(options)
}

impl FindOptions<'_> {
    /// Whether the entry called `name` (last component), of `ls` type letter
    /// `kind`, found `depth` levels below its starting point, is printed.
    pub fn selects(&self, name: &str, kind: char, depth: u32) -> bool {
        depth >= self.min_depth
            && self
                .names
                .iter()
                .all(|glob| zos_sh_syntax::glob_match(glob, name))
            && self.kinds.iter().all(|wanted| *wanted == kind)
    }

    /// Whether the walk goes into a directory found at `depth`.
    pub fn descends(&self, depth: u32) -> bool {
        self.max_depth.is_none_or(|max| depth < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let options = parse(&["/tmp", "/bin", "-name", "*.txt", "-type", "f"]).unwrap();
        assert_eq!(options.paths, ["/tmp", "/bin"]);
        assert_eq!(options.names, ["*.txt"]);
        assert_eq!(options.kinds, ['-']);
        assert_eq!(parse(&[]).unwrap().paths, ["."]);
        assert_eq!(parse(&["-maxdepth", "1"]).unwrap().max_depth, Some(1));
        assert!(parse(&["-name"]).is_err());
        assert!(parse(&["-type", "x"]).is_err());
        assert!(parse(&["-frob", "1"]).is_err());
        assert!(parse(&["-maxdepth", "deep"]).is_err());
    }

    #[test]
    fn selection() {
        let options = parse(&["-name", "*.rs", "-type", "f"]).unwrap();
        assert!(options.selects("main.rs", '-', 2));
        assert!(!options.selects("main.rs", 'd', 2));
        assert!(!options.selects("main.c", '-', 2));
        let all = parse(&[]).unwrap();
        assert!(all.selects(".", 'd', 0));
        assert!(all.descends(100));
        let shallow = parse(&["-maxdepth", "1", "-mindepth", "1"]).unwrap();
        assert!(!shallow.selects("x", '-', 0));
        assert!(shallow.descends(0));
        assert!(!shallow.descends(1));
    }

    #[test]
    fn globs_with_classes() {
        let options = parse(&["-name", "[ab]?c"]).unwrap();
        assert!(options.selects("axc", '-', 1));
        assert!(!options.selects("cxc", '-', 1));
    }
}
