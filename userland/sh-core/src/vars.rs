//! Shell variables: values, which are exported to children, the environment a
//! child gets (exports plus `A=b cmd` prefix assignments), `export -p` output,
//! and [`ShellEnv`], the expansion environment over variables and the special
//! parameters `$?`, `$$`, `$!`, `$0`…`$9`, `$#`, `$@`, `$*`.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use zos_sh_syntax::{is_valid_name, Env};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// `None` after `export NAME` for a name never set.
    pub value: Option<String>,
    pub exported: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Variables {
    map: BTreeMap<String, Variable>,
    /// Exported names in the order they were first exported (children see
    /// the environment in a stable, familiar order).
    export_order: Vec<String>,
}

impl Variables {
    pub fn new() -> Variables {
        Variables::default()
    }

    /// Imports `KEY=value` strings as exported variables; malformed entries
    /// (no `=`, invalid name) are skipped.
    pub fn from_environment<'a>(environment: impl IntoIterator<Item = &'a str>) -> Variables {
        let mut variables = Variables::new();
        for entry in environment {
            if let Some((name, value)) = entry.split_once('=') {
                if is_valid_name(name) {
                    variables.export(name, Some(value));
                }
            }
        }
        variables
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(|v| v.value.as_deref())
    }

    pub fn is_exported(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| v.exported)
    }

    /// Sets a variable, keeping its export flag.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.map.get_mut(name) {
            Some(variable) => variable.value = Some(value.to_string()),
            None => {
                self.map.insert(
                    name.to_string(),
                    Variable {
                        value: Some(value.to_string()),
                        exported: false,
                    },
                );
            }
        }
    }

    /// Marks a variable exported, setting it when `value` is given.
    pub fn export(&mut self, name: &str, value: Option<&str>) {
        let variable = self.map.entry(name.to_string()).or_insert(Variable {
            value: None,
            exported: false,
        });
        if let Some(value) = value {
            variable.value = Some(value.to_string());
        }
        if !variable.exported {
            variable.exported = true;
            self.export_order.push(name.to_string());
        }
    }

    pub fn unset(&mut self, name: &str) {
        self.map.remove(name);
        self.export_order.retain(|exported| exported != name);
    }

    /// `KEY=value` for every exported variable that has a value, with
    /// `overrides` (prefix assignments) replacing or adding entries.
    pub fn child_environment(&self, overrides: &[(String, String)]) -> Vec<String> {
        let mut environment: Vec<String> = Vec::new();
        for name in &self.export_order {
            if overrides.iter().any(|(key, _)| key == name) {
                continue;
            }
            if let Some(value) = self.get(name) {
                environment.push(format!("{name}={value}"));
            }
        }
        for (index, (name, value)) in overrides.iter().enumerate() {
            // The last of repeated assignments wins.
            if overrides[index + 1..]
                .iter()
                .any(|(later, _)| later == name)
            {
                continue;
            }
            environment.push(format!("{name}={value}"));
        }
        environment
    }

    /// What `export` / `export -p` prints, in name order.
    pub fn export_listing(&self) -> String {
        let mut text = String::new();
        for (name, variable) in &self.map {
            if !variable.exported {
                continue;
            }
            match &variable.value {
                Some(value) => text.push_str(&format!("export {name}={}\n", quote(value))),
                None => text.push_str(&format!("export {name}\n")),
            }
        }
        text
    }
}

/// Single-quotes a value for re-reading by the shell.
pub fn quote(value: &str) -> String {
    let mut quoted = String::from("'");
    for character in value.chars() {
        if character == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(character);
        }
    }
    quoted.push('\'');
    quoted
}

/// Splits an assignment word `NAME=value`; `None` if it is not one.
pub fn split_assignment(word: &str) -> Option<(&str, &str)> {
    word.split_once('=').filter(|(name, _)| is_valid_name(name))
}

/// The values of the special parameters.
#[derive(Clone, Debug, Default)]
pub struct Specials {
    pub last_status: i32,
    pub shell_pid: u32,
    /// `$!`: unset until a background job starts.
    pub last_background_pid: Option<u32>,
    /// `$0`.
    pub name: String,
    /// `$1`… (from `sh -c CMD NAME ARGS…`).
    pub positional: Vec<String>,
}

impl Specials {
    pub fn special(&self, symbol: char) -> Option<String> {
        match symbol {
            '?' => Some(self.last_status.to_string()),
            '$' => Some(self.shell_pid.to_string()),
            '!' => self.last_background_pid.map(|pid| pid.to_string()),
            '#' => Some(self.positional.len().to_string()),
            '@' | '*' => Some(self.positional.join(" ")),
            '0' => Some(self.name.clone()),
            digit => {
                let index = digit.to_digit(10)? as usize;
                self.positional.get(index - 1).cloned()
            }
        }
    }
}

/// The expansion environment: shell variables first, then `fallback` (the
/// process environment), and the special parameters.
pub struct ShellEnv<'a> {
    pub variables: &'a Variables,
    pub specials: &'a Specials,
    pub fallback: &'a dyn Fn(&str) -> Option<String>,
}

impl Env for ShellEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        match self.variables.get(name) {
            Some(value) => Some(value.to_string()),
            None => (self.fallback)(name),
        }
    }

    fn special(&self, symbol: char) -> Option<String> {
        self.specials.special(symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zos_sh_syntax::{expand_words, parse};

    #[test]
    fn environment_import_and_child_environment() {
        let mut variables =
            Variables::from_environment(["PATH=/bin", "HOME=/root", "bad", "1X=y", "E="]);
        assert_eq!(variables.get("PATH"), Some("/bin"));
        assert_eq!(variables.get("E"), Some(""));
        assert_eq!(variables.get("1X"), None);
        variables.set("LOCAL", "x");
        variables.set("HOME", "/home");
        assert!(variables.is_exported("HOME"));
        assert!(!variables.is_exported("LOCAL"));
        assert_eq!(
            variables.child_environment(&[]),
            vec!["PATH=/bin", "HOME=/home", "E="]
        );
        let overrides = vec![
            ("PATH".to_string(), "/x".to_string()),
            ("A".to_string(), "1".to_string()),
            ("A".to_string(), "2".to_string()),
        ];
        assert_eq!(
            variables.child_environment(&overrides),
            vec!["HOME=/home", "E=", "PATH=/x", "A=2"]
        );
    }

    #[test]
    fn export_without_value_and_unset() {
        let mut variables = Variables::new();
        variables.export("LATER", None);
        assert!(variables.child_environment(&[]).is_empty());
        assert_eq!(variables.export_listing(), "export LATER\n");
        variables.set("LATER", "it's");
        assert_eq!(variables.child_environment(&[]), vec!["LATER=it's"]);
        assert_eq!(variables.export_listing(), "export LATER='it'\\''s'\n");
        variables.unset("LATER");
        assert_eq!(variables.get("LATER"), None);
        assert!(variables.child_environment(&[]).is_empty());
        variables.export("LATER", Some("again"));
        assert_eq!(variables.child_environment(&[]), vec!["LATER=again"]);
    }

    #[test]
    fn assignments_split_only_with_valid_names() {
        assert_eq!(split_assignment("A=b=c"), Some(("A", "b=c")));
        assert_eq!(split_assignment("A="), Some(("A", "")));
        assert_eq!(split_assignment("=x"), None);
        assert_eq!(split_assignment("1=x"), None);
        assert_eq!(split_assignment("plain"), None);
    }

    #[test]
    fn specials_expand() {
        let specials = Specials {
            last_status: 130,
            shell_pid: 7,
            last_background_pid: None,
            name: "sh".into(),
            positional: vec!["a".into(), "b c".into()],
        };
        assert_eq!(specials.special('?').as_deref(), Some("130"));
        assert_eq!(specials.special('$').as_deref(), Some("7"));
        assert_eq!(specials.special('!'), None);
        assert_eq!(specials.special('#').as_deref(), Some("2"));
        assert_eq!(specials.special('0').as_deref(), Some("sh"));
        assert_eq!(specials.special('2').as_deref(), Some("b c"));
        assert_eq!(specials.special('3'), None);
        assert_eq!(specials.special('@').as_deref(), Some("a b c"));
    }

    #[test]
    fn shell_env_prefers_variables_then_fallback() {
        let mut variables = Variables::new();
        variables.set("A", "1 2");
        let specials = Specials {
            last_status: 2,
            ..Specials::default()
        };
        let fallback = |name: &str| (name == "B").then(|| "from-env".to_string());
        let env = ShellEnv {
            variables: &variables,
            specials: &specials,
            fallback: &fallback,
        };
        let script = parse("echo $A \"$A\" $B $C $?").unwrap();
        let words = &script.items[0].first.commands[0].words;
        assert_eq!(
            expand_words(words, &env),
            vec!["echo", "1", "2", "1 2", "from-env", "2"]
        );
    }
}
