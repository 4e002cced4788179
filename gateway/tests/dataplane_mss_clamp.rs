//! MSS clamping on real packets built by etherparse.

use etherparse::{
    IpHeaders, Ipv4Header, NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice,
};
use gateway::dataplane::mss_clamp::{clamp_mss, mss_for_mtu};

const SRC4: [u8; 4] = [10, 1, 0, 2];
const DST4: [u8; 4] = [10, 2, 0, 9];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn opts(mss: u16) -> Vec<TcpOptionElement> {
    vec![
        TcpOptionElement::MaximumSegmentSize(mss),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOptionElement::Timestamp(0x1122_3344, 0),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ]
}

fn syn_v4(mss: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(SRC4, DST4, 64).tcp(40000, 443, 1000, 64240);
    let b = if syn { b.syn() } else { b.ack(5) };
    let b = b.options(&opts(mss)).unwrap();
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn synack_v6(mss: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv6(SRC6, DST6, 64)
        .tcp(443, 40000, 77, 65535)
        .syn()
        .ack(1001)
        .options(&opts(mss))
        .unwrap();
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

/// (MSS option, other options' raw bytes with MSS removed, checksum valid)
fn inspect(pkt: &[u8]) -> (Option<u16>, Vec<TcpOptionElement>, bool) {
    let s = SlicedPacket::from_ip(pkt).expect("parses");
    let Some(TransportSlice::Tcp(tcp)) = &s.transport else {
        panic!("not TCP")
    };
    let valid = match &s.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            tcp.calc_checksum_ipv4(h.source(), h.destination()).unwrap() == tcp.checksum()
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            tcp.calc_checksum_ipv6(h.source(), h.destination()).unwrap() == tcp.checksum()
        }
        _ => panic!("no IP"),
    };
    let mut mss = None;
    let mut others = Vec::new();
    for o in tcp.options_iterator() {
        let Ok(o) = o else { break };
        match o {
            TcpOptionElement::MaximumSegmentSize(m) => mss = Some(m),
            o => others.push(o),
        }
    }
    (mss, others, valid)
}

#[test]
fn clamps_ipv4_syn_and_keeps_checksum_valid() {
    let mut p = syn_v4(1460, true, &[]);
    let orig = p.clone();
    assert!(inspect(&p).2);
    assert!(clamp_mss(&mut p, 1360));
    let (mss, others, valid) = inspect(&p);
    assert_eq!(mss, Some(1360));
    assert!(valid, "checksum after clamp");
    assert_eq!(others, inspect(&orig).1, "other options untouched");
    // Only the MSS value and the TCP checksum changed.
    let diff: Vec<usize> = (0..p.len()).filter(|&i| p[i] != orig[i]).collect();
    assert!(
        diff.iter().all(|&i| [36, 37, 42, 43].contains(&i)),
        "{diff:?}"
    );
    // Idempotent.
    assert!(!clamp_mss(&mut p, 1360));
}

#[test]
fn clamps_ipv6_syn_ack() {
    let mut p = synack_v6(1440);
    assert!(clamp_mss(&mut p, mss_for_mtu(1400, true)));
    let (mss, _, valid) = inspect(&p);
    assert_eq!(mss, Some(1340));
    assert!(valid);
}

#[test]
fn clamps_ipv6_behind_extension_header() {
    let mut p = synack_v6(1440);
    // Insert an 8-byte hop-by-hop header (PadN) between the IPv6 header and TCP.
    let tcp = p.split_off(40);
    p[6] = 0; // next header: hop-by-hop
    let plen = u16::from_be_bytes([p[4], p[5]]) + 8;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    p.extend_from_slice(&tcp);
    assert!(inspect(&p).2);
    assert!(clamp_mss(&mut p, 1200));
    let (mss, _, valid) = inspect(&p);
    assert_eq!(mss, Some(1200));
    assert!(valid);
}

#[test]
fn leaves_other_packets_alone() {
    // Not a SYN.
    let mut p = syn_v4(1460, false, b"data");
    let orig = p.clone();
    assert!(!clamp_mss(&mut p, 1000));
    assert_eq!(p, orig);
    // MSS already small enough.
    let mut p = syn_v4(1200, true, &[]);
    let orig = p.clone();
    assert!(!clamp_mss(&mut p, 1360));
    assert_eq!(p, orig);
    // No MSS option.
    let b = PacketBuilder::ipv4(SRC4, DST4, 64)
        .tcp(1, 2, 3, 4)
        .syn()
        .options(&[TcpOptionElement::WindowScale(3)])
        .unwrap();
    let mut p = Vec::new();
    b.write(&mut p, &[]).unwrap();
    let orig = p.clone();
    assert!(!clamp_mss(&mut p, 500));
    assert_eq!(p, orig);
    // UDP.
    let mut p = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .udp(1, 2)
        .write(&mut p, &[2, 4, 5, 0xb4])
        .unwrap();
    let orig = p.clone();
    assert!(!clamp_mss(&mut p, 500));
    assert_eq!(p, orig);
    // A non-first fragment that happens to look like a SYN.
    let mut h = Ipv4Header {
        source: SRC4,
        destination: DST4,
        time_to_live: 64,
        more_fragments: false,
        ..Default::default()
    };
    h.fragment_offset = 8u16.try_into().unwrap();
    let mut p = Vec::new();
    PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default()))
        .tcp(1, 2, 3, 4)
        .syn()
        .options(&opts(1460))
        .unwrap()
        .write(&mut p, &[])
        .unwrap();
    let orig = p.clone();
    assert!(!clamp_mss(&mut p, 500));
    assert_eq!(p, orig);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Truncations and random corruption never panic, and a clamp never turns a valid checksum
/// invalid or an invalid one valid.
#[test]
fn hostile_input_never_panics_and_preserves_checksum_validity() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = [syn_v4(1460, true, b"xyz"), synack_v6(9000)];
    for seed in &seeds {
        for cut in 0..=seed.len() {
            let mut p = seed[..cut].to_vec();
            clamp_mss(&mut p, 536);
        }
    }
    let mut checked = 0;
    for i in 0..200_000 {
        let seed = &seeds[i % 2];
        let mut p = seed.clone();
        for _ in 0..(rng.next() % 4) {
            let at = (rng.next() as usize) % p.len();
            p[at] = rng.next() as u8;
        }
        if rng.next() % 8 == 0 {
            p.truncate((rng.next() as usize) % (p.len() + 1));
        }
        let before = SlicedPacket::from_ip(&p)
            .ok()
            .filter(|s| matches!(s.transport, Some(TransportSlice::Tcp(_))))
            .map(|_| inspect(&p).2);
        let changed = clamp_mss(&mut p, 536);
        if let (true, Some(valid_before)) = (changed, before) {
            assert_eq!(inspect(&p).2, valid_before);
            checked += 1;
        }
    }
    // Pure garbage.
    for len in 0..128 {
        let mut p: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(b) = p.first_mut() {
            *b = if len % 2 == 0 { 0x45 } else { 0x60 };
        }
        clamp_mss(&mut p, 1);
    }
    assert!(checked > 1000, "only {checked} clamps exercised");
}
