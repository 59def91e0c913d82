//! Client masking keys, from a source the caller can replace.
//!
//! RFC 6455 section 5.3 requires masking keys drawn from a strong source of entropy, so that
//! script running in a browser cannot predict them. By default ([`SystemMaskKeys`]) each thread
//! keeps a pool of bytes filled from ring's `SystemRandom` (the operating system's CSPRNG) and
//! hands out four at a time: one `getrandom` call serves 1024 frames. A client
//! [`Connection`](crate::Connection) can be given another [`MaskKeySource`] instead (a
//! deterministic one for tests, a hardware generator, ...) with
//! [`Connection::set_mask_key_source`](crate::Connection::set_mask_key_source).

use ring::rand::{SecureRandom, SystemRandom};
use std::cell::RefCell;
use std::fmt;

/// A source of random bytes failed: no masking key could be drawn, so no frame can be sent.
///
/// Carried by [`Error::Random`](crate::Error::Random), whose fault is
/// [`Fault::Local`](crate::Fault::Local): this endpoint's own environment failed, not the peer
/// nor the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RandomError {
    /// What failed.
    pub what: &'static str,
}

impl RandomError {
    /// A failure described by `what`.
    pub const fn new(what: &'static str) -> Self {
        RandomError { what }
    }
}

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "random source failed: {}", self.what)
    }
}

impl std::error::Error for RandomError {}

/// Where a client connection draws its masking keys from.
///
/// `fill` is called once per frame sent, with a 4-byte `dst`. It must return unpredictable
/// bytes (RFC 6455 section 5.3) unless the peer is trusted not to care (tests, benchmarks).
/// An error fails the connection with [`Error::Random`](crate::Error::Random); it never
/// panics.
///
/// ```
/// use std::time::Instant;
/// use ws_proto::{Config, Connection, MaskKeySource, Message, RandomError, Role};
///
/// /// A counter: predictable, for tests only.
/// #[derive(Debug)]
/// struct Counter(u32);
///
/// impl MaskKeySource for Counter {
///     fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
///         for b in dst {
///             self.0 = self.0.wrapping_add(1);
///             *b = self.0 as u8;
///         }
///         Ok(())
///     }
/// }
///
/// let now = Instant::now();
/// let mut client = Connection::new(Role::Client, Config::default(), now);
/// client.set_mask_key_source(Box::new(Counter(0)));
/// client.send(Message::from("hi"), now).unwrap();
/// let wire = client.pop_transmit().unwrap();
/// // FIN + text, masked length 2, then the key the source gave.
/// assert_eq!(&wire[..6], &[0x81, 0x82, 1, 2, 3, 4]);
/// ```
pub trait MaskKeySource: Send + fmt::Debug {
    /// Fill `dst` with random bytes.
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError>;
}

/// The default source: the operating system's CSPRNG (ring's `SystemRandom`), drawn through
/// a per-thread pool so that one system call serves 1024 keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemMaskKeys;

impl MaskKeySource for SystemMaskKeys {
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
        for chunk in dst.chunks_mut(4) {
            let key = next_mask_key()?;
            chunk.copy_from_slice(&key[..chunk.len()]);
        }
        Ok(())
    }
}

const POOL: usize = 4096;

struct KeyPool {
    bytes: [u8; POOL],
    pos: usize,
}

impl KeyPool {
    fn next(&mut self) -> Result<[u8; 4], RandomError> {
        if self.pos + 4 > POOL {
            SystemRandom::new()
                .fill(&mut self.bytes)
                .map_err(|_| RandomError::new("the operating system's random source"))?;
            self.pos = 0;
        }
        let k = [
            self.bytes[self.pos],
            self.bytes[self.pos + 1],
            self.bytes[self.pos + 2],
            self.bytes[self.pos + 3],
        ];
        self.pos += 4;
        Ok(k)
    }
}

thread_local! {
    static POOL_TLS: RefCell<KeyPool> = const {
        RefCell::new(KeyPool { bytes: [0; POOL], pos: POOL })
    };
}

/// A fresh masking key from the thread's pool.
pub(crate) fn next_mask_key() -> Result<[u8; 4], RandomError> {
    POOL_TLS.with(|p| p.borrow_mut().next())
}

/// The source a connection uses: the pooled default without a virtual call, or the caller's.
#[derive(Debug, Default)]
pub(crate) enum KeySource {
    #[default]
    System,
    Custom(Box<dyn MaskKeySource>),
}

impl KeySource {
    #[inline]
    pub(crate) fn next(&mut self) -> Result<[u8; 4], RandomError> {
        match self {
            KeySource::System => next_mask_key(),
            KeySource::Custom(source) => {
                let mut key = [0u8; 4];
                source.fill(&mut key)?;
                Ok(key)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_cover_refills() {
        let keys: Vec<[u8; 4]> = (0..3000).map(|_| next_mask_key().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 3000 draws from 2^32: a collision is possible but vanishingly rare.
        assert!(distinct.len() > 2990, "{}", distinct.len());
    }

    #[test]
    fn the_system_source_fills_any_length() {
        let mut buf = [0u8; 10];
        SystemMaskKeys.fill(&mut buf).unwrap();
        let mut again = [0u8; 10];
        SystemMaskKeys.fill(&mut again).unwrap();
        assert_ne!(buf, again);
    }
}
