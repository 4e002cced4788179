//! Config validation: each error class names the key, the bad value and the fix; secrets never
//! appear in errors, Debug or Display; durations and defaults resolve.

use gateway::config::{self, Config, ConfigErrors, DpdAction, Mode, MssClamp, StartAction};
use std::path::Path;
use std::time::Duration;

const PSK: &str = "Sup3r-S3cret-Value-XYZZY-42";

fn minimal(extra_conn: &str, extra_child: &str) -> String {
    format!(
        r#"
[connections.azure]
remote_addrs = ["203.0.113.20"]
local_addrs = ["172.31.5.10"]
local_id = "198.51.100.10"
psk = "{PSK}"
{extra_conn}

[connections.azure.children.vnet]
local_ts = ["10.0.0.0/16"]
remote_ts = ["10.1.0.0/16"]
{extra_child}
"#
    )
}

fn ok(text: &str) -> Config {
    config::parse(text, Path::new("/nonexistent")).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> ConfigErrors {
    let errs = config::parse(text, Path::new("/nonexistent")).expect_err("should fail");
    let all = format!("{errs}\n{errs:?}");
    assert!(!all.contains(PSK), "PSK leaked: {all}");
    assert!(!all.contains("XYZZY"), "PSK leaked: {all}");
    errs
}

fn has(errs: &ConfigErrors, path: &str, needles: &[&str]) {
    let e = errs
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no error at `{path}` in:\n{errs}"));
    for n in needles {
        assert!(
            e.message.contains(n),
            "`{path}` message lacks `{n}`: {}",
            e.message
        );
    }
}

#[test]
fn defaults_are_applied() {
    let cfg = ok(&minimal("", ""));
    assert_eq!(
        cfg.daemon.control_socket,
        Path::new("/run/ipsecgw/control.sock")
    );
    assert_eq!(cfg.daemon.metrics_listen, None);
    assert_eq!(cfg.daemon.log_level, "info");
    let c = &cfg.connections[0];
    assert_eq!(c.name, "azure");
    assert_eq!(c.remote_id.to_string(), "203.0.113.20");
    assert_eq!(c.profile.as_deref(), Some("azure-default"));
    assert_eq!(
        c.proposals,
        ikev2::proposal::preset("azure-default").unwrap().ike
    );
    assert_eq!(
        c.children[0].esp_proposals,
        ikev2::proposal::preset("azure-default").unwrap().esp
    );
    assert_eq!(c.mode, Mode::Both);
    assert_eq!(c.start_action, StartAction::Start);
    assert_eq!(c.lifetime.rekey_time, Duration::from_secs(4 * 3600));
    assert_eq!(c.lifetime.over_time, Duration::from_secs(1440));
    assert_eq!(c.dpd_delay, Duration::from_secs(10));
    assert_eq!(c.dpd_timeout, Duration::from_secs(45));
    assert_eq!(c.dpd_action, DpdAction::Restart);
    assert_eq!(c.retransmit.tries, 5);
    assert_eq!(c.retransmit.delay(0), Duration::from_secs(4));
    assert_eq!(c.mtu, 1400);
    assert_eq!(c.mss_clamp, MssClamp::Auto);
    assert_eq!(c.mss_ipv4(), Some(1360));
    assert_eq!(c.tun_name, "ipsecgw0");
    let ch = &c.children[0];
    assert_eq!(ch.lifetime.rekey_time, Duration::from_secs(3600));
    assert_eq!(ch.lifetime.life_time, Duration::from_secs(3960));
    assert_eq!(ch.replay_window, 4096);
    assert_eq!(ch.local_ts[0].to_string(), "10.0.0.0/16");
    assert_eq!(c.psk.expose(), PSK.as_bytes());
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn durations_parse_in_all_forms() {
    let cfg = ok(&minimal(
        "rekey_time = \"1d\"\nover_time = \"10m\"\nrand_time = 30\ndpd_delay = \"5s\"\ndpd_timeout = 60\nretransmit_timeout = 2.5",
        "rekey_time = \"7h\"\nlife_time = \"8h\"",
    ));
    let c = &cfg.connections[0];
    assert_eq!(c.lifetime.rekey_time, Duration::from_secs(86400));
    assert_eq!(c.lifetime.over_time, Duration::from_secs(600));
    assert_eq!(c.lifetime.rand_time, Duration::from_secs(30));
    assert_eq!(c.dpd_timeout, Duration::from_secs(60));
    assert_eq!(c.retransmit.timeout, Duration::from_millis(2500));
    assert_eq!(
        c.children[0].lifetime.rekey_time,
        Duration::from_secs(7 * 3600)
    );
    assert_eq!(c.children[0].lifetime.rand_time, Duration::from_secs(2520));
    let errs = errors(&minimal("rekey_time = \"4 hours\"", ""));
    has(
        &errs,
        "connections.azure.rekey_time",
        &["4 hours", "30s, 10m, 4h, 1d"],
    );
}

#[test]
fn unknown_keys_suggest_the_right_one_and_all_are_reported() {
    let errs = errors(&minimal(
        "remote_addr = \"1.2.3.4\"\ndpd_dely = \"5s\"",
        "esp_proposal = [\"aes256gcm16\"]",
    ));
    has(
        &errs,
        "connections.azure.remote_addr",
        &["unknown key `remote_addr`, did you mean `remote_addrs`?"],
    );
    has(
        &errs,
        "connections.azure.dpd_dely",
        &["did you mean `dpd_delay`?"],
    );
    has(
        &errs,
        "connections.azure.children.vnet.esp_proposal",
        &["esp_proposals"],
    );
    assert_eq!(errs.len(), 3, "{errs}");
    let errs = errors(&format!(
        "[deamon]\nlog_level = \"info\"\n{}",
        minimal("", "")
    ));
    has(&errs, "deamon", &["did you mean `daemon`?"]);
    let errs = errors(&minimal("[connections.azure.local]\nauth = \"psk\"", ""));
    has(&errs, "connections.azure.local", &["local_id", "psk"]);
}

#[test]
fn refused_algorithms_name_index_and_fix() {
    let errs = errors(&minimal(
        "",
        "esp_proposals = [\"aes256gcm16\", \"3des-sha1\"]",
    ));
    has(
        &errs,
        "connections.azure.children.vnet.esp_proposals[1]",
        &["3des", "refused by design"],
    );
    let errs = errors(&minimal("proposals = [\"aes256-md5-modp1024\"]", ""));
    has(&errs, "connections.azure.proposals[0]", &["md5"]);
    let errs = errors(&minimal("profile = \"azure-fancy\"", ""));
    has(
        &errs,
        "connections.azure.profile",
        &["azure-fancy", "azure-default"],
    );
}

#[test]
fn explicit_proposals_override_the_profile() {
    let cfg = ok(&minimal(
        "proposals = [\"aes256gcm16-prfsha384-ecp384\"]",
        "esp_proposals = \"aes256gcm16-ecp384\"",
    ));
    let c = &cfg.connections[0];
    assert_eq!(
        c.proposals,
        vec![ikev2::proposal::parse_ike("aes256gcm16-prfsha384-ecp384").unwrap()]
    );
    assert_eq!(c.profile, None);
    assert_eq!(
        c.children[0].esp_proposals,
        vec![ikev2::proposal::parse_esp("aes256gcm16-ecp384").unwrap()]
    );
    let shown = cfg.to_string();
    assert!(shown.contains("aes256gcm16-prfsha384-ecp384"), "{shown}");
}

#[test]
fn psk_rules() {
    let text = minimal("psk_file = \"/etc/ipsecgw/azure.psk\"", "");
    has(
        &errors(&text),
        "connections.azure.psk",
        &["psk and psk_file both set: keep one"],
    );
    let text = minimal("", "").replace(&format!("psk = \"{PSK}\""), "");
    has(
        &errors(&text),
        "connections.azure.psk",
        &["missing", "psk_file"],
    );
    let text = minimal("", "").replace(&format!("psk = \"{PSK}\""), "psk = 123456789");
    has(&errors(&text), "connections.azure.psk", &["quoted string"]);
    assert!(!errors(&text).to_string().contains("123456789"));
    let text = minimal("", "").replace(
        &format!("psk = \"{PSK}\""),
        &format!("psk = \"{}\"", "x".repeat(129)),
    );
    has(
        &errors(&text),
        "connections.azure.psk",
        &["129", "at most 128"],
    );
}

#[test]
fn psk_file_is_read_relative_and_mode_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ipsecgw-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("azure.psk");
    std::fs::write(&key, format!("{PSK}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = minimal("", "").replace(&format!("psk = \"{PSK}\""), "psk_file = \"azure.psk\"");
    let cfg_path = dir.join("ipsecgw.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let cfg = config::load(&cfg_path).unwrap();
    assert_eq!(cfg.connections[0].psk.expose(), PSK.as_bytes());
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.contains("psk_file") && w.contains("chmod 600")),
        "{:?}",
        cfg.warnings
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(config::load(&cfg_path).unwrap().warnings.is_empty());
    let missing = text.replace("azure.psk", "nope.psk");
    let errs = config::parse(&missing, &dir).unwrap_err();
    has(
        &errs,
        "connections.azure.psk_file",
        &["cannot read", "nope.psk"],
    );
    // A wrong path to something large (a device, a log) is refused, not read whole.
    let big = dir.join("big.psk");
    std::fs::write(&big, vec![b'k'; 5000]).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let errs = config::parse(&text.replace("azure.psk", "big.psk"), &dir).unwrap_err();
    has(
        &errs,
        "connections.azure.psk_file",
        &["big.psk", "larger than 4096 bytes"],
    );
    let zero = text.replace("azure.psk", "/dev/zero");
    let errs = config::parse(&zero, &dir).unwrap_err();
    has(&errs, "connections.azure.psk_file", &["larger than"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ranges_and_cross_checks() {
    let errs = errors(&minimal(
        "mtu = 9500\ndpd_timeout = \"5s\"\nmss_clamp = 2000",
        "",
    ));
    has(
        &errs,
        "connections.azure.mtu",
        &["9500 out of range 576..=9000"],
    );
    has(&errs, "connections.azure.dpd_timeout", &["5s", "9-3600"]);
    has(&errs, "connections.azure.mss_clamp", &["2000"]);
    let errs = errors(&minimal("dpd_delay = \"60s\"\ndpd_timeout = \"30s\"", ""));
    has(
        &errs,
        "connections.azure.dpd_timeout",
        &["30s", "shorter than dpd_delay 1m"],
    );
    let errs = errors(&minimal("mode = \"sometimes\"", ""));
    has(
        &errs,
        "connections.azure.mode",
        &["sometimes", "\"both\", \"initiator\", \"responder\""],
    );
    let errs = errors(&minimal(
        "mode = \"responder\"\nstart_action = \"start\"",
        "",
    ));
    has(
        &errs,
        "connections.azure.start_action",
        &["start_action = \"add\""],
    );
    let cfg = ok(&minimal("mode = \"responder\"", ""));
    assert_eq!(cfg.connections[0].start_action, StartAction::Add);
    // strongSwan's and AWS's word for "wait for the peer", and the older alias.
    for word in ["add", "none", "ADD"] {
        let cfg = ok(&minimal(&format!("start_action = \"{word}\""), ""));
        assert_eq!(cfg.connections[0].start_action, StartAction::Add, "{word}");
    }
    let errs = errors(&minimal("start_action = \"trap\"", ""));
    has(
        &errs,
        "connections.azure.start_action",
        &["trap", "\"start\", \"add\""],
    );
    let errs = errors(&minimal("mtu = \"big\"", ""));
    has(&errs, "connections.azure.mtu", &["invalid type"]);
}

#[test]
fn traffic_selectors_and_addresses() {
    let text = minimal("", "").replace("[\"10.0.0.0/16\"]", "[\"10.0.0.1/16\"]");
    has(
        &errors(&text),
        "connections.azure.children.vnet.local_ts[0]",
        &["10.0.0.1/16 has host bits set: use 10.0.0.0/16"],
    );
    let text = minimal("", "").replace("remote_ts = [\"10.1.0.0/16\"]", "");
    has(
        &errors(&text),
        "connections.azure.children.vnet.remote_ts",
        &["missing"],
    );
    let text = minimal("", "").replace("\"203.0.113.20\"", "\"azure.example.com\"");
    has(
        &errors(&text),
        "connections.azure.remote_addrs[0]",
        &["azure.example.com", "not an IP address"],
    );
    let mut text = minimal("", "");
    text.push_str("[connections.azure.children.other]\nlocal_ts = \"10.0.1.0/24\"\nremote_ts = \"10.1.2.0/24\"\n");
    has(
        &errors(&text),
        "connections.azure.children.other",
        &["overlap", "vnet"],
    );
}

#[test]
fn whole_file_problems() {
    let errs = errors("[daemon]\nlog_level = \"info\"\n");
    has(&errs, "connections", &["no connections configured"]);
    let errs = errors(&format!("{}\n[connections.b]\nremote_addrs = \"203.0.113.21\"\nlocal_id = \"198.51.100.10\"\npsk = \"{PSK}\"\ntun_name = \"ipsecgw0\"\n[connections.b.children.x]\nlocal_ts = \"10.0.0.0/16\"\nremote_ts = \"10.1.0.0/16\"\n", minimal("", "")));
    has(
        &errs,
        "connections.b.tun_name",
        &["ipsecgw0", "also used by connection `azure`"],
    );
    let errs = errors(&minimal("", "").replace("[connections.azure.children.vnet]\n", ""));
    // Without the child header its keys land in the connection: reported as unknown keys.
    has(&errs, "connections.azure.local_ts", &["unknown key"]);
    has(&errs, "connections.azure.children", &["no children"]);
}

#[test]
fn syntax_errors_never_quote_the_line() {
    let text = format!("[connections.azure]\npsk = \"{PSK}\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs.to_string().contains("TOML syntax error at line 2"),
        "{errs}"
    );
}

#[test]
fn secrets_stay_out_of_debug_and_display() {
    let cfg = ok(&minimal("", ""));
    let all = format!("{cfg:?}\n{cfg}\n{}\n{}", cfg.to_json(), cfg.redacted_toml());
    assert!(!all.contains(PSK), "{all}");
    assert!(all.contains("<redacted>"));
}

#[test]
fn private_local_id_default_warns() {
    let text = minimal("", "").replace("local_id = \"198.51.100.10\"\n", "");
    let cfg = ok(&text);
    assert_eq!(cfg.connections[0].local_id.to_string(), "172.31.5.10");
    assert!(
        cfg.warnings.iter().any(|w| w.contains("Elastic IP")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn aqm_defaults_to_rfc_8289_and_can_be_tuned_or_turned_off() {
    use gateway::dataplane::codel::CodelParams;
    let cfg = ok(&minimal("", ""));
    assert_eq!(cfg.daemon.aqm, Some(CodelParams::RFC8289));
    assert_eq!(CodelParams::RFC8289.target, Duration::from_millis(5));
    assert_eq!(CodelParams::RFC8289.interval, Duration::from_millis(100));
    let tuned = format!(
        "[daemon]\naqm_target = \"1ms\"\naqm_interval = \"20ms\"\n{}",
        minimal("", "")
    );
    let cfg = ok(&tuned);
    assert_eq!(
        cfg.daemon.aqm,
        Some(CodelParams {
            target: Duration::from_millis(1),
            interval: Duration::from_millis(20),
        })
    );
    // The resolved config shows it, and reads back the same.
    let shown = cfg.redacted_toml();
    assert!(shown.contains("aqm_target = \"1ms\""), "{shown}");
    let off = ok(&format!(
        "[daemon]\naqm_target = \"0s\"\n{}",
        minimal("", "")
    ));
    assert_eq!(off.daemon.aqm, None);
    let errs = errors(&format!(
        "[daemon]\naqm_target = \"50ms\"\naqm_interval = \"10ms\"\n{}",
        minimal("", "")
    ));
    has(&errs, "daemon.aqm_interval", &["aqm_target", "100ms"]);
    let errs = errors(&format!(
        "[daemon]\naqm_target = \"soon\"\n{}",
        minimal("", "")
    ));
    assert!(errs.iter().any(|e| e.path == "daemon.aqm_target"), "{errs}");
}

#[test]
fn tun_queues_default_to_a_latency_queue_plus_half_the_vcpus_and_are_bounded() {
    use gateway::config::{DaemonConfig, MAX_TUN_QUEUES};
    let cfg = ok(&minimal("", ""));
    assert_eq!(cfg.daemon.tun_queues, None);
    assert_eq!(DaemonConfig::default_tun_queues(1), 2);
    assert_eq!(DaemonConfig::default_tun_queues(2), 2);
    assert_eq!(DaemonConfig::default_tun_queues(8), 5);
    assert_eq!(DaemonConfig::default_tun_queues(64), 9);
    let cfg = ok(&format!("[daemon]\ntun_queues = 3\n{}", minimal("", "")));
    assert_eq!(cfg.daemon.tun_queues, Some(3));
    assert_eq!(cfg.daemon.tun_queues_here(), 3);
    let shown = cfg.redacted_toml();
    assert!(shown.contains("tun_queues = 3"), "{shown}");
    for bad in ["0", "-1", &(MAX_TUN_QUEUES + 1).to_string()] {
        let errs = errors(&format!(
            "[daemon]\ntun_queues = {bad}\n{}",
            minimal("", "")
        ));
        has(&errs, "daemon.tun_queues", &["1 to 16", "latency queue"]);
    }
    let errs = errors(&format!(
        "[daemon]\ntun_queues = \"many\"\n{}",
        minimal("", "")
    ));
    assert!(errs.iter().any(|e| e.path == "daemon.tun_queues"), "{errs}");
}

#[test]
fn aead_backend_is_measured_by_default_or_named() {
    let cfg = ok(&minimal("", ""));
    assert_eq!(cfg.daemon.aead_backend, None);
    let shown = cfg.redacted_toml();
    assert!(shown.contains("aead_backend = \"auto\""), "{shown}");
    for (name, want) in [
        ("auto", None),
        ("ring", Some(esp::GcmBackend::Ring)),
        ("aws-lc-rs", Some(esp::GcmBackend::AwsLc)),
    ] {
        let cfg = ok(&format!(
            "[daemon]\naead_backend = \"{name}\"\n{}",
            minimal("", "")
        ));
        assert_eq!(cfg.daemon.aead_backend, want, "{name}");
        assert!(
            cfg.redacted_toml()
                .contains(&format!("aead_backend = \"{name}\"")),
            "{name}"
        );
    }
    let errs = errors(&format!(
        "[daemon]\naead_backend = \"openssl\"\n{}",
        minimal("", "")
    ));
    has(
        &errs,
        "daemon.aead_backend",
        &["`openssl`", "\"auto\"", "\"ring\"", "\"aws-lc-rs\""],
    );
}

#[test]
fn realtime_priority_is_10_by_default_and_bounded() {
    let cfg = ok(&minimal("", ""));
    assert_eq!(cfg.daemon.realtime_priority, 10);
    // Not asked for: a kernel refusal is then only an info line.
    assert!(!cfg.daemon.realtime_priority_set);
    let shown = cfg.redacted_toml();
    assert!(shown.contains("realtime_priority = 10"), "{shown}");
    let on = ok(&format!(
        "[daemon]\nrealtime_priority = 10\n{}",
        minimal("", "")
    ));
    assert_eq!(on.daemon.realtime_priority, 10);
    assert!(on.daemon.realtime_priority_set);
    // Writing out the default is no change a reload must report as waiting for a restart.
    assert!(!cfg.daemon.runs_differently(&on.daemon));
    assert!(!on.daemon.runs_differently(&cfg.daemon));
    let off = ok(&format!(
        "[daemon]\nrealtime_priority = 0\n{}",
        minimal("", "")
    ));
    assert_eq!(off.daemon.realtime_priority, 0);
    assert!(cfg.daemon.runs_differently(&off.daemon));
    let shown = off.redacted_toml();
    assert!(shown.contains("realtime_priority = 0"), "{shown}");
    let cfg = ok(&format!(
        "[daemon]\nrealtime_priority = 99\n{}",
        minimal("", "")
    ));
    assert_eq!(cfg.daemon.realtime_priority, 99);
    for bad in ["-1", "100"] {
        let errs = errors(&format!(
            "[daemon]\nrealtime_priority = {bad}\n{}",
            minimal("", "")
        ));
        has(
            &errs,
            "daemon.realtime_priority",
            &["1 to 99", "10 by default", "0 to leave"],
        );
    }
    let errs = errors(&format!(
        "[daemon]\nrealtime_priority = \"high\"\n{}",
        minimal("", "")
    ));
    assert!(
        errs.iter().any(|e| e.path == "daemon.realtime_priority"),
        "{errs}"
    );
}
