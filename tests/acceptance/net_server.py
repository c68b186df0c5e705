"""The host HTTP server of net_eth.exp and net_ns.exp: serves DIR on
ADDRESS:PORT (ADDRESS 127.0.0.1 unless given) until its standard input
ends. The test opens it as a pipe, so the server ends with the test on
every path (pass, fail, timeout, or the test itself killed)."""
import functools
import http.server
import os
import sys
import threading

port, directory = int(sys.argv[1]), sys.argv[2]
address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer((address, port), handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"net_server: serving {directory} on {address}:{port}", flush=True)
while os.read(0, 4096):
    pass
os._exit(0)
