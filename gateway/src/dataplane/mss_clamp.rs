//! TCP MSS clamping on SYN and SYN-ACK segments crossing the tunnel, in place, with an
//! incremental checksum update (RFC 1624) so a corrupt checksum stays corrupt.

use etherparse::{IpNumber, IpSlice};

use super::checksum;
use super::inner_shape::{inner_shape, InnerShape};

const TCP_OPT_END: u8 = 0;
const TCP_OPT_NOP: u8 = 1;
const TCP_OPT_MSS: u8 = 2;
const TCP_FLAG_SYN: u8 = 0x02;

/// The largest MSS for TCP inside a tunnel whose inner MTU is `tunnel_mtu`
/// (minus 20 bytes of TCP header and 20 of IPv4 or 40 of IPv6).
pub fn mss_for_mtu(tunnel_mtu: u16, ipv6: bool) -> u16 {
    tunnel_mtu.saturating_sub(if ipv6 { 60 } else { 40 })
}

/// Lowers the MSS option of a TCP SYN (or SYN-ACK) in `packet` (an IPv4 or IPv6 packet) to
/// `max_mss` if it is larger, fixing the TCP checksum. Returns true if the packet changed.
/// Anything that is not an unfragmented, well-formed TCP SYN is left alone.
pub fn clamp_mss(packet: &mut [u8], max_mss: u16) -> bool {
    let Some(tcp_offset) = tcp_header_offset(packet) else {
        return false;
    };
    let Some(tcp) = packet.get_mut(tcp_offset..) else {
        return false;
    };
    clamp_in_tcp_header(tcp, tcp_offset % 2 == 1, max_mss)
}

/// Offset of the TCP header if `packet` is an unfragmented IPv4/IPv6 TCP packet.
fn tcp_header_offset(packet: &[u8]) -> Option<usize> {
    match inner_shape(packet) {
        InnerShape::Tcp { l4, .. } => Some(l4),
        InnerShape::NotTcp => None,
        InnerShape::Other => tcp_header_offset_parsed(packet),
    }
}

/// [`tcp_header_offset`] of the less common shapes (IPv4 options, IPv6 extension headers).
fn tcp_header_offset_parsed(packet: &[u8]) -> Option<usize> {
    let ip = IpSlice::from_slice(packet).ok()?;
    let payload = ip.payload();
    if payload.ip_number != IpNumber::TCP || payload.fragmented {
        return None;
    }
    // The payload is a sub-slice of `packet`: its distance from the start is the offset.
    let offset = (payload.payload.as_ptr() as usize).checked_sub(packet.as_ptr() as usize)?;
    (offset <= packet.len()).then_some(offset)
}

/// `odd`: the TCP header starts at an odd offset from the start of the checksummed data
/// (never for real IP headers; kept for generality of the checksum update).
fn clamp_in_tcp_header(tcp: &mut [u8], odd: bool, max_mss: u16) -> bool {
    let flags = match tcp.get(13) {
        Some(f) => *f,
        None => return false,
    };
    if flags & TCP_FLAG_SYN == 0 {
        return false;
    }
    let header_len = match tcp.get(12) {
        Some(b) => usize::from(b >> 4) * 4,
        None => return false,
    };
    if header_len < 20 || header_len > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < header_len {
        let kind = tcp.get(i).copied().unwrap_or(TCP_OPT_END);
        match kind {
            TCP_OPT_END => return false,
            TCP_OPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(len) = tcp.get(i + 1).map(|l| usize::from(*l)) else {
            return false;
        };
        if len < 2 || i + len > header_len {
            return false;
        }
        if kind == TCP_OPT_MSS {
            if len != 4 {
                return false;
            }
            return rewrite_mss(tcp, i + 2, odd, max_mss);
        }
        i += len;
    }
    false
}

fn rewrite_mss(tcp: &mut [u8], at: usize, odd: bool, max_mss: u16) -> bool {
    let (Some(&[hi, lo]), Some(&[c0, c1])) = (
        tcp.get(at..at + 2)
            .and_then(|s| <&[u8; 2]>::try_from(s).ok()),
        tcp.get(16..18).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
    ) else {
        return false;
    };
    let mss = u16::from_be_bytes([hi, lo]);
    if mss <= max_mss {
        return false;
    }
    let new = max_mss.to_be_bytes();
    // Position parity within the checksummed data decides how the bytes pair into words.
    let (old_w, new_w) = if (at % 2 == 1) != odd {
        (u16::from_le_bytes([hi, lo]), u16::from_le_bytes(new))
    } else {
        (u16::from_be_bytes([hi, lo]), u16::from_be_bytes(new))
    };
    let check = checksum::update16(u16::from_be_bytes([c0, c1]), old_w, new_w);
    if let Some(f) = tcp.get_mut(at..at + 2) {
        f.copy_from_slice(&new);
    }
    if let Some(c) = tcp.get_mut(16..18) {
        c.copy_from_slice(&check.to_be_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The shortcut finds the TCP header where the full parse does.
        #[test]
        fn the_shortcut_finds_the_header_the_full_parse_finds(
            p in crate::dataplane::inner_shape::tests::near_common(),
        ) {
            prop_assert_eq!(tcp_header_offset(&p), tcp_header_offset_parsed(&p));
        }
    }

    #[test]
    fn mss_for_mtu_values() {
        assert_eq!(mss_for_mtu(1400, false), 1360);
        assert_eq!(mss_for_mtu(1400, true), 1340);
        assert_eq!(mss_for_mtu(30, true), 0);
    }

    #[test]
    fn odd_alignment_is_handled() {
        // SYN with options NOP, MSS(1460) so the MSS value sits at an odd offset (23).
        let mut tcp = [0u8; 28];
        tcp[12] = 7 << 4;
        tcp[13] = TCP_FLAG_SYN;
        tcp[20..24].copy_from_slice(&[TCP_OPT_NOP, TCP_OPT_MSS, 4, 0x05]);
        tcp[24] = 0xb4;
        tcp[25..28].copy_from_slice(&[TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_END]);
        let c = checksum::finish(checksum::sum(0, &tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        assert!(clamp_in_tcp_header(&mut tcp, false, 1300));
        assert_eq!(u16::from_be_bytes([tcp[23], tcp[24]]), 1300);
        assert_eq!(checksum::fold(checksum::sum(0, &tcp)), 0xffff);
    }
}
