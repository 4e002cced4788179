//! Control-socket messages. JSON, one object per line, e.g.
//! `{"request":"initiate","name":"azure"}` -> `{"response":"ok","message":"initiating azure"}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What a client asks the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The state of the daemon and every tunnel.
    Status,
    /// Bring a connection up now.
    Initiate { name: String },
    /// Take a connection down (delete its SAs; it stays down until initiated or reloaded).
    Terminate { name: String },
    /// Re-read the configuration file and apply it.
    Reload,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    Ok { message: String },
    Status(StatusSnapshot),
    Error { message: String },
}

/// Everything `ipsecgw status` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    pub daemon: DaemonInfo,
    pub tunnels: Vec<TunnelStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub version: String,
    pub uptime_secs: u64,
    /// e.g. "tun offload + udp gso/gro" or "batched, no offload".
    pub fast_path: String,
    /// `[daemon] reply_spin` in microseconds (0: inbound workers always sleep).
    #[serde(default)]
    pub reply_spin_us: u64,
    /// Times a latency-queue send woke a sleeping inbound worker to wait for the answer.
    #[serde(default)]
    pub reply_nudges: u64,
    /// Waits that ended with a datagram arriving while the inbound worker stayed awake.
    #[serde(default)]
    pub replies_caught_awake: u64,
    /// How the fast-path workers are scheduled (`[daemon] realtime_priority`).
    #[serde(default)]
    pub workers: WorkerScheduling,
    /// The AES-GCM implementation of the ESP SAs and why (`[daemon] aead_backend`), e.g.
    /// "aws-lc-rs (measured here: ring 612 ns, aws-lc-rs 487 ns per 1400-byte seal + open)".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aes_gcm: String,
}

/// The fast-path workers' scheduling (see `platform::realtime`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerScheduling {
    /// The configured `SCHED_FIFO` priority (0: `SCHED_OTHER` by configuration).
    pub realtime_priority: u8,
    /// Why the kernel refused `SCHED_FIFO` (e.g. "Operation not permitted"), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Workers at `SCHED_FIFO` now.
    pub fifo_workers: usize,
    /// Times a worker busy for a whole window dropped back to `SCHED_OTHER`.
    pub dropped_to_normal: u64,
    /// Times a loaded worker dropped back to `SCHED_OTHER` for a second because its wake-ups
    /// brought small batches (a datagram flood).
    #[serde(default)]
    pub small_batch_drops: u64,
}

/// The state of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelState {
    /// No IKE SA and none being set up.
    #[default]
    Down,
    /// Waiting for the peer to initiate (start_action = add / mode = responder).
    Waiting,
    /// IKE_SA_INIT / IKE_AUTH in progress.
    Connecting,
    /// IKE SA and CHILD_SAs up.
    Established,
    /// Established, with an IKE or CHILD_SA rekey in progress.
    Rekeying,
    /// Deleting SAs.
    Closing,
}

impl TunnelState {
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelState::Down => "down",
            TunnelState::Waiting => "waiting",
            TunnelState::Connecting => "connecting",
            TunnelState::Established => "established",
            TunnelState::Rekeying => "rekeying",
            TunnelState::Closing => "closing",
        }
    }
    /// Whether traffic can flow (for the `ipsecgw_tunnel_up` metric).
    pub fn is_up(self) -> bool {
        matches!(self, TunnelState::Established | TunnelState::Rekeying)
    }
}

impl fmt::Display for TunnelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One connection (one IKE SA to one peer, with its CHILD_SAs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TunnelStatus {
    pub name: String,
    pub state: TunnelState,
    /// Our address and port as bound (e.g. "172.31.5.10:4500").
    pub local_addr: Option<String>,
    /// The peer's address and port (e.g. "203.0.113.20:4500").
    pub remote_addr: Option<String>,
    pub local_id: Option<String>,
    pub remote_id: Option<String>,
    /// We are behind a NAT (our NAT_DETECTION_SOURCE_IP did not match).
    pub nat_local: bool,
    /// The peer is behind a NAT.
    pub nat_remote: bool,
    pub ike_sa: Option<IkeSaStatus>,
    pub child_sas: Vec<ChildSaStatus>,
    /// Totals over the tunnel's lifetime (across rekeys), for metrics.
    pub traffic: TrafficTotals,
    /// Dropped packets by reason (e.g. "replay", "auth_failed", "no_sa", "ttl").
    pub drops: BTreeMap<String, u64>,
    pub ike_rekeys: u64,
    pub child_rekeys: u64,
    pub dpd_failures: u64,
    /// IKE requests sent again for want of a response (RFC 7296 2.1).
    #[serde(default)]
    pub ike_retransmits: u64,
    /// Latency-queue packets (e.g. echo replies) an inbound worker sent right after writing
    /// the packet they answer, without waking the queue's outbound worker.
    #[serde(default)]
    pub answers_sent_inline: u64,
    /// Bulk-queue packets (the ACKs of streams arriving through the tunnel) an inbound worker
    /// sent right after the write that produced them, and the times a bulk queue's outbound
    /// worker parked to let it.
    #[serde(default)]
    pub bulk_sent_inline: u64,
    #[serde(default)]
    pub bulk_parks: u64,
    pub last_error: Option<String>,
    /// What the peer offered when negotiation failed (NO_PROPOSAL_CHOSEN), strongSwan names.
    pub peer_proposals: Option<String>,
}

/// Cumulative traffic counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTotals {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    /// Inbound packets the AQM marked ECN CE instead of dropping (RFC 3168).
    #[serde(default)]
    pub ecn_ce_marked: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IkeSaStatus {
    /// 16 hex digits.
    pub initiator_spi: String,
    pub responder_spi: String,
    /// Whether we initiated this IKE SA.
    pub we_initiated: bool,
    /// Negotiated suite, strongSwan names (e.g. "aes256-sha256-prfsha256-modp1024").
    pub suite: String,
    pub age_secs: u64,
    pub rekey_in_secs: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChildSaStatus {
    pub name: String,
    /// 8 hex digits.
    pub spi_in: String,
    pub spi_out: String,
    /// Negotiated suite, strongSwan names (e.g. "aes256gcm16").
    pub suite: String,
    pub udp_encap: bool,
    pub age_secs: u64,
    pub rekey_in_secs: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_stable() {
        let r = Request::Initiate {
            name: "azure".into(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"request":"initiate","name":"azure"}"#
        );
        assert_eq!(
            serde_json::to_string(&Request::Status).unwrap(),
            r#"{"request":"status"}"#
        );
        let back: Request = serde_json::from_str(r#"{"request":"reload"}"#).unwrap();
        assert_eq!(back, Request::Reload);
        assert!(serde_json::from_str::<Request>(r#"{"request":"initiate"}"#).is_err());
        let ok = Response::Ok {
            message: "done".into(),
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"response":"ok","message":"done"}"#
        );
        let s = Response::Status(StatusSnapshot::default());
        let text = serde_json::to_string(&s).unwrap();
        assert!(
            text.starts_with(r#"{"response":"status","daemon":"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), s);
    }
}
