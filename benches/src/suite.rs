//! One tunnel kind from start to finish: a fresh lab, the tunnel, every measurement, teardown.

use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::error::Context;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST};
use interop_tests::traffic::wait_for_ping;
use interop_tests::{bail, Result};

use crate::config::BenchConfig;
use crate::measure::hops::{HopCapture, HopTable};
use crate::measure::{cpu, iperf, ping, placement, smb, udp_arrivals};
use crate::report::{KindResult, Metric};
use crate::tunnels::{self, Kind, Tools, Tunnel};

/// UDP payload that makes a 1400-byte IP packet (20 IP + 8 UDP): the tunnel MTU.
pub const UDP_FULL_PAYLOAD: u32 = 1372;
pub const UDP_SMALL_PAYLOAD: u32 = 64;

/// Shared across kinds: the SMB source file and share directory.
pub struct SmbFiles<'a> {
    pub source: &'a Path,
    pub share: &'a Path,
}

fn log(kind: Kind, msg: &str) {
    eprintln!("bench [{}] {msg}", kind.id());
}

/// Records `r` under `m` (mapped by `f`), logging it.
fn record<T>(out: &mut KindResult, m: Metric, r: &Result<T>, f: impl Fn(&T) -> f64, unit: &str) {
    let v = match r {
        Ok(x) => {
            let v = f(x);
            log(out.kind, &format!("{}: {v:.3} {unit}", m.key()));
            Ok(v)
        }
        Err(e) => {
            log(out.kind, &format!("{}: ERROR {e}", m.key()));
            Err(e.to_string())
        }
    };
    out.values.insert(m, v);
}

/// Runs everything for `kind`; never fails (failures are in the result).
pub fn run_kind(kind: Kind, cfg: &BenchConfig, tools: &Tools, files: &SmbFiles) -> KindResult {
    let start = Instant::now();
    let mut res = KindResult::new(kind);
    log(kind, "setting up");
    let lab = match AzureLab::new(LabOptions {
        nat: true,
        label: format!("bench-{}", kind.id()),
    }) {
        Ok(l) => l,
        Err(e) => {
            res.setup = Err(format!("lab: {e}"));
            return res;
        }
    };
    if let Some(cc) = &cfg.tcp_cc {
        // The hosts whose TCP the rows measure (and SMB's); the gateways terminate no TCP.
        let set = [&lab.vpc, &lab.vnet]
            .iter()
            .try_for_each(|ns| ns.sysctl("net.ipv4.tcp_congestion_control", cc));
        if let Err(e) = set {
            res.setup = Err(format!(
                "--tcp-cc {cc}: {e} (the names this kernel offers are in \
                 /proc/sys/net/ipv4/tcp_available_congestion_control)"
            ));
            return res;
        }
    }
    match bring_up(kind, &lab, tools) {
        Err(e) => {
            log(kind, &format!("FAILED to come up: {e}"));
            res.setup = Err(e.to_string());
        }
        Ok(tunnel) => {
            res.setup = Ok(tunnel.describe());
            log(kind, &format!("up after {:.1?}", start.elapsed()));
            measure(&mut res, &lab, tunnel.as_ref(), cfg, files);
            if let Some(c) = tunnel.counters() {
                log(kind, &c);
            }
            drop(tunnel);
        }
    }
    drop(lab);
    res.secs = start.elapsed().as_secs_f64();
    log(kind, &format!("done in {:.0} s", res.secs));
    res
}

fn bring_up(kind: Kind, lab: &AzureLab, tools: &Tools) -> Result<Box<dyn Tunnel>> {
    let tunnel = tunnels::start(kind, lab, tools)?;
    wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(20))
        .context("no traffic through the tunnel")?;
    Ok(tunnel)
}

/// Runs `f` between two placement probes (`measure::placement`), recorded under `m`.
fn probed<T>(res: &mut KindResult, m: Metric, f: impl FnOnce() -> T) -> T {
    let before = placement::cross_vcpu_rtt_ns();
    let r = f();
    let after = placement::cross_vcpu_rtt_ns();
    res.placement.insert(m, (before, after));
    let ns = |v: Option<f64>| v.map_or("no answer".to_string(), |v| format!("{v:.0} ns"));
    log(
        res.kind,
        &format!("  vCPU round trip: {} → {}", ns(before), ns(after)),
    );
    r
}

fn measure(
    res: &mut KindResult,
    lab: &AzureLab,
    tunnel: &dyn Tunnel,
    cfg: &BenchConfig,
    files: &SmbFiles,
) {
    let dir = match lab.dir.subdir("measure") {
        Ok(d) => d,
        Err(e) => {
            res.setup = Err(e.to_string());
            return;
        }
    };
    let (vpc, vnet) = (&lab.vpc, &lab.vnet);
    let secs = cfg.iperf_secs;
    let mbps = |o: &iperf::Outcome| o.bps / 1e6;

    let idle = ping::latency(vpc, VNET_HOST, cfg.ping_count);
    record(res, Metric::PingIdleP50, &idle, |l| l.p50_ms, "ms");
    record(res, Metric::PingIdleP99, &idle, |l| l.p99_ms, "ms");
    if cfg.hop_trace && res.kind != Kind::Plain {
        let traced = traced_pings(lab, cfg, &dir, false);
        log_hops(res.kind, "idle", &traced);
        res.idle_hops = Some(traced.map_err(|e| e.to_string()));
    }

    // TCP, each row the median of `tcp_runs` runs, with CPU accounting over all of them.
    let pids = tunnel.pids();
    let before = cpu::sample(&pids);
    let mut bytes = 0u64;
    let tcp = [
        (Metric::Tcp1Up, false, 1),
        (Metric::Tcp1Down, true, 1),
        (Metric::Tcp4Up, false, 4),
        (Metric::Tcp4Down, true, 4),
    ];
    for (m, reverse, streams) in tcp {
        let spec = iperf::Spec {
            secs,
            reverse,
            streams,
            udp_len: None,
        };
        let mut runs = Vec::new();
        let mut last_err = None;
        for _ in 0..cfg.tcp_runs {
            match probed(res, m, || iperf::run(vpc, vnet, VNET_HOST, spec, &dir)) {
                Ok(o) => {
                    bytes += o.bytes;
                    log(
                        res.kind,
                        &format!(
                            "  {}: {:.0} Mbit/s, retransmits: {}",
                            m.key(),
                            mbps(&o),
                            o.retransmits
                        ),
                    );
                    runs.push((o, res.placement.get(&m).copied()));
                }
                Err(e) => {
                    log(res.kind, &format!("  {}: ERROR {e}", m.key()));
                    last_err = Some(e);
                }
            }
        }
        res.runs
            .insert(m, runs.iter().map(|(o, _)| mbps(o)).collect());
        let r = match median_run(runs) {
            Some((o, placement)) => {
                if let Some(p) = placement {
                    res.placement.insert(m, p);
                }
                Ok(o)
            }
            None => Err(last_err.unwrap_or_else(|| interop_tests::Error::new("no run"))),
        };
        record(res, m, &r, mbps, "Mbit/s");
    }
    let after = cpu::sample(&pids);
    let (per_proc, per_host) = cpu::per_gb(before, after, bytes);
    let proc_val = if pids.is_empty() { f64::NAN } else { per_proc };
    record(res, Metric::CpuTunnel, &Ok(proc_val), |v| *v, "s/GB");
    record(res, Metric::CpuHost, &Ok(per_host), |v| *v, "s/GB");

    // Latency under load: one TCP stream AWS -> Azure while pinging.
    let loaded = probed(res, Metric::PingLoadP99, || loaded_pings(lab, cfg, &dir));
    record(res, Metric::PingLoadP50, &loaded, |l| l.p50_ms, "ms");
    record(res, Metric::PingLoadP99, &loaded, |l| l.p99_ms, "ms");
    if cfg.hop_trace && res.kind != Kind::Plain {
        let traced = traced_pings(lab, cfg, &dir, true);
        log_hops(res.kind, "loaded", &traced);
        res.hops = Some(traced.map_err(|e| e.to_string()));
    }

    // UDP at full rate, counting what reached the VNet host's UDP layer.
    for (len, m_rate, m_loss, m_sent, m_arrived) in [
        (
            UDP_FULL_PAYLOAD,
            Metric::Udp1400Mbps,
            Metric::Udp1400Loss,
            Metric::Udp1400SentKpps,
            Metric::Udp1400ArrivedKpps,
        ),
        (
            UDP_SMALL_PAYLOAD,
            Metric::Udp64Kpps,
            Metric::Udp64Loss,
            Metric::Udp64SentKpps,
            Metric::Udp64ArrivedKpps,
        ),
    ] {
        let spec = iperf::Spec {
            secs,
            reverse: false,
            streams: 1,
            udp_len: Some(len),
        };
        let before = udp_arrivals::sample(vnet);
        let r = probed(res, m_rate, || iperf::run(vpc, vnet, VNET_HOST, spec, &dir));
        let after = udp_arrivals::sample(vnet);
        let arrived = match (&r, before, after) {
            (Ok(o), Ok(b), Ok(a)) => Ok(a.arrived_since(&b) as f64 / o.seconds.max(1e-9) / 1e3),
            (Err(e), _, _) => Err(interop_tests::Error::new(e.to_string())),
            (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        };
        record(res, m_sent, &r, |o| o.sent_pps() / 1e3, "kpps sent");
        record(res, m_arrived, &arrived, |v| *v, "kpps at the VNet host");
        if len == UDP_SMALL_PAYLOAD {
            record(res, m_rate, &r, |o| o.received_pps() / 1e3, "kpps");
        } else {
            record(res, m_rate, &r, mbps, "Mbit/s");
        }
        record(res, m_loss, &r, |o| o.loss_percent(), "% lost");
    }

    if !cfg.no_smb {
        measure_smb(res, lab, cfg, files);
    }
}

/// The ping series under load: one TCP stream AWS -> Azure, pinging from its second second on.
fn loaded_pings(lab: &AzureLab, cfg: &BenchConfig, dir: &Path) -> Result<ping::Latency> {
    let run = iperf::start(
        &lab.vpc,
        &lab.vnet,
        VNET_HOST,
        iperf::Spec {
            secs: cfg.ping_count / 30 + 5,
            reverse: false,
            streams: 1,
            udp_len: None,
        },
        dir,
    )?;
    std::thread::sleep(Duration::from_secs(1));
    let pinged = ping::latency(&lab.vpc, VNET_HOST, cfg.ping_count);
    run.abort();
    pinged
}

/// A second ping series, idle or `loaded`, with `tcpdump` in both gateway namespaces
/// (`measure::hops`).
fn traced_pings(lab: &AzureLab, cfg: &BenchConfig, dir: &Path, loaded: bool) -> Result<HopTable> {
    let capture = HopCapture::start(&lab.gw, &lab.azure, dir)?;
    let pinged = if loaded {
        loaded_pings(lab, cfg, dir)
    } else {
        ping::latency(&lab.vpc, VNET_HOST, cfg.ping_count)
    };
    let table = capture.finish()?;
    pinged?;
    if table.traced == 0 {
        bail!("no round trip could be followed through both gateways");
    }
    Ok(table)
}

fn log_hops(kind: Kind, series: &str, traced: &Result<HopTable>) {
    match traced {
        Ok(t) => log(
            kind,
            &format!(
                "  {series} ping hops: {} round trips traced, p50 {:.0} µs, p99 {:.0} µs",
                t.traced, t.total_us[0], t.total_us[2]
            ),
        ),
        Err(e) => log(kind, &format!("  {series} ping hops: ERROR {e}")),
    }
}

/// The run with the median rate (the lower middle one of an even count), with its
/// placement probe.
fn median_run<P>(mut runs: Vec<(iperf::Outcome, P)>) -> Option<(iperf::Outcome, P)> {
    runs.sort_by(|a, b| a.0.bps.total_cmp(&b.0.bps));
    let mid = runs.len().checked_sub(1)? / 2;
    Some(runs.swap_remove(mid))
}

fn measure_smb(res: &mut KindResult, lab: &AzureLab, cfg: &BenchConfig, files: &SmbFiles) {
    // Allow down to ~20 Mbit/s before giving up.
    let timeout = Duration::from_secs((cfg.smb_bytes * 8 / 20_000_000).max(60));
    let server = lab
        .dir
        .subdir("smbd")
        .and_then(|d| smb::start_server(&lab.vnet, VNET_HOST, files.share, &d));
    match server {
        Ok(srv) => {
            let get = srv.get(&lab.vpc, cfg.smb_bytes, timeout);
            record(res, Metric::SmbGet, &get, |v| *v, "Mbit/s");
            let put = srv.put(&lab.vpc, files.source, cfg.smb_bytes, timeout);
            record(res, Metric::SmbPut, &put, |v| *v, "Mbit/s");
        }
        Err(e) => {
            let e: Result<f64> = Err(e);
            record(res, Metric::SmbGet, &e, |v| *v, "");
            record(res, Metric::SmbPut, &e, |v| *v, "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bps: f64) -> (iperf::Outcome, u32) {
        let o = iperf::Outcome {
            bps,
            ..iperf::Outcome::default()
        };
        (o, bps as u32)
    }

    #[test]
    fn median_run_keeps_the_middle_rate_and_its_probe() {
        let (o, p) = median_run(vec![run(7.0), run(5.0), run(6.0)]).unwrap();
        assert_eq!((o.bps, p), (6.0, 6));
        let (o, _) = median_run(vec![run(7.0), run(5.0)]).unwrap();
        assert_eq!(o.bps, 5.0, "even count: the lower middle");
        assert_eq!(median_run(vec![run(3.0)]).unwrap().1, 3);
        assert!(median_run::<u32>(Vec::new()).is_none());
    }
}
