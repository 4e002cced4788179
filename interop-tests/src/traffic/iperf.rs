//! iperf3 between namespaces, JSON output parsed.

use std::time::Duration;

use crate::bail;
use crate::error::{Context, Error, Result};
use crate::netns::Netns;
use crate::proc::{wait_for, Child};

#[derive(Debug, Clone)]
pub struct IperfOpts {
    pub port: u16,
    pub seconds: u32,
    /// Server sends, client receives (`-R`).
    pub reverse: bool,
    pub parallel: u32,
    /// UDP at this bitrate (iperf3 syntax, e.g. `200M`) instead of TCP.
    pub udp_bitrate: Option<String>,
    /// TCP paced at this bitrate (iperf3 `-b`, e.g. `200M`); None: as fast as it goes.
    pub tcp_bitrate: Option<String>,
}

impl Default for IperfOpts {
    fn default() -> IperfOpts {
        IperfOpts {
            port: 5201,
            seconds: 5,
            reverse: false,
            parallel: 1,
            udp_bitrate: None,
            tcp_bitrate: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IperfResult {
    pub sent_bps: f64,
    pub received_bps: f64,
    /// TCP retransmits on the sender (0 for UDP).
    pub retransmits: u64,
    /// UDP: datagrams lost / sent (0 for TCP).
    pub lost_packets: u64,
    pub total_packets: u64,
    /// The client's JSON report.
    pub json: serde_json::Value,
}

/// Runs an iperf3 server in `server` bound to `server_addr` (one test) and a client in `client`.
pub fn iperf3(
    client: &Netns,
    server: &Netns,
    server_addr: &str,
    opts: &IperfOpts,
    dir: &std::path::Path,
) -> Result<IperfResult> {
    let port = opts.port.to_string();
    let mut scmd = server.command("iperf3");
    scmd.args(["-s", "-1", "--forceflush", "-B", server_addr, "-p", &port]);
    let mut srv = Child::spawn(scmd, &format!("iperf3-server-{port}"), dir)?;
    let filter = format!("sport = :{port}");
    wait_for("iperf3 server to listen", Duration::from_secs(10), || {
        let listening = server
            .run("ss", &["-Hltn", &filter])
            .map(|out| !out.trim().is_empty())
            .unwrap_or(false);
        listening || !srv.is_running()
    })?;
    if !srv.is_running() {
        bail!("iperf3 server exited: {}", srv.stderr().trim());
    }

    let mut c = client.command("iperf3");
    c.args([
        "-c",
        server_addr,
        "-p",
        &port,
        "-J",
        "-t",
        &opts.seconds.to_string(),
    ])
    .args(["-P", &opts.parallel.to_string()]);
    if opts.reverse {
        c.arg("-R");
    }
    if let Some(b) = &opts.udp_bitrate {
        c.args(["-u", "-b", b]);
    } else if let Some(b) = &opts.tcp_bitrate {
        c.args(["-b", b]);
    }
    let mut cli = Child::spawn(c, &format!("iperf3-client-{port}"), dir)?;
    cli.wait_timeout(Duration::from_secs(opts.seconds as u64 + 20))?;
    let json: serde_json::Value = serde_json::from_str(&cli.stdout())
        .map_err(|e| Error::new(e.to_string()))
        .context("parsing iperf3 JSON")?;
    if let Some(err) = json.get("error") {
        bail!("iperf3: {err}");
    }
    let _ = srv.wait_timeout(Duration::from_secs(5));
    parse(json)
}

fn parse(json: serde_json::Value) -> Result<IperfResult> {
    let end = &json["end"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let u = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let (sent_bps, received_bps, retransmits, lost, total) = if end.get("sum_sent").is_some() {
        (
            f(&end["sum_sent"]["bits_per_second"]),
            f(&end["sum_received"]["bits_per_second"]),
            u(&end["sum_sent"]["retransmits"]),
            0,
            0,
        )
    } else if end.get("sum").is_some() {
        let s = &end["sum"];
        let bps = f(&s["bits_per_second"]);
        (bps, bps, 0, u(&s["lost_packets"]), u(&s["packets"]))
    } else {
        bail!("iperf3 JSON without end.sum_sent or end.sum");
    };
    Ok(IperfResult {
        sent_bps,
        received_bps,
        retransmits,
        lost_packets: lost,
        total_packets: total,
        json,
    })
}
