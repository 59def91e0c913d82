#!/usr/bin/env python3
"""Compression interop: Python's `websockets` with permessage-deflate, as client or server.

Usage:
    python3 deflate_py.py server '<json>'       echo server; prints its port on stdout
    python3 deflate_py.py client URL '<json>'   sends the message set, checks every echo

<json> holds the keyword arguments of websockets' Server/ClientPerMessageDeflateFactory
(server_no_context_takeover, client_no_context_takeover, server_max_window_bits,
client_max_window_bits). The client prints `OK <messages> <bytes> <negotiated extension>`.
The server prints one line `EXT <negotiated extension>` per connection on stderr, exits when
stdin closes or after 120 s. Exits 3 when `websockets` is not installed.
"""

import json
import random
import sys
import threading

try:
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        ServerPerMessageDeflateFactory,
    )
    from websockets.sync.client import connect
    from websockets.sync.server import serve
except ImportError:
    print(
        "python package 'websockets' is missing: "
        "python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)


def json_like(size: int, rng: random.Random) -> str:
    parts = []
    n = 0
    i = 0
    while n < size:
        rec = '{"id":%d,"user":"user%d","price":%d.%02d,"tags":["a%d","b"],"ok":%s},' % (
            i,
            rng.randrange(1000),
            rng.randrange(10000),
            rng.randrange(100),
            rng.randrange(7),
            "true" if rng.random() < 0.5 else "false",
        )
        parts.append(rec)
        n += len(rec)
        i += 1
    return "".join(parts)[:size]


def messages():
    """Many small-to-large messages, mostly compressible, some not, and two big ones."""
    rng = random.Random(7692)
    sizes = [1, 10, 100, 1000, 5000, 20000, 70000, 200000]
    out = []
    for i in range(240):
        size = sizes[i % len(sizes)] + rng.randrange(50)
        kind = i % 6
        if kind == 4:
            out.append(rng.randbytes(min(size, 50000)))
        elif kind == 5:
            out.append(json_like(size, rng).encode())
        else:
            out.append(json_like(size, rng))
    out.append(json_like(1 << 20, rng) + "\u00e9\u20ac\U0001d11e")
    out.append(json_like(4 << 20, rng).encode())
    return out


def run_client(url: str, params: dict) -> None:
    factory = ClientPerMessageDeflateFactory(**params)
    total = 0
    with connect(url, compression=None, extensions=[factory], max_size=None,
                 ping_interval=None, open_timeout=20) as ws:
        ext = ws.protocol.extensions
        assert ext, "permessage-deflate was not negotiated"
        for i, m in enumerate(messages()):
            ws.send(m)
            echoed = ws.recv(timeout=30)
            if echoed != m:
                print("message %d differs (%s, %d bytes)" % (i, type(m).__name__, len(m)))
                sys.exit(1)
            total += len(m)
        print("OK %d %d %r" % (len(messages()), total, ext[0]), flush=True)


def run_server(params: dict) -> None:
    factory = ServerPerMessageDeflateFactory(**params)

    def echo(ws) -> None:
        print("EXT %r" % (ws.protocol.extensions,), file=sys.stderr, flush=True)
        for message in ws:
            ws.send(message)

    with serve(echo, "127.0.0.1", 0, compression=None, extensions=[factory],
               max_size=None, ping_interval=None) as server:
        print(server.socket.getsockname()[1], flush=True)

        def watchdog() -> None:
            sys.stdin.read()
            server.shutdown()

        threading.Thread(target=watchdog, daemon=True).start()
        limit = threading.Timer(120, server.shutdown)
        limit.daemon = True
        limit.start()
        server.serve_forever()


def main() -> None:
    if sys.argv[1] == "server":
        run_server(json.loads(sys.argv[2]))
    else:
        run_client(sys.argv[2], json.loads(sys.argv[3]))


if __name__ == "__main__":
    main()
