"""The host HTTP server of net_eth.exp and net_ns.exp: serves DIR on
ADDRESS:PORT (ADDRESS 127.0.0.1 unless given) until its standard input
ends. The test opens it as a pipe, so the server ends with the test on
every path (pass, fail, timeout, or the test itself killed)."""
import functools
import http.server
import os
import sys
import threading
import time

port, directory = int(sys.argv[1]), sys.argv[2]
address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; one under /slow/ at about 1 MiB/s, so that a download
    of it is still running seconds in however fast the guest's path is."""

    def do_GET(self):
        if not self.path.startswith("/slow/"):
            return super().do_GET()
        path = os.path.join(directory, os.path.basename(self.path))
        try:
            size = os.path.getsize(path)
        except OSError:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            for offset in range(0, size, len(chunk)):
                self.wfile.write(chunk[: size - offset])
                time.sleep(0.06)
        except OSError:
            pass


handler = functools.partial(Handler, directory=directory)
server = http.server.ThreadingHTTPServer((address, port), handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"net_server: serving {directory} on {address}:{port}", flush=True)
while os.read(0, 4096):
    pass
os._exit(0)
