//! `ping` from inside a namespace, parsed.

use std::time::Duration;

use crate::error::{Context, Result};
use crate::netns::Netns;
use crate::proc::wait_for;

#[derive(Debug, Clone, Copy)]
pub struct PingOpts {
    pub count: u32,
    /// Between echo requests (iputils allows down to 2 ms as root).
    pub interval: Duration,
    /// How long to wait for the last reply.
    pub reply_timeout: Duration,
    /// ICMP payload bytes.
    pub size: u32,
}

impl Default for PingOpts {
    fn default() -> PingOpts {
        PingOpts {
            count: 10,
            interval: Duration::from_millis(20),
            reply_timeout: Duration::from_secs(1),
            size: 56,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PingResult {
    pub sent: u32,
    pub received: u32,
    /// Round-trip times of the replies, in milliseconds, in arrival order.
    pub rtts_ms: Vec<f64>,
    /// `icmp_seq` of every reply, in arrival order (1-based, as ping prints them).
    pub seqs: Vec<u32>,
}

impl PingResult {
    /// True when ping sent every one of the `requested` echo requests: a ping that failed to
    /// start, or stopped early (e.g. "Network unreachable"), parses as 0 sent and 0 received,
    /// and a loss check on such a result alone proves nothing.
    pub fn ran_in_full(&self, requested: u32) -> bool {
        self.sent == requested
    }

    /// For pings bounded by time rather than count: at least 95 % of `requested` went out.
    pub fn ran_mostly(&self, requested: u32) -> bool {
        u64::from(self.sent) * 100 >= u64::from(requested) * 95
    }

    /// The `icmp_seq` numbers (1..=sent) that got no reply: with the interval, when in the
    /// run each loss happened.
    pub fn lost_seqs(&self) -> Vec<u32> {
        let got: std::collections::BTreeSet<u32> = self.seqs.iter().copied().collect();
        (1..=self.sent).filter(|s| !got.contains(s)).collect()
    }

    pub fn lost(&self) -> u32 {
        self.sent.saturating_sub(self.received)
    }

    pub fn avg_rtt_ms(&self) -> Option<f64> {
        (!self.rtts_ms.is_empty())
            .then(|| self.rtts_ms.iter().sum::<f64>() / self.rtts_ms.len() as f64)
    }

    /// Parses iputils `ping -n` output.
    pub fn parse(out: &str) -> PingResult {
        let mut r = PingResult::default();
        for line in out.lines() {
            if let Some(seq) = line
                .split(" icmp_seq=")
                .nth(1)
                .and_then(|t| t.split_whitespace().next()?.parse().ok())
            {
                if line.contains(" time=") {
                    r.seqs.push(seq);
                }
            }
            if let Some(t) = line.split(" time=").nth(1) {
                if let Some(ms) = t.split_whitespace().next().and_then(|v| v.parse().ok()) {
                    r.rtts_ms.push(ms);
                }
            }
            if line.contains("packets transmitted") {
                let nums: Vec<u32> = line
                    .split(',')
                    .filter_map(|f| f.split_whitespace().next()?.parse().ok())
                    .collect();
                if nums.len() >= 2 {
                    r.sent = nums[0];
                    r.received = nums[1];
                }
            }
        }
        r
    }
}

/// Pings `dst` from `ns`. Loss is reported in the result, not as an error.
pub fn ping(ns: &Netns, dst: &str, opts: &PingOpts) -> Result<PingResult> {
    let interval = format!("{:.3}", opts.interval.as_secs_f64());
    let wait = opts.reply_timeout.as_secs().max(1).to_string();
    let out = ns
        .command("ping")
        .args([
            "-n",
            "-c",
            &opts.count.to_string(),
            "-i",
            &interval,
            "-W",
            &wait,
        ])
        .args(["-s", &opts.size.to_string(), dst])
        .output()
        .context(format!("ping {dst} in {}", ns.name()))?;
    Ok(PingResult::parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Readiness check: single pings until one is answered.
pub fn wait_for_ping(ns: &Netns, dst: &str, timeout: Duration) -> Result<()> {
    let one = PingOpts {
        count: 1,
        ..PingOpts::default()
    };
    wait_for(
        &format!("a ping reply from {dst} in {}", ns.name()),
        timeout,
        || {
            ping(ns, dst, &one)
                .map(|r| r.received == 1)
                .unwrap_or(false)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iputils_output() {
        let out = "PING 10.1.0.10 (10.1.0.10) 56(84) bytes of data.\n\
                   64 bytes from 10.1.0.10: icmp_seq=1 ttl=62 time=0.512 ms\n\
                   64 bytes from 10.1.0.10: icmp_seq=3 ttl=62 time=1.50 ms\n\n\
                   --- 10.1.0.10 ping statistics ---\n\
                   3 packets transmitted, 2 received, 33.3333% packet loss, time 41ms\n";
        let r = PingResult::parse(out);
        assert_eq!((r.sent, r.received, r.lost()), (3, 2, 1));
        assert_eq!(r.rtts_ms, vec![0.512, 1.5]);
        assert!(r.ran_in_full(3) && !r.ran_in_full(4));
        assert_eq!(r.seqs, vec![1, 3]);
        assert_eq!(r.lost_seqs(), vec![2]);
    }

    #[test]
    fn a_ping_that_never_ran_is_not_complete() {
        let r = PingResult::parse("ping: connect: Network is unreachable\n");
        assert_eq!((r.sent, r.received), (0, 0));
        assert!(!r.ran_in_full(10) && !r.ran_mostly(10));
        let r = PingResult {
            sent: 95,
            received: 95,
            ..PingResult::default()
        };
        assert!(r.ran_mostly(100) && !r.ran_mostly(101) && !r.ran_in_full(100));
    }
}
