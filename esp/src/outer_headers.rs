//! In-place writers for the outer headers of a tunnel-mode ESP packet, for raw-socket use
//! and tests: IPv4 (RFC 791) or IPv6 (RFC 8200), optionally with the UDP header of
//! RFC 3948 UDP encapsulation. The gateway itself sends ESP on a UDP socket and needs none.

use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::Range;

/// IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;
/// UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// IKE/ESP NAT traversal port (RFC 3948 section 2.1, RFC 7296 section 2.23).
pub const NAT_T_PORT: u16 = 4500;
/// IP protocol number of ESP.
pub const IPPROTO_ESP: u8 = 50;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// What follows the outer IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuterTransport {
    /// ESP directly over IP (protocol 50).
    Esp,
    /// ESP in UDP (RFC 3948), normally both ports [`NAT_T_PORT`].
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
}

impl OuterTransport {
    /// Bytes between the IP header and the ESP packet.
    pub fn header_len(self) -> usize {
        match self {
            OuterTransport::Esp => 0,
            OuterTransport::Udp { .. } => UDP_HEADER_LEN,
        }
    }

    fn protocol(self) -> u8 {
        match self {
            OuterTransport::Esp => IPPROTO_ESP,
            OuterTransport::Udp { .. } => IPPROTO_UDP,
        }
    }
}

/// Why outer headers could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OuterError {
    /// The payload range lies outside the buffer.
    #[error("payload range lies outside the buffer")]
    BadRange,
    /// Not enough room in front of the payload.
    #[error("need {needed} bytes of headroom, have {available}")]
    NoHeadroom {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The datagram would exceed 65535 bytes.
    #[error("datagram too long for a 16-bit length field")]
    TooLong,
}

/// One's-complement sum (RFC 1071) of `data`, folded into `acc`.
fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [a, b] = c {
            acc = acc.wrapping_add(u32::from(u16::from_be_bytes([*a, *b])));
        }
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    acc
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts` (each but the last must
/// have even length).
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let acc = parts.iter().fold(0u32, |acc, p| sum(acc, p));
    !(acc as u16)
}

fn prepare(
    buf: &[u8],
    payload: &Range<usize>,
    ip_len: usize,
    transport: OuterTransport,
) -> Result<(usize, usize), OuterError> {
    if payload.start > payload.end || payload.end > buf.len() {
        return Err(OuterError::BadRange);
    }
    let needed = ip_len.wrapping_add(transport.header_len());
    let start = payload
        .start
        .checked_sub(needed)
        .ok_or(OuterError::NoHeadroom {
            needed,
            available: payload.start,
        })?;
    let after_ip = payload.end.wrapping_sub(start).wrapping_sub(ip_len);
    Ok((start, after_ip))
}

#[allow(clippy::indexing_slicing)] // constant indices into a fixed-size array
fn write_udp(udp: &mut [u8], transport: OuterTransport, len: u16) {
    if let (OuterTransport::Udp { src_port, dst_port }, Some(h)) =
        (transport, udp.get_mut(..UDP_HEADER_LEN))
    {
        let mut hdr = [0u8; UDP_HEADER_LEN];
        hdr[..2].copy_from_slice(&src_port.to_be_bytes());
        hdr[2..4].copy_from_slice(&dst_port.to_be_bytes());
        hdr[4..6].copy_from_slice(&len.to_be_bytes());
        h.copy_from_slice(&hdr);
    }
}

/// Writes an IPv4 header (no options, DF clear) and, for [`OuterTransport::Udp`], a UDP
/// header in front of `buf[payload]`. The UDP checksum is zero as RFC 3948 section 2.1
/// recommends for ESP in UDP over IPv4. Returns the datagram's range.
#[allow(clippy::indexing_slicing)] // constant indices into a fixed-size array
pub fn prepend_ipv4(
    buf: &mut [u8],
    payload: Range<usize>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    transport: OuterTransport,
    ttl: u8,
    identification: u16,
) -> Result<Range<usize>, OuterError> {
    let (start, after_ip) = prepare(buf, &payload, IPV4_HEADER_LEN, transport)?;
    let total =
        u16::try_from(after_ip.wrapping_add(IPV4_HEADER_LEN)).map_err(|_| OuterError::TooLong)?;
    let udp_len = after_ip as u16;
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&identification.to_be_bytes());
    h[8] = ttl;
    h[9] = transport.protocol();
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let csum = internet_checksum(&[&h]);
    h[10..12].copy_from_slice(&csum.to_be_bytes());
    let dgram = buf
        .get_mut(start..payload.end)
        .ok_or(OuterError::BadRange)?;
    let (ip, rest) = dgram.split_at_mut(IPV4_HEADER_LEN);
    ip.copy_from_slice(&h);
    write_udp(rest, transport, udp_len);
    Ok(start..payload.end)
}

/// Writes an IPv6 header and, for [`OuterTransport::Udp`], a UDP header with its mandatory
/// checksum (RFC 8200 section 8.1) in front of `buf[payload]`. Returns the datagram's range.
#[allow(clippy::indexing_slicing)] // constant indices into a fixed-size array
pub fn prepend_ipv6(
    buf: &mut [u8],
    payload: Range<usize>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    transport: OuterTransport,
    hop_limit: u8,
) -> Result<Range<usize>, OuterError> {
    let (start, after_ip) = prepare(buf, &payload, IPV6_HEADER_LEN, transport)?;
    let plen = u16::try_from(after_ip).map_err(|_| OuterError::TooLong)?;
    let mut h = [0u8; IPV6_HEADER_LEN];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&plen.to_be_bytes());
    h[6] = transport.protocol();
    h[7] = hop_limit;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    let dgram = buf
        .get_mut(start..payload.end)
        .ok_or(OuterError::BadRange)?;
    let (ip, rest) = dgram.split_at_mut(IPV6_HEADER_LEN);
    ip.copy_from_slice(&h);
    if let OuterTransport::Udp { .. } = transport {
        write_udp(rest, transport, plen);
        // Pseudo-header: src, dst, upper-layer length (32 bit), zeros, next header.
        let mut pseudo = [0u8; 40];
        pseudo[..32].copy_from_slice(&h[8..40]);
        pseudo[32..36].copy_from_slice(&u32::from(plen).to_be_bytes());
        pseudo[39] = IPPROTO_UDP;
        let csum = match internet_checksum(&[&pseudo, rest]) {
            0 => 0xffff,
            c => c,
        };
        if let Some(c) = rest.get_mut(6..8) {
            c.copy_from_slice(&csum.to_be_bytes());
        }
    }
    Ok(start..payload.end)
}
