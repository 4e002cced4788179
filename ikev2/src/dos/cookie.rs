//! Stateless cookies (RFC 7296 2.6).
//!
//! `Cookie = <VersionIDofSecret> | HMAC-SHA256(<secret>, Ni | IPi | SPIi)`: one version byte
//! and a 32-byte tag, 33 bytes in all (the RFC allows 1..=64). The secret changes every
//! [`CookieJar::rotation`]; a cookie made with the previous secret is still accepted, so a
//! cookie stays valid for at least one and at most two rotation periods.
//!
//! Rotation needs no randomness on the hot path: the jar is seeded once from the caller's
//! [`Random`] and ratchets a chain key forward (`secret = HMAC(chain, "secret")`,
//! `chain' = HMAC(chain, "chain")`, the old chain key is dropped), so an attacker who learns
//! the current secret learns neither older nor future secrets. [`CookieJar::reseed`] mixes
//! fresh randomness in whenever the caller has some to spare.

use crate::crypto::{ct_eq, Random};
use crate::time::saturating_after;
use ring::hmac;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Length of our cookies: version byte + HMAC-SHA256 tag.
pub const COOKIE_LEN: usize = 1 + 32;

/// Default secret rotation period (strongSwan switches its cookie secret every 120 s).
pub const DEFAULT_ROTATION: Duration = Duration::from_secs(120);

/// A cookie value, fixed size (no allocation to make one).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cookie([u8; COOKIE_LEN]);

impl Cookie {
    /// The bytes to put in the N(COOKIE) notification data.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The secret version this cookie was made with.
    pub fn version(&self) -> u8 {
        self.0[0]
    }
}

impl core::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cookie(v{}, {} bytes)", self.0[0], COOKIE_LEN)
    }
}

struct Versioned {
    version: u8,
    key: hmac::Key,
}

/// Makes and verifies cookies; see the module documentation.
pub struct CookieJar {
    chain: Zeroizing<[u8; 32]>,
    current: Versioned,
    previous: Option<Versioned>,
    rotation: Duration,
    next_rotation: Option<Instant>,
}

impl core::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieJar")
            .field("version", &self.current.version)
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

fn derive(chain: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, chain);
    let tag = hmac::sign(&k, label);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(tag.as_ref());
    out
}

impl CookieJar {
    /// A jar seeded from `rng`, rotating every `rotation` (at least one second).
    pub fn new(rng: &mut dyn Random, rotation: Duration) -> CookieJar {
        let mut chain = Zeroizing::new([0u8; 32]);
        rng.fill(&mut chain[..]);
        let secret = derive(&chain, b"ipsecgw cookie secret");
        let chain = derive(&chain, b"ipsecgw cookie chain");
        CookieJar {
            chain,
            current: Versioned {
                version: 0,
                key: hmac::Key::new(hmac::HMAC_SHA256, &secret[..]),
            },
            previous: None,
            rotation: rotation.max(Duration::from_secs(1)),
            next_rotation: None,
        }
    }

    /// The rotation period.
    pub fn rotation(&self) -> Duration {
        self.rotation
    }

    /// The version byte of the current secret.
    pub fn version(&self) -> u8 {
        self.current.version
    }

    /// Switch to the next secret now (the current one becomes the previous one).
    pub fn rotate(&mut self) {
        let secret = derive(&self.chain, b"ipsecgw cookie secret");
        self.chain = derive(&self.chain, b"ipsecgw cookie chain");
        let next = Versioned {
            version: self.current.version.wrapping_add(1),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret[..]),
        };
        self.previous = Some(std::mem::replace(&mut self.current, next));
    }

    /// Mix fresh randomness into the chain key (takes effect at the next rotation).
    pub fn reseed(&mut self, rng: &mut dyn Random) {
        let mut fresh = Zeroizing::new([0u8; 32]);
        rng.fill(&mut fresh[..]);
        let k = hmac::Key::new(hmac::HMAC_SHA256, &self.chain[..]);
        let tag = hmac::sign(&k, &fresh[..]);
        self.chain.copy_from_slice(tag.as_ref());
    }

    /// Rotate if the period has elapsed at `now` (the first call starts the clock). Rotating
    /// twice in one call (after a long idle time) drops both old secrets, as it should.
    pub fn tick(&mut self, now: Instant) {
        match self.next_rotation {
            None => self.next_rotation = Some(saturating_after(now, self.rotation)),
            Some(t) if now >= t => {
                self.rotate();
                if now.saturating_duration_since(t) >= self.rotation {
                    self.rotate();
                }
                self.next_rotation = Some(saturating_after(now, self.rotation));
            }
            Some(_) => {}
        }
    }

    /// When [`CookieJar::tick`] will next rotate (None before the first tick).
    pub fn next_rotation(&self) -> Option<Instant> {
        self.next_rotation
    }

    fn tag(key: &hmac::Key, ni: &[u8], ip: IpAddr, spi_i: u64) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(ni);
        match ip {
            IpAddr::V4(a) => ctx.update(&a.octets()),
            IpAddr::V6(a) => ctx.update(&a.octets()),
        }
        ctx.update(&spi_i.to_be_bytes());
        ctx.sign()
    }

    /// The cookie for an initiator with nonce `ni`, address `ip` and SPI `spi_i`, made with the
    /// current secret.
    pub fn make(&self, ni: &[u8], ip: IpAddr, spi_i: u64) -> Cookie {
        let mut c = [0u8; COOKIE_LEN];
        c[0] = self.current.version;
        c[1..].copy_from_slice(Self::tag(&self.current.key, ni, ip, spi_i).as_ref());
        Cookie(c)
    }

    /// True if `cookie` was made by [`CookieJar::make`] for these values with the current or
    /// the previous secret. Constant time in the tag comparison.
    pub fn verify(&self, cookie: &[u8], ni: &[u8], ip: IpAddr, spi_i: u64) -> bool {
        let Some((&v, tag)) = cookie.split_first() else {
            return false;
        };
        if cookie.len() != COOKIE_LEN {
            return false;
        }
        let key = if v == self.current.version {
            &self.current.key
        } else {
            match &self.previous {
                Some(p) if p.version == v => &p.key,
                _ => return false,
            }
        };
        ct_eq(Self::tag(key, ni, ip, spi_i).as_ref(), tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SeededRandom;

    fn jar(seed: u64) -> CookieJar {
        CookieJar::new(&mut SeededRandom::new(seed), DEFAULT_ROTATION)
    }
    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 20));
    const NI: &[u8] = &[7u8; 32];

    #[test]
    fn round_trip_and_binding() {
        let j = jar(1);
        let c = j.make(NI, IP, 42);
        assert_eq!(c.as_bytes().len(), COOKIE_LEN);
        const { assert!(COOKIE_LEN <= 64, "RFC 7296 2.6: at most 64 bytes") };
        assert!(j.verify(c.as_bytes(), NI, IP, 42));
        // Bound to every input.
        assert!(!j.verify(c.as_bytes(), &[8u8; 32], IP, 42));
        assert!(!j.verify(c.as_bytes(), NI, "203.0.113.21".parse().unwrap(), 42));
        assert!(!j.verify(c.as_bytes(), NI, IP, 43));
        // Tampered, truncated, extended, empty.
        let mut bad = *c.as_bytes().first_chunk::<COOKIE_LEN>().unwrap();
        bad[10] ^= 1;
        assert!(!j.verify(&bad, NI, IP, 42));
        assert!(!j.verify(&c.as_bytes()[..COOKIE_LEN - 1], NI, IP, 42));
        let mut long = c.as_bytes().to_vec();
        long.push(0);
        assert!(!j.verify(&long, NI, IP, 42));
        assert!(!j.verify(&[], NI, IP, 42));
        // Another jar (another secret) does not accept it.
        assert!(!jar(2).verify(c.as_bytes(), NI, IP, 42));
        // IPv6 works as well.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(j.verify(j.make(NI, v6, 1).as_bytes(), NI, v6, 1));
    }

    #[test]
    fn previous_secret_accepted_older_not() {
        let mut j = jar(3);
        let c0 = j.make(NI, IP, 9);
        j.rotate();
        assert_eq!(j.version(), 1);
        assert!(
            j.verify(c0.as_bytes(), NI, IP, 9),
            "previous secret still accepted"
        );
        let c1 = j.make(NI, IP, 9);
        assert_ne!(c0, c1);
        j.rotate();
        assert!(!j.verify(c0.as_bytes(), NI, IP, 9), "two rotations old");
        assert!(j.verify(c1.as_bytes(), NI, IP, 9));
    }

    #[test]
    fn tick_rotates_on_schedule() {
        let mut j = jar(4);
        let t0 = Instant::now();
        j.tick(t0);
        let c = j.make(NI, IP, 1);
        j.tick(t0 + DEFAULT_ROTATION - Duration::from_millis(1));
        assert_eq!(j.version(), 0);
        j.tick(t0 + DEFAULT_ROTATION);
        assert_eq!(j.version(), 1);
        assert!(j.verify(c.as_bytes(), NI, IP, 1));
        // A long idle period rotates the old secret out entirely.
        j.tick(t0 + DEFAULT_ROTATION * 10);
        assert_eq!(j.version(), 3);
        assert!(!j.verify(c.as_bytes(), NI, IP, 1));
    }

    #[test]
    fn version_wraps_and_reseed_changes_future() {
        let mut a = jar(5);
        let mut b = jar(5);
        for _ in 0..300 {
            a.rotate();
            b.rotate();
        }
        assert_eq!(a.version(), (300 % 256) as u8);
        assert_eq!(
            a.make(NI, IP, 1),
            b.make(NI, IP, 1),
            "deterministic from the seed"
        );
        a.reseed(&mut SeededRandom::new(99));
        a.rotate();
        b.rotate();
        assert_ne!(a.make(NI, IP, 1), b.make(NI, IP, 1));
    }

    #[test]
    fn debug_prints_no_secret() {
        let j = jar(6);
        let s = format!("{j:?} {:?}", j.make(NI, IP, 1));
        assert!(!s.contains("key"), "{s}");
    }
}
