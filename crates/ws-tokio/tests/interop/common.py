"""Shared by py_client.py and py_server.py: the payloads both sides agree on."""

import random

# Every payload-length encoding boundary (7-bit, 16-bit, 64-bit) and 1 MiB.
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]

_CHARS = ["a", "Z", "\u00e9", "\u00df", "\u20ac", "\U0001d11e"]


def text_of(size: int, seed: int) -> str:
    """Valid UTF-8 of exactly `size` bytes mixing 1- to 4-byte characters."""
    rng = random.Random(seed)
    out = []
    length = 0
    while length < size:
        c = rng.choice(_CHARS)
        n = len(c.encode("utf-8"))
        if length + n > size:
            c, n = ".", 1
        out.append(c)
        length += n
    return "".join(out)


def binary_of(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)
