//! permessage-deflate's inflater on arbitrary compressed input, fragment by fragment, with and
//! without context takeover: never panics and never produces more than the limit. And what
//! the compressor makes of arbitrary messages inflates back to them.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ws_deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use ws_proto::extension::Extension;
use ws_proto::{Compression, Role};

#[derive(Arbitrary, Debug)]
struct Input {
    takeover: bool,
    client: bool,
    window_bits: u8,
    limit_kib: u8,
    /// Compressed fragments from the peer, with FIN.
    pieces: Vec<(Vec<u8>, bool)>,
    /// Messages to round-trip through our own compressor.
    messages: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mut params = DeflateParams::default();
    params.server_no_context_takeover = !input.takeover;
    params.client_no_context_takeover = !input.takeover;
    let bits = 9 + input.window_bits % 7;
    params.server_max_window_bits = bits;
    params.client_max_window_bits = bits;
    let config = DeflateConfig::new(Compression::Dedicated);
    let role = if input.client {
        Role::Client
    } else {
        Role::Server
    };
    let limit = (usize::from(input.limit_kib) + 1) * 1024;

    let mut inflater = PerMessageDeflate::new(role, params, &config);
    let mut out = BytesMut::new();
    for (piece, fin) in input.pieces.iter().take(64) {
        let result = inflater.decode(piece, *fin, &mut out, limit);
        assert!(out.len() <= limit, "{} > {limit}", out.len());
        if result.is_err() {
            break; // the connection fails here
        }
        if *fin {
            out.clear();
        }
    }

    let peer = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut compressor = PerMessageDeflate::new(peer, params, &config);
    let mut decompressor = PerMessageDeflate::new(role, params, &config);
    for message in input.messages.iter().take(16) {
        let payload = Bytes::copy_from_slice(message);
        let (rsv, wire) = compressor
            .encode(&payload, false)
            .expect("compressing works");
        if rsv == 0 {
            assert_eq!(wire, payload, "a message sent raw is the message");
            continue;
        }
        let mut back = BytesMut::new();
        decompressor
            .decode(&wire, true, &mut back, usize::MAX)
            .expect("our own output inflates");
        assert_eq!(&back[..], &message[..]);
    }
});
