//! Network tools: `nc` (netcat over libzos sockets) and `netstat`.
//!
//! `nc` copies standard input to the socket on a second thread while the
//! main thread copies the socket to standard output; end of input shuts the
//! socket's sending side, end of the socket ends `nc`. With `-l` on a
//! terminal, standard input is not read (a background `nc -l` would
//! otherwise steal the shell's input).

use crate::io::{write_out, STDIN};
use alloc::format;
use alloc::vec;
use core::sync::atomic::{AtomicI32, Ordering};
use libzos::net::{self, SockAddr};
use libzos::posix::{self, Errno, Fd};
use zos_tools_core::failure::EXIT_ERROR;
use zos_tools_core::net::{netstat_header, netstat_memory, netstat_row, parse_nc, NcOptions};
use zos_tools_core::Failure;

/// Bytes per read and write: a whole shared buffer (libzos moves socket
/// data above 2 KiB through 64 KiB buffers, so bigger chunks mean fewer
/// round trips to the netstack).
const CHUNK: usize = 64 * 1024;

/// The socket the input thread writes to.
static SOCKET: AtomicI32 = AtomicI32::new(-1);
/// For UDP listeners: nothing to send to until a datagram arrives.
static IS_UDP: AtomicI32 = AtomicI32::new(0);

fn fail(what: &str, error: Errno) -> Failure {
    Failure::Error(format!("{what}: {}", error.describe()))
}

fn resolve(options: &NcOptions) -> Result<SockAddr, Failure> {
    let host = options.host.as_deref().unwrap_or("0.0.0.0");
    let port = format!("{}", options.port);
    net::getaddrinfo(host, &port)
        .map_err(|e| Failure::Error(format!("{host}: {}", e.describe())))?
        .first()
        .copied()
        .ok_or_else(|| Failure::Error(format!("{host}: no address")))
}

pub fn nc(args: &[&str]) -> Result<(), Failure> {
    let options = parse_nc(args)?;
    let addr = resolve(&options)?;
    let kind = if options.udp {
        net::SOCK_DGRAM
    } else {
        net::SOCK_STREAM
    };
    let sock = net::socket(net::AF_INET, kind, 0).map_err(|e| fail("socket", e))?;
    let peer = if options.listen {
        let _ = net::setsockopt(sock, net::SOL_SOCKET, net::SO_REUSEADDR, 1);
        net::bind(sock, &addr).map_err(|e| fail(&format!("port {}", options.port), e))?;
        if options.udp {
            sock
        } else {
            net::listen(sock, 1).map_err(|e| fail("listen", e))?;
            let (conn, _) = net::accept(sock).map_err(|e| fail("accept", e))?;
            let _ = posix::close(sock);
            conn
        }
    } else {
        let host = options.host.as_deref().unwrap_or("");
        net::connect(sock, &addr).map_err(|e| fail(&format!("{host} {}", options.port), e))?;
        sock
    };
    SOCKET.store(peer, Ordering::Relaxed);
    IS_UDP.store(i32::from(options.udp && options.listen), Ordering::Relaxed);
    let listening_on_terminal = options.listen && posix::isatty(STDIN);
    let read_input = !(options.no_stdin || listening_on_terminal);
    if read_input && !(options.udp && options.listen) {
        let started = [64, 16, 1]
            .iter()
            .any(|&priority| libzos::thread::spawn(copy_input, 0, priority).is_ok());
        if !started {
            return Err(Failure::Error("cannot start the input thread".into()));
        }
    }
    copy_output(peer)
}

/// Standard input → socket; end of input shuts the sending side.
fn copy_input(_arg: u64) {
    let sock: Fd = SOCKET.load(Ordering::Relaxed);
    let mut buffer = vec![0u8; CHUNK];
    loop {
        match posix::read(STDIN, &mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = posix::write_all(sock, &buffer[..n]) {
                    libzos::eprintln!("nc: write: {}", e.describe());
                    posix::exit(EXIT_ERROR);
                }
            }
            Err(e) => {
                libzos::eprintln!("nc: read: {}", e.describe());
                break;
            }
        }
    }
    let _ = net::shutdown(sock, net::SHUT_WR);
}

/// Socket → standard output until the peer closes.
fn copy_output(sock: Fd) -> Result<(), Failure> {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = if IS_UDP.load(Ordering::Relaxed) != 0 {
            net::recvfrom(sock, &mut buffer).map(|(n, _)| n)
        } else {
            posix::read(sock, &mut buffer)
        };
        match n {
            Ok(0) => return Ok(()),
            Ok(n) => write_out(&buffer[..n])?,
            Err(e) => return Err(fail("read", e)),
        }
    }
}

/// `netstat` lists every socket; `netstat -m` shows the netstack's memory.
pub fn netstat(args: &[&str]) -> Result<(), Failure> {
    match args {
        [] => {}
        ["-m"] => {
            let memory = net::memory().map_err(|e| fail("netstack", e))?;
            return write_out(netstat_memory(&memory).as_bytes());
        }
        [extra, ..] => return Err(Failure::Usage(format!("extra operand '{extra}'"))),
    }
    let sockets = net::sockets().map_err(|e| fail("netstack", e))?;
    let mut out = netstat_header();
    for s in sockets {
        let proto = match s.kind {
            net::SocketKind::Stream => "tcp",
            net::SocketKind::Datagram => "udp",
        };
        let local = format!("{}:{}", net::format_ipv4(s.local.addr), s.local.port);
        let remote = format!("{}:{}", net::format_ipv4(s.remote.addr), s.remote.port);
        out.push_str(&netstat_row(
            proto,
            &local,
            &remote,
            &s.state,
            s.recv_queue,
            s.send_queue,
        ));
    }
    write_out(out.as_bytes())
}
