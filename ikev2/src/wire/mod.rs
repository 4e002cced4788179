//! The IKEv2 wire codec (RFC 7296 section 3).
//!
//! `ids` holds the IANA registries as open enums; `payload` the typed message; the other
//! modules decode bytes into those types (checking every length once, never panicking,
//! allocating at most in proportion to the input) and encode them back.

mod chain;
mod encrypted;
mod header;
pub mod ids;
mod notify;
pub mod payload;
mod reader;
mod sa;
mod simple;
mod ts;

#[cfg(test)]
mod tests;

pub use chain::MAX_PAYLOADS;

pub use ids::*;
pub use payload::*;

/// Why a datagram could not be decoded. Each maps to the RFC's reaction (drop, or
/// INVALID_SYNTAX / UNSUPPORTED_CRITICAL_PAYLOAD once authenticated).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    #[error("length field {field} says {value}, which does not fit")]
    BadLength { field: &'static str, value: usize },
    #[error("unsupported major version {0:#x}")]
    Version(u8),
    #[error("invalid syntax: {0}")]
    Syntax(&'static str),
    #[error("{0} trailing bytes after the payload chain")]
    TrailingBytes(usize),
    #[error("too many payloads (limit {0})")]
    TooMany(usize),
}

/// Decode a complete IKE message (header and payload chain). The header's length must equal
/// `bytes.len()`. SK/SKF payloads are returned sealed and must be the last payload.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    let header = header::decode(bytes)?;
    // RFC 7296 3.1: Length is the "total message (header + payloads)" in octets.
    if header.length as usize != bytes.len() {
        return Err(DecodeError::BadLength {
            field: "IKE header length",
            value: header.length as usize,
        });
    }
    let body = bytes.get(Header::LEN..).unwrap_or(&[]);
    let payloads = chain::decode(header.next_payload, body, chain::Context::Outer)?;
    Ok(Message { header, payloads })
}

/// Decode only the fixed header (for SPI lookup before anything else is parsed).
///
/// `bytes` may be the whole datagram or just its first 28 bytes: the length field is checked
/// only to be at least 28 here, and against the datagram by `decode_message`. A major version
/// other than 2 gives `DecodeError::Version` (answered with INVALID_MAJOR_VERSION, 3.1).
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    header::decode(bytes)
}

/// Decode a payload chain starting with payload type `first` (e.g. the decrypted content
/// of an SK payload). The chain must end exactly at the end of `bytes`.
///
/// SK and SKF payloads are refused here: they cannot nest (RFC 7296 3.14).
pub fn decode_payloads(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, DecodeError> {
    chain::decode(first, bytes, chain::Context::Inner)
}

/// Encode a payload chain; returns the type of the first payload (NONE if empty) and the
/// bytes, with each generic header's next-payload and length filled in.
///
/// The encoder trusts its input to be a Repr the decoder could produce (e.g. SK/SKF only
/// last, lengths that fit their 8/16-bit fields, TS addresses of their type's family).
pub fn encode_payloads(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let mut out = Vec::new();
    let first = chain::encode(payloads, &mut out);
    (first, out)
}

/// Encode a whole message. `header.next_payload` and `header.length` are computed, not taken
/// from the input.
pub fn encode_message(message: &Message) -> Vec<u8> {
    let (first, body) = encode_payloads(&message.payloads);
    // A message never comes near 4 GiB (UDP datagrams are at most 64 KiB).
    let length = body.len().saturating_add(Header::LEN);
    let mut out = Vec::with_capacity(length);
    let wire_length = u32::try_from(length).unwrap_or(u32::MAX);
    header::encode(&message.header, first, wire_length, &mut out);
    out.extend_from_slice(&body);
    out
}

/// The body of an ID payload as the AUTH computation signs it (RFC 7296 2.15:
/// "RestOfInitIDPayload": ID type, three reserved bytes, identification data).
pub fn id_payload_body(id: &Identification) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.data.len().saturating_add(4));
    v.push(id.id_type.0);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&id.data);
    v
}
