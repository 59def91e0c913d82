// Shared by node_client.mjs and node_server.mjs.

/** Loads `ws`, or exits 3 saying how to install it. */
export async function loadWs() {
  try {
    return await import('ws');
  } catch (e) {
    console.error(
      "node package 'ws' is missing: run `npm ci` in crates/ws-tokio/tests/interop " +
        `(${e.message})`,
    );
    process.exit(3);
  }
}

// Every payload-length encoding boundary (7-bit, 16-bit, 64-bit) and 1 MiB.
export const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

const CHARS = ['a', 'Z', '\u00e9', '\u00df', '\u20ac', '\u{1d11e}'];

/** A small deterministic generator (xorshift32). */
function rng(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Valid UTF-8 of exactly `size` bytes mixing 1- to 4-byte characters. */
export function textOf(size, seed) {
  const next = rng(seed);
  let out = '';
  let length = 0;
  while (length < size) {
    let c = CHARS[next() % CHARS.length];
    let n = Buffer.byteLength(c);
    if (length + n > size) {
      c = '.';
      n = 1;
    }
    out += c;
    length += n;
  }
  return out;
}

export function binaryOf(size, seed) {
  const next = rng(seed + 1000);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  return out;
}
