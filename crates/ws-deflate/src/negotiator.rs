//! [`DeflateNegotiator`]: the permessage-deflate side of the opening handshake, both roles.

use ws_proto::Role;
use ws_proto::extension::{
    Extension, ExtensionError, ExtensionNegotiator, ExtensionOffer, ServerAcceptance,
};
use ws_proto::{Compression, Config, DeflateSettings};

use crate::codec::PerMessageDeflate;
use crate::params::{DeflateParams, Element, MAX_WINDOW_BITS, MIN_WINDOW_BITS, NAME};

/// How this end compresses and what it asks of the peer: a [`Compression`] mode with its
/// settings, as the negotiator and [`PerMessageDeflate`] use them.
///
/// The usual way to set these is the connection's [`Config`]: its
/// [`compression`](Config::compression) mode and [`deflate`](Config::deflate) settings
/// ([`DeflateSettings`]), which every transport entry point honours;
/// [`DeflateConfig::for_config`] is the value they yield. Building one directly (from
/// [`DeflateConfig::new`], every setter changing one field) serves an explicit
/// [`DeflateNegotiator::with_config`] override.
///
/// ```
/// use ws_deflate::DeflateConfig;
/// use ws_proto::Compression;
///
/// let config = DeflateConfig::new(Compression::Shared4KB).level(6).min_message_size(128);
/// assert!(config.peer_no_context_takeover); // the Shared modes' default
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The compressor mode: [`Compression::Dedicated`] keeps a compressor (and its
    /// dictionary) per connection; the `Shared` modes compress without context takeover with
    /// one compressor per thread, `Shared4KB`/`8KB`/`16KB` with the window narrowed to 12, 13
    /// or 14 bits. [`Compression::Disabled`]: nothing is offered or accepted.
    pub compression: Compression,
    /// Compression level, 1 (fastest) to 9 (smallest). Default 1: on JSON-like traffic
    /// miniz_oxide's level 1 compresses 3 to 7 times faster than level 6 for output about a
    /// third larger (see `benches/benches/deflate.rs`); raise it when bandwidth costs more
    /// than CPU.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed. Default 32 bytes.
    pub min_message_size: usize,
    /// Ask the peer to compress without context takeover, so that this end holds no
    /// decompressor between messages. A server answers `client_no_context_takeover`; a
    /// client offers `server_no_context_takeover` (followed by a fallback offer without it).
    /// Default: true in the `Shared` modes, false in `Dedicated`.
    pub peer_no_context_takeover: bool,
    /// Ask the peer to compress with a window of at most `2^bits` bytes (9..=15). A server
    /// answers `client_max_window_bits` when the client allowed it; a client offers
    /// `server_max_window_bits` (followed by a fallback offer without it). This end's
    /// decompressor then has a window of that size (`2^bits` bytes instead of 32 KiB), so
    /// this saves memory at both ends. Default: none.
    pub peer_max_window_bits: Option<u8>,
}

impl DeflateConfig {
    /// The defaults for `compression` (those of [`DeflateSettings::default`]).
    pub fn new(compression: Compression) -> Self {
        Self::with_settings(compression, &DeflateSettings::default())
    }

    /// `compression` with `settings`; a level or window bits out of range is clamped (to
    /// 1..=9 and 9..=15; [`Config::validate`] reports them instead).
    ///
    /// ```
    /// use ws_deflate::DeflateConfig;
    /// use ws_proto::{Compression, DeflateSettings};
    ///
    /// let settings = DeflateSettings::default().peer_max_window_bits(10);
    /// let config = DeflateConfig::with_settings(Compression::Shared, &settings);
    /// assert_eq!(config.peer_max_window_bits, Some(10));
    /// assert!(config.peer_no_context_takeover); // the Shared modes' default
    /// ```
    pub fn with_settings(compression: Compression, settings: &DeflateSettings) -> Self {
        DeflateConfig {
            compression,
            level: 1,
            min_message_size: settings.min_message_size,
            peer_no_context_takeover: settings.peer_no_context_takeover_in(compression),
            peer_max_window_bits: None,
        }
        .level(settings.level)
        .peer_max_window_bits(settings.peer_max_window_bits)
    }

    /// The mode and settings of a connection configuration:
    /// [`Config::compression`] with [`Config::deflate`].
    ///
    /// ```
    /// use ws_deflate::DeflateConfig;
    /// use ws_proto::{Compression, Config, DeflateSettings};
    ///
    /// let config = Config::builder()
    ///     .compression(Compression::Dedicated)
    ///     .deflate(DeflateSettings::default().level(6).min_message_size(128))
    ///     .build();
    /// let deflate = DeflateConfig::for_config(&config);
    /// assert_eq!(deflate, DeflateConfig::new(Compression::Dedicated).level(6).min_message_size(128));
    /// ```
    pub fn for_config(config: &Config) -> Self {
        Self::with_settings(config.compression, &config.deflate)
    }

    /// Sets [`level`](Self::level) (clamped to 1..=9).
    #[must_use]
    pub fn level(mut self, level: u8) -> Self {
        self.level = level.clamp(1, 9);
        self
    }

    /// Sets [`min_message_size`](Self::min_message_size).
    #[must_use]
    pub fn min_message_size(mut self, bytes: usize) -> Self {
        self.min_message_size = bytes;
        self
    }

    /// Sets [`peer_no_context_takeover`](Self::peer_no_context_takeover).
    #[must_use]
    pub fn peer_no_context_takeover(mut self, yes: bool) -> Self {
        self.peer_no_context_takeover = yes;
        self
    }

    /// Sets [`peer_max_window_bits`](Self::peer_max_window_bits) (clamped to 9..=15).
    #[must_use]
    pub fn peer_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.peer_max_window_bits = bits.map(|b| b.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS));
        self
    }

    /// The window this end compresses with at most, from the mode.
    pub(crate) fn window_bits(&self) -> u8 {
        match self.compression {
            Compression::Shared4KB => 12,
            Compression::Shared8KB => 13,
            Compression::Shared16KB => 14,
            _ => MAX_WINDOW_BITS,
        }
    }

    /// Whether the mode compresses without context takeover (with a per-thread compressor).
    pub(crate) fn shares_compressor(&self) -> bool {
        !matches!(
            self.compression,
            Compression::Dedicated | Compression::Disabled
        )
    }
}

/// Negotiates permessage-deflate (RFC 7692) in the opening handshake, as server or client,
/// and builds the [`PerMessageDeflate`] extension.
///
/// Server ([`server_accept`](ExtensionNegotiator::server_accept)): takes the first
/// permessage-deflate offer it can honour, skipping offers with unknown, repeated or malformed
/// parameters, and offers that ask for window bits 8 (a zlib compressor asked for 8 silently
/// uses 9, so 8 is never agreed). The answer holds only what RFC 7692 section 7.1 lets a
/// server say:
///
/// - `server_no_context_takeover` when the client asked for it, or when this end shares its
///   compressor (a server may always say it);
/// - `client_no_context_takeover` when [`DeflateConfig::peer_no_context_takeover`] is set (a
///   server may always ask it);
/// - `server_max_window_bits=N` only when offered, with N = min(offered, this end's window);
/// - `client_max_window_bits=N` only when offered and [`DeflateConfig::peer_max_window_bits`]
///   is set, with N no larger than an offered value.
///
/// Client ([`client_offer`](ExtensionNegotiator::client_offer) /
/// [`client_accept`](ExtensionNegotiator::client_accept)): offers
/// `permessage-deflate; client_max_window_bits` (with `=12`..`=14` in the narrow `Shared`
/// modes and `client_no_context_takeover` in every `Shared` mode), preceded by an offer that
/// also asks for `server_no_context_takeover` / `server_max_window_bits` when so configured.
/// The answer must be a single element; a parameter that was not offered
/// (`server_max_window_bits` without our asking), a value out of range (8 included) or above
/// the offered one, an unknown or repeated parameter fails the handshake with
/// [`ExtensionError::Negotiation`].
///
/// ```
/// use ws_deflate::DeflateNegotiator;
/// use ws_proto::Compression;
/// use ws_proto::extension::ExtensionNegotiator;
/// use ws_proto::handshake::parse_extensions;
///
/// let server = DeflateNegotiator::new(Compression::Dedicated);
/// let offers = parse_extensions("permessage-deflate; server_max_window_bits=10").unwrap();
/// let (answer, _extension) = server.server_accept(&offers).unwrap().unwrap();
/// assert_eq!(answer, "permessage-deflate; server_max_window_bits=10");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateNegotiator {
    config: DeflateConfig,
}

impl DeflateNegotiator {
    /// A negotiator with the defaults for `compression` (see [`DeflateConfig::new`]).
    pub fn new(compression: Compression) -> Self {
        Self::with_config(DeflateConfig::new(compression))
    }

    /// A negotiator with a tuned configuration.
    pub fn with_config(config: DeflateConfig) -> Self {
        DeflateNegotiator { config }
    }

    /// The negotiator for a connection configuration ([`Config::compression`] with the
    /// settings of [`Config::deflate`], see [`DeflateConfig::for_config`]), or `None` when its
    /// compression is [`Compression::Disabled`]. The transports build theirs with it.
    ///
    /// ```
    /// use ws_deflate::DeflateNegotiator;
    /// use ws_proto::extension::ExtensionNegotiator;
    /// use ws_proto::handshake::parse_extensions;
    /// use ws_proto::{Compression, Config, DeflateSettings};
    ///
    /// let config = Config::builder()
    ///     .compression(Compression::Dedicated)
    ///     .deflate(DeflateSettings::default().peer_max_window_bits(10))
    ///     .build();
    /// let server = DeflateNegotiator::for_config(&config).unwrap();
    /// let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
    /// let (answer, _extension) = server.server_accept(&offers).unwrap().unwrap();
    /// assert_eq!(answer, "permessage-deflate; client_max_window_bits=10");
    /// assert!(DeflateNegotiator::for_config(&Config::default()).is_none());
    /// ```
    pub fn for_config(config: &Config) -> Option<Self> {
        config
            .compression
            .is_enabled()
            .then(|| Self::with_config(DeflateConfig::for_config(config)))
    }

    /// The configuration.
    pub fn config(&self) -> &DeflateConfig {
        &self.config
    }

    /// The offers a client sends, most preferred first.
    fn client_elements(&self) -> Vec<Element> {
        let bits = self.config.window_bits();
        let base = Element {
            client_no_context_takeover: self.config.shares_compressor(),
            client_max_window_bits: Some((bits < MAX_WINDOW_BITS).then_some(bits)),
            ..Element::default()
        };
        let preferred = Element {
            server_no_context_takeover: self.config.peer_no_context_takeover,
            server_max_window_bits: self.config.peer_max_window_bits,
            ..base
        };
        if preferred == base {
            vec![base]
        } else {
            vec![preferred, base]
        }
    }

    /// The answer to one offer, or why it cannot be accepted.
    fn answer(&self, offer: &ExtensionOffer) -> Result<(Element, DeflateParams), String> {
        let e = Element::parse(&offer.params)?;
        if e.server_max_window_bits == Some(8) || e.client_max_window_bits == Some(Some(8)) {
            return Err("window bits 8 are never negotiated".into());
        }
        let own_bits = self.config.window_bits();
        let server_max_window_bits = e.server_max_window_bits.map(|b| b.min(own_bits));
        let client_max_window_bits =
            match (e.client_max_window_bits, self.config.peer_max_window_bits) {
                (Some(offered), Some(want)) => Some(offered.map_or(want, |o| o.min(want))),
                _ => None,
            };
        let answer = Element {
            server_no_context_takeover: e.server_no_context_takeover
                || self.config.shares_compressor(),
            client_no_context_takeover: self.config.peer_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits: client_max_window_bits.map(Some),
        };
        let params = DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover,
            server_max_window_bits: server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            client_max_window_bits: client_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        };
        Ok((answer, params))
    }

    /// Checks a server's answer against what was offered.
    fn check_answer(&self, answer: &ExtensionOffer) -> Result<DeflateParams, String> {
        let e = Element::parse(&answer.params)?;
        let offers = self.client_elements();
        let mut params = DeflateParams {
            server_no_context_takeover: e.server_no_context_takeover,
            client_no_context_takeover: e.client_no_context_takeover,
            ..DeflateParams::default()
        };
        if let Some(bits) = e.server_max_window_bits {
            let Some(offered) = offers.iter().find_map(|o| o.server_max_window_bits) else {
                return Err(
                    "the server answered server_max_window_bits, which was not offered".into(),
                );
            };
            if bits < MIN_WINDOW_BITS || bits > offered {
                return Err(format!(
                    "server_max_window_bits={bits} is not in {MIN_WINDOW_BITS}..={offered}"
                ));
            }
            params.server_max_window_bits = bits;
        }
        match e.client_max_window_bits {
            None => {}
            Some(None) => return Err("client_max_window_bits in an answer needs a value".into()),
            Some(Some(bits)) => {
                let offered = offers
                    .iter()
                    .find_map(|o| o.client_max_window_bits)
                    .map(|v| v.unwrap_or(MAX_WINDOW_BITS));
                let Some(offered) = offered else {
                    return Err(
                        "the server answered client_max_window_bits, which was not offered".into(),
                    );
                };
                if bits < MIN_WINDOW_BITS || bits > offered {
                    return Err(format!(
                        "client_max_window_bits={bits} is not in {MIN_WINDOW_BITS}..={offered}"
                    ));
                }
                params.client_max_window_bits = bits;
            }
        }
        Ok(params)
    }
}

impl ExtensionNegotiator for DeflateNegotiator {
    fn client_offer(&self) -> Option<String> {
        if !self.config.compression.is_enabled() {
            return None;
        }
        let offers: Vec<String> = self
            .client_elements()
            .into_iter()
            .map(Element::to_header)
            .collect();
        Some(offers.join(", "))
    }

    fn client_accept(
        &self,
        answer: &[ExtensionOffer],
    ) -> Result<Option<Box<dyn Extension>>, ExtensionError> {
        let ours: Vec<&ExtensionOffer> = answer.iter().filter(|a| a.name == NAME).collect();
        let a = match (ours.as_slice(), answer.len()) {
            ([], 0) => return Ok(None),
            ([a], 1) => *a,
            _ => {
                return Err(ExtensionError::Negotiation(
                    "the server must answer with exactly one permessage-deflate element".into(),
                ));
            }
        };
        if !self.config.compression.is_enabled() {
            return Err(ExtensionError::Negotiation(
                "permessage-deflate was not offered".into(),
            ));
        }
        let params = self
            .check_answer(a)
            .map_err(|why| ExtensionError::Negotiation(format!("permessage-deflate: {why}")))?;
        Ok(Some(Box::new(PerMessageDeflate::new(
            Role::Client,
            params,
            &self.config,
        ))))
    }

    fn server_accept(
        &self,
        offers: &[ExtensionOffer],
    ) -> Result<Option<ServerAcceptance>, ExtensionError> {
        if !self.config.compression.is_enabled() {
            return Ok(None);
        }
        for offer in offers.iter().filter(|o| o.name == NAME) {
            // An offer we cannot honour is declined by skipping it (RFC 7692 section 5).
            if let Ok((answer, params)) = self.answer(offer) {
                let extension = PerMessageDeflate::new(Role::Server, params, &self.config);
                return Ok(Some((answer.to_header(), Box::new(extension))));
            }
        }
        Ok(None)
    }
}
