//! SIMD kernels for WebSockets: frame masking and UTF-8 validation.
//!
//! Two hot loops dominate a WebSocket implementation's CPU profile: XOR-ing payloads with the
//! 4-byte masking key ([RFC 6455 §5.3]) and validating text payloads as UTF-8
//! ([RFC 6455 §8.1]). This crate provides both with several implementations and picks the best
//! one for the running CPU at first use, in the style of `httparse`'s runtime dispatch: the
//! choice is cached in an atomic (for masking, as a pointer to the kernel), so a call costs one
//! relaxed load plus the kernel.
//!
//! * Masking: [`apply_mask`], [`apply_mask_offset`] (streaming) and [`copy_and_mask`]
//!   (client send path, one pass). Forcing a path and listing paths: [`mask`].
//! * UTF-8: [`validate_utf8`] for a whole buffer and [`Utf8Validator`] for a message that
//!   arrives in pieces (fails as soon as the bytes seen can no longer be valid UTF-8).
//!   Forcing a path and listing paths: [`utf8`].
//! * With the `bytes` feature, `Utf8Bytes`: a `bytes::Bytes` known to hold UTF-8.
//!
//! Without the `simd` feature (on by default) only the portable scalar paths are compiled.
//!
//! Every path is tested against the scalar path (masking: against a byte loop; UTF-8: against
//! `std::str::from_utf8`), for every length, alignment and offset class, with proptest.
//!
//! [RFC 6455 §5.3]: https://www.rfc-editor.org/rfc/rfc6455#section-5.3
//! [RFC 6455 §8.1]: https://www.rfc-editor.org/rfc/rfc6455#section-8.1

mod implementation;
pub mod mask;
pub mod utf8;
#[cfg(feature = "bytes")]
mod utf8_bytes;

pub use implementation::Implementation;
pub use mask::{apply_mask, apply_mask_offset, copy_and_mask};
pub use utf8::{Utf8Error, Utf8Validator, from_utf8, validate_utf8};
#[cfg(feature = "bytes")]
pub use utf8_bytes::Utf8Bytes;

#[cfg(feature = "alloc-stats")]
pub mod alloc_stats;
