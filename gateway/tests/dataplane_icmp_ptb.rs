//! "Packet too big" replies, parsed back with etherparse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    icmpv4::DestUnreachableHeader, IcmpEchoHeader, Icmpv4Slice, Icmpv4Type, Icmpv6Slice,
    Icmpv6Type, IpHeaders, IpNumber, Ipv4Header, Ipv4Slice, Ipv6Slice, PacketBuilder,
};
use gateway::dataplane::icmp_ptb::{build_ptb, needs_ptb};

const SRC4: [u8; 4] = [10, 1, 0, 2];
const DST4: [u8; 4] = [10, 2, 0, 9];
const OUR4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
const OUR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fn v4_header(df: bool) -> IpHeaders {
    IpHeaders::Ipv4(
        Ipv4Header {
            source: SRC4,
            destination: DST4,
            time_to_live: 64,
            dont_fragment: df,
            ..Default::default()
        },
        Default::default(),
    )
}

fn udp_v4(total: usize, df: bool) -> Vec<u8> {
    let body: Vec<u8> = (0..total - 28).map(|i| i as u8).collect();
    let mut v = Vec::new();
    PacketBuilder::ip(v4_header(df))
        .udp(5000, 6000)
        .write(&mut v, &body)
        .unwrap();
    assert_eq!(v.len(), total);
    v
}

fn icmp_v4(total: usize, t: Icmpv4Type) -> Vec<u8> {
    let body = vec![0xab; total - 28];
    let mut v = Vec::new();
    PacketBuilder::ip(v4_header(true))
        .icmpv4(t)
        .write(&mut v, &body)
        .unwrap();
    v
}

fn udp_v6(total: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..total - 48).map(|i| (i * 7) as u8).collect();
    let mut v = Vec::new();
    PacketBuilder::ipv6(SRC6, DST6, 64)
        .udp(5000, 6000)
        .write(&mut v, &body)
        .unwrap();
    v
}

fn icmp_v6(total: usize, t: Icmpv6Type) -> Vec<u8> {
    let body = vec![0xcd; total - 48];
    let mut v = Vec::new();
    PacketBuilder::ipv6(SRC6, DST6, 64)
        .icmpv6(t)
        .write(&mut v, &body)
        .unwrap();
    v
}

#[test]
fn ipv4_frag_needed_reply() {
    let orig = udp_v4(1500, true);
    assert_eq!(needs_ptb(&orig, 1400), Some(1400));
    let mut out = [0u8; 2048];
    let n = build_ptb(&orig, 1400, IpAddr::V4(OUR4), &mut out).unwrap();
    assert_eq!(n, 576, "IPv4 ICMP errors stay within 576 bytes");
    let ip = Ipv4Slice::from_slice(&out[..n]).unwrap();
    let h = ip.header().to_header();
    assert_eq!(h.source, OUR4.octets());
    assert_eq!(h.destination, SRC4);
    assert_eq!(h.protocol, IpNumber::ICMP);
    assert_eq!(usize::from(h.total_len), n);
    assert_eq!(h.header_checksum, h.calc_header_checksum());
    let icmp = Icmpv4Slice::from_slice(ip.payload().payload).unwrap();
    assert_eq!(
        icmp.icmp_type(),
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1400
        })
    );
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
    assert_eq!(icmp.payload(), &orig[..548]);
}

#[test]
fn ipv4_small_packet_quoted_whole() {
    let orig = udp_v4(200, true);
    assert_eq!(needs_ptb(&orig, 100), Some(100));
    let mut out = [0u8; 600];
    let n = build_ptb(&orig, 100, IpAddr::V4(OUR4), &mut out).unwrap();
    assert_eq!(n, 28 + 200);
    let ip = Ipv4Slice::from_slice(&out[..n]).unwrap();
    let icmp = Icmpv4Slice::from_slice(ip.payload().payload).unwrap();
    assert_eq!(icmp.payload(), &orig[..]);
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
    // The reported MTU never goes below IPv4's 68.
    assert_eq!(needs_ptb(&orig, 20), Some(68));
}

#[test]
fn ipv4_no_reply_cases() {
    assert_eq!(needs_ptb(&udp_v4(1500, false), 1400), None, "DF clear");
    assert_eq!(needs_ptb(&udp_v4(1400, true), 1400), None, "fits");
    let err = icmp_v4(
        1500,
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Host),
    );
    assert_eq!(needs_ptb(&err, 1400), None, "ICMP error");
    let echo = icmp_v4(
        1500,
        Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 1 }),
    );
    assert_eq!(
        needs_ptb(&echo, 1400),
        Some(1400),
        "echo request is not an error"
    );
    let orig = udp_v4(1500, true);
    let mut out = [0u8; 600];
    assert_eq!(
        build_ptb(&orig, 1400, IpAddr::V6(OUR6), &mut out),
        None,
        "family mismatch"
    );
    let mut tiny = [0u8; 40];
    assert_eq!(build_ptb(&orig, 1400, IpAddr::V4(OUR4), &mut tiny), None);
    // Exactly room for header + 8 bytes of quote.
    let mut min = [0u8; 56];
    assert_eq!(build_ptb(&orig, 1400, IpAddr::V4(OUR4), &mut min), Some(56));
    // Broadcast destination: no ICMP errors.
    let mut b = orig.clone();
    b[16..20].copy_from_slice(&[255, 255, 255, 255]);
    let h = Ipv4Header::from_slice(&b).unwrap().0;
    b[10..12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    assert_eq!(needs_ptb(&b, 1400), None);
}

#[test]
fn ipv6_packet_too_big_reply() {
    let orig = udp_v6(1500);
    assert_eq!(needs_ptb(&orig, 1400), Some(1400));
    let mut out = [0u8; 2048];
    let n = build_ptb(&orig, 1400, IpAddr::V6(OUR6), &mut out).unwrap();
    assert_eq!(n, 1280, "fills up to the IPv6 minimum MTU");
    let ip = Ipv6Slice::from_slice(&out[..n]).unwrap();
    let h = ip.header();
    assert_eq!(h.source(), OUR6.octets());
    assert_eq!(h.destination(), SRC6);
    assert_eq!(h.next_header(), IpNumber::IPV6_ICMP);
    assert_eq!(usize::from(h.payload_length()), n - 40);
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
    assert_eq!(icmp.icmp_type(), Icmpv6Type::PacketTooBig { mtu: 1400 });
    assert!(icmp.is_checksum_valid(OUR6.octets(), SRC6));
    assert_eq!(icmp.payload(), &orig[..1232]);
}

#[test]
fn ipv6_reports_at_least_1280_and_skips_errors() {
    let orig = udp_v6(1300);
    assert_eq!(needs_ptb(&orig, 1200), Some(1280));
    assert_eq!(needs_ptb(&udp_v6(1280), 1200), None, "1280 must be carried");
    let mut out = [0u8; 1500];
    let n = build_ptb(&orig, 1200, IpAddr::V6(OUR6), &mut out).unwrap();
    let ip = Ipv6Slice::from_slice(&out[..n]).unwrap();
    let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
    assert_eq!(icmp.icmp_type(), Icmpv6Type::PacketTooBig { mtu: 1280 });
    assert!(icmp.is_checksum_valid(OUR6.octets(), SRC6));

    let err = icmp_v6(1500, Icmpv6Type::PacketTooBig { mtu: 1300 });
    assert_eq!(needs_ptb(&err, 1400), None, "ICMPv6 error");
    let echo = icmp_v6(
        1500,
        Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
    );
    assert_eq!(needs_ptb(&echo, 1400), Some(1400));
    // Unspecified source: nobody to tell.
    let mut u = orig.clone();
    u[8..24].fill(0);
    assert_eq!(needs_ptb(&u, 1200), None);
}

#[test]
fn hostile_input_never_panics() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = [udp_v4(1500, true), udp_v6(1500)];
    let mut out = [0u8; 1400];
    let mut replies = 0;
    for i in 0..50_000 {
        let mut p = seeds[i % 2].clone();
        for _ in 0..(next() % 4) {
            let at = (next() as usize) % p.len();
            p[at] = next() as u8;
        }
        if next() % 8 == 0 {
            p.truncate((next() as usize) % (p.len() + 1));
        }
        let our = if i % 2 == 0 {
            IpAddr::V4(OUR4)
        } else {
            IpAddr::V6(OUR6)
        };
        let mtu = (next() % 2000) as u16;
        let _ = needs_ptb(&p, mtu);
        if let Some(n) = build_ptb(&p, mtu, our, &mut out) {
            assert!(n <= out.len());
            replies += 1;
        }
    }
    for cut in 0..=seeds[0].len() {
        let _ = build_ptb(&seeds[0][..cut], 576, IpAddr::V4(OUR4), &mut out);
    }
    assert!(replies > 100, "only {replies} replies built");
}

/// The reply is sourced from the packet's destination (reverse-path valid when written into
/// the TUN), for both families.
#[test]
fn reply_source_is_the_packets_destination() {
    use gateway::dataplane::icmp_ptb::ptb_source;
    assert_eq!(
        ptb_source(&udp_v4(1500, true)),
        Some(IpAddr::V4(DST4.into()))
    );
    assert_eq!(
        ptb_source(&icmp_v6(
            1500,
            Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 1 })
        )),
        Some(IpAddr::V6(DST6.into()))
    );
    assert_eq!(ptb_source(&[0x45, 0, 0]), None);
}
