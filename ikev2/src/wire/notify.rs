//! Notify (RFC 7296 3.10) and Delete (3.11) payload bodies.

use super::reader::{Reader, Writer};
use super::{DecodeError, Delete, Notify, NotifyType, ProtocolId};

/// 3.10: Protocol ID, SPI Size, Notify Message Type, SPI, Notification Data.
pub(crate) fn decode_notify(body: &[u8]) -> Result<Notify, DecodeError> {
    let mut r = Reader::new(body);
    let protocol = ProtocolId(r.u8()?);
    let spi_size = usize::from(r.u8()?);
    let kind = NotifyType(r.u16()?);
    let spi = r.take(spi_size)?.to_vec();
    let data = r.rest().to_vec();
    Ok(Notify {
        protocol,
        spi,
        kind,
        data,
    })
}

/// Precondition: SPI at most 255 bytes.
pub(crate) fn encode_notify(n: &Notify, out: &mut Vec<u8>) {
    out.push(n.protocol.0);
    out.push(n.spi.len() as u8);
    out.put_u16(n.kind.0);
    out.extend_from_slice(&n.spi);
    out.extend_from_slice(&n.data);
}

/// 3.11: Protocol ID, SPI Size, Num of SPIs, then the SPIs, which must fill the rest of the
/// payload exactly. An SPI size of zero (IKE SA) must come with zero SPIs: otherwise a tiny
/// payload could claim 65535 empty SPIs.
pub(crate) fn decode_delete(body: &[u8]) -> Result<Delete, DecodeError> {
    let mut r = Reader::new(body);
    let protocol = ProtocolId(r.u8()?);
    let spi_size = r.u8()?;
    let count = usize::from(r.u16()?);
    if spi_size == 0 && count != 0 {
        return Err(DecodeError::Syntax("delete with SPI size 0 lists SPIs"));
    }
    let size = usize::from(spi_size);
    if count.checked_mul(size) != Some(r.left()) {
        return Err(DecodeError::BadLength {
            field: "number of SPIs",
            value: count,
        });
    }
    let mut spis = Vec::with_capacity(count);
    for _ in 0..count {
        spis.push(r.take(size)?.to_vec());
    }
    r.finish()?;
    Ok(Delete {
        protocol,
        spi_size,
        spis,
    })
}

/// Precondition: every SPI is `spi_size` bytes, at most 65535 of them.
pub(crate) fn encode_delete(d: &Delete, out: &mut Vec<u8>) {
    out.push(d.protocol.0);
    out.push(d.spi_size);
    out.put_u16(d.spis.len() as u16);
    for s in &d.spis {
        out.extend_from_slice(s);
    }
}
