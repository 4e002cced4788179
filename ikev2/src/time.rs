//! Deadline arithmetic that cannot panic: `Instant + Duration` overflows (and panics) for
//! durations the platform cannot represent, such as `Duration::MAX` used as "never".

use std::time::{Duration, Instant};

/// `now + d`, saturated: if that instant is not representable, the latest representable
/// instant after `now` that this finds by halving `d` (always at least `now`).
pub(crate) fn saturating_after(now: Instant, d: Duration) -> Instant {
    let mut step = d;
    loop {
        if let Some(t) = now.checked_add(step) {
            return t;
        }
        // Halving reaches zero after at most 96 steps, and `now + 0` always exists.
        step = step.checked_div(2).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_or_saturates() {
        let now = Instant::now();
        let s = Duration::from_secs(5);
        assert_eq!(saturating_after(now, s), now + s);
        let far = saturating_after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(365 * 86_400));
    }
}
