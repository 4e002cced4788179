//! What the endpoint hands back to its driver: datagrams to send, events, and status.

use crate::crypto::Secret;
use crate::proposal::{EspSuite, IkeSuite};
use crate::wire::{NotifyType, TrafficSelector};
use std::net::SocketAddr;
use std::time::Instant;

/// Handle of a configured peer, returned by `Endpoint::add_peer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// One datagram to send. When `local` is a port-4500 socket the driver prepends the 4-byte
/// non-ESP marker (RFC 3948 2.2); `payload` is the bare IKE message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
}

/// A CHILD_SA ready to be installed in the data plane. Keys are already split and oriented for
/// our role (RFC 7296 2.17): each is the encryption key (for AES-GCM including the 4-byte salt,
/// RFC 4106 8.1) followed by the integrity key (empty for AEAD).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSa {
    pub peer: PeerId,
    /// The name of the child configuration (`ChildConfig::name`) this SA belongs to.
    pub child: String,
    /// The SPI we chose; the peer sends ESP with it.
    pub inbound_spi: u32,
    /// The SPI the peer chose; we send ESP with it.
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub inbound_keys: Secret,
    pub outbound_keys: Secret,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// ESP in UDP on port 4500 (RFC 3948): a NAT was detected on either side (or forced).
    pub udp_encap: bool,
    /// Our address for ESP (port 4500 when `udp_encap`).
    pub local: SocketAddr,
    /// The peer's address for ESP, as seen after any NAT.
    pub remote: SocketAddr,
}

/// Why an IKE SA or CHILD_SA could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// IKE proposals did not match. `theirs` is the peer's offer when we were the responder;
    /// `None` when the peer refused ours (it does not tell us what it wanted).
    NoProposalChosen {
        ours: String,
        theirs: Option<String>,
    },
    /// ESP proposals of the first CHILD_SA did not match (the IKE SA stays up).
    ChildNoProposalChosen {
        ours: String,
        theirs: Option<String>,
    },
    /// Wrong PSK, unexpected identity, or the peer said AUTHENTICATION_FAILED.
    AuthenticationFailed { detail: String },
    /// Traffic selectors do not intersect (the IKE SA stays up, no CHILD_SA).
    TsUnacceptable,
    /// No response after the whole retransmission schedule.
    Timeout { tries: u32 },
    /// The peer answered with another error notify.
    PeerError(NotifyType),
    /// The peer's reply was syntactically valid but unusable (names what was wrong).
    Protocol(String),
    /// A local problem (e.g. no proposals configured).
    Local(String),
}

impl core::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FailureReason::NoProposalChosen { ours, theirs } => match theirs {
                Some(t) => write!(
                    f,
                    "no IKE proposal chosen: we accept [{ours}], the peer offered [{t}]"
                ),
                None => write!(
                    f,
                    "no IKE proposal chosen: the peer refused our offer [{ours}]"
                ),
            },
            FailureReason::ChildNoProposalChosen { ours, theirs } => match theirs {
                Some(t) => write!(
                    f,
                    "no ESP proposal chosen: we accept [{ours}], the peer offered [{t}]"
                ),
                None => write!(
                    f,
                    "no ESP proposal chosen: the peer refused our offer [{ours}]"
                ),
            },
            FailureReason::AuthenticationFailed { detail } => {
                write!(f, "authentication failed: {detail}")
            }
            FailureReason::TsUnacceptable => f.write_str("traffic selectors unacceptable"),
            FailureReason::Timeout { tries } => {
                write!(f, "no response after {tries} retransmissions")
            }
            FailureReason::PeerError(n) => write!(f, "peer error {n}"),
            FailureReason::Protocol(s) => write!(f, "protocol error: {s}"),
            FailureReason::Local(s) => write!(f, "local error: {s}"),
        }
    }
}

/// Why an established IKE SA went away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// `terminate` or `remove_peer`.
    Local,
    /// The peer sent DELETE for the IKE SA.
    ByPeer,
    /// The peer authenticated a new IKE SA with INITIAL_CONTACT (RFC 7296 2.4).
    InitialContact,
    /// A request (e.g. our DELETE) went unanswered.
    Timeout,
    /// Dead peer detection (RFC 7296 2.4): a request went unanswered while `dpd_delay` is
    /// set. The gateway applies its dpd_action (clear / restart with back-off / none).
    DeadPeer,
    /// The hard lifetime passed without a successful rekey, or the IKE SA's message IDs ran
    /// out before a rekey replaced it (RFC 7296 2.2).
    Expired,
    /// A second IKE SA with the same peer (simultaneous IKE_SA_INIT from both sides) was
    /// deleted; the other IKE SA and its CHILD_SAs stay up.
    Duplicate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    IkeSaEstablished {
        peer: PeerId,
        spi_i: u64,
        spi_r: u64,
        suite: IkeSuite,
        local: SocketAddr,
        remote: SocketAddr,
        /// We are behind a NAT (our NAT_DETECTION_SOURCE_IP did not match what the peer saw).
        nat_local: bool,
        /// The peer is behind a NAT.
        nat_remote: bool,
    },
    ChildSaEstablished(ChildSa),
    ChildSaDeleted {
        peer: PeerId,
        inbound_spi: u32,
        outbound_spi: u32,
    },
    IkeSaDeleted {
        peer: PeerId,
        spi_i: u64,
        spi_r: u64,
        reason: DeleteReason,
    },
    Failed {
        peer: PeerId,
        error: FailureReason,
    },
    /// A CHILD_SA was rekeyed (RFC 7296 1.3.3, 2.8): `new` replaces the SA whose SPIs are
    /// `old_*`. Install `new`'s inbound SA at once. If `outbound_now`, switch the child's
    /// outbound traffic to `new` now (we initiated the rekey: the peer installed both
    /// directions before answering). Otherwise (we answered the rekey) keep sending on the old
    /// SA until `ChildSaOutboundReady` names `new.inbound_spi` (strongSwan's rule: the
    /// responder switches when the initiator deletes the old SA). The old SA goes with a
    /// later `ChildSaDeleted`, which always comes after any `ChildSaOutboundReady` it implies.
    ChildSaRekeyed {
        peer: PeerId,
        child: String,
        old_inbound_spi: u32,
        old_outbound_spi: u32,
        new: ChildSa,
        outbound_now: bool,
    },
    /// Switch outbound traffic to the CHILD_SA with these SPIs (announced earlier by a
    /// `ChildSaRekeyed` with `outbound_now: false`).
    ChildSaOutboundReady {
        peer: PeerId,
        inbound_spi: u32,
        outbound_spi: u32,
    },
    /// Our outstanding request went unanswered and was sent again (RFC 7296 2.1):
    /// `retransmit` counts from 1. Losses on the path show up here before DPD gives up.
    Retransmitted {
        peer: PeerId,
        message_id: u32,
        /// What the request is, e.g. `INFORMATIONAL (DELETE CHILD_SA)`.
        request: &'static str,
        retransmit: u32,
    },
    /// The IKE SA was rekeyed in place (RFC 7296 2.18): its CHILD_SAs now belong to the new
    /// one and are untouched in the data plane; only the IKE SPIs (and suite) change.
    IkeSaRekeyed {
        peer: PeerId,
        old_spi_i: u64,
        old_spi_r: u64,
        new_spi_i: u64,
        new_spi_r: u64,
        suite: IkeSuite,
    },
}

/// Coarse state of a peer's newest IKE SA for `ipsecgw status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaPhase {
    Idle,
    /// IKE_SA_INIT sent (initiator).
    Connecting,
    /// IKE_AUTH sent (initiator) or awaited (responder).
    Authenticating,
    Established,
    /// Our DELETE is outstanding.
    Deleting,
    /// Deleted; only kept to answer retransmissions.
    Closed,
}

/// One CHILD_SA in [`PeerStatus`] (no keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildStatus {
    /// The child configuration's name.
    pub name: String,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub udp_encap: bool,
    /// When this CHILD_SA will be rekeyed (soft lifetime), if it will.
    pub rekey_at: Option<Instant>,
    /// When it will be deleted if not rekeyed (hard lifetime).
    pub expire_at: Option<Instant>,
    /// Being replaced: a rekey is in progress or done and the old SA awaits deletion.
    pub rekeying: bool,
}

/// Status of one peer (no secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    pub peer: PeerId,
    pub name: String,
    pub phase: SaPhase,
    pub spi_i: Option<u64>,
    pub spi_r: Option<u64>,
    pub initiator: Option<bool>,
    pub ike_suite: Option<IkeSuite>,
    pub children: Vec<ChildStatus>,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub nat_local: bool,
    pub nat_remote: bool,
    pub established_at: Option<Instant>,
    pub last_error: Option<String>,
    /// When the IKE SA will be rekeyed (soft lifetime), if it will.
    pub rekey_at: Option<Instant>,
    /// When the IKE SA will be deleted if not rekeyed (hard lifetime).
    pub expire_at: Option<Instant>,
}
