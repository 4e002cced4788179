//! What wireguard-go and boringtun share: both are userspace WireGuard daemons configured over
//! the UAPI socket in `/var/run/wireguard` with `wg` from wireguard-tools. Each side runs in a
//! private mount namespace whose /run is a directory of its own, so both can be called `wg0`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use interop_tests::error::Context;
use interop_tests::netns::Netns;
use interop_tests::proc::{run_checked, wait_for, Child};
use interop_tests::topology::{AzureLab, VNET_PREFIX, VPC_PREFIX};
use interop_tests::{bail, Result};

use super::{Tunnel, TUNNEL_MTU};

pub const IFNAME: &str = "wg0";
pub const PORT: u16 = 51820;

/// How to start one userspace WireGuard daemon in the foreground.
pub struct WgImpl {
    pub name: &'static str,
    pub program: PathBuf,
    /// Arguments before the interface name.
    pub args: Vec<String>,
    pub env: Vec<(&'static str, &'static str)>,
    pub describe: String,
}

/// Both ends (gw first: it is stopped first).
pub struct WgPair {
    gw: Child,
    azure: Child,
    describe: String,
}

impl Tunnel for WgPair {
    fn pids(&self) -> Vec<u32> {
        vec![self.gw.pid(), self.azure.pid()]
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

fn genkey() -> Result<(String, String)> {
    let private = run_checked(Command::new("wg").arg("genkey"))?
        .trim()
        .to_string();
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("wg pubkey")?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(private.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("wg pubkey failed");
    }
    Ok((
        private,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

/// `sh -c` prelude that gives the command a private /run (first argument) and execs the rest.
const PRIVATE_RUN: &str = "mount --bind \"$1\" /run && shift && exec \"$@\"";

fn in_private_run(ns: &Netns, run: &Path) -> Command {
    let mut c = ns.command("unshare");
    c.args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        PRIVATE_RUN,
        "sh",
    ])
    .arg(run);
    c
}

/// Starts the daemon in `ns`, configures it as `conf` and routes `remote` into it.
fn start_side(ns: &Netns, dir: &Path, imp: &WgImpl, conf: &str, remote: &str) -> Result<Child> {
    let run = dir.join("run");
    std::fs::create_dir_all(&run)?;
    let mut cmd = in_private_run(ns, &run);
    cmd.arg(&imp.program).args(&imp.args).arg(IFNAME);
    for (k, v) in &imp.env {
        cmd.env(k, v);
    }
    let mut child = Child::spawn(cmd, imp.name, dir)?;
    let sock = run.join(format!("wireguard/{IFNAME}.sock"));
    let mut exited = false;
    wait_for(
        &format!("{} UAPI socket in {}", imp.name, ns.name()),
        Duration::from_secs(10),
        || {
            exited = !child.is_running();
            exited || sock.exists()
        },
    )?;
    if exited {
        bail!(
            "{} exited at start: {}{}",
            imp.name,
            child.stdout().trim(),
            child.stderr().trim()
        );
    }
    let conf_path = dir.join("wg.conf");
    std::fs::write(&conf_path, conf)?;
    let mut setconf = in_private_run(ns, &run);
    setconf.args(["wg", "setconf", IFNAME]).arg(&conf_path);
    run_checked(&mut setconf).context(format!("wg setconf in {}", ns.name()))?;
    ns.ip(&["link", "set", IFNAME, "mtu", &TUNNEL_MTU.to_string()])?;
    ns.link_up(IFNAME)?;
    ns.route_dev(remote, IFNAME)?;
    Ok(child)
}

/// WireGuard between `gw` (initiator, sends to Azure's public address) and `azure` (which sends
/// to the EIP; the NAT box maps it to the gateway's private address).
pub fn start(lab: &AzureLab, imp: &WgImpl) -> Result<WgPair> {
    if !imp.program.is_file() && which(&imp.program).is_none() {
        bail!("{} not found ({})", imp.name, imp.program.display());
    }
    let (gw_priv, gw_pub) = genkey()?;
    let (az_priv, az_pub) = genkey()?;
    let azure_conf = format!(
        "[Interface]\nPrivateKey = {az_priv}\nListenPort = {PORT}\n\n\
         [Peer]\nPublicKey = {gw_pub}\nEndpoint = {}:{PORT}\nAllowedIPs = {VPC_PREFIX}\n",
        lab.gw_public_addr()
    );
    let gw_conf = format!(
        "[Interface]\nPrivateKey = {gw_priv}\nListenPort = {PORT}\n\n\
         [Peer]\nPublicKey = {az_pub}\nEndpoint = {}:{PORT}\nAllowedIPs = {VNET_PREFIX}\n\
         PersistentKeepalive = 25\n",
        lab.azure_public_addr()
    );
    let azure = start_side(
        &lab.azure,
        &lab.dir.subdir("azure")?,
        imp,
        &azure_conf,
        VPC_PREFIX,
    )?;
    let gw = start_side(&lab.gw, &lab.dir.subdir("gw")?, imp, &gw_conf, VNET_PREFIX)?;
    Ok(WgPair {
        gw,
        azure,
        describe: imp.describe.clone(),
    })
}

/// `program` looked up on `$PATH` when it is a bare name.
pub fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|c| c.is_file())
    })
}
