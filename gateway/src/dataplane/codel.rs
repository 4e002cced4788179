//! CoDel (RFC 8289) for the standing queue in front of an inbound worker: the UDP 4500 socket
//! receive queue.
//!
//! The kernel queues ESP datagrams in the socket until the inbound worker reads them; under a
//! saturating TCP stream that queue holds milliseconds of packets and every other flow (a ping,
//! a Kerberos exchange) waits behind it. The worker cannot reorder the queue, but it knows each
//! datagram's sojourn time (kernel receive timestamp, `SO_TIMESTAMPNS`, to the read) and so can
//! run CoDel at dequeue: once the sojourn has stayed above `target` for `interval`, mark or drop
//! one packet, then the next ones at `interval / sqrt(count)` (RFC 8289 section 3.3, 5.5).
//!
//! Differences from the RFC's pseudo-code (section 5), for a queue we do not own:
//! * One decision per packet as it is read: the RFC's "drop several at once when behind
//!   schedule" loop becomes one drop per packet until `drop_next` is ahead again.
//! * A packet may be exempt (see `aqm::FatFlows`: only packets of a flow that holds a large
//!   share of the recent bytes are marked or dropped, like fq_codel sparing sparse flows). An
//!   exempt packet never counts as a drop, so CoDel's schedule waits for the next eligible one.
//! * The RFC's "queue holds less than one MTU" escape has no equivalent (the queue length is
//!   not known); a sojourn under `target` ends the dropping state the same way.
//!
//! Time is in nanoseconds of any clock that does not go backwards over the run (the worker
//! passes `CLOCK_REALTIME`, the clock of the kernel timestamps; a step backwards only makes
//! sojourns read as zero).

use std::time::Duration;

/// CoDel's two parameters (RFC 8289 4.3, 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodelParams {
    /// Acceptable standing queue delay.
    pub target: Duration,
    /// How long the delay must stay above `target` before acting; about a worst-case RTT of
    /// the flows through the queue.
    pub interval: Duration,
}

impl CodelParams {
    /// RFC 8289 4.3/4.4's values, right for RTTs up to ~100 ms (any pair of AWS and Azure
    /// regions); the daemon's default (`[daemon] aqm_target`, `aqm_interval`).
    pub const RFC8289: CodelParams = CodelParams {
        target: Duration::from_millis(5),
        interval: Duration::from_millis(100),
    };
}

/// What to do with the packet just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it.
    Pass,
    /// Signal congestion with it: set ECN CE if it is ECN-capable, otherwise drop it.
    Signal,
}

/// CoDel state for one queue (RFC 8289 5.1 names in comments).
#[derive(Debug, Clone)]
pub struct Codel {
    target: u64,
    interval: u64,
    /// `first_above_time`: when the sojourn will have been above target for an interval.
    first_above: Option<u64>,
    /// `dropping`: in the dropping state.
    dropping: bool,
    /// `drop_next`: when the next signal is due.
    drop_next: u64,
    /// `count`: signals since entering the dropping state (plus carry-over, RFC 8289 5.6).
    count: u32,
    /// `lastcount`.
    lastcount: u32,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Codel {
    pub fn new(p: CodelParams) -> Self {
        Self {
            target: nanos(p.target),
            interval: nanos(p.interval).max(1),
            first_above: None,
            dropping: false,
            drop_next: 0,
            count: 0,
            lastcount: 0,
        }
    }

    /// True while CoDel is in its dropping state.
    pub fn dropping(&self) -> bool {
        self.dropping
    }

    /// True when the sojourn is above target (the queue is building): the caller only needs
    /// to track flows then.
    pub fn above_target(&self, sojourn: u64) -> bool {
        sojourn >= self.target
    }

    /// RFC 8289 5.5 `control_law`: the next signal time, `interval / sqrt(count)` after `t`.
    fn control_law(&self, t: u64, count: u32) -> u64 {
        let c = f64::from(count.max(1));
        // The quotient is at most `interval`, so the cast cannot overflow.
        t.saturating_add((self.interval as f64 / c.sqrt()) as u64)
    }

    /// RFC 8289 5.4 `dodequeue`'s `ok_to_drop`: has the sojourn been above target for at
    /// least an interval?
    fn ok_to_drop(&mut self, now: u64, sojourn: u64) -> bool {
        if sojourn < self.target {
            self.first_above = None;
            return false;
        }
        match self.first_above {
            None => {
                self.first_above = Some(now.saturating_add(self.interval));
                false
            }
            Some(t) => now >= t,
        }
    }

    /// Decides for one packet read at `now` that waited `sojourn` in the queue. `eligible`
    /// says whether this packet may carry the signal (see the module comment).
    pub fn on_dequeue(&mut self, now: u64, sojourn: u64, eligible: bool) -> Verdict {
        let ok = self.ok_to_drop(now, sojourn);
        if self.dropping {
            if !ok {
                // RFC 8289 5.5: sojourn went below target, leave the dropping state.
                self.dropping = false;
                return Verdict::Pass;
            }
            if eligible && now >= self.drop_next {
                self.count = self.count.saturating_add(1);
                self.drop_next = self.control_law(self.drop_next, self.count);
                return Verdict::Signal;
            }
            return Verdict::Pass;
        }
        if ok && eligible {
            // RFC 8289 5.6: enter the dropping state; if it was left recently, resume near the
            // previous drop rate instead of starting over.
            self.dropping = true;
            let delta = self.count.saturating_sub(self.lastcount);
            self.count = if delta > 1 && now.saturating_sub(self.drop_next) < 16 * self.interval {
                delta
            } else {
                1
            };
            self.drop_next = self.control_law(now, self.count);
            self.lastcount = self.count;
            return Verdict::Signal;
        }
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn codel() -> Codel {
        Codel::new(CodelParams {
            target: Duration::from_millis(5),
            interval: Duration::from_millis(100),
        })
    }

    /// Feeds one packet every `step` ns from `start` for `len` ns with a fixed sojourn;
    /// returns the times of the signals.
    fn run(c: &mut Codel, start: u64, len: u64, step: u64, sojourn: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut t = start;
        while t < start + len {
            if c.on_dequeue(t, sojourn, true) == Verdict::Signal {
                out.push(t);
            }
            t += step;
        }
        out
    }

    #[test]
    fn a_short_queue_is_never_signalled() {
        let mut c = codel();
        // 4.9 ms of queue for ten seconds: below target.
        assert!(run(&mut c, 0, 10_000 * MS, MS, 4_900_000).is_empty());
        assert!(!c.dropping());
    }

    #[test]
    fn a_burst_shorter_than_an_interval_is_never_signalled() {
        let mut c = codel();
        // 50 ms above target, then drained: a good queue (RFC 8289 section 2).
        assert!(run(&mut c, 0, 50 * MS, MS, 20 * MS).is_empty());
        assert!(run(&mut c, 50 * MS, 500 * MS, MS, 0).is_empty());
        // And again: the timer restarted when the queue drained.
        assert!(run(&mut c, 550 * MS, 99 * MS, MS, 20 * MS).is_empty());
    }

    #[test]
    fn a_standing_queue_is_signalled_after_one_interval_then_faster() {
        let mut c = codel();
        let s = run(&mut c, 0, 1_000 * MS, MS, 20 * MS);
        // First signal one interval after the queue was first seen above target.
        assert_eq!(s.first(), Some(&(100 * MS)));
        // Then at interval/sqrt(count): 100/1 after the first, 100/sqrt(2) = 70.7 ms, ...
        let gaps: Vec<u64> = s.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[0], 100 * MS);
        assert_eq!(gaps[1], 71 * MS, "100 ms / sqrt 2, at 1 ms packet spacing");
        assert!(gaps.windows(2).all(|g| g[1] <= g[0]), "{gaps:?}");
        assert!(c.dropping());
    }

    #[test]
    fn dropping_ends_when_the_sojourn_falls_below_target() {
        let mut c = codel();
        let s = run(&mut c, 0, 400 * MS, MS, 20 * MS);
        assert!(!s.is_empty());
        assert_eq!(c.on_dequeue(400 * MS, MS, true), Verdict::Pass);
        assert!(!c.dropping());
    }

    #[test]
    fn re_entering_soon_resumes_near_the_previous_rate() {
        let mut c = codel();
        let first = run(&mut c, 0, 2_000 * MS, MS, 20 * MS);
        let late_gap = first[first.len() - 1] - first[first.len() - 2];
        // Drained briefly, then a standing queue again.
        run(&mut c, 2_000 * MS, 10 * MS, MS, 0);
        let second = run(&mut c, 2_010 * MS, 600 * MS, MS, 20 * MS);
        let gap = second[1] - second[0];
        assert!(
            gap < 100 * MS && gap <= late_gap * 2,
            "resumed gap {gap} vs earlier {late_gap}"
        );
    }

    #[test]
    fn exempt_packets_pass_and_the_next_eligible_one_carries_the_signal() {
        let mut c = codel();
        let mut t = 0;
        while t < 100 * MS {
            assert_eq!(c.on_dequeue(t, 20 * MS, true), Verdict::Pass);
            t += MS;
        }
        // Due now, but this packet is exempt (a sparse flow).
        assert_eq!(c.on_dequeue(t, 20 * MS, false), Verdict::Pass);
        assert_eq!(c.on_dequeue(t + 1, 20 * MS, true), Verdict::Signal);
    }
}
