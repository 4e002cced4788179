//! The fixed IKE header (RFC 7296 3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Message ID                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Length                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::reader::{Reader, Writer};
use super::{DecodeError, ExchangeType, Flags, Header, PayloadType};

/// Decode the 28-byte header at the start of `bytes` (which may continue with payloads).
///
/// Checks, in this order: at least 28 bytes; major version 2 (RFC 7296 3.1: a higher major
/// version is answered with INVALID_MAJOR_VERSION, so it is reported as `Version`); the
/// length field at least the header length. Matching the length against the datagram is
/// `decode_message`'s job.
pub(crate) fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
    let mut r = Reader::new(bytes);
    let fixed = r.take(Header::LEN).map_err(|_| DecodeError::Truncated {
        need: Header::LEN,
        have: bytes.len(),
    })?;
    let mut r = Reader::new(fixed);
    let spi_i = r.u64()?;
    let spi_r = r.u64()?;
    let next_payload = PayloadType(r.u8()?);
    let version = r.u8()?;
    let exchange = ExchangeType(r.u8()?);
    let flags = Flags(r.u8()?);
    let message_id = r.u32()?;
    let length = r.u32()?;
    if version >> 4 != 2 {
        return Err(DecodeError::Version(version));
    }
    if (length as usize) < Header::LEN {
        return Err(DecodeError::BadLength {
            field: "IKE header length",
            value: length as usize,
        });
    }
    Ok(Header {
        spi_i,
        spi_r,
        next_payload,
        version,
        exchange,
        flags,
        message_id,
        length,
    })
}

/// Append the header with the given next payload and total length (both computed by the
/// caller, not taken from `h`).
pub(crate) fn encode(h: &Header, next_payload: PayloadType, length: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&h.spi_i.to_be_bytes());
    out.extend_from_slice(&h.spi_r.to_be_bytes());
    out.push(next_payload.0);
    out.push(h.version);
    out.push(h.exchange.0);
    out.push(h.flags.0);
    out.put_u32(h.message_id);
    out.put_u32(length);
}
