//! swanctl.conf generation for an Azure-like peer (or our gateway's strongSwan stand-in).

use std::fmt::Write as _;
use std::time::Duration;

/// Azure's default route-based S2S IKE proposals, in Azure's order.
pub const AZURE_IKE_PROPOSALS: [&str; 4] = [
    "aes256-sha1-modp1024",
    "aes256-sha256-modp1024",
    "aes128-sha1-modp1024",
    "aes128-sha256-modp1024",
];
/// Azure's default ESP proposals (no PFS), in Azure's order.
pub const AZURE_ESP_PROPOSALS: [&str; 4] =
    ["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"];
/// Azure's IKE SA lifetime.
pub const AZURE_IKE_LIFETIME: Duration = Duration::from_secs(28800);
/// Azure's CHILD SA lifetime.
pub const AZURE_CHILD_LIFETIME: Duration = Duration::from_secs(27000);
/// Azure's DPD interval.
pub const AZURE_DPD: Duration = Duration::from_secs(45);

/// What the connection does once loaded (the CHILD's `start_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAction {
    /// Initiate immediately on load.
    Start,
    /// Install a trap policy: initiate on the first matching packet.
    Trap,
    /// Wait (responder, or initiate explicitly with [`super::Charon::initiate`]).
    None,
}

impl StartAction {
    fn as_swanctl(self) -> &'static str {
        match self {
            StartAction::Start => "start",
            StartAction::Trap => "trap",
            StartAction::None => "none",
        }
    }
}

/// One IKE connection with one CHILD, PSK-authenticated, identities = addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct SwanConn {
    /// Connection name (`swanctl --terminate --ike <name>`).
    pub name: String,
    /// CHILD name (`swanctl --initiate --child <child>`).
    pub child: String,
    pub local_addr: String,
    pub remote_addr: String,
    pub local_id: String,
    pub remote_id: String,
    pub psk: String,
    /// IKE proposals, strongSwan syntax, in preference order.
    pub ike_proposals: Vec<String>,
    /// ESP proposals without the PFS group (see `pfs_group`).
    pub esp_proposals: Vec<String>,
    /// DH group appended to every ESP proposal (PFS on CHILD rekeys), e.g. `modp2048`.
    pub pfs_group: Option<String>,
    /// IKE SA rekey time.
    pub ike_lifetime: Duration,
    /// CHILD SA rekey time.
    pub child_lifetime: Duration,
    /// (over_time, rand_time) of both the IKE and the CHILD SA; `None` for strongSwan's
    /// defaults (10 % of the rekey time each).
    pub margins: Option<(Duration, Duration)>,
    /// DPD interval, `None` for off.
    pub dpd: Option<Duration>,
    pub mobike: bool,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    pub start_action: StartAction,
}

impl SwanConn {
    /// The Azure VPN Gateway's default route-based policy, as the responder at `local_addr`
    /// (its public IP, also its ID) for the peer `remote_addr`/`remote_id`.
    pub fn azure_default(
        local_addr: &str,
        remote_addr: &str,
        remote_id: &str,
        psk: &str,
    ) -> SwanConn {
        SwanConn {
            name: "onprem".into(),
            child: "onprem-net".into(),
            local_addr: local_addr.into(),
            remote_addr: remote_addr.into(),
            local_id: local_addr.into(),
            remote_id: remote_id.into(),
            psk: psk.into(),
            ike_proposals: AZURE_IKE_PROPOSALS.iter().map(|s| s.to_string()).collect(),
            esp_proposals: AZURE_ESP_PROPOSALS.iter().map(|s| s.to_string()).collect(),
            pfs_group: None,
            ike_lifetime: AZURE_IKE_LIFETIME,
            child_lifetime: AZURE_CHILD_LIFETIME,
            margins: None,
            dpd: Some(AZURE_DPD),
            mobike: false,
            local_ts: vec!["0.0.0.0/0".into(), "::/0".into()],
            remote_ts: vec!["0.0.0.0/0".into(), "::/0".into()],
            start_action: StartAction::None,
        }
    }

    /// A custom policy: one IKE and one ESP proposal (strongSwan syntax), Azure's other settings.
    /// Adjust the rest with the builder methods or by setting fields.
    pub fn custom(
        local_addr: &str,
        remote_addr: &str,
        local_id: &str,
        remote_id: &str,
        psk: &str,
        ike: &str,
        esp: &str,
    ) -> SwanConn {
        SwanConn {
            name: "azure".into(),
            child: "vnet".into(),
            local_id: local_id.into(),
            ike_proposals: vec![ike.into()],
            esp_proposals: vec![esp.into()],
            ..SwanConn::azure_default(local_addr, remote_addr, remote_id, psk)
        }
    }

    pub fn named(mut self, name: &str, child: &str) -> SwanConn {
        self.name = name.into();
        self.child = child.into();
        self
    }

    pub fn proposals(mut self, ike: &[&str], esp: &[&str]) -> SwanConn {
        self.ike_proposals = ike.iter().map(|s| s.to_string()).collect();
        self.esp_proposals = esp.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn pfs(mut self, group: Option<&str>) -> SwanConn {
        self.pfs_group = group.map(str::to_string);
        self
    }

    pub fn lifetimes(mut self, ike: Duration, child: Duration) -> SwanConn {
        self.ike_lifetime = ike;
        self.child_lifetime = child;
        self
    }

    /// Hard expiry `over` after the rekey time, rekeys up to `rand` early (IKE and CHILD).
    /// Tests that shorten lifetimes to seconds need this: strongSwan's default over_time is
    /// 10 % of the rekey time (hours at Azure's lifetimes) but its first retransmission
    /// waits 4 s, so with a 30 s lifetime one lost message of a rekey ends the SA.
    pub fn margins(mut self, over: Duration, rand: Duration) -> SwanConn {
        self.margins = Some((over, rand));
        self
    }

    pub fn traffic_selectors(mut self, local: &[&str], remote: &[&str]) -> SwanConn {
        self.local_ts = local.iter().map(|s| s.to_string()).collect();
        self.remote_ts = remote.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn start_action(mut self, action: StartAction) -> SwanConn {
        self.start_action = action;
        self
    }

    pub fn dpd(mut self, dpd: Option<Duration>) -> SwanConn {
        self.dpd = dpd;
        self
    }

    fn esp_proposal_list(&self) -> String {
        self.esp_proposals
            .iter()
            .map(|p| match &self.pfs_group {
                Some(g) => format!("{p}-{g}"),
                None => p.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// This connection's `connections { }` entry.
    fn write_connection(&self, out: &mut String) {
        let secs = |d: Duration| d.as_secs().max(1);
        let _ = writeln!(out, "\t{} {{", self.name);
        let _ = writeln!(out, "\t\tversion = 2");
        let _ = writeln!(out, "\t\tlocal_addrs = {}", self.local_addr);
        let _ = writeln!(out, "\t\tremote_addrs = {}", self.remote_addr);
        let _ = writeln!(out, "\t\tproposals = {}", self.ike_proposals.join(", "));
        let _ = writeln!(out, "\t\trekey_time = {}s", secs(self.ike_lifetime));
        if let Some((over, rand)) = self.margins {
            let _ = writeln!(out, "\t\tover_time = {}s", secs(over));
            let _ = writeln!(out, "\t\trand_time = {}s", secs(rand));
        }
        let _ = writeln!(
            out,
            "\t\tmobike = {}",
            if self.mobike { "yes" } else { "no" }
        );
        if let Some(d) = self.dpd {
            let _ = writeln!(out, "\t\tdpd_delay = {}s", secs(d));
        }
        let _ = writeln!(
            out,
            "\t\tlocal {{\n\t\t\tauth = psk\n\t\t\tid = {}\n\t\t}}",
            self.local_id
        );
        let _ = writeln!(
            out,
            "\t\tremote {{\n\t\t\tauth = psk\n\t\t\tid = {}\n\t\t}}",
            self.remote_id
        );
        let _ = writeln!(out, "\t\tchildren {{\n\t\t\t{} {{", self.child);
        let _ = writeln!(out, "\t\t\t\tmode = tunnel");
        let _ = writeln!(out, "\t\t\t\tlocal_ts = {}", self.local_ts.join(", "));
        let _ = writeln!(out, "\t\t\t\tremote_ts = {}", self.remote_ts.join(", "));
        let _ = writeln!(out, "\t\t\t\tesp_proposals = {}", self.esp_proposal_list());
        let _ = writeln!(out, "\t\t\t\trekey_time = {}s", secs(self.child_lifetime));
        if let Some((over, rand)) = self.margins {
            // A CHILD_SA's hard expiry is life_time (rekey_time + 10 % by default).
            let life = self.child_lifetime + over;
            let _ = writeln!(out, "\t\t\t\tlife_time = {}s", secs(life));
            let _ = writeln!(out, "\t\t\t\trand_time = {}s", secs(rand));
        }
        let _ = writeln!(
            out,
            "\t\t\t\tstart_action = {}",
            self.start_action.as_swanctl()
        );
        let _ = writeln!(
            out,
            "\t\t\t\tdpd_action = {}",
            if self.start_action == StartAction::Start {
                "restart"
            } else {
                "clear"
            }
        );
        let _ = writeln!(out, "\t\t\t}}\n\t\t}}\n\t}}");
    }

    /// This connection's `secrets { }` entry.
    fn write_secret(&self, idx: usize, out: &mut String) {
        let _ = writeln!(
            out,
            "\tike-{idx} {{\n\t\tid-a = {}\n\t\tid-b = {}\n\t\tsecret = \"{}\"\n\t}}",
            self.local_id, self.remote_id, self.psk
        );
    }
}

/// A complete swanctl.conf holding `conns` and their PSKs.
pub fn swanctl_conf(conns: &[SwanConn]) -> String {
    let mut out = String::from("connections {\n");
    for c in conns {
        c.write_connection(&mut out);
    }
    out.push_str("}\nsecrets {\n");
    for (i, c) in conns.iter().enumerate() {
        c.write_secret(i, &mut out);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_default_matches_azure_policy() {
        let c = SwanConn::azure_default("203.0.113.20", "198.51.100.10", "198.51.100.10", "k");
        let text = swanctl_conf(&[c]);
        assert!(text.contains(
            "proposals = aes256-sha1-modp1024, aes256-sha256-modp1024, aes128-sha1-modp1024, aes128-sha256-modp1024"
        ));
        assert!(
            text.contains("esp_proposals = aes256gcm16, aes256-sha1, aes256-sha256, aes128-sha1\n")
        );
        assert!(text.contains("rekey_time = 28800s"));
        assert!(text.contains("rekey_time = 27000s"));
        assert!(text.contains("dpd_delay = 45s"));
        assert!(text.contains("mobike = no"));
        assert!(text.contains("local_ts = 0.0.0.0/0"));
        assert!(text.contains("secret = \"k\""));
    }

    #[test]
    fn margins_set_hard_expiry_and_jitter_of_both_sas() {
        let c = SwanConn::azure_default("203.0.113.20", "198.51.100.10", "198.51.100.10", "k")
            .lifetimes(Duration::from_secs(30), Duration::from_secs(20))
            .margins(Duration::from_secs(15), Duration::from_secs(3));
        let text = swanctl_conf(&[c]);
        assert!(text.contains("\t\trekey_time = 30s\n\t\tover_time = 15s\n\t\trand_time = 3s\n"));
        assert!(
            text.contains("rekey_time = 20s\n\t\t\t\tlife_time = 35s\n\t\t\t\trand_time = 3s\n")
        );
        let plain = swanctl_conf(&[SwanConn::azure_default("a", "b", "b", "k")]);
        assert!(!plain.contains("over_time") && !plain.contains("life_time"));
    }

    #[test]
    fn custom_applies_pfs_to_esp() {
        let c = SwanConn::custom(
            "a",
            "b",
            "a",
            "b",
            "k",
            "aes256gcm16-prfsha384-ecp384",
            "aes256gcm16",
        )
        .pfs(Some("ecp384"))
        .start_action(StartAction::Start);
        let text = swanctl_conf(&[c]);
        assert!(text.contains("proposals = aes256gcm16-prfsha384-ecp384\n"));
        assert!(text.contains("esp_proposals = aes256gcm16-ecp384\n"));
        assert!(text.contains("start_action = start"));
    }
}
