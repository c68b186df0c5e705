//! The NIC side of the stack: attaching a NIC, DHCP (smoltcp's DHCPv4
//! socket) or a static address, the default route, interface information,
//! and the ICMP echo and DNS queries the tools ask for.

use super::*;
use crate::config::LinkConfig;
use crate::device::{Nic, NIC_FRAME};
use alloc::boxed::Box;
use alloc::format;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{dhcpv4, dns, icmp};
use smoltcp::wire::{DnsQueryType, Icmpv4Packet, Icmpv4Repr, Ipv4Cidr};
use zos_proto::net::InterfaceInfo;

/// The segment's MAC address while no NIC is attached (locally administered).
pub const LOOPBACK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
/// Longest ping payload.
const MAX_PING: usize = 1400;
/// How long a DNS query may take.
const DNS_TIMEOUT_MS: u64 = 5_000;

struct PingWait {
    token: Token,
    handle: SocketHandle,
    ident: u16,
    seq: u16,
    deadline: u64,
}

struct QueryWait {
    token: Token,
    query: dns::QueryHandle,
    deadline: u64,
}

#[derive(Default)]
pub(super) struct Link {
    /// How `eth0` is configured (`None`: no NIC).
    config: Option<LinkConfig>,
    mac: [u8; 6],
    dhcp: Option<SocketHandle>,
    dns: Option<SocketHandle>,
    address: Option<Ipv4Cidr>,
    gateway: Option<Ipv4Address>,
    dns_servers: Vec<Ipv4Address>,
    pings: Vec<PingWait>,
    queries: Vec<QueryWait>,
    log: Vec<String>,
    next_ident: u16,
    /// The DNS servers changed since `/etc/resolv.conf` was last written.
    resolv_changed: bool,
}

impl Link {
    pub(super) fn has_waiting(&self) -> bool {
        !self.pings.is_empty() || !self.queries.is_empty()
    }
}

fn v4(addr: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(addr[0], addr[1], addr[2], addr[3])
}

fn format_v4(addr: Ipv4Address) -> String {
    let [a, b, c, d] = addr.octets();
    format!("{a}.{b}.{c}.{d}")
}

impl Stack {
    /// Attaches a NIC with `mac`, configured by `config` (DHCP starts now,
    /// answered by later polls; a static address applies at once).
    pub fn attach_nic(&mut self, nic: Box<dyn Nic>, mac: [u8; 6], config: LinkConfig) {
        self.detach_nic();
        self.device.set_nic(Some(nic), mac);
        self.iface
            .set_hardware_addr(HardwareAddress::Ethernet(EthernetAddress(mac)));
        self.link.mac = mac;
        match config.address {
            None => {
                self.link.dhcp = Some(self.sockets.add(dhcpv4::Socket::new()));
            }
            Some((addr, prefix)) => {
                let cidr = Ipv4Cidr::new(v4(addr), prefix);
                let dns = config.dns.iter().map(|&d| v4(d)).collect();
                self.apply(Some(cidr), config.gateway.map(v4), dns);
                let via = config
                    .gateway
                    .map(|g| format!(" via {}", format_v4(v4(g))))
                    .unwrap_or_default();
                self.link
                    .log
                    .push(format!("eth0 static {}/{prefix}{via}", format_v4(v4(addr))));
            }
        }
        self.link.config = Some(config);
    }

    /// Forgets the NIC (its driver went away): back to loopback only.
    pub fn detach_nic(&mut self) {
        if let Some(handle) = self.link.dhcp.take() {
            self.sockets.remove(handle);
        }
        self.apply(None, None, Vec::new());
        self.device.set_nic(None, LOOPBACK_MAC);
        self.iface
            .set_hardware_addr(HardwareAddress::Ethernet(EthernetAddress(LOOPBACK_MAC)));
        self.link.config = None;
    }

    pub fn has_nic(&self) -> bool {
        self.device.has_nic()
    }

    /// Whether frames went to the NIC since the last call.
    pub fn take_sent(&mut self) -> bool {
        self.device.take_sent()
    }

    /// Lines for the log (leases, static configuration).
    pub fn take_log(&mut self) -> Vec<String> {
        core::mem::take(&mut self.link.log)
    }

    /// The text of `/etc/resolv.conf` when the DNS servers changed since the
    /// last call (a lease, a static configuration, a lost lease): one
    /// `nameserver` line per server, none when there are none.
    pub fn take_resolv_conf(&mut self) -> Option<String> {
        if !core::mem::take(&mut self.link.resolv_changed) {
            return None;
        }
        let mut text = String::from("# written by the netstack (DHCP or /etc/network.conf)\n");
        for &server in &self.link.dns_servers {
            text.push_str(&format!("nameserver {}\n", format_v4(server)));
        }
        Some(text)
    }

    /// Takes the DNS servers a user wrote into `/etc/resolv.conf` (the
    /// netstack reads it back before each query): when they differ from
    /// the stack's, queries under way end (`ENETUNREACH`, as when a lease
    /// changes them) and the next one asks the new servers. The file is not
    /// written again for it.
    pub fn use_resolv_conf(&mut self, servers: Vec<[u8; 4]>) {
        let servers: Vec<Ipv4Address> = servers.into_iter().map(v4).collect();
        if servers == self.link.dns_servers {
            return;
        }
        self.link.dns_servers = servers;
        if let Some(handle) = self.link.dns.take() {
            self.sockets.remove(handle);
        }
        for q in core::mem::take(&mut self.link.queries) {
            self.finished.push((q.token, Reply::Err(ENETUNREACH)));
        }
    }

    /// Milliseconds until smoltcp wants to be polled again (TCP timers,
    /// DHCP), when it does.
    pub fn next_poll_ms(&mut self, now_ms: u64) -> Option<u64> {
        self.iface
            .poll_delay(instant(now_ms), &self.sockets)
            .map(|d| d.total_millis())
    }

    /// Sets `eth0`'s address, default route and DNS servers (127.0.0.1/8
    /// stays).
    fn apply(
        &mut self,
        cidr: Option<Ipv4Cidr>,
        router: Option<Ipv4Address>,
        dns: Vec<Ipv4Address>,
    ) {
        // smoltcp takes the first address as the source of packets whose
        // socket names none: the NIC's goes first (connections to 127/8
        // name 127.0.0.1 themselves).
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            if let Some(cidr) = cidr {
                let _ = addrs.push(IpCidr::Ipv4(cidr));
            }
            let _ = addrs.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
        });
        self.iface.routes_mut().remove_default_ipv4_route();
        if let (Some(router), Some(_)) = (router, cidr) {
            let _ = self.iface.routes_mut().add_default_ipv4_route(router);
        }
        self.link.address = cidr;
        self.link.gateway = router.filter(|_| cidr.is_some());
        if self.link.dns_servers != dns {
            self.link.resolv_changed = true;
        }
        self.link.dns_servers = dns;
        if let Some(handle) = self.link.dns.take() {
            self.sockets.remove(handle);
        }
        for q in core::mem::take(&mut self.link.queries) {
            self.finished.push((q.token, Reply::Err(ENETUNREACH)));
        }
    }

    /// Whether `addr` is one of ours (or any).
    pub(super) fn is_own(&self, addr: [u8; 4]) -> bool {
        addr == [0; 4]
            || addr[0] == 127
            || self.link.address.is_some_and(|a| a.address() == v4(addr))
    }

    /// Whether a packet to `addr` has somewhere to go.
    pub(super) fn reachable(&self, addr: [u8; 4]) -> bool {
        if self.is_own(addr) {
            return true;
        }
        match self.link.address {
            Some(cidr) => cidr.contains_addr(&v4(addr)) || self.link.gateway.is_some(),
            None => false,
        }
    }

    /// DHCP events, ping replies, DNS answers, and their deadlines.
    pub(super) fn poll_link(&mut self, now_ms: u64) -> Vec<(Token, Reply)> {
        let mut done = Vec::new();
        if let Some(handle) = self.link.dhcp {
            // (address, router, DNS servers) of a new lease; `Some(None)` lost.
            let event = match self.sockets.get_mut::<dhcpv4::Socket>(handle).poll() {
                Some(dhcpv4::Event::Configured(config)) => Some(Some((
                    config.address,
                    config.router,
                    config.dns_servers.iter().copied().collect::<Vec<_>>(),
                ))),
                Some(dhcpv4::Event::Deconfigured) => Some(None),
                None => None,
            };
            match event {
                Some(Some((address, router, dns))) => {
                    let servers: Vec<String> = dns.iter().map(|&d| format_v4(d)).collect();
                    let named = if servers.is_empty() {
                        String::new()
                    } else {
                        format!(" dns {}", servers.join(" "))
                    };
                    self.apply(Some(address), router, dns);
                    let via = router
                        .map(|g| format!(" via {}", format_v4(g)))
                        .unwrap_or_default();
                    self.link.log.push(format!(
                        "eth0 leased {}/{}{via}{named}",
                        format_v4(address.address()),
                        address.prefix_len()
                    ));
                    self.drain(now_ms);
                }
                // (smoltcp reports one when it starts, before any lease.)
                Some(None) if self.link.address.is_some() => {
                    self.apply(None, None, Vec::new());
                    self.link.log.push(String::from("eth0 lease lost"));
                }
                Some(None) => {}
                None => {}
            }
        }
        let mut index = 0;
        while index < self.link.pings.len() {
            let p = &self.link.pings[index];
            let (handle, ident, seq) = (p.handle, p.ident, p.seq);
            let socket = self.sockets.get_mut::<icmp::Socket>(handle);
            let mut answered = false;
            while let Ok((payload, _from)) = socket.recv() {
                let Ok(packet) = Icmpv4Packet::new_checked(payload) else {
                    continue;
                };
                if let Ok(Icmpv4Repr::EchoReply {
                    ident: i,
                    seq_no: s,
                    ..
                }) = Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default())
                {
                    answered |= i == ident && s == seq;
                }
            }
            let expired = now_ms >= self.link.pings[index].deadline;
            if answered || expired {
                let p = self.link.pings.remove(index);
                self.sockets.remove(p.handle);
                done.push((
                    p.token,
                    if answered {
                        Reply::Ok
                    } else {
                        Reply::Err(ETIMEDOUT)
                    },
                ));
            } else {
                index += 1;
            }
        }
        let mut index = 0;
        while index < self.link.queries.len() {
            let Some(handle) = self.link.dns else {
                break;
            };
            let q = &self.link.queries[index];
            let (query, deadline) = (q.query, q.deadline);
            let socket = self.sockets.get_mut::<dns::Socket>(handle);
            let reply = match socket.get_query_result(query) {
                Ok(addrs) => Some(Reply::Resolved(
                    addrs
                        .iter()
                        .map(|a| match a {
                            IpAddress::Ipv4(v4) => v4.octets(),
                        })
                        .collect(),
                )),
                Err(dns::GetQueryResultError::Failed) => Some(Reply::Err(ENOENT)),
                Err(dns::GetQueryResultError::Pending) if now_ms >= deadline => {
                    socket.cancel_query(query);
                    Some(Reply::Err(ETIMEDOUT))
                }
                Err(dns::GetQueryResultError::Pending) => None,
            };
            match reply {
                Some(reply) => {
                    let q = self.link.queries.remove(index);
                    done.push((q.token, reply));
                }
                None => index += 1,
            }
        }
        done
    }

    /// Sends one ICMP echo request; `None`: the reply (or timeout) comes
    /// from a later poll.
    pub fn ping(
        &mut self,
        token: Token,
        to: [u8; 4],
        seq: u16,
        len: usize,
        timeout_ms: u32,
        now_ms: u64,
    ) -> Option<Reply> {
        if !self.reachable(to) || to == [0; 4] {
            return Some(Reply::Err(ENETUNREACH));
        }
        if len > MAX_PING {
            return Some(Reply::Err(EMSGSIZE));
        }
        self.link.next_ident = self.link.next_ident.wrapping_add(1);
        let ident = 0x5a00 ^ self.link.next_ident;
        let mut socket = icmp::Socket::new(
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 4 * NIC_FRAME]),
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 1], vec![0; NIC_FRAME]),
        );
        if socket.bind(icmp::Endpoint::Ident(ident)).is_err() {
            return Some(Reply::Err(EINVAL));
        }
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let repr = Icmpv4Repr::EchoRequest {
            ident,
            seq_no: seq,
            data: &payload,
        };
        let target = IpAddress::Ipv4(v4(if to[0] == 127 { [127, 0, 0, 1] } else { to }));
        match socket.send(repr.buffer_len(), target) {
            Ok(buffer) => {
                let mut packet = Icmpv4Packet::new_unchecked(buffer);
                repr.emit(&mut packet, &ChecksumCapabilities::default());
            }
            Err(_) => return Some(Reply::Err(ENOBUFS)),
        }
        let handle = self.sockets.add(socket);
        self.link.pings.push(PingWait {
            token,
            handle,
            ident,
            seq,
            deadline: now_ms + u64::from(timeout_ms.max(1)),
        });
        self.advance(now_ms);
        None
    }

    /// Starts a DNS query for `name`'s IPv4 addresses.
    pub fn resolve(&mut self, token: Token, name: &str, now_ms: u64) -> Option<Reply> {
        if self.link.dns_servers.is_empty() {
            return Some(Reply::Err(ENETUNREACH));
        }
        let handle = match self.link.dns {
            Some(handle) => handle,
            None => {
                let servers: Vec<IpAddress> = self
                    .link
                    .dns_servers
                    .iter()
                    .map(|&s| IpAddress::Ipv4(s))
                    .collect();
                let slots: Vec<Option<dns::DnsQuery>> = (0..8).map(|_| None).collect();
                let handle = self.sockets.add(dns::Socket::new(&servers, slots));
                self.link.dns = Some(handle);
                handle
            }
        };
        let socket = self.sockets.get_mut::<dns::Socket>(handle);
        match socket.start_query(self.iface.context(), name, DnsQueryType::A) {
            Ok(query) => {
                self.link.queries.push(QueryWait {
                    token,
                    query,
                    deadline: now_ms + DNS_TIMEOUT_MS,
                });
                self.advance(now_ms);
                None
            }
            Err(dns::StartQueryError::NameTooLong | dns::StartQueryError::InvalidName) => {
                Some(Reply::Err(EINVAL))
            }
            Err(dns::StartQueryError::NoFreeSlot) => Some(Reply::Err(EAGAIN)),
        }
    }

    /// `lo` and, with a NIC, `eth0`.
    pub fn interfaces(&self) -> Vec<InterfaceInfo> {
        let mut out = vec![InterfaceInfo {
            name: String::from("lo"),
            addrs: vec![([127, 0, 0, 1], 8)],
            mtu: crate::device::MTU as u32 - 14,
            config: String::from("loopback"),
            ..InterfaceInfo::default()
        }];
        if let Some(config) = &self.link.config {
            let c = self.device.counters();
            out.push(InterfaceInfo {
                name: String::from("eth0"),
                mac: self.link.mac,
                addrs: self
                    .link
                    .address
                    .map(|a| vec![(a.address().octets(), a.prefix_len())])
                    .unwrap_or_default(),
                gateway: self.link.gateway.map(|g| g.octets()),
                dns: self.link.dns_servers.iter().map(|d| d.octets()).collect(),
                mtu: (NIC_FRAME - 14) as u32,
                config: String::from(match (config.is_dhcp(), self.link.address) {
                    (true, Some(_)) => "dhcp",
                    (true, None) => "dhcp (waiting for a lease)",
                    (false, _) => "static",
                }),
                rx_frames: c.rx_frames,
                rx_bytes: c.rx_bytes,
                tx_frames: c.tx_frames,
                tx_bytes: c.tx_bytes,
                dropped: c.dropped,
            });
        }
        out
    }
}
