//! Every example in configs/ validates, and its check-config rendering never shows the PSK.

use std::path::Path;

#[test]
fn every_example_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/ exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let cfg =
            gateway::config::load(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        assert!(!cfg.connections.is_empty());
        for c in &cfg.connections {
            assert!(!c.proposals.is_empty(), "{}: {}", path.display(), c.name);
            assert!(c.children.iter().all(|ch| !ch.esp_proposals.is_empty()));
            // The PSK bytes never appear in what check-config prints.
            let psk = String::from_utf8(c.psk.expose().to_vec()).unwrap();
            assert!(psk.contains("change-me"), "examples use marked dummy keys");
            assert!(text.contains(&psk));
            assert!(!cfg.to_string().contains(&psk));
            assert!(!cfg.to_json().to_string().contains(&psk));
            assert!(!format!("{cfg:?}").contains(&psk));
        }
    }
    assert!(count >= 4, "expected the four examples, found {count}");
}

#[test]
fn azure_default_example_resolves_as_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/azure-default.toml");
    let cfg = gateway::config::load(&path).unwrap();
    let c = &cfg.connections[0];
    assert_eq!(c.local_id.to_string(), "198.51.100.10");
    assert_eq!(c.remote_addrs[0].to_string(), "203.0.113.20");
    assert_eq!(c.local_addrs[0].to_string(), "172.31.5.10");
    assert_eq!(
        cfg.daemon.metrics_listen.unwrap().to_string(),
        "127.0.0.1:9814"
    );
    let shown = cfg.to_string();
    assert!(
        shown.contains("aes256-sha1-prfsha1-modp1024") || shown.contains("aes256-sha1-modp1024"),
        "{shown}"
    );
    assert!(shown.contains("aes256gcm16"), "{shown}");
    assert!(shown.contains("psk = \"<redacted>\""), "{shown}");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}
