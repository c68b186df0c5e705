"""Relay for QEMU's guestfwd=...-cmd: (one process per guest connection):
copies standard input to a TCP connection to 127.0.0.1:PORT and back.
Used by net_eth.exp so every guest connection reaches the test's server."""
import os
import socket
import sys
import threading

peer = socket.create_connection(("127.0.0.1", int(sys.argv[1])))


def upstream():
    while True:
        data = os.read(0, 65536)
        if not data:
            peer.shutdown(socket.SHUT_WR)
            return
        peer.sendall(data)


threading.Thread(target=upstream, daemon=True).start()
while True:
    data = peer.recv(65536)
    if not data:
        break
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
