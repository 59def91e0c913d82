#!/usr/bin/env python3
"""Interop: Python's `websockets` as a client against a sockudo-ws echo server.

Usage: python3 py_client.py ws://127.0.0.1:PORT/path
       python3 py_client.py wss://127.0.0.1:PORT/path CA.pem

For wss://, the server's certificate is verified against the CA in CA.pem alone (and for the
URL's host).

Sends a text and a binary message of every size in common.SIZES, checks each echo (type and
content), pings and waits for the pong, then closes with 1000 and checks the server's close
code. Exits 0 on success, 1 on a mismatch, 3 when `websockets` is not installed.
"""

import ssl
import sys

try:
    from websockets.sync.client import connect
except ImportError:
    print(
        "python package 'websockets' is missing: "
        "python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)

from common import SIZES, binary_of, text_of


def fail(why: str) -> None:
    print(f"py_client: {why}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    url = sys.argv[1]
    # The client offers permessage-deflate (the default): the server must decline cleanly.
    # No proxy: the server is on loopback whatever the environment says.
    options = dict(max_size=None, open_timeout=10, close_timeout=10, ping_interval=None)
    if url.startswith("wss://"):
        options["ssl"] = ssl.create_default_context(cafile=sys.argv[2])
    try:
        ws = connect(url, proxy=None, **options)
    except TypeError:  # websockets < 15 has no `proxy` argument
        ws = connect(url, **options)
    with ws:
        for i, size in enumerate(SIZES):
            text = text_of(size, i)
            ws.send(text)
            echoed = ws.recv(timeout=10)
            if not isinstance(echoed, str):
                fail(f"text of {size} bytes came back as {type(echoed).__name__}")
            if echoed != text:
                fail(f"text echo of {size} bytes differs")

            data = binary_of(size, 100 + i)
            ws.send(data)
            echoed = ws.recv(timeout=10)
            if not isinstance(echoed, bytes):
                fail(f"binary of {size} bytes came back as {type(echoed).__name__}")
            if echoed != data:
                fail(f"binary echo of {size} bytes differs")

        pong = ws.ping(b"interop")
        if not pong.wait(10):
            fail("no pong for our ping")

        ws.close(code=1000, reason="done")
        if ws.close_code != 1000:
            fail(f"server closed with {ws.close_code}, expected 1000")
    print("py_client: ok")


if __name__ == "__main__":
    main()
