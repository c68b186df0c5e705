//! `uname [-asnrm]`: which fields to print, always in the order system name,
//! node name, release, machine.

use crate::failure::UsageError;
use crate::getopt;
use alloc::string::String;
use alloc::vec::Vec;

pub const SYSTEM_NAME: &str = "Zero OS";
pub const NODE_NAME: &str = "zos";
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");
pub const MACHINE: &str = "aarch64";

/// The line `uname` prints for `args` (without the newline).
pub fn output(args: &[&str]) -> Result<String, UsageError> {
    let parsed = getopt::parse(args, "asnrm")?;
    if let Some(extra) = parsed.operands.first() {
        return Err(UsageError(alloc::format!("extra operand '{extra}'")));
    }
    let all = parsed.has('a');
    let wanted = [
        ('s', SYSTEM_NAME),
        ('n', NODE_NAME),
        ('r', RELEASE),
        ('m', MACHINE),
    ];
    let mut fields: Vec<&str> = wanted
        .iter()
        .filter(|(letter, _)| all || parsed.has(*letter))
        .map(|(_, value)| *value)
        .collect();
    if fields.is_empty() {
        fields.push(SYSTEM_NAME);
    }
    Ok(fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(output(&[]).unwrap(), "Zero OS");
        assert_eq!(output(&["-s"]).unwrap(), "Zero OS");
        assert_eq!(output(&["-r"]).unwrap(), RELEASE);
        assert_eq!(output(&["-m"]).unwrap(), "aarch64");
        assert_eq!(output(&["-n"]).unwrap(), "zos");
        assert_eq!(
            output(&["-a"]).unwrap(),
            alloc::format!("Zero OS zos {RELEASE} aarch64")
        );
        assert_eq!(
            output(&["-mr"]).unwrap(),
            alloc::format!("{RELEASE} aarch64")
        );
    }

    #[test]
    fn errors() {
        assert_eq!(output(&["-x"]).unwrap_err().0, "invalid option -- 'x'");
        assert_eq!(output(&["foo"]).unwrap_err().0, "extra operand 'foo'");
    }
}
