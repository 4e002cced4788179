//! strongSwan (charon with kernel-libipsec) on both sides: the reference.

use interop_tests::error::Context;
use interop_tests::scenario::{azure_conn, gw_conn, start_azure, GW_CHILD, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{log_tail, Charon, CharonConfig, LogLevels};
use interop_tests::topology::{AzureLab, VNET_PREFIX};
use interop_tests::Result;

use super::Tunnel;

pub struct SwanPair {
    gw: Charon,
    azure: Charon,
}

impl Tunnel for SwanPair {
    fn pids(&self) -> Vec<u32> {
        vec![self.gw.pid(), self.azure.pid()]
    }

    fn describe(&self) -> String {
        "IKE aes256-sha1-modp1024, ESP aes256gcm16 in UDP 4500, ipsec0 MTU 1400 (kernel-libipsec)"
            .into()
    }
}

pub fn start(lab: &AzureLab) -> Result<SwanPair> {
    let azure = start_azure(lab, azure_conn(lab), LogLevels::default())?;
    let conn = gw_conn(lab, &["aes256-sha1-modp1024"], &["aes256gcm16"]);
    let dir = lab.dir.subdir("gw")?;
    let gw = Charon::start(&lab.gw, &dir, &CharonConfig::new(vec![conn])).context("gw charon")?;
    gw.initiate(GW_CHILD, TUNNEL_TIMEOUT)
        .context(format!("gw log:{}", log_tail(&gw, 30)))?;
    azure.wait_sas(1, 1, TUNNEL_TIMEOUT)?;
    gw.route_via_tun(&lab.gw, VNET_PREFIX)?;
    Ok(SwanPair { gw, azure })
}
