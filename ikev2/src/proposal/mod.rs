//! Proposals: strongSwan-style names (`aes256-sha256-modp1024`, `aes256gcm16`), Azure presets,
//! refusal of insecure algorithms, and negotiation (RFC 7296 2.7, 3.3).

use crate::wire::{DhGroup, EncrId, EsnId, IntegId, PrfId, Proposal};

/// Why a proposal string or negotiation failed. Messages name the offending token and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("unknown algorithm `{token}` in proposal `{proposal}`: {hint}")]
    Unknown { proposal: String, token: String, hint: String },
    #[error("`{token}` in proposal `{proposal}` is refused by design: {instead}")]
    Refused { proposal: String, token: String, instead: String },
    #[error("proposal `{proposal}` is incomplete: {missing}")]
    Incomplete { proposal: String, missing: String },
    #[error("no proposal chosen: we offer [{ours}], the peer offers [{theirs}]")]
    NoProposalChosen { ours: String, theirs: String },
}

/// One IKE proposal as configured: every listed algorithm is acceptable (RFC 7296 3.3 allows
/// several transforms of one type in one proposal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeProposalSpec {
    /// Encryption with key length in bits (None only for fixed-length ciphers).
    pub encr: Vec<(EncrId, Option<u16>)>,
    /// Empty for AEAD ciphers.
    pub integ: Vec<IntegId>,
    pub prf: Vec<PrfId>,
    pub dh: Vec<DhGroup>,
}

/// One ESP proposal as configured. `dh` is the PFS group list (empty = no PFS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspProposalSpec {
    pub encr: Vec<(EncrId, Option<u16>)>,
    pub integ: Vec<IntegId>,
    pub dh: Vec<DhGroup>,
    pub esn: Vec<EsnId>,
}

/// The algorithms an IKE SA ended up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IkeSuite {
    pub encr: EncrId,
    pub key_bits: Option<u16>,
    pub prf: PrfId,
    pub integ: Option<IntegId>,
    pub dh: DhGroup,
}

/// The algorithms a CHILD_SA ended up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspSuite {
    pub encr: EncrId,
    pub key_bits: Option<u16>,
    pub integ: Option<IntegId>,
    /// PFS group used for this CHILD_SA's key exchange, if any.
    pub dh: Option<DhGroup>,
    pub esn: bool,
}

/// Parse one strongSwan-style IKE proposal, e.g. `aes256-sha256-modp1024`,
/// `aes256gcm16-prfsha384-ecp384`. Refuses DES, 3DES, MD5, modp768 (group 1) and NULL.
pub fn parse_ike(s: &str) -> Result<IkeProposalSpec, ProposalError> {
    let _ = s;
    todo!("proposal")
}

/// Parse one strongSwan-style ESP proposal, e.g. `aes256gcm16`, `aes256-sha1`,
/// `aes128-sha256-ecp256` (with PFS group), `aes256-sha256-esn`.
pub fn parse_esp(s: &str) -> Result<EspProposalSpec, ProposalError> {
    let _ = s;
    todo!("proposal")
}

impl IkeProposalSpec {
    /// The SA payload proposal with number `num` (protocol IKE, SPI empty).
    pub fn to_wire(&self, num: u8) -> Proposal {
        let _ = num;
        todo!("proposal")
    }
}

impl EspProposalSpec {
    /// The SA payload proposal with number `num`, protocol ESP and our inbound SPI.
    /// `with_dh` false drops the DH transforms (the first CHILD_SA inside IKE_AUTH).
    pub fn to_wire(&self, num: u8, spi: u32, with_dh: bool) -> Proposal {
        let _ = (num, spi, with_dh);
        todo!("proposal")
    }
}

/// Responder: pick the first of our proposals (our order) that one of the offered proposals
/// satisfies; returns the offered proposal number and the suite.
pub fn select_ike(ours: &[IkeProposalSpec], offered: &[Proposal]) -> Result<(u8, IkeSuite), ProposalError> {
    let _ = (ours, offered);
    todo!("proposal")
}

/// Responder for ESP. `with_dh` false ignores DH transforms (first CHILD_SA in IKE_AUTH,
/// RFC 7296 1.2); true requires them to match when we configured PFS.
pub fn select_esp(ours: &[EspProposalSpec], offered: &[Proposal], with_dh: bool) -> Result<(u8, EspSuite), ProposalError> {
    let _ = (ours, offered, with_dh);
    todo!("proposal")
}

/// Initiator: check the responder's single chosen proposal is within what we offered.
pub fn accept_ike(ours: &[IkeProposalSpec], chosen: &Proposal) -> Result<IkeSuite, ProposalError> {
    let _ = (ours, chosen);
    todo!("proposal")
}

/// Initiator for ESP.
pub fn accept_esp(ours: &[EspProposalSpec], chosen: &Proposal, with_dh: bool) -> Result<EspSuite, ProposalError> {
    let _ = (ours, chosen, with_dh);
    todo!("proposal")
}

/// Readable form of wire proposals for logs and status, e.g.
/// `IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024`.
pub fn describe(proposals: &[Proposal]) -> String {
    let _ = proposals;
    todo!("proposal")
}
