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

    /// Whether a hard limit has already been reached (no further packet fits).
    pub(crate) fn hard_expired(&self, limits: &Lifetime) -> Option<LimitKind> {
        if reached(limits.hard_packets, self.packets()) {
            Some(LimitKind::Packets)
        } else if reached(limits.hard_bytes, self.bytes()) {
            Some(LimitKind::Bytes)
        } else {
            None
        }
    }

    /// Reserves one packet of `len` bytes. On a hard-limit overrun the reservation is
    /// undone and the limit returned; otherwise returns whether a soft limit is reached.
    pub(crate) fn reserve(&self, limits: &Lifetime, len: u64) -> Result<bool, LimitKind> {
        let packets = self
            .packets
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let bytes = self
            .bytes
            .fetch_add(len, Ordering::Relaxed)
            .saturating_add(len);
        let over = if exceeded(limits.hard_packets, packets) {
            Some(LimitKind::Packets)
        } else if exceeded(limits.hard_bytes, bytes) {
            Some(LimitKind::Bytes)
        } else {
            None
        };
        if let Some(kind) = over {
            self.unreserve(len);
            return Err(kind);
        }
        Ok(reached(limits.soft_packets, packets) || reached(limits.soft_bytes, bytes))
    }

    /// Takes back a reservation (the packet was not sent or not accepted).
    pub(crate) fn unreserve(&self, len: u64) {
        self.packets.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_then_hard_by_packets() {
        let l = Lifetime {
            soft_packets: Some(2),
            hard_packets: Some(3),
            ..Lifetime::UNLIMITED
        };
        let u = Usage::default();
        assert_eq!(u.reserve(&l, 10), Ok(false));
        assert_eq!(u.reserve(&l, 10), Ok(true));
        assert_eq!(u.reserve(&l, 10), Ok(true));
        assert_eq!(u.hard_expired(&l), Some(LimitKind::Packets));
        assert_eq!(u.reserve(&l, 10), Err(LimitKind::Packets));
        assert_eq!((u.packets(), u.bytes()), (3, 30));
    }

    #[test]
    fn hard_by_bytes() {
        let l = Lifetime {
            hard_bytes: Some(100),
            ..Lifetime::UNLIMITED
        };
        let u = Usage::default();
        assert_eq!(u.reserve(&l, 60), Ok(false));
        assert_eq!(u.reserve(&l, 41), Err(LimitKind::Bytes));
        assert_eq!(u.reserve(&l, 40), Ok(false));
        assert_eq!(u.bytes(), 100);
        assert_eq!(u.hard_expired(&l), Some(LimitKind::Bytes));
    }

    #[test]
    fn azure_default_is_102400000_kb() {
        let l = Lifetime::azure_default();
        assert_eq!(l.hard_bytes, Some(104_857_600_000));
        assert!(l.soft_bytes.unwrap() < l.hard_bytes.unwrap());
    }
}
