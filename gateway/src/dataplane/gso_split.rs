//! Segmentation of a TUN super-packet: what the kernel's `tcp_gso_segment` and
//! `__udp_gso_segment` do for a device without TSO/USO, done in userspace because the
//! segments are encrypted one by one (RFC 4303 2: ESP protects whole IP packets).
//!
//! A TUN read with a virtio-net header of type TCPv4, TCPv6 or UDP_L4 holds one IP header,
//! one transport header and up to 64 KiB of payload. Segment `i` gets a copy of both headers
//! and payload bytes `i * gso_size ..`, with:
//! * IPv4 (RFC 791 3.1): total length, identification + `i`, header checksum;
//!   IPv6 (RFC 8200 3): payload length (extension headers included);
//! * TCP (RFC 9293 3.1): sequence number + `i * gso_size`; CWR only on the first segment,
//!   FIN and PSH only on the last (as Linux); UDP (RFC 768): length;
//! * the transport checksum over the pseudo-header, the headers and the segment's payload.
//!
//! Each segment's payload is copied and summed while it is in L1 ([`checksum::copy_and_sum`],
//! machine-order words, no byte swaps), and the headers' sums are computed once per
//! super-packet; tun-rs's `gso_split`, which this replaces on the outbound path, sums each
//! segment in network order, headers included (4-5% of both gateways' CPU under bulk TCP).
//! The tests check every byte against tun-rs's `gso_split` on generated super-packets.

use super::checksum;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const TCP_FLAG_FIN: u8 = 0x01;
const TCP_FLAG_PSH: u8 = 0x08;
const TCP_FLAG_CWR: u8 = 0x80;

/// What the virtio-net header says about a super-packet, checked by [`split`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuperPacket {
    /// TCP (TSO) or UDP (USO).
    pub tcp: bool,
    /// IPv6 rather than IPv4.
    pub v6: bool,
    /// Where the transport header starts (the virtio `csum_start`): the IP header and any
    /// IPv6 extension headers come before it.
    pub l4_start: usize,
    /// Length of all headers (IP and transport) copied into every segment.
    pub hdr_len: usize,
    /// Payload bytes per segment (the MSS); the last segment may carry fewer.
    pub gso_size: usize,
}

/// Splits `input` (one super-packet, headers first) into segments written to
/// `out[i * stride + head..]`, their lengths to `sizes[i]`. Returns the number of segments,
/// or None (nothing usable written) if the headers are inconsistent, a segment would not fit
/// its slot or an IP length field, or there are more segments than `sizes` holds. A
/// super-packet without payload gives no segments.
pub fn split(
    input: &[u8],
    sp: &SuperPacket,
    out: &mut [u8],
    stride: usize,
    head: usize,
    sizes: &mut [usize],
) -> Option<usize> {
    let (ip_min, l4_min, proto) = match (sp.v6, sp.tcp) {
        (false, true) => (20, 20, IPPROTO_TCP),
        (false, false) => (20, 8, IPPROTO_UDP),
        (true, true) => (40, 20, IPPROTO_TCP),
        (true, false) => (40, 8, IPPROTO_UDP),
    };
    if sp.gso_size == 0
        || sp.l4_start < ip_min
        || sp.hdr_len < sp.l4_start.checked_add(l4_min)?
        || input.len() < sp.hdr_len
    {
        return None;
    }
    let payload = input.len() - sp.hdr_len;
    if payload == 0 {
        return Some(0);
    }
    let count = payload.div_ceil(sp.gso_size);
    let full = sp.hdr_len.checked_add(sp.gso_size.min(payload))?;
    let last_at = (count - 1).checked_mul(stride)?.checked_add(head)?;
    let last_len = sp.hdr_len + (payload - (count - 1) * sp.gso_size);
    if count > sizes.len()
        || u16::try_from(full).is_err()
        || stride < head.checked_add(full)?
        || out.len() < last_at.checked_add(last_len)?
    {
        return None;
    }
    let (headers, data) = input.split_at(sp.hdr_len);
    // The pseudo-header's addresses (RFC 9293 3.1, RFC 768, RFC 8200 8.1) are the same for
    // every segment; the protocol is the transport's, whatever extension headers precede it.
    let addrs = if sp.v6 {
        checksum::sum(0, headers.get(8..40)?)
    } else {
        checksum::sum(0, headers.get(12..20)?)
    };
    // The header sums are taken once from the input, without the fields that differ per
    // segment, and those fields are added per segment: summing the freshly written headers
    // would read back bytes still in the store buffer, which stalls every load on them.
    let (ip, l4) = headers.split_at(sp.l4_start);
    let ip_rest = if sp.v6 {
        0
    } else {
        checksum::sum(
            checksum::sum(checksum::sum(0, &ip[..2]), &ip[6..10]),
            &ip[12..],
        )
    };
    let id0 = u16::from_be_bytes([ip[4], ip[5]]);
    let (l4_rest, first_seq) = if sp.tcp {
        let rest = checksum::sum(checksum::sum(0, &l4[..4]), &l4[8..12]);
        let rest = checksum::sum(checksum::sum(rest, &l4[14..16]), &l4[18..]);
        (rest, u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]))
    } else {
        (checksum::sum(checksum::sum(0, &l4[..4]), &l4[8..]), 0)
    };
    let mut slots = out.chunks_mut(stride);
    for (i, chunk) in data.chunks(sp.gso_size).enumerate() {
        let total = sp.hdr_len + chunk.len();
        let seg = slots.next()?.get_mut(head..head + total)?;
        let (h, body) = seg.split_at_mut(sp.hdr_len);
        h.copy_from_slice(headers);
        // `total` fits 16 bits: it is at most `full`, checked above.
        let l4_len = (total - sp.l4_start) as u16;
        if sp.v6 {
            h[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        } else {
            let id = id0.wrapping_add(i as u16);
            let c = checksum::finish(ip_rest + total as u64 + u64::from(id));
            h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let l4h = &mut h[sp.l4_start..];
        let (csum_at, fields) = if sp.tcp {
            let seq = first_seq.wrapping_add((sp.gso_size as u32).wrapping_mul(i as u32));
            let mut flags = l4[13];
            if i > 0 {
                flags &= !TCP_FLAG_CWR;
            }
            if i + 1 < count {
                flags &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
            }
            l4h[4..8].copy_from_slice(&seq.to_be_bytes());
            l4h[13] = flags;
            let words = u64::from(seq >> 16)
                + u64::from(seq & 0xffff)
                + u64::from(u16::from_be_bytes([l4[12], flags]));
            (16, words)
        } else {
            l4h[4..6].copy_from_slice(&l4_len.to_be_bytes());
            (6, u64::from(l4_len))
        };
        let acc = addrs
            + u64::from(proto)
            + u64::from(l4_len)
            + l4_rest
            + fields
            + checksum::copy_and_sum(body, chunk);
        let mut c = checksum::finish(acc);
        if !sp.tcp && c == 0 {
            // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
            c = 0xffff;
        }
        l4h[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        sizes[i] = total;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tun_rs::VirtioNetHdr;

    const GSO_TCPV4: u8 = 1;
    const GSO_TCPV6: u8 = 4;
    const GSO_UDP_L4: u8 = 5;

    /// A super-packet as the kernel hands it over: headers with the given option lengths,
    /// and `payload` bytes of pattern `fill`.
    fn super_packet(
        v6: bool,
        tcp: bool,
        opts: usize,
        flags: u8,
        payload: usize,
        fill: u8,
    ) -> (Vec<u8>, SuperPacket) {
        let ip = if v6 { 40 } else { 20 + opts };
        let l4 = if tcp { 20 + opts } else { 8 };
        let mut p = vec![0u8; ip + l4 + payload];
        if v6 {
            p[0] = 0x60;
            p[6] = if tcp { 6 } else { 17 };
            p[7] = 64;
            for (i, b) in p[8..40].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(29) ^ fill;
            }
        } else {
            p[0] = 0x40 | (ip / 4) as u8;
            p[4..6].copy_from_slice(&[fill, 0x37]);
            p[6] = 0x40;
            p[8] = 64;
            p[9] = if tcp { 6 } else { 17 };
            p[12..20].copy_from_slice(&[10, 0, 1, fill, 10, 1, 0, 20]);
            for b in &mut p[20..ip] {
                *b = 1;
            }
        }
        let t = &mut p[ip..];
        t[0..4].copy_from_slice(&[0x01, 0xbd, 0xc3, fill]);
        if tcp {
            t[4..8].copy_from_slice(&[0xff, 0xff, 0xf0, fill]);
            t[12] = ((l4 / 4) as u8) << 4;
            t[13] = flags;
            t[14..16].copy_from_slice(&[0x01, 0xf5]);
            for b in &mut t[20..l4] {
                *b = 1;
            }
        }
        // The pseudo-header sum the kernel leaves in the checksum field (CHECKSUM_PARTIAL).
        t[if tcp { 16 } else { 6 }..][..2].copy_from_slice(&[0x12, 0x34]);
        for (i, b) in p[ip + l4..].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(fill | 1).wrapping_add(fill);
        }
        let sp = SuperPacket {
            tcp,
            v6,
            l4_start: ip,
            hdr_len: ip + l4,
            gso_size: 0,
        };
        (p, sp)
    }

    /// tun-rs's `gso_split` on the same input: the reference this module must match.
    fn reference(input: &[u8], sp: &SuperPacket, stride: usize, head: usize) -> Vec<Vec<u8>> {
        let hdr = VirtioNetHdr {
            flags: 1,
            gso_type: match (sp.tcp, sp.v6) {
                (true, false) => GSO_TCPV4,
                (true, true) => GSO_TCPV6,
                (false, _) => GSO_UDP_L4,
            },
            hdr_len: sp.hdr_len as u16,
            gso_size: sp.gso_size as u16,
            csum_start: sp.l4_start as u16,
            csum_offset: if sp.tcp { 16 } else { 6 },
        };
        let n = (input.len() - sp.hdr_len).div_ceil(sp.gso_size);
        let mut bufs = vec![vec![0u8; stride]; n];
        let mut sizes = vec![0usize; n];
        let mut input = input.to_vec();
        let got = tun_rs::gso_split(&mut input, hdr, &mut bufs, &mut sizes, head, sp.v6).unwrap();
        (0..got)
            .map(|i| bufs[i][head..head + sizes[i]].to_vec())
            .collect()
    }

    fn ours(input: &[u8], sp: &SuperPacket, stride: usize, head: usize) -> Vec<Vec<u8>> {
        let n = (input.len() - sp.hdr_len).div_ceil(sp.gso_size);
        let mut out = vec![0u8; stride * n];
        let mut sizes = vec![0usize; n];
        let got = split(input, sp, &mut out, stride, head, &mut sizes).unwrap();
        (0..got)
            .map(|i| out[i * stride + head..][..sizes[i]].to_vec())
            .collect()
    }

    #[test]
    fn a_tso_super_packet_becomes_valid_segments() {
        // 4000 bytes at MSS 1348: 1348 + 1348 + 1304, FIN and PSH on the last only.
        let (p, mut sp) = super_packet(false, true, 0, 0x19, 4000, 7);
        sp.gso_size = 1348;
        let segs = ours(&p, &sp, 1500, 30);
        assert_eq!(
            segs.iter().map(Vec::len).collect::<Vec<_>>(),
            [1388, 1388, 1344]
        );
        for (i, s) in segs.iter().enumerate() {
            let ip = etherparse::Ipv4HeaderSlice::from_slice(s).unwrap();
            assert_eq!(usize::from(ip.total_len()), s.len());
            assert_eq!(ip.identification(), 0x0737 + i as u16);
            assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
            let tcp = etherparse::TcpHeaderSlice::from_slice(&s[20..]).unwrap();
            assert_eq!(
                tcp.sequence_number(),
                0xfffff007u32.wrapping_add(1348 * i as u32)
            );
            assert_eq!(tcp.fin(), i == 2);
            assert_eq!(tcp.psh(), i == 2);
            assert!(tcp.ack());
            let want = tcp
                .to_header()
                .calc_checksum_ipv4_raw(ip.source(), ip.destination(), &s[40..])
                .unwrap();
            assert_eq!(tcp.checksum(), want, "segment {i}");
        }
    }

    #[test]
    fn bad_shapes_are_refused_not_panicked_on() {
        let (p, mut sp) = super_packet(false, true, 0, 0x10, 3000, 1);
        sp.gso_size = 1000;
        let mut out = vec![0u8; 3 * 1100];
        let mut sizes = [0usize; 3];
        assert_eq!(split(&p, &sp, &mut out, 1100, 40, &mut sizes), Some(3));
        // Slot too small for a segment, too few size slots, too short an output.
        assert_eq!(split(&p, &sp, &mut out, 1100, 80, &mut sizes), None);
        assert_eq!(split(&p, &sp, &mut out, 1100, 40, &mut sizes[..2]), None);
        assert_eq!(split(&p, &sp, &mut out[..2000], 1100, 40, &mut sizes), None);
        // Inconsistent headers.
        for bad in [
            SuperPacket { gso_size: 0, ..sp },
            SuperPacket { l4_start: 19, ..sp },
            SuperPacket { hdr_len: 39, ..sp },
            SuperPacket {
                hdr_len: 4000,
                ..sp
            },
            SuperPacket { v6: true, ..sp },
        ] {
            assert_eq!(
                split(&p, &bad, &mut out, 1100, 40, &mut sizes),
                None,
                "{bad:?}"
            );
        }
        // No payload: no segments.
        assert_eq!(
            split(&p[..40], &sp, &mut out, 1100, 40, &mut sizes),
            Some(0)
        );
        // A segment whose IP length would not fit 16 bits.
        let (big, mut bsp) = super_packet(false, true, 0, 0x10, 66_000, 1);
        bsp.gso_size = 70_000;
        let mut huge = vec![0u8; 80_000];
        assert_eq!(split(&big, &bsp, &mut huge, 75_000, 0, &mut sizes), None);
        bsp.gso_size = 33_000;
        assert_eq!(split(&big, &bsp, &mut huge, 40_000, 0, &mut sizes), Some(2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Every byte of every segment equals tun-rs's split of the same super-packet: IPv4
        /// and IPv6, TCP with options and any flags, UDP, odd and even MSS, a short last
        /// segment, any headroom.
        #[test]
        fn matches_tun_rs_gso_split(
            v6 in any::<bool>(),
            tcp in any::<bool>(),
            opts in 0usize..=10,
            flags in any::<u8>(),
            gso in 1usize..=1460,
            segs in 1usize..=12,
            short in 0usize..=1460,
            fill in any::<u8>(),
            head in 0usize..=64,
        ) {
            let payload = (segs * gso).saturating_sub(short % gso).max(1);
            let (p, mut sp) = super_packet(v6, tcp, (opts * 4).min(40), flags, payload, fill);
            sp.gso_size = gso;
            let stride = head + sp.hdr_len + gso + 7;
            prop_assert_eq!(ours(&p, &sp, stride, head), reference(&p, &sp, stride, head));
        }
    }
}
