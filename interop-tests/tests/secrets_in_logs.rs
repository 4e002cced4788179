//! Secrets never reach the logs: ipsecgw at trace level through a handshake, a CHILD rekey and
//! an IKE rekey against strongSwan; strongSwan logs every derived key (its key-dump level), and
//! not one of them, nor the PSK, appears in ipsecgw's log or status output. Needs root.

use std::time::Duration;

use interop_tests::fixtures::key_dumps;
use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::proc::wait_for;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, LAB_PSK, TUNNEL_TIMEOUT};
use interop_tests::strongswan::LogLevels;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST};
use interop_tests::traffic::wait_for_ping;
use interop_tests::Result;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn no_psk_or_derived_key_in_trace_logs() {
    if !interop_tests::require_root("no_psk_or_derived_key_in_trace_logs") {
        return;
    }
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "secrets".into(),
    }));
    let azure = must(start_azure(
        &lab,
        azure_conn(&lab).pfs(Some("modp2048")),
        LogLevels::keys(),
    ));
    let dir = must(lab.dir.subdir("gw"));
    let mut o = GatewayOpts::azure_default(&lab);
    o.control_socket = dir.join("control.sock");
    o.log_level = "trace".into();
    o.esp_proposals = vec!["aes256gcm16-modp2048".into()];
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &o));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    must(azure.rekey_child("onprem-net"));
    must(wait_for("the CHILD rekey", Duration::from_secs(10), || {
        gw.status_json().ok().and_then(|s| {
            s.pointer("/tunnels/0/child_rekeys")
                .and_then(|v| v.as_u64())
        }) >= Some(1)
    }));
    must(azure.rekey_ike("onprem"));
    must(wait_for("the IKE rekey", Duration::from_secs(10), || {
        gw.status_json()
            .ok()
            .and_then(|s| s.pointer("/tunnels/0/ike_rekeys").and_then(|v| v.as_u64()))
            >= Some(1)
    }));
    let status = must(gw.status_text()) + &must(gw.status_json()).to_string();
    must(gw.terminate(GW_CONN).map(drop));
    std::thread::sleep(Duration::from_millis(500));

    // Every secret strongSwan derived: DH secrets, SKEYSEED, SK_* and the ESP keys.
    let secrets: Vec<(String, Vec<u8>)> = key_dumps(&azure.log())
        .into_iter()
        .filter(|d| {
            let l = d.label.to_lowercase();
            (l.contains("secret")
                || l.contains("skeyseed")
                || l.ends_with(" key")
                || l.contains("key material"))
                && d.bytes.len() >= 16
        })
        .map(|d| (d.label, d.bytes))
        .collect();
    assert!(
        secrets.len() >= 10,
        "too few keys in strongSwan's key log: {:?}",
        secrets.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    let log = gw.log();
    assert!(
        log.lines().count() > 50 && (log.contains("TRACE") || log.contains("DEBUG")),
        "trace logging was not on:\n{log}"
    );
    let haystack = format!("{log}\n{status}");
    let lower = haystack.to_lowercase();
    assert!(
        !haystack.contains(LAB_PSK),
        "the PSK reached the log or status"
    );
    for (label, bytes) in &secrets {
        // As hex (any case, also any 16-byte window) and as a Rust byte-array Debug prefix.
        let h = hex(bytes);
        for w in (0..=h.len().saturating_sub(32)).step_by(2) {
            assert!(
                !lower.contains(&h[w..w + 32]),
                "{label} (or 16 bytes of it) appears in ipsecgw's output"
            );
        }
        let debug_prefix = format!(
            "[{}, {}, {}, {}, {}, {}",
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]
        );
        assert!(
            !haystack.contains(&debug_prefix),
            "{label} appears as a byte array in ipsecgw's output"
        );
    }
    eprintln!(
        "secrets: {} keys and the PSK checked against {} log lines",
        secrets.len(),
        log.lines().count()
    );
}
