//! `ipsecgw check-config` and `ipsecgw run` on bad files, through the real binary.

use std::process::Command;

const PSK: &str = "Binary-Test-Secret-QUUX-77";

fn ipsecgw(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ipsecgw"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn write(tag: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ipsecgw-cli-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("ipsecgw.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn good() -> String {
    format!(
        "[connections.azure]\nremote_addrs = \"203.0.113.20\"\nlocal_id = \"198.51.100.10\"\npsk = \"{PSK}\"\n\
         [connections.azure.children.vnet]\nlocal_ts = \"10.0.0.0/16\"\nremote_ts = \"10.1.0.0/16\"\n"
    )
}

#[test]
fn valid_file_prints_resolved_config_without_the_psk() {
    let p = write("ok", &good());
    let (code, out, err) = ipsecgw(&["check-config", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[connections.azure]"), "{out}");
    assert!(out.contains("profile = \"azure-default\""), "{out}");
    assert!(out.contains("aes256gcm16"), "{out}");
    assert!(out.contains("<redacted>"));
    assert!(!out.contains(PSK) && !err.contains(PSK));
    let (code, out, _) = ipsecgw(&["check-config", "--json", p.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["config"]["connections"]["azure"]["mtu"], 1400);
    assert!(!out.contains(PSK));
}

#[test]
fn invalid_file_lists_every_error_one_per_line() {
    let text = good().replace("remote_addrs", "remote_addr") + "mtu = 9500\n";
    let text = text.replace(
        "[connections.azure.children.vnet]\n",
        "[connections.azure.children.vnet]\nesp_proposals = [\"3des-sha1\"]\n",
    );
    let p = write("bad", &text);
    let (code, out, err) = ipsecgw(&["check-config", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert!(lines.iter().any(|l| l.contains("connections.azure.remote_addr: unknown key `remote_addr`, did you mean `remote_addrs`?")), "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("esp_proposals[0]") && l.contains("refused by design")),
        "{err}"
    );
    // `mtu` landed in the child table (after its header): reported there as unknown.
    assert!(
        lines.iter().any(|l| l.contains("children.vnet.mtu")),
        "{err}"
    );
    assert!(!err.contains(PSK));
    let (code, out, _) = ipsecgw(&["check-config", "--json", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["errors"].as_array().unwrap().len() >= 3);
}

#[test]
fn run_refuses_an_invalid_file() {
    let p = write("run", "[connections]\n");
    let (code, _, err) = ipsecgw(&["run", "--config", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no connections configured"), "{err}");
    assert!(err.contains("not starting"), "{err}");
}

#[test]
fn help_texts_cover_every_command() {
    let (code, out, _) = ipsecgw(&["--help"]);
    assert_eq!(code, 0);
    for cmd in [
        "run",
        "check-config",
        "status",
        "initiate",
        "terminate",
        "reload",
        "Exit status",
    ] {
        assert!(out.contains(cmd), "--help lacks {cmd}:\n{out}");
    }
    let (code, out, _) = ipsecgw(&["status", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--socket") && out.contains("IPSECGW_SOCKET") && out.contains("--json"),
        "{out}"
    );
    let (code, _, _) = ipsecgw(&["frobnicate"]);
    assert_eq!(code, 2);
}
