//! The operator's verbs against a live tunnel (strongSwan as Azure's default policy, the EC2
//! NAT lab): `ipsecgw terminate NAME` deletes the SAs at the peer too and keeps the tunnel
//! down (no re-initiation) until `ipsecgw initiate NAME` brings it back; both answer in JSON
//! with `--json`.
//!
//! Needs root; skips loudly otherwise.

use std::time::Duration;

use interop_tests::gateway_config::{ipsecgw_toml, GatewayOpts};
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::LogLevels;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST};
use interop_tests::traffic::{ping, wait_for_ping, PingOpts};
use interop_tests::Result;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn ping_n(lab: &AzureLab, n: u32) -> (u32, u32) {
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: n,
            ..PingOpts::default()
        },
    ));
    (p.sent, p.received)
}

/// `ipsecgw --socket S VERB NAME --json` in the gateway's namespace: (exit success, JSON).
fn verb_json(lab: &AzureLab, socket: &std::path::Path, verb: &str) -> (bool, serde_json::Value) {
    let bin = must(interop_tests::ipsecgw::ipsecgw_bin());
    let out = lab
        .gw
        .command(&bin.to_string_lossy())
        .args([
            verb,
            "--socket",
            &socket.to_string_lossy(),
            GW_CONN,
            "--json",
        ])
        .output()
        .expect("ipsecgw");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("`ipsecgw {verb} --json` printed no JSON ({e}): {text}"));
    (out.status.success(), v)
}

#[test]
fn terminate_holds_the_tunnel_down_until_initiate() {
    if !interop_tests::require_root("terminate_holds_the_tunnel_down_until_initiate") {
        return;
    }
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "verbs".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    let mut gw = must(Ipsecgw::start_with_config(
        &lab.gw,
        &dir,
        &ipsecgw_toml(&lab, &opts),
        &opts.control_socket,
    ));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(azure.wait_sas(1, 1, Duration::from_secs(5)));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    assert_eq!(ping_n(&lab, 5), (5, 5));

    // terminate: our DELETE reaches the peer, which then holds no SA at all.
    let (ok, v) = verb_json(&lab, &opts.control_socket, "terminate");
    assert!(ok && v["ok"] == true, "terminate: {v}");
    must(azure.wait_exact_sas(0, None, Duration::from_secs(5)));
    // It stays down: no re-initiation by us (the peer's config does not initiate).
    std::thread::sleep(Duration::from_secs(6));
    let status = must(gw.status_json());
    assert_ne!(
        status.pointer("/tunnels/0/state").and_then(|s| s.as_str()),
        Some("established"),
        "{status}"
    );
    assert!(
        status
            .pointer("/tunnels/0/ike_sa")
            .is_none_or(|s| s.is_null()),
        "{status}"
    );
    assert_eq!(must(azure.sa_summary()).ike_count(), 0);
    let (sent, received) = ping_n(&lab, 3);
    assert_eq!(
        (sent, received),
        (3, 0),
        "traffic crossed a terminated tunnel"
    );

    // initiate: back up, traffic flows, one IKE SA at the peer.
    let (ok, v) = verb_json(&lab, &opts.control_socket, "initiate");
    assert!(ok && v["ok"] == true, "initiate: {v}");
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    let sas = must(azure.wait_sas(1, 1, Duration::from_secs(5)));
    assert_eq!((sas.ike_count(), sas.child_count()), (1, 1), "{sas:?}");
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    assert_eq!(ping_n(&lab, 5), (5, 5));

    // An unknown name is an error, also in JSON.
    let bin = must(interop_tests::ipsecgw::ipsecgw_bin());
    let out = lab
        .gw
        .command(&bin.to_string_lossy())
        .args([
            "initiate",
            "--socket",
            &opts.control_socket.to_string_lossy(),
            "no-such-tunnel",
            "--json",
        ])
        .output()
        .expect("ipsecgw");
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON for an unknown tunnel");
    assert!(!out.status.success() && v["ok"] == false, "{v}");
}
