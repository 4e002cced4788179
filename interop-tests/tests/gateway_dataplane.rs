//! What the daemon does to the traffic it carries, and what it tells a monitoring system,
//! against a strongSwan configured as Azure's default policy (the EC2 NAT lab):
//!
//! - `mss_clamped_both_ways`: TCP's MSS is clamped in both directions (SYN-ACKs going into
//!   the tunnel and coming out of it), so neither host sends segments that would need
//!   fragmenting; iperf3 clients on both sides report the clamped MSS.
//! - `frag_needed_for_oversized_df_packets`: an operator raised the TUN's MTU above the
//!   tunnel's: a DF packet larger than the tunnel MTU gets an ICMP "fragmentation needed"
//!   from the daemon naming the tunnel MTU (RFC 1191), and is counted as a `too_big` drop.
//! - `metrics_scraped_from_the_running_daemon`: the opt-in Prometheus endpoint of a live
//!   daemon shows the tunnel up and the traffic that crossed it.
//!
//! Needs root; skips loudly otherwise.

use std::sync::Mutex;
use std::time::Duration;

use interop_tests::gateway_config::{ipsecgw_toml, GatewayOpts};
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, LogLevels};
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST, VPC_HOST};
use interop_tests::traffic::{ping, wait_for_ping, PingOpts};
use interop_tests::Result;

static SERIAL: Mutex<()> = Mutex::new(());
/// The tunnel MTU of these labs, and the MSS ipsecgw derives from it (MTU - 40; iperf3 then
/// reports 12 bytes less, the TCP timestamps option).
const TUNNEL_MTU: u32 = 1400;
const CLAMPED_MSS: u64 = 1360;
const METRICS_PORT: u16 = 9814;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct Running {
    gw: Ipsecgw,
    _azure: Charon,
    lab: AzureLab,
}

/// The NAT lab, strongSwan as Azure (default policy), ipsecgw initiating with its metrics
/// endpoint on the gateway's loopback; returns once a ping crosses the tunnel.
fn start(label: &str) -> Running {
    start_with(label, "")
}

/// [`start`] with extra `[daemon]` lines.
fn start_with(label: &str, daemon: &str) -> Running {
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: label.into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    opts.mtu = TUNNEL_MTU;
    opts.extra_daemon = format!("metrics_listen = \"127.0.0.1:{METRICS_PORT}\"\n{daemon}");
    let toml = ipsecgw_toml(&lab, &opts);
    let mut gw = must(Ipsecgw::start_with_config(
        &lab.gw,
        &dir,
        &toml,
        &opts.control_socket,
    ));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    Running {
        gw,
        _azure: azure,
        lab,
    }
}

/// `tcp_mss_default` from an iperf3 JSON report.
fn iperf_mss(json: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.pointer("/start/tcp_mss_default").and_then(|m| m.as_u64())
}

/// The MSS an iperf3 client in `client` uses towards a server in `server` at `addr`: the
/// minimum of its own and the one the server's SYN-ACK announced.
fn client_mss(
    client: &interop_tests::netns::Netns,
    server: &interop_tests::netns::Netns,
    addr: &str,
    port: u16,
) -> u64 {
    let port = port.to_string();
    let mut srv = server
        .command("iperf3")
        .args(["-s", "-1", "-p", &port])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    let out = client
        .command("iperf3")
        .args(["-c", addr, "-p", &port, "-t", "1", "-J"])
        .output()
        .expect("iperf3 client");
    let _ = srv.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 client: {json}");
    iperf_mss(&json).unwrap_or_else(|| panic!("no MSS in the client report: {json}"))
}

#[test]
fn mss_clamped_both_ways() {
    if !interop_tests::require_root("mss_clamped_both_ways") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = start("dp-mss");
    // Both hosts sit on 1500-byte links: unclamped, each announces and uses MSS 1460. The
    // VPC client's MSS comes from the VNet server's SYN-ACK, clamped as it leaves the tunnel
    // (inbound); the VNet client's from the VPC server's SYN-ACK, clamped as it enters the
    // tunnel (outbound).
    let from_vpc = client_mss(&r.lab.vpc, &r.lab.vnet, VNET_HOST, 5301);
    let from_vnet = client_mss(&r.lab.vnet, &r.lab.vpc, VPC_HOST, 5302);
    eprintln!("MSS used by the VPC client {from_vpc}, by the VNet client {from_vnet}");
    assert!(
        (1200..=CLAMPED_MSS).contains(&from_vpc),
        "inbound clamp: {from_vpc}"
    );
    assert!(
        (1200..=CLAMPED_MSS).contains(&from_vnet),
        "outbound clamp: {from_vnet}"
    );
}

#[test]
fn frag_needed_for_oversized_df_packets() {
    if !interop_tests::require_root("frag_needed_for_oversized_df_packets") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = start("dp-ptb");
    // With the TUN at the tunnel MTU the kernel answers oversized DF packets itself; raise it,
    // as a mistaken operator might, so the packet reaches the daemon.
    let tun = GatewayOpts::azure_default(&r.lab).tun_name;
    must(r.lab.gw.ip(&["link", "set", &tun, "mtu", "1500"]));
    // A 1500-byte packet with DF set from the VPC host.
    let out = r
        .lab
        .vpc
        .command("ping")
        .args([
            "-n", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s", "1472",
        ])
        .arg(VNET_HOST)
        .output()
        .expect("ping");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = must(r.gw.status_json());
    eprintln!("ping -M do -s 1472:\n{text}\nstatus: {status}");
    // The first reply is the daemon's ICMP; afterwards the host's route cache knows the MTU.
    assert!(
        text.contains(&format!("mtu = {TUNNEL_MTU}"))
            || text.contains(&format!("mtu={TUNNEL_MTU}")),
        "no fragmentation-needed naming MTU {TUNNEL_MTU}:\n{text}"
    );
    let too_big = status
        .pointer("/tunnels/0/drops/too_big")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    assert!(too_big >= 1, "no too_big drop counted: {status}");
    // Packets that fit still cross.
    let p = must(ping(
        &r.lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 3,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (3, 3), "{p:?}");
}

#[test]
fn metrics_scraped_from_the_running_daemon() {
    if !interop_tests::require_root("metrics_scraped_from_the_running_daemon") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = start("dp-metrics");
    let p = must(ping(
        &r.lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 5,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (5, 5), "{p:?}");
    // A plain HTTP/1.0 GET from inside the gateway's namespace (bash's /dev/tcp: no client
    // to install), as a Prometheus server on the instance would scrape it.
    let scrape = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{METRICS_PORT} && \
         printf 'GET /metrics HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && cat <&3"
    );
    let mut body = String::new();
    // The status refresh behind the endpoint runs on the control plane's tick: wait for the
    // ping's packets to show.
    for _ in 0..20 {
        let out = r
            .lab
            .gw
            .command("bash")
            .args(["-c", &scrape])
            .output()
            .expect("bash");
        body = String::from_utf8_lossy(&out.stdout).into_owned();
        if series_value(&body, "ipsecgw_packets_total", &["direction=\"in\""]).unwrap_or(0) >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("{body}");
    assert!(body.starts_with("HTTP/1."), "not an HTTP response: {body}");
    assert_eq!(
        series_value(&body, "ipsecgw_tunnel_up", &["tunnel=\"azure\""]),
        Some(1),
        "{body}"
    );
    for dir in ["in", "out"] {
        let d = format!("direction=\"{dir}\"");
        let packets = series_value(&body, "ipsecgw_packets_total", &[&d]).unwrap_or(0);
        let bytes = series_value(&body, "ipsecgw_bytes_total", &[&d]).unwrap_or(0);
        assert!(
            packets >= 5 && bytes >= 5 * 84,
            "{dir}: {packets} packets, {bytes} bytes"
        );
    }
    assert!(body.contains("ipsecgw_rekeys_total"), "{body}");
    assert!(body.contains("ipsecgw_dpd_failures_total"), "{body}");
    assert!(body.contains("ipsecgw_ike_retransmits_total"), "{body}");
    assert!(!body.contains(interop_tests::scenario::LAB_PSK));
}

/// The value of the first sample of `name` whose labels contain every one of `labels`.
fn series_value(body: &str, name: &str, labels: &[&str]) -> Option<u64> {
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// CPU time (user + system, in clock ticks) of each thread of `pid` whose name starts with
/// `prefix`, by name.
fn thread_cpu(pid: u32, prefix: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let comm = comm.trim().to_string();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.push((comm, tick(11) + tick(12)));
    }
    out.sort();
    out
}

/// `[daemon] tun_queues = 3`: the tunnel's TUN device gets three queues, each read by its
/// own outbound worker. The inbound worker writes each flow through one queue, which steers
/// the flow's outbound packets to that queue's worker: sixteen TCP streams leave through the
/// two bulk queues (both workers must carry a real share), never through queue 0, which
/// carries the pings sent meanwhile.
#[test]
fn outbound_workers_share_a_tunnel_over_tun_queues() {
    if !interop_tests::require_root("outbound_workers_share_a_tunnel_over_tun_queues") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = start_with("dp-queues", "tun_queues = 3\n");
    let status = must(r.gw.status_json());
    let mode = status
        .pointer("/daemon/fast_path")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    assert!(mode.contains("3 TUN queues"), "status fast_path: {mode}");
    let pid = r.gw.child.pid();
    let counter = |gw: &Ipsecgw, key: &str| {
        gw.status_json()
            .ok()
            .and_then(|st| st.pointer(&format!("/tunnels/0/{key}"))?.as_u64())
            .unwrap_or_else(|| panic!("{key} in status"))
    };

    // A stream arriving through the tunnel: its ACKs leave through one bulk queue, whose
    // outbound worker parks while the inbound worker sends them right after its writes.
    let rev = must(interop_tests::traffic::iperf3(
        &r.lab.vpc,
        &r.lab.vnet,
        VNET_HOST,
        &interop_tests::traffic::IperfOpts {
            seconds: 3,
            reverse: true,
            port: 5312,
            ..Default::default()
        },
        r.lab.dir.path(),
    ));
    let (parks, acks_inline) = (
        counter(&r.gw, "bulk_parks"),
        counter(&r.gw, "bulk_sent_inline"),
    );
    eprintln!(
        "1 stream in: {:.0} Mbit/s; bulk queue parked {parks} times, {acks_inline} packets sent by the inbound worker",
        rev.received_bps / 1e6
    );
    assert!(rev.received_bps > 0.0, "no traffic: {rev:?}");
    assert!(
        parks > 0 && acks_inline > 0,
        "the ACKs of an arriving stream never left from the inbound worker: {parks} parks, {acks_inline} packets"
    );

    // Then streams leaving: the parked queues go back to their outbound workers.
    let before = thread_cpu(pid, "out");
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["out0-azure", "out1-azure", "out2-azure"],
        "outbound worker threads"
    );
    let (pings, res) = std::thread::scope(|s| {
        let pinger = s.spawn(|| {
            ping(
                &r.lab.vpc,
                VNET_HOST,
                &PingOpts {
                    count: 150,
                    interval: Duration::from_millis(20),
                    ..PingOpts::default()
                },
            )
        });
        let res = interop_tests::traffic::iperf3(
            &r.lab.vpc,
            &r.lab.vnet,
            VNET_HOST,
            &interop_tests::traffic::IperfOpts {
                seconds: 4,
                parallel: 16,
                port: 5311,
                ..Default::default()
            },
            r.lab.dir.path(),
        );
        (pinger.join().expect("pinger"), res)
    });
    let res = must(res);
    let pings = must(pings);
    let after = thread_cpu(pid, "out");
    let used: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|((_, a), (_, b))| a.saturating_sub(*b))
        .collect();
    eprintln!(
        "16 streams: {:.0} Mbit/s; pings {}/{}; outbound worker CPU ticks {used:?}",
        res.received_bps / 1e6,
        pings.received,
        pings.sent
    );
    assert!(res.received_bps > 0.0, "no traffic: {res:?}");
    assert!(
        pings.received > 0,
        "no ping crossed during the transfer: {pings:?}"
    );
    let bulk: u64 = used.iter().skip(1).sum();
    assert!(bulk > 0, "the bulk workers used no CPU: {used:?}");
    for u in used.iter().skip(1) {
        assert!(
            *u * 10 >= bulk,
            "a bulk worker carried under a tenth of the TCP load: {used:?} (ticks)"
        );
    }
    let latency = used.first().copied().unwrap_or(0);
    assert!(
        latency * 4 < bulk,
        "the latency queue's worker carried TCP: {used:?} (ticks)"
    );

    // Pings from the Azure side: the inbound worker writes each echo request to the latency
    // queue, the VPC host answers within that write, and the worker sends the reply itself.
    let inline = |gw: &Ipsecgw| counter(gw, "answers_sent_inline");
    let inline_before = inline(&r.gw);
    let back = must(ping(
        &r.lab.vnet,
        VPC_HOST,
        &PingOpts {
            count: 50,
            interval: Duration::from_millis(20),
            ..PingOpts::default()
        },
    ));
    let inline_sent = inline(&r.gw) - inline_before;
    eprintln!(
        "pings from the VNet host: {}/{} answered, {inline_sent} replies sent by the inbound worker",
        back.received, back.sent
    );
    assert_eq!(
        back.received, back.sent,
        "pings from the VNet host: {back:?}"
    );
    assert!(
        inline_sent > 0 && inline_sent <= u64::from(back.sent),
        "{inline_sent} echo replies sent inline for {} requests",
        back.sent
    );
}
