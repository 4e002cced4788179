//! Azure active-active: two Azure VPN Gateway instances (strongSwan in `azure`, 203.0.113.20,
//! and `azure2`, 203.0.113.21), one ipsecgw with a connection to each, both reaching the same
//! VNet. The VNet routes over both instances (ECMP by 5-tuple), as Azure does.
//!
//! - `both_tunnels_up_and_traffic_accepted_on_either`: both tunnels come up, traffic from the
//!   VNet entering through either instance reaches the VPC and is answered.
//! - `failover_within_dpd_timeout`: one instance
//!   dies mid-transfer; ipsecgw notices by DPD and moves the VNet route to the healthy tunnel.
//!
//! Needs root; skips loudly otherwise.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use interop_tests::{scenario, strongswan, topology};

use interop_tests::azure_policy::AzurePolicy;
use interop_tests::gateway_config::{ipsecgw_toml, GatewayOpts};
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::netns::Netns;
use interop_tests::proc::wait_for;
use interop_tests::strongswan::{Charon, CharonConfig, LogLevels};
use interop_tests::topology::{
    AzureLab, LabOptions, AZURE2_PUBLIC, AZURE_PUBLIC, VNET_HOST, VPC_HOST, VPC_PREFIX,
};
use interop_tests::traffic::{ping, tcp_transfer, wait_for_ping, PingOpts};
use interop_tests::Result;

static SERIAL: Mutex<()> = Mutex::new(());
const MB: u64 = 1 << 20;
const CONN_A: &str = "azure-a";
const CONN_B: &str = "azure-b";

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct Running {
    gw: Ipsecgw,
    azure: Charon,
    azure2: Charon,
    lab: AzureLab,
}

/// Starts one Azure instance (default policy, responder) in `ns` at `addr`.
fn start_instance(lab: &AzureLab, ns: &Netns, addr: &str, sub: &str) -> Charon {
    let conn = AzurePolicy::Default.swan_conn_at(lab, addr, false);
    let dir = must(lab.dir.subdir(sub));
    let charon = must(Charon::start(
        ns,
        &dir,
        &CharonConfig::new(vec![conn]).with_log(LogLevels::default()),
    ));
    must(charon.route_via_tun(ns, VPC_PREFIX));
    charon
}

/// ipsecgw's config: one connection per Azure instance, each with its own TUN device, both
/// routing the VNet. `extra` is appended to both connections (e.g. DPD and HA keys), `own[i]`
/// to connection i only.
fn two_tunnel_config(lab: &AzureLab, socket: &Path, extra: &str, own: [&str; 2]) -> String {
    let mut text = String::new();
    for (i, (conn, tun, addr)) in [
        (CONN_A, "ipsecgw-a", AZURE_PUBLIC),
        (CONN_B, "ipsecgw-b", AZURE2_PUBLIC),
    ]
    .into_iter()
    .enumerate()
    {
        let mut opts = GatewayOpts::azure_default(lab);
        opts.conn = conn.into();
        opts.tun_name = tun.into();
        opts.control_socket = socket.to_path_buf();
        opts.profile = Some("azure-default".into());
        opts.proposals.clear();
        opts.esp_proposals.clear();
        opts.extra_conn = format!("{extra}{}", own[i]);
        let t = ipsecgw_toml(lab, &opts);
        // ipsecgw_toml writes the first instance's address; retarget, and keep one [daemon].
        let t = t
            .replace(
                &format!("remote_addrs = [\"{AZURE_PUBLIC}\"]"),
                &format!("remote_addrs = [\"{addr}\"]"),
            )
            .replace(
                &format!("remote_id = \"{AZURE_PUBLIC}\""),
                &format!("remote_id = \"{addr}\""),
            );
        if text.is_empty() {
            text.push_str(&t);
        } else {
            let at = t.find("[connections.").expect("a connection section");
            text.push('\n');
            text.push_str(&t[at..]);
        }
    }
    text
}

fn start(label: &str, extra: &str) -> Running {
    start_with(label, extra, ["", ""])
}

fn start_with(label: &str, extra: &str, own: [&str; 2]) -> Running {
    let lab = must(AzureLab::new_active_active(LabOptions {
        nat: true,
        label: label.into(),
    }));
    let azure = start_instance(&lab, &lab.azure, AZURE_PUBLIC, "azure");
    let azure2 = start_instance(&lab, must(lab.azure2()), AZURE2_PUBLIC, "azure2");
    let dir = must(lab.dir.subdir("gw"));
    let socket = dir.join("control.sock");
    let toml = two_tunnel_config(&lab, &socket, extra, own);
    let gw = must(Ipsecgw::start_with_config(&lab.gw, &dir, &toml, &socket));
    Running {
        gw,
        azure,
        azure2,
        lab,
    }
}

fn wait_both(r: &mut Running) {
    for conn in [CONN_A, CONN_B] {
        if let Err(e) = r.gw.wait_established(conn, scenario::TUNNEL_TIMEOUT) {
            panic!(
                "{conn}: {e}\nazure:{}\nazure2:{}",
                strongswan::log_tail(&r.azure, 20),
                strongswan::log_tail(&r.azure2, 20)
            );
        }
    }
    must(r.azure.wait_sas(1, 1, Duration::from_secs(5)));
    must(r.azure2.wait_sas(1, 1, Duration::from_secs(5)));
}

/// Bytes received on tunnel `name`, from `ipsecgw status --json`.
fn bytes_in(gw: &Ipsecgw, name: &str) -> u64 {
    traffic(gw, name, "bytes_in")
}

/// Bytes sent into tunnel `name`, from `ipsecgw status --json`.
fn bytes_out(gw: &Ipsecgw, name: &str) -> u64 {
    traffic(gw, name, "bytes_out")
}

/// A `traffic` counter of tunnel `name`, from `ipsecgw status --json`.
fn traffic(gw: &Ipsecgw, name: &str, field: &str) -> u64 {
    let v = must(gw.status_json());
    v.pointer("/tunnels")
        .and_then(|t| t.as_array())
        .and_then(|ts| {
            ts.iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
        })
        .and_then(|t| t.pointer(&format!("/traffic/{field}")))
        .and_then(|b| b.as_u64())
        .unwrap_or(0)
}

fn ping5(from: &Netns, dst: &str) {
    let p = must(ping(
        from,
        dst,
        &PingOpts {
            count: 5,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (5, 5), "ping {dst}: {p:?}");
}

#[test]
fn both_tunnels_up_and_traffic_accepted_on_either() {
    if !interop_tests::require_root("both_tunnels_up_and_traffic_accepted_on_either") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let mut r = start(
        "active-active",
        "ha_group = \"azure\"\nha_mode = \"ecmp\"\n",
    );
    wait_both(&mut r);
    eprintln!("active-active: both tunnels up after {:.2?}", t0.elapsed());
    let lab = &r.lab;

    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    ping5(&lab.vpc, VNET_HOST);

    // Azure sends through each instance in turn: both are accepted and answered.
    for (instance, conn) in [(0usize, CONN_A), (1, CONN_B)] {
        must(lab.set_vnet_gateways(&[instance]));
        let before = bytes_in(&r.gw, conn);
        ping5(&lab.vnet, VPC_HOST);
        let after = bytes_in(&r.gw, conn);
        assert!(
            after > before,
            "no traffic counted on {conn} after pinging through instance {instance}"
        );
    }

    // Both at once (ECMP in the VNet): transfers from the VNet by hash.
    must(lab.set_vnet_gateways(&[0, 1]));
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    for port in [5021u16, 5022, 5023, 5024] {
        let t = must(tcp_transfer(
            xfer,
            &lab.vnet,
            &lab.vpc,
            VPC_HOST,
            port,
            MB,
            u64::from(port),
            lab.dir.path(),
            Duration::from_secs(30),
        ));
        assert!(t.intact(), "transfer on port {port}: {t:?}");
    }
    let listing_a = must(r.azure.list_sas());
    let listing_b = must(r.azure2.list_sas());
    assert!(listing_a.contains(topology::GW_PUBLIC) && listing_b.contains(topology::GW_PUBLIC));
    eprintln!(
        "active-active: passed in {:.2?}\n{}",
        t0.elapsed(),
        must(r.gw.status_text())
    );
}

/// How long after the kill the dead instance may be noticed, with `dpd_delay = 3s` and
/// `dpd_timeout = 9s`: the daemon samples inbound ESP as proof of life once a second, so the
/// last traffic before the kill can count as heard up to 1 s after it; the probe goes 3 s after
/// that and the peer is declared dead 9 s later (13 s). Two more seconds cover the status polls
/// (`ipsecgw status` runs) and timers running late on a loaded 2-core CI machine, where 14.6 s
/// was seen.
const DPD_DETECTION_BOUND: Duration = Duration::from_secs(15);

/// One Azure instance dies mid-transfer. Four TCP transfers run from the VPC to the VNet (ECMP
/// spreads them by flow over both tunnels); the instance whose tunnel carries the most of them
/// is killed with SIGKILL (no DELETE: only DPD can tell). ipsecgw detects it by DPD (delay 3 s,
/// timeout 9 s, Azure's minimum) and routes the VNet over the healthy tunnel; Azure moves the
/// VNet's route to its healthy instance. Every transfer that was running completes intact, pings
/// lost stay within the DPD timeout. Uses the HA keys of docs/azure.md (`ha_group`, `ha_mode`).
#[test]
fn failover_within_dpd_timeout() {
    if !interop_tests::require_root("failover_within_dpd_timeout") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let extra = "dpd_delay = \"3s\"\ndpd_timeout = \"9s\"\ndpd_action = \"restart\"\n\
                 ha_group = \"azure\"\nha_mode = \"ecmp\"\n";
    let mut r = start("aa-failover", extra);
    wait_both(&mut r);
    must(wait_for_ping(&r.lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    const PINGS: u32 = 600;
    const FLOWS: u16 = 4;
    const FLOW_BYTES: u64 = 400 * MB;

    let (detected, victim, p, out, transfers) = std::thread::scope(|scope| {
        let lab = &r.lab;
        // 30 s of pings at 20/s.
        let vpc = lab.vpc.name().to_string();
        let pinger = scope.spawn(move || {
            std::process::Command::new("ip")
                .args(["netns", "exec", &vpc, "ping", "-n", "-q"])
                .args(["-c", &PINGS.to_string(), "-i", "0.05", "-W", "1", VNET_HOST])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        });
        let out_before = [bytes_out(&r.gw, CONN_A), bytes_out(&r.gw, CONN_B)];
        let flows: Vec<_> = (0..FLOWS)
            .map(|i| {
                scope.spawn(move || {
                    tcp_transfer(
                        xfer,
                        &lab.vpc,
                        &lab.vnet,
                        VNET_HOST,
                        5040 + i,
                        FLOW_BYTES,
                        40 + u64::from(i),
                        lab.dir.path(),
                        Duration::from_secs(120),
                    )
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        // Kill the instance whose tunnel carries more of the transfers right now.
        let carried = [
            bytes_out(&r.gw, CONN_A) - out_before[0],
            bytes_out(&r.gw, CONN_B) - out_before[1],
        ];
        let victim = usize::from(carried[1] > carried[0]);
        assert!(
            carried[victim] > 4 * MB,
            "the transfers are not running (bytes out per tunnel {carried:?})"
        );
        let pid = [r.azure.pid(), r.azure2.pid()][victim];
        let killed = Instant::now();
        // SAFETY (test): plain kill(2) on the PID of a charon this test started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        must(lab.set_vnet_gateways(&[1 - victim]));
        let dead = [CONN_A, CONN_B][victim];
        must(wait_for(
            "ipsecgw to declare the killed instance dead",
            Duration::from_secs(20),
            || {
                r.gw.tunnel_state(dead)
                    .map(|s| s != "established")
                    .unwrap_or(false)
            },
        ));
        let detected = killed.elapsed();
        eprintln!(
            "failover: killed {dead} carrying {} of {} MB sent so far, detected after {detected:.2?}",
            carried[victim] / MB,
            (carried[0] + carried[1]) / MB
        );
        let transfers: Vec<_> = flows
            .into_iter()
            .map(|h| must(h.join().expect("transfer thread")))
            .collect();
        let out = pinger.join().expect("ping thread").expect("ping");
        let p = interop_tests::traffic::PingResult::parse(&out);
        (detected, victim, p, out, transfers)
    });
    eprintln!(
        "failover: pings {}/{} answered; transfers {:?}",
        p.received,
        p.sent,
        transfers.iter().map(|t| t.elapsed).collect::<Vec<_>>()
    );
    assert!(detected <= DPD_DETECTION_BOUND, "DPD took {detected:?}");
    for t in &transfers {
        assert!(t.intact(), "a transfer across the failover: {t:?}");
    }
    assert_eq!(p.sent, PINGS, "ping did not run: {out}");
    // At most the DPD timeout (9 s + one probe interval) of pings lost at 20/s.
    assert!(p.lost() <= 12 * 20, "{} pings lost: {out}", p.lost());
    let healthy = [CONN_A, CONN_B][1 - victim];
    assert_eq!(must(r.gw.tunnel_state(healthy)), "established");
    // After failover: everything over the healthy tunnel, intact.
    ping5(&r.lab.vpc, VNET_HOST);
    let t = must(tcp_transfer(
        xfer,
        &r.lab.vpc,
        &r.lab.vnet,
        VNET_HOST,
        5031,
        5 * MB,
        31,
        r.lab.dir.path(),
        Duration::from_secs(30),
    ));
    assert!(t.intact(), "{t:?}");
}

/// `ha_mode = "active-standby"`: with both tunnels up, the VNet route points only at the
/// preferred tunnel (lowest `ha_priority`), so a transfer leaves through it alone; when its
/// Azure instance dies, DPD moves the route to the standby and traffic flows again.
#[test]
fn active_standby_uses_the_primary_then_fails_over() {
    if !interop_tests::require_root("active_standby_uses_the_primary_then_fails_over") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let extra = "dpd_delay = \"3s\"\ndpd_timeout = \"9s\"\ndpd_action = \"restart\"\n\
                 ha_group = \"azure\"\nha_mode = \"active-standby\"\n";
    let mut r = start_with(
        "aa-standby",
        extra,
        ["ha_priority = 10\n", "ha_priority = 20\n"],
    );
    wait_both(&mut r);
    let lab = &r.lab;
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    let transfer = |port: u16| {
        let t = must(tcp_transfer(
            xfer,
            &lab.vpc,
            &lab.vnet,
            VNET_HOST,
            port,
            20 * MB,
            u64::from(port),
            lab.dir.path(),
            Duration::from_secs(30),
        ));
        assert!(t.intact(), "{t:?}");
    };

    let before = [bytes_out(&r.gw, CONN_A), bytes_out(&r.gw, CONN_B)];
    transfer(5051);
    let sent = [
        bytes_out(&r.gw, CONN_A) - before[0],
        bytes_out(&r.gw, CONN_B) - before[1],
    ];
    eprintln!("active-standby: bytes out per tunnel during the transfer {sent:?}");
    assert!(sent[0] >= 20 * MB, "the primary did not carry it: {sent:?}");
    assert!(sent[1] < MB, "the standby carried traffic: {sent:?}");

    let killed = Instant::now();
    // SAFETY (test): plain kill(2) on the PID of a charon this test started.
    unsafe { libc::kill(r.azure.pid() as libc::pid_t, libc::SIGKILL) };
    must(lab.set_vnet_gateways(&[1]));
    must(wait_for(
        "ipsecgw to declare azure-a dead",
        Duration::from_secs(20),
        || {
            r.gw.tunnel_state(CONN_A)
                .map(|s| s != "established")
                .unwrap_or(false)
        },
    ));
    let detected = killed.elapsed();
    assert!(detected <= DPD_DETECTION_BOUND, "DPD took {detected:?}");
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let before_b = bytes_out(&r.gw, CONN_B);
    transfer(5052);
    let moved = bytes_out(&r.gw, CONN_B) - before_b;
    eprintln!("active-standby: detected after {detected:.2?}; standby then carried {moved} bytes");
    assert!(moved >= 20 * MB, "the standby did not take over: {moved}");
    assert_eq!(must(r.gw.tunnel_state(CONN_B)), "established");
}
