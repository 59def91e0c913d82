//! Cross-check against zlib (Python's stdlib `zlib`): zlib inflates what we compress with the
//! same window bits (a back-reference beyond the window fails there with "invalid distance too
//! far back"), and we inflate what zlib compresses. Needs `python3` on PATH.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{json_like, noise};
use ws_deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::extension::Extension;
use ws_proto::{Bytes, BytesMut, Compression, Role};

/// Inflates messages framed as `[u8 rsv1][u32 len][data]` with zlib and checks each against
/// the plain text framed as `[u32 len][data]` after them. argv: window bits, takeover (0/1).
const INFLATE: &str = r#"
import sys, zlib, struct
bits, takeover = int(sys.argv[1]), sys.argv[2] == "1"
data = sys.stdin.buffer.read()
pos = 0
def take(n):
    global pos
    b = data[pos:pos + n]; pos += n; return b
count = struct.unpack(">I", take(4))[0]
wire = []
for _ in range(count):
    rsv1 = take(1)[0]
    n = struct.unpack(">I", take(4))[0]
    wire.append((rsv1, take(n)))
d = zlib.decompressobj(-bits)
compressed = 0
for i, (rsv1, payload) in enumerate(wire):
    n = struct.unpack(">I", take(4))[0]
    plain = take(n)
    if rsv1:
        compressed += 1
        if not takeover:
            d = zlib.decompressobj(-bits)
        got = d.decompress(payload + b"\x00\x00\xff\xff")
    else:
        got = payload
    if got != plain:
        print("message %d differs (%d vs %d bytes)" % (i, len(got), len(plain)))
        sys.exit(1)
print("OK %d %d" % (count, compressed))
"#;

/// Compresses the plain messages (`[u32 len][data]`, after a `[u32 count]`) with zlib and
/// writes `[u32 len][data]` per message, tail stripped. argv: window bits, takeover, level.
const DEFLATE: &str = r#"
import sys, zlib, struct
bits, takeover, level = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
data = sys.stdin.buffer.read()
count = struct.unpack(">I", data[:4])[0]
pos = 4
out = sys.stdout.buffer
c = zlib.compressobj(level, zlib.DEFLATED, -bits, 8)
for _ in range(count):
    n = struct.unpack(">I", data[pos:pos + 4])[0]
    plain = data[pos + 4:pos + 4 + n]; pos += 4 + n
    if not takeover:
        c = zlib.compressobj(level, zlib.DEFLATED, -bits, 8)
    z = c.compress(plain) + c.flush(zlib.Z_SYNC_FLUSH)
    assert z.endswith(b"\x00\x00\xff\xff")
    z = z[:-4]
    out.write(struct.pack(">I", len(z)) + z)
out.flush()
"#;

fn python(script: &str, args: &[String], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): this test needs Python 3 (its stdlib zlib) on PATH; \
                 install it with `apt-get install python3`"
            )
        });
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "python3 failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

fn messages(seed: u64) -> Vec<Vec<u8>> {
    (0..120u64)
        .map(|i| {
            let size = [100usize, 700, 2000, 9000, 40_000, 100_000][(i % 6) as usize];
            match i % 7 {
                5 => noise(size.min(3000), seed + i),
                6 => {
                    let mut v = json_like(size / 2, seed + i);
                    v.extend_from_slice(&noise(size / 4, i));
                    v.extend_from_within(..size / 2);
                    v
                }
                _ => json_like(size, (seed + i) % 9),
            }
        })
        .collect()
}

fn params(bits: u8, takeover: bool) -> DeflateParams {
    let mut p = DeflateParams::default();
    p.server_max_window_bits = bits;
    p.server_no_context_takeover = !takeover;
    p
}

/// Our compressor (server side, window `bits`) feeding zlib's inflater with the same window.
fn zlib_inflates_ours(mode: Compression, bits: u8, takeover: bool) {
    let mut ext = PerMessageDeflate::new(
        Role::Server,
        params(bits, takeover),
        &DeflateConfig::new(mode).min_message_size(0),
    );
    let plain = messages(u64::from(bits));
    let mut input = Vec::new();
    input.extend_from_slice(&(plain.len() as u32).to_be_bytes());
    for m in &plain {
        let (rsv, payload) = ext.encode(&Bytes::from(m.clone()), false).unwrap();
        input.push(u8::from(rsv != 0));
        input.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        input.extend_from_slice(&payload);
    }
    for m in &plain {
        input.extend_from_slice(&(m.len() as u32).to_be_bytes());
        input.extend_from_slice(m);
    }
    // zlib inflates with the negotiated window; without context takeover it may still keep
    // one inflater (a reset sender never refers back), so check with the strict setting.
    let window = bits.min(ext.compression_window_bits());
    let out = python(
        INFLATE,
        &[window.to_string(), u8::from(takeover).to_string()],
        &input,
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("OK 120 "), "{mode:?} bits {bits}: {out}");
    let compressed: usize = out.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        compressed >= 90,
        "{mode:?} bits {bits}: only {compressed} compressed"
    );
}

#[test]
fn zlib_inflates_what_we_compress_at_every_window() {
    for bits in 9..=15 {
        zlib_inflates_ours(Compression::Dedicated, bits, true);
        zlib_inflates_ours(Compression::Shared, bits, false);
    }
    for mode in [
        Compression::Shared4KB,
        Compression::Shared8KB,
        Compression::Shared16KB,
    ] {
        zlib_inflates_ours(mode, 15, false);
        zlib_inflates_ours(mode, 9, false);
    }
}

/// zlib's compressor (client side) feeding our inflater.
fn we_inflate_zlibs(bits: u8, takeover: bool, level: u8) {
    let plain = messages(100 + u64::from(bits));
    let mut input = Vec::new();
    input.extend_from_slice(&(plain.len() as u32).to_be_bytes());
    for m in &plain {
        input.extend_from_slice(&(m.len() as u32).to_be_bytes());
        input.extend_from_slice(m);
    }
    let out = python(
        DEFLATE,
        &[
            bits.to_string(),
            u8::from(takeover).to_string(),
            level.to_string(),
        ],
        &input,
    );
    let mut p = DeflateParams::default();
    p.client_max_window_bits = bits;
    p.client_no_context_takeover = !takeover;
    let mut ext =
        PerMessageDeflate::new(Role::Server, p, &DeflateConfig::new(Compression::Dedicated));
    let mut pos = 0;
    for (i, m) in plain.iter().enumerate() {
        let n = u32::from_be_bytes(out[pos..pos + 4].try_into().unwrap()) as usize;
        let z = &out[pos + 4..pos + 4 + n];
        pos += 4 + n;
        // Fed in uneven fragments, as frames might arrive.
        let mut got = BytesMut::new();
        let cut = [z.len() / 3, z.len() / 2];
        let pieces = [&z[..cut[0]], &z[cut[0]..cut[1]], &z[cut[1]..]];
        for (k, piece) in pieces.iter().enumerate() {
            ext.decode(piece, k == 2, &mut got, 1 << 20).unwrap();
        }
        assert!(
            got[..] == m[..],
            "bits {bits} takeover {takeover}: message {i} differs"
        );
    }
    assert_eq!(pos, out.len());
}

#[test]
fn we_inflate_what_zlib_compresses() {
    for bits in 9..=15 {
        we_inflate_zlibs(bits, true, 6);
        we_inflate_zlibs(bits, false, 1);
    }
    we_inflate_zlibs(15, true, 9);
}
