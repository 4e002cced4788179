//! The AES-GCM implementation of the ESP SAs (`[daemon] aead_backend`), chosen by measuring
//! ring and aws-lc-rs on this CPU at start (issue #8).
//!
//! Which one is faster depends on the CPU: on a Xeon with AVX-512 (Emerald Rapids)
//! aws-lc-rs's VAES/AVX-512 code seals and opens a 1400-byte ESP packet ~20% faster than
//! ring's VAES/AVX2 code; on the AMD machines of this project they were within a few percent.
//! An EC2 fleet mixes both, so the daemon times them where it runs: a few milliseconds of
//! seal-and-open round trips on tunnel-sized packets (~10 ms), the backends alternating so that a burst
//! of other work on the machine hits both alike, the best round of each kept. Every AES-GCM
//! SA is then built with the faster one; `aead_backend = "ring"` or `"aws-lc-rs"` skips the
//! measurement.

use std::fmt;
use std::time::{Duration, Instant};

use esp::{GcmBackend, GcmProbe};

/// The packet size timed: a full-size packet of a 1400-byte tunnel MTU, what bulk SMB
/// traffic is made of.
pub const PROBE_LEN: usize = 1400;
/// Untimed seal-and-open round trips per backend first: code, key schedules and the vector
/// units' power state warmed up.
const WARM_UP: u32 = 2000;
/// Seal-and-open round trips per timed round.
const PER_ROUND: u32 = 500;
/// Timed rounds per backend (alternating); the fastest counts.
const ROUNDS: usize = 8;

/// What the daemon uses and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadChoice {
    pub backend: GcmBackend,
    /// Nanoseconds per 1400-byte seal + open of each backend ([`GcmBackend::ALL`] order), when
    /// measured (`aead_backend = "auto"`).
    pub measured_ns: Option<[u64; 2]>,
}

impl AeadChoice {
    /// The configured backend, or (`None`: `"auto"`) the faster one measured here.
    pub fn new(configured: Option<GcmBackend>) -> Self {
        match configured {
            Some(backend) => Self {
                backend,
                measured_ns: None,
            },
            None => {
                let ns = measure();
                Self {
                    backend: faster(ns),
                    measured_ns: Some(ns),
                }
            }
        }
    }
}

impl fmt::Display for AeadChoice {
    /// E.g. "aws-lc-rs (measured here: ring 612 ns, aws-lc-rs 487 ns per 1400-byte seal +
    /// open)" or "ring (configured)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.measured_ns {
            None => write!(f, "{} (configured)", self.backend),
            Some(ns) => {
                write!(f, "{} (measured here:", self.backend)?;
                for (i, (b, n)) in GcmBackend::ALL.iter().zip(ns).enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep} {b} {n} ns")?;
                }
                write!(f, " per {PROBE_LEN}-byte seal + open)")
            }
        }
    }
}

/// The backend with the lower time; ring on a tie (or when a probe failed: `u64::MAX`).
pub fn faster(ns: [u64; 2]) -> GcmBackend {
    GcmBackend::ALL
        .into_iter()
        .zip(ns)
        .min_by_key(|(_, n)| *n)
        .map_or(GcmBackend::Ring, |(b, _)| b)
}

/// Nanoseconds per seal + open of a [`PROBE_LEN`]-byte packet, for each backend in
/// [`GcmBackend::ALL`] order (`u64::MAX` for a backend that failed its round trip).
pub fn measure() -> [u64; 2] {
    let probes = GcmBackend::ALL.map(GcmProbe::new);
    let mut best = [u64::MAX; 2];
    let mut data = vec![0u8; PROBE_LEN];
    let mut iv = 0u64;
    // Round 0 is the warm-up, untimed.
    for round in 0..=ROUNDS {
        for (probe, best) in probes.iter().zip(best.iter_mut()) {
            let Some(probe) = probe else {
                continue;
            };
            let n = if round == 0 { WARM_UP } else { PER_ROUND };
            let start = Instant::now();
            let mut ok = true;
            for _ in 0..n {
                iv = iv.wrapping_add(1);
                ok &= probe.seal_open(iv, &mut data);
            }
            let per = start.elapsed() / n;
            if !ok {
                // Never expected: such a backend is not chosen.
                *best = u64::MAX;
                continue;
            }
            if round > 0 {
                *best = (*best).min(nanos(per));
            }
        }
    }
    best
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faster_backend_wins_and_ring_breaks_ties() {
        assert_eq!(faster([600, 480]), GcmBackend::AwsLc);
        assert_eq!(faster([480, 600]), GcmBackend::Ring);
        assert_eq!(faster([500, 500]), GcmBackend::Ring);
        assert_eq!(faster([u64::MAX, 500]), GcmBackend::AwsLc);
    }

    #[test]
    fn both_backends_are_measured_and_the_choice_follows_the_numbers() {
        let c = AeadChoice::new(None);
        let ns = c.measured_ns.expect("auto measures");
        // A 1400-byte AES-GCM seal + open takes a few hundred nanoseconds on any CPU with
        // AES instructions, and well under a millisecond without.
        assert!(ns.iter().all(|n| (1..1_000_000).contains(n)), "{ns:?}");
        assert_eq!(c.backend, faster(ns));
        let shown = c.to_string();
        assert!(shown.contains("measured here: ring"), "{shown}");
        assert!(shown.contains("aws-lc-rs"), "{shown}");
    }

    #[test]
    fn a_configured_backend_is_used_without_measuring() {
        let c = AeadChoice::new(Some(GcmBackend::AwsLc));
        assert_eq!(c.backend, GcmBackend::AwsLc);
        assert_eq!(c.measured_ns, None);
        assert_eq!(c.to_string(), "aws-lc-rs (configured)");
    }
}
