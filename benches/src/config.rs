//! The benchmark's command line and the settings derived from it.

use std::path::PathBuf;

use crate::tunnels::Kind;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `--quick`: short iperf3 runs, small SMB file, fewer pings.
    pub quick: bool,
    /// Duration of each iperf3 run.
    pub iperf_secs: u32,
    /// Runs per TCP row (`--tcp-runs`); the row shows their median. On this machine one
    /// TCP run varies by ±10 % (docs/fast-path.md, "Two throughput phases").
    pub tcp_runs: u32,
    /// Size of the SMB test file.
    pub smb_bytes: u64,
    /// Pings per latency measurement.
    pub ping_count: u32,
    /// Tunnel kinds to run, in order.
    pub kinds: Vec<Kind>,
    /// The ipsecgw release binary.
    pub ipsecgw_bin: PathBuf,
    /// boringtun-cli (installed by `scripts/bench.sh` into `target/bench-tools`).
    pub boringtun_bin: PathBuf,
    /// Where the markdown report goes (a JSON twin is written next to it).
    pub out: PathBuf,
    /// Skip the SMB measurements.
    pub no_smb: bool,
    /// Idle seconds before each tunnel kind after the first (`--settle-secs`), the same for
    /// every kind: right after a kind that moved 17-29 Gbit/s (plain forwarding) the next
    /// one's first TCP rows ran ~25% slower on this 2-vCPU VM. It does not remove that slow
    /// phase in every run (docs/fast-path.md, "Two throughput phases").
    pub settle_secs: u32,
    /// `--tcp-cc`: the TCP congestion control of the VPC and VNet hosts, set in their
    /// namespaces (`net.ipv4.tcp_congestion_control`). Default `cubic`: the kernel's default
    /// and Windows' (the SMB clients), so a machine-wide setting (this lab machine's is
    /// `bbr`) does not change the table; `--tcp-cc host` leaves what new namespaces inherit.
    /// ipsecgw's TCP rows differ by 20-30% between BBR and CUBIC here, and strongSwan's
    /// loaded ping p99 by 3× (docs/fast-path.md, "BBR and CUBIC").
    pub tcp_cc: Option<String>,
    /// `--hop-trace` / `--no-hop-trace`: one more idle and one more loaded ping series per
    /// tunnel kind with `tcpdump` in both gateway namespaces, timed hop by hop
    /// (`measure::hops`). On by default in full runs, off with `--quick`.
    pub hop_trace: bool,
}

pub const USAGE: &str = "\
usage: bench [--quick] [--only KIND,KIND..] [--out FILE] [--ipsecgw BIN] [--boringtun BIN]
             [--iperf-secs N] [--tcp-runs N] [--smb-mib N] [--pings N] [--no-smb]
             [--settle-secs N] [--tcp-cc cubic|bbr|host] [--hop-trace | --no-hop-trace]
       bench --probe-vcpus   (where the host runs CPU 0 and 1: one cache-line round trip)
kinds: plain, ipsecgw, ipsecgw-strongswan, strongswan, wireguard-go, boringtun (default: all)";

impl BenchConfig {
    /// Parses `args` (without the program name). Paths default relative to the workspace root.
    pub fn parse(args: &[String]) -> Result<BenchConfig, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut quick = false;
        let mut only: Option<String> = None;
        let mut out = root.join("benches/results/latest.md");
        let mut ipsecgw = root.join("target/release/ipsecgw");
        let mut boringtun = root.join("target/bench-tools/bin/boringtun-cli");
        let (mut secs, mut mib, mut pings, mut settle) = (None, None, None, None);
        let mut tcp_runs = None;
        let mut no_smb = false;
        let mut hop_trace = None;
        let mut tcp_cc = Some("cubic".to_string());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match a.as_str() {
                "--quick" => quick = true,
                "--no-smb" => no_smb = true,
                "--hop-trace" => hop_trace = Some(true),
                "--no-hop-trace" => hop_trace = Some(false),
                "--only" => only = Some(val("--only")?),
                "--out" => out = PathBuf::from(val("--out")?),
                "--ipsecgw" => ipsecgw = PathBuf::from(val("--ipsecgw")?),
                "--boringtun" => boringtun = PathBuf::from(val("--boringtun")?),
                "--iperf-secs" => secs = Some(num(&val("--iperf-secs")?)?),
                "--tcp-runs" => tcp_runs = Some(num(&val("--tcp-runs")?)?),
                "--smb-mib" => mib = Some(num(&val("--smb-mib")?)?),
                "--pings" => pings = Some(num(&val("--pings")?)?),
                "--settle-secs" => settle = Some(num(&val("--settle-secs")?)?),
                "--tcp-cc" => {
                    let v = val("--tcp-cc")?;
                    tcp_cc = if v == "host" {
                        None
                    } else {
                        Some(cc_name(&v)?)
                    };
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let kinds = match only {
            None => Kind::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    Kind::parse(s.trim()).ok_or_else(|| format!("unknown kind {s:?}\n{USAGE}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if tcp_runs == Some(0) {
            return Err(format!("--tcp-runs must be at least 1\n{USAGE}"));
        }
        if kinds.is_empty() {
            return Err(format!("--only names no tunnel kind\n{USAGE}"));
        }
        Ok(BenchConfig {
            quick,
            iperf_secs: secs.unwrap_or(if quick { 3 } else { 10 }) as u32,
            tcp_runs: tcp_runs.unwrap_or(if quick { 1 } else { 3 }) as u32,
            smb_bytes: mib.unwrap_or(if quick { 128 } else { 1024 }) << 20,
            ping_count: pings.unwrap_or(if quick { 100 } else { 400 }) as u32,
            kinds,
            ipsecgw_bin: ipsecgw,
            boringtun_bin: boringtun,
            out,
            no_smb,
            settle_secs: settle.unwrap_or(if quick { 0 } else { 30 }) as u32,
            tcp_cc,
            hop_trace: hop_trace.unwrap_or(!quick),
        })
    }

    /// The congestion control the hosts' TCP uses, and where that comes from (for the report).
    pub fn tcp_cc_in_use(&self) -> (String, &'static str) {
        match &self.tcp_cc {
            Some(cc) => (cc.clone(), "set in their namespaces, --tcp-cc"),
            None => (
                std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "unknown".into()),
                "--tcp-cc host: this machine's default, inherited by new namespaces",
            ),
        }
    }
}

/// A congestion control name as `sysctl` takes it (`cubic`, `bbr`, `reno`, ...).
fn cc_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "--tcp-cc {s:?} is not a congestion control name (e.g. cubic or bbr; the machine \
             offers those in /proc/sys/net/ipv4/tcp_available_congestion_control)\n{USAGE}"
        ))
    }
}

fn num(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("not a number: {s:?}\n{USAGE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn settle_time_defaults_to_30_s_in_a_full_run_and_none_in_a_quick_one() {
        assert_eq!(BenchConfig::parse(&[]).unwrap().settle_secs, 30);
        assert_eq!(BenchConfig::parse(&args("--quick")).unwrap().settle_secs, 0);
        let c = BenchConfig::parse(&args("--quick --settle-secs 5")).unwrap();
        assert_eq!(c.settle_secs, 5);
        let e = BenchConfig::parse(&args("--settle-secs soon")).unwrap_err();
        assert!(e.contains("not a number"), "{e}");
    }

    #[test]
    fn tcp_congestion_control_is_cubic_unless_named() {
        assert_eq!(
            BenchConfig::parse(&[]).unwrap().tcp_cc.as_deref(),
            Some("cubic")
        );
        assert_eq!(
            BenchConfig::parse(&args("--tcp-cc host")).unwrap().tcp_cc,
            None
        );
        let c = BenchConfig::parse(&args("--tcp-cc cubic")).unwrap();
        assert_eq!(c.tcp_cc.as_deref(), Some("cubic"));
        assert_eq!(c.tcp_cc_in_use().0, "cubic");
        let e = BenchConfig::parse(&args("--tcp-cc cubic;reboot")).unwrap_err();
        assert!(e.contains("not a congestion control name"), "{e}");
        assert!(BenchConfig::parse(&args("--tcp-cc")).is_err());
    }

    #[test]
    fn tcp_rows_take_the_median_of_three_runs_unless_quick() {
        assert_eq!(BenchConfig::parse(&[]).unwrap().tcp_runs, 3);
        assert_eq!(BenchConfig::parse(&args("--quick")).unwrap().tcp_runs, 1);
        assert_eq!(
            BenchConfig::parse(&args("--tcp-runs 5")).unwrap().tcp_runs,
            5
        );
        assert!(!BenchConfig::parse(&args("--quick")).unwrap().hop_trace);
        assert!(
            BenchConfig::parse(&args("--quick --hop-trace"))
                .unwrap()
                .hop_trace
        );
        assert!(BenchConfig::parse(&args("")).unwrap().hop_trace);
        assert!(
            !BenchConfig::parse(&args("--no-hop-trace"))
                .unwrap()
                .hop_trace
        );
        let e = BenchConfig::parse(&args("--tcp-runs 0")).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
    }
}
