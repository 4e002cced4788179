//! ipsecgw against itself in the EC2 NAT lab (ipsecgw in `gw` behind the 1:1 NAT, ipsecgw in
//! `azure` in place of the Azure gateway), at full speed: the receive path's read-ahead
//! (small datagrams overtaking a backlog of bulk ones) and its coalescing under the load
//! that exercises them, which a strongSwan peer (~0.5 Gbit/s) never produces.
//!
//! - `bulk_both_ways_arrives_intact_and_coalesced`: two TCP transfers of 384 MiB of seeded
//!   pseudo-random bytes, one each way at the same time, arrive byte for byte (SHA-256); the
//!   inner TCP checksums cannot catch a misplaced payload here, since merged packets are
//!   written to the TUN with `NEEDS_CSUM`. Each side's TUN writes average several segments
//!   (the coalescer merged them), and pings cross the tunnel meanwhile.
//!
//! Needs root; skips loudly otherwise.

use std::path::PathBuf;
use std::time::Duration;

use interop_tests::flood::link_rx;
use interop_tests::gateway_config::{azure_side_toml, GatewayOpts};
use interop_tests::ipsecgw::{ipsecgw_bin, Ipsecgw};
use interop_tests::netns::Netns;
use interop_tests::scenario::GW_CONN;
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST, VPC_HOST};
use interop_tests::traffic::{ping, tcp_transfer, wait_for_ping, PingOpts};
use interop_tests::Result;

const MIB: u64 = 1 << 20;
/// The lab's tunnel MTU: an average TUN write above a few of these is merged segments.
const MTU: u64 = 1400;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Packets and bytes the kernel took from the daemon's writes to `ipsecgw0` in `ns`.
fn tun_writes(ns: &Netns) -> (u64, u64) {
    link_rx(ns, "ipsecgw0").expect("ipsecgw0 counters")
}

#[test]
fn bulk_both_ways_arrives_intact_and_coalesced() {
    if !interop_tests::require_root("bulk_both_ways_arrives_intact_and_coalesced") {
        return;
    }
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: "pair".into(),
    }));
    let adir = must(lab.dir.subdir("azure-gw"));
    let asock = adir.join("control.sock");
    let mut az = must(Ipsecgw::start_with_config(
        &lab.azure,
        &adir,
        &azure_side_toml(&asock, "aes256gcm16"),
        &asock,
    ));
    let gdir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = gdir.join("control.sock");
    let mut gw = must(Ipsecgw::start_in_lab(&lab, &lab.gw, &gdir, &opts));
    must(gw.wait_established(GW_CONN, Duration::from_secs(20)));
    must(az.wait_established(GW_CONN, Duration::from_secs(20)));
    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10)));
    let before = (tun_writes(&lab.gw), tun_writes(&lab.azure));

    // The optimised helper next to the daemon when it was built (CI builds it): an
    // unoptimised one could not fill the tunnel, and the read-ahead would never form.
    let xfer = ipsecgw_bin()
        .ok()
        .and_then(|p| Some(p.parent()?.join("xfer")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_xfer")));
    let xfer = xfer.as_path();
    let bytes = 384 * MIB;
    let timeout = Duration::from_secs(180);
    let (up, down, pings) = std::thread::scope(|s| {
        let up = s.spawn(|| {
            tcp_transfer(
                xfer,
                &lab.vpc,
                &lab.vnet,
                VNET_HOST,
                5101,
                bytes,
                1,
                lab.dir.path(),
                timeout,
            )
        });
        let down = s.spawn(|| {
            tcp_transfer(
                xfer,
                &lab.vnet,
                &lab.vpc,
                VPC_HOST,
                5102,
                bytes,
                2,
                lab.dir.path(),
                timeout,
            )
        });
        let pings = ping(
            &lab.vpc,
            VNET_HOST,
            &PingOpts {
                count: 20,
                interval: Duration::from_millis(50),
                ..PingOpts::default()
            },
        );
        (
            up.join().expect("upload thread"),
            down.join().expect("download thread"),
            pings,
        )
    });
    let (up, down, pings) = (must(up), must(down), must(pings));
    eprintln!(
        "VPC -> VNet {:.0} Mbit/s, VNet -> VPC {:.0} Mbit/s, pings {}/{} answered",
        up.mbit_per_s(),
        down.mbit_per_s(),
        pings.received,
        pings.sent
    );
    assert!(
        up.intact(),
        "VPC -> VNet arrived corrupted or short: {up:?}"
    );
    assert!(
        down.intact(),
        "VNet -> VPC arrived corrupted or short: {down:?}"
    );
    assert!(pings.received > 0, "no ping crossed during the transfers");

    for (side, ns, (p0, b0)) in [("gw", &lab.gw, before.0), ("azure", &lab.azure, before.1)] {
        let (p1, b1) = tun_writes(ns);
        let (packets, written) = (p1 - p0, b1 - b0);
        let average = written / packets.max(1);
        eprintln!("{side}: {packets} TUN writes, {written} bytes, {average} bytes per write");
        assert!(
            written >= bytes,
            "{side}: {written} bytes written to the TUN for a {bytes}-byte transfer"
        );
        assert!(
            average >= 3 * MTU,
            "{side}: TUN writes average {average} bytes: segments were not merged"
        );
    }
}
