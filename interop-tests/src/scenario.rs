//! The shared setup every interop test (and the demo/fixture binaries) uses: the lab, the
//! strongSwan "Azure VPN Gateway", and optionally a strongSwan standing in for ipsecgw in `gw`.

use std::time::Duration;

use crate::error::{Context, Result};
use crate::strongswan::{Charon, CharonConfig, LogLevels, StartAction, SwanConn};
use crate::topology::{AzureLab, LabOptions, VNET_PREFIX, VPC_PREFIX};

/// The pre-shared key used on both sides of the lab tunnel.
pub const LAB_PSK: &str = "ipsecgw-interop-lab-psk-4f1c9e";
/// Connection and CHILD names on the gateway side (and in [`crate::gateway_config`]).
pub const GW_CONN: &str = "azure";
pub const GW_CHILD: &str = "vnet";
/// How long to wait for a tunnel to come up.
pub const TUNNEL_TIMEOUT: Duration = Duration::from_secs(20);

/// The Azure stand-in's connection: Azure's default policy toward the gateway's EIP.
pub fn azure_conn(lab: &AzureLab) -> SwanConn {
    SwanConn::azure_default(
        lab.azure_public_addr(),
        lab.gw_public_addr(),
        lab.gw_public_addr(),
        LAB_PSK,
    )
}

/// A strongSwan connection configured as ipsecgw would be in `gw`: binds the outside (private)
/// address, identifies with the EIP, narrow selectors VPC <-> VNet, initiated explicitly.
pub fn gw_conn(lab: &AzureLab, ike: &[&str], esp: &[&str]) -> SwanConn {
    SwanConn::custom(
        lab.gw_outside_addr(),
        lab.azure_public_addr(),
        lab.gw_public_addr(),
        lab.azure_public_addr(),
        LAB_PSK,
        ike[0],
        esp[0],
    )
    .named(GW_CONN, GW_CHILD)
    .proposals(ike, esp)
    .traffic_selectors(&[VPC_PREFIX], &[VNET_PREFIX])
    .start_action(StartAction::None)
}

/// Starts charon in `azure` with `conn` and routes the VPC prefix into its `ipsec0`.
pub fn start_azure(lab: &AzureLab, conn: SwanConn, log: LogLevels) -> Result<Charon> {
    let dir = lab.dir.subdir("azure")?;
    let charon = Charon::start(
        &lab.azure,
        &dir,
        &CharonConfig::new(vec![conn]).with_log(log),
    )
    .context("azure charon")?;
    charon.route_via_tun(&lab.azure, VPC_PREFIX)?;
    charon.route_via_tun(&lab.azure, crate::topology::VPC6_PREFIX)?;
    Ok(charon)
}

/// Options for [`SwanPair::start`].
#[derive(Debug, Clone)]
pub struct PairOptions {
    pub lab: LabOptions,
    /// The Azure side's connection; `None` for Azure's default policy.
    pub azure: Option<SwanConn>,
    /// The gateway side's IKE and ESP proposals.
    pub gw_ike: Vec<String>,
    pub gw_esp: Vec<String>,
    pub azure_log: LogLevels,
    pub gw_log: LogLevels,
}

impl PairOptions {
    /// Azure default policy on the Azure side; the gateway offers `aes256-sha1-modp1024` /
    /// `aes256gcm16`, which is what Azure picks first.
    pub fn azure_default(lab: LabOptions) -> PairOptions {
        PairOptions {
            lab,
            azure: None,
            gw_ike: vec!["aes256-sha1-modp1024".into()],
            gw_esp: vec!["aes256gcm16".into()],
            azure_log: LogLevels::default(),
            gw_log: LogLevels::default(),
        }
    }
}

/// strongSwan in `gw` (standing in for ipsecgw) and strongSwan in `azure`. Fields drop in order:
/// both daemons, then the lab.
pub struct SwanPair {
    pub gw: Charon,
    pub azure: Charon,
    pub lab: AzureLab,
}

impl SwanPair {
    /// Builds the lab and starts both daemons (the tunnel is not initiated yet).
    pub fn start(opts: PairOptions) -> Result<SwanPair> {
        let lab = AzureLab::new(opts.lab)?;
        let azure_conn = opts.azure.unwrap_or_else(|| azure_conn(&lab));
        let azure = start_azure(&lab, azure_conn, opts.azure_log)?;
        let ike: Vec<&str> = opts.gw_ike.iter().map(String::as_str).collect();
        let esp: Vec<&str> = opts.gw_esp.iter().map(String::as_str).collect();
        let conn = gw_conn(&lab, &ike, &esp);
        let dir = lab.dir.subdir("gw")?;
        let gw = Charon::start(
            &lab.gw,
            &dir,
            &CharonConfig::new(vec![conn]).with_log(opts.gw_log),
        )
        .context("gw charon")?;
        Ok(SwanPair { gw, azure, lab })
    }

    /// Initiates from `gw`, waits for both sides' SAs and routes the VNet via `ipsec0` in `gw`.
    pub fn connect(&self) -> Result<()> {
        self.gw.initiate(GW_CHILD, TUNNEL_TIMEOUT).context(format!(
            "gw log:{}",
            crate::strongswan::log_tail(&self.gw, 30)
        ))?;
        self.azure.wait_sas(1, 1, TUNNEL_TIMEOUT)?;
        self.gw.route_via_tun(&self.lab.gw, VNET_PREFIX)
    }
}
