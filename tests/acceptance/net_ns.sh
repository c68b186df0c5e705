#!/bin/sh
# A private test network for the guest (docs/network.md, "Giving the guest a
# network"): a network namespace NAME holding a tap device `zt0` with
# 10.77.0.1/24, and dnsmasq serving DHCP (10.77.0.50-99, router and DNS
# server 10.77.0.1) and DNS for local names only (--no-resolv --no-hosts:
# `peer.zos.test` is 10.77.0.1, any other name under zos.test is unknown).
# A second namespace NAME-far sits behind it on a veth pair with the
# Ethernet MTU (10.78.0.1/24 in NAME, which routes; 10.78.0.2/24 in
# NAME-far), so traffic from the guest can be checked after a router that
# enforces the MTU. Nothing in either namespace can reach outside them:
# they have no other interface.
#
# Usage (as root): net_ns.sh NAME DIR
# Prints `net_ns: ready` when the network is up, then waits until its
# standard input ends (the pipe of the expect script that started it, which
# also ends when that script is killed) and tears everything down: every
# process left in the namespace (dnsmasq, QEMU, host-side test programs),
# by PID, then the namespaces themselves. DIR holds dnsmasq's log and leases.
set -u
ns=${1:?usage: net_ns.sh NAME DIR}
dir=${2:?usage: net_ns.sh NAME DIR}

if [ "$(id -u)" != 0 ]; then
    echo "net_ns: FAIL: this test needs root (ip netns add, a tap device); run it as root"
    exit 1
fi
for tool in ip dnsmasq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "net_ns: FAIL: $tool is missing (apt-get install iproute2 dnsmasq-base)"
        exit 1
    fi
done

created=""
cleanup() {
    trap - EXIT INT TERM HUP
    [ -n "$created" ] || return 0
    # Everything still running in the namespaces was started for this test.
    for space in "$ns" "$ns-far"; do
        for signal in TERM KILL; do
            pids=$(ip netns pids "$space" 2>/dev/null)
            [ -n "$pids" ] || break
            for pid in $pids; do kill -s "$signal" "$pid" 2>/dev/null; done
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                [ -n "$(ip netns pids "$space" 2>/dev/null)" ] || break
                sleep 0.1
            done
        done
        ip netns del "$space" 2>/dev/null
    done
    echo "net_ns: $ns and $ns-far removed" >&2
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! ip netns add "$ns"; then
    echo "net_ns: FAIL: cannot create namespace $ns"
    exit 1
fi
created=yes
mkdir -p "$dir"
if ! { ip -n "$ns" link set lo up &&
    ip -n "$ns" tuntap add dev zt0 mode tap &&
    ip -n "$ns" addr add 10.77.0.1/24 dev zt0 &&
    ip -n "$ns" link set zt0 up; }; then
    echo "net_ns: FAIL: cannot set up the tap device in $ns"
    exit 1
fi
if ! { ip netns add "$ns-far" &&
    ip -n "$ns-far" link set lo up &&
    ip -n "$ns" link add zv0 mtu 1500 type veth peer name zv1 netns "$ns-far" mtu 1500 &&
    ip -n "$ns" addr add 10.78.0.1/24 dev zv0 &&
    ip -n "$ns" link set zv0 up &&
    ip -n "$ns-far" addr add 10.78.0.2/24 dev zv1 &&
    ip -n "$ns-far" link set zv1 up &&
    ip -n "$ns-far" route add default via 10.78.0.1 &&
    ip netns exec "$ns" sysctl -q -w net.ipv4.ip_forward=1; }; then
    echo "net_ns: FAIL: cannot set up the routed namespace $ns-far"
    exit 1
fi
rm -f "$dir/dnsmasq.leases" "$dir/dnsmasq.log"
if ! ip netns exec "$ns" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
    --user=root --group=root \
    --interface=zt0 --bind-interfaces --except-interface=lo \
    --dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h \
    --dhcp-option=option:router,10.77.0.1 \
    --dhcp-option=option:dns-server,10.77.0.1 \
    --local=/zos.test/ --host-record=peer.zos.test,10.77.0.1 \
    --dhcp-leasefile="$dir/dnsmasq.leases" \
    --pid-file="$dir/dnsmasq.pid" \
    --log-facility="$dir/dnsmasq.log" --log-dhcp --log-queries; then
    echo "net_ns: FAIL: dnsmasq did not start (see $dir/dnsmasq.log)"
    exit 1
fi
echo "net_ns: ready"
# Until the script that holds our standard input ends (or is killed).
cat >/dev/null
