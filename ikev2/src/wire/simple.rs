//! Payload bodies made of a small fixed part and opaque data: Key Exchange (RFC 7296 3.4),
//! Identification (3.5), Certificate / Certificate Request (3.6/3.7), Authentication (3.8).

use super::reader::{Reader, Writer};
use super::{
    AuthMethod, AuthPayload, CertPayload, DecodeError, DhGroup, IdType, Identification, KePayload,
};

/// 3.4: Diffie-Hellman Group Num (2), RESERVED (2), Key Exchange Data. Empty data is
/// rejected: no group has an empty public value.
pub(crate) fn decode_ke(body: &[u8]) -> Result<KePayload, DecodeError> {
    let mut r = Reader::new(body);
    let group = DhGroup(r.u16()?);
    r.skip(2)?;
    let data = r.rest();
    if data.is_empty() {
        return Err(DecodeError::Syntax("KE payload without key exchange data"));
    }
    Ok(KePayload {
        group,
        data: data.to_vec(),
    })
}

pub(crate) fn encode_ke(ke: &KePayload, out: &mut Vec<u8>) {
    out.put_u16(ke.group.0);
    out.put_u16(0);
    out.extend_from_slice(&ke.data);
}

/// 3.5: ID Type (1), RESERVED (3), Identification Data.
pub(crate) fn decode_id(body: &[u8]) -> Result<Identification, DecodeError> {
    let mut r = Reader::new(body);
    let id_type = IdType(r.u8()?);
    r.skip(3)?;
    Ok(Identification {
        id_type,
        data: r.rest().to_vec(),
    })
}

pub(crate) fn encode_id(id: &Identification, out: &mut Vec<u8>) {
    out.extend_from_slice(&super::id_payload_body(id));
}

/// 3.6/3.7: Cert Encoding (1), then data.
pub(crate) fn decode_cert(body: &[u8]) -> Result<CertPayload, DecodeError> {
    let mut r = Reader::new(body);
    let encoding = r.u8()?;
    Ok(CertPayload {
        encoding,
        data: r.rest().to_vec(),
    })
}

pub(crate) fn encode_cert(c: &CertPayload, out: &mut Vec<u8>) {
    out.push(c.encoding);
    out.extend_from_slice(&c.data);
}

/// 3.8: Auth Method (1), RESERVED (3), Authentication Data.
pub(crate) fn decode_auth(body: &[u8]) -> Result<AuthPayload, DecodeError> {
    let mut r = Reader::new(body);
    let method = AuthMethod(r.u8()?);
    r.skip(3)?;
    Ok(AuthPayload {
        method,
        data: r.rest().to_vec(),
    })
}

pub(crate) fn encode_auth(a: &AuthPayload, out: &mut Vec<u8>) {
    out.push(a.method.0);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&a.data);
}
