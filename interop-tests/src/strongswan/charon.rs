//! One charon daemon in a namespace, with a private /run, controlled over its vici socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::conf::{strongswan_conf, CharonConfig};
use super::sas::SaSummary;
use super::swanconn::swanctl_conf;
use crate::bail;
use crate::error::{Context, Result};
use crate::netns::Netns;
use crate::proc::{run_checked, wait_for, wait_for_some, Child};

pub const CHARON_BIN: &str = "/usr/lib/ipsec/charon";
pub const SWANCTL_BIN: &str = "swanctl";
/// kernel-libipsec's TUN device.
pub const IPSEC_TUN: &str = "ipsec0";

/// A running charon (stopped by PID on drop). Files live in its `dir`: `strongswan.conf`,
/// `swanctl.conf`, `charon.log`, `run/` (its /run: pid file and `charon.vici`).
#[derive(Debug)]
pub struct Charon {
    ns: String,
    dir: PathBuf,
    conf: PathBuf,
    swanctl_conf: PathBuf,
    log: PathBuf,
    uri: String,
    child: Child,
}

impl Charon {
    /// Starts charon in `ns` with its files under `dir` (created), waits for its vici socket and
    /// loads `config.conns`.
    pub fn start(ns: &Netns, dir: &Path, config: &CharonConfig) -> Result<Charon> {
        std::fs::create_dir_all(dir.join("run"))?;
        let dir = dir.canonicalize()?;
        let run = dir.join("run");
        let conf = dir.join("strongswan.conf");
        let log = dir.join("charon.log");
        let swanctl = dir.join("swanctl.conf");
        std::fs::write(&conf, strongswan_conf(config, &run, &log))?;
        std::fs::write(&swanctl, swanctl_conf(&config.conns))?;

        // A private /run: charon hard-codes /var/run/charon.pid. Every step execs, so the PID
        // we hold is charon's own.
        let mut cmd = ns.command("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!("mount --bind \"$1\" /run && exec {CHARON_BIN}"))
            .arg("sh")
            .arg(&run)
            .env("STRONGSWAN_CONF", &conf);
        let child = Child::spawn(cmd, "charon", &dir)?;
        let mut charon = Charon {
            ns: ns.name().to_string(),
            uri: format!("unix://{}", run.join("charon.vici").display()),
            dir,
            conf,
            swanctl_conf: swanctl,
            log,
            child,
        };
        charon
            .wait_ready()
            .context(format!("starting charon in {}", ns.name()))?;
        if !config.conns.is_empty() {
            charon.load_all()?;
        }
        Ok(charon)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let sock = self.dir.join("run/charon.vici");
        let mut exited = None;
        let res = wait_for("charon's vici socket", Duration::from_secs(15), || {
            if let Ok(Some(st)) = self.child.try_wait() {
                exited = Some(st);
                return true;
            }
            sock.exists() && self.swanctl(&["--stats"]).is_ok()
        });
        if let Some(st) = exited {
            bail!(
                "charon exited ({st}): {}{}",
                self.child.stderr().trim(),
                tail(&self.log(), 20)
            );
        }
        res
    }

    /// Runs `swanctl <args> --uri <this daemon>`; its stdout.
    pub fn swanctl(&self, args: &[&str]) -> Result<String> {
        let (cmd, rest) = args.split_first().expect("swanctl needs a command");
        run_checked(
            Command::new(SWANCTL_BIN)
                .arg(cmd)
                .args(["--uri", &self.uri])
                .args(rest)
                .env("STRONGSWAN_CONF", &self.conf),
        )
    }

    /// (Re)loads the connections and secrets from this instance's swanctl.conf.
    pub fn load_all(&self) -> Result<String> {
        let file = self.swanctl_conf.to_string_lossy().into_owned();
        self.swanctl(&["--load-all", "--noprompt", "--file", &file])
            .context("swanctl --load-all")
    }

    /// Replaces swanctl.conf with `conns` and reloads.
    pub fn reload(&self, conns: &[super::SwanConn]) -> Result<String> {
        std::fs::write(&self.swanctl_conf, swanctl_conf(conns))?;
        self.load_all()
    }

    /// `swanctl --initiate --child <child>`: blocks until the CHILD_SA is up or fails.
    pub fn initiate(&self, child: &str, timeout: Duration) -> Result<String> {
        let t = timeout.as_secs().max(1).to_string();
        self.swanctl(&["--initiate", "--child", child, "--timeout", &t])
            .context(format!("initiating {child}"))
    }

    /// `swanctl --list-sas` output.
    pub fn list_sas(&self) -> Result<String> {
        self.swanctl(&["--list-sas"])
    }

    /// Parsed [`Charon::list_sas`].
    pub fn sa_summary(&self) -> Result<SaSummary> {
        self.list_sas().map(|s| SaSummary::parse(&s))
    }

    /// Waits until exactly `ike` IKE SAs (and, if given, exactly `child` CHILD SAs) exist: what
    /// is left once rekeys and DELETEs have settled.
    pub fn wait_exact_sas(
        &self,
        ike: usize,
        child: Option<usize>,
        timeout: Duration,
    ) -> Result<()> {
        let what = match child {
            Some(c) => format!("exactly {ike} IKE / {c} CHILD SAs in {}", self.ns),
            None => format!("exactly {ike} IKE SAs in {}", self.ns),
        };
        wait_for(&what, timeout, || {
            self.sa_summary()
                .map(|s| s.ike_count() == ike && child.is_none_or(|c| s.child_count() == c))
                .unwrap_or(false)
        })
    }

    /// Waits until at least `ike` established IKE SAs and `child` installed CHILD SAs exist.
    pub fn wait_sas(&self, ike: usize, child: usize, timeout: Duration) -> Result<SaSummary> {
        wait_for_some(
            &format!("{ike} IKE / {child} CHILD SAs in {}", self.ns),
            timeout,
            || {
                let s = self.sa_summary().ok()?;
                (s.ike_established() >= ike && s.child_installed() >= child).then_some(s)
            },
        )
    }

    /// `swanctl --terminate --ike <name>` (deletes the IKE SA and its CHILDren).
    pub fn terminate_ike(&self, name: &str, timeout: Duration) -> Result<String> {
        let t = timeout.as_secs().max(1).to_string();
        self.swanctl(&["--terminate", "--ike", name, "--timeout", &t])
    }

    /// `swanctl --rekey --child <name>`.
    pub fn rekey_child(&self, name: &str) -> Result<String> {
        self.swanctl(&["--rekey", "--child", name])
    }

    /// `swanctl --rekey --ike <name>`.
    pub fn rekey_ike(&self, name: &str) -> Result<String> {
        self.swanctl(&["--rekey", "--ike", name])
    }

    /// Routes `prefix` into kernel-libipsec's `ipsec0` in the main table (kernel-libipsec puts
    /// its own routes in table 220, consulted after main here), waiting for the device.
    pub fn route_via_tun(&self, ns: &Netns, prefix: &str) -> Result<()> {
        wait_for(
            &format!("{IPSEC_TUN} in {}", ns.name()),
            Duration::from_secs(10),
            || ns.has_link(IPSEC_TUN),
        )?;
        ns.link_up(IPSEC_TUN)?;
        ns.route_dev(prefix, IPSEC_TUN)
    }

    /// Everything charon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The vici URI (`unix:///…/run/charon.vici`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Stops charon (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// The last `n` lines of `charon`'s log (for error messages).
pub fn log_tail(charon: &Charon, n: usize) -> String {
    tail(&charon.log(), n)
}

/// The last `n` lines of `text`, prefixed with a newline.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    format!("\n{}", lines[from..].join("\n"))
}
