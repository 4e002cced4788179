//! Configuration: a TOML file nested like strongSwan's swanctl.conf, validated into a typed,
//! resolved [`Config`]. Every problem is reported at once ([`ConfigErrors`]), each naming the
//! key path, the bad value (never a secret) and the fix.
//!
//! ```toml
//! [connections.azure]
//! remote_addrs = ["203.0.113.20"]
//! local_id = "198.51.100.10"
//! psk_file = "/etc/ipsecgw/azure.psk"
//! profile = "azure-default"
//! [connections.azure.children.vnet]
//! local_ts = ["10.0.0.0/16"]
//! remote_ts = ["10.1.0.0/16"]
//! ```

pub mod duration;
mod error;
mod identity;
mod prefix;
mod profile;
mod raw;
mod render;
mod secret;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use identity::Identity;
pub use prefix::Prefix;
pub use profile::profile_names;
pub use secret::Psk;

use ikev2::proposal::{EspProposalSpec, IkeProposalSpec};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the control socket lives unless `[daemon] control_socket` says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/ipsecgw/control.sock";

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub daemon: DaemonConfig,
    /// In file order.
    pub connections: Vec<Connection>,
    /// Non-fatal findings (e.g. a world-readable psk_file); print them at startup.
    pub warnings: Vec<String>,
}

/// `[daemon]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    pub control_socket: PathBuf,
    /// Prometheus `/metrics` listener; `None` = no HTTP listener (the default).
    pub metrics_listen: Option<SocketAddr>,
    /// A tracing filter directive (`info`, `debug`, `gateway=debug,info`, ...).
    pub log_level: String,
    /// CoDel on the inbound UDP 4500 queue (`aqm_target`, `aqm_interval`); `None` when
    /// `aqm_target = "0s"` turns it off.
    pub aqm: Option<crate::dataplane::codel::CodelParams>,
    /// Queues of each tunnel's multi-queue TUN device, one outbound worker each
    /// (`tun_queues`); `None` = [`DaemonConfig::default_tun_queues`] of this machine.
    pub tun_queues: Option<usize>,
    /// How long an inbound worker stays awake for the answer to a request that just left on
    /// a latency queue (`reply_spin`; zero = always sleep). See `io::reply_watch`.
    pub reply_spin: Duration,
    /// `SCHED_FIFO` priority of the fast-path workers while the gateway is loaded
    /// (`realtime_priority`, default 10; 0 = they stay at `SCHED_OTHER`). See
    /// `platform::realtime`.
    pub realtime_priority: u8,
    /// Whether the file sets `realtime_priority`: the kernel refusing a priority the
    /// operator asked for is a warning, refusing the default an info line.
    pub realtime_priority_set: bool,
    /// The AES-GCM implementation of the ESP SAs (`aead_backend`): `None` = `"auto"`, the
    /// faster of ring and aws-lc-rs as measured on this CPU at start. See
    /// `platform::aead_backend`.
    pub aead_backend: Option<esp::GcmBackend>,
}

/// The default `reply_spin`: a round trip through both gateways on one machine takes
/// 0.1-0.3 ms; a real cross-cloud round trip is longer, and the worker then sleeps as before.
pub const DEFAULT_REPLY_SPIN: Duration = Duration::from_micros(250);
/// The longest `reply_spin`: beyond this a chatty tunnel keeps a vCPU busy for little gain.
pub const MAX_REPLY_SPIN: Duration = Duration::from_millis(5);

/// Most TUN queues (outbound workers) per tunnel.
pub const MAX_TUN_QUEUES: usize = 16;

impl DaemonConfig {
    /// The latency queue (see `dataplane::flow_queue`) plus one bulk queue per two vCPUs,
    /// 1 to 8 of them: the other vCPUs decrypt (one inbound worker per local address) and
    /// run the kernel's UDP and TUN work. A 2-vCPU instance gets 2 queues: measured there,
    /// pings under a saturating TCP stream took 0.6-0.8 / 2.8-4.1 ms (p50 / p99) instead of
    /// 1.8-2.5 / 6.8-7.3 ms with one queue, at the same throughput.
    pub fn default_tun_queues(vcpus: usize) -> usize {
        1 + (vcpus / 2).clamp(1, 8)
    }

    /// Whether the daemon would run differently with `new`: what a reload must report as
    /// waiting for a restart. Writing out a default (`realtime_priority = 10`) changes
    /// nothing but the level of a refusal's log line, so it does not count.
    pub fn runs_differently(&self, new: &DaemonConfig) -> bool {
        let mut old = self.clone();
        old.realtime_priority_set = new.realtime_priority_set;
        old != *new
    }

    /// The number of TUN queues to open on this machine.
    pub fn tun_queues_here(&self) -> usize {
        self.tun_queues.unwrap_or_else(|| {
            Self::default_tun_queues(std::thread::available_parallelism().map_or(1, |n| n.get()))
        })
    }
}

/// Who starts the IKE SA (Azure's "connection mode").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Initiate and respond (Azure "Default").
    Both,
    /// Only initiate; ignore the peer's IKE_SA_INIT (Azure "ResponderOnly" on its side).
    Initiator,
    /// Only respond (Azure "InitiatorOnly" on its side).
    Responder,
}

/// What to do with the connection at startup (swanctl `start_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAction {
    /// Initiate at startup.
    Start,
    /// Wait for the peer (or `ipsecgw initiate`): strongSwan's and AWS's `add` (`none` is
    /// accepted as an alias).
    Add,
}

/// What to do when dead peer detection declares the peer dead (swanctl `dpd_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpdAction {
    /// Delete the SAs and stay down.
    Clear,
    /// Delete the SAs and initiate again.
    Restart,
    /// AWS's "take no action": the connection keeps its config and routes (traffic to the
    /// remote prefixes is dropped at the tunnel, never leaked), the dead SAs are gone (status
    /// shows the tunnel down) and nothing is re-initiated; the peer may initiate again.
    None,
}

/// TCP MSS clamping on the tunnel device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MssClamp {
    /// Derived from the MTU: MTU - 40 for IPv4, MTU - 60 for IPv6.
    Auto,
    /// This MSS for IPv4 (IPv6 gets 20 less).
    Fixed(u16),
    Off,
}

/// IKE retransmission schedule: timeout * base^n for n in 0..tries (strongSwan's formula).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retransmit {
    pub timeout: Duration,
    pub base: f64,
    pub tries: u32,
}

impl Retransmit {
    /// The delay before retransmission `n` (0 = first send) and the total time before giving up.
    pub fn delay(&self, n: u32) -> Duration {
        self.timeout.mul_f64(self.base.powi(n as i32))
    }
    /// Time from the first send until the exchange is declared failed.
    pub fn give_up_after(&self) -> Duration {
        (0..=self.tries).map(|n| self.delay(n)).sum()
    }
}

/// IKE SA lifetime (swanctl semantics): rekey after `rekey_time` minus a random part of up to
/// `rand_time`; hard expiry at `rekey_time + over_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub rekey_time: Duration,
    pub over_time: Duration,
    pub rand_time: Duration,
}

/// `[connections.NAME]`: one IKE SA to one peer.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub name: String,
    /// The peer (Azure VPN Gateway public IP). At least one; the first is used.
    pub remote_addrs: Vec<IpAddr>,
    /// Addresses we bind; empty = any (and empty while `local_addrs_auto` is unresolved).
    pub local_addrs: Vec<IpAddr>,
    /// `local_addrs = ["auto"]`: bind the instance's private IPv4 from the EC2 metadata service.
    /// The daemon resolves it with `platform::imds::resolve_config` before binding.
    pub local_addrs_auto: bool,
    /// `0.0.0.0` (a placeholder) while `local_id_auto` is unresolved.
    pub local_id: Identity,
    /// `local_id = "auto"`: identify as the instance's public IPv4 (Elastic IP) from the EC2
    /// metadata service. The daemon resolves it with `platform::imds::resolve_config`.
    pub local_id_auto: bool,
    pub remote_id: Identity,
    pub psk: Psk,
    /// The preset the proposals came from, if they did.
    pub profile: Option<String>,
    /// IKE proposals, our order of preference.
    pub proposals: Vec<IkeProposalSpec>,
    pub mode: Mode,
    pub start_action: StartAction,
    /// Force UDP encapsulation of ESP even without NAT (swanctl `encap`).
    pub encap: bool,
    pub lifetime: Lifetime,
    /// Zero = no DPD (only retransmission detects a dead peer).
    pub dpd_delay: Duration,
    /// How long a rekeyed-away inbound CHILD_SA keeps decrypting after its DELETE (RFC 7296
    /// 2.8 make-before-break): packets the peer sent just before switching still arrive.
    pub rekey_grace: Duration,
    /// Several connections reaching the same remote prefixes (Azure active-active): their
    /// group name, how traffic spreads over the group's up tunnels, and this tunnel's rank
    /// for active-standby (lower is preferred).
    pub ha_group: Option<String>,
    pub ha_mode: crate::daemon::ha::HaMode,
    pub ha_priority: u32,
    pub dpd_timeout: Duration,
    pub dpd_action: DpdAction,
    pub retransmit: Retransmit,
    /// Tunnel (TUN) MTU.
    pub mtu: u16,
    pub mss_clamp: MssClamp,
    pub tun_name: String,
    /// In file order; at least one.
    pub children: Vec<Child>,
}

impl Connection {
    /// The MSS to clamp IPv4 TCP SYNs to, if clamping is on.
    pub fn mss_ipv4(&self) -> Option<u16> {
        match self.mss_clamp {
            MssClamp::Auto => Some(self.mtu - 40),
            MssClamp::Fixed(m) => Some(m),
            MssClamp::Off => None,
        }
    }
    /// The MSS to clamp IPv6 TCP SYNs to, if clamping is on.
    pub fn mss_ipv6(&self) -> Option<u16> {
        self.mss_ipv4().map(|m| m.saturating_sub(20))
    }
}

/// CHILD_SA lifetime: rekey after `rekey_time` (less up to `rand_time`), expire at `life_time`,
/// or after `life_bytes` / `life_packets` when set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildLifetime {
    pub rekey_time: Duration,
    pub life_time: Duration,
    pub rand_time: Duration,
    pub life_bytes: Option<u64>,
    pub life_packets: Option<u64>,
}

/// `[connections.NAME.children.CHILD]`: one CHILD_SA (tunnel mode).
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    pub name: String,
    pub local_ts: Vec<Prefix>,
    pub remote_ts: Vec<Prefix>,
    pub esp_proposals: Vec<EspProposalSpec>,
    pub lifetime: ChildLifetime,
    /// Anti-replay window in packets (0 = replay protection off).
    pub replay_window: u32,
}

/// Reads and validates a configuration file. Relative `psk_file` paths are taken relative to
/// the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let mut text = std::fs::read_to_string(path).map_err(|e| {
        let mut errs = ConfigErrors::default();
        errs.push("", format!("cannot read {}: {e}", path.display()));
        errs
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let result = parse(&text, base);
    zeroize::Zeroize::zeroize(&mut text);
    result
}

/// Validates configuration text; `base_dir` resolves relative `psk_file` paths.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    validate::config(text, base_dir)
}
