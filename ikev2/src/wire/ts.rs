//! Traffic Selector payload body (RFC 7296 3.13) and selectors (3.13.1).
//!
//! ```text
//! | Number of TSs |                 RESERVED                      |
//! |   TS Type     |IP Protocol ID*|       Selector Length         |
//! |           Start Port*         |           End Port*           |
//! ~                         Starting Address*                     ~
//! ~                         Ending Address*                       ~
//! ```

use super::reader::{Reader, Writer};
use super::{DecodeError, TrafficSelector, TsType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// 3.13.1: selector length for TS_IPV4_ADDR_RANGE (8 + 2 * 4).
const V4_LEN: usize = 16;
/// 3.13.1: selector length for TS_IPV6_ADDR_RANGE (8 + 2 * 16).
const V6_LEN: usize = 40;

pub(crate) fn decode(body: &[u8]) -> Result<Vec<TrafficSelector>, DecodeError> {
    let mut r = Reader::new(body);
    let count = r.u8()?;
    r.skip(3)?;
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(decode_selector(&mut r)?);
    }
    r.finish()?;
    Ok(out)
}

fn decode_selector(r: &mut Reader<'_>) -> Result<TrafficSelector, DecodeError> {
    let ts_type = TsType(r.u8()?);
    let ip_protocol = r.u8()?;
    let len = usize::from(r.u16()?);
    let want = match ts_type {
        TsType::IPV4_ADDR_RANGE => V4_LEN,
        TsType::IPV6_ADDR_RANGE => V6_LEN,
        _ => return Err(DecodeError::Syntax("unknown traffic selector type")),
    };
    if len != want {
        return Err(DecodeError::BadLength {
            field: "selector length",
            value: len,
        });
    }
    let mut s = r.sub(len, 4, "selector length")?;
    let start_port = s.u16()?;
    let end_port = s.u16()?;
    let (start, end) = if want == V4_LEN {
        let a: [u8; 4] = s.array()?;
        let b: [u8; 4] = s.array()?;
        (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))
    } else {
        let a: [u8; 16] = s.array()?;
        let b: [u8; 16] = s.array()?;
        (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)))
    };
    s.finish()?;
    Ok(TrafficSelector {
        ts_type,
        ip_protocol,
        start_port,
        end_port,
        start,
        end,
    })
}

/// Append a TS payload body. Precondition: at most 255 selectors, and each selector's
/// addresses are of the family its `ts_type` names (the selector length is computed from the
/// addresses written, so a mismatch does not decode).
pub(crate) fn encode(ts: &[TrafficSelector], out: &mut Vec<u8>) {
    out.push(ts.len() as u8);
    out.extend_from_slice(&[0, 0, 0]);
    for t in ts {
        let start = out.len();
        out.push(t.ts_type.0);
        out.push(t.ip_protocol);
        let len_at = out.len16_placeholder();
        out.put_u16(t.start_port);
        out.put_u16(t.end_port);
        for a in [t.start, t.end] {
            match a {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        out.patch_len16(len_at, start);
    }
}
