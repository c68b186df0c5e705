//! `/etc/network.conf`: how `eth0` gets its address.
//!
//! ```text
//! # dhcp (the default) or static
//! mode = static
//! address = 10.0.2.15/24
//! gateway = 10.0.2.2
//! dns = 10.0.2.3
//! ```
//! Unknown keys and malformed lines are reported (the caller logs them) and
//! skipped; a static mode without an address falls back to DHCP.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkConfig {
    /// `None`: DHCP.
    pub address: Option<([u8; 4], u8)>,
    pub gateway: Option<[u8; 4]>,
    pub dns: Vec<[u8; 4]>,
}

impl LinkConfig {
    pub fn is_dhcp(&self) -> bool {
        self.address.is_none()
    }
}

pub fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = text.trim().split('.');
    for byte in out.iter_mut() {
        *byte = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Parses the file; returns the configuration and one message per line
/// that was skipped.
pub fn parse(text: &str) -> (LinkConfig, Vec<String>) {
    let mut config = LinkConfig::default();
    let mut problems = Vec::new();
    let mut static_mode = false;
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            problems.push(format!("line {}: expected KEY = VALUE", number + 1));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let ok = match key {
            "mode" => match value {
                "dhcp" => {
                    static_mode = false;
                    true
                }
                "static" => {
                    static_mode = true;
                    true
                }
                _ => false,
            },
            "address" => {
                let (addr, prefix) = value.split_once('/').unwrap_or((value, "24"));
                match (parse_ipv4(addr), prefix.parse::<u8>()) {
                    (Some(addr), Ok(prefix)) if prefix <= 32 => {
                        config.address = Some((addr, prefix));
                        true
                    }
                    _ => false,
                }
            }
            "gateway" => parse_ipv4(value)
                .map(|g| config.gateway = Some(g))
                .is_some(),
            "dns" => parse_ipv4(value).map(|d| config.dns.push(d)).is_some(),
            _ => {
                problems.push(format!("line {}: unknown key '{key}'", number + 1));
                continue;
            }
        };
        if !ok {
            problems.push(format!("line {}: bad {key} '{value}'", number + 1));
        }
    }
    if !static_mode {
        config.address = None;
    } else if config.address.is_none() {
        problems.push(String::from("mode = static without an address: using DHCP"));
    }
    (config, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dhcp() {
        let (c, p) =
            parse("mode = static\naddress = 10.0.2.15/24\ngateway=10.0.2.2\ndns = 10.0.2.3 # x\n");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(c.address, Some(([10, 0, 2, 15], 24)));
        assert_eq!(c.gateway, Some([10, 0, 2, 2]));
        assert_eq!(c.dns, [[10, 0, 2, 3]]);
        let (c, _) = parse("mode = dhcp\naddress = 1.2.3.4\n");
        assert!(c.is_dhcp());
        assert!(parse("").0.is_dhcp());
    }

    #[test]
    fn bad_lines_are_reported() {
        let (c, p) = parse("mode = static\naddress = 300.1.1.1/24\nfoo = 1\njunk\n");
        assert!(c.is_dhcp());
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(parse_ipv4("1.2.3"), None);
        assert_eq!(parse_ipv4("1.2.3.4.5"), None);
    }
}

/// The DNS servers of `/etc/resolv.conf`'s text: its `nameserver` lines
/// with an IPv4 address, in order (others, and comments, are not ours).
pub fn resolv_conf_servers(text: &str) -> Vec<[u8; 4]> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(address)) => parse_ipv4(address),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod resolv_tests {
    use super::*;

    #[test]
    fn nameserver_lines_in_order() {
        let text = "# a comment\nnameserver 10.0.0.53\nsearch zos.test\n\
                    nameserver  10.0.0.54 \nnameserver ::1\nnameserver\nnameservers 1.2.3.4\n";
        assert_eq!(resolv_conf_servers(text), [[10, 0, 0, 53], [10, 0, 0, 54]]);
        assert!(resolv_conf_servers("").is_empty());
    }
}
