//! Round-trip latency through the tunnel, idle and under load.

use std::time::Duration;

use interop_tests::netns::Netns;
use interop_tests::traffic::{ping, PingOpts};
use interop_tests::{bail, Result};

/// Median and 99th percentile RTT (ms) and the loss of one ping series.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub sent: u32,
    pub lost: u32,
}

/// The `q`-quantile (0..=1, nearest rank) of `v`.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

/// `count` pings from `ns` to `dst`, 10 ms apart.
pub fn latency(ns: &Netns, dst: &str, count: u32) -> Result<Latency> {
    let r = ping(
        ns,
        dst,
        &PingOpts {
            count,
            interval: Duration::from_millis(10),
            reply_timeout: Duration::from_secs(2),
            size: 56,
        },
    )?;
    if r.rtts_ms.is_empty() {
        bail!("no ping replies ({} sent)", r.sent);
    }
    Ok(Latency {
        p50_ms: quantile(&r.rtts_ms, 0.50),
        p99_ms: quantile(&r.rtts_ms, 0.99),
        sent: r.sent,
        lost: r.lost(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
    }
}
