//! Outer headers of a tunnel-mode ESP packet (`esp::outer_headers`): IPv4 (RFC 791) and IPv6
//! (RFC 8200), each with UDP encapsulation on port 4500 (RFC 3948 section 2.1) and as raw
//! protocol 50. Every header is compared byte for byte with one built independently (by hand
//! and with etherparse), and every datagram is parsed back with etherparse.

mod common;
use common::*;

use core::net::{Ipv4Addr, Ipv6Addr};
use esp::outer_headers::{
    internet_checksum, prepend_ipv4, prepend_ipv6, OuterError, OuterTransport, IPV4_HEADER_LEN,
    IPV6_HEADER_LEN, NAT_T_PORT, UDP_HEADER_LEN,
};
use esp::suite::AesKeySize;
use esp::{NextHeader, Payload, Suite};
use etherparse::{
    IpNumber, Ipv4Header, Ipv6Header, NetSlice, SlicedPacket, TransportSlice, UdpHeader,
};

const V4_SRC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const V4_DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const V6_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x10);
const V6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 2, 0, 0, 0xab, 0x20);
const UDP_4500: OuterTransport = OuterTransport::Udp {
    src_port: NAT_T_PORT,
    dst_port: NAT_T_PORT,
};

/// RFC 1071 checksum written independently of the crate: 16-bit big-endian words summed in
/// a u64 (odd trailing byte padded with zero), carries folded, complemented.
fn rfc1071(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for (i, b) in data.iter().enumerate() {
        acc += if i % 2 == 0 {
            u64::from(*b) << 8
        } else {
            u64::from(*b)
        };
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The RFC 8200 section 8.1 pseudo-header followed by the UDP header and payload.
fn ipv6_udp_checksum_input(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(&(udp.len() as u32).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 17]);
    v.extend_from_slice(udp);
    v
}

/// A real ESP packet (AES-256-GCM, `len`-byte inner packet) with `headroom` free bytes in
/// front of it. Returns the buffer and the ESP packet's range.
fn esp_packet(headroom: usize, len: usize) -> (Vec<u8>, core::ops::Range<usize>) {
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let (out, _) = pair(suite, false);
    let (mut buf, range) = framed(&inner_packet(len, 0x5a));
    let e = out.encapsulate(&mut buf, range, NextHeader::Ipv4).unwrap();
    let esp = buf[e.esp].to_vec();
    let mut b = vec![0xEEu8; headroom];
    b.extend_from_slice(&esp);
    let r = headroom..b.len();
    (b, r)
}

/// Independently built IPv4 header: etherparse fields, DF clear, checksum from our RFC 1071.
fn expected_ipv4(payload_len: usize, proto: u8, ttl: u8, id: u16) -> [u8; 20] {
    let mut h = Ipv4Header::new(
        payload_len as u16,
        ttl,
        IpNumber(proto),
        V4_SRC.octets(),
        V4_DST.octets(),
    )
    .unwrap();
    h.dont_fragment = false;
    h.identification = id;
    h.header_checksum = h.calc_header_checksum();
    let bytes: [u8; 20] = h.to_bytes().as_slice().try_into().unwrap();
    // The checksum etherparse computed agrees with ours over the zero-checksum header.
    let mut zeroed = bytes;
    zeroed[10] = 0;
    zeroed[11] = 0;
    assert_eq!(rfc1071(&zeroed), h.header_checksum);
    bytes
}

#[test]
fn ipv4_udp_header_literal() {
    // Hand-assembled RFC 791 header for a 4-byte payload in UDP: version 4 / IHL 5, TOS 0,
    // total length 32, id 0x1c46, flags/fragment 0, TTL 64, protocol 17, checksum computed
    // off-line (0xf84f), 203.0.113.1 -> 198.51.100.2; then RFC 768 UDP 4500 -> 4500,
    // length 12, checksum 0 (RFC 3948 section 2.1).
    let expected: [u8; 28] = [
        0x45, 0x00, 0x00, 0x20, 0x1c, 0x46, 0x00, 0x00, 0x40, 0x11, 0xf8, 0x4f, 203, 0, 113, 1,
        198, 51, 100, 2, 0x11, 0x94, 0x11, 0x94, 0x00, 0x0c, 0x00, 0x00,
    ];
    let mut buf = vec![0xAAu8; 28];
    buf.extend_from_slice(b"ESP!");
    let r = prepend_ipv4(&mut buf, 28..32, V4_SRC, V4_DST, UDP_4500, 64, 0x1c46).unwrap();
    assert_eq!(r, 0..32);
    assert_eq!(buf[..28], expected);
    assert_eq!(&buf[28..], b"ESP!");
    // A correct IPv4 header sums to zero (RFC 1071 section 1, verification).
    assert_eq!(rfc1071(&buf[..20]), 0);
}

#[test]
fn ipv4_udp_encapsulation_byte_exact() {
    for len in [0usize, 1, 63, 1400] {
        let headroom = IPV4_HEADER_LEN + UDP_HEADER_LEN + 5;
        let (mut buf, esp) = esp_packet(headroom, len);
        let esp_bytes = buf[esp.clone()].to_vec();
        let r = prepend_ipv4(&mut buf, esp.clone(), V4_SRC, V4_DST, UDP_4500, 64, 0x0102).unwrap();
        assert_eq!(r, 5..buf.len());
        let udp_len = UDP_HEADER_LEN + esp_bytes.len();
        let ip = expected_ipv4(udp_len, 17, 64, 0x0102);
        let mut udp = UdpHeader {
            source_port: 4500,
            destination_port: 4500,
            length: udp_len as u16,
            checksum: 0,
        }
        .to_bytes()
        .to_vec();
        let mut expected = ip.to_vec();
        expected.append(&mut udp);
        expected.extend_from_slice(&esp_bytes);
        assert_eq!(&buf[r.clone()], &expected[..], "inner length {len}");
        // Bytes in front of the datagram are untouched.
        assert_eq!(buf[..5], [0xEE; 5]);

        // Parsed back: the fields, a valid header checksum, and the ESP packet as payload.
        let p = SlicedPacket::from_ip(&buf[r]).unwrap();
        let Some(NetSlice::Ipv4(v4)) = &p.net else {
            panic!("not IPv4")
        };
        let h = v4.header().to_header();
        assert_eq!(h.source, V4_SRC.octets());
        assert_eq!(h.destination, V4_DST.octets());
        assert_eq!(h.protocol, IpNumber::UDP);
        assert_eq!(h.time_to_live, 64);
        assert_eq!(usize::from(h.total_len), 20 + udp_len);
        assert!(!h.dont_fragment && !h.more_fragments);
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!("not UDP")
        };
        assert_eq!((u.source_port(), u.destination_port()), (4500, 4500));
        assert_eq!(usize::from(u.length()), udp_len);
        assert_eq!(u.checksum(), 0, "RFC 3948 section 2.1: zero over IPv4");
        assert_eq!(u.payload(), &esp_bytes[..]);
    }
}

#[test]
fn ipv4_raw_esp_byte_exact() {
    let (mut buf, esp) = esp_packet(IPV4_HEADER_LEN, 100);
    let esp_bytes = buf[esp.clone()].to_vec();
    let r = prepend_ipv4(
        &mut buf,
        esp,
        V4_SRC,
        V4_DST,
        OuterTransport::Esp,
        17,
        0xbeef,
    )
    .unwrap();
    assert_eq!(r, 0..buf.len());
    assert_eq!(buf[..20], expected_ipv4(esp_bytes.len(), 50, 17, 0xbeef));
    assert_eq!(&buf[20..], &esp_bytes[..]);
    let (h, rest) = Ipv4Header::from_slice(&buf).unwrap();
    assert_eq!(h.protocol, IpNumber::ENCAPSULATING_SECURITY_PAYLOAD);
    assert_eq!(h.identification, 0xbeef);
    assert_eq!(h.header_checksum, h.calc_header_checksum());
    assert_eq!(rest, &esp_bytes[..]);
    // The ESP packet behind the header still decapsulates.
    let suite = Suite::AesGcm16(AesKeySize::Aes256);
    let (_, inb) = pair(suite, false);
    let d = inb.decapsulate(&mut buf[20..]).unwrap();
    assert!(matches!(d.payload, Payload::Inner { .. }));
}

#[test]
fn ipv6_udp_encapsulation_byte_exact_with_checksum() {
    for len in [0usize, 1, 63, 1400, 8900] {
        let (mut buf, esp) = esp_packet(IPV6_HEADER_LEN + UDP_HEADER_LEN, len);
        let esp_bytes = buf[esp.clone()].to_vec();
        let r = prepend_ipv6(&mut buf, esp, V6_SRC, V6_DST, UDP_4500, 255).unwrap();
        assert_eq!(r, 0..buf.len());
        let udp_len = UDP_HEADER_LEN + esp_bytes.len();

        let ip = Ipv6Header {
            traffic_class: 0,
            flow_label: Default::default(),
            payload_length: udp_len as u16,
            next_header: IpNumber::UDP,
            hop_limit: 255,
            source: V6_SRC.octets(),
            destination: V6_DST.octets(),
        };
        let udp = UdpHeader::with_ipv6_checksum(4500, 4500, &ip, &esp_bytes).unwrap();
        assert_ne!(
            udp.checksum, 0,
            "mandatory over IPv6 (RFC 8200 section 8.1)"
        );
        let mut expected = ip.to_bytes().to_vec();
        expected.extend_from_slice(&udp.to_bytes());
        expected.extend_from_slice(&esp_bytes);
        assert_eq!(buf, expected, "inner length {len}");

        // Our own RFC 1071 over pseudo-header || UDP header (checksum field as written) ||
        // payload verifies to zero.
        let check = ipv6_udp_checksum_input(V6_SRC, V6_DST, &buf[40..]);
        assert_eq!(rfc1071(&check), 0);

        let p = SlicedPacket::from_ip(&buf).unwrap();
        let Some(NetSlice::Ipv6(v6)) = &p.net else {
            panic!("not IPv6")
        };
        let h = v6.header().to_header();
        assert_eq!(h.source, V6_SRC.octets());
        assert_eq!(h.destination, V6_DST.octets());
        assert_eq!(h.hop_limit, 255);
        assert_eq!(h.next_header, IpNumber::UDP);
        assert_eq!(usize::from(h.payload_length), udp_len);
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!("not UDP")
        };
        let parsed = u.to_header();
        assert_eq!(
            parsed.checksum,
            parsed.calc_checksum_ipv6(&h, u.payload()).unwrap()
        );
        assert_eq!(u.payload(), &esp_bytes[..]);
    }
}

#[test]
fn ipv6_udp_checksum_zero_is_sent_as_ffff() {
    // RFC 768 / RFC 8200 section 8.1: a computed checksum of 0 is transmitted as 0xffff.
    // Choose the last payload word so that the one's-complement sum is 0xffff.
    let mut payload = vec![0x11u8, 0x22, 0x33, 0x44, 0, 0];
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let mut udp = vec![0x11, 0x94, 0x11, 0x94];
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&payload);
    let partial = !rfc1071(&ipv6_udp_checksum_input(V6_SRC, V6_DST, &udp));
    let fill = !partial;
    let n = payload.len();
    payload[n - 2..].copy_from_slice(&fill.to_be_bytes());
    let mut buf = vec![0u8; 48];
    buf.extend_from_slice(&payload);
    let r = prepend_ipv6(&mut buf, 48..54, V6_SRC, V6_DST, UDP_4500, 64).unwrap();
    assert_eq!(r, 0..54);
    assert_eq!(buf[46..48], [0xff, 0xff]);
    assert_eq!(
        rfc1071(&ipv6_udp_checksum_input(V6_SRC, V6_DST, &buf[40..])),
        0
    );
    let (ip, rest) = Ipv6Header::from_slice(&buf).unwrap();
    let (u, data) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!(u.checksum, 0xffff);
    assert_eq!(u.calc_checksum_ipv6(&ip, data).unwrap(), 0xffff);
}

#[test]
fn ipv6_raw_esp_byte_exact() {
    let (mut buf, esp) = esp_packet(IPV6_HEADER_LEN + 3, 77);
    let esp_bytes = buf[esp.clone()].to_vec();
    let r = prepend_ipv6(&mut buf, esp, V6_SRC, V6_DST, OuterTransport::Esp, 1).unwrap();
    assert_eq!(r, 3..buf.len());
    let mut expected = vec![0x60, 0, 0, 0];
    expected.extend_from_slice(&(esp_bytes.len() as u16).to_be_bytes());
    expected.extend_from_slice(&[50, 1]);
    expected.extend_from_slice(&V6_SRC.octets());
    expected.extend_from_slice(&V6_DST.octets());
    expected.extend_from_slice(&esp_bytes);
    assert_eq!(&buf[r.clone()], &expected[..]);
    let (h, rest) = Ipv6Header::from_slice(&buf[r]).unwrap();
    assert_eq!(h.next_header, IpNumber::ENCAPSULATING_SECURITY_PAYLOAD);
    assert_eq!(h.hop_limit, 1);
    assert_eq!(rest, &esp_bytes[..]);
}

#[test]
fn errors_are_typed() {
    let mut buf = vec![0u8; 40];
    // Headroom: IPv4 + UDP needs 28 in front.
    assert_eq!(
        prepend_ipv4(&mut buf, 27..40, V4_SRC, V4_DST, UDP_4500, 64, 0),
        Err(OuterError::NoHeadroom {
            needed: 28,
            available: 27
        })
    );
    assert_eq!(
        prepend_ipv6(&mut buf, 39..40, V6_SRC, V6_DST, OuterTransport::Esp, 64),
        Err(OuterError::NoHeadroom {
            needed: 40,
            available: 39
        })
    );
    assert_eq!(
        prepend_ipv4(&mut buf, 30..41, V4_SRC, V4_DST, UDP_4500, 64, 0),
        Err(OuterError::BadRange)
    );
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 35..30;
    assert_eq!(
        prepend_ipv6(&mut buf, reversed, V6_SRC, V6_DST, UDP_4500, 64),
        Err(OuterError::BadRange)
    );
    // Length fields: an IPv4 total length of 65535 fits, 65536 does not; IPv6 payload length
    // (UDP header + ESP) of 65535 fits, 65536 does not.
    let mut big = vec![0u8; 28 + 65507 + 1];
    assert!(prepend_ipv4(&mut big, 28..28 + 65507, V4_SRC, V4_DST, UDP_4500, 64, 0).is_ok());
    assert_eq!(
        prepend_ipv4(&mut big, 28..28 + 65508, V4_SRC, V4_DST, UDP_4500, 64, 0),
        Err(OuterError::TooLong)
    );
    let mut big6 = vec![0u8; 48 + 65527 + 1];
    assert!(prepend_ipv6(&mut big6, 48..48 + 65527, V6_SRC, V6_DST, UDP_4500, 64).is_ok());
    assert_eq!(
        prepend_ipv6(&mut big6, 48..48 + 65528, V6_SRC, V6_DST, UDP_4500, 64),
        Err(OuterError::TooLong)
    );
    // The crate's checksum helper agrees with the independent one, odd lengths included.
    for data in [&b""[..], b"\x01", b"\x45\x00\x00\x1c", b"\xff\xff\xff"] {
        assert_eq!(internet_checksum(&[data]), rfc1071(data));
    }
}
