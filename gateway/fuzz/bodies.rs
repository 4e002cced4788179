//! Shared by the gateway fuzz targets and gateway/tests/hostile_fuzz_corpus.rs.
#![allow(dead_code)]

use std::path::Path;

/// `gateway::config::parse` on arbitrary text never panics. Inputs naming a `psk_file` are
/// skipped: the parser reads that file, and the fuzzer would otherwise read /dev/zero or
/// the machine's files (the config is trusted input; see docs/security.md).
pub fn config_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("psk_file") || text.contains("psk-file") {
        return;
    }
    let base = Path::new("/nonexistent-ipsecgw-fuzz");
    if let Ok(cfg) = gateway::config::parse(text, base) {
        // What the daemon prints of a config must not contain the secret.
        let shown = cfg.redacted_toml();
        let _ = cfg.to_json();
        let _ = shown;
    }
}

/// The gateway's UDP 4500 classifier agrees with the esp crate's, except that the gateway
/// also requires a whole IKE header (28 bytes) behind the non-ESP marker.
pub fn nat_t_classify(data: &[u8]) {
    use esp::Udp4500;
    use gateway::io::nat_t::{classify, Datagram};
    let g = classify(data);
    let e = esp::classify_udp_4500(data);
    match (g, e) {
        (Datagram::Keepalive, Udp4500::Keepalive) | (Datagram::Malformed, Udp4500::Malformed) => {}
        (Datagram::Ike(a), Udp4500::Ike(b)) => {
            assert_eq!(a, b);
            assert!(a.len() >= 28);
        }
        (Datagram::Malformed, Udp4500::Ike(b)) => assert!(b.len() < 28, "IKE dropped"),
        (Datagram::Esp(a), Udp4500::Esp(b)) => assert_eq!(a, b),
        (g, e) => panic!("classifiers disagree on {data:02x?}: gateway {g:?}, esp {e:?}"),
    }
}
