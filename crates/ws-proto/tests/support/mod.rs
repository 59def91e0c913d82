//! Test helpers: a scripted peer (frames written by hand, byte by byte, independent of the
//! encoder under test) and a client/server pair driven in virtual time.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};
use ws_proto::{Config, Connection, Error, Message, Role};

/// A frame written by hand, independent of `ws_proto::frame`.
#[derive(Clone, Debug)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
    /// Announce this length instead of the payload's.
    pub len_override: Option<u64>,
}

impl RawFrame {
    pub fn new(opcode: u8, payload: impl AsRef<[u8]>) -> Self {
        RawFrame {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload: payload.as_ref().to_vec(),
            len_override: None,
        }
    }
    pub fn text(p: impl AsRef<[u8]>) -> Self {
        Self::new(1, p)
    }
    pub fn binary(p: impl AsRef<[u8]>) -> Self {
        Self::new(2, p)
    }
    pub fn cont(p: impl AsRef<[u8]>) -> Self {
        Self::new(0, p)
    }
    pub fn close(code: u16, reason: &[u8]) -> Self {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        Self::new(8, p)
    }
    pub fn ping(p: impl AsRef<[u8]>) -> Self {
        Self::new(9, p)
    }
    pub fn pong(p: impl AsRef<[u8]>) -> Self {
        Self::new(10, p)
    }
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }
    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }
    pub fn masked(mut self, key: [u8; 4]) -> Self {
        self.mask = Some(key);
        self
    }
    pub fn len(mut self, len: u64) -> Self {
        self.len_override = Some(len);
        self
    }
    /// Masked when sent by a client (`to` is the server), plain otherwise.
    pub fn masked_for(mut self, to: Role) -> Self {
        if to == Role::Server && self.mask.is_none() {
            self.mask = Some([0x37, 0xfa, 0x21, 0x3d]);
        }
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![(u8::from(self.fin) << 7) | self.rsv | self.opcode];
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.len_override.unwrap_or(self.payload.len() as u64);
        if len < 126 {
            out.push(m | len as u8);
        } else if len < 65536 {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(&self.payload),
        }
        out
    }
}

/// Parse frames written by a connection (unmasking them), independently of `ws_proto::frame`.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<RawFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let b0 = bytes[0];
        let b1 = bytes[1];
        let mut pos = 2;
        let mut len = u64::from(b1 & 0x7f);
        if len == 126 {
            len = u64::from(u16::from_be_bytes([bytes[2], bytes[3]]));
            pos = 4;
        } else if len == 127 {
            len = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
            pos = 10;
        }
        let mask = if b1 & 0x80 != 0 {
            let k = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
            pos += 4;
            Some(k)
        } else {
            None
        };
        let len = len as usize;
        let mut payload = bytes[pos..pos + len].to_vec();
        if let Some(k) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        frames.push(RawFrame {
            fin: b0 & 0x80 != 0,
            rsv: b0 & 0x70,
            opcode: b0 & 0x0f,
            mask,
            payload,
            len_override: None,
        });
        bytes = &bytes[pos + len..];
    }
    frames
}

/// One connection under test, with the peer scripted by hand.
pub struct Scripted {
    pub conn: Connection,
    pub now: Instant,
}

impl Scripted {
    pub fn new(role: Role) -> Self {
        Self::with_config(role, Config::default())
    }

    pub fn with_config(role: Role, config: Config) -> Self {
        let now = Instant::now();
        Scripted {
            conn: Connection::new(role, config, now),
            now,
        }
    }

    /// Feed raw bytes and collect every event until the connection wants more.
    pub fn recv_bytes(&mut self, bytes: &[u8]) -> Vec<Result<Message, Error>> {
        self.conn.feed(bytes, self.now);
        self.drain()
    }

    /// Feed frames (masked as the role requires) and collect events.
    pub fn recv(&mut self, frames: &[RawFrame]) -> Vec<Result<Message, Error>> {
        let role = self.conn.role();
        let mut bytes = Vec::new();
        for f in frames {
            bytes.extend(f.clone().masked_for(role).bytes());
        }
        self.recv_bytes(&bytes)
    }

    pub fn drain(&mut self) -> Vec<Result<Message, Error>> {
        let mut events = Vec::new();
        for _ in 0..10_000 {
            match self.conn.poll_message() {
                Ok(Some(m)) => events.push(Ok(m)),
                Ok(None) => return events,
                Err(e) => {
                    events.push(Err(e));
                    // The connection is closed now; a further poll must stay quiet.
                    assert!(matches!(self.conn.poll_message(), Ok(None)));
                    return events;
                }
            }
        }
        panic!("poll_message did not settle");
    }

    /// Everything the connection wrote, as frames.
    pub fn sent(&mut self) -> Vec<RawFrame> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.conn.pop_transmit() {
            bytes.extend_from_slice(&chunk);
        }
        let frames = parse_frames(&bytes);
        for f in &frames {
            match self.conn.role() {
                Role::Client => assert!(f.mask.is_some(), "client frames must be masked"),
                Role::Server => assert!(f.mask.is_none(), "server frames must not be masked"),
            }
        }
        frames
    }

    /// Assert that exactly one close frame went out, with this code.
    pub fn expect_close_sent(&mut self, code: u16) {
        let frames = self.sent();
        let closes: Vec<_> = frames.iter().filter(|f| f.opcode == 8).collect();
        assert_eq!(closes.len(), 1, "expected one close frame, got {frames:?}");
        assert_eq!(&closes[0].payload[..2], &code.to_be_bytes(), "{frames:?}");
        assert!(self.conn.is_closed());
    }
}

/// A client and a server wired to each other, in virtual time (quinn-proto's `Pair`).
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub client_events: Vec<Result<Message, Error>>,
    pub server_events: Vec<Result<Message, Error>>,
}

impl Pair {
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Pair {
            client: Connection::new(Role::Client, config.clone(), now),
            server: Connection::new(Role::Server, config, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    /// Move bytes both ways until neither side has anything to send.
    pub fn drive(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(b) = self.client.pop_transmit() {
                self.server.feed(&b, self.now);
                moved = true;
            }
            poll_all(&mut self.server, &mut self.server_events);
            while let Some(b) = self.server.pop_transmit() {
                self.client.feed(&b, self.now);
                moved = true;
            }
            poll_all(&mut self.client, &mut self.client_events);
            if !moved {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Advance virtual time by `by`, firing every deadline that passes, in order.
    pub fn advance(&mut self, by: Duration) -> (Vec<Error>, Vec<Error>) {
        let end = self.now + by;
        let mut errors = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            if self.client.poll_timeout().is_some_and(|d| d <= self.now)
                && let Err(e) = self.client.handle_timeout(self.now)
            {
                errors.0.push(e);
            }
            if self.server.poll_timeout().is_some_and(|d| d <= self.now)
                && let Err(e) = self.server.handle_timeout(self.now)
            {
                errors.1.push(e);
            }
            self.drive();
        }
        self.now = end;
        errors
    }
}

fn poll_all(conn: &mut Connection, events: &mut Vec<Result<Message, Error>>) {
    for _ in 0..10_000 {
        match conn.poll_message() {
            Ok(Some(m)) => events.push(Ok(m)),
            Ok(None) => return,
            Err(e) => events.push(Err(e)),
        }
    }
    panic!("poll_message did not settle");
}
