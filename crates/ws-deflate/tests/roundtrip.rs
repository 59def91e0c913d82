//! Round trips through two sans-IO connections for every mode and window size, with context
//! takeover over long message sequences, fragmentation, and the "did not shrink, sent raw"
//! case.

mod common;

use common::{Pair, json_like, noise, rsv1};
use proptest::prelude::*;
use ws_deflate::DeflateConfig;
use ws_proto::{Bytes, Compression, Config, Message, Role};

const MODES: [Compression; 5] = [
    Compression::Dedicated,
    Compression::Shared,
    Compression::Shared4KB,
    Compression::Shared8KB,
    Compression::Shared16KB,
];

fn big_config() -> Config {
    Config::builder()
        .max_message_size(16 << 20)
        .max_frame_size(16 << 20)
        .build()
}

fn binary(data: Vec<u8>) -> Message {
    Message::Binary(Bytes::from(data))
}

fn text(data: Vec<u8>) -> Message {
    Message::from(String::from_utf8(data).unwrap())
}

/// Sends `messages` alternately from both sides and checks each arrives intact; returns how
/// many went out compressed.
fn exchange(pair: &mut Pair, messages: &[Message]) -> usize {
    let mut compressed = 0;
    for (i, m) in messages.iter().enumerate() {
        let from = if i.is_multiple_of(2) {
            Role::Client
        } else {
            Role::Server
        };
        let (got, wire) = pair.send(from, m.clone());
        assert_eq!(got.len(), 1, "message {i} ({from:?})");
        assert!(
            got[0] == *m,
            "message {i} ({from:?}) differs; answer {}",
            pair.answer
        );
        compressed += usize::from(rsv1(&wire));
    }
    compressed
}

fn mixed_messages(n: usize, seed: u64) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let i = i as u64 + seed;
            let size =
                [40usize, 300, 1500, 5000, 20_000, 70_000][(i % 6) as usize] + (i as usize % 97);
            match i % 5 {
                0..=2 => text(json_like(size, i)),
                3 => binary(noise(size.min(6000), i)),
                _ => {
                    // Half noise, half a repeat: compressible only within the message.
                    let mut v = noise(size / 2, i);
                    v.extend_from_within(..);
                    binary(v)
                }
            }
        })
        .collect()
}

#[test]
fn every_mode_pair_round_trips() {
    for client in MODES {
        for server in MODES {
            let mut pair = Pair::new(
                DeflateConfig::new(client),
                DeflateConfig::new(server),
                big_config(),
            );
            let messages = mixed_messages(60, 7);
            let compressed = exchange(&mut pair, &messages);
            assert!(
                compressed > 30,
                "{client:?}/{server:?}: only {compressed} compressed"
            );
        }
    }
}

#[test]
fn every_negotiated_window_round_trips_with_context_takeover() {
    for bits in 9..=15u8 {
        // Each side asks the other for `bits`: the client through server_max_window_bits, the
        // server through client_max_window_bits. Context takeover both ways.
        let client = DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(bits));
        let server = DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(bits));
        let mut pair = Pair::new(client, server, big_config());
        assert_eq!(
            pair.answer,
            format!(
                "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}"
            )
        );
        let messages = mixed_messages(300, u64::from(bits));
        exchange(&mut pair, &messages);
    }
}

#[test]
fn no_context_takeover_both_ways_round_trips() {
    let client = DeflateConfig::new(Compression::Dedicated).peer_no_context_takeover(true);
    let server = DeflateConfig::new(Compression::Dedicated).peer_no_context_takeover(true);
    let mut pair = Pair::new(client, server, big_config());
    assert_eq!(
        pair.answer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    exchange(&mut pair, &mixed_messages(100, 3));
}

#[test]
fn a_message_that_does_not_shrink_is_sent_raw_and_kept_out_of_the_history() {
    for mode in [
        Compression::Dedicated,
        Compression::Shared,
        Compression::Shared4KB,
    ] {
        let mut pair = Pair::new(
            DeflateConfig::new(Compression::Dedicated),
            DeflateConfig::new(mode),
            big_config(),
        );
        for round in 0..3u64 {
            // A compressible message: compressed.
            let a = text(json_like(3000, round));
            let (got, wire) = pair.send(Role::Server, a.clone());
            assert!(got[0] == a && rsv1(&wire));

            // Noise does not shrink: sent raw, RSV1 clear.
            let b = noise(3000, 99 + round);
            let (got, wire) = pair.send(Role::Server, binary(b.clone()));
            assert!(got[0] == binary(b.clone()));
            assert!(
                !rsv1(&wire),
                "{mode:?}: incompressible message sent compressed"
            );

            // The same noise twice over: had the compressor kept `b` in its dictionary, it
            // would refer to it and the client's inflater (which never saw it) would produce
            // garbage or fail.
            let mut c = b[..1500].to_vec();
            c.extend_from_within(..);
            let (got, wire) = pair.send(Role::Server, binary(c.clone()));
            assert!(got[0] == binary(c.clone()), "{mode:?}: history out of sync");
            assert!(rsv1(&wire), "the repeated half compresses");
            assert!(
                wire.len() < 2500,
                "it compressed only within itself: {}",
                wire.len()
            );
        }
        // Same from the client side (masked frames).
        let b = noise(2000, 5);
        let (got, wire) = pair.send(Role::Client, binary(b.clone()));
        assert!(got[0] == binary(b.clone()) && !rsv1(&wire));
        let mut c = b[..1000].to_vec();
        c.extend_from_within(..);
        let (got, _) = pair.send(Role::Client, binary(c.clone()));
        assert!(got[0] == binary(c));
    }
}

#[test]
fn short_messages_are_sent_raw() {
    let mut pair = Pair::new(
        DeflateConfig::new(Compression::Dedicated),
        DeflateConfig::new(Compression::Dedicated).min_message_size(100),
        big_config(),
    );
    let (got, wire) = pair.send(Role::Server, Message::from("a".repeat(99)));
    assert!(got[0] == Message::from("a".repeat(99)) && !rsv1(&wire));
    let (got, wire) = pair.send(Role::Server, Message::from("a".repeat(100)));
    assert!(got[0] == Message::from("a".repeat(100)) && rsv1(&wire));
    let (got, wire) = pair.send(Role::Server, Message::from(""));
    assert!(got[0] == Message::from("") && !rsv1(&wire));
}

/// Splits a server's (unmasked) output into (first header byte, payload length) per frame.
fn frames(wire: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < wire.len() {
        let b0 = wire[i];
        let (len, head) = match wire[i + 1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([wire[i + 2], wire[i + 3]])),
                4,
            ),
            127 => (
                u64::from_be_bytes(wire[i + 2..i + 10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        out.push((b0, len));
        i += head + len;
    }
    out
}

#[test]
fn fragmented_compressed_messages_carry_rsv1_on_the_first_frame_only() {
    let config = Config::builder().fragment_size(100).build();
    for mode in MODES {
        let mut pair = Pair::new(
            DeflateConfig::new(mode),
            DeflateConfig::new(mode),
            config.clone(),
        );
        for i in 0..20 {
            let m = text(json_like(4000 + i * 500, i as u64));
            let (got, wire) = pair.send(Role::Server, m.clone());
            assert!(got[0] == m);
            let f = frames(&wire);
            assert!(f.len() > 2, "fragmented");
            assert_eq!(f[0].0, 0x01 | 0x40, "text, RSV1, not FIN");
            for &(b0, _) in &f[1..f.len() - 1] {
                assert_eq!(b0, 0x00, "continuation without RSV1");
            }
            assert_eq!(f[f.len() - 1].0, 0x80, "final continuation without RSV1");
            // And the client side, fragmented too.
            let (got, _) = pair.send(Role::Client, m.clone());
            assert!(got[0] == m);
        }
    }
}

#[test]
fn pings_between_fragments_pass_untouched() {
    // Control frames never go through the extension: a ping interleaved in a compressed,
    // fragmented message arrives as it was and the message still decodes.
    let config = Config::builder().fragment_size(64).build();
    let mut pair = Pair::new(
        DeflateConfig::new(Compression::Dedicated),
        DeflateConfig::new(Compression::Dedicated),
        config,
    );
    let m = text(json_like(2000, 1));
    pair.server
        .send(m.clone(), std::time::Instant::now())
        .unwrap();
    let mut wire = Vec::new();
    while let Some(c) = pair.server.pop_transmit() {
        wire.extend_from_slice(&c);
    }
    let f = frames(&wire);
    let first = 2 + f[0].1;
    let mut spliced = wire[..first].to_vec();
    spliced.extend_from_slice(&[0x89, 0x02, b'h', b'i']);
    spliced.extend_from_slice(&wire[first..]);
    pair.client.feed(&spliced, std::time::Instant::now());
    assert_eq!(
        pair.client.poll_message().unwrap(),
        Some(Message::Ping(Bytes::from_static(b"hi")))
    );
    assert!(pair.client.poll_message().unwrap() == Some(m));
}

#[test]
fn many_messages_with_context_takeover_stay_in_sync() {
    let mut pair = Pair::new(
        DeflateConfig::new(Compression::Dedicated),
        DeflateConfig::new(Compression::Dedicated),
        big_config(),
    );
    let mut total_wire = 0;
    let mut total_plain = 0;
    for i in 0..3000u64 {
        let m = text(json_like(200 + (i as usize * 37) % 3000, i % 50));
        total_plain += m.len();
        let from = if i.is_multiple_of(3) {
            Role::Client
        } else {
            Role::Server
        };
        let (got, wire) = pair.send(from, m.clone());
        assert!(got[0] == m, "message {i}");
        total_wire += wire.len();
    }
    assert!(
        total_wire * 3 < total_plain,
        "{total_wire} vs {total_plain}"
    );
}

#[derive(Debug, Clone)]
enum Kind {
    Json(usize),
    Noise(usize),
    Repeat(usize),
    Empty,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (1usize..40_000).prop_map(Kind::Json),
        1 => (1usize..5000).prop_map(Kind::Noise),
        1 => (2usize..20_000).prop_map(Kind::Repeat),
        1 => Just(Kind::Empty),
    ]
}

fn mode() -> impl Strategy<Value = Compression> {
    prop::sample::select(MODES.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_round_trip(
        client_mode in mode(),
        server_mode in mode(),
        client_bits in prop::option::of(9u8..=15),
        server_bits in prop::option::of(9u8..=15),
        client_nct in any::<bool>(),
        server_nct in any::<bool>(),
        fragment in prop::sample::select(vec![100usize, 4096, 1 << 20]),
        msgs in prop::collection::vec((kind(), any::<bool>(), any::<u64>()), 1..60),
    ) {
        let client = DeflateConfig::new(client_mode)
            .peer_max_window_bits(client_bits)
            .peer_no_context_takeover(client_nct)
            .min_message_size(0);
        let server = DeflateConfig::new(server_mode)
            .peer_max_window_bits(server_bits)
            .peer_no_context_takeover(server_nct);
        let config = Config::builder().fragment_size(fragment).build();
        let mut pair = Pair::new(client, server, config);
        for (k, from_client, seed) in msgs {
            let m = match k {
                Kind::Json(n) => text(json_like(n, seed)),
                Kind::Noise(n) => binary(noise(n, seed)),
                Kind::Repeat(n) => {
                    let mut v = noise(n / 2, seed);
                    v.extend_from_within(..);
                    binary(v)
                }
                Kind::Empty => binary(Vec::new()),
            };
            let from = if from_client { Role::Client } else { Role::Server };
            let (got, _) = pair.send(from, m.clone());
            prop_assert_eq!(got.len(), 1);
            prop_assert!(got[0] == m, "answer {}", pair.answer);
        }
    }
}
