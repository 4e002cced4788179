//! Proposals: strongSwan-style names (`aes256-sha256-modp1024`, `aes256gcm16`), Azure presets,
//! refusal of insecure algorithms, and negotiation (RFC 7296 2.7, 3.3).
//!
//! Submodules:
//! - `names`: parsing and printing strongSwan proposal keywords, `describe`.
//! - `azure`: the Azure portal's field names (`GCMAES256`, `DHGroup14`, `PFS2048`, ...).
//! - `select`: SA payload construction and negotiation (responder and initiator side).
//! - `presets`: Azure policies by name.
//! - `compat`: offline "can these two configurations ever agree" checks for check-config.

use crate::wire::{DhGroup, EncrId, EsnId, IntegId, PrfId, Proposal};

mod azure;
mod compat;
mod names;
mod presets;
mod select;

pub use azure::{parse_azure_esp, parse_azure_ike};
pub use compat::{could_match_esp, could_match_ike};
pub use names::{parse_esp_list, parse_ike_list};
pub use presets::{preset, preset_names, Preset};
pub use select::{
    esp_spi, ike_dh_acceptable, ike_dh_groups, is_aead, select_esp_with_ke, select_ike_with_ke,
};

/// Why a proposal string or negotiation failed. Messages name the offending token and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("unknown algorithm `{token}` in proposal `{proposal}`: {hint}")]
    Unknown {
        proposal: String,
        token: String,
        hint: String,
    },
    #[error("`{token}` in proposal `{proposal}` is refused by design: {instead}")]
    Refused {
        proposal: String,
        token: String,
        instead: String,
    },
    #[error("proposal `{proposal}` is incomplete: {missing}")]
    Incomplete { proposal: String, missing: String },
    #[error("no proposal chosen: we offer [{ours}], the peer offers [{theirs}]")]
    NoProposalChosen { ours: String, theirs: String },
    /// Every token is valid but they do not go together (e.g. an AEAD cipher with an
    /// integrity algorithm in ESP, or AEAD and non-AEAD ciphers in one proposal).
    #[error("proposal `{proposal}` is invalid: {reason}")]
    Invalid { proposal: String, reason: String },
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
/// `DhGroup::NONE` in the list (strongSwan `modpnone`) means "no PFS is also acceptable".
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
///
/// As in strongSwan: without an explicit PRF the PRFs are derived from the integrity
/// algorithms (`sha256` -> `prfsha256`); an AEAD proposal given an integrity algorithm
/// (`aes256gcm16-sha384-ecp384`) uses it only to derive the PRF and drops it; an AEAD
/// proposal with neither PRF nor integrity is incomplete (strongSwan refuses it too).
pub fn parse_ike(s: &str) -> Result<IkeProposalSpec, ProposalError> {
    names::parse_ike(s)
}

/// Parse one strongSwan-style ESP proposal, e.g. `aes256gcm16`, `aes256-sha1`,
/// `aes128-sha256-ecp256` (with PFS group), `aes256-sha256-esn`.
/// ESN defaults to `noesn`; an AEAD cipher with an integrity algorithm is an error.
pub fn parse_esp(s: &str) -> Result<EspProposalSpec, ProposalError> {
    names::parse_esp(s)
}

impl IkeProposalSpec {
    /// The SA payload proposal with number `num` (protocol IKE, SPI empty; an IKE SA rekey
    /// sets the 8-byte SPI on the result).
    pub fn to_wire(&self, num: u8) -> Proposal {
        select::ike_spec_to_wire(self, num)
    }
}

impl EspProposalSpec {
    /// The SA payload proposal with number `num`, protocol ESP and our inbound SPI.
    /// `with_dh` false drops the DH transforms (the first CHILD_SA inside IKE_AUTH).
    pub fn to_wire(&self, num: u8, spi: u32, with_dh: bool) -> Proposal {
        select::esp_spec_to_wire(self, num, spi, with_dh)
    }
}

impl IkeSuite {
    /// The responder's answer (RFC 7296 2.7): exactly one transform of each type, numbered
    /// like the accepted offer. SPI empty (IKE_SA_INIT); set it for an IKE SA rekey.
    pub fn to_wire(&self, num: u8) -> Proposal {
        select::ike_suite_to_wire(self, num)
    }
    /// The single-choice spec of this suite (e.g. to propose exactly it when rekeying).
    pub fn to_spec(&self) -> IkeProposalSpec {
        IkeProposalSpec {
            encr: vec![(self.encr, self.key_bits)],
            integ: self.integ.into_iter().collect(),
            prf: vec![self.prf],
            dh: vec![self.dh],
        }
    }
}

impl EspSuite {
    /// The responder's answer: one transform per type, DH only when PFS was negotiated.
    pub fn to_wire(&self, num: u8, spi: u32) -> Proposal {
        select::esp_suite_to_wire(self, num, spi)
    }
    /// The single-choice spec of this suite.
    pub fn to_spec(&self) -> EspProposalSpec {
        EspProposalSpec {
            encr: vec![(self.encr, self.key_bits)],
            integ: self.integ.into_iter().collect(),
            dh: self.dh.into_iter().collect(),
            esn: vec![if self.esn { EsnId::ESN } else { EsnId::NO_ESN }],
        }
    }
}

/// Responder: pick the first of our proposals (our order) that one of the offered proposals
/// satisfies; returns the offered proposal number and the suite.
pub fn select_ike(
    ours: &[IkeProposalSpec],
    offered: &[Proposal],
) -> Result<(u8, IkeSuite), ProposalError> {
    select::select_ike_with_ke(ours, offered, None)
}

/// Responder for ESP. `with_dh` false ignores DH transforms (first CHILD_SA in IKE_AUTH,
/// RFC 7296 1.2); true requires them to match when we configured PFS.
pub fn select_esp(
    ours: &[EspProposalSpec],
    offered: &[Proposal],
    with_dh: bool,
) -> Result<(u8, EspSuite), ProposalError> {
    select::select_esp_with_ke(ours, offered, with_dh, None)
}

/// Initiator: check the responder's single chosen proposal is within what we offered.
pub fn accept_ike(ours: &[IkeProposalSpec], chosen: &Proposal) -> Result<IkeSuite, ProposalError> {
    select::accept_ike(ours, chosen)
}

/// Initiator for ESP.
pub fn accept_esp(
    ours: &[EspProposalSpec],
    chosen: &Proposal,
    with_dh: bool,
) -> Result<EspSuite, ProposalError> {
    select::accept_esp(ours, chosen, with_dh)
}

/// Readable form of wire proposals for logs and status, e.g.
/// `IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024`.
pub fn describe(proposals: &[Proposal]) -> String {
    names::describe(proposals)
}

#[cfg(test)]
mod tests;
