//! permessage-deflate (RFC 7692) for sockudo-ws, on a `miniz_oxide` backend.
//!
//! It plugs into `ws-proto`'s extension hook: [`DeflateNegotiator`] takes part in the opening
//! handshake (either role) and yields a [`PerMessageDeflate`], which the connection calls for
//! every data message (RSV1). The transports (`ws-tokio`) install it when
//! [`Config::compression`](ws_proto::Config::compression) is enabled, with the level, minimum
//! size and peer requests of [`Config::deflate`](ws_proto::Config::deflate)
//! ([`DeflateNegotiator::for_config`]); [`DeflateNegotiator::with_config`] builds one by hand
//! for an explicit override.
//!
//! ```
//! use ws_deflate::DeflateNegotiator;
//! use ws_proto::extension::ExtensionNegotiator;
//! use ws_proto::handshake::parse_extensions;
//! use ws_proto::Compression;
//!
//! let client = DeflateNegotiator::new(Compression::Dedicated);
//! let server = DeflateNegotiator::new(Compression::Shared);
//! let offer = client.client_offer().unwrap();
//! assert_eq!(offer, "permessage-deflate; client_max_window_bits");
//! let (answer, _server_ext) = server.server_accept(&parse_extensions(&offer)?)?.unwrap();
//! assert_eq!(answer, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
//! let _client_ext = client.client_accept(&parse_extensions(&answer)?)?.unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design
//!
//! **Modes** ([`Compression`](ws_proto::Compression)). `Dedicated` gives each connection its
//! own compressor with context takeover: the best ratio, and about 300 KiB per connection
//! (allocated by the first message worth compressing). The `Shared` modes compress without
//! context takeover, so one compressor per thread (a `thread_local`) serves every connection:
//! each message ends with a full flush, which empties the dictionary, and a compressor left
//! dirty (by an error or a panic) is reset before its next use. `Shared4KB`/`8KB`/`16KB`
//! also narrow the window to 12/13/14 bits. By default the `Shared` modes ask the peer to
//! drop context takeover as well, so that an idle connection holds no deflate state at all.
//!
//! **Window bits.** miniz_oxide always compresses with a 32 KiB window: its window-bits
//! settings do not bound match distances. A peer that negotiated a smaller window (say
//! `server_max_window_bits=9`, as Autobahn's 13.3 does) inflates with a `2^bits` window, so
//! this crate enforces it itself: the dictionary is reset with a full flush at least every
//! `2^bits - 262` input bytes (zlib's own margin), and miniz_oxide never matches further back
//! than the last reset. With context takeover the count carries over from message to message.
//! At 9 bits a reset every 250 bytes would cost a block header each time for a ratio no better
//! than run-length coding, so 9-bit windows use a per-thread compressor whose only matches are
//! runs (distance 1), about twenty times faster. Window bits 8 are never negotiated (zlib
//! silently uses 9 when asked for 8). Every window from 9 to 15 is checked against zlib's own
//! inflater in the tests. The other way, the decompressor's window is the one the peer agreed
//! to: `2^bits` bytes (a ring miniz_oxide's core decoder writes into), so a connection whose
//! peer compresses with 9 bits holds about 11.5 KiB for it rather than 43 KiB, and a
//! back-reference beyond the agreed window is invalid data (close 1007), as in zlib.
//!
//! **Messages that do not shrink** (and those under
//! [`DeflateConfig::min_message_size`]) are sent uncompressed with RSV1 clear. With context
//! takeover the compressor has already taken such a message into its dictionary, which the
//! peer's inflater will never see; it is reset, so the next message refers to nothing before
//! it.
//!
//! **Bounded inflation.** Incoming fragments are inflated into the decompressor's window and
//! copied from there onto the message buffer, which grows geometrically with the output (at
//! most doubling, never past the limit, `max_message_size`) and is never written ahead of it:
//! the cost of a message is linear in its compressed input and its output, however it is
//! fragmented, and a fragment without compressed bytes that does not end its message costs
//! nothing. Output beyond the limit fails the message with
//! [`ExtensionError::TooBig`](ws_proto::extension::ExtensionError::TooBig) (close 1009) before
//! the buffer passes the limit. Corrupt data fails with
//! [`ExtensionError::InvalidData`](ws_proto::extension::ExtensionError::InvalidData) (close
//! 1007). Without context takeover the decompressor is borrowed per message from a per-thread
//! spare and scrubbed (window zeroed) before it goes back. [`inflate_stats`] counts the work
//! done per thread.
//!
//! **Backend.** The engines sit behind a small internal trait pair (raw deflate with sync/full
//! flush, raw inflate onto a bounded buffer), so another engine can be added without touching
//! negotiation, window enforcement or bounds. miniz_oxide 0.9 is used rather than 0.8 for its
//! stricter inflate (over-subscribed Huffman tables are rejected as zlib does) and its
//! flushes that skip empty blocks.
//!
//! Known leniency: miniz_oxide's inflater does not reject a back-reference to before the
//! start of the stream when it is within the window (zlib's "invalid distance too far
//! back"); such a reference reads zeros (never another connection's data), and text is still
//! checked for UTF-8.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod codec;
mod negotiator;
mod params;
pub mod stats;

pub use codec::PerMessageDeflate;
pub use negotiator::{DeflateConfig, DeflateNegotiator};
pub use params::DeflateParams;
pub use stats::{InflateStats, inflate_stats};
