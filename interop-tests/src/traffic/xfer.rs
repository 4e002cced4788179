//! SHA-256-checked TCP transfers between namespaces, using the `xfer` helper binary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::Result;
use crate::netns::Netns;
use crate::proc::{wait_for, Child};

/// The `xfer` binary: `$INTEROP_XFER_BIN`, else next to the running executable (or one level up,
/// as for test executables in `target/*/deps`). Tests should prefer `env!("CARGO_BIN_EXE_xfer")`.
pub fn xfer_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("INTEROP_XFER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    for dir in exe.ancestors().skip(1).take(2) {
        let cand = dir.join("xfer");
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!("xfer helper binary not found near {}", exe.display())
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransferResult {
    pub bytes: u64,
    pub sent_sha256: String,
    pub received_bytes: u64,
    pub received_sha256: String,
    pub elapsed: Duration,
}

impl TransferResult {
    /// Every byte arrived unchanged.
    pub fn intact(&self) -> bool {
        self.bytes == self.received_bytes && self.sent_sha256 == self.received_sha256
    }

    pub fn mbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `bytes` pseudo-random bytes (seeded by `seed`) over TCP from `from` to `to_addr:port`,
/// where a receiver runs in `to`. Output and logs go to `dir`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_transfer(
    xfer: &Path,
    from: &Netns,
    to: &Netns,
    to_addr: &str,
    port: u16,
    bytes: u64,
    seed: u64,
    dir: &Path,
    timeout: Duration,
) -> Result<TransferResult> {
    let xfer = xfer.to_string_lossy();
    // `[v6]:port` for IPv6 addresses, `v4:port` otherwise.
    let endpoint = if to_addr.contains(':') {
        format!("[{to_addr}]:{port}")
    } else {
        format!("{to_addr}:{port}")
    };
    let tag = format!("xfer-{}-{port}-{seed}", to.name());
    let mut rcmd = to.command(&xfer);
    rcmd.args(["recv", &endpoint]);
    let mut receiver = Child::spawn(rcmd, &format!("{tag}-recv"), dir)?;
    wait_for(
        "the xfer receiver to listen",
        Duration::from_secs(10),
        || receiver.stdout().contains("listening") || !receiver.is_running(),
    )?;
    if !receiver.is_running() {
        bail!("xfer receiver failed: {}", receiver.stderr().trim());
    }

    let start = Instant::now();
    let mut scmd = from.command(&xfer);
    scmd.args(["send", &endpoint, &bytes.to_string(), &seed.to_string()]);
    let mut sender = Child::spawn(scmd, &format!("{tag}-send"), dir)?;
    sender.wait_success(timeout)?;
    let elapsed = start.elapsed();
    receiver.wait_success(Duration::from_secs(10))?;

    let (sent_bytes, sent_sha256) = parse_line(&sender.stdout(), "sent")?;
    let (received_bytes, received_sha256) = parse_line(&receiver.stdout(), "received")?;
    if sent_bytes != bytes {
        bail!("xfer sent {sent_bytes} bytes, asked for {bytes}");
    }
    Ok(TransferResult {
        bytes,
        sent_sha256,
        received_bytes,
        received_sha256,
        elapsed,
    })
}

/// Finds `<key> bytes=<n> sha256=<hex>` in the helper's output.
fn parse_line(out: &str, key: &str) -> Result<(u64, String)> {
    for line in out.lines() {
        let mut it = line.split_whitespace();
        if it.next() != Some(key) {
            continue;
        }
        let bytes = it
            .next()
            .and_then(|f| f.strip_prefix("bytes=")?.parse().ok());
        let hash = it.next().and_then(|f| f.strip_prefix("sha256="));
        if let (Some(b), Some(h)) = (bytes, hash) {
            return Ok((b, h.to_string()));
        }
    }
    bail!("no '{key} bytes=.. sha256=..' line in xfer output: {out:?}")
}
