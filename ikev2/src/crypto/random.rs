//! [`Random`] implementations: the OS generator for the gateway and a deterministic one for
//! tests and the simulated pair harness.

use super::Random;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

/// The operating system's CSPRNG (ring's `SystemRandom`, i.e. getrandom(2) on Linux).
#[derive(Clone, Debug)]
pub struct OsRandom(SystemRandom);

impl OsRandom {
    pub fn new() -> Self {
        OsRandom(SystemRandom::new())
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl Random for OsRandom {
    /// # Panics
    /// If the kernel refuses to return random bytes: continuing without randomness would be
    /// worse than stopping (nonces, SPIs and DH private values would be predictable).
    fn fill(&mut self, out: &mut [u8]) {
        #[allow(clippy::expect_used)]
        self.0
            .fill(out)
            .expect("the OS random number generator failed");
    }
}

/// A deterministic generator for tests and simulations: SHA-256 in counter mode,
/// block_n = SHA-256(seed | n) with n a 64-bit big-endian counter. Not for production use:
/// anyone who knows the seed knows every output.
#[derive(Clone)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    /// A generator whose output is a function of `seed` only.
    pub fn new(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        Self::from_seed(s)
    }

    /// A generator seeded with 32 arbitrary bytes.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SeededRandom {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn refill(&mut self) {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.seed);
        ctx.update(&self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        self.block.copy_from_slice(ctx.finish().as_ref());
        self.used = 0;
    }
}

impl core::fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SeededRandom")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Drop for SeededRandom {
    fn drop(&mut self) {
        self.seed.zeroize();
        self.block.zeroize();
    }
}

impl Random for SeededRandom {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            let next = match self.block.get(self.used) {
                Some(&v) => v,
                None => {
                    self.refill();
                    self.block.first().copied().unwrap_or_default()
                }
            };
            *b = next;
            // `used` stays within 0..=32: refill resets it to 0.
            self.used = self.used.saturating_add(1);
        }
    }
}
