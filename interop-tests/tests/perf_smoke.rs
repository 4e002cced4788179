//! A one-minute throughput/latency smoke measurement of ipsecgw against itself in the Azure lab:
//! ipsecgw in `gw` (initiator, behind the EC2-style 1:1 NAT) and ipsecgw in `azure` (responder),
//! then the same lab with plain routing (no tunnel) as the ceiling. Prints a table; asserts
//! nothing about speed (performance lives in reports, not in assertions).
//!
//! ```text
//! cargo build --release -p gateway
//! cargo test -p interop-tests --test perf_smoke -- --ignored --nocapture
//! ```
//!
//! Environment:
//! * `PERF_SMOKE_SECS` (default 5): seconds per iperf3 run.
//! * `PERF_SMOKE_ONLY` = `tunnel` or `plain`: run only one half.
//! * `PERF_SMOKE_ESP` (default `aes256gcm16`): the ESP proposal.
//! * `PERF_SMOKE_PERF` = a directory: `perf record -g` both daemons during the 1-stream TCP run
//!   in each direction (`<dir>/out.data`: VPC->VNet, `<dir>/in.data`: VNet->VPC).
//!   `PERF_SMOKE_CALLGRAPH=dwarf` records call graphs that need no frame pointers.
//! * `IPSECGW_BIN`: the daemon to measure (default target/release/ipsecgw).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use interop_tests::gateway_config::{azure_side_toml, GatewayOpts};
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::netns::Netns;
use interop_tests::proc::Child;
use interop_tests::scenario::GW_CONN;
use interop_tests::topology::{
    AzureLab, LabOptions, AZURE_PUBLIC, GW_PRIVATE, VNET_HOST, VNET_PREFIX, VPC_PREFIX,
};
use interop_tests::traffic::{iperf3, ping, wait_for_ping, IperfOpts, PingOpts, PingResult};
use interop_tests::{bail, Error, Result};

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn secs() -> u32 {
    std::env::var("PERF_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// CPU time (user + system, clock ticks) of a process, and of the whole machine (busy, total).
fn proc_ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let g = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    g(11) + g(12)
}

fn machine_ticks() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = s.lines().next().unwrap_or("");
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// CPU use over a measured interval: each daemon in % of one core, the machine in % of all.
struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<u64>,
    machine: (u64, u64),
    t: Instant,
}

impl CpuMeter {
    fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            pids: pids.to_vec(),
            start: pids.iter().map(|p| proc_ticks(*p)).collect(),
            machine: machine_ticks(),
            t: Instant::now(),
        }
    }

    fn finish(&self) -> String {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let el = self.t.elapsed().as_secs_f64().max(1e-3);
        let mut out = String::new();
        for (pid, s0) in self.pids.iter().zip(&self.start) {
            let d = proc_ticks(*pid).saturating_sub(*s0) as f64 / hz;
            let _ = write!(out, "{:>4.0}% ", 100.0 * d / el);
        }
        let (b1, t1) = machine_ticks();
        let (b0, t0) = self.machine;
        let m = 100.0 * (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
        let _ = write!(out, "(all {m:.0}%)");
        out
    }
}

/// Records `perf record -g` of `pids` until dropped.
struct PerfRecord(Option<Child>);

impl PerfRecord {
    fn start(pids: &[u32], out: Option<&Path>, dir: &Path) -> PerfRecord {
        let Some(out) = out else {
            return PerfRecord(None);
        };
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let mut c = Command::new("perf");
        // `PERF_SMOKE_CALLGRAPH=dwarf` for call graphs through code without frame pointers.
        let cg = std::env::var("PERF_SMOKE_CALLGRAPH").unwrap_or_else(|_| "fp".into());
        c.args([
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "2000",
            "--call-graph",
            &cg,
            "-o",
        ])
        .arg(out)
        .args(["-p", &pids.join(",")]);
        PerfRecord(Child::spawn(c, "perf", dir).ok())
    }
}

impl Drop for PerfRecord {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            c.signal(libc::SIGINT);
            let _ = c.wait_timeout(Duration::from_secs(20));
        }
    }
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ping_row(r: &PingResult) -> String {
    format!(
        "p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  lost {}/{}",
        pct(&r.rtts_ms, 0.5),
        pct(&r.rtts_ms, 0.99),
        pct(&r.rtts_ms, 1.0),
        r.lost(),
        r.sent
    )
}

/// iperf3 UDP with 64-byte payloads at full rate; received datagrams per second.
fn udp_small(client: &Netns, server: &Netns, addr: &str, dir: &Path) -> Result<(f64, f64)> {
    let port = "5299";
    let mut s = server.command("iperf3");
    s.args(["-s", "-1", "-B", addr, "-p", port]);
    let mut srv = Child::spawn(s, "iperf3-udp-server", dir)?;
    std::thread::sleep(Duration::from_millis(300));
    let t = secs().to_string();
    let out = client
        .command("iperf3")
        .args([
            "-c", addr, "-p", port, "-u", "-b", "0", "-l", "64", "-J", "-t", &t,
        ])
        .output()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::new(format!("iperf3 UDP JSON: {e}")))?;
    let _ = srv.wait_timeout(Duration::from_secs(5));
    let sum = &json["end"]["sum"];
    let packets = sum["packets"].as_f64().unwrap_or(0.0);
    let lost = sum["lost_packets"].as_f64().unwrap_or(0.0);
    let seconds = sum["seconds"].as_f64().unwrap_or(1.0).max(1e-3);
    if packets == 0.0 {
        bail!("iperf3 UDP: no packets: {json}");
    }
    Ok(((packets - lost) / seconds, packets / seconds))
}

struct Setup<'a> {
    lab: &'a AzureLab,
    pids: Vec<u32>,
    perf_dir: Option<std::path::PathBuf>,
}

fn gbit(bps: f64) -> String {
    format!("{:6.2} Gbit/s", bps / 1e9)
}

/// Runs the measurement set and returns the table rows.
fn measure(s: &Setup<'_>, label: &str) -> Result<String> {
    let lab = s.lab;
    let dir = lab.dir.subdir(&format!("perf-{label}"))?;
    let mut t = String::new();
    let pi = PingOpts {
        count: 200,
        interval: Duration::from_millis(10),
        reply_timeout: Duration::from_secs(1),
        size: 56,
    };
    let idle = ping(&lab.vpc, VNET_HOST, &pi)?;
    let _ = writeln!(t, "{label:7} ping idle          {}", ping_row(&idle));

    let mut port = 5210;
    for (name, client, server, addr, reverse) in [
        ("VPC->VNet", &lab.vpc, &lab.vnet, VNET_HOST, false),
        ("VNet->VPC", &lab.vpc, &lab.vnet, VNET_HOST, true),
    ] {
        for parallel in [1, 4] {
            port += 1;
            let perf = if parallel == 1 {
                s.perf_dir.as_ref().map(|d| {
                    d.join(format!(
                        "{label}-{}.data",
                        if reverse { "in" } else { "out" }
                    ))
                })
            } else {
                None
            };
            let cpu = CpuMeter::start(&s.pids);
            let rec = PerfRecord::start(&s.pids, perf.as_deref(), &dir);
            let r = iperf3(
                client,
                server,
                addr,
                &IperfOpts {
                    port,
                    seconds: secs(),
                    reverse,
                    parallel,
                    udp_bitrate: None,
                    tcp_bitrate: None,
                },
                &dir,
            )?;
            drop(rec);
            let _ = writeln!(
                t,
                "{label:7} TCP {name} x{parallel}  {}  retr {:5}  cpu {}",
                gbit(r.received_bps),
                r.retransmits,
                cpu.finish()
            );
        }
    }

    let cpu = CpuMeter::start(&s.pids);
    let (rx_pps, tx_pps) = udp_small(&lab.vpc, &lab.vnet, VNET_HOST, &dir)?;
    let _ = writeln!(
        t,
        "{label:7} UDP 64 B VPC->VNet  {:7.0} kpps received ({:.0} kpps offered)  cpu {}",
        rx_pps / 1e3,
        tx_pps / 1e3,
        cpu.finish()
    );

    // Ping under a saturating TCP stream.
    let loaded = std::thread::scope(|sc| -> Result<(PingResult, f64)> {
        let h = sc.spawn(|| {
            iperf3(
                &lab.vpc,
                &lab.vnet,
                VNET_HOST,
                &IperfOpts {
                    port: 5230,
                    seconds: secs().max(3),
                    ..IperfOpts::default()
                },
                &dir,
            )
        });
        std::thread::sleep(Duration::from_millis(700));
        let p = ping(&lab.vpc, VNET_HOST, &PingOpts { count: 150, ..pi });
        let r = h
            .join()
            .map_err(|_| Error::new("iperf3 thread panicked"))??;
        Ok((p?, r.received_bps))
    })?;
    let _ = writeln!(
        t,
        "{label:7} ping under TCP load {}  (load {})",
        ping_row(&loaded.0),
        gbit(loaded.1).trim()
    );
    Ok(t)
}

fn plain(lab: &AzureLab, perf_dir: Option<std::path::PathBuf>) -> String {
    // Route VPC <-> VNet straight through gw -> nat -> azure (no NAT for these prefixes).
    must(
        lab.nat
            .ip(&["route", "add", VNET_PREFIX, "via", AZURE_PUBLIC]),
    );
    must(lab.nat.ip(&["route", "add", VPC_PREFIX, "via", GW_PRIVATE]));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10)));
    let rows = must(measure(
        &Setup {
            lab,
            pids: Vec::new(),
            perf_dir,
        },
        "plain",
    ));
    must(
        lab.nat
            .ip(&["route", "del", VNET_PREFIX, "via", AZURE_PUBLIC]),
    );
    must(lab.nat.ip(&["route", "del", VPC_PREFIX, "via", GW_PRIVATE]));
    rows
}

fn tunnel(lab: &AzureLab, perf_dir: Option<std::path::PathBuf>) -> String {
    let esp = std::env::var("PERF_SMOKE_ESP").unwrap_or_else(|_| "aes256gcm16".into());
    let adir = must(lab.dir.subdir("azure-gw"));
    let asock = adir.join("control.sock");
    let mut az = must(Ipsecgw::start_with_config(
        &lab.azure,
        &adir,
        &azure_side_toml(&asock, &esp),
        &asock,
    ));
    let gdir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(lab);
    opts.control_socket = gdir.join("control.sock");
    opts.log_level = "info".into();
    opts.esp_proposals = vec![esp.clone()];
    let mut gw = must(Ipsecgw::start_in_lab(lab, &lab.gw, &gdir, &opts));
    must(gw.wait_established(GW_CONN, Duration::from_secs(20)));
    must(az.wait_established(GW_CONN, Duration::from_secs(20)));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10)));
    let status = must(gw.status_text());
    let fast = status
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("fast path"))
        .collect::<Vec<_>>()
        .join("\n");
    let rows = must(measure(
        &Setup {
            lab,
            pids: vec![gw.child.pid(), az.child.pid()],
            perf_dir,
        },
        "tunnel",
    ));
    // TUN writes (the device's rx) and reads (tx) against the SAs' packet counts in the status
    // below: how well GRO/GSO coalescing works.
    let tun_io = |ns: &Netns| {
        let j = ns
            .ip(&["-s", "-j", "link", "show", "ipsecgw0"])
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap_or_default();
        let s = &v[0]["stats64"];
        format!(
            "TUN writes {} / reads {} (drops rx {} tx {})",
            s["rx"]["packets"], s["tx"]["packets"], s["rx"]["dropped"], s["tx"]["dropped"]
        )
    };
    let tun_gw = tun_io(&lab.gw);
    let tun_az = tun_io(&lab.azure);
    let status_after = must(gw.status_text());
    let az_after = must(az.status_text());
    drop(gw);
    drop(az);
    format!(
        "{rows}ESP {esp}; cpu columns: gw daemon, azure daemon (% of one core), machine\n\
         gw status: {fast}\ngw {tun_gw}\nazure {tun_az}\n--- gw status after ---\n{status_after}\n--- azure status after ---\n{az_after}"
    )
}

#[test]
#[ignore = "measurement: run with --ignored --nocapture as root"]
fn perf_smoke() {
    if !interop_tests::require_root("perf_smoke") {
        return;
    }
    let only = std::env::var("PERF_SMOKE_ONLY").unwrap_or_default();
    let perf_dir = std::env::var("PERF_SMOKE_PERF")
        .ok()
        .map(std::path::PathBuf::from);
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "perf-smoke".into(),
    }));
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = String::new();
    if only != "plain" {
        out.push_str(&tunnel(&lab, perf_dir.clone()));
    }
    if only != "tunnel" {
        out.push_str(&plain(&lab, perf_dir));
    }
    let load1 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\n=== perf_smoke ({} s per run; loadavg before {} after {}) ===\n{out}",
        secs(),
        load0.trim(),
        load1.trim()
    );
}
