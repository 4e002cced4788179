//! Connections reaching the same remote prefixes must share an ha_group with one ha_mode.

use std::path::Path;

fn conn(name: &str, peer: &str, extra: &str) -> String {
    format!(
        "[connections.{name}]\nremote_addrs = [\"{peer}\"]\nlocal_id = \"198.51.100.10\"\n\
         psk = \"a-long-enough-test-psk-0123456789\"\ntun_name = \"t-{name}\"\n{extra}\n\
         [connections.{name}.children.net]\nlocal_ts = [\"10.0.1.0/24\"]\nremote_ts = [\"10.1.0.0/16\"]\n"
    )
}

fn errors(text: &str) -> String {
    match gateway::config::parse(text, Path::new("/")) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn overlapping_connections_need_one_group() {
    let e = errors(&(conn("a", "203.0.113.20", "") + &conn("b", "203.0.113.21", "")));
    assert!(
        e.contains("connections.b.ha_group") && e.contains("same ha_group"),
        "{e}"
    );
}

#[test]
fn one_group_one_mode() {
    let e = errors(
        &(conn("a", "203.0.113.20", "ha_group = \"az\"\nha_mode = \"ecmp\"")
            + &conn(
                "b",
                "203.0.113.21",
                "ha_group = \"az\"\nha_mode = \"active-standby\"",
            )),
    );
    assert!(
        e.contains("connections.b.ha_mode") && e.contains("one mode per group"),
        "{e}"
    );
    let e = errors(&conn("a", "203.0.113.20", "ha_mode = \"round-robin\""));
    assert!(e.contains("ha_mode") && e.contains("active-standby"), "{e}");
}

#[test]
fn a_valid_active_active_pair() {
    let text = conn("a", "203.0.113.20", "ha_group = \"az\"\nha_priority = 1")
        + &conn("b", "203.0.113.21", "ha_group = \"az\"\nha_priority = 2");
    let cfg = gateway::config::parse(&text, Path::new("/")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.connections[0].ha_group.as_deref(), Some("az"));
    assert_eq!(cfg.connections[1].ha_priority, 2);
}
