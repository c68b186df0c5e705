#!/usr/bin/env python3
"""Bad input for the guest's netstack from the host (net_ns.exp; issue 11,
"Bad input"), run inside the test's network namespace.

Usage: net_flood.py GUEST PORT CLOSED_PORT

1. ATTEMPTS connection attempts to GUEST:PORT, up to PARALLEL at a time
   (non-blocking sockets, one selector). Each one that connects is ended in
   one of four ways: a plain close (FIN), an abortive close (RST), random
   garbage then a close, or half an HTTP request then a RST. Attempts the
   guest refuses (its accept queue full) or that time out are counted, not
   errors.
2. A connect to CLOSED_PORT must be refused (a RST), not time out.
3. HANGING connections are opened and left idle, and as many again send
   half a request and then shut their sending side only (half-closed).
   The script prints `flood: holding N` and keeps them until its standard
   input ends (the expect script checks the guest meanwhile), then closes
   them all and exits.

Prints `flood: ...` lines with the counts; exits non-zero if the guest stops
answering altogether (no attempt connected) or the closed port did not
refuse.
"""

import errno
import os
import random
import selectors
import socket
import struct
import sys
import time

ATTEMPTS = 10_000
PARALLEL = 16
HANGING = 24
ATTEMPT_TIMEOUT_S = 5.0


def finish(sock, index, rng):
    """Ends a connected attempt in one of four ways."""
    way = index % 4
    try:
        if way == 1 or way == 3:
            if way == 3:
                sock.send(b"GET /index.html HTTP/1.1\r\nHost: gu")
            # Abortive close: RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif way == 2:
            sock.send(rng.randbytes(rng.randint(1, 1400)))
    except OSError:
        pass
    sock.close()


def flood(guest, port):
    rng = random.Random(11)
    selector = selectors.DefaultSelector()
    counts = {"connected": 0, "refused": 0, "reset": 0, "timed_out": 0, "other": 0}
    started = 0
    pending = {}
    begin = time.monotonic()
    while started < ATTEMPTS or pending:
        while started < ATTEMPTS and len(pending) < PARALLEL:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((guest, port))
            if code not in (0, errno.EINPROGRESS):
                counts["other"] += 1
                sock.close()
            else:
                selector.register(sock, selectors.EVENT_WRITE, started)
                pending[sock] = time.monotonic() + ATTEMPT_TIMEOUT_S
            started += 1
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            selector.unregister(sock)
            del pending[sock]
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                counts["connected"] += 1
                finish(sock, key.data, rng)
            else:
                name = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset",
                        errno.ETIMEDOUT: "timed_out"}.get(code, "other")
                counts[name] += 1
                sock.close()
        now = time.monotonic()
        for sock, deadline in list(pending.items()):
            if now > deadline:
                selector.unregister(sock)
                del pending[sock]
                counts["timed_out"] += 1
                sock.close()
    seconds = time.monotonic() - begin
    summary = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"flood: {ATTEMPTS} attempts in {seconds:.1f} s ({ATTEMPTS / seconds:.0f}/s): {summary}",
          flush=True)
    return counts


def refused(guest, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect((guest, port))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"{e}"
    finally:
        sock.close()


def main():
    guest, port, closed_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counts = flood(guest, port)
    closed = refused(guest, closed_port)
    print(f"flood: connect to closed port {closed_port}: {closed}", flush=True)
    held = []
    for i in range(2 * HANGING):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect((guest, port))
            if i % 2:
                sock.send(b"GET / HTTP/1.1\r\n")
                sock.shutdown(socket.SHUT_WR)
            held.append(sock)
        except OSError:
            sock.close()
    print(f"flood: holding {len(held)}", flush=True)
    sys.stdin.read()
    for sock in held:
        sock.close()
    print("flood: released", flush=True)
    ok = counts["connected"] > 0 and closed == "refused"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
