//! The service table. Format: a TOML subset — `[[service]]` tables with
//! `key = "string"`, `key = ["a", "b"]`, `key = 123`, `key = true`, and `#`
//! comments. Keys: `name`, `path`, `args`, `depends_on`, `restart`
//! (`never` | `on-failure` | `always`), `grants` (device capabilities by name),
//! `provides` (init creates the service's endpoint and registers it under the
//! service name), `stdio` (a service whose handle becomes fds 0–2), `arg`
//! (number passed in register 0), `restart_limit` (failures within
//! `restart_window_s` seconds before init gives up; 0 = never give up),
//! `ready_notify`, `quota_mib` (memory quota of the service in MiB, default
//! [`DEFAULT_QUOTA_MIB`]), `client_badges` (a lookup of the service gets a
//! capability badged with the caller's pid and credentials, `zos_proto::badge`),
//! `when` / `unless` (start the service only with / without that word among the
//! boot arguments, e.g. `when = "login"` for the login prompt).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Memory quota of a service (and of every program init starts) unless the
/// table says otherwise.
pub const DEFAULT_QUOTA_MIB: u64 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Never,
    OnFailure,
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub path: String,
    pub args: Vec<String>,
    pub depends_on: Vec<String>,
    pub restart: Restart,
    pub grants: Vec<String>,
    pub provides: bool,
    pub stdio: Option<String>,
    pub arg: u64,
    pub restart_limit: u32,
    /// Seconds over which failures count against `restart_limit`.
    pub restart_window_s: u64,
    pub quota_mib: u64,
    /// The service tells init when it is ready (`ProcRequest::Ready`);
    /// services that depend on it start only then.
    pub ready_notify: bool,
    /// Lookups of this service get caller-badged capabilities.
    pub client_badges: bool,
    /// Started only when this word is among the boot arguments.
    pub when: Option<String>,
    /// Not started when this word is among the boot arguments.
    pub unless: Option<String>,
}

impl Service {
    /// Whether the boot arguments (space-separated words) let the service start.
    pub fn enabled(&self, cmdline: &str) -> bool {
        let has = |word: &str| cmdline.split_ascii_whitespace().any(|w| w == word);
        self.when.as_deref().is_none_or(has) && !self.unless.as_deref().is_some_and(has)
    }
}

/// Why a service table was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    Syntax { line: usize, message: String },
    MissingKey { service: String, key: &'static str },
    Duplicate(String),
    UnknownDependency { service: String, dependency: String },
    Cycle(Vec<String>),
}

impl core::fmt::Display for TableError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TableError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            TableError::MissingKey { service, key } => {
                write!(f, "service '{service}' has no '{key}'")
            }
            TableError::Duplicate(name) => write!(f, "service '{name}' is defined twice"),
            TableError::UnknownDependency {
                service,
                dependency,
            } => {
                write!(
                    f,
                    "service '{service}' depends on unknown service '{dependency}'"
                )
            }
            TableError::Cycle(path) => write!(f, "dependency cycle: {}", path.join(" -> ")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Str(String),
    List(Vec<String>),
    Int(u64),
    Bool(bool),
}

fn parse_string(text: &str, line: usize) -> Result<(String, &str), TableError> {
    let syntax = |m: &str| TableError::Syntax {
        line,
        message: m.to_string(),
    };
    let rest = text
        .strip_prefix('"')
        .ok_or_else(|| syntax("expected a string"))?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &rest[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, other)) => out.push(other),
                None => return Err(syntax("unterminated string")),
            },
            other => out.push(other),
        }
    }
    Err(syntax("unterminated string"))
}

fn parse_value(text: &str, line: usize) -> Result<Value, TableError> {
    let syntax = |m: String| TableError::Syntax { line, message: m };
    let text = text.trim();
    if text.starts_with('"') {
        let (s, rest) = parse_string(text, line)?;
        if !strip_comment(rest).trim().is_empty() {
            return Err(syntax(format!(
                "unexpected text after string: {}",
                rest.trim()
            )));
        }
        return Ok(Value::Str(s));
    }
    if let Some(mut rest) = text.strip_prefix('[') {
        let mut items = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(']') {
                if !strip_comment(after).trim().is_empty() {
                    return Err(syntax("unexpected text after list".to_string()));
                }
                return Ok(Value::List(items));
            }
            let (item, after) = parse_string(rest, line)?;
            items.push(item);
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with(']') {
                return Err(syntax("expected ',' or ']' in list".to_string()));
            }
        }
    }
    let word = strip_comment(text).trim();
    match word {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        _ => word
            .parse::<u64>()
            .map(Value::Int)
            .map_err(|_| syntax(format!("bad value '{word}'"))),
    }
}

/// The `key = value` lines of one `[[service]]` table, with their line numbers.
type TableEntries = Vec<(usize, String, Value)>;

fn strip_comment(text: &str) -> &str {
    text.split('#').next().unwrap_or("")
}

/// Parses and validates a service table; returns the services in start order
/// (dependencies first).
pub fn parse(text: &str) -> Result<Vec<Service>, TableError> {
    let mut tables: Vec<(usize, TableEntries)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') {
            if strip_comment(trimmed).trim() != "[[service]]" {
                return Err(TableError::Syntax {
                    line,
                    message: format!("unknown table {trimmed}"),
                });
            }
            tables.push((line, Vec::new()));
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(TableError::Syntax {
                line,
                message: "expected key = value".to_string(),
            });
        };
        let Some((_, entries)) = tables.last_mut() else {
            return Err(TableError::Syntax {
                line,
                message: "key outside a [[service]] table".to_string(),
            });
        };
        entries.push((line, key.trim().to_string(), parse_value(value, line)?));
    }
    let mut services = Vec::new();
    for (line, entries) in tables {
        services.push(service_from(line, entries)?);
    }
    order(services)
}

fn service_from(table_line: usize, entries: TableEntries) -> Result<Service, TableError> {
    let mut service = Service {
        name: String::new(),
        path: String::new(),
        args: Vec::new(),
        depends_on: Vec::new(),
        restart: Restart::Never,
        grants: Vec::new(),
        provides: false,
        stdio: None,
        arg: 0,
        restart_limit: 5,
        restart_window_s: 60,
        quota_mib: DEFAULT_QUOTA_MIB,
        ready_notify: false,
        client_badges: false,
        when: None,
        unless: None,
    };
    for (line, key, value) in entries {
        let wrong = || TableError::Syntax {
            line,
            message: format!("wrong type for '{key}'"),
        };
        match (key.as_str(), value) {
            ("name", Value::Str(s)) => service.name = s,
            ("path", Value::Str(s)) => service.path = s,
            ("args", Value::List(l)) => service.args = l,
            ("depends_on", Value::List(l)) => service.depends_on = l,
            ("grants", Value::List(l)) => service.grants = l,
            ("provides", Value::Bool(b)) => service.provides = b,
            ("stdio", Value::Str(s)) => service.stdio = Some(s),
            ("arg", Value::Int(n)) => service.arg = n,
            ("ready_notify", Value::Bool(b)) => service.ready_notify = b,
            ("client_badges", Value::Bool(b)) => service.client_badges = b,
            ("when", Value::Str(s)) => service.when = Some(s),
            ("unless", Value::Str(s)) => service.unless = Some(s),
            ("quota_mib", Value::Int(n)) if (1..=4096).contains(&n) => service.quota_mib = n,
            ("quota_mib", Value::Int(n)) => {
                return Err(TableError::Syntax {
                    line,
                    message: format!("quota_mib must be 1 to 4096, not {n}"),
                })
            }
            ("restart_limit", Value::Int(n)) => {
                service.restart_limit = n.min(u32::MAX as u64) as u32
            }
            ("restart_window_s", Value::Int(n)) if (1..=86_400).contains(&n) => {
                service.restart_window_s = n
            }
            ("restart_window_s", Value::Int(n)) => {
                return Err(TableError::Syntax {
                    line,
                    message: format!("restart_window_s must be 1 to 86400, not {n}"),
                })
            }
            ("restart", Value::Str(s)) => {
                service.restart = match s.as_str() {
                    "never" => Restart::Never,
                    "on-failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    other => {
                        return Err(TableError::Syntax {
                            line,
                            message: format!(
                                "restart must be never, on-failure or always, not '{other}'"
                            ),
                        })
                    }
                }
            }
            (
                "name" | "path" | "args" | "depends_on" | "grants" | "provides" | "stdio" | "arg"
                | "restart" | "restart_limit" | "restart_window_s" | "quota_mib" | "ready_notify"
                | "client_badges" | "when" | "unless",
                _,
            ) => return Err(wrong()),
            (other, _) => {
                return Err(TableError::Syntax {
                    line,
                    message: format!("unknown key '{other}'"),
                })
            }
        }
    }
    if service.name.is_empty() {
        return Err(TableError::MissingKey {
            service: format!("at line {table_line}"),
            key: "name",
        });
    }
    if service.path.is_empty() {
        return Err(TableError::MissingKey {
            service: service.name,
            key: "path",
        });
    }
    Ok(service)
}

/// Orders services so each comes after its dependencies; refuses unknown
/// dependencies, duplicates and cycles.
fn order(services: Vec<Service>) -> Result<Vec<Service>, TableError> {
    for (i, s) in services.iter().enumerate() {
        if services[..i].iter().any(|o| o.name == s.name) {
            return Err(TableError::Duplicate(s.name.clone()));
        }
        for d in &s.depends_on {
            if !services.iter().any(|o| &o.name == d) {
                return Err(TableError::UnknownDependency {
                    service: s.name.clone(),
                    dependency: d.clone(),
                });
            }
        }
    }
    // Depth-first search with colours; the path gives the cycle.
    let index = |name: &str| services.iter().position(|s| s.name == name);
    let mut state = alloc::vec![0u8; services.len()]; // 0 new, 1 on path, 2 done
    let mut result: Vec<usize> = Vec::new();
    for root in 0..services.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = alloc::vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(dep) = services[node].depends_on.get(*next) {
                *next += 1;
                let Some(d) = index(dep) else { continue };
                match state[d] {
                    0 => {
                        state[d] = 1;
                        stack.push((d, 0));
                    }
                    1 => {
                        let start = stack.iter().position(|(n, _)| *n == d).unwrap_or(0);
                        let mut path: Vec<String> = stack[start..]
                            .iter()
                            .map(|(n, _)| services[*n].name.clone())
                            .collect();
                        path.push(services[d].name.clone());
                        return Err(TableError::Cycle(path));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                result.push(node);
                stack.pop();
            }
        }
    }
    let mut slots: Vec<Option<Service>> = services.into_iter().map(Some).collect();
    Ok(result.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"
# the console first
[[service]]
name = "shell"
path = "/bin/sh"
depends_on = ["console"]
restart = "always"
stdio = "console"

[[service]]
name = "console"   # the tty
path = "/sbin/console"
grants = ["uart", "uart-irq"]
provides = true
restart = "on-failure"
arg = 5
quota_mib = 96
"#;

    #[test]
    fn parses_and_orders() {
        let services = parse(TABLE).expect("valid table");
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].name, "console");
        assert_eq!(services[0].grants, ["uart", "uart-irq"]);
        assert!(services[0].provides);
        assert_eq!(services[0].arg, 5);
        assert_eq!(services[0].restart, Restart::OnFailure);
        assert_eq!(services[1].name, "shell");
        assert_eq!(services[1].stdio.as_deref(), Some("console"));
        assert_eq!(services[0].quota_mib, 96);
        assert_eq!(services[1].quota_mib, DEFAULT_QUOTA_MIB);
    }

    #[test]
    fn boot_word_conditions_and_client_badges() {
        let table = "[[service]]\nname = \"getty\"\npath = \"/sbin/getty\"\nwhen = \"login\"\n\
                     [[service]]\nname = \"shell\"\npath = \"/bin/sh\"\nunless = \"login\"\n\
                     [[service]]\nname = \"id\"\npath = \"/sbin/identity\"\nclient_badges = true\n";
        let services = parse(table).expect("valid table");
        let enabled = |cmdline: &str| -> Vec<&str> {
            services
                .iter()
                .filter(|s| s.enabled(cmdline))
                .map(|s| s.name.as_str())
                .collect()
        };
        assert_eq!(enabled(""), ["shell", "id"]);
        assert_eq!(enabled("quiet login"), ["getty", "id"]);
        assert_eq!(enabled("loginx"), ["shell", "id"]);
        assert!(services[2].client_badges);
        assert!(!services[0].client_badges);
        assert!(parse("[[service]]\nname = \"a\"\npath = \"/a\"\nwhen = 3\n").is_err());
    }

    #[test]
    fn refuses_cycles_and_unknowns() {
        let cycle = "[[service]]\nname = \"a\"\npath = \"/a\"\ndepends_on = [\"b\"]\n[[service]]\nname = \"b\"\npath = \"/b\"\ndepends_on = [\"a\"]\n";
        let err = parse(cycle).expect_err("cycle");
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
        let unknown = "[[service]]\nname = \"a\"\npath = \"/a\"\ndepends_on = [\"zz\"]\n";
        assert_eq!(
            parse(unknown).expect_err("unknown").to_string(),
            "service 'a' depends on unknown service 'zz'"
        );
        let dup =
            "[[service]]\nname = \"a\"\npath = \"/a\"\n[[service]]\nname = \"a\"\npath = \"/b\"\n";
        assert!(matches!(parse(dup), Err(TableError::Duplicate(_))));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        for (text, line) in [
            ("[[service]]\nname = \"a\npath = \"/a\"\n", 2),
            ("name = \"a\"\n", 1),
            ("[[service]]\nrestart = \"sometimes\"\n", 2),
            ("[[service]]\nbogus = 1\n", 2),
            ("[[service]]\nquota_mib = 0\n", 2),
            ("[[service]]\nquota_mib = \"big\"\n", 2),
            ("[[service]]\nargs = [\"a\" \"b\"]\n", 2),
            ("[service]\n", 1),
        ] {
            match parse(text) {
                Err(TableError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            parse("[[service]]\npath = \"/a\"\n"),
            Err(TableError::MissingKey { .. })
        ));
    }
}
