//! Typed IKEv2 message and payloads (RFC 7296 section 3), without the codec.
//!
//! These are the `Repr` structs: what a message says, independent of byte layout. The codec in
//! the sibling modules turns bytes into these (checking every length once) and back.

use super::ids::*;
use std::net::IpAddr;

/// Header flags (RFC 7296 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const INITIATOR: u8 = 0x08;
    pub const VERSION: u8 = 0x10;
    pub const RESPONSE: u8 = 0x20;
    pub fn initiator(self) -> bool {
        self.0 & Self::INITIATOR != 0
    }
    pub fn response(self) -> bool {
        self.0 & Self::RESPONSE != 0
    }
}

/// The fixed IKE header (RFC 7296 3.1). `length` is the whole message; the encoder computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub spi_i: u64,
    pub spi_r: u64,
    pub next_payload: PayloadType,
    /// Major version in the high nibble, minor in the low nibble (0x20 for IKEv2).
    pub version: u8,
    pub exchange: ExchangeType,
    pub flags: Flags,
    pub message_id: u32,
    pub length: u32,
}

impl Header {
    pub const LEN: usize = 28;
    pub const VERSION_2_0: u8 = 0x20;
}

/// A whole IKE message: header plus the payload chain as decoded (the SK payload, if any, is
/// last and still encrypted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<Payload>,
}

/// One payload of the chain. The generic payload header (next payload, critical bit, length)
/// is implied by the position in the chain and computed by the encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Sa(SaPayload),
    Ke(KePayload),
    IdI(Identification),
    IdR(Identification),
    Cert(CertPayload),
    CertReq(CertPayload),
    Auth(AuthPayload),
    Nonce(Vec<u8>),
    Notify(Notify),
    Delete(Delete),
    VendorId(Vec<u8>),
    TsI(Vec<TrafficSelector>),
    TsR(Vec<TrafficSelector>),
    Cp(Vec<u8>),
    Sk(Encrypted),
    Skf(EncryptedFragment),
    /// A payload type we do not implement. `critical` is the generic header's critical bit.
    Unknown {
        kind: PayloadType,
        critical: bool,
        body: Vec<u8>,
    },
}

/// Security Association payload (RFC 7296 3.3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SaPayload {
    pub proposals: Vec<Proposal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// 1-based proposal number.
    pub num: u8,
    pub protocol: ProtocolId,
    /// Empty for IKE_SA_INIT, 8 bytes for an IKE rekey, 4 bytes for ESP.
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    pub kind: TransformType,
    /// Interpreted per `kind` (EncrId, PrfId, IntegId, DhGroup, EsnId).
    pub id: u16,
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// The Key Length attribute in bits, if present (RFC 7296 3.3.5).
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Tv { ty, value } if *ty == AttributeType::KEY_LENGTH.0 => Some(*value),
            _ => None,
        })
    }
}

/// Transform attribute (RFC 7296 3.3.5): TV (AF=1) or TLV (AF=0) format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribute {
    Tv { ty: u16, value: u16 },
    Tlv { ty: u16, value: Vec<u8> },
}

/// Key Exchange payload (RFC 7296 3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KePayload {
    pub group: DhGroup,
    pub data: Vec<u8>,
}

/// Identification payload body (RFC 7296 3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identification {
    pub id_type: IdType,
    pub data: Vec<u8>,
}

/// Certificate or certificate request (RFC 7296 3.6/3.7): tolerated, not used for PSK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPayload {
    pub encoding: u8,
    pub data: Vec<u8>,
}

/// Authentication payload (RFC 7296 3.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPayload {
    pub method: AuthMethod,
    pub data: Vec<u8>,
}

/// Notify payload (RFC 7296 3.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub kind: NotifyType,
    pub data: Vec<u8>,
}

/// Delete payload (RFC 7296 3.11). For IKE the SPI size is 0 and `spis` is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    pub protocol: ProtocolId,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

/// One traffic selector (RFC 7296 3.13.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    pub ts_type: TsType,
    /// 0 = any protocol.
    pub ip_protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start: IpAddr,
    pub end: IpAddr,
}

/// Encrypted and Authenticated payload (RFC 7296 3.14): still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted {
    /// The generic header's Next Payload: type of the first payload inside.
    pub first_inner: PayloadType,
    /// IV || ciphertext || ICV.
    pub body: Vec<u8>,
}

/// Encrypted Fragment payload (RFC 7383 2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedFragment {
    /// Non-zero only in fragment number 1.
    pub first_inner: PayloadType,
    pub fragment_number: u16,
    pub total_fragments: u16,
    /// IV || ciphertext || ICV.
    pub body: Vec<u8>,
}
