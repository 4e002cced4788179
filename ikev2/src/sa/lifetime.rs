//! Rekey deadlines (RFC 7296 2.8): the soft lifetime with a random jitter so both ends
//! rarely start a rekey at the same instant, and the hard lifetime.

use crate::config::Lifetime;
use crate::crypto::Random;
use std::time::{Duration, Instant};

/// A uniformly random duration in `[0, max]` with nanosecond resolution.
pub(crate) fn jitter(rng: &mut dyn Random, max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    // The modulo bias is below 2^-20 for any jitter shorter than ~17 years.
    let r = u64::from_be_bytes(b)
        .checked_rem(nanos.saturating_add(1))
        .unwrap_or_default();
    Duration::from_nanos(r)
}

/// (soft, hard) deadlines of an SA established at `now`: rekey at `rekey_time - jitter`
/// (jitter in `[0, rand_time]`, never before `now`), delete at `life_time`.
pub(crate) fn deadlines(
    now: Instant,
    lt: &Lifetime,
    rng: &mut dyn Random,
) -> (Option<Instant>, Option<Instant>) {
    let rekey = (!lt.rekey_time.is_zero()).then(|| {
        let j = jitter(rng, lt.rand_time.min(lt.rekey_time));
        now.checked_add(lt.rekey_time.saturating_sub(j))
            .unwrap_or(now)
    });
    let expire = (!lt.life_time.is_zero()).then(|| now.checked_add(lt.life_time).unwrap_or(now));
    (rekey, expire)
}

/// When to retry a rekey the peer refused (TEMPORARY_FAILURE, RFC 7296 2.25: "retry
/// later"): 2 to 10 s from now, random so two colliding peers do not collide again.
pub(crate) fn retry_at(now: Instant, rng: &mut dyn Random) -> Instant {
    let d = Duration::from_secs(2).saturating_add(jitter(rng, Duration::from_secs(8)));
    now.checked_add(d).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SeededRandom;

    #[test]
    fn deadlines_fall_in_the_jitter_window() {
        let mut rng = SeededRandom::new(7);
        let now = Instant::now();
        let lt = Lifetime {
            rekey_time: Duration::from_secs(100),
            rand_time: Duration::from_secs(10),
            life_time: Duration::from_secs(120),
        };
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let (r, e) = deadlines(now, &lt, &mut rng);
            let r = r.unwrap() - now;
            assert!(
                r >= Duration::from_secs(90) && r <= Duration::from_secs(100),
                "{r:?}"
            );
            assert_eq!(e.unwrap() - now, Duration::from_secs(120));
            distinct.insert(r.subsec_nanos());
        }
        assert!(distinct.len() > 900, "sub-second resolution");
        let (r, e) = deadlines(now, &Lifetime::unlimited(), &mut rng);
        assert_eq!((r, e), (None, None));
    }
}
