//! "Packet too big" replies for packets that do not fit the tunnel: ICMPv4 destination
//! unreachable / fragmentation needed (RFC 792, RFC 1191) for DF IPv4 packets, ICMPv6 Packet
//! Too Big (RFC 4443 3.2, RFC 8201) for IPv6 packets. Built into a caller buffer, addressed
//! back to the sender from the gateway's inside address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, IpSlice};

use super::checksum;

/// An ICMPv4 error carries at most this much in total (RFC 1812 4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// An ICMPv6 error must not exceed the IPv6 minimum MTU (RFC 4443 2.4(c)).
pub const ICMPV6_ERROR_MAX: usize = 1280;
/// The smallest MTU IPv4 may report (RFC 791).
const IPV4_MIN_MTU: u16 = 68;
/// The smallest MTU IPv6 may report (RFC 8200 5).
const IPV6_MIN_MTU: u16 = 1280;
const IPV4_HDR: usize = 20;
const IPV6_HDR: usize = 40;
const ICMP_HDR: usize = 8;
const HOP_LIMIT: u8 = 64;

/// If `packet` must be answered with a "packet too big" because it exceeds `mtu`, the MTU to
/// report (never below the protocol minimum). None for packets that fit, IPv4 packets without
/// DF, non-first fragments, ICMP errors, packets from unspecified, multicast or broadcast
/// sources, and anything malformed.
pub fn needs_ptb(packet: &[u8], mtu: u16) -> Option<u16> {
    // What fits needs no parse: the IP length is within the slice (or the parse fails), and
    // the smaller of the two reported minimums is the IPv4 one.
    if packet.len() <= usize::from(mtu.max(IPV4_MIN_MTU)) {
        return None;
    }
    needs_ptb_parsed(packet, mtu)
}

/// [`needs_ptb`] without the shortcut for packets that fit.
fn needs_ptb_parsed(packet: &[u8], mtu: u16) -> Option<u16> {
    let ip = IpSlice::from_slice(packet).ok()?;
    let payload = ip.payload();
    match &ip {
        IpSlice::Ipv4(v4) => {
            let h = v4.header();
            let total = usize::from(h.total_len());
            let report = mtu.max(IPV4_MIN_MTU);
            if total <= usize::from(report) || !h.dont_fragment() {
                return None;
            }
            if h.fragments_offset().value() != 0 {
                return None;
            }
            let (src, dst) = (h.source_addr(), h.destination_addr());
            if src.is_unspecified()
                || src.is_multicast()
                || src.is_broadcast()
                || src.is_loopback()
                || dst.is_multicast()
                || dst.is_broadcast()
            {
                return None;
            }
            if payload.ip_number == IpNumber::ICMP
                && (payload.fragmented || is_icmpv4_error(payload.payload.first().copied()))
            {
                return None;
            }
            Some(report)
        }
        IpSlice::Ipv6(v6) => {
            let h = v6.header();
            let total = IPV6_HDR + usize::from(h.payload_length());
            let report = mtu.max(IPV6_MIN_MTU);
            if total <= usize::from(report) {
                return None;
            }
            let src = h.source_addr();
            if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
                return None;
            }
            // Multicast destinations do get a Packet Too Big (RFC 4443 2.4(e.3)).
            if payload.ip_number == IpNumber::IPV6_ICMP
                && (payload.fragmented || payload.payload.first().is_none_or(|t| *t < 128))
            {
                return None;
            }
            Some(report)
        }
    }
}

fn is_icmpv4_error(icmp_type: Option<u8>) -> bool {
    // Destination unreachable, source quench, redirect, time exceeded, parameter problem;
    // an absent type (empty payload) is treated as an error too.
    icmp_type.is_none_or(|t| matches!(t, 3 | 4 | 5 | 11 | 12))
}

/// The source address for the "packet too big" reply to `packet`: the packet's own
/// destination. The reply is written into the TUN device, so the kernel receives it as if it
/// came out of the tunnel: a source address of this host (e.g. the underlay address) is a
/// martian there and silently dropped (unless `accept_local` is set), while the destination's
/// route points into the tunnel, so reverse-path filtering accepts it. Hosts match a PTB by
/// the quoted header, not by its source (RFC 1191 section 4, RFC 8201 section 4), so this is
/// what reaches them reliably.
pub fn ptb_source(packet: &[u8]) -> Option<IpAddr> {
    match IpSlice::from_slice(packet).ok()? {
        IpSlice::Ipv4(v4) => Some(IpAddr::V4(v4.header().destination_addr())),
        IpSlice::Ipv6(v6) => Some(IpAddr::V6(v6.header().destination_addr())),
    }
}

/// Writes into `out` the "packet too big" reply to `packet` (which [`needs_ptb`] accepted for
/// `mtu`), from `our_addr` to the packet's source, quoting as much of the packet as the RFCs
/// allow and `out` holds. Returns the reply's length, or None if no reply is due, `our_addr`
/// is of the other family, or `out` cannot hold the minimum quote.
pub fn build_ptb(packet: &[u8], mtu: u16, our_addr: IpAddr, out: &mut [u8]) -> Option<usize> {
    let report = needs_ptb(packet, mtu)?;
    let ip = IpSlice::from_slice(packet).ok()?;
    match (ip, our_addr) {
        (IpSlice::Ipv4(v4), IpAddr::V4(ours)) => {
            let h = v4.header();
            let total = usize::from(h.total_len()).min(packet.len());
            let min_quote = (h.slice().len() + 8).min(total);
            build_v4(
                packet.get(..total)?,
                min_quote,
                report,
                ours,
                h.source_addr(),
                out,
            )
        }
        (IpSlice::Ipv6(v6), IpAddr::V6(ours)) => {
            let h = v6.header();
            let total = (IPV6_HDR + usize::from(h.payload_length())).min(packet.len());
            let min_quote = (IPV6_HDR + 8).min(total);
            build_v6(
                packet.get(..total)?,
                min_quote,
                report,
                ours,
                h.source_addr(),
                out,
            )
        }
        _ => None,
    }
}

fn build_v4(
    orig: &[u8],
    min_quote: usize,
    mtu: u16,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    out: &mut [u8],
) -> Option<usize> {
    let room = ICMPV4_ERROR_MAX
        .min(out.len())
        .checked_sub(IPV4_HDR + ICMP_HDR)?;
    let quote = orig.len().min(room);
    if quote < min_quote {
        return None;
    }
    let total = IPV4_HDR + ICMP_HDR + quote;
    let out = out.get_mut(..total)?;
    let (ip, rest) = out.split_at_mut(IPV4_HDR);
    let total_u16 = u16::try_from(total).ok()?;
    ip.copy_from_slice(&[
        0x45, 0xc0, 0, 0, 0, 0, 0, 0, HOP_LIMIT, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    ip[2..4].copy_from_slice(&total_u16.to_be_bytes());
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = checksum::finish(checksum::sum(0, ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());

    let (icmp, body) = rest.split_at_mut(ICMP_HDR);
    body.copy_from_slice(orig.get(..quote)?);
    icmp.copy_from_slice(&[3, 4, 0, 0, 0, 0, 0, 0]);
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    let c = checksum::finish(checksum::sum(checksum::sum(0, icmp), body));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

fn build_v6(
    orig: &[u8],
    min_quote: usize,
    mtu: u16,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    out: &mut [u8],
) -> Option<usize> {
    let room = ICMPV6_ERROR_MAX
        .min(out.len())
        .checked_sub(IPV6_HDR + ICMP_HDR)?;
    let quote = orig.len().min(room);
    if quote < min_quote {
        return None;
    }
    let total = IPV6_HDR + ICMP_HDR + quote;
    let icmp_len = u16::try_from(ICMP_HDR + quote).ok()?;
    let out = out.get_mut(..total)?;
    let (ip, rest) = out.split_at_mut(IPV6_HDR);
    ip[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, 58, HOP_LIMIT]);
    ip[4..6].copy_from_slice(&icmp_len.to_be_bytes());
    ip[8..24].copy_from_slice(&src.octets());
    ip[24..40].copy_from_slice(&dst.octets());

    let (icmp, body) = rest.split_at_mut(ICMP_HDR);
    body.copy_from_slice(orig.get(..quote)?);
    icmp[..4].copy_from_slice(&[2, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&u32::from(mtu).to_be_bytes());
    let acc = checksum::pseudo_v6(src, dst, 58, u32::from(icmp_len));
    let c = checksum::finish(checksum::sum(checksum::sum(acc, icmp), body));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The shortcut for packets that fit answers as the full check does.
        #[test]
        fn the_shortcut_agrees_with_the_full_check(
            p in crate::dataplane::inner_shape::tests::near_common(),
            mtu in prop::sample::select(vec![0u16, 40, 68, 100, 120, 1280, 1400]),
        ) {
            prop_assert_eq!(needs_ptb(&p, mtu), needs_ptb_parsed(&p, mtu));
        }
    }
}
