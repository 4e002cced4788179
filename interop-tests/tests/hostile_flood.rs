//! A spoofed-source flood against ipsecgw's public address while an established tunnel to a
//! real strongSwan ("Azure") carries a continuous ping (vpc -> vnet, 50/s).
//!
//! The attacker namespace (interop_tests::flood) sends IKE_SA_INIT requests (random TEST-NET
//! sources, 10% spoofing the peer's address) and garbage ESP-in-UDP (random SPIs, and the live
//! inbound SPI from the peer's address), each at >= 20,000/s, for the ping window of
//! HOSTILE_FLOOD_SECS (default 10; 60 for the full run) plus the checks that follow it.
//!
//! Asserted (issue 9; the bounds are the constants below):
//! - the flooder reached >= 20,000 packets/s of each kind (packets the kernel accepted);
//! - every ping of the window was sent and none was lost; the tunnel stayed established and
//!   the daemon alive;
//! - a new IKE SA can be set up while the flood goes on: strongSwan deletes its IKE SA and
//!   initiates a new one, which gets in through a COOKIE exchange (RFC 7296 2.6) although
//!   spoofed IKE_SA_INITs from the peer's own address drain its per-source budget;
//! - the daemon's RSS peaks at most [`RSS_PEAK_GROWTH_KIB`] above its baseline and returns
//!   within [`RSS_AFTER_GROWTH_KIB`] of it after the flood;
//! - its log (at `info`) stays within [`LOG_FIXED_BYTES`] + [`LOG_BYTES_PER_SEC`] per second
//!   of the window: drops are counted, not logged one line per packet, and summarised per
//!   cause at most once per 10 s (a line naming `bad_icv` must appear).
//!
//! Also reported: ping p50/p99 before and during, CPU, packets at the gateway, UDP receive
//! buffer overflows, drop counters.
//! Needs root; skips loudly otherwise.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use interop_tests::flood::{
    cpu_secs, link_packets, parse_flood_summary, percentile, rss_kib, rss_split_kib, udp_counters,
    Attacker, MemSampler,
};
use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::proc::{wait_for, Child};
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, LogLevels};
use interop_tests::topology::{AzureLab, LabOptions, AZURE_PUBLIC, GW_PUBLIC, VNET_HOST};
use interop_tests::traffic::{ping, wait_for_ping, PingOpts, PingResult};
use interop_tests::Result;

static SERIAL: Mutex<()> = Mutex::new(());

/// The flooder's target rate per kind, and the rate each kind must reach (issue 9: >= 20,000/s
/// of each). The flooder paces itself, so it aims a little above the floor.
const FLOOD_RATE_TARGET: u64 = 21_000;
const FLOOD_RATE_MIN: f64 = 20_000.0;
/// The daemon's peak RSS during the flood may exceed its baseline by at most this much.
const RSS_PEAK_GROWTH_KIB: u64 = 16 * 1024;
/// After the flood, RSS must be back within this much of the baseline.
const RSS_AFTER_GROWTH_KIB: u64 = 2 * 1024;
/// Log bytes the daemon may write (at `info`) during the ping window: a fixed allowance plus a
/// rate, far below one line per bad packet (~40,000 packets/s would be megabytes per second).
const LOG_FIXED_BYTES: u64 = 8 * 1024;
const LOG_BYTES_PER_SEC: u64 = 512;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn flood_secs() -> u64 {
    std::env::var("HOSTILE_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn summary(label: &str, p: &PingResult) -> String {
    format!(
        "{label}: {}/{} received, {} lost, rtt p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        p.received,
        p.sent,
        p.lost(),
        percentile(&p.rtts_ms, 50.0).unwrap_or(f64::NAN),
        percentile(&p.rtts_ms, 99.0).unwrap_or(f64::NAN),
        percentile(&p.rtts_ms, 100.0).unwrap_or(f64::NAN),
    )
}

/// Time until `cond` holds (polling), or None after `timeout`.
fn time_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn spoofed_ike_and_esp_flood_keeps_the_tunnel_up() {
    if !interop_tests::require_root("hostile_flood") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let secs = flood_secs();
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "hostile-flood".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    // Production log level: the log volume under attack is one of the measurements.
    opts.log_level = std::env::var("HOSTILE_FLOOD_LOG").unwrap_or_else(|_| "info".into());
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &opts));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let status = must(gw.status_json());
    let live_spi = status
        .pointer("/tunnels/0/child_sas/0/spi_in")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no inbound SPI in status: {status}"))
        .to_string();
    let pid = gw.child.pid();
    let attacker = must(Attacker::attach(&lab));

    // Baseline: 5 s of 50/s pings.
    let ping_opts = |count| PingOpts {
        count,
        interval: Duration::from_millis(20),
        ..PingOpts::default()
    };
    let base = must(ping(&lab.vpc, VNET_HOST, &ping_opts(250)));
    let (rss_before, _) = rss_kib(pid).expect("ipsecgw RSS");
    let split_before = rss_split_kib(pid);
    let log_before = file_len(gw.child.stderr_path());
    let cpu_before = cpu_secs(pid).unwrap_or(0.0);
    let rx_before = link_packets(&lab.gw, "out0").map_or(0, |c| c.0);
    let udp_before = udp_counters(&lab.gw).unwrap_or_default();

    // The flood runs for the ping window (which stretches when the CPU is busy: up to twice
    // its nominal length is allowed) plus time for the re-establishment checks; it is stopped
    // as soon as those are done.
    let ping_budget = 2 * secs + 15;
    let reestablish_budget = 40;
    let flood_bin = Path::new(env!("CARGO_BIN_EXE_flood"));
    let mut args: Vec<String> = [
        "--target",
        GW_PUBLIC,
        "--secs",
        &(ping_budget + reestablish_budget).to_string(),
        "--ike-rate",
        &FLOOD_RATE_TARGET.to_string(),
        "--esp-rate",
        &FLOOD_RATE_TARGET.to_string(),
        "--live-spi",
        &live_spi,
        "--peer",
        AZURE_PUBLIC,
        "--peer-share",
        "10",
        "--seed",
        "9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in interop_tests::flood::SPOOF_NETS {
        args.push("--src-net".into());
        args.push(n.to_string());
    }
    let sampler = MemSampler::start(pid, Duration::from_millis(100));
    let mut flood = must(attacker.flood(flood_bin, lab.dir.path(), &args));
    std::thread::sleep(Duration::from_millis(500));
    assert!(flood.is_running(), "flooder died: {}", flood.stderr());

    // During: 50/s pings for the flood window.
    let count = secs * 50;
    let mut cmd = lab.vpc.command("ping");
    cmd.args([
        "-n",
        "-i",
        "0.02",
        "-W",
        "1",
        "-c",
        &count.to_string(),
        VNET_HOST,
    ]);
    let t_window = Instant::now();
    let mut ping_child = must(Child::spawn(cmd, "ping-during-flood", lab.dir.path()));
    must(ping_child.wait_timeout(Duration::from_secs(ping_budget)));
    // The window's real length (ping falls behind its 20 ms interval on a busy CPU).
    let window = t_window.elapsed().as_secs_f64();
    let during = PingResult::parse(&ping_child.stdout());
    let log_during = file_len(gw.child.stderr_path()) - log_before;
    let cpu_during = cpu_secs(pid).unwrap_or(0.0) - cpu_before;
    let rx_during = link_packets(&lab.gw, "out0").map_or(0, |c| c.0) - rx_before;
    let status_during = gw.status_json().ok();
    let udp_after = udp_counters(&lab.gw).unwrap_or_default();
    let state_after_window = gw.tunnel_state(GW_CONN).unwrap_or_default();
    let alive_after_window = gw.child.is_running();

    // A new IKE SA while the flood goes on: strongSwan (the peer) deletes its IKE SA and
    // initiates a new one, so our responder path is exercised while spoofed IKE_SA_INITs from
    // the peer's address drain its per-source budget and fill the half-open slots: the peer gets
    // in only with a COOKIE (RFC 7296 2.6). (Not `ipsecgw terminate`: that drops every IKE SA
    // of the peer, the spoofed half-open ones included, which would hide the problem.)
    let mut reestablish = vec![];
    let cookies_before = cookie_lines(&azure);
    let mut by_peer = false;
    if alive_after_window {
        let _ = azure.terminate_ike("onprem", Duration::from_secs(5));
        let gone = time_until(Duration::from_secs(5), || {
            gw.tunnel_state(GW_CONN).is_ok_and(|s| s != "established")
        });
        let t0 = Instant::now();
        by_peer = azure
            .initiate("onprem-net", Duration::from_secs(15))
            .is_ok()
            && time_until(Duration::from_secs(5), || {
                gw.tunnel_state(GW_CONN).is_ok_and(|s| s == "established")
            })
            .is_some()
            && wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)).is_ok();
        reestablish.push(format!(
            "peer-initiated new IKE SA during the flood: {} after {:.1?} (old SA gone on our side: {})",
            if by_peer { "ESTABLISHED" } else { "FAILED" },
            t0.elapsed(),
            gone.is_some()
        ));
        if !by_peer {
            let t0 = Instant::now();
            let r = gw.initiate(GW_CONN);
            let ok = time_until(Duration::from_secs(15), || {
                gw.tunnel_state(GW_CONN).is_ok_and(|s| s == "established")
            });
            reestablish.push(format!(
                "ipsecgw-initiated new IKE SA during the flood: {} after {:.1?} (initiate: {})",
                if ok.is_some() {
                    "ESTABLISHED"
                } else {
                    "FAILED"
                },
                t0.elapsed(),
                match r {
                    Ok(_) => "accepted".to_string(),
                    Err(e) => e.to_string().lines().next().unwrap_or("").to_string(),
                }
            ));
        }
    }
    let cookies = cookie_lines(&azure) - cookies_before;
    let flood_still_running = flood.is_running();

    // Stop the flood (by PID) and collect.
    flood.signal(libc::SIGTERM);
    let _ = flood.wait_timeout(Duration::from_secs(5));
    let samples = sampler.finish();
    let log_flood = file_len(gw.child.stderr_path()) - log_before;
    let flood_summary = parse_flood_summary(&flood.stdout());
    let rate = |k: &str| {
        flood_summary
            .as_ref()
            .and_then(|v| v.get(k)?.as_f64())
            .unwrap_or(0.0)
    };
    let (ike_rate, esp_rate) = (rate("ike_rate"), rate("esp_rate"));
    let (rss_end, hwm) = rss_kib(pid).unwrap_or((0, 0));
    let peak = samples.iter().copied().max().unwrap_or(0).max(hwm);
    let status = gw.status_json().ok();
    let drops = status
        .as_ref()
        .and_then(|s| s.pointer("/tunnels/0/drops").cloned())
        .unwrap_or_default();

    // After the flood: first the daemon's own retries (every 5 s, for 20 s), then the
    // operator's `terminate` + `initiate` (which also drops the peer's spoofed half-open SAs).
    let t_rec = Instant::now();
    let mut attempts = 0;
    let up = |gw: &Ipsecgw| gw.tunnel_state(GW_CONN).is_ok_and(|s| s == "established");
    let mut recovered_by = "automatic retries";
    let mut recovered = time_until(Duration::from_secs(20), || {
        if up(&gw) {
            return true;
        }
        if t_rec.elapsed().as_secs() >= attempts * 5 {
            attempts += 1;
            let _ = gw.initiate(GW_CONN);
        }
        false
    });
    if recovered.is_none() {
        recovered_by = "terminate + initiate";
        let _ = gw.terminate(GW_CONN);
        let _ = gw.initiate(GW_CONN);
        recovered = time_until(Duration::from_secs(30), || up(&gw)).map(|_| t_rec.elapsed());
    }
    let ping_after = wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10));
    // Memory back to its baseline: the spoofed half-open SAs expire within their 30 s timeout
    // (5 s while cookies are required), so allow that long.
    let t_rss = Instant::now();
    let mut rss_after = rss_end;
    let rss_back = time_until(Duration::from_secs(35), || {
        rss_after = rss_kib(pid).map_or(u64::MAX, |r| r.0);
        rss_after <= rss_before + RSS_AFTER_GROWTH_KIB
    });
    let split_after = rss_split_kib(pid);

    eprintln!("==== hostile flood report ({secs} s nominal ping window, {window:.1} s real) ====");
    eprintln!(
        "flooder: {}",
        flood_summary
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or("?".into())
    );
    eprintln!("flood rate reached: {ike_rate:.0} IKE_SA_INIT/s, {esp_rate:.0} garbage ESP/s");
    eprintln!("{}", summary("ping before", &base));
    eprintln!("{}", summary("ping during", &during));
    eprintln!(
        "ipsecgw RSS: before {rss_before} KiB, peak {peak} KiB (sampled max and VmHWM), at the end \
         of the flood {rss_end} KiB, after {rss_after} KiB ({} within {RSS_AFTER_GROWTH_KIB} KiB \
         of the baseline {:.1?} after recovery)",
        if rss_back.is_some() { "back" } else { "NOT back" },
        t_rss.elapsed()
    );
    let split = |s: Option<(u64, u64)>| {
        s.map_or("?".into(), |(a, f)| format!("anon {a} KiB + file {f} KiB"))
    };
    eprintln!(
        "ipsecgw RSS split: before {}, after {}",
        split(split_before),
        split(split_after)
    );
    eprintln!(
        "ipsecgw log: {log_during} bytes during the ping window ({:.0} B/s), {log_flood} bytes over \
         the whole flood",
        log_during as f64 / window
    );
    eprintln!(
        "gateway out0 received {rx_during} packets in the window ({:.0}/s); ipsecgw CPU {cpu_during:.2} s ({:.0}% of one core)",
        rx_during as f64 / window,
        100.0 * cpu_during / window
    );
    eprintln!(
        "gw UDP in the window: {} datagrams delivered to sockets, {} no port, {} errors, {} receive-buffer overflows",
        udp_after.0 - udp_before.0,
        udp_after.1 - udp_before.1,
        udp_after.2 - udp_before.2,
        udp_after.3 - udp_before.3
    );
    eprintln!(
        "tunnel drop counters at the end of the window: {}",
        status_during
            .as_ref()
            .and_then(|s| s.pointer("/tunnels/0/drops").cloned())
            .unwrap_or_default()
    );
    eprintln!("tunnel after the window: {state_after_window}, daemon alive: {alive_after_window}");
    for r in &reestablish {
        eprintln!("{r}");
    }
    eprintln!("strongSwan received {cookies} IKE_SA_INIT response(s) carrying a COOKIE meanwhile");
    eprintln!("drop counters of the new SA at the end: {drops}");
    eprintln!(
        "after the flood: tunnel {} after {:.1?} via {recovered_by} ({attempts} automatic initiate attempt(s)), traffic {}",
        if recovered.is_some() { "up" } else { "NOT up" },
        recovered.unwrap_or(t_rec.elapsed()),
        if ping_after.is_ok() {
            "flows"
        } else {
            "does NOT flow"
        }
    );
    let nat_conntrack = Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.nat.name(),
            "cat",
            "/proc/sys/net/netfilter/nf_conntrack_count",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    eprintln!("nat conntrack entries at the end: {nat_conntrack}");
    if std::env::var("HOSTILE_FLOOD_LOG").is_ok() {
        let log = gw.log();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("ipsecgw log: {} lines; last 12:", lines.len());
        for l in &lines[lines.len().saturating_sub(12)..] {
            eprintln!("  {l}");
        }
    }

    assert!(
        alive_after_window,
        "ipsecgw died under the flood: {}",
        gw.log()
    );
    assert!(
        flood_still_running,
        "the flooder stopped before the end of the checks: {}",
        flood.stderr()
    );
    assert!(
        ike_rate >= FLOOD_RATE_MIN && esp_rate >= FLOOD_RATE_MIN,
        "the flood did not reach {FLOOD_RATE_MIN}/s of each kind: {ike_rate:.0} IKE/s, \
         {esp_rate:.0} ESP/s"
    );
    assert_eq!(
        state_after_window, "established",
        "the tunnel went down during the flood"
    );
    assert_eq!(
        base.sent, 250,
        "baseline ping did not send every echo: {base:?}"
    );
    assert_eq!(
        base.received, base.sent,
        "pings lost before the flood (lab problem)"
    );
    assert_eq!(
        u64::from(during.sent),
        count,
        "ping during the flood did not send every echo: {}/{count}",
        during.sent
    );
    assert_eq!(
        during.lost(),
        0,
        "pings lost during the flood: {}",
        summary("during", &during)
    );
    assert!(
        by_peer,
        "no new IKE SA could be set up during the flood: {reestablish:?}\nipsecgw: {}\nstrongSwan log:{}",
        gw.status_text().unwrap_or_default(),
        interop_tests::strongswan::log_tail(&azure, 40)
    );
    assert!(
        cookies > 0,
        "the new IKE SA got in without a COOKIE: the defences were not engaged"
    );
    let log_bound = LOG_FIXED_BYTES + LOG_BYTES_PER_SEC * window.ceil() as u64;
    assert!(
        log_during <= log_bound,
        "ipsecgw logged {log_during} bytes in {window:.1} s of flood (bound {log_bound} bytes)"
    );
    // The operator still sees the attack in the log: a summary per drop-log interval naming
    // the causes (the garbage ESP on the live SA fails its ICV).
    let log = gw.log();
    let summaries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("dropped in the last"))
        .collect();
    eprintln!("drop summaries: {summaries:#?}");
    assert!(
        summaries.iter().any(|l| l.contains("bad_icv")),
        "no rate-limited drop summary naming bad_icv in the log:\n{log}"
    );
    assert!(
        peak <= rss_before + RSS_PEAK_GROWTH_KIB,
        "ipsecgw RSS grew from {rss_before} KiB to {peak} KiB under the flood (bound +{RSS_PEAK_GROWTH_KIB} KiB)"
    );
    assert!(
        rss_back.is_some(),
        "ipsecgw RSS {rss_after} KiB did not return within {RSS_AFTER_GROWTH_KIB} KiB of its \
         baseline {rss_before} KiB"
    );
    assert!(
        recovered.is_some(),
        "tunnel did not come back after the flood, not even after terminate + initiate: {}",
        gw.status_text().unwrap_or_default()
    );
    ping_after.unwrap_or_else(|e| panic!("no traffic after the flood: {e}"));
    must(wait_for("ipsecgw alive", Duration::from_secs(1), || {
        gw.child.is_running()
    }));
    drop(attacker);
}

/// Lines in which strongSwan parsed an IKE_SA_INIT response carrying a COOKIE notify (it logs
/// `parsed IKE_SA_INIT response 0 [ N(COOKIE) ]`, then retries with the cookie).
fn cookie_lines(azure: &Charon) -> usize {
    azure
        .log()
        .lines()
        .filter(|l| l.contains("parsed IKE_SA_INIT response") && l.contains("N(COOKIE)"))
        .count()
}
