//! SA payload construction and negotiation (RFC 7296 2.7, 3.3).
//!
//! The responder walks *its own* proposals in order and takes the first offered proposal that
//! has an acceptable transform of every required type; within a proposal it prefers its own
//! order too. It answers with exactly one transform per type (3.3.6).

use super::{describe, EspProposalSpec, EspSuite, IkeProposalSpec, IkeSuite, ProposalError};
use crate::wire::{
    Attribute, AttributeType, DhGroup, EncrId, EsnId, IntegId, Proposal, ProtocolId, Transform,
    TransformType,
};

/// Combined-mode ciphers (RFC 5282): no separate integrity transform.
pub fn is_aead(e: EncrId) -> bool {
    matches!(
        e,
        EncrId::AES_CCM_8
            | EncrId::AES_CCM_12
            | EncrId::AES_CCM_16
            | EncrId::AES_GCM_8
            | EncrId::AES_GCM_12
            | EncrId::AES_GCM_16
            | EncrId::CHACHA20_POLY1305
    )
}

fn transform(kind: TransformType, id: u16, key_bits: Option<u16>) -> Transform {
    Transform {
        kind,
        id,
        // RFC 7296 3.3.5: Key Length is a TV attribute (AF=1), type 14, value in bits.
        attributes: key_bits
            .map(|k| Attribute::Tv {
                ty: AttributeType::KEY_LENGTH.0,
                value: k,
            })
            .into_iter()
            .collect(),
    }
}

pub(crate) fn ike_spec_to_wire(s: &IkeProposalSpec, num: u8) -> Proposal {
    let mut t = Vec::new();
    t.extend(
        s.encr
            .iter()
            .map(|(e, k)| transform(TransformType::ENCR, e.0, *k)),
    );
    t.extend(
        s.prf
            .iter()
            .map(|p| transform(TransformType::PRF, p.0, None)),
    );
    t.extend(
        s.integ
            .iter()
            .map(|i| transform(TransformType::INTEG, i.0, None)),
    );
    t.extend(s.dh.iter().map(|g| transform(TransformType::DH, g.0, None)));
    Proposal {
        num,
        protocol: ProtocolId::IKE,
        spi: Vec::new(),
        transforms: t,
    }
}

pub(crate) fn esp_spec_to_wire(s: &EspProposalSpec, num: u8, spi: u32, with_dh: bool) -> Proposal {
    let mut t = Vec::new();
    t.extend(
        s.encr
            .iter()
            .map(|(e, k)| transform(TransformType::ENCR, e.0, *k)),
    );
    t.extend(
        s.integ
            .iter()
            .map(|i| transform(TransformType::INTEG, i.0, None)),
    );
    if with_dh {
        t.extend(s.dh.iter().map(|g| transform(TransformType::DH, g.0, None)));
    }
    // RFC 7296 3.3.3: ESN is mandatory in ESP proposals.
    if s.esn.is_empty() {
        t.push(transform(TransformType::ESN, EsnId::NO_ESN.0, None));
    } else {
        t.extend(
            s.esn
                .iter()
                .map(|e| transform(TransformType::ESN, e.0, None)),
        );
    }
    Proposal {
        num,
        protocol: ProtocolId::ESP,
        spi: spi.to_be_bytes().to_vec(),
        transforms: t,
    }
}

pub(crate) fn ike_suite_to_wire(s: &IkeSuite, num: u8) -> Proposal {
    let mut t = vec![
        transform(TransformType::ENCR, s.encr.0, s.key_bits),
        transform(TransformType::PRF, s.prf.0, None),
    ];
    if let Some(i) = s.integ {
        t.push(transform(TransformType::INTEG, i.0, None));
    }
    t.push(transform(TransformType::DH, s.dh.0, None));
    Proposal {
        num,
        protocol: ProtocolId::IKE,
        spi: Vec::new(),
        transforms: t,
    }
}

pub(crate) fn esp_suite_to_wire(s: &EspSuite, num: u8, spi: u32) -> Proposal {
    let mut t = vec![transform(TransformType::ENCR, s.encr.0, s.key_bits)];
    if let Some(i) = s.integ {
        t.push(transform(TransformType::INTEG, i.0, None));
    }
    if let Some(g) = s.dh {
        t.push(transform(TransformType::DH, g.0, None));
    }
    let esn = if s.esn { EsnId::ESN } else { EsnId::NO_ESN };
    t.push(transform(TransformType::ESN, esn.0, None));
    Proposal {
        num,
        protocol: ProtocolId::ESP,
        spi: spi.to_be_bytes().to_vec(),
        transforms: t,
    }
}

/// The peer's SPI of an ESP proposal (RFC 7296 3.3.1: 4 bytes for ESP).
pub fn esp_spi(p: &Proposal) -> Option<u32> {
    <[u8; 4]>::try_from(p.spi.as_slice())
        .ok()
        .map(u32::from_be_bytes)
}

/// Our IKE DH groups in preference order (for the KE payload and INVALID_KE_PAYLOAD).
pub fn ike_dh_groups(ours: &[IkeProposalSpec]) -> Vec<DhGroup> {
    let mut v = Vec::new();
    for g in ours.iter().flat_map(|s| s.dh.iter()) {
        if *g != DhGroup::NONE && !v.contains(g) {
            v.push(*g);
        }
    }
    v
}

/// Whether a group a responder asks for in INVALID_KE_PAYLOAD is one we offered (RFC 7296
/// 1.2/2.7: the initiator retries only with a group from its own proposals).
pub fn ike_dh_acceptable(ours: &[IkeProposalSpec], group: DhGroup) -> bool {
    group != DhGroup::NONE && ours.iter().any(|s| s.dh.contains(&group))
}

/// The Key Length of a transform: `Err` if it carries an attribute we do not understand or
/// more than one (RFC 7296 3.3.6: such a transform is unacceptable).
fn key_length(t: &Transform) -> Result<Option<u16>, ()> {
    let mut out = None;
    for a in &t.attributes {
        match a {
            Attribute::Tv { ty, value } if *ty == AttributeType::KEY_LENGTH.0 && out.is_none() => {
                out = Some(*value)
            }
            _ => return Err(()),
        }
    }
    Ok(out)
}

/// An offered proposal sorted by transform type, acceptable transforms only.
#[derive(Default)]
struct Offer {
    encr: Vec<(u16, Option<u16>)>,
    prf: Vec<u16>,
    integ: Vec<u16>,
    dh: Vec<u16>,
    esn: Vec<u16>,
    /// A DH transform type was present (even if none of its transforms was usable).
    has_dh: bool,
}

/// Sort a proposal of protocol `proto`; `None` if the whole proposal is unacceptable
/// (wrong protocol, bad SPI size, or a transform type not understood or not used by this
/// protocol, RFC 7296 3.3.3 and 3.3.6).
fn classify(p: &Proposal, proto: ProtocolId) -> Option<Offer> {
    if p.protocol != proto {
        return None;
    }
    let esp = proto == ProtocolId::ESP;
    let spi_ok = if esp {
        p.spi.len() == 4
    } else {
        p.spi.is_empty() || p.spi.len() == 8
    };
    if !spi_ok {
        return None;
    }
    let mut o = Offer::default();
    for t in &p.transforms {
        let kl = key_length(t);
        let list = match t.kind {
            TransformType::ENCR => {
                if let Ok(k) = kl {
                    o.encr.push((t.id, k));
                }
                continue;
            }
            TransformType::PRF if !esp => &mut o.prf,
            TransformType::INTEG => &mut o.integ,
            TransformType::DH => {
                o.has_dh = true;
                &mut o.dh
            }
            TransformType::ESN if esp => &mut o.esn,
            _ => return None,
        };
        // Only ENCR takes a Key Length (3.3.5); any attribute elsewhere is not understood.
        if kl == Ok(None) {
            list.push(t.id);
        }
    }
    Some(o)
}

/// Encryption and integrity: our order first; an AEAD cipher needs no integrity (RFC 5282 8).
fn pick_encr_integ(
    encr: &[(EncrId, Option<u16>)],
    integ: &[IntegId],
    t: &Offer,
) -> Option<(EncrId, Option<u16>, Option<IntegId>)> {
    for (e, k) in encr {
        if !t.encr.contains(&(e.0, *k)) {
            continue;
        }
        if is_aead(*e) {
            return Some((*e, *k, None));
        }
        if let Some(i) = integ
            .iter()
            .find(|i| **i != IntegId::NONE && t.integ.contains(&i.0))
        {
            return Some((*e, *k, Some(*i)));
        }
    }
    None
}

fn match_ike(o: &IkeProposalSpec, t: &Offer, ke: Option<DhGroup>) -> Option<IkeSuite> {
    let prf = *o.prf.iter().find(|p| t.prf.contains(&p.0))?;
    let usable = |g: &DhGroup| *g != DhGroup::NONE && o.dh.contains(g) && t.dh.contains(&g.0);
    let dh = match ke.filter(usable) {
        Some(g) => g,
        None => *o.dh.iter().find(|g| usable(g))?,
    };
    let (encr, key_bits, integ) = pick_encr_integ(&o.encr, &o.integ, t)?;
    Some(IkeSuite {
        encr,
        key_bits,
        prf,
        integ,
        dh,
    })
}

fn match_esp(
    o: &EspProposalSpec,
    t: &Offer,
    with_dh: bool,
    ke: Option<DhGroup>,
) -> Option<EspSuite> {
    // ESN is mandatory for ESP (RFC 7296 3.3.3): an offer without it is unacceptable.
    let our_esn: &[EsnId] = if o.esn.is_empty() {
        &[EsnId::NO_ESN]
    } else {
        &o.esn
    };
    let esn = *our_esn.iter().find(|e| t.esn.contains(&e.0))?;
    let dh = if with_dh {
        // No DH transform, or NONE, means "no PFS" on either side (3.3.3: DH optional).
        let ours: &[DhGroup] = if o.dh.is_empty() {
            &[DhGroup::NONE]
        } else {
            &o.dh
        };
        let none = [DhGroup::NONE.0];
        let theirs: &[u16] = if t.has_dh { &t.dh } else { &none };
        let usable = |g: &DhGroup| ours.contains(g) && theirs.contains(&g.0);
        let g = match ke.filter(usable) {
            Some(g) => g,
            None => *ours.iter().find(|g| usable(g))?,
        };
        Some(g).filter(|g| *g != DhGroup::NONE)
    } else {
        // IKE_AUTH carries no KE payload (RFC 7296 1.2): DH transforms are ignored.
        None
    };
    let (encr, key_bits, integ) = pick_encr_integ(&o.encr, &o.integ, t)?;
    Some(EspSuite {
        encr,
        key_bits,
        integ,
        dh,
        esn: esn == EsnId::ESN,
    })
}

fn ours_ike(ours: &[IkeProposalSpec]) -> String {
    let w: Vec<Proposal> = ours
        .iter()
        .enumerate()
        .map(|(i, s)| s.to_wire(wire_num(i)))
        .collect();
    describe(&w)
}

fn ours_esp(ours: &[EspProposalSpec], with_dh: bool) -> String {
    let w: Vec<Proposal> = ours
        .iter()
        .enumerate()
        .map(|(i, s)| s.to_wire(wire_num(i), 0, with_dh))
        .collect();
    describe(&w)
}

fn wire_num(i: usize) -> u8 {
    u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX)
}

/// Responder for IKE, preferring the DH group of the initiator's KE payload when our chosen
/// proposal allows it (saves an INVALID_KE_PAYLOAD round trip, RFC 7296 1.2).
pub fn select_ike_with_ke(
    ours: &[IkeProposalSpec],
    offered: &[Proposal],
    ke: Option<DhGroup>,
) -> Result<(u8, IkeSuite), ProposalError> {
    let offers: Vec<(u8, Offer)> = offered
        .iter()
        .filter_map(|p| classify(p, ProtocolId::IKE).map(|o| (p.num, o)))
        .collect();
    for o in ours {
        for (num, t) in &offers {
            if let Some(s) = match_ike(o, t, ke) {
                return Ok((*num, s));
            }
        }
    }
    Err(ProposalError::NoProposalChosen {
        ours: ours_ike(ours),
        theirs: describe(offered),
    })
}

/// Responder for ESP, preferring the PFS group of the initiator's KE payload (CREATE_CHILD_SA)
/// when our chosen proposal allows it.
pub fn select_esp_with_ke(
    ours: &[EspProposalSpec],
    offered: &[Proposal],
    with_dh: bool,
    ke: Option<DhGroup>,
) -> Result<(u8, EspSuite), ProposalError> {
    let offers: Vec<(u8, Offer)> = offered
        .iter()
        .filter_map(|p| classify(p, ProtocolId::ESP).map(|o| (p.num, o)))
        .collect();
    for o in ours {
        for (num, t) in &offers {
            if let Some(s) = match_esp(o, t, with_dh, ke) {
                return Ok((*num, s));
            }
        }
    }
    Err(ProposalError::NoProposalChosen {
        ours: ours_esp(ours, with_dh),
        theirs: describe(offered),
    })
}

/// RFC 7296 2.7/3.3.6: the accepted proposal holds exactly one transform of each type in use.
/// `limits` gives (type, min, max); any other type is an error.
fn check_counts(chosen: &Proposal, limits: &[(TransformType, usize, usize)]) -> Result<(), String> {
    for t in &chosen.transforms {
        if !limits.iter().any(|(k, _, _)| *k == t.kind) {
            return Err(format!("unexpected transform type {}", t.kind));
        }
    }
    for (kind, min, max) in limits {
        let n = chosen.transforms.iter().filter(|t| t.kind == *kind).count();
        if n < *min || n > *max {
            return Err(format!("{n} {kind} transforms, expected exactly one"));
        }
    }
    Ok(())
}

/// The responder chose AEAD but also returned a real integrity algorithm (RFC 5282 8).
fn aead_with_integ(chosen: &Proposal, encr: EncrId) -> bool {
    is_aead(encr)
        && chosen
            .transforms
            .iter()
            .any(|t| t.kind == TransformType::INTEG && t.id != IntegId::NONE.0)
}

pub(crate) fn accept_ike(
    ours: &[IkeProposalSpec],
    chosen: &Proposal,
) -> Result<IkeSuite, ProposalError> {
    let fail = |reason: &str| ProposalError::NoProposalChosen {
        ours: ours_ike(ours),
        theirs: format!("{} ({reason})", describe(core::slice::from_ref(chosen))),
    };
    check_counts(
        chosen,
        &[
            (TransformType::ENCR, 1, 1),
            (TransformType::PRF, 1, 1),
            (TransformType::INTEG, 0, 1),
            (TransformType::DH, 1, 1),
        ],
    )
    .map_err(|r| fail(&r))?;
    let offer =
        classify(chosen, ProtocolId::IKE).ok_or_else(|| fail("not a valid IKE proposal"))?;
    let suite = ours
        .iter()
        .find_map(|o| match_ike(o, &offer, None))
        .ok_or_else(|| fail("not among the proposals we sent"))?;
    if aead_with_integ(chosen, suite.encr) {
        return Err(fail("integrity algorithm with an AEAD cipher"));
    }
    Ok(suite)
}

pub(crate) fn accept_esp(
    ours: &[EspProposalSpec],
    chosen: &Proposal,
    with_dh: bool,
) -> Result<EspSuite, ProposalError> {
    let fail = |reason: &str| ProposalError::NoProposalChosen {
        ours: ours_esp(ours, with_dh),
        theirs: format!("{} ({reason})", describe(core::slice::from_ref(chosen))),
    };
    check_counts(
        chosen,
        &[
            (TransformType::ENCR, 1, 1),
            (TransformType::INTEG, 0, 1),
            (TransformType::DH, 0, 1),
            (TransformType::ESN, 1, 1),
        ],
    )
    .map_err(|r| fail(&r))?;
    let offer = classify(chosen, ProtocolId::ESP)
        .ok_or_else(|| fail("not a valid ESP proposal (protocol or 4-byte SPI)"))?;
    let suite = ours
        .iter()
        .find_map(|o| match_esp(o, &offer, with_dh, None))
        .ok_or_else(|| fail("not among the proposals we sent"))?;
    if aead_with_integ(chosen, suite.encr) {
        return Err(fail("integrity algorithm with an AEAD cipher"));
    }
    Ok(suite)
}
