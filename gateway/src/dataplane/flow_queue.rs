//! Which queue of a multi-queue TUN device an inbound packet is written through.
//!
//! The kernel picks the queue a packet *read* from the TUN comes out of by its flow table
//! (tun "automq"): a flow's packets go to the queue that the flow's last packet in the other
//! direction was *written* through. So the inbound worker decides which outbound worker
//! carries each flow's return traffic:
//!
//! * queue 0 is kept for sparse, latency-sensitive traffic: everything that is not TCP (ping,
//!   DNS and Kerberos over UDP) and TCP to the directory services (DNS 53, Kerberos 88/464,
//!   LDAP 389/636, global catalog 3268/3269). Its ring never holds bulk super-packets, so
//!   these do not wait behind an SMB copy on the way out;
//! * other TCP flows (SMB and the rest) are spread over the remaining queues by a hash of
//!   addresses and ports, one queue per flow (no reordering inside a flow).
//!
//! With one queue everything uses it. Packets without a reverse direction (flows that only
//! leave) are spread by the kernel's own hash.

use etherparse::{IpNumber, IpSlice};

use super::inner_shape::{inner_shape, InnerShape};

/// TCP ports of the identity services whose flows take the latency queue.
const DIRECTORY_PORTS: [u16; 7] = [53, 88, 389, 464, 636, 3268, 3269];

/// The queue (of `queues`) for an inner IPv4/IPv6 packet; 0 when there is one queue or the
/// packet cannot be parsed.
pub fn queue_of(packet: &[u8], queues: usize) -> usize {
    if queues <= 1 {
        return 0;
    }
    // The common shapes need no full parse: addresses and ports are where the fixed
    // header puts them.
    match inner_shape(packet) {
        InnerShape::NotTcp => 0,
        InnerShape::Tcp { l4, end } => {
            let (src, dst) = if l4 == 20 {
                (12..16, 16..20)
            } else {
                (8..24, 24..40)
            };
            let ports = packet.get(l4..end).and_then(|t| t.get(..4));
            match (packet.get(src), packet.get(dst), ports) {
                (Some(s), Some(d), Some(p)) => bulk_queue(s, d, p, queues),
                _ => 0,
            }
        }
        InnerShape::Other => queue_of_parsed(packet, queues),
    }
}

/// [`queue_of`] for packets of the less common shapes (IPv4 options, IPv6 extension headers).
fn queue_of_parsed(packet: &[u8], queues: usize) -> usize {
    let Ok(ip) = IpSlice::from_slice(packet) else {
        return 0;
    };
    let payload = ip.payload();
    // A fragment other than the first has no ports: all of a fragmented packet is sparse.
    if payload.ip_number != IpNumber::TCP || payload.fragmented {
        return 0;
    }
    let Some(ports) = payload.payload.get(..4) else {
        return 0;
    };
    match &ip {
        IpSlice::Ipv4(v4) => bulk_queue(
            &v4.header().source(),
            &v4.header().destination(),
            ports,
            queues,
        ),
        IpSlice::Ipv6(v6) => bulk_queue(
            &v6.header().source(),
            &v6.header().destination(),
            ports,
            queues,
        ),
    }
}

/// The queue of a TCP flow (`ports`: source and destination port as on the wire).
fn bulk_queue(src: &[u8], dst: &[u8], ports: &[u8], queues: usize) -> usize {
    let (Some(sport), Some(dport)) = (ports.get(..2), ports.get(2..4)) else {
        return 0;
    };
    let sport = u16::from_be_bytes([sport[0], sport[1]]);
    let dport = u16::from_be_bytes([dport[0], dport[1]]);
    if DIRECTORY_PORTS.contains(&sport) || DIRECTORY_PORTS.contains(&dport) {
        return 0;
    }
    // One bulk queue (the default on 2 vCPUs): no hash to compute.
    if queues == 2 {
        return 1;
    }
    let mut h = Fnv::default();
    h.write(src);
    h.write(dst);
    h.write(ports);
    1 + h.reduce(queues - 1)
}

/// FNV-1a (64-bit): a few multiplications per packet, no allocation.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// The hash mapped onto `0..n`, after MurmurHash3's 64-bit finaliser: FNV-1a alone
    /// mixes its last bytes poorly (ports differing in a few low bits, as iperf3's or SMB
    /// multichannel's consecutive ones, all landed on one queue).
    fn reduce(&self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        (((x >> 32) * n as u64) >> 32) as usize
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1, 1000);
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("build");
        v
    }

    /// The full parse, as `queue_of` was before the shortcut.
    fn reference(packet: &[u8], queues: usize) -> usize {
        if queues <= 1 {
            return 0;
        }
        queue_of_parsed(packet, queues)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn the_shortcut_picks_the_queue_the_full_parse_picks(
            p in crate::dataplane::inner_shape::tests::near_common(),
            queues in 1usize..6,
            ports in proptest::prelude::any::<[u8; 4]>(),
        ) {
            let mut p = p;
            // Real ports (sometimes a directory service's) where a TCP header would be.
            let l4 = if p[0] >> 4 == 6 { 40 } else { 20 };
            if let Some(at) = p.get_mut(l4..l4 + 4) {
                at.copy_from_slice(&ports);
                if ports[0] == 0 {
                    at[2..4].copy_from_slice(&88u16.to_be_bytes());
                }
            }
            proptest::prop_assert_eq!(queue_of(&p, queues), reference(&p, queues));
        }
    }

    #[test]
    fn one_queue_or_garbage_is_queue_zero() {
        let p = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, b"x");
        assert_eq!(queue_of(&p, 1), 0);
        assert_eq!(queue_of(&[0x45, 0, 0], 4), 0);
        assert_eq!(queue_of(&[], 4), 0);
    }

    /// Every packet of a bulk TCP flow maps to the same queue whatever its payload, never the
    /// latency queue; different flows spread over all the others.
    #[test]
    fn bulk_tcp_flows_keep_their_queue_and_spread_over_the_others() {
        let a = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, b"first");
        let b = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, 50000, &[7u8; 1200]);
        assert_eq!(queue_of(&a, 4), queue_of(&b, 4));
        assert_eq!(queue_of(&a, 2), 1, "two queues: all bulk TCP on queue 1");
        // Two bulk queues and ports that differ in their low bit only (iperf3's parallel
        // streams use consecutive ports): both queues are used.
        let mut two = [0usize; 3];
        for port in 50000..50016u16 {
            let p = tcp4([10, 1, 0, 4], [10, 0, 1, 5], 5311, port, b"");
            two[queue_of(&p, 3)] += 1;
        }
        assert!(
            two[1] >= 3 && two[2] >= 3,
            "16 flows on two bulk queues: {two:?}"
        );
        let mut seen = [0usize; 4];
        for port in 40000..40300u16 {
            let p = tcp4([10, 0, 1, 5], [10, 1, 0, 5], 445, port, b"");
            seen[queue_of(&p, 4)] += 1;
        }
        assert_eq!(seen[0], 0, "bulk TCP on the latency queue: {seen:?}");
        assert!(seen[1..].iter().all(|&n| n > 50), "uneven spread: {seen:?}");
        let v6 = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).tcp(50000, 445, 1, 1000);
        let mut v = Vec::new();
        v6.write(&mut v, b"smb").expect("build");
        assert!((1..4).contains(&queue_of(&v, 4)));
    }

    /// Ping, UDP (DNS, Kerberos) and TCP to the directory services take queue 0.
    #[test]
    fn sparse_traffic_takes_the_latency_queue() {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 1, 0, 4], [10, 0, 1, 5], 64)
            .icmpv4_echo_reply(1, 2)
            .write(&mut v, b"ping")
            .expect("build");
        assert_eq!(queue_of(&v, 4), 0);
        let mut v = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(53, 5353)
            .write(&mut v, b"q")
            .expect("build");
        assert_eq!(queue_of(&v, 4), 0);
        for port in DIRECTORY_PORTS {
            let p = tcp4([10, 1, 0, 4], [10, 0, 1, 5], port, 51000, b"");
            assert_eq!(queue_of(&p, 4), 0, "TCP from port {port}");
            let p = tcp4([10, 0, 1, 5], [10, 1, 0, 4], 51000, port, b"");
            assert_eq!(queue_of(&p, 4), 0, "TCP to port {port}");
        }
    }
}
