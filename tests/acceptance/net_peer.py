#!/usr/bin/env python3
"""The host end of `cargo xtask bench net` (xtask/src/netbench.rs), run in the
benchmark's network namespace on ADDRESS (10.77.0.1). Until its standard
input ends it serves:

- SINK_PORT: reads each connection to its end and prints
  `peer: sink BYTES NANOSECONDS` (accept to end of data): guest->host TCP;
- SOURCE_PORT: sends BYTES (64 MiB) to each connection, shuts its sending
  side, waits for the guest to close, and prints
  `peer: source BYTES NANOSECONDS` (accept to the guest's close): host->guest;
- HTTP_PORT: a small file `/small` (HTTP/1.1, Connection: close), for the
  connect + GET + close latency.

Usage: net_peer.py ADDRESS
"""

import http.server
import os
import socket
import sys
import threading
import time

SINK_PORT = 5001
SOURCE_PORT = 5002
HTTP_PORT = 8000
SOURCE_BYTES = 64 << 20
SMALL = b"a small file for the connect + GET + close figure\n"


def listener(address, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(16)
    return sock


def sink(sock):
    while True:
        conn, _ = sock.accept()
        start = time.monotonic_ns()
        total = 0
        with conn:
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                total += len(data)
        print(f"peer: sink {total} {time.monotonic_ns() - start}", flush=True)


def source(sock):
    chunk = bytes(1 << 20)
    while True:
        conn, _ = sock.accept()
        start = time.monotonic_ns()
        with conn:
            try:
                for _ in range(SOURCE_BYTES // len(chunk)):
                    conn.sendall(chunk)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):
                    pass
            except OSError as e:
                print(f"peer: source error {e}", flush=True)
                continue
        print(f"peer: source {SOURCE_BYTES} {time.monotonic_ns() - start}", flush=True)


class Small(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(SMALL)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(SMALL)
        self.close_connection = True

    def log_message(self, *args):
        pass


def main():
    address = sys.argv[1]
    for function, port in ((sink, SINK_PORT), (source, SOURCE_PORT)):
        threading.Thread(target=function, args=(listener(address, port),), daemon=True).start()
    server = http.server.ThreadingHTTPServer((address, HTTP_PORT), Small)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("peer: ready", flush=True)
    while os.read(0, 4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
