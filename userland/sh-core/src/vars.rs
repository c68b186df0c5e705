//! Shell variables: values, the export and readonly attributes, the
//! environment a child gets (exports plus `A=b cmd` prefix assignments),
//! `export -p` / `readonly -p` / `set` listings, and `local` scopes that
//! a function call saves and restores.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use zos_sh_syntax::is_valid_name;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// `None` after `export NAME` for a name never set.
    pub value: Option<String>,
    pub exported: bool,
    pub readonly: bool,
}

/// Why a variable could not be changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarError {
    ReadOnly(String),
    BadName(String),
}

impl core::fmt::Display for VarError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VarError::ReadOnly(name) => write!(f, "{name}: is read only"),
            VarError::BadName(name) => write!(f, "{name}: bad variable name"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Variables {
    map: BTreeMap<String, Variable>,
    /// One frame per function call that used `local`: the saved variables.
    scopes: Vec<Vec<(String, Option<Variable>)>>,
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
                    let _ = variables.export(name, Some(value));
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

    pub fn is_readonly(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| v.readonly)
    }

    fn entry(&mut self, name: &str) -> &mut Variable {
        self.map.entry(name.to_string()).or_insert(Variable {
            value: None,
            exported: false,
            readonly: false,
        })
    }

    /// Sets a variable, keeping its attributes.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), VarError> {
        if !is_valid_name(name) {
            return Err(VarError::BadName(name.to_string()));
        }
        if self.is_readonly(name) {
            return Err(VarError::ReadOnly(name.to_string()));
        }
        self.entry(name).value = Some(value.to_string());
        Ok(())
    }

    /// Marks a variable exported, setting it when `value` is given.
    pub fn export(&mut self, name: &str, value: Option<&str>) -> Result<(), VarError> {
        if let Some(value) = value {
            self.set(name, value)?;
        } else if !is_valid_name(name) {
            return Err(VarError::BadName(name.to_string()));
        }
        self.entry(name).exported = true;
        Ok(())
    }

    /// Marks a variable read-only, setting it when `value` is given.
    pub fn make_readonly(&mut self, name: &str, value: Option<&str>) -> Result<(), VarError> {
        if let Some(value) = value {
            self.set(name, value)?;
        } else if !is_valid_name(name) {
            return Err(VarError::BadName(name.to_string()));
        }
        self.entry(name).readonly = true;
        Ok(())
    }

    pub fn unset(&mut self, name: &str) -> Result<(), VarError> {
        if self.is_readonly(name) {
            return Err(VarError::ReadOnly(name.to_string()));
        }
        self.map.remove(name);
        Ok(())
    }

    /// Starts a function call's scope for `local`.
    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Ends a function call's scope: local variables get their old values.
    pub fn pop_scope(&mut self) {
        let Some(saved) = self.scopes.pop() else {
            return;
        };
        for (name, old) in saved.into_iter().rev() {
            match old {
                Some(variable) => {
                    self.map.insert(name, variable);
                }
                None => {
                    self.map.remove(&name);
                }
            }
        }
    }

    /// `local NAME`: saves the variable, restored when the scope ends.
    /// Outside a function it is an error (the message to show).
    pub fn make_local(&mut self, name: &str) -> Result<(), &'static str> {
        let old = self.map.get(name).cloned();
        let Some(scope) = self.scopes.last_mut() else {
            return Err("not in a function");
        };
        if !scope.iter().any(|(saved, _)| saved == name) {
            scope.push((name.to_string(), old));
        }
        Ok(())
    }

    /// `KEY=value` for every exported variable that has a value, with
    /// `overrides` (prefix assignments) replacing or adding entries.
    pub fn child_environment(&self, overrides: &[(String, String)]) -> Vec<String> {
        let mut environment: Vec<String> = Vec::new();
        for (name, variable) in &self.map {
            if !variable.exported || overrides.iter().any(|(key, _)| key == name) {
                continue;
            }
            if let Some(value) = &variable.value {
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

    /// `export -p` (or `readonly -p` with `readonly`), in name order.
    pub fn listing(&self, readonly: bool) -> String {
        let word = if readonly { "readonly" } else { "export" };
        let mut text = String::new();
        for (name, variable) in &self.map {
            let wanted = if readonly {
                variable.readonly
            } else {
                variable.exported
            };
            if !wanted {
                continue;
            }
            match &variable.value {
                Some(value) => text.push_str(&format!("{word} {name}={}\n", quote(value))),
                None => text.push_str(&format!("{word} {name}\n")),
            }
        }
        text
    }

    /// `set` without arguments: every variable with a value.
    pub fn all_listing(&self) -> String {
        let mut text = String::new();
        for (name, variable) in &self.map {
            if let Some(value) = &variable.value {
                text.push_str(&format!("{name}={}\n", quote(value)));
            }
        }
        text
    }

    /// Shell text that recreates the unexported variables (for a child
    /// shell that runs a subshell or background job).
    pub fn recreate_script(&self) -> String {
        let mut text = String::new();
        for (name, variable) in &self.map {
            if let (Some(value), false) = (&variable.value, variable.exported) {
                text.push_str(&format!("{name}={}\n", quote(value)));
            }
        }
        text
    }
}

/// Single-quotes a value for re-reading by the shell.
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b))
    {
        return value.to_string();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_export_readonly() {
        let mut vars = Variables::from_environment(["PATH=/bin", "bad-name=x", "NOEQ"]);
        assert_eq!(vars.get("PATH"), Some("/bin"));
        assert!(vars.is_exported("PATH"));
        vars.set("A", "1").unwrap();
        assert!(!vars.is_exported("A"));
        vars.make_readonly("A", None).unwrap();
        assert_eq!(vars.set("A", "2"), Err(VarError::ReadOnly("A".into())));
        assert_eq!(vars.unset("A"), Err(VarError::ReadOnly("A".into())));
        assert_eq!(vars.set("1x", "2"), Err(VarError::BadName("1x".into())));
        assert_eq!(
            vars.child_environment(&[("B".into(), "2".into())]),
            ["PATH=/bin", "B=2"]
        );
        assert_eq!(vars.listing(true), "readonly A=1\n");
        assert_eq!(vars.recreate_script(), "A=1\n");
    }

    #[test]
    fn local_scopes_restore() {
        let mut vars = Variables::new();
        vars.set("x", "outer").unwrap();
        assert!(vars.make_local("x").is_err());
        vars.push_scope();
        vars.make_local("x").unwrap();
        vars.make_local("y").unwrap();
        vars.set("x", "inner").unwrap();
        vars.set("y", "new").unwrap();
        assert_eq!(vars.get("x"), Some("inner"));
        vars.pop_scope();
        assert_eq!(vars.get("x"), Some("outer"));
        assert_eq!(vars.get("y"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("a b"), "'a b'");
    }
}
