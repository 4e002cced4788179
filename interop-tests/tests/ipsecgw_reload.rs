//! `ipsecgw reload`: applies only the differences; an unchanged tunnel keeps its SAs and its
//! traffic (not one ping lost); a config with errors is rejected whole. Needs root.

use std::time::Duration;

use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::LogLevels;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST};
use interop_tests::traffic::{ping, wait_for_ping, PingOpts};
use interop_tests::Result;

/// The tests of this file run one at a time (ping-loss timing on a 2-core machine).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn spis(gw: &Ipsecgw) -> (String, String, String) {
    let s = must(gw.status_json());
    let get = |p: &str| {
        s.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    (
        get("/tunnels/0/ike_sa/initiator_spi"),
        get("/tunnels/0/child_sas/0/spi_in"),
        get("/tunnels/0/child_sas/0/spi_out"),
    )
}

const EXTRA: &str = r#"
[connections.extra]
remote_addrs = ["203.0.113.99"]
local_addrs = ["172.31.5.10"]
psk = "another-test-psk-that-is-long-enough"
mode = "responder"
start_action = "none"
tun_name = "ipsecgw1"
[connections.extra.children.net]
local_ts = ["10.0.1.0/24"]
remote_ts = ["10.9.0.0/24"]
"#;

#[test]
fn reload_applies_differences_only() {
    if !interop_tests::require_root("reload_applies_differences_only") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "reload".into(),
    }));
    let azure = must(start_azure(&lab, azure_conn(&lab), LogLevels::default()));
    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &dir, &opts));
    must(gw.wait_established(GW_CONN, TUNNEL_TIMEOUT));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let before = spis(&gw);
    let original = must(std::fs::read_to_string(gw.config_path()).map_err(Into::into));

    std::thread::scope(|scope| {
        let pinger = scope.spawn(|| {
            ping(
                &lab.vpc,
                VNET_HOST,
                &PingOpts {
                    count: 250,
                    interval: Duration::from_millis(20),
                    ..PingOpts::default()
                },
            )
        });

        // 1. Unchanged file: nothing changes.
        let msg = must(gw.reload());
        assert!(msg.contains("unchanged azure"), "{msg}");
        // 2. A second connection appears: added, the first untouched.
        must(std::fs::write(gw.config_path(), format!("{original}{EXTRA}")).map_err(Into::into));
        let msg = must(gw.reload());
        assert!(
            msg.contains("added extra") && msg.contains("unchanged azure"),
            "{msg}"
        );
        let st = must(gw.status_json());
        assert_eq!(
            st.pointer("/tunnels")
                .and_then(|t| t.as_array())
                .map(|a| a.len()),
            Some(2),
            "{st}"
        );
        assert!(
            lab.gw.has_link("ipsecgw1"),
            "the new tunnel's TUN device exists"
        );
        // 3. A config with errors is rejected whole, naming the key; nothing changes.
        let broken = format!("{original}{EXTRA}")
            .replace("mtu = 1400", "mtu = 1400\nremote_adress = [\"1.2.3.4\"]");
        must(std::fs::write(gw.config_path(), broken).map_err(Into::into));
        let err = gw.reload().expect_err("a broken config must be rejected");
        assert!(
            err.to_string().contains("remote_adress"),
            "the error names the bad key: {err}"
        );
        let st = must(gw.status_json());
        assert_eq!(
            st.pointer("/tunnels")
                .and_then(|t| t.as_array())
                .map(|a| a.len()),
            Some(2),
            "{st}"
        );
        // 4. The extra connection goes away again.
        must(std::fs::write(gw.config_path(), &original).map_err(Into::into));
        let msg = must(gw.reload());
        assert!(msg.contains("removed extra"), "{msg}");
        must(interop_tests::proc::wait_for(
            "ipsecgw1 to disappear",
            Duration::from_secs(3),
            || !lab.gw.has_link("ipsecgw1"),
        ));
        // SIGHUP reloads too.
        gw.child.signal(libc::SIGHUP);

        let p = must(pinger.join().expect("ping thread"));
        assert!(
            p.ran_in_full(250),
            "the ping stream did not run in full: {p:?}"
        );
        assert_eq!(p.received, p.sent, "pings lost across reloads: {p:?}");
        assert_eq!(spis(&gw), before, "the unchanged tunnel kept its SAs");
        assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
        assert!(gw.log().contains("SIGHUP"), "SIGHUP was handled");
        assert_eq!(must(azure.sa_summary()).ike_count(), 1);
        interop_tests::traffic::report::record(
            "reload",
            "reload_applies_differences_only",
            &format!(
                "{}/{} pings answered across four reloads; SAs kept",
                p.received, p.sent
            ),
        );
    });
}

const CONN_A: &str = "azure-a";
const CONN_B: &str = "azure-b";

/// The status entry of tunnel `name`.
fn tunnel_status(gw: &Ipsecgw, name: &str) -> serde_json::Value {
    let s = must(gw.status_json());
    s.pointer("/tunnels")
        .and_then(|t| t.as_array())
        .and_then(|ts| {
            ts.iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no tunnel {name} in {s}"))
}

fn child_spis(gw: &Ipsecgw, name: &str) -> (String, String, String) {
    let t = tunnel_status(gw, name);
    let get = |p: &str| {
        t.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    (
        get("/ike_sa/initiator_spi"),
        get("/child_sas/0/spi_in"),
        get("/child_sas/0/spi_out"),
    )
}

/// Two established tunnels, one to each Azure instance of an active-active lab, each routing
/// only its instance's inside address (so each ping stream has one tunnel to itself). `esp_b`
/// is tunnel B's ESP proposal (the change the test reloads).
fn two_tunnels_toml(lab: &AzureLab, socket: &std::path::Path, esp_b: &str) -> String {
    use interop_tests::gateway_config::ipsecgw_toml;
    use interop_tests::topology::{AZURE2_INSIDE, AZURE2_PUBLIC, AZURE_INSIDE, AZURE_PUBLIC};
    let mut text = String::new();
    for (conn, tun, addr, inside, esp) in [
        (
            CONN_A,
            "ipsecgw-a",
            AZURE_PUBLIC,
            AZURE_INSIDE,
            "aes256gcm16",
        ),
        (CONN_B, "ipsecgw-b", AZURE2_PUBLIC, AZURE2_INSIDE, esp_b),
    ] {
        let mut opts = GatewayOpts::azure_default(lab);
        opts.conn = conn.into();
        opts.tun_name = tun.into();
        opts.control_socket = socket.to_path_buf();
        opts.esp_proposals = vec![esp.into()];
        opts.remote_ts = vec![format!("{inside}/32")];
        let t = ipsecgw_toml(lab, &opts)
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

/// issue 6: "A reload that changes one of two tunnels leaves the other's ping stream without a
/// single loss." Both tunnels are established and pinged at 50/s; tunnel B's ESP proposal
/// changes; after the reload B runs a new CHILD SA with the new suite and A has lost nothing
/// and kept its SAs.
#[test]
fn reload_changing_one_of_two_tunnels_spares_the_other() {
    if !interop_tests::require_root("reload_changing_one_of_two_tunnels_spares_the_other") {
        return;
    }
    use interop_tests::azure_policy::AzurePolicy;
    use interop_tests::strongswan::{Charon, CharonConfig};
    use interop_tests::topology::{
        AZURE2_INSIDE, AZURE2_PUBLIC, AZURE_INSIDE, AZURE_PUBLIC, VPC_PREFIX,
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = must(AzureLab::new_active_active(LabOptions {
        nat: true,
        label: "reload2".into(),
    }));
    let start_instance = |ns, addr: &str, sub: &str| {
        let conn = AzurePolicy::Default.swan_conn_at(&lab, addr, false);
        let dir = must(lab.dir.subdir(sub));
        let c = must(Charon::start(
            ns,
            &dir,
            &CharonConfig::new(vec![conn]).with_log(LogLevels::default()),
        ));
        must(c.route_via_tun(ns, VPC_PREFIX));
        c
    };
    let azure = start_instance(&lab.azure, AZURE_PUBLIC, "azure");
    let azure2 = start_instance(must(lab.azure2()), AZURE2_PUBLIC, "azure2");
    let dir = must(lab.dir.subdir("gw"));
    let socket = dir.join("control.sock");
    let mut gw = must(Ipsecgw::start_with_config(
        &lab.gw,
        &dir,
        &two_tunnels_toml(&lab, &socket, "aes256gcm16"),
        &socket,
    ));
    for conn in [CONN_A, CONN_B] {
        must(gw.wait_established(conn, TUNNEL_TIMEOUT));
    }
    must(azure.wait_sas(1, 1, Duration::from_secs(5)));
    must(azure2.wait_sas(1, 1, Duration::from_secs(5)));
    must(wait_for_ping(
        &lab.vpc,
        AZURE_INSIDE,
        Duration::from_secs(5),
    ));
    must(wait_for_ping(
        &lab.vpc,
        AZURE2_INSIDE,
        Duration::from_secs(5),
    ));
    let a_before = child_spis(&gw, CONN_A);
    let b_before = child_spis(&gw, CONN_B);
    let b_suite_before = tunnel_status(&gw, CONN_B)
        .pointer("/child_sas/0/suite")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();

    const COUNT: u32 = 400; // 8 s at 50/s
    let opts = PingOpts {
        count: COUNT,
        interval: Duration::from_millis(20),
        ..PingOpts::default()
    };
    let t_reload = std::thread::scope(|scope| {
        let ping_a = scope.spawn(|| ping(&lab.vpc, AZURE_INSIDE, &opts));
        let ping_b = scope.spawn(|| ping(&lab.vpc, AZURE2_INSIDE, &opts));
        std::thread::sleep(Duration::from_secs(2));
        must(
            std::fs::write(
                gw.config_path(),
                two_tunnels_toml(&lab, &socket, "aes256-sha256"),
            )
            .map_err(Into::into),
        );
        let t0 = std::time::Instant::now();
        let msg = must(gw.reload());
        assert!(
            msg.contains(&format!("changed {CONN_B}"))
                && msg.contains(&format!("unchanged {CONN_A}")),
            "{msg}\nlog:\n{}",
            gw.log()
        );
        must(gw.wait_established(CONN_B, TUNNEL_TIMEOUT));
        let t_up = t0.elapsed();
        let a = must(ping_a.join().expect("ping A thread"));
        let b = must(ping_b.join().expect("ping B thread"));
        assert!(a.ran_in_full(COUNT), "tunnel A's ping ran in full: {a:?}");
        assert_eq!(
            a.received, a.sent,
            "the unchanged tunnel lost pings during the reload: {a:?}"
        );
        assert!(b.ran_in_full(COUNT), "tunnel B's ping ran in full: {b:?}");
        interop_tests::traffic::report::record(
            "reload",
            "reload_changing_one_of_two_tunnels_spares_the_other",
            &format!(
                "unchanged tunnel {}/{} pings answered; changed tunnel {}/{} answered, re-established {t_up:.2?} after the reload",
                a.received, a.sent, b.received, b.sent
            ),
        );
        t_up
    });
    assert!(t_reload < TUNNEL_TIMEOUT);
    assert_eq!(child_spis(&gw, CONN_A), a_before, "tunnel A kept its SAs");
    let b_after = child_spis(&gw, CONN_B);
    assert_ne!(b_after.1, b_before.1, "tunnel B runs a new CHILD SA");
    let b_suite = tunnel_status(&gw, CONN_B)
        .pointer("/child_sas/0/suite")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();
    assert_ne!(
        b_suite, b_suite_before,
        "tunnel B's suite follows the new config"
    );
    assert!(
        b_suite.contains("256") && !b_suite.contains("GCM"),
        "tunnel B negotiated aes256-sha256: {b_suite}"
    );
    // Each peer holds exactly one IKE SA and one CHILD SA: the old ones of B were deleted.
    must(azure2.wait_sas(1, 1, Duration::from_secs(5)));
    let s2 = must(azure2.list_sas());
    assert!(
        s2.contains("HMAC_SHA2_256_128"),
        "azure2 runs the new suite:\n{s2}"
    );
    let s1 = must(azure.sa_summary());
    assert_eq!((s1.ike_count(), s1.child_count()), (1, 1));
    let p = must(ping(
        &lab.vpc,
        AZURE2_INSIDE,
        &PingOpts {
            count: 20,
            ..PingOpts::default()
        },
    ));
    assert_eq!(
        (p.sent, p.received),
        (20, 20),
        "tunnel B carries traffic: {p:?}"
    );
    drop(gw);
}
