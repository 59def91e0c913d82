//! Unpredictable client masking keys without a system call per frame.
//!
//! RFC 6455 section 5.3 requires masking keys drawn from a strong source of entropy, so that
//! script running in a browser cannot predict them. Each thread keeps a pool of bytes filled from
//! ring's `SystemRandom` (the operating system's CSPRNG) and hands out four at a time: one
//! `getrandom` call serves 1024 frames.

use ring::rand::{SecureRandom, SystemRandom};
use std::cell::RefCell;

const POOL: usize = 4096;

struct KeyPool {
    bytes: [u8; POOL],
    pos: usize,
}

impl KeyPool {
    fn next(&mut self) -> [u8; 4] {
        if self.pos + 4 > POOL {
            SystemRandom::new()
                .fill(&mut self.bytes)
                .expect("the operating system's random source failed");
            self.pos = 0;
        }
        let k = [
            self.bytes[self.pos],
            self.bytes[self.pos + 1],
            self.bytes[self.pos + 2],
            self.bytes[self.pos + 3],
        ];
        self.pos += 4;
        k
    }
}

thread_local! {
    static POOL_TLS: RefCell<KeyPool> = const {
        RefCell::new(KeyPool { bytes: [0; POOL], pos: POOL })
    };
}

/// A fresh masking key from the thread's pool.
pub(crate) fn next_mask_key() -> [u8; 4] {
    POOL_TLS.with(|p| p.borrow_mut().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_cover_refills() {
        let keys: Vec<[u8; 4]> = (0..3000).map(|_| next_mask_key()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 3000 draws from 2^32: a collision is possible but vanishingly rare.
        assert!(distinct.len() > 2990, "{}", distinct.len());
    }
}
