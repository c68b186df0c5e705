//! `cargo xtask bench net`: the network figures of issue 11 against a real
//! local peer. The set-up is net_ns.exp's (tests/acceptance/net_ns.sh: a
//! network namespace with a tap device, 10.77.0.1/24, and dnsmasq for DHCP);
//! QEMU runs inside it with the tap as its only NIC, and
//! tests/acceptance/net_peer.py is the host end (a sink, a source, a small
//! HTTP file). Nothing leaves the namespace, and the namespace and everything
//! in it go away when the benchmark ends (the helper's standard input ends).
//!
//! Every figure is wall time (the peer is on the host): the DHCP lease (the
//! NIC attaching to the lease line, median of 5 boots), ping RTT to the
//! namespace (median of 100), 64 MiB over TCP each way (timed by the peer),
//! connect + small HTTP GET + close (`wget` in a loop, per fetch), and the
//! host's `curl` fetching 200 small files from the guest's `httpd`.

use crate::{qemu_command, root, Artifacts};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The namespace's own address (the guest's router and DNS server).
const HOST: &str = "10.77.0.1";
const BULK_BYTES: u64 = 64 << 20;
const BOOTS: usize = 5;
const PINGS: usize = 100;
const GETS: u64 = 20;
const CURLS: u64 = 200;

/// Linux 6.1 + BusyBox, tap in a namespace (issue 11): (row, value, unit).
const LINUX: [(&str, f64, &str); 6] = [
    ("net_dhcp_lease", 317.0, "ms"),
    ("net_ping_rtt", 2.05, "ms"),
    ("net_tcp_guest_to_host_64m", 76.4, "MiB/s"),
    ("net_tcp_host_to_guest_64m", 88.8, "MiB/s"),
    ("net_connect_get_close", 7.92, "ms"),
    ("net_httpd_small_get", 54.0, "req/s"),
];

/// A child process whose standard output arrives through a reader thread,
/// so waits have deadlines. Killed (QEMU) or let go (helpers) on drop.
struct Piped {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Receiver<Vec<u8>>,
    /// Output not yet consumed by a wait.
    text: String,
    kill_on_drop: bool,
}

impl Piped {
    fn spawn(mut command: Command, kill_on_drop: bool) -> Result<Piped, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take();
        let (sender, output) = channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Piped {
            child,
            stdin,
            output,
            text: String::new(),
            kill_on_drop,
        })
    }

    /// CPU seconds the child (QEMU: `ip netns exec` runs it in its own
    /// process) has used, from `/proc/PID/stat` (0 when unreadable).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime and
        // stime are the 12th and 13th of them, in clock ticks (100 a second).
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<f64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        match (fields.get(11), fields.get(12)) {
            (Some(user), Some(system)) => (user + system) / 100.0,
            _ => 0.0,
        }
    }

    /// Waits for `pattern`; returns the output up to and including it (and
    /// forgets it).
    fn wait_for(&mut self, pattern: &str, seconds: u64) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(at) = self.text.find(pattern) {
                let rest = self.text.split_off(at + pattern.len());
                return Ok(std::mem::replace(&mut self.text, rest));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "timed out waiting for {pattern:?}; last output:\n{}",
                        tail(&self.text)
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "ended before {pattern:?}; last output:\n{}",
                        tail(&self.text)
                    ))
                }
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("standard input closed")?;
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("typing {line:?}: {e}"))
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if self.kill_on_drop {
            let _ = self.child.kill();
        }
        // The helpers end when their standard input does.
        self.stdin.take();
        let _ = self.child.wait();
    }
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// The number a guest command printed after `MARKER=` at a line start.
fn marked_number(out: &str, marker: &str) -> Option<u64> {
    let after = out.split(&format!("\n{marker}=")).nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The namespace, up (the helper's first line is `net_ns: ready`).
fn namespace(name: &str) -> Result<Piped, String> {
    let dir = root().join("target/zos/bench-net");
    let mut helper = Command::new("sh");
    helper
        .arg(root().join("tests/acceptance/net_ns.sh"))
        .arg(name)
        .arg(&dir);
    let mut helper = Piped::spawn(helper, false)?;
    let first = helper.wait_for("\n", 30)?;
    if first.trim() != "net_ns: ready" {
        return Err(format!(
            "the benchmark network did not come up: {}",
            first.trim()
        ));
    }
    Ok(helper)
}

/// QEMU inside the namespace with the tap as its only NIC.
fn boot(artifacts: &Artifacts, name: &str) -> Result<Piped, String> {
    let mut qemu = qemu_command(artifacts);
    if std::env::var_os("ZOS_NETBENCH_ICOUNT").is_some() {
        qemu.args(["-icount", "shift=0"]);
    }
    if profile_samples().is_some() {
        // A socket in the file system: the namespace has its own loopback.
        let _ = std::fs::remove_file(GDB_SOCKET);
        qemu.args(["-gdb", &format!("unix:{GDB_SOCKET},server=on,wait=off")]);
    }
    qemu.args([
        "-netdev",
        "tap,id=n0,ifname=zt0,script=no,downscript=no",
        "-device",
        "virtio-net-device,netdev=n0",
    ]);
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", name])
        .arg(qemu.get_program())
        .args(qemu.get_args());
    Piped::spawn(command, true)
}

/// Where a profiled guest's gdb stub listens.
const GDB_SOCKET: &str = "/tmp/zos-netbench-gdb.sock";

/// `ZOS_NETBENCH_PROFILE=SAMPLES`: the guest→host row is profiled with
/// `tools/profile/zos_sample.py` (SAMPLES samples 5 ms apart) while it
/// moves four times the bytes; its figures then mean nothing.
/// `ZOS_NETBENCH_PROFILE=h2g:SAMPLES` profiles the host→guest row instead;
/// `step:STEPS` (after `h2g:` or not) single-steps STEPS instructions with
/// `tools/profile/zos_profile.py` 1.5 s into the row instead of sampling:
/// exact counts of a short stretch (of whatever runs then: a window, not
/// an average).
fn profile_samples() -> Option<u32> {
    let value = std::env::var("ZOS_NETBENCH_PROFILE").ok()?;
    let value = value.trim_start_matches("h2g:").trim_start_matches("step:");
    value.parse().ok()
}

/// Whether the profile single-steps (`step:`) rather than samples.
fn profile_steps() -> bool {
    std::env::var("ZOS_NETBENCH_PROFILE").is_ok_and(|v| v.contains("step:"))
}

/// Whether the profile is of the host→guest row.
fn profile_h2g() -> bool {
    std::env::var("ZOS_NETBENCH_PROFILE").is_ok_and(|v| v.starts_with("h2g:"))
}

/// Starts gdb sampling the guest (AArch64 only: the bench's machine).
fn start_profiler(artifacts: &Artifacts, samples: u32) -> Result<Child, String> {
    let (script, command, delay) = match profile_steps() {
        true => ("zos_profile.py", format!("zos-profile {samples}"), "1.5"),
        false => (
            "zos_sample.py",
            format!("zos-sample {samples} every 5"),
            "0",
        ),
    };
    Command::new("gdb-multiarch")
        .args(["-q", "-batch", "-ex"])
        .arg(format!("file {}", artifacts.kernel.display()))
        // Connecting stops the guest: a single-stepped profile starts
        // once the transfer runs.
        .args(["-ex", &format!("shell sleep {delay}")])
        .args(["-ex", &format!("target remote {GDB_SOCKET}"), "-ex"])
        .arg(format!(
            "source {}",
            root().join("tools/profile").join(script).display()
        ))
        .args(["-ex", &command])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("gdb-multiarch: {e}"))
}

/// Milliseconds from the NIC attaching to the lease line, and the address.
fn lease(guest: &mut Piped) -> Result<(f64, String), String> {
    guest.wait_for("eth0 52:54:00:12:34:56 attached", 60)?;
    let attached = Instant::now();
    guest.wait_for("netstack: eth0 leased ", 30)?;
    let ms = attached.elapsed().as_secs_f64() * 1000.0;
    let line = guest.wait_for("\n", 5)?;
    let address = line.split('/').next().unwrap_or("").trim().to_string();
    Ok((ms, address))
}

/// Types `command` at the prompt; its output.
fn shell(guest: &mut Piped, command: &str, seconds: u64) -> Result<String, String> {
    guest.send(&format!("{command}; echo NB_END\r"))?;
    let out = guest.wait_for("\nNB_END", seconds)?;
    if std::env::var_os("ZOS_NETBENCH_DEBUG").is_some() {
        eprintln!("{out}");
    }
    Ok(out)
}

/// The guest's busy time so far (`/proc/stat`'s first line: user, nice
/// and system), in its clock ticks of 10 ms.
fn guest_busy_ticks(guest: &mut Piped) -> Result<u64, String> {
    let out = shell(guest, "head -1 /proc/stat", 10)?;
    let line = out
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| format!("no cpu line in /proc/stat:\n{}", tail(&out)))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect();
    Ok(fields.iter().sum())
}

/// `peer: WHAT BYTES NANOSECONDS` from the peer: (bytes, seconds).
fn peer_figure(peer: &mut Piped, what: &str) -> Result<(u64, f64), String> {
    peer.wait_for(&format!("peer: {what} "), 120)?;
    let line = peer.wait_for("\n", 5)?;
    let mut words = line.split_whitespace();
    let bytes = words.next().and_then(|w| w.parse().ok());
    let ns: Option<u64> = words.next().and_then(|w| w.parse().ok());
    match (bytes, ns) {
        (Some(bytes), Some(ns)) => Ok((bytes, ns as f64 / 1e9)),
        _ => Err(format!("the peer said: {what} {line}")),
    }
}

/// Runs the rows; returns (name, nanoseconds per operation) for bench.json:
/// the lease, one ping, moving 64 MiB each way, one fetch, one httpd request.
pub fn net_bench(artifacts: &Artifacts) -> Result<Vec<(String, u64)>, String> {
    crate::tools::ensure(&["ip", "dnsmasq", "curl", "python3"])?;
    let name = format!("zos-bench-{}", std::process::id());
    let _namespace = namespace(&name)?;
    let mut peer_command = Command::new("ip");
    peer_command
        .args(["netns", "exec", &name, "python3"])
        .arg(root().join("tests/acceptance/net_peer.py"))
        .arg(HOST);
    let mut peer = Piped::spawn(peer_command, false)?;
    peer.wait_for("peer: ready", 30)?;

    let mut leases = Vec::new();
    for _ in 1..BOOTS {
        let mut guest = boot(artifacts, &name)?;
        leases.push(lease(&mut guest)?.0);
    }
    let mut guest = boot(artifacts, &name)?;
    let (ms, address) = lease(&mut guest)?;
    leases.push(ms);
    let lease_ms = median(&mut leases);

    let out = shell(
        &mut guest,
        // Into a file: at one line per 20 ms the serial console's output
        // path, not the network, set the figure (docs/network.md).
        &format!("ping -c {PINGS} -i 0.02 {HOST} > /tmp/ping.txt; cat /tmp/ping.txt"),
        PINGS as u64 + 30,
    )?;
    let mut rtts: Vec<f64> = out
        .lines()
        .filter_map(|l| {
            l.split("time=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    if rtts.len() < PINGS * 9 / 10 {
        return Err(format!(
            "ping: {} of {PINGS} answered:\n{}",
            rtts.len(),
            tail(&out)
        ));
    }
    if std::env::var_os("ZOS_NETBENCH_DEBUG").is_some() {
        eprintln!("{out}");
    }
    let ping_ms = median(&mut rtts);

    let busy_before = guest_busy_ticks(&mut guest)?;
    let cpu_before = guest.cpu_seconds();
    let profiled = profile_samples().filter(|_| !profile_h2g());
    let g2h_bytes = BULK_BYTES * if profiled.is_some() { 4 } else { 1 };
    let mut profiler = match profiled {
        Some(samples) => Some(start_profiler(artifacts, samples)?),
        None => None,
    };
    shell(
        &mut guest,
        &format!(
            "dd if=/dev/zero bs=65536 count={} 2>/dev/null | nc {HOST} 5001",
            g2h_bytes >> 16
        ),
        300,
    )?;
    if let Some(gdb) = profiler.as_mut() {
        let _ = gdb.wait();
    }
    let (bytes, g2h_s) = peer_figure(&mut peer, "sink")?;
    let g2h_cpu = guest.cpu_seconds() - cpu_before;
    let g2h_busy = guest_busy_ticks(&mut guest)? - busy_before;
    if bytes != g2h_bytes {
        return Err(format!(
            "guest->host: the peer got {bytes} bytes, not {g2h_bytes}"
        ));
    }
    // For reading the row above: the same bytes through the same pipe
    // without the network (guest clock).
    let out = shell(
        &mut guest,
        &format!(
            "T0=$(uptime -n); dd if=/dev/zero bs=65536 count={} 2>/dev/null | wc -c; T1=$(uptime -n); echo NB_PIPE_NS=$(( T1 - T0 ))",
            BULK_BYTES >> 16
        ),
        300,
    )?;
    let pipe_ns: u64 = marked_number(&out, "NB_PIPE_NS").unwrap_or(0);
    let busy_before = guest_busy_ticks(&mut guest)?;
    let cpu_before = guest.cpu_seconds();
    let profiled = profile_samples().filter(|_| profile_h2g());
    let mut profiler = match profiled {
        Some(samples) => Some(start_profiler(artifacts, samples)?),
        None => None,
    };
    shell(&mut guest, &format!("nc -d {HOST} 5002 >/dev/null"), 300)?;
    if let Some(gdb) = profiler.as_mut() {
        let _ = gdb.wait();
    }
    let (_, h2g_s) = peer_figure(&mut peer, "source")?;
    let h2g_cpu = guest.cpu_seconds() - cpu_before;
    let h2g_busy = guest_busy_ticks(&mut guest)? - busy_before;

    // One client making every connection, as Linux's C client does: one
    // wget given the URL GETS times (a connection, a GET and a close each).
    let urls = vec![format!("http://{HOST}:8000/small"); GETS as usize].join(" ");
    let out = shell(
        &mut guest,
        &format!(
            "T0=$(uptime -n); wget -q -O /dev/null {urls} || echo FAILED; T1=$(uptime -n); echo NB_GET_NS=$(( (T1 - T0) / {GETS} ))"
        ),
        120,
    )?;
    if out.contains("\nFAILED") {
        return Err(format!("wget of the small file failed:\n{}", tail(&out)));
    }
    let get_ns: u64 = marked_number(&out, "NB_GET_NS")
        .ok_or_else(|| format!("no fetch time:\n{}", tail(&out)))?;
    // The same GETs with a wget started for each (the row until 2026-12-03).
    let out = shell(
        &mut guest,
        &format!(
            "T0=$(uptime -n); for i in $(seq {GETS}); do wget -q -O /dev/null http://{HOST}:8000/small || echo FAILED; done; T1=$(uptime -n); echo NB_SPAWN_NS=$(( (T1 - T0) / {GETS} ))"
        ),
        120,
    )?;
    let spawn_ns: u64 = marked_number(&out, "NB_SPAWN_NS").unwrap_or(0);

    shell(
        &mut guest,
        "mkdir -p /tmp/www; echo a small file > /tmp/www/small; httpd -p 80 -h /tmp/www & true",
        10,
    )?;
    // Once httpd answers.
    let up = (0..50).any(|_| {
        let ok = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "curl",
                "-sSf",
                "--max-time",
                "2",
                "-o",
                "/dev/null",
            ])
            .arg(format!("http://{address}/small"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            std::thread::sleep(Duration::from_millis(100));
        }
        ok
    });
    if !up {
        return Err("the guest's httpd never answered".into());
    }
    let started = Instant::now();
    let curl = Command::new("ip")
        .args(["netns", "exec", &name, "curl", "-sS", "--max-time", "120"])
        .arg(format!("http://{address}/small?[1-{CURLS}]"))
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    let curl_s = started.elapsed().as_secs_f64();
    let fetched = String::from_utf8_lossy(&curl.stdout)
        .matches("a small file")
        .count() as u64;
    if !curl.status.success() || fetched != CURLS {
        return Err(format!(
            "curl fetched {fetched} of {CURLS}: {}",
            String::from_utf8_lossy(&curl.stderr)
        ));
    }
    drop(guest);
    drop(peer);

    let mib = BULK_BYTES as f64 / (1 << 20) as f64;
    let ours = [
        lease_ms,
        ping_ms,
        mib / g2h_s,
        mib / h2g_s,
        get_ns as f64 / 1e6,
        CURLS as f64 / curl_s,
    ];
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "network (wall)", "zos", "Linux tap", ""
    );
    for ((row, linux, unit), value) in LINUX.iter().zip(ours) {
        println!("{row:<28} {value:>12.2} {linux:>12.2} {unit:>8}");
    }
    // QEMU's own CPU time (all its threads) per MiB moved: the guest's
    // work, less disturbed than wall time by other load on the machine.
    println!(
        "(QEMU CPU per MiB: guest->host {:.1} ms, host->guest {:.1} ms)",
        g2h_cpu * 1e3 / mib,
        h2g_cpu * 1e3 / mib
    );
    // The guest's own busy time per MiB (its ticks; under
    // ZOS_NETBENCH_ICOUNT=1 a tick is 10 million guest instructions, so
    // this is millions of instructions per MiB, steady from run to run).
    println!(
        "(guest busy per MiB: guest->host {:.1} ms, host->guest {:.1} ms{})",
        g2h_busy as f64 * 10.0 * (1 << 20) as f64 / g2h_bytes as f64,
        h2g_busy as f64 * 10.0 / mib,
        if std::env::var_os("ZOS_NETBENCH_ICOUNT").is_some() {
            ", -icount shift=0: millions of instructions"
        } else {
            ""
        }
    );
    if spawn_ns > 0 {
        println!(
            "(net_connect_get_close with a wget started per GET: {:.2} ms)",
            spawn_ns as f64 / 1e6
        );
    }
    if pipe_ns > 0 {
        println!(
            "(the guest's `dd | wc -c` of the same 64 MiB, no network: {:.2} MiB/s)",
            mib / (pipe_ns as f64 / 1e9)
        );
    }
    let ns = |seconds: f64| (seconds * 1e9) as u64;
    Ok(vec![
        (LINUX[0].0.into(), ns(lease_ms / 1e3)),
        (LINUX[1].0.into(), ns(ping_ms / 1e3)),
        (LINUX[2].0.into(), ns(g2h_s)),
        (LINUX[3].0.into(), ns(h2g_s)),
        (LINUX[4].0.into(), get_ns),
        (LINUX[5].0.into(), ns(curl_s / CURLS as f64)),
    ])
}
