//! Per-peer configuration of the endpoint: identities, the pre-shared key, proposals, traffic
//! selectors, which side may initiate, and the retransmission schedule (RFC 7296 2.1).

use crate::crypto::Secret;
use crate::proposal::{EspProposalSpec, IkeProposalSpec};
use crate::wire::{IdType, Identification, TrafficSelector};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Which side of the tunnel may start the IKE SA (Azure connection modes `InitiatorOnly`,
/// `ResponderOnly`, `Default`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We initiate; an IKE_SA_INIT from this peer is answered with NO_PROPOSAL_CHOSEN so the
    /// peer fails fast instead of retransmitting.
    Initiator,
    /// We never initiate (`Endpoint::initiate` is refused); we only answer.
    Responder,
    /// Either side may initiate.
    Both,
}

impl Role {
    pub fn may_initiate(self) -> bool {
        matches!(self, Role::Initiator | Role::Both)
    }
    pub fn may_respond(self) -> bool {
        matches!(self, Role::Responder | Role::Both)
    }
}

/// Request retransmission (RFC 7296 2.1 and 2.4), with strongSwan's defaults: the n-th
/// retransmission (n = 1..=`tries`) is sent `timeout * factor^(n-1)` after the previous send,
/// and the exchange is abandoned `timeout * factor^tries` after the last retransmission
/// (4 s, 1.8, 5 tries: sends at 0, 4, 11.2, 24.2, 47.5, 89.5 s, give up at 165.1 s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetransmitConfig {
    pub timeout: Duration,
    pub factor: f64,
    pub tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig {
            timeout: Duration::from_secs(4),
            factor: 1.8,
            tries: 5,
        }
    }
}

impl RetransmitConfig {
    /// How long to wait after the send that was preceded by `retransmits` retransmissions.
    /// Never panics: a non-finite or sub-1 factor counts as 1, the result is capped at a day.
    pub fn wait_after(&self, retransmits: u32) -> Duration {
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let exp = i32::try_from(retransmits).unwrap_or(i32::MAX);
        let secs = self.timeout.as_secs_f64() * factor.powi(exp);
        let cap = Duration::from_secs(86_400);
        Duration::try_from_secs_f64(secs).map_or(cap, |d| d.min(cap))
    }
}

/// An IKE identity (RFC 7296 3.5). The EC2 side usually says `Ipv4(elastic IP)`, which differs
/// from the private address it is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Fqdn(String),
    KeyId(Vec<u8>),
}

impl Identity {
    /// The ID payload body.
    pub fn to_wire(&self) -> Identification {
        match self {
            Identity::Ipv4(a) => Identification {
                id_type: IdType::IPV4_ADDR,
                data: a.octets().to_vec(),
            },
            Identity::Ipv6(a) => Identification {
                id_type: IdType::IPV6_ADDR,
                data: a.octets().to_vec(),
            },
            Identity::Fqdn(s) => Identification {
                id_type: IdType::FQDN,
                data: s.as_bytes().to_vec(),
            },
            Identity::KeyId(k) => Identification {
                id_type: IdType::KEY_ID,
                data: k.clone(),
            },
        }
    }

    /// The identity an ID payload carries, if it is one of the four types we support.
    pub fn from_wire(id: &Identification) -> Option<Identity> {
        match id.id_type {
            IdType::IPV4_ADDR => {
                let b: [u8; 4] = id.data.as_slice().try_into().ok()?;
                Some(Identity::Ipv4(Ipv4Addr::from(b)))
            }
            IdType::IPV6_ADDR => {
                let b: [u8; 16] = id.data.as_slice().try_into().ok()?;
                Some(Identity::Ipv6(Ipv6Addr::from(b)))
            }
            IdType::FQDN => Some(Identity::Fqdn(String::from_utf8(id.data.clone()).ok()?)),
            IdType::KEY_ID => Some(Identity::KeyId(id.data.clone())),
            _ => None,
        }
    }

    /// The address, for the IP identity types.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Identity::Ipv4(a) => Some(IpAddr::V4(*a)),
            Identity::Ipv6(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }
}

impl core::fmt::Display for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Identity::Ipv4(a) => write!(f, "{a}"),
            Identity::Ipv6(a) => write!(f, "{a}"),
            Identity::Fqdn(s) => write!(f, "{}", s.escape_debug()),
            Identity::KeyId(k) => {
                f.write_str("keyid:")?;
                k.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// One configured peer (one site-to-site connection).
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// For logs and status.
    pub name: String,
    /// The peer's address, port 500. As responder we match incoming IKE_SA_INIT by this IP.
    pub remote: SocketAddr,
    /// What we send as IDi/IDr; may differ from the bound address (EC2 1:1 NAT).
    pub local_id: Identity,
    /// The identity the peer must prove. `None`: the peer's ID must be an IP identity equal to
    /// `remote`'s IP or the address its IKE_AUTH came from (what Azure sends); configure it
    /// explicitly for FQDN/KEY_ID peers or peers behind NAT.
    pub remote_id: Option<Identity>,
    pub psk: Secret,
    /// Our IKE proposals in preference order (must not be empty to initiate).
    pub ike_proposals: Vec<IkeProposalSpec>,
    /// Our ESP proposals in preference order.
    pub esp_proposals: Vec<EspProposalSpec>,
    /// Our side's traffic selectors (route-based: 0.0.0.0/0).
    pub local_ts: Vec<TrafficSelector>,
    /// The peer side's traffic selectors.
    pub remote_ts: Vec<TrafficSelector>,
    pub role: Role,
    pub retransmit: RetransmitConfig,
    /// Pretend to be behind a NAT (fake NAT_DETECTION_SOURCE_IP, RFC 7296 2.23) so ESP is always
    /// UDP-encapsulated on port 4500, as strongSwan's `encap = yes`.
    pub force_udp_encap: bool,
}

impl PeerConfig {
    /// A configuration with no proposals or selectors yet, role `Both`, default retransmission.
    pub fn new(
        name: impl Into<String>,
        remote: SocketAddr,
        local_id: Identity,
        psk: Secret,
    ) -> Self {
        PeerConfig {
            name: name.into(),
            remote,
            local_id,
            remote_id: None,
            psk,
            ike_proposals: Vec::new(),
            esp_proposals: Vec::new(),
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            role: Role::Both,
            retransmit: RetransmitConfig::default(),
            force_udp_encap: false,
        }
    }

    /// Whether `id` (from a peer's IDi/IDr) is acceptable for this peer; `seen_from` is the
    /// address the message came from.
    pub fn accepts_remote_id(&self, id: &Identity, seen_from: IpAddr) -> bool {
        match &self.remote_id {
            Some(expected) => expected == id,
            None => id
                .ip()
                .is_some_and(|ip| ip == self.remote.ip() || ip == seen_from),
        }
    }
}
