//! strongSwan (configured as ipsecgw would be, in `gw`) against the strongSwan Azure stand-in:
//! validates the harness before ipsecgw exists. Needs root; skips loudly otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use interop_tests::scenario::{PairOptions, SwanPair};
use interop_tests::topology::{LabOptions, VNET_HOST, VPC_HOST};
use interop_tests::traffic::{iperf3, ping, tcp_transfer, wait_for_ping, IperfOpts, PingOpts};
use interop_tests::Result;

/// The lab tests share 2 cores: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const MB: u64 = 1 << 20;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn baseline(nat: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let label = if nat {
        "baseline-nat"
    } else {
        "baseline-nonat"
    };
    let pair = must(SwanPair::start(PairOptions::azure_default(LabOptions {
        nat,
        label: label.into(),
    })));
    must(pair.connect());
    let up = t0.elapsed();
    let lab = &pair.lab;

    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    let p = must(ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 20,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (20, 20), "ping vpc -> vnet: {p:?}");

    let xfer = std::path::Path::new(env!("CARGO_BIN_EXE_xfer"));
    let dir = lab.dir.path();
    let timeout = Duration::from_secs(30);
    let fwd = must(tcp_transfer(
        xfer,
        &lab.vpc,
        &lab.vnet,
        VNET_HOST,
        5001,
        20 * MB,
        1,
        dir,
        timeout,
    ));
    assert!(fwd.intact(), "vpc -> vnet transfer corrupted: {fwd:?}");
    let back = must(tcp_transfer(
        xfer,
        &lab.vnet,
        &lab.vpc,
        VPC_HOST,
        5002,
        20 * MB,
        2,
        dir,
        timeout,
    ));
    assert!(back.intact(), "vnet -> vpc transfer corrupted: {back:?}");

    // The iperf3 wrapper, briefly (one direction per lab variant).
    let iperf_opts = IperfOpts {
        seconds: 2,
        reverse: !nat,
        ..IperfOpts::default()
    };
    let iperf = must(iperf3(&lab.vpc, &lab.vnet, VNET_HOST, &iperf_opts, dir));
    assert!(
        iperf.received_bps > 1e6,
        "iperf3 through the tunnel: {:.0} bit/s",
        iperf.received_bps
    );

    for (side, charon) in [("gw", &pair.gw), ("azure", &pair.azure)] {
        let s = must(charon.sa_summary());
        assert_eq!(s.ike_count(), 1, "{side}: exactly one IKE SA: {s:?}");
        assert_eq!(s.child_count(), 1, "{side}: exactly one CHILD SA: {s:?}");
        assert!(
            s.child_bytes_in > 20 * MB && s.child_bytes_out > 20 * MB,
            "{side}: both transfers went through the CHILD SA: {s:?}"
        );
    }
    eprintln!(
        "{label}: tunnel up in {up:.2?}; ping avg {:.2} ms; 20 MB fwd {:.0} Mbit/s, back {:.0} Mbit/s; \
         iperf3 {:.0} Mbit/s ({} retransmits); total {:.2?}",
        p.avg_rtt_ms().unwrap_or(0.0),
        fwd.mbit_per_s(),
        back.mbit_per_s(),
        iperf.received_bps / 1e6,
        iperf.retransmits,
        t0.elapsed()
    );
}

#[test]
fn azure_default_behind_eip_nat() {
    if interop_tests::require_root("azure_default_behind_eip_nat") {
        baseline(true);
    }
}

#[test]
fn azure_default_without_nat() {
    if interop_tests::require_root("azure_default_without_nat") {
        baseline(false);
    }
}

/// Azure's default policy refuses a modp2048 offer with NO_PROPOSAL_CHOSEN, and nothing is left.
#[test]
fn azure_default_refuses_modp2048() {
    if !interop_tests::require_root("azure_default_refuses_modp2048") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut opts = PairOptions::azure_default(LabOptions {
        nat: true,
        label: "refuse-modp2048".into(),
    });
    opts.gw_ike = vec!["aes256-sha256-modp2048".into()];
    let pair = must(SwanPair::start(opts));
    let err = pair.connect().expect_err("modp2048 must be refused");
    assert!(
        pair.gw.log().contains("NO_PROPOSAL_CHOSEN"),
        "gw saw NO_PROPOSAL_CHOSEN ({err})"
    );
    assert_eq!(must(pair.azure.sa_summary()).ike_count(), 0);
}
