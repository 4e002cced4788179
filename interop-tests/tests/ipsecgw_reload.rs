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
        assert_eq!(p.received, p.sent, "pings lost across reloads: {p:?}");
        assert_eq!(spis(&gw), before, "the unchanged tunnel kept its SAs");
        assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
        assert!(gw.log().contains("SIGHUP"), "SIGHUP was handled");
        assert_eq!(must(azure.sa_summary()).ike_count(), 1);
        eprintln!("reload: {} pings, none lost; SAs kept {:?}", p.sent, before);
    });
}
