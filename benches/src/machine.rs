//! What the report says about the machine and the tools.

use std::process::Command;

/// First line of `program args` (stdout, else stderr), or "not installed".
pub fn version(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(_) => "not installed".into(),
    }
}

/// The installed version of a Debian package.
pub fn deb_version(pkg: &str) -> String {
    let v = version("dpkg-query", &["-W", "-f=${Version}", pkg]);
    if v.is_empty() || v.contains("no packages") {
        "not installed".into()
    } else {
        v
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `(label, value)` lines for the report header.
pub fn describe(ipsecgw: &str, boringtun: &str) -> Vec<(String, String)> {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let kb: f64 = s.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_default();
    let date = version("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rows = [
        ("date", date),
        ("CPU", format!("{} × {nproc} (nproc)", cpu_model())),
        ("memory", mem),
        ("kernel", version("uname", &["-r"])),
        ("OS", os_name()),
        ("ipsecgw", version(ipsecgw, &["--version"])),
        ("strongSwan (charon)", deb_version("strongswan-charon")),
        ("wireguard-go", deb_version("wireguard-go")),
        ("boringtun", version(boringtun, &["--version"])),
        ("iperf3", version("iperf3", &["--version"])),
        ("samba", deb_version("samba")),
        ("openssl", version("openssl", &["version"])),
        ("rustc", version("rustc", &["--version"])),
    ];
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
