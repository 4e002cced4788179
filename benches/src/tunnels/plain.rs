//! No tunnel: VPC and VNet prefixes routed in the clear through gw -> nat -> azure.

use interop_tests::topology::{AzureLab, AZURE_PUBLIC, NAT_AZURE_SIDE, VNET_PREFIX, VPC_PREFIX};
use interop_tests::Result;

use super::Tunnel;

pub struct Plain;

impl Tunnel for Plain {
    fn pids(&self) -> Vec<u32> {
        Vec::new()
    }

    fn describe(&self) -> String {
        "kernel forwarding through the same namespaces and the NAT box, no encryption".into()
    }
}

/// Adds the routes the tunnels would otherwise provide.
pub fn start(lab: &AzureLab) -> Result<Plain> {
    // gw already routes everything to the NAT box; azure already routes everything to it too.
    lab.nat.route_via(VNET_PREFIX, AZURE_PUBLIC)?;
    lab.nat.route_via(VPC_PREFIX, lab.gw_outside_addr())?;
    lab.azure.route_via(VPC_PREFIX, NAT_AZURE_SIDE)?;
    Ok(Plain)
}
