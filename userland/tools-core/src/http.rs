//! The host-tested parts of `wget`, `httpd`, `ping` and `ifconfig`: URLs,
//! HTTP heads, request paths, and the lines the tools print.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// `http://HOST[:PORT][/PATH]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Another scheme than `http://` (no TLS here).
    Scheme,
    NoHost,
    Port,
}

impl UrlError {
    pub fn describe(&self) -> &'static str {
        match self {
            UrlError::Scheme => "only http:// URLs are supported",
            UrlError::NoHost => "no host in URL",
            UrlError::Port => "bad port in URL",
        }
    }
}

pub fn parse_url(text: &str) -> Result<Url, UrlError> {
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err(UrlError::Scheme),
        None => text,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| UrlError::Port)?),
        None => (authority, 80),
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(UrlError::NoHost);
    }
    if port == 0 {
        return Err(UrlError::Port);
    }
    Ok(Url {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// A redirect's `Location`, resolved against the URL it answered.
pub fn resolve_location(base: &Url, location: &str) -> Result<Url, UrlError> {
    if location.contains("://") {
        return parse_url(location);
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    Ok(Url {
        host: base.host.clone(),
        port: base.port,
        path,
    })
}

/// A response's status line and the headers `wget` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// `404 Not Found`.
    pub status_text: String,
    pub content_length: Option<u64>,
    pub location: Option<String>,
    pub chunked: bool,
}

/// Where the head ends (just past `\r\n\r\n`), once it is all there.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Parses a response head (up to and including the blank line).
pub fn parse_response_head(head: &[u8]) -> Option<ResponseHead> {
    let text = core::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("");
    let mut head = ResponseHead {
        status,
        status_text: format!("{status} {reason}").trim_end().to_string(),
        content_length: None,
        location: None,
        chunked: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("location") {
            head.location = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    Some(head)
}

/// Whether `status` is a redirect `wget` follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// What `httpd` does with a request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// GET (or HEAD) of this path below the served directory (no `..`, no
    /// leading `/`, percent escapes decoded; empty for the root).
    Get { path: String, head_only: bool },
    /// 400 Bad Request.
    Bad,
    /// 405 Method Not Allowed.
    Method,
    /// 403 Forbidden (`..` in the path).
    Forbidden,
}

pub fn parse_request(head: &[u8]) -> Request {
    let Ok(text) = core::str::from_utf8(head) else {
        return Request::Bad;
    };
    let line = text.split("\r\n").next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Request::Bad;
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Request::Method,
    };
    let target = target.split(['?', '#']).next().unwrap_or("");
    let Some(decoded) = percent_decode(target) else {
        return Request::Bad;
    };
    let mut parts = Vec::new();
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => return Request::Forbidden,
            other => parts.push(other),
        }
    }
    Request::Get {
        path: parts.join("/"),
        head_only,
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = core::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

/// `Content-Type` by file name.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("html" | "htm") => "text/html",
        Some("txt" | "md") => "text/plain",
        Some("css") => "text/css",
        Some("js") => "application/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// `ping`'s closing lines.
pub fn ping_summary(host: &str, sent: u32, rtts_us: &[u64]) -> String {
    let received = rtts_us.len() as u32;
    let loss = (u64::from(sent.saturating_sub(received)) * 100)
        .checked_div(u64::from(sent))
        .unwrap_or(0);
    let mut out = format!(
        "--- {host} ping statistics ---\n{sent} packets transmitted, {received} packets received, {loss}% packet loss\n"
    );
    if let (Some(min), Some(max)) = (rtts_us.iter().min(), rtts_us.iter().max()) {
        let avg = rtts_us.iter().sum::<u64>() / rtts_us.len() as u64;
        out.push_str(&format!(
            "round-trip min/avg/max = {}/{}/{} ms\n",
            millis(*min),
            millis(avg),
            millis(*max)
        ));
    }
    out
}

/// Microseconds as milliseconds with three decimals.
pub fn millis(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// A netmask from a prefix length.
pub fn netmask(prefix: u8) -> [u8; 4] {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    bits.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://10.0.2.100/index.html").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("10.0.2.100", 80, "/index.html")
        );
        let u = parse_url("host:8080").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        assert_eq!(parse_url("https://x/"), Err(UrlError::Scheme));
        assert_eq!(parse_url("http://:80/"), Err(UrlError::NoHost));
        assert_eq!(parse_url("http://x:99999/"), Err(UrlError::Port));
        let r = resolve_location(&parse_url("http://h/a/b").unwrap(), "c").unwrap();
        assert_eq!(r.path, "/a/c");
        let r = resolve_location(&u, "http://other:81/x").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("other", 81));
    }

    #[test]
    fn response_heads() {
        let raw =
            b"HTTP/1.0 301 Moved Permanently\r\nLocation: /new\r\nContent-Length: 0\r\n\r\nrest";
        let end = head_end(raw).unwrap();
        assert_eq!(&raw[end..], b"rest");
        let h = parse_response_head(&raw[..end]).unwrap();
        assert_eq!(h.status, 301);
        assert!(is_redirect(h.status));
        assert_eq!(h.location.as_deref(), Some("/new"));
        assert_eq!(h.content_length, Some(0));
        assert_eq!(h.status_text, "301 Moved Permanently");
        assert!(parse_response_head(b"garbage\r\n\r\n").is_none());
    }

    #[test]
    fn requests() {
        assert_eq!(
            parse_request(b"GET /a/%62.txt?x HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Get {
                path: "a/b.txt".into(),
                head_only: false
            }
        );
        assert_eq!(
            parse_request(b"GET /../etc/passwd HTTP/1.1\r\n\r\n"),
            Request::Forbidden
        );
        assert_eq!(
            parse_request(b"GET /%2e%2e/x HTTP/1.1\r\n\r\n"),
            Request::Forbidden
        );
        assert_eq!(parse_request(b"POST / HTTP/1.1\r\n\r\n"), Request::Method);
        assert_eq!(parse_request(b"\xff\xfe"), Request::Bad);
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n"),
            Request::Get {
                path: "".into(),
                head_only: false
            }
        );
    }

    #[test]
    fn ping_lines() {
        let s = ping_summary("10.0.2.2", 3, &[1000, 2000, 3500]);
        assert!(s.contains("3 packets transmitted, 3 packets received, 0% packet loss"));
        assert!(s.contains("round-trip min/avg/max = 1.000/2.166/3.500 ms"));
        let s = ping_summary("x", 4, &[]);
        assert!(s.contains("100% packet loss") && !s.contains("round-trip"));
        assert_eq!(netmask(24), [255, 255, 255, 0]);
        assert_eq!(netmask(0), [0; 4]);
        assert_eq!(netmask(32), [255; 4]);
    }
}
