//! Shell arithmetic (`$((...))`): signed 64-bit integers with the C operators
//! POSIX lists — unary `+ - ! ~`, `* / %`, `+ -`, `<< >>`, comparisons,
//! `== !=`, `& ^ |`, `&& ||` (short-circuit), `?:`, and the assignments
//! `= *= /= %= += -= <<= >>= &= ^= |=` — over decimal, octal (`017`) and
//! hexadecimal (`0x1f`) constants and variables. `+ - *` wrap around;
//! division by zero is an error. A variable holding an expression is
//! evaluated in turn, a few levels deep at most.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Variables as arithmetic sees them.
pub trait ArithVars {
    fn get(&mut self, name: &str) -> Option<String>;
    /// Stores a value; the error is the message to show (e.g. readonly).
    fn set(&mut self, name: &str, value: i64) -> Result<(), String>;
}

/// Why an expression could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArithError {
    DivisionByZero,
    /// A constant that does not fit in 64 bits, or a bad digit.
    BadNumber(String),
    /// Something that is not an expression; the text near the problem.
    Syntax(String),
    /// An assignment that was refused.
    Assign(String),
    /// Variables referring to each other too deeply.
    TooDeep,
}

impl fmt::Display for ArithError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArithError::DivisionByZero => f.write_str("arithmetic: division by zero"),
            ArithError::BadNumber(text) => write!(f, "arithmetic: bad number `{text}'"),
            ArithError::Syntax(near) if near.is_empty() => {
                f.write_str("arithmetic: syntax error at end of expression")
            }
            ArithError::Syntax(near) => write!(f, "arithmetic: syntax error near `{near}'"),
            ArithError::Assign(message) => write!(f, "arithmetic: {message}"),
            ArithError::TooDeep => f.write_str("arithmetic: expression nested too deeply"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "*=", "/=", "%=", "+=", "-=",
    "&=", "^=", "|=", "*", "/", "%", "+", "-", "<", ">", "&", "^", "|", "!", "~", "?", ":", "=",
    "(", ")",
];

const ASSIGN_OPS: &[&str] = &[
    "=", "*=", "/=", "%=", "+=", "-=", "<<=", ">>=", "&=", "^=", "|=",
];

/// Binary operator levels, loosest first (after `||`/`&&`, handled apart).
const LEVELS: &[&[&str]] = &[
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", "<=", ">", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

/// Most levels of variables holding expressions, and of parentheses.
const MAX_DEPTH: usize = 64;

/// Parses an integer constant as the shell does: optional sign, decimal,
/// octal with a leading `0`, hexadecimal with `0x`.
pub fn parse_number(text: &str) -> Option<i64> {
    let (negative, value) = parse_literal(text.trim())?;
    if value > i64::MAX as u64 + u64::from(negative) {
        return None;
    }
    Some(if negative {
        (value as i64).wrapping_neg()
    } else {
        value as i64
    })
}

/// An integer literal's sign and magnitude (decimal, octal with a leading `0`,
/// hexadecimal with `0x`), for callers that apply their own range rules
/// (`$(( ))` refuses what `i64` cannot hold; `printf` wraps like C).
pub fn parse_literal(text: &str) -> Option<(bool, u64)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return None;
    }
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some((negative, value))
}

fn tokenize(text: &str) -> Result<Vec<Tok>, ArithError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let literal = &text[start..i];
            let value =
                parse_number(literal).ok_or_else(|| ArithError::BadNumber(literal.to_string()))?;
            tokens.push(Tok::Num(value));
        } else if b == b'_' || b.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            tokens.push(Tok::Name(text[start..i].to_string()));
        } else if let Some(op) = OPS.iter().find(|op| text[i..].starts_with(**op)) {
            tokens.push(Tok::Op(op));
            i += op.len();
        } else {
            let c = text[i..].chars().next().unwrap_or('?');
            return Err(ArithError::Syntax(c.to_string()));
        }
    }
    Ok(tokens)
}

struct Eval<'a> {
    tokens: Vec<Tok>,
    at: usize,
    vars: &'a mut dyn ArithVars,
    depth: usize,
}

/// Evaluates an arithmetic expression (already expanded). An empty
/// expression is 0.
pub fn evaluate(text: &str, vars: &mut dyn ArithVars) -> Result<i64, ArithError> {
    evaluate_at_depth(text, vars, 0)
}

fn evaluate_at_depth(
    text: &str,
    vars: &mut dyn ArithVars,
    depth: usize,
) -> Result<i64, ArithError> {
    if depth > MAX_DEPTH {
        return Err(ArithError::TooDeep);
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(0);
    }
    let mut eval = Eval {
        tokens,
        at: 0,
        vars,
        depth,
    };
    let value = eval.assignment(true)?;
    match eval.tokens.get(eval.at) {
        None => Ok(value),
        Some(token) => Err(ArithError::Syntax(describe(token))),
    }
}

fn describe(token: &Tok) -> String {
    match token {
        Tok::Num(n) => n.to_string(),
        Tok::Name(name) => name.clone(),
        Tok::Op(op) => op.to_string(),
    }
}

fn apply(op: &str, left: i64, right: i64) -> Result<i64, ArithError> {
    Ok(match op {
        "*" => left.wrapping_mul(right),
        "/" | "%" if right == 0 => return Err(ArithError::DivisionByZero),
        "/" => left.wrapping_div(right),
        "%" => left.wrapping_rem(right),
        "+" => left.wrapping_add(right),
        "-" => left.wrapping_sub(right),
        "<<" => left.wrapping_shl(right as u32),
        ">>" => left.wrapping_shr(right as u32),
        "<" => i64::from(left < right),
        "<=" => i64::from(left <= right),
        ">" => i64::from(left > right),
        ">=" => i64::from(left >= right),
        "==" => i64::from(left == right),
        "!=" => i64::from(left != right),
        "&" => left & right,
        "^" => left ^ right,
        "|" => left | right,
        _ => return Err(ArithError::Syntax(op.to_string())),
    })
}

impl Eval<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), ArithError> {
        if self.peek_op() == Some(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(ArithError::Syntax(
                self.tokens.get(self.at).map(describe).unwrap_or_default(),
            ))
        }
    }

    fn variable(&mut self, name: &str) -> Result<i64, ArithError> {
        let Some(value) = self.vars.get(name) else {
            return Ok(0);
        };
        if value.trim().is_empty() {
            return Ok(0);
        }
        match parse_number(&value) {
            Some(number) => Ok(number),
            None => evaluate_at_depth(&value, self.vars, self.depth + 1),
        }
    }

    fn assignment(&mut self, live: bool) -> Result<i64, ArithError> {
        if let (Some(Tok::Name(name)), Some(Tok::Op(op))) =
            (self.tokens.get(self.at), self.tokens.get(self.at + 1))
        {
            if ASSIGN_OPS.contains(op) {
                let (name, op) = (name.clone(), *op);
                self.at += 2;
                let right = self.assignment(live)?;
                if !live {
                    return Ok(0);
                }
                let value = if op == "=" {
                    right
                } else {
                    let left = self.variable(&name)?;
                    apply(&op[..op.len() - 1], left, right)?
                };
                self.vars.set(&name, value).map_err(ArithError::Assign)?;
                return Ok(value);
            }
        }
        self.conditional(live)
    }

    fn conditional(&mut self, live: bool) -> Result<i64, ArithError> {
        let condition = self.logical_or(live)?;
        if self.peek_op() != Some("?") {
            return Ok(condition);
        }
        self.at += 1;
        let yes = self.assignment(live && condition != 0)?;
        self.expect(":")?;
        let no = self.conditional(live && condition == 0)?;
        Ok(if condition != 0 { yes } else { no })
    }

    fn logical_or(&mut self, live: bool) -> Result<i64, ArithError> {
        let mut value = self.logical_and(live)?;
        while self.peek_op() == Some("||") {
            self.at += 1;
            let right = self.logical_and(live && value == 0)?;
            value = i64::from(value != 0 || right != 0);
        }
        Ok(value)
    }

    fn logical_and(&mut self, live: bool) -> Result<i64, ArithError> {
        let mut value = self.binary(0, live)?;
        while self.peek_op() == Some("&&") {
            self.at += 1;
            let right = self.binary(0, live && value != 0)?;
            value = i64::from(value != 0 && right != 0);
        }
        Ok(value)
    }

    fn binary(&mut self, level: usize, live: bool) -> Result<i64, ArithError> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(live);
        };
        let mut value = self.binary(level + 1, live)?;
        while let Some(op) = self.peek_op().filter(|op| ops.contains(op)) {
            self.at += 1;
            let right = self.binary(level + 1, live)?;
            value = if live { apply(op, value, right)? } else { 0 };
        }
        Ok(value)
    }

    fn unary(&mut self, live: bool) -> Result<i64, ArithError> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Tok::Num(value)) => Ok(value),
            Some(Tok::Name(name)) => {
                if live {
                    self.variable(&name)
                } else {
                    Ok(0)
                }
            }
            Some(Tok::Op("(")) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(ArithError::TooDeep);
                }
                let value = self.assignment(live)?;
                self.depth -= 1;
                self.expect(")")?;
                Ok(value)
            }
            Some(Tok::Op(op @ ("+" | "-" | "!" | "~"))) => {
                let value = self.unary(live)?;
                Ok(match op {
                    "+" => value,
                    "-" => value.wrapping_neg(),
                    "!" => i64::from(value == 0),
                    _ => !value,
                })
            }
            Some(token) => Err(ArithError::Syntax(describe(&token))),
            None => Err(ArithError::Syntax(String::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<String, String>);

    impl ArithVars for Vars {
        fn get(&mut self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn set(&mut self, name: &str, value: i64) -> Result<(), String> {
            if name == "RO" {
                return Err("RO: is read only".into());
            }
            self.0.insert(name.into(), value.to_string());
            Ok(())
        }
    }

    fn eval(text: &str) -> Result<i64, ArithError> {
        let mut vars = Vars(HashMap::from([
            ("x".to_string(), "5".to_string()),
            ("e".to_string(), "x*2".to_string()),
            ("loop".to_string(), "loop+1".to_string()),
        ]));
        evaluate(text, &mut vars)
    }

    #[test]
    fn table() {
        let cases: &[(&str, i64)] = &[
            ("1+2", 3),
            ("", 0),
            ("2*3+4", 10),
            ("2*(3+4)", 14),
            ("-7/2", -3),
            ("-7%3", -1),
            ("1<<4", 16),
            ("0x10 + 010", 24),
            ("x", 5),
            ("x*x", 25),
            ("e+1", 11),
            ("unset_var + 1", 1),
            ("3 > 2 && 2 > 3", 0),
            ("0 || 7", 1),
            ("1 ? 10 : 20", 10),
            ("0 ? 10 : 1 ? 30 : 40", 30),
            ("!0", 1),
            ("~0", -1),
            ("5 == 5", 1),
            ("5 != 5", 0),
            ("6 & 3 | 8 ^ 1", 11),
            ("x = 9", 9),
            ("x += 2", 7),
            ("x <<= 1", 10),
            ("9223372036854775807 + 1", i64::MIN),
            ("0 && 1/0", 0),
            ("1 || (y = 3)", 1),
            ("- -3", 3),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(eval("1/0"), Err(ArithError::DivisionByZero));
        assert_eq!(eval("5%0"), Err(ArithError::DivisionByZero));
        assert!(matches!(eval("1 +"), Err(ArithError::Syntax(_))));
        assert!(matches!(eval("(1"), Err(ArithError::Syntax(_))));
        assert!(matches!(eval("09"), Err(ArithError::BadNumber(_))));
        assert!(matches!(
            eval("99999999999999999999"),
            Err(ArithError::BadNumber(_))
        ));
        assert!(matches!(eval("RO = 1"), Err(ArithError::Assign(_))));
        assert_eq!(eval("loop"), Err(ArithError::TooDeep));
        assert!(matches!(eval("1 @ 2"), Err(ArithError::Syntax(_))));
    }

    #[test]
    fn assignment_stores() {
        let mut vars = Vars(HashMap::new());
        assert_eq!(evaluate("a = 2 * 3", &mut vars), Ok(6));
        assert_eq!(evaluate("a * a", &mut vars), Ok(36));
        assert_eq!(evaluate("0 && (a = 1)", &mut vars), Ok(0));
        assert_eq!(vars.0["a"], "6");
    }
}
