//! Tunnels that stay up (issue #6) against a real strongSwan as the Azure VPN Gateway:
//! rekeys from both sides without loss, a PFS soak (2 minutes by default;
//! `LIFECYCLE_SOAK_SECS=600` for the 10-minute run), dead peer detection after `kill -9` of
//! strongSwan, `kill -9` of ipsecgw and restart, and the underlay going down and up.
//! Needs root; skips loudly otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::proc::{wait_for, wait_for_some};
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, CharonConfig, LogLevels, StartAction};
use interop_tests::topology::{AzureLab, LabOptions, GW_OUTSIDE_IF, VNET_HOST};
use interop_tests::traffic::report::record;
use interop_tests::traffic::{iperf3, ping, wait_for_ping, IperfOpts, PingOpts, PingResult};
use interop_tests::Result;

static SERIAL: Mutex<()> = Mutex::new(());
/// The soak's TCP stream rate (iperf3 `-b`).
const SOAK_TCP_RATE: &str = "200M";

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn num(gw: &Ipsecgw, pointer: &str) -> u64 {
    must(gw.status_json())
        .pointer(pointer)
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pings vpc -> vnet at 50/s for `secs` on a thread while `during` runs.
fn ping_while<T>(lab: &AzureLab, secs: u64, during: impl FnOnce() -> T) -> (PingResult, T) {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            ping(
                &lab.vpc,
                VNET_HOST,
                &PingOpts {
                    count: (secs * 50) as u32,
                    interval: Duration::from_millis(20),
                    ..PingOpts::default()
                },
            )
        });
        let r = during();
        (must(h.join().expect("ping thread")), r)
    })
}

fn gw_opts(lab: &AzureLab, dir: &std::path::Path) -> GatewayOpts {
    let mut o = GatewayOpts::azure_default(lab);
    o.control_socket = dir.join("control.sock");
    o.log_level = "info".into();
    o
}

/// Both sides rekey: strongSwan forces a CHILD and an IKE rekey, ipsecgw rekeys on its own
/// short lifetimes; not one ping of a 50/s stream is lost and one SA pair remains.
#[test]
fn rekeys_from_both_sides_lose_nothing() {
    if !interop_tests::require_root("rekeys_from_both_sides_lose_nothing") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "rekey".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.rekey_time = Some(Duration::from_secs(16));
    o.extra_conn = "rand_time = \"2s\"\n".into();
    o.child_rekey_time = Some(Duration::from_secs(10));
    o.extra_child = "rand_time = \"2s\"\n".into();
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let (p, ()) = ping_while(&lab, 24, || {
        std::thread::sleep(Duration::from_secs(3));
        must(azure.rekey_child("onprem-net"));
        std::thread::sleep(Duration::from_secs(3));
        must(azure.rekey_ike("onprem"));
    });
    // Old inbound SAs leave after the grace period; the peer's lists settle.
    must(azure.wait_exact_sas(1, Some(1), Duration::from_secs(15)));
    let child_rekeys = num(&gw, "/tunnels/0/child_rekeys");
    let ike_rekeys = num(&gw, "/tunnels/0/ike_rekeys");
    record(
        "lifecycle",
        "rekeys_from_both_sides_lose_nothing",
        &format!(
            "{}/{} pings answered ({} requested), {child_rekeys} CHILD and {ike_rekeys} IKE rekeys seen by ipsecgw",
            p.received,
            p.sent,
            24 * 50
        ),
    );
    eprintln!("{}", must(gw.status_text()));
    assert!(
        p.ran_in_full(24 * 50),
        "the ping stream did not run in full: {p:?}"
    );
    assert!(
        child_rekeys >= 2,
        "CHILD rekeys (ours and strongSwan's): {child_rekeys}"
    );
    assert!(
        ike_rekeys >= 2,
        "IKE rekeys (ours and strongSwan's): {ike_rekeys}"
    );
    assert_eq!(
        p.received,
        p.sent,
        "pings lost across rekeys: {} of {}",
        p.sent - p.received,
        p.sent
    );
    assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
    let st = must(gw.status_json());
    assert_eq!(
        st.pointer("/tunnels/0/child_sas")
            .and_then(|c| c.as_array())
            .map(|a| a.len()),
        Some(1),
        "{st}"
    );
}

/// Both sides at short lifetimes (CHILD 20 s with PFS, IKE 30 s), a 50/s ping and an iperf3
/// TCP stream for the whole run: report lost pings, retransmits and rekeys.
#[test]
fn soak_with_pfs_rekeys_from_both_sides() {
    if !interop_tests::require_root("soak_with_pfs_rekeys_from_both_sides") {
        return;
    }
    soak("soak_with_pfs_rekeys_from_both_sides", true);
}

/// The same soak without PFS (CHILD rekeys without a key exchange, as Azure's default policy
/// does).
#[test]
fn soak_without_pfs_rekeys_from_both_sides() {
    if !interop_tests::require_root("soak_without_pfs_rekeys_from_both_sides") {
        return;
    }
    soak("soak_without_pfs_rekeys_from_both_sides", false);
}

fn soak(test: &str, pfs: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let secs = env_secs("LIFECYCLE_SOAK_SECS", 120);
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: if pfs { "soak" } else { "soak-nopfs" }.into(),
    }));
    // Lifetimes of seconds, but hard expiry 15 s after the rekey time on both sides, as at
    // Azure's lifetimes (hours) there is room for retransmissions: with strongSwan's default
    // (10 %: 3 s) one IKE message lost under the TCP load killed the IKE SA before
    // strongSwan's first retransmission (4 s), and the tunnel with it (seen in CI).
    let conn = azure_conn(&lab)
        .pfs(pfs.then_some("modp2048"))
        .lifetimes(Duration::from_secs(30), Duration::from_secs(20))
        .margins(Duration::from_secs(15), Duration::from_secs(3));
    let azure = must(start_azure(&lab, conn, LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.esp_proposals = vec![if pfs {
        "aes256gcm16-modp2048"
    } else {
        "aes256gcm16"
    }
    .into()];
    o.rekey_time = Some(Duration::from_secs(30));
    o.extra_conn = "over_time = \"15s\"\nrand_time = \"3s\"\n".into();
    o.child_rekey_time = Some(Duration::from_secs(20));
    o.extra_child = "life_time = \"35s\"\nrand_time = \"3s\"\n".into();
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let t0 = Instant::now();
    // When ipsecgw counted each rekey (polled), to set beside the times of lost pings.
    let done = std::sync::atomic::AtomicBool::new(false);
    let (p, iperf, rekey_times) = std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut seen = (0, 0);
            let mut times = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let now = (
                    num(&gw, "/tunnels/0/child_rekeys"),
                    num(&gw, "/tunnels/0/ike_rekeys"),
                );
                if now.0 > seen.0 {
                    times.push(format!("CHILD@{:.1}s", t0.elapsed().as_secs_f64()));
                }
                if now.1 > seen.1 {
                    times.push(format!("IKE@{:.1}s", t0.elapsed().as_secs_f64()));
                }
                seen = now;
                std::thread::sleep(Duration::from_millis(200));
            }
            times
        });
        let (p, iperf) = ping_while(&lab, secs, || {
            iperf3(
                &lab.vpc,
                &lab.vnet,
                VNET_HOST,
                // Paced below what the shared 2 cores forward, so a lost ping means a rekey
                // lost it, not a queue the TCP stream filled (unpaced, pings far from any
                // rekey were lost in 2 of 8 runs).
                &IperfOpts {
                    seconds: secs as u32,
                    tcp_bitrate: Some(SOAK_TCP_RATE.into()),
                    ..IperfOpts::default()
                },
                lab.dir.path(),
            )
        });
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (p, iperf, poller.join().expect("status poller"))
    });
    let lost_at: Vec<String> = p
        .lost_seqs()
        .iter()
        .map(|s| format!("{:.2}s", f64::from(s - 1) * 0.02))
        .collect();
    let child_rekeys = num(&gw, "/tunnels/0/child_rekeys");
    let ike_rekeys = num(&gw, "/tunnels/0/ike_rekeys");
    let listing = must(azure.list_sas());
    record(
        "lifecycle",
        test,
        &format!(
            "{secs}s: {}/{} pings ({} lost, {} requested), iperf3 {}, {child_rekeys} CHILD / {ike_rekeys} IKE rekeys in {:.0?}",
            p.received,
            p.sent,
            p.sent.saturating_sub(p.received),
            secs * 50,
            match &iperf {
                Ok(r) => format!("{:.1} Mbit/s, {} TCP retransmits", r.received_bps / 1e6, r.retransmits),
                Err(e) => format!("failed: {e}"),
            },
            t0.elapsed()
        ),
    );
    // Where packets were lost: strongSwan's kernel-libipsec reads ESP and IKE from one UDP
    // socket, which overflows under the TCP stream (measured: its overflow count equals
    // iperf3's retransmits); an IKE message lost there is what the margins above cover.
    let overflows = |ns: &interop_tests::netns::Netns| {
        ns.udp_rcvbuf_errors()
            .map_or_else(|e| format!("? ({e})"), |n| n.to_string())
    };
    record(
        "lifecycle",
        test,
        &format!(
            "lost pings sent at {lost_at:?}; rekeys seen at {rekey_times:?}; ipsecgw drops {}; UDP receive-buffer overflows: strongSwan's namespace {}, ipsecgw's {}",
            must(gw.status_json())
                .pointer("/tunnels/0/drops")
                .map(|d| d.to_string())
                .unwrap_or_default(),
            overflows(&lab.azure),
            overflows(&lab.gw),
        ),
    );
    eprintln!("{listing}");
    assert!(
        p.ran_in_full((secs * 50) as u32),
        "the ping stream did not run in full: {p:?}"
    );
    assert!(
        child_rekeys >= secs / 20,
        "too few CHILD rekeys: {child_rekeys}"
    );
    assert!(ike_rekeys >= secs / 40, "too few IKE rekeys: {ike_rekeys}");
    assert_eq!(
        listing.contains("MODP_2048"),
        pfs,
        "PFS group use by the rekeyed CHILD SA (PFS {pfs}):\n{listing}"
    );
    assert!(must(iperf).received_bps > 0.0, "the TCP stream died");
    // The goal is zero, and most runs reach it (2026-12-04: 0 of 30000 in 10 minutes; 0 of
    // 6000 in three of four CI-length runs). The one exception lost 8 pings spread over 40 s,
    // only one of them (by its nominal send time) near a rekey, on the shared 2-core machine.
    // The exact count and the
    // times of lost pings against the rekey times are recorded above and printed by CI; the
    // assertion allows 0.2 % so that such scheduling noise does not fail the run.
    let lost = p.sent.saturating_sub(p.received);
    assert!(
        u64::from(lost) * 500 <= u64::from(p.sent),
        "{lost} of {} pings lost during the soak (lost at {lost_at:?}; rekeys at {rekey_times:?})",
        p.sent
    );
    // With 20 s / 30 s lifetimes on both sides a rekey and the DELETE of what it replaced
    // can straddle the end of the run (seen: the old IKE SA went 16 s after the stream
    // stopped): allow a full IKE lifetime and a half for one SA pair to remain.
    must(azure.wait_exact_sas(1, Some(1), Duration::from_secs(45)));
}

/// `kill -9` of strongSwan: ipsecgw declares the peer dead within dpd_delay + dpd_timeout;
/// when the peer returns (Azure initiates in its Default mode) traffic flows again at once.
#[test]
fn peer_killed_is_detected_and_tunnel_returns() {
    if !interop_tests::require_root("peer_killed_is_detected_and_tunnel_returns") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "dpd".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.dpd_delay = Some(Duration::from_secs(2));
    o.extra_conn = "dpd_timeout = \"9s\"\ndpd_action = \"restart\"\n".into();
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    // SAFETY (test): SIGKILL to the charon we started, by PID.
    unsafe { libc::kill(azure.pid() as libc::pid_t, libc::SIGKILL) };
    let killed = Instant::now();
    let dead = must(wait_for_some(
        "ipsecgw to declare the peer dead",
        Duration::from_secs(20),
        || (num(&gw, "/tunnels/0/dpd_failures") >= 1).then(|| killed.elapsed()),
    ));
    record(
        "lifecycle",
        "peer_killed_is_detected_and_tunnel_returns",
        &format!("peer declared dead {dead:.1?} after kill -9 (dpd_delay 2s + dpd_timeout 9s)"),
    );
    assert!(
        dead <= Duration::from_secs(13),
        "dead peer detected too late: {dead:?}"
    );
    drop(azure);
    // The peer comes back (a new charon, Azure's Default mode: it initiates too).
    let dir2 = must(lab.dir.subdir("azure-restarted"));
    let back = Instant::now();
    let azure = must(Charon::start(
        &lab.azure,
        &dir2,
        &CharonConfig::new(vec![azure_conn(&lab).start_action(StartAction::Start)]),
    ));
    must(azure.route_via_tun(&lab.azure, interop_tests::topology::VPC_PREFIX));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(30)));
    let up = back.elapsed();
    record(
        "lifecycle",
        "peer_killed_is_detected_and_tunnel_returns",
        &format!("traffic flows again {up:.1?} after the peer returned"),
    );
    must(azure.wait_exact_sas(1, None, Duration::from_secs(20)));
    assert!(
        up <= Duration::from_secs(10),
        "tunnel back too late: {up:?}"
    );
}

/// `kill -9` of ipsecgw, then restart: traffic within 5 s, and the peer holds exactly one
/// IKE SA (INITIAL_CONTACT makes it drop the stale one).
#[test]
fn gateway_killed_and_restarted() {
    if !interop_tests::require_root("gateway_killed_and_restarted") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "restart".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let o = gw_opts(&lab, &dir);
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    gw.child.signal(libc::SIGKILL);
    let _ = gw.child.wait_timeout(Duration::from_secs(5));
    drop(gw);
    let t0 = Instant::now();
    let dir2 = must(lab.dir.subdir("gw-restarted"));
    let mut o2 = o.clone();
    o2.control_socket = dir2.join("control.sock");
    let _gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir2, &o2));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10)));
    let up = t0.elapsed();
    must(azure.wait_exact_sas(1, Some(1), Duration::from_secs(10)));
    record(
        "lifecycle",
        "gateway_killed_and_restarted",
        &format!("traffic flows {up:.2?} after restarting ipsecgw; the peer holds 1 IKE SA"),
    );
    eprintln!("{}", must(azure.list_sas()));
    assert!(up <= Duration::from_secs(5), "traffic back after {up:?}");
}

/// The underlay goes down (20 s by default, `LINK_DOWN_SECS=60` as in the issue) and comes
/// back: the tunnel recovers by itself.
#[test]
fn underlay_down_and_up_recovers() {
    if !interop_tests::require_root("underlay_down_and_up_recovers") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let down_secs = env_secs("LINK_DOWN_SECS", 20);
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "linkdown".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.dpd_delay = Some(Duration::from_secs(3));
    o.extra_conn = "dpd_timeout = \"10s\"\n".into();
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(lab.gw.ip(&["link", "set", GW_OUTSIDE_IF, "down"]));
    std::thread::sleep(Duration::from_secs(down_secs));
    must(lab.gw.ip(&["link", "set", GW_OUTSIDE_IF, "up"]));
    // The default route went with the link: put it back as the instance's network would.
    let _ = lab.gw.route_via("default", lab.nat_gw_side_addr());
    let t0 = Instant::now();
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(90)));
    let up = t0.elapsed();
    must(gw.wait_established(GW_CONN, Duration::from_secs(30)));
    record(
        "lifecycle",
        "underlay_down_and_up_recovers",
        &format!("link down {down_secs}s: traffic back {up:.1?} after the link returned"),
    );
    eprintln!("{}", must(gw.status_text()));
    must(azure.wait_exact_sas(1, None, Duration::from_secs(60)));
}

/// Holds every IKE datagram at the NAT router (nothing crosses between gw and azure on UDP
/// 500/4500) until [`release_ike`].
fn hold_ike(lab: &AzureLab) {
    let path = lab.dir.path().join("hold-ike.nft");
    must(
        std::fs::write(
            &path,
            "table inet holdike {\n\tchain hold { type filter hook forward priority 0; policy accept; \
             udp dport { 500, 4500 } drop; }\n}\n",
        )
        .map_err(Into::into),
    );
    must(lab.nat.run("nft", &["-f", &path.to_string_lossy()]));
}

fn release_ike(lab: &AzureLab) {
    must(lab.nat.run("nft", &["delete", "table", "inet", "holdike"]));
}

/// issue 6: simultaneous IKE_SA_INIT from both sides (Azure's Default mode initiates too) ends
/// with one IKE SA, and the gateway keeps track of the one that survives: its status shows it,
/// traffic flows, and strongSwan holds exactly one IKE SA.
#[test]
fn simultaneous_initiation_ends_with_one_ike_sa() {
    if !interop_tests::require_root("simultaneous_initiation_ends_with_one_ike_sa") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "simul".into(),
    }));
    // Both sides initiate at start; their first IKE_SA_INIT requests are held, so the
    // retransmissions cross once released: each side answers the other while its own request
    // is outstanding, and two IKE SAs come up.
    hold_ike(&lab);
    let azure = must(start_azure(
        &lab,
        azure_conn(&lab).start_action(StartAction::Start),
        LogLevels::default(),
    ));
    let dir = must(lab.dir.subdir("gw"));
    let o = gw_opts(&lab, &dir);
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    std::thread::sleep(Duration::from_millis(1500));
    release_ike(&lab);
    must(gw.wait_established(GW_CONN, Duration::from_secs(30)));
    // Two IKE SAs existed (one initiated by each side) ...
    must(wait_for(
        "a second IKE SA at ipsecgw",
        Duration::from_secs(20),
        || gw.log().matches("IKE SA established").count() >= 2,
    ));
    // ... and after the endpoint's grace for duplicates, one is left on both sides.
    let t0 = Instant::now();
    must(wait_for(
        "ipsecgw to delete the duplicate IKE SA",
        Duration::from_secs(30),
        || gw.log().contains("duplicate IKE SA deleted"),
    ));
    must(azure.wait_exact_sas(1, Some(1), Duration::from_secs(15)));
    let resolved = t0.elapsed();
    let st = must(gw.status_json());
    let spi_i = st
        .pointer("/tunnels/0/ike_sa/initiator_spi")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("status lost the surviving IKE SA: {st}"))
        .to_string();
    let listing = must(azure.list_sas());
    assert!(
        listing.contains(&spi_i),
        "status shows IKE SA {spi_i}, which strongSwan does not hold:\n{listing}"
    );
    assert_eq!(
        st.pointer("/tunnels/0/nat_local").and_then(|v| v.as_bool()),
        Some(true),
        "NAT detection of the survivor (keepalives depend on it): {st}"
    );
    assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 50,
            ..PingOpts::default()
        },
    ));
    assert!(p.ran_in_full(50), "{p:?}");
    assert_eq!(p.received, p.sent, "ping after the collision: {p:?}");
    record(
        "lifecycle",
        "simultaneous_initiation_ends_with_one_ike_sa",
        &format!(
            "two IKE SAs, one left {resolved:.1?} later; survivor {spi_i} in status and at strongSwan; {}/{} pings",
            p.received, p.sent
        ),
    );
}

/// Kills strongSwan and waits until ipsecgw has declared it dead (dpd 2 s + 9 s).
fn kill_peer_and_wait_dead(gw: &Ipsecgw, azure: &Charon) -> Duration {
    // SAFETY (test): SIGKILL to the charon we started, by PID.
    unsafe { libc::kill(azure.pid() as libc::pid_t, libc::SIGKILL) };
    let killed = Instant::now();
    must(wait_for_some(
        "ipsecgw to declare the peer dead",
        Duration::from_secs(20),
        || (num(gw, "/tunnels/0/dpd_failures") >= 1).then(|| killed.elapsed()),
    ))
}

/// The VNet route via the tunnel device in the gateway's namespace, if present.
fn vnet_route(lab: &AzureLab) -> String {
    must(
        lab.gw
            .ip(&["route", "show", interop_tests::topology::VNET_PREFIX]),
    )
    .trim()
    .to_string()
}

/// A dead peer with `dpd_action` `clear` or `none` (AWS's DPD timeout actions): both show the
/// tunnel down and re-initiate nothing; `clear` removes the tunnel's routes (back with the
/// next CHILD SA), `none` leaves config and routes alone.
fn dpd_action_case(action: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: format!("dpd-{action}"),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.dpd_delay = Some(Duration::from_secs(2));
    o.extra_conn = format!("dpd_timeout = \"9s\"\ndpd_action = \"{action}\"\n");
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    assert!(
        vnet_route(&lab).contains("ipsecgw0"),
        "{}",
        vnet_route(&lab)
    );
    let dead = kill_peer_and_wait_dead(&gw, &azure);
    drop(azure);
    // Nothing is re-initiated: watch for longer than the restart back-off (2 s).
    std::thread::sleep(Duration::from_secs(5));
    let st = must(gw.status_json());
    let state = must(gw.tunnel_state(GW_CONN));
    assert_eq!(state, "down", "a dead SA is not shown alive: {st}");
    assert!(
        st.pointer("/tunnels/0/ike_sa").is_some_and(|v| v.is_null()),
        "{st}"
    );
    let initiations = gw.log().matches(": initiating ").count();
    assert_eq!(
        initiations,
        1,
        "dpd_action = {action} re-initiated:\n{}",
        gw.log()
    );
    let route = vnet_route(&lab);
    match action {
        "none" => assert!(
            route.contains("ipsecgw0"),
            "none keeps the route: {route:?}"
        ),
        _ => assert!(
            !route.contains("ipsecgw0"),
            "clear removes the route: {route:?}"
        ),
    }
    // The peer returns and initiates (Azure's Default mode): the tunnel and its route are back.
    let dir2 = must(lab.dir.subdir("azure-restarted"));
    let azure = must(Charon::start(
        &lab.azure,
        &dir2,
        &CharonConfig::new(vec![azure_conn(&lab).start_action(StartAction::Start)]),
    ));
    must(azure.route_via_tun(&lab.azure, interop_tests::topology::VPC_PREFIX));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10)));
    assert!(
        vnet_route(&lab).contains("ipsecgw0"),
        "{}",
        vnet_route(&lab)
    );
    record(
        "lifecycle",
        &format!("dpd_action_{action}"),
        &format!("peer dead after {dead:.1?}; state {state}; route while down: {route:?}; back when the peer initiated"),
    );
}

#[test]
fn dpd_action_clear_removes_routes_and_waits() {
    if !interop_tests::require_root("dpd_action_clear_removes_routes_and_waits") {
        return;
    }
    dpd_action_case("clear");
}

#[test]
fn dpd_action_none_keeps_routes_and_waits() {
    if !interop_tests::require_root("dpd_action_none_keeps_routes_and_waits") {
        return;
    }
    dpd_action_case("none");
}

/// Volume limits trigger CHILD rekeys at the gateway (the ESP layer's soft limit at 90 % of
/// `life_bytes` / `life_packets` asks the control plane to rekey): a transfer several times the
/// limit crosses rekeys intact, with no time-based rekey possible (CHILD `rekey_time` 1 h), and
/// one CHILD SA remains at the peer.
fn volume_rekey_case(test: &str, limit_line: &str, bytes: u64, min_rekeys: u64) {
    if !interop_tests::require_root(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: test.chars().take(16).collect(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = gw_opts(&lab, &dir);
    o.extra_child = limit_line.into();
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let xfer = std::path::Path::new(env!("CARGO_BIN_EXE_xfer"));
    let t = must(interop_tests::traffic::tcp_transfer(
        xfer,
        &lab.vpc,
        &lab.vnet,
        VNET_HOST,
        5061,
        bytes,
        61,
        lab.dir.path(),
        Duration::from_secs(60),
    ));
    assert!(t.intact(), "{t:?}");
    // The last soft limit may have been reached at the very end: let its rekey finish.
    must(azure.wait_exact_sas(1, Some(1), Duration::from_secs(15)));
    let child_rekeys = num(&gw, "/tunnels/0/child_rekeys");
    record(
        "lifecycle",
        test,
        &format!(
            "{} MB intact across {child_rekeys} volume-triggered CHILD rekeys ({})",
            bytes >> 20,
            limit_line.trim()
        ),
    );
    assert!(
        child_rekeys >= min_rekeys,
        "{child_rekeys} CHILD rekeys for {bytes} bytes with {limit_line}"
    );
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 5,
            ..PingOpts::default()
        },
    ));
    assert!(p.ran_in_full(5) && p.received == 5, "{p:?}");
}

#[test]
fn rekey_by_bytes() {
    // 8 MiB: the soft limit at 7.2 MiB; 48 MiB through it (plus ESP overhead) => >= 5 rekeys.
    volume_rekey_case("rekey_by_bytes", "life_bytes = 8388608\n", 48 << 20, 4);
}

#[test]
fn rekey_by_packets() {
    // 20,000 packets: the soft limit at 18,000; 48 MiB is ~36,000 full-size ESP packets out
    // (plus the ACKs in) => at least one rekey.
    volume_rekey_case("rekey_by_packets", "life_packets = 20000\n", 48 << 20, 1);
}
