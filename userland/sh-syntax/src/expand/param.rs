//! Parameter expansion: `$x`, `$@`, `$*`, `${#x}`, the default, assign,
//! error and alternative forms with and without `:`, and prefix/suffix
//! removal by pattern.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{expand_pattern, expand_to_string, ExpandError, Expansion};
use crate::ast::{Param, ParamOp};
use crate::{glob_match, is_valid_name};

/// A parameter's value: one string, or the positional parameters.
enum Value {
    Unset,
    One(String),
    Many(Vec<String>),
}

impl Expansion<'_> {
    fn lookup(&mut self, name: &str) -> Value {
        match name {
            "@" | "*" => Value::Many(self.ctx.positional()),
            _ => match self.ctx.var(name) {
                Some(value) => Value::One(value),
                None => Value::Unset,
            },
        }
    }

    /// `$*` joined by the first character of IFS (none if IFS is empty).
    fn join_star(&mut self, values: &[String]) -> String {
        let separator = match self.ctx.var("IFS") {
            Some(ifs) => ifs.chars().next().map(String::from).unwrap_or_default(),
            None => " ".to_string(),
        };
        values.join(&separator)
    }

    pub(super) fn param(&mut self, param: &Param, quoted: bool) -> Result<(), ExpandError> {
        let value = self.lookup(&param.name);
        let (is_set, is_null) = match &value {
            Value::Unset => (false, true),
            Value::One(text) => (true, text.is_empty()),
            Value::Many(values) => (true, values.is_empty() || values.concat().is_empty()),
        };
        let missing = |colon: bool| !is_set || (colon && is_null);
        match param.op {
            ParamOp::Plain => {
                if !is_set && self.ctx.nounset() {
                    return Err(ExpandError::Unset(param.name.clone()));
                }
                self.insert(&param.name, value, quoted);
            }
            ParamOp::Length => {
                let length = match value {
                    Value::Unset if self.ctx.nounset() => {
                        return Err(ExpandError::Unset(param.name.clone()))
                    }
                    Value::Unset => 0,
                    Value::One(text) => text.chars().count(),
                    Value::Many(values) => values.len(),
                };
                self.push(&length.to_string(), quoted);
            }
            ParamOp::Default { colon } => {
                if missing(colon) {
                    self.word(param, quoted)?;
                } else {
                    self.insert(&param.name, value, quoted);
                }
            }
            ParamOp::Alternative { colon } => {
                if !missing(colon) {
                    self.word(param, quoted)?;
                }
            }
            ParamOp::Assign { colon } => {
                if missing(colon) {
                    if !is_valid_name(&param.name) {
                        return Err(ExpandError::CannotAssign(param.name.clone()));
                    }
                    let text = expand_to_string(&param.word, self.ctx)?;
                    self.ctx
                        .set_var(&param.name, &text)
                        .map_err(ExpandError::Assign)?;
                    self.push(&text, quoted);
                } else {
                    self.insert(&param.name, value, quoted);
                }
            }
            ParamOp::Error { colon } => {
                if missing(colon) {
                    let mut message = expand_to_string(&param.word, self.ctx)?;
                    if message.is_empty() {
                        message = if colon {
                            "parameter null or not set".to_string()
                        } else {
                            "parameter not set".to_string()
                        };
                    }
                    return Err(ExpandError::Required {
                        name: param.name.clone(),
                        message,
                    });
                }
                self.insert(&param.name, value, quoted);
            }
            ParamOp::RemoveSmallestPrefix
            | ParamOp::RemoveLargestPrefix
            | ParamOp::RemoveSmallestSuffix
            | ParamOp::RemoveLargestSuffix => {
                if !is_set && self.ctx.nounset() {
                    return Err(ExpandError::Unset(param.name.clone()));
                }
                let pattern = expand_pattern(&param.word, self.ctx)?;
                let value = match value {
                    Value::Unset => Value::Unset,
                    Value::One(text) => Value::One(remove(&text, &pattern, param.op)),
                    Value::Many(values) => Value::Many(
                        values
                            .iter()
                            .map(|text| remove(text, &pattern, param.op))
                            .collect(),
                    ),
                };
                self.insert(&param.name, value, quoted);
            }
        }
        Ok(())
    }

    /// The word of `${x:-word}` / `${x:+word}`, split like an expansion.
    fn word(&mut self, param: &Param, quoted: bool) -> Result<(), ExpandError> {
        let saved = core::mem::replace(&mut self.literal, super::Kind::Expanded);
        let result = self.parts(&param.word.parts, quoted);
        self.literal = saved;
        result
    }

    /// Puts a value into the fields; `"$@"` makes one field per parameter.
    fn insert(&mut self, name: &str, value: Value, quoted: bool) {
        match value {
            Value::Unset => {}
            Value::One(text) => self.push(&text, quoted),
            Value::Many(values) if quoted && name == "*" => {
                let joined = self.join_star(&values);
                self.push(&joined, true);
            }
            Value::Many(values) => {
                for (index, text) in values.iter().enumerate() {
                    if index > 0 {
                        self.break_field(quoted);
                    }
                    self.push(text, quoted);
                }
            }
        }
    }
}

/// Removes the smallest or largest prefix or suffix matching `pattern`.
pub(crate) fn remove(text: &str, pattern: &str, op: ParamOp) -> String {
    let mut cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    cuts.push(text.len());
    let found = match op {
        ParamOp::RemoveSmallestPrefix => cuts
            .iter()
            .find(|&&i| glob_match(pattern, &text[..i]))
            .map(|&i| text[i..].to_string()),
        ParamOp::RemoveLargestPrefix => cuts
            .iter()
            .rev()
            .find(|&&i| glob_match(pattern, &text[..i]))
            .map(|&i| text[i..].to_string()),
        ParamOp::RemoveSmallestSuffix => cuts
            .iter()
            .rev()
            .find(|&&i| glob_match(pattern, &text[i..]))
            .map(|&i| text[..i].to_string()),
        ParamOp::RemoveLargestSuffix => cuts
            .iter()
            .find(|&&i| glob_match(pattern, &text[i..]))
            .map(|&i| text[..i].to_string()),
        _ => None,
    };
    found.unwrap_or_else(|| text.to_string())
}
