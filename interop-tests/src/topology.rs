//! The demo topology: an AWS VPC host, the gateway behind EC2's 1:1 NAT, the internet, an Azure
//! VPN Gateway stand-in and an Azure VNet host.
//!
//! ```text
//!  vpc 10.0.1.10 --eth0--in0-- gw --out0--gw0-- nat --az0--out0-- azure --in0--eth0-- vnet 10.1.0.10
//!                   10.0.1.1      172.31.5.10   172.31.5.1  203.0.113.1  203.0.113.20  10.1.0.1
//!                                 (EIP 198.51.100.10: nftables dnat/snat in `nat`)
//! ```
//! With `nat = false` the gw's outside address is 198.51.100.10 itself (nat side 198.51.100.1)
//! and `nat` only routes.
//!
//! [`AzureLab::new_active_active`] adds a second Azure VPN Gateway instance, as Azure's
//! active-active mode has (two public IPs, one tunnel to each, both forwarding at once):
//!
//! ```text
//!                        nat --az1--out0-- azure2 --in0--eth1-- vnet
//!                                       203.0.113.21  10.1.0.2
//! ```
//! `nat` reaches 203.0.113.21 by a /32 route on `az1` (the existing `az0` segment is unchanged).
//! The VNet host routes toward the tunnels over both instances (ECMP, hashed on the 5-tuple),
//! as Azure's VNet system routes do: a flow sticks to one instance, and the return path of a
//! flow may be the other instance's tunnel. [`AzureLab::set_vnet_gateways`] takes an instance
//! out of (or back into) the VNet's route, which is what Azure does when an instance fails.
//! IPv6 inside the VNet keeps using the first instance only.

use std::process::Command;

use crate::error::{Context, Result};
use crate::netns::{veth_pair, Netns};
use crate::proc::run_checked;
use crate::rundir::RunDir;

/// Host in the AWS VPC.
pub const VPC_HOST: &str = "10.0.1.10";
/// The AWS VPC prefix (the gateway's local traffic selector).
pub const VPC_PREFIX: &str = "10.0.1.0/24";
/// The gateway's inside address (the VPC host's default route).
pub const GW_INSIDE: &str = "10.0.1.1";
/// The gateway's private (EC2) address behind the 1:1 NAT.
pub const GW_PRIVATE: &str = "172.31.5.10";
/// The NAT's address toward the gateway when `nat = true`.
pub const NAT_PRIVATE: &str = "172.31.5.1";
/// The gateway's Elastic IP, as the peer sees it (and its address when `nat = false`).
pub const GW_PUBLIC: &str = "198.51.100.10";
/// The NAT's address toward the gateway when `nat = false`.
pub const NAT_PUBLIC_GW_SIDE: &str = "198.51.100.1";
/// The NAT/internet router's address toward Azure.
pub const NAT_AZURE_SIDE: &str = "203.0.113.1";
/// The Azure VPN Gateway's public address.
pub const AZURE_PUBLIC: &str = "203.0.113.20";
/// The Azure gateway's inside address (the VNet host's default route).
pub const AZURE_INSIDE: &str = "10.1.0.1";
/// The Azure VNet prefix (the remote traffic selector).
pub const VNET_PREFIX: &str = "10.1.0.0/24";
/// Host in the Azure VNet.
pub const VNET_HOST: &str = "10.1.0.10";

/// The second Azure VPN Gateway instance (active-active): public address and IKE identity.
pub const AZURE2_PUBLIC: &str = "203.0.113.21";
/// The second instance's inside address (a VNet next hop beside [`AZURE_INSIDE`]).
pub const AZURE2_INSIDE: &str = "10.1.0.2";
/// The VNet host's interface toward the second instance, and `nat`'s toward it.
pub const HOST_IF2: &str = "eth1";
pub const NAT_AZURE2_IF: &str = "az1";

/// Interface names (each inside its own namespace).
pub const GW_INSIDE_IF: &str = "in0";
pub const GW_OUTSIDE_IF: &str = "out0";
pub const AZURE_OUTSIDE_IF: &str = "out0";
pub const AZURE_INSIDE_IF: &str = "in0";
pub const HOST_IF: &str = "eth0";

/// IPv6 inside the tunnel (dual-stack VPC and VNet, unique local addresses).
pub const VPC6_HOST: &str = "fd00:0:1::10";
pub const VPC6_PREFIX: &str = "fd00:0:1::/64";
pub const GW6_INSIDE: &str = "fd00:0:1::1";
pub const VNET6_HOST: &str = "fd00:1::10";
pub const VNET6_PREFIX: &str = "fd00:1::/64";
pub const AZURE6_INSIDE: &str = "fd00:1::1";

/// Options for [`AzureLab::new`].
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Put the gateway behind an EC2-style 1:1 NAT (private 172.31.5.10, EIP 198.51.100.10).
    pub nat: bool,
    /// Label used in the run directory's name.
    pub label: String,
}

impl Default for LabOptions {
    fn default() -> LabOptions {
        LabOptions {
            nat: true,
            label: "lab".into(),
        }
    }
}

/// The five namespaces, wired and addressed. Dropping it deletes the namespaces (killing what
/// still runs in them), then the run directory. Drop processes you started before the lab.
#[derive(Debug)]
pub struct AzureLab {
    pub opts: LabOptions,
    pub vpc: Netns,
    pub gw: Netns,
    pub nat: Netns,
    pub azure: Netns,
    pub vnet: Netns,
    /// The second Azure instance (active-active labs only, see [`AzureLab::new_active_active`]).
    pub azure2: Option<Netns>,
    /// Per-run directory for configs, logs and captures (kept if a test panics).
    pub dir: RunDir,
}

impl AzureLab {
    pub fn new(opts: LabOptions) -> Result<AzureLab> {
        crate::cleanup::sweep_stale_netns();
        let dir = RunDir::new(&opts.label)?;
        let lab = AzureLab {
            vpc: Netns::create("vpc")?,
            gw: Netns::create("gw")?,
            nat: Netns::create("nat")?,
            azure: Netns::create("azure")?,
            vnet: Netns::create("vnet")?,
            azure2: None,
            opts,
            dir,
        };
        lab.wire().context("building the Azure lab topology")?;
        Ok(lab)
    }

    fn wire(&self) -> Result<()> {
        let (vpc, gw, nat, azure, vnet) = (&self.vpc, &self.gw, &self.nat, &self.azure, &self.vnet);
        veth_pair(vpc, HOST_IF, gw, GW_INSIDE_IF)?;
        veth_pair(gw, GW_OUTSIDE_IF, nat, "gw0")?;
        veth_pair(nat, "az0", azure, AZURE_OUTSIDE_IF)?;
        veth_pair(azure, AZURE_INSIDE_IF, vnet, HOST_IF)?;

        vpc.add_addr(HOST_IF, &format!("{VPC_HOST}/24"))?;
        vpc.route_via("default", GW_INSIDE)?;

        gw.add_addr(GW_INSIDE_IF, &format!("{GW_INSIDE}/24"))?;
        gw.add_addr(GW_OUTSIDE_IF, &format!("{}/24", self.gw_outside_addr()))?;
        gw.route_via("default", self.nat_gw_side_addr())?;
        gw.enable_forwarding()?;

        nat.add_addr("gw0", &format!("{}/24", self.nat_gw_side_addr()))?;
        nat.add_addr("az0", &format!("{NAT_AZURE_SIDE}/24"))?;
        nat.enable_forwarding()?;
        if self.opts.nat {
            self.install_eip_nat()?;
        }

        azure.add_addr(AZURE_OUTSIDE_IF, &format!("{AZURE_PUBLIC}/24"))?;
        azure.add_addr(AZURE_INSIDE_IF, &format!("{AZURE_INSIDE}/24"))?;
        azure.route_via("default", NAT_AZURE_SIDE)?;
        azure.enable_forwarding()?;

        vnet.add_addr(HOST_IF, &format!("{VNET_HOST}/24"))?;
        vnet.route_via("default", AZURE_INSIDE)?;

        // Dual-stack inside networks (no DAD: the addresses are usable at once).
        for (ns, dev, addr) in [
            (vpc, HOST_IF, VPC6_HOST),
            (gw, GW_INSIDE_IF, GW6_INSIDE),
            (azure, AZURE_INSIDE_IF, AZURE6_INSIDE),
            (vnet, HOST_IF, VNET6_HOST),
        ] {
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                dev,
                "nodad",
            ])?;
        }
        vpc.ip(&["-6", "route", "add", "default", "via", GW6_INSIDE])?;
        vnet.ip(&["-6", "route", "add", "default", "via", AZURE6_INSIDE])?;
        Ok(())
    }

    /// The lab plus a second Azure instance `azure2` (203.0.113.21, inside 10.1.0.2): Azure's
    /// active-active gateway. The VNet host routes over both instances (ECMP by 5-tuple).
    pub fn new_active_active(opts: LabOptions) -> Result<AzureLab> {
        let mut lab = AzureLab::new(opts)?;
        lab.azure2 = Some(Netns::create("azure2")?);
        lab.wire_second_azure()
            .context("adding the second Azure instance")?;
        Ok(lab)
    }

    fn wire_second_azure(&self) -> Result<()> {
        let (nat, vnet) = (&self.nat, &self.vnet);
        let azure2 = self.azure2()?;
        veth_pair(nat, NAT_AZURE2_IF, azure2, AZURE_OUTSIDE_IF)?;
        veth_pair(azure2, AZURE_INSIDE_IF, vnet, HOST_IF2)?;

        // nat: a host route to the second instance on its own link; it answers ARP for
        // 203.0.113.1 there too (Linux answers for any local address by default).
        nat.route_dev(&format!("{AZURE2_PUBLIC}/32"), NAT_AZURE2_IF)?;

        azure2.add_addr(AZURE_OUTSIDE_IF, &format!("{AZURE2_PUBLIC}/24"))?;
        azure2.add_addr(AZURE_INSIDE_IF, &format!("{AZURE2_INSIDE}/24"))?;
        azure2.route_via("default", NAT_AZURE_SIDE)?;
        azure2.enable_forwarding()?;

        // vnet: 10.1.0.2 is on eth1 (host route), and the VNet's way out is both instances.
        vnet.route_dev(&format!("{AZURE2_INSIDE}/32"), HOST_IF2)?;
        // Hash flows on the 5-tuple, so different TCP connections may take different
        // instances (Azure spreads flows over both).
        vnet.sysctl("net.ipv4.fib_multipath_hash_policy", "1")?;
        self.set_vnet_gateways(&[0, 1])
    }

    /// The second Azure instance's namespace (active-active labs).
    pub fn azure2(&self) -> Result<&Netns> {
        match &self.azure2 {
            Some(ns) => Ok(ns),
            None => crate::bail!("this lab has no second Azure instance (use new_active_active)"),
        }
    }

    /// Routes the VNet host's IPv4 default over the given Azure instances (0 = `azure`,
    /// 1 = `azure2`): both = ECMP, one = only that one. An empty list is refused.
    pub fn set_vnet_gateways(&self, instances: &[usize]) -> Result<()> {
        let hops: Vec<(&str, &str)> = instances
            .iter()
            .map(|i| match i {
                0 => (AZURE_INSIDE, HOST_IF),
                _ => (AZURE2_INSIDE, HOST_IF2),
            })
            .collect();
        let mut args: Vec<&str> = vec!["route", "replace", "default"];
        match hops.as_slice() {
            [] => crate::bail!("set_vnet_gateways: at least one instance"),
            [(via, dev)] => args.extend(["via", via, "dev", dev]),
            many => {
                for (via, dev) in many {
                    args.extend(["nexthop", "via", via, "dev", dev, "weight", "1"]);
                }
            }
        }
        self.vnet.ip(&args).map(drop)
    }

    /// The second Azure instance's public address (its IKE identity).
    pub fn azure2_public_addr(&self) -> &'static str {
        AZURE2_PUBLIC
    }

    /// EC2's 1:1 NAT: the EIP is DNATed to the private address and the private address SNATed
    /// to the EIP (ports kept).
    fn install_eip_nat(&self) -> Result<()> {
        let rules = format!(
            "table ip eipnat {{\n\
             \tchain pre {{ type nat hook prerouting priority dstnat; policy accept; \
             ip daddr {GW_PUBLIC} dnat to {GW_PRIVATE}; }}\n\
             \tchain post {{ type nat hook postrouting priority srcnat; policy accept; \
             ip saddr {GW_PRIVATE} snat to {GW_PUBLIC}; }}\n\
             }}\n"
        );
        let path = self.dir.path().join("eipnat.nft");
        std::fs::write(&path, rules)?;
        self.nat
            .run("nft", &["-f", &path.to_string_lossy()])
            .context("installing the EIP NAT rules")
            .map(drop)
    }

    /// The address the gateway binds: 172.31.5.10 behind the NAT, else the EIP.
    pub fn gw_outside_addr(&self) -> &'static str {
        if self.opts.nat {
            GW_PRIVATE
        } else {
            GW_PUBLIC
        }
    }

    /// The address the peer sees and the gateway's IKE identity: always the EIP.
    pub fn gw_public_addr(&self) -> &'static str {
        GW_PUBLIC
    }

    /// The gateway's next hop toward the internet.
    pub fn nat_gw_side_addr(&self) -> &'static str {
        if self.opts.nat {
            NAT_PRIVATE
        } else {
            NAT_PUBLIC_GW_SIDE
        }
    }

    /// The Azure VPN Gateway's public address (its IKE identity).
    pub fn azure_public_addr(&self) -> &'static str {
        AZURE_PUBLIC
    }

    /// `conntrack`-free view of the NAT's rule set (for debugging and status output).
    pub fn nat_rules(&self) -> String {
        run_checked(
            Command::new("ip")
                .args(["netns", "exec", self.nat.name()])
                .args(["nft", "list", "ruleset"]),
        )
        .unwrap_or_default()
    }
}
