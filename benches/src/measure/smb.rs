//! SMB file transfers: smbd in the VNet host (private smb.conf, every path under the run
//! directory, bound to the host's address only), smbclient in the VPC host.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use interop_tests::error::Context;
use interop_tests::netns::Netns;
use interop_tests::proc::{run_checked, wait_for, Child};
use interop_tests::{bail, Result};

pub const SHARE: &str = "bench";
/// The file served for `get`, in the share directory.
pub const GET_NAME: &str = "download.bin";
/// The name `put` uploads to.
pub const PUT_NAME: &str = "upload.bin";

/// A test file of `bytes` pseudo-random bytes (xorshift: incompressible, fast to make).
pub fn make_file(path: &Path, bytes: u64) -> Result<()> {
    if std::fs::metadata(path)
        .map(|m| m.len() == bytes)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    w.flush()?;
    Ok(())
}

/// A running smbd; stopped by PID on drop.
pub struct SmbServer {
    child: Child,
    pub addr: String,
    pub share_dir: PathBuf,
}

fn smb_conf(dir: &Path, share: &Path, addr: &str) -> String {
    let d = dir.display();
    format!(
        "[global]\n\
         \tworkgroup = BENCH\n\
         \tserver role = standalone server\n\
         \tinterfaces = {addr}/24\n\
         \tbind interfaces only = yes\n\
         \tsmb ports = 445\n\
         \tdisable netbios = yes\n\
         \tmap to guest = Bad User\n\
         \tguest account = root\n\
         \tpid directory = {d}/run\n\
         \tlock directory = {d}/lock\n\
         \tstate directory = {d}/state\n\
         \tcache directory = {d}/cache\n\
         \tprivate dir = {d}/private\n\
         \tncalrpc dir = {d}/ncalrpc\n\
         \tbinddns dir = {d}/binddns\n\
         \tlog file = {d}/log.%m\n\
         \tlog level = 0\n\
         \tload printers = no\n\
         \tprinting = bsd\n\
         \tprintcap name = /dev/null\n\
         \tdisable spoolss = yes\n\
         \tusershare path =\n\
         [{SHARE}]\n\
         \tpath = {share}\n\
         \tread only = no\n\
         \tguest ok = yes\n\
         \tguest only = yes\n\
         \tforce user = root\n",
        share = share.display()
    )
}

/// Starts smbd in `ns` on `addr`, serving `share` (which must hold the files), files in `dir`.
pub fn start_server(ns: &Netns, addr: &str, share: &Path, dir: &Path) -> Result<SmbServer> {
    for sub in [
        "run", "lock", "state", "cache", "private", "ncalrpc", "binddns",
    ] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let conf = dir.join("smb.conf");
    std::fs::write(&conf, smb_conf(dir, share, addr))?;
    // smbd signals its whole process group on exit: its own session keeps us out of it.
    let mut cmd = ns.command("setsid");
    cmd.args([
        "smbd",
        "--foreground",
        "--no-process-group",
        "--debug-stdout",
    ])
    .arg(format!("--configfile={}", conf.display()));
    let mut child = Child::spawn(cmd, "smbd", dir)?;
    wait_for("smbd to listen on 445", Duration::from_secs(20), || {
        !child.is_running()
            || ns
                .run("ss", &["-Hltn", "sport = :445"])
                .map(|o| !o.trim().is_empty())
                .unwrap_or(false)
    })?;
    if !child.is_running() {
        bail!(
            "smbd exited: {}{}",
            child.stdout().trim(),
            child.stderr().trim()
        );
    }
    Ok(SmbServer {
        child,
        addr: addr.to_string(),
        share_dir: share.to_path_buf(),
    })
}

impl SmbServer {
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Runs one smbclient command from `ns`; the Mbit/s of the transfer (smbclient's own
    /// average, else wall time over `bytes`).
    fn transfer(&self, ns: &Netns, command: &str, bytes: u64, timeout: Duration) -> Result<f64> {
        let service = format!("//{}/{SHARE}", self.addr);
        let start = Instant::now();
        let mut cmd = ns.command("timeout");
        cmd.args([&timeout.as_secs().to_string(), "smbclient", &service, "-N"])
            .args(["-m", "SMB3", "-c", command]);
        let out = run_checked(&mut cmd).context(format!("smbclient {command}"))?;
        let wall = start.elapsed().as_secs_f64();
        if let Some(kib_s) = parse_average(&out) {
            return Ok(kib_s * 1024.0 * 8.0 / 1e6);
        }
        if out.contains("NT_STATUS") {
            bail!("smbclient: {}", out.trim());
        }
        Ok(bytes as f64 * 8.0 / 1e6 / wall)
    }

    /// Downloads [`GET_NAME`] (of `bytes` bytes) to /dev/null.
    pub fn get(&self, ns: &Netns, bytes: u64, timeout: Duration) -> Result<f64> {
        self.transfer(ns, &format!("get {GET_NAME} /dev/null"), bytes, timeout)
    }

    /// Uploads `local` (of `bytes` bytes) as [`PUT_NAME`], checks its size, then deletes it.
    pub fn put(&self, ns: &Netns, local: &Path, bytes: u64, timeout: Duration) -> Result<f64> {
        let uploaded = self.share_dir.join(PUT_NAME);
        let _ = std::fs::remove_file(&uploaded);
        let r = self.transfer(
            ns,
            &format!("put {} {PUT_NAME}", local.display()),
            bytes,
            timeout,
        );
        let size = std::fs::metadata(&uploaded).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&uploaded);
        let mbps = r?;
        if size != bytes {
            bail!("uploaded file has {size} bytes, expected {bytes}");
        }
        Ok(mbps)
    }
}

/// `... (average 123456.7 KiloBytes/sec)` from smbclient's output (KiB/s).
pub fn parse_average(out: &str) -> Option<f64> {
    let tail = out.rsplit("(average ").next()?;
    if tail.len() == out.len() {
        return None;
    }
    tail.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smbclient_average() {
        let out = "getting file \\download.bin of size 134217728 as /dev/null \
                   (51234.5 KiloBytes/sec) (average 51234.5 KiloBytes/sec)\n";
        assert_eq!(parse_average(out), Some(51234.5));
        assert_eq!(parse_average("nothing"), None);
    }
}
