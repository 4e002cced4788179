//! Hostile-traffic helpers for the AzureLab: an `attacker` namespace on the internet side of
//! the `nat` box, the spoofed-source flooder (`src/bin/flood.rs`) launched inside it, and a
//! memory sampler for the gateway process.
//!
//! ```text
//!  attacker 192.0.2.66 --eth0--att0-- nat (192.0.2.1) --gw0-- gw (EIP 198.51.100.10)
//! ```
//! Spoofed sources come from 198.51.100.0/24 and 203.0.113.0/24 (plus the real peer's address).
//! Replies never leave the lab: `nat` has no default route, 198.51.100.0/24 is blackholed there
//! (the EIP is DNATed before routing, so the tunnel is unaffected), and 203.0.113.0/24 is the
//! `az0` segment where nothing but the Azure stand-in answers ARP. Everything lives in
//! namespaces the lab deletes on drop.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Context, Result};
use crate::netns::{veth_pair, Netns};
use crate::proc::Child;
use crate::topology::AzureLab;

/// The attacker's address and the nat box's address on the attacker link (TEST-NET-1).
pub const ATTACKER_ADDR: &str = "192.0.2.66";
pub const NAT_ATTACKER_SIDE: &str = "192.0.2.1";
/// Source ranges the flooder spoofs.
pub const SPOOF_NETS: &[&str] = &["198.51.100.0/24", "203.0.113.0/24"];

/// The attacker namespace, wired into `lab.nat`. Drop it before the lab.
#[derive(Debug)]
pub struct Attacker {
    pub ns: Netns,
}

impl Attacker {
    /// Creates `attacker`, links it to `nat`, and makes sure replies to spoofed sources die in
    /// `nat`.
    pub fn attach(lab: &AzureLab) -> Result<Attacker> {
        let ns = Netns::create("attacker")?;
        veth_pair(&lab.nat, "att0", &ns, "eth0")?;
        ns.add_addr("eth0", &format!("{ATTACKER_ADDR}/24"))?;
        ns.route_via("default", NAT_ATTACKER_SIDE)?;
        lab.nat
            .add_addr("att0", &format!("{NAT_ATTACKER_SIDE}/24"))?;
        // Spoofed sources arrive on att0: no reverse-path filtering on the internet router.
        for dev in ["all", "default", "att0"] {
            lab.nat
                .sysctl(&format!("net.ipv4.conf.{dev}.rp_filter"), "0")?;
        }
        if lab.opts.nat {
            lab.nat
                .ip(&["route", "add", "blackhole", "198.51.100.0/24"])
                .context("blackholing replies to spoofed 198.51.100.0/24")?;
        }
        Ok(Attacker { ns })
    }

    /// Starts the flooder in the attacker namespace (see src/bin/flood.rs for `args`).
    pub fn flood(&self, flood_bin: &Path, dir: &Path, args: &[String]) -> Result<Child> {
        let mut cmd = self.ns.command(&flood_bin.to_string_lossy());
        cmd.args(args);
        Child::spawn(cmd, "flood", dir)
    }
}

/// The flooder's summary line.
pub fn parse_flood_summary(stdout: &str) -> Option<serde_json::Value> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
}

/// Fields of `/proc/PID/status` given in KiB, in the order named.
fn status_kib<const N: usize>(pid: u32, names: [&str; N]) -> Option<[u64; N]> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut out = [0u64; N];
    for (v, name) in out.iter_mut().zip(names) {
        *v = s
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())?;
    }
    Some(out)
}

/// VmRSS and VmHWM of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    status_kib(pid, ["VmRSS:", "VmHWM:"]).map(|[rss, hwm]| (rss, hwm))
}

/// RssAnon and RssFile of a process in KiB: heap and buffers versus mapped code (a growth of
/// the first is the daemon's memory; the second only pages of its binary faulted in).
pub fn rss_split_kib(pid: u32) -> Option<(u64, u64)> {
    status_kib(pid, ["RssAnon:", "RssFile:"]).map(|[anon, file]| (anon, file))
}

/// Samples a process's RSS every `every` until stopped; returns the samples (KiB).
pub struct MemSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<u64>>>,
}

impl MemSampler {
    pub fn start(pid: u32, every: Duration) -> MemSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut v = vec![];
            while !s.load(Ordering::Relaxed) {
                if let Some((rss, _)) = rss_kib(pid) {
                    v.push(rss);
                }
                std::thread::sleep(every);
            }
            v
        });
        MemSampler {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for MemSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Percentile (0..=100) of `v` (sorted copy; None if empty).
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s.get(i.min(s.len() - 1)).copied()
}

/// A namespace's interface counters as `ip -s -j link` gives them (`/sys` is per-namespace
/// only via `ip`).
fn link_stats64(ns: &Netns, dev: &str) -> Option<serde_json::Value> {
    let out = Command::new("ip")
        .args(["-n", ns.name(), "-s", "-j", "link", "show", "dev", dev])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.pointer("/0/stats64").cloned()
}

/// Packets a namespace's interface received and sent.
pub fn link_packets(ns: &Netns, dev: &str) -> Option<(u64, u64)> {
    let st = link_stats64(ns, dev)?;
    Some((
        st.pointer("/rx/packets")?.as_u64()?,
        st.pointer("/tx/packets")?.as_u64()?,
    ))
}

/// Packets and bytes a namespace's interface received (for a TUN: what the daemon wrote).
pub fn link_rx(ns: &Netns, dev: &str) -> Option<(u64, u64)> {
    let st = link_stats64(ns, dev)?;
    Some((
        st.pointer("/rx/packets")?.as_u64()?,
        st.pointer("/rx/bytes")?.as_u64()?,
    ))
}

/// User + system CPU time of a process (from /proc/<pid>/stat), in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// UDP counters of a namespace (/proc/net/snmp): (InDatagrams, NoPorts, InErrors,
/// RcvbufErrors).
pub fn udp_counters(ns: &Netns) -> Option<(u64, u64, u64, u64)> {
    let out = ns.run("cat", &["/proc/net/snmp"]).ok()?;
    let mut udp = out.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let vals: Vec<&str> = udp.next()?.split_whitespace().collect();
    let get = |n: &str| -> Option<u64> {
        let i = names.iter().position(|x| *x == n)?;
        vals.get(i)?.parse().ok()
    };
    Some((
        get("InDatagrams")?,
        get("NoPorts")?,
        get("InErrors")?,
        get("RcvbufErrors")?,
    ))
}
