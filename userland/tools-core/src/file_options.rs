//! Command lines of the tools that change the namespace or move file data:
//! `cat`, `tee`, `mkdir`, `rmdir`, `rm`, `mv`, `cp`, `ln`, `touch`.

use crate::failure::UsageError;
use crate::getopt;
use crate::mode::parse_octal_mode;
use alloc::format;
use alloc::vec::Vec;

fn require_operands(operands: &[&str], at_least: usize) -> Result<(), UsageError> {
    match operands.len() {
        n if n >= at_least => Ok(()),
        0 => Err(UsageError("missing operand".into())),
        _ => Err(UsageError(format!(
            "missing destination file operand after '{}'",
            operands[operands.len() - 1]
        ))),
    }
}

/// `cat [-u] [FILE]...` (`-u` is accepted; output is never buffered).
pub fn parse_cat<'a>(args: &[&'a str]) -> Result<Vec<&'a str>, UsageError> {
    Ok(getopt::parse(args, "u")?.operands)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeeOptions<'a> {
    pub append: bool,
    pub files: Vec<&'a str>,
}

/// `tee [-a] [-i] [FILE]...`.
pub fn parse_tee<'a>(args: &[&'a str]) -> Result<TeeOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "ai")?;
    Ok(TeeOptions {
        append: parsed.has('a'),
        files: parsed.operands,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MkdirOptions<'a> {
    /// `-p`: create missing parents; an existing directory is no error.
    pub parents: bool,
    /// `-m MODE`: the mode of the new directories (not masked by the umask).
    pub mode: Option<u32>,
    pub dirs: Vec<&'a str>,
}

/// Mode of a new directory before the umask.
pub const DEFAULT_DIR_MODE: u32 = 0o777;

/// `mkdir [-p] [-m MODE] DIR...`.
pub fn parse_mkdir<'a>(args: &[&'a str]) -> Result<MkdirOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "pm:")?;
    require_operands(&parsed.operands, 1)?;
    let mode = match parsed.last_value('m') {
        Some(text) => Some(
            parse_octal_mode(text)
                .ok_or_else(|| UsageError(format!("invalid mode '{text}' (use octal)")))?,
        ),
        None => None,
    };
    Ok(MkdirOptions {
        parents: parsed.has('p'),
        mode,
        dirs: parsed.operands,
    })
}

/// `rmdir DIR...`.
pub fn parse_rmdir<'a>(args: &[&'a str]) -> Result<Vec<&'a str>, UsageError> {
    let parsed = getopt::parse(args, "")?;
    require_operands(&parsed.operands, 1)?;
    Ok(parsed.operands)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmOptions<'a> {
    /// `-r`/`-R`: remove directories and what they hold.
    pub recursive: bool,
    /// `-f`: missing files are no error; no operands is no error.
    pub force: bool,
    pub paths: Vec<&'a str>,
}

/// `rm [-r|-R] [-f] PATH...`.
pub fn parse_rm<'a>(args: &[&'a str]) -> Result<RmOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "rRf")?;
    let force = parsed.has('f');
    if !force {
        require_operands(&parsed.operands, 1)?;
    }
    Ok(RmOptions {
        recursive: parsed.has('r') || parsed.has('R'),
        force,
        paths: parsed.operands,
    })
}

/// Sources and a destination (`cp`, `mv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferOptions<'a> {
    /// `cp -r`/`-R`.
    pub recursive: bool,
    pub sources: Vec<&'a str>,
    pub destination: &'a str,
}

impl TransferOptions<'_> {
    /// With several sources the destination must be a directory.
    pub fn needs_directory(&self) -> bool {
        self.sources.len() > 1
    }
}

fn transfer<'a>(args: &[&'a str], spec: &str) -> Result<TransferOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, spec)?;
    require_operands(&parsed.operands, 2)?;
    let mut sources = parsed.operands.clone();
    let destination = sources.pop().unwrap_or_default();
    Ok(TransferOptions {
        recursive: parsed.has('r') || parsed.has('R'),
        sources,
        destination,
    })
}

/// `cp [-r|-R] [-f] SOURCE... DEST`.
pub fn parse_cp<'a>(args: &[&'a str]) -> Result<TransferOptions<'a>, UsageError> {
    transfer(args, "rRf")
}

/// `mv [-f] SOURCE... DEST`.
pub fn parse_mv<'a>(args: &[&'a str]) -> Result<TransferOptions<'a>, UsageError> {
    transfer(args, "f")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LnOptions<'a> {
    /// `-s`: a symbolic link.
    pub symbolic: bool,
    /// `-f`: replace an existing name.
    pub force: bool,
    pub target: &'a str,
    /// The link's name; `None`: the target's last component, here.
    pub name: Option<&'a str>,
}

/// `ln [-s] [-f] TARGET [NAME]`.
pub fn parse_ln<'a>(args: &[&'a str]) -> Result<LnOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "sf")?;
    let (target, name) = match parsed.operands.as_slice() {
        [] => return Err(UsageError("missing file operand".into())),
        [target] => (*target, None),
        [target, name] => (*target, Some(*name)),
        [_, _, extra, ..] => return Err(UsageError(format!("extra operand '{extra}'"))),
    };
    Ok(LnOptions {
        symbolic: parsed.has('s'),
        force: parsed.has('f'),
        target,
        name,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchOptions<'a> {
    /// `-c`: do not create missing files.
    pub no_create: bool,
    pub files: Vec<&'a str>,
}

/// `touch [-c] FILE...`.
pub fn parse_touch<'a>(args: &[&'a str]) -> Result<TouchOptions<'a>, UsageError> {
    let parsed = getopt::parse(args, "c")?;
    require_operands(&parsed.operands, 1)?;
    Ok(TouchOptions {
        no_create: parsed.has('c'),
        files: parsed.operands,
    })
}

/// For tools that take no operands (`df`, `mount`, `sync`).
pub fn no_operands(args: &[&str]) -> Result<(), UsageError> {
    let parsed = getopt::parse(args, "")?;
    match parsed.operands.first() {
        Some(extra) => Err(UsageError(format!("extra operand '{extra}'"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkdir_lines() {
        let options = parse_mkdir(&["-p", "-m", "700", "a/b"]).unwrap();
        assert!(options.parents);
        assert_eq!(options.mode, Some(0o700));
        assert_eq!(options.dirs, ["a/b"]);
        assert!(parse_mkdir(&[]).is_err());
        assert!(parse_mkdir(&["-m", "rwx", "a"]).is_err());
    }

    #[test]
    fn rm_lines() {
        let options = parse_rm(&["-rf", "x"]).unwrap();
        assert!(options.recursive && options.force);
        assert!(parse_rm(&["-R", "x"]).unwrap().recursive);
        assert!(parse_rm(&[]).is_err());
        assert!(parse_rm(&["-f"]).unwrap().paths.is_empty());
    }

    #[test]
    fn transfers() {
        let options = parse_cp(&["-r", "a", "b", "dir"]).unwrap();
        assert!(options.recursive && options.needs_directory());
        assert_eq!(options.sources, ["a", "b"]);
        assert_eq!(options.destination, "dir");
        assert_eq!(
            parse_mv(&["a"]).unwrap_err().0,
            "missing destination file operand after 'a'"
        );
        assert_eq!(parse_mv(&[]).unwrap_err().0, "missing operand");
        assert!(!parse_mv(&["a", "b"]).unwrap().needs_directory());
    }

    #[test]
    fn links() {
        let options = parse_ln(&["-s", "/sbin/zbox", "x"]).unwrap();
        assert!(options.symbolic && !options.force);
        assert_eq!((options.target, options.name), ("/sbin/zbox", Some("x")));
        assert_eq!(parse_ln(&["t"]).unwrap().name, None);
        assert!(parse_ln(&[]).is_err());
        assert!(parse_ln(&["a", "b", "c"]).is_err());
    }

    #[test]
    fn small_tools() {
        assert_eq!(parse_cat(&["-u", "a", "-"]).unwrap(), ["a", "-"]);
        let tee = parse_tee(&["-a", "f"]).unwrap();
        assert!(tee.append);
        assert_eq!(tee.files, ["f"]);
        assert!(parse_touch(&["-c", "f"]).unwrap().no_create);
        assert!(parse_touch(&[]).is_err());
        assert!(parse_rmdir(&[]).is_err());
        assert!(no_operands(&[]).is_ok());
        assert!(no_operands(&["x"]).is_err());
        assert!(no_operands(&["-x"]).is_err());
    }
}
