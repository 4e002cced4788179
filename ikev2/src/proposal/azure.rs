//! Azure portal names for custom IPsec/IKE policies (the fields of the "IPsec / IKE policy"
//! blade and of `New-AzIpsecPolicy`), so operators can paste what the portal shows.
//! Matching is case-insensitive.

use super::names::{REPL_DH, REPL_ENCR, REPL_INTEG, REPL_NULL};
use super::{EspProposalSpec, IkeProposalSpec, ProposalError};
use crate::wire::{DhGroup, EncrId, EsnId, IntegId, PrfId};

type Encr = (EncrId, Option<u16>);

const ENCR: &[(&str, Encr)] = &[
    ("GCMAES256", (EncrId::AES_GCM_16, Some(256))),
    ("GCMAES192", (EncrId::AES_GCM_16, Some(192))),
    ("GCMAES128", (EncrId::AES_GCM_16, Some(128))),
    ("AES256", (EncrId::AES_CBC, Some(256))),
    ("AES192", (EncrId::AES_CBC, Some(192))),
    ("AES128", (EncrId::AES_CBC, Some(128))),
];

const INTEG: &[(&str, IntegId)] = &[
    ("SHA384", IntegId::HMAC_SHA2_384_192),
    ("SHA256", IntegId::HMAC_SHA2_256_128),
    ("SHA1", IntegId::HMAC_SHA1_96),
];

const IKE_DH: &[(&str, DhGroup)] = &[
    ("DHGroup24", DhGroup::MODP2048_256),
    ("ECP384", DhGroup::ECP384),
    ("ECP256", DhGroup::ECP256),
    ("DHGroup14", DhGroup::MODP2048),
    ("DHGroup2048", DhGroup::MODP2048),
    ("DHGroup2", DhGroup::MODP1024),
];

const PFS: &[(&str, DhGroup)] = &[
    ("PFS24", DhGroup::MODP2048_256),
    ("ECP384", DhGroup::ECP384),
    ("ECP256", DhGroup::ECP256),
    ("PFS2048", DhGroup::MODP2048),
    ("PFS14", DhGroup::MODP2048),
    ("PFS2", DhGroup::MODP1024),
];

fn find<T: Copy>(table: &[(&str, T)], s: &str) -> Option<T> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
        .map(|(_, v)| *v)
}

fn names<T>(table: &[(&str, T)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn refused(label: &str, token: &str, instead: &str) -> ProposalError {
    ProposalError::Refused {
        proposal: label.to_string(),
        token: token.trim().to_string(),
        instead: instead.to_string(),
    }
}

fn unknown(label: &str, token: &str, field: &str, valid: String) -> ProposalError {
    ProposalError::Unknown {
        proposal: label.to_string(),
        token: token.trim().to_string(),
        hint: format!("valid Azure {field} values: {valid}"),
    }
}

fn is(s: &str, names: &[&str]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(s.trim()))
}

fn encryption(label: &str, s: &str) -> Result<Encr, ProposalError> {
    if is(s, &["DES", "DES3", "3DES"]) {
        return Err(refused(label, s, REPL_ENCR));
    }
    if is(s, &["None", "null"]) {
        return Err(refused(label, s, REPL_NULL));
    }
    find(ENCR, s).ok_or_else(|| unknown(label, s, "encryption", names(ENCR)))
}

fn integrity(label: &str, s: &str) -> Result<Option<IntegId>, ProposalError> {
    if is(s, &["MD5"]) {
        return Err(refused(label, s, REPL_INTEG));
    }
    Ok(find(INTEG, s))
}

/// An Azure IKE (phase 1) policy: encryption, integrity and DH group as the portal names
/// them, e.g. `("GCMAES256", "SHA384", "ECP384")` = `aes256gcm16-prfsha384-ecp384`,
/// `("AES256", "SHA256", "DHGroup14")` = `aes256-sha256-prfsha256-modp2048`.
/// With a GCM cipher Azure's IKE "integrity" selects the PRF only.
pub fn parse_azure_ike(
    encryption_name: &str,
    integrity_name: &str,
    dh_group: &str,
) -> Result<IkeProposalSpec, ProposalError> {
    let label = format!("Azure IKE {encryption_name}/{integrity_name}/{dh_group}");
    let encr = encryption(&label, encryption_name)?;
    let integ = integrity(&label, integrity_name)?
        .ok_or_else(|| unknown(&label, integrity_name, "IKE integrity", names(INTEG)))?;
    let prf = match integ {
        IntegId::HMAC_SHA1_96 => PrfId::HMAC_SHA1,
        IntegId::HMAC_SHA2_256_128 => PrfId::HMAC_SHA2_256,
        _ => PrfId::HMAC_SHA2_384,
    };
    if is(dh_group, &["DHGroup1"]) {
        return Err(refused(&label, dh_group, REPL_DH));
    }
    if is(dh_group, &["None", ""]) {
        return Err(ProposalError::Incomplete {
            proposal: label,
            missing: format!("an IKE policy needs a DH group: {}", names(IKE_DH)),
        });
    }
    let dh = find(IKE_DH, dh_group)
        .ok_or_else(|| unknown(&label, dh_group, "IKE DH group", names(IKE_DH)))?;
    let aead = super::is_aead(encr.0);
    Ok(IkeProposalSpec {
        encr: vec![encr],
        integ: if aead { vec![] } else { vec![integ] },
        prf: vec![prf],
        dh: vec![dh],
    })
}

/// An Azure IPsec (phase 2) policy, e.g. `("GCMAES256", "GCMAES256", "ECP384")` =
/// `aes256gcm16-ecp384`, `("AES256", "SHA256", "PFS2048")` = `aes256-sha256-modp2048`,
/// `("AES128", "SHA1", "None")` = `aes128-sha1`. Azure's IPsec integrity for a GCM cipher is
/// the cipher's own name (the AEAD's integrity) and must equal the encryption.
pub fn parse_azure_esp(
    encryption_name: &str,
    integrity_name: &str,
    pfs_group: &str,
) -> Result<EspProposalSpec, ProposalError> {
    let label = format!("Azure IPsec {encryption_name}/{integrity_name}/{pfs_group}");
    let encr = encryption(&label, encryption_name)?;
    let aead = super::is_aead(encr.0);
    let integ = match integrity(&label, integrity_name)? {
        Some(i) if !aead => vec![i],
        Some(_) => {
            return Err(ProposalError::Invalid {
                proposal: label,
                reason: format!(
                    "{} provides its own integrity: set the IPsec integrity to {} too",
                    encryption_name.trim(),
                    encryption_name.trim()
                ),
            })
        }
        None => match find(ENCR, integrity_name) {
            Some(g) if aead && g == encr => vec![],
            Some(g) if super::is_aead(g.0) => {
                return Err(ProposalError::Invalid {
                    proposal: label,
                    reason: format!(
                        "IPsec integrity {} only goes with encryption {} (Azure requires both \
                         GCM fields to match)",
                        integrity_name.trim(),
                        integrity_name.trim()
                    ),
                })
            }
            _ => {
                let valid = format!("GCMAES256, GCMAES192, GCMAES128, {}", names(INTEG));
                return Err(unknown(&label, integrity_name, "IPsec integrity", valid));
            }
        },
    };
    if is(pfs_group, &["PFS1"]) {
        return Err(refused(&label, pfs_group, REPL_DH));
    }
    let dh = if is(pfs_group, &["None", ""]) {
        vec![]
    } else if is(pfs_group, &["PFSMM"]) {
        return Err(ProposalError::Unknown {
            proposal: label,
            token: pfs_group.trim().to_string(),
            hint: format!(
                "PFSMM (same group as the IKE SA) is ambiguous here; name the group: None, {}",
                names(PFS)
            ),
        });
    } else {
        let g = find(PFS, pfs_group).ok_or_else(|| {
            unknown(
                &label,
                pfs_group,
                "PFS group",
                format!("None, {}", names(PFS)),
            )
        })?;
        vec![g]
    };
    Ok(EspProposalSpec {
        encr: vec![encr],
        integ,
        dh,
        esn: vec![EsnId::NO_ESN],
    })
}
