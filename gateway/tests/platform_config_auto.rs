//! `local_id = "auto"` and `local_addrs = ["auto"]`: accepted, flagged for the daemon to resolve
//! from the EC2 metadata service, rendered back as "auto", and misuse is reported.

use gateway::config::{self, Identity};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

fn conf(local: &str) -> String {
    format!(
        r#"
[connections.azure]
remote_addrs = ["203.0.113.20"]
{local}
psk = "Sup3r-S3cret-Value-XYZZY-42"
[connections.azure.children.vnet]
local_ts = ["172.31.0.0/16"]
remote_ts = ["10.1.0.0/16"]
"#
    )
}

fn parse(text: &str) -> Result<config::Config, config::ConfigErrors> {
    config::parse(text, Path::new("/nonexistent"))
}

#[test]
fn both_auto() {
    let c = parse(&conf("local_addrs = [\"auto\"]\nlocal_id = \"auto\"")).unwrap();
    let k = &c.connections[0];
    assert!(k.local_id_auto && k.local_addrs_auto);
    assert!(k.local_addrs.is_empty());
    assert_eq!(
        k.local_id,
        Identity::Addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    );
    let shown = c.to_string();
    assert!(shown.contains("local_addrs = [\"auto\"]"), "{shown}");
    assert!(shown.contains("local_id = \"auto\""), "{shown}");
    // The rendered form parses again to the same flags.
    let again = parse(&shown.replace("<redacted>", "x")).unwrap();
    assert!(again.connections[0].local_id_auto && again.connections[0].local_addrs_auto);
}

#[test]
fn auto_id_with_fixed_address() {
    let c = parse(&conf(
        "local_addrs = [\"172.31.5.10\"]\nlocal_id = \"AUTO\"",
    ))
    .unwrap();
    let k = &c.connections[0];
    assert!(k.local_id_auto && !k.local_addrs_auto);
    assert_eq!(k.local_addrs, vec![IpAddr::from([172, 31, 5, 10])]);
}

#[test]
fn fixed_values_are_not_auto() {
    let c = parse(&conf(
        "local_addrs = [\"172.31.5.10\"]\nlocal_id = \"198.51.100.10\"",
    ))
    .unwrap();
    let k = &c.connections[0];
    assert!(!k.local_id_auto && !k.local_addrs_auto);
}

#[test]
fn auto_mixed_with_addresses_is_an_error() {
    let e = parse(&conf(
        "local_addrs = [\"auto\", \"172.31.5.10\"]\nlocal_id = \"auto\"",
    ))
    .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("connections.azure.local_addrs") && s.contains("only entry"),
        "{s}"
    );
}

#[test]
fn auto_addrs_without_local_id_is_an_error() {
    let e = parse(&conf("local_addrs = [\"auto\"]")).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("connections.azure.local_id") && s.contains("\"auto\""),
        "{s}"
    );
}
