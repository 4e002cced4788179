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

/// When an SA is rekeyed and when it dies (RFC 7296 2.8), like strongSwan's `rekey_time`,
/// `rand_time` and `life_time`: the soft deadline is `rekey_time` minus a random jitter drawn
/// uniformly (nanosecond resolution, from the caller's `Random`) from `[0, rand_time]`; at
/// `life_time` the SA is deleted if it could not be rekeyed. A zero `rekey_time` disables
/// rekeying, a zero `life_time` the hard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub rekey_time: Duration,
    pub rand_time: Duration,
    pub life_time: Duration,
}

/// The lifetime of a CHILD_SA (same fields as an IKE SA's).
pub type ChildLifetime = Lifetime;

impl Lifetime {
    /// strongSwan's IKE SA defaults: rekey after 4 h minus up to 10 % (24 min), hard limit
    /// 4 h 24 min. Well below Azure's 28800 s IKE SA lifetime, so we rekey first.
    pub fn ike_default() -> Self {
        Lifetime {
            rekey_time: Duration::from_secs(4 * 3600),
            rand_time: Duration::from_secs(24 * 60),
            life_time: Duration::from_secs(4 * 3600 + 24 * 60),
        }
    }

    /// strongSwan's CHILD_SA defaults: rekey after 1 h minus up to 6 min, hard limit 66 min
    /// (Azure's CHILD_SA lifetime is 27000 s).
    pub fn child_default() -> Self {
        Lifetime {
            rekey_time: Duration::from_secs(3600),
            rand_time: Duration::from_secs(6 * 60),
            life_time: Duration::from_secs(66 * 60),
        }
    }

    /// No rekeying and no hard limit.
    pub fn unlimited() -> Self {
        Lifetime {
            rekey_time: Duration::ZERO,
            rand_time: Duration::ZERO,
            life_time: Duration::ZERO,
        }
    }
}

/// One CHILD_SA of a peer (policy-based peers have several, one per subnet pair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildConfig {
    /// Reported in events and status.
    pub name: String,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// Our ESP proposals in preference order; DH groups in them mean PFS on CREATE_CHILD_SA.
    pub esp_proposals: Vec<EspProposalSpec>,
    pub lifetime: ChildLifetime,
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
    /// The CHILD_SAs to set up: the first inside IKE_AUTH, the others by CREATE_CHILD_SA right
    /// after (RFC 7296 1.3.1). Empty: one child from `local_ts`, `remote_ts`,
    /// `esp_proposals` and `child_lifetime`, named like the peer.
    pub children: Vec<ChildConfig>,
    /// Lifetime of the IKE SA (rekeyed in place, RFC 7296 2.18).
    pub ike_lifetime: Lifetime,
    /// Lifetime of the single child formed from the top-level fields (when `children` is
    /// empty).
    pub child_lifetime: ChildLifetime,
    /// Dead peer detection (RFC 7296 2.4): an empty INFORMATIONAL is sent when nothing arrived
    /// from the peer (IKE or ESP, see `Endpoint::note_inbound_traffic`) for this long. Zero: off.
    pub dpd_delay: Duration,
    /// With DPD on, a request on an established IKE SA is given up (and the peer declared
    /// dead) this long after it was first sent, even if the retransmission schedule is longer.
    /// Zero: the retransmission schedule alone decides.
    pub dpd_timeout: Duration,
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
            children: Vec::new(),
            ike_lifetime: Lifetime::ike_default(),
            child_lifetime: Lifetime::child_default(),
            dpd_delay: Duration::ZERO,
            dpd_timeout: Duration::from_secs(150),
        }
    }

    /// The CHILD_SAs to set up: `children`, or the single one the top-level fields describe.
    pub fn child_configs(&self) -> Vec<ChildConfig> {
        if !self.children.is_empty() {
            return self.children.clone();
        }
        vec![ChildConfig {
            name: self.name.clone(),
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            esp_proposals: self.esp_proposals.clone(),
            lifetime: self.child_lifetime,
        }]
    }

    /// The child configuration named `name`.
    pub fn child_config(&self, name: &str) -> Option<ChildConfig> {
        self.child_configs().into_iter().find(|c| c.name == name)
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
