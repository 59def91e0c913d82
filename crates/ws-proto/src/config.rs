//! Connection configuration: every limit, timer and buffer size in one place.

use std::fmt;
use std::time::Duration;

/// permessage-deflate (RFC 7692) mode.
///
/// The mode chooses how much memory compression may cost per connection; the compressor itself
/// lives in `ws-deflate`. With [`Compression::Disabled`] the extension is never offered or
/// accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (the default).
    #[default]
    Disabled,
    /// One compressor per connection with context takeover: best ratio, most memory.
    Dedicated,
    /// No context takeover: one compressor per thread serves every connection.
    Shared,
    /// Shared, with the sliding window limited to 4 KiB (window bits 12).
    Shared4KB,
    /// Shared, with the sliding window limited to 8 KiB (window bits 13).
    Shared8KB,
    /// Shared, with the sliding window limited to 16 KiB (window bits 14).
    Shared16KB,
}

impl Compression {
    /// True unless [`Compression::Disabled`].
    pub const fn is_enabled(self) -> bool {
        !matches!(self, Compression::Disabled)
    }
}

/// permessage-deflate settings beyond the mode: compression level, the size worth
/// compressing, and what this end asks of the peer. They live in [`Config::deflate`] and take
/// effect when [`Config::compression`] is enabled (the mode stays there: one source of truth),
/// through every entry point that takes a [`Config`] (`accept`, `accept_with`, `connect`,
/// `client_with`, the axum extractor's `config`). [`Config::validate`] checks them, naming the
/// field (`deflate.level`, `deflate.peer_max_window_bits`).
///
/// Setters store the value as given (no clamping), so that a value out of range is reported
/// rather than silently changed.
///
/// ```
/// use ws_proto::{Compression, Config, DeflateSettings};
///
/// let config = Config::builder()
///     .compression(Compression::Dedicated)
///     .deflate(DeflateSettings::default().level(6).peer_max_window_bits(10))
///     .try_build()
///     .unwrap();
/// assert_eq!(config.deflate.peer_max_window_bits, Some(10));
///
/// let err = Config::builder()
///     .deflate(DeflateSettings::default().peer_max_window_bits(8))
///     .try_build()
///     .unwrap_err();
/// assert_eq!(err.field(), "deflate.peer_max_window_bits");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateSettings {
    /// Compression level, 1 (fastest) to 9 (smallest). Default 1: on JSON-like traffic
    /// miniz_oxide's level 1 compresses 3 to 7 times faster than level 6 for output about a
    /// third larger; raise it when bandwidth costs more than CPU.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed. Default 32 bytes.
    pub min_message_size: usize,
    /// Ask the peer to compress without context takeover, so that this end holds no
    /// decompressor between messages (a server answers `client_no_context_takeover`; a client
    /// offers `server_no_context_takeover`, then a fallback offer without it). `None` (the
    /// default): the mode's choice, yes in the `Shared` modes, no in `Dedicated`.
    pub peer_no_context_takeover: Option<bool>,
    /// Ask the peer to compress with a window of at most `2^bits` bytes, 9..=15 (a server
    /// answers `client_max_window_bits` when the client allowed it; a client offers
    /// `server_max_window_bits`, then a fallback offer without it). This end's decompressor
    /// then holds `2^bits` bytes instead of 32 KiB. Default `None`: no limit asked.
    pub peer_max_window_bits: Option<u8>,
}

impl Default for DeflateSettings {
    fn default() -> Self {
        DeflateSettings {
            level: 1,
            min_message_size: 32,
            peer_no_context_takeover: None,
            peer_max_window_bits: None,
        }
    }
}

impl DeflateSettings {
    /// The smallest window bits that can be negotiated (8 never is: zlib silently uses 9).
    pub const MIN_WINDOW_BITS: u8 = 9;
    /// The largest window bits (32 KiB), RFC 7692's default.
    pub const MAX_WINDOW_BITS: u8 = 15;

    /// Sets [`level`](Self::level), 1..=9.
    #[must_use]
    pub fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }

    /// Sets [`min_message_size`](Self::min_message_size).
    #[must_use]
    pub fn min_message_size(mut self, bytes: usize) -> Self {
        self.min_message_size = bytes;
        self
    }

    /// Sets [`peer_no_context_takeover`](Self::peer_no_context_takeover), overriding the mode.
    #[must_use]
    pub fn peer_no_context_takeover(mut self, yes: bool) -> Self {
        self.peer_no_context_takeover = Some(yes);
        self
    }

    /// Sets [`peer_max_window_bits`](Self::peer_max_window_bits), 9..=15.
    #[must_use]
    pub fn peer_max_window_bits(mut self, bits: u8) -> Self {
        self.peer_max_window_bits = Some(bits);
        self
    }

    /// Whether the peer is asked to drop context takeover in `mode`: the explicit setting, or
    /// the mode's default (yes in the `Shared` modes).
    pub fn peer_no_context_takeover_in(&self, mode: Compression) -> bool {
        self.peer_no_context_takeover.unwrap_or(!matches!(
            mode,
            Compression::Dedicated | Compression::Disabled
        ))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=9).contains(&self.level) {
            return Err(ConfigError::new("deflate.level", "not in 1..=9"));
        }
        if let Some(bits) = self.peer_max_window_bits
            && !(Self::MIN_WINDOW_BITS..=Self::MAX_WINDOW_BITS).contains(&bits)
        {
            return Err(ConfigError::new(
                "deflate.peer_max_window_bits",
                "not in 9..=15 (8 is never negotiated: zlib silently uses 9)",
            ));
        }
        Ok(())
    }
}

/// Configuration of one WebSocket connection. Build it with [`Config::builder`].
///
/// ```
/// use std::time::Duration;
/// use ws_proto::{Compression, Config};
///
/// let config = Config::builder()
///     .max_payload_length(1 << 20)
///     .idle_timeout(Duration::from_secs(60))
///     .compression(Compression::Disabled)
///     .build();
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// permessage-deflate mode. Default: [`Compression::Disabled`].
    pub compression: Compression,
    /// permessage-deflate level, minimum size and what to ask of the peer; used when
    /// `compression` is enabled. Default: [`DeflateSettings::default`].
    pub deflate: DeflateSettings,
    /// Largest message accepted (after decompression), in bytes. Default 64 MiB. Breaking it
    /// closes with 1009.
    pub max_message_size: usize,
    /// Largest single frame accepted, in bytes. Default 16 MiB. Breaking it closes with 1009.
    pub max_frame_size: usize,
    /// Outgoing messages larger than this are sent as several frames. Default 16 MiB.
    pub fragment_size: usize,
    /// Close the connection when nothing arrives for this long. Default 120 s; zero disables.
    pub idle_timeout: Duration,
    /// Send a ping when nothing arrived for `ping_interval`. Default true.
    pub auto_ping: bool,
    /// Quiet time after which an automatic ping is sent. Default 30 s.
    pub ping_interval: Duration,
    /// How long to wait for anything (usually the pong) after an automatic ping before closing.
    /// Default 30 s.
    pub pong_timeout: Duration,
    /// How long to wait for the peer's close frame after sending ours. Default 5 s.
    pub close_timeout: Duration,
    /// How long the opening handshake may take (used by the transports). Default 10 s.
    pub handshake_timeout: Duration,
    /// The most unsent output, in bytes, a connection holds (uWebSockets' `maxBackpressure`).
    /// A message that would take the output beyond it fails with
    /// [`Error::Backpressure`](crate::Error::Backpressure) and closes the connection (1008);
    /// a single message larger than the limit is still accepted when nothing else is queued,
    /// so the output never holds more than `max(max_backpressure, one message)`. Default 1 MiB.
    ///
    /// The transports' `send` and `feed` wait for room for the whole message and never get
    /// here; a `Sink` used through `poll_ready` (which does not know the next message's size)
    /// waits at `write_buffer_size`, so it gets here only with a message larger than
    /// `max_backpressure - write_buffer_size`. This limit catches output queued without
    /// waiting: automatic pongs and close replies, `start_send` without `poll_ready`, fan-out.
    /// A peer that stops reading altogether is cut off by `send_timeout`.
    pub max_backpressure: usize,
    /// Output buffered before `poll_ready` makes writers wait (until it is written out), and the
    /// size of the cork buffer that batches small frames into one write. Keep it at or below
    /// `max_backpressure`. Default 16 KiB.
    pub write_buffer_size: usize,
    /// Fail the connection with [`TimeoutKind::Send`](crate::TimeoutKind::Send) when queued
    /// output makes no progress (not a byte written) for this long: a peer that stopped
    /// reading. Checked at least every quarter of it, so it fires within 5/4 of it. Default
    /// 30 s; zero disables.
    pub send_timeout: Duration,
    /// Initial (and resting) size of the read buffer; it grows for large frames and shrinks back.
    /// Default 8 KiB.
    pub read_buffer_size: usize,
    /// Largest HTTP head (request or response) accepted in the opening handshake. Default 8 KiB.
    pub max_handshake_header_bytes: usize,
    /// Most header lines accepted in the opening handshake. Default 64.
    pub max_handshake_headers: usize,
    /// HTTP/2: the flow-control window of each stream (WebSocket), in bytes: how much a peer
    /// may send on one stream before this side has consumed it. Default 256 KiB; at most
    /// 2^31 - 1.
    pub http2_window_size: u32,
    /// HTTP/2: the flow-control window of the whole connection, in bytes, shared by its
    /// streams: what a peer may have in flight to this side at once. Default 1 MiB; at least
    /// 65,535 (the protocol's initial window), at least `http2_window_size`, and at most
    /// 2^31 - 1. Data received on a stream counts against this window until the application
    /// reads it, so each stream whose reader stalls holds up to one stream window of it: keep
    /// it a few stream windows wide.
    pub http2_connection_window_size: u32,
    /// HTTP/2: most concurrent streams (WebSockets) a peer may open on one connection
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`). Default 100.
    pub http2_max_streams: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            compression: Compression::Disabled,
            deflate: DeflateSettings::default(),
            max_message_size: 64 << 20,
            max_frame_size: 16 << 20,
            fragment_size: 16 << 20,
            idle_timeout: Duration::from_secs(120),
            auto_ping: true,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            max_backpressure: 1 << 20,
            write_buffer_size: 16 << 10,
            send_timeout: Duration::from_secs(30),
            read_buffer_size: 8 << 10,
            max_handshake_header_bytes: 8 << 10,
            max_handshake_headers: 64,
            http2_window_size: 256 << 10,
            http2_connection_window_size: 1 << 20,
            http2_max_streams: 100,
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// uWebSockets' `WebSocketBehavior` defaults: 16 KiB max payload, 120 s idle timeout,
    /// 64 KiB max backpressure, automatic pings, compression off.
    pub fn uws_defaults() -> Self {
        Config::builder()
            .max_payload_length(16 << 10)
            .idle_timeout(Duration::from_secs(120))
            .max_backpressure(64 << 10)
            .auto_ping(true)
            .compression(Compression::Disabled)
            .build()
    }
}

/// Builder for [`Config`]; every method sets one field (see [`Config`] for meanings).
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// permessage-deflate mode.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }
    /// permessage-deflate settings (level, minimum size, what to ask of the peer); they take
    /// effect when [`compression`](Self::compression) is enabled.
    pub fn deflate(mut self, deflate: DeflateSettings) -> Self {
        self.config.deflate = deflate;
        self
    }
    /// Largest message accepted, in bytes (after decompression). Also lowers `max_frame_size`
    /// to it when the frame limit was larger (a frame is never larger than a message).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self.config.max_frame_size = self.config.max_frame_size.min(bytes);
        self
    }
    /// Largest payload accepted, as uWebSockets names it: the same as
    /// [`ConfigBuilder::max_message_size`].
    pub fn max_payload_length(self, bytes: usize) -> Self {
        self.max_message_size(bytes)
    }
    /// Largest single frame accepted, in bytes.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes;
        self
    }
    /// Outgoing messages above this size are fragmented (at least 1).
    pub fn fragment_size(mut self, bytes: usize) -> Self {
        self.config.fragment_size = bytes;
        self
    }
    /// Idle timeout; `Duration::ZERO` disables it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }
    /// Whether to send pings automatically when the connection is quiet.
    pub fn auto_ping(mut self, enabled: bool) -> Self {
        self.config.auto_ping = enabled;
        self
    }
    /// Quiet time before an automatic ping.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }
    /// Time allowed for an answer to an automatic ping.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.config.pong_timeout = timeout;
        self
    }
    /// Time allowed for the peer to answer our close frame.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }
    /// Time allowed for the opening handshake.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }
    /// Time queued output may make no progress before the connection fails; `Duration::ZERO`
    /// disables it.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.config.send_timeout = timeout;
        self
    }
    /// Most unsent output held for a slow reader.
    pub fn max_backpressure(mut self, bytes: usize) -> Self {
        self.config.max_backpressure = bytes;
        self
    }
    /// Output buffered before writers wait; also the cork buffer size.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.config.write_buffer_size = bytes;
        self
    }
    /// Resting size of the read buffer (at least [`Config::MIN_READ_BUFFER_SIZE`]).
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.read_buffer_size = bytes;
        self
    }
    /// Largest HTTP head in the opening handshake.
    pub fn max_handshake_header_bytes(mut self, bytes: usize) -> Self {
        self.config.max_handshake_header_bytes = bytes;
        self
    }
    /// Most header lines in the opening handshake.
    pub fn max_handshake_headers(mut self, count: usize) -> Self {
        self.config.max_handshake_headers = count;
        self
    }
    /// Sets [`Config::http2_window_size`].
    pub fn http2_window_size(mut self, bytes: u32) -> Self {
        self.config.http2_window_size = bytes;
        self
    }
    /// Sets [`Config::http2_connection_window_size`].
    pub fn http2_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.http2_connection_window_size = bytes;
        self
    }
    /// Sets [`Config::http2_max_streams`].
    pub fn http2_max_streams(mut self, streams: u32) -> Self {
        self.config.http2_max_streams = streams;
        self
    }
    /// The finished configuration, as set. It is not checked here (so that the README's
    /// snippets stay one expression); the transports check it with [`Config::validate`] and
    /// refuse an invalid one. Use [`ConfigBuilder::try_build`] to learn at once.
    pub fn build(self) -> Config {
        self.config
    }
    /// The finished configuration, or the first field whose value cannot work.
    ///
    /// ```
    /// use ws_proto::Config;
    ///
    /// let err = Config::builder().fragment_size(0).try_build().unwrap_err();
    /// assert_eq!(err.field(), "fragment_size");
    /// assert!(Config::builder().max_payload_length(1 << 20).try_build().is_ok());
    /// ```
    pub fn try_build(self) -> Result<Config, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

/// A [`Config`] field whose value cannot work, and why. The fault is the caller's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    problem: &'static str,
}

impl ConfigError {
    fn new(field: &'static str, problem: &'static str) -> Self {
        ConfigError { field, problem }
    }

    /// The name of the field, as in [`Config`].
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong with its value.
    pub fn problem(&self) -> &'static str {
        self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Config::{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The smallest `read_buffer_size`: room for a frame header and a small message.
    pub const MIN_READ_BUFFER_SIZE: usize = 256;

    /// Checks that every field can work: no zero sizes or limits, a frame never larger than a
    /// message, the write buffer within the backpressure limit, nonzero waits where zero does
    /// not mean "off", handshake limits that fit a request line, and deflate settings in range
    /// (checked whether or not compression is enabled).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_message_size", self.max_message_size),
            ("max_frame_size", self.max_frame_size),
            ("fragment_size", self.fragment_size),
            ("max_backpressure", self.max_backpressure),
            ("write_buffer_size", self.write_buffer_size),
            ("max_handshake_headers", self.max_handshake_headers),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(ConfigError::new(field, "must be at least 1"));
            }
        }
        if self.max_frame_size > self.max_message_size {
            return Err(ConfigError::new(
                "max_frame_size",
                "larger than max_message_size (a frame is never larger than its message)",
            ));
        }
        if self.write_buffer_size > self.max_backpressure {
            return Err(ConfigError::new(
                "write_buffer_size",
                "larger than max_backpressure (writers would never wait before the limit)",
            ));
        }
        if self.read_buffer_size < Self::MIN_READ_BUFFER_SIZE {
            return Err(ConfigError::new("read_buffer_size", "below 256 bytes"));
        }
        if self.max_handshake_header_bytes < 256 {
            return Err(ConfigError::new(
                "max_handshake_header_bytes",
                "below 256 bytes (no browser's upgrade request fits)",
            ));
        }
        let waits = [
            ("close_timeout", self.close_timeout),
            ("handshake_timeout", self.handshake_timeout),
        ];
        for (field, wait) in waits {
            if wait.is_zero() {
                return Err(ConfigError::new(field, "zero (it has no off value)"));
            }
        }
        if self.auto_ping {
            if self.ping_interval.is_zero() {
                return Err(ConfigError::new(
                    "ping_interval",
                    "zero while auto_ping is on (turn auto_ping off instead)",
                ));
            }
            if self.pong_timeout.is_zero() {
                return Err(ConfigError::new(
                    "pong_timeout",
                    "zero while auto_ping is on",
                ));
            }
        }
        self.validate_http2()?;
        self.deflate.validate()
    }

    /// The largest HTTP/2 flow-control window (RFC 9113, section 6.9.1).
    pub const MAX_HTTP2_WINDOW: u32 = (1 << 31) - 1;

    fn validate_http2(&self) -> Result<(), ConfigError> {
        if self.http2_window_size == 0 {
            return Err(ConfigError::new("http2_window_size", "must be at least 1"));
        }
        if self.http2_window_size > Self::MAX_HTTP2_WINDOW {
            return Err(ConfigError::new("http2_window_size", "above 2^31 - 1"));
        }
        if self.http2_connection_window_size < 65_535 {
            return Err(ConfigError::new(
                "http2_connection_window_size",
                "below 65,535 (a connection window can only grow from there)",
            ));
        }
        if self.http2_connection_window_size > Self::MAX_HTTP2_WINDOW {
            return Err(ConfigError::new(
                "http2_connection_window_size",
                "above 2^31 - 1",
            ));
        }
        if self.http2_connection_window_size < self.http2_window_size {
            return Err(ConfigError::new(
                "http2_connection_window_size",
                "below http2_window_size (one stream that stops reading would stall the others)",
            ));
        }
        if self.http2_max_streams == 0 {
            return Err(ConfigError::new("http2_max_streams", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_uws_defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::uws_defaults().validate(), Ok(()));
    }

    #[test]
    fn every_invalid_field_is_named() {
        let cases: [(ConfigBuilder, &str); 21] = [
            (Config::builder().max_message_size(0), "max_message_size"),
            (
                Config::builder().max_frame_size(128 << 20),
                "max_frame_size",
            ),
            (Config::builder().fragment_size(0), "fragment_size"),
            (Config::builder().max_backpressure(0), "max_backpressure"),
            (
                Config::builder().write_buffer_size(2 << 20),
                "write_buffer_size",
            ),
            (Config::builder().read_buffer_size(10), "read_buffer_size"),
            (
                Config::builder().max_handshake_header_bytes(100),
                "max_handshake_header_bytes",
            ),
            (
                Config::builder().max_handshake_headers(0),
                "max_handshake_headers",
            ),
            (
                Config::builder().close_timeout(Duration::ZERO),
                "close_timeout",
            ),
            (Config::builder().http2_window_size(0), "http2_window_size"),
            (
                Config::builder().http2_window_size(1 << 31),
                "http2_window_size",
            ),
            (
                Config::builder().http2_connection_window_size(65_534),
                "http2_connection_window_size",
            ),
            (
                Config::builder().http2_connection_window_size(u32::MAX),
                "http2_connection_window_size",
            ),
            (Config::builder().http2_max_streams(0), "http2_max_streams"),
            (
                Config::builder().http2_window_size(2 << 20),
                "http2_connection_window_size",
            ),
            (
                Config::builder().ping_interval(Duration::ZERO),
                "ping_interval",
            ),
            (
                Config::builder().pong_timeout(Duration::ZERO),
                "pong_timeout",
            ),
            (
                Config::builder().deflate(DeflateSettings::default().level(0)),
                "deflate.level",
            ),
            (
                Config::builder().deflate(DeflateSettings::default().level(10)),
                "deflate.level",
            ),
            (
                Config::builder().deflate(DeflateSettings::default().peer_max_window_bits(8)),
                "deflate.peer_max_window_bits",
            ),
            (
                Config::builder()
                    .compression(Compression::Shared)
                    .deflate(DeflateSettings::default().peer_max_window_bits(16)),
                "deflate.peer_max_window_bits",
            ),
        ];
        for (builder, field) in cases {
            let err = builder.try_build().unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn deflate_settings_in_range_are_valid() {
        for level in 1..=9 {
            for bits in 9..=15 {
                let c = Config::builder()
                    .compression(Compression::Dedicated)
                    .deflate(
                        DeflateSettings::default()
                            .level(level)
                            .peer_max_window_bits(bits)
                            .min_message_size(0),
                    )
                    .try_build()
                    .unwrap();
                assert_eq!(c.deflate.level, level);
                assert_eq!(c.deflate.peer_max_window_bits, Some(bits));
            }
        }
    }

    #[test]
    fn peer_no_context_takeover_defaults_to_the_mode() {
        let d = DeflateSettings::default();
        assert!(!d.peer_no_context_takeover_in(Compression::Dedicated));
        assert!(d.peer_no_context_takeover_in(Compression::Shared));
        assert!(d.peer_no_context_takeover_in(Compression::Shared4KB));
        let d = d.peer_no_context_takeover(true);
        assert!(d.peer_no_context_takeover_in(Compression::Dedicated));
        let d = d.peer_no_context_takeover(false);
        assert!(!d.peer_no_context_takeover_in(Compression::Shared));
    }

    #[test]
    fn zero_means_off_where_documented() {
        let config = Config::builder()
            .idle_timeout(Duration::ZERO)
            .send_timeout(Duration::ZERO)
            .auto_ping(false)
            .ping_interval(Duration::ZERO)
            .try_build();
        assert!(config.is_ok(), "{config:?}");
    }

    #[test]
    fn a_smaller_message_limit_lowers_the_frame_limit() {
        let c = Config::builder()
            .max_message_size(1000)
            .try_build()
            .unwrap();
        assert_eq!((c.max_message_size, c.max_frame_size), (1000, 1000));
        let c = Config::builder()
            .max_frame_size(500)
            .max_message_size(1000)
            .build();
        assert_eq!(c.max_frame_size, 500);
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let c = Config::default();
        assert_eq!(c.compression, Compression::Disabled);
        assert_eq!(c.deflate.level, 1);
        assert_eq!(c.deflate.min_message_size, 32);
        assert_eq!(c.deflate.peer_no_context_takeover, None);
        assert_eq!(c.deflate.peer_max_window_bits, None);
        assert_eq!(c.max_message_size, 64 * 1024 * 1024);
        assert_eq!(c.max_frame_size, 16 * 1024 * 1024);
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.max_backpressure, 1024 * 1024);
        assert!(c.auto_ping);
        assert_eq!(c.ping_interval, Duration::from_secs(30));
        assert_eq!(c.write_buffer_size, 16 * 1024);
        assert_eq!(c.send_timeout, Duration::from_secs(30));
        assert_eq!(c.http2_window_size, 256 * 1024);
        assert_eq!(c.http2_connection_window_size, 1024 * 1024);
        assert_eq!(c.http2_max_streams, 100);
    }

    #[test]
    fn uws_defaults() {
        let c = Config::uws_defaults();
        assert_eq!(c.max_message_size, 16 * 1024);
        assert_eq!(c.max_frame_size, 16 * 1024);
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.max_backpressure, 64 * 1024);
        assert!(c.auto_ping);
        assert_eq!(c.compression, Compression::Disabled);
    }
}
