//! A per-source token bucket for IKE_SA_INIT requests, in a fixed-size table.
//!
//! Sources are hashed into [`RateLimiter::SLOTS`] buckets with a keyed multiply-shift hash
//! (a universal family; the keys come from the caller's randomness), so memory is constant
//! whatever the number of (spoofed) sources and an attacker cannot aim collisions at a
//! legitimate peer's bucket without knowing the keys. Sources that share a slot share a
//! budget: with few configured peers and a table of thousands of slots this is harmless, and
//! at worst it makes the limit stricter, never looser.

use crate::crypto::Random;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Tokens in millitokens (fixed point).
    milli: u32,
    last: Option<Instant>,
}

/// See the module documentation.
pub struct RateLimiter {
    buckets: Box<[Bucket]>,
    keys: [u64; 3],
    burst_milli: u32,
    per_sec: u32,
}

impl core::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("slots", &self.buckets.len())
            .field("burst", &(self.burst_milli / 1000))
            .field("per_sec", &self.per_sec)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Number of buckets.
    pub const SLOTS: usize = 4096;

    /// `burst` requests at once, refilled at `per_sec` per second, per source.
    pub fn new(rng: &mut dyn Random, burst: u32, per_sec: u32) -> RateLimiter {
        let mut b = [[0u8; 8]; 3];
        rng.fill(b.as_flattened_mut());
        let [k0, k1, k2] = b.map(u64::from_le_bytes);
        let burst_milli = burst.max(1).saturating_mul(1000);
        RateLimiter {
            buckets: vec![
                Bucket {
                    milli: burst_milli,
                    last: None,
                };
                Self::SLOTS
            ]
            .into_boxed_slice(),
            // Multipliers must be odd for multiply-shift.
            keys: [k0 | 1, k1 | 1, k2],
            burst_milli,
            per_sec,
        }
    }

    fn slot(&self, ip: IpAddr) -> usize {
        let (hi, lo) = match ip {
            IpAddr::V4(a) => (0u64, u64::from(u32::from(a))),
            IpAddr::V6(a) => {
                let v = u128::from(a);
                ((v >> 64) as u64, v as u64)
            }
        };
        let h = (lo ^ self.keys[2])
            .wrapping_mul(self.keys[0])
            .wrapping_add(hi.wrapping_mul(self.keys[1]));
        // SLOTS is a power of two: take the top bits.
        const SHIFT: u32 = 64 - RateLimiter::SLOTS.trailing_zeros();
        (h >> SHIFT) as usize
    }

    /// Take one token for `ip` at `now`; false if its bucket is empty (drop the request).
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        let (burst, per_sec) = (self.burst_milli, self.per_sec);
        let i = self.slot(ip);
        let Some(b) = self.buckets.get_mut(i) else {
            return false;
        };
        if let Some(last) = b.last {
            let dt = now.saturating_duration_since(last);
            // millitokens = per_sec * dt_ms; saturate instead of overflowing on long idle.
            let add =
                u64::from(per_sec).saturating_mul(dt.as_millis().min(u128::from(u32::MAX)) as u64);
            b.milli = (u64::from(b.milli).saturating_add(add)).min(u64::from(burst)) as u32;
        }
        // Only move `last` forward (an earlier `now` must not mint tokens later).
        if b.last.is_none_or(|l| now > l) {
            b.last = Some(now);
        }
        match b.milli.checked_sub(1000) {
            Some(left) => {
                b.milli = left;
                true
            }
            None => false,
        }
    }

    /// How long until `ip` has a token again (zero if it has one now).
    pub fn wait_time(&self, now: Instant, ip: IpAddr) -> Duration {
        let Some(b) = self.buckets.get(self.slot(ip)) else {
            return Duration::ZERO;
        };
        let mut milli = u64::from(b.milli);
        if let Some(last) = b.last {
            let dt = now.saturating_duration_since(last).as_millis() as u64;
            milli = milli.saturating_add(dt.saturating_mul(u64::from(self.per_sec)));
        }
        if milli >= 1000 || self.per_sec == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(
            1000u64
                .saturating_sub(milli)
                .div_ceil(u64::from(self.per_sec)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SeededRandom;

    #[test]
    fn burst_then_refill() {
        let mut r = RateLimiter::new(&mut SeededRandom::new(1), 3, 2);
        let ip: IpAddr = "203.0.113.20".parse().unwrap();
        let t0 = Instant::now();
        assert!(r.allow(t0, ip));
        assert!(r.allow(t0, ip));
        assert!(r.allow(t0, ip));
        assert!(!r.allow(t0, ip), "burst used up");
        assert_eq!(r.wait_time(t0, ip), Duration::from_millis(500));
        assert!(!r.allow(t0 + Duration::from_millis(499), ip));
        assert!(r.allow(t0 + Duration::from_millis(500), ip), "2/s refill");
        // Long idle refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| r.allow(later, ip)));
        assert!(!r.allow(later, ip));
        // Time going backwards mints nothing.
        assert!(!r.allow(t0, ip));
    }

    #[test]
    fn sources_are_independent_mostly() {
        let mut r = RateLimiter::new(&mut SeededRandom::new(2), 1, 1);
        let t0 = Instant::now();
        let peer: IpAddr = "203.0.113.20".parse().unwrap();
        // 1000 sources, one request each: only those sharing a slot with an earlier source
        // are refused (about 1000^2 / (2 * 4096) of them).
        let mut denied_first = 0;
        for i in 0..1000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0xC633_6400u32 + i));
            if !r.allow(t0, ip) {
                denied_first += 1;
            }
        }
        // Each source's first request passes unless it shares a slot with an earlier one.
        assert!(denied_first < 250, "too many collisions: {denied_first}");
        let _ = r.allow(t0, peer);
        assert_eq!(r.buckets.len(), RateLimiter::SLOTS);
    }

    #[test]
    fn slot_spread_v6() {
        let r = RateLimiter::new(&mut SeededRandom::new(3), 1, 1);
        let mut seen = std::collections::HashSet::new();
        for i in 0..512u128 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | i << 64));
            seen.insert(r.slot(ip));
        }
        assert!(seen.len() > 400, "{}", seen.len());
    }
}
