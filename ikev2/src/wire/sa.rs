//! Security Association payload body (RFC 7296 3.3): proposals (3.3.1), transforms (3.3.2)
//! and transform attributes (3.3.5). Each substructure's length is checked exactly against
//! its parent, and the last/more flags and transform counts against what is present.

use super::reader::{Reader, Writer};
use super::{Attribute, DecodeError, Proposal, ProtocolId, SaPayload, Transform, TransformType};

/// 3.3.1 "Last Substruc": 0 for the last proposal, 2 if more follow.
const PROPOSAL_MORE: u8 = 2;
/// 3.3.2 "Last Substruc": 0 for the last transform, 3 if more follow.
const TRANSFORM_MORE: u8 = 3;
const LAST: u8 = 0;
/// 3.3.5: Attribute Format bit; set = TV (2-byte value), clear = TLV.
const AF_BIT: u16 = 0x8000;

pub(crate) fn decode(body: &[u8]) -> Result<SaPayload, DecodeError> {
    let mut r = Reader::new(body);
    if r.is_empty() {
        // 3.3: "one or more Proposal substructures".
        return Err(DecodeError::Syntax("SA payload without proposals"));
    }
    let mut proposals = Vec::new();
    loop {
        let (more, p) = decode_proposal(&mut r)?;
        proposals.push(p);
        match (more, r.is_empty()) {
            (LAST, true) => break,
            (PROPOSAL_MORE, false) => continue,
            (LAST, false) => return Err(DecodeError::TrailingBytes(r.left())),
            (PROPOSAL_MORE, true) => {
                return Err(DecodeError::Syntax(
                    "proposal says more follow but none does",
                ))
            }
            _ => return Err(DecodeError::Syntax("bad proposal Last Substruc value")),
        }
    }
    Ok(SaPayload { proposals })
}

/// One proposal substructure (3.3.1); returns its Last Substruc value with it.
fn decode_proposal(r: &mut Reader<'_>) -> Result<(u8, Proposal), DecodeError> {
    let more = r.u8()?;
    r.skip(1)?;
    let len = usize::from(r.u16()?);
    if len < 8 {
        return Err(DecodeError::BadLength {
            field: "proposal length",
            value: len,
        });
    }
    let mut p = r.sub(len, 4, "proposal length")?;
    let num = p.u8()?;
    let protocol = ProtocolId(p.u8()?);
    let spi_size = usize::from(p.u8()?);
    let count = usize::from(p.u8()?);
    let spi = p.take(spi_size)?.to_vec();
    let mut transforms = Vec::new();
    while !p.is_empty() {
        if transforms.len() == count {
            return Err(DecodeError::Syntax(
                "more transforms than the proposal's count",
            ));
        }
        let (t_more, t) = decode_transform(&mut p)?;
        transforms.push(t);
        let is_last = transforms.len() == count;
        match (t_more, is_last) {
            (LAST, true) | (TRANSFORM_MORE, false) => {}
            _ => {
                return Err(DecodeError::Syntax(
                    "transform Last Substruc disagrees with count",
                ))
            }
        }
    }
    if transforms.len() != count {
        return Err(DecodeError::Syntax(
            "fewer transforms than the proposal's count",
        ));
    }
    Ok((
        more,
        Proposal {
            num,
            protocol,
            spi,
            transforms,
        },
    ))
}

/// One transform substructure (3.3.2); returns its Last Substruc value with it.
fn decode_transform(r: &mut Reader<'_>) -> Result<(u8, Transform), DecodeError> {
    let more = r.u8()?;
    r.skip(1)?;
    let len = usize::from(r.u16()?);
    if len < 8 {
        return Err(DecodeError::BadLength {
            field: "transform length",
            value: len,
        });
    }
    let mut t = r.sub(len, 4, "transform length")?;
    let kind = TransformType(t.u8()?);
    t.skip(1)?;
    let id = t.u16()?;
    let mut attributes = Vec::new();
    while !t.is_empty() {
        attributes.push(decode_attribute(&mut t)?);
    }
    Ok((
        more,
        Transform {
            kind,
            id,
            attributes,
        },
    ))
}

/// One data attribute (3.3.5).
fn decode_attribute(r: &mut Reader<'_>) -> Result<Attribute, DecodeError> {
    let af_type = r.u16()?;
    let ty = af_type & !AF_BIT;
    if af_type & AF_BIT != 0 {
        Ok(Attribute::Tv {
            ty,
            value: r.u16()?,
        })
    } else {
        let len = usize::from(r.u16()?);
        let value = r.sub(len, 0, "attribute length")?.rest().to_vec();
        Ok(Attribute::Tlv { ty, value })
    }
}

/// Append the SA payload body. Last/more flags, lengths, SPI sizes and transform counts are
/// computed. Preconditions (a Repr the decoder could have produced): SPI at most 255 bytes,
/// at most 255 transforms per proposal, attribute types below 0x8000.
pub(crate) fn encode(sa: &SaPayload, out: &mut Vec<u8>) {
    let n = sa.proposals.len();
    for (i, p) in sa.proposals.iter().enumerate() {
        let start = out.len();
        out.push(if i.saturating_add(1) == n {
            LAST
        } else {
            PROPOSAL_MORE
        });
        out.push(0);
        let len_at = out.len16_placeholder();
        out.push(p.num);
        out.push(p.protocol.0);
        out.push(p.spi.len() as u8);
        out.push(p.transforms.len() as u8);
        out.extend_from_slice(&p.spi);
        let m = p.transforms.len();
        for (j, t) in p.transforms.iter().enumerate() {
            encode_transform(t, j.saturating_add(1) == m, out);
        }
        out.patch_len16(len_at, start);
    }
}

fn encode_transform(t: &Transform, last: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(if last { LAST } else { TRANSFORM_MORE });
    out.push(0);
    let len_at = out.len16_placeholder();
    out.push(t.kind.0);
    out.push(0);
    out.put_u16(t.id);
    for a in &t.attributes {
        match a {
            Attribute::Tv { ty, value } => {
                out.put_u16(AF_BIT | ty);
                out.put_u16(*value);
            }
            Attribute::Tlv { ty, value } => {
                out.put_u16(ty & !AF_BIT);
                out.put_u16(value.len() as u16);
                out.extend_from_slice(value);
            }
        }
    }
    out.patch_len16(len_at, start);
}
