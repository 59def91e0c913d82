//! Helpers shared by the ws-deflate integration tests: negotiate both ends through the real
//! handshake hooks and drive two sans-IO connections against each other.
#![allow(dead_code, unreachable_pub)]

use std::time::Instant;

use ws_deflate::{DeflateConfig, DeflateNegotiator};
use ws_proto::extension::{Extension, ExtensionNegotiator};
use ws_proto::handshake::parse_extensions;
use ws_proto::{Config, Connection, Message, Role};

/// Negotiates between a client and a server negotiator; returns the answer header and both
/// extensions.
pub fn negotiate(
    client: &DeflateNegotiator,
    server: &DeflateNegotiator,
) -> (String, Box<dyn Extension>, Box<dyn Extension>) {
    let offer = client.client_offer().expect("the client offers");
    let offers = parse_extensions(&offer).expect("offer parses");
    let (answer, server_ext) = server
        .server_accept(&offers)
        .expect("server_accept")
        .expect("the server accepts");
    let answers = parse_extensions(&answer).expect("answer parses");
    let client_ext = client
        .client_accept(&answers)
        .expect("client_accept")
        .expect("the client accepts");
    (answer, client_ext, server_ext)
}

/// A client and a server connection with permessage-deflate negotiated from the configs.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub answer: String,
    now: Instant,
}

impl Pair {
    pub fn new(client: DeflateConfig, server: DeflateConfig, config: Config) -> Pair {
        let now = Instant::now();
        let (answer, client_ext, server_ext) = negotiate(
            &DeflateNegotiator::with_config(client),
            &DeflateNegotiator::with_config(server),
        );
        let mut c = Connection::new(Role::Client, config.clone(), now);
        let mut s = Connection::new(Role::Server, config, now);
        c.set_extension(client_ext);
        s.set_extension(server_ext);
        Pair {
            client: c,
            server: s,
            answer,
            now,
        }
    }

    /// Sends `m` from one side and returns what the other receives, and the wire bytes.
    pub fn send(&mut self, from: Role, m: Message) -> (Vec<Message>, Vec<u8>) {
        let now = self.now;
        let (tx, rx) = match from {
            Role::Client => (&mut self.client, &mut self.server),
            Role::Server => (&mut self.server, &mut self.client),
        };
        tx.send(m, now).expect("send");
        let mut wire = Vec::new();
        while let Some(chunk) = tx.pop_transmit() {
            wire.extend_from_slice(&chunk);
        }
        rx.feed(&wire, now);
        let mut got = Vec::new();
        while let Some(m) = rx.poll_message().expect("receive") {
            got.push(m);
        }
        (got, wire)
    }
}

/// Deterministic, compressible text: JSON-like records with varying numbers.
pub fn json_like(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut i = 0u64;
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let rec = format!(
            "{{\"id\":{},\"user\":\"user{}\",\"price\":{}.{:02},\"tags\":[\"a{}\",\"b\"],\"ok\":{}}},",
            i,
            (x >> 40) % 1000,
            (x >> 20) % 10000,
            (x >> 8) % 100,
            (x >> 50) % 7,
            x & 1 == 0
        );
        out.extend_from_slice(rec.as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// Deterministic incompressible bytes (splitmix64).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether the first frame of `wire` has RSV1 set.
pub fn rsv1(wire: &[u8]) -> bool {
    wire[0] & 0x40 != 0
}
