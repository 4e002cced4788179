//! The generic payload header (RFC 7296 3.2) and the payload chain it links.
//!
//! ```text
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! ```
//!
//! Each header names the type of the *next* payload; the first type comes from the IKE
//! header (or, for an SK payload's content, from the SK payload's own Next Payload field).

use super::reader::{Reader, Writer};
use super::{encrypted, notify, sa, simple, ts};
use super::{DecodeError, Payload, PayloadType};

/// Most payloads accepted in one chain. Real messages carry well under 20 (IKE_AUTH with
/// certificates and notifies); the cap bounds work per datagram.
pub const MAX_PAYLOADS: usize = 64;

/// 3.2: the Critical bit; the other seven bits are RESERVED and ignored.
const CRITICAL: u8 = 0x80;
const GENERIC_HEADER_LEN: usize = 4;

impl Payload {
    /// The payload type that names this payload in the previous header's Next Payload field.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertReq(_) => PayloadType::CERTREQ,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Sk(_) => PayloadType::SK,
            Payload::Skf(_) => PayloadType::SKF,
            Payload::Unknown { kind, .. } => *kind,
        }
    }
}

/// Where a chain is being decoded: the outer message may end with SK/SKF; the content of
/// a decrypted SK may not contain another (RFC 7296 3.14 has no nesting).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Outer,
    Inner,
}

/// Decode the chain starting with type `first`; it must end exactly at the end of `bytes`.
pub(crate) fn decode(
    first: PayloadType,
    bytes: &[u8],
    ctx: Context,
) -> Result<Vec<Payload>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut kind = first;
    let mut out = Vec::new();
    while kind != PayloadType::NONE {
        if out.len() == MAX_PAYLOADS {
            return Err(DecodeError::TooMany(MAX_PAYLOADS));
        }
        let next = PayloadType(r.u8()?);
        let critical = r.u8()? & CRITICAL != 0;
        let len = usize::from(r.u16()?);
        let body = r.sub(len, GENERIC_HEADER_LEN, "payload length")?.rest();
        let payload = decode_body(kind, next, critical, body)?;
        if matches!(payload, Payload::Sk(_) | Payload::Skf(_)) {
            if ctx == Context::Inner {
                return Err(DecodeError::Syntax("SK payload nested inside SK"));
            }
            // 3.14: "the Encrypted payload ... MUST be the last payload in the message";
            // RFC 7383 2.5 likewise for SKF. Its Next Payload is the first inner type.
            if !r.is_empty() {
                return Err(DecodeError::Syntax("SK payload is not the last payload"));
            }
            out.push(payload);
            return Ok(out);
        }
        out.push(payload);
        kind = next;
    }
    r.finish()?;
    Ok(out)
}

fn decode_body(
    kind: PayloadType,
    next: PayloadType,
    critical: bool,
    body: &[u8],
) -> Result<Payload, DecodeError> {
    Ok(match kind {
        PayloadType::SA => Payload::Sa(sa::decode(body)?),
        PayloadType::KE => Payload::Ke(simple::decode_ke(body)?),
        PayloadType::IDI => Payload::IdI(simple::decode_id(body)?),
        PayloadType::IDR => Payload::IdR(simple::decode_id(body)?),
        PayloadType::CERT => Payload::Cert(simple::decode_cert(body)?),
        PayloadType::CERTREQ => Payload::CertReq(simple::decode_cert(body)?),
        PayloadType::AUTH => Payload::Auth(simple::decode_auth(body)?),
        PayloadType::NONCE => Payload::Nonce(body.to_vec()),
        PayloadType::NOTIFY => Payload::Notify(notify::decode_notify(body)?),
        PayloadType::DELETE => Payload::Delete(notify::decode_delete(body)?),
        PayloadType::VENDOR_ID => Payload::VendorId(body.to_vec()),
        PayloadType::TSI => Payload::TsI(ts::decode(body)?),
        PayloadType::TSR => Payload::TsR(ts::decode(body)?),
        PayloadType::CP => Payload::Cp(body.to_vec()),
        PayloadType::SK => Payload::Sk(encrypted::decode_sk(next, body)),
        PayloadType::SKF => Payload::Skf(encrypted::decode_skf(next, body)?),
        // 3.2: a type we do not understand is kept with its critical bit; the state machine
        // skips it or answers UNSUPPORTED_CRITICAL_PAYLOAD.
        kind => Payload::Unknown {
            kind,
            critical,
            body: body.to_vec(),
        },
    })
}

/// Append the chain; returns the type of the first payload (NONE if empty). Each generic
/// header's Next Payload is the following payload's type (NONE after the last), except for
/// SK/SKF, whose Next Payload is their `first_inner`: they belong last.
pub(crate) fn encode(payloads: &[Payload], out: &mut Vec<u8>) -> PayloadType {
    for (i, p) in payloads.iter().enumerate() {
        let next = match p {
            Payload::Sk(sk) => sk.first_inner,
            Payload::Skf(f) => f.first_inner,
            _ => payloads
                .get(i.saturating_add(1))
                .map_or(PayloadType::NONE, Payload::payload_type),
        };
        let start = out.len();
        out.push(next.0);
        out.push(match p {
            Payload::Unknown { critical: true, .. } => CRITICAL,
            _ => 0,
        });
        let len_at = out.len16_placeholder();
        encode_body(p, out);
        out.patch_len16(len_at, start);
    }
    payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type)
}

fn encode_body(p: &Payload, out: &mut Vec<u8>) {
    match p {
        Payload::Sa(s) => sa::encode(s, out),
        Payload::Ke(k) => simple::encode_ke(k, out),
        Payload::IdI(id) | Payload::IdR(id) => simple::encode_id(id, out),
        Payload::Cert(c) | Payload::CertReq(c) => simple::encode_cert(c, out),
        Payload::Auth(a) => simple::encode_auth(a, out),
        Payload::Nonce(b) | Payload::VendorId(b) | Payload::Cp(b) => out.extend_from_slice(b),
        Payload::Notify(n) => notify::encode_notify(n, out),
        Payload::Delete(d) => notify::encode_delete(d, out),
        Payload::TsI(t) | Payload::TsR(t) => ts::encode(t, out),
        Payload::Sk(sk) => out.extend_from_slice(&sk.body),
        Payload::Skf(f) => encrypted::encode_skf(f, out),
        Payload::Unknown { body, .. } => out.extend_from_slice(body),
    }
}
