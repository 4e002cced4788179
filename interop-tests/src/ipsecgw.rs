//! Running our own gateway, `ipsecgw`, in a lab namespace: config generation, readiness, status.

use crate::gateway_config::{ipsecgw_toml, GatewayOpts};
use crate::netns::Netns;
use crate::proc::{wait_for_some, Child};
use crate::topology::AzureLab;
use crate::{bail, Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The ipsecgw binary: `$IPSECGW_BIN`, else the release build, else the debug build (in
/// `$CARGO_TARGET_DIR` when set, else the workspace's `target/`).
pub fn ipsecgw_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("IPSECGW_BIN") {
        return Ok(PathBuf::from(p));
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    };
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("ipsecgw");
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("no ipsecgw binary: run `cargo build --release -p gateway` (or set IPSECGW_BIN)")
}

/// A running `ipsecgw run` in a namespace; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Ipsecgw {
    pub child: Child,
    pub socket: PathBuf,
    pub config_path: PathBuf,
    bin: PathBuf,
}

impl Ipsecgw {
    /// Writes `opts`' config for `lab` into `dir` and starts the daemon in `ns` (normally
    /// `lab.gw`); returns once its control socket answers.
    pub fn start_in_lab(
        lab: &AzureLab,
        ns: &Netns,
        dir: &Path,
        opts: &GatewayOpts,
    ) -> Result<Ipsecgw> {
        Self::start_with_config(ns, dir, &ipsecgw_toml(lab, opts), &opts.control_socket)
    }

    /// Starts the daemon in `ns` with the given TOML text.
    pub fn start_with_config(ns: &Netns, dir: &Path, toml: &str, socket: &Path) -> Result<Ipsecgw> {
        let bin = ipsecgw_bin()?;
        let config_path = dir.join("ipsecgw.toml");
        std::fs::write(&config_path, toml)?;
        let mut cmd = ns.command(&bin.to_string_lossy());
        cmd.args(["run", "--config", &config_path.to_string_lossy()]);
        let child = Child::spawn(cmd, "ipsecgw", dir)?;
        let mut gw = Ipsecgw {
            child,
            socket: socket.to_path_buf(),
            config_path,
            bin,
        };
        let ready = wait_for_some("ipsecgw control socket", Duration::from_secs(10), || {
            if !gw.child.is_running() {
                return Some(false);
            }
            gw.status_json().ok().map(|_| true)
        })?;
        if !ready {
            bail!("ipsecgw exited at start: {}", gw.child.stderr());
        }
        Ok(gw)
    }

    fn ctl(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "ipsecgw {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ipsecgw status` (text).
    pub fn status_text(&self) -> Result<String> {
        self.ctl(&["status"])
    }

    /// `ipsecgw status --json`, parsed.
    pub fn status_json(&self) -> Result<serde_json::Value> {
        let s = self.ctl(&["status", "--json"])?;
        serde_json::from_str(&s).map_err(|e| Error::new(format!("status JSON: {e}: {s}")))
    }

    pub fn initiate(&self, name: &str) -> Result<String> {
        self.ctl(&["initiate", name])
    }

    /// `ipsecgw reload`: Ok(message) or Err(the daemon's error text).
    pub fn reload(&self) -> Result<String> {
        self.ctl(&["reload"])
    }

    /// The config file the daemon was started with (rewrite it, then [`Ipsecgw::reload`]).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn terminate(&self, name: &str) -> Result<String> {
        self.ctl(&["terminate", name])
    }

    /// The state of tunnel `name` (`established`, `connecting`, ...).
    pub fn tunnel_state(&self, name: &str) -> Result<String> {
        let v = self.status_json()?;
        let tunnels = v
            .pointer("/tunnels")
            .and_then(|t| t.as_array())
            .ok_or_else(|| Error::new(format!("status has no tunnels: {v}")))?;
        for t in tunnels {
            if t.get("name").and_then(|n| n.as_str()) == Some(name) {
                return Ok(t
                    .get("state")
                    .and_then(|s| s.as_str())
                    .unwrap_or("")
                    .to_string());
            }
        }
        bail!("no tunnel {name} in status")
    }

    /// Waits until tunnel `name` is established; the error carries the last status and log tail.
    pub fn wait_established(&mut self, name: &str, timeout: Duration) -> Result<()> {
        let r = wait_for_some("ipsecgw tunnel established", timeout, || {
            if !self.child.is_running() {
                return Some(false);
            }
            match self.tunnel_state(name) {
                Ok(s) if s == "established" => Some(true),
                _ => None,
            }
        });
        match r {
            Ok(true) => Ok(()),
            Ok(false) => bail!("ipsecgw exited: {}", tail(&self.child.stderr(), 40)),
            Err(e) => bail!(
                "{e}; status: {}; log tail:\n{}",
                self.status_text().unwrap_or_default(),
                tail(&self.child.stderr(), 40)
            ),
        }
    }

    /// The daemon's log (stderr).
    pub fn log(&self) -> String {
        self.child.stderr()
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
