//! The common shapes of an inner packet, recognised from a few header bytes: an IPv4 packet
//! without options that is not a fragment (RFC 791 section 3.1), or an IPv6 packet whose
//! first next header is the transport (RFC 8200 section 3). Nearly every packet of a bulk
//! copy has one of them, so the per-packet checks of the fast path (queue choice, MSS clamp,
//! "packet too big") look here first and leave everything else (IPv4 options, fragments,
//! IPv6 extension headers, malformed lengths) to etherparse's full parse, which gives the
//! same answer for these shapes (property test below).

/// What the first bytes of an inner packet say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerShape {
    /// TCP; its header starts at `l4` and the IP packet (as its length field says) ends at
    /// `end`, both within the slice.
    Tcp { l4: usize, end: usize },
    /// Another transport (UDP, ICMP, ...) in one of the common shapes.
    NotTcp,
    /// Not one of the common shapes: parse it fully.
    Other,
}

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
/// IPsec AH (RFC 4302), which etherparse parses as an IPv4 extension header.
const PROTO_AH: u8 = 51;

/// Classifies `p` (an IPv4 or IPv6 packet).
pub fn inner_shape(p: &[u8]) -> InnerShape {
    match p.first().copied() {
        // Version 4, IHL 5 (no options).
        Some(0x45) => {
            let Some(h) = p.get(..20) else {
                return InnerShape::Other;
            };
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // MF clear and fragment offset 0.
            let fragment = h[6] & 0x3f != 0 || h[7] != 0;
            if total < 20 || total > p.len() || fragment {
                return InnerShape::Other;
            }
            match h[9] {
                PROTO_TCP => InnerShape::Tcp { l4: 20, end: total },
                PROTO_AH => InnerShape::Other,
                _ => InnerShape::NotTcp,
            }
        }
        Some(b) if b >> 4 == 6 => {
            let Some(h) = p.get(..40) else {
                return InnerShape::Other;
            };
            let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Zero: a jumbogram (RFC 2675), left to the full parse.
            if payload == 0 || 40 + payload > p.len() {
                return InnerShape::Other;
            }
            match h[6] {
                PROTO_TCP => InnerShape::Tcp {
                    l4: 40,
                    end: 40 + payload,
                },
                PROTO_UDP | PROTO_ICMPV6 | PROTO_ICMP => InnerShape::NotTcp,
                // Extension headers and anything unusual.
                _ => InnerShape::Other,
            }
        }
        _ => InnerShape::Other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::{IpNumber, IpSlice};
    use proptest::prelude::*;

    /// What etherparse says: the TCP header offset and packet end, or not TCP, or no parse.
    pub(crate) fn reference(p: &[u8]) -> Option<Option<(usize, usize)>> {
        let ip = IpSlice::from_slice(p).ok()?;
        let payload = ip.payload();
        if payload.ip_number != IpNumber::TCP || payload.fragmented {
            return Some(None);
        }
        let l4 = (payload.payload.as_ptr() as usize) - (p.as_ptr() as usize);
        Some(Some((l4, l4 + payload.payload.len())))
    }

    /// Packets near the common shapes: a real IPv4 or IPv6 header with a few fields drawn
    /// from the values that change the answer, and a length that may not match.
    pub(crate) fn near_common() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<bool>(),
            prop::sample::select(vec![0u8, 1, 6, 17, 43, 44, 51, 58, 59, 60, 255]),
            prop::sample::select(vec![0x40u8, 0x45, 0x46, 0x4f, 0x60, 0x65, 0x70]),
            prop::sample::select(vec![0u8, 0x20, 0x40, 0x41]),
            0usize..120,
            -30i32..30,
            any::<u8>(),
        )
            .prop_map(|(v6, proto, first, frag, body, skew, fill)| {
                let hdr = if v6 { 40 } else { 20 };
                let mut p = vec![fill; hdr + body];
                p[0] = if v6 { 0x60 | (first & 0x0f) } else { first };
                let claimed = (hdr + body) as i32 + skew;
                let claimed = claimed.clamp(0, 0xffff) as u16;
                if v6 {
                    let pl = claimed.saturating_sub(40);
                    p[4..6].copy_from_slice(&pl.to_be_bytes());
                    p[6] = proto;
                } else {
                    p[2..4].copy_from_slice(&claimed.to_be_bytes());
                    p[6] = frag;
                    p[7] = if frag == 0x41 { 0 } else { frag & 1 };
                    p[9] = proto;
                }
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Where the shortcut answers, it answers as the full parse does.
        #[test]
        fn the_shortcut_agrees_with_the_full_parse(p in near_common()) {
            match inner_shape(&p) {
                InnerShape::Tcp { l4, end } => {
                    prop_assert_eq!(reference(&p), Some(Some((l4, end))));
                }
                InnerShape::NotTcp => prop_assert_eq!(reference(&p), Some(None)),
                InnerShape::Other => {}
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(p in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = inner_shape(&p);
        }
    }

    #[test]
    fn common_packets_take_the_shortcut() {
        let mut v4 = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 1, 5], [10, 1, 0, 5], 64)
            .tcp(445, 50000, 1, 1000)
            .write(&mut v4, &[7u8; 1200])
            .unwrap();
        assert_eq!(
            inner_shape(&v4),
            InnerShape::Tcp {
                l4: 20,
                end: v4.len()
            }
        );
        let mut v6 = Vec::new();
        etherparse::PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(53, 5353)
            .write(&mut v6, b"dns")
            .unwrap();
        assert_eq!(inner_shape(&v6), InnerShape::NotTcp);
        // A fragment and an IPv4 header with options go to the full parse.
        let mut frag = v4.clone();
        frag[6] = 0x20;
        assert_eq!(inner_shape(&frag), InnerShape::Other);
        let mut opts = v4.clone();
        opts[0] = 0x46;
        assert_eq!(inner_shape(&opts), InnerShape::Other);
    }
}
