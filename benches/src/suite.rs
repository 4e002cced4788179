//! One tunnel kind from start to finish: a fresh lab, the tunnel, every measurement, teardown.

use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::error::Context;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST};
use interop_tests::traffic::wait_for_ping;
use interop_tests::Result;

use crate::config::BenchConfig;
use crate::measure::{cpu, iperf, ping, placement, smb};
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

    // TCP, with CPU accounting over the four runs.
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
        let r = probed(res, m, || iperf::run(vpc, vnet, VNET_HOST, spec, &dir));
        if let Ok(o) = &r {
            bytes += o.bytes;
            log(res.kind, &format!("  retransmits: {}", o.retransmits));
        }
        record(res, m, &r, mbps, "Mbit/s");
    }
    let after = cpu::sample(&pids);
    let (per_proc, per_host) = cpu::per_gb(before, after, bytes);
    let proc_val = if pids.is_empty() { f64::NAN } else { per_proc };
    record(res, Metric::CpuTunnel, &Ok(proc_val), |v| *v, "s/GB");
    record(res, Metric::CpuHost, &Ok(per_host), |v| *v, "s/GB");

    // Latency under load: one TCP stream AWS -> Azure while pinging.
    let load_secs = cfg.ping_count / 30 + 5;
    let loaded = probed(res, Metric::PingLoadP99, || {
        iperf::start(
            vpc,
            vnet,
            VNET_HOST,
            iperf::Spec {
                secs: load_secs,
                reverse: false,
                streams: 1,
                udp_len: None,
            },
            &dir,
        )
        .and_then(|run| {
            std::thread::sleep(Duration::from_secs(1));
            let l = ping::latency(vpc, VNET_HOST, cfg.ping_count);
            run.abort();
            l
        })
    });
    record(res, Metric::PingLoadP50, &loaded, |l| l.p50_ms, "ms");
    record(res, Metric::PingLoadP99, &loaded, |l| l.p99_ms, "ms");

    // UDP at full rate.
    for (len, m_rate, m_loss) in [
        (UDP_FULL_PAYLOAD, Metric::Udp1400Mbps, Metric::Udp1400Loss),
        (UDP_SMALL_PAYLOAD, Metric::Udp64Kpps, Metric::Udp64Loss),
    ] {
        let spec = iperf::Spec {
            secs,
            reverse: false,
            streams: 1,
            udp_len: Some(len),
        };
        let r = probed(res, m_rate, || iperf::run(vpc, vnet, VNET_HOST, spec, &dir));
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
