//! The resolved configuration as TOML or JSON for `check-config`: defaults filled in, profiles
//! expanded to strongSwan proposal names, the PSK shown as `<redacted>`.

use super::{duration, profile, Config, Connection, DpdAction, Mode, MssClamp, StartAction};
use std::fmt;
use toml::{Table, Value};

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
            }
        }
        out.push_str(
            &toml::to_string(&self.redacted_table()).expect("a table of strings serializes"),
        );
        out
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
        StartAction::None => "none",
    };
    t.insert("start_action".into(), s(start));
    t.insert("encap".into(), Value::Boolean(c.encap));
    t.insert("rekey_time".into(), d(c.lifetime.rekey_time));
    t.insert("over_time".into(), d(c.lifetime.over_time));
    t.insert("rand_time".into(), d(c.lifetime.rand_time));
    t.insert("dpd_delay".into(), d(c.dpd_delay));
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
