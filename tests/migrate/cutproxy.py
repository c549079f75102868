"""A TCP proxy that forwards a connection and cuts it after N bytes from
the client: a network failure at a chosen point of a migration.

Usage: cutproxy.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT CUT_BYTES
Serves one connection, then exits; gives up after 60 s in any case.
"""

import selectors
import socket
import sys
import time


def main() -> int:
    laddr, lport, taddr, tport, cut = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        int(sys.argv[4]), int(sys.argv[5])
    srv = socket.create_server((laddr, lport))
    srv.settimeout(60)
    print("listening", flush=True)
    client, _ = srv.accept()
    server = socket.create_connection((taddr, tport), timeout=10)
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, server)
    sel.register(server, selectors.EVENT_READ, client)
    forwarded = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            if not data:
                return 0
            if key.fileobj is client:
                if forwarded + len(data) >= cut:
                    key.data.sendall(data[:cut - forwarded])
                    for s in (client, server):
                        s.close()
                    return 0
                forwarded += len(data)
            key.data.sendall(data)
    return 1


if __name__ == "__main__":
    sys.exit(main())
