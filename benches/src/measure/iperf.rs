//! iperf3 runs between the VPC host (client) and the VNet host (server), JSON parsed. Unlike
//! `interop_tests::traffic::iperf3` this can set the datagram size, run in the background (for
//! latency under load) and reads UDP results on the receiving side.

use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use interop_tests::error::Context;
use interop_tests::netns::Netns;
use interop_tests::proc::{wait_for, Child};
use interop_tests::{bail, Error, Result};

static NEXT_PORT: AtomicU16 = AtomicU16::new(5201);

/// One iperf3 test.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub secs: u32,
    /// VNet -> VPC (server sends, `-R`) instead of VPC -> VNet.
    pub reverse: bool,
    pub streams: u32,
    /// UDP with this payload size at full rate (`-b 0`) instead of TCP.
    pub udp_len: Option<u32>,
}

/// What the receiving side saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// Goodput at the receiver, bit/s.
    pub bps: f64,
    /// Bytes received.
    pub bytes: u64,
    pub seconds: f64,
    /// TCP: sender retransmits.
    pub retransmits: u64,
    /// UDP: datagrams sent and lost.
    pub packets: u64,
    pub lost: u64,
}

impl Outcome {
    /// UDP datagrams received per second.
    pub fn received_pps(&self) -> f64 {
        (self.packets.saturating_sub(self.lost)) as f64 / self.seconds.max(1e-9)
    }

    /// UDP datagrams the sender sent per second (the receiver's count, lost ones included).
    pub fn sent_pps(&self) -> f64 {
        self.packets as f64 / self.seconds.max(1e-9)
    }

    pub fn loss_percent(&self) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            self.lost as f64 * 100.0 / self.packets as f64
        }
    }
}

/// A test under way.
pub struct Running {
    spec: Spec,
    // Client first: it is stopped first if dropped early.
    client: Child,
    server: Child,
}

/// Starts an iperf3 server in `server` on `addr` and a client in `client`; returns at once.
pub fn start(
    client: &Netns,
    server: &Netns,
    addr: &str,
    spec: Spec,
    dir: &Path,
) -> Result<Running> {
    let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed).to_string();
    let mut s = server.command("iperf3");
    s.args(["-s", "-1", "-J", "-B", addr, "-p", &port]);
    let mut srv = Child::spawn(s, &format!("iperf3-server-{port}"), dir)?;
    let filter = format!("sport = :{port}");
    wait_for(
        "the iperf3 server to listen",
        Duration::from_secs(10),
        || {
            !srv.is_running()
                || server
                    .run("ss", &["-Hltn", &filter])
                    .map(|o| !o.trim().is_empty())
                    .unwrap_or(false)
        },
    )?;
    if !srv.is_running() {
        bail!("iperf3 server exited: {}", srv.stderr().trim());
    }
    let mut c = client.command("iperf3");
    c.args(["-c", addr, "-p", &port, "-J", "--connect-timeout", "5000"])
        .args([
            "-t",
            &spec.secs.to_string(),
            "-P",
            &spec.streams.to_string(),
        ]);
    if spec.reverse {
        c.arg("-R");
    }
    if let Some(len) = spec.udp_len {
        c.args([
            "-u",
            "-b",
            "0",
            "-l",
            &len.to_string(),
            "--get-server-output",
        ]);
    }
    let cli = Child::spawn(c, &format!("iperf3-client-{port}"), dir)?;
    Ok(Running {
        spec,
        client: cli,
        server: srv,
    })
}

impl Running {
    /// Waits for the test to end and parses the result.
    pub fn finish(mut self) -> Result<Outcome> {
        let limit = Duration::from_secs(self.spec.secs as u64 + 30);
        self.client
            .wait_timeout(limit)
            .context("iperf3 client did not finish")?;
        let out = self.client.stdout();
        let json: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| Error::new(format!("{e}: {}", self.client.stderr().trim())))
            .context("parsing iperf3 JSON")?;
        if let Some(err) = json.get("error") {
            bail!("iperf3: {}", err.as_str().unwrap_or(&err.to_string()));
        }
        let _ = self.server.wait_timeout(Duration::from_secs(5));
        parse(&json, self.spec)
    }

    /// Stops both ends now (the result is not wanted).
    pub fn abort(mut self) {
        self.client.stop();
        self.server.stop();
    }
}

/// Starts and finishes one test.
pub fn run(client: &Netns, server: &Netns, addr: &str, spec: Spec, dir: &Path) -> Result<Outcome> {
    start(client, server, addr, spec, dir)?.finish()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Parses a client's JSON report: the receiver's view (`sum_received` for TCP; for UDP the
/// server's own report when it sent one (`--get-server-output`), else the client's `sum`).
pub fn parse(json: &serde_json::Value, spec: Spec) -> Result<Outcome> {
    let end = &json["end"];
    if spec.udp_len.is_none() {
        let r = &end["sum_received"];
        if r.is_null() {
            bail!("iperf3 JSON has no end.sum_received");
        }
        return Ok(Outcome {
            bps: f(&r["bits_per_second"]),
            bytes: u(&r["bytes"]),
            seconds: f(&r["seconds"]),
            retransmits: u(&end["sum_sent"]["retransmits"]),
            ..Outcome::default()
        });
    }
    let server_sum = &json["server_output_json"]["end"]["sum"];
    let sum = if !spec.reverse && !server_sum.is_null() {
        server_sum
    } else {
        &end["sum"]
    };
    if sum.is_null() {
        bail!("iperf3 JSON has no end.sum");
    }
    let (packets, lost) = (u(&sum["packets"]), u(&sum["lost_packets"]));
    let seconds = f(&sum["seconds"]);
    // `bits_per_second` is the sender's rate on some versions: count what arrived instead.
    let received = packets.saturating_sub(lost);
    let len = spec.udp_len.unwrap_or(0) as u64;
    let bytes = received * len;
    Ok(Outcome {
        bps: bytes as f64 * 8.0 / seconds.max(1e-9),
        bytes,
        seconds,
        packets,
        lost,
        ..Outcome::default()
    })
}
