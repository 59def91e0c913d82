#!/usr/bin/env python3
"""Interop: Python's `websockets` as an echo server for a sockudo-ws client.

Usage: python3 py_server.py [CERT.pem KEY.pem]

With a certificate and its key, serves wss:// (TLS, ALPN http/1.1) instead of ws://.

Binds 127.0.0.1 on port 0 and prints the port on stdout. Echoes every message (text as text,
binary as binary). Exits when stdin closes (the test holds it open), or after 120 s at most.
Exits 3 when `websockets` is not installed.
"""

import ssl
import sys
import threading

try:
    from websockets.sync.server import serve
except ImportError:
    print(
        "python package 'websockets' is missing: "
        "python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)


def echo(ws) -> None:
    for message in ws:
        ws.send(message)


def main() -> None:
    options = dict(max_size=None, ping_interval=None)
    if len(sys.argv) == 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile=sys.argv[1], keyfile=sys.argv[2])
        context.set_alpn_protocols(["http/1.1"])
        options["ssl"] = context
    with serve(echo, "127.0.0.1", 0, **options) as server:
        port = server.socket.getsockname()[1]
        print(port, flush=True)

        def watchdog() -> None:
            sys.stdin.read()  # returns at EOF: the test is gone
            server.shutdown()

        threading.Thread(target=watchdog, daemon=True).start()
        limit = threading.Timer(120, server.shutdown)
        limit.daemon = True
        limit.start()
        server.serve_forever()


if __name__ == "__main__":
    main()
