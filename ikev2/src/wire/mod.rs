//! The IKEv2 wire codec (RFC 7296 section 3).
//!
//! `ids` holds the IANA registries as open enums; `payload` the typed message; the other
//! modules decode bytes into those types (checking every length once, never panicking,
//! allocating at most in proportion to the input) and encode them back.

pub mod ids;
pub mod payload;

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
    let _ = bytes;
    todo!("wire codec")
}

/// Decode only the fixed header (for SPI lookup before anything else is parsed).
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let _ = bytes;
    todo!("wire codec")
}

/// Decode a payload chain starting with payload type `first` (e.g. the decrypted content
/// of an SK payload). The chain must end exactly at the end of `bytes`.
pub fn decode_payloads(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, DecodeError> {
    let _ = (first, bytes);
    todo!("wire codec")
}

/// Encode a payload chain; returns the type of the first payload (NONE if empty) and the
/// bytes, with each generic header's next-payload and length filled in.
pub fn encode_payloads(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let _ = payloads;
    todo!("wire codec")
}

/// Encode a whole message. `header.next_payload` and `header.length` are computed, not taken
/// from the input.
pub fn encode_message(message: &Message) -> Vec<u8> {
    let _ = message;
    todo!("wire codec")
}

/// The body of an ID payload as the AUTH computation signs it (RFC 7296 2.15:
/// "RestOfInitIDPayload": ID type, three reserved bytes, identification data).
pub fn id_payload_body(id: &Identification) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + id.data.len());
    v.push(id.id_type.0);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&id.data);
    v
}
