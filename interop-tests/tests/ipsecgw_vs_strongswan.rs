//! ipsecgw (in `gw`, behind the EC2-style 1:1 NAT or not) against a real strongSwan configured
//! as an Azure VPN Gateway with its default policy: both roles, each of Azure's default IKE and
//! ESP suites, traffic checked by hash, proposal mismatches, orderly shutdown.
//! Needs root; skips loudly otherwise.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::proc::wait_for;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, LogLevels, StartAction};
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST, VPC_HOST};
use interop_tests::traffic::{ping, tcp_transfer, wait_for_ping, PingOpts};
use interop_tests::Result;

/// The lab tests share 2 cores: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
const MB: u64 = 1 << 20;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct Case {
    label: &'static str,
    nat: bool,
    /// ipsecgw initiates (else strongSwan, as Azure in its Default mode, does).
    we_initiate: bool,
    ike: &'static [&'static str],
    esp: &'static [&'static str],
    /// strongSwan's name for the negotiated suites, checked in `swanctl --list-sas`.
    expect_ike: &'static str,
    expect_esp: &'static str,
    transfer_mb: u64,
}

struct Running {
    lab: AzureLab,
    azure: Charon,
    gw: Ipsecgw,
}

fn start(case: &Case) -> Running {
    let lab = must(AzureLab::new(LabOptions {
        nat: case.nat,
        label: case.label.into(),
    }));
    let conn = if case.we_initiate {
        azure_conn(&lab)
    } else {
        azure_conn(&lab).start_action(StartAction::Start)
    };
    let azure = must(start_azure(&lab, conn, LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    opts.proposals = case.ike.iter().map(|s| s.to_string()).collect();
    opts.esp_proposals = case.esp.iter().map(|s| s.to_string()).collect();
    if !case.we_initiate {
        opts.mode = "responder".into();
        opts.start_action = "none".into();
    }
    let gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &opts));
    Running { lab, azure, gw }
}

fn transfer_both_ways(lab: &AzureLab, mb: u64) {
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    let timeout = Duration::from_secs(120);
    for (from, to, addr, port) in [
        (&lab.vpc, &lab.vnet, VNET_HOST, 5001),
        (&lab.vnet, &lab.vpc, VPC_HOST, 5002),
    ] {
        let r = must(tcp_transfer(
            xfer,
            from,
            to,
            addr,
            port,
            mb * MB,
            u64::from(port),
            lab.dir.path(),
            timeout,
        ));
        assert!(
            r.intact(),
            "{} MB to {addr} arrived corrupted or short: {r:?}",
            mb
        );
        eprintln!(
            "transfer {mb} MB to {addr}: {:.0} Mbit/s, hash matches",
            r.mbit_per_s()
        );
    }
}

fn run_case(case: Case) {
    if !interop_tests::require_root(case.label) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let Running { lab, azure, mut gw } = start(&case);
    let established = gw.wait_established(GW_CONN, TUNNEL_TIMEOUT);
    if let Err(e) = established {
        panic!(
            "{e}\nazure log tail:\n{}",
            interop_tests::strongswan::log_tail(&azure, 30)
        );
    }
    let sas = must(azure.wait_sas(1, 1, Duration::from_secs(5)));
    eprintln!(
        "{}: tunnel up after {:.2?}: {sas:?}",
        case.label,
        t0.elapsed()
    );
    let listing = must(azure.list_sas());
    assert!(
        listing.contains(case.expect_ike),
        "expected IKE {} in:\n{listing}",
        case.expect_ike
    );
    assert!(
        listing.contains(case.expect_esp),
        "expected ESP {} in:\n{listing}",
        case.expect_esp
    );

    // Who initiated, from our side's status.
    let status = must(gw.status_json());
    let we_initiated = status
        .pointer("/tunnels/0/ike_sa/we_initiated")
        .and_then(|v| v.as_bool());
    assert_eq!(we_initiated, Some(case.we_initiate), "status: {status}");
    assert_eq!(
        status
            .pointer("/tunnels/0/nat_local")
            .and_then(|v| v.as_bool()),
        Some(case.nat),
        "status: {status}"
    );

    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 10,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (10, 10), "ping vpc -> vnet: {p:?}");
    transfer_both_ways(&lab, case.transfer_mb);

    // The counters saw the traffic (in both directions), and nothing secret is in the status.
    let status = must(gw.status_json());
    let bytes_in = status
        .pointer("/tunnels/0/traffic/bytes_in")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let bytes_out = status
        .pointer("/tunnels/0/traffic/bytes_out")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    assert!(
        bytes_in >= case.transfer_mb * MB && bytes_out >= case.transfer_mb * MB,
        "status: {status}"
    );
    let text = must(gw.status_text());
    assert!(
        !text.contains(interop_tests::scenario::LAB_PSK),
        "PSK in status output"
    );
    assert!(
        !gw.log().contains(interop_tests::scenario::LAB_PSK),
        "PSK in the log"
    );
    eprintln!("{}:\n{text}", case.label);

    // Orderly shutdown deletes the IKE SA on the peer (RFC 7296 1.4.1).
    gw.child.signal(libc::SIGTERM);
    must(azure.wait_exact_sas(0, None, Duration::from_secs(5)));
    let exit = must(gw.child.wait_timeout(Duration::from_secs(5)));
    assert!(exit.success(), "ipsecgw exit {exit:?}: {}", gw.log());
    eprintln!("{}: passed in {:.2?}", case.label, t0.elapsed());
}

#[test]
fn initiator_nat_aes256_sha1_gcm256_100mb() {
    run_case(Case {
        label: "i-nat-a256s1",
        nat: true,
        we_initiate: true,
        ike: &["aes256-sha1-modp1024"],
        esp: &["aes256gcm16"],
        expect_ike: "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        expect_esp: "AES_GCM_16-256",
        transfer_mb: 100,
    });
}

#[test]
fn initiator_nat_aes256_sha256_esp_aes256_sha1() {
    run_case(Case {
        label: "i-nat-a256s256",
        nat: true,
        we_initiate: true,
        ike: &["aes256-sha256-modp1024"],
        esp: &["aes256-sha1"],
        expect_ike: "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
        expect_esp: "AES_CBC-256/HMAC_SHA1_96",
        transfer_mb: 5,
    });
}

#[test]
fn initiator_no_nat_aes128_sha1_esp_aes256_sha256() {
    run_case(Case {
        label: "i-nonat-a128s1",
        nat: false,
        we_initiate: true,
        ike: &["aes128-sha1-modp1024"],
        esp: &["aes256-sha256"],
        expect_ike: "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        expect_esp: "AES_CBC-256/HMAC_SHA2_256_128",
        transfer_mb: 5,
    });
}

#[test]
fn responder_nat_aes128_sha256_esp_aes128_sha1() {
    run_case(Case {
        label: "r-nat-a128s256",
        nat: true,
        we_initiate: false,
        ike: &["aes128-sha256-modp1024"],
        esp: &["aes128-sha1"],
        expect_ike: "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
        expect_esp: "AES_CBC-128/HMAC_SHA1_96",
        transfer_mb: 5,
    });
}

#[test]
fn responder_no_nat_azure_default_lists_100mb() {
    // Both sides hold Azure's whole default lists; strongSwan (Azure) initiates with its first
    // choices and we, as responder, pick by our own order: the first of the preset.
    run_case(Case {
        label: "r-nonat-default",
        nat: false,
        we_initiate: false,
        ike: &[
            "aes256-sha1-modp1024",
            "aes256-sha256-modp1024",
            "aes128-sha1-modp1024",
            "aes128-sha256-modp1024",
        ],
        esp: &["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"],
        expect_ike: "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        expect_esp: "AES_GCM_16-256",
        transfer_mb: 100,
    });
}

/// IPv4 and IPv6 prefixes inside one tunnel (IPv4 underlay, as Azure's S2S): both families
/// negotiated as selectors of the one CHILD_SA, ping and a hashed transfer over IPv6.
#[test]
fn dual_stack_inside_the_tunnel() {
    use interop_tests::topology::{
        VNET6_HOST, VNET6_PREFIX, VNET_PREFIX, VPC6_HOST, VPC6_PREFIX, VPC_PREFIX,
    };
    if !interop_tests::require_root("dual_stack_inside_the_tunnel") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "dual-stack".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    opts.local_ts = vec![VPC_PREFIX.into(), VPC6_PREFIX.into()];
    opts.remote_ts = vec![VNET_PREFIX.into(), VNET6_PREFIX.into()];
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &opts));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    let listing = must(azure.list_sas());
    assert!(
        listing.contains(VPC6_PREFIX) && listing.contains(VNET6_PREFIX),
        "IPv6 selectors not negotiated:\n{listing}"
    );
    must(wait_for_ping(&lab.vpc, VNET6_HOST, Duration::from_secs(5)));
    let p = must(ping(
        &lab.vpc,
        VNET6_HOST,
        &PingOpts {
            count: 10,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (10, 10), "ping6 vpc -> vnet: {p:?}");
    let p = must(ping(
        &lab.vnet,
        VPC6_HOST,
        &PingOpts {
            count: 10,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (10, 10), "ping6 vnet -> vpc: {p:?}");
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    let r = must(tcp_transfer(
        xfer,
        &lab.vpc,
        &lab.vnet,
        VNET6_HOST,
        5006,
        10 * MB,
        6,
        lab.dir.path(),
        Duration::from_secs(60),
    ));
    assert!(r.intact(), "IPv6 transfer corrupted: {r:?}");
    // IPv4 still works beside it.
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 5,
            ..PingOpts::default()
        },
    ));
    assert_eq!(p.received, 5, "{p:?}");
    eprintln!(
        "dual stack: IPv6 10 MB at {:.0} Mbit/s, hash matches",
        r.mbit_per_s()
    );
}

/// Our modp2048 against Azure's default policy (modp1024 only): as responder we refuse
/// strongSwan's offer and log both sides' proposals once; as initiator we fail fast.
#[test]
fn proposal_mismatch_fails_fast_and_names_both_sides() {
    if !interop_tests::require_root("proposal_mismatch") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for we_initiate in [false, true] {
        let case = Case {
            label: if we_initiate {
                "mismatch-i"
            } else {
                "mismatch-r"
            },
            nat: true,
            we_initiate,
            ike: &["aes256-sha256-modp2048"],
            esp: &["aes256gcm16"],
            expect_ike: "",
            expect_esp: "",
            transfer_mb: 0,
        };
        let t0 = Instant::now();
        let Running {
            lab: _lab,
            azure,
            gw,
        } = start(&case);
        must(wait_for(
            "the mismatch to be reported",
            Duration::from_secs(15),
            || {
                gw.status_json()
                    .ok()
                    .and_then(|s| {
                        s.pointer("/tunnels/0/last_error")
                            .and_then(|e| e.as_str())
                            .map(str::to_string)
                    })
                    .is_some_and(|e| e.contains("no IKE proposal chosen"))
            },
        ));
        let elapsed = t0.elapsed();
        let status = must(gw.status_json());
        let err = status
            .pointer("/tunnels/0/last_error")
            .and_then(|e| e.as_str())
            .unwrap_or("")
            .to_string();
        assert!(
            err.to_lowercase().contains("modp") && err.contains("2048"),
            "ours not named: {err}"
        );
        if !we_initiate {
            // strongSwan told us what it offered: both sides named.
            assert!(err.contains("1024"), "peer's proposals not named: {err}");
        }
        let log = gw.log();
        let lines = log
            .lines()
            .filter(|l| l.contains("no IKE proposal chosen"))
            .count();
        assert!(lines >= 1, "no log line for the mismatch:\n{log}");
        assert!(azure.sa_summary().map(|s| s.ike_established()).unwrap_or(0) == 0);
        eprintln!(
            "{}: mismatch reported after {elapsed:.2?}: {err}",
            case.label
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "mismatch took {elapsed:?}"
        );
    }
}
