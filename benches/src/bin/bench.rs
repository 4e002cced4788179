//! The end-to-end benchmark driver (run by `scripts/bench.sh`, as root): every tunnel kind in
//! turn in a fresh copy of the Azure lab, then a markdown report (and a JSON twin).
//!
//! Exit status: 0 when every selected kind came up and every measurement succeeded; 1 when the
//! report was written but something failed (see its rows); 2 on bad usage or no report.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::config::BenchConfig;
use benches::crypto;
use benches::machine;
use benches::measure::smb;
use benches::report::Report;
use benches::suite::{run_kind, SmbFiles};
use benches::tunnels::Tools;
use interop_tests::rundir::RunDir;

fn main() -> ExitCode {
    benches::signals::install_cleanup_on_signal();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--probe-vcpus"] {
        // The placement check alone (no root needed): docs/fast-path.md, "Two throughput phases".
        return match benches::measure::placement::cross_vcpu_rtt_ns() {
            Some(ns) => {
                let class = benches::measure::placement::describe(ns);
                println!("CPU 0 <-> CPU 1 cache-line round trip: {ns:.0} ns ({class})");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("bench: no answer from CPU 1 (one CPU, or CPU 1 busy)");
                ExitCode::from(1)
            }
        };
    }
    let cfg = match BenchConfig::parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if !interop_tests::require_root("bench") {
        return ExitCode::from(2);
    }
    match run(&cfg) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn crypto_ceiling(quick: bool) -> Vec<(String, String)> {
    let gbit = |bps: f64| format!("{:.2} Gbit/s", bps * 8.0 / 1e9);
    let mut out = Vec::new();
    let secs = if quick { 1 } else { 3 };
    let v = match crypto::openssl_aes256gcm(secs) {
        Ok(bps) => format!(
            "{} ({:.0} ns per packet)",
            gbit(bps),
            crypto::PACKET as f64 * 1e9 / bps
        ),
        Err(e) => format!("error: {e}"),
    };
    out.push(("openssl speed -evp aes-256-gcm -bytes 1400".to_string(), v));
    let dur = Duration::from_millis(if quick { 500 } else { 2000 });
    let v = match crypto::ring_seal(dur) {
        Ok(r) => format!(
            "{} ({:.0} ns per packet)",
            gbit(r.bytes_per_sec),
            r.ns_per_packet
        ),
        Err(e) => format!("error: {e}"),
    };
    out.push(("ring AES-256-GCM seal, 1400-byte packets".to_string(), v));
    // What the daemon measures at start to pick its AES-GCM implementation (the fastest of
    // eight rounds each, alternating).
    let v = gateway::platform::aead_backend::AeadChoice::new(None);
    out.push((
        "ipsecgw's AES-256-GCM backends, seal + open of one 1400-byte packet (aead_backend = \"auto\")".to_string(),
        format!("{v}"),
    ));
    out
}

fn run(cfg: &BenchConfig) -> interop_tests::Result<bool> {
    let t0 = Instant::now();
    let tools = Tools {
        ipsecgw: cfg.ipsecgw_bin.clone(),
        boringtun: cfg.boringtun_bin.clone(),
    };
    let tcp_cc = cfg.tcp_cc_in_use();
    // Kept until the report is written: the lab's namespaces may choose `--tcp-cc`.
    let _allowed = match &cfg.tcp_cc {
        Some(cc) => Some(benches::allowed_cc::allow(cc)?),
        None => None,
    };
    let mut report = Report {
        machine: machine::describe(
            &cfg.ipsecgw_bin.to_string_lossy(),
            &cfg.boringtun_bin.to_string_lossy(),
        ),
        settings: format!(
            "{}iperf3 {} s per run, TCP rows the median of {} runs, SMB file {} MiB, {} pings \
             per latency series, tunnel MTU {}, EC2-style 1:1 NAT between the gateways, {} s \
             idle before each tunnel kind, TCP congestion control of the VPC and VNet hosts \
             {} ({})",
            if cfg.quick { "--quick: " } else { "" },
            cfg.iperf_secs,
            cfg.tcp_runs,
            cfg.smb_bytes >> 20,
            cfg.ping_count,
            benches::tunnels::TUNNEL_MTU,
            cfg.settle_secs,
            tcp_cc.0,
            tcp_cc.1,
        ),
        ..Report::default()
    };
    eprintln!("bench: crypto ceiling");
    report.crypto = crypto_ceiling(cfg.quick);
    for (k, v) in &report.crypto {
        eprintln!("bench: {k}: {v}");
    }

    let files_dir = RunDir::new("bench-files")?;
    let source = files_dir.path().join("source.bin");
    let share = files_dir.subdir("share")?;
    if !cfg.no_smb {
        eprintln!(
            "bench: writing the {} MiB SMB test file",
            cfg.smb_bytes >> 20
        );
        smb::make_file(&source, cfg.smb_bytes)?;
        std::fs::hard_link(&source, share.join(smb::GET_NAME))?;
    }
    let files = SmbFiles {
        source: &source,
        share: &share,
    };

    let mut all_ok = true;
    for (i, kind) in cfg.kinds.iter().enumerate() {
        if i > 0 && cfg.settle_secs > 0 {
            eprintln!("bench: {} s idle before {kind:?}", cfg.settle_secs);
            std::thread::sleep(std::time::Duration::from_secs(cfg.settle_secs.into()));
        }
        let r = run_kind(*kind, cfg, &tools, &files);
        all_ok &= r.setup.is_ok()
            && r.values.values().all(|v| v.is_ok())
            && !matches!(r.hops, Some(Err(_)));
        report.results.push(r);
        report.total_secs = t0.elapsed().as_secs_f64();
        // Written after every kind, so an interrupted run still leaves the rows done so far.
        write(&report, &cfg.out)?;
    }
    drop(files_dir);
    report.total_secs = t0.elapsed().as_secs_f64();
    write(&report, &cfg.out)?;
    println!("{}", report.markdown());
    eprintln!("bench: report written to {}", cfg.out.display());
    Ok(all_ok)
}

fn write(report: &Report, out: &Path) -> interop_tests::Result<()> {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, report.markdown())?;
    let json = serde_json::to_string_pretty(&report.json()).unwrap_or_default();
    std::fs::write(out.with_extension("json"), json + "\n")?;
    Ok(())
}
