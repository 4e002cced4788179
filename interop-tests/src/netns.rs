//! Network namespaces (created with unique names, deleted on drop) and the `ip`/`sysctl` helpers
//! used to wire them up.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::cleanup::NETNS_PREFIX;
use crate::error::{Context, Result};
use crate::proc::run_checked;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace `itst<pid>-<n>-<role>`. Dropping it kills every process still inside it
/// and deletes it.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with a unique name ending in `role`, with `lo` up.
    pub fn create(role: &str) -> Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}-{n}-{role}", std::process::id());
        run_checked(Command::new("ip").args(["netns", "add", &name]))
            .context(format!("creating namespace {name}"))?;
        crate::cleanup::register_netns(&name);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec <ns> <program>`: add arguments, then spawn or run it.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `program args` inside the namespace to completion; its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        run_checked(self.command(program).args(args))
    }

    /// `ip -n <ns> args...`; its stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        run_checked(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Adds `cidr` (e.g. `10.0.1.1/24`) to `dev` and sets it up.
    pub fn add_addr(&self, dev: &str, cidr: &str) -> Result<()> {
        self.ip(&["addr", "add", cidr, "dev", dev])?;
        self.link_up(dev)
    }

    pub fn link_up(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "up"]).map(drop)
    }

    /// `ip route replace <dest> via <gw>` (`dest` may be `default`).
    pub fn route_via(&self, dest: &str, gw: &str) -> Result<()> {
        self.ip(&["route", "replace", dest, "via", gw]).map(drop)
    }

    /// `ip route replace <dest> dev <dev>`.
    pub fn route_dev(&self, dest: &str, dev: &str) -> Result<()> {
        self.ip(&["route", "replace", dest, "dev", dev]).map(drop)
    }

    /// True if `dev` exists in the namespace.
    pub fn has_link(&self, dev: &str) -> bool {
        self.ip(&["link", "show", "dev", dev]).is_ok()
    }

    /// `sysctl -w key=value` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.run("sysctl", &["-qw", &format!("{key}={value}")])
            .map(drop)
    }

    /// Turns on IPv4 forwarding.
    pub fn enable_forwarding(&self) -> Result<()> {
        self.sysctl("net.ipv4.ip_forward", "1")?;
        self.sysctl("net.ipv6.conf.all.forwarding", "1")
    }

    /// PIDs of the processes running inside the namespace.
    pub fn pids(&self) -> Vec<u32> {
        netns_pids(&self.name)
    }

    /// UDP datagrams the namespace's kernel dropped because a socket's receive buffer was
    /// full (`Udp: RcvbufErrors` of /proc/net/snmp, which is per namespace).
    pub fn udp_rcvbuf_errors(&self) -> Result<u64> {
        let snmp = self.run("cat", &["/proc/net/snmp"])?;
        snmp_field(&snmp, "Udp:", "RcvbufErrors")
            .ok_or_else(|| crate::error::Error::new("no Udp RcvbufErrors in /proc/net/snmp"))
    }
}

/// A counter of /proc/net/snmp: the `prefix` lines come in pairs, names then values.
fn snmp_field(snmp: &str, prefix: &str, name: &str) -> Option<u64> {
    let mut lines = snmp.lines().filter(|l| l.starts_with(prefix));
    let names = lines.next()?.split_whitespace();
    let values = lines.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_netns(&self.name);
        crate::cleanup::unregister_netns(&self.name);
    }
}

/// Creates a veth pair directly across two namespaces: `a_if` in `a`, `b_if` in `b`, both up.
pub fn veth_pair(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ])
    .context(format!("veth {}:{a_if} <-> {}:{b_if}", a.name, b.name))?;
    a.link_up(a_if)?;
    b.link_up(b_if)
}

fn netns_pids(name: &str) -> Vec<u32> {
    run_checked(Command::new("ip").args(["netns", "pids", name]))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills (SIGKILL) whatever runs in namespace `name`, then deletes it. Errors are ignored.
pub(crate) fn delete_netns(name: &str) {
    for pid in netns_pids(name) {
        // SAFETY: plain syscall; the process lives in a namespace this harness created.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Names of all namespaces known to `ip netns`.
pub(crate) fn list_netns() -> Vec<String> {
    run_checked(Command::new("ip").args(["netns", "list"]))
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod snmp_tests {
    #[test]
    fn reads_a_counter_of_proc_net_snmp() {
        let text = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    Udp: 749715 0 2493 120000 2493 0\n\
                    UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    UdpLite: 0 0 0 0 7 0\n";
        assert_eq!(super::snmp_field(text, "Udp:", "RcvbufErrors"), Some(2493));
        assert_eq!(super::snmp_field(text, "UdpLite:", "RcvbufErrors"), Some(7));
        assert_eq!(super::snmp_field(text, "Udp:", "Nope"), None);
    }
}
