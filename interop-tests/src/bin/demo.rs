//! The Azure lab demo: builds the topology (EC2-style NAT on), starts the strongSwan "Azure VPN
//! Gateway", starts the gateway in `gw`, then pings and transfers VPC -> VNet and prints status.
//! Everything is torn down at the end, on error, and on Ctrl-C/SIGTERM.
//!
//! Usage (root): `demo [--gw ipsecgw|strongswan] [--keep]`
//! `--gw strongswan` runs a strongSwan configured as ipsecgw would be, to check the lab itself.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use interop_tests::bail;
use interop_tests::error::Context;
use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::scenario::{azure_conn, gw_conn, start_azure, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, CharonConfig, LogLevels, StartAction};
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST, VNET_PREFIX, VPC_HOST};
use interop_tests::traffic::{ping, tcp_transfer, wait_for_ping, xfer_bin, PingOpts};
use interop_tests::Result;

/// What runs in `gw`; dropped (stopped) before the lab.
enum Gateway {
    Ipsecgw(Ipsecgw),
    StrongSwan(Charon),
}

/// Starts ipsecgw in the lab's `gw` namespace with a generated config in `dir`.
fn start_gateway(lab: &AzureLab, dir: &Path) -> Result<Ipsecgw> {
    let mut opts = GatewayOpts::azure_default(lab);
    opts.control_socket = dir.join("control.sock");
    opts.log_level = "info".into();
    Ipsecgw::start_in_lab(lab, &lab.gw, dir, &opts)
}

/// strongSwan in `gw`, configured as ipsecgw would be, initiating at start.
fn start_strongswan_gateway(lab: &AzureLab, dir: &Path) -> Result<Charon> {
    let conn =
        gw_conn(lab, &["aes256-sha1-modp1024"], &["aes256gcm16"]).start_action(StartAction::Start);
    let charon = Charon::start(&lab.gw, dir, &CharonConfig::new(vec![conn]))?;
    Ok(charon)
}

fn run(use_strongswan: bool, keep: bool) -> Result<()> {
    let t0 = Instant::now();
    let mut lab = AzureLab::new(LabOptions {
        nat: true,
        label: "demo".into(),
    })?;
    if keep {
        lab.dir.keep();
    }
    let res = exercise(&lab, use_strongswan, t0);
    if res.is_err() {
        lab.dir.keep(); // logs and the generated config stay for inspection
    }
    res
}

fn exercise(lab: &AzureLab, use_strongswan: bool, t0: Instant) -> Result<()> {
    println!(
        "lab: namespaces vpc={} gw={} nat={} azure={} vnet={}",
        lab.vpc.name(),
        lab.gw.name(),
        lab.nat.name(),
        lab.azure.name(),
        lab.vnet.name()
    );
    println!(
        "lab: gw {} (EIP {}), azure {}, run dir {}",
        lab.gw_outside_addr(),
        lab.gw_public_addr(),
        lab.azure_public_addr(),
        lab.dir.path().display()
    );

    let azure = start_azure(lab, azure_conn(lab), LogLevels::default())?;
    println!(
        "azure: strongSwan (Azure default policy) running, pid {}",
        azure.pid()
    );

    let dir = lab.dir.subdir("gw")?;
    let mut gateway = if use_strongswan {
        let c = start_strongswan_gateway(lab, &dir)?;
        Gateway::StrongSwan(c)
    } else {
        Gateway::Ipsecgw(start_gateway(lab, &dir)?)
    };
    let sas = azure.wait_sas(1, 1, TUNNEL_TIMEOUT).context(format!(
        "tunnel did not come up; azure log: {}",
        azure.log_path().display()
    ))?;
    match &mut gateway {
        Gateway::StrongSwan(c) => c.route_via_tun(&lab.gw, VNET_PREFIX)?,
        Gateway::Ipsecgw(gw) => gw.wait_established("azure", Duration::from_secs(10))?,
    }
    println!("tunnel: up after {:.2?}: {sas:?}", t0.elapsed());

    wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(10))?;
    let p = ping(
        &lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 20,
            ..PingOpts::default()
        },
    )?;
    println!(
        "ping vpc -> vnet: {}/{} replies, avg {:.3} ms",
        p.received,
        p.sent,
        p.avg_rtt_ms().unwrap_or(0.0)
    );

    let xfer = xfer_bin()?;
    let mb = 10u64 << 20;
    for (from, to, addr, port, label) in [
        (&lab.vpc, &lab.vnet, VNET_HOST, 5001, "vpc -> vnet"),
        (&lab.vnet, &lab.vpc, VPC_HOST, 5002, "vnet -> vpc"),
    ] {
        let r = tcp_transfer(
            &xfer,
            from,
            to,
            addr,
            port,
            mb,
            port as u64,
            lab.dir.path(),
            Duration::from_secs(60),
        )?;
        println!(
            "transfer {label}: 10 MB, {:.0} Mbit/s, sha256 {}",
            r.mbit_per_s(),
            if r.intact() { "matches" } else { "MISMATCH" }
        );
        if !r.intact() {
            bail!("transfer {label} corrupted: {r:?}");
        }
    }
    if let Gateway::Ipsecgw(gw) = &gateway {
        println!("\n$ ipsecgw status\n{}", gw.status_text()?);
    }
    println!("azure (strongSwan) SAs:\n{}", azure.list_sas()?);
    drop(gateway);
    println!("done in {:.2?}", t0.elapsed());
    Ok(())
}

fn main() -> ExitCode {
    interop_tests::cleanup::install_signal_cleanup();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let use_strongswan = args
        .windows(2)
        .any(|w| w[0] == "--gw" && w[1] == "strongswan")
        || args.iter().any(|a| a == "--gw=strongswan");
    let keep = args.iter().any(|a| a == "--keep");
    if !interop_tests::require_root("demo") {
        return ExitCode::FAILURE;
    }
    match run(use_strongswan, keep) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}
