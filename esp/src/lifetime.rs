//! SA lifetimes by bytes and packets (RFC 4301 section 4.4.2.1: soft limit -> rekey, hard
//! limit -> the SA must no longer be used) and the per-SA usage counters.
//!
//! Bytes counted are inner-packet bytes (the traffic ESP protected, without ESP overhead).

use core::sync::atomic::{AtomicU64, Ordering};

/// Which lifetime limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The byte limit.
    Bytes,
    /// The packet limit.
    Packets,
}

impl core::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LimitKind::Bytes => "bytes",
            LimitKind::Packets => "packets",
        })
    }
}

/// Soft and hard limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    /// Rekey when this many bytes were protected.
    pub soft_bytes: Option<u64>,
    /// Refuse traffic beyond this many bytes.
    pub hard_bytes: Option<u64>,
    /// Rekey when this many packets were protected.
    pub soft_packets: Option<u64>,
    /// Refuse traffic beyond this many packets.
    pub hard_packets: Option<u64>,
}

impl Lifetime {
    /// No byte or packet limits (sequence-number limits still apply).
    pub const UNLIMITED: Lifetime = Lifetime {
        soft_bytes: None,
        hard_bytes: None,
        soft_packets: None,
        hard_packets: None,
    };

    /// Azure VPN Gateway's default SA data-size lifetime: 102,400,000 KB.
    pub const AZURE_DEFAULT_KB: u64 = 102_400_000;

    /// Azure's default as a hard byte limit, with the soft limit at 90% (strongSwan's default
    /// 10% rekey margin).
    pub fn azure_default() -> Lifetime {
        let hard = Self::AZURE_DEFAULT_KB.saturating_mul(1024);
        Lifetime {
            soft_bytes: Some((hard / 10).saturating_mul(9)),
            hard_bytes: Some(hard),
            soft_packets: None,
            hard_packets: None,
        }
    }
}

/// Atomic byte and packet counters of one SA.
/// Packets and inner bytes one worker has counted for an SA but not yet added to the SA's
/// shared counters: a worker keeps one across a batch and commits it once (`commit` on the
/// SA), so the counters' atomics are written per batch, not per packet (two locked
/// read-modify-writes per packet were ~1.5% of a gateway's CPU under bulk TCP). Until
/// committed, the packets are missing from the SA's statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[must_use = "a tally's packets count only once committed to its SA"]
pub struct Tally {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
}

impl Tally {
    /// Packets counted and not yet committed.
    pub fn packets(&self) -> u64 {
        self.packets
    }
}

#[derive(Debug, Default)]
pub(crate) struct Usage {
    bytes: AtomicU64,
    packets: AtomicU64,
}

fn reached(limit: Option<u64>, value: u64) -> bool {
    limit.is_some_and(|l| value >= l)
}

fn exceeded(limit: Option<u64>, value: u64) -> bool {
    limit.is_some_and(|l| value > l)
}

impl Usage {
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Counts a packet of `len` bytes into `tally` instead of the shared counters, checking
    /// the limits against both (this worker's tally and what all have committed). The hard
    /// limit holds exactly for one worker; with several, each may pass it by what it has not
    /// yet committed, at most a batch. `Ok(true)` at or past a soft limit.
    pub(crate) fn tally(
        &self,
        limits: &Lifetime,
        tally: &mut Tally,
        len: u64,
    ) -> Result<bool, LimitKind> {
        let packets = self
            .packets()
            .saturating_add(tally.packets)
            .saturating_add(1);
        let bytes = self.bytes().saturating_add(tally.bytes).saturating_add(len);
        if exceeded(limits.hard_packets, packets) {
            return Err(LimitKind::Packets);
        }
        if exceeded(limits.hard_bytes, bytes) {
            return Err(LimitKind::Bytes);
        }
        tally.packets = tally.packets.saturating_add(1);
        tally.bytes = tally.bytes.saturating_add(len);
        Ok(reached(limits.soft_packets, packets) || reached(limits.soft_bytes, bytes))
    }

    /// Whether a hard limit is already reached by what is committed plus `tally` (no
    /// further packet fits).
    pub(crate) fn hard_expired(&self, limits: &Lifetime, tally: &Tally) -> Option<LimitKind> {
        let packets = self.packets().saturating_add(tally.packets);
        let bytes = self.bytes().saturating_add(tally.bytes);
        if reached(limits.hard_packets, packets) {
            Some(LimitKind::Packets)
        } else if reached(limits.hard_bytes, bytes) {
            Some(LimitKind::Bytes)
        } else {
            None
        }
    }

    /// Adds `tally` to the shared counters (one `fetch_add` each) and empties it.
    pub(crate) fn commit(&self, tally: &mut Tally) {
        if tally.packets > 0 {
            self.packets.fetch_add(tally.packets, Ordering::Relaxed);
            self.bytes.fetch_add(tally.bytes, Ordering::Relaxed);
        }
        *tally = Tally::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One packet counted and committed at once (what `encapsulate`/`decapsulate` do).
    fn reserve(u: &Usage, l: &Lifetime, len: u64) -> Result<bool, LimitKind> {
        let mut t = Tally::default();
        let r = u.tally(l, &mut t, len);
        u.commit(&mut t);
        r
    }

    #[test]
    fn soft_then_hard_by_packets() {
        let l = Lifetime {
            soft_packets: Some(2),
            hard_packets: Some(3),
            ..Lifetime::UNLIMITED
        };
        let u = Usage::default();
        assert_eq!(reserve(&u, &l, 10), Ok(false));
        assert_eq!(reserve(&u, &l, 10), Ok(true));
        assert_eq!(reserve(&u, &l, 10), Ok(true));
        assert_eq!(
            u.hard_expired(&l, &Tally::default()),
            Some(LimitKind::Packets)
        );
        assert_eq!(reserve(&u, &l, 10), Err(LimitKind::Packets));
        assert_eq!((u.packets(), u.bytes()), (3, 30));
    }

    #[test]
    fn hard_by_bytes() {
        let l = Lifetime {
            hard_bytes: Some(100),
            ..Lifetime::UNLIMITED
        };
        let u = Usage::default();
        assert_eq!(reserve(&u, &l, 60), Ok(false));
        assert_eq!(reserve(&u, &l, 41), Err(LimitKind::Bytes));
        assert_eq!(reserve(&u, &l, 40), Ok(false));
        assert_eq!(u.bytes(), 100);
        assert_eq!(
            u.hard_expired(&l, &Tally::default()),
            Some(LimitKind::Bytes)
        );
    }

    #[test]
    fn a_tally_checks_limits_with_what_is_committed_and_commits_once() {
        let l = Lifetime {
            soft_packets: Some(3),
            hard_packets: Some(4),
            hard_bytes: Some(1000),
            ..Lifetime::UNLIMITED
        };
        let u = Usage::default();
        assert_eq!(reserve(&u, &l, 10), Ok(false));
        let mut t = Tally::default();
        assert_eq!(u.tally(&l, &mut t, 10), Ok(false));
        assert_eq!(u.tally(&l, &mut t, 10), Ok(true));
        // Not yet in the shared counters, but counted against the limits.
        assert_eq!((u.packets(), u.bytes()), (1, 10));
        assert_eq!(u.hard_expired(&l, &t), None);
        assert_eq!(u.tally(&l, &mut t, 10), Ok(true));
        assert_eq!(u.hard_expired(&l, &t), Some(LimitKind::Packets));
        assert_eq!(u.tally(&l, &mut t, 10), Err(LimitKind::Packets));
        assert_eq!(t.packets(), 3);
        u.commit(&mut t);
        assert_eq!((u.packets(), u.bytes()), (4, 40));
        assert_eq!(t, Tally::default());
        assert_eq!(
            u.hard_expired(&l, &Tally::default()),
            Some(LimitKind::Packets)
        );
        // Bytes: the packet that would pass the hard limit is refused and not counted.
        let u = Usage::default();
        let mut t = Tally::default();
        assert_eq!(u.tally(&l, &mut t, 990), Ok(false));
        assert_eq!(u.tally(&l, &mut t, 11), Err(LimitKind::Bytes));
        assert_eq!(u.tally(&l, &mut t, 10), Ok(false));
        u.commit(&mut t);
        assert_eq!(
            u.hard_expired(&l, &Tally::default()),
            Some(LimitKind::Bytes)
        );
    }

    #[test]
    fn azure_default_is_102400000_kb() {
        let l = Lifetime::azure_default();
        assert_eq!(l.hard_bytes, Some(104_857_600_000));
        assert!(l.soft_bytes.unwrap() < l.hard_bytes.unwrap());
    }
}
