//! The ipsecgw TOML the harness generates for the lab: content, and acceptance by
//! `ipsecgw check-config` when the binary has been built (skipped loudly otherwise).

use std::path::Path;
use std::process::Command;

use interop_tests::gateway_config::{ipsecgw_toml, GatewayOpts};
use interop_tests::topology::{AzureLab, LabOptions};

fn toml_for(nat: bool) -> (AzureLab, String) {
    let lab = AzureLab::new(LabOptions {
        nat,
        label: "gwconf".into(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let text = ipsecgw_toml(&lab, &GatewayOpts::azure_default(&lab));
    (lab, text)
}

#[test]
fn lab_config_binds_private_address_and_uses_eip_identity() {
    if !interop_tests::require_root("lab_config_binds_private_address_and_uses_eip_identity") {
        return;
    }
    let (_lab, text) = toml_for(true);
    for line in [
        "remote_addrs = [\"203.0.113.20\"]",
        "local_addrs = [\"172.31.5.10\"]",
        "local_id = \"198.51.100.10\"",
        "remote_id = \"203.0.113.20\"",
        "[connections.azure.children.vnet]",
        "local_ts = [\"10.0.1.0/24\"]",
        "remote_ts = [\"10.1.0.0/24\"]",
        "esp_proposals = [\"aes256gcm16\"]",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    let (_lab, text) = toml_for(false);
    assert!(text.contains("local_addrs = [\"198.51.100.10\"]"), "{text}");
}

#[test]
fn lab_config_passes_ipsecgw_check_config() {
    if !interop_tests::require_root("lab_config_passes_ipsecgw_check_config") {
        return;
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let Some(bin) = ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("ipsecgw"))
        .find(|p| p.is_file())
    else {
        interop_tests::skip(
            "lab_config_passes_ipsecgw_check_config",
            "no target/{release,debug}/ipsecgw built",
        );
        return;
    };
    let (lab, text) = toml_for(true);
    let path = lab.dir.path().join("ipsecgw.toml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(&bin)
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} check-config rejected the lab config:\n{text}\nstdout: {}\nstderr: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
