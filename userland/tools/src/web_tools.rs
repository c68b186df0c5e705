//! Network tools over libzos sockets and the netstack's service requests:
//! `ifconfig`, `ping`, `nslookup`, `wget` (HTTP/1.1 GET of one or more URLs,
//! one redirect each),
//! `httpd` (serves a directory), and `sha256sum` to check what arrived.
//! The parsing and the printed lines are `zos_tools_core::http` (host-tested).

use crate::io::{write_out, STDOUT};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use libzos::fs;
use libzos::net::{self, format_ipv4, SockAddr};
use libzos::posix::{self, Errno, Fd};
use sha2::{Digest, Sha256};
use zos_proto::errno::{EAGAIN, ENETUNREACH, ETIMEDOUT};
use zos_tools_core::getopt;
use zos_tools_core::http::{self, Request, Url};
use zos_tools_core::Failure;

const CHUNK: usize = 32 * 1024;

fn fail(what: &str, error: Errno) -> Failure {
    Failure::Error(format!("{what}: {}", error.describe()))
}

fn resolve(host: &str, port: u16) -> Result<SockAddr, Failure> {
    net::getaddrinfo(host, &format!("{port}"))
        .map_err(|e| Failure::Error(format!("bad address '{host}': {}", e.describe())))?
        .first()
        .copied()
        .ok_or_else(|| Failure::Error(format!("bad address '{host}'")))
}

pub fn ifconfig(args: &[&str]) -> Result<(), Failure> {
    let wanted = args.first().copied();
    let list = net::interfaces().map_err(|e| fail("netstack", e))?;
    let mut out = String::new();
    for i in list.iter().filter(|i| wanted.is_none_or(|w| w == i.name)) {
        let encap = if i.name == "lo" {
            String::from("Local Loopback")
        } else {
            let m = i.mac;
            format!(
                "Ethernet  HWaddr {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            )
        };
        out.push_str(&format!("{:<10}Link encap:{encap}\n", i.name));
        for &(addr, prefix) in &i.addrs {
            out.push_str(&format!(
                "          inet addr:{}  Mask:{}\n",
                format_ipv4(addr),
                format_ipv4(http::netmask(prefix))
            ));
        }
        if let Some(gateway) = i.gateway {
            out.push_str(&format!("          gateway:{}\n", format_ipv4(gateway)));
        }
        if !i.dns.is_empty() {
            let dns: Vec<String> = i.dns.iter().map(|&d| format_ipv4(d)).collect();
            out.push_str(&format!("          dns:{}\n", dns.join(" ")));
        }
        out.push_str(&format!(
            "          UP  MTU:{}  config:{}\n",
            i.mtu, i.config
        ));
        if i.name != "lo" {
            out.push_str(&format!(
                "          RX packets:{} bytes:{}  TX packets:{} bytes:{}  dropped:{}\n",
                i.rx_frames, i.rx_bytes, i.tx_frames, i.tx_bytes, i.dropped
            ));
        }
        out.push('\n');
    }
    if let (Some(name), true) = (wanted, out.is_empty()) {
        return Err(Failure::Error(format!("{name}: no such interface")));
    }
    write_out(out.as_bytes())
}

pub fn ping(args: &[&str]) -> Result<(), Failure> {
    let parsed = getopt::parse(args, "c:s:W:i:")?;
    let number = |letter: char, default: u32| -> Result<u32, Failure> {
        match parsed.last_value(letter) {
            Some(text) => text
                .parse()
                .map_err(|_| Failure::Usage(format!("invalid number '{text}'"))),
            None => Ok(default),
        }
    };
    let count = number('c', 4)?;
    let size = number('s', 56)?.min(1400) as u16;
    let timeout_ms = number('W', 1)?.max(1) * 1000;
    // `-i SECONDS` between echoes (fractions allowed: `-i 0.01`).
    let interval_ns = match parsed.last_value('i') {
        Some(text) => zos_tools_core::sleep::parse_duration(text)
            .map_err(|_| Failure::Usage(format!("invalid interval '{text}'")))?,
        None => 1_000_000_000,
    };
    let [host] = parsed.operands.as_slice() else {
        return Err(Failure::Usage("need one HOST".into()));
    };
    let addr = resolve(host, 1)?.addr;
    write_out(format!("PING {host} ({}): {size} data bytes\n", format_ipv4(addr)).as_bytes())?;
    let mut rtts = Vec::new();
    let mut sent = 0;
    for seq in 0..count {
        let start = posix::clock_ns();
        sent += 1;
        match net::ping(addr, seq as u16, size, timeout_ms) {
            Ok(()) => {
                let us = (posix::clock_ns() - start) / 1000;
                rtts.push(us);
                write_out(
                    format!(
                        "{} bytes from {}: seq={seq} time={} ms\n",
                        size + 8,
                        format_ipv4(addr),
                        http::millis(us)
                    )
                    .as_bytes(),
                )?;
            }
            Err(Errno(ETIMEDOUT)) => {}
            Err(Errno(ENETUNREACH)) => {
                return Err(Failure::Error(format!("{host}: Network is unreachable")))
            }
            Err(e) => return Err(fail("ping", e)),
        }
        if seq + 1 < count {
            libzos::sys::sleep_until(start + interval_ns);
        }
    }
    write_out(http::ping_summary(host, sent, &rtts).as_bytes())?;
    if rtts.is_empty() {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}

pub fn nslookup(args: &[&str]) -> Result<(), Failure> {
    let [name] = args else {
        return Err(Failure::Usage("need one NAME".into()));
    };
    let addrs = net::getaddrinfo(name, "0")
        .map_err(|e| Failure::Error(format!("can't resolve '{name}': {}", e.describe())))?;
    let mut out = format!("Name:      {name}\n");
    for a in addrs {
        out.push_str(&format!("Address:   {}\n", format_ipv4(a.addr)));
    }
    write_out(out.as_bytes())
}

/// A connected TCP socket to `url` with timeouts set.
fn connect(url: &Url) -> Result<Fd, Failure> {
    let addr = resolve(&url.host, url.port)?;
    let sock = net::socket(net::AF_INET, net::SOCK_STREAM, 0).map_err(|e| fail("socket", e))?;
    let _ = net::setsockopt(sock, net::SOL_SOCKET, net::SO_SNDTIMEO, 10_000);
    let _ = net::setsockopt(sock, net::SOL_SOCKET, net::SO_RCVTIMEO, 30_000);
    if let Err(e) = net::connect(sock, &addr) {
        let _ = posix::close(sock);
        return Err(fail(
            &format!("can't connect to {}:{}", format_ipv4(addr.addr), url.port),
            e,
        ));
    }
    Ok(sock)
}

fn read_error(e: Errno) -> Failure {
    if e == Errno(EAGAIN) {
        Failure::Error("read error: timed out".into())
    } else {
        fail("read error", e)
    }
}

/// Where `wget` writes bodies: `-O -` standard output, `-O FILE` one file
/// for every URL (created at the first body, so a failed fetch leaves no
/// file), or without `-O` a file named after each URL's last component.
struct Output {
    named: Option<String>,
    shared: Option<Fd>,
}

impl Output {
    /// The descriptor for `url`'s body and its name; `true` when the caller
    /// closes it after the body (a per-URL file).
    fn open(&mut self, url: &Url) -> Result<(Fd, String, bool), Failure> {
        let create = |target: &str| {
            fs::creat(target, 0o644).map_err(|e| fail(&format!("can't create '{target}'"), e))
        };
        match self.named.as_deref() {
            Some("-") => Ok((STDOUT, String::from("-"), false)),
            Some(target) => {
                let fd = match self.shared {
                    Some(fd) => fd,
                    None => *self.shared.insert(create(target)?),
                };
                Ok((fd, String::from(target), false))
            }
            None => {
                let name = url.path.rsplit('/').next().unwrap_or("");
                let target = String::from(if name.is_empty() { "index.html" } else { name });
                Ok((create(&target)?, target, true))
            }
        }
    }
}

/// `wget [-q] [-O FILE|-] URL...`: each URL in turn (as GNU and BusyBox
/// wget take several); the first failure ends the run with its error.
pub fn wget(args: &[&str]) -> Result<(), Failure> {
    let parsed = getopt::parse(args, "qO:")?;
    let quiet = parsed.has('q');
    if parsed.operands.is_empty() {
        return Err(Failure::Usage("need a URL".into()));
    }
    let mut output = Output {
        named: parsed.last_value('O').map(String::from),
        shared: None,
    };
    let mut chunk = vec![0u8; CHUNK];
    let result = parsed
        .operands
        .iter()
        .try_for_each(|url_text| fetch(url_text, &mut output, quiet, &mut chunk));
    if let Some(fd) = output.shared {
        let _ = posix::close(fd);
    }
    result
}

/// One URL's GET (one redirect followed), its body to `output`.
fn fetch(
    url_text: &str,
    output: &mut Output,
    quiet: bool,
    chunk: &mut [u8],
) -> Result<(), Failure> {
    let mut url = http::parse_url(url_text)
        .map_err(|e| Failure::Error(format!("bad URL '{url_text}': {}", e.describe())))?;
    let mut redirects = 1;
    loop {
        let sock = connect(&url)?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zos-wget\r\nConnection: close\r\n\r\n",
            url.path, url.host
        );
        posix::write_all(sock, request.as_bytes()).map_err(|e| fail("write error", e))?;
        let mut buffer = Vec::new();
        let end = loop {
            if let Some(end) = http::head_end(&buffer) {
                break end;
            }
            if buffer.len() > 64 * 1024 {
                return Err(Failure::Error("response head too long".into()));
            }
            match posix::read(sock, chunk) {
                Ok(0) => return Err(Failure::Error("connection closed before a response".into())),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(read_error(e)),
            }
        };
        let head = http::parse_response_head(&buffer[..end])
            .ok_or_else(|| Failure::Error("malformed HTTP response".into()))?;
        if http::is_redirect(head.status) {
            let _ = posix::close(sock);
            let location = head
                .location
                .ok_or_else(|| Failure::Error(format!("{} without Location", head.status_text)))?;
            if redirects == 0 {
                return Err(Failure::Error(format!(
                    "too many redirects (to {location})"
                )));
            }
            redirects -= 1;
            url = http::resolve_location(&url, &location).map_err(|e| {
                Failure::Error(format!("bad redirect '{location}': {}", e.describe()))
            })?;
            continue;
        }
        if !(200..300).contains(&head.status) {
            let _ = posix::close(sock);
            return Err(Failure::Error(format!(
                "server returned error: HTTP/1.1 {}",
                head.status_text
            )));
        }
        if head.chunked {
            let _ = posix::close(sock);
            return Err(Failure::Error(
                "chunked transfer encoding is not supported".into(),
            ));
        }
        let (out, target, own) = match output.open(&url) {
            Ok(opened) => opened,
            Err(failure) => {
                let _ = posix::close(sock);
                return Err(failure);
            }
        };
        let result = copy_body(sock, out, &buffer[end..], head.content_length, chunk);
        let _ = posix::close(sock);
        if own {
            let _ = posix::close(out);
        }
        let got = result?;
        if !quiet && out != STDOUT {
            libzos::eprintln!("wget: saved {got} bytes to '{target}'");
        }
        return Ok(());
    }
}

/// The body to `out`: what came with the head, then the socket until
/// `length` bytes (or the end of the connection without a length).
fn copy_body(
    sock: Fd,
    out: Fd,
    first: &[u8],
    length: Option<u64>,
    chunk: &mut [u8],
) -> Result<u64, Failure> {
    let write = |bytes: &[u8]| -> Result<(), Failure> {
        if out == STDOUT {
            write_out(bytes)
        } else {
            posix::write_all(out, bytes).map_err(|e| fail("write error", e))
        }
    };
    let mut got = first.len() as u64;
    write(first)?;
    loop {
        if length.is_some_and(|l| got >= l) {
            return Ok(got);
        }
        match posix::read(sock, chunk) {
            Ok(0) => {
                return match length {
                    Some(l) if got < l => Err(Failure::Error(format!(
                        "connection closed early ({got} of {l} bytes)"
                    ))),
                    _ => Ok(got),
                }
            }
            Ok(n) => {
                got += n as u64;
                write(&chunk[..n])?;
            }
            Err(e) => return Err(read_error(e)),
        }
    }
}

pub fn httpd(args: &[&str]) -> Result<(), Failure> {
    let parsed = getopt::parse(args, "p:h:fv")?;
    let port: u16 = match parsed.last_value('p') {
        Some(text) => text
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| Failure::Usage(format!("invalid port '{text}'")))?,
        None => 80,
    };
    let root = String::from(parsed.last_value('h').unwrap_or("."));
    let verbose = parsed.has('v');
    let listener = net::socket(net::AF_INET, net::SOCK_STREAM, 0).map_err(|e| fail("socket", e))?;
    let _ = net::setsockopt(listener, net::SOL_SOCKET, net::SO_REUSEADDR, 1);
    let any = SockAddr { addr: [0; 4], port };
    net::bind(listener, &any).map_err(|e| fail(&format!("port {port}"), e))?;
    net::listen(listener, 16).map_err(|e| fail("listen", e))?;
    libzos::eprintln!("httpd: serving {root} on port {port}");
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let (conn, peer) = net::accept(listener).map_err(|e| fail("accept", e))?;
        let _ = net::setsockopt(conn, net::SOL_SOCKET, net::SO_RCVTIMEO, 10_000);
        let status = serve(conn, &root, &mut chunk);
        if verbose {
            libzos::eprintln!("httpd: {} {status}", format_ipv4(peer.addr));
        }
        let _ = posix::close(conn);
    }
}

/// Answers one request; returns the status sent.
fn serve(conn: Fd, root: &str, chunk: &mut [u8]) -> u16 {
    let mut head = Vec::new();
    let end = loop {
        if let Some(end) = http::head_end(&head) {
            break end;
        }
        if head.len() > 16 * 1024 {
            return reply_status(conn, 431, "Request Header Fields Too Large");
        }
        match posix::read(conn, chunk) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    };
    let (path, head_only) = match http::parse_request(&head[..end]) {
        Request::Get { path, head_only } => (path, head_only),
        Request::Bad => return reply_status(conn, 400, "Bad Request"),
        Request::Method => return reply_status(conn, 405, "Method Not Allowed"),
        Request::Forbidden => return reply_status(conn, 403, "Forbidden"),
    };
    let mut file = format!("{}/{path}", root.trim_end_matches('/'));
    let Ok(mut stat) = fs::stat(&file) else {
        return reply_status(conn, 404, "Not Found");
    };
    if stat.mode & 0o170000 == 0o040000 {
        file = format!("{}/index.html", file.trim_end_matches('/'));
        match fs::stat(&file) {
            Ok(s) => stat = s,
            Err(_) => return reply_status(conn, 403, "Forbidden"),
        }
    }
    let Ok(fd) = posix::open(&file, fs::O_RDONLY, 0) else {
        return reply_status(conn, 403, "Forbidden");
    };
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        http::content_type(&file),
        stat.size
    );
    if posix::write_all(conn, header.as_bytes()).is_ok() && !head_only {
        while let Ok(n) = posix::read(fd, chunk) {
            if n == 0 || posix::write_all(conn, &chunk[..n]).is_err() {
                break;
            }
        }
    }
    let _ = posix::close(fd);
    200
}

fn reply_status(conn: Fd, status: u16, text: &str) -> u16 {
    let body = format!("{status} {text}\n");
    let reply = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = posix::write_all(conn, reply.as_bytes());
    status
}

pub fn sha256sum(args: &[&str]) -> Result<(), Failure> {
    let operands: Vec<&str> = if args.is_empty() {
        vec!["-"]
    } else {
        args.to_vec()
    };
    let mut chunk = vec![0u8; 64 * 1024];
    let mut failed = false;
    for operand in operands {
        let fd = match crate::io::open_input(operand) {
            Ok(fd) => fd,
            Err(e) => {
                libzos::eprintln!("sha256sum: {operand}: {}", e.describe());
                failed = true;
                continue;
            }
        };
        let mut hasher = Sha256::new();
        let mut ok = true;
        loop {
            match posix::read(fd, &mut chunk) {
                Ok(0) => break,
                Ok(n) => hasher.update(&chunk[..n]),
                Err(e) => {
                    libzos::eprintln!("sha256sum: {operand}: {}", e.describe());
                    ok = false;
                    break;
                }
            }
        }
        crate::io::close_input(fd);
        if !ok {
            failed = true;
            continue;
        }
        let digest = hasher.finalize();
        let mut line = String::new();
        for byte in digest {
            line.push_str(&format!("{byte:02x}"));
        }
        write_out(format!("{line}  {operand}\n").as_bytes())?;
    }
    if failed {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}
