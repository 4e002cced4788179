//! ipsecgw in `gw` (initiator, bound to the EC2 private address, identified by the EIP) against
//! either ipsecgw or strongSwan in `azure`.

use std::path::Path;

use interop_tests::error::Context;
use interop_tests::gateway_config::GatewayOpts;
use interop_tests::ipsecgw::Ipsecgw;
use interop_tests::scenario::{azure_conn, start_azure, GW_CONN, LAB_PSK, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, LogLevels};
use interop_tests::topology::{AzureLab, VNET_PREFIX, VPC_PREFIX};
use interop_tests::Result;

use super::{Tunnel, TUNNEL_MTU};

/// The suite both ends use: what Azure's default policy picks first.
const IKE: &str = "aes256-sha1-modp1024";
const ESP: &str = "aes256gcm16";
/// The responder's connection name in `azure`.
const AZURE_CONN: &str = "onprem";

pub struct IpsecgwPair {
    // Field order is drop order: initiator first.
    gw: Ipsecgw,
    azure: Ipsecgw,
}

impl Tunnel for IpsecgwPair {
    fn pids(&self) -> Vec<u32> {
        vec![self.gw.child.pid(), self.azure.child.pid()]
    }

    fn describe(&self) -> String {
        let extra = daemon_extra();
        let settings = if extra.is_empty() {
            String::new()
        } else {
            format!(", [daemon] {}", extra.trim_end().replace('\n', ", "))
        };
        format!(
            "IKE {IKE}, ESP {ESP} in UDP 4500 (NAT-T), TUN MTU {TUNNEL_MTU}, log_level info{settings}"
        )
    }

    fn counters(&self) -> Option<String> {
        Some(format!(
            "gw: {}; azure: {}",
            counters(&self.gw),
            counters(&self.azure)
        ))
    }
}

pub struct IpsecgwVsSwan {
    gw: Ipsecgw,
    azure: Charon,
}

impl Tunnel for IpsecgwVsSwan {
    fn pids(&self) -> Vec<u32> {
        vec![self.gw.child.pid(), self.azure.pid()]
    }

    fn describe(&self) -> String {
        format!(
            "IKE {IKE}, ESP {ESP} in UDP 4500; azure side: charon kernel-libipsec with Azure's default policy"
        )
    }

    fn counters(&self) -> Option<String> {
        Some(format!("gw: {}", counters(&self.gw)))
    }
}

/// The inline-send counters of the first tunnel in `gw`'s status, and the workers' drops
/// to `SCHED_OTHER` (`realtime_priority`).
fn counters(gw: &Ipsecgw) -> String {
    let Ok(st) = gw.status_json() else {
        return "no status".into();
    };
    [
        "tunnels/0/answers_sent_inline",
        "tunnels/0/bulk_sent_inline",
        "tunnels/0/bulk_parks",
        "daemon/workers/dropped_to_normal",
        "daemon/workers/small_batch_drops",
    ]
    .iter()
    .map(|k| {
        let v = st.pointer(&format!("/{k}")).and_then(|v| v.as_u64());
        let name = k.rsplit('/').next().unwrap_or(k);
        format!("{name} {}", v.map_or("-".into(), |v| v.to_string()))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

fn set_bin(bin: &Path) -> Result<()> {
    if !bin.is_file() {
        interop_tests::bail!(
            "no ipsecgw binary at {} (cargo build --release -p gateway)",
            bin.display()
        );
    }
    // interop_tests::ipsecgw finds the binary through this variable.
    std::env::set_var("IPSECGW_BIN", bin.canonicalize()?);
    Ok(())
}

/// The initiator's options: Azure's default suite, initiating at start, quiet logging.
fn gw_opts(lab: &AzureLab) -> GatewayOpts {
    let mut o = GatewayOpts::azure_default(lab);
    o.log_level = "info".into();
    o.extra_daemon = daemon_extra();
    o.mtu = TUNNEL_MTU;
    o.proposals = vec![IKE.into()];
    o.esp_proposals = vec![ESP.into()];
    o
}

/// The responder's config in `azure`: the mirror image of [`gw_opts`], `mode = "responder"`.
fn responder_toml(lab: &AzureLab, socket: &Path) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        "[daemon]\n\
         control_socket = {sock}\n\
         log_level = \"info\"\n\
         {daemon}\n\
         [connections.{AZURE_CONN}]\n\
         remote_addrs = [{gw}]\n\
         local_addrs = [{az}]\n\
         local_id = {az}\n\
         remote_id = {gw}\n\
         psk = {psk}\n\
         proposals = [{ike}]\n\
         mode = \"responder\"\n\
         start_action = \"none\"\n\
         mtu = {TUNNEL_MTU}\n\
         tun_name = \"ipsecgw0\"\n\n\
         [connections.{AZURE_CONN}.children.vpc]\n\
         local_ts = [{vnet}]\n\
         remote_ts = [{vpc}]\n\
         esp_proposals = [{esp}]\n",
        sock = q(&socket.to_string_lossy()),
        daemon = daemon_extra(),
        gw = q(lab.gw_public_addr()),
        az = q(lab.azure_public_addr()),
        psk = q(LAB_PSK),
        ike = q(IKE),
        esp = q(ESP),
        vnet = q(VNET_PREFIX),
        vpc = q(VPC_PREFIX),
    )
}

/// `[daemon]` lines for both ipsecgw instances, to compare settings (unset, the daemon's
/// defaults for this machine): `tun_queues = N` from `BENCH_TUN_QUEUES`,
/// `realtime_priority = N` from `BENCH_REALTIME_PRIORITY` (0: workers at `SCHED_OTHER`), and the durations
/// `reply_spin`, `aqm_target` and `aqm_interval` from `BENCH_REPLY_SPIN`, `BENCH_AQM_TARGET`
/// and `BENCH_AQM_INTERVAL` (e.g. `BENCH_AQM_TARGET=1ms`), and `aead_backend` from
/// `BENCH_AEAD_BACKEND` (`ring`, `aws-lc-rs`; unset: measured at start).
fn daemon_extra() -> String {
    let mut extra = String::new();
    for (var, key) in [
        ("BENCH_TUN_QUEUES", "tun_queues"),
        ("BENCH_REALTIME_PRIORITY", "realtime_priority"),
    ] {
        if let Ok(n) = std::env::var(var) {
            if !n.is_empty() {
                extra.push_str(&format!("{key} = {n}\n"));
            }
        }
    }
    for (var, key) in [
        ("BENCH_REPLY_SPIN", "reply_spin"),
        ("BENCH_AQM_TARGET", "aqm_target"),
        ("BENCH_AQM_INTERVAL", "aqm_interval"),
        ("BENCH_AEAD_BACKEND", "aead_backend"),
    ] {
        if let Ok(d) = std::env::var(var) {
            if !d.is_empty() {
                extra.push_str(&format!("{key} = \"{d}\"\n"));
            }
        }
    }
    extra
}

fn start_gw(lab: &AzureLab) -> Result<Ipsecgw> {
    let dir = lab.dir.subdir("gw")?;
    Ipsecgw::start_in_lab(lab, &lab.gw, &dir, &gw_opts(lab)).context("ipsecgw in gw")
}

/// ipsecgw on both sides.
pub fn start_pair(lab: &AzureLab, bin: &Path) -> Result<IpsecgwPair> {
    set_bin(bin)?;
    let dir = lab.dir.subdir("azure")?;
    let socket = dir.join("control.sock");
    let azure =
        Ipsecgw::start_with_config(&lab.azure, &dir, &responder_toml(lab, &socket), &socket)
            .context("ipsecgw responder in azure")?;
    let mut gw = start_gw(lab)?;
    gw.wait_established(GW_CONN, TUNNEL_TIMEOUT)?;
    Ok(IpsecgwPair { gw, azure })
}

/// ipsecgw in `gw`, strongSwan as the Azure stand-in.
pub fn start_vs_strongswan(lab: &AzureLab, bin: &Path) -> Result<IpsecgwVsSwan> {
    set_bin(bin)?;
    let azure = start_azure(lab, azure_conn(lab), LogLevels::default())?;
    let mut gw = start_gw(lab)?;
    gw.wait_established(GW_CONN, TUNNEL_TIMEOUT)?;
    azure.wait_sas(1, 1, TUNNEL_TIMEOUT)?;
    Ok(IpsecgwVsSwan { gw, azure })
}
