//! The pure parts of the load generator: the opening handshake, pre-built client frames, a
//! counter of echoed messages that parses only server frame headers, a latency histogram and
//! `/proc` readers. No I/O here besides `/proc`; `src/bin/loadgen.rs` moves the bytes.

use std::fmt::Write as _;

/// The fixed `Sec-WebSocket-Key` of every connection (RFC 6455's example key).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` that [`KEY`] must be answered with.
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of every frame sent. The server does not care that it repeats, and masking
/// once lets every message reuse the same bytes.
pub const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// The upgrade request, offering permessage-deflate when `deflate`.
pub fn request(host: &str, port: u16, deflate: bool) -> Vec<u8> {
    let mut r = format!(
        "GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if deflate {
        // We compress every message on its own, so we never use context takeover; the hint
        // lets the server drop our window.
        r.push_str("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A complete, valid upgrade response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// Length of the HTTP head, blank line included; bytes after it are WebSocket frames.
    pub head_len: usize,
    /// Whether the server accepted permessage-deflate.
    pub deflate: bool,
}

/// Parses the server's answer to [`request`]: `Ok(None)` while the head is incomplete, an error
/// unless it is a 101 with the right `Sec-WebSocket-Accept`.
pub fn parse_response(buf: &[u8]) -> Result<Option<Response>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > 16 << 10 {
            return Err("upgrade response head over 16 KiB".to_owned());
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("101") {
        return Err(format!("server answered '{status}', not 101"));
    }
    let mut accept_ok = false;
    let mut deflate = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept_ok = value == ACCEPT;
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            deflate |= value
                .split(',')
                .any(|ext| ext.split(';').next().unwrap_or("").trim() == "permessage-deflate");
        }
    }
    if !accept_ok {
        return Err("missing or wrong Sec-WebSocket-Accept".to_owned());
    }
    Ok(Some(Response {
        head_len: end + 4,
        deflate,
    }))
}

/// A payload of exactly `size` bytes: JSON-like ASCII text when `text`, else pseudo-random
/// binary (a fixed xorshift sequence, so every run sends the same bytes).
pub fn payload(size: usize, text: bool) -> Vec<u8> {
    if !text {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        return (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
    }
    // A market-data update: an object holding an array of trades, padded with spaces before
    // the closing brackets to the exact size (whitespace keeps it valid JSON).
    let head = r#"{"event":"trades","channel":"market.btc-usd","data":["#;
    let tail = "]}";
    let mut s = String::from(head);
    let mut i = 0u32;
    loop {
        let mut entry = String::new();
        if i > 0 {
            entry.push(',');
        }
        let _ = write!(
            entry,
            r#"{{"id":{},"price":"{}.{:02}","qty":"0.{:04}","side":"{}","ts":{}}}"#,
            1_000_000 + i * 7,
            64_000 + (i * 37) % 500,
            (i * 13) % 100,
            (i * 7919) % 10_000,
            if i.is_multiple_of(3) { "sell" } else { "buy" },
            1_700_000_000_000u64 + u64::from(i) * 17
        );
        if s.len() + entry.len() + tail.len() > size {
            break;
        }
        s.push_str(&entry);
        i += 1;
    }
    if s.len() + tail.len() > size {
        // Too small for the JSON frame: plain ASCII text.
        return (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    }
    while s.len() + tail.len() < size {
        s.push(' ');
    }
    s.push_str(tail);
    s.into_bytes()
}

/// `payload` compressed for permessage-deflate (RFC 7692 7.2.1): raw DEFLATE ending in a sync
/// flush, whose trailing `00 00 ff ff` is removed. Compressed on its own, without context, so
/// the same bytes can be sent as every message.
pub fn deflate(payload: &[u8]) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
    };
    let mut compressor = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut out = vec![0; payload.len() + payload.len() / 2 + 64];
    let (status, consumed, written) =
        compress(&mut compressor, payload, &mut out, TDEFLFlush::Sync);
    assert!(
        status == TDEFLStatus::Okay && consumed == payload.len(),
        "deflate failed: {status:?}"
    );
    out.truncate(written);
    assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]), "no sync flush marker");
    out.truncate(written - 4);
    out
}

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;

/// One masked client frame (FIN set) carrying `payload`; `rsv1` marks a compressed message.
pub fn client_frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | if rsv1 { 0x40 } else { 0 } | opcode);
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&len.to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frame
}

/// Counts the messages in the server's byte stream by reading only frame headers (2 to 14
/// bytes) and skipping payloads. A message ends with a FIN data or continuation frame;
/// pings and pongs are skipped; a close frame is an error (the server gave up on us).
#[derive(Clone, Debug, Default)]
pub struct EchoCounter {
    /// Header bytes collected while a header straddles reads.
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes still to skip in the current frame.
    remaining: u64,
    /// Whether the current frame, once skipped, completes a message.
    completes: bool,
}

impl EchoCounter {
    /// A counter at a frame boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes read; returns how many messages they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(data.len() as u64);
                data = &data[take as usize..];
                self.remaining -= take;
                if self.remaining == 0 && self.completes {
                    done += 1;
                }
                continue;
            }
            // A header: parse it in place when it is whole in `data`, else collect it.
            let (len, used) = if self.header_len == 0 {
                match header(data)? {
                    Some((header_len, payload_len, completes)) => {
                        self.completes = completes;
                        (payload_len, header_len)
                    }
                    None => {
                        self.header[..data.len()].copy_from_slice(data);
                        self.header_len = data.len();
                        return Ok(done);
                    }
                }
            } else {
                let take = (self.header.len() - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                let have = self.header_len + take;
                match header(&self.header[..have])? {
                    Some((header_len, payload_len, completes)) => {
                        self.completes = completes;
                        let used = header_len - self.header_len;
                        self.header_len = 0;
                        (payload_len, used)
                    }
                    None => {
                        self.header_len = have;
                        return Ok(done);
                    }
                }
            };
            data = &data[used..];
            self.remaining = len;
            if len == 0 && self.completes {
                done += 1;
            }
        }
        Ok(done)
    }
}

/// Parses a frame header at the start of `b`: `(header length, payload length, completes a
/// message)`, or `None` when `b` holds only part of it.
fn header(b: &[u8]) -> Result<Option<(usize, u64, bool)>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    let fin = b[0] & 0x80 != 0;
    let opcode = b[0] & 0x0F;
    let masked = b[1] & 0x80 != 0;
    let (ext, len7) = match b[1] & 0x7F {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    if b.len() < header_len {
        return Ok(None);
    }
    let len = match len7 {
        Some(n) => n,
        None if ext == 2 => u64::from(u16::from_be_bytes([b[2], b[3]])),
        None => u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
    };
    match opcode {
        0x0..=0x2 => Ok(Some((header_len, len, fin))),
        0x8 => Err("the server sent a close frame".to_owned()),
        0x9 | 0xA => Ok(Some((header_len, len, false))),
        other => Err(format!("the server sent a frame with opcode {other:#x}")),
    }
}

/// A log-linear latency histogram in nanoseconds: exact below 128 ns, then 64 buckets per
/// power of two (under 1.6% error), like HdrHistogram with two significant digits.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 128 + 57 * 64],
            total: 0,
        }
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    fn index(ns: u64) -> usize {
        if ns < 128 {
            return ns as usize;
        }
        let e = 63 - ns.leading_zeros() as usize; // 7..=63
        let m = (ns >> (e - 6)) as usize; // 64..128
        128 + (e - 7) * 64 + (m - 64)
    }

    /// The highest value that lands in bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < 128 {
            return i as u64;
        }
        let e = (i - 128) / 64 + 7;
        let m = ((i - 128) % 64 + 64) as u64;
        // The last bucket's edge is 2^64: wrapping gives u64::MAX.
        ((m + 1) << (e - 6)).wrapping_sub(1)
    }

    /// Records one value.
    pub fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// How many values were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at quantile `q` (0..=1): the upper edge of the bucket holding it; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper(i);
            }
        }
        Self::upper(self.counts.len() - 1)
    }
}

/// CPU time of a process in clock ticks (`sysconf(_SC_CLK_TCK)`), split into time in user
/// space and time in the kernel on its behalf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// `utime`: running the process's own code.
    pub user: u64,
    /// `stime`: in the kernel for it (system calls, the TCP stack, page faults).
    pub system: u64,
}

impl CpuTicks {
    /// User plus system.
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// The ticks spent since `earlier`, a reading of the same process (the kernel's counters
    /// only grow; saturating in case they ever step back).
    pub fn since(self, earlier: CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// User and system CPU time of process `pid` (fields 14 and 15 of `/proc/PID/stat`, counting
/// every thread).
pub fn cpu_ticks(pid: u32) -> Result<CpuTicks, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| format!("{path}: cannot parse '{stat}'"))
}

fn parse_cpu_ticks(stat: &str) -> Option<CpuTicks> {
    // The command name (field 2) may hold spaces and parentheses: fields restart after the
    // last ')', with field 3 (state) first, so utime and stime are the 12th and 13th there.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user = fields.next()?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some(CpuTicks { user, system })
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(opcode: u8, fin: bool, len: usize) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
        if len < 126 {
            f.push(len as u8);
        } else if len <= 0xFFFF {
            f.push(126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        f.extend(std::iter::repeat_n(0xAB, len));
        f
    }

    #[test]
    fn counts_messages_fed_in_any_split() {
        let mut stream = Vec::new();
        for len in [0, 1, 20, 125, 126, 512, 1024, 65_535, 65_536, 70_000] {
            stream.extend(server_frame(BINARY, true, len));
        }
        stream.extend(server_frame(0x9, true, 4)); // a ping: not a message
        stream.extend(server_frame(TEXT, false, 300)); // a fragmented message
        stream.extend(server_frame(0x0, false, 3));
        stream.extend(server_frame(0x0, true, 200));
        for chunk in [1, 2, 3, 7, 13, 100, 4096, stream.len()] {
            let mut counter = EchoCounter::new();
            let mut total = 0;
            for piece in stream.chunks(chunk) {
                total += counter.feed(piece).unwrap();
            }
            assert_eq!(total, 11, "chunk {chunk}");
            assert_eq!(counter.header_len, 0);
            assert_eq!(counter.remaining, 0);
        }
    }

    #[test]
    fn close_frame_is_an_error() {
        let mut counter = EchoCounter::new();
        assert!(counter.feed(&server_frame(0x8, true, 2)).is_err());
    }

    #[test]
    fn client_frames_are_masked() {
        let payload = payload(300, false);
        let frame = client_frame(BINARY, false, &payload);
        assert_eq!(&frame[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(&frame[4..8], &MASK);
        let unmasked: Vec<u8> = frame[8..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ MASK[i % 4])
            .collect();
        assert_eq!(unmasked, payload);
        assert_eq!(client_frame(TEXT, true, b"hi")[..2], [0xC1, 0x82]);
        assert_eq!(client_frame(BINARY, false, &[0; 70_000])[1], 0x80 | 127);
    }

    #[test]
    fn text_payloads_are_json_of_the_exact_size() {
        for size in [20, 60, 512, 1024, 4000] {
            let p = payload(size, true);
            assert_eq!(p.len(), size);
            assert!(p.is_ascii());
        }
        let p = String::from_utf8(payload(1024, true)).unwrap();
        assert!(p.starts_with("{\"event\"") && p.ends_with("]}"), "{p}");
    }

    #[test]
    fn deflated_payload_inflates_back() {
        let p = payload(1024, true);
        let mut z = deflate(&p);
        assert!(z.len() < p.len() / 2, "{} bytes", z.len());
        // The receiver's tail (RFC 7692 7.2.2), then an empty final block to end the stream.
        z.extend_from_slice(&[0, 0, 0xFF, 0xFF, 0x03, 0x00]);
        let back = miniz_oxide::inflate::decompress_to_vec(&z).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn handshake_response() {
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             sec-websocket-accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate; \
             server_no_context_takeover\r\n\r\n"
        );
        let mut bytes = ok.clone().into_bytes();
        bytes.extend_from_slice(&[0x82, 0x00]);
        let r = parse_response(&bytes).unwrap().unwrap();
        assert!(r.deflate);
        assert_eq!(r.head_len, ok.len());
        assert_eq!(parse_response(&bytes[..20]).unwrap(), None);
        let plain = format!("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n");
        assert!(!parse_response(plain.as_bytes()).unwrap().unwrap().deflate);
        assert!(parse_response(b"HTTP/1.1 400 Bad\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: x\r\n\r\n").is_err());
        let req = String::from_utf8(request("127.0.0.1", 9, true)).unwrap();
        assert!(req.contains("Host: 127.0.0.1:9\r\n") && req.ends_with("takeover\r\n\r\n"));
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for (q, want) in [
            (0.5, 50_000_000u64),
            (0.99, 99_000_000),
            (0.999, 99_900_000),
        ] {
            let got = h.quantile(q);
            let err = (got as f64 - want as f64).abs() / want as f64;
            assert!(err < 0.02, "q{q}: {got} vs {want}");
        }
        for v in [0, 1, 127, 128, 129, 1 << 20, u64::MAX] {
            let i = Histogram::index(v);
            assert!(Histogram::upper(i) >= v, "{v}");
            assert!(i == 0 || Histogram::upper(i - 1) < v, "{v}");
        }
        let mut g = Histogram::new();
        g.merge(&h);
        assert_eq!(g.len(), 100_000);
    }

    #[test]
    fn proc_stat_fields() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0";
        let ticks = parse_cpu_ticks(stat).unwrap();
        assert_eq!(
            ticks,
            CpuTicks {
                user: 250,
                system: 31
            }
        );
        assert_eq!(ticks.total(), 281);
        assert_eq!(parse_cpu_ticks("42 (x) S 1 2 3"), None);
        assert_eq!(parse_cpu_ticks("42 x S 1 2 3 4 5 6 7 8 9 10 11 12"), None);
        let later = CpuTicks {
            user: 260,
            system: 40,
        };
        assert_eq!(
            later.since(ticks),
            CpuTicks {
                user: 10,
                system: 9
            }
        );
        assert_eq!(later.since(ticks).total(), later.total() - ticks.total());
        assert_eq!(ticks.since(later), CpuTicks::default());
        let me = std::process::id();
        let a = cpu_ticks(me).unwrap();
        let b = cpu_ticks(me).unwrap();
        assert!(b.user >= a.user && b.system >= a.system);
        assert!(rss_kib(me).unwrap() > 0);
    }
}
