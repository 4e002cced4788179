//! The resolved configuration as TOML or JSON for `check-config`: defaults filled in, profiles
//! expanded to strongSwan proposal names, the PSK shown as `<redacted>`.

use super::{duration, profile, Config, Connection, DpdAction, Mode, MssClamp, StartAction};
use ikev2::proposal::{could_match_esp, could_match_ike, parse_esp, preset, EspProposalSpec};
use std::fmt;
use std::time::Duration;
use toml::{Table, Value};

/// Azure's default policy as responder also accepts these ESP proposals (PFS groups 2, 14 and
/// 24 with AES/SHA; group 1 is refused by ipsecgw). Azure's own CHILD_SA rekeys carry no PFS.
const AZURE_DEFAULT_RESPONDER_PFS: &[&str] = &[
    "aes256-sha1-modp1024-modp2048-modp2048s256",
    "aes256-sha256-modp1024-modp2048-modp2048s256",
    "aes128-sha1-modp1024-modp2048-modp2048s256",
    "aes128-sha256-modp1024-modp2048-modp2048s256",
];
/// Azure's IPsec SA lifetime: a CHILD_SA that lives longer is rekeyed by Azure first.
const AZURE_CHILD_LIFETIME: Duration = Duration::from_secs(27_000);

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn list<T: fmt::Display>(items: &[T]) -> Value {
    Value::Array(items.iter().map(s).collect())
}

fn d(v: std::time::Duration) -> Value {
    s(duration::format(v))
}

impl Config {
    /// The resolved configuration as a TOML table (PSK redacted).
    pub fn redacted_table(&self) -> Table {
        let mut root = Table::new();
        let mut daemon = Table::new();
        daemon.insert(
            "control_socket".into(),
            s(self.daemon.control_socket.display()),
        );
        if let Some(m) = self.daemon.metrics_listen {
            daemon.insert("metrics_listen".into(), s(m));
        }
        daemon.insert("log_level".into(), s(&self.daemon.log_level));
        match self.daemon.aqm {
            Some(p) => {
                daemon.insert("aqm_target".into(), d(p.target));
                daemon.insert("aqm_interval".into(), d(p.interval));
            }
            None => {
                daemon.insert("aqm_target".into(), d(Duration::ZERO));
            }
        }
        if let Some(n) = self.daemon.tun_queues {
            daemon.insert("tun_queues".into(), Value::Integer(n as i64));
        }
        daemon.insert("reply_spin".into(), d(self.daemon.reply_spin));
        daemon.insert(
            "realtime_priority".into(),
            Value::Integer(i64::from(self.daemon.realtime_priority)),
        );
        daemon.insert(
            "aead_backend".into(),
            s(self.daemon.aead_backend.map_or("auto", |b| b.name())),
        );
        root.insert("daemon".into(), Value::Table(daemon));
        let mut conns = Table::new();
        for c in &self.connections {
            conns.insert(c.name.clone(), Value::Table(connection(c)));
        }
        root.insert("connections".into(), Value::Table(conns));
        root
    }

    /// The resolved configuration as TOML text (PSK redacted), for `check-config`.
    pub fn redacted_toml(&self) -> String {
        let mut out = String::new();
        for c in &self.connections {
            if let Some(desc) = c.profile.as_deref().and_then(profile::description) {
                out.push_str(&format!(
                    "# connections.{}: profile {}\n",
                    c.name,
                    c.profile.as_deref().unwrap_or("")
                ));
                out.push_str(&format!("#   {desc}\n"));
                if let Some(p) = c.profile.as_deref().and_then(preset) {
                    let ike: Vec<String> = p.ike.iter().map(|x| x.to_string()).collect();
                    let esp: Vec<String> = p.esp.iter().map(|x| x.to_string()).collect();
                    out.push_str(&format!(
                        "#   expands to: proposals = [{}], esp_proposals = [{}]\n",
                        ike.join(", "),
                        esp.join(", ")
                    ));
                    let own_ike = c.proposals != p.ike;
                    let own_esp = c.children.iter().any(|ch| ch.esp_proposals != p.esp);
                    if own_ike || own_esp {
                        out.push_str(
                            "#   explicit proposals/esp_proposals below override it; the profile \
                             is checked as the Azure side's policy\n",
                        );
                    }
                }
            }
        }
        out.push_str(
            &toml::to_string(&self.redacted_table()).expect("a table of strings serializes"),
        );
        out
    }

    /// Compatibility findings against the Azure policy each connection's `profile` names.
    ///
    /// `profile` names the policy configured on the Azure connection (a preset). When the
    /// connection also lists its own `proposals` or a child its own `esp_proposals`, those are
    /// what ipsecgw offers and accepts, and they are checked against the profile: IKE or ESP
    /// proposals that can never agree (e.g. `modp2048` against Azure's default policy), and a
    /// PFS mismatch, where the tunnel comes up (IKE_AUTH carries no key exchange) and dies at
    /// the first CHILD_SA rekey. Without `profile` nothing is checked.
    pub fn policy_warnings(&self) -> Vec<String> {
        self.connections.iter().flat_map(policy_warnings).collect()
    }

    /// The resolved configuration as JSON (PSK redacted), for `check-config --json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.redacted_table()).expect("a TOML table converts to JSON")
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_toml())
    }
}

fn policy_warnings(c: &Connection) -> Vec<String> {
    let Some(name) = c.profile.as_deref() else {
        return Vec::new();
    };
    let Some(p) = preset(name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let path = format!("connections.{}", c.name);
    if c.proposals != p.ike {
        if let Err(why) = could_match_ike(&c.proposals, &p.ike) {
            out.push(format!(
                "{path}.proposals: against the Azure policy of profile `{name}`: {why}; \
                 the tunnel will never come up (use the profile's proposals or change the Azure \
                 policy)"
            ));
        }
    }
    for ch in &c.children {
        if ch.esp_proposals == p.esp {
            continue;
        }
        let child_path = format!("{path}.children.{}.esp_proposals", ch.name);
        if let Err(why) = could_match_esp(&ch.esp_proposals, &p.esp, false) {
            out.push(format!(
                "{child_path}: against the Azure policy of profile `{name}`: {why}; no CHILD_SA \
                 can be negotiated"
            ));
            continue;
        }
        if could_match_esp(&ch.esp_proposals, &p.esp, true).is_ok() {
            continue;
        }
        // Azure's default policy takes PFS from us as responder, but its own rekeys carry none.
        if name.eq_ignore_ascii_case("azure-default") {
            let accepts: Vec<EspProposalSpec> = AZURE_DEFAULT_RESPONDER_PFS
                .iter()
                .filter_map(|s| parse_esp(s).ok())
                .collect();
            if could_match_esp(&ch.esp_proposals, &accepts, true).is_ok() {
                if ch.lifetime.rekey_time >= AZURE_CHILD_LIFETIME
                    || ch.lifetime.rekey_time.is_zero()
                {
                    out.push(format!(
                        "{child_path}: Azure's default policy accepts our PFS when we rekey, but \
                         its own rekeys (after {}s) carry no PFS and will fail: set rekey_time \
                         below {}s so ipsecgw always rekeys first, or add `modpnone` to the \
                         proposal",
                        AZURE_CHILD_LIFETIME.as_secs(),
                        AZURE_CHILD_LIFETIME.as_secs()
                    ));
                }
                continue;
            }
        }
        if let Err(why) = could_match_esp(&ch.esp_proposals, &p.esp, true) {
            out.push(format!(
                "{child_path}: against the Azure policy of profile `{name}`: {why}"
            ));
        }
    }
    out
}

fn connection(c: &Connection) -> Table {
    let mut t = Table::new();
    t.insert("remote_addrs".into(), list(&c.remote_addrs));
    if c.local_addrs_auto {
        t.insert("local_addrs".into(), list(&["auto"]));
    } else {
        t.insert("local_addrs".into(), list(&c.local_addrs));
    }
    if c.local_id_auto {
        t.insert("local_id".into(), s("auto"));
    } else {
        t.insert("local_id".into(), s(&c.local_id));
    }
    t.insert("remote_id".into(), s(&c.remote_id));
    t.insert("psk".into(), s("<redacted>"));
    if let Some(p) = &c.profile {
        t.insert("profile".into(), s(p));
    }
    t.insert("proposals".into(), list(&c.proposals));
    let mode = match c.mode {
        Mode::Both => "both",
        Mode::Initiator => "initiator",
        Mode::Responder => "responder",
    };
    t.insert("mode".into(), s(mode));
    let start = match c.start_action {
        StartAction::Start => "start",
        StartAction::Add => "add",
    };
    t.insert("start_action".into(), s(start));
    t.insert("encap".into(), Value::Boolean(c.encap));
    t.insert("rekey_time".into(), d(c.lifetime.rekey_time));
    t.insert("over_time".into(), d(c.lifetime.over_time));
    t.insert("rand_time".into(), d(c.lifetime.rand_time));
    t.insert("dpd_delay".into(), d(c.dpd_delay));
    t.insert("rekey_grace".into(), d(c.rekey_grace));
    if let Some(g) = &c.ha_group {
        t.insert("ha_group".into(), toml::Value::String(g.clone()));
        t.insert(
            "ha_mode".into(),
            toml::Value::String(c.ha_mode.as_str().into()),
        );
        t.insert(
            "ha_priority".into(),
            toml::Value::Integer(i64::from(c.ha_priority)),
        );
    }
    t.insert("dpd_timeout".into(), d(c.dpd_timeout));
    let dpd = match c.dpd_action {
        DpdAction::Clear => "clear",
        DpdAction::Restart => "restart",
        DpdAction::None => "none",
    };
    t.insert("dpd_action".into(), s(dpd));
    t.insert("retransmit_timeout".into(), d(c.retransmit.timeout));
    t.insert("retransmit_base".into(), Value::Float(c.retransmit.base));
    t.insert(
        "retransmit_tries".into(),
        Value::Integer(c.retransmit.tries.into()),
    );
    t.insert("mtu".into(), Value::Integer(c.mtu.into()));
    let mss = match c.mss_clamp {
        MssClamp::Auto => s("auto"),
        MssClamp::Fixed(n) => Value::Integer(n.into()),
        MssClamp::Off => s("off"),
    };
    t.insert("mss_clamp".into(), mss);
    t.insert("tun_name".into(), s(&c.tun_name));
    let mut children = Table::new();
    for ch in &c.children {
        let mut ct = Table::new();
        ct.insert("local_ts".into(), list(&ch.local_ts));
        ct.insert("remote_ts".into(), list(&ch.remote_ts));
        ct.insert("esp_proposals".into(), list(&ch.esp_proposals));
        ct.insert("rekey_time".into(), d(ch.lifetime.rekey_time));
        ct.insert("life_time".into(), d(ch.lifetime.life_time));
        ct.insert("rand_time".into(), d(ch.lifetime.rand_time));
        if let Some(b) = ch.lifetime.life_bytes {
            ct.insert("life_bytes".into(), Value::Integer(b as i64));
        }
        if let Some(p) = ch.lifetime.life_packets {
            ct.insert("life_packets".into(), Value::Integer(p as i64));
        }
        ct.insert(
            "replay_window".into(),
            Value::Integer(ch.replay_window.into()),
        );
        children.insert(ch.name.clone(), Value::Table(ct));
    }
    t.insert("children".into(), Value::Table(children));
    t
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn warnings(conn: &str, child: &str) -> Vec<String> {
        let text = format!(
            "[connections.azure]\nremote_addrs = [\"203.0.113.20\"]\nlocal_addrs = [\"172.31.5.10\"]\n\
             local_id = \"198.51.100.10\"\npsk = \"unit-test-example-psk-0123456789\"\n{conn}\n\
             [connections.azure.children.vnet]\nlocal_ts = [\"10.0.1.0/24\"]\n\
             remote_ts = [\"10.1.0.0/24\"]\n{child}"
        );
        let cfg = crate::config::parse(&text, Path::new("/nonexistent")).expect("valid");
        cfg.policy_warnings()
    }

    #[test]
    fn profile_alone_has_no_findings() {
        assert!(warnings("profile = \"azure-default\"", "").is_empty());
        assert!(warnings("profile = \"azure-gcm-ecp384\"", "").is_empty());
        // No profile and explicit lists: nothing to check against.
        assert!(warnings("proposals = [\"aes256-sha256-modp2048\"]", "").is_empty());
    }

    #[test]
    fn ike_that_can_never_match_is_named() {
        let w = warnings(
            "profile = \"azure-default\"\nproposals = [\"aes256-sha256-modp2048\"]",
            "",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("connections.azure.proposals:"), "{w:?}");
        assert!(w[0].contains("can never match"), "{w:?}");
        assert!(
            w[0].contains("modp2048") && w[0].contains("modp1024"),
            "{w:?}"
        );
        // A subset of Azure's offers is fine.
        assert!(warnings(
            "profile = \"azure-default\"\nproposals = [\"aes128-sha256-modp1024\"]",
            "esp_proposals = [\"aes128-sha1\"]"
        )
        .is_empty());
    }

    #[test]
    fn pfs_mismatch_against_a_custom_policy() {
        let w = warnings(
            "profile = \"azure-gcm-ecp384\"",
            "esp_proposals = [\"aes256gcm16\"]",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("connections.azure.children.vnet.esp_proposals:"),
            "{w:?}"
        );
        assert!(
            w[0].contains("PFS mismatch") && w[0].contains("ecp384"),
            "{w:?}"
        );
        let w = warnings(
            "profile = \"azure-gcm-ecp384\"",
            "esp_proposals = [\"aes256gcm16-ecp256\"]",
        );
        assert!(w[0].contains("PFS mismatch"), "{w:?}");
        let w = warnings(
            "profile = \"azure-gcm-ecp384\"",
            "esp_proposals = [\"aes128-sha1\"]",
        );
        assert!(w[0].contains("no CHILD_SA"), "{w:?}");
    }

    #[test]
    fn pfs_against_azure_default_depends_on_who_rekeys_first() {
        // Azure's default accepts modp2048 PFS from us; we rekey first (1h default): fine.
        assert!(warnings(
            "profile = \"azure-default\"",
            "esp_proposals = [\"aes256-sha256-modp2048\"]"
        )
        .is_empty());
        // A CHILD_SA outliving Azure's 27000 s: Azure's rekey (no PFS) would fail.
        let w = warnings(
            "profile = \"azure-default\"",
            "esp_proposals = [\"aes256-sha256-modp2048\"]\nrekey_time = \"8h\"",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("carry no PFS"), "{w:?}");
        // A group Azure's default never accepts.
        let w = warnings(
            "profile = \"azure-default\"",
            "esp_proposals = [\"aes256-sha256-ecp384\"]",
        );
        assert!(w[0].contains("PFS mismatch"), "{w:?}");
    }

    #[test]
    fn check_config_text_shows_the_expansion() {
        let text = "[connections.azure]\nremote_addrs = [\"203.0.113.20\"]\n\
                    local_addrs = [\"172.31.5.10\"]\nlocal_id = \"198.51.100.10\"\n\
                    psk = \"unit-test-example-psk-0123456789\"\nprofile = \"azure-gcm-ecp384\"\n\
                    [connections.azure.children.vnet]\nlocal_ts = [\"10.0.1.0/24\"]\n\
                    remote_ts = [\"10.1.0.0/24\"]\n";
        let cfg = crate::config::parse(text, Path::new("/nonexistent")).unwrap();
        let out = cfg.redacted_toml();
        assert!(
            out.contains("#   expands to: proposals = [aes256gcm16-prfsha384-ecp384], esp_proposals = [aes256gcm16-ecp384]"),
            "{out}"
        );
        assert!(!out.contains("unit-test-example-psk"), "{out}");
    }
}
