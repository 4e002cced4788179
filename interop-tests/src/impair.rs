//! An impaired underlay between the gateway and Azure: the seeded relay of
//! `src/bin/impair_relay.rs` runs in the lab's `nat` namespace and carries every UDP 500/4500
//! packet between `gw0` and `az0` with loss, delay, reordering and duplication.
//!
//! nftables (table `impair` in `nat`) drops those packets on the kernel's forwarding path; the
//! relay captures them with AF_PACKET before that and re-sends them from `nat` itself, so the
//! EIP NAT must also apply to locally generated packets: `output` gets the DNAT rule the
//! lab's `prerouting` has (the lab's `postrouting` SNAT already covers local output).

use std::path::Path;

use crate::error::{Context, Result};
use crate::proc::Child;
use crate::topology::{AzureLab, GW_PRIVATE, GW_PUBLIC};

/// Impairment parameters (percentages are integers).
#[derive(Debug, Clone)]
pub struct Impairment {
    pub seed: u64,
    pub delay_ms: u64,
    pub jitter_ms: u64,
    pub loss_pct: u64,
    pub dup_pct: u64,
    pub reorder_pct: u64,
}

impl Default for Impairment {
    /// 30 ms (+0..20 ms jitter), 10% loss, 5% duplicates, 20% reordered.
    fn default() -> Self {
        Impairment {
            seed: 1,
            delay_ms: 30,
            jitter_ms: 20,
            loss_pct: 10,
            dup_pct: 5,
            reorder_pct: 20,
        }
    }
}

/// The running relay; stops it (by PID) and removes its nftables table on drop.
pub struct ImpairedUnderlay<'a> {
    lab: &'a AzureLab,
    pub relay: Child,
}

impl<'a> ImpairedUnderlay<'a> {
    /// Installs the nftables diversion in `lab.nat` and starts the relay (`relay_bin` is the
    /// `impair_relay` binary).
    pub fn start(lab: &'a AzureLab, relay_bin: &Path, imp: &Impairment) -> Result<Self> {
        let mut rules = String::from(
            "table ip impair {\n\
             \tchain divert { type filter hook forward priority filter; policy accept;\n\
             \t\tudp sport { 500, 4500 } drop\n\
             \t\tudp dport { 500, 4500 } drop\n\
             \t}\n",
        );
        if lab.opts.nat {
            rules.push_str(&format!(
                "\tchain localnat {{ type nat hook output priority -100; policy accept; \
                 ip daddr {GW_PUBLIC} dnat to {GW_PRIVATE}; }}\n"
            ));
        }
        rules.push_str("}\n");
        let path = lab.dir.path().join("impair.nft");
        std::fs::write(&path, rules)?;
        lab.nat
            .run("nft", &["-f", &path.to_string_lossy()])
            .context("installing the impair diversion")?;
        if lab.opts.nat {
            // A raw socket routes before the output DNAT: give the EIP a route (the packet is
            // rewritten to the private address and rerouted right after).
            lab.nat
                .route_dev(&format!("{GW_PUBLIC}/32"), "gw0")
                .context("route for the EIP in nat")?;
        }
        let mut cmd = lab.nat.command(&relay_bin.to_string_lossy());
        cmd.args(["--if", "gw0", "--if", "az0"]);
        for (k, v) in [
            ("--seed", imp.seed),
            ("--delay-ms", imp.delay_ms),
            ("--jitter-ms", imp.jitter_ms),
            ("--loss", imp.loss_pct),
            ("--dup", imp.dup_pct),
            ("--reorder", imp.reorder_pct),
        ] {
            cmd.args([k.to_string(), v.to_string()]);
        }
        let relay = Child::spawn(cmd, &format!("impair-relay-{}", imp.seed), lab.dir.path())?;
        Ok(ImpairedUnderlay { lab, relay })
    }

    /// The relay's counters (after it stopped), e.g. `{"seen":..,"dropped":..}`.
    pub fn stop(&mut self) -> Option<serde_json::Value> {
        self.relay.signal(libc::SIGTERM);
        let _ = self.relay.wait_timeout(std::time::Duration::from_secs(5));
        self.relay
            .stdout()
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l.trim()).ok())
    }
}

impl Drop for ImpairedUnderlay<'_> {
    fn drop(&mut self) {
        let _ = self.relay.stop();
        let _ = self
            .lab
            .nat
            .run("nft", &["delete", "table", "ip", "impair"]);
    }
}
