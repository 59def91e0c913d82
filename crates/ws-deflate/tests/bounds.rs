//! Bounded inflation and corrupt data: a small frame that inflates to 1 GB fails with TooBig
//! (close 1009) once the limit is reached, without allocating beyond it; corrupt deflate data
//! fails with InvalidData (close 1007).

mod common;
use ws_simd::alloc_stats as counting;

use std::time::Instant;

use ws_deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::extension::{Extension, ExtensionError};
use ws_proto::{Bytes, BytesMut, CloseCode, Compression, Config, Connection, Error, Role};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

fn server_ext(takeover: bool) -> PerMessageDeflate {
    let mut p = DeflateParams::default();
    p.client_no_context_takeover = !takeover;
    PerMessageDeflate::new(Role::Server, p, &DeflateConfig::new(Compression::Dedicated))
}

/// A permessage-deflate payload (tail stripped) that inflates to `mib` MiB of zeros: one
/// independently compressed MiB repeated.
fn bomb(mib: usize) -> Vec<u8> {
    let mut enc = PerMessageDeflate::new(
        Role::Client,
        DeflateParams::default(),
        &DeflateConfig::new(Compression::Shared).level(9),
    );
    let (rsv, one) = enc.encode(&Bytes::from(vec![0u8; 1 << 20]), false).unwrap();
    assert_ne!(rsv, 0);
    let mut out = Vec::with_capacity((one.len() + 4) * mib);
    for i in 0..mib {
        out.extend_from_slice(&one);
        if i + 1 < mib {
            out.extend_from_slice(&TAIL);
        }
    }
    out
}

#[test]
fn a_bomb_fails_at_the_limit_without_allocating_beyond_it() {
    let bomb = bomb(1024); // 1 GiB of output
    assert!(bomb.len() <= 1100 << 10, "{} bytes", bomb.len());
    for takeover in [true, false] {
        for limit in [1usize << 20, 16 << 20, 64 << 20] {
            let mut ext = server_ext(takeover);
            let mut out = BytesMut::new();
            let before = counting::reset_peak();
            let start = Instant::now();
            let r = ext.decode(&bomb, true, &mut out, limit);
            let elapsed = start.elapsed();
            let peak = counting::peak() - before;
            assert_eq!(r, Err(ExtensionError::TooBig));
            assert!(out.len() <= limit);
            // The output buffer never exceeds the limit; the rest is the inflater (~43 KiB).
            assert!(
                peak <= limit as isize + (64 << 10),
                "limit {limit}: peak {peak} bytes"
            );
            println!(
                "bomb of {} KiB, limit {} MiB, takeover {takeover}: TooBig after {:?}, peak heap {} KiB",
                bomb.len() >> 10,
                limit >> 20,
                elapsed,
                peak >> 10
            );
        }
    }
}

#[test]
fn a_bomb_in_fragments_fails_at_the_limit_too() {
    let bomb = bomb(64);
    let limit = 4 << 20;
    let mut ext = server_ext(true);
    let mut out = BytesMut::new();
    let before = counting::reset_peak();
    let mut result = Ok(());
    for (i, piece) in bomb.chunks(16 << 10).enumerate() {
        let last = (i + 1) * (16 << 10) >= bomb.len();
        result = ext.decode(piece, last, &mut out, limit);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ExtensionError::TooBig));
    assert!(counting::peak() - before <= limit as isize + (64 << 10));
}

#[test]
fn the_limit_is_exact() {
    // A message of exactly `limit` bytes passes; one more byte fails.
    let mut enc = PerMessageDeflate::new(
        Role::Client,
        DeflateParams::default(),
        &DeflateConfig::new(Compression::Shared).min_message_size(0),
    );
    for len in [100usize, 1000, 4096, 100_000] {
        let (rsv, z) = enc.encode(&Bytes::from(vec![b'x'; len]), false).unwrap();
        assert_ne!(rsv, 0);
        for (limit, ok) in [(len, true), (len - 1, false)] {
            let mut ext = server_ext(false);
            let mut out = BytesMut::new();
            let r = ext.decode(&z, true, &mut out, limit);
            assert_eq!(r.is_ok(), ok, "len {len} limit {limit}: {r:?}");
            if ok {
                assert_eq!(out.len(), len);
            } else {
                assert_eq!(r, Err(ExtensionError::TooBig));
            }
        }
    }
}

fn connection_pair(limit: usize) -> (Connection, PerMessageDeflate) {
    let config = Config::builder()
        .max_message_size(limit)
        .max_frame_size(8 << 20)
        .build();
    let mut server = Connection::new(Role::Server, config, Instant::now());
    server.set_extension(Box::new(server_ext(true)));
    (server, server_ext(true))
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let len = payload.len();
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [1, 2, 3, 4];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// The close code the server queued.
fn close_code(server: &mut Connection) -> u16 {
    let mut out = Vec::new();
    while let Some(c) = server.pop_transmit() {
        out.extend_from_slice(&c);
    }
    assert_eq!(out[0], 0x88, "a close frame");
    u16::from_be_bytes([out[2], out[3]])
}

#[test]
fn a_bomb_frame_closes_the_connection_with_1009() {
    let (mut server, _) = connection_pair(16 << 20);
    server.feed(&frame(0x80 | 0x40 | 0x2, &bomb(1024)), Instant::now());
    let e = server.poll_message().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Extension(ExtensionError::TooBig) | Error::MessageTooBig { .. }
        ),
        "{e:?}"
    );
    assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    assert_eq!(close_code(&mut server), 1009);
}

#[test]
fn corrupt_data_is_invalid() {
    for garbage in [
        &[0xffu8; 16][..],               // block type 3 (reserved)
        &[0x07],                         // BFINAL + reserved block type
        &[0x00, 0x05, 0x00, 0x00, 0x00], // stored block whose NLEN is not ~LEN
        &[
            0x04, 0xc0, 0x81, 0x08, 0x00, 0x00, 0x00, 0x00, 0x20, 0x7f, 0xeb, 0x0b, 0x00, 0x00,
        ],
    ] {
        let mut ext = server_ext(true);
        let mut out = BytesMut::new();
        match ext.decode(garbage, true, &mut out, 1 << 20) {
            Err(ExtensionError::InvalidData(_)) => {}
            other => panic!("{garbage:02x?}: {other:?}"),
        }
    }
    // Over a connection: close 1007.
    let (mut server, _) = connection_pair(1 << 20);
    server.feed(&frame(0x80 | 0x40 | 0x1, &[0xff; 32]), Instant::now());
    let e = server.poll_message().unwrap_err();
    assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD), "{e:?}");
    assert_eq!(close_code(&mut server), 1007);
}

#[test]
fn random_garbage_never_panics_or_exceeds_the_limit() {
    for n in 0..2000usize {
        let len = n % 300 + 1;
        let data = common::noise(len, n as u64 + 1);
        let mut ext = server_ext(n.is_multiple_of(2));
        let mut out = BytesMut::new();
        let _ = ext.decode(&data, !n.is_multiple_of(3), &mut out, 10_000);
        assert!(out.len() <= 10_000);
    }
}

#[test]
fn data_after_a_final_block_is_invalid_and_a_final_block_resets_the_stream() {
    // zlib-style "finish" output (BFINAL set) is a valid message; anything after it is not.
    let finished = [0x4b, 0x4c, 0x4a, 0x06, 0x00]; // "abc" with BFINAL (raw deflate)
    let mut ext = server_ext(true);
    let mut out = BytesMut::new();
    ext.decode(&finished, true, &mut out, 100).unwrap();
    assert_eq!(&out[..], b"abc");
    // The next message is a new stream.
    let mut out = BytesMut::new();
    ext.decode(&finished, true, &mut out, 100).unwrap();
    assert_eq!(&out[..], b"abc");
    let mut with_junk = finished.to_vec();
    with_junk.extend_from_slice(&[0x4b, 0x04, 0x00]);
    let mut out = BytesMut::new();
    assert!(matches!(
        ext.decode(&with_junk, true, &mut out, 100),
        Err(ExtensionError::InvalidData(_))
    ));
}
