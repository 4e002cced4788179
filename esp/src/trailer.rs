//! ESP trailer: padding, pad length and next header (RFC 4303 sections 2.4-2.6).

use crate::error::DecapError;

/// IANA protocol number for an IPv4 inner packet (tunnel mode).
pub const NEXT_HEADER_IPV4: u8 = 4;
/// IANA protocol number for an IPv6 inner packet (tunnel mode).
pub const NEXT_HEADER_IPV6: u8 = 41;
/// "No next header": a dummy packet (RFC 4303 section 2.6), dropped by the receiver.
pub const NEXT_HEADER_NONE: u8 = 59;

/// Next header written by the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHeader {
    /// The payload is an IPv4 packet.
    Ipv4,
    /// The payload is an IPv6 packet.
    Ipv6,
    /// A dummy (traffic flow confidentiality) packet, RFC 4303 section 2.6.
    NoNextHeader,
}

impl NextHeader {
    /// Protocol number carried in the trailer.
    pub fn value(self) -> u8 {
        match self {
            NextHeader::Ipv4 => NEXT_HEADER_IPV4,
            NextHeader::Ipv6 => NEXT_HEADER_IPV6,
            NextHeader::NoNextHeader => NEXT_HEADER_NONE,
        }
    }

    /// Parses a received next header; only tunnel-mode IP and 59 are valid here.
    pub fn from_value(v: u8) -> Option<Self> {
        match v {
            NEXT_HEADER_IPV4 => Some(NextHeader::Ipv4),
            NEXT_HEADER_IPV6 => Some(NextHeader::Ipv6),
            NEXT_HEADER_NONE => Some(NextHeader::NoNextHeader),
            _ => None,
        }
    }

    /// The next header of an inner packet judged by its IP version nibble.
    pub fn for_ip_packet(packet: &[u8]) -> Option<Self> {
        match packet.first().map(|b| b >> 4) {
            Some(4) => Some(NextHeader::Ipv4),
            Some(6) => Some(NextHeader::Ipv6),
            _ => None,
        }
    }
}

/// Fills `dst` (padding + 2 bytes) with padding 1, 2, 3, ... (RFC 4303 section 2.4), the pad
/// length and the next header.
pub(crate) fn write_trailer(dst: &mut [u8], next_header: u8) {
    let n = dst.len();
    let pad_len = n.saturating_sub(2);
    let (pad, tail) = dst.split_at_mut(pad_len);
    let mut v: u8 = 0;
    for b in pad.iter_mut() {
        v = v.wrapping_add(1);
        *b = v;
    }
    if let [pl, nh] = tail {
        *pl = u8::try_from(pad_len).unwrap_or(u8::MAX);
        *nh = next_header;
    }
}

/// Checks the trailer of a decrypted `payload + padding + pad len + next header` and returns
/// the inner length and the next header value.
pub(crate) fn parse_trailer(plain: &[u8]) -> Result<(usize, u8), DecapError> {
    let [rest @ .., pad_len, next_header] = plain else {
        return Err(DecapError::Truncated);
    };
    let pad_len = usize::from(*pad_len);
    let inner_len = rest
        .len()
        .checked_sub(pad_len)
        .ok_or(DecapError::BadPadding)?;
    let pad = rest.get(inner_len..).ok_or(DecapError::BadPadding)?;
    // Padding bytes must be 1, 2, 3, ... (RFC 4303 section 2.4: the receiver SHOULD check).
    let mut expected: u8 = 0;
    for &b in pad {
        expected = expected.wrapping_add(1);
        if b != expected {
            return Err(DecapError::BadPadding);
        }
    }
    Ok((inner_len, *next_header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trip() {
        let mut t = [0u8; 7];
        write_trailer(&mut t, 4);
        assert_eq!(t, [1, 2, 3, 4, 5, 5, 4]);
        let mut plain = vec![0xAA; 3];
        plain.extend_from_slice(&t);
        assert_eq!(parse_trailer(&plain), Ok((3, 4)));
        let mut t0 = [0u8; 2];
        write_trailer(&mut t0, 41);
        assert_eq!(t0, [0, 41]);
        assert_eq!(parse_trailer(&t0), Ok((0, 41)));
    }

    #[test]
    fn bad_trailers() {
        assert_eq!(parse_trailer(&[4]), Err(DecapError::Truncated));
        assert_eq!(parse_trailer(&[]), Err(DecapError::Truncated));
        assert_eq!(parse_trailer(&[1, 2, 3, 4]), Err(DecapError::BadPadding));
        assert_eq!(parse_trailer(&[9, 1, 3, 2, 4]), Err(DecapError::BadPadding));
        assert_eq!(parse_trailer(&[9, 1, 2, 2, 4]), Ok((1, 4)));
    }

    #[test]
    fn next_header_values() {
        assert_eq!(NextHeader::from_value(4), Some(NextHeader::Ipv4));
        assert_eq!(NextHeader::from_value(41), Some(NextHeader::Ipv6));
        assert_eq!(NextHeader::from_value(59), Some(NextHeader::NoNextHeader));
        assert_eq!(NextHeader::from_value(17), None);
        assert_eq!(NextHeader::for_ip_packet(&[0x45]), Some(NextHeader::Ipv4));
        assert_eq!(NextHeader::for_ip_packet(&[0x60]), Some(NextHeader::Ipv6));
        assert_eq!(NextHeader::for_ip_packet(&[]), None);
    }
}
