//! Results of a run and their rendering: a markdown report (values and ratios to
//! strongSwan ↔ strongSwan) and a JSON twin.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::measure::hops::HopTable;
use crate::tunnels::Kind;

/// Everything measured per tunnel kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Tcp1Up,
    Tcp1Down,
    Tcp4Up,
    Tcp4Down,
    Udp1400Mbps,
    Udp1400Loss,
    Udp64Kpps,
    Udp64Loss,
    Udp1400SentKpps,
    Udp1400ArrivedKpps,
    Udp64SentKpps,
    Udp64ArrivedKpps,
    SmbGet,
    SmbPut,
    PingIdleP50,
    PingIdleP99,
    PingLoadP50,
    PingLoadP99,
    CpuTunnel,
    CpuHost,
}

impl Metric {
    /// Column header (markdown).
    pub fn header(self) -> &'static str {
        match self {
            Metric::Tcp1Up => "TCP ×1 AWS→Azure",
            Metric::Tcp1Down => "TCP ×1 Azure→AWS",
            Metric::Tcp4Up => "TCP ×4 AWS→Azure",
            Metric::Tcp4Down => "TCP ×4 Azure→AWS",
            Metric::Udp1400Mbps => "UDP 1400 B",
            Metric::Udp1400Loss => "loss",
            Metric::Udp64Kpps => "UDP 64 B kpps",
            Metric::Udp64Loss => "loss",
            Metric::Udp1400SentKpps => "1400 B sent",
            Metric::Udp1400ArrivedKpps => "1400 B at the VNet host",
            Metric::Udp64SentKpps => "64 B sent",
            Metric::Udp64ArrivedKpps => "64 B at the VNet host",
            Metric::SmbGet => "SMB get",
            Metric::SmbPut => "SMB put",
            Metric::PingIdleP50 => "idle p50",
            Metric::PingIdleP99 => "idle p99",
            Metric::PingLoadP50 => "loaded p50",
            Metric::PingLoadP99 => "loaded p99",
            Metric::CpuTunnel => "tunnel CPU s/GB",
            Metric::CpuHost => "host CPU s/GB",
        }
    }

    /// Key in the JSON report (with its unit).
    pub fn key(self) -> &'static str {
        match self {
            Metric::Tcp1Up => "tcp1_up_mbps",
            Metric::Tcp1Down => "tcp1_down_mbps",
            Metric::Tcp4Up => "tcp4_up_mbps",
            Metric::Tcp4Down => "tcp4_down_mbps",
            Metric::Udp1400Mbps => "udp1400_up_mbps",
            Metric::Udp1400Loss => "udp1400_up_loss_percent",
            Metric::Udp64Kpps => "udp64_up_kpps",
            Metric::Udp64Loss => "udp64_up_loss_percent",
            Metric::Udp1400SentKpps => "udp1400_up_sent_kpps",
            Metric::Udp1400ArrivedKpps => "udp1400_up_arrived_kpps",
            Metric::Udp64SentKpps => "udp64_up_sent_kpps",
            Metric::Udp64ArrivedKpps => "udp64_up_arrived_kpps",
            Metric::SmbGet => "smb_get_mbps",
            Metric::SmbPut => "smb_put_mbps",
            Metric::PingIdleP50 => "ping_idle_p50_ms",
            Metric::PingIdleP99 => "ping_idle_p99_ms",
            Metric::PingLoadP50 => "ping_loaded_p50_ms",
            Metric::PingLoadP99 => "ping_loaded_p99_ms",
            Metric::CpuTunnel => "tunnel_cpu_s_per_gb",
            Metric::CpuHost => "host_cpu_s_per_gb",
        }
    }

    fn is_loss(self) -> bool {
        matches!(self, Metric::Udp1400Loss | Metric::Udp64Loss)
    }

    fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "n/a".into();
        }
        match self {
            m if m.is_loss() => format!("{v:.1} %"),
            Metric::PingIdleP50
            | Metric::PingIdleP99
            | Metric::PingLoadP50
            | Metric::PingLoadP99 => {
                format!("{v:.3}")
            }
            Metric::CpuTunnel | Metric::CpuHost => format!("{v:.2}"),
            _ if v >= 100.0 => format!("{v:.0}"),
            _ => format!("{v:.1}"),
        }
    }
}

const THROUGHPUT: [Metric; 10] = [
    Metric::Tcp1Up,
    Metric::Tcp1Down,
    Metric::Tcp4Up,
    Metric::Tcp4Down,
    Metric::Udp1400Mbps,
    Metric::Udp1400Loss,
    Metric::Udp64Kpps,
    Metric::Udp64Loss,
    Metric::SmbGet,
    Metric::SmbPut,
];

/// Where the datagrams of the two UDP floods went, in kpps.
const UDP_PATH: [Metric; 5] = [
    Metric::Udp1400SentKpps,
    Metric::Udp1400ArrivedKpps,
    Metric::Udp64SentKpps,
    Metric::Udp64ArrivedKpps,
    Metric::Udp64Kpps,
];

const LATENCY_CPU: [Metric; 6] = [
    Metric::PingIdleP50,
    Metric::PingIdleP99,
    Metric::PingLoadP50,
    Metric::PingLoadP99,
    Metric::CpuTunnel,
    Metric::CpuHost,
];

/// One tunnel kind's results.
#[derive(Debug, Clone)]
pub struct KindResult {
    pub kind: Kind,
    /// What was set up (`Ok`), or why it failed to come up.
    pub setup: Result<String, String>,
    pub values: BTreeMap<Metric, Result<f64, String>>,
    /// Cross-vCPU cache-line round trip (ns) just before and just after each iperf3 run
    /// (`measure::placement`); `None` where the probe gave no answer.
    pub placement: BTreeMap<Metric, (Option<f64>, Option<f64>)>,
    /// Every run of a repeated row (TCP, Mbit/s) in run order; the row shows their median.
    pub runs: BTreeMap<Metric, Vec<f64>>,
    /// Wall time of the whole kind (setup, measurements, teardown), seconds.
    pub secs: f64,
    /// Where the pings of a traced loaded series waited (`--hop-trace`), or why not.
    pub hops: Option<Result<HopTable, String>>,
    /// The same for a traced series on the idle tunnel.
    pub idle_hops: Option<Result<HopTable, String>>,
}

impl KindResult {
    pub fn new(kind: Kind) -> KindResult {
        KindResult {
            kind,
            setup: Err("not run".into()),
            values: BTreeMap::new(),
            placement: BTreeMap::new(),
            runs: BTreeMap::new(),
            secs: 0.0,
            hops: None,
            idle_hops: None,
        }
    }

    pub fn value(&self, m: Metric) -> Option<f64> {
        self.values.get(&m).and_then(|r| r.as_ref().ok().copied())
    }
}

/// A whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub machine: Vec<(String, String)>,
    /// `(what, value)` lines of the crypto ceiling.
    pub crypto: Vec<(String, String)>,
    /// The run's settings, one line.
    pub settings: String,
    pub results: Vec<KindResult>,
    pub total_secs: f64,
}

/// The runs that carry a placement probe, in table order.
const PROBED: [Metric; 7] = [
    Metric::Tcp1Up,
    Metric::Tcp1Down,
    Metric::Tcp4Up,
    Metric::Tcp4Down,
    Metric::PingLoadP99,
    Metric::Udp1400Mbps,
    Metric::Udp64Kpps,
];

/// "57 → 61 (shared L3)", "340 → 52 (moved)", "– → 340 (split)".
fn placement_cell(p: Option<&(Option<f64>, Option<f64>)>) -> String {
    use crate::measure::placement::describe;
    let Some((before, after)) = p else {
        return "–".into();
    };
    let show = |v: &Option<f64>| v.map_or("–".to_string(), |ns| format!("{ns:.0}"));
    let class = match (before.map(describe), after.map(describe)) {
        (Some(a), Some(b)) if a != b => "moved",
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => "no answer",
    };
    format!("{} → {} ({class})", show(before), show(after))
}

/// Makes `s` safe inside one markdown table cell.
fn cell_text(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c == '\n' || c == '|' { ' ' } else { c })
        .collect();
    let t = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > max {
        format!("{}…", t.chars().take(max).collect::<String>())
    } else {
        t
    }
}

impl Report {
    fn baseline(&self) -> Option<&KindResult> {
        self.results
            .iter()
            .find(|r| r.kind == Kind::Strongswan && r.setup.is_ok())
    }

    fn cell(&self, r: &KindResult, m: Metric) -> String {
        match r.values.get(&m) {
            None => "–".into(),
            Some(Err(_)) => "error".into(),
            Some(Ok(v)) => {
                let mut s = m.format(*v);
                let base = self.baseline().and_then(|b| b.value(m));
                if let Some(b) = base.filter(|b| *b > 0.0 && !m.is_loss() && v.is_finite()) {
                    let _ = write!(s, " ({:.2}×)", v / b);
                }
                s
            }
        }
    }

    fn table(&self, out: &mut String, metrics: &[Metric]) {
        let _ = write!(out, "| tunnel |");
        for m in metrics {
            let _ = write!(out, " {} |", m.header());
        }
        let _ = write!(out, "\n|---|");
        for _ in metrics {
            let _ = write!(out, "---:|");
        }
        out.push('\n');
        for r in &self.results {
            let _ = write!(out, "| {} |", r.kind.label());
            match &r.setup {
                Err(why) => {
                    let _ = write!(out, " failed: {} |", cell_text(why, 160));
                    for _ in 1..metrics.len() {
                        out.push_str(" |");
                    }
                }
                Ok(_) => {
                    for m in metrics {
                        let _ = write!(out, " {} |", self.cell(r, *m));
                    }
                }
            }
            out.push('\n');
        }
    }

    /// Where the host ran the vCPUs during each loaded run (see `measure::placement`).
    fn placement_table(&self, out: &mut String) {
        let tcp: Vec<Metric> = PROBED
            .into_iter()
            .filter(|m| self.results.iter().any(|r| r.placement.contains_key(m)))
            .collect();
        if tcp.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n## vCPU placement during the runs\n\n\
             Round trip of one cache line between threads pinned to CPU 0 and CPU 1, in ns, \
             just before → just after each iperf3 run (loaded p99: the TCP stream under the \
             pings). Above {:.0} ns the host runs the two vCPUs on \
             different CCDs (\"split\"): copies between them are then ~3× slower and TCP \
             through every tunnel kind, plain forwarding included, slows down \
             (docs/fast-path.md, \"Two throughput phases\").\n",
            crate::measure::placement::SPLIT_ABOVE_NS
        );
        let _ = write!(out, "| tunnel |");
        for m in &tcp {
            let _ = write!(out, " {} |", m.header());
        }
        let _ = write!(out, "\n|---|");
        for _ in &tcp {
            out.push_str("---|");
        }
        out.push('\n');
        for r in self.results.iter().filter(|r| !r.placement.is_empty()) {
            let _ = write!(out, "| {} |", r.kind.label());
            for m in &tcp {
                let _ = write!(out, " {} |", placement_cell(r.placement.get(m)));
            }
            out.push('\n');
        }
    }

    /// Per tunnel kind, where an idle and a loaded ping spent their time (`measure::hops`).
    fn hops_section(&self, out: &mut String) {
        if self.results.iter().any(|r| r.idle_hops.is_some()) {
            let _ = writeln!(
                out,
                "\n## Where an idle ping's time goes (per hop, µs)\n\n\
                 A second idle ping series, traced as the loaded one below. With nothing else \
                 running, each hop is the work of one tunnel thread plus, where that thread \
                 slept, its wake-up.\n"
            );
            self.hop_tables(out, |r| r.idle_hops.as_ref());
        }
        if self.results.iter().all(|r| r.hops.is_none()) {
            return;
        }
        let _ = writeln!(
            out,
            "\n## Where a ping waits under load (per hop, µs)\n\n\
             A second loaded ping series (one TCP stream AWS→Azure) with `tcpdump` in both \
             gateway namespaces: each ping followed by its ICMP sequence number through the \
             gateways' inside interfaces and TUN devices, and by time and length to the tunnel \
             datagram that carried it, as it left one gateway and, where UDP GRO did not join \
             it to a train, as it reached the other's socket (see \
             `benches/src/measure/hops.rs`). Seen: the round trips in which that hop was seen \
             on its own. The captures cost CPU, so these round trips run a little slower than \
             the latency table's. The last column is each hop's share of the time the slowest \
             5% of the round trips took.\n"
        );
        self.hop_tables(out, |r| r.hops.as_ref());
    }

    fn hop_tables(
        &self,
        out: &mut String,
        table: impl Fn(&KindResult) -> Option<&Result<HopTable, String>>,
    ) {
        for r in &self.results {
            match table(r) {
                None => {}
                Some(Ok(t)) => {
                    let _ = writeln!(
                        out,
                        "### {} ({} round trips traced)\n\n{}",
                        r.kind.label(),
                        t.traced,
                        t.markdown()
                    );
                }
                Some(Err(e)) => {
                    let _ = writeln!(
                        out,
                        "### {}\n\nnot traced: {}\n",
                        r.kind.label(),
                        cell_text(e, 600)
                    );
                }
            }
        }
    }

    /// The markdown report.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# ipsecgw end-to-end benchmark\n\n");
        for (k, v) in &self.machine {
            let _ = writeln!(out, "- {k}: {v}");
        }
        let _ = writeln!(out, "- settings: {}", self.settings);
        let _ = writeln!(out, "- total run time: {:.0} s", self.total_secs);
        let base = if self.baseline().is_some() {
            "Ratios in parentheses are to strongSwan ↔ strongSwan (kernel-libipsec)."
        } else {
            "No strongSwan ↔ strongSwan result in this run, so no ratios."
        };
        let _ = writeln!(
            out,
            "\n## Throughput (Mbit/s unless noted)\n\n\
             AWS→Azure is VPC host → VNet host. UDP: one iperf3 stream at full rate (`-b 0`), \
             1400-byte IP packets (1372-byte payload, the largest that fits the 1400-byte tunnel MTU) \
             and 64-byte payloads; goodput and loss at the receiver. TCP: the median of the \
             runs named in the settings above (all runs are in the JSON twin). SMB: smbclient in the VPC host, \
             smbd in the VNet host. {base}\n"
        );
        self.table(&mut out, &THROUGHPUT);
        let _ = writeln!(
            out,
            "\n## Latency (ping RTT, ms) and CPU\n\n\
             Loaded: while one TCP stream runs AWS→Azure. Tunnel CPU: user+system time of the \
             tunnel processes on both sides over the four TCP runs, per GB (10^9 bytes) received; \
             host CPU: all busy CPU time of the machine over the same runs (iperf3, kernel \
             forwarding and the tunnel), per GB.\n"
        );
        self.table(&mut out, &LATENCY_CPU);
        if self
            .results
            .iter()
            .any(|r| r.values.contains_key(&Metric::Udp64ArrivedKpps))
        {
            let _ = writeln!(
                out,
                "\n## UDP floods: where the datagrams went (kpps)\n\n\
                 Sent: by the iperf3 client in the VPC host. At the VNet host: datagrams that \
                 reached its UDP layer (`/proc/net/snmp` InDatagrams + InErrors), including \
                 those dropped because the receiving iperf3's socket buffer was full. Read: what \
                 iperf3 received (the UDP 64 B column above). Sent minus at the VNet host is \
                 lost on the way (the tunnel); at the VNet host minus read is lost because the \
                 receiving iperf3, one `read` per datagram, got too little CPU.\n"
            );
            self.table(&mut out, &UDP_PATH);
        }
        self.placement_table(&mut out);
        self.hops_section(&mut out);
        let _ = writeln!(out, "\n## Crypto ceiling (one core)\n");
        for (k, v) in &self.crypto {
            let _ = writeln!(out, "- {k}: {v}");
        }
        let _ = writeln!(out, "\n## Setups\n");
        for r in &self.results {
            match &r.setup {
                Ok(d) => {
                    let _ = writeln!(out, "- {}: {} ({:.0} s)", r.kind.label(), d, r.secs);
                }
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "- {}: **failed**: {}",
                        r.kind.label(),
                        cell_text(e, 2000)
                    );
                }
            }
        }
        let errors: Vec<String> = self
            .results
            .iter()
            .flat_map(|r| {
                r.values.iter().filter_map(move |(m, v)| {
                    v.as_ref().err().map(|e| {
                        format!("- {} / {}: {}", r.kind.label(), m.key(), cell_text(e, 600))
                    })
                })
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "\n## Measurement errors\n\n{}", errors.join("\n"));
        }
        out
    }

    /// The JSON twin of [`Report::markdown`].
    pub fn json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let obj = |pairs: &[(String, String)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let mut values = Map::new();
                for (m, v) in &r.values {
                    let val = match v {
                        Ok(x) if x.is_finite() => json!(x),
                        Ok(_) => Value::Null,
                        Err(e) => json!({ "error": e }),
                    };
                    values.insert(m.key().into(), val);
                }
                let placement: Map<String, Value> = r
                    .placement
                    .iter()
                    .map(|(m, (b, a))| (m.key().into(), json!({ "before": b, "after": a })))
                    .collect();
                let runs: Map<String, Value> = r
                    .runs
                    .iter()
                    .map(|(m, v)| (m.key().into(), json!(v)))
                    .collect();
                let hops = |h: &Option<Result<HopTable, String>>| match h {
                    None => Value::Null,
                    Some(Ok(t)) => t.json(),
                    Some(Err(e)) => json!({ "error": e }),
                };
                json!({
                    "kind": r.kind.id(),
                    "idle_ping_hops": hops(&r.idle_hops),
                    "loaded_ping_hops": hops(&r.hops),
                    "vcpu_rtt_ns": placement,
                    "runs": runs,
                    "label": r.kind.label(),
                    "setup": match &r.setup { Ok(d) => json!({"ok": d}), Err(e) => json!({"failed": e}) },
                    "seconds": r.secs,
                    "values": values,
                })
            })
            .collect();
        json!({
            "machine": obj(&self.machine),
            "crypto": obj(&self.crypto),
            "settings": self.settings,
            "total_seconds": self.total_secs,
            "results": results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: Kind, tcp: f64) -> KindResult {
        let mut r = KindResult::new(kind);
        r.setup = Ok("x".into());
        r.values.insert(Metric::Tcp1Up, Ok(tcp));
        r.values
            .insert(Metric::SmbGet, Err("smbd | died\nbadly".into()));
        r
    }

    #[test]
    fn ratios_to_strongswan_and_failed_rows() {
        let mut failed = KindResult::new(Kind::Boringtun);
        failed.setup = Err("no | binary".into());
        let rep = Report {
            results: vec![
                result(Kind::Ipsecgw, 1000.0),
                result(Kind::Strongswan, 400.0),
                failed,
            ],
            ..Report::default()
        };
        let md = rep.markdown();
        assert!(md.contains("| ipsecgw ↔ ipsecgw | 1000 (2.50×) |"), "{md}");
        assert!(
            md.contains("| boringtun ↔ boringtun | failed: no binary |"),
            "{md}"
        );
        assert!(md.contains("smb_get_mbps: smbd died badly"), "{md}");
        assert_eq!(rep.json()["results"][0]["values"]["tcp1_up_mbps"], 1000.0);
        assert!(!md.contains("vCPU placement"), "no probe, no table: {md}");
        assert!(
            !md.contains("where the datagrams went"),
            "no counts, no table: {md}"
        );
    }

    #[test]
    fn udp_path_table_shows_sent_arrived_and_read() {
        let mut r = result(Kind::Ipsecgw, 1000.0);
        r.values.insert(Metric::Udp64SentKpps, Ok(188.0));
        r.values.insert(Metric::Udp64ArrivedKpps, Ok(187.9));
        r.values.insert(Metric::Udp64Kpps, Ok(90.4));
        let rep = Report {
            results: vec![r],
            ..Report::default()
        };
        let md = rep.markdown();
        assert!(
            md.contains("## UDP floods: where the datagrams went"),
            "{md}"
        );
        assert!(
            md.contains("| ipsecgw ↔ ipsecgw | – | – | 188 | 188 | 90.4 |"),
            "{md}"
        );
        assert_eq!(
            rep.json()["results"][0]["values"]["udp64_up_arrived_kpps"],
            187.9
        );
    }

    #[test]
    fn idle_and_loaded_hop_tables_each_under_their_heading() {
        let hop = |us: u64| -> crate::measure::hops::HopTimes { [Some(us * 1000); 9] };
        let mut r = result(Kind::Ipsecgw, 1000.0);
        r.idle_hops = Some(Ok(HopTable::from_times(&[hop(20), hop(30)])));
        r.hops = Some(Err("tcpdump | died".into()));
        let rep = Report {
            results: vec![r, result(Kind::Strongswan, 400.0)],
            ..Report::default()
        };
        let md = rep.markdown();
        let idle = md.find("## Where an idle ping's time goes").expect(&md);
        let loaded = md.find("## Where a ping waits under load").expect(&md);
        assert!(idle < loaded, "{md}");
        let (idle_part, loaded_part) = md.split_at(loaded);
        assert!(
            idle_part[idle..].contains("### ipsecgw ↔ ipsecgw (2 round trips traced)"),
            "{md}"
        );
        assert!(
            loaded_part.contains("### ipsecgw ↔ ipsecgw\n\nnot traced: tcpdump died"),
            "{md}"
        );
        assert!(
            !md.contains("### strongSwan"),
            "untraced kinds get no table: {md}"
        );
        let json = rep.json();
        assert_eq!(json["results"][0]["idle_ping_hops"]["traced"], 2);
        assert_eq!(
            json["results"][0]["loaded_ping_hops"]["error"],
            "tcpdump | died"
        );
        assert!(json["results"][1]["idle_ping_hops"].is_null());
    }

    #[test]
    fn placement_table_classifies_each_run() {
        let mut r = result(Kind::Ipsecgw, 1000.0);
        r.placement.insert(Metric::Tcp1Up, (Some(55.4), Some(61.0)));
        r.placement
            .insert(Metric::Tcp1Down, (Some(340.0), Some(58.0)));
        r.placement.insert(Metric::Tcp4Up, (None, Some(352.0)));
        let rep = Report {
            results: vec![r],
            ..Report::default()
        };
        let md = rep.markdown();
        assert!(
            md.contains(
                "| ipsecgw ↔ ipsecgw | 55 → 61 (shared L3) | 340 → 58 (moved) | – → 352 (split) |"
            ),
            "{md}"
        );
        let j = rep.json();
        assert_eq!(
            j["results"][0]["vcpu_rtt_ns"]["tcp1_down_mbps"]["before"],
            340.0
        );
        assert!(j["results"][0]["vcpu_rtt_ns"]["tcp4_up_mbps"]["before"].is_null());
    }
}
