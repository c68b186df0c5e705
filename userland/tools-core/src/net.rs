//! The command lines of `nc` and the table `netstat` prints.

use crate::failure::UsageError;
use crate::getopt;
use alloc::format;
use alloc::string::{String, ToString};

/// What `nc` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NcOptions {
    /// `-l`: wait for one connection (TCP) or datagrams (UDP).
    pub listen: bool,
    /// `-u`: UDP instead of TCP.
    pub udp: bool,
    /// `-d`: never read standard input.
    pub no_stdin: bool,
    /// Host to connect to, or address to listen on (`None`: any).
    pub host: Option<String>,
    pub port: u16,
}

fn port(text: &str) -> Result<u16, UsageError> {
    text.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| UsageError(format!("invalid port '{text}'")))
}

/// `nc [-u] [-d] HOST PORT`, `nc -l [-u] [-d] -p PORT` (or `nc -l [HOST] PORT`).
pub fn parse_nc(args: &[&str]) -> Result<NcOptions, UsageError> {
    let parsed = getopt::parse(args, "lup:dvnN")?;
    let listen = parsed.has('l');
    let mut options = NcOptions {
        listen,
        udp: parsed.has('u'),
        no_stdin: parsed.has('d'),
        host: None,
        port: 0,
    };
    let operands = &parsed.operands;
    match (listen, parsed.last_value('p'), operands.as_slice()) {
        (true, Some(p), []) => options.port = port(p)?,
        (true, Some(p), [host]) => {
            options.port = port(p)?;
            options.host = Some(host.to_string());
        }
        (true, None, [p]) => options.port = port(p)?,
        (true, None, [host, p]) => {
            options.port = port(p)?;
            options.host = Some(host.to_string());
        }
        (false, _, [host, p]) => {
            options.port = port(p)?;
            options.host = Some(host.to_string());
        }
        (true, _, _) => return Err(UsageError("-l needs a port (-p PORT)".to_string())),
        (false, _, _) => return Err(UsageError("need HOST and PORT".to_string())),
    }
    Ok(options)
}

/// One `netstat` row.
pub fn netstat_row(
    proto: &str,
    local: &str,
    remote: &str,
    state: &str,
    rq: u32,
    sq: u32,
) -> String {
    format!("{proto:<5} {rq:>6} {sq:>6} {local:<21} {remote:<21} {state}\n")
}

/// The header `netstat` prints.
pub fn netstat_header() -> String {
    netstat_row("Proto", "Local Address", "Foreign Address", "State", 0, 0).replacen(
        "     0      0",
        "Recv-Q Send-Q",
        1,
    )
}

/// What `netstat -m` prints: the netstack's heap and socket buffers.
pub fn netstat_memory(memory: &zos_proto::net::NetMemory) -> String {
    format!(
        "heap: {} bytes in use, {} mapped\nsockets: {} holding {} bytes of buffers\n",
        memory.heap_in_use, memory.heap_mapped, memory.sockets, memory.socket_buffers
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_report() {
        let memory = zos_proto::net::NetMemory {
            heap_in_use: 1000,
            heap_mapped: 4096,
            sockets: 2,
            socket_buffers: 131072,
        };
        assert_eq!(
            netstat_memory(&memory),
            "heap: 1000 bytes in use, 4096 mapped\nsockets: 2 holding 131072 bytes of buffers\n"
        );
    }

    #[test]
    fn nc_command_lines() {
        let connect = parse_nc(&["127.0.0.1", "1234"]).expect("valid");
        assert!(!connect.listen);
        assert_eq!(connect.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(connect.port, 1234);
        let listen = parse_nc(&["-l", "-p", "1234"]).expect("valid");
        assert!(listen.listen && listen.host.is_none() && listen.port == 1234);
        let udp = parse_nc(&["-lu", "-p", "53"]).expect("valid");
        assert!(udp.udp && udp.listen);
        assert!(parse_nc(&["localhost"]).is_err());
        assert!(parse_nc(&["-l"]).is_err());
        assert!(parse_nc(&["host", "70000"]).is_err());
        assert!(parse_nc(&["host", "0"]).is_err());
    }

    #[test]
    fn netstat_table_lines_up() {
        let header = netstat_header();
        let row = netstat_row("tcp", "127.0.0.1:1234", "0.0.0.0:0", "LISTEN", 0, 0);
        assert!(header.starts_with("Proto Recv-Q Send-Q Local Address"));
        assert_eq!(header.find("Local"), row.find("127.0.0.1"));
    }
}
