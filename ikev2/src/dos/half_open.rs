//! Counting half-open responder IKE SAs (IKE_SA_INIT answered, IKE_AUTH not yet complete),
//! globally and per initiator IP address.
//!
//! Entries exist only for sources with at least one half-open SA, so the map is never larger
//! than the number of half-open SAs, which the endpoint bounds ([`super::DefenceConfig::max_half_open`]).

use std::collections::HashMap;
use std::net::IpAddr;

/// Half-open SA counts; see the module documentation.
#[derive(Debug, Default)]
pub struct HalfOpenTracker {
    total: u32,
    per_source: HashMap<IpAddr, u32>,
}

impl HalfOpenTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A responder SA from `src` became half-open (IKE_SA_INIT response sent).
    pub fn opened(&mut self, src: IpAddr) {
        self.total = self.total.saturating_add(1);
        let n = self.per_source.entry(src).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// A half-open SA from `src` completed, failed or expired. Unbalanced calls are ignored.
    pub fn closed(&mut self, src: IpAddr) {
        if let Some(n) = self.per_source.get_mut(&src) {
            *n = n.saturating_sub(1);
            self.total = self.total.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&src);
            }
        }
    }

    /// Half-open SAs in all.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Half-open SAs from `src`.
    pub fn from_source(&self, src: IpAddr) -> u32 {
        self.per_source.get(&src).copied().unwrap_or(0)
    }

    /// Distinct sources with half-open SAs.
    pub fn sources(&self) -> usize {
        self.per_source.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_forgets() {
        let a: IpAddr = "203.0.113.20".parse().unwrap();
        let b: IpAddr = "198.51.100.7".parse().unwrap();
        let mut t = HalfOpenTracker::new();
        t.opened(a);
        t.opened(a);
        t.opened(b);
        assert_eq!((t.total(), t.from_source(a), t.from_source(b)), (3, 2, 1));
        t.closed(a);
        t.closed(b);
        assert_eq!((t.total(), t.from_source(a), t.from_source(b)), (1, 1, 0));
        assert_eq!(t.sources(), 1);
        // Closing what was never opened changes nothing.
        t.closed(b);
        t.closed("192.0.2.1".parse().unwrap());
        assert_eq!(t.total(), 1);
        t.closed(a);
        assert_eq!((t.total(), t.sources()), (0, 0));
    }
}
