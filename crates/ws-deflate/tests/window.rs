//! The decompressor's window follows the negotiated `*_max_window_bits`: a stream compressed
//! with a 9-bit window inflates with a 512-byte one, the memory a connection keeps for it is
//! about `2^bits` bytes plus the decoder's tables (counted by a global allocator), and a
//! back-reference beyond the agreed window is invalid data.

use ws_simd::alloc_stats as counting;

use ws_deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::extension::{Extension, ExtensionError};
use ws_proto::{Bytes, BytesMut, Compression, Role};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

fn params(bits: u8, takeover: bool) -> DeflateParams {
    let mut p = DeflateParams::default();
    p.client_max_window_bits = bits;
    p.server_max_window_bits = bits;
    p.client_no_context_takeover = !takeover;
    p.server_no_context_takeover = !takeover;
    p
}

fn pair(bits: u8, takeover: bool) -> (PerMessageDeflate, PerMessageDeflate) {
    let config = DeflateConfig::new(Compression::Dedicated).min_message_size(0);
    (
        PerMessageDeflate::new(Role::Client, params(bits, takeover), &config),
        PerMessageDeflate::new(Role::Server, params(bits, takeover), &config),
    )
}

/// Text whose repeats are far apart (hundreds of bytes) and near (a few bytes) alike.
fn messages() -> Vec<Vec<u8>> {
    (0..40)
        .map(|i| {
            let mut m = Vec::new();
            for j in 0..(50 + 37 * i) {
                m.extend_from_slice(
                    format!(
                        "{{\"seq\":{j},\"user\":\"u{}\",\"v\":[1,2,3]}}",
                        (i * j) % 17
                    )
                    .as_bytes(),
                );
            }
            m
        })
        .collect()
}

#[test]
fn a_context_takeover_stream_inflates_with_every_negotiated_window() {
    for bits in 9..=15 {
        let (mut client, mut server) = pair(bits, true);
        assert_eq!(server.decompression_window_bits(), bits);
        assert_eq!(client.decompression_window_bits(), bits);
        let mut compressed = 0;
        for (i, m) in messages().into_iter().enumerate() {
            let (rsv, wire) = client.encode(&Bytes::from(m.clone()), true).unwrap();
            compressed += usize::from(rsv != 0);
            let mut out = BytesMut::new();
            if rsv == 0 {
                continue;
            }
            // In fragments of 100 bytes, to cross the ring's end at every offset.
            let pieces: Vec<&[u8]> = wire.chunks(100).collect();
            for (k, p) in pieces.iter().enumerate() {
                let fin = k + 1 == pieces.len();
                server
                    .decode(p, fin, &mut out, 1 << 20)
                    .unwrap_or_else(|e| panic!("bits {bits}, message {i}: {e:?}"));
            }
            assert!(out[..] == m[..], "bits {bits}, message {i} differs");
        }
        assert!(compressed > 30, "bits {bits}: {compressed} compressed");
    }
}

/// Heap bytes a server connection keeps after inflating one message with context takeover.
fn retained(bits: u8) -> isize {
    let (mut client, mut server) = pair(bits, true);
    let (rsv, wire) = client
        .encode(&Bytes::from(messages().remove(10)), true)
        .unwrap();
    assert_ne!(rsv, 0);
    let base = counting::live();
    let mut out = BytesMut::new();
    server.decode(&wire, true, &mut out, 1 << 20).unwrap();
    drop(out);
    counting::live() - base
}

#[test]
fn the_decompressor_keeps_what_the_window_needs() {
    let at: Vec<isize> = (9..=15).map(retained).collect();
    println!("decompressor retained per window bits 9..=15: {at:?} bytes");
    for (i, bits) in (9..=15u8).enumerate() {
        // The tables are the same at every size; the window is 2^bits.
        assert_eq!(at[i] - at[0], (1 << bits) - 512, "bits {bits}: {at:?}");
    }
    assert!(at[0] < 12 << 10, "9 bits: {} bytes", at[0]);
    assert!(at[6] < 44 << 10, "15 bits: {} bytes", at[6]);
}

/// Raw DEFLATE, bit by bit.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// A stored block of 1,000 bytes, then a fixed-Huffman block copying 3 bytes from distance
/// 1,000, then a sync flush's stored header: valid with a window of 1 KiB or more only.
fn reaching_back_1000() -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut out = vec![0u8];
    out.extend_from_slice(&1000u16.to_le_bytes());
    out.extend_from_slice(&(!1000u16).to_le_bytes());
    out.extend_from_slice(&data);
    let mut bits = Bits { out, acc: 0, n: 0 };
    bits.put(0, 1); // BFINAL = 0
    bits.put(1, 2); // fixed Huffman
    bits.code(1, 7); // symbol 257: length 3
    bits.code(19, 5); // distance code 19: 769 + 8 extra bits
    bits.put(1000 - 769, 8);
    bits.code(0, 7); // end of block
    bits.put(0, 3); // stored block header
    if bits.n > 0 {
        bits.put(0, 8 - bits.n);
    }
    let mut expected = data.clone();
    expected.extend_from_slice(&data[..3]);
    (bits.out, expected)
}

#[test]
fn a_reference_beyond_the_negotiated_window_is_invalid() {
    let (z, expected) = reaching_back_1000();
    for takeover in [true, false] {
        for bits in 9..=15 {
            let (_, mut server) = pair(bits, takeover);
            let mut out = BytesMut::new();
            let r = server.decode(&z, true, &mut out, 1 << 20);
            if bits >= 10 {
                assert_eq!(r, Ok(()), "bits {bits}");
                assert_eq!(&out[..], &expected[..], "bits {bits}");
            } else {
                assert!(
                    matches!(r, Err(ExtensionError::InvalidData(_))),
                    "bits {bits}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn connections_with_different_windows_share_the_spare_decompressor_safely() {
    // Without context takeover the decompressor is borrowed per message from a per-thread
    // spare; connections with different windows take turns with it.
    let msgs = messages();
    let mut ends: Vec<_> = [9u8, 15, 11, 9, 13]
        .iter()
        .map(|&bits| (bits, pair(bits, false)))
        .collect();
    for (i, m) in msgs.iter().enumerate() {
        let (bits, (client, server)) = &mut ends[i % 5];
        let (rsv, wire) = client.encode(&Bytes::from(m.clone()), true).unwrap();
        assert_ne!(rsv, 0);
        let mut out = BytesMut::new();
        server.decode(&wire, true, &mut out, 1 << 20).unwrap();
        assert!(out[..] == m[..], "bits {bits}, message {i}");
    }
    // The 1,000-byte reach is refused by the 9-bit connection even right after a 15-bit one
    // used the spare.
    let (z, _) = reaching_back_1000();
    let mut out = BytesMut::new();
    assert!(ends[1].1.1.decode(&z, true, &mut out, 1 << 20).is_ok());
    let mut out = BytesMut::new();
    assert!(matches!(
        ends[0].1.1.decode(&z, true, &mut out, 1 << 20),
        Err(ExtensionError::InvalidData(_))
    ));
}
