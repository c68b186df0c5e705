//! The shell as word expansion's [`Context`]: variables and special
//! parameters, `$LINENO`, command substitution, directory listings for
//! pathname expansion, and the `set -u` / `set -f` options.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use zos_sh_syntax::{Context, ExpandError, Program};

use crate::shell::Shell;

impl Context for Shell {
    fn var(&mut self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.last_status.to_string()),
            "$" => Some(self.pid.to_string()),
            "!" => self.last_background.map(|pid| pid.to_string()),
            "#" => Some(self.positional.len().to_string()),
            "-" => Some(self.option_letters()),
            "0" => Some(self.name.clone()),
            "@" | "*" => Some(self.positional.join(" ")),
            "LINENO" => Some(self.lineno.to_string()),
            _ if name.as_bytes()[0].is_ascii_digit() => {
                let index: usize = name.parse().ok()?;
                self.positional.get(index.checked_sub(1)?).cloned()
            }
            _ => self.vars.get(name).map(ToString::to_string),
        }
    }

    fn positional(&mut self) -> Vec<String> {
        self.positional.clone()
    }

    fn set_var(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.vars
            .set(name, value)
            .map_err(|error| error.to_string())
    }

    fn command_output(&mut self, program: &Program) -> Result<String, ExpandError> {
        if self.stack_exhausted() {
            return Err(ExpandError::Command(
                "command substitution nested too deeply".to_string(),
            ));
        }
        self.capture_output(program)
    }

    fn read_dir(&mut self, path: &str) -> Option<Vec<String>> {
        let directory = libzos::fs::read_dir(path).ok()?;
        Some(
            directory
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.name)
                .filter(|name| name != "." && name != "..")
                .collect(),
        )
    }

    fn home(&mut self, user: &str) -> Option<String> {
        (user == "root").then(|| "/root".to_string())
    }

    fn nounset(&self) -> bool {
        self.options.nounset
    }

    fn noglob(&self) -> bool {
        self.options.noglob
    }
}
